"""`python -m eval.bench_scale`: how vector and lexical search cost grows with the corpus.

Synthetic corpora of 10k, 100k and 1M chunks (sizes are a flag):
- dense side: clustered unit vectors (384-d float32) shaped like chunk embeddings: topics, documents
  inside topics, chunks inside documents, queries drawn like a further chunk of a random document.
  Uniform random high-dimensional vectors would have no neighbourhood structure at all and make every
  approximate index look artificially bad; real embeddings cluster.
- for each index type (exact flat, HNSW, IVF-PQ; built by retriever.vectors.make_vector_index):
  build time, memory (serialized index bytes and RSS growth), single-query latency p50/p95 through
  retriever.vectors.search_vectors (one query at a time, like the API), recall@10 against exact, and
  the same with an allowed-ids filter (2% of the corpus, whole documents).
  HNSW efSearch and IVF nprobe are tuned on 100 separate tuning queries (smallest setting reaching
  recall@10 >= 0.95), then measured on 200 evaluation queries.
- lexical side: synthetic text (Zipf-distributed pseudo-words, 100-180 words a chunk, like the
  chunker's) in the same SQLite FTS5 layout as the real index (external content, porter unicode61),
  queried with the real query shape (2-3 quoted terms joined by OR, bm25 ordering, LIMIT 50).

Writes eval/results/bench_scale.json and bench_scale.md and prints the markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

# Before faiss loads OpenMP: idle worker threads sleep instead of spinning, which otherwise steals the
# CPU from the single-threaded query path (and from everything else on a shared 2-core machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from retriever import bm25  # noqa: E402
from retriever.lexical import fts_match  # noqa: E402
from retriever.store import FTS_COLUMN_WEIGHTS, FTS_TOKENIZER, fts_tokens, lexical_sql  # noqa: E402
from retriever.vectors import EXACT_BELOW, describe, make_vector_index, search_vectors  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DIM = 384
K = 10
API_K = 50  # the searcher asks the vector index for `candidates` = 50
N_TUNE = 100
N_EVAL = 200
N_FILTERED = 50
TARGET_RECALL = 0.95
EF_GRID = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
NPROBE_GRID = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CHUNKS_PER_DOC = 40
FILTER_DOCUMENTS = 25  # a council's reports, for the filtered BM25 query
FILTER_SHARE = 0.02


# -- measuring ---------------------------------------------------------------------------------
def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def timed_queries(fn, queries: np.ndarray) -> tuple[list[float], list]:
    for q in queries[:5]:  # warm caches
        fn(q)
    times, results = [], []
    for q in queries:
        t = time.perf_counter()
        r = fn(q)
        times.append((time.perf_counter() - t) * 1000)
        results.append(r)
    return times, results


def recall_at(results: list[list[tuple[int, float]]], truth: np.ndarray, k: int = K) -> float:
    hits = [len({i for i, _ in r[:k]} & set(t[:k].tolist())) / k for r, t in zip(results, truth)]
    return float(np.mean(hits))


# -- synthetic corpus --------------------------------------------------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def synthetic_vectors(n: int, seed: int = 0, batch: int = 100_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, document of each chunk, document centres): topics -> documents -> chunks.

    Noise is scaled by 1/sqrt(d) so its norm is the given factor: a chunk's cosine to its document
    centre is ~0.8, two chunks of a document ~0.6, two documents of a topic ~0.5, unrelated ~0.
    """
    rng = np.random.default_rng(seed)
    n_docs = max(1, n // CHUNKS_PER_DOC)
    n_topics = max(8, n_docs // 50)
    scale = np.float32(1 / np.sqrt(DIM))
    topics = _unit(rng.standard_normal((n_topics, DIM), dtype=np.float32))
    doc_topic = rng.integers(0, n_topics, n_docs)
    docs = _unit(topics[doc_topic] + rng.standard_normal((n_docs, DIM), dtype=np.float32) * (1.0 * scale))
    doc_of = np.sort(rng.integers(0, n_docs, n))  # chunks of a document are consecutive ids, like ingest
    vectors = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32) * (0.75 * scale)
        vectors[start:stop] = _unit(docs[doc_of[start:stop]] + noise)
    return vectors, doc_of, docs


def synthetic_queries(docs: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = docs[rng.integers(0, len(docs), count)]
    noise = rng.standard_normal((count, DIM), dtype=np.float32) * np.float32(0.75 / np.sqrt(DIM))
    return _unit(centres + noise)


def exact_truth(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k row numbers by brute force (batched: BLAS)."""
    index = faiss.IndexFlatIP(DIM)
    index.add(vectors)
    _, rows = index.search(queries, k)
    return rows


# -- dense side --------------------------------------------------------------------------------
def bench_index(kind: str, vectors: np.ndarray, ids: np.ndarray, tune_q: np.ndarray, eval_q: np.ndarray,
                truth_tune: np.ndarray, truth_eval: np.ndarray, filters: list[tuple[np.ndarray, np.ndarray]],
                build_threads: int, query_threads: int) -> dict:
    faiss.omp_set_num_threads(build_threads)
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = make_vector_index(vectors, ids, kind=kind)
    build_s = time.perf_counter() - t0
    rss_delta = rss_bytes() - rss0
    index_bytes = int(faiss.serialize_index(index).nbytes)
    faiss.omp_set_num_threads(query_threads)
    out: dict = {"kind": kind, "index": describe(index), "build_s": round(build_s, 3),
                 "index_mb": round(index_bytes / 2**20, 1), "rss_delta_mb": round(rss_delta / 2**20, 1)}

    setting: dict = {}
    if kind in ("hnsw", "ivfpq"):
        name, grid = ("ef_search", EF_GRID) if kind == "hnsw" else ("nprobe", NPROBE_GRID)
        sweep = []
        for value in grid:
            times, res = timed_queries(lambda q: search_vectors(index, q, K, **{name: value}), tune_q)
            rec = recall_at(res, truth_tune)
            sweep.append({name: value, "recall_at_10": round(rec, 4), "p50_ms": round(pct(times, 50), 3)})
            if rec >= TARGET_RECALL + 0.01 or (len(sweep) >= 3 and rec - sweep[-3]["recall_at_10"] < 0.002):
                break  # comfortably reached, or saturated
        reaching = [s for s in sweep if s["recall_at_10"] >= TARGET_RECALL]
        best = reaching[0] if reaching else max(sweep, key=lambda s: (s["recall_at_10"], -s[name]))
        setting = {name: best[name]}
        out["tuning"] = sweep
        out["setting"] = setting

    times, res = timed_queries(lambda q: search_vectors(index, q, K, **setting), eval_q)
    out.update(p50_ms=round(pct(times, 50), 3), p95_ms=round(pct(times, 95), 3),
               recall_at_10=round(recall_at(res, truth_eval), 4))
    times, _ = timed_queries(lambda q: search_vectors(index, q, API_K, **setting), eval_q)
    out.update(p50_ms_k50=round(pct(times, 50), 3), p95_ms_k50=round(pct(times, 95), 3))

    # filtered: allowed = the chunks of 2% of the documents, as when the API filters by document
    f_times, f_res, f_truth = [], [], []
    for (allowed, truth), q in zip(filters, eval_q[:len(filters)]):
        t = time.perf_counter()
        r = search_vectors(index, q, K, allowed, **setting)
        f_times.append((time.perf_counter() - t) * 1000)
        assert all(i in set(allowed.tolist()) for i, _ in r) if len(allowed) < 5000 else True
        f_res.append(r)
        f_truth.append(truth)
    out.update(filtered_allowed=int(np.mean([len(a) for a, _ in filters])),
               filtered_p50_ms=round(pct(f_times, 50), 3),
               filtered_recall_at_10=round(recall_at(f_res, np.array(f_truth)), 4))
    del index
    return out


def make_filters(vectors: np.ndarray, ids: np.ndarray, doc_of: np.ndarray, queries: np.ndarray,
                 seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each query: allowed ids (whole documents, ~2% of chunks) and the exact top-10 among them.

    Half the documents come from the query's own neighbourhood (so the filter keeps relevant chunks,
    as a user filtering to likely documents would), half at random."""
    rng = np.random.default_rng(seed)
    n_docs = int(doc_of.max()) + 1
    want = max(1, int(n_docs * FILTER_SHARE))
    starts = np.searchsorted(doc_of, np.arange(n_docs + 1))
    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    _, near = flat.search(queries, 200)
    filters = []
    for q, near_rows in zip(queries, near):
        own = np.unique(doc_of[near_rows])[: want // 2]
        chosen = np.unique(np.concatenate([own, rng.choice(n_docs, want - len(own), replace=False)]))
        rows = np.concatenate([np.arange(starts[d], starts[d + 1]) for d in chosen])
        scores = vectors[rows] @ q
        top = rows[np.argsort(-scores)[:K]]
        filters.append((ids[rows], ids[top]))
    return filters


# -- lexical side ------------------------------------------------------------------------------
def vocabulary(size: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "ch",
              "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou"]
    codas = ["", "", "n", "r", "s", "t", "l", "nd", "st", "ck"]
    words: set[str] = set()
    out = []
    while len(out) < size:
        syllables = int(rng.integers(1, 4))
        w = "".join(onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))] +
                    codas[rng.integers(len(codas))] for _ in range(syllables))
        if w not in words:
            words.add(w)
            out.append(w)
    return out


def zipf_probabilities(size: int, s: float = 1.07) -> np.ndarray:
    p = 1.0 / np.arange(1, size + 1) ** s
    return p / p.sum()


def synthetic_texts(n: int, vocab: list[str], seed: int, batch: int = 50_000):
    """Yields (chunk id, doc id, text) with 100-180 Zipf-drawn words."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(zipf_probabilities(len(vocab)))
    words = np.array(vocab, dtype=object)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        lengths = rng.integers(100, 181, stop - start)
        drawn = words[np.minimum(np.searchsorted(cdf, rng.random(int(lengths.sum()))), len(vocab) - 1)]
        ends = np.cumsum(lengths)
        begins = ends - lengths
        for j, (b, e) in enumerate(zip(begins, ends)):
            cid = start + j + 1
            yield cid, f"d{cid // CHUNKS_PER_DOC}", " ".join(drawn[b:e])


def synthetic_fts(path: Path) -> sqlite3.Connection:
    """An empty database in the index's full-text layout (chunks, and FTS5 over them as external content)."""
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
        CREATE TABLE chunks (id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, text TEXT NOT NULL,
                             heading TEXT NOT NULL);
        CREATE INDEX chunks_doc ON chunks(doc_id);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, content='chunks', content_rowid='id',
                                                   tokenize='{FTS_TOKENIZER}');
    """)
    return conn


def bench_fts(n: int, workdir: Path, seed: int, n_queries: int = N_EVAL) -> dict:
    vocab = vocabulary(30_000, seed)
    path = workdir / f"fts_{n}.sqlite"
    conn = synthetic_fts(path)
    t0 = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO chunks VALUES (?,?,?,'')", synthetic_texts(n, vocab, seed))
    insert_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    with conn:
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    rebuild_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    postings = bm25.read_postings(conn, "chunks_fts", FTS_COLUMN_WEIGHTS)
    postings_s = time.perf_counter() - t2
    conn.close()
    db_bytes = path.stat().st_size
    postings_bytes = sum(getattr(postings, name).nbytes for name in bm25.FILES)

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rng = np.random.default_rng(seed + 1)
    # query words: content words (ranks 100..5000; the most frequent ones play stop words)
    words = [[vocab[p] for p in rng.choice(np.arange(100, 5000), int(rng.integers(2, 4)), replace=False)]
             for _ in range(n_queries + 5)]
    queries = [fts_match(w) for w in words]
    # The searcher's own BM25 queries: unfiltered, and filtered to FILTER_DOCUMENTS documents (a council).
    documents = max(1, n // CHUNKS_PER_DOC)
    docs = [f"d{j}" for j in rng.choice(documents, min(FILTER_DOCUMENTS, documents), replace=False)]
    times, filtered, hits, fts_top = [], [], [], []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        rows = conn.execute(lexical_sql(None), (q, API_K)).fetchall()
        t1 = time.perf_counter()
        conn.execute(lexical_sql(len(docs)), (q, *docs, API_K)).fetchall()
        if i >= 5:
            times.append((t1 - t) * 1000)
            filtered.append((time.perf_counter() - t1) * 1000)
            hits.append(len(rows))
        fts_top.append([r[0] for r in rows])
    # the same queries from the postings in memory (retriever.bm25), as the searcher runs them
    in_docs = np.isin(postings.chunk_ids, [r[0] for r in conn.execute(
        f"SELECT id FROM chunks WHERE doc_id IN ({','.join('?' * len(docs))})", docs)])
    memory, memory_filtered, same = [], [], 0
    for i, w in enumerate(words):
        tokens = [t for word in w for t in fts_tokens(word)]
        t = time.perf_counter()
        top = bm25.search(postings, tokens, API_K)
        t1 = time.perf_counter()
        same += [c for c, _ in top] == fts_top[i]
        bm25.search(postings, tokens, API_K, in_docs)
        if i >= 5:
            memory.append((t1 - t) * 1000)
            memory_filtered.append((time.perf_counter() - t1) * 1000)
    matched = []
    for q in queries[5:25]:
        matched.append(conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (q,)).fetchone()[0])
    conn.close()
    path.unlink()
    return {"build_s": round(insert_s + rebuild_s, 2), "insert_s": round(insert_s, 2),
            "fts_rebuild_s": round(rebuild_s, 2), "db_mb": round(db_bytes / 2**20, 1),
            "p50_ms": round(pct(times, 50), 3), "p95_ms": round(pct(times, 95), 3),
            "filtered_p50_ms": round(pct(filtered, 50), 3), "filtered_documents": len(docs),
            "mean_hits_returned": round(float(np.mean(hits)), 1),
            "postings_s": round(postings_s, 2), "postings_mb": round(postings_bytes / 2**20, 1),
            "memory_p50_ms": round(pct(memory, 50), 3), "memory_p95_ms": round(pct(memory, 95), 3),
            "memory_filtered_p50_ms": round(pct(memory_filtered, 50), 3),
            "memory_same_top_as_fts5": round(same / len(words), 3),
            "mean_rows_matched": int(np.mean(matched))}


# -- crossover ---------------------------------------------------------------------------------
def flat_cost(n: int, seed: int, queries: int = 100) -> dict:
    """Single-query latency of exact flat search at size n (k=10 and the API's k=50): the chooser's input."""
    vectors, _, docs = synthetic_vectors(n, seed)
    index = make_vector_index(vectors, np.arange(1, n + 1, dtype=np.int64), kind="flat")
    q = synthetic_queries(docs, queries, seed + 7)
    t10, _ = timed_queries(lambda v: search_vectors(index, v, K), q)
    t50, _ = timed_queries(lambda v: search_vectors(index, v, API_K), q)
    return {"n": n, "p50_ms": round(pct(t10, 50), 3), "p95_ms": round(pct(t10, 95), 3),
            "p50_ms_k50": round(pct(t50, 50), 3), "us_per_1k_vectors": round(pct(t50, 50) * 1000 / (n / 1000), 1)}


# -- run ---------------------------------------------------------------------------------------
def bench_size(n: int, kinds: list[str], workdir: Path, fts: bool, seed: int, build_threads: int,
               query_threads: int) -> dict:
    print(f"\n== {n:,} chunks ==", flush=True)
    t = time.perf_counter()
    vectors, doc_of, docs = synthetic_vectors(n, seed)
    ids = np.arange(1, n + 1, dtype=np.int64)  # chunk ids start at 1, like SQLite rowids
    queries = synthetic_queries(docs, N_TUNE + N_EVAL, seed + 7)
    tune_q, eval_q = queries[:N_TUNE], queries[N_TUNE:]
    faiss.omp_set_num_threads(build_threads)
    rows = exact_truth(vectors, queries, API_K)
    truth = ids[rows]
    filters = make_filters(vectors, ids, doc_of, eval_q[:N_FILTERED], seed + 11)
    setup_s = time.perf_counter() - t
    print(f"data + exact truth: {setup_s:.1f}s", flush=True)
    result: dict = {"n": n, "setup_s": round(setup_s, 1), "load_avg_start": os.getloadavg()[0], "dense": {}}
    for kind in kinds:
        t = time.perf_counter()
        r = bench_index(kind, vectors, ids, tune_q, eval_q, truth[:N_TUNE], truth[N_TUNE:], filters,
                        build_threads, query_threads)
        r["wall_s"] = round(time.perf_counter() - t, 1)
        result["dense"][kind] = r
        print(f"{kind:6s} build {r['build_s']:8.2f}s  {r['index_mb']:8.1f} MB  p50 {r['p50_ms']:7.3f} ms  "
              f"p95 {r['p95_ms']:7.3f} ms  recall@10 {r['recall_at_10']:.3f}  {r.get('setting', '')}  "
              f"[{r['wall_s']}s]", flush=True)
    del vectors
    if fts:
        t = time.perf_counter()
        result["fts"] = bench_fts(n, workdir, seed)
        f = result["fts"]
        print(f"fts5   build {f['build_s']:8.2f}s  {f['db_mb']:8.1f} MB  p50 {f['p50_ms']:7.3f} ms  "
              f"p95 {f['p95_ms']:7.3f} ms  [{time.perf_counter() - t:.1f}s]", flush=True)
    result["load_avg_end"] = os.getloadavg()[0]
    return result


def markdown(report: dict) -> str:
    lines = ["| chunks | index | build s | index MB | RSS Δ MB | p50 ms | p95 ms | p50 ms k=50 | recall@10 "
             "| setting | filtered p50 ms | filtered recall@10 |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for size in report["sizes"]:
        for kind, r in size["dense"].items():
            setting = ", ".join(f"{k}={v}" for k, v in r.get("setting", {}).items()) or "exact"
            lines.append(f"| {size['n']:,} | {kind} | {r['build_s']:.2f} | {r['index_mb']:.1f} | "
                         f"{r['rss_delta_mb']:.1f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p50_ms_k50']:.2f} | "
                         f"{r['recall_at_10']:.3f} | {setting} | {r['filtered_p50_ms']:.2f} | "
                         f"{r['filtered_recall_at_10']:.3f} |")
    if report.get("crossover"):
        lines += ["", "Exact flat search alone (the chooser's crossover input; one query at a time, one thread):", "",
                  "| chunks | flat p50 ms k=10 | p95 ms | p50 ms k=50 | µs per 1k vectors |", "|---:|---:|---:|---:|---:|"]
        for c in report["crossover"]:
            lines.append(f"| {c['n']:,} | {c['p50_ms']:.2f} | {c['p95_ms']:.2f} | {c['p50_ms_k50']:.2f} | "
                         f"{c['us_per_1k_vectors']:.0f} |")
    if any("fts" in s for s in report["sizes"]):
        lines += ["", "| chunks | FTS5 build s (insert + rebuild) | db MB | FTS5 p50 ms | p95 ms | filtered p50 ms "
                      "| postings build s | postings MB | postings p50 ms | p95 ms | filtered p50 ms | same top 50 "
                      "| rows matched (mean) |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for size in report["sizes"]:
            if "fts" in size:
                f = size["fts"]

                def cell(key, fmt="{:.2f}"):
                    return fmt.format(f[key]) if key in f else "-"
                lines.append(f"| {size['n']:,} | {f['build_s']:.1f} ({f['insert_s']:.1f} + {f['fts_rebuild_s']:.1f}) "
                             f"| {f['db_mb']:.1f} | {f['p50_ms']:.2f} | {f['p95_ms']:.2f} | {cell('filtered_p50_ms')} "
                             f"| {cell('postings_s', '{:.1f}')} | {cell('postings_mb', '{:.1f}')} "
                             f"| {cell('memory_p50_ms')} | {cell('memory_p95_ms')} | {cell('memory_filtered_p50_ms')} "
                             f"| {cell('memory_same_top_as_fts5', '{:.3f}')} | {f['mean_rows_matched']:,} |")
        lines += ["", "BM25 top 50 for 2-3 words, one query at a time: FTS5 is its own bm25() query (unfiltered: FTS5 "
                      f"alone; filtered: within {FILTER_DOCUMENTS} documents, joined to the chunks table); postings "
                      "is retriever.bm25 over postings read from that FTS5 table (what the searcher runs), with "
                      "the share of queries whose top 50 is FTS5's, in order."]
    return "\n".join(lines)


def write_report(report: dict, out: Path) -> None:
    table = markdown(report)
    print("\n" + table + f"\n\ntotal {report['total_s']}s")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    md = out.with_suffix(".md")
    md.write_text(f"# Scale benchmark\n\n`{report['command']}` on {report['started_at']}, "
                  f"{report['machine']['cpus']} CPUs, faiss {report['machine']['faiss']}, "
                  f"total {report['total_s']} s." +
                  (f" FTS5 side re-timed by `{report['fts_command']}` on {report['fts_at']}."
                   if "fts_command" in report else "") + f"\n\n{table}\n", encoding="utf-8")
    print(f"wrote {out} and {md}")


def fts_only(sizes: list[int], args, argv: list[str] | None) -> int:
    """Re-time the FTS5 side at each size and put it into the existing report (the vector side kept)."""
    report = json.loads(args.out.read_text(encoding="utf-8"))
    command = "python -m eval.bench_scale " + shlex.join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        for n in sizes:
            size = next((s for s in report["sizes"] if s["n"] == n), None)
            if size is None:
                size = {"n": n, "dense": {}}
                report["sizes"].append(size)
            size["fts"] = bench_fts(n, Path(tmp), args.seed)
            f = size["fts"]
            print(f"{n:,}: fts5 p50 {f['p50_ms']:.3f} ms, filtered {f['filtered_p50_ms']:.3f} ms", flush=True)
    report["sizes"].sort(key=lambda s: s["n"])
    report["fts_command"] = command
    report["fts_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_report(report, args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated corpus sizes")
    parser.add_argument("--kinds", default="flat,hnsw,ivfpq", help="index types to compare")
    parser.add_argument("--no-fts", action="store_true", help="skip the SQLite FTS5 side")
    parser.add_argument("--fts-only", action="store_true",
                        help="time only the FTS5 side, replacing its figures in the existing --out report")
    parser.add_argument("--crossover-sizes", default="20000,50000,200000",
                        help="extra sizes at which only exact flat search is timed (empty: none)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_scale.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--build-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--query-threads", type=int, default=1,
                        help="FAISS threads while querying (a single query uses one core anyway)")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    kinds = [k for k in args.kinds.split(",") if k]
    if args.fts_only:
        return fts_only(sizes, args, argv)
    started = time.perf_counter()
    report = {"command": "python -m eval.bench_scale " + shlex.join(argv if argv is not None else sys.argv[1:]),
              "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                          "python": platform.python_version(), "faiss": faiss.__version__,
                          "build_threads": args.build_threads, "query_threads": args.query_threads},
              "method": {"dim": DIM, "k": K, "tune_queries": N_TUNE, "eval_queries": N_EVAL,
                         "filtered_queries": N_FILTERED, "filter_share": FILTER_SHARE,
                         "target_recall": TARGET_RECALL, "chooser_exact_below": EXACT_BELOW},
              "sizes": []}
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        for n in sizes:
            report["sizes"].append(bench_size(n, kinds, Path(tmp), not args.no_fts, args.seed,
                                              args.build_threads, args.query_threads))
    faiss.omp_set_num_threads(args.query_threads)
    report["crossover"] = sorted(
        [flat_cost(int(c), args.seed) for c in args.crossover_sizes.split(",") if c] +
        [{"n": size["n"], **{k: size["dense"]["flat"][k] for k in ("p50_ms", "p95_ms", "p50_ms_k50")},
          "us_per_1k_vectors": round(size["dense"]["flat"]["p50_ms_k50"] * 1000 / (size["n"] / 1000), 1)}
         for size in report["sizes"] if "flat" in size["dense"]], key=lambda c: c["n"])
    report["total_s"] = round(time.perf_counter() - started, 1)
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
