"""`python -m eval.bench`: ingest and query speed, memory, and the encoder options, measured on this machine.

Measures (issue 8), writing eval/results/bench.json and bench.md and printing the tables:
- ingest of corpus/ into a temporary index, each run in its own process (peak RSS is that process's
  ru_maxrss): cold (empty folder) and warm (nothing changed) for the default encoder, cold for each
  encoder in --encoders; seconds split into model load, parse, chunk, embed and index;
- embedding throughput on the real ingest workload (chunk and answer-window texts read back from the
  index, sampled evenly over their lengths), calls of 256 sorted longest-first like ingest, for the
  plain sentence-transformers baseline and the options (threads, no length bucketing, ONNX Runtime fp32
  and int8), each as a ratio to the baseline measured in the same run, with the cosine agreement of
  the vectors against the baseline's;
- quality: the evaluation harness (recall@5, MRR@10, page accuracy) over an index built with each
  encoder and queries encoded by it, as a delta against torch;
- query: in-process search latency (k=5) over the question set against the question's embedding, timed
  inside each search (the text it embeds) and alone (the bare question, right after);
  over HTTP (uvicorn in a subprocess on a free loopback port): start-up time to /healthz 200 and RSS,
  sequential GET /search, then 8 and 32 concurrent clients;
- arithmetic: the model's useful floating-point work on the ingest workload (from its shape and each
  text's token count), the rate each encoder reaches on it, and the fastest matrix products ONNX Runtime
  runs on this machine at the model's shapes (fp32 and int8): how far embedding is from the machine's
  ceiling, and what the ingest targets would need;
- scale: the latest eval/results/bench_scale.json folded in (re-run with --scale).
Every figure is shown next to its target from the issue with pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
SCALE_JSON = RESULTS_DIR / "bench_scale.json"
EMBED_BATCH = 256  # retriever.build.EMBED_BATCH (asserted at run time)
ALL_ENCODERS = ("torch", "onnx", "onnx-int8")
SAME_VECTORS_COSINE = 0.9999  # onnx against torch, every text of the workload: the same vectors

# Targets from issue 8: (key, description, comparison, threshold, unit)
TARGETS = {
    "ingest_cold_s": ("ingest of the shipped corpus, cold", "<", 30.0, "s"),
    "embed_speedup": ("embedding passages/s vs plain baseline", ">=", 3.0, "x"),
    "recall5_delta": ("recall@5 vs torch", ">=", -0.01, ""),
    "search_over_embed_in_search": ("in-process search p50 / question-embedding p50 (timed in the search)", "<=",
                                    2.0, "x"),
    "search_over_embed": ("in-process search p50 / bare question's embedding p50", "<=", 2.0, "x"),
    "http_p50_ms": ("HTTP /search p50, sequential", "<", 30.0, "ms"),
    "scale_1m_p50_ms": ("1M chunks: vector query p50", "<", 50.0, "ms"),
    "scale_1m_recall": ("1M chunks: recall@10 vs exact", ">=", 0.95, ""),
    "startup_s": ("cold start to /healthz ready", "<", 5.0, "s"),
    "bench_total_s": ("`make bench` run time", "<", 600.0, "s"),
}


# -- pure helpers (unit-tested without a model) ------------------------------------------------
def percentile(values, q: float) -> float | None:
    """Linear-interpolated percentile, q in [0, 1]; None for no values."""
    if not values:
        return None
    ordered = sorted(float(v) for v in values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_stats(ms: list[float]) -> dict:
    """p50/p95/p99/mean/max of latencies in milliseconds, rounded."""
    if not ms:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    return {"n": len(ms), "p50_ms": round(percentile(ms, 0.50), 2), "p95_ms": round(percentile(ms, 0.95), 2),
            "p99_ms": round(percentile(ms, 0.99), 2), "mean_ms": round(sum(ms) / len(ms), 2),
            "max_ms": round(max(ms), 2)}


def check(key: str, value, label: str | None = None) -> dict:
    """One target row: the measured value against the issue's threshold; passed is None when unmeasured."""
    description, op, threshold, unit = TARGETS[key]
    if value is None:
        passed = None
    elif op == "<":
        passed = value < threshold
    elif op == "<=":
        passed = value <= threshold
    elif op == ">=":
        passed = value >= threshold
    elif op == ">":
        passed = value > threshold
    else:
        raise ValueError(op)
    return {"key": key, "target": f"{op} {threshold:g}{unit}", "what": label or description,
            "value": value, "unit": unit, "passed": passed}


def verdict(passed) -> str:
    return "—" if passed is None else ("pass" if passed else "FAIL")


def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub markdown table; align is one char per column ('l' or 'r'), numbers right by default."""
    cells = [[fmt(c) for c in row] for row in rows]
    if align is None:
        align = "".join("r" if rows and isinstance(rows[0][i], (int, float)) and not isinstance(rows[0][i], bool)
                        else "l" for i in range(len(headers)))
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def even_sample(texts: list[str], n: int) -> list[str]:
    """n texts spread evenly over the length distribution (all of them if there are no more than n)."""
    if len(texts) <= n:
        return list(texts)
    ordered = sorted(texts, key=len)
    step = len(ordered) / n
    return [ordered[int(i * step + step / 2)] for i in range(n)]


def encoder_flops(lengths: list[int], hidden: int, layers: int, intermediate: int) -> float:
    """Floating-point operations (2 per multiply-add) a BERT encoder spends on sequences of these token
    lengths: per layer and token, the four attention projections (hidden x hidden) and the two feed-forward
    matrices (hidden x intermediate), plus per sequence the attention scores and their weighted sum
    (length x length x hidden each). Padding, embeddings, layer norms and pooling are left out: this is
    the work no implementation can skip."""
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * intermediate)
    return float(layers * sum(per_token * n + 4 * n * n * hidden for n in lengths))


def ingest_order(texts: list[str], sort: bool = True) -> list[list[int]]:
    """Batches of indices as ingest embeds them: EMBED_BATCH at a time, longest first when sort."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i])) if sort else list(range(len(texts)))
    return [order[s:s + EMBED_BATCH] for s in range(0, len(order), EMBED_BATCH)]


