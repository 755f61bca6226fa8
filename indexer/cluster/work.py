"""What runs on a cluster's workers: reading a chunk of files (a task) and encoding the decoded ones (an actor).

Plain Python, no Ray: indexer.cluster.reads wraps these as Ray tasks and actors, and tests can call them directly.
A worker reads the files by the paths the writer found them at, through the same FileReader a local run uses, so
a file fails for the same reason wherever it is read."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.files import atomic_path
from indexer.ingest.plan import PlannedFile
from indexer.ingest.read import Decoded, Encoded, FileReader, ReadLimits, ReadOutcome
from indexer.scan import FoundFile

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from indexer.ingest.pictures import PictureEncoder
    from indexer.model_spec import ModelSpec
    from indexer.tower_manifest import TowerManifest

log = logging.getLogger(__name__)


class HashPrefixes:
    """The library's known content hashes as sorted 64-bit prefixes: 8 bytes each on the wire (a 1M-item library's
    set is 8 MB, not 100), shared read-only by every task of a node. A prefix that matches by chance says "known"
    for new content; the writer checks every known answer against the full hash and reads such a file again."""

    def __init__(self, hashes: Iterable[str]) -> None:
        self.prefixes = np.unique(np.fromiter((int(value[:16], 16) for value in hashes), dtype=np.uint64))

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str) or len(value) < 16:
            return False
        prefix = np.uint64(int(value[:16], 16))
        at = int(np.searchsorted(self.prefixes, prefix))
        return at < len(self.prefixes) and self.prefixes[at] == prefix


@dataclass(frozen=True)
class ReadRecipe:
    """What a read task needs besides its files; put in the object store once per run."""

    limits: ReadLimits
    image_size: int
    prepare: Callable[[Image.Image], torch.Tensor]  # the run's picture preparation (decode threads call it too)
    known: HashPrefixes


def read_files(files: Sequence[FoundFile], recipe: ReadRecipe) -> list[ReadOutcome]:
    """Read, hash and decode a chunk of files; one outcome each, in order. The outcomes name a stand-in item
    (`known` is the writer's to know); the writer puts its own back."""
    reader = FileReader(recipe.limits, recipe.image_size, recipe.prepare, recipe.known)
    return [reader.read(PlannedFile(file, None)) for file in files]


@dataclass(frozen=True)
class TowerCopy:
    """An ONNX image tower's file, carried to workers that may not see the library's folder."""

    file_name: str
    data: bytes
    manifest: TowerManifest


@dataclass(frozen=True)
class EncoderRecipe:
    """How an actor makes the run's picture encoder: the runtime the writer chose (and recorded) for this run."""

    spec: ModelSpec
    runtime: str  # torch, onnx or onnx-int8
    device: str
    batch_size: int
    tower: TowerCopy | None = None  # for the ONNX runtimes


def make_picture_encoder(recipe: EncoderRecipe) -> PictureEncoder:
    if recipe.runtime == "torch":
        from indexer.encoder import Encoder

        return Encoder(recipe.spec, recipe.device).load()
    from indexer.ingest.pictures import OnnxPictures

    assert recipe.tower is not None, "an ONNX runtime travels with its tower"
    tower = recipe.tower
    folder = Path(tempfile.gettempdir()) / f"xmodal-tower-{hashlib.sha256(tower.data).hexdigest()[:16]}"
    if not (folder / tower.file_name).exists():  # one copy per machine and tower, whatever restarts the actor
        folder.mkdir(exist_ok=True)
        with atomic_path(folder / tower.file_name) as temporary:
            temporary.write_bytes(tower.data)
    return OnnxPictures(folder, tower.manifest, int8=recipe.runtime == "onnx-int8")


class ChunkEncoder:
    """One copy of the model (on the actor's GPU where it has one) that turns the decoded files of a chunk into
    vectors, `batch_size` pictures per call; every other outcome passes through as it came."""

    def __init__(self, recipe: EncoderRecipe) -> None:
        self.recipe = recipe
        self.pictures = make_picture_encoder(recipe)

    def describe(self) -> dict[str, object]:
        """Where this actor runs, for the writer's log and its version check."""
        from indexer import __version__

        device = str(getattr(self.pictures, "device", "cpu"))
        return {"version": __version__, "runtime": self.pictures.runtime, "device": device, "pid": os.getpid()}

    def encode(self, outcomes: Sequence[ReadOutcome]) -> list[ReadOutcome]:
        decoded = [at for at, outcome in enumerate(outcomes) if isinstance(outcome, Decoded)]
        done: list[ReadOutcome] = list(outcomes)
        size = self.recipe.batch_size
        for start in range(0, len(decoded), size):
            positions = decoded[start : start + size]
            began = time.perf_counter()
            vectors = self.pictures.encode_image_tensors([outcomes[at].tensor for at in positions])  # type: ignore[union-attr]
            share = (time.perf_counter() - began) / len(positions)
            for at, vector in zip(positions, vectors, strict=True):
                outcome = outcomes[at]
                assert isinstance(outcome, Decoded)
                done[at] = Encoded(outcome.item, outcome.content_hash, vector, outcome.info, outcome.seconds, share)
        return done


def with_item(outcome: ReadOutcome, item: PlannedFile) -> ReadOutcome:
    """The outcome as the writer's own planned file (with its catalog row) would have had it."""
    return replace(outcome, item=item)
