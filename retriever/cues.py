"""Cues that a passage answers a kind of question: the acronym a question asks about and the passage that
introduces it, the quantity or date a "how many" or "when" question wants, a heading over decisions.

Plain functions over question and passage text; search turns each into a small bonus.
"""
from __future__ import annotations

import re
from functools import lru_cache

from ingest.decisions import is_decision
from retriever.lexical import query_terms
from retriever.query import QueryPlan


def asked_acronyms(plan: QueryPlan) -> tuple[str, ...]:
    """The acronyms a question asks about: the subject of "what is X?" / "what does X stand for" (X or its long
    form), or the whole question when it is nothing but the acronym or its long form ("CEOP")."""
    asked = {d.lower() for d in plan.defines}
    own = set(query_terms(plan.question))
    found = [term for term, expansion in plan.expansions
             if term.lower() in asked or expansion.lower() in asked
             or (own and (own <= set(query_terms(term)) or own <= set(query_terms(expansion))))]
    return tuple(dict.fromkeys(found))


def introduces_pattern(acronyms: tuple[str, ...]) -> re.Pattern | None:
    """The acronym in brackets after its long form ("... Centre (CEOP)"), or opening a line as "CEOP - ..." (after
    a bullet or paragraph number, if any)."""
    if not acronyms:
        return None
    names = "|".join(map(re.escape, sorted(acronyms, key=len, reverse=True)))
    # a line may open with a bullet or a paragraph number first ("- 4.5 SEMT – Sexually Exploited ...")
    marker = r"(?:[-•*]\s*)?(?:\(?\d+(?:\.\d+)*[.)]?\s+)?"
    return re.compile(rf"\(\s*[\"'“‘]?(?:{names})[\"'”’]?\s*\)|(?:^|\n)\s*{marker}(?:{names})\s*[–—:-]\s",
                      re.IGNORECASE)


_QUANTITY_QUESTION = re.compile(r"\bhow\s+(?:many|much)\b|\bwhat\s+(?:percentage|proportion|number|amount|age)s?\b",
                                re.IGNORECASE)
# A quantity: a sum, a percentage, or a number that is not a year ("2015/16"), a paragraph number ("5.6.6") or
# a list marker opening a line ("2.", "(3)"), which _LIST_MARKER takes off first.
_QUANTITY = re.compile(r"[£$%]|\d\s*per\s*cent|(?<![\d./])\b(?!(?:19|20)\d\d\b)\d[\d,]*\b(?![./]\d)", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^\s*\(?\d+(?:(?:\.\d+)+\.?|[.)])(?=\s)", re.MULTILINE)
# a contents line's page number after its dot leader ("What is Grooming?..... 7"): a page, not a quantity
_PAGE_REFERENCE = re.compile(r"(?:\.{3,}|…+)\s*\d+\b")
_DATE_QUESTION = re.compile(r"^\W*when\b|\bwhat\s+(?:date|year|month|day)\b|\bby\s+when\b", re.IGNORECASE)
_DATE = re.compile(r"\b(?:19|20)\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\b", re.IGNORECASE)


def answer_type_pattern(question: str) -> re.Pattern | None:
    """What the answer to a question states, when the question's wording says: a quantity ("how many", "what
    percentage") or a date ("when"); None for other questions."""
    if _QUANTITY_QUESTION.search(question):
        return _QUANTITY
    if _DATE_QUESTION.search(question):
        return _DATE
    return None


@lru_cache(maxsize=16384)
def states(pattern: re.Pattern, text: str) -> bool:
    """Whether a sentence states what the pattern looks for, list markers and contents pages' page numbers aside
    (remembered: the same sentences come back question after question)."""
    return bool(pattern.search(_PAGE_REFERENCE.sub("", _LIST_MARKER.sub("", text))))


_DECISION_HEADING = re.compile(r"^\W*(?:recommendations?|resolved|resolutions?|decisions?)\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def decision_heading(heading: str) -> bool:
    """A heading over decisions: "RECOMMENDATIONS", "RESOLVED that -", "Recommendation 9: ..." (the same
    wording that makes a passage's own text a decision)."""
    return bool(heading) and (bool(_DECISION_HEADING.match(heading)) or is_decision(heading))
