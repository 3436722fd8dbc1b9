"""The index on disk: a SQLite database (documents, pages, chunks, FTS5) beside a FAISS file.

An index lives in `<root>/builds/<stamp>/`; `<root>/current` is a symlink to the one
being served, swapped atomically when a build completes, so readers never see a
half-written index.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from retriever import bm25
from retriever.lexical import fts_match, fts_phrase
from retriever.spelling import ReportWords, report_words
from retriever.vectors import load_vector_index, removed_count, set_of_ids

# 4: embeddings live only in the FAISS files (format 3 kept a copy of each in the database)
FORMAT_VERSION = 4
DATABASE_FILE = "index.sqlite"
VECTORS_FILE = "vectors.faiss"
WINDOW_VECTORS_FILE = "windows.faiss"
MANIFEST_FILE = "manifest.json"
POSTINGS_DIR = "postings"  # retriever.bm25's arrays; a build without them is searched by FTS5 alone
CURRENT_LINK = "current"
BUILDS_DIR = "builds"
# Models adapted to the reports at ingest (retriever/adaptation.py), one folder each, named in the manifest of
# every build whose vectors they made ("adapted_model").
MODELS_DIR = "models"
# Chunk records kept in memory after first use (a build never changes): enough for every candidate
# of many questions, small beside the vectors (about 2 KB a chunk).
CHUNK_CACHE_SIZE = 20_000

FTS_TOKENIZER = "porter unicode61"
# bm25() weights of chunks_fts's columns, in the table's column order: a word in a heading counts half one in the text
FTS_COLUMN_WEIGHTS = {"text": 1.0, "heading": 0.5}
_BM25 = f"bm25(chunks_fts, {', '.join(map(str, FTS_COLUMN_WEIGHTS.values()))})"

SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, file TEXT NOT NULL, sha256 TEXT NOT NULL, meta_hash TEXT NOT NULL,
    title TEXT NOT NULL, council TEXT NOT NULL, council_full TEXT NOT NULL, body TEXT NOT NULL,
    date TEXT NOT NULL, description TEXT NOT NULL, page_count INTEGER NOT NULL,
    also_files TEXT NOT NULL DEFAULT '[]', indexed_at TEXT NOT NULL
);
CREATE TABLE pages (
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (doc_id, number)
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, text TEXT NOT NULL, heading TEXT NOT NULL,
    page_start INTEGER NOT NULL, page_end INTEGER NOT NULL, spans TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE TABLE windows (
    id INTEGER PRIMARY KEY, chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL
);
CREATE INDEX windows_chunk ON windows(chunk_id);
CREATE TABLE terms (
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    term TEXT NOT NULL, expansion TEXT NOT NULL, page INTEGER NOT NULL, quote TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id, ordinal);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, heading, content='chunks', content_rowid='id', tokenize='{tokenizer}'
);
""".format(tokenizer=FTS_TOKENIZER)


class IndexUnavailable(Exception):
    """No usable index: missing, built with another model or format, or damaged."""


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    file: str
    title: str
    council: str
    council_full: str
    body: str
    date: str | None
    description: str
    page_count: int
    also_files: tuple[str, ...]


@dataclass(frozen=True)
class TermRecord:
    """An acronym as one document defines it, with the verbatim defining text and its page."""

    doc_id: str
    term: str
    expansion: str
    page: int
    quote: str


@dataclass(frozen=True)
class ChunkRecord:
    id: int
    doc_id: str
    ordinal: int
    text: str
    heading: str
    page_start: int
    page_end: int
    spans: tuple[tuple[int, int, int], ...]
    kind: str


def current_build(root: Path) -> Path | None:
    """The build `current` points at; None if there is none; IndexUnavailable if the link is unreadable."""
    link = root / CURRENT_LINK
    try:
        if not link.is_symlink() and not link.is_dir():
            return None
        target = link.resolve()
        return target if target.is_dir() else None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise IndexUnavailable(f"index link {link} is unreadable ({exc}): rebuild it with "
                               f"`onrecord ingest --rebuild`") from exc


def read_manifest(build: Path) -> dict:
    try:
        return json.loads((build / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"index manifest unreadable in {build}: {exc}") from exc


def check_manifest(manifest: dict, model: str, dimension: int) -> None:
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexUnavailable(
            f"index format {manifest.get('format')} is not {FORMAT_VERSION}: rebuild it with `onrecord ingest --rebuild`")
    if manifest.get("model") != model or manifest.get("dimension") != dimension:
        raise IndexUnavailable(
            f"index was built with model {manifest.get('model')} ({manifest.get('dimension')} dims), "
            f"not {model} ({dimension} dims): rebuild it with `onrecord ingest --rebuild`")


def connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path))
        conn.execute("PRAGMA foreign_keys = ON")
    conn.row_factory = sqlite3.Row
    return conn


