"""`python -m eval.question_form`: count the held-out sets' questions for the question form (retriever/
question_form.py) and write them to retriever/question_form.json, which search reads. Run it when a held-out set is
registered, before fitting the abstention models (docs/question-sets.md); tests/test_question_form.py checks the file
counts exactly the held-out sets. Never the fixed set: it measures, and its questions must stay unseen by the form.

The evaluation reads a held-out question's form as a new question's would be: counted without its own set
(`form_without`), so the abstention model is fitted on, and judged by, log-odds its question did not shape.
"""
from __future__ import annotations

import argparse
from functools import lru_cache
from pathlib import Path

from eval.questions import HELD_OUT_QUESTIONS, load_questions
from retriever.question_form import COUNTS_FILE, FormCounts, QuestionForm, count_questions, write_counts


@lru_cache(maxsize=None)
def set_counts(path: Path) -> FormCounts:
    return count_questions((q.question, q.answerable) for q in load_questions(path))


@lru_cache(maxsize=None)
def counted_sets(paths: tuple[Path, ...] = HELD_OUT_QUESTIONS) -> FormCounts:
    return summed_counts(paths)


def summed_counts(paths) -> FormCounts:
    return sum((set_counts(path) for path in paths), FormCounts(0, 0, {}))


@lru_cache(maxsize=64)  # a form is ~14,000 log-odds: keep a few
def form_without(left_out: frozenset[str], paths: tuple[Path, ...] = HELD_OUT_QUESTIONS) -> QuestionForm:
    """The question form counted over the sets of `paths` whose file names are not in `left_out`."""
    left = summed_counts(path for path in paths if path.name in left_out)
    return QuestionForm.from_counts(counted_sets(paths) - left)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.question_form", description=__doc__)
    parser.add_argument("--out", type=Path, default=COUNTS_FILE)
    args = parser.parse_args(argv)
    counts = counted_sets()
    write_counts(args.out, counts, [path.name for path in HELD_OUT_QUESTIONS])
    print(f"{args.out}: {counts.answerable} answerable and {counts.unanswerable} unanswerable questions of "
          f"{len(HELD_OUT_QUESTIONS)} held-out sets, {len(counts.tokens)} words and pairs of words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
