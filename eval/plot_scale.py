"""`python -m eval.plot_scale`: query latency and index memory against corpus size, from bench_scale.json."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def plot(report: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s["n"] for s in report["sizes"]]
    fig, (latency, memory) = plt.subplots(1, 2, figsize=(10, 4))
    for kind in ("flat", "hnsw", "ivfpq"):
        rows = [(s["n"], s["dense"][kind]) for s in report["sizes"] if kind in s.get("dense", {})]
        if rows:
            latency.plot([n for n, _ in rows], [r["p50_ms"] for _, r in rows], marker="o", label=f"{kind} p50")
            memory.plot([n for n, _ in rows], [r["index_mb"] for _, r in rows], marker="o", label=kind)
    fts = [(s["n"], s["fts"]) for s in report["sizes"] if s.get("fts")]
    if fts:
        latency.plot([n for n, _ in fts], [f["p50_ms"] for _, f in fts], marker="s", linestyle="--", label="FTS5 p50")
        memory.plot([n for n, _ in fts], [f.get("db_mb", 0) for _, f in fts], marker="s", linestyle="--",
                    label="FTS5 database")
    postings = [(n, f) for n, f in fts if "memory_p50_ms" in f]
    if postings:
        latency.plot([n for n, _ in postings], [f["memory_p50_ms"] for _, f in postings], marker="^", linestyle=":",
                     label="BM25 postings p50")
        memory.plot([n for n, _ in postings], [f["postings_mb"] for _, f in postings], marker="^", linestyle=":",
                    label="BM25 postings")
    for axis, label in ((latency, "query latency, ms (one query, one thread)"), (memory, "size, MB")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("chunks")
        axis.set_ylabel(label)
        axis.set_xticks(sizes)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    fig.suptitle("OnRecord at scale (synthetic corpora, eval/bench_scale.py)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.plot_scale", description=__doc__)
    parser.add_argument("--input", type=Path, default=RESULTS / "bench_scale.json")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_scale.png")
    args = parser.parse_args(argv)
    print(f"wrote {plot(json.loads(args.input.read_text()), args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
