"""How fast a text query is answered, through torch (the reference path) and through the library's ONNX export,
side by side in one run: a cold `xmodal search` (a new process, as a person at a shell runs it), and queries in
a long-lived process (encode + search + hits), on a quiet machine and with both cores kept busy by other
processes.

    python -m bench.query_speed [--items 100000] [--cold 7] [--queries 200]

The 100k-item library has ViT-B-32's architecture with random weights (the same compute as pretrained ones;
no pretrained weights can be downloaded here): the 30 sample pictures are really encoded, the other items
are synthetic clustered 512-d unit vectors, enough for the IVF index and the search stage to cost what they
cost at that size. The demo library is the 30 sample pictures with the shipped demo model.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench._results import machine, percentile, write_section
from core.options import Paging
from core.settings import Runtime, load_settings
from indexer.catalog import MediaRecord
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples" / "images"
DIM = 512
NOUNS = ["dog", "beach", "red circle", "mountain", "child", "bicycle", "kitchen", "sunset", "cat", "street"]


def vit_b32_weights() -> Path:
    """ViT-B-32 with seeded random weights, made once per machine (about 600 MB)."""
    import open_clip

    from training.random_weights import write_random_checkpoint

    weights = Path(tempfile.gettempdir()) / "xmodal-bench-weights" / "ViT-B-32-random.pt"
    if not weights.exists():
        weights.parent.mkdir(parents=True, exist_ok=True)
        write_random_checkpoint(Path(open_clip.__file__).parent / "model_configs" / "ViT-B-32.json", weights)
    return weights


def clustered(n: int, seed: int, topics: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(7).standard_normal((topics, DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, topics, n)] / np.sqrt(DIM) + 0.035 * rng.standard_normal((n, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def build_vit_library(path: Path, items: int) -> None:
    """The sample pictures encoded by ViT-B-32 (the writer exports its ONNX towers), then synthetic items."""
    from indexer.ingest import index_paths

    settings = load_settings(library=path, model="ViT-B-32", pretrained=str(vit_b32_weights()), quiet=True)
    with Library.open_writer(path, "bench") as library:
        index_paths(library, library.writer_encoder(settings), [SAMPLES], settings, quiet=True)
        vectors = clustered(items, seed=1)
        for start in range(0, items, 5000):
            chunk = range(start, min(items, start + 5000))
            records = [MediaRecord(f"/bench/{i:07d}.jpg", 1, 1, f"h{i}", "ok", None, "JPEG", 640, 480) for i in chunk]
            library.catalog.write_media(records, list(vectors[start : start + len(records)]))
        library.vector_index("media").update(settings.ivf_threshold)


def build_demo_library(path: Path) -> None:
    from indexer.ingest import index_paths

    settings = load_settings(library=path, model="demo", quiet=True)
    with Library.open_writer(path, "bench") as library:
        index_paths(library, library.writer_encoder(settings), [SAMPLES], settings, quiet=True)


# -- cold: a new process per query ----------------------------------------------------------------


def xmodal_command() -> list[str]:
    script = Path(sys.executable).with_name("xmodal")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def cold_search(library: Path, text: str, runtime: Runtime) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `xmodal search` process. The peak comes from GNU time where it is
    installed (a child's own rusage would count this benchmark's memory: Linux carries the high-water mark of
    the parent across fork and exec), else it is reported as 0."""
    command = [*xmodal_command(), "search", text, "--library", str(library), "-k", "10", "--runtime", runtime]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as peak:
        timed = (
            ["/usr/bin/time", "-q", "-f", "%M", "-o", peak.name, *command]
            if Path("/usr/bin/time").exists()
            else command
        )
        started = time.perf_counter()
        done = subprocess.run(timed, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr}")
        kilobytes = peak.read().strip()
    return wall, (int(kilobytes) / 1024 if kilobytes.isdigit() else 0.0)


