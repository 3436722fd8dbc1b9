"""Read one report file into clean pages."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.clean import clean_pages
from ingest.model import Page, UnreadableFile
from ingest.quality import judge
from ingest.readers import read_raw_pages


@dataclass(frozen=True)
class ParsedFile:
    pages: tuple[Page, ...]
    warnings: tuple[str, ...]


GARBLED_PDF = ("text layer looks garbled (fonts without a text map?)", "OCR it first")
GARBLED_TEXT = ("text looks garbled", "check the file's character encoding (save it as UTF-8)")


def parse_file(path: Path, workers: int = 1) -> ParsedFile:
    """Clean pages of a report file; raises UnreadableFile when it holds no usable text.

    `workers` > 1 reads a long PDF's pages in that many processes; the result is the same.
    """
    raw, warnings = read_raw_pages(path, workers)
    reason, suggestion = GARBLED_PDF if path.suffix.lower() == ".pdf" else GARBLED_TEXT
    whole = judge("\n".join(raw))
    if whole.garbled:
        raise UnreadableFile(f"{reason}: {whole.why}", suggestion)
    for number, text in enumerate(raw, start=1):
        page = judge(text)
        if page.garbled:  # kept (a false alarm must not lose text), but said
            warnings.append(f"page {number}: {reason.replace('text layer', 'text')} ({page.why}); "
                            f"its text may not be searchable: {suggestion}")
    cleaned = clean_pages(raw)
    pages = tuple(Page(number=n, text=t) for n, t in enumerate(cleaned, start=1))
    if not any(p.text for p in pages):
        raise UnreadableFile("no text left after removing headers and footers")
    return ParsedFile(pages=pages, warnings=tuple(warnings))
