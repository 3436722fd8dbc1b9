"""Match returned passages to evidence by text, so scores survive changes to chunking."""
from __future__ import annotations

from retriever.quotes import longest_common_run, normalise, passage_matches

__all__ = ["longest_common_run", "normalise", "passage_matches", "span_matches"]


def span_matches(quote: str, answer: str) -> bool:
    """The marked answer is the evidence: they share a run of at least half the shorter of the two."""
    q, a = normalise(quote), normalise(answer)
    if not q or not a:
        return False
    run = longest_common_run(q, a)
    return run >= max(1, min(len(q), len(a)) // 2) and run >= min(5, len(q))
