"""`python -m eval.typos`: the question sets again, each question with one slip of the keyboard, and each
typed casually.

In each question one word of five or more letters that the reports use is given one slip (a letter left out,
added, changed, or two swapped; never the first, seeded), and every question is searched three ways: as
written, with the slip searched as typed (correct=False), and with the slip as search corrects it (the
default, retriever/spelling.py). Also counted: how often the correction gives back the word written.
Then every question is searched as written and typed casually, as into a search box: in lower case, its
apostrophes dropped ("whats a mash", "why dont victims tell anyone", "telfords cse team").
Report: eval/results/typos.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import random
import re
import sys
from pathlib import Path
from string import ascii_lowercase

from eval.__main__ import in_process_searchers
from eval.harness import run_questions, summarise
from eval.questions import DEFAULT_QUESTIONS, HELD_OUT_QUESTIONS, Question, load_questions

RESULTS = Path(__file__).resolve().parent / "results" / "typos.md"
_APOSTROPHE = re.compile(r"['’]")
METRICS = ("recall@5", "mrr@10", "span_accuracy", "abstention", "false_abstention")


def slip(word: str, rng: random.Random) -> str:
    """The word with one slip after its first letter: a letter left out, added, changed, or two swapped."""
    while True:
        i = rng.randrange(1, len(word))
        kind = rng.choice(("leave out", "swap", "change", "add"))
        if kind == "leave out":
            slipped = word[:i] + word[i + 1:]
        elif kind == "swap" and i < len(word) - 1:
            slipped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif kind == "add":
            slipped = word[:i] + rng.choice(ascii_lowercase) + word[i:]
        else:
            slipped = word[:i] + rng.choice(ascii_lowercase.replace(word[i], "")) + word[i + 1:]
        if slipped != word:
            return slipped


def with_slips(questions: list[Question], report_words: dict[str, int],
               rng: random.Random) -> list[tuple[Question, Question, str, str]]:
    """(question, the question with one slip, the word, its slip) for each question with a word to slip."""
    slipped = []
    for q in questions:
        words = [w for w in re.findall(r"[A-Za-z]+", q.question) if len(w) >= 5 and w.lower() in report_words]
        if not words:
            continue
        word = rng.choice(words)
        typed = slip(word.lower(), rng)
        text = re.sub(rf"\b{word}\b", typed, q.question, count=1)
        slipped.append((q, dataclasses.replace(q, question=text), word.lower(), typed))
    return slipped


def casually(question: Question) -> Question:
    """The question in lower case without its apostrophes."""
    return dataclasses.replace(question, question=_APOSTROPHE.sub("", question.question.lower()))


def _cells(summary: dict) -> str:
    return " | ".join(f"{summary[m]:.3f}" for m in METRICS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.typos", description=__doc__)
    parser.add_argument("--questions", type=Path, nargs="+", default=[DEFAULT_QUESTIONS, *HELD_OUT_QUESTIONS])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    searchers, meta, page_text = in_process_searchers(["default (hybrid)"])
    searcher = searchers["default (hybrid)"]
    questions = [q for path in args.questions for q in load_questions(path)]
    slipped = with_slips(questions, searcher.index.report_words().counts, random.Random(args.seed))

    restored = other = none = 0
    for _, q, word, typed in slipped:
        suggestion = searcher.spelling_suggestion(q.question)
        found = {c.typed: c.suggested for c in suggestion.corrections} if suggestion else {}
        if found.get(typed) == word:
            restored += 1
        elif typed in found:
            other += 1
        else:
            none += 1
    runs = {
        "as written": ([q for q, *_ in slipped], {}),
        "one slip, searched as typed (correct=false)": ([s for _, s, *_ in slipped], {"correct": False}),
        "one slip, corrected (the default)": ([s for _, s, *_ in slipped], {}),
    }
    rows = []
    for name, (qs, options) in runs.items():
        summary = summarise(run_questions(qs, lambda text: searcher.search(text, k=10, **options).to_dict(),
                                          page_text))
        rows.append(f"| {name} | {_cells(summary)} |")
        print(rows[-1], flush=True)
    # every question searched once as written and once typed casually; the apostrophe group is read from those
    def search(text: str) -> dict:
        return searcher.search(text, k=10).to_dict()

    results = {"as written": run_questions(questions, search, page_text),
               "lower case, no apostrophes": run_questions([casually(q) for q in questions], search, page_text)}
    casual_rows = []
    with_apostrophe = [i for i, q in enumerate(questions) if _APOSTROPHE.search(q.question)]
    for group, chosen in (("every question", range(len(questions))), ("those with an apostrophe", with_apostrophe)):
        for name, typed in results.items():
            summary = summarise([typed[i] for i in chosen])
            casual_rows.append(f"| {group} ({len(chosen)}) | {name} | {_cells(summary)} |")
            print(casual_rows[-1], flush=True)
    answerable = sum(q.answerable for q, *_ in slipped)
    report = "\n".join([
        "# Questions with a slip of the keyboard",
        "",
        f"`python -m eval.typos --seed {args.seed}` over {', '.join(p.name for p in args.questions)}: "
        f"{len(slipped)} questions ({answerable} answerable) with a word of five or more letters the reports use, "
        f"that word given one slip. Model {meta['model']}, {meta['chunks']} chunks.",
        "",
        f"The correction gave back the word written for {restored} of {len(slipped)} slips, another word for "
        f"{other}, and none for {none} (the slip an English word, or a word of the reports, or nothing one edit "
        "away).",
        "",
        "| questions | " + " | ".join(METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
        *rows,
        "",
        "## Questions typed casually",
        "",
        "Every question as written, and in lower case with its apostrophes dropped (\"whats a mash\", \"why dont "
        "victims tell anyone\", \"telfords cse team\").",
        "",
        "| questions | typed | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
        *casual_rows,
        "",
    ])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
