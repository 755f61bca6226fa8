"""Indexing throughput on real JPEGs: end to end (scan, read, decode, encode, write) vs model-only, for each
runtime that encodes the pictures (torch, and `auto`: the export's int8 image tower on a CPU).

    python -m bench.index_throughput [--images DIR] [--archs tiny,ViT-B-32] [--runtimes torch,auto] [--workers N]
                                     [--repeats N]

Random weights cost the same compute as pretrained ones, so ViT-B-32 numbers here are what a user
with real weights gets on the same machine. Runtimes alternate, repeat after repeat, so load from elsewhere on
a shared machine hits them alike; the table gives medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import cast

import open_clip
import torch

from bench._results import machine, write_section
from core.settings import Runtime, load_settings
from indexer.decode import decode_image
from indexer.ingest import index_paths
from indexer.ingest.pictures import picture_encoder
from indexer.library import Library
from training.random_weights import write_random_checkpoint

REPO = Path(__file__).resolve().parent.parent
DEFAULT_IMAGES = REPO.parent / "shared" / "data" / "flickr8k-dev" / "images"


def config_for(arch: str) -> Path:
    if arch == "tiny":
        return REPO / "data" / "models" / "tiny-clip.json"
    return Path(open_clip.__file__).parent / "model_configs" / f"{arch}.json"


def run(arch: str, runtime: Runtime, images: Path, workers: int, batch: int, cache: Path) -> dict[str, float | str]:
    config = config_for(arch)
    weights = cache / f"{arch}-random.pt"
    if not weights.exists():
        write_random_checkpoint(config, weights)
    files = sorted(images.glob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            library=Path(tmp) / "lib",
            model=str(config),
            pretrained=str(weights),
            workers=workers,
            batch_size=batch,
            device="auto",
            index_runtime=runtime,
            quiet=True,
        )
        with Library.open_writer(settings.library, "bench") as library:
            encoder = library.writer_encoder(settings)
            started = time.perf_counter()
            report = index_paths(library, encoder, [images], settings, quiet=True)
            end_to_end = report.encoded / (time.perf_counter() - started)
            started = time.perf_counter()
            again = index_paths(library, encoder, [images], settings, quiet=True)
            rescan = time.perf_counter() - started
            assert again.unchanged == len(files)
            pictures = picture_encoder(library.path, encoder, runtime)

        started = time.perf_counter()
        tensors = []
        for path in files:
            image, _ = decode_image(path.read_bytes(), encoder.image_size, settings.max_image_pixels, path.name)
            tensors.append(pictures.image_tensor(image))
        decode_rate = len(files) / (time.perf_counter() - started)
        pictures.encode_image_tensors(tensors[:batch])  # warm-up
        started = time.perf_counter()
        for start in range(0, len(tensors), batch):
            pictures.encode_image_tensors(tensors[start : start + batch])
        model_only = len(tensors) / (time.perf_counter() - started)
    return {
        "runtime": report.image_runtime,
        "n": len(files),
        "e2e": end_to_end,
        "model": model_only,
        "decode1": decode_rate,
        "rescan": rescan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--archs", default="tiny,ViT-B-32")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--runtimes", default="torch,auto")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    cache = Path(tempfile.gettempdir()) / "xmodal-bench-weights"
    cache.mkdir(exist_ok=True)
    rows = []
    for arch in args.archs.split(","):
        runs: dict[Runtime, list[dict[str, float | str]]] = {
            cast(Runtime, runtime): [] for runtime in args.runtimes.split(",")
        }
        for _ in range(args.repeats):
            for runtime, done in runs.items():
                done.append(run(arch, runtime, args.images, args.workers, args.batch_size, cache))
                print(arch, runtime, done[-1], flush=True)
        for runtime, done in runs.items():
            r = {
                key: statistics.median(float(d[key]) for d in done)
                for key in ("n", "e2e", "model", "decode1", "rescan")
            }
            rows.append(
                f"| {arch} | {runtime} ({done[0]['runtime']}) | {r['n']:.0f} | {r['e2e']:.1f} | {r['model']:.1f} "
                f"| {r['e2e'] / r['model']:.0%} | {r['decode1']:.1f} | {r['rescan']:.2f} s |"
            )
            print(rows[-1], flush=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    body = f"""## index_throughput

`python -m bench.index_throughput --repeats {args.repeats}` — {args.images.name}/ real JPEGs, device {device},
batch {args.batch_size}, {args.workers} decode workers; medians of {args.repeats} alternated runs. Machine: {machine()}.

| model | index runtime (used) | images | end to end (img/s) | model-only encode (img/s) | e2e / model | decode+preprocess, 1 thread (img/s) | unchanged re-run |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

End to end covers scan, read, hash, decode (JPEG draft mode), preprocess, encode and the catalog
writes; model-only encodes already-preprocessed tensors. The re-run column is a second `index` of
the same unchanged folder (no image read). `auto` encodes with the export's int8 image tower on a CPU (checked
within cosine 0.999 of torch's on the exporter's sample pictures; the weights here are random, so these rows
measure speed only) and prepares pictures in numpy; torch is the reference."""
    write_section("index_throughput", body)


if __name__ == "__main__":
    main()
