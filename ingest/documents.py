"""Read one report file into clean pages."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.clean import clean_pages
from ingest.model import Page, UnreadableFile
from ingest.readers import read_raw_pages


@dataclass(frozen=True)
class ParsedFile:
    pages: tuple[Page, ...]
    warnings: tuple[str, ...]


def parse_file(path: Path) -> ParsedFile:
    """Clean pages of a report file; raises UnreadableFile when it holds no usable text."""
    raw, warnings = read_raw_pages(path)
    cleaned = clean_pages(raw)
    pages = tuple(Page(number=n, text=t) for n, t in enumerate(cleaned, start=1))
    if not any(p.text for p in pages):
        raise UnreadableFile("no text left after removing headers and footers")
    return ParsedFile(pages=pages, warnings=tuple(warnings))
