"""Turn the raw text of a document's pages into clean page text.

Running headers and footers go, words split by a hyphen at a line end are joined,
whitespace is normalised, and lines are regrouped into paragraphs (separated by a
blank line). Everything else stays verbatim: the passage shown to a user must be
the report's own words.
"""
from __future__ import annotations

import re
from collections import Counter

PAGE_NUMBER_LINE = re.compile(r"^\s*(page\s+)?\d+\s*(of\s+\d+)?\s*$", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BULLET_START = re.compile(r"^(?:[•▪◦●\-–*]\s|\(?\d{1,2}(?:\.\d{1,2})*[.)]?\s|\(?[a-z]\)\s|Recommendation\s+\d)")
_WORD = re.compile(r"[A-Za-z]+")
# Lines this close to the edge of a page are where running headers and footers live.
_EDGE_LINES = 3


def _normalise_line(line: str) -> str:
    return _SPACES.sub(" ", _CONTROL.sub(" ", line)).strip()


def _line_key(line: str) -> str:
    """Lines that differ only in their numbers (page numbers) are the same running line."""
    return re.sub(r"\d+", "#", line.casefold())


def running_lines(raw_pages: list[str]) -> set[str]:
    """Keys of lines that repeat at the top or bottom of most pages of a document."""
    if len(raw_pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for raw in raw_pages:
        lines = [_normalise_line(x) for x in raw.splitlines()]
        lines = [x for x in lines if x]
        edge = lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]
        counts.update({_line_key(x) for x in edge})
    threshold = max(3, (len(raw_pages) + 1) // 2)
    return {key for key, n in counts.items() if n >= threshold}


def word_counts(raw_pages: list[str]) -> Counter[str]:
    """Lower-cased word frequencies, used to decide how to join a hyphenated line end."""
    counts: Counter[str] = Counter()
    for raw in raw_pages:
        counts.update(w.casefold() for w in _WORD.findall(raw))
    return counts


def _is_running(line: str, running: set[str]) -> bool:
    return bool(PAGE_NUMBER_LINE.match(line)) or _line_key(line) in running


def _join_hyphenated(left: str, right: str, vocabulary: Counter[str]) -> str | None:
    """Join `left` ending in 'word-' with `right`, or None if the hyphen is not a line-end split."""
    if not re.search(r"[A-Za-z]-$", left) or not re.match(r"[a-z]", right):
        return None
    head = re.search(r"([A-Za-z]+)-$", left).group(1)
    tail = re.match(r"[a-z]+", right).group(0)
    joined = (head + tail).casefold()
    hyphenated = f"{head}-{tail}".casefold()
    # A word the document also spells whole was split by typesetting; otherwise the
    # hyphen is the author's (multi-agency, e-learning) and stays.
    if vocabulary[joined] > 0 and vocabulary[joined] >= vocabulary[hyphenated]:
        return left[:-1] + right
    return left + right


def clean_page(raw: str, running: set[str], vocabulary: Counter[str] | None = None) -> str:
    """Clean one page's raw text: paragraphs separated by blank lines, words single-spaced."""
    vocabulary = vocabulary if vocabulary is not None else Counter()
    lines = [_normalise_line(x) for x in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept: list[str | None] = []  # None marks a blank line in the source: a paragraph break
    for line in lines:
        if not line:
            kept.append(None)
        elif not _is_running(line, running):
            kept.append(line)
    lengths = sorted(len(x) for x in kept if x)
    if not lengths:
        return ""
    # A line well short of a full line ends its paragraph (last lines and headings are short).
    full = lengths[int(len(lengths) * 0.9)] if len(lengths) >= 5 else max(lengths)
    paragraphs: list[str] = []
    current = ""
    for line in kept:
        if line is None:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        starts_item = bool(_BULLET_START.match(line))
        # A short capitalised line after a finished sentence is a heading, not a continuation.
        starts_heading = (len(line) < 0.7 * full and re.search(r"[.!?:]$", current or "")
                          and re.match(r"[A-Z0-9]", line) and not re.search(r"[.,;:]$", line))
        if current and (starts_item or starts_heading):
            paragraphs.append(current)
            current = ""
        if not current:
            current = line
        else:
            joined = _join_hyphenated(current, line, vocabulary)
            current = joined if joined is not None else f"{current} {line}"
        if len(line) < 0.7 * full and not re.search(r"[,\-–&]$|\b(?:and|or|the|of|to|a|in|for)$", line):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def clean_pages(raw_pages: list[str]) -> list[str]:
    """Clean every page of one document, using what repeats across its pages."""
    running = running_lines(raw_pages)
    vocabulary = word_counts(raw_pages)
    return [clean_page(raw, running, vocabulary) for raw in raw_pages]
