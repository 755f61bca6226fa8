"""Typed rows: what the catalog hands out and takes in, instead of raw row dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


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
    media_type: str = "image"  # "image" | "video"
    duration_s: float | None = None  # a video's length


@dataclass(frozen=True)
class Segment:
    """A moment of a video: consecutive sampled frames that look alike; its vector is their normalised mean."""

    start_s: float
    end_s: float
    frame_s: float  # the frame that shows the moment best (its thumbnail)
    vector: np.ndarray


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
    parent_id: int | None = None  # a segment's video
    start_s: float | None = None
    end_s: float | None = None
    frame_s: float | None = None
    duration_s: float | None = None
    companion_path: str | None = None  # a photo's RAW file beside it (RAW+JPEG): indexed from the JPEG

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
