"""Pictures/s of a library's image tower at the indexer's batch size: torch as the indexer calls it, ONNX Runtime
on the library's checked export (fp32, threads spinning or not), and dynamic int8 variants of that export.

    python -m bench.image_runtime_probe --library LIB [--images DIR] [--batch 32] [--rounds 5]

LIB is a library a writer has indexed (so it holds `towers/KEY/image.onnx`), e.g. ViT-B-32 with random
weights from bench.query_speed.vit_b32_weights(). The batch is real pictures, prepared once; each variant runs
it in turn, round after round, so load from elsewhere on a shared machine hits them alike. Also printed: how far
each variant's unit vectors stray from torch's (largest coordinate difference, lowest cosine).
Variants name the int8 weights (s8: QInt8, u8: QUInt8), per channel (pc) or per tensor (pt), and which ops are
quantised (all, or MatMul only). Prints only; writes nothing but the int8 models, in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench._results import machine
from indexer.decode import decode_image
from indexer.encoder import Encoder
from indexer.image_preprocess import Preprocess
from indexer.library import Library
from indexer.onnx_encoder import find_export
from indexer.tower_manifest import IMAGE_FILE

REPO = Path(__file__).resolve().parent.parent
DEFAULT_IMAGES = REPO.parent / "shared" / "data" / "flickr8k-dev" / "images"
Run = Callable[[np.ndarray], np.ndarray]


def session(path: Path, spinning: bool, threads: int) -> Run:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.log_severity_level = 3
    made = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda pixels: unit(made.run(None, {"pixels": pixels})[0])


def quantized(source: Path, folder: Path, weight: str, per_channel: bool, ops: list[str] | None) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    name = f"image.{weight}.{'pc' if per_channel else 'pt'}.{'-'.join(ops) if ops else 'all'}.onnx"
    target = folder / name
    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8 if weight == "s8" else QuantType.QUInt8,
        per_channel=per_channel,
        op_types_to_quantize=ops,
    )
    return target


def unit(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


def print_preprocess(pictures: list[Image.Image], encoder: Encoder, ours: Preprocess | None) -> None:
    """Decoded picture to model input, one thread, best of three: torch's transforms vs indexer.image_preprocess."""
    assert ours is not None
    for name, prepare in (("torch", encoder.image_tensor), ("numpy", ours)):
        best = min(timed(lambda: [prepare(picture) for picture in pictures]) for _ in range(3))  # noqa: B023
        print(f"preprocess through {name}: {len(pictures) / best:.0f} pictures/s")


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--library", type=Path, required=True)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch's and ONNX Runtime's intra-op threads")
    parser.add_argument("--int8", default="s8.pc.all,s8.pt.all,u8.pc.all,u8.pt.all,s8.pc.MatMul,u8.pc.MatMul")
    args = parser.parse_args()

    with Library.open_reader(args.library) as library:
        spec = library.model_spec()
        assert spec is not None
        found = find_export(library.path, spec)
    assert found is not None and found[1].has_image, "the library holds no checked image export"
    folder, _ = found
    print(machine())
    torch.set_num_threads(args.threads)
    encoder = Encoder(spec, "cpu")
    files = sorted(args.images.glob("*.jpg"))[: args.batch]
    pictures = [decode_image(path.read_bytes(), encoder.image_size, 10**9)[0] for path in files]
    print_preprocess(pictures, encoder, Preprocess.from_config(found[1].preprocess))
    tensors = [encoder.image_tensor(picture) for picture in pictures]
    pixels = torch.stack(tensors).numpy()
    print(f"{spec.describe()}: batch {len(tensors)} of {args.images}; threads {torch.get_num_threads()}")

    variants: dict[str, Run] = {
        "torch (as indexed)": lambda _: encoder.encode_image_tensors(tensors),
        "ort fp32, no spin": session(folder / IMAGE_FILE, spinning=False, threads=args.threads),
        "ort fp32, spin": session(folder / IMAGE_FILE, spinning=True, threads=args.threads),
    }
    with tempfile.TemporaryDirectory() as scratch:
        for choice in filter(None, args.int8.split(",")):
            weight, granularity, ops = choice.split(".")
            started = time.perf_counter()
            path = quantized(
                folder / IMAGE_FILE, Path(scratch), weight, granularity == "pc", None if ops == "all" else [ops]
            )
            print(f"quantised {choice} in {time.perf_counter() - started:.1f} s ({path.stat().st_size >> 20} MiB)")
            variants[f"ort int8 {choice}, no spin"] = session(path, spinning=False, threads=args.threads)
            if len(variants) == 4:  # the first int8 variant with spinning threads too
                variants[f"ort int8 {choice}, spin"] = session(path, spinning=True, threads=args.threads)
        reference = variants["torch (as indexed)"](pixels)
        stray = {}
        for name, run in variants.items():
            got = run(pixels)  # also the warm-up
            stray[name] = (float(np.abs(got - reference).max()), float((got * reference).sum(axis=1).min()))
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, run in variants.items():
                rates[name].append(len(tensors) / timed(lambda: run(pixels)))  # noqa: B023
    torch_rate = statistics.median(rates["torch (as indexed)"])
    print("| variant | img/s median | min–max | × torch | max |Δ| vs torch | min cosine |")
    print("|---|---|---|---|---|---|")
    for name, values in rates.items():
        median = statistics.median(values)
        print(
            f"| {name} | {median:.1f} | {min(values):.1f}–{max(values):.1f} | {median / torch_rate:.2f} "
            f"| {stray[name][0]:.2g} | {stray[name][1]:.5f} |"
        )


if __name__ == "__main__":
    main()
