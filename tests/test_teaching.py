"""Questions whose answers are known, taught to the adapted model at ingest (retriever/teaching.py)."""
import json

import pytest

from retriever.adaptation import (AdaptationRecipe, ClozePair, ReportChunk, adapted_name, inverse_cloze_pairs,
                                  model_family, teach_into, wrong_answer_mask)
from retriever.teaching import (TeachingFileError, TeachingQuestion, answering_window, hard_wrong_answers,
                                read_teaching_questions, teaching_pairs, with_wrong_answers)

FILLER = " ".join(f"filler{i}" for i in range(40))
QUOTE = "Cabinet resolved that every licensed taxi driver must complete safeguarding training each year"


def write_lines(path, items):
    path.write_text("\n".join(json.dumps(i) if isinstance(i, dict) else i for i in items) + "\n", encoding="utf-8")
    return path


def test_questions_with_evidence_are_read_in_order_and_unanswerable_ones_skipped(tmp_path):
    first = write_lines(tmp_path / "a.jsonl", [
        {"id": "q1", "question": "What did Telford decide on taxis?", "kind": "decision",
         "evidence": [{"file": "telford.pdf", "quote": QUOTE, "pages": [3]}]},
        {"id": "q2", "question": "How long are records kept?", "kind": "unanswerable", "evidence": []},
    ])
    second = write_lines(tmp_path / "b.jsonl", ["", json.dumps({"question": " What is a MASH? ", "evidence": [
        {"file": "walsall.pdf", "quote": "the MASH is"}, {"file": "wolves.pdf", "quote": "a hub"}]})])
    assert read_teaching_questions([first, second]) == (
        TeachingQuestion("What did Telford decide on taxis?", (("telford.pdf", QUOTE),)),
        TeachingQuestion("What is a MASH?", (("walsall.pdf", "the MASH is"), ("wolves.pdf", "a hub"))),
    )


@pytest.mark.parametrize("line", ["not json", json.dumps({"evidence": []}), json.dumps({"question": ""}),
                                  json.dumps({"question": "q?", "evidence": [{"file": "a.pdf"}]}),
                                  json.dumps({"question": "q?", "evidence": [{"file": 3, "quote": "x"}]}),
                                  json.dumps(["a", "list"])])
def test_a_line_that_is_not_a_question_is_named_by_file_and_line(tmp_path, line):
    path = write_lines(tmp_path / "bad.jsonl", [{"question": "fine?", "evidence": []}, line])
    with pytest.raises(TeachingFileError, match=r"bad\.jsonl, line 2"):
        read_teaching_questions([path])


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(TeachingFileError, match="nowhere.jsonl"):
        read_teaching_questions([tmp_path / "nowhere.jsonl"])


def chunk(i, text, file="telford.pdf", heading=""):
    """A chunk whose answer windows are its sentences."""
    spans, start = [], 0
    for sentence in text.split(". "):
        spans.append((start, start + len(sentence)))
        start += len(sentence) + 2
    return ReportChunk(i, text, heading, tuple(spans), file, "telford-cabinet", "Telford & Wrekin")


def test_a_question_is_paired_with_the_answer_window_of_each_chunk_of_its_report_that_holds_its_quote():
    question = TeachingQuestion("What did Telford decide on taxis?", (("telford.pdf", QUOTE),))
    words = QUOTE.split()
    chunks = [chunk(0, FILLER),
              chunk(1, f"{FILLER}. {QUOTE}. {FILLER}", heading="Recommendations"),
              chunk(2, f"{FILLER}. {QUOTE}.", file="walsall.pdf"),  # the same words in another report
              chunk(3, " ".join(words[-9:]) + f". {FILLER}"),  # most of the quote, where a chunk break cut it
              chunk(4, " ".join(words[-4:]) + f". {FILLER}")]  # a few of its words
    pairs = teaching_pairs([question], chunks)
    telford = ("telford-cabinet", "Telford & Wrekin")
    assert pairs == [ClozePair(question.question, f"Recommendations\n{QUOTE}", 1, *telford),
                     ClozePair(question.question, " ".join(words[-9:]), 3, *telford)]


