"""`python -m eval.adaptation`: the packaged model against the model adapted to the reports at ingest
(retriever/adaptation.py), side by side on the same reports and questions.

Indexes the corpus twice under --out (default var/adaptation; the served index untouched): once with the
packaged model, once adapted with the recipe given (the default recipe unless told otherwise), and scores the
fixed and held-out question sets with each, hybrid and dense-only, at the default search weights. Writes
eval/results/adaptation.md (--report) and prints it. --split-reports N trains as if each run of N chunks of a
report were a report of its own: an archive of many short reports, simulated with the shipped ones.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from eval.harness import DEPTH, run_questions, summarise
from eval.questions import DEFAULT_QUESTIONS, HELD_OUT_QUESTIONS, load_questions
from retriever.adaptation import BATCHINGS, AdaptationRecipe

RESULTS = Path(__file__).resolve().parent / "results" / "adaptation.md"


def score(index, encoder) -> dict[str, dict]:
    """Summaries of the fixed set and of the held-out sets together, hybrid and dense-only, default weights."""
    from retriever.search import Searcher

    held_out = [q for path in HELD_OUT_QUESTIONS for q in load_questions(path)]
    rows = {}
    for mode in ("hybrid", "dense"):
        searcher = Searcher(index, encoder).with_config(mode=mode)
        for label, questions in (("fixed", load_questions(DEFAULT_QUESTIONS)),
                                 (f"held-out ({len(HELD_OUT_QUESTIONS)} sets)", held_out)):
            results = run_questions(questions, lambda q: searcher.search(q, k=DEPTH).to_dict(), index.page_text)
            rows[f"{mode}, {label}"] = summarise(results)
    return rows


@dataclass(frozen=True)
class SplitReports:
    """The models, adapted as if each run of `chunks` chunks (by their order in the build) of a report were a
    report of its own."""

    models: object
    chunks: int

    def packaged(self):
        return self.models.packaged()

    def adapted(self, folder: Path, name: str):
        return self.models.adapted(folder, name)

    def adapt(self, models_dir: Path, pairs: list, log):
        pairs = [replace(p, report=f"{p.report}#{p.chunk_id // self.chunks}") for p in pairs]
        return self.models.adapt(models_dir, pairs, log)


COLUMNS = [("recall@1", "R@1"), ("recall@5", "R@5"), ("recall@10", "R@10"), ("mrr@10", "MRR@10"),
           ("span_accuracy", "span"), ("abstention", "abstain"), ("false_abstention", "false abst.")]


def main(argv: list[str] | None = None) -> int:
    defaults = AdaptationRecipe()
    parser = argparse.ArgumentParser(prog="python -m eval.adaptation", description=__doc__)
    parser.add_argument("--pairs", type=int, default=defaults.pairs, help="window/chunk pairs to train on")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--batches", choices=BATCHINGS, default=defaults.batches,
                        help="each batch from one report (small reports pooled, or not), or as drawn")
    parser.add_argument("--split-reports", type=int, metavar="N",
                        help="adapt as if each run of N chunks of a report were a report of its own")
    parser.add_argument("--out", type=Path, help="the two indexes (default: var/adaptation)")
    parser.add_argument("--report", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from retriever.index_model import PackagedModels, encoder_for_index, ingest
    from retriever.settings import Settings
    from retriever.store import open_index

    settings = Settings()
    out = args.out or settings.index_dir.parent / "adaptation"
    recipe = AdaptationRecipe(pairs=args.pairs, learning_rate=args.learning_rate, seed=args.seed,
                              batches=args.batches)
    # the inverse cloze adaptation alone: a model taught the held-out sets would be scored on what it was taught
    # (python -m eval.teaching measures the teaching)
    models = replace(PackagedModels.from_settings(settings, recipe), teaching_files=())
    if args.split_reports:
        models = SplitReports(models, args.split_reports)
    rows, seconds = {}, {}
    for label, adapt in (("packaged", False), ("adapted", True)):
        root = out / label
        started = time.perf_counter()
        summary = ingest([settings.corpus_dir], root, models, adapt=adapt, rebuild=True)
        seconds[label] = (time.perf_counter() - started, summary.timings.get("adapt", 0.0))
        encoder = encoder_for_index(root, models)
        scored = score(open_index(root, encoder.name, encoder.dimension), encoder)
        rows.update({f"{label}, {k}": v for k, v in scored.items()})
    table = ["| model, search, questions | " + " | ".join(label for _, label in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    table += [f"| {name} | " + " | ".join(f"{row[key]:.3f}" for key, _ in COLUMNS) + " |"
              for name, row in sorted(rows.items(), key=lambda item: (item[0].split(", ", 1)[1], item[0]))]
    command = "python -m eval.adaptation " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    report = "\n".join([
        "# The packaged model against the model adapted to the reports", "",
        f"Command: `{command}`, {datetime.now(timezone.utc).isoformat(timespec='seconds')}; encoder "
        f"{settings.encoder}. Recipe: {recipe}"
        f"{f', each {args.split_reports} chunks of a report adapted on as a report' if args.split_reports else ''}."
        f" Ingest with the packaged model {seconds['packaged'][0]:.0f} s; "
        f"with adaptation {seconds['adapted'][0]:.0f} s, of which {seconds['adapted'][1]:.0f} s adapting (a model "
        "already made for the same reports and recipe is reused, not trained again). Search weights and thresholds "
        "are the defaults; each model's threshold is its own family's.", "", *table, ""])
    args.report.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
