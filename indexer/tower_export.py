"""Exporting a library's model to ONNX, so that queries run without torch: the text tower (trimmed to the real
tokens, any batch and length), the image tower, the tokenizer's vocabulary and how pictures are prepared, in
`LIBRARY/towers/KEY/`, KEY naming the model's identity (a changed model exports anew).

An export is checked on the spot against torch, on sample words and pictures; one that differs beyond a tight
tolerance is refused (the library keeps querying through torch, and says why). The int8 text tower is made
too, but only used once `xmodal eval --runtime` has shown on the library's pairs that it changes no ranking.
The int8 image tower is made and checked here as well: the indexer encodes pictures with it on a CPU.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from core.files import atomic_write_bytes, fsync_dir
from indexer.model_spec import ModelSpec
from indexer.onnx_encoder import unit_rows
from indexer.tower_manifest import (
    IMAGE_FILE,
    INT8_IMAGE_FILE,
    INT8_TEXT_FILE,
    TEXT_FILE,
    VOCAB_FILE,
    TowerManifest,
    towers_folder,
)
from indexer.towers import ImageTower, TextTower, normalize, trim_tokens

log = logging.getLogger("xmodal.export")  # the CLI shows its messages: an export takes seconds, once

# Exported vs torch, on unit vectors: the largest difference in any coordinate that still counts as the same.
TOLERANCE = 1e-4
# int8 image tower vs torch, on unit vectors: the lowest cosine that the indexer may store instead of torch's.
# ViT-B-32 and the demo model give 0.9991-0.9999 on real photographs, and rankings within 0.005 of torch's.
INT8_IMAGE_MIN_COSINE = 0.999
SAMPLE_TEXTS = (
    "a photo of a dog on the beach",
    "x",
    "红色的圆",
    "Two BLUE squares, on sand!! &amp; more words after them to make this one the longest of the batch by far",
)
_OPSET = 18


class _Memo:
    """Exports made in this process, by model: a second library with the same model copies the files."""

    def __init__(self) -> None:
        self.folders: dict[str, Path] = {}
        self.lock = threading.Lock()


_memo = _Memo()


def ensure_exported(library: Path, spec: ModelSpec, text: TextTower, image: ImageTower) -> TowerManifest | None:
    """The library's export for this model: made now if missing (seconds, once per library and model).
    Returns None where it cannot be made or was refused; queries then go through torch."""
    folder = towers_folder(library, spec)
    found = TowerManifest.read(folder)
    if found is not None and found.matches(spec):
        # Exported before the indexer used an int8 image tower. Without onnxruntime it is left untried (not
        # refused), so that the first writer after onnxruntime is installed makes it.
        if found.has_image and not found.int8_image_tried and _onnxruntime_importable():
            _add_int8_image(folder, found, image)
        return found if found.usable else None
    if not _onnxruntime_importable():
        log.warning("onnxruntime is not installed: queries will load torch (pip install onnxruntime)")
        return None
    with _memo.lock:
        made = _memo.folders.get(folder.name)
        if made is not None and (made / "manifest.json").is_file():
            _copy_folder(made, folder)
            return _usable(TowerManifest.read(folder))
        started = time.perf_counter()
        log.info("making fast queries possible: exporting %s to ONNX (once per library and model)", spec.describe())
        manifest = export(folder, spec, text, image)
        log.info("exported in %.1f s", time.perf_counter() - started)
        _memo.folders[folder.name] = folder
    if not manifest.usable:
        log.warning("queries on this library will use torch: %s", manifest.refused)
    return _usable(manifest)


def _onnxruntime_importable() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _usable(manifest: TowerManifest | None) -> TowerManifest | None:
    return manifest if manifest is not None and manifest.usable else None


def export(folder: Path, spec: ModelSpec, text: TextTower, image: ImageTower) -> TowerManifest:
    """Write and check the towers; the manifest goes last, so a crash leaves no half-made export in use."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").unlink(missing_ok=True)
    manifest = TowerManifest.start(spec)
    try:
        _export_text(folder, text, manifest)
        _export_image(folder, image, manifest)
    except Exception as exc:  # the exporter fails on model shapes it cannot trace: queries keep torch
        log.info("export of %s failed", spec.describe(), exc_info=True)
        manifest.refused = f"the model could not be exported to ONNX ({type(exc).__name__}: {exc})"
    manifest.write(folder)
    return manifest


