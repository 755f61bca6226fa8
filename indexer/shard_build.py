"""Index builds split into shards: the IVF is trained once, each shard of ids is added apart, the shards are merged.

Adding is most of a large build (at 1M items on two cores, adding takes longer than training on the sample), and
it parallelises by ids: every shard starts from the same trained empty index and receives a contiguous range of
the ids, so merging the shards in order puts the same ids in the same lists in the same order as one build would.
The result is the same index, bit for bit, whichever executor filled the shards.

Shards run on an executor: threads of this process (LocalExecutor), or Ray tasks (RayExecutor), which read the
vectors from the vector store file by its path, so the library folder must be on a filesystem that every Ray node
mounts at the same path. Only the trained index and each shard's ids travel to a task; the vectors never do.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from core.errors import ClusterError
from indexer import ann
from indexer.catalog.vector_store import VectorStore

SHARD_VECTORS = 1_000_000  # shards = 0 asks for one shard per this many vectors


@dataclass(frozen=True)
class StoreSource:
    """A collection's vector file, by path: what a shard task on another process or node opens (read-only)."""

    path: str
    dim: int

    @classmethod
    def of(cls, store: VectorStore, dim: int) -> StoreSource:
        return cls(str(store.path), dim)


class ShardExecutor(Protocol):
    def fill(self, trained: np.ndarray, chunks: list[np.ndarray], source: StoreSource) -> Iterator[np.ndarray]:
        """Each chunk's shard filled (`fill_from_store`), serialized, in the order of `chunks`."""
        ...


