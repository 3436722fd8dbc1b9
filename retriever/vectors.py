"""The FAISS side of the index: unit vectors, inner product (= cosine), row ids = chunk ids.

The index type follows the corpus size (see `make_vector_index`): exact `IndexFlatIP` while the corpus
is small, HNSW above `EXACT_BELOW` vectors. The crossover and the HNSW settings were measured with
`python -m eval.bench_scale` (results in eval/results/bench_scale.md). Every type is wrapped in
`IndexIDMap2`, so search results are chunk ids, `reconstruct(chunk_id)` works, and a filter by allowed
chunk ids works through `search_vectors` whatever the type. A build that removes reports deletes their
vectors from a flat index and leaves them in an HNSW graph marked removed (`remove_from_vector_index`).
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

# Exact search while the corpus has fewer vectors than this; HNSW from here on. Measured with
# `python -m eval.bench_scale` on the shared 2-core machine (eval/results/bench_scale.md), one query at a
# time: exact flat costs ~0.1-0.2 ms per thousand 384-d vectors (p50 0.9 ms at 10k, 2.1 ms at 20k,
# 7.2 ms at 50k, 27 ms at 100k, 214 ms at 1M) while HNSW answers in 0.14-0.7 ms with recall@10 >= 0.96
# at 10k, 100k and 1M. Below 50k flat stays under ~7 ms (the order of embedding the question), is exact,
# builds instantly and filters exactly, so it wins; above it flat grows linearly past the budget.
EXACT_BELOW = 50_000

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64  # up to LARGE_CORPUS vectors: efSearch 16 already gave recall@10 0.96 at 100k
HNSW_EF_SEARCH_LARGE = 256  # from LARGE_CORPUS on: 0.962 on the evaluation queries at 1M (0.949 tuning)
LARGE_CORPUS = 200_000


def default_ef_search(n: int) -> int:
    """The efSearch stored in a new HNSW index of n vectors (search_vectors raises it to k if smaller)."""
    return HNSW_EF_SEARCH if n < LARGE_CORPUS else HNSW_EF_SEARCH_LARGE


# IVF-PQ is available on request (kind="ivfpq", for corpora that do not fit in memory as floats) but is
# not chosen automatically: at PQ48 (48 bytes a vector, 70 MB at 1M) its recall@10 against exact is
# ~0.5 whatever nprobe: the codes, not the lists, limit it (bench_scale.md). Reaching 0.95 would need a
# re-ranking pass over the full vectors, which gives the memory back.
IVF_PQ_M = 48
IVF_NPROBE = 32

KINDS = ("auto", "flat", "hnsw", "ivfpq")


def _ivf_nlist(n: int) -> int:
    """About sqrt(n) lists, a power of two, at least 16 and at most 4096."""
    target = max(16, int(np.sqrt(max(n, 1))))
    return int(min(4096, 1 << int(round(np.log2(target)))))


def choose_kind(n: int, *, exact_below: int = EXACT_BELOW) -> str:
    """The index type `make_vector_index(kind="auto")` uses for n vectors."""
    return "flat" if n < exact_below else "hnsw"


def make_vector_index(vectors: np.ndarray, ids: np.ndarray, *, exact_below: int = EXACT_BELOW,
                      kind: str = "auto", dimension: int | None = None, hnsw_m: int = HNSW_M,
                      ef_construction: int = HNSW_EF_CONSTRUCTION, ef_search: int | None = None,
                      ivf_nlist: int | None = None, pq_m: int = IVF_PQ_M, nprobe: int = IVF_NPROBE,
                      train_size: int = 50_000, seed: int = 1234) -> faiss.Index:
    """An index over unit `vectors` (rows) with row i stored under chunk id `ids[i]`.

    kind="auto" picks exact flat below `exact_below` vectors and HNSW above (see EXACT_BELOW);
    "flat", "hnsw" and "ivfpq" force a type. The result is always an IndexIDMap2.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {KINDS}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        if dimension is None or vectors.size:
            raise ValueError("vectors must be a 2-d array")
        vectors = vectors.reshape(0, dimension)
    d = dimension if dimension is not None else vectors.shape[1]
    if vectors.shape[1] != d:
        raise ValueError(f"vectors have dimension {vectors.shape[1]}, expected {d}")
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    n = len(vectors)
    if kind == "auto":
        kind = choose_kind(n, exact_below=exact_below)
    if kind == "ivfpq" and n == 0:
        kind = "flat"  # nothing to train on; an empty flat index answers the same (nothing)

    if kind == "flat":
        inner: faiss.Index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = ef_construction
        # stored in the file: search_vectors reads it back
        inner.hnsw.efSearch = ef_search or default_ef_search(n)
    else:
        nlist = ivf_nlist or _ivf_nlist(n)
        nlist = max(1, min(nlist, n // 39 or 1))  # k-means wants ~39 training points a list
        if d % pq_m:
            raise ValueError(f"dimension {d} is not a multiple of pq_m={pq_m}")
        quantizer = faiss.IndexFlatIP(d)
        inner = faiss.IndexIVFPQ(quantizer, d, nlist, pq_m, 8 if n >= 256 * 39 else 4,
                                 faiss.METRIC_INNER_PRODUCT)
        inner.own_fields = True
        quantizer.this.disown()
        rng = np.random.default_rng(seed)
        sample = vectors if n <= train_size else vectors[np.sort(rng.choice(n, train_size, replace=False))]
        inner.cp.seed = seed
        inner.cp.niter = 10
        # PQ k-means (48 sub-spaces x 256 centroids) dominates training: 64 points a centroid, 10 rounds
        inner.pq.cp.max_points_per_centroid = 64
        inner.pq.cp.niter = 10
        inner.pq.cp.seed = seed
        inner.train(sample)
        inner.nprobe = min(nprobe, nlist)
        inner.make_direct_map()  # so reconstruct(chunk_id) (approximate: PQ decode) works
    index = faiss.IndexIDMap2(inner)
    inner.this.disown()  # the IDMap owns the sub-index from now on
    index.own_fields = True
    if n:
        index.add_with_ids(vectors, ids)
    return index


def build_vector_index(ids: np.ndarray, vectors: np.ndarray, dimension: int,
                       exact_below: int = EXACT_BELOW) -> faiss.Index:
    """The index for a build: the type chosen by corpus size (`make_vector_index`, kind="auto")."""
    return make_vector_index(vectors, ids, dimension=dimension, exact_below=exact_below)


def extend_vector_index(index: faiss.Index, ids: np.ndarray, vectors: np.ndarray,
                        exact_below: int = EXACT_BELOW) -> faiss.Index | None:
    """`index` (a build's, as `build_vector_index` made it) with `vectors` added under `ids`, or None when
    the grown index should be built anew: at its new size `build_vector_index` would choose another kind
    (flat crossing into HNSW), or the index is of a kind built once (IVF-PQ's lists are trained on
    what it held). Adding to HNSW costs what inserting the new vectors costs; a new build inserts all of
    them again (50 s at 100k vectors). The efSearch stored for the new size is set as a new build sets it."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), index.d)
    kind = kind_of(index)
    total = index.ntotal - removed_count(index) + len(ids)
    if not isinstance(index, faiss.IndexIDMap2) or kind not in ("flat", "hnsw") \
            or kind != choose_kind(total, exact_below=exact_below):
        return None
    if kind == "hnsw":
        _inner(index).hnsw.efSearch = default_ef_search(total)
    if len(ids):
        index.add_with_ids(vectors, ids)
    return index


# HNSW cannot delete a vector from its graph: a removed chunk's vector stays in the graph under id -1 (its
# id-map entry), and searches skip those entries (`search_vectors(..., skip_removed=True)`). Once this
# share of an index is removed, `remove_from_vector_index` asks for the index to be built anew.
MAX_REMOVED_SHARE = 0.25
REMOVED_ID = -1


def remove_from_vector_index(index: faiss.Index, ids: np.ndarray, max_removed_share: float = MAX_REMOVED_SHARE,
                             exact_below: int = EXACT_BELOW) -> faiss.Index | None:
    """`index` (a build's, as `build_vector_index` made it) without the vectors stored under `ids`, or None
    when it should be built anew instead. Flat: the vectors are deleted. HNSW: their id-map entries become
    REMOVED_ID (searched past with skip_removed), unless that leaves more than max_removed_share of the
    index removed. Other kinds: None."""
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    if not isinstance(index, faiss.IndexIDMap2):
        return None
    if not len(ids):
        return index
    kind = kind_of(index)
    if kind == "flat":
        index.remove_ids(faiss.IDSelectorBatch(ids))
        return index
    if kind != "hnsw":
        return None
    id_map = faiss.vector_to_array(index.id_map)
    dead = np.isin(id_map, ids)
    removed = int((id_map == REMOVED_ID).sum() + dead.sum())
    # built anew: too much of the graph is dead, or a new build of what is left would be exact flat
    if (removed > max_removed_share * len(id_map)
            or choose_kind(len(id_map) - removed, exact_below=exact_below) != "hnsw"):
        return None
    id_map[dead] = REMOVED_ID
    faiss.copy_array_to_vector(id_map, index.id_map)
    index.construct_rev_map()
    return index


def removed_count(index: faiss.Index) -> int:
    """How many of the index's vectors are removed ones (left in an HNSW graph by remove_from_vector_index)."""
    if not isinstance(index, (faiss.IndexIDMap, faiss.IndexIDMap2)) or index.ntotal == 0:
        return 0
    return int((faiss.vector_to_array(index.id_map) == REMOVED_ID).sum())


def set_of_ids(index: faiss.Index) -> set[int]:
    """The ids the index holds vectors under, removed ones aside."""
    ids = faiss.vector_to_array(index.id_map)
    return set(ids[ids != REMOVED_ID].tolist())


def _inner(index: faiss.Index) -> faiss.Index:
    if isinstance(index, (faiss.IndexIDMap, faiss.IndexIDMap2)):
        return faiss.downcast_index(index.index)
    return faiss.downcast_index(index)


def kind_of(index: faiss.Index) -> str:
    """"flat", "hnsw", "ivfpq" (or "ivf" for other IVF variants)."""
    inner = _inner(index)
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFPQ):
        return "ivfpq"
    if isinstance(inner, faiss.IndexIVF):
        return "ivf"
    if isinstance(inner, faiss.IndexFlat):
        return "flat"
    return type(inner).__name__


def describe(index: faiss.Index) -> str:
    """A factory-style type string with the search settings, e.g. "IDMap2,HNSW32,Flat efSearch=64"."""
    inner = _inner(index)
    prefix = "IDMap2," if isinstance(index, faiss.IndexIDMap2) else (
        "IDMap," if isinstance(index, faiss.IndexIDMap) else "")
    metric = "IP" if inner.metric_type == faiss.METRIC_INNER_PRODUCT else "L2"
    kind = kind_of(index)
    if kind == "hnsw":
        body = f"HNSW{inner.hnsw.nb_neighbors(1)},Flat efConstruction={inner.hnsw.efConstruction} " \
               f"efSearch={inner.hnsw.efSearch}"
    elif kind == "ivfpq":
        body = f"IVF{inner.nlist},PQ{inner.pq.M}x{inner.pq.nbits} nprobe={inner.nprobe}"
    elif kind == "ivf":
        body = f"IVF{inner.nlist},{type(inner).__name__} nprobe={inner.nprobe}"
    elif kind == "flat":
        body = "Flat"
    else:
        body = kind
    return f"{prefix}{body} metric={metric} d={inner.d} n={index.ntotal}"


def save_vector_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_vector_index(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))


# An approximate index answers a filter over fewer allowed ids than this exactly, from the stored
# vectors of just those ids: graph and list search degrade when few vectors pass the filter, and
# scoring a few thousand vectors directly is cheaper than the graph walk anyway.
EXACT_FILTER_BELOW = 20_000


def search_vectors(index: faiss.Index, query: np.ndarray, k: int,
                   allowed_ids: np.ndarray | None = None, *, ef_search: int | None = None,
                   nprobe: int | None = None, skip_removed: bool = False) -> list[tuple[int, float]]:
    """Top k (chunk id, cosine) for one unit query vector, optionally only among allowed_ids.

    Works for every type `make_vector_index` builds. `ef_search` (HNSW) and `nprobe` (IVF) override the
    settings stored in the index; HNSW always searches with at least k candidates. skip_removed: the index
    holds removed vectors (`removed_count`), which must not take places in the top k (allowed_ids, being
    live ids, leave them out anyway).
    """
    if index.ntotal == 0 or k <= 0:
        return []
    q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
    kind = kind_of(index)
    selector = None
    if allowed_ids is not None:
        allowed = np.asarray(allowed_ids, dtype=np.int64).ravel()
        if len(allowed) > 1 and not bool(np.all(allowed[1:] > allowed[:-1])):
            allowed = np.unique(allowed)  # callers usually pass sorted unique ids: skip the sort then
        if len(allowed) == 0:
            return []
        if kind != "flat" and len(allowed) < EXACT_FILTER_BELOW and isinstance(index, faiss.IndexIDMap2):
            return _exact_among(index, q[0], k, allowed)
        selector = faiss.IDSelectorBatch(allowed)
    elif skip_removed:
        removed = faiss.IDSelectorBatch(np.array([REMOVED_ID], dtype=np.int64))
        selector = faiss.IDSelectorNot(removed)  # holds a plain pointer: `removed` stays referenced until the end
    k = min(k, index.ntotal)
    inner = _inner(index)
    if kind == "hnsw":
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(ef_search or inner.hnsw.efSearch, k)
    elif kind in ("ivfpq", "ivf"):
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe or inner.nprobe
    else:
        params = faiss.SearchParameters() if selector is not None else None
    if selector is not None:
        params.sel = selector
    scores, ids = _search_one_thread(index, q, k, params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def _search_one_thread(index: faiss.Index, q: np.ndarray, k: int, params) -> tuple[np.ndarray, np.ndarray]:
    """One query vector on this thread alone. Waking OpenMP threads costs more than the search itself
    (flat, 6k vectors: ~1 ms a call single-threaded against ~6 ms with 2 threads next to ONNX Runtime's
    pool); the OpenMP thread count is per calling thread, so index builds elsewhere keep theirs."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(q, k, params=params)
    finally:
        faiss.omp_set_num_threads(before)


def _exact_among(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
    """Exact top k among allowed chunk ids, scored on the vectors the index stores for them."""
    try:
        present = allowed
        stored = index.reconstruct_batch(present)
    except RuntimeError:  # some allowed id is not in the index: keep those that are
        present = allowed[np.isin(allowed, faiss.vector_to_array(index.id_map))]
        if len(present) == 0:
            return []
        stored = index.reconstruct_batch(present)
    # einsum, not `@`: a BLAS gemv this small costs more in OpenBLAS thread wake-ups than in arithmetic
    scores = np.einsum("ij,j->i", stored, query)
    k = min(k, len(present))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(present) else np.arange(len(present))
    top = top[np.lexsort((present[top], -scores[top]))]
    return [(int(present[t]), float(scores[t])) for t in top]
