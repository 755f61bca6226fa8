"""Indexing throughput of the decode → encode path on real JPEGs, on a GPU (or a CPU, to check the script): how
fast pictures are decoded, how fast the model encodes them, and how fast both go overlapped, as an indexing run
overlaps them (decode threads a bounded window ahead of batched encoding; catalog writes left out).

    python -m bench.gpu_throughput [--images DIR] [--count 500] [--model ViT-B-32] [--device auto|cpu|cuda]
                                   [--batch 256] [--decode pil,torchvision,batched] [--workers N]
                                   [--keep-on-device] [--write]

Decoders: `pil` is the default path (Pillow with JPEG draft mode, then the model's own preprocessing), `torchvision`
is indexer.gpu_decode one picture per thread as FileReader calls it (nvJPEG on CUDA: torchvision serialises its
calls), `batched` is TensorDecoder.decode_many, one nvJPEG call per batch (the GPU's hardware JPEG decoder takes
baseline JPEGs of a batch together) read and decoded by one thread ahead of the encoder. Their tensors come back
to the host, as the run's decoder (indexer.gpu_decode.for_run) brings them, unless --keep-on-device. The model is open_clip's
architecture with random weights (no download here; the compute is that of the real weights), encoded as
indexer.towers.ImageTower encodes (autocast to bf16, or fp16, on CUDA). `--count` beyond the folder's photos repeats
them. Anchor: clip-retrieval reports about 2,500 img/s per A100 for ViT-B/32.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch

from bench._results import machine, write_section
from indexer.decode import decode_image
from indexer.gpu_decode import TensorDecoder
from indexer.hashing import content_hash
from indexer.image_preprocess import Preprocess
from indexer.ingest.plan import PlannedFile
from indexer.ingest.read import Decoded, FileReader, ReadLimits
from indexer.ingest.reads import ThreadedReads
from indexer.scan import FoundFile
from indexer.towers import ImageTower, pick_device

REPO = Path(__file__).resolve().parent.parent
DEFAULT_IMAGES = REPO.parent / "shared" / "data" / "flickr8k-dev" / "images"
LIMITS = ReadLimits(max_file_bytes=256 * 2**20, max_image_pixels=150_000_000)  # core.settings' defaults
DECODERS = ("pil", "torchvision", "batched")
MIN_ENCODE_SECONDS = 2.0  # encode-only repeats its tensors until this long: a GPU pass over 500 takes a blink


@dataclass
class Row:
    decoder: str
    decoded: int  # pictures the decoder itself took (the rest went to Pillow)
    decode_rate: float
    encode_rate: float
    end_to_end: float
    peak_gib: float | None


def model_tower(name: str, device: torch.device) -> ImageTower:
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None, device=device)
    model.eval()
    size = model.visual.image_size
    image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
    config = dict(open_clip.get_model_preprocess_cfg(model) or {})
    return ImageTower(model.encode_image, preprocess, image_size, device, model.visual, config)


def planned(images: Path, count: int) -> list[PlannedFile]:
    files = sorted(images.glob("*.jpg"))
    if not files:
        raise SystemExit(f"no JPEGs in {images}")
    chosen = [files[i % len(files)] for i in range(count)]
    return [PlannedFile(FoundFile(str(path), path.stat().st_size, path.stat().st_mtime_ns), None) for path in chosen]


class CountingDecoder(TensorDecoder):
    """A TensorDecoder that counts the pictures it takes (the others go to Pillow)."""

    def __init__(self, preprocess: Preprocess, device: torch.device, output_device: torch.device) -> None:
        super().__init__(preprocess, device, output_device)
        self.taken = 0
        self._lock = threading.Lock()

    def prepare(self, pixels: torch.Tensor, orientation: int | None) -> torch.Tensor:
        tensor = super().prepare(pixels, orientation)  # once for each picture taken, by decode or decode_many
        with self._lock:
            self.taken += 1
        return tensor


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Pipeline:
    """One decoder's stream of prepared tensors, in batches, decoded ahead of whoever takes them."""

    def __init__(self, kind: str, tower: ImageTower, workers: int, batch: int, keep_on_device: bool) -> None:
        self.kind, self.tower, self.workers, self.batch = kind, tower, workers, batch
        preprocess = Preprocess.from_config(tower.preprocess_config)
        assert preprocess is not None, "this model's preprocessing needs open_clip's transforms"
        device = tower.device if tower.device.type == "cuda" else torch.device("cpu")
        output = device if keep_on_device else torch.device("cpu")  # the host: as indexer.gpu_decode.for_run does
        self.decoder = CountingDecoder(preprocess, device, output) if kind != "pil" else None

    def taken(self) -> int:
        return self.decoder.taken if self.decoder is not None else 0

    def batches(self, items: Sequence[PlannedFile]) -> Iterator[list[torch.Tensor]]:
        if self.decoder is not None:
            self.decoder.taken = 0
        if self.kind == "batched":
            yield from self._decode_many(items)
            return
        reader = FileReader(LIMITS, self.tower.image_size, self.tower.preprocess, set(), self.decoder)
        reads = ThreadedReads(reader, self.workers, self.batch * 2 + self.workers)  # as indexer.ingest.run sizes it
        batch: list[torch.Tensor] = []
        for outcome in reads.outcomes(items):
            assert isinstance(outcome, Decoded), outcome
            batch.append(outcome.tensor)
            if len(batch) == self.batch:
                yield batch
                batch = []
        if batch:
            yield batch

    def _decode_many(self, items: Sequence[PlannedFile]) -> Iterator[list[torch.Tensor]]:
        """Chunks read and decoded by one thread, the next while the last is encoded."""
        chunks = [items[start : start + self.batch] for start in range(0, len(items), self.batch)]
        with ThreadPoolExecutor(1, thread_name_prefix="decode") as pool:
            pending: deque[Future[list[torch.Tensor]]] = deque()
            for chunk in chunks:
                pending.append(pool.submit(self._chunk, chunk))
                if len(pending) > 1:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _chunk(self, chunk: Sequence[PlannedFile]) -> list[torch.Tensor]:
        assert self.decoder is not None
        datas = [Path(item.file.path).read_bytes() for item in chunk]
        for data in datas:
            content_hash(data)  # as every read does
        tensors = []
        for data, result in zip(datas, self.decoder.decode_many(datas, LIMITS.max_image_pixels), strict=True):
            if result is None:  # left to Pillow, as FileReader does
                image, _ = decode_image(data, self.tower.image_size, LIMITS.max_image_pixels)
                tensors.append(self.tower.preprocess(image))
            else:
                tensors.append(result[0])
        return tensors


