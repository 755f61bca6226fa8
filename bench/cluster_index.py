"""Indexing on this machine alone vs through Ray (`xmodal index --ray`), the writer's commit rate at 1M items, and
what N GPU workers would give.

    python -m bench.cluster_index [--images DIR] [--arch ViT-B-32] [--items 1000000] [--load] [--write]

1. The same folder of real JPEGs, indexed by `xmodal index` (decode threads, one model) and by `xmodal index --ray`
   (a Ray of this machine started for the run: read tasks and one encoder actor), alternated, each into a new
   library, through the CLI as a user runs it. From the Ray run's report: the encoder actor's seconds per picture
   and the read tasks' seconds per picture, that is the per-worker rates.
2. The writer's ceiling: batches of new items (records and 512-d vectors) committed by LibraryWriter into a library
   that already holds `--items` of them, as the cluster writer commits what its actors send.
3. A projection on paper for N GPU workers from those rates (the GPU rate is clip-retrieval's anchor unless
   `--gpu-rate` gives a measured one: bench/gpu_throughput.py measures it on a GPU machine).

Random weights cost the same compute as pretrained ones; the vectors are not looked at.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._results import machine, write_section
from bench.index_throughput import DEFAULT_IMAGES, config_for
from bench.million import build_catalog, clustered
from bench.video_index import Busy
from training.random_weights import write_random_checkpoint

ANCHOR_GPU_RATE = 2500.0  # clip-retrieval: ViT-B/32 pictures per second on one A100, resize-bound
REPO = Path(__file__).resolve().parent.parent


def index_once(
    images: Path, config: Path, weights: Path, library: Path, ray: bool, batch: int, busy: bool
) -> dict[str, float]:
    argv = [sys.executable, "-m", "api.cli", "index", str(images), "--library", str(library), "--model", str(config),
            "--pretrained", str(weights), "--json", "-q", "--index-runtime", "torch", "--batch-size", str(batch)]  # fmt: skip
    if ray:
        argv.append("--ray")
    env = {**os.environ, "XMODAL_OCR__ENABLED": "false", "RAY_AUTH_MODE": "disabled"}
    if ray and busy:  # Ray starts its workers at nice 15: beside busy loops they get 3% of a core (measured)
        env["RAY_worker_niceness"] = "0"
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"xmodal index{' --ray' if ray else ''} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    stages = report["stages"]
    n = report["added"]
    return {
        "n": n,
        "wall": seconds,
        "rate": n / seconds,
        "run_rate": n / report["seconds"],  # without the process's start (imports, model load, Ray start)
        "encode_per_item": stages["encode"] / max(n, 1),
        "read_per_item": stages["read_decode"] / max(n, 1),
        "wait": stages["read_wait"],
        "write": stages["write"],
    }


def writer_rate(items: int, batch: int, batches: int, library: Path) -> dict[str, float]:
    """Items per second that LibraryWriter commits (catalog rows, vector store rows, fdatasync) at `items`."""
    from core.settings import load_settings
    from indexer.catalog import MediaRecord
    from indexer.ingest.batch import EncodedBatch
    from indexer.ingest.write import LibraryWriter
    from indexer.library import Library
    from indexer.vector_index import IndexPolicy

    if not (library / "catalog.sqlite").exists():
        print(f"building a catalog of {items:,} items in {library} ...", flush=True)
        build_catalog(library, items)
    settings = load_settings(library=library)
    with Library.open_writer(library, "bench") as lib:
        held = lib.catalog.vector_count("media")
        writer = LibraryWriter(lib.catalog, [lib.vector_index("media")], IndexPolicy.of(settings), 3600)
        vectors = clustered(batch * batches, 99, held)
        times = []
        for number in range(batches):
            first = held + number * batch
            records = [
                MediaRecord(f"/new/{i:08d}.jpg", 1, 1, f"new{first}-{i}", "ok", None, "JPEG", 640, 480)
                for i in range(first, first + batch)
            ]
            rows = list(vectors[number * batch : (number + 1) * batch])
            started = time.perf_counter()
            writer.write(EncodedBatch(records, rows, [], []))
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        writer.checkpoint()
        checkpoint = time.perf_counter() - started
        new_ids = lib.catalog.ids_since("media", 0)[-batch * batches :]
        lib.catalog.delete_media(new_ids.tolist())  # the library stays at `items` for the next run
    per_batch = float(np.median(times))
    overall = batch * batches / sum(times)  # with the word index's occasional segment merges
    return {"held": held, "batch": batch, "per_batch": per_batch, "rate": overall, "checkpoint": checkpoint}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--arch", default="ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--items", type=int, default=1_000_000, help="library size for the writer's commit rate")
    parser.add_argument("--writer-batches", default="32,512", help="batch sizes; the last is the projection's")
    parser.add_argument("--library", type=Path, help="keep the --items library here (built once, reused)")
    parser.add_argument("--gpu-rate", type=float, default=ANCHOR_GPU_RATE, help="pictures/s of one GPU worker")
    parser.add_argument("--load", action="store_true", help="also run everything with both cores kept busy")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    cache = Path(tempfile.gettempdir()) / "xmodal-bench-weights"
    cache.mkdir(exist_ok=True)
    config = config_for(args.arch)
    weights = cache / f"{args.arch}-random.pt"
    if not weights.exists():
        write_random_checkpoint(config, weights)
    conditions = [False, True] if args.load else [False]
    index_rows, runs = [], {}
    for busy in conditions:
        for repeat in range(args.repeats):
            for ray in (False, True):
                with tempfile.TemporaryDirectory() as tmp, Busy(busy):
                    got = index_once(args.images, config, weights, Path(tmp) / "lib", ray, args.batch_size, busy)
                runs.setdefault((busy, ray), []).append(got)
                print(f"{'busy' if busy else 'quiet'} {'ray' if ray else 'local'} #{repeat}: {got}", flush=True)
    for (busy, ray), got in runs.items():
        best = max(got, key=lambda r: r["rate"])
        index_rows.append(
            f"| {'two busy loops' if busy else 'quiet'} | "
            f"{('`--ray` (local Ray, 1 encoder actor' + (', workers at nice 0)' if busy else ')')) if ray else 'local'} "
            f"| {best['n']:.0f} | {best['wall']:.1f} s | {best['rate']:.1f} | {best['run_rate']:.1f} "
            f"| {1 / best['encode_per_item']:.1f} | {1 / best['read_per_item']:.1f} |"
        )
        print(index_rows[-1], flush=True)

    library = args.library or Path(tempfile.mkdtemp(prefix="xmodal-writer-"))
    writer_rows = []
    rates = {}
    for busy in conditions:
        for batch in map(int, args.writer_batches.split(",")):
            with Busy(busy):
                w = writer_rate(args.items, batch, 40, library)
            rates[(busy, batch)] = w["rate"]
            writer_rows.append(
                f"| {'two busy loops' if busy else 'quiet'} | {w['held']:,} | {w['batch']} "
                f"| {w['per_batch'] * 1000:.0f} ms | {w['rate']:,.0f} | {w['checkpoint']:.2f} s |"
            )
            print(writer_rows[-1], flush=True)
    commit_batch = int(args.writer_batches.split(",")[-1])
    quiet_writer = rates[(False, commit_batch)]
    ray_quiet = max(runs[(False, True)], key=lambda r: r["rate"])
    decode_per_cpu = 1 / ray_quiet["read_per_item"]
    projection = []
    for gpus in (1, 2, 4, 8, 16, 32, 64):
        wanted = gpus * args.gpu_rate
        projection.append(
            f"| {gpus} | {wanted:,.0f} | {wanted / decode_per_cpu:,.0f} | {min(wanted, quiet_writer):,.0f} "
            f"| {'writer' if wanted > quiet_writer else 'GPUs'} |"
        )
    body = f"""## cluster_index