def test_a_window_holding_two_of_a_questions_quotes_is_paired_once_and_a_chunk_without_windows_not_at_all():
    other = "The licensing committee will review the policy on private hire vehicles in the spring"
    question = TeachingQuestion("taxis?", (("telford.pdf", QUOTE), ("telford.pdf", other)))
    text = f"{QUOTE} and {other}"
    assert len(teaching_pairs([question], [chunk(5, text)])) == 1
    assert len(teaching_pairs([question], [chunk(6, f"{QUOTE}. {other}")])) == 2  # a window each
    assert teaching_pairs([question], [ReportChunk(7, text, file="telford.pdf")]) == []


def test_a_window_sharing_only_a_few_words_with_the_quote_is_not_its_answer():
    text = f"{QUOTE}. {FILLER}"
    spans = ((len(QUOTE) - 9, len(QUOTE) + 40), (len(QUOTE) + 40, len(text)))  # "each year. filler0 ...", filler
    assert answering_window(QUOTE.lower().split(), ReportChunk(0, text, windows=spans)) is None
    whole = ((len(QUOTE) - 9, len(QUOTE)),)  # "each year": every word of the window is the quote's
    assert answering_window(QUOTE.lower().split(), ReportChunk(0, text, windows=whole)) == whole[0]


def test_a_questions_hard_wrong_answer_is_the_window_most_like_it_of_a_chunk_holding_none_of_its_quotes():
    question = TeachingQuestion("What did Telford decide on taxi driver training?", (("telford.pdf", QUOTE),))
    chunks = [chunk(0, f"{FILLER}. {QUOTE}. Taxi driver training was decided"),  # holds the quote: its answer
              chunk(1, f"{QUOTE}. Taxi driver training in Telford was decided", file="decision-notice.pdf"),
              chunk(2, f"{FILLER}. The panel decided on driver training for Telford taxi firms. {FILLER}"),
              chunk(3, f"Telford decided. {FILLER}")]
    assert hard_wrong_answers([question], chunks) == {
        question.question: "The panel decided on driver training for Telford taxi firms"}
    # no window of another chunk shares a word with it: no wrong answer rather than a random one
    assert hard_wrong_answers([TeachingQuestion("Zebras?", (("telford.pdf", QUOTE),))], chunks) == {}
    assert hard_wrong_answers([question], []) == {} and hard_wrong_answers([], chunks) == {}


def test_bm25_prefers_the_rarer_word_and_the_shorter_window():
    question = TeachingQuestion("chalice taxi", (("telford.pdf", QUOTE),))
    common = [chunk(i, "taxi taxi licensing policy") for i in range(5)]
    rare = chunk(9, f"Operation Chalice reported to the board on its work with partners {FILLER}")
    assert hard_wrong_answers([question], common + [rare])[question.question].startswith("Operation Chalice")
    short, long = chunk(1, "taxi licensing"), chunk(2, f"taxi licensing {FILLER}")
    assert hard_wrong_answers([question], [long, short])[question.question] == "taxi licensing"


def test_windows_are_ranked_best_first_with_ties_by_row_however_many_score():
    import numpy as np

    from retriever.teaching import _ranked

    scores = np.array([0.0, 2.0, 1.0, 2.0, 0.5, 1.0, 3.0, 0.0, 1.0])
    full = [int(r) for r in np.flatnonzero(scores > 0)[np.argsort(-scores[scores > 0], kind="stable")]]
    assert full == [6, 1, 3, 2, 5, 8, 4]
    for first in (1, 2, 3, 4, 7, 64):  # the first few sorted apart: ties at their edge stay in row order
        assert [int(r) for r in _ranked(scores, first)] == full
    assert list(_ranked(np.zeros(3))) == []


