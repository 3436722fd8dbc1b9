from ingest.chunking import ChunkingParams, chunk_pages
from ingest.model import Page
from ingest.tables import row_starts

FILLER = " ".join(["The partners will report progress to the board every quarter."] * 4)


def _labels(pages):
    return [(r.page, r.label) for r in row_starts(pages)]


def test_labelled_rows_are_found_where_their_paragraphs_start():
    page = Page(3, "Recommendation Responsibility Completion Date\n\n"
                   "R01 That:\n\n• the web site be developed.\n\n"
                   "R02 That schools review their safeguarding training.\n\n"
                   "Recommendation 7. The Head of Safeguarding to report every six months.\n\n"
                   "Recommendation 12: Parent Support Group\n\n"
                   "As set out in\n\nRecommendation 2 above) parents should be told.\n\n"
                   "Recommendation 6\n\nRecommendation 1, the board has asked for figures.")
    found = row_starts([page])
    assert [r.label for r in found] == ["R01 That:", "R02 That schools review their safeguarding training.",
                                        "Recommendation 7. The Head of Safeguarding to report every six months.",
                                        "Recommendation 12: Parent Support Group"]
    for row in found:
        assert page.text[row.start:].startswith(row.label)


def test_bare_row_numbers_count_only_in_a_table_and_only_in_sequence():
    header = "Rec No Recommendation Lead agency Progress update\n\n"
    pages = [
        Page(1, "29 March 2018\n\n3 Multi-Agency Working\n\nThe report sets out the background."),  # no table here
        Page(2, header + "1 Initial work to identify scale of CSE That the partners gather data.\n\n" + FILLER),
        Page(3, header + "2 Ongoing Monitoring All partners share figures.\n\n"
                         "4 Impact of Cuts The Committee recommends a review.\n\n"
                         "33 Horseferry Road London\n\n"  # an address: does not continue the numbering
                         "5 Links to Other Policies The strategy is linked."),
    ]
    assert [label.split()[0] for _, label in _labels(pages)] == ["1", "2", "4", "5"]


def test_a_row_starts_its_own_chunk_and_labels_the_chunks_after_it():
    header = "Recommendation Lead agency Progress update\n\n"
    long_row = " ".join(f"Progress point {i} was reported to the partnership board in the autumn." for i in range(12))
    pages = [Page(1, header + "Earlier text about the action plan and how it was agreed by the board.\n\n"
                              "R01 That the council trains every taxi driver in safeguarding.\n\n" + long_row),
             Page(2, long_row + "\n\nR02 That schools teach healthy relationships.\n\n" + long_row)]
    chunks = chunk_pages(pages, ChunkingParams(min_words=20, max_words=60, overlap_words=10))
    starts = [c for c in chunks if c.text.startswith(("R01", "R02"))]
    assert [c.text[:3] for c in starts] == ["R01", "R02"]
    r01 = chunks.index(starts[0])
    assert "Earlier text" not in starts[0].text  # the row is not run into what came before
    between = chunks[r01 + 1:chunks.index(starts[1])]
    assert between and all(c.heading == "R01 That the council trains every taxi driver in safeguarding."
                           for c in between)
    assert starts[1].heading == ""  # it opens with its own label
    after = chunks[chunks.index(starts[1]) + 1:]
    assert after and all(c.heading == "R02 That schools teach healthy relationships." for c in after)
