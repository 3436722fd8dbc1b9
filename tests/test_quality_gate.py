"""The quality gate: the fixed question set, the shipped corpus, the real model, the default search.

Floors sit just under the figures measured when they were set (README, "Measured"), so a change
that makes answers worse fails CI. Same corpus, same model, same questions: the run is deterministic.
"""
from __future__ import annotations

import pytest

from eval.harness import DEPTH, run_questions, summarise
from eval.questions import DEFAULT_QUESTIONS, load_questions
from retriever.build import build_index
from retriever.encoder import make_encoder
from retriever.search import Searcher
from retriever.settings import Settings
from retriever.store import open_index
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.model

# Measured 2026-11-28 (python -m eval, default): recall@5 0.859, MRR@10 0.643, page 1.000,
# span 0.836, abstention 0.800, false abstention 0.000.
FLOORS = {
    "recall@5": 0.83,
    "mrr@10": 0.62,
    "page_accuracy": 0.97,
    "span_accuracy": 0.80,
    "abstention": 0.7,
}
CEILINGS = {"false_abstention": 0.05}


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    defaults = Settings.model_fields
    cache = tmp_path_factory.mktemp("models")
    encoder = make_encoder(defaults["encoder"].default, cache)
    root = tmp_path_factory.mktemp("index")
    build_index([REPO_ROOT / "corpus"], root, encoder)
    index = open_index(root, encoder.name, encoder.dimension)
    searcher = Searcher(index, encoder)
    results = run_questions(load_questions(DEFAULT_QUESTIONS), lambda q: searcher.search(q, k=DEPTH).to_dict(),
                            index.page_text)
    return summarise(results)


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_metric_stays_above_its_floor(summary, metric):
    assert summary[metric] >= FLOORS[metric], f"{metric} fell to {summary[metric]:.3f} (floor {FLOORS[metric]})"


@pytest.mark.parametrize("metric", sorted(CEILINGS))
def test_metric_stays_below_its_ceiling(summary, metric):
    assert summary[metric] <= CEILINGS[metric], f"{metric} rose to {summary[metric]:.3f} (ceiling {CEILINGS[metric]})"
