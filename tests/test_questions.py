"""The fixed evaluation question set (eval/questions.jsonl) is well formed and its evidence is real.

Every quote must occur, word for word after `normalise`, in the named PDF on the named pages.
Page texts come straight from pypdf; only the running header (the first line of every page)
and the "Page N of M" line below it are dropped, so that a quote crossing a page break can match.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest
from pypdf import PdfReader

from eval.matching import normalise
from eval.questions import DEFAULT_QUESTIONS, HELD_OUT_QUESTIONS, load_questions

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
KINDS = {"decision", "definition", "number", "paraphrase", "keyword", "acronym", "multi", "unanswerable"}
COUNCILS = {"Telford & Wrekin", "Walsall", "Wolverhampton", "Birmingham", None}
PAGE_LINE = re.compile(r"^\s*Page \d+ of \d+\s*$")

QUESTIONS = load_questions(DEFAULT_QUESTIONS)
HELD_OUT_SETS = [load_questions(path) for path in HELD_OUT_QUESTIONS]
SETS = [QUESTIONS, *HELD_OUT_SETS]  # in the order they were written
EVIDENCE = [(q.id, e) for question_set in SETS for q in question_set for e in q.evidence]


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


def test_enough_questions_with_unique_ids_and_known_kinds():
    assert len(QUESTIONS) >= 60
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids)), [i for i, c in Counter(ids).items() if c > 1]
    assert all(re.fullmatch(r"q\d{3}", i) for i in ids)
    assert {q.kind for q in QUESTIONS} <= KINDS
    assert {q.council for q in QUESTIONS} <= COUNCILS
    assert all(q.question.strip() for q in QUESTIONS)


# each set's id prefix, in the order written: h### for the first, g### for the second, ..., z### for the ninth, y### for the tenth, x### for the eleventh, w### for the twelfth, v### for the thirteenth, u### for the fourteenth, t### for the fifteenth, s### for the sixteenth, r### for the seventeenth, q### for the eighteenth, p### for the nineteenth, o### for the twentieth, n### for the twenty-first, m### for the twenty-second, l### for the twenty-third, k### for the twenty-fourth, j### for the twenty-fifth, i### for the twenty-sixth
@pytest.mark.parametrize("held_out, prefix", list(zip(HELD_OUT_SETS, "hgfedcbazyxwvutsrqponmlkji", strict=True)),
                         ids=[path.stem.removesuffix("_questions") for path in HELD_OUT_QUESTIONS])
def test_the_holdout_questions_are_well_formed_and_new(held_out, prefix):
    assert len(held_out) >= 40
    ids = [q.id for q in held_out]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(rf"{prefix}\d{{3}}", i) for i in ids)
    assert {q.kind for q in held_out} <= KINDS and {q.council for q in held_out} <= COUNCILS
    earlier = {q.question.casefold() for earlier_set in SETS[:SETS.index(held_out)] for q in earlier_set}
    assert not {q.question.casefold() for q in held_out} & earlier
    assert all(not q.evidence for q in held_out if q.kind == "unanswerable")
    assert all(q.evidence for q in held_out if q.kind != "unanswerable")


def test_unanswerable_questions_have_no_evidence_and_the_rest_do():
    unanswerable = [q for q in QUESTIONS if q.kind == "unanswerable"]
    assert len(unanswerable) >= 8
    assert all(not q.evidence for q in unanswerable)
    assert all(q.evidence for q in QUESTIONS if q.kind != "unanswerable")


def test_multi_questions_cite_at_least_two_reports():
    multi = [q for q in QUESTIONS if q.kind == "multi"]
    assert multi
    for q in multi:
        assert len({e.file for e in q.evidence}) >= 2, q.id


def test_every_report_is_used_and_only_reports_are_cited():
    pdfs = {p.name for p in CORPUS.glob("*.pdf")}
    cited = {e.file for _, e in EVIDENCE}
    assert cited <= pdfs, cited - pdfs
    assert cited == pdfs, pdfs - cited


@pytest.mark.parametrize("qid, evidence", EVIDENCE, ids=[f"{qid}-{e.file[:12]}" for qid, e in EVIDENCE])
def test_quote_is_on_the_named_pages(qid, evidence):
    words = normalise(evidence.quote)
    assert 8 <= len(words) <= 40, f"{qid}: quote has {len(words)} words"
    count = len(reader(evidence.file).pages)
    assert evidence.pages, f"{qid}: no pages"
    assert list(evidence.pages) == sorted(set(evidence.pages)), f"{qid}: pages not in order"
    assert all(1 <= p <= count for p in evidence.pages), f"{qid}: page out of range"
    text = "\n".join(page_text(evidence.file, p) for p in evidence.pages)
    assert contains_run(normalise(text), words), f"{qid}: quote not found on pages {evidence.pages}"
