"""Recognise passages that record a decision, resolution or recommendation."""
from __future__ import annotations

import re

_DECISION = re.compile(
    r"\bRESOLVED\b|\bresolved that\b|\bThat Cabinet\b|\bCabinet (?:agreed|resolved|approved|accepted)\b"
    r"|\bDecision Notice|\bRecommendations?\s*(?:\d|:)|\brecommends? that\b|\bwe recommend\b|\bThe Committee recommends\b"
    r"|^R\d{2}\b|\bbe (?:approved|agreed|endorsed|received|noted)\b|\bagreed to\b|\bIt is recommended\b"
    r"|\b(?:That|that):?\s*\n|^\(?[a-z]\)\s+(?:that|having)\b",
    re.MULTILINE,
)


def is_decision(text: str) -> bool:
    return bool(_DECISION.search(text))
