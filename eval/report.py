"""Write the evaluation results: JSON, a short markdown report, and a recall@k plot."""
from __future__ import annotations

import json
from pathlib import Path

from eval.harness import DEPTH, QuestionResult

TABLE_COLUMNS = [
    ("recall@1", "R@1"), ("recall@5", "R@5"), ("recall@10", "R@10"), ("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10"),
    ("page_accuracy", "page"), ("answer_page_accuracy", "ans. page"), ("span_accuracy", "span"),
    ("abstention", "abstain"), ("false_abstention", "false abst."), ("multi_coverage@10", "multi cov."),
    ("latency_ms_p50", "p50 ms"), ("latency_ms_p95", "p95 ms"),
]


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value > 1.5 else f"{value:.3f}"


def markdown_table(rows: dict[str, dict], first: str = "config") -> str:
    head = f"| {first} | " + " | ".join(label for _, label in TABLE_COLUMNS) + " |"
    rule = "|---" * (len(TABLE_COLUMNS) + 1) + "|"
    body = [f"| {name} | " + " | ".join(_cell(s.get(key)) for key, _ in TABLE_COLUMNS) + " |"
            for name, s in rows.items()]
    return "\n".join([head, rule, *body])


def question_rows(results: list[QuestionResult]) -> list[dict]:
    return [{"id": r.question.id, "kind": r.question.kind, "question": r.question.question,
             "first_rank": r.first_rank, "page_ok": r.page_ok, "answer_page_ok": r.answer_page_ok,
             "span_ok": r.span_ok, "answered": r.response["answered"], "ms": round(r.seconds * 1000, 2),
             "top": [{"file": p["document"]["file"], "pages": [p["page_start"], p["page_end"]],
                      "answer": p["answer"][:200]} for p in r.response["passages"][:3]]}
            for r in results]


def write_plot(summaries: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ks = list(range(1, DEPTH + 1))
    for name, summary in summaries.items():
        ax.plot(ks, [summary[f"recall@{k}"] for k in ks], marker="o", label=name)
    ax.set_xlabel("k (passages returned)")
    ax.set_ylabel("recall@k (answering passage in the top k)")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("OnRecord: recall@k on the fixed question set")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def abstention_section(curve: list[dict], threshold_used: float | None) -> list[str]:
    """The trade-off curve as a markdown table (threshold, abstention, false abstention)."""
    if not curve:
        return []
    used = f" Search runs at {threshold_used:.4f}." if threshold_used is not None else ""
    lines = ["## Abstention trade-off (default)", "",
             "Each row: a threshold just above one unanswerable question's confidence; below it, search answers "
             "`answered: false`. Abstention is over the unanswerable questions, false abstention over the "
             f"answerable ones.{used}", "",
             "| threshold | abstention | false abstention |", "|---:|---:|---:|"]
    lines += [f"| {row['threshold']:.4f} | {row['abstention']:.3f} | {row['false_abstention']:.3f} |" for row in curve]
    return [*lines, ""]


def write_reports(out_dir: Path, summaries: dict[str, dict], by_kind: dict[str, dict], default: str,
                  rows: list[dict], extra_sections: list[str], meta: dict, curve: list[dict] = ()) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(
        {**meta, "default_config": default, "configs": summaries, "by_kind": by_kind, "questions": rows,
         "abstention_curve": curve},
        indent=2, ensure_ascii=False), encoding="utf-8")
    plot = out_dir / "recall_at_k.png"
    write_plot(summaries, plot)
    lines = [
        "# OnRecord evaluation", "",
        f"Command: `{meta['command']}`  ",
        f"Questions: `{meta['questions_file']}` ({meta['question_count']}), index of {meta.get('chunks', '?')} chunks, "
        f"model {meta.get('model', '?')}.", "",
        "## Configurations, side by side", "", markdown_table(summaries), "",
        "Page and span accuracy are over answerable questions whose answering passage is in the top 5. "
        "Latency is in-process search time per question.", "",
        f"![recall@k]({plot.name})", "",
        f"## By kind of question ({default})", "", markdown_table(by_kind, first="kind"), "",
        *extra_sections,
    ]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
