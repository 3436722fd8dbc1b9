"""The load test (eval/load_test.py) in a short bounded form: the real API and model, 4 clients for 5 s.

The full run (16 clients for 60 s over var/index) is `make load-test`.
"""
from __future__ import annotations

import json

import pytest

from eval import load_test
from retriever.build import build_index
from retriever.encoder import SentenceTransformerEncoder
from tests.conftest import REPO_ROOT
from tests.pdf_fixtures import first_pages

pytestmark = pytest.mark.model

TELFORD = "telford-wrekin-2018-03-29-cabinet-tackling-cse-together.pdf"


def test_short_load_run_has_no_errors_and_reports_its_figures(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    first_pages(REPO_ROOT / "corpus" / TELFORD, corpus / TELFORD, 4)
    build_index([corpus], tmp_path / "index", SentenceTransformerEncoder())
    out = tmp_path / "load.json"
    code = load_test.main(["--clients", "4", "--duration", "5", "--max-requests", "2000",
                           "--index-dir", str(tmp_path / "index"), "--output", str(out)])
    result = json.loads(out.read_text())
    assert code == 0 and result["errors"] == 0, result["error_samples"]
    assert result["ok"] > 0 and result["throughput_rps"] > 0 and result["index"]["documents"] == 1
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p95"] <= result["latency_ms"]["p99"]
    assert result["server_rss_mib"]["start"] and result["server_rss_mib"]["end"]


def test_the_load_test_refuses_a_remote_url(capsys):
    with pytest.raises(SystemExit):
        load_test.main(["--url", "http://example.org:8000"])
    assert "loopback only" in capsys.readouterr().err


def test_percentiles():
    values = [float(n) for n in range(1, 101)]
    assert [load_test.percentile(values, q) for q in (50, 95, 99)] == [50.0, 95.0, 99.0]
