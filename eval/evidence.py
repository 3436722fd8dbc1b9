"""Checks a question set's evidence against the PDFs: the one reading `tests/test_questions.py` and writers share.

A quote must occur, word for word after `normalise`, in the named PDF on the named pages. Page texts come straight
from pypdf; only the running header (the first line of every page) and the "Page N of M" line below it are dropped,
so that a quote crossing a page break can match.

    python -m eval.evidence eval/holdout27_questions.jsonl aa     # a new set, before it is registered
    python -m eval.evidence --find report.pdf "words of a quote"   # which pages hold a quote
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

from pypdf import PdfReader

from eval.matching import normalise
from eval.questions import DEFAULT_QUESTIONS, WRITTEN_QUESTIONS, load_questions

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
KINDS = {"decision", "definition", "number", "paraphrase", "keyword", "acronym", "multi", "unanswerable"}
COUNCILS = {"Telford & Wrekin", "Walsall", "Wolverhampton", "Birmingham", None}
# Each held-out set's id prefix, in the order written (h### the first, g### the second, ...): a new set adds one.
HELD_OUT_PREFIXES = (*"hgfedcbazyxwvutsrqponmlkji", "aa", "ab", "ac", "pb", "ad", "ae", "af", "ag", "ah", "ai", "aj")
# The pending sets' prefixes (eval.questions.PENDING_QUESTIONS), in the same order; registering one moves it above.
PENDING_PREFIXES = ("ak",)
WRITTEN_PREFIXES = (*HELD_OUT_PREFIXES, *PENDING_PREFIXES)  # eval.questions.WRITTEN_QUESTIONS'
QUOTE_WORDS = (8, 40)
PAGE_LINE = re.compile(r"^\s*Page \d+ of \d+\s*$")


@lru_cache(maxsize=None)
def reader(file: str) -> PdfReader:
    return PdfReader(CORPUS / file)


@lru_cache(maxsize=None)
def page_text(file: str, number: int) -> str:
    """Text of one page (1-based) of a corpus PDF, without running header and "Page N of M" line.

    Only the pages that evidence names are extracted: pypdf takes a fraction of a second per page.
    """
    lines = (reader(file).pages[number - 1].extract_text() or "").splitlines()
    if len(lines) >= 2 and PAGE_LINE.match(lines[1]):
        lines = lines[2:]  # running header, then the page-number line
    return "\n".join(line for line in lines if not PAGE_LINE.match(line))


def contains_run(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def quote_problem(file: str, quote: str, pages: list[int]) -> str | None:
    """Why this evidence does not hold (None when it does)."""
    words = normalise(quote)
    if not QUOTE_WORDS[0] <= len(words) <= QUOTE_WORDS[1]:
        return f"quote has {len(words)} words ({QUOTE_WORDS[0]}-{QUOTE_WORDS[1]})"
    if not (CORPUS / file).is_file():
        return f"{file} is not a corpus PDF"
    count = len(reader(file).pages)
    if not pages or list(pages) != sorted(set(pages)):
        return f"pages {list(pages)} not a sorted, non-empty list"
    if not all(1 <= p <= count for p in pages):
        return f"pages {list(pages)} out of range (1-{count})"
    if not contains_run(normalise("\n".join(page_text(file, p) for p in pages)), words):
        return f"quote not found on {file} pages {list(pages)}: {quote[:60]}"
    return None


def pages_holding(file: str, quote: str) -> tuple[list[int], list[int]]:
    """Pages whose text holds the quote, and pages p whose text with p + 1's holds it (across a break only)."""
    words = normalise(quote)
    count = len(reader(file).pages)
    hits = [p for p in range(1, count + 1) if contains_run(normalise(page_text(file, p)), words)]
    across = [p for p in range(1, count) if p not in hits and p + 1 not in hits and contains_run(
        normalise(page_text(file, p) + "\n" + page_text(file, p + 1)), words)]
    return hits, across


def form_problems(qid: str, question: str, kind: str | None, council: str | None, has_evidence: bool, prefix: str,
                  earlier: set[str]) -> list[str]:
    """What is wrong with one question's form (not its evidence): its id, kind, council and wording, whether it was
    asked in an earlier set (`earlier`: casefolded questions), and evidence given exactly when it is answerable."""
    problems = []
    if not re.fullmatch(rf"{re.escape(prefix)}\d{{3}}", qid):
        problems.append(f"{qid}: id must be {prefix}###")
    if kind not in KINDS:
        problems.append(f"{qid}: kind {kind!r}")
    if council not in COUNCILS:
        problems.append(f"{qid}: council {council!r}")
    if not question.strip():
        problems.append(f"{qid}: empty question")
    if question.casefold() in earlier:
        problems.append(f"{qid}: question already in an earlier set")
    if (kind == "unanswerable") == has_evidence:
        problems.append(f"{qid}: evidence must be empty exactly when the kind is unanswerable")
    return problems


def set_problems(path: Path, prefix: str) -> tuple[int, list[str]]:
    """A new set's lines checked as the tests check a registered one: (how many questions, problems)."""
    others = [DEFAULT_QUESTIONS, *(p for p in WRITTEN_QUESTIONS if p.resolve() != path.resolve())]
    earlier = {q.question.casefold() for p in others for q in load_questions(p)}
    problems: list[str] = []
    ids: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError as error:
            problems.append(f"line {number}: not JSON ({error})")
            continue
        qid = q.get("id", f"line {number}")
        ids.append(qid)
        evidence = q.get("evidence", [])
        problems += form_problems(qid, q.get("question", ""), q.get("kind"), q.get("council"), bool(evidence),
                                  prefix, earlier)
        for item in evidence:
            problem = quote_problem(item.get("file", ""), item.get("quote", ""), item.get("pages", []))
            if problem:
                problems.append(f"{qid}: {problem}")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"duplicate ids {duplicates}")
    return len(ids), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.evidence", description=__doc__.split("\n\n")[0])
    parser.add_argument("--find", nargs=2, metavar=("FILE.pdf", "WORDS"), help="the pages that hold these words")
    parser.add_argument("set", nargs="?", type=Path, help="a question set (JSON lines)")
    parser.add_argument("prefix", nargs="?", help="its id prefix, e.g. aa for aa101")
    args = parser.parse_args(argv)
    if args.find:
        hits, across = pages_holding(*args.find)
        print("pages:", hits, "| across a break (pages p, p+1):", across)
        return 0
    if not args.set or not args.prefix:
        parser.error("give a set and its prefix, or --find")
    count, problems = set_problems(args.set, args.prefix)
    print(f"{count} questions;", "OK" if not problems else f"{len(problems)} problems:")
    for problem in problems:
        print(" -", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
