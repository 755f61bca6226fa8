"""Keeping a library up to date: filesystem events, debounced and batched into ordinary index runs.

Every change goes through the same `IndexRun` as `xmodal index`, scoped to what changed: a moved
file or folder keeps its vectors (content hash), a deleted one leaves catalog and index, a burst
of new files is encoded in full batches. A file still being written waits until it has settled.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from core.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import IndexReport, index_paths
from indexer.library import Library
from indexer.scan import normalize_roots
from indexer.selection import IMAGE_EXTENSIONS

log = logging.getLogger("xmodal.watch")
COLLAPSE_TO_FOLDER = 20  # this many changed entries in one folder: rescan the folder instead


@dataclass
class WatchOptions:
    roots: list[str]
    poll: bool = False
    debounce: float = 2.0
    full_scan_every: float = 0.0  # minutes; 0 = never
    poll_interval: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Collector(FileSystemEventHandler):
    """Records which paths changed and when the last event came; the watcher thread does the work."""

    def __init__(self, library: Path, roots: list[str]) -> None:
        self.library = str(library)
        self.roots = roots
        self.lock = threading.Lock()
        self.dirty: set[str] = set()
        self.last_event = 0.0

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        with self.lock:
            for raw in paths:
                path = os.fsdecode(raw) if raw else ""
                if path and not _inside(path, self.library) and not _ignored(path, self.roots):
                    self.dirty.add(path)
            self.last_event = time.monotonic()

    def take(self, quiet_for: float) -> set[str]:
        with self.lock:
            if not self.dirty or time.monotonic() - self.last_event < quiet_for:
                return set()
            taken, self.dirty = self.dirty, set()
            return taken

    def give_back(self, paths: Iterable[str]) -> None:
        with self.lock:
            self.dirty.update(paths)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _ignored(path: str, roots: list[str]) -> bool:
    """Hidden files and folders below a root (editors' swap files, .thumbnails), and non-image, non-caption files."""
    name = os.path.basename(path)
    root = next((r for r in roots if _inside(path, r)), None)
    below = Path(os.path.relpath(path, root)).parts if root else (name,)
    if any(part.startswith(".") for part in below):
        return True
    suffix = os.path.splitext(name)[1].lower()
    return bool(suffix) and suffix not in IMAGE_EXTENSIONS and suffix != ".txt" and "." in name


class Watcher:
    def __init__(self, library: Library, encoder: Encoder, settings: Settings, options: WatchOptions) -> None:
        self.library = library
        self.encoder = encoder
        self.settings = settings
        self.options = options
        self.collector = _Collector(library.path, [os.path.abspath(r) for r in options.roots])
        self.reports: list[IndexReport] = []
        self._stop = threading.Event()
        self.observer: Any = None
        self.ready = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        """Full scan, then live events until stop() (or Ctrl-C / SIGTERM in the CLI)."""
        roots = normalize_roots(self.options.roots)
        self.library.catalog.set_json("watch", self.options.to_json())
        self.observer = self._start_observer(roots)
        try:
            self._index(roots, [], "full scan")
            self.ready.set()
            next_full_scan = self._next_full_scan()
            while not self._stop.is_set():
                self._stop.wait(min(0.25, self.options.debounce / 4))
                changed = self.collector.take(self.options.debounce)
                if changed:
                    self._process(changed)
                if next_full_scan is not None and time.monotonic() >= next_full_scan:
                    self._index(roots, [], "periodic full scan")
                    next_full_scan = self._next_full_scan()
        finally:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.ready.set()

    def stop(self) -> None:
        self._stop.set()

    def _next_full_scan(self) -> float | None:
        minutes = self.options.full_scan_every
        return time.monotonic() + minutes * 60 if minutes > 0 else None

    def _start_observer(self, roots: list[str]) -> Any:
        if not self.options.poll:
            try:
                return self._schedule(Observer(), roots)
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                    raise
                log.warning(
                    "inotify watch limit reached (%s); falling back to polling every %.1fs. To watch natively, "
                    "raise fs.inotify.max_user_watches (sysctl)",
                    exc.strerror,
                    self.options.poll_interval,
                )
        return self._schedule(PollingObserver(timeout=self.options.poll_interval), roots)

    def _schedule(self, observer: Any, roots: list[str]) -> Any:
        for root in roots:
            observer.schedule(self.collector, root if os.path.isdir(root) else os.path.dirname(root), recursive=True)
        observer.start()
        return observer

    # -- work ---------------------------------------------------------------------------------

    def _process(self, changed: set[str]) -> None:
        settling = {p for p in changed if _still_being_written(p, self.options.debounce)}
        if settling:
            self.collector.give_back(settling)  # a copy in progress: index it once it is complete
        scope = _scope(changed - settling)
        existing = [p for p in scope if os.path.exists(p)]
        gone = [p for p in scope if not os.path.exists(p)]
        if existing or gone:
            self._index(existing, gone, "changes")

    def _index(self, paths: list[str], gone: list[str], what: str) -> None:
        try:
            report = index_paths(self.library, self.encoder, paths, self.settings, gone=gone)
        except FileNotFoundError:  # a path vanished between the event and the run: the next event covers it
            return
        self.reports.append(report)
        if report.interrupted:  # Ctrl-C/SIGTERM landed inside the run: it finished its batch, now stop
            self._stop.set()
        if report.added or report.updated or report.moved or report.removed or report.failed or report.duplicates:
            log.info(
                "%s: %d added, %d updated, %d moved, %d duplicates, %d removed, %d failed (%.1fs)",
                what,
                report.added,
                report.updated,
                report.moved,
                report.duplicates,
                report.removed,
                report.failed,
                report.seconds,
            )
        elif what != "changes":
            log.info("%s: %d images, nothing changed (%.1fs)", what, report.scanned, report.seconds)


def _still_being_written(path: str, settle: float) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return os.path.isfile(path) and time.time() - st.st_mtime < 2 * settle


def _scope(paths: set[str]) -> list[str]:
    """The smallest set of files and folders to rescan: a caption brings its image, a busy folder is rescanned."""
    scope: set[str] = set()
    for path in paths:
        if path.lower().endswith(".txt"):
            stem = os.path.splitext(path)[0]
            scope.update(stem + ext for ext in _sibling_images(stem))
            if not os.path.exists(path):
                scope.add(path)  # a deleted caption: its text source goes
        else:
            scope.add(path)
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in scope:
        by_folder[os.path.dirname(path)].append(path)
    collapsed: set[str] = set()
    for folder, members in by_folder.items():
        if len(members) >= COLLAPSE_TO_FOLDER and os.path.isdir(folder):
            collapsed.add(folder)
        else:
            collapsed.update(members)
    # a path inside another path of the scope is covered by it
    ordered = sorted(collapsed)
    return [p for i, p in enumerate(ordered) if not any(p.startswith(q.rstrip("/") + "/") for q in ordered[:i])]


def _sibling_images(stem: str) -> list[str]:
    folder, name = os.path.split(stem)
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return []
    return [
        os.path.splitext(entry)[1]
        for entry in entries
        if os.path.splitext(entry)[0] == name and os.path.splitext(entry)[1].lower() in IMAGE_EXTENSIONS
    ]
