"""eval.bench's pure helpers: percentiles, target checks, tables, sampling. No model, no index."""
from __future__ import annotations

import time

import pytest

from eval import bench


def test_percentile_interpolates_and_handles_edges():
    assert bench.percentile([], 0.5) is None
    assert bench.percentile([7.0], 0.99) == 7.0
    assert bench.percentile([1, 2, 3, 4], 0.5) == pytest.approx(2.5)
    assert bench.percentile(list(range(101)), 0.95) == pytest.approx(95.0)
    assert bench.percentile([5, 1, 3], 0.0) == 1 and bench.percentile([5, 1, 3], 1.0) == 5


def test_latency_stats():
    stats = bench.latency_stats([float(x) for x in range(1, 101)])
    assert stats["n"] == 100
    assert stats["p50_ms"] == pytest.approx(50.5)
    assert stats["p99_ms"] == pytest.approx(99.01)
    assert stats["max_ms"] == 100
    assert bench.latency_stats([])["p50_ms"] is None


@pytest.mark.parametrize("key,value,passed", [
    ("ingest_cold_s", 29.9, True), ("ingest_cold_s", 30.0, False),
    ("embed_speedup", 3.0, True), ("embed_speedup", 2.9, False),
    ("recall5_delta", -0.01, True), ("recall5_delta", -0.0114, False), ("recall5_delta", 0.02, True),
    ("search_over_embed", 2.0, True), ("search_over_embed", 2.01, False),
    ("search_over_embed_in_search", 1.9, True), ("search_over_embed_in_search", 2.3, False),
    ("http_p50_ms", 12.0, True), ("startup_s", 5.5, False),
    ("scale_1m_recall", 0.962, True), ("scale_1m_p50_ms", 77.0, False),
    ("ingest_cold_s", None, None),
])
def test_check_against_targets(key, value, passed):
    row = bench.check(key, value)
    assert row["passed"] is passed
    assert row["target"].startswith(("<", ">"))
    assert bench.verdict(passed) in ("pass", "FAIL", "—")


def test_markdown_table_formats_numbers_and_alignment():
    table = bench.markdown_table(["name", "n", "ms"], [["a", 1234, 1.5], ["b", None, 2500.0]])
    lines = table.splitlines()
    assert lines[0] == "| name | n | ms |"
    assert lines[1] == "|---|---:|---:|"
    assert lines[2] == "| a | 1,234 | 1.50 |"
    assert lines[3] == "| b | — | 2,500 |"


def test_even_sample_keeps_length_mix():
    texts = ["x" * n for n in range(1, 1001)]
    sample = bench.even_sample(texts, 100)
    assert len(sample) == 100
    lengths = sorted(map(len, sample))
    assert lengths[0] < 20 and lengths[-1] > 980
    assert bench.even_sample(texts[:10], 100) == texts[:10]


def test_ingest_order_is_longest_first_in_calls_of_ingests_size():
    texts = ["x" * (i % 97) for i in range(600)]
    batches = bench.ingest_order(texts)
    assert [len(b) for b in batches] == [256, 256, 88]
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(600))
    assert [len(texts[i]) for i in flat] == sorted(map(len, texts), reverse=True)
    assert bench.ingest_order(texts, sort=False)[0] == list(range(256))


def test_query_summary_sets_the_search_against_both_embedding_floors():
    # three searches of 10, 12, 20 ms that spent 5, 6, 8 ms embedding; the bare questions took 4, 4, 5 ms
    summary = bench.query_summary([10.0, 12.0, 20.0], [5.0, 6.0, 8.0], [4.0, 4.0, 5.0])
    assert summary["search"]["p50_ms"] == 12.0
    assert summary["embed_in_search"]["p50_ms"] == 6.0 and summary["embed"]["p50_ms"] == 4.0
    assert summary["search_over_embed_in_search"] == 2.0
    assert summary["search_over_embed"] == 3.0
    assert summary["rest_p50_ms"] == 6.0  # 5, 6, 12
    assert summary["embed_share_of_search"] == round(19 / 42, 2)
    assert bench.query_summary([], [], [])["search_over_embed"] is None


