"""What a library holds, for `xmodal stats` and `GET /api/stats`: cheap enough to ask on every page load.

Index shapes and counts come from the index manifests (no index file is loaded); disk usage adds up the
files the library is made of (the catalog and its WAL, the index folder's few generations, the rerank
caches) without walking the thumbnail cache, whose total is counted at most every
`THUMBNAIL_RECOUNT_SECONDS` per process (it may have 100k files, and only grows as pages are viewed).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.settings import Settings
from indexer.catalog import COLLECTIONS, Collection, picture_words
from indexer.library import CATALOG_NAME, Library
from indexer.model_spec import ModelSpec
from indexer.ocr.run import LIBRARY_CHOICE
from indexer.ocr.tesseract import find_tesseract
from indexer.tower_manifest import TowerManifest, towers_folder

THUMBNAIL_RECOUNT_SECONDS = 300.0
THUMBNAILS = "thumbnails"
# Beside the catalog: SQLite's write-ahead log and its index, and the writer's lock file.
CATALOG_COMPANIONS = ("-wal", "-shm")
LOCK_NAME = "writer.lock"
SMALL_FOLDERS = ("index", "rerank", "vectors")  # a handful of files each: listed on every call
TOWERS = "towers"  # the model's ONNX exports: a few files per model


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def files_in(folder: Path) -> Iterable[Path]:
    """The files directly in `folder` (none when it does not exist)."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [Path(entry.path) for entry in entries if entry.is_file(follow_symlinks=False)]


def tree_size(folder: Path) -> int:
    """Bytes in every file below `folder`, however deep."""
    total = 0
    for parent, _, names in os.walk(folder):
        total += sum(file_size(Path(parent) / name) for name in names)
    return total


class FolderSizes:
    """Sizes of big, slowly changing folders, recounted at most every `max_age` seconds."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.clock = clock
        self._counted: dict[Path, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def size(self, folder: Path) -> int:
        now = self.clock()
        with self._lock:
            counted = self._counted.get(folder)
        if counted is not None and now - counted[0] < self.max_age:
            return counted[1]
        size = tree_size(folder)
        with self._lock:
            self._counted[folder] = (now, size)
        return size


thumbnail_sizes = FolderSizes(THUMBNAIL_RECOUNT_SECONDS)


def library_bytes(library: Library) -> int:
    """The catalog and its companions, and the small folders: all but the thumbnail cache."""
    catalog = library.path / CATALOG_NAME
    files = [catalog, *(catalog.with_name(catalog.name + suffix) for suffix in CATALOG_COMPANIONS)]
    files.append(library.path / LOCK_NAME)
    for folder in SMALL_FOLDERS:
        files.extend(files_in(library.path / folder))
    return sum(file_size(path) for path in files) + tree_size(library.path / TOWERS)


def index_stats(library: Library, collection: Collection, dim: int | None) -> dict[str, Any]:
    """The newest index generation as its manifest describes it, and what lies beside it; none yet reads as an
    empty flat index, which is what a searcher loads then."""
    manifest = library.index_files(collection).read_manifest()
    current_version = library.catalog.version(collection)
    store = library.catalog.vectors[collection]
    files = {"vector_bytes": store.disk_bytes(), "precision": store.precision}
    if manifest is None or manifest.dim != dim:
        delta = library.catalog.vector_count(collection)
        return {
            "kind": "flat", "nlist": 0, "count": 0, "shards": 1, "current": current_version == 0, "delta": delta,
            **files,
        }  # fmt: skip
    return {
        "kind": manifest.shape.kind,
        "nlist": manifest.shape.nlist,
        "count": manifest.count,
        "shards": len(manifest.files),
        "current": manifest.version == current_version,
        "delta": len(library.catalog.ids_since(collection, manifest.version)),
        **files,
    }


def export_state(path: Path, spec: ModelSpec) -> dict[str, Any]:
    """How queries on this library are encoded, and why (the export's check against torch, the int8 choice)."""
    manifest = TowerManifest.read(towers_folder(path, spec))
    if manifest is None or not manifest.matches(spec):
        return {"runtime": "torch", "why": "no ONNX export yet: the next xmodal index or watch makes one"}
    if not manifest.usable:
        return {"runtime": "torch", "why": manifest.refused}
    return {
        "runtime": "onnx-int8" if manifest.int8_text else "onnx",
        "text_error": manifest.text_error,
        "image_error": manifest.image_error,
        "pictures": "onnx" if manifest.has_image else f"torch ({manifest.image_refused})",
        "int8_text": manifest.int8_report or "off (not evaluated: xmodal eval --pairs P --runtimes --library L)",
    }


def ocr_stats(library: Library) -> dict[str, Any]:
    """How far reading words has come, and whether it can run here (a reader may lack Tesseract: say so)."""
    catalog = library.catalog
    tesseract = find_tesseract(tuple(Settings(library=library.path).ocr.languages))
    return {
        **picture_words.counts(catalog),
        "library_choice": catalog.get_meta(LIBRARY_CHOICE) or "on (default)",
        "engine": tesseract.engine if tesseract.available else None,
        "problem": tesseract.problem,
        "failures": [{"path": path, "reason": reason} for path, reason in picture_words.failures(catalog)],
    }


def library_stats(library: Library, thumbnails: FolderSizes = thumbnail_sizes) -> dict[str, Any]:
    catalog = library.catalog
    counts = catalog.counts()
    spec = library.model_spec()
    dim = int(catalog.get_meta("dim") or 0) or None
    indexes = {name: index_stats(library, name, dim) for name in COLLECTIONS} if spec is not None else {}
    thumbnail_bytes = thumbnails.size(library.path / THUMBNAILS)
    skipped = catalog.skipped_by_reason()
    return {
        "library": str(library.path),
        "model": spec.describe() if spec else None,
        "dim": dim,
        "images": counts["media"],
        "videos": counts["videos"],
        "moments": counts["segments"],
        "failed": counts["failed"],
        "texts": counts["texts"],
        "text_sources": counts["text_sources"],
        "disk_bytes": library_bytes(library) + thumbnail_bytes,
        "thumbnail_bytes": thumbnail_bytes,
        "indexes": indexes,
        "pictures_encoded_by": catalog.image_runtimes(),
        "queries": export_state(library.path, spec) if spec is not None else None,
        "failures": [{"path": path, "reason": reason} for path, reason in catalog.failures()],
        "partial_videos": [{"path": path, "reason": reason} for path, reason in catalog.partial_videos()],
        "skipped": sum(count for _, count, _ in skipped),
        "skipped_by_reason": [
            {"reason": reason, "count": count, "examples": examples} for reason, count, examples in skipped
        ],
        "ocr": ocr_stats(library),
    }
