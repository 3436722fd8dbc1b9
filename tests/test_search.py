import pytest

from retriever.search import Searcher, UnknownFilter


def test_result_contract(searcher):
    answer = searcher.search("taxi licensing hackney carriage", k=3).to_dict()
    assert set(answer) >= {"question", "answered", "passages"}
    assert answer["question"] == "taxi licensing hackney carriage"
    assert 1 <= len(answer["passages"]) <= 3
    for rank, p in enumerate(answer["passages"], start=1):
        assert p["rank"] == rank
        assert p["text"][p["answer_start"]:p["answer_end"]] == p["answer"]
        assert p["answer"].strip()
        assert 1 <= p["page_start"] <= p["answer_page"] <= p["page_end"]
        assert set(p["document"]) == {"id", "file", "title", "council", "date"}
    scores = [p["score"] for p in answer["passages"]]
    assert scores == sorted(scores, reverse=True)


def test_passage_text_is_the_reports_own_words(searcher):
    index = searcher.index
    for p in searcher.search("counselling support for victims", k=5).passages:
        pages = " ".join(index.page_text(p.document.id, n) for n in range(p.page_start, p.page_end + 1))
        for piece in p.text.split("\n\n"):
            assert piece in pages


def test_finds_the_right_page(searcher):
    top = searcher.search("Multi-Agency Safeguarding Hub MASH Family Connect", k=1).passages[0]
    assert top.document.id == "taxi" and top.answer_page == 3
    assert "Multi-Agency" in top.answer or "Family Connect" in top.answer


def test_answer_marks_the_sentence_that_answers(searcher):
    p = searcher.search("How many young people were at risk of sexual exploitation?", k=1).passages[0]
    assert "72 young people" in p.answer


def test_council_filter(searcher):
    answer = searcher.search("safeguarding", k=10, council="wolverhampton")
    assert answer.passages and {p.document.council for p in answer.passages} == {"Wolverhampton"}


def test_document_filter(searcher):
    answer = searcher.search("safeguarding", k=10, document="taxi.pdf")
    assert {p.document.id for p in answer.passages} == {"taxi"}


def test_unknown_filter_names_the_valid_ones(searcher):
    with pytest.raises(UnknownFilter) as err:
        searcher.search("taxi", council="Atlantis")
    assert "Telford & Wrekin" in str(err.value) and "Wolverhampton" in str(err.value)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_returns_cited_passages(searcher, mode):
    answer = searcher.with_config(mode=mode).search("taxi licensing policy review", k=2)
    assert answer.passages and answer.passages[0].document.id == "taxi"


def test_fts_syntax_in_the_question_is_harmless(searcher):
    for q in ['"unbalanced', "taxi AND NEAR(", "* OR -", "drop table chunks;--", "'); DELETE FROM chunks"]:
        searcher.with_config(mode="lexical").search(q, k=2)