`python -m bench.cluster_index --arch {args.arch} --items {args.items} {"--load " if args.load else ""}--write`.
Machine: {machine()}.

**Local vs `--ray` on this machine** ({args.images.name}/ real JPEGs, {args.arch} with random weights, torch
runtime, batch {args.batch_size}; each run a new library through the CLI, alternated; best of {args.repeats}).
"run" leaves out the process start (imports, model load, and for `--ray` starting Ray and its actor); the last two
columns are per worker: pictures per second of one encoder (its model time) and of one read task (read, hash,
decode, prepare). Ray starts its workers at nice 15 (`RAY_worker_niceness`): beside two busy loops they got 3% of a
core and the run crawled, so the busy `--ray` row sets it to 0, as the local run's threads are.

| machine | path | pictures | wall | pictures/s (wall) | pictures/s (run) | encoder, per actor | read+decode, per CPU |
|---|---|---|---|---|---|---|---|
{chr(10).join(index_rows)}

**The writer's ceiling**: LibraryWriter committing batches of new items (catalog rows, 512-d
vectors into the vector store, fdatasync) into a library that holds {args.items:,} already: 40 batches (items/s over
all of them, merges of the word index included; the median batch's time), then one checkpoint (the delta stays
beside the index). A local run commits `batch_size` (32) items at a time; the cluster writer `ray.commit_batch`
(512), as its vectors arrive made.

| machine | items held | batch | median batch | items/s | checkpoint |
|---|---|---|---|---|---|
{chr(10).join(writer_rows)}

**N GPU workers, on paper**: each GPU worker encodes {args.gpu_rate:,.0f} pictures/s (ViT-B/32 fp16;
{"clip-retrieval" + chr(39) + "s A100 anchor" if args.gpu_rate == ANCHOR_GPU_RATE else "measured"}); reading and
decoding runs at {decode_per_cpu:.0f} pictures/s per CPU (measured above, Pillow with draft mode); the writer commits
{quiet_writer:,.0f} items/s in batches of {commit_batch} (measured above, quiet).

| GPU workers | pictures/s wanted | CPUs to feed them | pictures/s the run gets | ceiling |
|---|---|---|---|---|
{chr(10).join(projection)}
"""
    print(body)
    if args.write:
        write_section("cluster_index", body)


if __name__ == "__main__":
    main()
