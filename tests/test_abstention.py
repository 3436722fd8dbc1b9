import json
import math
import random

import pytest

from eval.calibrate import Scored, abstentions, calibrate, leave_one_set_out
from retriever.abstention import (CALIBRATION_FILE, FEATURES, AbstentionModel, Calibration, fit_logistic,
                                  load_calibration, read_calibration, threshold_for, write_calibration)


def _features(dense, coverage=0.5, typed=None, asks=0.0, unknown=0.0, form=0.0):
    return {"dense": dense, "coverage": coverage, "typed_coverage": coverage if typed is None else typed,
            "asks_quantity": asks, "unknown_share": unknown, "question_form": form}


def _questions(n, seed, shift=0.0):
    """Answerable questions score higher on dense and lower on unknown words; coverage is noise."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        answerable = i % 4 != 0
        dense = rng.gauss(0.7 if answerable else 0.5, 0.08) + shift
        unknown = 0.0 if answerable or rng.random() < 0.5 else rng.uniform(0.2, 0.6)
        rows.append((_features(dense, coverage=rng.random(), unknown=unknown), answerable))
    return rows


def test_the_fit_weighs_what_separates_and_not_what_does_not():
    rows = _questions(400, seed=1)
    coefficients, intercept = fit_logistic([f for f, _ in rows], [a for _, a in rows])
    weight = dict(zip(FEATURES, coefficients))
    assert weight["dense"] > 5 and weight["unknown_share"] < -1
    assert abs(weight["coverage"] + weight["typed_coverage"]) < 1  # the same noise twice: no net weight
    assert weight["asks_quantity"] == pytest.approx(0.0, abs=1e-6)  # constant: nothing to learn from it
    model = AbstentionModel(coefficients, intercept, 0.5)
    assert model.probability(_features(0.8)) > 0.9 > 0.1 > model.probability(_features(0.4, unknown=0.5))


def test_a_fit_needs_both_kinds_of_question():
    with pytest.raises(ValueError, match="answer and questions they do not"):
        fit_logistic([_features(0.5), _features(0.6)], [True, True])


def test_the_model_has_one_coefficient_per_feature_and_never_overflows():
    with pytest.raises(ValueError, match="one coefficient per feature"):
        AbstentionModel((1.0, 2.0), 0.0, 0.5)
    model = AbstentionModel((1000.0, 0.0, 0.0, 0.0, 0.0, 0.0), 0.0, 0.5)
    assert model.probability(_features(10.0)) == 1.0
    assert model.probability(_features(-10.0)) == 0.0
    assert model.probability(_features(0.0)) == 0.5


def test_the_threshold_abstains_on_the_most_unanswerable_within_the_false_abstention_allowed():
    # scores of 20 answerable questions 1..20 and 4 unanswerable ones; one answerable (5%) may abstain
    scores = [float(s) for s in range(1, 21)] + [0.5, 1.5, 2.5, 30.0]
    answerable = [True] * 20 + [False] * 4
    threshold = threshold_for(scores, answerable, [False] * 24)
    assert threshold == pytest.approx(1.75)  # between 1.5 (abstains) and 2.0 (answerable, answered)
    assert abstentions(_scored(scores, answerable), scores, threshold) == (2, 4, 1, 20)
    # with none allowed, only the unanswerable question below every answerable one abstains
    assert threshold_for(scores, answerable, [False] * 24, max_false_abstention=0.0) == pytest.approx(0.75)
    # a question the reports define is answered whatever its score, so it never counts as a false abstention
    defined = [True] + [False] * 23
    assert threshold_for(scores, answerable, defined) == pytest.approx(2.75)  # 2.0 may abstain now, and 2.5 with it


def test_a_threshold_needs_both_kinds_of_question():
    with pytest.raises(ValueError):
        threshold_for([0.1, 0.2], [True, True], [False, False])


def _scored(scores, answerable, question_set="set"):
    return [Scored(question_set, a, False, _features(s), s) for s, a in zip(scores, answerable)]


def test_calibration_fits_then_sets_the_threshold_on_the_same_questions():
    rows = _questions(200, seed=2)
    scored = [Scored("set", a, False, f, f["dense"] + f["coverage"]) for f, a in rows]
    model = calibrate(scored, max_false_abstention=0.05)
    probabilities = [model.probability(s.features) for s in scored]
    unanswerable_abstaining, unanswerable, answerable_abstaining, answerable = abstentions(
        scored, probabilities, model.threshold)
    assert answerable_abstaining / answerable <= 0.05
    assert unanswerable_abstaining / unanswerable > 0.3


def test_leave_one_set_out_scores_each_set_by_a_fit_on_the_others():
    # the third set's dense scores run higher: a rule fitted on the other two answers all its questions
    scored = [Scored(name, a, False, f, f["dense"])
              for name, seed, shift in (("one", 3, 0.0), ("two", 4, 0.0), ("three", 5, 0.3))
              for f, a in _questions(120, seed, shift)]
    estimate = leave_one_set_out(scored)
    assert set(estimate) == {"logistic", "sum"}
    for abstention, false_abstention in estimate.values():
        assert 0.0 <= false_abstention <= abstention <= 1.0
    within = leave_one_set_out([s for s in scored if s.question_set != "three"])
    assert within["logistic"][0] > estimate["logistic"][0]  # the shifted set abstains on fewer
    assert not math.isnan(within["sum"][1])


def test_an_archives_own_calibration_is_saved_whole_and_read_back(tmp_path):
    model = AbstentionModel((1.0, 2.0, 3.0, 4.0, 5.0, 6.0), -1.5, 0.4)
    assert read_calibration(tmp_path) is None  # none saved: the built-in models serve
    path = write_calibration(tmp_path, Calibration("m-adapted-0123456789ab", model, "54 questions, 12 unanswerable"))
    assert path == tmp_path / CALIBRATION_FILE and [p.name for p in tmp_path.iterdir()] == [CALIBRATION_FILE]
    assert read_calibration(tmp_path) == Calibration("m-adapted-0123456789ab", model, "54 questions, 12 unanswerable")


SAVED = {"model": "m", "features": list(FEATURES), "coefficients": [1, 2, 3, 4, 5, 6], "intercept": -1, "threshold": 0.5}


@pytest.mark.parametrize("text", [
    "{not json",
    "[]",
    '{"model": "m"}',
    json.dumps({**SAVED, "coefficients": [1, 2, 3]}),
    json.dumps({**SAVED, "features": ["dense", "coverage"]}),
    json.dumps({**SAVED, "threshold": "high"}),
    json.dumps({**SAVED, "intercept": float("nan")}),
])
def test_a_calibration_that_cannot_be_read_is_named_and_passed_over(tmp_path, text):
    (tmp_path / CALIBRATION_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=CALIBRATION_FILE):
        read_calibration(tmp_path)
    warnings = []
    assert load_calibration(tmp_path, warnings.append) is None
    assert len(warnings) == 1 and "the built-in model is used instead" in warnings[0]


def test_calibrate_fits_saves_and_says_what_is_wrong_with_the_questions(tmp_path, monkeypatch, capsys):
    import eval.calibrate as calibrate_module

    files = [tmp_path / "ours-a.jsonl", tmp_path / "ours-b.jsonl"]
    for path in files:
        path.write_text("", encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        calibrate_module.main(["--questions", str(tmp_path / "none.jsonl")])
    assert stopped.value.code == 2 and "no such question file" in capsys.readouterr().err

    sets = {path: _questions(80, seed=n) for n, path in enumerate(files)}
    monkeypatch.setattr(calibrate_module, "in_process_searchers", lambda names: ({names[0]: None}, {"model": "m"}, None))

    def score_questions(searcher, paths):
        return [Scored(path.name, a, False, f, f["dense"] + f["coverage"]) for path in paths for f, a in sets[path]]

    monkeypatch.setattr(calibrate_module, "score_questions",  # no unanswerable question among them
                        lambda searcher, paths: [s for s in score_questions(searcher, paths) if s.answerable])
    with pytest.raises(SystemExit) as stopped:
        calibrate_module.main(["--questions", str(files[0])])
    assert stopped.value.code == 2 and "questions the reports answer and questions they do not" in \
        capsys.readouterr().err

    monkeypatch.setattr(calibrate_module, "score_questions", score_questions)
    assert calibrate_module.main(["--questions", str(files[0])]) == 0
    assert "leave one set out: not estimated (it needs two or more question files)" in capsys.readouterr().out
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(tmp_path / "index"))
    (tmp_path / "index").mkdir()
    assert calibrate_module.main(["--questions", *map(str, files), "--save"]) == 0
    out = capsys.readouterr().out
    assert "leave one set out, logistic: abstention" in out and "saved as this archive's abstention model" in out
    saved = read_calibration(tmp_path / "index")
    assert saved.model == "m" and "160 questions" in saved.fitted_on and "ours-a.jsonl, ours-b.jsonl" in saved.fitted_on
