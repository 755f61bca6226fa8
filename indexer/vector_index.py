"""A collection's ANN index kept in step with the catalog's stored vectors.

One mechanism serves the writer's checkpoints, crash recovery and readers: the index records the
catalog version it covers; vectors written after it (and ids the catalog no longer has) are the
delta. Readers search the delta exactly beside the index (searcher.retrieval). A writer folds it in and
saves a new generation, except on a large index while the delta is small: rewriting a 1M-item index for one
new picture cost 21 s (issue 15), searching a few thousand vectors exactly costs a reader a millisecond.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from indexer import ann, shard_build
from indexer.catalog import Catalog, Collection
from indexer.index_files import IndexFiles, Manifest

if TYPE_CHECKING:
    from core.settings import Settings
    from indexer.shard_build import ShardExecutor

log = logging.getLogger(__name__)


# From this many vectors a retraining runs beside the writer (about a minute at 200k, several at 1M on two cores);
# below it, within the checkpoint.
BACKGROUND_FROM = 100_000


def build_from_store(
    catalog: Catalog, collection: Collection, shape: ann.AnnShape, dim: int, ids: np.ndarray
) -> faiss.Index:
    """A new index of `shape` over `ids`, its vectors read from the vector store in chunks."""
    store = catalog.vectors[collection]
    return ann.build_from(shape, dim, ids, lambda rows: store.read(ids[rows]))


class Build(threading.Thread):
    """Trains and fills a new index from a snapshot of the catalog (its ids and version), beside the writer.

    Never raises: an error is logged and leaves `index` None, and the writer builds in the foreground instead."""

    def __init__(
        self, catalog: Catalog, collection: Collection, dim: int, shape: ann.AnnShape, version: int, ids: np.ndarray
    ) -> None:
        super().__init__(name=f"xmodal-index-build-{collection}", daemon=True)
        self.catalog, self.collection, self.dim = catalog, collection, dim
        self.shape, self.version, self.ids = shape, version, ids
        self.index: faiss.Index | None = None

    def run(self) -> None:
        started = time.monotonic()
        try:
            self.index = build_from_store(self.catalog, self.collection, self.shape, self.dim, self.ids)
            log.info("%s index trained beside the writer: %s in %.0f s", self.collection, self.shape,
                     time.monotonic() - started)  # fmt: skip
        except Exception:
            log.exception("training the %s index beside the writer failed; it will be built in the foreground",
                          self.collection)  # fmt: skip


@dataclass(frozen=True)
class IndexPolicy:
    """When the index changes shape, and when a checkpoint rewrites it (from the settings of one run)."""

    ivf_threshold: int
    compress_threshold: int | None = None
    delta_limit: int = 0  # changes readers may search beside an index of over 4x this many before a rewrite
    serve_shards: int = 1  # files an IVF generation is saved in, which readers search as one (ann.shards_of)

    @classmethod
    def of(cls, settings: Settings | IndexPolicy | int) -> IndexPolicy:
        """From the settings; a policy stays itself; a bare number is an IVF threshold."""
        if isinstance(settings, IndexPolicy):
            return settings
        if isinstance(settings, int):
            return cls(settings)
        return cls(settings.ivf_threshold, settings.compress_threshold, settings.delta_limit, settings.ray.serve_shards)

    def shape_for(self, n: int, current: ann.AnnShape | None) -> ann.AnnShape:
        return ann.desired_shape(n, current, self.ivf_threshold, self.compress_threshold)

    def pieces_for(self, shape: ann.AnnShape) -> int:
        """Files a generation of `shape` is saved in: flat indexes (small libraries) stay whole."""
        return max(1, self.serve_shards) if shape.kind in ("ivf", "ivfpq") else 1


@dataclass
class VectorIndex:
    catalog: Catalog
    files: IndexFiles
    collection: Collection
    dim: int
    mapped: bool = False  # searched only: the lists stay on disk, memory-mapped (see IndexFiles.load)
    shape: ann.AnnShape = field(init=False)
    version: int = field(init=False)
    count: int = field(init=False)  # vectors the index holds
    tuning: dict[str, Any] | None = field(init=False, default=None)  # see Manifest.tuning
    pieces: int = field(init=False, default=1)  # files the generation on disk is saved in (Manifest.shards)
    _index: faiss.Index | None = field(init=False, default=None)
    _building: Build | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        """Reads the manifest only: a writer that checkpoints a small delta never loads a large index."""
        self._take(self.files.read_manifest())

    def _take(self, manifest: Manifest | None) -> None:
        """Shape, version, count and tuning from a manifest of this dimension; an empty flat index's otherwise."""
        if manifest is not None and manifest.dim == self.dim:
            self.shape, self.version, self.count = manifest.shape, manifest.version, manifest.count
            self.tuning, self.pieces = manifest.tuning, len(manifest.files)
        else:
            self.shape, self.version, self.count = ann.AnnShape("flat"), 0, 0
            self.pieces = 1

    @property
    def index(self) -> faiss.Index:
        if self._index is None:
            loaded = self.files.load(self.mapped)
            if loaded is not None and loaded[0].dim == self.dim:
                manifest, self._index = loaded
                self._take(manifest)
            else:
                self._index = ann.build(ann.AnnShape("flat"), self.dim, np.zeros(0, np.int64), np.zeros((0, self.dim)))
                self._take(None)
        return self._index

    @property
    def exact_scores(self) -> bool:
        """Whether the index's scores are the exact inner products of the stored vectors (flat and IVF-Flat keep
        the vectors whole), so that rescoring its candidates from the catalog would change nothing."""
        return self.shape.exact_scores

    def is_current(self) -> bool:
        return self.version == self.catalog.version(self.collection)

    def delta(self) -> tuple[np.ndarray, np.ndarray]:
        """Vectors the catalog holds that this index lacks or holds stale."""
        return self.catalog.vectors_since(self.collection, self.version, self.dim)

    def delta_ids(self) -> np.ndarray:
        return self.catalog.ids_since(self.collection, self.version)

    def sync(self, policy: IndexPolicy | int, *, background: bool = False) -> bool:
        """Bring the index up to the catalog (retraining if the library outgrew it); True if it changed.

        `background`: a retraining of a large library (BACKGROUND_FROM vectors) runs in a thread while the writer
        goes on; until it is done this returns False and readers search the old generation and the growing
        delta. The next call after it is done adopts the new index and folds in what was written meanwhile."""
        if self.mapped:
            raise RuntimeError("a memory-mapped index is for searching only; open it unmapped to change it")
        policy = IndexPolicy.of(policy)
        catalog_version = self.catalog.version(self.collection)
        catalog_ids = self.catalog.vector_ids(self.collection)
        wanted = policy.shape_for(len(catalog_ids), self.shape)
        if self._building is not None and not self._building.is_alive():
            self._adopt(self._building)
            self._building = None
        elif wanted != self.shape:
            if self._building is not None:
                return False  # still training
            if background and len(catalog_ids) >= BACKGROUND_FROM:
                self._building = Build(self.catalog, self.collection, self.dim, wanted, catalog_version, catalog_ids)
                self._building.start()
                return False
            self._index = build_from_store(self.catalog, self.collection, wanted, self.dim, catalog_ids)
            self.shape, self.version, self.count = wanted, catalog_version, len(catalog_ids)
            return True
        if catalog_version == self.version:
            return False
        index = self.index
        changed_ids, changed_vectors = self.delta()
        gone = np.setdiff1d(ann.index_ids(index), catalog_ids, assume_unique=True)
        ann.remove(index, np.union1d(gone, changed_ids))
        ann.add(index, changed_ids, changed_vectors)
        self.version, self.count = catalog_version, int(index.ntotal)
        return True

    def _adopt(self, build: Build) -> None:
        if build.index is None:  # the thread logged why; the writer builds it in the foreground instead
            build.index = build_from_store(self.catalog, self.collection, build.shape, self.dim, build.ids)
        self._index = build.index
        self.shape, self.version, self.count = build.shape, build.version, int(build.index.ntotal)

    def finish(self, policy: IndexPolicy) -> None:
        """Wait for a background training, then bring the index up to the catalog and write it."""
        if self._building is not None:
            self._building.join()
        self.update(policy)

    @property
    def building(self) -> bool:
        return self._building is not None and self._building.is_alive()

    def update(self, policy: IndexPolicy | int, *, background: bool = False) -> None:
        """Sync with the catalog and write a new generation if anything changed (or none was ever written), unless
        the delta is small beside a large index: readers search it exactly until a later checkpoint folds it in."""
        policy = IndexPolicy.of(policy)
        trained = self._building is not None and not self._building.is_alive()
        laid_out = self.pieces == policy.pieces_for(self.shape)  # else the settings ask for other files
        if not trained and laid_out and self.files.manifest_path.exists() and self._delta_can_wait(policy):
            return
        changed = self.sync(policy, background=background)
        if changed or not laid_out or not self.files.manifest_path.exists():
            self.save(policy.pieces_for(self.shape))

    def rebuild(self, policy: IndexPolicy, *, shards: int | None = None, executor: ShardExecutor | None = None) -> None:
        """Train a new index on the library as it is now and write it (`xmodal index --rebuild-index`): readers
        search the previous generation until the new one is announced.

        `shards` (0: one per shard_build.SHARD_VECTORS vectors) or an `executor` (threads here, or Ray tasks) splits
        the adding into shards filled apart and merged (indexer.shard_build): the same index, built in parallel."""
        catalog_ids = self.catalog.vector_ids(self.collection)
        version = self.catalog.version(self.collection)
        shape = policy.shape_for(len(catalog_ids), None)
        if shards is None and executor is None:
            self._index = build_from_store(self.catalog, self.collection, shape, self.dim, catalog_ids)
        else:
            source = shard_build.StoreSource.of(self.catalog.vectors[self.collection], self.dim)
            self._index = shard_build.build(
                shape, self.dim, catalog_ids, source, shards or 0, executor, groups=policy.pieces_for(shape)
            )
        self.shape, self.version, self.count = shape, version, len(catalog_ids)
        self.save(policy.pieces_for(shape))

    def _delta_can_wait(self, policy: IndexPolicy) -> bool:
        if self.catalog.version(self.collection) == self.version:  # current: unless the settings want another shape
            return policy.shape_for(self.count, self.shape) == self.shape
        if not policy.delta_limit or self.count <= 4 * policy.delta_limit:
            return False  # a small index is rewritten in moments: readers get it whole
        n = self.catalog.vector_count(self.collection)
        if policy.shape_for(n, self.shape) != self.shape:
            return False
        written = len(self.delta_ids())
        dead = max(0, self.count - (n - written))  # ids the index holds that the catalog deleted (about)
        return written + dead <= policy.delta_limit

    def save(self, pieces: int | None = None) -> None:
        """Write the index as a new generation, in `pieces` files (its pieces as they are when None)."""
        if pieces is not None:
            self._index = shard_build.layout(self.index, pieces)
        self.pieces = len(self.files.save(self.index, self.version, self.dim, self.shape).files)
