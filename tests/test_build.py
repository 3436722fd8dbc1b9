import json
import os

import pytest

from retriever import build as build_module
from retriever.build import build_index
from retriever.store import IndexUnavailable, current_build, open_index
from retriever.search import SearchConfig, Searcher
from tests.conftest import SMALL_CHUNKS, make_corpus
from tests.fakes import FakeEncoder
from tests.pdf_fixtures import report_pages, write_pdf, write_truncated_pdf


def _counts(root, encoder):
    index = open_index(root, encoder.name, encoder.dimension)
    return len(index.documents), index.chunk_count


def test_first_build_indexes_every_file(built_index, fake_encoder):
    docs, chunks = _counts(built_index, fake_encoder)
    assert docs == 2 and chunks >= 2
    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    taxi = index.documents["taxi"]
    assert (taxi.title, taxi.council, taxi.date, taxi.page_count) == ("Tackling CSE Together", "Telford & Wrekin",
                                                                       "2018-03-29", 3)


def test_rerun_over_unchanged_corpus_embeds_nothing(built_index, corpus_dir, fake_encoder):
    before = current_build(built_index)
    calls = fake_encoder.texts_encoded
    summary = build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert not summary.changed and summary.embedded == 0
    assert fake_encoder.texts_encoded == calls
    assert current_build(built_index) == before


def test_changed_file_is_reindexed_and_others_are_not(built_index, corpus_dir, fake_encoder):
    write_pdf(corpus_dir / "board.pdf", report_pages("Wolverhampton", [[f"A wholly new text about buses, part {w}."] for w in ("one", "two", "three")]))
    summary = build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert summary.updated == ("board.pdf",) and summary.added == ()
    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    ids = index.chunk_ids_for_documents(["board"])
    texts = [c.text for c in index.chunks(list(map(int, ids))).values()]
    assert any("buses" in t for t in texts)
    assert summary.embedded == len(ids)


def test_removed_file_leaves_the_index(built_index, corpus_dir, fake_encoder):
    (corpus_dir / "board.pdf").unlink()
    summary = build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert summary.removed == ("board.pdf",)
    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    assert set(index.documents) == {"taxi"}
    assert index.vectors.ntotal == index.chunk_count


def test_corrupt_file_is_skipped_by_name_and_the_rest_indexed(tmp_path, corpus_dir, fake_encoder):
    write_truncated_pdf(corpus_dir / "broken report.pdf", report_pages("X", [["Some words."]]))
    summary = build_index([corpus_dir], tmp_path / "idx", fake_encoder)
    assert [s.file for s in summary.skipped] == ["broken report.pdf"]
    assert "corrupt" in summary.skipped[0].reason
    assert summary.documents == 2


def test_failed_build_leaves_the_old_index_serving(built_index, corpus_dir, fake_encoder, monkeypatch):
    before = current_build(built_index)
    write_pdf(corpus_dir / "new.pdf", report_pages("New", [[f"Fresh words about licensing {w}."] for w in ("cars", "vans", "taxis")]))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_module, "save_vector_index", disk_full)
    with pytest.raises(OSError):
        build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert current_build(built_index) == before
    assert _counts(built_index, fake_encoder)[0] == 2
    assert not [p for p in (built_index / "builds").iterdir() if p.name.startswith(".tmp")]
    monkeypatch.undo()
    summary = build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert summary.added == ("new.pdf",) and summary.documents == 3


def test_index_built_with_another_model_is_refused(built_index):
    class OtherEncoder(FakeEncoder):
        name = "another-model"

    with pytest.raises(IndexUnavailable, match="another-model|rebuild"):
        open_index(built_index, OtherEncoder.name, OtherEncoder.dimension)


def test_other_format_version_is_refused(built_index, fake_encoder):
    manifest = current_build(built_index) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format"] = 999
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexUnavailable, match="format"):
        open_index(built_index, fake_encoder.name, fake_encoder.dimension)


def test_missing_index_says_run_ingest(tmp_path, fake_encoder):
    with pytest.raises(IndexUnavailable, match="onrecord ingest"):
        open_index(tmp_path / "nothing", fake_encoder.name, fake_encoder.dimension)