def test_each_pair_takes_its_questions_wrong_answer_and_a_question_without_one_keeps_none():
    pairs = [ClozePair("q1?", "answer 1", 1), ClozePair("q2?", "answer 2", 2)]
    assert with_wrong_answers(pairs, {"q1?": "looks like 1"}) == [ClozePair("q1?", "answer 1", 1, wrong="looks like 1"),
                                                                  pairs[1]]


def test_a_wrong_answer_that_is_another_pairs_answer_to_the_same_question_is_not_wrong_for_it():
    batch = [ClozePair("q1?", "answer 1", 1, wrong="answer 2"), ClozePair("q1?", "answer 2", 2, wrong="x"),
             ClozePair("q3?", "answer 3", 3, wrong="answer 1"), ClozePair("q4?", "answer 4", 4)]
    wrong, held = wrong_answer_mask(batch)
    assert wrong == ["answer 2", "x", "answer 1"]
    assert held == [[True, False, True], [True, False, True], [False, False, False], [False, False, False]]
    assert wrong_answer_mask([ClozePair("a window", "its chunk", 0)]) == ([], [[]])


def test_a_wrong_answer_names_another_model_and_leaves_other_names_as_they_were():
    pairs = [ClozePair("q?", "answer", 0)]
    recipe = AdaptationRecipe()
    assert adapted_name("base", pairs, recipe) != adapted_name("base", with_wrong_answers(pairs, {"q?": "w"}), recipe)
    assert adapted_name("base", pairs, recipe) == adapted_name("base", with_wrong_answers(pairs, {}), recipe)


def test_the_pairs_know_each_chunks_file_and_windows_and_give_whole_chunks():
    text = f"{FILLER}. The panel meets every month to review each case. {FILLER}."
    start = text.index("The panel")
    pairs = inverse_cloze_pairs({1: (text, "Governance"), 2: (text, "")}, [(1, 0, 3), (1, start, start + 48)],
                                reports={1: "w", 2: "t"}, councils={1: "Walsall", 2: "Telford & Wrekin"},
                                files={1: "walsall.pdf", 2: "telford.pdf"})
    assert len(pairs) == 1  # the short window trains no inverse cloze pair, but is an answer window all the same
    assert pairs.report_chunks() == [
        ReportChunk(1, text, "Governance", ((0, 3), (start, start + 48)), "walsall.pdf", "w", "Walsall"),
        ReportChunk(2, text, "", (), "telford.pdf", "t", "Telford & Wrekin")]
    assert pairs.report_chunks()[0].context(start, start + 48) == "Governance\n" + text[start:start + 48]


def fake_training(trained):
    def train(base_model, pairs, out_dir, recipe, threads, log, checkpointing, what="adapting the model"):
        trained.append((base_model, list(pairs), recipe, what))
        out_dir.mkdir(parents=True)
        (out_dir / "modules.json").write_text("[]")
        return out_dir
    return train


def test_teaching_trains_the_adapted_model_once_on_its_pairs_shuffled_under_a_name_of_its_family(tmp_path,
                                                                                                 monkeypatch):
    from retriever import adaptation

    trained = []
    monkeypatch.setattr(adaptation, "train", fake_training(trained))
    pairs = [ClozePair(f"question {i}?", f"chunk {i}", i) for i in range(40)]
    recipe = AdaptationRecipe()
    name = teach_into(tmp_path, "base-adapted-0123456789ab", "base", pairs, recipe)
    assert model_family(name) == "base-adapted" and name != "base-adapted-0123456789ab"
    assert (tmp_path / name / "taught_from.txt").read_text() == "base-adapted-0123456789ab"  # kept with it
    (base_model, taught, taught_recipe, what), = trained
    assert base_model == str(tmp_path / "base-adapted-0123456789ab") and what == "teaching the model"
    assert sorted(taught, key=lambda p: p.chunk_id) == pairs and taught != pairs  # all of them, shuffled
    assert (taught_recipe.batches, taught_recipe.pairs, taught_recipe.learning_rate) == ("mixed", 40, 5e-5)
    # the same pairs from the same model: reused, not trained again
    assert teach_into(tmp_path, "base-adapted-0123456789ab", "base", pairs, recipe) == name and len(trained) == 1
    # taught from another adapted model, or other pairs: another model
    assert teach_into(tmp_path, "base-adapted-ba9876543210", "base", pairs, recipe) != name
    assert teach_into(tmp_path, "base-adapted-0123456789ab", "base", pairs[:-1], recipe) != name


