"""Typed rows: what the catalog hands out and takes in, instead of raw row dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KnownFile:
    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str
    has_vector: bool


@dataclass(frozen=True)
class MediaRecord:
    """What the pipeline writes for one file: metadata, plus a vector unless it failed."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str
    error: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    taken_at: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    id: int | None = None  # set when the file already has a row (changed, or moved here)


@dataclass(frozen=True)
class MediaRow:
    """An indexed file as the catalog knows it (failed files too: status "failed", error set)."""

    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str
    error: str | None
    media_type: str
    format: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    camera_make: str | None
    camera_model: str | None
    indexed_at: float

    @classmethod
    def of(cls, mapping: Any) -> MediaRow:
        return cls(**{name: mapping[name] for name in cls.__dataclass_fields__})

    @property
    def camera(self) -> str | None:
        return " ".join(part for part in (self.camera_make, self.camera_model) if part) or None


@dataclass(frozen=True)
class TextRow:
    """A text of the corpus: a caption, a line of notes, a sidecar; `media_id` is the picture it describes."""

    id: int
    source: str
    kind: str
    position: int
    text: str
    media_id: int | None

    @classmethod
    def of(cls, mapping: Any) -> TextRow:
        return cls(**{name: mapping[name] for name in cls.__dataclass_fields__})
