"""BM25 from postings in memory (retriever.bm25) against FTS5's own bm25(): the same chunks, scores and order."""
from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from retriever import bm25
from retriever.lexical import fts_match
from retriever.store import (FTS_COLUMN_WEIGHTS, POSTINGS_DIR, SCHEMA, IndexUnavailable, current_build, fts_tokens,
                             lexical_sql, open_index)

WORDS = "taxi licensing safeguarding hub referral police exploitation child board training review decide".split()


def _fts_ranking(conn, terms, k, doc_ids=None):
    sql = lexical_sql(None if doc_ids is None else len(doc_ids))
    return [(r[0], -r[1]) for r in conn.execute(sql, [fts_match(terms), *(doc_ids or []), k])]


@pytest.fixture
def random_fts(tmp_path):
    """An FTS5 table in the index's own layout: 300 chunks of random words (repeats, headings, ties, gaps in ids)."""
    rng = np.random.default_rng(7)
    conn = sqlite3.connect(tmp_path / "fts.sqlite")
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO documents (id, file, sha256, meta_hash, title, council, council_full, body, date, "
                 "description, page_count, also_files, indexed_at) VALUES ('a','a.pdf','','','','','','','','',1,'[]',''),"
                 "('b','b.pdf','','','','','','','','',1,'[]','')")
    for i in range(300):
        text = " ".join(rng.choice(WORDS + ["decided", "decision", "the", "of"], int(rng.integers(0, 30))))
        heading = " ".join(rng.choice(WORDS, int(rng.integers(0, 3))))
        conn.execute("INSERT INTO chunks (id, doc_id, ordinal, text, heading, page_start, page_end, spans, kind) "
                     "VALUES (?,?,?,?,?,1,1,'[]','')", (3 * i + 1, "ab"[i % 2], i, text, heading))
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    conn.commit()
    yield conn
    conn.close()


@pytest.mark.parametrize("terms", [["taxi"], ["taxi", "licensing"], ["decide", "decided", "decision"],
                                   ["safeguarding", "hub", "police", "board"], ["child", "unknownword"],
                                   ["the", "of", "training"]])
@pytest.mark.parametrize("k", [1, 5, 50, 1000])
def test_ranking_matches_fts5(random_fts, terms, k):
    postings = bm25.read_postings(random_fts, "chunks_fts", FTS_COLUMN_WEIGHTS)
    ours = bm25.search(postings, [t for term in terms for t in fts_tokens(term)], k)
    theirs = _fts_ranking(random_fts, terms, k)
    assert [i for i, _ in ours] == [i for i, _ in theirs]
    assert np.allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-12, atol=0)


def test_filter_to_documents_matches_fts5(random_fts):
    postings = bm25.read_postings(random_fts, "chunks_fts", FTS_COLUMN_WEIGHTS)
    in_a = np.isin(postings.chunk_ids, [r[0] for r in random_fts.execute("SELECT id FROM chunks WHERE doc_id='a'")])
    ours = bm25.search(postings, ["taxi", "review"], 20, allowed_rows=in_a)
    assert [i for i, _ in ours] == [i for i, _ in _fts_ranking(random_fts, ["taxi", "review"], 20, ["a"])]
    assert bm25.search(postings, ["taxi"], 20, allowed_rows=np.zeros(len(in_a), dtype=bool)) == []


def test_postings_survive_save_and_load(random_fts, tmp_path):
    postings = bm25.read_postings(random_fts, "chunks_fts", FTS_COLUMN_WEIGHTS)
    bm25.save_postings(postings, tmp_path / "p")
    loaded = bm25.load_postings(tmp_path / "p")
    assert bm25.search(loaded, ["taxi", "board"], 10) == bm25.search(postings, ["taxi", "board"], 10)
    assert bm25.load_postings(tmp_path / "missing") is None


def _same_postings(a, b):
    for name in bm25.FILES:
        x, y = getattr(a, name), getattr(b, name)
        assert x.tolist() == y.tolist(), name


