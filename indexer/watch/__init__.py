"""`xmodal watch`: filesystem events (watchdog, native or polling), debounced into ordinary index runs."""

from indexer.watch.options import WatchOptions
from indexer.watch.watcher import Watcher

__all__ = ["WatchOptions", "Watcher"]