def _export_text(folder: Path, tower: TextTower, manifest: TowerManifest) -> None:
    module = tower.module
    if module is None:
        manifest.refused = "this model's text tower is not a plain causal CLIP transformer"
        return
    tokenizer = tower.tokenizer
    if not _plain_clip_tokenizer(tokenizer):
        manifest.refused = f"its tokenizer ({type(tokenizer).__name__}) has no torch-free counterpart here"
        return
    shutil.copyfile(_vocab_path(), folder / VOCAB_FILE)
    manifest.context_length = int(tokenizer.context_length)
    sample = trim_tokens(tokenizer(list(SAMPLE_TEXTS)))
    cpu = _on_cpu(module)
    batch = torch.export.Dim("batch", min=1, max=4096)
    length = torch.export.Dim("length", min=1, max=manifest.context_length)
    _write_onnx(cpu, sample, {"tokens": {0: batch, 1: length}}, folder / TEXT_FILE, "tokens")
    with torch.inference_mode():
        expected = normalize(cpu(sample))
    got = _run(folder / TEXT_FILE, "tokens", sample.numpy())
    manifest.text_error = _difference(expected, got)
    if manifest.text_error > TOLERANCE:
        manifest.refused = f"the exported text tower differs from torch by {manifest.text_error:.2g} (> {TOLERANCE})"
        return
    manifest.dim = int(expected.shape[1])
    int8 = _quantize(folder / TEXT_FILE, folder / INT8_TEXT_FILE, "tokens", sample.numpy())
    manifest.text_int8_error = None if int8 is None else _difference(got, int8)


def _export_image(folder: Path, tower: ImageTower, manifest: TowerManifest) -> None:
    from indexer.image_preprocess import Preprocess

    if tower.visual is None or manifest.refused:
        return
    prepare = Preprocess.from_config(tower.preprocess_config)
    if prepare is None or prepare.image_size != tower.image_size:
        manifest.image_refused = f"its picture preparation ({tower.preprocess_config}) has no torch-free counterpart"
        return
    reference, ours = _check_pictures(tower, prepare)
    preprocess_error = float(np.abs(reference.numpy() - ours).max())
    if preprocess_error > 1e-4:
        manifest.image_refused = f"prepared pictures differ from torch's by {preprocess_error:.2g}"
        return
    cpu = _on_cpu(tower.visual)
    batch = torch.export.Dim("batch", min=1, max=4096)
    _write_onnx(cpu, reference, {"pixels": {0: batch}}, folder / IMAGE_FILE, "pixels")
    expected = _torch_vectors(cpu, reference)
    manifest.image_error = _difference(expected, _run(folder / IMAGE_FILE, "pixels", ours))
    if manifest.image_error > TOLERANCE:
        manifest.image_refused = f"the exported image tower differs from torch by {manifest.image_error:.2g}"
        return
    manifest.image_size = tower.image_size
    manifest.preprocess = {
        "size": prepare.image_size,
        "mean": list(prepare.mean),
        "std": list(prepare.std),
        "interpolation": prepare.interpolation,
        "resize_mode": prepare.resize_mode,
    }
    _export_int8_image(folder, manifest, ours, expected)


def _export_int8_image(folder: Path, manifest: TowerManifest, pixels: np.ndarray, expected: np.ndarray) -> None:
    """The int8 image tower the indexer encodes pictures with on a CPU: 2.8x torch's pictures/s at batch 32 on
    ViT-B-32 (bench/image_runtime_probe.py). Weights QInt8 per output channel, and only the MatMuls: quantising
    every op (the patch Conv too) measured slower (2.5x), QUInt8 weights much slower (1.6x). Refused where it
    strays from torch."""
    got = _quantize(folder / IMAGE_FILE, folder / INT8_IMAGE_FILE, "pixels", pixels, ["MatMul"], per_channel=True)
    if got is None:
        manifest.image_int8_refused = "the image tower could not be quantised"
        return
    cosine = float((got * expected).sum(axis=1).min()) if got.shape == expected.shape else -1.0
    manifest.image_int8_cosine = cosine
    if cosine < INT8_IMAGE_MIN_COSINE:
        manifest.image_int8_refused = (
            f"the int8 image tower strays from torch (cosine {cosine:.5f} < {INT8_IMAGE_MIN_COSINE})"
        )


def _add_int8_image(folder: Path, manifest: TowerManifest, tower: ImageTower) -> None:
    """The int8 image tower for an export made without one: made and checked as a new export makes it."""
    from indexer.image_preprocess import Preprocess

    prepare = Preprocess.from_config(manifest.preprocess)
    if tower.visual is None or prepare is None:
        return
    log.info("adding the int8 image tower to the library's export (once)")
    try:
        reference, ours = _check_pictures(tower, prepare)
        _export_int8_image(folder, manifest, ours, _torch_vectors(_on_cpu(tower.visual), reference))
    except Exception as exc:  # an option of the indexer's: its failure must not stop the writer that tried it
        log.info("no int8 image tower", exc_info=True)
        manifest.image_int8_refused = f"the int8 image tower could not be made ({type(exc).__name__}: {exc})"
    manifest.write(folder)


