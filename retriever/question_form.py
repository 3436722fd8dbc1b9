"""What a question's words alone say about whether the reports answer it: one of the abstention model's features
(retriever/abstention.py).

Near-miss questions ask for the kind of detail reports seldom give ("how much money", "what did it cost", "how many
are boys"); the other features read only the passages, which hold every word of such a question. The log-odds that a
question is answerable come from a multinomial naive Bayes over its words and adjacent pairs of words (each once a
question), add-one smoothed, counted over question sets whose answers are known; words its questions never used are
ignored. Kept by rule AG (docs/experiments.md, the twenty-eighth session): left one set out over the fixed and
twenty-eight held-out sets, abstention 0.341 -> 0.565 at false abstention 0.052 -> 0.051. Much of that was the
readers' brief, which worded every unanswerable question as a figure, date or outcome. On sets written against it
(the mixed brief, docs/question-sets.md) the form as first counted cost more than it caught: on the probe (rule AH)
2 of 18 unanswerable questions abstained with it and 1 without, with 4 and 2 of 36 answerable ones; on the next set
(rule AI) 1 of 18 with it and 2 without, with 6 and 3 of 36. Counting the probe too gave 3 of 18 with 5 of 36 on
that set, and kept the form at rule AI's edge; sets written to the mixed brief are counted since. On the next one
(rule AK, the thirtieth session) it caught 4 of 18 with 5 of 36, against 3 and 4 without it: kept again.

The counts ship with the package (`question_form.json`, written by `python -m eval.question_form` from the held-out
sets, never the fixed set, which measures).
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

COUNTS_FILE = Path(__file__).with_name("question_form.json")
_WORD = re.compile(r"[a-z0-9]+")


def question_tokens(question: str) -> frozenset[str]:
    """The question's lowercase words and adjacent pairs of words, each once."""
    words = _WORD.findall(question.lower())
    return frozenset(words) | frozenset(f"{a} {b}" for a, b in zip(words, words[1:]))


@dataclass(frozen=True)
class FormCounts:
    """How many answerable and unanswerable questions were counted, and in how many of each every token is."""

    answerable: int
    unanswerable: int
    tokens: Mapping[str, tuple[int, int]]  # token -> (answerable questions holding it, unanswerable ones)

    def __add__(self, other: "FormCounts") -> "FormCounts":
        tokens = dict(self.tokens)
        for token, (a, u) in other.tokens.items():
            mine = tokens.get(token, (0, 0))
            tokens[token] = (mine[0] + a, mine[1] + u)
        return FormCounts(self.answerable + other.answerable, self.unanswerable + other.unanswerable, tokens)

    def __sub__(self, other: "FormCounts") -> "FormCounts":
        """These counts without another's (a set counted in them, taken out again)."""
        tokens = dict(self.tokens)
        for token, (a, u) in other.tokens.items():
            left = (tokens[token][0] - a, tokens[token][1] - u)
            if left == (0, 0):
                del tokens[token]
            else:
                tokens[token] = left
        return FormCounts(self.answerable - other.answerable, self.unanswerable - other.unanswerable, tokens)


def count_questions(questions: Iterable[tuple[str, bool]]) -> FormCounts:
    """The counts of (question, whether the reports answer it) pairs."""
    counted = {True: Counter(), False: Counter()}
    totals = Counter()
    for question, answerable in questions:
        counted[bool(answerable)].update(question_tokens(question))
        totals[bool(answerable)] += 1
    tokens = {t: (counted[True][t], counted[False][t]) for t in counted[True].keys() | counted[False].keys()}
    return FormCounts(totals[True], totals[False], tokens)


@dataclass(frozen=True)
class QuestionForm:
    """log P(answerable | the question's tokens) - log P(unanswerable | them), up to naive Bayes."""

    prior: float  # the log-odds of a question none of whose tokens was counted
    token_log_odds: Mapping[str, float]

    @classmethod
    def from_counts(cls, counts: FormCounts) -> "QuestionForm":
        if not counts.answerable or not counts.unanswerable:
            raise ValueError("the question form needs answerable and unanswerable questions")
        vocabulary = len(counts.tokens)
        answerable_total = sum(a for a, _ in counts.tokens.values()) + vocabulary
        unanswerable_total = sum(u for _, u in counts.tokens.values()) + vocabulary
        return cls(math.log(counts.answerable / counts.unanswerable),
                   {t: math.log((a + 1) / answerable_total) - math.log((u + 1) / unanswerable_total)
                    for t, (a, u) in counts.tokens.items()})

    def log_odds(self, question: str) -> float:
        return self.prior + sum(self.token_log_odds.get(t, 0.0) for t in question_tokens(question))


def write_counts(path: Path, counts: FormCounts, fitted_on: list[str]) -> None:
    data = {"fitted_on": fitted_on, "answerable": counts.answerable, "unanswerable": counts.unanswerable,
            "tokens": {t: list(counts.tokens[t]) for t in sorted(counts.tokens)}}
    path.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")


def read_counts(path: Path = COUNTS_FILE) -> tuple[FormCounts, list[str]]:
    """The counts saved at `path`, and the question files they were counted from."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return (FormCounts(int(data["answerable"]), int(data["unanswerable"]),
                       {t: (int(a), int(u)) for t, (a, u) in data["tokens"].items()}), list(data["fitted_on"]))


@lru_cache(maxsize=1)
def shipped_question_form() -> QuestionForm:
    """The form of the counts that ship with the package, read on first use (once a process)."""
    return QuestionForm.from_counts(read_counts(COUNTS_FILE)[0])
