"""retriever.vectors: every index type finds the right neighbours, filters by chunk id, survives a
write/read round trip, and the chooser switches from exact to approximate at its threshold."""
from __future__ import annotations

import faiss
import numpy as np
import pytest

from retriever import vectors as V
from retriever.vectors import (build_vector_index, choose_kind, describe, kind_of, load_vector_index,
                               make_vector_index, save_vector_index, search_vectors)

D = 384
N = 3000
KINDS = ("flat", "hnsw", "ivfpq")
# IVF-PQ compresses vectors to 48 bytes: it finds the right neighbourhood, not the exact order.
MIN_RECALL = {"flat": 1.0, "hnsw": 0.95, "ivfpq": 0.3}


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    centres = _unit(rng.standard_normal((60, D)))
    group = np.sort(rng.integers(0, 60, N))
    vectors = _unit(centres[group] + rng.standard_normal((N, D)) * 0.75 / np.sqrt(D))
    ids = np.arange(N, dtype=np.int64) * 5 + 11  # chunk ids are not row numbers
    queries = _unit(centres[rng.integers(0, 60, 30)] + rng.standard_normal((30, D)) * 0.75 / np.sqrt(D))
    return vectors, ids, queries


@pytest.fixture(scope="module")
def indexes(data):
    vectors, ids, _ = data
    faiss.omp_set_num_threads(1)
    return {kind: make_vector_index(vectors, ids, kind=kind) for kind in KINDS}


def _exact(vectors, ids, query, k, rows=None):
    rows = np.arange(len(vectors)) if rows is None else rows
    scores = vectors[rows] @ query
    order = np.argsort(-scores)[:k]
    return ids[rows][order], scores[order]


