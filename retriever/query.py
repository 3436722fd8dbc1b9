"""Reading a question: which council it names, whether it asks for a decision, which acronyms
it uses (or spells out), using only what the indexed reports themselves say."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from retriever.lexical import STOPWORDS, query_terms
from retriever.store import DocumentRecord, TermRecord

_DECISION_WORDS = re.compile(
    r"\b(?:decid\w*|decision\w*|resolv\w*|resolution\w*|agree\w*|approv\w*|recommend\w*|commit\w*|"
    r"propos\w*|accept\w*|vote\w*|endors\w*)\b", re.IGNORECASE)
_DEFINITION_QUESTION = re.compile(
    r"^\s*(?:what|who)\s+(?:is|are|was|were|does)\s+(?:an?\s+|the\s+)?(?P<subject>[^?]+?)"
    r"(?:\s+(?:mean|stand for|do))?\s*\??\s*$", re.IGNORECASE)
_LETTER_RUN = re.compile(r"[a-z]+")
# "what is a MASH?" and "what is a MASH" are one question: the marks that end it are not embedded.
_CLOSING_MARKS = re.compile(r"[\s?!.]+$")
_GENERIC_NAME_WORDS = {"council", "city", "of", "and", "metropolitan", "borough", "county", "district", "the"}


@dataclass(frozen=True)
class QueryPlan:
    question: str
    dense_text: str
    lexical_terms: tuple[str, ...]
    council: str | None
    wants_decision: bool
    expansions: tuple[tuple[str, str], ...]
    # "what is X?": X and its expansions, for passages that define it ("X is ...", "X (Y) means ...").
    defines: tuple[str, ...] = ()


def council_aliases(documents: list[DocumentRecord]) -> dict[str, str]:
    """Words and short forms that name exactly one council in the index ('telford', 'wrekin', 'twc', 't&w',
    'walsall', ...)."""
    owners: dict[str, set[str]] = {}
    for doc in documents:
        if not doc.council:
            continue
        for name in (doc.council, doc.council_full):
            for word in re.findall(r"[a-z]+", name.lower()):
                if word not in _GENERIC_NAME_WORDS and len(word) > 2:
                    owners.setdefault(word, set()).add(doc.council)
            for short in _initialisms(name):
                owners.setdefault(short, set()).add(doc.council)
    return {word: next(iter(c)) for word, c in owners.items() if len(c) == 1}


def _initialisms(name: str) -> set[str]:
    """A council's name by its initials, as officers write it ("TWC" and "T&W" in Telford's report, "BCC" in
    Birmingham's): "Telford & Wrekin Council" -> twc, t&wc; "City of Wolverhampton Council" -> cwc, cowc;
    "Telford & Wrekin" -> t&w. Fewer than three letters say too little ("wc"), unless joined by "&"."""
    words = ["&" if w == "and" else w for w in re.findall(r"[a-z]+|&", name.lower())]
    initials = {"".join(w[0] for w in words), "".join(w[0] for w in words if w not in ("&", "of", "the"))}
    return {s for s in initials if len(s.replace("&", "")) >= (2 if "&" in s else 3) and s not in STOPWORDS}


def infer_council(question: str, aliases: dict[str, str]) -> str | None:
    lowered = question.lower()
    # "T & W" is "t&w"; "Telford & Wrekin" still gives its two words
    words = re.findall(r"[a-z]+", lowered) + re.findall(r"[a-z]+(?:&[a-z]+)+", re.sub(r"\s*&\s*", "&", lowered))
    named = {council for w in words if (council := aliases.get(w) or _possessive_alias(w, aliases))}
    return next(iter(named)) if len(named) == 1 else None


def _possessive_alias(word: str, aliases: dict[str, str]) -> str | None:
    """The council of a possessive typed without its apostrophe ("telfords cse team")."""
    return aliases.get(word[:-1]) if word.endswith("s") and len(word) > 3 else None


@lru_cache(maxsize=16384)
def _long_form_pattern(expansion: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z]){re.escape(expansion)}", re.IGNORECASE)


@lru_cache(maxsize=16384)
def _term_pattern(term: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", re.IGNORECASE)


def _acronym(t: TermRecord) -> str:
    """The term as questions use it: a plural acronym ("LSCBs") as its singular."""
    return t.term.rstrip("s") if t.term.endswith("s") and t.term[:-1].isupper() else t.term


def _first_letter_run(text: str) -> str:
    match = _LETTER_RUN.search(text.lower())
    return match.group() if match else ""


@dataclass(frozen=True)
class QueryVocabulary:
    """What reading a question needs of the index, made once per index: the words that name each council,
    and the acronyms by a word a question must hold for each to apply. An archive's glossary runs to
    thousands of terms: a question tries the few it could touch (500 documents and 16,300 terms took
    11 ms a question when every question tried every term)."""

    documents: tuple[DocumentRecord, ...]
    aliases: dict[str, str]
    terms: tuple[TermRecord, ...]
    # An acronym matches as a whole word and its long form from the start of a word ("hubs" holds "Hub"):
    # the first run of letters of either starts a run of letters of the question. Terms keyed by both.
    by_word: dict[str, tuple[int, ...]]


def query_vocabulary(documents: list[DocumentRecord], terms: list[TermRecord]) -> QueryVocabulary:
    by_word: dict[str, list[int]] = {}
    for i, t in enumerate(terms):
        for word in {_first_letter_run(_acronym(t)), _first_letter_run(t.expansion)}:
            by_word.setdefault(word, []).append(i)  # "": a term without letters, tried for every question
    return QueryVocabulary(tuple(documents), council_aliases(documents), tuple(terms),
                           {w: tuple(ids) for w, ids in by_word.items()})


def find_expansions(question: str, vocabulary: QueryVocabulary,
                    council_docs: set[str] | None) -> list[tuple[str, str]]:
    """(acronym, long form) pairs the question touches, either way round: the acronym as a whole word, the
    long form from the start of a word.

    An acronym can mean different things in different councils' reports: when the
    question names a council, only that council's documents' definitions are used.
    """
    found: dict[tuple[str, str], None] = {}
    lowered = question.lower()
    words = {run[:end] for run in _LETTER_RUN.findall(lowered) for end in range(1, len(run) + 1)} | {""}
    # the index's order, as if every term were tried
    for i in sorted({i for word in words for i in vocabulary.by_word.get(word, ())}):
        t = vocabulary.terms[i]
        if council_docs is not None and t.doc_id not in council_docs:
            continue
        term = _acronym(t)
        if len(term) < 2 or term.lower() in STOPWORDS:
            continue
        # A lower-case acronym ("mash") counts unless it is an everyday word of the question.
        # the substring tests first: the regex only where the words are there at all
        if ((term.lower() in lowered and _term_pattern(term).search(question))
                or (t.expansion.lower() in lowered and _long_form_pattern(t.expansion).search(question))):
            found[(term, t.expansion)] = None
    return list(found)


def plan_query(question: str, vocabulary: QueryVocabulary, infer: bool = True) -> QueryPlan:
    council = infer_council(question, vocabulary.aliases) if infer else None
    council_docs = {d.id for d in vocabulary.documents if d.council == council} if council else None
    expansions = find_expansions(question, vocabulary, council_docs)
    lexical = list(query_terms(question))
    extra_dense = []
    for term, expansion in expansions:
        for word in query_terms(f"{term} {expansion}"):
            if word not in lexical:
                lexical.append(word)
        if expansion.lower() not in question.lower():
            extra_dense.append(f"{term} ({expansion})")
    asked = _CLOSING_MARKS.sub("", question) or question
    dense_text = asked if not extra_dense else f"{asked} [{'; '.join(extra_dense[:3])}]"
    return QueryPlan(question=question, dense_text=dense_text, lexical_terms=tuple(lexical), council=council,
                     wants_decision=bool(_DECISION_WORDS.search(question)), expansions=tuple(expansions),
                     defines=definition_subjects(question, expansions))


def definition_subjects(question: str, expansions: list[tuple[str, str]]) -> tuple[str, ...]:
    """For "what is X?" (X a name of at most six words): X, and X's acronym or long form if it has one."""
    match = _DEFINITION_QUESTION.match(question)
    if not match:
        return ()
    subject = match.group("subject").strip()
    if len(subject.split()) > 6 or not query_terms(subject):
        return ()
    names = {subject.lower(): subject}
    for term, expansion in expansions:
        if subject.lower() in (term.lower(), expansion.lower()):
            names.setdefault(term.lower(), term)
            names.setdefault(expansion.lower(), expansion)
    return tuple(names.values())


def defines_pattern(subjects: tuple[str, ...]) -> re.Pattern | None:
    """A sentence that opens with one of the subjects and goes on to say what it is."""
    if not subjects:
        return None
    names = "|".join(r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", s)))
                     for s in sorted(subjects, key=len, reverse=True))
    return re.compile(rf"(?:^|(?<=[.:;!?]\s)|\n)\s*(?:the\s+)?(?:{names})\s*(?:\([^)]{{1,80}}\)\s*)?"
                      rf"(?:is|are|was|were|means|refers\s+to|describes|provides|brings)\b", re.IGNORECASE)