def test_current_is_a_symlink_swapped_atomically(built_index, corpus_dir, fake_encoder):
    link = built_index / "current"
    assert link.is_symlink()
    first = os.readlink(link)
    write_pdf(corpus_dir / "extra.pdf", report_pages("Extra", [[f"More words on {w}."] for w in ("parks", "roads", "schools")]))
    build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert os.readlink(link) != first
    assert (built_index / first).is_dir()  # the previous build stays one more round for readers


def test_duplicate_content_is_indexed_once(tmp_path, corpus_dir, fake_encoder):
    (corpus_dir / "copy of taxi.pdf").write_bytes((corpus_dir / "taxi.pdf").read_bytes())
    summary = build_index([corpus_dir], tmp_path / "idx", fake_encoder)
    assert summary.documents == 2
    assert ("copy of taxi.pdf", "taxi.pdf") in summary.duplicates or ("taxi.pdf", "copy of taxi.pdf") in summary.duplicates


@pytest.mark.parametrize("workers, parallel", [(1, False), (2, True)])
def test_parse_workers_reach_the_pdf_reader(tmp_path, fake_encoder, monkeypatch, workers, parallel):
    from ingest import readers

    calls = []
    real = readers._extract_in_parallel
    monkeypatch.setattr(readers, "_extract_in_parallel", lambda *args: calls.append(1) or real(*args))
    folder = tmp_path / "reports"
    folder.mkdir()
    write_pdf(folder / "long.pdf", report_pages("Long", [[f"Item {w}: the {w} budget line was agreed."]
                                                         for w in ("first second third fourth fifth sixth seventh "
                                                                   "eighth ninth tenth eleventh twelfth").split()]))
    summary = build_index([folder], tmp_path / "idx", fake_encoder, SMALL_CHUNKS, parse_workers=workers)
    assert summary.documents == 1 and summary.pages == 12
    assert bool(calls) == parallel


def test_old_builds_go_once_no_server_can_be_reading_them(tmp_path):
    import os

    from retriever.build import REPLACED_GRACE_SECONDS, _remove_old_builds

    builds = tmp_path / "builds"
    now = 1_000_000.0
    made = {}
    # (name, when it appeared): a, b, c each current in turn; k written after c but killed before its switch.
    for name, at in (("20260101T000000000000Z", now - 7200), ("20260101T000100000000Z", now - 3600),
                     ("20260101T000200000000Z", now - 20), ("20260101T000250000000Z", now - 15),
                     ("20260101T000300000000Z", now - 1)):
        made[name] = builds / name
        made[name].mkdir(parents=True)
        os.utime(made[name], (at, at))
    a, b, c, killed, final = made.values()
    _remove_old_builds(builds, final, previous=c, now=now)
    left = sorted(p.name for p in builds.iterdir())
    # a was replaced an hour ago: gone; b was replaced 20 s ago: a server may still read it; c was current
    # until now; the killed build never was.
    assert left == [b.name, c.name, final.name]
    _remove_old_builds(builds, final, previous=c, now=now + REPLACED_GRACE_SECONDS)
    assert sorted(p.name for p in builds.iterdir()) == [c.name, final.name]


def _index_contents(root, encoder):
    """What a build's indexes hold, comparable across builds whose chunk ids differ (a build from scratch
    numbers the documents in another order): each chunk by (document, ordinal) with its text and vector, each
    window by (chunk, start) with its vector, full-text hits with their scores, and BM25 postings' counts."""
    import faiss
    import numpy as np

    index = open_index(root, encoder.name, encoder.dimension)
    records = index.chunks(index._chunk_ids.tolist())
    key = {i: (r.doc_id, r.ordinal) for i, r in records.items()}
    assert sorted(faiss.vector_to_array(index.vectors.id_map).tolist()) == sorted(key)
    chunks = {key[i]: (r.text, index.chunk_vectors([i])[0].round(6).tolist()) for i, r in records.items()}
    assert index.window_vectors.ntotal == index.window_count
    batch = index.window_batch(sorted(key))
    windows = {}
    for row, chunk_id in enumerate(batch.chunk_ids.tolist()):
        for w in range(batch.offsets[row], batch.offsets[row + 1]):
            windows[(key[chunk_id], int(batch.starts[w]))] = batch.vectors[w].round(6).tolist()
    fts = [sorted((key[i], round(score, 9)) for i, score in index.lexical_search([term], 50))
           for term in ("buses", "taxi", "licensing", "exploitation")]
    postings = [np.subtract(*index.postings.token_range(t)[::-1]) for t in ("taxi", "bus", "exploit")]
    return {"chunks": chunks, "windows": windows, "fts": fts, "postings": postings}


