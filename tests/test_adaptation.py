import random
from dataclasses import replace

import pytest

from retriever.adaptation import (AdaptationRecipe, ClozePair, adapt_into, adapted_name, contains_anchor,
                                  in_batch_distinct, inverse_cloze_pairs, model_family, sample_pairs,
                                  training_batches)

CONTEXT = " ".join(f"word{i}" for i in range(40))


def test_a_window_is_paired_with_its_chunk_without_it():
    window = "The panel meets every month to review each case."
    text = f"{CONTEXT}. {window} {CONTEXT}."
    start = text.index(window)
    pairs = inverse_cloze_pairs({7: (text, "Governance")}, [(7, start, start + len(window))],
                                reports={7: "walsall-update"}, councils={7: "Walsall"})
    assert list(pairs) == [ClozePair(window, f"Governance\n{CONTEXT}. {CONTEXT}.", 7, "walsall-update", "Walsall")]
    assert len(pairs) == 1 and pairs[0] == pairs[-1] == pairs[:1][0]  # made when read, the same each time
    assert window not in pairs[0].context


def test_short_windows_and_thin_contexts_are_skipped():
    text = f"Heading. {CONTEXT}"
    assert list(inverse_cloze_pairs({1: (text, "")}, [(1, 0, 8)])) == []  # "Heading.": a few words
    short = "Only a few words are left around this sentence of the chunk."
    assert list(inverse_cloze_pairs({2: (short + " Five more words stay here.", "")}, [(2, 0, len(short))])) == []


def test_each_batch_holds_one_reports_pairs_in_the_order_drawn_and_the_batches_are_shuffled_by_the_seed():
    pairs = [ClozePair(f"w{i}", f"c{i}", i, "big" if i % 3 else "small") for i in range(30)]
    recipe = AdaptationRecipe(batch_size=4)
    batches = training_batches(pairs, recipe)
    assert all(len({p.report for p in batch}) == 1 for batch in batches)
    assert all(len(batch) <= 4 for batch in batches)
    assert sorted(p.chunk_id for b in batches for p in b) == list(range(30))  # every pair, once
    for report in ("big", "small"):  # each report's pairs, cut in the order they were drawn
        own = sorted((b for b in batches if b[0].report == report), key=lambda b: pairs.index(b[0]))
        assert [p for b in own for p in b] == [p for p in pairs if p.report == report]
    assert batches == training_batches(pairs, recipe)
    assert batches != training_batches(pairs, replace(recipe, seed=1))
    mixed = training_batches(pairs, replace(recipe, batches="mixed"))
    assert mixed == [pairs[i:i + 4] for i in range(0, 30, 4)]
    with pytest.raises(ValueError, match="batches"):
        AdaptationRecipe(batches="by council")


def test_reports_with_fewer_pairs_than_a_batch_share_batches_a_councils_together():
    def pairs_of(report, council, count, first):
        return [ClozePair(f"w{i}", f"c{i}", i, report, council) for i in range(first, first + count)]

    big = pairs_of("big", "Walsall", 10, 0)
    drawn = [big[0], *pairs_of("s1", "Telford", 3, 10), *big[1:5], *pairs_of("s2", "Walsall", 2, 13),
             *big[5:], *pairs_of("s3", "Telford", 3, 15)]
    batches = training_batches(drawn, AdaptationRecipe(batch_size=4))
    assert sorted(p.chunk_id for b in batches for p in b) == list(range(18))  # every pair, once
    own = sorted((b for b in batches if b[0].report == "big"), key=lambda b: b[0].chunk_id)
    assert [len(b) for b in own] == [4, 4, 2] and all(p.report == "big" for b in own for p in b)
    pooled = sorted((b for b in batches if b[0].report != "big"), key=lambda b: b[0].chunk_id)
    # a report of two or three pairs no longer makes a batch of its own: the pool is cut into full batches,
    # the council's reports side by side (Telford's s1 and s3 together), each report's pairs in the order drawn
    assert [[p.report for p in b] for b in pooled] == [["s1", "s1", "s1", "s3"], ["s3", "s3", "s2", "s2"]]
    assert [p.chunk_id for b in pooled for p in b] == [10, 11, 12, 15, 16, 17, 13, 14]
    unpooled = training_batches(drawn, AdaptationRecipe(batch_size=4, batches="report-unpooled"))
    assert sorted(len(b) for b in unpooled) == [2, 2, 3, 3, 4, 4] and all(len({p.report for p in b}) == 1
                                                                          for b in unpooled)
    # one report too small for a batch, as in the shipped reports, keeps its batch where it was drawn
    alone = training_batches(big + pairs_of("s1", "Telford", 3, 10), AdaptationRecipe(batch_size=4, seed=3))
    assert sorted(len(b) for b in alone) == [2, 3, 4, 4] and any({p.report for p in b} == {"s1"} for b in alone)


