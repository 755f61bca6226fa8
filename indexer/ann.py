"""FAISS indexes over catalog ids: exact flat below a size threshold, IVF-Flat past it.

An index is always rebuildable from the catalog's stored vectors, so choosing, training and
retraining never re-encode an image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np

MIN_POINTS_PER_LIST = 39  # faiss warns below this many training points per centroid
MAX_TRAIN_POINTS_PER_LIST = 256


@dataclass
class AnnShape:
    """What kind of index a collection has, and on how many vectors it was trained."""

    kind: str  # "flat" | "ivf"
    nlist: int = 0
    trained_on: int = 0


def target_nlist(n: int) -> int:
    """About 4·√N lists, but never fewer than 39 training points per list."""
    return max(1, min(int(4 * math.sqrt(n)), n // MIN_POINTS_PER_LIST))


def desired_shape(n: int, current: AnnShape | None, ivf_threshold: int) -> AnnShape:
    """Flat below the threshold; IVF above it, retrained once the library has doubled since training.

    Going back to flat waits until the library is under half the threshold, so a library that
    hovers around the threshold is not rebuilt on every run.
    """
    if current is not None and current.kind == "ivf":
        if n < ivf_threshold // 2:
            return AnnShape("flat")
        if n < 2 * current.trained_on:
            return current
        return AnnShape("ivf", target_nlist(n), n)
    if n >= ivf_threshold and target_nlist(n) >= 2:
        return AnnShape("ivf", target_nlist(n), n)
    return AnnShape("flat")


def build(shape: AnnShape, dim: int, ids: np.ndarray, vectors: np.ndarray, seed: int = 1234) -> faiss.Index:
    """A new index of `shape` holding `vectors` under `ids` (IVF is trained on a sample of them)."""
    if shape.kind == "flat":
        index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    else:
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, shape.nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.own_fields = True
        quantizer.this.disown()
        sample = _training_sample(vectors, shape.nlist * MAX_TRAIN_POINTS_PER_LIST, seed)
        ivf.cp.seed = seed
        ivf.train(sample)
        index = ivf
    if len(ids):
        add(index, ids, vectors)
    return index


def _training_sample(vectors: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(vectors) <= limit:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    rows = np.random.default_rng(seed).choice(len(vectors), size=limit, replace=False)
    return np.ascontiguousarray(vectors[np.sort(rows)], dtype=np.float32)


def add(index: faiss.Index, ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))


def remove(index: faiss.Index, ids: np.ndarray) -> None:
    if len(ids):
        index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))


def index_ids(index: faiss.Index) -> np.ndarray:
    """Every id an index holds, read from its id map or its inverted lists."""
    if isinstance(index, (faiss.IndexIDMap2, faiss.IndexIDMap)):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    invlists = ivf.invlists
    parts = []
    for list_no in range(ivf.nlist):
        size = invlists.list_size(list_no)
        if size:
            ptr = invlists.get_ids(list_no)
            parts.append(faiss.rev_swig_ptr(ptr, size).copy())
            invlists.release_ids(list_no, ptr)
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def search(
    index: faiss.Index, queries: np.ndarray, k: int, nprobe: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inner products, among `allowed` ids when given; ids of -1 (fewer than k hits) are left to drop."""
    if index.ntotal == 0 or k <= 0:
        n = len(queries)
        return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
    k = min(k, int(index.ntotal))
    selector = None if allowed is None else faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
    if _is_ivf(index):
        params = (
            faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
            if selector
            else faiss.SearchParametersIVF(nprobe=nprobe)
        )
    else:
        params = faiss.SearchParameters(sel=selector) if selector else None
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
    return scores, ids


def _is_ivf(index: faiss.Index) -> bool:
    try:
        faiss.extract_index_ivf(index)
    except RuntimeError:
        return False
    return True
