from ingest.windows import answer_windows


def test_windows_cover_sentences_in_order_without_overlap():
    text = ("Short one. " + "This sentence has quite a few words in it to make it long enough alone here. " * 3).strip()
    windows = answer_windows(text, min_words=8, max_words=30)
    assert windows[0][0] == 0 and windows[-1][1] == len(text)
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))
    # "Short one." is joined with the sentence after it: a window says something on its own.
    assert text[windows[0][0]:windows[0][1]].startswith("Short one. This sentence")


def test_a_text_without_sentence_breaks_is_one_window():
    assert answer_windows("Family Connect front door") == [(0, len("Family Connect front door"))]


def test_a_paragraphs_short_last_sentence_does_not_run_into_the_next_paragraph():
    text = ("The board met in July and agreed a plan for the year ahead with partners. It reports in May.\n\n"
            "Recommendation 20.\n\nLicensing to ensure that all taxi drivers complete safeguarding training.")
    windows = [text[s:e] for s, e in answer_windows(text, min_words=8, max_words=40)]
    assert "It reports in May." in windows
    assert any(w.startswith("Recommendation 20.") and "taxi drivers" in w for w in windows)


def test_footnotes_are_not_answer_windows():
    text = ("Short heading\n\n³¹ www.natcen.ac.uk/media/539627/report.pdf; www.barnardos.org.uk/hidden.pdf\n\n"
            "2.4.17 Therefore, there are a total of 132 children in Birmingham who are at risk of being exploited.\n\n"
            "² NSPCC, Grooming (2015) available online")
    windows = [text[s:e] for s, e in answer_windows(text, min_words=8, max_words=40)]
    assert windows == ["Short heading", "2.4.17 Therefore, there are a total of 132 children in Birmingham who are "
                       "at risk of being exploited."]
    assert answer_windows("¹ Statutory definition, www.gov.uk/consultation.pdf") == []