def measure(
    kind: str, tower: ImageTower, items: Sequence[PlannedFile], workers: int, batch: int, keep_on_device: bool
) -> Row:
    device = tower.device
    pipeline = Pipeline(kind, tower, workers, batch, keep_on_device)
    list(pipeline.batches(items[: min(len(items), batch)]))  # warm-up: nvJPEG's handles, the file cache
    sync(device)

    started = time.perf_counter()
    kept: list[torch.Tensor] = []
    for tensors in pipeline.batches(items):
        kept.extend(tensors[: max(0, batch * 4 - len(kept))])  # enough for encode-only, not the whole run
    sync(device)
    decode_rate = len(items) / (time.perf_counter() - started)
    taken = pipeline.taken()

    tower.encode(kept[:batch])  # warm-up: kernels, autotuning
    encoded, started = 0, time.perf_counter()
    while encoded == 0 or time.perf_counter() - started < MIN_ENCODE_SECONDS:
        for start in range(0, len(kept), batch):
            tower.encode(kept[start : start + batch])  # returns host vectors: the GPU is done with the batch
            encoded += len(kept[start : start + batch])
    encode_rate = encoded / (time.perf_counter() - started)
    del kept

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    encoded, started = 0, time.perf_counter()
    for tensors in pipeline.batches(items):
        if keep_on_device:  # Pillow's tensors (pictures decode_jpeg left to it) join the decoder's on the device
            tensors = [tensor.to(device, non_blocking=True) for tensor in tensors]
        tower.encode(tensors)
        encoded += len(tensors)
    end_to_end = encoded / (time.perf_counter() - started)
    peak = None
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        torch.cuda.empty_cache()
    return Row(kind, taken, decode_rate, encode_rate, end_to_end, peak)


def table(rows: Sequence[Row], count: int, device: torch.device, workers: int) -> str:
    lines = [
        "| decoder | taken by it | decode only (img/s) | encode only (img/s) | end to end (img/s) | e2e / encode | peak GPU memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        peak = f"{row.peak_gib:.2f} GiB" if row.peak_gib is not None else "—"
        lines.append(
            f"| {row.decoder} | {row.decoded}/{count} | {row.decode_rate:.1f} | {row.encode_rate:.1f} "
            f"| {row.end_to_end:.1f} | {row.end_to_end / row.encode_rate:.0%} | {peak} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--decode", default=",".join(DECODERS), help=f"comma-separated, of {', '.join(DECODERS)}")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="decode threads")
    parser.add_argument(
        "--keep-on-device",
        action="store_true",
        help="torchvision's tensors stay on the GPU (the run's decoder brings them back to the host)",
    )
    parser.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    args = parser.parse_args()
    decoders = args.decode.split(",")
    if unknown := set(decoders) - set(DECODERS):
        parser.error(f"unknown decoders {sorted(unknown)}: choose from {', '.join(DECODERS)}")
    device = pick_device(args.device)
    tower = model_tower(args.model, device)
    items = planned(args.images, args.count)
    rows = []
    for kind in decoders:
        rows.append(measure(kind, tower, items, args.workers, args.batch, args.keep_on_device))
        print(rows[-1], flush=True)
    autocast = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp16"
    precision = f"autocast {autocast}" if device.type == "cuda" else "fp32"
    where = " --keep-on-device" if args.keep_on_device else ""
    left = "torchvision's on the GPU, Pillow's on the host" if args.keep_on_device else "on the host"
    body = f"""## gpu_throughput ({device.type})

`python -m bench.gpu_throughput --count {args.count} --model {args.model} --device {args.device} --batch {args.batch}
--decode {args.decode} --workers {args.workers}{where}` — {args.images.parent.name}/{args.images.name} real JPEGs, {args.model} with
random weights on {device} ({precision}), batch {args.batch}, {args.workers} decode threads. Machine: {machine()}.

{table(rows, args.count, device, args.workers)}

Decode only: read, hash, decode and prepare every picture, nothing encoded. Encode only: ImageTower.encode on
tensors already prepared, from where the decoder left them ({left}). End to end: both overlapped, decoding a bounded window ahead
of batched encoding, as an indexing run does (catalog and index writes left out). "Taken by it": pictures the
decoder took rather than leaving them to Pillow. Anchor: clip-retrieval reports about 2,500 img/s per A100 for
ViT-B/32."""
    if args.write:
        write_section(f"gpu_throughput_{device.type}{where.replace(' --', '_').replace('-', '_')}", body)
    else:
        print(body)


if __name__ == "__main__":
    main()
