from eval.adaptation import ClozePair, in_batch_distinct, inverse_cloze_pairs

CONTEXT = " ".join(f"word{i}" for i in range(40))


def test_a_window_is_paired_with_its_chunk_without_it():
    window = "The panel meets every month to review each case."
    text = f"{CONTEXT}. {window} {CONTEXT}."
    start = text.index(window)
    pairs = inverse_cloze_pairs({7: (text, "Governance")}, [(7, start, start + len(window))])
    assert pairs == [ClozePair(window, f"Governance\n{CONTEXT}. {CONTEXT}.", 7)]
    assert window not in pairs[0].context


def test_short_windows_and_thin_contexts_are_skipped():
    text = f"Heading. {CONTEXT}"
    assert inverse_cloze_pairs({1: (text, "")}, [(1, 0, 8)]) == []  # "Heading.": a few words
    short = "Only a few words are left around this sentence of the chunk."
    assert inverse_cloze_pairs({2: (short + " Five more words stay here.", "")}, [(2, 0, len(short))]) == []


def test_a_batch_keeps_one_window_of_each_chunk():
    batch = [ClozePair("a", "x", 1), ClozePair("b", "x", 1), ClozePair("c", "y", 2)]
    assert [p.anchor for p in in_batch_distinct(batch)] == ["a", "c"]
