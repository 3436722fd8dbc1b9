from collections import Counter

from ingest.clean import clean_page, clean_pages, running_lines


def test_running_header_and_page_footer_are_removed():
    bodies = ["Apples are discussed.", "Buses are discussed.", "Cats are discussed.", "Dogs are discussed."]
    raw = [f"Council Report Title\nPage {n} of 4\n{body}\nFooter line" for n, body in enumerate(bodies, 1)]
    cleaned = clean_pages(raw)
    for n, page in enumerate(cleaned, start=1):
        assert "Council Report Title" not in page
        assert "Page" not in page
        assert "Footer line" not in page
        assert page == bodies[n - 1]


def test_lines_repeating_on_few_pages_are_kept():
    raw = ["Title\nUnique one", "Title\nUnique two", "Other\nUnique three", "Other2\nUnique four",
           "Other3\nUnique five"]
    assert running_lines(raw) == set()


def test_hyphenated_line_end_joined_when_the_document_spells_the_word_whole():
    vocabulary = Counter({"exploitation": 3})
    text = clean_page("the risk of sexual exploi-\ntation is high in the city and the region", set(), vocabulary)
    assert "exploitation is high" in text


def test_authors_hyphen_is_kept():
    text = clean_page("work in a multi-\nagency way with partners across the whole area", set(), Counter())
    assert "multi-agency way" in text


def test_whitespace_is_normalised_and_words_kept():
    text = clean_page("The   Council\tagreed  to act.", set(), Counter())
    assert text == "The Council agreed to act."


def test_short_line_ends_a_paragraph():
    raw = ("This is a long line of text that runs the whole width of the page and more words\n"
           "and it ends here.\n"
           "This is a long line of text that starts the next paragraph of the report here\n"
           "and ends it.")
    assert clean_page(raw, set(), Counter()).count("\n\n") == 1
