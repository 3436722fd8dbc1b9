"""The fixed evaluation question set (eval/questions.jsonl) and the held-out sets are well formed and their evidence
is real: every quote occurs, word for word after `normalise`, in the named PDF on the named pages (eval.evidence's
reading of a page, shared with the checker that writers of a new set run).
"""
from __future__ import annotations

from collections import Counter

import pytest

from eval.evidence import CORPUS, HELD_OUT_PREFIXES, WRITTEN_PREFIXES, form_problems, quote_problem
from eval.questions import DEFAULT_QUESTIONS, WRITTEN_QUESTIONS, load_questions

QUESTIONS = load_questions(DEFAULT_QUESTIONS)
WRITTEN_SETS = [load_questions(path) for path in WRITTEN_QUESTIONS]  # the held-out sets, then the pending ones
SETS = [QUESTIONS, *WRITTEN_SETS]  # in the order they were written
SET_NAMES = [path.stem.removesuffix("_questions") for path in WRITTEN_QUESTIONS]
EVIDENCE = [(q.id, e) for question_set in SETS for q in question_set for e in q.evidence]


def test_enough_questions_with_unique_ids_and_known_kinds():
    assert len(QUESTIONS) >= 60
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids)), [i for i, c in Counter(ids).items() if c > 1]
    # id q###, known kind and council, a question with words: the form check the held-out sets get too
    problems = [p for q in QUESTIONS
                for p in form_problems(q.id, q.question, q.kind, q.council, bool(q.evidence), "q", set())]
    assert not problems, problems


def problems_against_earlier_sets(question_set, prefix):
    """Duplicate ids, and the checker's own test of each question's form (eval.evidence.form_problems) against the
    sets written before this one."""
    ids = [q.id for q in question_set]
    duplicates = [f"{i}: id used twice" for i, c in Counter(ids).items() if c > 1]
    earlier = {q.question.casefold() for earlier_set in SETS[:SETS.index(question_set)] for q in earlier_set}
    return duplicates + [p for q in question_set
                         for p in form_problems(q.id, q.question, q.kind, q.council, bool(q.evidence), prefix, earlier)]


@pytest.mark.parametrize("held_out, prefix", list(zip(WRITTEN_SETS, WRITTEN_PREFIXES, strict=True)), ids=SET_NAMES)
def test_the_holdout_questions_are_well_formed_and_new(held_out, prefix):
    assert len(held_out) >= 40
    problems = problems_against_earlier_sets(held_out, prefix)
    assert not problems, problems


# From the probe on (rule AH, then rule AI), sets are written to the mixed brief (docs/question-sets.md): a third of
# each reader's questions unanswerable, worded as definitions, decisions, situations and figures.
MIXED_BRIEF_FROM = HELD_OUT_PREFIXES.index("pb")


@pytest.mark.parametrize("held_out", WRITTEN_SETS[MIXED_BRIEF_FROM:], ids=SET_NAMES[MIXED_BRIEF_FROM:])
def test_sets_written_to_the_mixed_brief_are_a_third_unanswerable(held_out):
    assert len(held_out) == 54
    assert sum(q.kind == "unanswerable" for q in held_out) == 18


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
    problem = quote_problem(evidence.file, evidence.quote, list(evidence.pages))
    assert problem is None, f"{qid}: {problem}"
