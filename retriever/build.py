"""Build or update the index from report files: parse, chunk, embed, store, switch over atomically.

Incremental by content hash: unchanged files are not parsed or embedded again, a
changed file is re-indexed, a removed file leaves the index. Each build is written to
a fresh directory and only then made current, so a crash leaves the old index serving.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import re
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence
from contextlib import contextmanager

import numpy as np

from ingest.chunking import ChunkingParams, chunk_pages
from ingest.decisions import is_decision
from ingest.documents import parse_file
from ingest.metadata import METADATA_FILE, default_meta, load_metadata
from ingest.model import Chunk, ReportMeta, UnreadableFile
from ingest.readers import SUPPORTED_SUFFIXES, default_workers
from ingest.windows import answer_windows
from ingest.vocabulary import Term, find_terms
from retriever.adaptation import TAUGHT_FROM_FILE, ClozePair, inverse_cloze_pairs
from retriever.encoder import Encoder
from retriever import bm25
from retriever.store import (BUILDS_DIR, CURRENT_LINK, DATABASE_FILE, FORMAT_VERSION, FTS_COLUMN_WEIGHTS,
                             FTS_TOKENIZER, MANIFEST_FILE, MODELS_DIR, POSTINGS_DIR, SCHEMA,
                             VECTORS_FILE, WINDOW_VECTORS_FILE, IndexReader, IndexUnavailable, connect, current_build, fsync_tree,
                             read_manifest)
from retriever.vectors import build_vector_index, extend_vector_index, remove_from_vector_index, save_vector_index

# Texts per encoder call. The encoder re-sorts each call by word pieces, so larger calls pad less: at 64 a
# tenth of the shipped corpus's embedded tokens were padding, at 256 4% (progress is reported per call).
EMBED_BATCH = 256
IGNORED_NAMES = {"readme.md", "readme.txt", "license.md", "license.txt"}


@dataclass(frozen=True)
class SkippedFile:
    file: str
    reason: str


@dataclass(frozen=True)
class BuildSummary:
    documents: int
    pages: int
    chunks: int
    embedded: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    skipped: tuple[SkippedFile, ...]
    warnings: tuple[str, ...]
    duplicates: tuple[tuple[str, str], ...]
    seconds: float
    changed: bool
    build: str
    timings: dict = field(default_factory=dict)

    def line(self) -> str:
        state = "updated" if self.changed else "up to date"
        return (f"Index {state}: {self.documents} documents, {self.pages} pages, {self.chunks} chunks "
                f"({self.embedded} embedded), {len(self.skipped)} skipped, {self.seconds:.1f}s")


class BuildProgress(Protocol):
    def note(self, message: str) -> None: ...
    def file_read(self, file: str, pages: int, chunks: int) -> None: ...
    def file_skipped(self, file: str, reason: str) -> None: ...
    def embedding_started(self, total: int) -> None: ...
    def embedded(self, count: int) -> None: ...
    def embedding_finished(self) -> None: ...


class SilentProgress:
    def note(self, message): pass
    def file_read(self, file, pages, chunks): pass
    def file_skipped(self, file, reason): pass
    def embedding_started(self, total): pass
    def embedded(self, count): pass
    def embedding_finished(self): pass


@dataclass(frozen=True)
class _SourceFile:
    path: Path
    sha256: str
    meta: ReportMeta
    meta_hash: str
    also_files: tuple[str, ...]


@dataclass(frozen=True)
class _NewDocument:
    source: _SourceFile
    doc_id: str
    pages: tuple
    chunks: tuple[Chunk, ...]
    terms: tuple[Term, ...]


def discover(paths: list[Path]) -> list[Path]:
    """Report files under the given files and folders, in a stable order."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for item in sorted(path.rglob("*")):
                if (item.is_file() and item.suffix.lower() in SUPPORTED_SUFFIXES
                        and item.name.lower() not in IGNORED_NAMES and not item.name.startswith(".")):
                    found[item] = None
        elif path.is_file() or path.suffix.lower() in SUPPORTED_SUFFIXES:
            found[path] = None
    return list(found)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def document_id(file_name: str) -> str:
    stem = Path(file_name).stem.lower()
    return re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "document"


