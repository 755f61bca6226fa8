"""Index generations on disk: written to a temporary name, flushed, renamed, then announced.

A manifest per collection names the newest complete generation and the catalog version it covers.
Readers load whatever the manifest names; a crash between the two renames leaves the previous
generation in force, never a half-written file.

An IVF generation may be saved in shards (`shards` in the manifest): IVF indexes over disjoint sets of ids that
share one trained quantizer, each its own file, which readers search as one (ann.shards_of). `file` is then the
first shard's, so a manifest without `shards` (all written before them) reads as one file, as it always did.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss

from core.files import atomic_path, atomic_write_text
from indexer import ann
from indexer.ann import AnnShape

KEEP_GENERATIONS = 2  # the newest, plus the one a reader may be opening right now


@dataclass
class Manifest:
    generation: int
    file: str
    version: int  # the catalog version this generation covers
    dim: int
    count: int
    shape: AnnShape
    # nprobe and rescore_factor that `xmodal eval --tune-search` chose for this training of the index, with the
    # recall it measured; kept while the index is only folded into, dropped when it is trained anew.
    tuning: dict[str, Any] | None = None
    shards: list[str] | None = None  # the generation's files when it is saved in shards; None: `file` alone

    @property
    def files(self) -> list[str]:
        return self.shards or [self.file]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["shape"] = asdict(self.shape)
        if self.shards is None:
            del data["shards"]  # a generation in one file reads as before, in older versions too
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(**{**data, "shape": AnnShape(**data["shape"])})


class IndexFiles:
    def __init__(self, folder: Path, collection: str) -> None:
        self.folder = folder
        self.collection = collection
        self.manifest_path = folder / f"{collection}.json"

    def read_manifest(self) -> Manifest | None:
        try:
            return Manifest.from_json(json.loads(self.manifest_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # a damaged manifest: the catalog rebuilds the index

    def load(self, mapped: bool = False) -> tuple[Manifest, faiss.Index] | None:
        """The newest complete generation, or None when there is none (or it cannot be read).

        `mapped` memory-maps the stored vectors (a flat index's, or an IVF index's lists) instead of reading
        them: for processes that only search (a cold `xmodal search` at 100k items opens the index in 3 ms instead
        of 130, and every server process shares the page cache's one copy). FAISS's IO_FLAG_MMAP_IFC maps them as
        plain arrays that search as fast as read ones; its older IO_FLAG_MMAP turns an IVF index's lists into
        on-disk lists that search 4x slower, so a FAISS without the first reads the index whole. A mapped index
        must never be changed; a generation file never is once written (the next one gets a new name), and one
        pruned while mapped stays readable until it is unmapped.
        """
        flags = getattr(faiss, "IO_FLAG_MMAP_IFC", 0) if mapped else 0
        for _attempt in range(3):  # a writer may replace the generation between our two reads
            manifest = self.read_manifest()
            if manifest is None:
                return None
            try:
                index = ann.shards_of([faiss.read_index(str(self.folder / name), flags) for name in manifest.files])
            except RuntimeError:
                continue
            return manifest, index
        return None

    def save(self, index: faiss.Index, version: int, dim: int, shape: AnnShape) -> Manifest:
        """Write `index` as the next generation: one file, or one per shard of a sharded index (ann.shards_of),
        every file renamed into place before the manifest that names them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        previous = self.read_manifest()
        generation = (previous.generation + 1) if previous else 1
        pieces = ann.parts(index)
        names = [self._name(generation, shard, len(pieces)) for shard in range(len(pieces))]
        for piece, name in zip(pieces, names, strict=True):
            with atomic_path(self.folder / name) as temporary:
                faiss.write_index(piece, str(temporary))
        tuning = previous.tuning if previous is not None and previous.shape == shape else None
        shards = names if len(names) > 1 else None
        manifest = Manifest(generation, names[0], version, dim, int(index.ntotal), shape, tuning, shards)
        atomic_write_text(self.manifest_path, json.dumps(manifest.to_json(), indent=2))
        self._prune(generation)
        return manifest

    def _name(self, generation: int, shard: int, shards: int) -> str:
        if shards == 1:
            return f"{self.collection}-{generation:06d}.faiss"
        return f"{self.collection}-{generation:06d}-s{shard:03d}.faiss"

    def set_tuning(self, tuning: dict[str, Any]) -> None:
        """Record search parameters measured on the current generation (readers reload on the manifest's change)."""
        manifest = self.read_manifest()
        if manifest is None:
            raise FileNotFoundError(f"{self.manifest_path}: no index generation to tune")
        manifest.tuning = tuning
        atomic_write_text(self.manifest_path, json.dumps(manifest.to_json(), indent=2))

    def _prune(self, newest: int) -> None:
        named = re.compile(rf"{re.escape(self.collection)}-(\d+)(?:-s\d+)?\.faiss")
        for path in self.folder.glob(f"{self.collection}-*.faiss"):
            match = named.fullmatch(path.name)
            if match is not None and int(match.group(1)) <= newest - KEEP_GENERATIONS:
                path.unlink(missing_ok=True)
        for leftover in self.folder.glob(f".{self.collection}-*.tmp"):  # a writer killed mid-write
            leftover.unlink(missing_ok=True)