def test_timed_encoder_times_each_call_and_passes_the_rest_through():
    class Slow:
        name, dimension = "slow", 3

        def encode(self, texts):
            time.sleep(0.01)
            return [[1.0, 0.0, 0.0] for _ in texts]

    timed = bench.TimedEncoder(Slow())
    assert timed.encode(["a", "b"]) == [[1.0, 0.0, 0.0]] * 2
    assert (timed.name, timed.dimension) == ("slow", 3)
    assert len(timed.calls_ms) == 1 and timed.calls_ms[0] >= 10


def test_target_rows_and_fastest_encoder_from_a_report():
    report = {
        "default_encoder": "torch", "total_s": 500.0,
        "ingest": {"runs": [{"encoder": "torch", "mode": "cold", "wall_s": 40.0},
                            {"encoder": "torch", "mode": "warm", "wall_s": 3.0}]},
        "embedding": {"variants": [
            {"label": "torch", "kind": "torch", "baseline": True, "sorted": True, "passages_per_s": 50.0, "speedup": 1.0},
            {"label": "onnx", "kind": "onnx", "sorted": True, "passages_per_s": 100.0, "speedup": 2.0},
            {"label": "int8", "kind": "onnx-int8", "sorted": True, "passages_per_s": 180.0, "speedup": 3.6}]},
        "quality": {"torch": {"recall@5": 0.80}, "onnx": {"recall@5": 0.80}, "onnx-int8": {"recall@5": 0.785}},
        "query": {"in_process": {"torch": {"search_over_embed": 1.4}},
                  "http": {"torch": {"startup_s": 6.0, "sequential": {"p50_ms": 20.0}}}},
        "scale": {"at_1m": {"kind": "hnsw", "p50_ms": 0.7, "recall_at_10": 0.96, "fts_p50_ms": 76.0,
                             "bm25_p50_ms": 3.0}},
    }
    rows = bench.target_rows(report)
    by_what = {r["what"]: r["passed"] for r in rows}
    assert by_what["ingest cold, torch (process wall time)"] is False
    assert by_what["embedding: int8"] is True and by_what["embedding: onnx"] is False
    assert by_what["recall@5 delta, onnx-int8 vs torch"] is False  # 0.015 below torch
    assert by_what["start to /healthz ready, torch"] is False
    assert by_what["1M chunks: vector + FTS5 query p50 (sum; a build without postings)"] is False
    assert by_what["1M chunks: vector + BM25 from postings (the searcher's) query p50 (sum)"] is True
    assert by_what["this benchmark's run time"] is True
    fastest = bench.fastest_within(report)
    assert fastest["encoder"] == "onnx"  # int8 is faster but loses 0.015 recall@5
    assert "FAIL" in bench.markdown_report({**report, "targets": rows})


def test_a_quality_row_standing_for_another_encoder_says_so():
    report = {"quality": {"torch": {"recall@5": 0.78, "answerable": 78, "same_vectors_as": "onnx"},
                          "onnx": {"recall@5": 0.78, "answerable": 78}}}
    md = bench.markdown_report({**report, "targets": []})
    assert "torch (= onnx: the same vectors)" in md


