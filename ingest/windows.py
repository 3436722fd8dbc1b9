"""Answer windows: a chunk cut into runs of one or two sentences.

Each window is embedded on its own at ingest. Search uses them twice: the best window
of a chunk is strong evidence that the chunk answers (a short text is closer to a short
question than a 150-word chunk is), and the best window is the answer span to mark, so
no sentence has to be embedded while a person waits.
"""
from __future__ import annotations

import re

from ingest.chunking import sentence_spans

_BLANK_LINE = re.compile(r"\n\s*\n")
# A paragraph opening with a superscript number ("³¹ www.natcen.ac.uk/...", "² NSPCC, Grooming (2015) ..."): a
# footnote, never the sentence that answers, and as a window of its own its URL words and the page footer run
# into it can sit closer to a question than the answer does.
_FOOTNOTE = re.compile(r"\s*[⁰¹²³⁴⁵⁶⁷⁸⁹]")

MIN_WORDS = 20  # a shorter sentence is joined with the next, so a window says something on its own
MAX_WORDS = 60


def answer_windows(text: str, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> list[tuple[int, int]]:
    """(start, end) offsets into text of non-overlapping windows that cover its sentences, footnotes aside.

    A short sentence is joined with the next one in its paragraph, and a paragraph that is a single
    short piece (a heading, "Recommendation 20.") with the paragraph after it. The short last sentence
    of a longer paragraph stays alone rather than run into the next paragraph, which may sit on the
    next page.
    """
    pieces: list[tuple[int, int, int, bool]] = []  # start, end, words, may join the next piece
    for para_start, para_end in _paragraphs(text):
        if _FOOTNOTE.match(text, para_start):
            if pieces:  # nor does a window run across it
                pieces[-1] = (*pieces[-1][:3], False)
            continue
        spans = sentence_spans(text, para_start, para_end) or [(para_start, para_end)]
        for i, (start, end) in enumerate(spans):
            closes_paragraph = i == len(spans) - 1 and len(spans) > 1
            pieces.append((start, end, len(text[start:end].split()), not closes_paragraph))
    windows: list[tuple[int, int]] = []
    current: tuple[int, int, int, bool] | None = None
    for start, end, words, joins in pieces:
        if current is not None and current[3] and current[2] < min_words and current[2] + words <= max_words:
            current = (current[0], end, current[2] + words, joins)
            continue
        if current is not None:
            windows.append((current[0], current[1]))
        current = (start, end, words, joins)
    if current is not None and current[1] > current[0]:
        windows.append((current[0], current[1]))
    return windows


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for match in _BLANK_LINE.finditer(text):
        if match.start() > cursor:
            spans.append((cursor, match.start()))
        cursor = match.end()
    if cursor < len(text):
        spans.append((cursor, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]
