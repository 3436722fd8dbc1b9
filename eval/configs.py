"""The search configurations the harness compares, as changes to the default SearchConfig."""
from __future__ import annotations

DEFAULT = "default (hybrid)"

CONFIGS: dict[str, dict] = {
    "lexical (BM25)": {"mode": "lexical"},
    "dense": {"mode": "dense"},
    DEFAULT: {},
}
