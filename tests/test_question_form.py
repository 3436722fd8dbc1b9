import math

import pytest

from eval.calibrate import Scored, read_without
from eval.question_form import counted_sets, form_without
from eval.questions import DEFAULT_QUESTIONS, HELD_OUT_QUESTIONS, load_questions
from retriever.question_form import (COUNTS_FILE, FormCounts, QuestionForm, count_questions, question_tokens,
                                     read_counts, shipped_question_form, write_counts)


def test_a_questions_tokens_are_its_words_and_adjacent_pairs_once_each():
    assert question_tokens("How much, how MUCH money?") == {
        "how", "much", "money", "how much", "much how", "much money"}
    assert question_tokens("") == frozenset() == question_tokens("?!")


def test_the_log_odds_are_naive_bayes_with_add_one_smoothing_worked_by_hand():
    counts = count_questions([("how much money", False), ("what did it cost", False), ("what does MASH mean", True),
                              ("what did cabinet decide", True), ("what did cabinet agree", True)])
    assert (counts.answerable, counts.unanswerable) == (3, 2)
    assert counts.tokens["what"] == (3, 1) and counts.tokens["did"] == (2, 1) and counts.tokens["money"] == (0, 1)
    form = QuestionForm.from_counts(counts)
    vocabulary = len(counts.tokens)
    answerable_total = sum(a for a, _ in counts.tokens.values()) + vocabulary
    unanswerable_total = sum(u for _, u in counts.tokens.values()) + vocabulary
    assert form.prior == pytest.approx(math.log(3 / 2))
    assert form.token_log_odds["money"] == pytest.approx(math.log(1 / answerable_total) - math.log(2 / unanswerable_total))
    # words never counted say nothing; counted ones add their log-odds, each once however often asked
    assert form.log_odds("zeppelin airship") == pytest.approx(form.prior)
    assert form.log_odds("money money zeppelin") == pytest.approx(form.prior + form.token_log_odds["money"])
    assert form.log_odds("how much money") < form.prior < form.log_odds("what did cabinet decide")


def test_a_form_needs_both_kinds_of_question():
    with pytest.raises(ValueError, match="answerable and unanswerable"):
        QuestionForm.from_counts(count_questions([("what is a MASH", True)]))


def test_counts_add_and_take_away_a_set_exactly():
    one = count_questions([("how much money", False), ("what is a MASH", True)])
    two = count_questions([("what is a MASH", True), ("who chairs the board", True)])
    both = one + two
    assert both.tokens["mash"] == (2, 0) and (both.answerable, both.unanswerable) == (3, 1)
    assert both - two == one  # a token no question holds any more is gone, not left at (0, 0)


def test_counts_are_saved_whole_and_read_back(tmp_path):
    counts = count_questions([("how much money", False), ("what is a MASH", True)])
    write_counts(tmp_path / "form.json", counts, ["a.jsonl"])
    assert read_counts(tmp_path / "form.json") == (counts, ["a.jsonl"])


def test_the_shipped_counts_are_exactly_the_held_out_sets_and_never_the_fixed_one():
    # a held-out set registered without `python -m eval.question_form` fails here
    counts, fitted_on = read_counts(COUNTS_FILE)
    assert fitted_on == [path.name for path in HELD_OUT_QUESTIONS]
    assert DEFAULT_QUESTIONS.name not in fitted_on
    assert counts == counted_sets()
    assert shipped_question_form() == QuestionForm.from_counts(counts)


def test_a_held_out_question_is_read_by_a_form_its_own_set_did_not_shape():
    first, second = HELD_OUT_QUESTIONS[0], HELD_OUT_QUESTIONS[1]
    question = load_questions(first)[0]
    others = [p for p in HELD_OUT_QUESTIONS if p != first]
    by_hand = QuestionForm.from_counts(count_questions(
        (q.question, q.answerable) for p in others for q in load_questions(p)))
    assert form_without(frozenset({first.name})) == by_hand
    row = Scored(first.name, question.answerable, False, {"question_form": 99.0}, 0.0, question.question)
    fixed = Scored(DEFAULT_QUESTIONS.name, True, False, {"question_form": 99.0}, 0.0, "what is a MASH")
    own_out, fixed_read = read_without([row, fixed], frozenset())
    assert own_out.features["question_form"] == pytest.approx(by_hand.log_odds(question.question))
    assert fixed_read.features["question_form"] == pytest.approx(shipped_question_form().log_odds("what is a MASH"))
    # leaving a second set out (a set held out of a fit) takes its words away from every question's form
    _, fixed_without_second = read_without([row, fixed], frozenset({second.name}))
    assert fixed_without_second.features["question_form"] == pytest.approx(
        form_without(frozenset({second.name})).log_odds("what is a MASH"))
    assert form_without(frozenset({second.name})) != shipped_question_form()


def test_empty_counts_are_nothing_to_take_away():
    assert FormCounts(0, 0, {}) + count_questions([("a b", True)]) == count_questions([("a b", True)])


def test_the_command_writes_the_held_out_sets_counts(tmp_path, capsys):
    from eval.question_form import main

    assert main(["--out", str(tmp_path / "form.json")]) == 0
    assert read_counts(tmp_path / "form.json") == (counted_sets(), [path.name for path in HELD_OUT_QUESTIONS])
    assert f"of {len(HELD_OUT_QUESTIONS)} held-out sets" in capsys.readouterr().out
