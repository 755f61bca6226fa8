"""Reading one file in a worker thread: read once, hash, and decode only content the library has not seen.

Every outcome is typed, and nothing a file does (missing, unreadable, corrupt, hostile) escapes as an
exception: a bad file costs that file, never the run. A video is only hashed here (a bounded sample of it,
however large it is); its frames are sampled later, in the run's video child process, as the encoder takes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from indexer.decode import DecodeError, ImageInfo, TooManyPixels, decode_image
from indexer.hashing import content_hash, content_sample_hash
from indexer.ingest.plan import PlannedFile
from indexer.selection import file_kind

if TYPE_CHECKING:
    from indexer.gpu_decode import TensorDecoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decoded:
    """New content, ready for the model."""

    item: PlannedFile
    content_hash: str
    tensor: torch.Tensor
    info: ImageInfo
    seconds: float


@dataclass(frozen=True)
class Encoded:
    """New content that was decoded and encoded elsewhere (an encoder actor of a Ray cluster): its vector came back,
    its pixels did not. `encode_seconds` is the encoder's share of its batch."""

    item: PlannedFile
    content_hash: str
    vector: np.ndarray
    info: ImageInfo
    seconds: float
    encode_seconds: float


@dataclass(frozen=True)
class KnownContent:
    """Content the library already has a vector for: a touched, moved or copied file."""

    item: PlannedFile
    content_hash: str
    seconds: float


@dataclass(frozen=True)
class VideoFound:
    """A video with content the library has not indexed: its frames are to be sampled."""

    item: PlannedFile
    content_hash: str
    seconds: float


@dataclass(frozen=True)
class Failed:
    """A file that cannot be indexed; `reason` is what `xmodal stats` shows."""

    item: PlannedFile
    content_hash: str | None
    reason: str
    seconds: float


@dataclass(frozen=True)
class Vanished:
    """The file disappeared between the scan and the read: it is missing, not broken."""

    item: PlannedFile
    seconds: float


ReadOutcome = Decoded | Encoded | KnownContent | VideoFound | Failed | Vanished


@dataclass(frozen=True)
class ReadLimits:
    max_file_bytes: int
    max_image_pixels: int


class FileReader:
    """Turns a planned file into an outcome; safe to call from many threads at once. `tensor_decoder`, where given,
    takes the JPEGs it can (nvJPEG on the GPU: indexer.gpu_decode) and leaves the rest to Pillow and `to_tensor`."""

    def __init__(
        self,
        limits: ReadLimits,
        image_size: int,
        to_tensor: Callable[[Image.Image], torch.Tensor],
        known_hashes: Container[str],
        tensor_decoder: TensorDecoder | None = None,
    ) -> None:
        self.limits = limits
        self.image_size = image_size
        self.to_tensor = to_tensor
        self.known_hashes = known_hashes
        self.tensor_decoder = tensor_decoder

    def read(self, item: PlannedFile, reuse_known: bool = True) -> ReadOutcome:
        started = time.perf_counter()
        digest: str | None = None

        def failed(reason: str) -> Failed:
            return Failed(item, digest, reason, time.perf_counter() - started)

        file = item.file
        if file_kind(file.path) == "video":
            return self._read_video(item, reuse_known, started)
        limit = self.limits.max_file_bytes
        if file.size > limit:
            return failed(f"file is {file.size:,} bytes, over the limit of {limit:,} (XMODAL_MAX_FILE_BYTES)")
        try:
            with open(file.path, "rb") as handle:
                data = handle.read(limit + 1)
            digest = content_hash(data)
            if reuse_known and digest in self.known_hashes:
                return KnownContent(item, digest, time.perf_counter() - started)
            return Decoded(item, digest, *self._decode(data, file.path), time.perf_counter() - started)
        except FileNotFoundError:
            return Vanished(item, time.perf_counter() - started)
        except TooManyPixels as exc:
            return failed(f"{exc} (raise XMODAL_MAX_IMAGE_PIXELS to index it)")
        except DecodeError as exc:
            return failed(str(exc))
        except OSError as exc:
            return failed(f"cannot read file: {exc.strerror or exc}")
        except Exception as exc:  # a bug or a hostile file must cost one file, never the run
            log.exception("unexpected error on %s", file.path)
            return failed(f"unexpected error: {type(exc).__name__}: {exc}")

    def _decode(self, data: bytes, path: str) -> tuple[torch.Tensor, ImageInfo]:
        max_pixels = self.limits.max_image_pixels
        decoded = self.tensor_decoder.decode(data, max_pixels, path) if self.tensor_decoder is not None else None
        if decoded is not None:  # a JPEG the tensor decoder took; it leaves anything else, and every refusal, to Pillow
            return decoded
        image, info = decode_image(data, self.image_size, max_pixels, path)
        return self.to_tensor(image), info

    def _read_video(self, item: PlannedFile, reuse_known: bool, started: float) -> ReadOutcome:
        """Videos are not bound by max_file_bytes (an hour of phone video is gigabytes): they are bounded by
        resolution, duration and decoding time instead (settings.video)."""
        try:
            digest = content_sample_hash(item.file.path)
        except FileNotFoundError:
            return Vanished(item, time.perf_counter() - started)
        except OSError as exc:
            return Failed(item, None, f"cannot read file: {exc.strerror or exc}", time.perf_counter() - started)
        if reuse_known and digest in self.known_hashes:
            return KnownContent(item, digest, time.perf_counter() - started)
        return VideoFound(item, digest, time.perf_counter() - started)
