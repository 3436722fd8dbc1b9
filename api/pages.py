"""Report files on disk: finding a document's file safely, and rendering a PDF page to PNG.

Files are found only through the index: a document id is looked up in the index database,
and its stored file name (a bare name, never a path) is joined onto the corpus folder; the
resolved path must lie inside the corpus folder. Nothing a client sends becomes a path.

pdfium is not thread-safe: every pypdfium2 call happens under one module-level lock.
"""
from __future__ import annotations

import io
import math
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

import pypdfium2 as pdfium

from retriever.store import DocumentRecord

DEFAULT_WIDTH = 800
MIN_WIDTH = 100
MAX_WIDTH = 2000
MAX_HEIGHT = 8000  # a freakishly tall page is cropped rather than rendered to hundreds of megapixels

PDFIUM_LOCK = threading.Lock()

MEDIA_TYPES = {".pdf": "application/pdf", ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8"}


class PageUnavailable(Exception):
    """The page cannot be shown (not in the file, not a PDF, unreadable file)."""


def plain_name(name: str) -> bool:
    """A bare file name: no folder part, no `..`, no NUL."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\0")


class CorpusFiles:
    """Where each indexed document's file lies: inside the corpus folder, or nowhere."""

    RESCAN_SECONDS = 30.0

    def __init__(self, corpus_dir: Path):
        self.corpus_dir = Path(corpus_dir)
        self._lock = threading.Lock()
        self._by_name: dict[str, Path] = {}
        self._scanned_at: float | None = None

    def locate(self, doc: DocumentRecord) -> Path | None:
        try:
            root = self.corpus_dir.resolve(strict=True)
        except OSError:
            return None
        names = [n for n in (doc.file, *doc.also_files) if plain_name(n)]
        for name in names:  # the usual case: the file sits at the top of the corpus folder
            path = self._inside(root / name, root)
            if path is not None:
                return path
        for name in names:  # `onrecord ingest` also takes sub-folders of the corpus
            candidate = self._scan(root).get(name)
            path = self._inside(candidate, root) if candidate is not None else None
            if path is not None:
                return path
        return None

    @staticmethod
    def _inside(candidate: Path, root: Path) -> Path | None:
        try:
            path = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return path if path.is_file() and path.is_relative_to(root) else None

    def _scan(self, root: Path) -> dict[str, Path]:
        with self._lock:
            now = time.monotonic()
            if self._scanned_at is None or now - self._scanned_at >= self.RESCAN_SECONDS:
                found: dict[str, Path] = {}
                for folder, dirs, files in os.walk(root):  # does not follow symlinked folders
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for name in sorted(files):
                        found.setdefault(name, Path(folder) / name)
                self._by_name, self._scanned_at = found, now
            return self._by_name


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


class PageRenderer:
    """PNG of one page of a PDF at a given width; a few recent renders are kept."""

    def __init__(self, cache_size: int = 16):
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()

    def png(self, path: Path, page: int, width: int) -> bytes:
        if path.suffix.lower() != ".pdf":
            raise PageUnavailable("this document is not a PDF: it has no page images")
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size, page, width)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = render_png(path, page, width)
        with self._cache_lock:
            self._cache[key] = data
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return data


def render_png(path: Path, page_number: int, width: int) -> bytes:
    """Render 1-based `page_number` of the PDF at `path` to a PNG exactly `width` pixels wide."""
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise PageUnavailable(f"the file cannot be opened ({exc})") from exc
        try:
            if not 1 <= page_number <= len(pdf):
                raise PageUnavailable(f"the file has {len(pdf)} pages")
            page = pdf[page_number - 1]
            try:
                page_width, page_height = page.get_size()
                if page_width <= 0 or page_height <= 0:
                    raise PageUnavailable("the page has no size")
                scale = width / page_width
                crop_bottom = 0.0
                if page_height * scale > MAX_HEIGHT:
                    crop_bottom = page_height - MAX_HEIGHT / scale
                bitmap = page.render(scale=scale, crop=(0, crop_bottom, 0, 0))
                try:
                    image = bitmap.to_pil().copy()  # to_pil may share the bitmap's buffer
                finally:
                    bitmap.close()
            finally:
                page.close()
        finally:
            pdf.close()
    # ceil() in pdfium's size arithmetic can give one pixel too many; never one too few, but be exact.
    if image.width != width:
        height = max(1, math.floor(image.height * width / image.width))
        image = image.crop((0, 0, width, image.height)) if image.width > width else image.resize((width, height))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()
