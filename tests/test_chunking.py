from ingest.chunking import ChunkingParams, chunk_pages, sentence_spans
from ingest.model import Page


def _pages(n_pages=4, sentences=30):
    pages = []
    for p in range(1, n_pages + 1):
        paras = []
        for para in range(3):
            paras.append(" ".join(f"Sentence {p}.{para}.{s} has some words about child safety here."
                                  for s in range(sentences // 3)))
        pages.append(Page(p, "Section heading\n\n" + "\n\n".join(paras)))
    return pages


def test_chunk_text_is_exactly_the_page_text_it_cites():
    pages = _pages()
    by_number = {p.number: p.text for p in pages}
    for chunk in chunk_pages(pages):
        pieces = [by_number[s.page][s.start:s.end] for s in chunk.spans]
        assert chunk.text == "\n\n".join(pieces)
        assert chunk.page_start == chunk.spans[0].page and chunk.page_end == chunk.spans[-1].page


def test_chunk_sizes_are_bounded():
    params = ChunkingParams(min_words=100, max_words=180, overlap_words=30)
    chunks = chunk_pages(_pages(), params)
    assert all(len(c.text.split()) <= params.max_words for c in chunks)
    assert sum(len(c.text.split()) >= 60 for c in chunks) >= len(chunks) - 4


def test_chunks_overlap_and_cover_every_sentence():
    pages = _pages(n_pages=2)
    chunks = chunk_pages(pages)
    text = " ".join(c.text for c in chunks)
    for page in pages:
        for start, end in sentence_spans(page.text):
            assert page.text[start:end] in text
    overlaps = sum(1 for a, b in zip(chunks, chunks[1:]) if b.text.split(".")[0] in a.text)
    assert overlaps >= 1


def test_chunk_crossing_a_page_break_records_both_pages():
    pages = [Page(1, "A sentence that starts on the first page and is long enough. " * 5),
             Page(2, "It carries on here on the second page with more words. " * 5)]
    chunks = chunk_pages(pages, ChunkingParams(min_words=200, max_words=300, overlap_words=0))
    assert len(chunks) == 1
    assert (chunks[0].page_start, chunks[0].page_end) == (1, 2)


def test_heading_is_kept_with_the_chunk_but_not_in_its_quote():
    pages = [Page(1, "Taxi Licensing\n\n" + "Drivers must be trained on safeguarding every year. " * 40)]
    chunks = chunk_pages(pages)
    assert chunks[1].heading == "Taxi Licensing"
    assert not chunks[1].text.startswith("Taxi Licensing")


def test_overlong_run_without_sentence_breaks_is_split():
    pages = [Page(1, " ".join(["cell"] * 1000))]
    chunks = chunk_pages(pages, ChunkingParams(max_words=180))
    assert all(len(c.text.split()) <= 180 for c in chunks)
    assert len(chunks) >= 5


def test_sentence_spans_skip_abbreviations():
    text = "Cllr. Smith spoke, e.g. on taxis. The Board agreed."
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["Cllr. Smith spoke, e.g. on taxis.", "The Board agreed."]