def _third_report(corpus_dir):
    write_pdf(corpus_dir / "buses.pdf", report_pages("Walsall Bus Safety Report", [
        [f"Bus drivers in Walsall were trained to spot exploitation, part {w}. The taxi trade was not."]
        for w in ("one", "two", "three")]))


def test_adding_a_report_extends_the_indexes_and_matches_a_build_from_scratch(
        built_index, corpus_dir, fake_encoder, tmp_path, monkeypatch):
    _third_report(corpus_dir)
    fresh = tmp_path / "fresh"
    build_index([corpus_dir], fresh, fake_encoder, SMALL_CHUNKS)
    built_anew, read_whole = _watch_whole_builds(monkeypatch)
    summary = build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert summary.added == ("buses.pdf",)
    assert built_anew == []  # both vector indexes were the previous build's, extended
    assert True not in read_whole  # and its postings, with the new chunks' own
    assert _index_contents(built_index, fake_encoder) == _index_contents(fresh, fake_encoder)
    _postings_match_the_full_text_index(built_index)


def _watch_whole_builds(monkeypatch) -> tuple[list, list]:
    """Records each vector index built from every row, and each read of the whole full-text index's postings."""
    from retriever import bm25

    built_anew, read_whole = [], []
    real_build, real_read = build_module.build_vector_index, bm25.read_postings
    monkeypatch.setattr(build_module, "build_vector_index",
                        lambda *a, **k: built_anew.append(1) or real_build(*a, **k))
    monkeypatch.setattr(bm25, "read_postings", lambda conn, table, *a, **k: read_whole.append(table == "chunks_fts")
                        or real_read(conn, table, *a, **k))
    return built_anew, read_whole


def _postings_match_the_full_text_index(root):
    import sqlite3

    from retriever import bm25
    from retriever.store import DATABASE_FILE, FTS_COLUMN_WEIGHTS, POSTINGS_DIR

    build = current_build(root)
    with sqlite3.connect(build / DATABASE_FILE) as conn:
        whole = bm25.read_postings(conn, "chunks_fts", FTS_COLUMN_WEIGHTS)
    saved = bm25.load_postings(build / POSTINGS_DIR)
    for name in bm25.FILES:
        assert getattr(saved, name).tolist() == getattr(whole, name).tolist(), name


@pytest.mark.parametrize("change", ["remove", "replace"])
def test_removing_or_changing_a_report_edits_the_indexes_and_matches_a_build_from_scratch(
        change, built_index, corpus_dir, fake_encoder, tmp_path, monkeypatch):
    if change == "remove":
        (corpus_dir / "board.pdf").unlink()
    else:
        write_pdf(corpus_dir / "board.pdf", report_pages("Wolverhampton", [
            [f"A wholly new text about buses and taxi licensing, part {w}."] for w in ("one", "two", "three")]))
    fresh = tmp_path / "fresh"
    build_index([corpus_dir], fresh, fake_encoder, SMALL_CHUNKS)
    built_anew, read_whole = _watch_whole_builds(monkeypatch)
    summary = build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert (summary.removed if change == "remove" else summary.updated) == ("board.pdf",)
    assert built_anew == []  # both vector indexes were the previous build's, edited (flat: rows deleted)
    assert True not in read_whole  # and its postings
    assert _index_contents(built_index, fake_encoder) == _index_contents(fresh, fake_encoder)
    _postings_match_the_full_text_index(built_index)
    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    assert (index.lexical_search(["buses"], 10) == []) == (change == "remove")


