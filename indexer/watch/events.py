"""Filesystem events in: which paths changed, and when the last change came. The watcher does the work."""

from __future__ import annotations

import logging
import os
import threading
import time

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from indexer.selection import containing_root, included_below, is_inside

log = logging.getLogger("xmodal.watch")
IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})  # reading a file changes nothing


class EventCollector(FileSystemEventHandler):
    """Runs in the observer's thread: records changed paths that belong in the library (indexer.selection)."""

    def __init__(self, library: str, roots: list[str]) -> None:
        self.library = library
        self.roots = roots
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._last_event = 0.0

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._record(event)
        except Exception:  # the observer's thread must outlive any one odd event
            log.exception("could not record %s event for %s", event.event_type, event.src_path)

    def _record(self, event: FileSystemEvent) -> None:
        if event.event_type in IGNORED_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # "an entry of mine changed": that entry has an event of its own; rescanning the folder adds nothing
        raw_paths = [event.src_path, getattr(event, "dest_path", "")]
        paths = [os.fsdecode(raw) for raw in raw_paths if raw]
        with self._lock:
            self._dirty.update(path for path in paths if self.wanted(path, event.is_directory))
            self._last_event = time.monotonic()

    def wanted(self, path: str, is_dir: bool) -> bool:
        root = containing_root(path, self.roots)
        return root is not None and not is_inside(path, self.library) and included_below(path, root, is_dir)

    def quiet_for(self, seconds: float) -> bool:
        """No event for `seconds`: a burst (a copy, a move of many files) is over."""
        with self._lock:
            return time.monotonic() - self._last_event >= seconds

    def take(self) -> set[str]:
        with self._lock:
            taken, self._dirty = self._dirty, set()
            return taken