def embedding_text(chunk_text: str, heading: str) -> str:
    """What the encoder sees: the section heading gives a passage its context."""
    return f"{heading}\n{chunk_text}" if heading else chunk_text


def _meta_hash(meta: ReportMeta) -> str:
    return hashlib.sha256(json.dumps(asdict(meta), sort_keys=True).encode()).hexdigest()


def _display(path: Path, roots: list[Path]) -> str:
    """How a file is named in messages: its path below the folder it was found in."""
    for root in roots:
        if root.is_dir() and path.is_relative_to(root):
            return str(path.relative_to(root))
    return path.name


def _sources(files: list[Path], roots: list[Path], previous: dict, progress: BuildProgress,
             skipped: list[SkippedFile]) -> list[_SourceFile]:
    """One source per distinct content; same content under several names is one source listing them all.

    The shortest name is the document's file ("budget.pdf" before "budget (copy).pdf"). A document
    is known by its bare file name (the API finds its file by that name), so two different files
    with one name (in different sub-folders) cannot both be indexed: the one indexed before keeps
    the name, else the first in path order, and the other is skipped as a name conflict.
    """
    metadata: dict[Path, dict[str, ReportMeta]] = {}
    by_hash: dict[str, list[Path]] = {}
    for path in files:
        try:
            digest = file_sha256(path)
        except OSError as exc:
            skipped.append(SkippedFile(_display(path, roots), f"cannot open the file ({exc.strerror})"))
            progress.file_skipped(skipped[-1].file, skipped[-1].reason)
            continue
        by_hash.setdefault(digest, []).append(path)

    def name_order(path: Path) -> tuple:
        return (len(path.name), path.name, str(path))  # "budget.pdf" before "budget (copy).pdf"

    def order(item: tuple[str, list[Path]]) -> tuple:
        digest, paths = item
        held_before = any(previous.get(p.name, {}).get("sha256") == digest for p in paths)
        return (not held_before, min(map(name_order, paths)))

    owner: dict[str, Path] = {}  # bare name -> the file indexed under it
    sources = []
    for digest, paths in sorted(by_hash.items(), key=order):
        paths = sorted(paths, key=name_order)
        held = [p for p in paths if previous.get(p.name, {}).get("sha256") == digest]
        free = [p for p in held + paths if p.name not in owner]
        if not free:
            first = paths[0]
            reason = (f"name conflict: a different file with the same name ({_display(owner[first.name], roots)}) "
                      f"is already indexed; rename one of them")
            for path in paths:
                skipped.append(SkippedFile(_display(path, roots), reason))
                progress.file_skipped(skipped[-1].file, reason)
            continue
        primary = free[0]
        others: list[str] = []
        for path in paths:
            if path.name not in owner:
                owner[path.name] = path
            if owner[path.name] in paths and path.name != primary.name and path.name not in others:
                others.append(path.name)
        if primary.parent not in metadata:
            metadata[primary.parent] = load_metadata(primary.parent / METADATA_FILE)
        meta = metadata[primary.parent].get(primary.name) or default_meta(primary)
        sources.append(_SourceFile(primary, digest, meta, _meta_hash(meta), tuple(others)))
    return sorted(sources, key=lambda s: s.path.name)


def _unique_id(name: str, used: set[str]) -> str:
    """The document id for a file name, suffixed when another file's name maps to the same id."""
    base = document_id(name)
    doc_id, n = base, 1
    while doc_id in used:
        n += 1
        doc_id = f"{base}-{n}"
    return doc_id


def _previous(root: Path, encoder: Encoder, params: ChunkingParams,
              rebuild: bool) -> tuple[IndexReader | None, dict]:
    """The current build, opened, and its documents by file, if it can be extended; else (None, {}). The new
    build edits the vector indexes and postings this opened (rows removed and added), rather than reading them
    again."""
    build = _current_or_none(root)  # a broken link: build afresh, and the new build replaces it
    if build is None or rebuild:
        return None, {}
    try:
        # Opening it checks every part (manifest, database, vectors): a damaged index is rebuilt, not extended
        # (and not left as it is because no report changed).
        reader = IndexReader(build, encoder.name, encoder.dimension)
    except (IndexUnavailable, OSError):
        return None, {}
    # the vectors of the rows kept are taken from its vector indexes (they are stored nowhere else)
    if reader.manifest.get("chunking") != asdict(params) or not reader.vectors_hold_their_rows():
        return None, {}
    try:
        conn = connect(build / DATABASE_FILE, read_only=True)
        rows = conn.execute("SELECT id, file, sha256, meta_hash, also_files FROM documents").fetchall()
        conn.close()
    except sqlite3.DatabaseError:
        return None, {}
    return reader, {r["file"]: dict(r) for r in rows}


