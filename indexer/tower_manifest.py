"""What a library's ONNX export holds and how well it matched torch: read by every query process (no torch
here) and by the indexer (which may encode pictures with the int8 image tower), written by the exporter and by
`xmodal eval --runtime` (which decides on the int8 text tower)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.files import atomic_write_text
from indexer.model_spec import ModelSpec

EXPORT_VERSION = 1  # raised when the exported graphs change: older exports are made again
TEXT_FILE = "text.onnx"
INT8_TEXT_FILE = "text.int8.onnx"
IMAGE_FILE = "image.onnx"
INT8_IMAGE_FILE = "image.int8.onnx"
VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
MANIFEST_FILE = "manifest.json"


def towers_key(spec: ModelSpec) -> str:
    text = json.dumps({"model": spec.identity(), "version": EXPORT_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def towers_folder(library: Path, spec: ModelSpec) -> Path:
    return library / "towers" / towers_key(spec)


@dataclass
class TowerManifest:
    identity: dict[str, Any]
    model: str
    version: int = EXPORT_VERSION
    dim: int | None = None
    context_length: int | None = None
    image_size: int | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)
    text_error: float | None = None  # largest coordinate difference from torch, unit vectors
    text_int8_error: float | None = None
    image_error: float | None = None
    image_int8_cosine: float | None = None  # lowest cosine of the int8 image tower's vector to torch's
    refused: str | None = None  # why queries cannot use this export at all
    image_refused: str | None = None  # why picture queries cannot (words still can)
    image_int8_refused: str | None = None  # why the indexer cannot encode pictures with the int8 image tower
    int8_text: bool = False  # chosen by `xmodal eval --runtime` on the library's pairs, never by default
    int8_report: str | None = None  # what that evaluation found

    @classmethod
    def start(cls, spec: ModelSpec) -> TowerManifest:
        return cls(identity=spec.identity(), model=spec.describe())

    @classmethod
    def read(cls, folder: Path) -> TowerManifest | None:
        try:
            data = json.loads((folder / MANIFEST_FILE).read_text())
        except (OSError, ValueError):
            return None
        known = {item.name for item in fields(cls)}
        try:
            return cls(**{key: value for key, value in data.items() if key in known})
        except TypeError:
            return None

    def write(self, folder: Path) -> None:
        atomic_write_text(folder / MANIFEST_FILE, json.dumps(asdict(self), indent=2, sort_keys=True))

    def matches(self, spec: ModelSpec) -> bool:
        return self.version == EXPORT_VERSION and self.identity == json.loads(json.dumps(spec.identity()))

    @property
    def usable(self) -> bool:
        return self.refused is None and self.dim is not None and self.context_length is not None

    @property
    def has_image(self) -> bool:
        return self.usable and self.image_refused is None and self.image_size is not None

    @property
    def has_int8_image(self) -> bool:
        """An int8 image tower made and checked against torch (the exporter refuses one that strays)."""
        return self.has_image and self.image_int8_cosine is not None and self.image_int8_refused is None

    @property
    def int8_image_tried(self) -> bool:
        """Whether the exporter has made (or refused) the int8 image tower; exports older than it have not."""
        return self.image_int8_cosine is not None or self.image_int8_refused is not None