def _document(row: sqlite3.Row) -> DocumentRecord:
    return DocumentRecord(id=row["id"], file=row["file"], title=row["title"], council=row["council"],
                          council_full=row["council_full"], body=row["body"], date=row["date"] or None,
                          description=row["description"], page_count=row["page_count"],
                          also_files=tuple(json.loads(row["also_files"])))


def _chunk(row: sqlite3.Row) -> ChunkRecord:
    return ChunkRecord(id=row["id"], doc_id=row["doc_id"], ordinal=row["ordinal"], text=row["text"],
                       heading=row["heading"], page_start=row["page_start"], page_end=row["page_end"],
                       spans=tuple(tuple(s) for s in json.loads(row["spans"])), kind=row["kind"])


@dataclass(frozen=True)
class WindowBatch:
    """Windows of several chunks: chunk_ids[i]'s rows are offsets[i]:offsets[i + 1] of the other arrays."""

    chunk_ids: np.ndarray
    offsets: np.ndarray
    starts: np.ndarray  # chunk text offsets, one per row
    ends: np.ndarray
    vectors: np.ndarray


class IndexReader:
    """Read access to one built index, safe to share between threads."""

    def __init__(self, build: Path, model: str, dimension: int):
        self.build = build
        self.manifest = read_manifest(build)
        check_manifest(self.manifest, model, dimension)
        database = build / DATABASE_FILE
        if not database.is_file():
            raise IndexUnavailable(f"index database missing in {build}")
        self._database = database
        self._local = threading.local()
        self._term_counts: dict[str, int] = {}
        self._chunk_cache: OrderedDict[int, ChunkRecord] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._report_words: ReportWords | None = None
        self._report_words_lock = threading.Lock()  # its own: reading the words must not hold up the chunk cache
        try:
            self.vectors = load_vector_index(build / VECTORS_FILE)
            self.window_vectors = load_vector_index(build / WINDOW_VECTORS_FILE)
            conn = self._conn()
            self.documents = {d.id: d for d in map(_document, conn.execute("SELECT * FROM documents ORDER BY id"))}
            self.chunk_count = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            self.window_count = conn.execute("SELECT count(*) FROM windows").fetchone()[0]
            self.terms = [TermRecord(r["doc_id"], r["term"], r["expansion"], r["page"], r["quote"])
                          for r in conn.execute("SELECT * FROM terms ORDER BY doc_id, page, term")]
            # Where each chunk's windows are, as arrays (16 bytes a window), so search finds a chunk's
            # windows and a window's chunk without a query; their vectors are read from the FAISS index.
            layout = np.array(conn.execute('SELECT id, chunk_id, start, "end" FROM windows '
                                           "ORDER BY chunk_id, start").fetchall(), dtype=np.int64).reshape(-1, 4)
            self._window_id, self._window_chunk, self._window_start, self._window_end = (
                np.ascontiguousarray(column) for column in layout.T)
            self._window_rows_by_id = np.argsort(self._window_id, kind="stable")
            doc_codes = {doc_id: code for code, doc_id in enumerate(self.documents)}
            owners = conn.execute("SELECT id, doc_id FROM chunks ORDER BY id").fetchall()
            self._chunk_ids = np.array([i for i, _ in owners], dtype=np.int64)
            self._chunk_doc_codes = np.array([doc_codes.get(d, -1) for _, d in owners], dtype=np.int32)
            self._doc_codes = doc_codes
            self.postings = bm25.load_postings(build / POSTINGS_DIR)
        except (RuntimeError, ValueError, OSError, sqlite3.DatabaseError) as exc:
            raise IndexUnavailable(f"index in {build} is damaged ({exc}): rebuild it with `onrecord ingest`") from exc
        # Vectors of removed reports left in an HNSW graph (retriever.vectors.remove_from_vector_index): searches
        # skip them; every other vector is one row's.
        self.removed_vectors = removed_count(self.vectors)
        self.removed_window_vectors = removed_count(self.window_vectors)
        if self.vectors.ntotal - self.removed_vectors != self.chunk_count:
            raise IndexUnavailable(f"index in {build} is inconsistent: {self.vectors.ntotal - self.removed_vectors} "
                                   f"vectors for {self.chunk_count} chunks; rebuild it with `onrecord ingest`")
        if self.window_vectors.ntotal - self.removed_window_vectors != self.window_count:
            raise IndexUnavailable(f"index in {build} is inconsistent: "
                                   f"{self.window_vectors.ntotal - self.removed_window_vectors} window vectors "
                                   f"for {self.window_count} windows; rebuild it with `onrecord ingest`")
        if self.postings is not None and not np.array_equal(self.postings.chunk_ids, self._chunk_ids):
            raise IndexUnavailable(f"index in {build} is inconsistent: its postings are not of its chunks; "
                                   "rebuild it with `onrecord ingest`")

    def vectors_hold_their_rows(self) -> bool:
        """Each vector index holds a vector under every chunk's (window's) id and under no other, removed
        ones aside. The vectors live only there: a build that extends this one takes them from it."""
        return (set_of_ids(self.vectors) == set(self._chunk_ids.tolist())
                and set_of_ids(self.window_vectors) == set(self._window_id.tolist()))

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self._database, read_only=True)
        return conn

    def chunks(self, ids: list[int]) -> dict[int, ChunkRecord]:
        found: dict[int, ChunkRecord] = {}
        missing = []
        with self._cache_lock:
            for i in ids:
                record = self._chunk_cache.get(i)
                if record is None:
                    missing.append(i)
                else:
                    self._chunk_cache.move_to_end(i)
                    found[i] = record
        if missing:
            marks = ",".join("?" * len(missing))
            rows = self._conn().execute(f"SELECT * FROM chunks WHERE id IN ({marks})", list(missing))
            loaded = {r["id"]: _chunk(r) for r in rows}
            found.update(loaded)
            with self._cache_lock:
                self._chunk_cache.update(loaded)
                while len(self._chunk_cache) > CHUNK_CACHE_SIZE:
                    self._chunk_cache.popitem(last=False)
        return found

    def window_batch(self, chunk_ids: list[int]) -> "WindowBatch":
        """The answer windows of the chunks that have any, as arrays: one FAISS call, no per-window objects."""
        wanted = np.asarray(chunk_ids, dtype=np.int64).reshape(-1)
        lows = np.searchsorted(self._window_chunk, wanted, side="left")
        highs = np.searchsorted(self._window_chunk, wanted, side="right")
        present = highs > lows
        wanted, lows, highs = wanted[present], lows[present], highs[present]
        counts = highs - lows
        offsets = np.concatenate(([0], np.cumsum(counts)))
        # every row of every range lo..hi, in order, without a Python loop
        rows = np.repeat(lows - offsets[:-1], counts) + np.arange(offsets[-1])
        vectors = (self.window_vectors.reconstruct_batch(self._window_id[rows]) if len(rows)
                   else np.zeros((0, self.window_vectors.d), dtype=np.float32))
        return WindowBatch(wanted, offsets, self._window_start[rows], self._window_end[rows], vectors)

    def chunk_vectors(self, chunk_ids: list[int]) -> np.ndarray:
        """The stored unit vectors of chunk_ids, one row each, in order."""
        if not len(chunk_ids):
            return np.zeros((0, self.vectors.d), dtype=np.float32)
        return self.vectors.reconstruct_batch(np.asarray(chunk_ids, dtype=np.int64))

    def window_chunks(self, window_ids: list[int]) -> dict[int, int]:
        """window id -> chunk id."""
        if not window_ids or not len(self._window_id):
            return {}
        wanted = np.asarray(window_ids, dtype=np.int64)
        order = self._window_rows_by_id
        positions = np.searchsorted(self._window_id[order], wanted).clip(0, len(order) - 1)
        rows = order[positions]
        known = self._window_id[rows] == wanted
        return dict(zip(wanted[known].tolist(), self._window_chunk[rows[known]].tolist()))

    def window_ids_for_documents(self, doc_ids: list[str]) -> np.ndarray:
        chunk_ids = self.chunk_ids_for_documents(doc_ids)
        return np.sort(self._window_id[np.isin(self._window_chunk, chunk_ids)])

    def chunk_ids_for_documents(self, doc_ids: list[str]) -> np.ndarray:
        return self._chunk_ids[self._in_documents(doc_ids)]

    def _in_documents(self, doc_ids: list[str]) -> np.ndarray:
        """Which chunks (in chunk id order, as the postings' rows) belong to doc_ids."""
        codes = [self._doc_codes[d] for d in doc_ids if d in self._doc_codes]
        return np.isin(self._chunk_doc_codes, codes)

    def page_text(self, doc_id: str, number: int) -> str | None:
        row = self._conn().execute("SELECT text FROM pages WHERE doc_id = ? AND number = ?",
                                   (doc_id, number)).fetchone()
        return None if row is None else row[0]

    def report_words(self) -> ReportWords:
        """Every word of the chunks (text and heading), with how many chunks hold it, for spelling suggestions:
        read on first use (~40 ms for 1,400 chunks) and kept, as a build never changes."""
        if self._report_words is None:
            with self._report_words_lock:  # two first questions at once read the words once
                if self._report_words is None:
                    rows = self._conn().execute("SELECT heading || char(10) || text FROM chunks")
                    self._report_words = report_words(row[0] for row in rows)
        return self._report_words

    def term_counts(self, terms: list[str]) -> dict[str, int]:
        """For each term: how many chunks hold it (FTS5's own tokens and stems)."""
        conn = self._conn()
        counts: dict[str, int] = {}
        for term in terms:
            count = self._term_counts.get(term)
            tokens = fts_tokens(term) if count is None and self.postings is not None else ()
            if len(tokens) == 1:  # one token: the chunks in its postings (no SQL; FTS5 counts them row by row)
                a, b = self.postings.token_range(tokens[0])
                count = b - a
            elif count is None:  # a build never changes, so its counts can be remembered
                count = conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                     (fts_phrase(term),)).fetchone()[0]
                if len(self._term_counts) < 100_000:
                    self._term_counts[term] = count
            counts[term] = count
        return counts

    def lexical_search(self, terms: list[str], k: int, doc_ids: list[str] | None = None) -> list[tuple[int, float]]:
        """Top k (chunk id, BM25 score, higher is better) for the chunks holding any of the terms, as FTS5's
        bm25() ranks them: from the postings in memory where every term is one FTS5 token, else by FTS5."""
        terms = [t for t in terms if t]
        if not terms:
            return []
        tokens = [fts_tokens(t) for t in terms]
        if self.postings is not None and all(len(t) <= 1 for t in tokens):
            allowed = None if doc_ids is None else self._in_documents(doc_ids)
            return bm25.search(self.postings, [t[0] for t in tokens if t], k, allowed)
        sql = lexical_sql(None if doc_ids is None else len(doc_ids))
        args = [fts_match(terms), *(doc_ids or []), k]
        return [(r[0], -r[1]) for r in self._conn().execute(sql, args)]