def _check_pictures(tower: ImageTower, prepare: Any) -> tuple[torch.Tensor, np.ndarray]:
    """The sample pictures prepared by torch (the reference model's input) and by `prepare` (the export's)."""
    pictures = _sample_pictures()
    reference = torch.stack([tower.preprocess(picture).float().cpu() for picture in pictures])
    return reference, np.stack([prepare(picture) for picture in pictures])


def _torch_vectors(module: torch.nn.Module, pixels: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return normalize(module(pixels))


def _write_onnx(
    module: torch.nn.Module, sample: torch.Tensor, shapes: dict[str, Any], path: Path, input_name: str
) -> None:
    """torch's exporter (torch.export → ONNX), written atomically; its chatter stays out of the user's way."""

    class Named(torch.nn.Module):  # the input's name in the graph is the forward's argument name
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(inputs[input_name])

    with _quiet():
        program = torch.onnx.export(
            Named(module),
            (),
            kwargs={input_name: sample},
            dynamic_shapes={input_name: shapes[input_name]},
            dynamo=True,
            opset_version=_OPSET,
            verbose=False,
            optimize=True,
        )
    assert program is not None
    # Weights in a file of their own, which ONNX Runtime memory-maps: a session over ViT-B-32's text tower
    # opens in 0.08 s instead of 0.35-0.5 s (bench/RESULTS.md), a large part of a cold query.
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as scratch:
        program.save(Path(scratch) / path.name, external_data=True)
        written = sorted(Path(scratch).iterdir(), key=lambda item: item.name == path.name)  # the graph last
        for item in written:
            os.replace(item, path.parent / item.name)
    fsync_dir(path.parent)


def _quantize(
    source: Path, target: Path, name: str, value: np.ndarray, ops: list[str] | None = None, per_channel: bool = False
) -> np.ndarray | None:
    """An int8 copy of a tower (weights int8, activations quantised per call; `ops`: which op types, None for
    all the quantiser knows) and its unit vectors for `value`, or None where it could not be made."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as scratch, _quiet():
            out = Path(scratch) / target.name
            quantize_dynamic(
                str(source), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=ops, per_channel=per_channel
            )
            atomic_write_bytes(target, out.read_bytes())
        # Run inside the try: an int8 copy that ONNX Runtime cannot run costs that copy, not the whole export.
        return _run(target, name, value)
    except Exception as exc:  # quantisation is an option: its failure costs nothing but the option
        log.info("no int8 copy of %s: %s", source.name, exc)
        return None


def _run(path: Path, name: str, value: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return unit_rows(session.run(None, {name: value})[0])


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")


def _on_cpu(module: torch.nn.Module) -> torch.nn.Module:
    """A float32 CPU copy to trace (the live model may sit on a GPU, in half precision); the original stays."""
    first = next(module.parameters(), None)
    if first is not None and first.device.type == "cpu" and first.dtype == torch.float32:
        return module.eval()
    return copy.deepcopy(module).float().cpu().eval()


def _plain_clip_tokenizer(tokenizer: Any) -> bool:
    from open_clip.tokenizer import SimpleTokenizer

    return (
        type(tokenizer) is SimpleTokenizer
        and getattr(tokenizer, "reduction_fn", None) is None
        and tokenizer.clean_fn.__name__ == "_clean_lower"
        and tokenizer.vocab_size == 49408
    )


def _vocab_path() -> Path:
    from open_clip.tokenizer import default_bpe

    return Path(default_bpe())


def _sample_pictures() -> list[Image.Image]:
    """Pictures of several shapes and modes: the preparation (resize, crop) is checked as well as the tower."""
    rng = np.random.default_rng(0)
    wide = Image.fromarray(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8))
    tall = Image.fromarray(np.linspace(0, 255, 300 * 120 * 3).reshape(300, 120, 3).astype(np.uint8))
    small = Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    return [wide, tall, small]


def _copy_folder(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name != "manifest.json":
            shutil.copyfile(item, target / item.name)
    shutil.copyfile(source / "manifest.json", target / "manifest.json")  # last: the export is whole


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.onnx and the quantiser print progress and warnings meant for their developers."""
    quiet_loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript", "root")]
    levels = [logger.level for logger in quiet_loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for logger in quiet_loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(quiet_loggers, levels, strict=True):
                logger.setLevel(level)
