"""`python -m eval.ranks`: where the answers rank, deeper than the harness's ten passages.

For each answerable question, the rank of the first passage holding its evidence among the first 100 passages
search returns: the fixed set by the served index, each held-out set by the index of its fold that
`python -m eval.teaching` left (a model not taught it; run that first, with the same --folds). A miss in the first
five that is found lower is one a better ranking of the same candidates could mend; one not found at all is not.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from eval.harness import matched_evidence
from eval.questions import DEFAULT_QUESTIONS, HELD_OUT_QUESTIONS, load_questions
from eval.teaching import fold_problem, folds

DEEPEST = 100
BANDS = ((1, 5), (6, 10), (11, 20), (21, 50), (51, DEEPEST))


def band_counts(ranks: list[int | None]) -> dict[str, int]:
    """How many first ranks fall in each band ("1-5", ...), and how many were not found ("not found")."""
    counts = Counter(next((f"{low}-{high}" for low, high in BANDS if r is not None and low <= r <= high),
                          "not found") for r in ranks)
    return {label: counts.get(label, 0) for label in [*(f"{a}-{b}" for a, b in BANDS), "not found"]}


def first_ranks(searcher, path: Path) -> list[int | None]:
    """The first answering rank of each answerable question of a set among the first DEEPEST passages."""
    ranks = []
    for q in load_questions(path):
        if q.answerable:
            passages = searcher.search(q.question, k=DEEPEST).to_dict()["passages"]
            ranks.append(next((p["rank"] for p in passages if matched_evidence(p, q.evidence)), None))
    return ranks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.ranks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=4, help="as given to python -m eval.teaching")
    parser.add_argument("--teaching", type=Path, help="its folds' indexes (default: var/teaching/<encoder>)")
    args = parser.parse_args(argv)

    from retriever.index_model import PackagedModels, encoder_for_index
    from retriever.search import Searcher
    from retriever.settings import Settings
    from retriever.store import current_build, open_index

    settings = Settings()
    teaching = args.teaching or settings.index_dir.parent / "teaching" / settings.encoder
    models = PackagedModels.from_settings(settings)
    fold_jobs = [(teaching / f"fold-{n}", run) for n, run in enumerate(folds(list(HELD_OUT_QUESTIONS), args.folds), 1)]
    jobs = [(settings.index_dir, [DEFAULT_QUESTIONS]), *fold_jobs]
    # checked before any search (a run takes a minute): every index there, and every fold built for these sets
    problems = []
    for root, sets in jobs:
        if current_build(root) is None:
            problems.append(f"no index at {root}")
        elif root != settings.index_dir and (problem := fold_problem(root, sets)):
            problems.append(problem)
    if problems:
        print(f"error: {'; '.join(problems)}. Build them first: `onrecord ingest` for the served index, "
              f"`python -m eval.teaching --folds {args.folds}` for the folds", file=sys.stderr)
        return 2
    ranks: list[int | None] = []
    for root, sets in jobs:
        encoder = encoder_for_index(root, models)
        searcher = Searcher(open_index(root, encoder.name, encoder.dimension), encoder)
        for path in sets:
            ranks += first_ranks(searcher, path)
        print(f"{root} ({encoder.name}): {', '.join(p.name for p in sets)}", file=sys.stderr)
    counts = band_counts(ranks)
    print(f"{len(ranks)} answerable questions (the fixed set and {len(HELD_OUT_QUESTIONS)} held-out sets); "
          f"first answering passage at rank:")
    print("| " + " | ".join(counts) + " |\n" + "|---" * len(counts) + "|\n| "
          + " | ".join(str(v) for v in counts.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
