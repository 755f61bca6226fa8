"""What turns an indexing run's pictures into vectors: torch (the reference, and the fallback), or ONNX Runtime on
the library's checked export. On a CPU its int8 image tower encodes ViT-B-32 at 2.8x torch's pictures/s at
batch 32 (fp32 ONNX Runtime gains only 1.1x, so `auto` does not pick it; bench/image_runtime_probe.py), and a
whole run goes 2.5x as fast (bench/index_throughput.py). Pictures are prepared as the export was checked: in
numpy, bit-identical to torchvision's transforms and no slower. The exporter checks both against torch:
preparation bit for bit, the int8 tower to a cosine of 0.999.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from core.errors import ModelError
from indexer.encoder import Encoder
from indexer.model_spec import ModelSpec
from indexer.onnx_encoder import open_session, unit_rows
from indexer.tower_manifest import IMAGE_FILE, INT8_IMAGE_FILE, TowerManifest, towers_folder

if TYPE_CHECKING:
    from PIL import Image

    from core.settings import Runtime

log = logging.getLogger(__name__)
# The exporter's bar for the int8 image tower on its sample pictures (tower_export.INT8_IMAGE_MIN_COSINE), held
# again on the first real pictures of each library that auto gives to it.
OWN_PICTURES_MIN_COSINE = 0.999
OWN_PICTURES_CHECKED = 8  # of the first batch: ViT-B-32 on 2 cores encodes 8 through torch in about 0.4 s


class PictureEncoder(Protocol):
    """What a run needs to encode pictures: preparation (called from decode threads) and a batch's encoding.
    The torch Encoder is one; `runtime` names it in the run's report."""

    @property
    def runtime(self) -> str: ...

    def image_tensor(self, image: Image.Image) -> torch.Tensor: ...

    def encode_image_tensors(self, batch: Sequence[torch.Tensor]) -> np.ndarray: ...


class OnnxPictures:
    """Pictures prepared in numpy and encoded by the export's image tower (int8 or fp32) on as many threads as
    torch would use, which never spin-wait: they would take the cores from the decode threads (spinning measured
    7% faster on an idle machine, model alone). The prepared arrays travel in the batch as torch tensors sharing
    their memory (no copy), so the rest of the run is the same for both runtimes. The session opens at the first
    batch: a run with nothing new to encode reads no model."""

    def __init__(self, folder: Path, manifest: TowerManifest, *, int8: bool) -> None:
        from indexer.image_preprocess import Preprocess

        prepare = Preprocess.from_config(manifest.preprocess)
        assert prepare is not None and manifest.has_image, "the exporter checked this export's image tower"
        self._prepare = prepare
        self._path = folder / (INT8_IMAGE_FILE if int8 else IMAGE_FILE)
        self.manifest = manifest  # with the file at tower_path, what a worker elsewhere needs to encode alike
        self.runtime = "onnx-int8" if int8 else "onnx"

    @property
    def tower_path(self) -> Path:
        return self._path

    def image_tensor(self, image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(self._prepare(image))

    def encode_image_tensors(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        pixels = np.stack([tensor.numpy() for tensor in batch])
        session = _session(str(self._path), self._path.stat().st_mtime_ns, torch.get_num_threads())
        return unit_rows(session.run(None, {"pixels": pixels})[0])


def picture_encoder(library: Path, encoder: Encoder, choice: Runtime, earlier: Sequence[str] = ()) -> PictureEncoder:
    """The runtime `choice` names: torch; onnx or onnx-int8 (an error, saying why, where the library's export
    lacks it); or auto, which never mixes runtimes in one library: the runtime that encoded the library's
    `earlier` pictures where it holds any (a library indexed through torch stays torch's until --reindex), else
    the int8 image tower where the export holds a checked one and the model runs on a CPU, else torch. Called
    after the writer has made (or completed) the export, so what is missing now stays missing for this run."""
    if choice == "torch" or (choice == "auto" and encoder.device.type != "cpu"):
        return encoder
    if choice == "auto" and earlier:
        if earlier[0] not in ("onnx", "onnx-int8"):
            log.info("pictures go through %s, as this library's earlier ones did", earlier[0])
            return encoder
        int8 = earlier[0] == "onnx-int8"
    else:
        int8 = choice in ("auto", "onnx-int8")
    folder = towers_folder(library, encoder.spec)
    manifest = TowerManifest.read(folder)
    why = _why_not(manifest, encoder.spec, int8)
    if why is None:
        assert manifest is not None
        return OnnxPictures(folder, manifest, int8=int8)
    if choice == "auto":
        log.info("pictures go through torch: %s", why)
        return encoder
    raise ModelError(
        f"the library at {library} holds no usable {choice} image tower of {encoder.spec.describe()} ({why})",
        "use --index-runtime torch (or auto)",
    )


def checked_on_own_pictures(
    library: Path, pictures: PictureEncoder, encoder: Encoder, tensors: Sequence[torch.Tensor]
) -> PictureEncoder:
    """auto's int8 image tower, checked against torch once more on the first pictures of a library that holds none
    yet. The exporter checked it on three synthetic pictures; real photos, and trained towers with their outlier
    activations, can stray further. Where it strays, the export records why and the library is torch's from then
    on (auto never mixes runtimes); else int8 goes on. Costs a few pictures through torch, once per library."""
    if not isinstance(pictures, OnnxPictures) or pictures.runtime != "onnx-int8" or not tensors:
        return pictures
    tensors = tensors[:OWN_PICTURES_CHECKED]
    cosine = float((pictures.encode_image_tensors(tensors) * encoder.encode_image_tensors(tensors)).sum(axis=1).min())
    if cosine >= OWN_PICTURES_MIN_COSINE:
        log.info("the int8 image tower holds on this library's first %d pictures (cosine %.5f)", len(tensors), cosine)
        return pictures
    why = f"the int8 image tower strays from torch on this library's own pictures (cosine {cosine:.5f} < "
    why += f"{OWN_PICTURES_MIN_COSINE})"
    folder = towers_folder(library, encoder.spec)
    manifest = TowerManifest.read(folder)
    if manifest is not None:
        manifest.image_int8_refused = why
        manifest.write(folder)
    log.warning("%s: its pictures go through torch", why)
    return encoder


def _why_not(manifest: TowerManifest | None, spec: ModelSpec, int8: bool) -> str | None:
    """Why the export cannot encode pictures (as int8 or fp32), or None where it can."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed: pip install onnxruntime"
    if manifest is None or not manifest.matches(spec):
        return "it holds no ONNX export of this model"
    if not manifest.usable:
        return manifest.refused or "its ONNX export is incomplete"
    if not manifest.has_image:
        return manifest.image_refused or "its ONNX export holds no image tower"
    if int8 and not manifest.has_int8_image:
        return manifest.image_int8_refused or "its ONNX export holds no int8 image tower yet"
    return None


@lru_cache(maxsize=2)
def _session(path: str, mtime_ns: int, threads: int) -> Any:
    """One session per file and process (the watcher indexes again and again); a rewritten file opens anew.
    Threads as torch's: the decode threads share the cores with either runtime alike."""
    return open_session(Path(path), threads=threads)