def test_the_many_short_reports_simulation_counts_each_run_of_chunks_as_a_report(tmp_path):
    from eval.adaptation import SplitReports

    trained_on = []

    class Models:
        def adapt(self, models_dir, pairs, log):
            trained_on.extend(pairs)
            return "adapted"

    pairs = [ClozePair("a window", "its chunk", i, "walsall-update", "Walsall") for i in (0, 4, 5, 11)]
    assert SplitReports(Models(), 5).adapt(tmp_path, pairs, print) == "adapted"
    assert [p.report for p in trained_on] == ["walsall-update#0", "walsall-update#0", "walsall-update#1",
                                              "walsall-update#2"]


def test_a_context_holding_another_pairs_window_is_not_its_wrong_answer():
    anchors = ["The panel meets  monthly.", "Officers report to Cabinet."]
    contexts = ["Officers report to Cabinet. More text.", "Intro. the panel meets\nmonthly. Then more."]
    # anchor 0 sits in context 1 (an overlapping neighbour), case and spacing aside; anchor 1 in context 0
    assert contains_anchor(anchors, contexts) == [[False, True], [True, False]]
    assert contains_anchor(["a window"], ["a window and more"]) == [[False]]  # its own context never counts


def test_a_batch_keeps_one_window_of_each_chunk():
    batch = [ClozePair("a", "x", 1), ClozePair("b", "x", 1), ClozePair("c", "y", 2)]
    assert [p.anchor for p in in_batch_distinct(batch)] == ["a", "c"]


PAIRS = [ClozePair(f"window {i}", f"context {i}", i) for i in range(50)]


def test_the_sample_is_the_recipes_size_drawn_by_its_seed():
    recipe = AdaptationRecipe(pairs=10)
    sample = sample_pairs(PAIRS, recipe)
    assert len(sample) == 10 and len(set(sample)) == 10 and set(sample) <= set(PAIRS)
    assert sample == sample_pairs(PAIRS, recipe)  # the same every time
    assert sample != PAIRS[:10] and sample != sample_pairs(PAIRS, replace(recipe, seed=1))
    assert sorted(sample_pairs(PAIRS[:5], recipe), key=PAIRS.index) == PAIRS[:5]  # fewer: all of them
    shuffled = list(PAIRS)
    random.Random(recipe.seed).shuffle(shuffled)
    assert sample == shuffled[:10]  # the draw of shuffling the pairs themselves, as the models before were trained


def test_the_name_says_what_made_the_model():
    recipe = AdaptationRecipe()
    name = adapted_name("base", PAIRS, recipe)
    assert name.startswith("base-adapted-") and name == adapted_name("base", list(PAIRS), recipe)
    assert name != adapted_name("base", PAIRS[1:], recipe)
    assert name != adapted_name("base", PAIRS, replace(recipe, learning_rate=1e-5))
    assert name != adapted_name("other", PAIRS, recipe)


@pytest.mark.parametrize("name, family", [
    ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
    ("all-MiniLM-L6-v2-int8pc2", "all-MiniLM-L6-v2-int8pc2"),
    ("all-MiniLM-L6-v2-adapted-0123456789ab", "all-MiniLM-L6-v2-adapted"),
    ("all-MiniLM-L6-v2-adapted-0123456789ab-int8pc2", "all-MiniLM-L6-v2-adapted-int8pc2"),
])
def test_a_models_family_drops_the_digest_only(name, family):
    assert model_family(name) == family


def test_a_model_made_for_the_same_pairs_is_reused_not_trained_again(tmp_path, monkeypatch):
    from retriever import adaptation

    recipe = AdaptationRecipe(pairs=10)
    name = adapted_name("base", sample_pairs(PAIRS, recipe), recipe)
    (tmp_path / name).mkdir()
    (tmp_path / name / "modules.json").write_text("[]")
    monkeypatch.setattr(adaptation, "train", lambda *a, **k: pytest.fail("trained again"))
    assert adapt_into(tmp_path, "unused", "base", PAIRS, recipe) == name


def test_a_training_that_fails_leaves_no_model_behind(tmp_path, monkeypatch):
    from retriever import adaptation

    def failing(base, pairs, out_dir, *args, **kwargs):
        (out_dir / "half").mkdir(parents=True)
        raise RuntimeError("killed")

    monkeypatch.setattr(adaptation, "train", failing)
    with pytest.raises(RuntimeError):
        adapt_into(tmp_path, "unused", "base", PAIRS, AdaptationRecipe(pairs=10))
    assert list(tmp_path.iterdir()) == []
