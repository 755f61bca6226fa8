"""Text queries/s and latency with and without core.batching, with the shipped demo model's text tower.

    OMP_NUM_THREADS=1 python -m bench.batcher_probe [--clients 1,8] [--per-client 50] [--rounds 3]

Each client thread encodes its own distinct short captions one at a time, as request threads in the
server would: directly (the text tower's lock lets one encode run at a time), or through a Batcher.
Modes run in turn, round after round, so load from elsewhere on a shared machine hits them alike.
Prints only; writes nothing.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import threading
import time
from collections.abc import Callable

import numpy as np

from bench._results import machine, percentile
from core.batching import Batcher
from indexer.encoder import Encoder
from indexer.model_spec import resolve

COUNTS = ("one", "two", "three", "four", "five")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "black", "white")
SHAPES = ("circle", "square", "triangle", "star", "ring")
GROUNDS = ("on sand", "on grass")


def captions(clients: int, per_client: int) -> list[list[str]]:
    """Distinct captions, a different list per client (no two queries alike, so dedupe cannot help)."""
    every = [
        f"{n} {colour} {shape}s {ground}"
        for n, colour, shape, ground in itertools.product(COUNTS, COLOURS, SHAPES, GROUNDS)
    ]
    assert clients * per_client <= len(every), f"only {len(every)} distinct captions"
    return [every[i * per_client : (i + 1) * per_client] for i in range(clients)]


def drive(encode: Callable[[str], np.ndarray], work: list[list[str]]) -> tuple[float, list[float]]:
    """Queries per second over all clients together, and every query's latency in seconds."""
    latencies: list[list[float]] = [[] for _ in work]
    start = threading.Barrier(len(work) + 1)

    def client(i: int) -> None:
        start.wait()
        for text in work[i]:
            began = time.perf_counter()
            vector = encode(text)
            latencies[i].append(time.perf_counter() - began)
            assert vector.shape[-1] > 0

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = [latency for per_client in latencies for latency in per_client]
    return len(every) / elapsed, every


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,8", help="client thread counts, comma-separated")
    parser.add_argument("--per-client", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", default="0,1", help="the batcher's max_wait values to try, comma-separated")
    args = parser.parse_args()

    encoder = Encoder(resolve("demo", None), "cpu")
    encoder.encode_texts(["warm up"] * 8)
    for work in captions(8, args.per_client):  # the tokenizer's word cache is warm for every mode
        encoder.encode_texts(work)
    print(machine())

    batched = {f"batcher max_wait={ms}ms": float(ms) / 1000 for ms in args.max_wait_ms.split(",")}
    for clients in (int(c) for c in args.clients.split(",")):
        work = captions(clients, args.per_client)
        rates: dict[str, list[float]] = {}
        latencies: dict[str, list[float]] = {}
        sizes: dict[str, tuple[int, int, int]] = {}
        for _ in range(args.rounds):
            rate, times = drive(lambda text: encoder.encode_texts([text])[0], work)
            rates.setdefault("direct", []).append(rate)
            latencies.setdefault("direct", []).extend(times)
            for mode, max_wait in batched.items():
                batcher: Batcher[str, np.ndarray] = Batcher(
                    lambda texts: list(encoder.encode_texts(texts)), max_batch=args.max_batch, max_wait=max_wait
                )
                rate, times = drive(batcher.submit, work)
                rates.setdefault(mode, []).append(rate)
                latencies.setdefault(mode, []).extend(times)
                stats = batcher.stats()
                batches, items, largest = sizes.get(mode, (0, 0, 0))
                sizes[mode] = (batches + stats.batches, items + stats.items, max(largest, stats.largest))

        print(
            f"\n{clients} client(s) x {args.per_client} distinct captions, {args.rounds} rounds (median rate; latency over all rounds)"
        )
        print(f"{'mode':<26}{'queries/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'mean batch':>12}{'largest':>9}")
        for mode in rates:
            batches, items, largest = sizes.get(mode, (1, 1, 1))
            print(
                f"{mode:<26}{statistics.median(rates[mode]):>10.0f}"
                f"{percentile(latencies[mode], 50) * 1000:>9.2f}{percentile(latencies[mode], 95) * 1000:>9.2f}"
                f"{items / batches:>12.2f}{largest:>9}"
            )


if __name__ == "__main__":
    main()
