"""A collection's ANN index kept in step with the catalog's stored vectors.

One mechanism serves the writer's checkpoints, crash recovery and readers: the index records the
catalog version it covers; vectors written after it (and ids the catalog no longer has) are the
delta. A writer folds the delta in and saves a new generation; a reader searches the delta exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import faiss
import numpy as np

from indexer import ann
from indexer.catalog import Catalog, Collection
from indexer.index_files import IndexFiles


@dataclass
class VectorIndex:
    catalog: Catalog
    files: IndexFiles
    collection: Collection
    dim: int
    mapped: bool = False  # searched only: the lists stay on disk, memory-mapped (see IndexFiles.load)
    index: faiss.Index = field(init=False)
    shape: ann.AnnShape = field(init=False)
    version: int = field(init=False)

    def __post_init__(self) -> None:
        loaded = self.files.load(self.mapped)
        if loaded is not None and loaded[0].dim == self.dim:
            manifest, self.index = loaded
            self.shape, self.version = manifest.shape, manifest.version
        else:
            self.index = ann.build(ann.AnnShape("flat"), self.dim, np.zeros(0, np.int64), np.zeros((0, self.dim)))
            self.shape, self.version = ann.AnnShape("flat"), 0

    @property
    def exact_scores(self) -> bool:
        """Whether the index's scores are the exact inner products of the stored vectors (flat and IVF-Flat keep
        the vectors whole), so that rescoring its candidates from the catalog would change nothing."""
        return self.shape.kind in ("flat", "ivf")

    def is_current(self) -> bool:
        return self.version == self.catalog.version(self.collection)

    def delta(self) -> tuple[np.ndarray, np.ndarray]:
        """Vectors the catalog holds that this index lacks or holds stale."""
        return self.catalog.vectors_since(self.collection, self.version, self.dim)

    def delta_ids(self) -> np.ndarray:
        return self.catalog.ids_since(self.collection, self.version)

    def sync(self, ivf_threshold: int) -> bool:
        """Bring the index up to the catalog (retraining if the library outgrew it); True if it changed."""
        if self.mapped:
            raise RuntimeError("a memory-mapped index is for searching only; open it unmapped to change it")
        catalog_version = self.catalog.version(self.collection)
        catalog_ids = self.catalog.vector_ids(self.collection)
        wanted = ann.desired_shape(len(catalog_ids), self.shape, ivf_threshold)
        if wanted != self.shape:
            ids, vectors = self.catalog.fetch_vectors(self.collection, catalog_ids.tolist(), self.dim)
            self.index = ann.build(wanted, self.dim, ids, vectors)
            self.shape, self.version = wanted, catalog_version
            return True
        if catalog_version == self.version:
            return False
        changed_ids, changed_vectors = self.delta()
        gone = np.setdiff1d(ann.index_ids(self.index), catalog_ids, assume_unique=True)
        ann.remove(self.index, np.union1d(gone, changed_ids))
        ann.add(self.index, changed_ids, changed_vectors)
        self.version = catalog_version
        return True

    def update(self, ivf_threshold: int) -> None:
        """Sync with the catalog and write a new generation if anything changed (or none was ever written)."""
        if self.sync(ivf_threshold) or not self.files.manifest_path.exists():
            self.save()

    def save(self) -> None:
        self.files.save(self.index, self.version, self.dim, self.shape)
