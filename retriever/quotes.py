"""Whether a text holds a quote, word for word after normalising: how a question's known answer (a quote of a
report) is found among chunks, by the model's teaching at ingest (retriever/teaching.py) and by the evaluation."""
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
    return holds_quote(normalise(quote), normalise(passage_text), share)


def holds_quote(quote: list[str], text: list[str], share: float = 0.6) -> bool:
    """passage_matches on words already normalised."""
    return bool(quote) and longest_common_run(quote, text) >= max(1, round(share * len(quote)))