def target_rows(report: dict) -> list[dict]:
    """Every measured figure that the issue sets a target for."""
    rows = []
    for run in report.get("ingest", {}).get("runs", []):
        if run["mode"] == "cold" and "error" not in run:
            rows.append(check("ingest_cold_s", run["wall_s"], f"ingest cold, {run['encoder']} (process wall time)"))
    emb = report.get("embedding", {})
    quality = report.get("quality", {})
    def base_r5(q: dict):
        return (quality.get(q.get("compare_to", "torch")) or {}).get("recall@5")

    for v in emb.get("variants", []):
        if v.get("baseline"):
            continue
        rows.append(check("embed_speedup", v.get("speedup"), f"embedding: {v['label']}"))
    for enc, q in quality.items():
        if not enc.startswith("torch") and q.get("recall@5") is not None and base_r5(q) is not None:
            rows.append(check("recall5_delta", round(q["recall@5"] - base_r5(q), 4),
                              f"recall@5 delta, {enc} vs {q.get('compare_to', 'torch')}"))
    for enc, q in report.get("query", {}).get("in_process", {}).items():
        rows.append(check("search_over_embed_in_search", q.get("search_over_embed_in_search"),
                          f"search p50 / its question embedding p50, {enc}"))
        rows.append(check("search_over_embed", q.get("search_over_embed"),
                          f"search p50 / bare question embedding p50, {enc}"))
    for enc, h in report.get("query", {}).get("http", {}).items():
        if "error" in h:
            continue
        rows.append(check("http_p50_ms", h.get("sequential", {}).get("p50_ms"), f"HTTP /search p50 sequential, {enc}"))
        rows.append(check("startup_s", h.get("startup_s"), f"start to /healthz ready, {enc}"))
    scale = report.get("scale", {})
    if scale.get("at_1m"):
        m = scale["at_1m"]
        rows.append(check("scale_1m_p50_ms", m.get("p50_ms"), f"1M chunks: {m['kind']} vector query p50"))
        rows.append(check("scale_1m_recall", m.get("recall_at_10"), f"1M chunks: {m['kind']} recall@10 vs exact"))
        if m.get("bm25_p50_ms") is not None:
            rows.append(check("scale_1m_p50_ms", round(m["p50_ms"] + m["bm25_p50_ms"], 2),
                              "1M chunks: vector + BM25 from postings (the searcher's) query p50 (sum)"))
        if m.get("fts_p50_ms") is not None:
            rows.append(check("scale_1m_p50_ms", round(m["p50_ms"] + m["fts_p50_ms"], 2),
                              "1M chunks: vector + FTS5 query p50 (sum; a build without postings)"))
    if report.get("total_s") is not None and not report.get("quick") and not report.get("ingest", {}).get("reused_from"):
        rows.append(check("bench_total_s", report["total_s"], "this benchmark's run time"))
    return rows


def scale_summary(scale: dict) -> dict:
    """The bench_scale.json figures the summary shows: per size and index type, and the 1M case."""
    from retriever.vectors import EXACT_BELOW, choose_kind

    rows = []
    for size in scale.get("sizes", []):
        for kind, d in size.get("dense", {}).items():
            rows.append({"n": size["n"], "kind": kind, "chosen": choose_kind(size["n"]) == kind,
                         "build_s": d.get("build_s"), "index_mb": d.get("index_mb"), "p50_ms": d.get("p50_ms"),
                         "p95_ms": d.get("p95_ms"), "recall_at_10": d.get("recall_at_10"),
                         "fts_p50_ms": (size.get("fts") or {}).get("p50_ms"),
                         "bm25_p50_ms": (size.get("fts") or {}).get("memory_p50_ms"),
                         "fts_db_mb": (size.get("fts") or {}).get("db_mb")})
    big = [r for r in rows if r["n"] >= 1_000_000 and r["chosen"]]
    return {"source": str(SCALE_JSON.relative_to(REPO_ROOT)), "command": scale.get("command"),
            "started_at": scale.get("started_at"), "total_s": scale.get("total_s"),
            "exact_below": EXACT_BELOW, "rows": rows, "crossover": scale.get("crossover", []),
            "at_1m": big[0] if big else None}


# -- machine -----------------------------------------------------------------------------------
def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def proc_status(pid: int | str = "self") -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return {"rss_mb": out.get("VmRSS"), "peak_rss_mb": out.get("VmHWM")}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')} load {load_average()[:1]}] {message}", file=sys.stderr, flush=True)


# -- ingest --------------------------------------------------------------------------------------
INGEST_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from pathlib import Path
from retriever.index_model import PackagedModels, ingest
a = json.loads(sys.argv[1])
models = PackagedModels(a["kind"], Path(a["cache"]), a["threads"],
                        teaching_files=tuple(Path(p) for p in a["teaching"]))
imports = time.perf_counter() - t0
load = 0.0
if a["load_first"]:  # the packaged model's load (an adapted model loads within the build)
    t = time.perf_counter(); models.packaged().encode(["warm up"]); load = time.perf_counter() - t
