"""Match returned passages to evidence by text, so scores survive changes to chunking."""
from __future__ import annotations

import re
from difflib import SequenceMatcher

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})


def normalise(text: str) -> list[str]:
    """Words, case-folded, with line-end hyphenation and typographic quotes undone."""
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text.translate(_QUOTES))
    return re.findall(r"[a-z0-9]+", text.casefold())


def longest_common_run(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    match = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return match.size


def passage_matches(quote: str, passage_text: str, share: float = 0.6) -> bool:
    """The passage holds the quote, or most of it (a quote may straddle two chunks)."""
    q = normalise(quote)
    return bool(q) and longest_common_run(q, normalise(passage_text)) >= max(1, round(share * len(q)))


def span_matches(quote: str, answer: str) -> bool:
    """The marked answer is the evidence: they share a run of at least half the shorter of the two."""
    q, a = normalise(quote), normalise(answer)
    if not q or not a:
        return False
    run = longest_common_run(q, a)
    return run >= max(1, min(len(q), len(a)) // 2) and run >= min(5, len(q))
