"""A library's model for queries through ONNX Runtime: no torch, no open_clip. A cold `xmodal search` imports
this, the tokenizer, the catalog and FAISS, and answers in well under a second.

Sessions run on at most two threads that never spin-wait: on a machine whose cores are busy with other work,
spinning threads fight the other processes for them and a query costs ten times as much (measured in
bench/RESULTS.md). Each session is made on first use: a text query never opens the image tower.

A process that asks one query and exits (`xmodal search`) opens its sessions `brief`: without repacking the
weights for faster matrix products, which costs more to open than it saves over a call or two (ViT-B-32's text
tower: 25 ms to open and 16 ms a call, against 165 ms and 7 ms). Long-lived processes repack.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.model_spec import ModelSpec
from indexer.tower_manifest import IMAGE_FILE, INT8_TEXT_FILE, TEXT_FILE, VOCAB_FILE, TowerManifest

if TYPE_CHECKING:
    from PIL import Image

    from indexer.encoder import QueryModel

log = logging.getLogger(__name__)
MAX_THREADS = 2  # a query's matrices are small: more threads cost more in hand-offs than they save


class OnnxEncoder:
    """Thread-safe: ONNX Runtime sessions may be run from several threads at once. `pictures`: the model that
    encodes pictures where the export holds no image tower (torch, loaded only if a picture query comes)."""

    def __init__(
        self,
        spec: ModelSpec,
        folder: Path,
        manifest: TowerManifest,
        pictures: Callable[[], QueryModel],
        *,
        int8: bool | None = None,
        brief: bool = False,
    ) -> None:
        assert manifest.usable and manifest.dim is not None and manifest.context_length is not None
        self.spec = spec
        self.folder = folder
        self.manifest = manifest
        self.dim: int = manifest.dim
        self.int8 = manifest.int8_text if int8 is None else int8
        self.brief = brief
        self._pictures = pictures
        self._sessions: dict[str, Any] = {}
        self._tokenizer: Any = None
        self._prepare: Any = None
        self._lock = threading.Lock()

    @property
    def runtime(self) -> str:
        return "onnx-int8" if self.int8 else "onnx"

    @property
    def image_size(self) -> int:
        if not self.manifest.has_image or self.manifest.image_size is None:
            return self._pictures().image_size
        return self.manifest.image_size

    @property
    def has_image(self) -> bool:
        return self.manifest.has_image

    def load(self) -> OnnxEncoder:
        """Open the sessions now (a server warms up before its first query)."""
        self._text_session()
        if self.has_image:
            self._session(IMAGE_FILE)
        return self

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self._text_session()
        tokenizer = self._clip_tokenizer()
        parts = [
            unit_rows(session.run(None, {"tokens": tokenizer.trimmed(list(texts[start : start + batch_size]))})[0])
            for start in range(0, len(texts), batch_size)
        ]
        return np.concatenate(parts)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self.has_image:
            return self._pictures().encode_images(images)
        prepare = self._preprocess()
        pixels = np.stack([prepare(image) for image in images]).astype(np.float32)
        return unit_rows(self._session(IMAGE_FILE).run(None, {"pixels": pixels})[0])

    # -- lazily made parts --------------------------------------------------------------------

    def _text_session(self) -> Any:
        return self._session(INT8_TEXT_FILE if self.int8 else TEXT_FILE)

    def _session(self, name: str) -> Any:
        found = self._sessions.get(name)
        if found is not None:
            return found
        with self._lock:
            if name not in self._sessions:
                self._sessions[name] = open_session(self.folder / name, brief=self.brief)
            return self._sessions[name]

    def _clip_tokenizer(self) -> Any:
        if self._tokenizer is None:
            from indexer.clip_tokenizer import ClipTokenizer

            assert self.manifest.context_length is not None
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = ClipTokenizer(self.folder / VOCAB_FILE, self.manifest.context_length)
        return self._tokenizer

    def _preprocess(self) -> Any:
        if self._prepare is None:
            from indexer.image_preprocess import Preprocess

            self._prepare = Preprocess.from_config(self.manifest.preprocess)
            assert self._prepare is not None, "the exporter checked this preparation"
        return self._prepare


def find_export(library: Path, spec: ModelSpec) -> tuple[Path, TowerManifest] | None:
    """The library's checked export of this model, if it has one and ONNX Runtime is installed."""
    import importlib.util

    from indexer.tower_manifest import towers_folder

    folder = towers_folder(library, spec)
    manifest = TowerManifest.read(folder)
    if manifest is None or not manifest.matches(spec) or not manifest.usable:
        return None
    if importlib.util.find_spec("onnxruntime") is None:
        log.warning("the library holds an ONNX export but onnxruntime is not installed: queries load torch")
        return None
    return folder, manifest


def open_session(path: Path, brief: bool = False, threads: int = MAX_THREADS) -> Any:
    """A CPU session on at most `threads` threads (and the machine's cores), which never spin-wait. `brief`: for
    a call or two (see the module's docstring); the indexer's sessions run batch after batch, so they repack."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if brief:
        options.add_session_config_entry("session.disable_prepacking", "1")
    options.intra_op_num_threads = max(1, min(threads, os.cpu_count() or 1))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # its warnings are about graph details a user cannot act on
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1, as float32: what a tower's outputs become before they are compared or stored."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)
