"""Read a report file into the raw text of its pages (1-based, the file's own pages)."""
from __future__ import annotations

import logging
from pathlib import Path

from ingest.model import UnreadableFile

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md")
PAGE_BREAK = "\f"

log = logging.getLogger(__name__)


def read_raw_pages(path: Path) -> tuple[list[str], list[str]]:
    """Return (raw page texts, warnings). Raises UnreadableFile when nothing can be read."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile(f"unsupported file type {suffix or '(none)'}", "use PDF, .txt or .md")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFile(f"cannot open the file ({exc.strerror})") from exc
    if size == 0:
        raise UnreadableFile("empty file (0 bytes)", "replace it with the full report")
    if suffix == ".pdf":
        return _read_pdf(path)
    return _read_text(path), []


def _read_text(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("not UTF-8 text", "save it as UTF-8") from exc
    pages = text.split(PAGE_BREAK)
    if not any(p.strip() for p in pages):
        raise UnreadableFile("no text in the file")
    return pages


def _read_pdf(path: Path) -> tuple[list[str], list[str]]:
    import pypdf  # imported here: the text readers need no PDF library
    from pypdf.errors import PdfReadError

    with path.open("rb") as fh:
        if fh.read(1024).find(b"%PDF-") < 0:
            raise UnreadableFile("not a PDF (the file does not start with a PDF header)",
                                 "check the file is the report, not a web page or another format")
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported ciphers
                raise UnreadableFile("encrypted PDF", "ask for an unprotected copy") from exc
            if not opened:
                raise UnreadableFile("encrypted PDF (password protected)",
                                     "ask for a copy without a password")
        page_objects = list(reader.pages)
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise UnreadableFile(f"corrupt or truncated PDF ({type(exc).__name__}: {exc})",
                             "get a fresh copy of the file") from exc
    if not page_objects:
        raise UnreadableFile("PDF has no pages")
    pages: list[str] = []
    warnings: list[str] = []
    for number, page in enumerate(page_objects, start=1):
        try:
            pages.append(page.extract_text() or "")
        except Exception as exc:  # one broken page must not cost the good ones
            warnings.append(f"page {number} could not be read ({type(exc).__name__}); skipped")
            pages.append("")
    if not any(p.strip() for p in pages):
        raise UnreadableFile("no text layer: this looks like a scan", "OCR it first")
    return pages, warnings
