import json
import math

import pytest

from eval.harness import chance_ceiling, score_response, summarise
from eval.questions import Evidence, Question

QUOTE = "the Council call for standard national hackney carriage and private hire conditions"
QUESTION = Question("q1", "what did Telford decide on taxis", "decision", None,
                    (Evidence("t.pdf", QUOTE, (2,)),))


def response(page: int) -> dict:
    text = "It was RESOLVED that " + QUOTE + " be pursued."
    return {"question": QUESTION.question, "answered": True, "passages": [{
        "rank": 1, "score": 1.0, "text": text, "answer": text, "answer_start": 0, "answer_end": len(text),
        "page_start": page, "page_end": page, "answer_page": page,
        "document": {"id": "t", "file": "t.pdf", "title": "T", "council": "Telford & Wrekin", "date": None}}]}


def test_a_citation_of_a_repeated_paragraph_is_judged_by_the_page_text():
    pages = {("t", 2): "RESOLVED that " + QUOTE, ("t", 3): "Minutes: RESOLVED that " + QUOTE, ("t", 4): "other"}
    lookup = lambda doc, n: pages.get((doc, n))
    assert score_response(QUESTION, response(3), 0.01, lookup).page_ok  # the paragraph is on page 3 too
    assert not score_response(QUESTION, response(4), 0.01, lookup).page_ok
    assert not score_response(QUESTION, response(3), 0.01).page_ok  # without page texts: the listed pages only


def test_the_answer_page_is_right_where_it_holds_most_of_the_marked_answer():
    from eval.harness import span_on_page

    answer = "Looked after children placed here\n\n6.4.12 Children from outside the city can be placed in homes"
    assert span_on_page(answer, "... 6.4.12 Children from outside the city can be placed in homes or foster care")
    assert not span_on_page(answer, "training. Looked after children placed here")  # only its first words


def test_summary_counts_recall_and_false_abstention():
    result = score_response(QUESTION, {**response(2), "answered": False}, 0.01)
    summary = summarise([result])
    assert summary["recall@1"] == 1.0 and summary["false_abstention"] == 1.0


def test_ndcg_is_at_most_one_when_several_passages_hold_one_quote():
    one = response(2)
    held_twice = {**one, "passages": [one["passages"][0], {**one["passages"][0], "rank": 2}]}
    assert summarise([score_response(QUESTION, held_twice, 0.01)])["ndcg@10"] == pytest.approx(1.0)
    other = {**one["passages"][0], "rank": 1, "text": "Something else.", "answer": "Something else.",
             "answer_end": len("Something else.")}
    second = {**one, "passages": [other, {**one["passages"][0], "rank": 2}]}
    assert summarise([score_response(QUESTION, second, 0.01)])["ndcg@10"] == pytest.approx(1 / math.log2(3))


def test_the_abstention_curve_steps_through_each_unanswerable_question():
    from eval.harness import QuestionResult, abstention_curve

    unanswerable = Question("u", "is the moon made of cheese", "unanswerable")

    def result(question, confidence, answered):
        return QuestionResult(question, {"answered": answered, "confidence": confidence, "passages": []}, 0.01)

    results = [result(unanswerable, 0.5, False), result(unanswerable, 0.9, True),
               result(QUESTION, 0.6, True), result(QUESTION, 1.2, True),
               result(QUESTION, 0.3, True)]  # answered below the threshold: a defined term, always answered
    curve = abstention_curve(results, threshold_used=0.55)
    assert [(round(r["threshold"], 2), r["abstention"], r["false_abstention"]) for r in curve] == [
        (0.5, 0.0, 0.0), (0.5, 0.5, 0.0), (0.9, 1.0, 1 / 3)]
    # without the threshold it ran at: read off the answers (0.3 was answered below 0.5, which abstained)
    assert abstention_curve(results) == curve
    assert abstention_curve([result(QUESTION, 0.6, True)]) == []  # nothing unanswerable: no curve
    no_confidence = QuestionResult(unanswerable, {"answered": False, "passages": []}, 0.01)
    assert abstention_curve([no_confidence, result(QUESTION, 0.6, True)]) == []


def test_question_files_scored_together_must_not_repeat_an_id(tmp_path, capsys):
    from eval.__main__ import main

    line = json.dumps({"id": "q1", "question": "what is a MASH", "kind": "definition", "evidence": []})
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(line + "\n")
    second.write_text(line + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--questions", str(first), str(second), "--out-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "question ids repeated across the files: ['q1']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was searched or written


def test_typos_give_one_slip_after_the_first_letter_to_a_word_the_reports_use():
    import random

    from eval.typos import slip, with_slips

    rng = random.Random(0)
    for _ in range(200):
        slipped = slip("telford", rng)
        assert slipped != "telford" and slipped[0] == "t" and abs(len(slipped) - 7) <= 1
    questions = [QUESTION, Question("q2", "what is a MASH", "definition", None, ())]
    pairs = with_slips(questions, {"telford": 3, "decide": 1}, random.Random(1))
    assert len(pairs) == 1  # "MASH" is too short to slip
    original, slipped_question, word, typed = pairs[0]
    assert original is QUESTION and word in ("telford", "decide")
    assert slipped_question.question == QUESTION.question.replace(
        "Telford" if word == "telford" else word, typed, 1)
    assert slipped_question.evidence == QUESTION.evidence


def test_a_question_typed_casually_is_in_lower_case_without_apostrophes():
    from eval.typos import casually

    typed = casually(Question("q3", "What's Telford’s MASH? Don't know", "definition", None, QUESTION.evidence))
    assert typed.question == "whats telfords mash? dont know"
    assert typed.id == "q3" and typed.evidence == QUESTION.evidence


def test_the_chance_ceiling_is_the_count_a_rate_exceeds_with_probability_under_the_significance():
    # ten fair coins: more than 7 heads has probability 56/1024 (0.055), more than 8 has 11/1024 (0.011)
    assert chance_ceiling(10, 0.5) == 8
    assert chance_ceiling(10, 0.5, significance=0.06) == 7
    # the gate's case: at 0.05 on 78 questions, P(X > 7) = 0.041 and P(X > 6) = 0.095
    assert chance_ceiling(78, 0.05) == 7
    assert chance_ceiling(78, 0.0) == 0 and chance_ceiling(78, 1.0) == 78


def test_the_chance_ceiling_refuses_a_rate_or_significance_out_of_range():
    with pytest.raises(ValueError):
        chance_ceiling(78, 1.5)
    with pytest.raises(ValueError):
        chance_ceiling(78, 0.05, significance=0.0)