def test_scale_bench_can_re_time_the_lexical_side_alone(tmp_path):
    import json

    from eval import bench_scale

    out = tmp_path / "scale.json"
    shipped = json.loads((bench_scale.RESULTS_DIR / "bench_scale.json").read_text())
    dense = shipped["sizes"][0]["dense"]  # a real report's vector side, standing in at 400 chunks
    out.write_text(json.dumps({**shipped, "sizes": [{"n": 400, "dense": dense}]}))
    assert bench_scale.main(["--fts-only", "--sizes", "400", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    size, = report["sizes"]
    assert size["dense"] == dense  # the vector side is kept as it was
    assert size["fts"]["p50_ms"] > 0 and size["fts"]["filtered_p50_ms"] > 0 and size["fts"]["mean_rows_matched"] > 0
    assert "--fts-only" in report["fts_command"]
    assert size["fts"]["memory_p50_ms"] > 0 and size["fts"]["postings_mb"] > 0
    assert size["fts"]["memory_same_top_as_fts5"] == 1.0  # the postings rank as FTS5 does, ties included
    assert "filtered p50 ms" in out.with_suffix(".md").read_text()


def test_the_incremental_benchmark_extends_and_replaces_and_checks_against_a_build_anew(tmp_path):
    import json

    from eval import bench_incremental

    out = tmp_path / "incremental.json"
    assert bench_incremental.main(["--chunks", "400", "--add", "30", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["postings"]["same_arrays"] is True
    assert report["chunk_vectors"]["vectors"] == 430 and report["chunk_vectors"]["extended_kind"] == "flat"
    assert report["window_vectors"]["vectors"] == round(400 * 4.3) + round(30 * 4.3)
    # the replacement: postings equal a whole read, the flat indexes lose the old vectors and find as exact does
    assert report["postings"]["replaced_same_arrays"] is True
    for name in ("chunk_vectors", "window_vectors"):
        assert report[name]["replaced_kind"] == "flat" and report[name]["replaced_recall_at_10"] == 1.0
        assert report[name]["replaced_returns_removed"] is False


def test_encoder_flops_counts_projections_feed_forward_and_attention():
    # hidden 2, feed-forward 4, one layer: per token 2 x (4·2·2 + 2·2·4) = 64 FLOP, per sequence of n
    # tokens 4·n²·2 more for the attention scores and their weighted sum
    assert bench.encoder_flops([1, 2], hidden=2, layers=1, intermediate=4) == (64 + 8) + (128 + 32)
    assert bench.encoder_flops([1, 2], hidden=2, layers=3, intermediate=4) == 3 * 232
    assert bench.encoder_flops([], hidden=384, layers=6, intermediate=1536) == 0


def test_the_arithmetic_section_sets_each_rate_against_the_matrix_products():
    compute = {"model": {"hidden": 384, "layers": 6, "intermediate": 1536}, "max_tokens": 256,
               "workload_texts": 10, "workload_tokens": 1000, "workload_gflop": 21.2, "sample_gflop": 5.0,
               "gemm": {"fp32_gflops": 160.0, "int8_gops": 320.0}, "gemm_rows": 2048,
               "variants": [{"label": "onnx, default threads", "gflops": 96.0, "share_of_gemm": 0.6}],
               "ingest": [{"encoder": "onnx", "embed_s": 0.2, "gflops": 106.0, "share_of_gemm": 0.66}],
               "parse_s": 10.0, "needs": {"gflops_for_3x_baseline": 204.0, "gflops_for_30s_ingest": 1.06},
               "workload_s_at_gemm_rate": {"fp32": 0.13, "int8": 0.07}}
    md = bench.markdown_report({"compute": compute})
    assert "### Arithmetic" in md
    assert "| embedding, onnx, default threads | 96.00 | 0.60 |" in md
    assert "needed for 3x the baseline's passages/s | 204.00" in md
    assert "0.13 s in fp32 and 0.07 s in int8" in md


def test_token_lengths_count_word_pieces_without_the_tokenizers_padding():
    from retriever.encoder import packaged_model_path
    from retriever.onnx_encoder import model_tokenizer

    short, long = bench.token_lengths(["what is a MASH?", "word " * 400], model_tokenizer(packaged_model_path()))
    assert 5 <= short < 20  # the packaged tokenizer.json pads to 128: not counted
    assert long == 256  # cut where the model stops reading


def test_gemm_rates_are_measured_for_both_precisions():
    rates = bench.gemm_rates(64, 8, 16, repeats=2)
    assert set(rates) == {"fp32_gflops", "int8_gops"}
    assert all(r > 0 for r in rates.values())
