"""One cache of loaded towers per process, keyed by the model's identity and device: the searcher, the
reranker and an indexer in the same process share a model instead of loading it twice."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from indexer.model_spec import ModelSpec

if TYPE_CHECKING:  # torch is imported only by what encodes: `stats` and `--help` stay fast
    import torch

    from indexer.towers import ImageTower, TextTower

MAX_MODELS = 4  # distinct models kept loaded (the library's, a reranker's, ...): least recently used goes


class ModelCache:
    """Thread-safe. A model loads under its own lock, so loading one (seconds; a download, minutes) never holds
    up a query on another that is already loaded."""

    def __init__(self, max_models: int = MAX_MODELS) -> None:
        self.max_models = max_models
        self._texts: OrderedDict[str, TextTower] = OrderedDict()
        self._images: OrderedDict[str, ImageTower] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()  # the dictionaries above, never held while loading

    @staticmethod
    def key(spec: ModelSpec, device: torch.device) -> str:
        return json.dumps({"model": spec.identity(), "device": str(device)}, sort_keys=True)

    def text(self, spec: ModelSpec, device: torch.device) -> TextTower:
        """The text tower: built alone when the model allows it, so a text query never loads the image tower."""
        from indexer.towers import load_text_tower

        key = self.key(spec, device)
        found = self._find(self._texts, key)
        if found is not None:
            return found
        with self._loading_lock(key):
            found = self._find(self._texts, key)  # loaded by another thread while this one waited
            if found is not None:
                return found
            alone = load_text_tower(spec, device)
            if alone is None:
                return self._load_both(spec, device, key)[0]
            with self._lock:
                self._put(self._texts, key, alone)
            return alone

    def image(self, spec: ModelSpec, device: torch.device) -> ImageTower:
        """The image tower, from the whole model (whose text tower is kept too: indexing needs both)."""
        key = self.key(spec, device)
        found = self._find(self._images, key)
        if found is not None:
            return found
        with self._loading_lock(key):
            found = self._find(self._images, key)
            return found if found is not None else self._load_both(spec, device, key)[1]

    def clear(self) -> None:
        with self._lock:
            self._texts.clear()
            self._images.clear()

    def _load_both(self, spec: ModelSpec, device: torch.device, key: str) -> tuple[TextTower, ImageTower]:
        from indexer.towers import load_towers

        text, image = load_towers(spec, device)
        with self._lock:
            # The whole model's text tower replaces one loaded alone: the weights are not held twice.
            self._put(self._texts, key, text)
            self._put(self._images, key, image)
        return text, image

    def _loading_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._loading.setdefault(key, threading.Lock())

    def _find(self, store: OrderedDict[str, Any], key: str) -> Any:
        with self._lock:
            found = store.get(key)
            if found is not None:
                store.move_to_end(key)
            return found

    def _put(self, store: OrderedDict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self.max_models:
            store.popitem(last=False)


_shared = ModelCache()


def shared_models() -> ModelCache:
    """The process's cache: a server, a CLI command and the tests running in one process load a model once."""
    return _shared