def fill_shard(trained: np.ndarray, ids: np.ndarray, read_rows: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The trained empty index (serialized) holding the vectors of `ids`, which `read_rows(ids)` reads a chunk
    (ann.ADD_CHUNK) at a time; serialized, to travel back from a Ray task."""
    index = faiss.deserialize_index(trained)
    ann.fill(index, ids, lambda chunk: read_rows(ids[chunk]))
    return faiss.serialize_index(index)


def fill_from_store(trained: np.ndarray, ids: np.ndarray, source: StoreSource) -> np.ndarray:
    """fill_shard with the vectors read from the store file, opened read-only here: a Ray task's whole job."""
    store = VectorStore(Path(source.path), readonly=True)
    try:
        return fill_shard(trained, ids, lambda chunk: store.read(chunk, source.dim))
    finally:
        store.close()


class LocalExecutor:
    """Shards filled by threads of this process (faiss releases the GIL while adding). At most `workers` filled
    shards wait to be merged, so the build holds little more than the merged index."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1

    def fill(self, trained: np.ndarray, chunks: list[np.ndarray], source: StoreSource) -> Iterator[np.ndarray]:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="xmodal-shard") as pool:
            pending: deque[Future[np.ndarray]] = deque()
            for chunk in chunks:
                pending.append(pool.submit(fill_from_store, trained, chunk, source))
                if len(pending) >= self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


class RayExecutor:
    """Shards filled by Ray tasks, on whatever cluster this process joined (ray.init; Ray starts a local one if
    none). Each task reserves `cpus` CPUs; Ray gives it as many faiss (OpenMP) threads."""

    def __init__(self, cpus: float = 1.0) -> None:
        self.cpus = cpus

    def fill(self, trained: np.ndarray, chunks: list[np.ndarray], source: StoreSource) -> Iterator[np.ndarray]:
        import ray

        task = ray.remote(num_cpus=self.cpus)(fill_from_store)
        shared = ray.put(trained)  # sent to the object store once, not with every task
        # As many shards in flight as the cluster has CPUs for: filled shards (2 GB each at 1M IVF-Flat vectors)
        # wait in the object store only until merged, not all at once.
        window = max(2, int(ray.cluster_resources().get("CPU", 1) // self.cpus))
        waiting = deque(chunks)
        pending: deque[Any] = deque()
        try:
            while waiting or pending:
                while waiting and len(pending) < window:
                    pending.append(task.remote(shared, waiting.popleft(), source))
                yield ray.get(pending.popleft())  # its reference dropped once merged: the object store may free it
        except ray.exceptions.RayError as exc:
            raise ClusterError(
                f"the cluster could not fill the index's shards from {source.path}: {exc}",
                "the shards' tasks read the library's vector file by its path: every machine must see the library "
                "folder there; or rebuild without --ray",
            ) from exc
        finally:
            for ref in pending:
                ray.cancel(ref)


def shard_count(n: int, shards: int, groups: int = 1) -> int:
    """How many shards `n` vectors are added in: `shards`, or one per SHARD_VECTORS when 0; at least `groups` (a
    generation saved in that many pieces is made of whole shards), never more than there are vectors."""
    wanted = shards or math.ceil(n / SHARD_VECTORS)
    return max(1, min(max(wanted, groups), n))


def build(
    shape: ann.AnnShape,
    dim: int,
    ids: np.ndarray,
    source: StoreSource,
    shards: int = 0,
    executor: ShardExecutor | None = None,
    seed: int = 1234,
    groups: int = 1,
) -> faiss.Index:
    """The index ann.build_from would make of `ids` (in this order), its adding split into shards of contiguous
    ids: one IVF index, or `groups` of them as one sharded index (ann.shards_of) to be saved in pieces. Flat
    indexes (small libraries) are built whole."""
    store = VectorStore(Path(source.path), readonly=True)
    try:
        rows_of: Callable[[np.ndarray], np.ndarray] = lambda positions: store.read(ids[positions], dim)  # noqa: E731
        if shape.kind == "flat":
            return ann.build_from(shape, dim, ids, rows_of, seed)
        trained = faiss.serialize_index(ann.train(shape, dim, len(ids), rows_of, seed))
    finally:
        store.close()
    count = shard_count(len(ids), shards, groups)
    if count == 1 or executor is None:
        executor = LocalExecutor()  # one shard: faiss's threads here beat one task's single CPU on a cluster
    filled = executor.fill(trained, np.array_split(ids, count), source)
    return merge(filled, [len(group) for group in np.array_split(np.arange(count), min(groups, count))])


def merge(filled: Iterator[np.ndarray], sizes: list[int]) -> faiss.Index:
    """Filled shards (serialized, in order) merged into len(sizes) indexes of sizes[i] consecutive shards each, one
    shard at a time: each is moved into its group's first (IndexIVF.merge_from appends every list, so the order of
    ids in the lists is the order they were added in)."""
    pieces = []
    for size in sizes:
        piece = faiss.deserialize_index(next(filled))
        for _ in range(size - 1):
            piece.merge_from(faiss.deserialize_index(next(filled)), 0)
        pieces.append(piece)
    return ann.shards_of(pieces)


def layout(index: faiss.Index, shards: int) -> faiss.Index:
    """`index` in `shards` pieces over contiguous ranges of its ids (an IVF index only; a flat one stays whole).

    For the writer, before saving: the pieces of a sharded `index` are merged or split in place, so the `index`
    given is not to be used afterwards. A split copies the lists once (IndexIVF.copy_subset_to), keeping each
    list's order."""
    pieces = ann.parts(index)
    wanted = shards if ann.is_ivf(index) else 1
    if len(pieces) == wanted:
        return index
    whole = pieces[0]
    for piece in pieces[1:]:
        whole.merge_from(piece, 0)
    if wanted <= 1:
        return whole
    return ann.shards_of(split(whole, wanted))


def split(index: faiss.Index, shards: int) -> list[faiss.Index]:
    """An IVF index's entries in `shards` new indexes, by ranges of ids holding about as many entries each."""
    ivf = faiss.extract_index_ivf(index)
    ids = np.sort(ann.index_ids(index))
    cuts = [int(ids[len(ids) * shard // shards]) for shard in range(1, shards)] if len(ids) else [0] * (shards - 1)
    bounds = [int(np.iinfo(np.int64).min), *cuts, int(np.iinfo(np.int64).max)]
    pieces = []
    for low, high in itertools.pairwise(bounds):
        piece = _empty_like(ivf)
        ivf.copy_subset_to(faiss.extract_index_ivf(piece), faiss.InvertedLists.SUBSET_TYPE_ID_RANGE, low, high)
        pieces.append(piece)
    return pieces


def _empty_like(ivf: faiss.IndexIVF) -> faiss.Index:
    """A copy of a trained IVF index without its entries (its lists are swapped out while it is cloned)."""
    lists, owned, ntotal = ivf.invlists, ivf.own_invlists, ivf.ntotal
    empty = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)
    ivf.own_invlists = False
    ivf.replace_invlists(empty, False)
    ivf.ntotal = 0
    try:
        return faiss.clone_index(ivf)
    finally:
        ivf.replace_invlists(lists, owned)
        ivf.ntotal = ntotal
