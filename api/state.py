"""The served library: opened once, shared by every request, and 'not ready' (503) until it can be opened."""

from __future__ import annotations

import threading
import time

from core.errors import XmodalError
from core.settings import Settings
from indexer.library import Library
from searcher.engine import Searcher

RETRY_SECONDS = 2.0


class NotReady(Exception):
    """The library cannot be searched yet: it does not exist, has no model yet, or the model will not load."""

    def __init__(self, reason: str, hint: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


class LibraryState:
    """A server may start before its library exists (a watcher about to create it): it retries on request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.library: Library | None = None
        self.searcher: Searcher | None = None
        self.reason = "starting"
        self.hint: str | None = None
        self._lock = threading.Lock()
        self._next_attempt = 0.0

    def open(self) -> None:
        """Open the catalog and load the model now, so the first query does not pay for it."""
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> None:
        if self.searcher is not None:
            return
        self._next_attempt = time.monotonic() + RETRY_SECONDS
        library: Library | None = None
        try:
            library = Library.open_reader(self.settings.library)
            searcher = Searcher(library, self.settings)
            searcher.warm()  # load the model once, up front
        except XmodalError as exc:
            if library is not None:
                library.close()
            self.reason, self.hint = exc.message, exc.hint
            return
        self.library, self.searcher = library, searcher

    def get(self) -> Searcher:
        searcher = self.searcher
        if searcher is not None:
            return searcher
        with self._lock:
            if self.searcher is None and time.monotonic() >= self._next_attempt:
                self._open_locked()
            if self.searcher is None:
                raise NotReady(self.reason, self.hint)
            return self.searcher

    def counts(self) -> dict[str, int] | None:
        return None if self.library is None else self.library.catalog.counts()

    def close(self) -> None:
        with self._lock:
            if self.library is not None:
                self.library.close()
            self.library = self.searcher = None