def cold_rows(name: str, library: Path, repeats: int) -> list[str]:
    cold_search(library, "warm the page cache", "auto")  # a first run reads the files from disk: not measured
    cold_search(library, "warm the page cache", "torch")
    walls: dict[str, list[float]] = {"torch": [], "auto": []}
    peaks: dict[str, list[float]] = {"torch": [], "auto": []}
    for i in range(repeats):
        for runtime in ("torch", "auto"):  # alternated: both see the same machine
            wall, peak = cold_search(library, f"a photo of a {NOUNS[i % len(NOUNS)]}", runtime)  # type: ignore[arg-type]
            walls[runtime].append(wall)
            peaks[runtime].append(peak)
    rows = []
    for runtime, label in (("torch", "torch (before)"), ("auto", "ONNX (default now)")):
        rows.append(
            f"| {name} | {label} | **{statistics.median(walls[runtime]):.2f}** | {min(walls[runtime]):.2f}–"
            f"{max(walls[runtime]):.2f} | {max(peaks[runtime]):.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


# -- warm: queries in one process --------------------------------------------------------------


@contextlib.contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """Other processes keeping `count` cores busy, as on a shared machine."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def warm_latencies(library: Path, runtime: Runtime, queries: int) -> list[float]:
    """In a fresh process with the environment `xmodal search`/`serve` give themselves (OpenMP threads that
    sleep when idle): the torch figure is the torch fallback as it runs now, not this benchmark's torch."""
    environment = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    command = [sys.executable, "-m", "bench.query_speed", "--one", str(library), runtime, str(queries)]
    done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, check=True)
    return [float(value) for value in done.stdout.split()]


def one_process(library: Path, runtime: Runtime, queries: int) -> list[float]:
    """Milliseconds per text query (encode + search + hits), each query new (no cached vector)."""
    settings = load_settings(library=library, runtime=runtime)
    with Library.open_reader(library) as lib:
        searcher = Searcher(lib, settings)
        try:
            searcher.warm()
            for i in range(5):
                searcher.ask(Query(f"warm up {i}"), "media", Paging(k=10))
            took = []
            for i in range(queries):
                text = f"a photo of a {NOUNS[i % len(NOUNS)]} number {i}"
                started = time.perf_counter()
                searcher.ask(Query(text), "media", Paging(k=10))
                took.append((time.perf_counter() - started) * 1000)
            return took
        finally:
            searcher.close()


def warm_rows(library: Path, queries: int) -> list[str]:
    runtimes: list[tuple[Runtime, str]] = [("torch", "torch"), ("onnx", "ONNX fp32"), ("onnx-int8", "ONNX int8 text")]
    quiet = {runtime: warm_latencies(library, runtime, queries) for runtime, _ in runtimes}
    with busy_cores(2):
        loaded = {runtime: warm_latencies(library, runtime, queries) for runtime, _ in runtimes}
    rows = []
    for runtime, label in runtimes:
        q50, l50 = percentile(quiet[runtime], 50), percentile(loaded[runtime], 50)
        rows.append(
            f"| {label} | **{q50:.1f}** | {percentile(quiet[runtime], 95):.1f} | **{l50:.1f}** | "
            f"{percentile(loaded[runtime], 95):.1f} | {l50 / q50:.1f}× |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--cold", type=int, default=7, help="cold searches per runtime and library")
    parser.add_argument("--queries", type=int, default=200, help="in-process queries per runtime and condition")
    parser.add_argument("--one", nargs=3, metavar=("LIBRARY", "RUNTIME", "QUERIES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(" ".join(f"{ms:.3f}" for ms in one_process(Path(args.one[0]), args.one[1], int(args.one[2]))))
        return
    with tempfile.TemporaryDirectory(prefix="xmodal-speed-") as scratch:
        demo, vit = Path(scratch) / "demo", Path(scratch) / "vit"
        started = time.perf_counter()
        build_demo_library(demo)
        build_vit_library(vit, args.items)
        print(f"built the libraries in {time.perf_counter() - started:.0f} s", flush=True)
        cold = cold_rows("demo, 30 pictures", demo, args.cold)
        cold += cold_rows(f"ViT-B-32, {args.items:,} items", vit, args.cold)
        warm = warm_rows(vit, args.queries)
    body = f"""## query_speed

`python -m bench.query_speed --items {args.items} --cold {args.cold} --queries {args.queries}` — torch (the path
before) and the library's ONNX export (the default now), side by side in one run. Machine: {machine()}.

Cold `xmodal search "…" --library L -k 10`, a new process each time (after one unmeasured run of each, so that
both read the files from the page cache), {args.cold} runs each, alternated:

| library | query path | median s | range s | peak RSS MB |
|---|---|---|---|---|
{chr(10).join(cold)}

In one process (`Searcher.ask`: encode + IVF search + hits), ViT-B-32, {args.items:,} items, {args.queries}
new text queries each; "under load": two other processes keep both cores busy:

| text encoder | quiet p50 ms | quiet p95 ms | under load p50 ms | under load p95 ms | load / quiet (p50) |
|---|---|---|---|---|---|
{chr(10).join(warm)}"""
    write_section("query_speed", body)


if __name__ == "__main__":
    main()
