import pytest

from retriever.spelling import (Correction, EnglishWords, american_spellings, corrected_question, english_words,
                                one_edit_away, report_words, suggest_corrections)

REPORTS = report_words([
    "Operation Chalice led to convictions in Telford.",
    "Operation Chalice: seven men were convicted.",
    "Walsall and Telford; a kid at risk; CSE champions.",
    "Rapes reported to the police. Chalk and Chance.",
])
ENGLISH = frozenset({"operation", "what", "vapes", "shops", "results"})


def suggest(question_words: list[str]) -> list[Correction]:
    return suggest_corrections(question_words, lambda: REPORTS, ENGLISH)


def test_one_edit_away_drops_adds_changes_or_swaps_one_letter_and_keeps_the_first():
    edits = one_edit_away("chalise")
    assert {"chalice", "chalie", "chaliese", "chailse"} <= edits  # changed, dropped, added, swapped
    assert "chalise" not in edits
    assert all(e.startswith("c") for e in edits) and "halise" not in edits


def test_report_words_count_the_texts_that_hold_each_word():
    assert REPORTS.counts["chalice"] == 2 and REPORTS.counts["telford"] == 2 and REPORTS.counts["seven"] == 1
    assert REPORTS.hold("chalice") and REPORTS.hold("kids")  # another form the search matches
    assert not REPORTS.hold("chalise")


def test_a_word_no_report_holds_and_english_lacks_gets_the_report_word_one_edit_away():
    assert suggest(["operation", "chalise"]) == [Correction("chalise", "chalice")]
    assert suggest(["walsal", "telfrod"]) == [Correction("walsal", "walsall"), Correction("telfrod", "telford")]


def test_words_the_reports_hold_english_words_and_short_words_are_left_alone():
    assert suggest(["chalice", "kids", "telford's"]) == []  # held, in one form or another
    assert suggest(["vapes", "shops"]) == []  # English, though "rapes" is one edit from "vapes"
    assert suggest(["csee"]) == [Correction("csee", "cse")]
    assert suggest(["cs", "cxe", "2015", "chalisé"]) == []  # too short, digits, not plain letters


def test_a_contraction_typed_without_its_apostrophe_is_not_a_slip():
    words = report_words(["the work was done", "I've seen it", "young people"])
    assert suggest_corrections(["dont", "ive", "theyre", "thats", "whod"], lambda: words, ()) == []
    assert suggest_corrections(["dobe"], lambda: words, ()) == [Correction("dobe", "done")]  # a slip still is


def test_a_clipped_word_is_not_a_slip_but_a_clipped_slip_is_completed():
    words = report_words(["administration of the panel", "we admit it", "the chalice operation", "polices"])
    assert suggest_corrections(["admin"], lambda: words, ()) == []  # "administration" clipped, not "admit"
    assert suggest_corrections(["chalic"], lambda: words, ()) == [Correction("chalic", "chalice")]
    assert suggest_corrections(["admjt"], lambda: words, ()) == [Correction("admjt", "admit")]
    assert words.begun_by("admin", 3) and not words.begun_by("chalic", 3) and not words.begun_by("zz", 1)
    longer = report_words(["chalice", "chalicewards", "chalk"])
    assert suggest_corrections(["chalic"], lambda: longer, ()) == [
        Correction("chalic", "chalice")]  # begins "chalicewards", and "chalice" completes it


def test_the_first_letter_is_kept():
    assert suggest(["bapes"]) == []  # "rapes" is one edit away, but from another first letter


def test_the_word_most_texts_hold_wins_then_the_first_alphabetically():
    words = report_words(["chalk", "chalk", "chance"])
    assert suggest_corrections(["chalke"], lambda: words, ()) == [Correction("chalke", "chalk")]
    tie = report_words(["bat", "cat", "bag"])
    assert suggest_corrections(["baet"], lambda: tie, ()) == [Correction("baet", "bat")]
    assert suggest_corrections(["bagt"], lambda: tie, ()) == [Correction("bagt", "bag")]
    assert suggest_corrections(["bxx"], lambda: tie, ()) == []  # nothing one edit away: nothing offered


def test_the_reports_words_are_read_only_for_a_word_long_enough_to_judge():
    def unread():
        raise AssertionError("read")

    assert suggest_corrections(["cse", "mash", "2015"][:1], unread, ENGLISH) == []
    with pytest.raises(AssertionError):
        suggest_corrections(["chalise"], unread, ENGLISH)


def test_the_suggested_question_keeps_the_typed_case_possessives_and_everything_else():
    corrections = [Correction("chalise", "chalice"), Correction("walsal", "walsall")]
    suggestion = corrected_question("What did WALSAL say of Operation Chalise's results, and chalise?", corrections)
    assert suggestion.question == "What did WALSALL say of Operation Chalice's results, and chalice?"
    assert suggestion.to_dict() == {"question": suggestion.question, "corrections": [
        {"typed": "chalise", "suggested": "chalice"}, {"typed": "walsal", "suggested": "walsall"}]}
    assert corrected_question("Operation Chalise", []) is None


def test_english_words_are_the_spell_checkers_in_british_spelling_too():
    assert len(english_words()) > 100_000
    assert "neighbour" not in english_words()  # the list spells the American way
    english = EnglishWords()
    assert all(w in english for w in ("children", "kids", "neighbour", "behaviour", "organisation", "centre",
                                      "programme", "defence", "paediatric", "counselling", "analysed", "prioritise"))
    assert all(w not in english for w in ("chalise", "safegaurding", "wolverhamton", "walsal", "exploitaton"))


def test_american_spellings_of_british_words():
    assert american_spellings("neighbourhoods") == {"neighborhoods"}
    assert american_spellings("organisations") == {"organizations"}
    assert american_spellings("centres") == {"centers"}
    assert american_spellings("travelled") == {"traveled"}
    assert american_spellings("paediatric") == {"pediatric"}
    assert "colorize" in american_spellings("colourise")  # both patterns at once
    assert american_spellings("chalice") == set() and american_spellings("our") == set()
