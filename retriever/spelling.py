"""Slips of the keyboard in a question: "Operation Chalise" -> "Operation Chalice".

A word of the question is taken for a slip when no report holds it, in that form or another the search
matches ("kids" and "kid"), and it is not an English word; the correction is the word one edit away (a letter
left out, added, changed, or two swapped) that the reports use most. The first letter is kept: slips there
are rare, and allowing them turns everyday words into report words ("vapes" -> "rapes"). A word that
begins a longer report word is clipped, not slipped ("admin" is not "admit"), unless the correction
completes it. Search (retriever/search.py) searches the corrected question in the typed one's place and
says so; a word the reports never use is also how a question they do not answer looks, so only a word one
edit from theirs is changed, never one they may simply not use.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from string import ascii_lowercase
from typing import Callable, Collection, Iterable

from retriever.lexical import APOSTROPHE_LESS_CONTRACTIONS, stem

# a word as the search reads it: "Chalise's" is the word "chalise" (retriever/lexical.py, query_terms)
_WORD = re.compile(r"(?P<word>[A-Za-z]+(?:['’](?![sS]\b)[A-Za-z]+)?)(?P<possessive>['’][sS]\b)?")
MIN_LENGTH = 4  # shorter words have too many neighbours one edit away ("cse" -> "case", "use", ...)
# A word that begins a report word this many letters longer is a clipped form ("admin" for "administration",
# "stats" for "statistics"), not a slip, unless the correction completes it ("chalic" -> "chalice").
CLIPPED_BY = 3


@dataclass(frozen=True)
class ReportWords:
    """Every word of the reports, lower case, with how many chunks hold it; and the words' stems (lexical.stem)."""

    counts: dict[str, int]
    stems: frozenset[str]
    ordered: tuple[str, ...]  # the words in order, to find those a word begins

    def hold(self, word: str) -> bool:
        return word in self.counts or stem(word) in self.stems

    def begun_by(self, start: str, longer_by: int) -> bool:
        """Whether a word of the reports begins with `start` and is at least `longer_by` letters longer."""
        at = bisect_left(self.ordered, start)
        while at < len(self.ordered) and self.ordered[at].startswith(start):
            if len(self.ordered[at]) >= len(start) + longer_by:
                return True
            at += 1
        return False


@dataclass(frozen=True)
class Correction:
    typed: str  # lower case, as the question's words are searched
    suggested: str


@dataclass(frozen=True)
class Suggestion:
    question: str  # the question with each slip replaced, its other characters as typed
    corrections: tuple[Correction, ...]

    def to_dict(self) -> dict:
        return {"question": self.question,
                "corrections": [{"typed": c.typed, "suggested": c.suggested} for c in self.corrections]}


def one_edit_away(word: str) -> set[str]:
    """Every string one edit from a lower-case word, its first letter kept (Norvig's edits1)."""
    splits = [(word[:i], word[i:]) for i in range(1, len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in ascii_lowercase}
    inserts = {a + c + b for a, b in splits for c in ascii_lowercase}
    return (deletes | swaps | replaces | inserts) - {word}


def suggest_corrections(words: list[str], report_words: Callable[[], ReportWords],
                        english: Collection[str]) -> list[Correction]:
    """Corrections for the slips among a question's search words (lower case). report_words: the index's,
    asked for only when a word is long enough to be judged; english: the words of English spelt right."""
    # "dont" is "don't" typed without its apostrophe, not a slip for "done"
    plain = [w for w in words if len(w) >= MIN_LENGTH and w.isalpha() and w.isascii()
             and w not in APOSTROPHE_LESS_CONTRACTIONS]
    if not plain:
        return []
    reports = report_words()
    corrections = []
    for word in plain:
        if reports.hold(word) or word in english:
            continue
        found = [(reports.counts[c], c) for c in one_edit_away(word) if c in reports.counts]
        if found and reports.begun_by(word, CLIPPED_BY):
            found = [f for f in found if f[1].startswith(word)]  # a clipped word; only its completion is a slip
        if found:
            # the word most chunks use; a tie goes to the first alphabetically, so a suggestion never varies
            corrections.append(Correction(word, min(found, key=lambda f: (-f[0], f[1]))[1]))
    return corrections


def corrected_question(question: str, corrections: list[Correction]) -> Suggestion | None:
    """The question with its slips replaced, each in the case it was typed in ("Chalise" -> "Chalice")."""
    if not corrections:
        return None
    by_word = {c.typed: c.suggested for c in corrections}

    def replace(match: re.Match) -> str:
        typed, possessive = match.group("word"), match.group("possessive") or ""
        suggested = by_word.get(typed.lower())
        if suggested is None:
            return match.group(0)
        if typed.isupper():
            suggested = suggested.upper()
        elif typed[0].isupper():
            suggested = suggested.capitalize()
        return suggested + possessive

    return Suggestion(_WORD.sub(replace, question), tuple(corrections))


def report_words(texts: Iterable[str]) -> ReportWords:
    """The words of the texts (the chunks' heading and text), each with how many of the texts hold it."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in set(re.findall(r"[a-z]+", text.lower())):
            counts[word] = counts.get(word, 0) + 1
    return ReportWords(counts, frozenset(map(stem, counts)), tuple(sorted(counts)))


# The word list spells English the American way; the reports, and the people asking, the British way.
_AMERICAN_SPELLINGS = (
    (re.compile(r"(?<=.)our"), "or"),  # colour, behaviour, neighbourhood
    (re.compile(r"is(?=(e|ed|es|ing|ation|ations|er|ers)$)"), "iz"),  # organise, prioritised, organisation
    (re.compile(r"ys(?=(e|ed|es|ing)$)"), "yz"),  # analyse
    (re.compile(r"tre(?=s?$)"), "ter"),  # centre, metres
    (re.compile(r"ence(?=s?$)"), "ense"),  # defence, offences
    (re.compile(r"ogue(?=s?$)"), "og"),  # catalogue
    (re.compile(r"mme(?=s?$)"), "m"),  # programme
    (re.compile(r"(?<=.)(ae|oe)"), "e"),  # paediatric, manoeuvre
    (re.compile(r"ll(?=(ed|ing|er|ers|or|ors)$)"), "l"),  # counselling, travelled
)


def american_spellings(word: str) -> set[str]:
    """The word spelt the American way, each British pattern changed alone and all together ("behaviour" ->
    "behavior"; "organisation" -> "organization")."""
    variants = {pattern.sub(american, word) for pattern, american in _AMERICAN_SPELLINGS}
    together = word
    for pattern, american in _AMERICAN_SPELLINGS:
        together = pattern.sub(american, together)
    return (variants | {together}) - {word}


class EnglishWords:
    """The English words pyspellchecker knows (~160k), read on first look-up, in British spelling too."""

    def __contains__(self, word: object) -> bool:
        words = english_words()
        return word in words or any(v in words for v in american_spellings(str(word)))


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    from spellchecker import SpellChecker

    return frozenset(SpellChecker(language="en", distance=1).word_frequency.dictionary)