def test_naming_a_model_after_another_leaves_the_names_of_models_adapted_from_the_base_as_they_were():
    pairs = [ClozePair("a window", "its chunk", 0)]
    recipe = AdaptationRecipe()
    assert adapted_name("base", pairs, recipe) == adapted_name("base", pairs, recipe, after="")
    assert adapted_name("base", pairs, recipe, after="base-adapted-0123456789ab") != adapted_name("base", pairs, recipe)


def index_like_pairs():
    text = f"{FILLER}. {QUOTE}. The panel meets every month to review each case. {FILLER}."
    start, quoted = text.index("The panel"), text.index(QUOTE)
    return inverse_cloze_pairs({0: (text, "")}, [(0, quoted, quoted + len(QUOTE)), (0, start, start + 48)],
                               reports={0: "telford-cabinet"},
                               councils={0: "Telford & Wrekin"}, files={0: "telford.pdf"})


def test_the_packaged_models_teach_the_questions_whose_quotes_the_reports_hold(tmp_path, monkeypatch):
    from retriever import adaptation
    from retriever.index_model import PackagedModels

    trained, notes = [], []
    monkeypatch.setattr(adaptation, "train", fake_training(trained))
    questions = write_lines(tmp_path / "q.jsonl", [
        {"question": "What did Telford decide on taxis?", "evidence": [{"file": "telford.pdf", "quote": QUOTE}]},
        {"question": "What did Walsall decide?", "evidence": [{"file": "walsall.pdf", "quote": QUOTE}]}])
    models = PackagedModels("onnx", tmp_path / "cache", teaching_files=(questions,))
    name = models.adapt(tmp_path / "models", index_like_pairs(), notes.append)
    assert [what for *_, what in trained] == ["adapting the model", "teaching the model"]
    assert [p.anchor for p in trained[1][1]] == ["What did Telford decide on taxis?"]
    assert trained[1][0] == str(tmp_path / "models" / adaptation.adapted_name(
        "all-MiniLM-L6-v2", list(index_like_pairs()), AdaptationRecipe()))
    assert model_family(name) == "all-MiniLM-L6-v2-adapted" and (tmp_path / "models" / name).is_dir()


def test_the_packaged_models_teach_each_question_with_a_wrong_answer_from_a_chunk_not_holding_its_quote(
        tmp_path, monkeypatch):
    from retriever import adaptation
    from retriever.index_model import PackagedModels

    trained = []
    monkeypatch.setattr(adaptation, "train", fake_training(trained))
    text = f"{FILLER}. {QUOTE}. The panel meets every month to review each case. {FILLER}."
    other = f"{FILLER}. Telford taxis were discussed by the panel in March. {FILLER}."
    quoted, start = text.index(QUOTE), text.index("The panel")
    near = other.index("Telford taxis")
    pairs = inverse_cloze_pairs({0: (text, ""), 1: (other, "Minutes")},
                                [(0, quoted, quoted + len(QUOTE)), (0, start, start + 48), (1, near, near + 50)],
                                reports={0: "telford-cabinet", 1: "telford-minutes"},
                                councils={0: "Telford & Wrekin", 1: "Telford & Wrekin"},
                                files={0: "telford.pdf", 1: "minutes.pdf"})
    questions = write_lines(tmp_path / "q.jsonl", [
        {"question": "What did Telford decide on taxis?", "evidence": [{"file": "telford.pdf", "quote": QUOTE}]}])
    PackagedModels("onnx", tmp_path / "cache", teaching_files=(questions,)).adapt(tmp_path / "models", pairs,
                                                                                  lambda note: None)
    (taught,) = trained[1][1]
    assert (taught.anchor, taught.context) == ("What did Telford decide on taxis?", QUOTE)
    assert taught.wrong == "Minutes\nTelford taxis were discussed by the panel in March"