@pytest.mark.parametrize("kind", KINDS)
def test_neighbours_and_scores(data, indexes, kind):
    vectors, ids, queries = data
    index = indexes[kind]
    assert index.ntotal == N and kind_of(index) == kind
    recalls = []
    for q in queries:
        got = search_vectors(index, q, 10)
        assert len(got) == 10
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        want, want_scores = _exact(vectors, ids, q, 10)
        recalls.append(len({i for i, _ in got} & set(want.tolist())) / 10)
        if kind != "ivfpq" and got[0][0] == want[0]:  # exact float scores under chunk ids
            assert got[0][1] == pytest.approx(float(want_scores[0]), rel=1e-4)
    assert np.mean(recalls) >= MIN_RECALL[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_reconstruct_by_chunk_id(data, indexes, kind):
    vectors, ids, _ = data
    got = indexes[kind].reconstruct(int(ids[123]))
    if kind == "ivfpq":
        assert float(got @ vectors[123]) > 0.8  # PQ decode: close, not equal
    else:
        np.testing.assert_allclose(got, vectors[123], rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("exact_filter_below", [20_000, 0], ids=["exact-among-allowed", "selector"])
def test_filter_by_allowed_ids(data, indexes, kind, exact_filter_below, monkeypatch):
    monkeypatch.setattr(V, "EXACT_FILTER_BELOW", exact_filter_below)
    vectors, ids, queries = data
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(N, 600, replace=False))
    allowed = ids[rows]
    allowed_set = set(allowed.tolist())
    recalls = []
    for q in queries[:10]:
        got = search_vectors(indexes[kind], q, 10, allowed)
        assert got and all(i in allowed_set for i, _ in got)
        want, _ = _exact(vectors, ids, q, 10, rows)
        recalls.append(len({i for i, _ in got} & set(want.tolist())) / 10)
    assert np.mean(recalls) >= MIN_RECALL[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_filter_edge_cases(data, indexes, kind):
    vectors, ids, queries = data
    index = indexes[kind]
    assert search_vectors(index, queries[0], 10, np.array([], dtype=np.int64)) == []
    # few allowed, unsorted, duplicated, and one id the index does not hold
    allowed = np.array([ids[7], ids[3], ids[7], 999_999_999], dtype=np.int64)
    got = search_vectors(index, queries[0], 10, allowed)
    assert sorted(i for i, _ in got) == sorted({int(ids[3]), int(ids[7])})
    assert search_vectors(index, queries[0], 0) == []


@pytest.mark.parametrize("kind", KINDS)
def test_write_read_round_trip(data, indexes, kind, tmp_path):
    _, ids, queries = data
    index = indexes[kind]
    path = tmp_path / "vectors.faiss"
    save_vector_index(index, path)
    loaded = load_vector_index(path)
    assert describe(loaded) == describe(index)
    assert loaded.ntotal == N and kind_of(loaded) == kind
    for q in queries[:5]:
        assert search_vectors(loaded, q, 10) == search_vectors(index, q, 10)
        assert search_vectors(loaded, q, 5, ids[::4]) == search_vectors(index, q, 5, ids[::4])
    np.testing.assert_array_equal(loaded.reconstruct(int(ids[9])), index.reconstruct(int(ids[9])))


def test_chooser_switches_at_threshold(data):
    vectors, ids, queries = data
    assert choose_kind(999, exact_below=1000) == "flat"
    assert choose_kind(1000, exact_below=1000) == "hnsw"
    small = make_vector_index(vectors[:500], ids[:500], exact_below=1000)
    large = make_vector_index(vectors[:1500], ids[:1500], exact_below=1000)
    assert kind_of(small) == "flat" and describe(small).startswith("IDMap2,Flat")
    assert kind_of(large) == "hnsw" and describe(large).startswith("IDMap2,HNSW32,Flat")
    assert isinstance(large, faiss.IndexIDMap2)
    assert "efSearch=64" in describe(large)  # small corpora keep the small default search depth
    # build.py's entry point uses the same chooser
    assert kind_of(build_vector_index(ids[:500], vectors[:500], D, exact_below=1000)) == "flat"
    assert kind_of(build_vector_index(ids[:1500], vectors[:1500], D, exact_below=1000)) == "hnsw"
    assert kind_of(build_vector_index(ids[:500], vectors[:500], D)) == "flat"  # default threshold is large
    got = search_vectors(large, queries[0], 5)
    want, _ = _exact(vectors[:1500], ids[:1500], queries[0], 5)
    assert len({i for i, _ in got} & set(want.tolist())) >= 4


def test_empty_index():
    for kind in KINDS:
        index = make_vector_index(np.zeros((0, D), dtype=np.float32), np.zeros(0, dtype=np.int64), kind=kind)
        assert index.ntotal == 0
        assert search_vectors(index, np.ones(D, dtype=np.float32), 5) == []
    assert build_vector_index(np.zeros(0, dtype=np.int64), np.zeros((0, D), dtype=np.float32), D).ntotal == 0


def test_hnsw_search_depth_at_least_k(data, indexes):
    _, _, queries = data
    index = indexes["hnsw"]
    got = search_vectors(index, queries[0], 200, ef_search=16)  # efSearch is raised to k
    assert len(got) == 200 and len({i for i, _ in got}) == 200


def test_unknown_kind(data):
    vectors, ids, _ = data
    with pytest.raises(ValueError):
        make_vector_index(vectors, ids, kind="lsh")


def test_a_search_leaves_the_callers_thread_count_alone(data, indexes):
    import faiss

    from retriever.vectors import search_vectors

    vectors, _, _ = data
    before = faiss.omp_get_max_threads()
    for index in indexes.values():
        search_vectors(index, vectors[0], 5)
    assert faiss.omp_get_max_threads() == before


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_extended_index_finds_what_one_built_at_once_finds(data, kind):
    vectors, ids, queries = data
    exact_below = 10 if kind == "hnsw" else 10 * N
    first = build_vector_index(ids[:2000], vectors[:2000], D, exact_below=exact_below)
    extended = V.extend_vector_index(first, ids[2000:], vectors[2000:], exact_below=exact_below)
    assert extended is not None and kind_of(extended) == kind and extended.ntotal == N
    np.testing.assert_array_equal(extended.reconstruct_batch(ids[2500:2510]), vectors[2500:2510])
    exact = make_vector_index(vectors, ids, kind="flat")
    found = [{i for i, _ in search_vectors(extended, q, 10)} for q in queries]
    truth = [{i for i, _ in search_vectors(exact, q, 10)} for q in queries]
    recall = np.mean([len(f & t) / 10 for f, t in zip(found, truth)])
    assert recall >= MIN_RECALL[kind]
    assert any(i >= ids[2000] for f in found for i in f)  # the added vectors are found


def test_an_index_that_would_change_kind_or_cannot_grow_is_not_extended(data):
    vectors, ids, _ = data
    small = build_vector_index(ids[:100], vectors[:100], D, exact_below=150)
    assert V.extend_vector_index(small, ids[100:200], vectors[100:200], exact_below=150) is None  # flat -> HNSW
    assert small.ntotal == 100  # and left as it was
    ivfpq = make_vector_index(vectors[:2000], ids[:2000], kind="ivfpq")
    assert V.extend_vector_index(ivfpq, ids[2000:], vectors[2000:]) is None
    grown = V.extend_vector_index(small, ids[100:120], vectors[100:120], exact_below=150)
    assert grown is not None and grown.ntotal == 120 and kind_of(grown) == "flat"


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_index_without_removed_vectors_finds_what_one_built_without_them_finds(data, kind, tmp_path):
    vectors, ids, queries = data
    exact_below = 10 if kind == "hnsw" else 10 * N
    index = build_vector_index(ids, vectors, D, exact_below=exact_below)
    gone = ids[::7]  # one in seven, spread over the index
    # the nearest neighbour of each query among all vectors is removed, so a search that did not skip removed
    # vectors would return it
    nearest = [search_vectors(index, q, 1)[0][0] for q in queries]
    gone = np.union1d(gone, nearest)
    edited = V.remove_from_vector_index(index, gone, exact_below=exact_below)
    assert edited is not None and kind_of(edited) == kind
    kept = ~np.isin(ids, gone)
    assert edited.ntotal - V.removed_count(edited) == int(kept.sum())
    assert V.removed_count(edited) == (len(gone) if kind == "hnsw" else 0)  # flat deletes them outright
    save_vector_index(edited, tmp_path / "edited.faiss")
    edited = load_vector_index(tmp_path / "edited.faiss")
    exact = make_vector_index(vectors[kept], ids[kept], kind="flat")
    skip = V.removed_count(edited) > 0
    found = [search_vectors(edited, q, 10, skip_removed=skip) for q in queries]
    assert all(len(f) == 10 for f in found)  # removed vectors take no places in the top 10
    assert not {i for f in found for i, _ in f} & set(gone.tolist())
    truth = [{i for i, _ in search_vectors(exact, q, 10)} for q in queries]
    recall = np.mean([len({i for i, _ in f} & t) / 10 for f, t in zip(found, truth)])
    assert recall >= MIN_RECALL[kind]
    allowed = ids[kept][:500]
    assert {i for i, _ in search_vectors(edited, queries[0], 5, allowed)} <= set(allowed.tolist())
    np.testing.assert_array_equal(edited.reconstruct_batch(ids[kept][:5]), vectors[kept][:5])


def test_an_index_is_built_anew_rather_than_left_mostly_removed_or_of_the_wrong_kind(data):
    vectors, ids, _ = data
    hnsw = build_vector_index(ids, vectors, D, exact_below=10)
    assert V.remove_from_vector_index(hnsw, ids[:N // 2], exact_below=10) is None  # half of the graph dead
    assert V.removed_count(hnsw) == 0  # and left as it was
    assert V.remove_from_vector_index(hnsw, ids[:100], exact_below=10) is not None
    assert V.remove_from_vector_index(hnsw, ids[100:900], exact_below=10) is None  # 900 of 3000 in all
    # what is left would be built as exact flat
    assert V.remove_from_vector_index(build_vector_index(ids, vectors, D, exact_below=10), ids[:100],
                                      exact_below=N - 50) is None
    ivfpq = make_vector_index(vectors, ids, kind="ivfpq")
    assert V.remove_from_vector_index(ivfpq, ids[:10]) is None
    # an index that lost vectors grows by its live count: HNSW stays HNSW only above the exact threshold
    grown = V.extend_vector_index(hnsw, ids[:50] + 1, vectors[:50], exact_below=N)
    assert grown is None  # 2,900 live + 50 new < 3,000: a new build would be flat
