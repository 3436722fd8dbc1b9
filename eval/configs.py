"""The search configurations the harness compares, as changes to the default SearchConfig.

The first three answer "which side finds what"; the rest are ablations: the default with one
component switched off, so each component's contribution shows as a difference in one table.
"""
from __future__ import annotations

DEFAULT = "default (hybrid)"

CONFIGS: dict[str, dict] = {
    "lexical (BM25)": {"mode": "lexical"},
    "dense": {"mode": "dense"},
    "hybrid, rank fusion (RRF)": {"fusion": "rrf"},
    DEFAULT: {},
    "- answer windows": {"window_weight": 0.0},
    "- term weighting": {"term_weight": 0.0},
    "- acronym expansion": {"expand_acronyms": False},
    "- council/decision boosts": {"council_boost": 0.0, "decision_boost": 0.0, "council_first": False,
                                   "linear_decision_bonus": 0.0},
    "- phrase proximity": {"phrase_weight": 0.0},
    "- definition bonus": {"linear_definition_bonus": 0.0},
    "- acronym introduction bonus": {"linear_introduction_bonus": 0.0},
    "- answer type bonus": {"linear_answer_type_bonus": 0.0},
    "- decision headings": {"decision_headings": False},
    "- council as passage context": {"council_in_passages": False},
    "- coverage in one passage": {"coverage_in_one_passage": False},
    "- typed coverage": {"typed_coverage": False},
    "- question form": {"question_form": False},
    "- window answer spans": {"sentence_embeddings": False},
    "- abstention model (sum of signals)": {"abstention": "sum"},
    # no question here has a slip: this row shows the correction costs them nothing (python -m eval.typos
    # measures what it gives questions that have one)
    "- spelling correction": {"spelling": False},
}