class BuildInProgress(Exception):
    pass


class DiskFull(OSError):
    """The disk filled up while a new build was written; the build was abandoned and the index in use is unchanged."""


SQLITE_FULL = 13


def _is_disk_full(exc: BaseException | None) -> bool:
    """ENOSPC (or a quota) from the OS, SQLite's "database or disk is full", or FAISS's failed write."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL
                                                or "disk is full" in str(exc)):
            return True
        if isinstance(exc, RuntimeError) and ("No space left on device" in str(exc)
                                              or f"errno={errno.ENOSPC}" in str(exc)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """One build at a time per index: a second one would remove the first one's work in progress."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildInProgress(f"another `onrecord ingest` is building the index at {root}") from exc
        yield


# Adapts the model to the pairs of a build made afresh, logging its progress: (the encoder of the adapted model,
# its folder's name under the index's models/ folder). retriever.index_model.ingest passes the real one.
Adaptation = Callable[[Sequence[ClozePair], Callable[[str], None]], tuple[Encoder, str]]


def build_index(paths: list[Path], root: Path, encoder: Encoder, params: ChunkingParams = ChunkingParams(),
                progress: BuildProgress | None = None, rebuild: bool = False,
                parse_workers: int | None = None, adaptation: Adaptation | None = None) -> BuildSummary:
    """Bring the index at `root` up to date with the report files under `paths`.

    `parse_workers`: processes reading one long PDF (None: the machine's CPUs, at most 4; 1: this process only).
    `adaptation`: when the index is built afresh, the model is adapted to its chunks and that model embeds
    them (`encoder` then serves only to extend an index `encoder` made). An index extended keeps its model:
    a report added later is embedded by the model adapted to the others.
    """
    workers = default_workers() if parse_workers is None else parse_workers
    with _build_lock(root):
        try:
            return _build(paths, root, encoder, params, progress, rebuild, workers, adaptation)
        except Exception as exc:
            if _is_disk_full(exc):
                raise DiskFull(errno.ENOSPC, "disk full (no space left on device) while writing the new index, "
                                             "which was abandoned", str(root)) from exc
            raise


