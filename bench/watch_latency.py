"""The watcher: latency from a file written to it being searchable, and memory while watching 100k files.

    python -m bench.watch_latency [--files 30] [--watched 100000]

Latency: files are written one at a time into a watched folder; each is timed until a reader's
search can return it (the catalog holds its vector). Memory: a library of N already-indexed files
on disk (catalog filled to match their size and mtime, the state a watcher resumes into) is watched;
RSS is read after the start-up scan and again after 10 s of idling.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench._results import machine, percentile, write_section
from core.settings import load_settings
from indexer.catalog import MediaRecord
from indexer.library import Library
from indexer.watch import Watcher, WatchOptions
from training.random_weights import write_random_checkpoint

REPO = Path(__file__).resolve().parent.parent


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(
    library: Path, root: Path, weights: Path, debounce: float, poll: bool = False
) -> tuple[Watcher, threading.Thread, Library]:
    settings = load_settings(
        library=library, model=str(REPO / "data/models/tiny-clip.json"), pretrained=str(weights), quiet=True
    )
    lib = Library.open_writer(library, "bench")
    watcher = Watcher(
        lib, lib.writer_encoder(settings), settings, WatchOptions([str(root)], poll=poll, debounce=debounce)
    )
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    watcher.ready.wait(3600)
    return watcher, thread, lib


def latency(tmp: Path, weights: Path, files: int, debounce: float) -> tuple[float, float]:
    from PIL import Image

    root = tmp / f"latency-{debounce}"
    root.mkdir()
    watcher, thread, lib = start(tmp / f"lib-{debounce}", root, weights, debounce)
    reader = Library.open_reader(tmp / f"lib-{debounce}")
    waits = []
    rng = np.random.default_rng(0)
    for i in range(files):
        path = root / f"new-{i:03d}.jpg"
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
        written = time.perf_counter()
        while True:
            media_id = reader.catalog.media_id_for_path(str(path))
            if media_id is not None and len(reader.catalog.fetch_vectors("media", [media_id], 64)[0]):
                break
            time.sleep(0.01)
        waits.append(time.perf_counter() - written)
    watcher.stop()
    thread.join()
    lib.close()
    reader.close()
    return percentile(waits, 50), percentile(waits, 95)


def memory(tmp: Path, weights: Path, watched: int) -> tuple[float, float, float, float]:
    root = tmp / "many"
    records = []
    for i in range(watched):
        folder = root / f"d{i // 100:04d}"
        if i % 100 == 0:
            folder.mkdir(parents=True)
        path = folder / f"f{i:06d}.jpg"
        path.write_bytes(b"x")
        st = path.stat()
        records.append(MediaRecord(str(path), st.st_size, st.st_mtime_ns, f"h{i}", "ok", None, "JPEG", 64, 48))
    library = tmp / "lib-many"
    vectors = np.random.default_rng(1).standard_normal((watched, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Library.open_writer(library, "bench") as lib:
        settings = load_settings(
            library=library, model=str(REPO / "data/models/tiny-clip.json"), pretrained=str(weights)
        )
        lib.writer_encoder(settings)
        for start_at in range(0, watched, 5000):
            lib.catalog.write_media(records[start_at : start_at + 5000], list(vectors[start_at : start_at + 5000]))
    before = rss_mib()
    started = time.perf_counter()
    watcher, thread, lib = start(library, root, weights, debounce=2.0)
    scan_seconds = time.perf_counter() - started
    after_scan = rss_mib()
    time.sleep(10)
    idle = rss_mib()
    watcher.stop()
    thread.join()
    lib.close()
    return before, after_scan, idle, scan_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--watched", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        weights = write_random_checkpoint(REPO / "data/models/tiny-clip.json", tmp / "tiny.pt")
        rows = []
        for debounce in (0.5, 2.0):
            p50, p95 = latency(tmp, weights, args.files, debounce)
            rows.append(f"| {debounce:.1f} s | {p50:.2f} s | {p95:.2f} s |")
            print(rows[-1], flush=True)
        before, after_scan, idle, scan_seconds = memory(tmp, weights, args.watched)
    body = f"""## watch_latency

`python -m bench.watch_latency` — native (inotify) events, tiny model, one new 64×48 JPEG at a time, timed from the
write returning until a reader sees its vector. Machine: {machine()}.

| debounce | p50 written → searchable | p95 |
|---|---|---|
{chr(10).join(rows)}

A file is processed once no event has arrived for `debounce` seconds and its mtime is at least 2×debounce old
(a copy in progress waits), so latency is about 2×debounce plus encoding.

Watching {args.watched:,} already-indexed files in {args.watched // 100:,} folders: process RSS {before:.0f} MiB before
the watcher (model, torch, catalog), {after_scan:.0f} MiB after its start-up scan ({scan_seconds:.1f} s), {idle:.0f} MiB idle
10 s later; the watcher's own share is {idle - before:.0f} MiB."""
    write_section("watch_latency", body)


if __name__ == "__main__":
    main()
