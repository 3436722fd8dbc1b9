"""`python -m eval.teaching`: the held-out figures of the model taught the held-out sets' answers at ingest
(retriever/teaching.py), measured on sets it was not taught, and its abstention model fitted the same way.

`onrecord ingest` teaches the adapted model every held-out set, so scoring those sets with the served index would
score questions it was taught. Here the held-out sets are split in --folds runs of consecutive sets; for each, an
index of the shipped reports is built (under --out, the served index untouched) with the model taught the other
folds' sets, and that fold's sets are scored with it, hybrid and dense-only. The fixed set is never taught, so it is
scored with the served index. Each question's abstention features come from the same index as its ranking, and the
abstention model is fitted on them all (left one set out too), to be pasted into ABSTENTION_MODELS for the index's
model family (ONRECORD_ENCODER / ONRECORD_INDEX_DIR choose the family, as for eval.calibrate). The inverse cloze
model of the served index is copied in, not trained again; a fold's taught model made by a run for another encoder
is copied in too. Writes eval/results/teaching-<encoder>.md (--report) and prints it.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from eval.calibrate import Scored, abstentions, calibrate, leave_one_set_out, score_questions
from eval.harness import DEPTH, run_questions, summarise
from eval.questions import DEFAULT_QUESTIONS, HELD_OUT_QUESTIONS, load_questions

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = [("recall@1", "R@1"), ("recall@5", "R@5"), ("recall@10", "R@10"), ("mrr@10", "MRR@10"),
           ("span_accuracy", "span"), ("page_accuracy", "page")]


def folds(sets: list[Path], count: int) -> list[list[Path]]:
    """`count` runs of consecutive sets, as even as they go (the first runs one longer)."""
    size, extra = divmod(len(sets), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        out.append(sets[start:end])
        start = end
    return [f for f in out if f]


# Which sets a fold's index scores and which its model was taught, beside the index: a later reader of the fold
# (eval.ranks) checks it holds the sets it means to score, so a fold left by a run over other sets is not read as
# untaught.
FOLD_RECORD = "fold.json"


def write_fold_record(root: Path, scored: list[Path], taught: list[Path]) -> None:
    record = {"scored": [p.name for p in scored], "taught": [p.name for p in taught]}
    (root / FOLD_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def fold_problem(root: Path, scored: list[Path]) -> str | None:
    """Why the fold index at root cannot score `scored` untaught (None when it can): no record, other sets, or a
    set among those its model was taught."""
    try:
        record = json.loads((root / FOLD_RECORD).read_text(encoding="utf-8"))
        names, taught = list(record["scored"]), set(record["taught"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"{root} has no readable {FOLD_RECORD} (built before it was written?)"
    wanted = [p.name for p in scored]
    if names != wanted:
        return f"{root} scores {', '.join(names) or 'no set'}, not {', '.join(wanted)}"
    if taught & set(wanted):
        return f"{root}'s model was taught {', '.join(sorted(taught & set(wanted)))}"
    return None


def copy_models(sources: list[Path], root: Path) -> None:
    """Models already made (a folder holding modules.json) copied into root/models, so ingest reuses them."""
    from retriever.store import MODELS_DIR

    for source in sources:
        for folder in sorted((source / MODELS_DIR).glob("*")) if (source / MODELS_DIR).is_dir() else ():
            target = root / MODELS_DIR / folder.name
            if (folder / "modules.json").is_file() and not target.exists():
                shutil.copytree(folder, target, ignore=shutil.ignore_patterns("*.onnx", "*.onnx.data"))


def scored_set(searcher, path: Path) -> tuple[list, list[Scored]]:
    """A set's harness results (hybrid) and abstention features (as eval.calibrate reads them), from one searcher."""
    results = run_questions(load_questions(path), lambda q: searcher.search(q, k=DEPTH).to_dict(),
                            searcher.index.page_text)
    return results, score_questions(searcher, [path])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.teaching", description=__doc__)
    parser.add_argument("--folds", type=int, default=4, help="runs of held-out sets, each scored untaught")
    parser.add_argument("--out", type=Path, help="the folds' indexes (default: var/teaching/<encoder>)")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    if not 2 <= args.folds <= len(HELD_OUT_QUESTIONS):
        parser.error(f"--folds must be between 2 and {len(HELD_OUT_QUESTIONS)}")

    from retriever.index_model import PackagedModels, encoder_for_index, ingest
    from retriever.search import Searcher, calibrated_searcher
    from retriever.settings import Settings
    from retriever.store import open_index

    settings = Settings()
    out = args.out or settings.index_dir.parent / "teaching" / settings.encoder
    report = args.report or RESULTS / f"teaching-{settings.encoder}.md"
    runs = folds(list(HELD_OUT_QUESTIONS), args.folds)
    served_models = PackagedModels.from_settings(settings)
    served_encoder = encoder_for_index(settings.index_dir, served_models)
    served = open_index(settings.index_dir, served_encoder.name, served_encoder.dimension)
    served_searcher = calibrated_searcher(settings.index_dir, served, served_encoder, lambda m: None)
    hybrid: dict[str, list] = {}  # set -> harness results, each from the index that scored it
    dense: dict[str, list] = {}
    features: dict[str, list[Scored]] = {}
    hybrid[DEFAULT_QUESTIONS.name], features[DEFAULT_QUESTIONS.name] = scored_set(served_searcher, DEFAULT_QUESTIONS)
    timings = []
    for number, run in enumerate(runs, 1):
        taught = [path for path in HELD_OUT_QUESTIONS if path not in run]
        root = out / f"fold-{number}"
        copy_models([settings.index_dir, *(p / f"fold-{number}" for p in out.parent.glob("*") if p != out)], root)
        models = PackagedModels(settings.encoder, settings.model_cache_dir, settings.encoder_threads,
                                checkpointing=settings.adapt_checkpointing, teaching_files=tuple(taught))
        started = time.perf_counter()
        # built again each run: an index left by an earlier run keeps its model (ingest does not teach an index that
        # exists), which may have been taught other sets or by other code; a model already made is reused by name
        (root / FOLD_RECORD).unlink(missing_ok=True)  # a run stopped mid-build leaves no record of other sets
        ingest([settings.corpus_dir], root, models, adapt=True, rebuild=True)
        write_fold_record(root, run, taught)
        timings.append(time.perf_counter() - started)
        encoder = encoder_for_index(root, models)
        index = open_index(root, encoder.name, encoder.dimension)
        searcher = Searcher(index, encoder)
        dense_searcher = searcher.with_config(mode="dense")
        for path in run:
            hybrid[path.name], features[path.name] = scored_set(searcher, path)
            dense[path.name] = run_questions(load_questions(path),
                                             lambda q: dense_searcher.search(q, k=DEPTH).to_dict(), index.page_text)
        print(f"fold {number} of {len(runs)}: {', '.join(p.name for p in run)} scored ({timings[-1]:.0f} s)",
              file=sys.stderr)
    pooled = [s for scored in features.values() for s in scored]
    model = calibrate(pooled)
    counts = abstentions(pooled, [model.probability(s.features) for s in pooled], model.threshold)
    loso = leave_one_set_out(pooled)["logistic"]
    header = ["| questions | " + " | ".join(label for _, label in COLUMNS)
              + " | abstain / false | dense-only R@5 / MRR@10 |", "|---" * (len(COLUMNS) + 3) + "|"]

    def row(label: str, sets: list[str]) -> str:
        summary = summarise([r for name in sets for r in hybrid[name]])
        scored = [s for name in sets for s in features[name]]
        a, n, fa, m = abstentions(scored, [model.probability(s.features) for s in scored], model.threshold)
        held = [r for name in sets for r in dense.get(name, [])]
        d = summarise(held) if held else None
        return (f"| {label} | " + " | ".join(f"{summary[key]:.3f}" for key, _ in COLUMNS)
                + f" | {a / n:.3f} / {fa / m:.3f} | "
                + (f"{d['recall@5']:.3f} / {d['mrr@10']:.3f} |" if d else "- |"))

    held_names = [p.name for p in HELD_OUT_QUESTIONS]
    table = header + [row("fixed set (never taught; the served index)", [DEFAULT_QUESTIONS.name])]
    table += [row(name.removesuffix("_questions.jsonl"), [name]) for name in held_names]
    table.append(row(f"**all {len(held_names)} held-out sets**", held_names))
    rounded = repr(type(model)(tuple(round(c, 6) for c in model.coefficients), round(model.intercept, 6),
                               round(model.threshold, 6)))
    command = "python -m eval.teaching " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    text = "\n".join([
        "# The model taught the held-out sets' answers, measured on sets it was not taught", "",
        f"Command: `{command}`, {datetime.now(timezone.utc).isoformat(timespec='seconds')}; encoder "
        f"{settings.encoder}, served index {settings.index_dir} ({served_encoder.name}). Folds: "
        + "; ".join(", ".join(p.name.removesuffix("_questions.jsonl") for p in run) for run in runs)
        + f". Each fold's index built in {min(timings):.0f}-{max(timings):.0f} s. Each held-out set is scored by the "
        "index of its fold (a model not taught it); abstention by the model fitted below, on every set's features "
        "from the index that scored it (in sample).", "", *table, "",
        f"Abstention ({len(pooled)} questions, {counts[1]} unanswerable): fitted on them all "
        f"{counts[0] / counts[1]:.3f} abstention, {counts[2] / counts[3]:.3f} false abstention; left one set out "
        f"{loso[0]:.3f} / {loso[1]:.3f}.", "",
        f"For ABSTENTION_MODELS ({served_encoder.name}'s family): `{rounded}`", ""])
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