def _hnsw_always(monkeypatch, max_removed_share):
    """Every vector index of a build HNSW, as a corpus above EXACT_BELOW vectors has them."""
    from retriever import vectors as V

    monkeypatch.setattr(build_module, "build_vector_index",
                        lambda ids, matrix, dimension: V.build_vector_index(ids, matrix, dimension, exact_below=0))
    monkeypatch.setattr(build_module, "extend_vector_index",
                        lambda index, ids, matrix: V.extend_vector_index(index, ids, matrix, exact_below=0))
    monkeypatch.setattr(build_module, "remove_from_vector_index", lambda index, ids: V.remove_from_vector_index(
        index, ids, max_removed_share=max_removed_share, exact_below=0))


def test_removing_a_report_from_hnsw_indexes_leaves_its_vectors_out_of_every_search(
        corpus_dir, fake_encoder, tmp_path, monkeypatch):
    from retriever.vectors import kind_of, search_vectors

    _hnsw_always(monkeypatch, max_removed_share=0.9)
    root = tmp_path / "index"
    build_index([corpus_dir], root, fake_encoder, SMALL_CHUNKS)
    board_chunks = open_index(root, fake_encoder.name, fake_encoder.dimension).chunk_ids_for_documents(["board"])
    (corpus_dir / "board.pdf").unlink()
    summary = build_index([corpus_dir], root, fake_encoder, SMALL_CHUNKS)
    assert summary.removed == ("board.pdf",)
    index = open_index(root, fake_encoder.name, fake_encoder.dimension)
    assert kind_of(index.vectors) == "hnsw" and index.removed_vectors == len(board_chunks) > 0
    assert index.vectors.ntotal == index.chunk_count + index.removed_vectors
    assert index.window_vectors.ntotal == index.window_count + index.removed_window_vectors
    assert index.removed_window_vectors > 0
    query = fake_encoder.encode(["scrutiny review group councillors training"])[0]
    for vectors, live in ((index.vectors, index._chunk_ids), (index.window_vectors, index._window_id)):
        found = search_vectors(vectors, query, len(live), skip_removed=True)
        assert sorted(i for i, _ in found) == sorted(live.tolist())  # every live row, no place lost to a removed one
    result = Searcher(index, fake_encoder, SearchConfig(mode="dense")).search("scrutiny review group", k=50)
    assert result.answer.passages and {p.document.id for p in result.answer.passages} == {"taxi"}
    _postings_match_the_full_text_index(root)
    # the report comes back: its new rows are searched, the removed ones stay skipped
    make_corpus(corpus_dir)
    build_index([corpus_dir], root, fake_encoder, SMALL_CHUNKS)
    index = open_index(root, fake_encoder.name, fake_encoder.dimension)
    assert index.removed_vectors == len(board_chunks)
    docs = {p.document.id for p in Searcher(index, fake_encoder).search("scrutiny review", k=10).answer.passages}
    assert "board" in docs


def test_an_hnsw_index_left_mostly_removed_is_built_anew(corpus_dir, fake_encoder, tmp_path, monkeypatch):
    _hnsw_always(monkeypatch, max_removed_share=0.01)
    root = tmp_path / "index"
    build_index([corpus_dir], root, fake_encoder, SMALL_CHUNKS)
    (corpus_dir / "board.pdf").unlink()
    build_index([corpus_dir], root, fake_encoder, SMALL_CHUNKS)
    index = open_index(root, fake_encoder.name, fake_encoder.dimension)
    assert index.removed_vectors == 0 and index.vectors.ntotal == index.chunk_count
    assert index.removed_window_vectors == 0 and index.window_vectors.ntotal == index.window_count


