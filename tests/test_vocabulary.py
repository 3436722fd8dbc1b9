"""The reports' own vocabulary (ingest/vocabulary.py): each acronym's long form as the report writes it, and the
verbatim text that defines it, from its first letter."""
from __future__ import annotations

from ingest.model import Page
from ingest.vocabulary import find_terms, long_form_for


def quotes(pages: list[Page]) -> dict[tuple[str, str], str]:
    texts = {p.number: p.text for p in pages}
    return {(t.term, t.expansion): texts[t.page][t.quote_start:t.quote_end] for t in find_terms(pages)}


def test_the_three_ways_a_report_defines_an_acronym():
    pages = [
        Page(1, "Glossary\nCSE Child Sexual Exploitation\nLSCB Local Safeguarding Children Board\n\nIntroduction"),
        Page(2, "Cases go to the Multi-Agency Safeguarding Hub (MASH) first. The team works with CEOP (Child "
                "Exploitation and Online Protection Centre) on online cases."),
    ]
    found = quotes(pages)
    assert found[("CSE", "Child Sexual Exploitation")] == "CSE Child Sexual Exploitation"
    assert found[("LSCB", "Local Safeguarding Children Board")] == "LSCB Local Safeguarding Children Board"
    assert found[("MASH", "Multi-Agency Safeguarding Hub")] == \
        "Cases go to the Multi-Agency Safeguarding Hub (MASH) first."
    assert found[("CEOP", "Child Exploitation and Online Protection Centre")].startswith("The team works with CEOP")


def test_a_long_sentence_is_quoted_from_the_long_forms_first_letter():
    # Over 320 characters, the quote is the definition itself, not the sentence: it must start where the long
    # form does ("Multi-Agency ...", not "ulti-Agency ..."), however many spaces stand before the bracket.
    filler = "with partners from health, education, the police and the voluntary sector " * 5
    for gap in (" ", "  ", "\t"):
        text = f"The council set up a {filler}and a Multi-Agency Safeguarding Hub{gap}(MASH) in January 2016."
        found = quotes([Page(4, text)])
        quote = found[("MASH", "Multi-Agency Safeguarding Hub")]
        assert quote.startswith("Multi-Agency Safeguarding Hub") and quote.endswith("(MASH)"), (gap, quote)


def test_a_long_form_does_not_end_in_a_minor_word():
    # a report's slip: "the Multi-Agency Safeguarding Hub and (MASH) other awareness raising activities"
    text = "3.17 The work of the Multi-Agency Safeguarding Hub and (MASH) other awareness raising activities is expected."
    assert [(t.term, t.expansion) for t in find_terms([Page(5, text)])] == [("MASH", "Multi-Agency Safeguarding Hub")]
    assert long_form_for("MASH", "the Multi-Agency Safeguarding Hub and the ") == "Multi-Agency Safeguarding Hub"
    # a minor word stays where the words before it do not spell the acronym ("Department" is not "DO")
    assert long_form_for("DO", "the Department of ") == "Department of"
    assert long_form_for("MASH", "the team and the ") is None


def test_a_sentence_is_quoted_rather_than_a_line_of_the_contents():
    pages = [
        Page(1, "Contents\n3.2 Birmingham Safeguarding Children Board (BSCB) 40\n3.5 Multi Agency Safeguarding Hub "
                "(MASH) 44\n4.1 Youth Offending Service (YOS) 51"),
        Page(40, "3.2.1 The Birmingham Safeguarding Children Board (BSCB) holds partners to account."),
        Page(44, "3.5.1 Referrals go to the multi-agency safeguarding hub (MASH) in the first instance."),
    ]
    found = quotes(pages)
    assert found == {
        ("BSCB", "Birmingham Safeguarding Children Board"):
            "3.2.1 The Birmingham Safeguarding Children Board (BSCB) holds partners to account.",
        # one entry for "Multi Agency" and "multi-agency": the sentence's spelling and quote
        ("MASH", "multi-agency safeguarding hub"):
            "3.5.1 Referrals go to the multi-agency safeguarding hub (MASH) in the first instance.",
        # defined nowhere else: the contents line stands
        ("YOS", "Youth Offending Service"): "4.1 Youth Offending Service (YOS) 51",
    }
    pages_of = {t.term: t.page for t in find_terms(pages)}
    assert pages_of == {"BSCB": 40, "MASH": 44, "YOS": 1}


def test_one_entry_however_a_report_spells_a_long_form():
    text = ("The Wolverhampton Safeguarding Children's Board (WSCB) met. The Wolverhampton Safeguarding Children "
            "Board (WSCB) reported. Designated Safeguarding Leads (DSL) attend. The Designated Safeguarding Lead "
            "(DSL) signs. Team Safeguarding Voice[©] (TSV) and Team Safeguarding Voice (TSV) are one. Telford & "
            "Wrekin Safeguarding Children Board (TWSCB) and Telford and Wrekin Safeguarding Children Board (TWSCB) "
            "too. The Crime Prevention Unit (CPU) differs from the Child Protection Unit (CPU).")
    terms = [(t.term, t.expansion) for t in find_terms([Page(1, text)])]
    # the first spelling of each stands for the others
    assert terms == [("WSCB", "Wolverhampton Safeguarding Children's Board"), ("DSL", "Designated Safeguarding Leads"),
                     ("TSV", "Team Safeguarding Voice[©]"), ("TWSCB", "Telford & Wrekin Safeguarding Children Board"),
                     ("CPU", "Crime Prevention Unit"), ("CPU", "Child Protection Unit")]


def test_a_glossary_in_two_columns_read_as_one_line_gives_both_entries():
    page = Page(21, "Glossary\nNSPCC National Society for the Prevention of Cruelty to Children ISVA Intimate Sexual "
                    "Violence Advisor\nMWN UK Muslim Women's Network UK\nCMOG CSE and Missing Operational Group")
    assert quotes([page]) == {
        ("NSPCC", "National Society for the Prevention of Cruelty to Children"):
            "NSPCC National Society for the Prevention of Cruelty to Children",
        ("ISVA", "Intimate Sexual Violence Advisor"): "ISVA Intimate Sexual Violence Advisor",
        ("MWN UK", "Muslim Women's Network UK"): "MWN UK Muslim Women's Network UK",
        # an acronym inside a long form that its next words do not spell is part of it
        ("CMOG", "CSE and Missing Operational Group"): "CMOG CSE and Missing Operational Group",
    }


def test_a_glossary_term_of_an_acronym_and_a_word_keeps_the_word_out_of_its_long_form():
    # "MASE Meeting  Multi Agency Sexual Exploitation Meeting": the term is "MASE Meeting", so the long form is not
    # "Meeting Multi Agency ..."; the quote is the glossary line, and the report's other spelling is the same entry.
    pages = [Page(2, "Glossary\nMASE Meeting Multi Agency Sexual Exploitation Meeting\nCSE Child Sexual Exploitation"),
             Page(9, "Cases go to Multi-Agency Sexual Exploitation Meetings (MASE) each month.")]
    found = quotes(pages)
    assert found == {("MASE", "Multi Agency Sexual Exploitation Meeting"):
                     "MASE Meeting Multi Agency Sexual Exploitation Meeting",
                     ("CSE", "Child Sexual Exploitation"): "CSE Child Sexual Exploitation"}
    # a long form that only starts with a word of its own is left whole
    found = quotes([Page(1, "Glossary\nDO Department Of Open Department\nCSE Child Sexual Exploitation")])
    assert ("DO", "Department Of Open Department") in found
