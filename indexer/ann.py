"""FAISS indexes over catalog ids: exact flat below a size threshold, IVF-Flat past it, IVF-PQ past a second.

An index is always rebuildable from the catalog's stored vectors, so choosing, training and
retraining never re-encode an image. IVF-PQ keeps a 64-byte code per 512-d vector instead of its 2,048 bytes
(at 1M items 64 MB in memory against 2 GB); its scores are approximate, so the searcher re-ranks its candidates
from the vector store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import faiss
import numpy as np

log = logging.getLogger(__name__)

MIN_POINTS_PER_LIST = 39  # faiss warns below this many training points per centroid
MAX_TRAIN_POINTS_PER_LIST = 256
# k-means cost is points x lists x dim x iterations: at 1M items (4,000 lists) the whole library ten times over
# is a quarter of an hour on two cores. A hundred points per list place the centroids about as well (issue 15).
LARGE_TRAIN_POINTS_PER_LIST = 100
LARGE_TRAINING = 200_000  # from this many vectors on, training uses the smaller sample
KMEANS_ITERATIONS = 10
PQ_BITS = 8
PQ_TRAIN_POINTS = 65_536  # each sub-quantizer's 256 centroids need a few hundred points each
MIN_PQ_VECTORS = 10_000  # fewer cannot train 256 centroids per sub-quantizer (faiss wants 39 points each)


@dataclass
class AnnShape:
    """What kind of index a collection has, and on how many vectors it was trained."""

    kind: str  # "flat" | "ivf" | "ivfpq"
    nlist: int = 0
    trained_on: int = 0
    pq_m: int = 0  # ivfpq: sub-quantizers (bytes per code)

    @property
    def exact_scores(self) -> bool:
        """Whether searching scores with the whole vectors (flat and IVF-Flat keep them)."""
        return self.kind in ("flat", "ivf")


def target_nlist(n: int) -> int:
    """About 4·√N lists, but never fewer than 39 training points per list."""
    return max(1, min(int(4 * math.sqrt(n)), n // MIN_POINTS_PER_LIST))


def pq_subquantizers(dim: int) -> int:
    """Sub-quantizers of 8 dimensions each (64 for 512-d), or the nearest count that divides `dim`."""
    wanted = max(1, dim // 8)
    return next(m for m in range(wanted, 0, -1) if dim % m == 0)


def desired_shape(
    n: int, current: AnnShape | None, ivf_threshold: int, compress_threshold: int | None = None
) -> AnnShape:
    """Flat below the threshold; IVF above it, IVF-PQ past `compress_threshold`; retrained once the library has
    doubled since training.

    Going back (to flat, or from compressed codes to IVF-Flat) waits until the library is under half the
    threshold, so a library that hovers around one is not rebuilt on every run.
    """
    compress = compress_threshold is not None and n >= compress_threshold
    if current is not None and current.kind == "ivfpq" and compress_threshold is not None:
        compress = n >= compress_threshold // 2
    compress = compress and n >= MIN_PQ_VECTORS
    kind = "ivfpq" if compress else "ivf"
    if current is not None and current.kind in ("ivf", "ivfpq"):
        if n < ivf_threshold // 2:
            return AnnShape("flat")
        if current.kind == kind and n < 2 * current.trained_on:
            return current
        return _ivf(kind, n)
    if n >= ivf_threshold and target_nlist(n) >= 2:
        return _ivf(kind, n)
    return AnnShape("flat")


def _ivf(kind: str, n: int) -> AnnShape:
    return AnnShape(kind, target_nlist(n), n)


def build(shape: AnnShape, dim: int, ids: np.ndarray, vectors: np.ndarray, seed: int = 1234) -> faiss.Index:
    """A new index of `shape` holding `vectors` under `ids` (IVF is trained on a sample of them)."""
    return build_from(shape, dim, ids, lambda rows: vectors[rows], seed)


ADD_CHUNK = 65_536  # vectors read and added at a time: a rebuild never holds the library's vectors at once


def build_from(
    shape: AnnShape, dim: int, ids: np.ndarray, rows_of: Callable[[np.ndarray], np.ndarray], seed: int = 1234
) -> faiss.Index:
    """A new index of `shape` holding the vectors of `ids`, which `rows_of(positions)` reads (positions into
    `ids`): the training sample first, then the rest in chunks."""
    index = train(shape, dim, len(ids), rows_of, seed)
    fill(index, ids, lambda chunk: rows_of(np.arange(chunk.start, chunk.stop)))
    return index


def train(
    shape: AnnShape, dim: int, n: int, rows_of: Callable[[np.ndarray], np.ndarray], seed: int = 1234
) -> faiss.Index:
    """An empty index of `shape`, trained on a sample of the `n` vectors `rows_of(positions)` reads: what a
    build fills, in one piece or in shards (indexer.shard_build), with the same lists either way."""
    if shape.kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    quantizer = faiss.IndexFlatIP(dim)
    ivf: faiss.IndexIVF
    if shape.kind == "ivfpq":
        m = shape.pq_m or pq_subquantizers(dim)
        ivf = faiss.IndexIVFPQ(quantizer, dim, shape.nlist, m, PQ_BITS, faiss.METRIC_INNER_PRODUCT)
        ivf.pq.cp.niter = KMEANS_ITERATIONS
    else:
        ivf = faiss.IndexIVFFlat(quantizer, dim, shape.nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.own_fields = True
    quantizer.this.disown()
    per_list = LARGE_TRAIN_POINTS_PER_LIST if n >= LARGE_TRAINING else MAX_TRAIN_POINTS_PER_LIST
    limit = shape.nlist * per_list
    if shape.kind == "ivfpq":
        limit = max(limit, PQ_TRAIN_POINTS)
    ivf.cp.seed = seed
    ivf.cp.niter = KMEANS_ITERATIONS
    gpu_search = gpu_clustering(dim)
    if gpu_search is not None:
        ivf.clustering_index = gpu_search  # k-means's assignments, most of training, on the GPU
    try:
        ivf.train(np.ascontiguousarray(rows_of(_training_rows(n, limit, seed)), dtype=np.float32))
    finally:
        ivf.clustering_index = None  # the trained index keeps nothing of the GPU: it is written and read anywhere
    return ivf


def gpu_clustering(dim: int) -> faiss.Index | None:
    """A flat inner-product index on every GPU faiss sees (a faiss-gpu build), for k-means to search; None with
    faiss-cpu, or where moving to the GPU fails (the CPU trains then, the same lists within k-means's rounding)."""
    if getattr(faiss, "get_num_gpus", lambda: 0)() < 1:
        return None
    try:
        return faiss.index_cpu_to_all_gpus(faiss.IndexFlatIP(dim))
    except (RuntimeError, AttributeError) as exc:
        log.warning("faiss sees a GPU but cannot use it for training (%s): the CPU trains", exc)
        return None


def fill(index: faiss.Index, ids: np.ndarray, rows_of: Callable[[slice], np.ndarray]) -> None:
    """Add the vectors of `ids` in chunks of ADD_CHUNK, `rows_of(slice of ids)` reading each: a build never holds
    the library's vectors at once."""
    for start in range(0, len(ids), ADD_CHUNK):
        chunk = slice(start, min(len(ids), start + ADD_CHUNK))
        add(index, ids[chunk], rows_of(chunk))


def _training_rows(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def add(index: faiss.Index, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Into a sharded index, IndexShards spreads them over its shards: any shard may hold any id."""
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))


def remove(index: faiss.Index, ids: np.ndarray) -> None:
    if len(ids):
        wanted = np.ascontiguousarray(ids, dtype=np.int64)
        for part in parts(index):  # IndexShards has no remove_ids of its own
            part.remove_ids(wanted)
        if isinstance(index, faiss.IndexShards):
            index.syncWithSubIndexes()


class Sharded(faiss.IndexShards):
    """IndexShards that keeps the pieces it searches: their Python objects own them, so a piece taken out (parts)
    lives on after the IndexShards is gone."""

    pieces: tuple[faiss.Index, ...] = ()  # declared on the class: faiss lets an instance set only attributes it knows


def parts(index: faiss.Index) -> list[faiss.Index]:
    """The shards of a sharded index (a generation saved in pieces, see IndexFiles), or the index itself."""
    if isinstance(index, Sharded):
        return list(index.pieces)
    if isinstance(index, faiss.IndexShards):
        return [faiss.downcast_index(index.at(i)) for i in range(index.count())]
    return [index]


def shards_of(pieces: list[faiss.Index]) -> faiss.Index:
    """One index searching `pieces` (disjoint ids, one trained quantizer) as if they were one: nprobe and the id
    selector of SearchParametersIVF reach every shard, and hits are merged by score. A single piece stays itself."""
    if len(pieces) == 1:
        return pieces[0]
    sharded = Sharded(pieces[0].d, True, False)  # threaded, ids as they are
    for piece in pieces:
        sharded.add_shard(piece)
    sharded.syncWithSubIndexes()
    sharded.pieces = tuple(pieces)
    return sharded


def index_ids(index: faiss.Index) -> np.ndarray:
    """Every id an index holds, read from its id map or its inverted lists (every shard's)."""
    found = [_ids_of(part) for part in parts(index)]
    return np.concatenate(found) if len(found) > 1 else found[0]


def _ids_of(index: faiss.Index) -> np.ndarray:
    if isinstance(index, (faiss.IndexIDMap2, faiss.IndexIDMap)):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    invlists = ivf.invlists
    found = []
    for list_no in range(ivf.nlist):
        size = invlists.list_size(list_no)
        if size:
            ptr = invlists.get_ids(list_no)
            found.append(faiss.rev_swig_ptr(ptr, size).copy())
            invlists.release_ids(list_no, ptr)
    return np.concatenate(found).astype(np.int64) if found else np.zeros(0, dtype=np.int64)


def search(
    index: faiss.Index, queries: np.ndarray, k: int, nprobe: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inner products, among `allowed` ids when given; ids of -1 (fewer than k hits) are left to drop."""
    if index.ntotal == 0 or k <= 0:
        n = len(queries)
        return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
    k = min(k, int(index.ntotal))
    selector = None if allowed is None else faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
    if is_ivf(index):
        params = (
            faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
            if selector
            else faiss.SearchParametersIVF(nprobe=nprobe)
        )
    else:
        params = faiss.SearchParameters(sel=selector) if selector else None
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
    return scores, ids


def is_ivf(index: faiss.Index) -> bool:
    try:
        faiss.extract_index_ivf(parts(index)[0])
    except RuntimeError:
        return False
    return True
