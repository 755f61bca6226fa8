"""The served library: opened once, shared by every request, and 'not ready' (503) until it can be opened."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from core.batching import BatchStats
from core.errors import XmodalError
from core.settings import Settings
from indexer.library import Library
from searcher.engine import Searcher
from searcher.media import MediaService

RETRY_SECONDS = 2.0


class NotReady(Exception):
    """The library cannot be searched yet: it does not exist, has no model yet, or the model will not load."""

    def __init__(self, reason: str, hint: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class OpenLibrary:
    """What requests share once the library is open: the library, its searcher, and its media by id."""

    library: Library
    searcher: Searcher
    media: MediaService


class LibraryState:
    """A server may start before its library exists (a watcher about to create it): it retries on request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.opened: OpenLibrary | None = None
        self.reason = "starting"
        self.hint: str | None = None
        self._lock = threading.Lock()
        self._next_attempt = 0.0

    def open(self) -> None:
        """Open the catalog and load the model now, so the first query does not pay for it."""
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> None:
        if self.opened is not None:
            return
        self._next_attempt = time.monotonic() + RETRY_SECONDS
        library: Library | None = None
        try:
            library = Library.open_reader(self.settings.library)
            searcher = Searcher(library, self.settings, batched=self.settings.query_batching)
            searcher.warm()  # load the model once, up front
        except XmodalError as exc:
            if library is not None:
                library.close()
            self.reason, self.hint = exc.message, exc.hint
            return
        except BaseException:  # a bug, or memory: nothing left open behind it, and the caller hears of it
            if library is not None:
                library.close()
            raise
        self.opened = OpenLibrary(library, searcher, MediaService(library.catalog))

    def get(self) -> OpenLibrary:
        """The open library; `NotReady` while it cannot be opened (tried again at most every RETRY_SECONDS)."""
        opened = self.opened
        if opened is not None:
            return opened
        with self._lock:
            if self.opened is None and time.monotonic() >= self._next_attempt:
                self._open_locked()
            if self.opened is None:
                raise NotReady(self.reason, self.hint)
            return self.opened

    def counts(self) -> dict[str, int] | None:
        opened = self.opened
        return None if opened is None else opened.library.catalog.counts()

    def batching(self) -> dict[str, BatchStats] | None:
        opened = self.opened
        return None if opened is None else opened.searcher.batching()

    def close(self) -> None:
        with self._lock:
            if self.opened is not None:
                self.opened.searcher.close()
                self.opened.library.close()
            self.opened = None
