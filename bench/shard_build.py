"""An index build in one piece against one split into shards, filled by threads or by Ray tasks.

    python -m bench.shard_build [--items 200000] [--shards 4] [--kind ivf|ivfpq] [--modes single,local,ray]

A vector file of synthetic clustered 512-d unit vectors (bench.million's) is written once; each mode then builds
the IVF index the settings' policy would choose for it, in a process of its own, so that its peak RSS is its own
(Ray's workers are other processes: not counted; the shards they send back are). The training is the same in
every mode (one k-means on the same sample) and is timed apart from adding and merging, which is what sharding
parallelises. Each mode's index is checked to be the single build's, byte for byte. Prints a table; writes
nothing to RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 512  # bench.million's vectors (imported by the parent only: it brings torch, which would swell the child)
CHUNK = 50_000


def write_store(path: Path, n: int) -> None:
    from bench.million import clustered
    from indexer.catalog.vector_store import VectorStore

    store = VectorStore(path, readonly=False)
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        store.write(np.arange(start + 1, start + count + 1), clustered(count, 1, start))
    store.flush()
    store.close()


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: getrusage's maxrss would carry the parent's over fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(mode: str, store: Path, n: int, shards: int, kind: str) -> dict[str, object]:
    """One build in this process: seconds training, seconds adding (and merging), peak RSS, the index's hash."""
    import faiss

    from indexer import ann, shard_build

    shape = ann.AnnShape(kind, ann.target_nlist(n), n)
    trained = {"seconds": 0.0}
    train = ann.train

    def timed_train(*args: object, **kwargs: object) -> faiss.Index:
        started = time.perf_counter()
        index = train(*args, **kwargs)  # type: ignore[arg-type]
        trained["seconds"] += time.perf_counter() - started
        return index

    ann.train = timed_train  # type: ignore[assignment]
    ids = np.arange(1, n + 1, dtype=np.int64)
    source = shard_build.StoreSource(str(store), DIM)
    ray_start = 0.0
    if mode == "ray":
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - started
    before = peak_rss_mb()  # after imports (and ray.init)
    started = time.perf_counter()
    if mode == "single":
        from indexer.catalog.vector_store import VectorStore

        vectors = VectorStore(store, readonly=True)
        index = ann.build_from(shape, DIM, ids, lambda rows: vectors.read(ids[rows], DIM))
    else:
        executor = shard_build.RayExecutor() if mode == "ray" else shard_build.LocalExecutor(2)
        index = shard_build.build(shape, DIM, ids, source, shards, executor)
    total = time.perf_counter() - started
    digest = hashlib.sha256(faiss.serialize_index(index).tobytes()).hexdigest()
    if mode == "ray":
        import ray

        ray.shutdown()
    return {
        "mode": mode,
        "nlist": shape.nlist,
        "train_s": trained["seconds"],
        "add_s": total - trained["seconds"],
        "total_s": total,
        "ray_start_s": ray_start,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "sha256": digest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--kind", choices=["ivf", "ivfpq"], default="ivf")
    parser.add_argument("--modes", default="single,local,ray")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.store, args.items, args.shards, args.kind)))
        return
    with tempfile.TemporaryDirectory(prefix="xmodal-shard-bench-") as folder:
        store = Path(folder) / "media.vec"
        started = time.perf_counter()
        write_store(store, args.items)
        print(f"{args.items:,} vectors of {DIM} dims written in {time.perf_counter() - started:.0f} s", flush=True)
        rows = []
        for mode in args.modes.split(","):
            command = [sys.executable, "-m", "bench.shard_build", "--child", mode, "--store", str(store),
                       "--items", str(args.items), "--shards", str(args.shards), "--kind", args.kind]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  {mode}: {rows[-1]['total_s']:.1f} s", flush=True)
    reference = rows[0]["sha256"]
    print(f"\n{args.kind}, {args.items:,} vectors, {rows[0]['nlist']} lists, {args.shards} shards, 2 CPUs")
    print(f"{'mode':<8} {'train s':>8} {'add+merge s':>12} {'total s':>8} {'RSS before MB':>14} {'peak RSS MB':>12}"
          "  same index")  # fmt: skip
    for row in rows:
        extra = f" (ray.init {row['ray_start_s']:.1f} s, not counted)" if row["mode"] == "ray" else ""
        print(f"{row['mode']:<8} {row['train_s']:>8.1f} {row['add_s']:>12.1f} {row['total_s']:>8.1f} "
              f"{row['rss_before_mb']:>14.0f} {row['peak_rss_mb']:>12.0f}  {row['sha256'] == reference}{extra}")  # fmt: skip


if __name__ == "__main__":
    main()
