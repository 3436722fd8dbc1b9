"""eval.evidence: the checker a new question set's writers run finds what the tests would fail on."""
from __future__ import annotations

import json

import pytest

from eval.evidence import main, pages_holding, set_problems
from eval.questions import DEFAULT_QUESTIONS, load_questions

# A real quote of the fixed set: the checker reads the shipped PDFs, as the tests do.
KNOWN = next(q for q in load_questions(DEFAULT_QUESTIONS) if q.evidence and len(q.evidence[0].pages) == 1)
EVIDENCE = KNOWN.evidence[0]
WRONG_PAGE = next(p for p in range(1, 99) if p not in pages_holding(EVIDENCE.file, EVIDENCE.quote)[0])


def line(qid="zz101", question="A question nobody has asked before?", kind="number", quote=EVIDENCE.quote,
         pages=None, file=EVIDENCE.file, **extra):
    evidence = [] if kind == "unanswerable" else [
        {"file": file, "quote": quote, "pages": list(EVIDENCE.pages) if pages is None else pages}]
    return json.dumps({"id": qid, "question": question, "kind": kind, "council": "Walsall", "evidence": evidence,
                       "note": "", **extra})


def check(tmp_path, *lines, prefix="zz"):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return set_problems(path, prefix)


def test_a_good_set_has_no_problems(tmp_path):
    count, problems = check(tmp_path, line(), line("zz102", "Is this one answered?", kind="unanswerable"))
    assert (count, problems) == (2, [])


@pytest.mark.parametrize("bad, expected", [
    (line(qid="zz1"), "id must be zz###"),
    (line(kind="guess"), "kind 'guess'"),
    (line(question=KNOWN.question), "already in an earlier set"),
    (line(quote=EVIDENCE.quote + " and words the report never wrote"), "quote not found"),
    (line(quote="too short a quote"), "quote has 4 words"),
    (line(pages=[WRONG_PAGE]), "quote not found"),
    (line(pages=[9999]), "out of range"),
    (line(file="no-such-report.pdf"), "is not a corpus PDF"),
    ('{"id": "zz101", ', "not JSON"),
])
def test_each_kind_of_mistake_is_named(tmp_path, bad, expected):
    count, problems = check(tmp_path, bad)
    assert len(problems) == 1 and expected in problems[0], problems


def test_duplicate_ids_and_evidence_on_an_unanswerable_question_are_named(tmp_path):
    unanswerable_with_evidence = json.dumps({**json.loads(line()), "id": "zz102", "question": "Another?",
                                             "kind": "unanswerable"})
    _, problems = check(tmp_path, line(), line(question="Twice?"), unanswerable_with_evidence)
    assert any("duplicate ids ['zz101']" in p for p in problems)
    assert any("zz102: evidence must be empty" in p for p in problems)


def test_find_names_the_page_that_holds_a_quote_and_the_cli_prints_it(capsys):
    hits, across = pages_holding(EVIDENCE.file, EVIDENCE.quote)
    assert set(EVIDENCE.pages) <= set(hits) and WRONG_PAGE not in hits
    assert main(["--find", EVIDENCE.file, EVIDENCE.quote]) == 0
    assert f"pages: {hits}" in capsys.readouterr().out


def test_the_cli_exits_non_zero_on_problems(tmp_path, capsys):
    path = tmp_path / "set.jsonl"
    path.write_text(line(qid="bad") + "\n", encoding="utf-8")
    assert main([str(path), "zz"]) == 1
    assert "1 problems" in capsys.readouterr().out
    path.write_text(line() + "\n", encoding="utf-8")
    assert main([str(path), "zz"]) == 0
