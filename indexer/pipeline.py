"""An indexing run: scan → diff with the catalog → decode (threads) → encode (batches) → write.

Each batch is one catalog transaction, so a run killed at any moment leaves a catalog that opens
and a next run that resumes where it stopped; the ANN index is checkpointed from the catalog.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.settings import Settings
from indexer.catalog import KnownFile, MediaRecord, MediaRow
from indexer.decode import DecodeError, ImageInfo, decode_image
from indexer.encoder import Encoder
from indexer.hashing import content_hash
from indexer.library import Library
from indexer.progress import ProgressReporter
from indexer.scan import FoundFile, normalize_roots, scan
from indexer.texts import parse_text_file, source_unchanged, sync_source

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    scanned: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    moved: int = 0
    duplicates: int = 0
    removed: int = 0
    failed: int = 0
    texts: int = 0
    encode_batches: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    unreadable_dirs: list[str] = field(default_factory=list)

    @property
    def encoded(self) -> int:
        return self.added + self.updated


# What a decode worker hands back for one file.
@dataclass
class _Decoded:
    file: FoundFile
    known: KnownFile | None
    hash: str
    tensor: torch.Tensor
    info: ImageInfo


@dataclass
class _KnownContent:
    file: FoundFile
    known: KnownFile | None
    hash: str


@dataclass
class _Failed:
    file: FoundFile
    known: KnownFile | None
    hash: str | None
    reason: str


_Outcome = _Decoded | _KnownContent | _Failed


def _ok_record(file: FoundFile, content: str, info: ImageInfo, row_id: int | None) -> MediaRecord:
    return MediaRecord(
        file.path,
        file.size,
        file.mtime_ns,
        content,
        "ok",
        None,
        info.format,
        info.width,
        info.height,
        info.taken_at,
        info.camera_make,
        info.camera_model,
        id=row_id,
    )


class IndexRun:
    def __init__(self, library: Library, encoder: Encoder, settings: Settings) -> None:
        self.library = library
        self.catalog = library.catalog
        self.encoder = encoder
        self.settings = settings
        self.report = IndexReport()
        self._known_hashes: set[str] = set()
        self._missing_by_hash: dict[str, list[KnownFile]] = {}
        self._batch: list[tuple[MediaRecord, torch.Tensor | np.ndarray | None, bool]] = []
        self._moves: list[tuple[int, str, int, int]] = []
        self._touches: list[tuple[int, int, int]] = []
        self._last_checkpoint = time.monotonic()
        self._indexes = {name: library.vector_index(name) for name in ("media", "texts")}

    # -- the run ------------------------------------------------------------------------------

    def run(self, paths: Iterable[str | Path], progress: ProgressReporter, gone: Iterable[str] = ()) -> IndexReport:
        """Bring the catalog in line with the disk under `paths` (which must exist) and `gone` (which need not:
        files and folders the watcher saw disappear; what was there is moved or removed like any missing file)."""
        started = time.monotonic()
        roots = normalize_roots(paths)
        vanished = [os.path.abspath(path) for path in gone]
        found = scan(roots, exclude=str(self.library.path))
        self.report.scanned = len(found.images)
        self.report.unreadable_dirs = found.unreadable_dirs
        known = self.catalog.known_files([*roots, *vanished])
        todo = []
        for file in found.images:
            row = known.get(file.path)
            if row is not None and row.size == file.size and row.mtime_ns == file.mtime_ns:
                self.report.unchanged += 1
            else:
                todo.append((file, row))
        present = {file.path for file in found.images}
        missing = [row for path, row in known.items() if path not in present]
        for row in missing:
            if row.has_vector and row.content_hash:
                self._missing_by_hash.setdefault(row.content_hash, []).append(row)
        self._known_hashes = self.catalog.ok_hashes()

        try:
            progress.start("indexing", len(todo))
            self._process(todo, progress)
            self._flush()
            removed = [row.id for rows in self._missing_by_hash.values() for row in rows]
            removed += [row.id for row in missing if not (row.has_vector and row.content_hash)]
            self.catalog.delete_media(removed)
            self.report.removed = len(removed)
            self.report.texts = self._sync_sidecars([*roots, *vanished], found.sidecars)
        except KeyboardInterrupt:
            self.report.interrupted = True
            self._flush()
        finally:
            self._checkpoint()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _process(self, todo: list[tuple[FoundFile, KnownFile | None]], progress: ProgressReporter) -> None:
        window = self.settings.batch_size * 2 + self.settings.workers
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="decode") as pool:
            pending: deque[Future[_Outcome]] = deque()
            items = iter(todo)
            try:
                for file, row in items:
                    pending.append(pool.submit(self._decode, file, row))
                    if len(pending) >= window:
                        self._take(pending.popleft().result())
                        progress.advance()
                while pending:
                    self._take(pending.popleft().result())
                    progress.advance()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise

    def _decode(self, file: FoundFile, row: KnownFile | None, reuse_known: bool = True) -> _Outcome:
        """Runs in a worker thread: read once, hash, and decode only content we have not seen."""
        content: str | None = None
        try:
            if file.size > self.settings.max_file_bytes:
                return _Failed(
                    file,
                    row,
                    None,
                    f"file is {file.size:,} bytes, over the limit of "
                    f"{self.settings.max_file_bytes:,} (XMODAL_MAX_FILE_BYTES)",
                )
            with open(file.path, "rb") as handle:
                data = handle.read(self.settings.max_file_bytes + 1)
            content = content_hash(data)
            if reuse_known and content in self._known_hashes:
                return _KnownContent(file, row, content)
            image, info = decode_image(data, self.encoder.image_size, self.settings.max_image_pixels)
            return _Decoded(file, row, content, self.encoder.image_tensor(image), info)
        except DecodeError as exc:
            return _Failed(file, row, content, str(exc))
        except OSError as exc:
            return _Failed(file, row, content, f"cannot read file: {exc.strerror or exc}")
        except Exception as exc:  # a bug or a hostile file must cost one file, never the run
            log.exception("unexpected error on %s", file.path)
            return _Failed(file, row, content, f"unexpected error: {type(exc).__name__}: {exc}")

    def _take(self, outcome: _Outcome) -> None:
        file, row = outcome.file, outcome.known
        row_id = row.id if row is not None else None
        if isinstance(outcome, _Failed):
            record = MediaRecord(
                file.path, file.size, file.mtime_ns, outcome.hash, "failed", error=outcome.reason, id=row_id
            )
            self._batch.append((record, None, False))
            self.report.failed += 1
        elif isinstance(outcome, _Decoded):
            record = _ok_record(file, outcome.hash, outcome.info, row_id)
            self._batch.append((record, outcome.tensor, True))
            if row is None:
                self.report.added += 1
            else:
                self.report.updated += 1
        else:
            self._take_known_content(outcome)
        if len(self._batch) >= self.settings.batch_size:
            self._flush()

    def _take_known_content(self, outcome: _KnownContent) -> None:
        """Content already in the library: a touched file, a moved file, or a copy of another file."""
        file, row = outcome.file, outcome.known
        if row is not None and row.content_hash == outcome.hash and row.has_vector:
            self._touches.append((row.id, file.size, file.mtime_ns))
            self.report.unchanged += 1
            return
        moved_from = self._missing_by_hash.get(outcome.hash)
        if moved_from:
            source = moved_from.pop()
            self._moves.append((source.id, file.path, file.size, file.mtime_ns))
            self.report.moved += 1
            return
        source_ids = self.catalog.ids_by_hash(outcome.hash)
        sources = self.catalog.media_rows(source_ids)
        vanished = self._vanished_rows(sources)
        if vanished:  # moved from outside this run's scope (a watcher batch that saw only the arrival)
            self._moves.append((vanished[0], file.path, file.size, file.mtime_ns))
            self.report.moved += 1
            return
        if not source_ids:  # the only copy vanished meanwhile: decode it after all
            self._take(self._decode(file, row, reuse_known=False))
            return
        source_row = sources[source_ids[0]]
        _, vectors = self.catalog.fetch_vectors("media", source_ids[:1], self.encoder.dim)
        info = ImageInfo(**{name: getattr(source_row, name) for name in ImageInfo.__dataclass_fields__})
        record = _ok_record(file, outcome.hash, info, row.id if row is not None else None)
        self._batch.append((record, vectors[0], False))
        self.report.duplicates += 1

    def _vanished_rows(self, rows: dict[int, MediaRow]) -> list[int]:
        """Rows with this content whose file is gone from disk: the content moved here."""
        taken = {move[0] for move in self._moves}
        return [i for i, row in rows.items() if i not in taken and not os.path.exists(row.path)]

    def _flush(self) -> None:
        self.catalog.move_media(self._moves)
        self.catalog.touch_media(self._touches)
        self._moves, self._touches = [], []
        if self._batch:
            tensors = [item for _, item, is_tensor in self._batch if is_tensor]
            encoded = iter(self.encoder.encode_image_tensors(tensors)) if tensors else iter(())  # type: ignore[arg-type]
            if tensors:
                self.report.encode_batches += 1
            vectors: list[np.ndarray | None] = []
            for _, item, is_tensor in self._batch:
                vectors.append(next(encoded) if is_tensor else item)  # type: ignore[arg-type]
            self.catalog.write_media([record for record, _, _ in self._batch], vectors)
            self._batch = []
        if time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_seconds:
            self._checkpoint()

    def _checkpoint(self) -> None:
        for vector_index in self._indexes.values():
            vector_index.update(self.settings.ivf_threshold)
        self._last_checkpoint = time.monotonic()

    # -- sidecar captions ---------------------------------------------------------------------

    def _sync_sidecars(self, roots: list[str], sidecars: dict[str, FoundFile]) -> int:
        current = {sidecar.path: image for image, sidecar in sidecars.items()}
        stale = [path for path in self.catalog.sidecar_sources_under(roots) if path not in current]
        self.catalog.delete_text_sources(stale)
        count = 0
        for path, image in current.items():
            if source_unchanged(self.catalog, path):
                continue
            media_id = self.catalog.media_id_for_path(image)
            if media_id is None:
                continue
            entries = parse_text_file(Path(path), "sidecar")
            count += sync_source(self.catalog, path, "sidecar", entries, self.encoder.encode_texts, media_id)
        return count


def index_paths(
    library: Library,
    encoder: Encoder,
    paths: Iterable[str | Path],
    settings: Settings,
    quiet: bool = False,
    gone: Iterable[str] = (),
) -> IndexReport:
    with ProgressReporter(quiet=quiet or settings.quiet) as progress:
        return IndexRun(library, encoder, settings).run(paths, progress, gone=gone)


def add_texts(library: Library, encoder: Encoder, files: Iterable[str | Path], settings: Settings) -> int:
    """Ingest .txt/.md/.csv files into the text corpus; re-adding a file replaces its texts."""
    from indexer.texts import text_kind

    count = 0
    for path in normalize_roots(files):
        kind = text_kind(Path(path))
        entries = parse_text_file(Path(path), kind)
        count += sync_source(library.catalog, path, kind, entries, encoder.encode_texts)
    library.vector_index("texts").update(settings.ivf_threshold)
    return count