@pytest.mark.parametrize("split", [0, 1, 150, 299, 300])
def test_postings_merged_from_two_parts_are_those_of_the_whole(random_fts, split):
    """A build that adds chunks merges the old postings with the new chunks' own (tokenised by FTS5 in a
    table of their own): array for array what reading the whole full-text index gives."""
    from retriever.store import FTS_TOKENIZER

    whole = bm25.read_postings(random_fts, "chunks_fts", FTS_COLUMN_WEIGHTS)
    rows = random_fts.execute("SELECT id, text, heading FROM chunks ORDER BY id").fetchall()
    first = bm25.postings_of_rows(random_fts, rows[:split], FTS_COLUMN_WEIGHTS, FTS_TOKENIZER)
    second = bm25.postings_of_rows(random_fts, rows[split:], FTS_COLUMN_WEIGHTS, FTS_TOKENIZER)
    merged = bm25.merge_postings(first, second)
    _same_postings(merged, whole)
    assert bm25.search(merged, ["taxi", "licens"], 20) == bm25.search(whole, ["taxi", "licens"], 20)
    with pytest.raises(ValueError):
        bm25.merge_postings(second, first) if split not in (0, 300) else bm25.merge_postings(whole, whole)


@pytest.mark.parametrize("share", [0.0, 0.01, 0.3, 1.0])
def test_postings_without_removed_chunks_are_those_of_the_full_text_index_without_them(random_fts, share):
    """A build that removes or replaces reports takes their chunks out of the postings: array for array what
    reading the full-text index gives once FTS5 has been told to delete those rows too (a token only removed
    chunks held leaves the vocabulary)."""
    before = bm25.read_postings(random_fts, "chunks_fts", FTS_COLUMN_WEIGHTS)
    rng = np.random.default_rng(3)
    ids = before.chunk_ids
    gone = np.sort(rng.choice(ids, int(share * len(ids)), replace=False))
    random_fts.executemany("INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) "
                           "SELECT 'delete', id, text, heading FROM chunks WHERE id = ?", [(int(i),) for i in gone])
    random_fts.executemany("DELETE FROM chunks WHERE id = ?", [(int(i),) for i in gone])
    after = bm25.read_postings(random_fts, "chunks_fts", FTS_COLUMN_WEIGHTS)
    removed = bm25.remove_postings(before, gone)
    _same_postings(removed, after)
    ours = bm25.search(removed, ["taxi", "licens"], 20)
    theirs = _fts_ranking(random_fts, ["taxi", "licensing"], 20)  # FTS5's own scores, its averages updated
    assert [i for i, _ in ours] == [i for i, _ in theirs]
    assert np.allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-12, atol=0)
    assert not set(i for i, _ in ours) & set(gone.tolist())
    assert bm25.remove_postings(before, np.zeros(0, dtype=np.int64)) is before


def test_fts_tokens_are_fts5s_own():
    assert fts_tokens("Exploitation") == ("exploit",)
    assert fts_tokens("don't") == ("don", "t")
    assert fts_tokens("’") == ()


def test_the_index_searches_its_postings_and_fts5_alike(built_index, fake_encoder):
    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    assert index.postings is not None
    conn = sqlite3.connect(current_build(built_index) / "index.sqlite")
    for terms, docs in [(["taxi", "licensing"], None), (["safeguarding", "exploitation"], None),
                        (["councillors", "training"], [next(iter(index.documents))])]:
        assert index.lexical_search(terms, 10, docs) == _fts_ranking(conn, terms, 10, docs)
    terms = ["taxi", "licensing", "Exploitation", "councillors", "don't", "unheardof"]
    assert index.term_counts(terms) == {
        t: conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (fts_match([t]),)).fetchone()[0]
        for t in terms}
    # a term of two tokens is a phrase: FTS5 answers it
    assert index.lexical_search(["don't", "taxi"], 10) == _fts_ranking(conn, ["don't", "taxi"], 10)


def test_a_build_without_postings_is_searched_by_fts5(built_index, fake_encoder):
    shutil.rmtree(current_build(built_index) / POSTINGS_DIR)
    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    assert index.postings is None
    assert index.lexical_search(["taxi"], 5)


def test_postings_of_other_chunks_make_the_index_unavailable(built_index, fake_encoder, random_fts):
    postings = bm25.read_postings(random_fts, "chunks_fts", FTS_COLUMN_WEIGHTS)
    bm25.save_postings(postings, current_build(built_index) / POSTINGS_DIR)
    with pytest.raises(IndexUnavailable, match="postings"):
        open_index(built_index, fake_encoder.name, fake_encoder.dimension)