_tokenizers = threading.local()


@lru_cache(maxsize=65536)
def fts_tokens(term: str) -> tuple[str, ...]:
    """The tokens FTS5 makes of a term (stemmed, folded), by asking FTS5 itself: an in-memory table per thread."""
    conn = getattr(_tokenizers, "conn", None)
    if conn is None:
        conn = _tokenizers.conn = sqlite3.connect(":memory:")
        conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{FTS_TOKENIZER}')")
        conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    with conn:
        conn.execute("INSERT INTO t (rowid, x) VALUES (1, ?)", (term,))
        tokens = tuple(r[0] for r in conn.execute("SELECT term FROM v ORDER BY offset"))
        conn.execute("DELETE FROM t")
    return tokens


def lexical_sql(documents: int | None) -> str:
    """The BM25 query: parameters MATCH, then `documents` document ids when filtered, then k. Unfiltered,
    it reads FTS5 alone: a join to the chunks table there doubled its time at 100k chunks."""
    if documents is None:
        return (f"SELECT c.rowid, {_BM25} AS s FROM chunks_fts c WHERE chunks_fts MATCH ? "
                "ORDER BY s LIMIT ?")
    return (f"SELECT c.rowid, {_BM25} AS s FROM chunks_fts c JOIN chunks ch ON ch.id = c.rowid "
            f"WHERE chunks_fts MATCH ? AND ch.doc_id IN ({','.join('?' * documents)}) ORDER BY s LIMIT ?")


def open_index(root: Path, model: str, dimension: int) -> IndexReader:
    build = current_build(root)
    if build is None:
        raise IndexUnavailable(f"no index at {root}: run `onrecord ingest` to build it")
    return IndexReader(build, model, dimension)


def fsync_tree(path: Path) -> None:
    for item in [*path.iterdir(), path]:
        if item.is_dir() and item != path:
            fsync_tree(item)
            continue
        fd = os.open(item, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