@pytest.mark.parametrize("fault", ["a row lost", "a row under another id"])
def test_a_previous_vector_index_that_does_not_match_its_rows_is_built_anew(
        fault, built_index, corpus_dir, fake_encoder, tmp_path):
    import numpy as np

    from retriever.store import VECTORS_FILE
    from retriever.vectors import make_vector_index, save_vector_index

    # the chunk vectors of the build in use lose a row, or hold one under a wrong id (as a hand-edited or
    # half-copied build might): the vectors live only there, so every report is embedded again
    previous = current_build(built_index)
    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    ids = index._chunk_ids[1:]
    vectors = index.vectors.reconstruct_batch(ids)
    if fault == "a row under another id":
        ids = np.concatenate(([10**6], ids))
        vectors = np.vstack((vectors[:1], vectors))
    save_vector_index(make_vector_index(vectors, ids), previous / VECTORS_FILE)
    _third_report(corpus_dir)
    before = fake_encoder.texts_encoded
    summary = build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert set(summary.added) == {"taxi.pdf", "board.pdf", "buses.pdf"}  # built from scratch
    rebuilt = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    assert fake_encoder.texts_encoded - before >= rebuilt.chunk_count
    assert rebuilt.vectors.ntotal == rebuilt.chunk_count
    assert np.array_equal(np.sort(faiss_ids(rebuilt.vectors)), np.sort(rebuilt._chunk_ids))
    fresh = tmp_path / "fresh"
    build_index([corpus_dir], fresh, fake_encoder, SMALL_CHUNKS)
    assert _index_contents(built_index, fake_encoder) == _index_contents(fresh, fake_encoder)


def test_an_index_that_changes_type_is_built_from_the_previous_builds_vectors(
        built_index, corpus_dir, fake_encoder, tmp_path, monkeypatch):
    """Vectors live only in the FAISS files: a vector index built anew while extending (flat crossing into
    HNSW here) takes the kept rows' vectors from the previous build's index, embedding only the new report."""
    from retriever import vectors as V
    from retriever.vectors import kind_of

    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    threshold = index.chunk_count + 1  # both indexes are flat-sized now... by this build's rule, not the next's
    assert kind_of(index.vectors) == "flat"
    monkeypatch.setattr(build_module, "build_vector_index", lambda ids, matrix, dimension: V.build_vector_index(
        ids, matrix, dimension, exact_below=threshold))
    monkeypatch.setattr(build_module, "extend_vector_index", lambda index, ids, matrix: V.extend_vector_index(
        index, ids, matrix, exact_below=threshold))
    _third_report(corpus_dir)
    before = fake_encoder.texts_encoded
    summary = build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    assert summary.added == ("buses.pdf",)
    edited = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    assert kind_of(edited.vectors) == "hnsw" and kind_of(edited.window_vectors) == "hnsw"
    buses = edited.chunk_ids_for_documents(["buses"])
    # only the new report's chunks and windows were embedded, not the kept rows
    assert 0 < fake_encoder.texts_encoded - before <= len(buses) + len(edited.window_batch(buses.tolist()).starts)
    monkeypatch.undo()
    fresh = tmp_path / "fresh"
    build_index([corpus_dir], fresh, fake_encoder, SMALL_CHUNKS)
    assert _index_contents(built_index, fake_encoder) == _index_contents(fresh, fake_encoder)


def test_the_database_keeps_no_vectors(built_index):
    import sqlite3

    from retriever.store import DATABASE_FILE

    with sqlite3.connect(current_build(built_index) / DATABASE_FILE) as conn:
        for table in ("chunks", "windows"):
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            assert columns and "embedding" not in columns


def faiss_ids(index):
    import faiss

    return faiss.vector_to_array(index.id_map)


def test_a_previous_build_without_postings_gets_them_read_from_the_whole_index(built_index, corpus_dir,
                                                                                fake_encoder):
    import shutil

    from retriever.store import POSTINGS_DIR

    shutil.rmtree(current_build(built_index) / POSTINGS_DIR)  # as a build from before postings existed
    _third_report(corpus_dir)
    build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    assert index.postings is not None
    assert len(index.postings.chunk_ids) == index.chunk_count
    hits = index.lexical_search(["spot"], 10)  # from the postings: every term is one FTS5 token
    assert hits and {index.chunks([i])[i].doc_id for i, _ in hits} == {"buses"}



def test_two_first_questions_at_once_read_the_report_words_once(built_index, fake_encoder, monkeypatch):
    import threading
    import time

    from retriever import store

    calls, read_words = [], store.report_words

    def slow_report_words(texts):
        calls.append(1)
        time.sleep(0.2)  # long enough for the second thread to arrive while the first reads
        return read_words(texts)

    index = open_index(built_index, fake_encoder.name, fake_encoder.dimension)
    monkeypatch.setattr(store, "report_words", slow_report_words)
    results = []
    threads = [threading.Thread(target=lambda: results.append(index.report_words())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results[0] is results[1]
