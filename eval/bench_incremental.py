"""`python -m eval.bench_incremental`: what adding or replacing a report costs once the index is large.

A build edits the previous build's indexes (retriever.build) instead of building them again over every
chunk: FTS5 gets the new rows inserted (and is told to delete a removed report's rows) instead of a
'rebuild', the BM25 postings lose a removed report's chunks (retriever.bm25.remove_postings) and get the
new chunks' own merged in (merge_postings) instead of being read again from the whole full-text index,
and the FAISS indexes lose the removed vectors (retriever.vectors.remove_from_vector_index: deleted from a
flat index, skipped in an HNSW graph) and get the new ones added (extend_vector_index). This times each
step both ways over a synthetic index of --chunks chunks (the lexical side as in `eval.bench_scale`: Zipf
pseudo-words, 100-180 a chunk, the index's FTS5 layout; clustered unit vectors as `eval.bench_scale` makes
them for the chunk and window vector indexes, --windows-per-chunk windows a chunk as the shipped corpus has
~4.3), first adding a report of --add
chunks and their windows, then replacing another report of --add chunks with a new version of as many. It
checks that the edited postings equal a whole read, and the edited vector indexes' recall@10 against exact
search over the vectors left. Building anew after a replacement costs what it costs after an addition (the
same number of rows), so that is timed once. Writes eval/results/bench_incremental.json, prints a table.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from eval.bench_scale import synthetic_fts, synthetic_queries, synthetic_texts, synthetic_vectors, vocabulary
from retriever import bm25
from retriever.store import FTS_COLUMN_WEIGHTS, FTS_TOKENIZER
from retriever.vectors import (build_vector_index, extend_vector_index, kind_of, load_vector_index,
                              make_vector_index, remove_from_vector_index, removed_count, save_vector_index,
                              search_vectors)

RESULTS = Path(__file__).resolve().parent / "results" / "bench_incremental.json"


def timed(step):
    t = time.perf_counter()
    result = step()
    return result, round(time.perf_counter() - t, 2)


def lexical(workdir: Path, n: int, add: int, seed: int) -> dict:
    texts = list(synthetic_texts(n + 2 * add, vocabulary(30_000, seed), seed))
    conn = synthetic_fts(workdir / "fts.sqlite")
    with conn:
        conn.executemany("INSERT INTO chunks VALUES (?,?,?,'')", texts[:n])
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    bm25.save_postings(bm25.read_postings(conn, "chunks_fts", FTS_COLUMN_WEIGHTS), workdir / "postings")
    with conn:
        conn.executemany("INSERT INTO chunks VALUES (?,?,?,'')", texts[n:n + add])
        _, insert_s = timed(lambda: conn.execute(
            "INSERT INTO chunks_fts(rowid, text, heading) SELECT id, text, heading FROM chunks WHERE id > ?", (n,)))
    _, rebuild_s = timed(lambda: (conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')"),
                                  conn.commit()))

    def merged():
        rows = conn.execute("SELECT id, text, heading FROM chunks WHERE id > ? ORDER BY id", (n,)).fetchall()
        return bm25.merge_postings(bm25.load_postings(workdir / "postings"),
                                   bm25.postings_of_rows(conn, rows, FTS_COLUMN_WEIGHTS, FTS_TOKENIZER))

    extended, merge_s = timed(merged)
    whole, read_s = timed(lambda: bm25.read_postings(conn, "chunks_fts", FTS_COLUMN_WEIGHTS))
    same = all(np.array_equal(getattr(extended, f), getattr(whole, f)) for f in bm25.FILES)
    # Replacing a report of `add` chunks (the last ones before the added report) with a new version as long
    old_ids = [(i,) for i in range(n - add + 1, n + 1)]

    def replace_fts():
        with conn:
            conn.executemany("INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) "
                             "SELECT 'delete', id, text, heading FROM chunks WHERE id = ?", old_ids)
            conn.executemany("DELETE FROM chunks WHERE id = ?", old_ids)
            conn.executemany("INSERT INTO chunks VALUES (?,?,?,'')", texts[n + add:])
            conn.execute("INSERT INTO chunks_fts(rowid, text, heading) SELECT id, text, heading FROM chunks "
                         "WHERE id > ?", (n + add,))

    _, replace_fts_s = timed(replace_fts)

    def replaced():
        rows = conn.execute("SELECT id, text, heading FROM chunks WHERE id > ? ORDER BY id", (n + add,)).fetchall()
        kept = bm25.remove_postings(whole, np.array([i for i, in old_ids], dtype=np.int64))
        return bm25.merge_postings(kept, bm25.postings_of_rows(conn, rows, FTS_COLUMN_WEIGHTS, FTS_TOKENIZER))

    edited, replace_postings_s = timed(replaced)
    after = bm25.read_postings(conn, "chunks_fts", FTS_COLUMN_WEIGHTS)
    same_replaced = all(np.array_equal(getattr(edited, f), getattr(after, f)) for f in bm25.FILES)
    conn.close()
    return {"fts5": {"anew_s": rebuild_s, "extended_s": insert_s, "replaced_s": replace_fts_s},
            "postings": {"anew_s": read_s, "extended_s": merge_s, "same_arrays": same,
                         "replaced_s": replace_postings_s, "replaced_same_arrays": same_replaced}}


def _recall_at_10(index, vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> tuple[float, set]:
    """recall@10 of `index` against exact search over (vectors, ids), and every id it returned."""
    exact = make_vector_index(vectors, ids, kind="flat")
    skip = removed_count(index) > 0
    hits = [({i for i, _ in search_vectors(index, q, 10, skip_removed=skip)},
             {i for i, _ in search_vectors(exact, q, 10)}) for q in queries]
    return round(float(np.mean([len(f & t) / 10 for f, t in hits])), 3), set().union(*(f for f, _ in hits))


def vectors(workdir: Path, n: int, add: int, seed: int, queries: int = 50) -> dict:
    # topics -> documents -> chunks, as eval.bench_scale makes them, so that nearest neighbours mean something
    data, _, centres = synthetic_vectors(n + 2 * add, seed)
    probes = synthetic_queries(centres, queries, seed + 100)
    ids = np.arange(1, n + 2 * add + 1, dtype=np.int64)
    save_vector_index(build_vector_index(ids[:n], data[:n], 384), workdir / "vectors.faiss")
    anew, anew_s = timed(lambda: build_vector_index(ids[:n + add], data[:n + add], 384))
    kind = kind_of(anew)
    del anew
    extended, extended_s = timed(lambda: extend_vector_index(load_vector_index(workdir / "vectors.faiss"),
                                                             ids[n:n + add], data[n:n + add]))
    report = {"vectors": n + add, "kind": kind, "anew_s": anew_s, "extended_s": extended_s,
              "extended_kind": kind_of(extended) if extended is not None else None}
    if extended is None:
        return report
    report["extended_recall_at_10"], _ = _recall_at_10(extended, data[:n + add], ids[:n + add], probes)
    # the replacement: the vectors of `add` rows before the added ones leave, as many new ones come in
    old = np.arange(n - add, n)

    def replace():
        edited = remove_from_vector_index(extended, ids[old])
        return None if edited is None else extend_vector_index(edited, ids[n + add:], data[n + add:])

    replaced, replaced_s = timed(replace)
    report.update(replaced_s=replaced_s, replaced_kind=kind_of(replaced) if replaced is not None else None)
    if replaced is not None:
        live = np.setdiff1d(np.arange(n + 2 * add), old)
        report["replaced_recall_at_10"], returned = _recall_at_10(replaced, data[live], ids[live], probes)
        # probes at the replaced report's old vectors and its new ones: where a removed vector would show
        near = np.concatenate((data[old[::max(1, len(old) // 10)]], data[n + add::max(1, add // 10)]))
        report["near_replaced_recall_at_10"], returned_near = _recall_at_10(replaced, data[live], ids[live], near)
        report["replaced_returns_removed"] = bool((returned | returned_near) & set(ids[old].tolist()))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_incremental", description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--add", type=int, default=300, help="chunks the added report brings")
    parser.add_argument("--windows-per-chunk", type=float, default=4.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="onrecord-incremental-") as tmp:
        workdir = Path(tmp)
        report = {"command": "python -m eval.bench_incremental " + " ".join(map(shlex.quote, argv or sys.argv[1:])),
                  "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "chunks": args.chunks, "added_chunks": args.add, **lexical(workdir, args.chunks, args.add, args.seed)}
        report["chunk_vectors"] = vectors(workdir, args.chunks, args.add, args.seed)
        windows, added_windows = round(args.chunks * args.windows_per_chunk), round(args.add * args.windows_per_chunk)
        report["window_vectors"] = vectors(workdir, windows, added_windows, args.seed + 1)
    report["total_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"Adding a report of {args.add} chunks to an index of {args.chunks:,}, then replacing another report of "
          f"{args.add} chunks (seconds):\n")
    print("| step | built anew | extended (add) | edited (replace) |\n|---|---:|---:|---:|")
    print(f"| FTS5 full-text index | {report['fts5']['anew_s']} | {report['fts5']['extended_s']} | "
          f"{report['fts5']['replaced_s']} |")
    postings = report["postings"]
    same = "same arrays" if postings["same_arrays"] and postings["replaced_same_arrays"] else "DIFFERENT arrays"
    print(f"| BM25 postings ({same}) | {postings['anew_s']} | {postings['extended_s']} | {postings['replaced_s']} |")
    for name in ("chunk_vectors", "window_vectors"):
        v = report[name]
        recall = ""
        if "replaced_recall_at_10" in v:
            recall = (f", recall@10 {v['extended_recall_at_10']} added, {v['replaced_recall_at_10']} replaced, "
                      f"{v['near_replaced_recall_at_10']} next to the replaced report")
        print(f"| {name.replace('_', ' ')} ({v['vectors']:,}, {v['kind']}{recall}) | {v['anew_s']} | "
              f"{v['extended_s']} | {v.get('replaced_s', '-')} |")
    print(f"\nwrote {args.out} ({report['total_s']} s)")
    sound = (postings["same_arrays"] and postings["replaced_same_arrays"]
             and not any(report[name].get("replaced_returns_removed") for name in ("chunk_vectors", "window_vectors")))
    return 0 if sound else 1


if __name__ == "__main__":
    sys.exit(main())
