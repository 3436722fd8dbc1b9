"""`python -m eval.bench_incremental`: what adding a report costs once the index is large.

A build that only adds files extends the previous build's indexes (retriever.build): FTS5 gets the new
rows inserted instead of a 'rebuild' over every chunk, the BM25 postings get the new chunks' own merged
in (retriever.bm25.merge_postings) instead of being read again from the whole full-text index, and the
FAISS indexes get the new vectors added (retriever.vectors.extend_vector_index) instead of being built
again. This times each step both ways over a synthetic index of --chunks chunks (the lexical side as in
`eval.bench_scale`: Zipf pseudo-words, 100-180 a chunk, the index's FTS5 layout; random unit vectors for
the chunk and window vector indexes, --windows-per-chunk windows a chunk as the shipped corpus has ~4.3),
adding --add chunks (a long report) and their windows, and checks that both ways give the same postings.
Writes eval/results/bench_incremental.json and prints a table.
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

from eval.bench_scale import synthetic_fts, synthetic_texts, vocabulary
from retriever import bm25
from retriever.store import FTS_COLUMN_WEIGHTS, FTS_TOKENIZER
from retriever.vectors import build_vector_index, extend_vector_index, kind_of, load_vector_index, save_vector_index

RESULTS = Path(__file__).resolve().parent / "results" / "bench_incremental.json"


def timed(step):
    t = time.perf_counter()
    result = step()
    return result, round(time.perf_counter() - t, 2)


def lexical(workdir: Path, n: int, add: int, seed: int) -> dict:
    texts = list(synthetic_texts(n + add, vocabulary(30_000, seed), seed))
    conn = synthetic_fts(workdir / "fts.sqlite")
    with conn:
        conn.executemany("INSERT INTO chunks VALUES (?,?,?,'')", texts[:n])
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    bm25.save_postings(bm25.read_postings(conn, "chunks_fts", FTS_COLUMN_WEIGHTS), workdir / "postings")
    with conn:
        conn.executemany("INSERT INTO chunks VALUES (?,?,?,'')", texts[n:])
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
    conn.close()
    return {"fts5": {"anew_s": rebuild_s, "extended_s": insert_s},
            "postings": {"anew_s": read_s, "extended_s": merge_s, "same_arrays": same}}


def vectors(workdir: Path, n: int, add: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n + add, 384)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    ids = np.arange(1, n + add + 1, dtype=np.int64)
    save_vector_index(build_vector_index(ids[:n], data[:n], 384), workdir / "vectors.faiss")
    anew, anew_s = timed(lambda: build_vector_index(ids, data, 384))
    extended, extended_s = timed(lambda: extend_vector_index(load_vector_index(workdir / "vectors.faiss"),
                                                             ids[n:], data[n:]))
    return {"vectors": n + add, "kind": kind_of(anew), "anew_s": anew_s, "extended_s": extended_s,
            "extended_kind": kind_of(extended) if extended is not None else None}


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
    print(f"Adding {args.add} chunks to an index of {args.chunks:,} (seconds):\n")
    print("| step | built anew | extended |\n|---|---:|---:|")
    print(f"| FTS5 full-text index | {report['fts5']['anew_s']} | {report['fts5']['extended_s']} |")
    same = "same arrays" if report["postings"]["same_arrays"] else "DIFFERENT arrays"
    print(f"| BM25 postings ({same}) | {report['postings']['anew_s']} | {report['postings']['extended_s']} |")
    for name in ("chunk_vectors", "window_vectors"):
        v = report[name]
        print(f"| {name.replace('_', ' ')} ({v['vectors']:,}, {v['kind']}) | {v['anew_s']} | {v['extended_s']} |")
    print(f"\nwrote {args.out} ({report['total_s']} s)")
    return 0 if report["postings"]["same_arrays"] else 1


if __name__ == "__main__":
    sys.exit(main())