s = ingest([Path(p) for p in a["paths"]], Path(a["root"]), models, adapt=a["adapt"])
print("BENCH_JSON " + json.dumps({"imports_s": imports, "model_load_s": load, "build_s": s.seconds,
      "timings": s.timings, "documents": s.documents, "pages": s.pages, "chunks": s.chunks, "embedded": s.embedded,
      "changed": s.changed, "skipped": len(s.skipped),
      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_ingest(kind: str, root: Path, corpus: Path, cache: Path, threads: int | None, mode: str, adapt: bool,
               models_from: Path | None = None) -> dict:
    """One `onrecord ingest` in a child process. models_from: an index whose adapted models are copied in first,
    so this one reuses the model adapted to the same reports rather than training it again."""
    from retriever.store import MODELS_DIR

    if models_from is not None and (models_from / MODELS_DIR).is_dir() and not (root / MODELS_DIR).exists():
        shutil.copytree(models_from / MODELS_DIR, root / MODELS_DIR)
    from retriever.settings import held_out_question_sets

    # the model taught the held-out sets' answers, as `onrecord ingest` teaches it by default
    args = {"kind": kind, "cache": str(cache), "threads": threads, "paths": [str(corpus)], "root": str(root),
            "load_first": mode == "cold", "adapt": adapt, "teaching": [str(p) for p in held_out_question_sets()]}
    load_before = load_average()
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", INGEST_CHILD, json.dumps(args)], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        return {"encoder": kind, "mode": mode, "error": (proc.stderr or proc.stdout)[-2000:]}
    r = json.loads(line[len("BENCH_JSON "):])
    t = r["timings"]
    texts_embedded = None
    if r["changed"]:
        texts_embedded = workload_count(root)
    return {"encoder": kind, "mode": mode, "wall_s": round(wall, 2), "imports_s": round(r["imports_s"], 2),
            "model_load_s": round(r["model_load_s"], 2), "build_s": round(r["build_s"], 2),
            "parse_s": round(t["parse"], 2), "chunk_s": round(t["chunk"], 2), "adapt_s": round(t["adapt"], 2),
            "adapted_model_reused": models_from is not None, "embed_s": round(t["embed"], 2),
            "index_s": round(t["index"], 2), "documents": r["documents"], "pages": r["pages"], "chunks": r["chunks"],
            "texts_embedded": texts_embedded,
            "pages_per_s": round(r["pages"] / r["build_s"], 1) if r["build_s"] else None,
            "chunks_per_s": round(r["chunks"] / r["build_s"], 1) if r["build_s"] else None,
            "pages_per_s_wall": round(r["pages"] / wall, 1), "chunks_per_s_wall": round(r["chunks"] / wall, 1),
            "embed_passages_per_s": round(texts_embedded / t["embed"], 1) if texts_embedded and t["embed"] else None,
            "peak_rss_mb": round(r["peak_rss_mb"], 1), "load_avg_before": load_before, "load_avg_after": load_average()}


def index_db(root: Path) -> Path:
    from retriever.store import DATABASE_FILE, current_build

    build = current_build(root)
    if build is None:
        raise FileNotFoundError(f"no index at {root}")
    return build / DATABASE_FILE


def workload_texts(root: Path) -> list[str]:
    """The texts ingest embedded for this index: each chunk, then each of its answer windows."""
    from retriever.build import embedding_text

    conn = sqlite3.connect(f"file:{index_db(root)}?mode=ro", uri=True)
    try:
        texts = [embedding_text(text, heading) for heading, text in
                 conn.execute("SELECT heading, text FROM chunks ORDER BY id")]
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'windows'").fetchone():  # older indexes lack it
            texts += [embedding_text(text[start:end], heading) for heading, text, start, end in conn.execute(
                'SELECT c.heading, c.text, w.start, w."end" FROM windows w JOIN chunks c ON c.id = w.chunk_id '
                "ORDER BY w.id")]
    finally:
        conn.close()
    return texts


def workload_count(root: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{index_db(root)}?mode=ro", uri=True)
        n = conn.execute("SELECT (SELECT count(*) FROM chunks) + (SELECT count(*) FROM windows)").fetchone()[0]
        conn.close()
        return n
    except (sqlite3.Error, FileNotFoundError):
        return None


# -- embedding throughput ------------------------------------------------------------------------
def embed_like_ingest(encoder, texts: list[str], sort: bool = True):
    import numpy as np

    parts, order = [], []
    for batch in ingest_order(texts, sort):
        parts.append(encoder.encode([texts[i] for i in batch]))
        order.extend(batch)
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    vectors[order] = np.vstack(parts)
    return vectors


def bench_embedding(texts: list[str], encoders: list[str], cache: Path, rounds: int, quick: bool,
                    options: bool = True) -> dict:
    import torch

    from retriever.encoder import make_encoder

    default_threads = torch.get_num_threads()
    torch_enc = make_encoder("torch")
    variants = [{"label": f"torch (sentence-transformers), default {default_threads} threads", "kind": "torch",
                 "threads": None, "sort": True, "baseline": True}]
    if options and not quick:
        variants.append({"label": "torch, 1 thread", "kind": "torch", "threads": 1, "sort": True})
        if default_threads != 2:
            variants.append({"label": "torch, 2 threads", "kind": "torch", "threads": 2, "sort": True})
        variants.append({"label": "torch, unsorted (no length bucketing)", "kind": "torch", "threads": None,
                         "sort": False})
    for kind in encoders:
        if kind == "torch":
            continue
        variants.append({"label": f"{kind}, default threads", "kind": kind, "threads": None, "sort": True})
        if options and not quick:
            variants.append({"label": f"{kind}, 1 thread", "kind": kind, "threads": 1, "sort": True})
            if kind == "onnx-int8":
                variants.append({"label": f"{kind}, unsorted (no length bucketing)", "kind": kind, "threads": None,
                                 "sort": False, "share": f"{kind}, default threads"})
    instances: dict[str, object] = {}
    for v in variants:
        if v["kind"] == "torch":
            v["encoder"] = torch_enc
        else:
            key = v.get("share") or v["label"]
            if key not in instances:
                instances[key] = make_encoder(v["kind"], cache, v["threads"])
            v["encoder"] = instances[key]
        t = time.perf_counter()
        if v["kind"] == "torch":
            torch.set_num_threads(v["threads"] or default_threads)
        v["encoder"].encode(["warm up", "a second warm-up text, a little longer"])
        v["load_s"] = round(time.perf_counter() - t, 2)
    torch.set_num_threads(default_threads)
    log(f"embedding: {len(variants)} variants x {rounds} rounds over {len(texts)} texts")
    for r in range(rounds):
        for v in variants:
            if v["kind"] == "torch":
                torch.set_num_threads(v["threads"] or default_threads)
            load = load_average()[:1]
            t = time.perf_counter()
            vectors = embed_like_ingest(v["encoder"], texts, v["sort"])
            seconds = time.perf_counter() - t
            v.setdefault("rounds_s", []).append(round(seconds, 3))
            v.setdefault("load_avg", []).extend(load)
            if r == 0:
                v["vectors"] = vectors
            torch.set_num_threads(default_threads)
            log(f"  {v['label']}: {len(texts) / seconds:.1f} passages/s")
    base = variants[0]
    out = []
    for v in variants:
        best = min(v["rounds_s"])
        agreement = (v["vectors"] * base["vectors"]).sum(axis=1)
        out.append({"label": v["label"], "kind": v["kind"], "threads": v["threads"] or (
            default_threads if v["kind"] == "torch" else None), "sorted": v["sort"], "baseline": v.get("baseline", False),
            "seconds_best": round(best, 2), "seconds_rounds": v["rounds_s"], "load_avg_1m": v["load_avg"],
            "passages_per_s": round(len(texts) / best, 1),
            "speedup": round(min(base["rounds_s"]) / best, 2),
            "cosine_vs_torch_mean": round(float(agreement.mean()), 5),
            "cosine_vs_torch_min": round(float(agreement.min()), 5), "warmup_s": v["load_s"]})
    lengths = sorted(len(t) for t in texts)
    return {"texts": len(texts), "batch": EMBED_BATCH, "encoder_batch": getattr(torch_enc, "batch_size", None),
            "rounds": rounds, "chars_p50": percentile(lengths, 0.5), "chars_max": lengths[-1] if lengths else None,
            "torch_default_threads": default_threads, "variants": out,
            "method": "best of the rounds (rounds interleaved across variants, so background load hits all alike)"}


# -- arithmetic ----------------------------------------------------------------------------------
def model_shape(model_path: Path) -> dict:
    config = json.loads((Path(model_path) / "config.json").read_text(encoding="utf-8"))
    return {"hidden": config["hidden_size"], "layers": config["num_hidden_layers"],
            "intermediate": config["intermediate_size"]}


def token_lengths(texts: list[str], tokenizer) -> list[int]:
    """Each text's word pieces as the model reads it (`retriever.onnx_encoder.model_tokenizer`), without the
    padding to 128 its tokenizer.json asks for (padding is not useful work)."""
    tokenizer.no_padding()
    return [len(e.ids) for e in tokenizer.encode_batch(texts)]


def gemm_rates(rows: int, hidden: int, intermediate: int, repeats: int = 30) -> dict:
    """The fastest rate ONNX Runtime multiplies matrices at on this machine, at the model's feed-forward
    shapes (a batch of `rows` tokens by hidden x intermediate, and back): fp32 MatMul and the int8
    MatMulInteger the quantised model runs on, default threads as the encoders use them."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    out = {}
    for label, op, x_type, w_type, out_type in (("fp32_gflops", "MatMul", TensorProto.FLOAT, np.float32,
                                                 TensorProto.FLOAT),
                                                ("int8_gops", "MatMulInteger", TensorProto.UINT8, np.int8,
                                                 TensorProto.INT32)):
        best_rate = 0.0
        for k, n in ((hidden, intermediate), (intermediate, hidden)):
            if w_type is np.float32:
                w, x = rng.standard_normal((k, n), dtype=np.float32), rng.standard_normal((rows, k), dtype=np.float32)
            else:
                w, x = rng.integers(-127, 128, (k, n), dtype=np.int8), rng.integers(0, 256, (rows, k), dtype=np.uint8)
            graph = helper.make_graph([helper.make_node(op, ["x", "w"], ["y"])], "gemm",
                                      [helper.make_tensor_value_info("x", x_type, [rows, k])],
                                      [helper.make_tensor_value_info("y", out_type, [rows, n])],
                                      [numpy_helper.from_array(w, "w")])
            options = ort.SessionOptions()
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
                                           .SerializeToString(), options, providers=["CPUExecutionProvider"])
            session.run(None, {"x": x})
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                session.run(None, {"x": x})
                best = min(best, time.perf_counter() - t)
            best_rate = max(best_rate, 2 * rows * k * n / best / 1e9)
        out[label] = round(best_rate, 1)
    return out


def bench_compute(all_texts: list[str], sample: list[str], embedding: dict, ingest_runs: list[dict]) -> dict:
    """How far embedding is from this machine's arithmetic ceiling, and what the ingest targets would need."""
    from retriever.encoder import packaged_model_path
    from retriever.onnx_encoder import BATCH_TOKENS, model_tokenizer

    model_path = Path(packaged_model_path())
    shape = model_shape(model_path)
    tokenizer = model_tokenizer(model_path)
    workload_lengths = token_lengths(all_texts, tokenizer)
    sample_lengths = token_lengths(sample, tokenizer)
    workload_gflop = encoder_flops(workload_lengths, **shape) / 1e9
    sample_gflop = encoder_flops(sample_lengths, **shape) / 1e9
    gemm = gemm_rates(BATCH_TOKENS, shape["hidden"], shape["intermediate"])
    ceiling = {"torch": gemm["fp32_gflops"], "onnx": gemm["fp32_gflops"], "onnx-int8": gemm["int8_gops"]}
    variants = []
    for v in embedding.get("variants", []):
        rate = sample_gflop / v["seconds_best"]
        variants.append({"label": v["label"], "gflops": round(rate, 1),
                         "share_of_gemm": round(rate / ceiling[v["kind"]], 2)})
    runs = []
    for r in ingest_runs:
        if r.get("mode") == "cold" and r.get("embed_s"):
            rate = workload_gflop / r["embed_s"]
            runs.append({"encoder": r["encoder"], "embed_s": r["embed_s"], "gflops": round(rate, 1),
                         "share_of_gemm": round(rate / ceiling[r["encoder"]], 2)})
    base = next((v for v in embedding.get("variants", []) if v.get("baseline")), None)
    parse_s = min((r["parse_s"] for r in ingest_runs if r.get("mode") == "cold" and r.get("parse_s")), default=None)
    needs = {}
    if base:
        needs["gflops_for_3x_baseline"] = round(3 * sample_gflop / base["seconds_best"], 1)
    if parse_s is not None and parse_s < TARGETS["ingest_cold_s"][2]:
        needs["gflops_for_30s_ingest"] = round(workload_gflop / (TARGETS["ingest_cold_s"][2] - parse_s), 1)
    return {"model": shape, "max_tokens": tokenizer.truncation["max_length"], "workload_texts": len(all_texts),
            "workload_tokens": sum(workload_lengths), "workload_gflop": round(workload_gflop, 1),
            "sample_texts": len(sample), "sample_tokens": sum(sample_lengths), "sample_gflop": round(sample_gflop, 1),
            "gemm": gemm, "gemm_rows": BATCH_TOKENS, "variants": variants, "ingest": runs, "parse_s": parse_s,
            "needs": needs,
            "workload_s_at_gemm_rate": {"fp32": round(workload_gflop / gemm["fp32_gflops"], 1),
                                        "int8": round(workload_gflop / gemm["int8_gops"], 1)},
            "method": "useful work only (no padding, layer norms or pooling); rates over the best round"}


# -- quality and in-process query ----------------------------------------------------------------
def bench_quality_and_query(kind: str, root: Path, cache: Path, threads: int | None, questions, encoder=None) -> tuple:
    from eval.harness import DEPTH, run_questions, summarise
    from retriever.index_model import PackagedModels, encoder_for_index
    from retriever.search import Searcher
    from retriever.store import open_index

    enc = encoder or encoder_for_index(root, PackagedModels(kind, cache, threads))
    enc.encode(["warm up"])
    index = open_index(root, enc.name, enc.dimension)
    timed = TimedEncoder(enc)
    searcher = Searcher(index, timed)
    results = run_questions(questions, lambda q: searcher.search(q, k=DEPTH).to_dict(), index.page_text)
    s = summarise(results)
    quality = {k: (round(s[k], 4) if isinstance(s[k], float) else s[k]) for k in
               ("questions", "answerable", "recall@1", "recall@5", "recall@10", "mrr@10", "page_accuracy",
                "span_accuracy", "abstention", "false_abstention")}
    quality["chunks"] = index.chunk_count
    for q in questions[:3]:
        searcher.search(q.question, k=5)
    search_ms, in_search_ms, embed_ms = [], [], []
    for q in questions:  # interleaved, so background load hits both alike
        timed.calls_ms.clear()
        t = time.perf_counter()
        searcher.search(q.question, k=5)
        search_ms.append((time.perf_counter() - t) * 1000)
        in_search_ms.append(sum(timed.calls_ms))
        t = time.perf_counter()
        enc.encode([q.question])
        embed_ms.append((time.perf_counter() - t) * 1000)
    return quality, query_summary(search_ms, in_search_ms, embed_ms)


class TimedEncoder:
    """The encoder, timing each call: what a search spends embedding its question (the question with the
    long forms of its acronyms, as the search embeds it) against everything else the search does."""

    def __init__(self, encoder):
        self._encoder = encoder
        self.calls_ms: list[float] = []

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def encode(self, texts):
        t = time.perf_counter()
        try:
            return self._encoder.encode(texts)
        finally:
            self.calls_ms.append((time.perf_counter() - t) * 1000)


def query_summary(search_ms: list[float], in_search_ms: list[float], embed_ms: list[float]) -> dict:
    """Search latency against its floor, the question's embedding, two ways: timed inside each search (the
    text the search embeds) and the bare question embedded on its own right after (the stricter floor: a
    question with acronyms is embedded with their long forms, a longer text)."""
    search, in_search, embed = latency_stats(search_ms), latency_stats(in_search_ms), latency_stats(embed_ms)

    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None

    rest = [total - part for total, part in zip(search_ms, in_search_ms)]
    return {"search": search, "embed_in_search": in_search, "embed": embed,
            "search_over_embed_in_search": ratio(search["p50_ms"], in_search["p50_ms"]),
            "search_over_embed": ratio(search["p50_ms"], embed["p50_ms"]),
            "embed_share_of_search": ratio(sum(in_search_ms), sum(search_ms)),
            "rest_p50_ms": latency_stats(rest)["p50_ms"], "load_avg": load_average()}


# -- HTTP --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_requests(base: str, questions: list[str], total: int, concurrency: int) -> dict:
    import httpx

    local = threading.local()

    def one(i: int) -> tuple[float, bool]:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=120)
        t = time.perf_counter()
        try:
            ok = client.get("/search", params={"q": questions[i % len(questions)], "k": 5}).status_code == 200
        except httpx.HTTPError:
            ok = False
        return (time.perf_counter() - t) * 1000, ok

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(total)))
    wall = time.perf_counter() - started
    stats = latency_stats([ms for ms, _ in results])
    stats.update({"concurrency": concurrency, "requests": total, "errors": sum(not ok for _, ok in results),
                  "wall_s": round(wall, 2), "throughput_rps": round(total / wall, 1), "load_avg": load_average()})
    return stats


def bench_http(kind: str, root: Path, corpus: Path, cache: Path, questions: list[str], concurrency: list[int],
               requests: int, workdir: Path) -> dict:
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("ONRECORD_API_KEY", "ONRECORD_AUDIT_LOG")}
    env.update({"ONRECORD_INDEX_DIR": str(root), "ONRECORD_ENCODER": kind, "ONRECORD_MODEL_CACHE_DIR": str(cache),
                "ONRECORD_CORPUS_DIR": str(corpus)})
    logfile = (workdir / f"uvicorn-{kind}.log").open("w")
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], cwd=REPO_ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT)
    out: dict = {"encoder": kind, "port": port}
    try:
        ready = None
        while time.perf_counter() - started < 180:
            if proc.poll() is not None:
                break
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    ready = time.perf_counter() - started
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        if ready is None:
            logfile.flush()
            out["error"] = "server not ready: " + (workdir / f"uvicorn-{kind}.log").read_text()[-1500:]
            return out
        out["startup_s"] = round(ready, 2)
        out["startup_load_avg"] = load_average()
        out["rss_at_ready"] = proc_status(proc.pid)
        with httpx.Client(base_url=base, timeout=120) as client:
            for q in questions[:3]:
                client.get("/search", params={"q": q, "k": 5})
            ms = []
            for q in questions:
                t = time.perf_counter()
                r = client.get("/search", params={"q": q, "k": 5})
                ms.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
        out["sequential"] = {**latency_stats(ms), "throughput_rps": round(len(ms) / (sum(ms) / 1000), 1)}
        log(f"  http {kind}: start {ready:.2f}s, sequential p50 {out['sequential']['p50_ms']} ms")
        for c in concurrency:
            out[f"concurrent_{c}"] = http_requests(base, questions, requests, c)
            log(f"  http {kind}: {c} clients p50 {out[f'concurrent_{c}']['p50_ms']} ms, "
                f"{out[f'concurrent_{c}']['throughput_rps']} req/s")
        out["rss_after"] = proc_status(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logfile.close()
    return out


# -- report --------------------------------------------------------------------------------------
def markdown_report(report: dict) -> str:
    parts = []
    ing = report.get("ingest", {})
    if ing.get("runs"):
        rows = []
        for r in ing["runs"]:
            if "error" in r:
                rows.append([r["encoder"], r["mode"], "error"] + [None] * 13)
                continue
            adapt_s = r.get("adapt_s")
            if adapt_s is not None and r.get("adapted_model_reused"):
                adapt_s = f"{adapt_s} (reused)"
            rows.append([r["encoder"], r["mode"]] + [r.get(k) for k in (
                "wall_s", "build_s", "model_load_s", "parse_s", "chunk_s")] + [adapt_s] + [r.get(k) for k in (
                "embed_s", "index_s", "pages", "chunks", "texts_embedded", "pages_per_s", "chunks_per_s",
                "peak_rss_mb")])
        parts.append("### Ingest of corpus/ (each in its own process)\n\n" + markdown_table(
            ["encoder", "run", "wall s", "build s", "model load s", "parse s", "chunk s", "adapt s", "embed s",
             "index s", "pages", "chunks", "texts embedded", "pages/s", "chunks/s", "peak RSS MB"], rows,
            "ll" + "r" * 14) + "\n\n`wall` is the whole process (imports, model load, build); pages/s and chunks/s "
            "are over `build` (parse+chunk+adapt+embed+index, without imports and model load). `adapt` is training "
            "the model on the reports (the default encoder's cold run; the other encoders reuse its model, copied "
            "in). `texts embedded` = chunks + answer windows."
            + "".join(f"\n\n- {r['encoder']} {r['mode']}: {r['source']}" for r in ing["runs"] if r.get("source")))
    emb = report.get("embedding", {})
    if emb.get("variants"):
        rows = [[v["label"], v.get("passages_per_s"), v.get("speedup"), fmt(v.get("cosine_vs_torch_mean"), 4),
                 fmt(v.get("cosine_vs_torch_min"), 4), v.get("seconds_best")] for v in emb["variants"]]
        parts.append(f"### Embedding throughput ({emb.get('texts')} workload texts, batches of {emb.get('batch')} "
                     f"longest-first like ingest, best of {emb.get('rounds')})\n\n" + markdown_table(
                         ["encoder / option", "passages/s", "x baseline", "cosine vs torch (mean)",
                          "cosine (min)", "seconds"], rows, "lrrrrr"))
    compute = report.get("compute", {})
    if compute.get("gemm"):
        gemm, needs = compute["gemm"], compute.get("needs", {})
        rows = [[f"ONNX Runtime matrix product at the model's shapes ({compute['gemm_rows']} token rows), fp32",
                 gemm["fp32_gflops"], None],
                ["the same, int8 (MatMulInteger; GOP/s)", gemm["int8_gops"], None]]
        rows += [[f"embedding, {v['label']}", v["gflops"], v["share_of_gemm"]] for v in compute["variants"]]
        rows += [[f"cold ingest's embedding, {r['encoder']} ({r['embed_s']} s)", r["gflops"], r["share_of_gemm"]]
                 for r in compute["ingest"]]
        if "gflops_for_3x_baseline" in needs:
            rows.append(["needed for 3x the baseline's passages/s", needs["gflops_for_3x_baseline"], None])
        if "gflops_for_30s_ingest" in needs:
            rows.append([f"needed for a 30 s cold ingest (parse {compute['parse_s']} s)",
                         needs["gflops_for_30s_ingest"], None])
        at = compute["workload_s_at_gemm_rate"]
        m = compute["model"]
        parts.append("### Arithmetic: the model's work against the machine's matrix products\n\n" + markdown_table(
            ["rate", "GFLOP/s", "share of the matrix-product rate"], rows, "lrr") +
            f"\n\nThe model ({m['layers']} layers, hidden {m['hidden']}, feed-forward {m['intermediate']}) does "
            f"{compute['workload_gflop']:,} GFLOP of useful work on the ingest workload ({compute['workload_texts']:,} "
            f"texts, {compute['workload_tokens']:,} word pieces, at most {compute['max_tokens']} each) and "
            f"{compute['sample_gflop']:,} GFLOP on the throughput sample; padding, layer norms and pooling are not "
            f"counted. At the matrix-product rates above the workload alone takes {at['fp32']} s in fp32 and "
            f"{at['int8']} s in int8.")
    quality = report.get("quality", {})
    if quality:
        rows = []
        for enc, q in quality.items():
            base = quality.get(q.get("compare_to", "torch"), {})
            d = (q["recall@5"] - base["recall@5"]) if base.get("recall@5") is not None and q.get("recall@5") is not None else None
            label = enc if not q.get("same_vectors_as") else f"{enc} (= {q['same_vectors_as']}: the same vectors)"
            rows.append([label] + [fmt(x, 3) for x in (q.get("recall@5"), d, q.get("mrr@10"), q.get("page_accuracy"),
                                                      q.get("recall@10"))] + [q.get("chunks"), q.get("windows"),
                                                                              q.get("compare_to", "torch")])
        parts.append("### Quality, index built and queried with each encoder (eval harness, "
                     f"{next(iter(quality.values())).get('answerable')} answerable questions)\n\n" + markdown_table(
                         ["encoder / index", "recall@5", "Δ recall@5", "MRR@10", "page accuracy", "recall@10",
                          "chunks", "windows", "compared with"], rows, "lrrrrrrrl"))
    query = report.get("query", {})
    if query.get("in_process"):
        rows = [[enc, q.get("search", {}).get("p50_ms"), q.get("search", {}).get("p95_ms"),
                 q.get("search", {}).get("p99_ms"), q.get("embed_in_search", {}).get("p50_ms"),
                 q.get("search_over_embed_in_search"), q.get("embed", {}).get("p50_ms"), q.get("search_over_embed"),
                 q.get("rest_p50_ms")] for enc, q in query["in_process"].items()]
        parts.append("### In-process search (k=5, question set)\n\n" + markdown_table(
            ["encoder", "search p50 ms", "p95 ms", "p99 ms", "its question embedding p50 ms", "search / it",
             "bare question embedding p50 ms", "search / it", "rest p50 ms"], rows, "lrrrrrrrr"))
    if query.get("http"):
        rows = []
        for enc, h in query["http"].items():
            if "error" in h:
                rows.append([enc, "error: " + h["error"][:80]] + [None] * 7)
                continue
            rows.append([enc, "start-up", h.get("startup_s", 0) * 1000, None, None, None, None,
                         (h.get("rss_at_ready") or {}).get("rss_mb"), None])
            for key in ["sequential"] + sorted((k for k in h if k.startswith("concurrent_")),
                                               key=lambda k: int(k.split("_")[1])):
                s = h[key]
                label = "sequential" if key == "sequential" else f"{s['concurrency']} clients"
                rows.append([enc, label] + [s.get(k) for k in ("p50_ms", "p95_ms", "p99_ms", "throughput_rps")]
                            + [s.get("errors", 0), (h.get("rss_after") or {}).get("rss_mb") if key == "sequential"
                               else None, s.get("n")])
        parts.append("### HTTP (uvicorn subprocess, GET /search k=5)\n\n" + markdown_table(
            ["encoder", "run", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors", "RSS MB", "requests"], rows,
            "llrrrrrrr") + "\n\nStart-up row: ms from process start to the first /healthz 200, RSS then.")
    scale = report.get("scale", {})
    if scale.get("rows"):
        rows = [[r["n"], r["kind"] + (" (chosen)" if r["chosen"] else ""), r["build_s"], r["index_mb"], r["p50_ms"],
                 r["p95_ms"], r["recall_at_10"], r["fts_p50_ms"], r.get("bm25_p50_ms")] for r in scale["rows"]]
        parts.append(f"### Scale (from {scale['source']}, {scale.get('started_at')}; re-run with --scale)\n\n"
                     + markdown_table(["chunks", "index", "build s", "index MB", "p50 ms", "p95 ms", "recall@10",
                                       "FTS5 p50 ms", "BM25 postings p50 ms"], rows, "rlrrrrrrr")
                     + f"\n\nExact below {scale['exact_below']:,} vectors, HNSW from there (retriever.vectors).")
    if report.get("notes"):
        parts.append("### Notes\n\n" + "\n".join(f"- {n}" for n in report["notes"]))
    targets = report.get("targets", [])
    if targets:
        rows = [[t["what"], t["target"], f"{fmt(t['value'], 3 if t['value'] is not None and abs(t['value']) < 10 else 2)}{t['unit']}", verdict(t["passed"])] for t in targets]
        parts.append("### Targets (issue 8)\n\n" + markdown_table(["measure", "target", "measured", ""], rows, "llrl"))
    return "\n\n".join(parts)


def fastest_within(report: dict, tolerance: float = 0.01) -> dict | None:
    """The fastest encoder (default threads) whose recall@5 is within tolerance of torch's."""
    quality = report.get("quality", {})
    best = None
    for v in report.get("embedding", {}).get("variants", []):
        entry = quality.get(v["kind"], {})
        q = entry.get("recall@5")
        base = (quality.get(entry.get("compare_to", "torch")) or {}).get("recall@5")
        if base is None or q is None or q < base - tolerance or not v["sorted"]:
            continue
        if best is None or v["passages_per_s"] > best["passages_per_s"]:
            best = {"encoder": v["kind"], "label": v["label"], "passages_per_s": v["passages_per_s"],
                    "compared_with": entry.get("compare_to", "torch"),
                    "speedup": v["speedup"], "recall@5": q, "recall@5_delta": round(q - base, 4)}
    return best


# -- main --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    # A `kill` (SIGTERM) ends the bench the way Ctrl-C does, so its ingest and server children are stopped
    # too: left running, an orphaned ingest took one of the two cores from the next run.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version: few texts and questions, one "
                                                             "encoder besides torch, no 32 clients")
    parser.add_argument("--encoders", default=None, help="comma-separated, from torch,onnx,onnx-int8 "
                                                         "(default: all; --quick: torch,onnx-int8)")
    parser.add_argument("--skip-ingest", action="store_true", help="use the index at ONRECORD_INDEX_DIR instead "
                                                                   "(quality/query only for the default encoder)")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--scale", action="store_true", help="re-run eval.bench_scale (default sizes) first")
    parser.add_argument("--texts", type=int, default=None, help="workload texts for throughput (400; quick 120)")
    parser.add_argument("--rounds", type=int, default=None, help="throughput rounds, best of them kept (3; quick 1): "
                        "the torch baseline alone swung from 40 to 55 passages/s between single-round runs")
    parser.add_argument("--ingest-torch", action="store_true", help="also build an index with torch, even when "
                        "the default encoder is fp32 onnx (whose vectors the throughput stage shows are torch's)")
    parser.add_argument("--reuse", action="store_true", help="with --workdir: ingest only the encoders whose "
                        "index is not there yet")
    parser.add_argument("--no-options", action="store_true", help="throughput: only each encoder at default "
                        "threads, longest-first (no thread or bucketing variants)")
    parser.add_argument("--requests", type=int, default=None, help="requests per concurrency level (200; quick 40)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench.json")
    parser.add_argument("--workdir", type=Path, help="keep the indexes here (default: a temporary folder); with "
                        "--skip-ingest, reuse the indexes and ingest figures a previous run left there")
    parser.add_argument("--render-only", action="store_true", help="re-write the tables from --out's JSON")
    args = parser.parse_args(argv)
    if args.render_only:
        return write_outputs(json.loads(args.out.read_text(encoding="utf-8")), args.out)

    from eval.questions import DEFAULT_QUESTIONS, load_questions
    from retriever import build as build_module
    from retriever.settings import Settings

    assert build_module.EMBED_BATCH == EMBED_BATCH, "ingest's batch size changed: update eval/bench.py"
    started = time.perf_counter()
    settings = Settings()
    default = settings.encoder
    encoders = [e.strip() for e in (args.encoders or ("torch,onnx-int8" if args.quick else ",".join(ALL_ENCODERS)))
                .split(",") if e.strip()]
    unknown = [e for e in encoders if e not in ALL_ENCODERS]
    if unknown:
        parser.error(f"unknown encoder {unknown}; choose from {', '.join(ALL_ENCODERS)}")
    if "torch" not in encoders:
        encoders.insert(0, "torch")  # the baseline every ratio is against
    if default not in encoders:
        encoders.insert(0, default)
    n_texts = args.texts or (120 if args.quick else 400)
    rounds = args.rounds or (1 if args.quick else 3)
    requests = args.requests or (40 if args.quick else 200)
    concurrency = [8] if args.quick else [8, 32]
    questions = load_questions(DEFAULT_QUESTIONS)
    if args.quick:
        questions = questions[:20]
    corpus = settings.corpus_dir
    cache = settings.model_cache_dir
    threads = settings.encoder_threads
    adapt = settings.adapt_model

    report: dict = {
        "command": "python -m eval.bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "load_avg_start": load_average(),
                    "note": "shared machine: other jobs run beside the benchmark; see load_avg fields"},
        "default_encoder": default, "encoders": encoders, "encoder_threads": threads,
        "corpus": str(corpus), "questions": len(questions)}

    if args.scale:
        from eval import bench_scale

        log("running eval.bench_scale (default sizes)")
        bench_scale.main([])
    if SCALE_JSON.is_file():
        report["scale"] = scale_summary(json.loads(SCALE_JSON.read_text(encoding="utf-8")))

    with tempfile.TemporaryDirectory(prefix="onrecord_bench_") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        roots: dict[str, Path] = {}
        ingest_file = workdir / "ingest.json"
        previous = json.loads(ingest_file.read_text()) if args.workdir and ingest_file.is_file() else {"runs": []}
        if args.skip_ingest and not args.workdir:
            roots[default] = settings.index_dir
        else:
            runs = list(previous.get("runs", []))
            # The default encoder first: its cold run adapts the model (as `onrecord ingest` does), and the
            # others reuse that model (copied in) rather than train it again; its warm run follows it.
            # fp32 onnx computes torch's vectors (checked below): one cold ingest stands for both; torch is
            # ingested after all if the vectors differ.
            skip_torch = default == "onnx" and not args.ingest_torch
            order = [default] + [k for k in encoders if k != default and not (k == "torch" and skip_torch)]
            for kind in order:
                root = workdir / f"index-{kind}"
                if args.workdir and (root / "current").exists() and (args.skip_ingest or args.reuse):
                    roots[kind] = root  # kept from an earlier run: its figures (if any) are in ingest.json
                    continue
                if args.skip_ingest:
                    continue
                log(f"ingest cold, {kind}")
                runs = [r for r in runs if r["encoder"] != kind]
                runs.append(run_ingest(kind, root, corpus, cache, threads, "cold", adapt,
                                       None if kind == default else roots.get(default)))
                log(f"  -> {json.dumps(runs[-1])}")
                if "error" not in runs[-1]:
                    roots[kind] = root
                if kind == default and kind in roots:
                    log(f"ingest warm, {kind}")
                    runs.append(run_ingest(kind, root, corpus, cache, threads, "warm", adapt))
                    log(f"  -> {json.dumps(runs[-1])}")
                ingest_file.write_text(json.dumps({**previous, "runs": runs}, indent=2))
            report["ingest"] = {**previous, "runs": runs,
                                "note": "onnx model files are exported once into the model cache "
                                        f"({cache}); their export is not part of these runs"}
            if previous.get("runs"):
                report["ingest"]["reused_from"] = str(ingest_file)

        texts = workload_texts(roots[default] if default in roots else next(iter(roots.values())))
        report["workload"] = {"texts_total": len(texts), "sampled": min(n_texts, len(texts))}
        sample = even_sample(texts, n_texts)
        report["embedding"] = bench_embedding(sample, encoders, cache, rounds, args.quick,
                                              not args.no_options)
        log("arithmetic: the workload's floating-point work and ONNX Runtime's matrix products")
        report["compute"] = bench_compute(texts, sample, report["embedding"], report.get("ingest", {}).get("runs", []))
        if "torch" in encoders and "torch" not in roots and not args.skip_ingest and "onnx" in roots:
            onnx_row = next((v for v in report["embedding"]["variants"] if v["kind"] == "onnx"), None)
            if onnx_row is None or onnx_row["cosine_vs_torch_min"] < SAME_VECTORS_COSINE:
                log("onnx vectors differ from torch's: ingest cold, torch")
                root = workdir / "index-torch"
                report["ingest"]["runs"].append(run_ingest("torch", root, corpus, cache, threads, "cold", adapt,
                                                           roots.get(default)))
                if "error" not in report["ingest"]["runs"][-1]:
                    roots["torch"] = root

        report["quality"], in_process = {}, {}
        for kind in encoders:
            if kind == "torch" and kind not in roots and "onnx" in roots and not args.skip_ingest:
                report["quality"]["torch"] = {"same_vectors_as": "onnx"}  # filled in from onnx's below
                continue
            if kind not in roots:
                continue
            log(f"quality and in-process query, {kind}")
            try:
                report["quality"][kind], in_process[kind] = bench_quality_and_query(kind, roots[kind], cache, threads,
                                                                                      questions)
            except Exception as exc:  # keep the other measurements
                log(f"  failed: {exc!r}")
                report.setdefault("errors", []).append(f"quality/query {kind}: {exc!r}")
                continue
            log(f"  recall@5 {report['quality'][kind]['recall@5']}, search p50 {in_process[kind]['search']['p50_ms']}"
                f" ms, embed p50 {in_process[kind]['embed']['p50_ms']} ms")
        if report["quality"].get("torch", {}).get("same_vectors_as") and "onnx" in report["quality"]:
            report["quality"]["torch"] = {**report["quality"]["onnx"], "same_vectors_as": "onnx"}
        report["query"] = {"in_process": in_process, "http": {}}

        if not args.skip_http:
            # Over HTTP the encoder only changes the question's embedding: the default and int8 show the range.
            http_kinds = [k for k in ([default] if args.quick else [default, "onnx-int8"]) if k in roots and k in encoders]
            for kind in http_kinds:
                log(f"http, {kind}")
                try:
                    report["query"]["http"][kind] = bench_http(kind, roots[kind], corpus, cache,
                                                               [q.question for q in questions], concurrency, requests,
                                                               workdir)
                except Exception as exc:
                    log(f"  failed: {exc!r}")
                    report["query"]["http"][kind] = {"error": repr(exc)}

    report["machine"]["load_avg_end"] = load_average()
    report["total_s"] = round(time.perf_counter() - started, 1)
    return write_outputs(report, args.out)


def write_outputs(report: dict, out: Path) -> int:
    report["targets"] = target_rows(report)
    report["fastest_within_0.01_recall@5"] = fastest_within(report)
    md = markdown_report(report)
    fastest = report["fastest_within_0.01_recall@5"]
    summary = (f"`{report['command']}` on {report['started_at']}, {report['machine']['cpus']} CPUs, load average "
               f"{report['machine']['load_avg_start']} at start and {report['machine']['load_avg_end']} at end; "
               f"total {report['total_s']} s.")
    if fastest:
        summary += (f"\n\nFastest encoder with recall@5 within 0.01 of torch: **{fastest['encoder']}** "
                    f"({fastest['passages_per_s']} passages/s, {fastest['speedup']}x the baseline, "
                    f"recall@5 Δ {fastest['recall@5_delta']:+.4f}).")
    print("\n" + summary + "\n\n" + md)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    md_path = out.with_suffix(".md")
    md_path.write_text(f"# Benchmark\n\n{summary}\n\n{md}\n", encoding="utf-8")
    print(f"\nwrote {out} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