def _build(paths: list[Path], root: Path, encoder: Encoder, params: ChunkingParams,
           progress: BuildProgress | None, rebuild: bool, parse_workers: int,
           adaptation: Adaptation | None = None) -> BuildSummary:
    progress = progress or SilentProgress()
    started = time.perf_counter()
    timings = {"parse": 0.0, "chunk": 0.0, "adapt": 0.0, "embed": 0.0, "index": 0.0}
    skipped: list[SkippedFile] = []
    warnings: list[str] = []
    previous_index, previous = _previous(root, encoder, params, rebuild)
    previous_build = previous_index.build if previous_index is not None else None
    sources = _sources(discover(paths), paths, previous, progress, skipped)

    to_parse = [s for s in sources if previous.get(s.path.name, {}).get("sha256") != s.sha256]
    current_names = {s.path.name for s in sources}
    removed = [name for name in previous if name not in current_names]
    meta_changed = [s for s in sources if s not in to_parse and (
        previous[s.path.name]["meta_hash"] != s.meta_hash
        or json.loads(previous[s.path.name]["also_files"]) != list(s.also_files))]

    used_ids = {row["id"] for name, row in previous.items() if name in current_names}
    new_documents: list[_NewDocument] = []
    for source in to_parse:
        name = source.path.name
        t0 = time.perf_counter()
        try:
            parsed = parse_file(source.path, parse_workers)
        except UnreadableFile as exc:
            skipped.append(SkippedFile(name, str(exc)))
            progress.file_skipped(name, str(exc))
            if name in previous:  # keep the version already indexed rather than lose it
                warnings.append(f"{name}: the version indexed before is kept")
            continue
        finally:
            timings["parse"] += time.perf_counter() - t0
        warnings.extend(f"{name}: {w}" for w in parsed.warnings)
        t0 = time.perf_counter()
        chunks = tuple(chunk_pages(list(parsed.pages), params))
        timings["chunk"] += time.perf_counter() - t0
        doc_id = previous.get(name, {}).get("id") or _unique_id(name, used_ids)
        used_ids.add(doc_id)
        terms = tuple(find_terms(list(parsed.pages)))
        new_documents.append(_NewDocument(source, doc_id, parsed.pages, chunks, terms))
        progress.file_read(name, len(parsed.pages), len(chunks))

    changed = bool(new_documents or removed or meta_changed or previous_build is None)
    if not changed:
        return _summary(root, previous_build, timings, started, skipped, warnings, sources, 0, (), (), (), False)

    new_chunks = [c for d in new_documents for c in d.chunks]
    windows = [answer_windows(c.text) for c in new_chunks]
    texts = [embedding_text(c.text, c.heading) for c in new_chunks]
    texts += [embedding_text(c.text[s:e], c.heading) for c, spans in zip(new_chunks, windows) for s, e in spans]
    adapted_model = previous_index.manifest.get("adapted_model") if previous_index is not None else None
    if adaptation is not None and previous_index is None:
        t0 = time.perf_counter()
        pairs = inverse_cloze_pairs({i: (c.text, c.heading) for i, c in enumerate(new_chunks)},
                                    [(i, s, e) for i, spans in enumerate(windows) for s, e in spans],
                                    reports=dict(enumerate(d.doc_id for d in new_documents for _ in d.chunks)),
                                    councils=dict(enumerate(d.source.meta.council for d in new_documents
                                                            for _ in d.chunks)),
                                    files=dict(enumerate(d.source.path.name for d in new_documents for _ in d.chunks)))
        encoder, adapted_model = adaptation(pairs, progress.note)
        timings["adapt"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    vectors = _embed(encoder, texts, progress)
    timings["embed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stale_files = removed + [d.source.path.name for d in new_documents if d.source.path.name in previous]
    build = _write_build(root, previous_index, stale_files, new_documents, meta_changed, vectors, windows,
                         encoder, params, adapted_model)
    timings["index"] = time.perf_counter() - t0
    added = tuple(d.source.path.name for d in new_documents if d.source.path.name not in previous)
    updated = tuple(d.source.path.name for d in new_documents if d.source.path.name in previous)
    return _summary(root, build, timings, started, skipped, warnings, sources, len(new_chunks),
                    added, updated, tuple(removed), True)


def _embed(encoder: Encoder, texts: list[str], progress: BuildProgress) -> np.ndarray:
    # Overlapping chunks share answer windows and a report pack repeats paragraphs: each distinct
    # text is embedded once.
    unique: dict[str, int] = {}
    slots = [unique.setdefault(t, len(unique)) for t in texts]
    distinct = list(unique)
    progress.embedding_started(len(distinct))
    parts = []
    # Longest first (by characters, which the encoder refines by word pieces): less padding.
    order = sorted(range(len(distinct)), key=lambda i: -len(distinct[i]))
    for start in range(0, len(order), EMBED_BATCH):
        batch = order[start:start + EMBED_BATCH]
        parts.append(encoder.encode([distinct[i] for i in batch]))
        progress.embedded(len(batch))
    progress.embedding_finished()
    vectors = np.zeros((len(distinct), encoder.dimension), dtype=np.float32)
    if parts:
        vectors[order] = np.vstack(parts)
    return vectors[slots] if slots else np.zeros((0, encoder.dimension), dtype=np.float32)


def _row_ids(conn: sqlite3.Connection, table: str, low: int, high: int | None = None) -> np.ndarray:
    """Ids of the table's rows with id above `low` (and at most `high`), in id order."""
    query = f"SELECT id FROM {table} WHERE id > ?" + (" AND id <= ?" if high is not None else "") + " ORDER BY id"
    return np.array([r[0] for r in conn.execute(query, (low,) if high is None else (low, high))], dtype=np.int64)


def _vector_index(conn: sqlite3.Connection, table: str, previous, stale: np.ndarray, previous_max: int,
                  new: np.ndarray, dimension: int):
    """The vector index of a table's rows: `previous` (the previous build's, or None) without the stale rows'
    vectors and with `new` added (the vectors of the rows inserted by this build, those above previous_max,
    in id order), or built anew when it cannot be edited (it would change kind, or too much of an HNSW graph
    would be removed), the kept rows' vectors then read back from `previous`."""
    new_ids = _row_ids(conn, table, previous_max)
    if len(new_ids) != len(new):
        raise RuntimeError(f"{table}: {len(new_ids)} new rows for {len(new)} new vectors")
    if previous is None:
        return build_vector_index(new_ids, new, dimension)
    index = remove_from_vector_index(previous, stale)
    if index is not None:
        index = extend_vector_index(index, new_ids, new)
    if index is None:  # whatever was tried on `previous`, it still holds every kept row's vector
        kept_ids = _row_ids(conn, table, 0, previous_max)
        kept = previous.reconstruct_batch(kept_ids) if len(kept_ids) else np.zeros((0, dimension), dtype=np.float32)
        index = build_vector_index(np.concatenate((kept_ids, new_ids)), np.vstack((kept, new)), dimension)
    return index


def _extended_postings(conn: sqlite3.Connection, previous: "bm25.Postings",
                       previous_max: int) -> "bm25.Postings | None":
    """`previous`, the previous build's BM25 postings (without any removed chunks), with the chunks added since
    (id above previous_max), tokenised by FTS5 on their own; None when they must be read from the whole
    full-text index: they are not exactly the chunks kept. Reading the whole index takes 17 s at 100k chunks."""
    if not np.array_equal(previous.chunk_ids, _row_ids(conn, "chunks", 0, previous_max)):
        return None
    rows = conn.execute("SELECT id, text, heading FROM chunks WHERE id > ? ORDER BY id", (previous_max,)).fetchall()
    return bm25.merge_postings(previous, bm25.postings_of_rows(conn, rows, FTS_COLUMN_WEIGHTS, FTS_TOKENIZER))


def _stale_rows(conn: sqlite3.Connection, files: list[str]) -> dict[str, np.ndarray]:
    """The ids of the chunks and windows of the documents indexed under these file names."""
    marks = ",".join("?" * len(files))
    chunks = f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE d.file IN ({marks})"
    return {"chunks": np.array([r[0] for r in conn.execute(chunks, files)], dtype=np.int64),
            "windows": np.array([r[0] for r in conn.execute(f"SELECT id FROM windows WHERE chunk_id IN ({chunks})",
                                                             files)], dtype=np.int64)}


# A database whose free pages (left by deleted rows) pass this share of the file is compacted (VACUUM).
MAX_FREE_SHARE = 0.25


def _mostly_free(conn: sqlite3.Connection) -> bool:
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return free > MAX_FREE_SHARE * conn.execute("PRAGMA page_count").fetchone()[0]


def _write_build(root: Path, previous_index: IndexReader | None, stale_files: list[str],
                 documents: list[_NewDocument], meta_changed: list[_SourceFile], vectors: np.ndarray,
                 windows: list[list[tuple[int, int]]], encoder: Encoder, params: ChunkingParams,
                 adapted_model: str | None = None) -> Path:
    """vectors: one row per new chunk, then one per window of those chunks, in order. adapted_model: the
    folder (under the index's models/) of the model that made them, when it is not the packaged one."""
    previous_build = previous_index.build if previous_index is not None else None
    builds = root / BUILDS_DIR
    builds.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(builds)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    tmp = builds / f".tmp-{stamp}"
    tmp.mkdir()
    conn = None
    try:
        database = tmp / DATABASE_FILE
        if previous_build is not None:
            shutil.copyfile(previous_build / DATABASE_FILE, database)
            conn = connect(database, read_only=False)
        else:
            conn = connect(database, read_only=False)
            conn.executescript(SCHEMA)
        # The previous build's full-text and vector indexes and postings lose the rows of reports removed or
        # replaced and gain the new rows, rather than being built again over every chunk (at 100k chunks the
        # window vectors' HNSW alone takes minutes to build). New rows get ids above every row kept, so they
        # are those above the largest id left once the stale rows are gone.
        extending = previous_build is not None
        stale = {"chunks": np.zeros(0, dtype=np.int64), "windows": np.zeros(0, dtype=np.int64)}
        with conn:
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            if extending and stale_files:
                stale = _stale_rows(conn, stale_files)
                # an external-content FTS5 table forgets a row only when told its old text
                conn.executemany("INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) "
                                 "SELECT 'delete', id, text, heading FROM chunks WHERE id = ?",
                                 [(int(i),) for i in stale["chunks"]])
            for name in stale_files:
                conn.execute("DELETE FROM documents WHERE file = ?", (name,))
            previous_max = ({table: conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
                             for table in ("chunks", "windows")} if extending else {})
            for source in meta_changed:
                m = source.meta
                conn.execute("UPDATE documents SET title=?, council=?, council_full=?, body=?, date=?, "
                             "description=?, meta_hash=?, also_files=? WHERE file=?",
                             (m.title, m.council, m.council_full, m.body, m.date, m.description,
                              source.meta_hash, json.dumps(list(source.also_files)), source.path.name))
            row = 0
            for doc in documents:
                m = doc.source.meta
                conn.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (doc.doc_id, doc.source.path.name, doc.source.sha256, doc.source.meta_hash, m.title,
                              m.council, m.council_full, m.body, m.date, m.description, len(doc.pages),
                              json.dumps(list(doc.source.also_files)), now))
                conn.executemany("INSERT INTO pages VALUES (?,?,?)", [(doc.doc_id, p.number, p.text) for p in doc.pages])
                page_text = {p.number: p.text for p in doc.pages}
                conn.executemany("INSERT INTO terms VALUES (?,?,?,?,?)",
                                 [(doc.doc_id, t.term, t.expansion, t.page, page_text[t.page][t.quote_start:t.quote_end])
                                  for t in doc.terms])
                for chunk in doc.chunks:
                    cursor = conn.execute("INSERT INTO chunks (doc_id, ordinal, text, heading, page_start, page_end, spans, "
                                 "kind) VALUES (?,?,?,?,?,?,?,?)",
                                 (doc.doc_id, chunk.ordinal, chunk.text, chunk.heading, chunk.page_start,
                                  chunk.page_end, json.dumps([[s.page, s.start, s.end] for s in chunk.spans]),
                                  "decision" if is_decision(chunk.text) else ""))
                    conn.executemany('INSERT INTO windows (chunk_id, start, "end") VALUES (?,?,?)',
                                     [(cursor.lastrowid, start, end) for start, end in windows[row]])
                    row += 1
            if extending:
                conn.execute("INSERT INTO chunks_fts(rowid, text, heading) SELECT id, text, heading FROM chunks "
                             "WHERE id > ? ORDER BY id", (previous_max["chunks"],))
            else:
                conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
            counts = conn.execute("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks)").fetchone()
            # the new rows' vectors in insertion (= id) order: the chunks', then their windows'
            new_vectors = {"chunks": vectors[:len(windows)], "windows": vectors[len(windows):]}
            for table, file in (("chunks", VECTORS_FILE), ("windows", WINDOW_VECTORS_FILE)):
                previous_vectors = None
                if extending:
                    previous_vectors = previous_index.vectors if table == "chunks" else previous_index.window_vectors
                index = _vector_index(conn, table, previous_vectors, stale[table], previous_max.get(table, 0),
                                      new_vectors[table], encoder.dimension)
                save_vector_index(index, tmp / file)
        if not extending or _mostly_free(conn):
            conn.execute("VACUUM")  # reclaims the pages of deleted rows and of the rebuilt full-text index
        postings = None
        if extending and previous_index.postings is not None:
            postings = _extended_postings(conn, bm25.remove_postings(previous_index.postings, stale["chunks"]),
                                          previous_max["chunks"])
        if postings is None:
            postings = bm25.read_postings(conn, "chunks_fts", FTS_COLUMN_WEIGHTS)
        bm25.save_postings(postings, tmp / POSTINGS_DIR)
        del postings
        conn.close()
        manifest = {"format": FORMAT_VERSION, "model": encoder.name, "dimension": encoder.dimension,
                    "chunking": asdict(params), "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "documents": counts[0], "chunks": counts[1]}
        if adapted_model:
            manifest["adapted_model"] = adapted_model
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        fsync_tree(tmp)
        final = builds / stamp
        tmp.rename(final)
    except BaseException:
        if conn is not None:
            conn.close()  # an open file keeps its disk space after the folder is removed (think: disk full)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    was_current = _current_or_none(root)  # what a server may be reading (with --rebuild too)
    try:
        _switch_current(root, final)
    except BaseException:
        if _current_or_none(root) != final.resolve():  # not made current: free its space (the disk may be full)
            shutil.rmtree(final, ignore_errors=True)
        raise
    _remove_old_builds(builds, final, was_current)
    _remove_unused_models(root)
    return final


def _current_or_none(root: Path) -> Path | None:
    """The current build, or None when there is none or its link is unreadable (a loop)."""
    try:
        return current_build(root)
    except IndexUnavailable:
        return None


def _switch_current(root: Path, build: Path) -> None:
    link = root / CURRENT_LINK
    tmp_link = root / f".{CURRENT_LINK}.tmp"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(build.relative_to(root))
    tmp_link.replace(link)  # rename(2) over the old link: readers see the old or the new, never neither
    fsync_tree(root)


def _remove_abandoned(builds: Path) -> None:
    for item in builds.glob(".tmp-*"):
        shutil.rmtree(item, ignore_errors=True)


# A server looks at `current` every second or so and opens a new build when it changes: a build that
# stopped being current less than this long ago may still be in use, even two builds back.
REPLACED_GRACE_SECONDS = 60.0


def _remove_old_builds(builds: Path, final: Path, previous: Path | None, now: float | None = None) -> None:
    """Remove the builds no server can be reading: all but `final`, `previous` (current until now, kept one
    more round) and builds that stopped being current less than REPLACED_GRACE_SECONDS ago (two ingests
    in a row: a server may not have looked at `current` since). A build newer than `previous` was never
    current (an ingest killed before its switch) and goes at once."""
    now = time.time() if now is None else now
    final = final.resolve()
    previous = previous.resolve() if previous is not None else None
    stamps = sorted(item for item in builds.iterdir() if item.is_dir() and not item.name.startswith("."))
    for item, successor in zip(stamps, stamps[1:]):
        if item.resolve() in (final, previous):
            continue
        never_current = previous is None or item.name > previous.name
        # A build folder appears (by rename) as it becomes current: its successor's time is when it was replaced.
        if never_current or now - successor.stat().st_mtime >= REPLACED_GRACE_SECONDS:
            shutil.rmtree(item, ignore_errors=True)


def _remove_unused_models(root: Path) -> None:
    """Remove the adapted models no remaining build names, nor a model they were taught from (and any left
    half-written by an ingest killed while training: builds are made under a lock, so none is being written now)."""
    models = root / MODELS_DIR
    if not models.is_dir():
        return
    named = set()
    for build in (root / BUILDS_DIR).iterdir():
        try:
            named.add(read_manifest(build).get("adapted_model"))
        except IndexUnavailable:  # a half-written build (it is removed with the abandoned ones)
            continue
    for name in list(named):
        taught_from = models / str(name) / TAUGHT_FROM_FILE
        if name and taught_from.is_file():
            named.add(taught_from.read_text(encoding="utf-8").strip())
    for item in models.iterdir():
        if item.name not in named:
            shutil.rmtree(item, ignore_errors=True)


def _summary(root, build, timings, started, skipped, warnings, sources, embedded, added, updated, removed,
             changed) -> BuildSummary:
    documents = pages = chunks = 0
    if build is not None:
        conn = connect(build / DATABASE_FILE, read_only=True)
        documents, pages, chunks = conn.execute(
            "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM pages), (SELECT count(*) FROM chunks)"
        ).fetchone()
        conn.close()
    duplicates = tuple((s.path.name, other) for s in sources for other in s.also_files)
    return BuildSummary(documents=documents, pages=pages, chunks=chunks, embedded=embedded, added=added,
                        updated=updated, removed=removed, skipped=tuple(skipped), warnings=tuple(warnings),
                        duplicates=duplicates, seconds=time.perf_counter() - started, changed=changed,
                        build=str(build) if build else "", timings=timings)
