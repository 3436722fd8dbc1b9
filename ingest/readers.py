"""Read a report file into the raw text of its pages (1-based, the file's own pages).

A long PDF can be read by several processes at once (`workers`): pypdf's text extraction is
pure Python and costs ~0.1-0.5 s a page, nearly all of it per page (tokenising the page's content
stream; fonts and resources are a few percent), so the pages are dealt out to processes that each
open the file themselves. Every page's text is what a one-process read gives.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Sequence

from ingest.model import UnreadableFile

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md")
PAGE_BREAK = "\f"
MAX_DEFAULT_WORKERS = 4
MIN_PAGES_PER_WORKER = 5  # fewer pages than this each are read faster than a process starts
# A worker still busy max(GRACE, SLACK x the parent's time for its own share) after the parent is done
# is taken for stuck, and its pages are read in-process.
WORKER_GRACE_SECONDS = 30.0
WORKER_SLACK = 4.0

log = logging.getLogger(__name__)

PageResult = tuple[str, str | None]  # a page's text, and the warning when it could not be read


def default_workers() -> int:
    """Processes for reading one PDF: this machine's usable CPUs, at most MAX_DEFAULT_WORKERS."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


def read_raw_pages(path: Path, workers: int = 1) -> tuple[list[str], list[str]]:
    """Return (raw page texts, warnings). Raises UnreadableFile when nothing can be read.

    `workers` > 1 lets a long PDF be read by that many processes (this one included).
    """
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
        return _read_pdf(path, workers)
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


def _read_pdf(path: Path, workers: int = 1) -> tuple[list[str], list[str]]:
    with path.open("rb") as fh:
        head = fh.read(1024)
    if head.find(b"%PDF-") < 0:
        if _looks_like_html(head):
            raise UnreadableFile("not a PDF: this is a web page (HTML) saved with a .pdf name",
                                 "download the PDF itself, not the page that links to it")
        raise UnreadableFile("not a PDF (the file does not start with a PDF header)",
                             "check the file is the report, not a web page or another format")
    page_objects = _open_pdf(path)
    if not page_objects:
        raise UnreadableFile("PDF has no pages")
    shares = _shares(len(page_objects), workers)
    if len(shares) == 1:
        results = _extract_pages(page_objects, shares[0])
    else:
        results = _extract_in_parallel(path, page_objects, shares)
    pages = [results[n][0] for n in range(1, len(page_objects) + 1)]
    warnings = [results[n][1] for n in range(1, len(page_objects) + 1) if results[n][1] is not None]
    if not any(p.strip() for p in pages):
        if len(warnings) == len(pages):  # every page broken
            raise UnreadableFile("corrupt PDF: no page could be read", "get a fresh copy of the file")
        raise UnreadableFile("no text layer: this looks like a scan", "OCR it first")
    return pages, warnings


def _open_pdf(path: Path) -> list:
    """The page objects of a PDF (decrypted when it opens with no password); UnreadableFile if it cannot be opened."""
    import pypdf  # imported here: the text readers need no PDF library
    from pypdf.errors import PdfReadError

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
        return list(reader.pages)
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise UnreadableFile(f"corrupt or truncated PDF ({type(exc).__name__}: {exc})",
                             "get a fresh copy of the file") from exc


def _extract_pages(page_objects: Sequence, numbers: Sequence[int]) -> dict[int, PageResult]:
    """Text (or a warning and "") for each of the 1-based page numbers, read in this process."""
    results: dict[int, PageResult] = {}
    with _PypdfComplaints() as complaints:
        for number in numbers:
            complaints.clear()
            try:
                text = page_objects[number - 1].extract_text() or ""
            except Exception as exc:  # one broken page must not cost the good ones
                results[number] = ("", f"page {number} could not be read ({type(exc).__name__}: {_short(exc)}); "
                                       f"skipped, the other pages are kept")
                continue
            warning = None
            if not text.strip() and complaints.messages:
                # pypdf logs (rather than raises) a missing object or an undecodable stream
                warning = (f"page {number} could not be read ({_short(complaints.messages[0])}); "
                           f"skipped, the other pages are kept")
            results[number] = (text, warning)
    return results


def _shares(page_count: int, workers: int) -> list[list[int]]:
    """The page numbers each process reads: dealt out in turn, since later pages of a report often cost more."""
    count = max(1, min(workers, page_count // MIN_PAGES_PER_WORKER))
    return [list(range(first, page_count + 1, count)) for first in range(1, count + 1)]


def _extract_share(path: Path, numbers: Sequence[int]) -> dict[int, PageResult]:
    """Open the file afresh and read the given pages, as a worker does.

    A fresh reader has resolved no more of the file than a one-process read had by those pages,
    so every page a one-process read warns about is warned about here too. (One more is possible:
    pypdf complains about a missing object only the first time, so a blank page sharing one with
    a page of another share is warned about here, and not by a one-process read.)
    """
    with _PypdfComplaints():  # the parent already reported what pypdf says on opening the file
        page_objects = _open_pdf(path)
    return _extract_pages(page_objects, numbers)


def _worker(path: Path, numbers: list[int], conn: Connection) -> None:
    """A worker process: send back the pages' results, or why it could not read them."""
    try:
        conn.send(("ok", _extract_share(path, numbers)))
    except BaseException as exc:  # any failure: the parent reads these pages itself
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _context() -> multiprocessing.context.BaseContext:
    # fork starts at once with pypdf already imported; spawn where fork is unsafe (macOS) or missing (Windows)
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _extract_in_parallel(path: Path, page_objects: Sequence, shares: list[list[int]]) -> dict[int, PageResult]:
    """The first share read here, the others by worker processes; a worker that fails or stalls is read here."""
    ctx = _context()
    started: list[tuple[BaseProcess, Connection, list[int]]] = []
    try:
        for numbers in shares[1:]:
            receiver, sender = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_worker, args=(path, numbers, sender), daemon=True)
            process.start()
            sender.close()  # only the worker writes: its end closing tells us it died
            started.append((process, receiver, numbers))
        t0 = time.perf_counter()
        results = _extract_pages(page_objects, shares[0])
        deadline = time.monotonic() + max(WORKER_GRACE_SECONDS, WORKER_SLACK * (time.perf_counter() - t0))
        for process, receiver, numbers in started:
            results.update(_collect(path, process, receiver, numbers, deadline))
        return results
    finally:
        for process, receiver, _ in started:
            receiver.close()
            if process.is_alive():
                process.terminate()
            process.join()


def _collect(path: Path, process: BaseProcess, receiver: Connection, numbers: list[int],
             deadline: float) -> dict[int, PageResult]:
    """A worker's results; its pages read in this process if it crashed, failed or is still busy at the deadline."""
    why = "did not answer in time"
    try:
        if receiver.poll(max(0.0, deadline - time.monotonic())):
            status, payload = receiver.recv()
            if status == "ok":
                return payload
            why = f"failed ({payload})"
    except EOFError:  # it died before sending its results
        process.join(1)
        why = f"stopped (exit code {process.exitcode})"
    except Exception as exc:  # a garbled message: its pages are read here all the same
        why = f"sent nothing usable ({type(exc).__name__})"
    process.terminate()
    log.warning("a worker reading %s %s; reading its %d pages here instead", path.name, why, len(numbers))
    return _extract_share(path, numbers)


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