def test_with_no_quote_in_the_reports_the_model_is_adapted_and_not_taught(tmp_path, monkeypatch):
    from retriever import adaptation
    from retriever.index_model import PackagedModels

    trained, notes = [], []
    monkeypatch.setattr(adaptation, "train", fake_training(trained))
    questions = write_lines(tmp_path / "q.jsonl", [
        {"question": "What did Walsall decide?", "evidence": [{"file": "walsall.pdf", "quote": QUOTE}]}])
    models = PackagedModels("onnx", tmp_path / "cache", teaching_files=(questions,))
    name = models.adapt(tmp_path / "models", index_like_pairs(), notes.append)
    assert [what for *_, what in trained] == ["adapting the model"]
    assert any("not taught" in n for n in notes) and (tmp_path / "models" / name).is_dir()


def test_the_held_out_sets_are_taught_by_default_in_the_order_written_and_never_the_fixed_set():
    from retriever.settings import Settings

    names = [p.name for p in Settings().teaching_questions]
    assert names[:3] == ["holdout_questions.jsonl", "holdout2_questions.jsonl", "holdout3_questions.jsonl"]
    assert names[9] == "holdout10_questions.jsonl" and "questions.jsonl" not in names
    assert Settings(teaching_questions=[]).teaching_questions == []


def test_the_held_out_sets_are_split_in_runs_of_consecutive_sets_that_cover_them_once():
    from eval.teaching import folds

    sets = [f"set{i}" for i in range(1, 20)]
    runs = folds(sets, 4)
    assert [len(r) for r in runs] == [5, 5, 5, 4] and sum(runs, []) == sets
    assert [len(r) for r in folds(sets[:3], 4)] == [1, 1, 1]


def test_models_already_made_are_copied_for_reuse_and_half_made_ones_are_not(tmp_path):
    from eval.teaching import copy_models

    made = tmp_path / "served" / "models" / "m-adapted-0123456789ab"
    made.mkdir(parents=True)
    (made / "modules.json").write_text("[]")
    (made / "model.onnx").write_text("an export for another encoder")
    (tmp_path / "served" / "models" / ".tmp-m-adapted-ba9876543210").mkdir()
    copy_models([tmp_path / "served", tmp_path / "absent"], tmp_path / "fold")
    assert [p.name for p in (tmp_path / "fold" / "models").iterdir()] == ["m-adapted-0123456789ab"]
    assert [p.name for p in (tmp_path / "fold" / "models" / made.name).iterdir()] == ["modules.json"]


def test_a_fold_record_says_which_sets_its_index_may_score_untaught(tmp_path):
    from eval.teaching import fold_problem, write_fold_record

    first, second, third = (tmp_path / f"holdout{n}_questions.jsonl" for n in (1, 2, 3))
    assert "no readable fold.json" in fold_problem(tmp_path, [first])
    write_fold_record(tmp_path, [first], [second, third])
    assert fold_problem(tmp_path, [first]) is None
    assert "scores holdout1_questions.jsonl, not holdout2_questions.jsonl" in fold_problem(tmp_path, [second])
    write_fold_record(tmp_path, [first], [first, second])  # a model taught the set it would score
    assert "was taught holdout1_questions.jsonl" in fold_problem(tmp_path, [first])
