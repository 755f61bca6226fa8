"""Keeping a library up to date: filesystem events, debounced and batched into ordinary index runs.

Every change goes through the same run as `xmodal index`, scoped to what changed: a moved file or folder
keeps its vectors (content hash), a deleted one leaves catalog and index, a burst of new files is encoded
in full batches, and a file still being written waits until it has settled.

The watcher outlives anything a batch does: a failed batch is logged with its paths and tried again
later (a few times, further apart each time); only a stop request (stop(), Ctrl-C, SIGTERM) ends it.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from core.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import IndexReport, index_paths
from indexer.library import Library
from indexer.ocr.background import BackgroundOcr
from indexer.scan import normalize_roots
from indexer.watch.events import EventCollector
from indexer.watch.options import WatchOptions
from indexer.watch.schedule import MissingClock, Rechecks, Retries
from indexer.watch.scope import rescan_scope

log = logging.getLogger("xmodal.watch")


class Watcher:
    def __init__(self, library: Library, encoder: Encoder, settings: Settings, options: WatchOptions) -> None:
        self.library = library
        self.encoder = encoder
        self.settings = settings
        self.options = options
        self.collector = EventCollector(str(library.path), [os.path.abspath(r) for r in options.roots])
        self.reports: list[IndexReport] = []
        self.ready = threading.Event()
        self.observer: Any = None
        self._stop = threading.Event()
        self._rechecks = Rechecks()
        self._missing = MissingClock(options.grace, time.monotonic)
        self._retries = Retries(first_delay=max(options.debounce, 0.5))
        self._silent_emitters: set[Any] = set()
        self.ocr = BackgroundOcr(library, settings)  # words in new pictures, read beside the watch

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        """Full scan, then live events until stop() (or Ctrl-C / SIGTERM in the CLI)."""
        roots = normalize_roots(self.options.roots)  # a root that is not there at start is the user's to fix
        self.library.catalog.set_json("watch", self.options.to_json())
        self.observer = self._start_observer(roots)
        reading_words = self.ocr.start()
        try:
            if reading_words:
                self.ocr.wake()  # pictures left unread by an earlier run
            self._index(roots, [], "full scan")
            self.ready.set()
            next_full_scan = self._next_full_scan()
            while not self._stop.is_set():
                self._stop.wait(min(0.25, self.options.debounce / 4))
                try:
                    self._step()
                    if next_full_scan is not None and time.monotonic() >= next_full_scan:
                        self._index(roots, [], "periodic full scan")
                        next_full_scan = self._next_full_scan()
                except Exception:  # a bug must not end the watch: log it, carry on with the next changes
                    log.exception("unexpected error in the watch loop; carrying on")
        finally:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.ocr.close()
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

    def _step(self) -> None:
        """Once the events have been quiet for a debounce: index what changed and what is due for another look."""
        self._report_silent_emitters()
        if not self.collector.quiet_for(self.options.debounce):
            return  # a burst is still arriving; a move's other half may be in it
        due = self._rechecks.due(time.monotonic())
        changed = self.collector.take() | due
        if changed:
            self._process(changed)
        self._missing.forget_expired(due)

    def _process(self, changed: set[str]) -> None:
        scope = rescan_scope(changed)
        existing = [path for path in scope if os.path.exists(path)]
        gone = [path for path in scope if not os.path.exists(path)]
        self._index(existing, gone, "changes")

    def _index(self, paths: list[str], gone: list[str], what: str) -> None:
        try:
            report = index_paths(
                self.library,
                self.encoder,
                paths,
                self.settings,
                gone=gone,
                settle_seconds=self.options.settle_seconds,
                keep_missing=self._missing.keep,
            )
        except Exception:
            self._retry_later([*paths, *gone], what)
            return
        self._retries.succeeded([*paths, *gone])
        self.reports.append(report)
        if report.added or report.updated or report.duplicates:
            self.ocr.wake()
        now = time.monotonic()
        self._rechecks.add(report.settling, now + self.options.settle_seconds)  # settled by then, unless rewritten
        for path in report.kept_missing:
            self._rechecks.add([path], self._missing.expires(path))
        if report.interrupted:  # Ctrl-C/SIGTERM landed inside the run: it finished its batch, now stop
            self._stop.set()
        _log_report(report, what)

    def _retry_later(self, paths: list[str], what: str) -> None:
        again, given_up, delay = self._retries.failed(paths)
        log.exception(
            "%s: indexing failed for %s; %s",
            what,
            _some(paths),
            f"trying again in {delay:.1f}s" if again else "giving up on them for now",
        )
        self._rechecks.add(again, time.monotonic() + delay)
        if given_up:
            log.error(
                "gave up on %s after %d failed attempts; a later change to them, or the next full scan, tries again",
                _some(given_up),
                self._retries.max_attempts,
            )

    def _report_silent_emitters(self) -> None:
        """An observer thread that died takes its events with it: say so once, rather than go quietly deaf."""
        for emitter in list(getattr(self.observer, "emitters", ())):
            if not emitter.is_alive() and emitter not in self._silent_emitters and not self._stop.is_set():
                self._silent_emitters.add(emitter)
                log.error(
                    "stopped receiving events for %s; changes there are picked up by a full scan (--full-scan-every)",
                    emitter.watch.path,
                )


def _log_report(report: IndexReport, what: str) -> None:
    if report.vanished:
        log.info("%s: %s vanished before it could be indexed; treated as gone", what, _some(report.vanished))
    if report.changed_anything:
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


def _some(paths: Iterable[str], shown: int = 5) -> str:
    """Paths for a log line: all of a few, the first few of many."""
    listed = list(paths)
    head = ", ".join(listed[:shown])
    return head if len(listed) <= shown else f"{head} and {len(listed) - shown} more"
