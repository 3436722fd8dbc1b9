"""The reports' own vocabulary: acronyms and what they stand for, found in the text itself.

Two sources: glossary sections ("MASH  Multi Agency Safeguarding Hub") and definitions
in running text ("Multi-Agency Safeguarding Hub (MASH)", "MASH (Multi Agency Safeguarding
Hub)"). Each term keeps the verbatim text that defines it and the page it is on, so a
glossary entry is a quotation with a citation, not a paraphrase.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.chunking import sentence_spans
from ingest.model import Page


@dataclass(frozen=True)
class Term:
    term: str
    expansion: str
    page: int
    quote_start: int  # the defining text is page.text[quote_start:quote_end]
    quote_end: int


_ACRONYM = r"[A-Z][A-Za-z&]{0,3}[A-Z][A-Za-z]{0,3}s?"
_PAREN_AFTER = re.compile(rf"\(\s*({_ACRONYM})\s*\)")
_ACRONYM_THEN_PAREN = re.compile(rf"\b({_ACRONYM})\s+\(([^()]{{3,120}})\)")
_GLOSSARY_HEADING = re.compile(r"^(?:glossary|abbreviations|acronyms)\b", re.IGNORECASE)
_GLOSSARY_LINE = re.compile(rf"^({_ACRONYM}(?: [A-Z]{{2,}})?)\s+[-–:]?\s*([A-Z][^\n]{{3,120}})$")


_MINOR = {"and", "of", "the", "for", "in", "on", "to", "a", "an", "or", "with", "by"}


def _is_acronym(token: str) -> bool:
    return sum(c.isupper() for c in token) >= 2 and len(token) <= 10


def _letters(acronym: str) -> str:
    core = acronym[:-1] if acronym.endswith("s") and acronym[:-1].isupper() else acronym
    return "".join(c.lower() for c in core if c.isalnum())


def long_form_for(acronym: str, preceding: str) -> str | None:
    """Schwartz & Hearst: the shortest run of words before '(ACR)' whose letters spell ACR in order."""
    short = _letters(acronym)
    if len(short) < 2:
        return None
    words = preceding.split()
    window = words[-min(len(short) + 5, len(short) * 2):]
    long = " ".join(window)
    s, pos = len(short) - 1, len(long) - 1
    while s >= 0:
        c = short[s]
        while pos >= 0 and (long[pos].lower() != c or (s == 0 and pos > 0 and long[pos - 1].isalnum())):
            pos -= 1
        if pos < 0:
            return None
        pos -= 1
        s -= 1
    start = long.rfind(" ", 0, pos + 1) + 1
    candidate = long[start:].strip(" ,;:-–")
    if not candidate or candidate.split()[0][0].lower() != short[0] or candidate.split()[0].lower() in _MINOR:
        return None
    if len(candidate.split()) > len(short) + 3:
        return None
    # A long form does not end in a minor word: "the Multi-Agency Safeguarding Hub and (MASH) other ..." (a
    # report's slip) stands for the Hub, if the words before "and" still spell the acronym ("Department of
    # (DO)" keeps its "of").
    *rest, last = candidate.split()
    if rest and last.strip(",;:-–").lower() in _MINOR:
        return long_form_for(acronym, " ".join(rest)) or candidate
    return candidate


def _initials_match(acronym: str, expansion: str) -> bool:
    """Whether the expansion's words start with the acronym's first letter and cover its letters."""
    letters = _letters(acronym)
    words = re.findall(r"[A-Za-z]+", expansion)
    if not words or words[0][0].lower() != letters[0]:
        return False
    return long_form_for(acronym, expansion) is not None


_MAX_QUOTE = 320
# a line of a table of contents: a section number, a title, a page number
_CONTENTS_LINE = re.compile(r"^\s*\d+(?:\.\d+)*\.?\s+\S.*\s\d{1,4}\s*$")


def _spelling_key(expansion: str) -> str:
    """One key however a report spells a long form: case, hyphens and punctuation, "&" or "and", a possessive or
    a plural ("Children's Board", "Designated Safeguarding Leads"), a mark in brackets ("Team Safeguarding
    Voice[©]")."""
    text = re.sub(r"\[[^\]]*\]", " ", expansion.casefold().replace("&", " and "))
    words = re.findall(r"[a-z0-9]+", re.sub(r"['’]s\b", "", text))
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


_ACRONYM_IN_LINE = re.compile(rf"\s({_ACRONYM})\s+(?=[A-Z])")


def _without_term_words(term: str, expansion: str) -> str:
    """A glossary term of an acronym and a word or two ("MASE Meeting  Multi Agency Sexual Exploitation Meeting")
    is read by the line's pattern as the acronym alone, the words starting its long form: the long form starts after
    them when it ends with the same words and what follows them still spells the acronym."""
    words = expansion.split()
    for k in (1, 2):
        head, rest = words[:k], words[k:]
        if (len(rest) > k and rest[-k:] == head and all(w[:1].isupper() and not _is_acronym(w) for w in head)
                and _initials_match(term, " ".join(rest))):
            return expansion[re.search(r"\S+\s+" * k, expansion).end():]
    return expansion


def _glossary_entries(m: re.Match) -> list[tuple[str, str, int, int]]:
    """(term, long form, start, end in the line) of a glossary line, two if a two-column glossary ran two entries
    into one line ("NSPCC National Society for the Prevention of Cruelty to Children ISVA Intimate Sexual Violence
    Advisor"): an acronym inside the long form whose following words spell it starts a second entry."""
    term = m.group(1)
    expansion = _without_term_words(term, m.group(2))
    for inner in _ACRONYM_IN_LINE.finditer(expansion):
        second, rest = inner.group(1), expansion[inner.end():]
        if _is_acronym(second) and _initials_match(second, rest):
            return [(term, expansion[:inner.start()], 0, m.start(2) + inner.start()),
                    (second, rest, m.start(2) + inner.start(1), m.end())]
    return [(term, expansion, 0, m.end())]


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The start and end of the line (between newlines) that holds text[start:end]."""
    line_end = text.find("\n", end)
    return text.rfind("\n", 0, start) + 1, len(text) if line_end < 0 else line_end


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence holding text[start:end], within its paragraph; the bare definition if that is long."""
    for s, e in sentence_spans(text, *_line_bounds(text, start, end)):
        if s <= start and end <= e:
            return (s, e) if e - s <= _MAX_QUOTE else (start, end)
    return start, end


def find_terms(pages: list[Page]) -> list[Term]:
    """Every acronym definition in a document: the first of each term and long form (however spelt,
    `_spelling_key`), a sentence rather than a line of the contents."""
    # each term and long form's definition, and whether it is a line of contents
    found: dict[tuple[str, str], tuple[Term, bool]] = {}

    def add(term: str, expansion: str, page: Page, start: int, end: int) -> None:
        expansion = re.sub(r"\s+", " ", expansion).strip(" ,;:-–")
        if not expansion:
            return
        key = (term, _spelling_key(expansion))
        # A contents line ("3.2 Birmingham Safeguarding Children Board (BSCB) 40") names a term first; the
        # glossary quotes the first sentence that defines it instead, if the report has one.
        kept = found.get(key)
        if kept is not None and not kept[1]:
            return
        in_contents = bool(_CONTENTS_LINE.match(page.text[slice(*_line_bounds(page.text, start, end))]))
        if kept is not None and in_contents:
            return
        found[key] = (Term(term, expansion, page.number, start, end), in_contents)

    for page in pages:
        text = page.text
        in_glossary = False
        misses = 0
        for para in re.finditer(r"[^\n]+", text):
            line = para.group(0)
            if _GLOSSARY_HEADING.match(line):
                in_glossary, misses = True, 0
                continue
            if in_glossary:
                m = _GLOSSARY_LINE.match(line)
                if m and _is_acronym(m.group(1).split()[0]):
                    for term, expansion, start, end in _glossary_entries(m):
                        add(term, expansion, page, para.start() + start, para.start() + end)
                    misses = 0
                else:
                    misses += 1
                    in_glossary = misses < 2
        for m in _PAREN_AFTER.finditer(text):
            acronym = m.group(1)
            if not _is_acronym(acronym):
                continue
            line_start = max(text.rfind("\n", 0, m.start()) + 1, m.start() - 200)
            long = long_form_for(acronym, text[line_start:m.start()])
            if long:
                # where the long form starts (rfind -1, its words spaced otherwise in the text: the line's start)
                begin = line_start + text[line_start:m.start()].rfind(long)
                s, e = _sentence_around(text, max(begin, line_start), m.end())
                add(acronym, long, page, s, e)
        for m in _ACRONYM_THEN_PAREN.finditer(text):
            acronym, inside = m.group(1), m.group(2)
            if _is_acronym(acronym) and _initials_match(acronym, inside):
                s, e = _sentence_around(text, m.start(), m.end())
                add(acronym, inside, page, s, e)
    return [term for term, _ in found.values()]
