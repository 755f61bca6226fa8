"""Load test of `xmodal serve` on loopback: concurrent clients for a fixed time against a 100k library.

    python -m bench.serve_load [--items 100000] [--clients 1,4,16] [--seconds 20] [--workers 1]

The library has the demo model (so text queries are really encoded) and 100k items whose vectors
are synthetic (clustered, 128-d: 100k real embeddings cannot be made here) but whose files are
real: hard links to the Flickr dev photos (or generated scenes), so thumbnails are real work.
Clients run in this process (asyncio + httpx) and share the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import numpy as np

from bench._results import machine, percentile, write_section
from data.scenes import HELDOUT_TEMPLATES, generate, random_scene
from indexer.catalog import MediaRecord
from indexer.library import Library
from indexer.model_spec import resolve

REPO = Path(__file__).resolve().parent.parent
FLICKR = REPO.parent / "shared" / "data" / "flickr8k-dev"
DIM = 128
THUMBS_PER_PAGE = 30


def source_images(scratch: Path) -> list[Path]:
    photos = sorted((FLICKR / "images").glob("*.jpg")) if (FLICKR / "images").is_dir() else []
    if photos:
        return photos
    return [path for path, _, _ in generate(scratch / "scenes", 200, seed=9)]


def build_library(path: Path, n: int, sources: list[Path]) -> None:
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((1000, DIM)).astype(np.float32)
    files = path.parent / "files"
    files.mkdir()
    spec = resolve("demo", None)
    with Library.open_writer(path, "bench") as library:
        library.catalog.set_json("model", spec.to_json())
        library.catalog.set_meta("dim", str(DIM))
        for start in range(0, n, 5000):
            count = min(5000, n - start)
            vectors = centers[rng.integers(0, 1000, count)] + 0.6 * rng.standard_normal((count, DIM))
            vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
            records = []
            for i in range(start, start + count):
                source = sources[i % len(sources)]
                link = files / f"{i:07d}{source.suffix}"
                os.link(source, link)
                records.append(
                    MediaRecord(str(link), source.stat().st_size, 1, f"h{i:016d}", "ok", None, "JPEG", 500, 375)
                )
            library.catalog.write_media(records, list(vectors))
        library.vector_index("media").update(20_000)


def queries(count: int) -> list[str]:
    rng = random.Random(5)
    return [random_scene(rng).captions(HELDOUT_TEMPLATES)[0] + f" {rng.randint(0, 10**6)}" for _ in range(count)]


async def run_clients(
    clients: int, seconds: float, request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], url: str
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline:
            counter += 1
            started = time.perf_counter()
            try:
                response = await request(client, counter)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return len(latencies), latencies, errors


async def first_screen(url: str, texts: list[str]) -> list[float]:
    """What a person waits for: the search, then the first page's 30 thumbnails (cold), 6 at a time."""
    timings = []
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=6), timeout=60) as client:
        for text in texts:
            started = time.perf_counter()
            page = (await client.get("/api/search", params={"q": text, "k": THUMBS_PER_PAGE})).json()
            await asyncio.gather(*(client.get(f"{hit['thumbnail_url']}?size=256") for hit in page["hits"]))
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def start_server(library: Path, port: int, workers: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`xmodal serve` in a new process, once /readyz says the library is searchable; `env` adds XMODAL_* settings."""
    command = [sys.executable, "-m", "api.cli", "serve", "--library", str(library), "--port", str(port)]
    command += ["--workers", str(workers)]
    environment = {**os.environ, **(env or {})}
    process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not become ready in 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    texts = queries(20_000)
    with tempfile.TemporaryDirectory(prefix="xmodal-load-") as scratch:
        library = Path(scratch) / "library"
        started = time.perf_counter()
        build_library(library, args.items, source_images(Path(scratch)))
        print(f"built {args.items:,} items in {time.perf_counter() - started:.0f}s", flush=True)
        server = start_server(library, args.port, args.workers)
        url = f"http://127.0.0.1:{args.port}"
        try:
            screen = asyncio.run(first_screen(url, texts[-20:]))
            scenarios: dict[str, Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]] = {
                "text → images (new query each time)": lambda c, i: c.get(
                    "/api/search", params={"q": texts[i % len(texts)], "k": 30}
                ),
                "more like this (by id)": lambda c, i: c.get(f"/api/media/{1 + i * 7919 % args.items}/similar?k=30"),
                "text → images, next page (cached query)": lambda c, i: c.get(
                    "/api/search", params={"q": texts[i % 50], "k": 30, "offset": 30}
                ),
                "thumbnail (cached)": lambda c, i: c.get(f"/api/media/{1 + i % 200}/thumbnail?size=256"),
            }
            asyncio.run(run_clients(2, 3, scenarios["thumbnail (cached)"], url))  # fill the 200 cached thumbnails
            rows = []
            for name, request in scenarios.items():
                for clients in (int(c) for c in args.clients.split(",")):
                    count, latencies, errors = asyncio.run(run_clients(clients, args.seconds, request, url))
                    rows.append(
                        f"| {name} | {clients} | {count / args.seconds:.1f} | {percentile(latencies, 50):.1f} | "
                        f"{percentile(latencies, 95):.1f} | {percentile(latencies, 99):.1f} | {errors} |"
                    )
                    print(rows[-1], flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    body = f"""## serve_load

`python -m bench.serve_load --items {args.items} --clients {args.clients} --seconds {args.seconds:g} --workers {args.workers}`
— `xmodal serve` ({args.workers} worker) on loopback, {args.items:,} items (IVF index, demo model encoding each text
query; synthetic 128-d vectors, real JPEG files by hard link), clients in one asyncio process on the same machine.
Machine: {machine()}.

| request | clients | req/s | p50 ms | p95 ms | p99 ms | errors |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

First screen of the page (a new text query, then its {THUMBS_PER_PAGE} thumbnails cold, 6 connections like a
browser), {len(screen)} queries: p50 **{percentile(screen, 50):.0f} ms**, p95 {percentile(screen, 95):.0f} ms."""
    write_section("serve_load", body)


if __name__ == "__main__":
    main()
