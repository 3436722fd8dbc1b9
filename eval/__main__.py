"""`python -m eval`: run the fixed question set through search and report how good the answers are."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from eval.configs import CONFIGS, DEFAULT
from eval.harness import DEPTH, abstention_curve, run_questions, summarise, summarise_by_kind
from eval.questions import DEFAULT_QUESTIONS, load_questions
from eval.report import abstention_section, markdown_table, question_rows, write_reports

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def api_search(base_url: str, api_key: str | None):
    import httpx

    client = httpx.Client(base_url=base_url.rstrip("/"), timeout=60,
                          headers={"X-API-Key": api_key} if api_key else {})

    def search(question: str) -> dict:
        response = client.get("/search", params={"q": question, "k": DEPTH})
        response.raise_for_status()
        return response.json()

    def page_text(doc_id: str, number: int) -> str | None:
        response = client.get(f"/documents/{doc_id}/pages/{number}")
        return response.json()["text"] if response.status_code == 200 else None

    return search, page_text


def in_process_searchers(config_names: list[str]):
    from retriever.index_model import PackagedModels, encoder_for_index
    from retriever.search import calibrated_searcher
    from retriever.settings import Settings
    from retriever.store import open_index

    settings = Settings()
    encoder = encoder_for_index(settings.index_dir, PackagedModels.from_settings(settings))
    index = open_index(settings.index_dir, encoder.name, encoder.dimension)
    # as the API would search: with the archive's own abstention model, if one is saved for this model
    base = calibrated_searcher(settings.index_dir, index, encoder,
                               lambda message: print(f"warning: {message}", file=sys.stderr))
    if base.uses_own_calibration:
        fitted_on = base.config.calibration.fitted_on or "fitted by eval.calibrate"
        print(f"abstention: the archive's own model ({fitted_on})", file=sys.stderr)
    encoder.encode(["warm up"])  # the one-off model load is not search latency
    meta = {"model": encoder.name, "chunks": index.chunk_count, "index_built_at": index.manifest.get("built_at")}
    return {name: base.with_config(**CONFIGS[name]) for name in config_names}, meta, index.page_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    # several files are scored as one set (the held-out sets pooled: a steadier figure than any one of them)
    parser.add_argument("--questions", type=Path, nargs="+", default=[DEFAULT_QUESTIONS],
                        help="question file(s), JSONL; several are scored together")
    parser.add_argument("--api", metavar="URL", help="score a live API instead of searching in process")
    parser.add_argument("--api-key", help="X-API-Key for --api")
    parser.add_argument("--configs", help=f"comma-separated subset of: {', '.join(CONFIGS)}")
    parser.add_argument("--responses-out", type=Path, help="write each question's raw response, keyed by id")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    questions = [q for path in args.questions for q in load_questions(path)]
    repeated = sorted(i for i, n in Counter(q.id for q in questions).items() if n > 1)
    if repeated:
        parser.error(f"question ids repeated across the files: {repeated[:5]}")
    if args.api:
        search, page_text = api_search(args.api, args.api_key)
        searches = {f"api {args.api}": search}
        meta, default = {}, f"api {args.api}"
        thresholds: dict[str, float] = {}
    else:
        names = [n.strip() for n in args.configs.split(",")] if args.configs else list(CONFIGS)
        unknown = [n for n in names if n not in CONFIGS]
        if unknown:
            parser.error(f"unknown config {unknown}; choose from {list(CONFIGS)}")
        searchers, meta, page_text = in_process_searchers(names)
        searches = {name: (lambda s: lambda q: s.search(q, k=DEPTH).to_dict())(s) for name, s in searchers.items()}
        thresholds = {name: s.answer_threshold for name, s in searchers.items()}
        default = DEFAULT if DEFAULT in names else names[-1]

    summaries, by_kind, all_results = {}, {}, {}
    for name, search in searches.items():
        results = run_questions(questions, search, page_text)
        all_results[name] = results
        summaries[name] = summarise(results)
        print(f"ran {name}", file=sys.stderr)
    default_results = all_results[default]
    by_kind = summarise_by_kind(default_results)
    if args.responses_out:
        args.responses_out.parent.mkdir(parents=True, exist_ok=True)
        args.responses_out.write_text(json.dumps({r.question.id: r.response for r in default_results},
                                                 indent=1, ensure_ascii=False), encoding="utf-8")
    meta.update({"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "command": "python -m eval " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
                 "questions_file": ", ".join(map(str, args.questions)), "question_count": len(questions)})
    threshold = thresholds.get(default)
    curve = abstention_curve(default_results, threshold)
    section = abstention_section(curve, threshold)
    write_reports(args.out_dir, summaries, by_kind, default, question_rows(default_results), section, meta,
                  curve)
    print(markdown_table(summaries))
    print()
    print(markdown_table(by_kind, first=f"kind ({default})"))
    if section:
        print("\n" + "\n".join(section[4:]))
    print(f"\nwrote {args.out_dir / 'latest.json'}, {args.out_dir / 'report.md'}, {args.out_dir / 'recall_at_k.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
