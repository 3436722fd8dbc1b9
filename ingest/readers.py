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
        head = fh.read(1024)
    if head.find(b"%PDF-") < 0:
        if _looks_like_html(head):
            raise UnreadableFile("not a PDF: this is a web page (HTML) saved with a .pdf name",
                                 "download the PDF itself, not the page that links to it")
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
    broken: list[int] = []
    with _PypdfComplaints() as complaints:
        for number, page in enumerate(page_objects, start=1):
            complaints.clear()
            try:
                text = page.extract_text() or ""
            except Exception as exc:  # one broken page must not cost the good ones
                broken.append(number)
                warnings.append(f"page {number} could not be read ({type(exc).__name__}: {_short(exc)}); "
                                f"skipped, the other pages are kept")
                pages.append("")
                continue
            if not text.strip() and complaints.messages:
                # pypdf logs (rather than raises) a missing object or an undecodable stream
                broken.append(number)
                warnings.append(f"page {number} could not be read ({_short(complaints.messages[0])}); "
                                f"skipped, the other pages are kept")
            pages.append(text)
    if not any(p.strip() for p in pages):
        if broken and len(broken) == len(pages):
            raise UnreadableFile("corrupt PDF: no page could be read", "get a fresh copy of the file")
        raise UnreadableFile("no text layer: this looks like a scan", "OCR it first")
    return pages, warnings


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in start[:512]


def _short(message: object, limit: int = 120) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class _PypdfComplaints(logging.Handler):
    """Collects what pypdf logs while a page is read: it logs, not raises, for many broken pages."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []
        self._logger = logging.getLogger("pypdf")

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def clear(self) -> None:
        self.messages = []

    def __enter__(self) -> "_PypdfComplaints":
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self)
