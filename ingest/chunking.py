"""Split a document's clean pages into overlapping, page-aware chunks.

Chunks are built from whole sentences, close at paragraph ends where they can, and
record exactly where each piece sits in each page's text, so a citation can name the
page (or pages) a passage came from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.model import Chunk, Page, PageSpan
from ingest.tables import PARAGRAPH, row_starts


@dataclass(frozen=True)
class ChunkingParams:
    # all-MiniLM-L6-v2 reads 256 word pieces; ~1.3 pieces a word leaves room for the heading.
    min_words: int = 100
    max_words: int = 180
    overlap_words: int = 30
    # Bumped when the chunker's rules change (2: table rows start chunks): an index built by other rules
    # is rebuilt, not extended, by the next ingest (the build compares these parameters).
    rules: int = 2


@dataclass(frozen=True)
class _Unit:
    page: int
    start: int
    end: int
    words: int
    paragraph_end: bool
    heading: bool
    row_label: str = ""  # set on the first unit of a table row (ingest.tables)
    table_page: bool = False


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9•])")
_NOT_A_SENTENCE_END = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|Cllr|Mr|Mrs|Ms|Dr|No|St|Prof|vs|cf|para|paras|approx|Ref|Fig)\.|\b[A-Z]\.)$"
)
_WORDS = re.compile(r"\S+")


def is_heading(paragraph: str) -> bool:
    """A short paragraph with no closing punctuation, starting with a capital or a section number."""
    words = paragraph.split()
    if not words or len(words) > 12 or len(paragraph) > 100:
        return False
    if re.search(r"[.,;:]$", paragraph) or paragraph.startswith(("•", "-", "–", "(")):
        return False
    return bool(re.match(r"(?:\d+(?:\.\d+)*\.?\s+)?[A-Z]", paragraph))


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of text[start:end], whitespace excluded."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_BREAK.finditer(text, start, end):
        if _NOT_A_SENTENCE_END.search(text[max(cursor, match.start() - 12):match.start()]):
            continue
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    return [(s, e) for s, e in (_strip(text, s, e) for s, e in spans) if e > s]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_long(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Cut a run of text with no sentence breaks (a table, a list) into pieces of max_words."""
    words = list(_WORDS.finditer(text, start, end))
    if len(words) <= max_words:
        return [(start, end)]
    return [(words[i].start(), words[min(i + max_words, len(words)) - 1].end())
            for i in range(0, len(words), max_words)]


def _units(pages: list[Page], params: ChunkingParams) -> list[_Unit]:
    units: list[_Unit] = []
    rows = {(r.page, r.start): r.label for r in row_starts(pages)}
    table_pages = {page for page, _ in rows}
    for page in pages:
        text = page.text
        table_page = page.number in table_pages
        for para in PARAGRAPH.finditer(text):
            p_start, p_end = _strip(text, para.start(), para.end())
            if p_end <= p_start:
                continue
            heading = is_heading(text[p_start:p_end])
            pieces = [piece for s, e in sentence_spans(text, p_start, p_end)
                      for piece in _split_long(text, s, e, params.max_words)]
            label = rows.get((page.number, p_start), "")
            for n, (s, e) in enumerate(pieces):
                units.append(_Unit(page.number, s, e, len(text[s:e].split()),
                                   paragraph_end=n == len(pieces) - 1, heading=heading and not label,
                                   row_label=label if n == 0 else "", table_page=table_page))
    return units


def chunk_pages(pages: list[Page], params: ChunkingParams = ChunkingParams()) -> list[Chunk]:
    """Chunks of ~min_words..max_words words, in document order, with a small overlap."""
    page_text = {p.number: p.text for p in pages}
    units = _units(pages, params)
    chunks: list[Chunk] = []
    heading = ""
    row = ""  # the label of the table row being read, if any: the heading of its chunks
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units):
            unit = units[j]
            if j > i and unit.row_label:
                break  # a table row starts a chunk of its own
            if j > i and (words + unit.words > params.max_words
                          or (words >= params.min_words and (unit.heading or unit.page != units[j - 1].page))):
                break
            words += unit.words
            j += 1
            if words >= params.min_words and unit.paragraph_end and params.min_words > 0:
                break
        first_heading, heading, row = _context(units[i:j], page_text, heading, row)
        chunks.append(_make_chunk(len(chunks), units[i:j], page_text, row or first_heading))
        if j >= len(units):
            break
        back, overlap = j, 0
        while (back - 1 > i and not units[back - 1].heading and not units[back].row_label
               and overlap + units[back - 1].words <= params.overlap_words):
            back -= 1
            overlap += units[back].words
        i = back
    return chunks


def _context(units: list[_Unit], page_text: dict[int, str], heading: str, row: str) -> tuple[str, str, str]:
    """(the heading for this chunk, the heading and the row label in force after it).

    A row label stays in force over the row's chunks until the next row, or a heading outside the
    table (a heading-like line on a table page is more likely a column header)."""
    first = None
    for unit in units:
        if unit.row_label:
            row = unit.row_label
        elif unit.heading:
            heading = page_text[unit.page][unit.start:unit.end]
            if not unit.table_page:
                row = ""
        if first is None and (unit.heading or unit.row_label):
            first = heading if unit.heading else ""
    return (heading if first is None else first or heading), heading, row


def _make_chunk(ordinal: int, units: list[_Unit], page_text: dict[int, str], heading: str) -> Chunk:
    spans: list[PageSpan] = []
    for unit in units:
        if spans and spans[-1].page == unit.page:
            spans[-1] = PageSpan(unit.page, spans[-1].start, unit.end)
        else:
            spans.append(PageSpan(unit.page, unit.start, unit.end))
    text = "\n\n".join(page_text[s.page][s.start:s.end] for s in spans)
    first_text = page_text[units[0].page][units[0].start:units[0].end]
    # A chunk that opens with its own heading (or row label) does not need it repeated as context.
    return Chunk(ordinal=ordinal, text=text, heading="" if first_text == heading or text.startswith(heading) else heading,
                 page_start=spans[0].page, page_end=spans[-1].page, spans=tuple(spans))
