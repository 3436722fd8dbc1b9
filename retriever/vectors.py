"""The FAISS side of the index: unit vectors, inner product (= cosine), row ids = chunk ids."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


def build_vector_index(ids: np.ndarray, vectors: np.ndarray, dimension: int) -> faiss.Index:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def save_vector_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_vector_index(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))


def search_vectors(index: faiss.Index, query: np.ndarray, k: int,
                   allowed_ids: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Top k (chunk id, cosine) for one unit query vector, optionally only among allowed_ids."""
    if index.ntotal == 0 or k <= 0:
        return []
    params = None
    if allowed_ids is not None:
        if len(allowed_ids) == 0:
            return []
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed_ids.astype(np.int64)))
    k = min(k, index.ntotal)
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
