"""Rows of recommendation and action-plan tables, found in the text a PDF's table leaves behind.

A report's action plan is a table: one row per recommendation (its number and wording, the lead
agency, progress), often running over several pages. Text extraction flattens it, but each row still
opens with its label at the start of a paragraph: "R06 That ...", "Recommendation 7. ...",
"Recommendation 12: Parent Support Group", or, in a table with a "Rec No" column, the bare number
"6 Mapping Support and Agreeing Thresholds ...". The chunker starts a new chunk at each row and
carries the row's label as the heading of every chunk of the row, so a row is found as a unit and a
piece of a long row still says which recommendation it belongs to.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.model import Page

# A label of its own: "R06 That", "Recommendation 7.", "Recommendation 12: Parent", "Rec 3 -".
_LABELLED = re.compile(r"(?:R\d{1,3}|Rec(?:ommendation)?\.?\s*\d{1,3})\s*[.:–-]?\s*(?=[A-Z])")
# A bare row number followed by a capitalised title: only counted on a page with a table's header row,
# and only when it continues the table's numbering (a date or an address does not).
_NUMBERED = re.compile(r"(?P<n>\d{1,2})\s+(?=[A-Z][a-z])")
_TABLE_HEADER = re.compile(r"\b(?:lead agency|lead officer|responsib(?:le|ility)|completion date|progress update|"
                           r"timescales?|target date|rec\.?\s*n[o°])\b", re.IGNORECASE)
# A paragraph: lines up to a blank line. The chunker reads paragraphs with this same pattern, so a row
# start found here is a paragraph start there.
PARAGRAPH = re.compile(r"[^\n]+(?:\n(?!\n)[^\n]*)*")
MAX_LABEL_WORDS = 14
MAX_NUMBER_GAP = 3  # rows of a table may be skipped (merged cells, a row lost to extraction), not many


@dataclass(frozen=True)
class RowStart:
    """Where a table row begins (page, offset into the page's text) and its label, quoted verbatim."""

    page: int
    start: int
    label: str


def row_starts(pages: list[Page]) -> list[RowStart]:
    """The starts of recommendation / action-plan rows, in document order."""
    found: list[RowStart] = []
    last_number = 0  # of the bare-numbered rows, whose numbering must run on
    for page in pages:
        text = page.text
        has_header = bool(_TABLE_HEADER.search(text))
        for para in PARAGRAPH.finditer(text):
            start = para.start() + len(para.group()) - len(para.group().lstrip())
            body = text[start:para.end()]
            labelled = _LABELLED.match(body)
            if not labelled:
                number = _bare_row_number(body, has_header, last_number)
                if number is None:
                    continue
                last_number = number
            found.append(RowStart(page.number, start, _label(body)))
    return found


def _bare_row_number(paragraph: str, has_header: bool, last_number: int) -> int | None:
    """The row number of "6 Mapping Support ..." on a table page: 1 starts a table, others continue it."""
    numbered = _NUMBERED.match(paragraph) if has_header else None
    if numbered is None:
        return None
    n = int(numbered.group("n"))
    return n if n == 1 or (last_number and last_number < n <= last_number + MAX_NUMBER_GAP) else None


def _label(paragraph: str) -> str:
    """The row's opening words: its first line, at most MAX_LABEL_WORDS words."""
    return " ".join(paragraph.split("\n", 1)[0].split()[:MAX_LABEL_WORDS])
