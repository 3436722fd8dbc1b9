"""`python -m eval.calibrate`: fit the abstention model (retriever/abstention.py) for the index's model on
question sets whose answers are known, and print it for ABSTENTION_MODELS in retriever/search.py.

Also prints a leave-one-set-out estimate, the same way for the fitted model and for the earlier rule (dense +
coverage): fit and threshold chosen on all sets but one, abstention counted on that one, pooled over the sets.

With --save, the model is saved at the index's root as the archive's own (retriever/abstention.py, Calibration):
search then uses it instead of the built-in one for as long as the index is embedded by the same model. For an
archive of other reports, fit it on questions about them (--questions, the question files' format).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from eval.__main__ import in_process_searchers
from eval.configs import DEFAULT
from eval.question_form import form_without
from eval.questions import DEFAULT_QUESTIONS, HELD_OUT_QUESTIONS, load_questions
from retriever.abstention import AbstentionModel, Calibration, fit_logistic, threshold_for, write_calibration
from retriever.search import Searcher, abstention_features


@dataclass(frozen=True)
class Scored:
    """One question as abstention sees it."""

    question_set: str
    answerable: bool
    defined: bool  # the reports define what it asks: answered whatever its confidence
    features: dict[str, float]
    summed: float  # the earlier rule's confidence (dense + coverage)
    question: str = ""


def read_without(scored: list[Scored], left_out: frozenset[str]) -> list[Scored]:
    """The questions with their question form counted without the sets named in `left_out` nor their own
    (retriever/question_form.py): a held-out set's form as a new question's would be, none shaped by its own words."""
    forms = {name: form_without(left_out | {name}) for name in {s.question_set for s in scored}}
    return [replace(s, features={**s.features, "question_form": forms[s.question_set].log_odds(s.question)})
            for s in scored]


def score_questions(searcher: Searcher, files: list[Path]) -> list[Scored]:
    """Each question's abstention signals, and whether the reports define what it asks."""
    summing = searcher.with_config(abstention="sum", answer_threshold=float("inf"))
    scored = []
    for path in files:
        for q in load_questions(path):
            result = summing.search(q.question, k=10)
            scored.append(Scored(path.name, q.answerable, result.answered, abstention_features(result.signals),
                                 result.confidence, q.question))
    return read_without(scored, frozenset())


def calibrate(scored: list[Scored], max_false_abstention: float = 0.05, l2: float = 1.0) -> AbstentionModel:
    free = [s for s in scored if not s.defined]
    coefficients, intercept = fit_logistic([s.features for s in free], [s.answerable for s in free], l2)
    unfitted = AbstentionModel(coefficients, intercept, threshold=0.5)
    threshold = threshold_for([unfitted.probability(s.features) for s in scored], [s.answerable for s in scored],
                              [s.defined for s in scored], max_false_abstention)
    return AbstentionModel(coefficients, intercept, threshold)


def abstentions(scored: list[Scored], scores: list[float], threshold: float) -> tuple[int, int, int, int]:
    """(unanswerable abstaining, unanswerable, answerable abstaining, answerable)."""
    abstains = [score < threshold and not s.defined for s, score in zip(scored, scores)]
    unanswerable = [a for a, s in zip(abstains, scored) if not s.answerable]
    answerable = [a for a, s in zip(abstains, scored) if s.answerable]
    return sum(unanswerable), len(unanswerable), sum(answerable), len(answerable)


def leave_one_set_out(scored: list[Scored], max_false_abstention: float = 0.05) -> dict[str, tuple[float, float]]:
    """Abstention and false abstention pooled over the sets, each scored by a fit on the others."""
    totals = {"logistic": [0, 0, 0, 0], "sum": [0, 0, 0, 0]}
    for held in sorted({s.question_set for s in scored}):
        # nothing of the held set reaches the fit: not its questions, nor its words in the others' question form
        read = read_without(scored, frozenset({held}))
        train = [s for s in read if s.question_set != held]
        test = [s for s in read if s.question_set == held]
        model = calibrate(train, max_false_abstention)
        summed_threshold = threshold_for([s.summed for s in train], [s.answerable for s in train],
                                         [s.defined for s in train], max_false_abstention)
        for name, scores, threshold in (
                ("logistic", [model.probability(s.features) for s in test], model.threshold),
                ("sum", [s.summed for s in test], summed_threshold)):
            counts = abstentions(test, scores, threshold)
            totals[name] = [t + c for t, c in zip(totals[name], counts)]
    return {name: (t[0] / t[1], t[2] / t[3]) for name, t in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__)
    parser.add_argument("--questions", type=Path, nargs="+", default=[DEFAULT_QUESTIONS, *HELD_OUT_QUESTIONS],
                        help="question files (default: the fixed set and the held-out sets)")
    parser.add_argument("--max-false-abstention", type=float, default=0.05)
    parser.add_argument("--save", action="store_true",
                        help="save the model at the index's root: search uses it for this index's model")
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.questions if not path.is_file()]
    if missing:
        parser.error(f"no such question file: {', '.join(missing)}")
    searchers, meta, _ = in_process_searchers([DEFAULT])
    try:
        scored = score_questions(searchers[DEFAULT], args.questions)
        model = calibrate(scored, args.max_false_abstention)
    except ValueError as exc:  # a line that is not a question; no answerable (with evidence) or no unanswerable ones
        parser.error(str(exc))
    counts = abstentions(scored, [model.probability(s.features) for s in scored], model.threshold)
    print(f"model {meta['model']}: {len(scored)} questions, {counts[1]} unanswerable, "
          f"{sum(s.defined for s in scored)} answered by definition")
    print(f"fitted on them all: abstention {counts[0] / counts[1]:.3f}, false abstention {counts[2] / counts[3]:.3f}")
    if len({s.question_set for s in scored}) < 2:
        print("leave one set out: not estimated (it needs two or more question files)")
    else:
        try:
            for name, (abstention, false) in leave_one_set_out(scored, args.max_false_abstention).items():
                print(f"leave one set out, {name}: abstention {abstention:.3f}, false abstention {false:.3f}")
        except ValueError as exc:
            print(f"leave one set out: not estimated ({exc}, with one file left out)")
    rounded = AbstentionModel(tuple(round(c, 6) for c in model.coefficients), round(model.intercept, 6),
                              round(model.threshold, 6))
    print(f"\n{rounded!r}")
    if args.save:
        from retriever.settings import Settings

        fitted_on = (f"{len(scored)} questions, {counts[1]} unanswerable "
                     f"({', '.join(path.name for path in args.questions)})")
        path = write_calibration(Settings().index_dir, Calibration(meta["model"], model, fitted_on))
        print(f"saved as this archive's abstention model for {meta['model']}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
