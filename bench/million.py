"""A library of a million items on one machine: memory, query time, recall, disk, updates and build time.

    python -m bench.million [--items 1000000] [--queries 300] [--write]

Built through the project's own code path (catalog writes, the vector store, VectorIndex.update with the
settings' policy) from synthetic clustered 512-d unit vectors: a million real embeddings cannot be made here. The
queries are other draws of the same clusters; recall@10 is against exact search over every vector. Each figure
comes from its own process where memory matters (the searcher's RSS is measured in a child that imports no
model). Nothing else should run meanwhile; `--load` repeats the query timing with both cores kept busy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._results import machine, percentile, write_section
from bench.video_index import Busy
from training.search_tuning import exact_top

DIM = 512
CHUNK = 20_000
TOPICS = 2_000


def clustered(n: int, seed: int, start: int = 0) -> np.ndarray:
    """Rows start..start+n of a fixed clustered set (the same rows whatever the chunking)."""
    centers = np.random.default_rng(7).standard_normal((TOPICS, DIM)).astype(np.float32) / np.sqrt(DIM)
    rng = np.random.default_rng([seed, start])
    vectors = centers[rng.integers(0, TOPICS, n)] + 0.035 * rng.standard_normal((n, DIM)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def build_catalog(path: Path, n: int) -> float:
    from indexer.catalog import MediaRecord
    from indexer.library import Library

    started = time.perf_counter()
    from core.settings import load_settings

    with Library.open_writer(path, "bench") as library:
        library.catalog.set_meta("dim", str(DIM))
        library.catalog.prefer_precision(load_settings().vector_precision)
        for start in range(0, n, CHUNK):
            count = min(CHUNK, n - start)
            records = [
                MediaRecord(f"/photos/{i // 1000:04d}/IMG_{i:07d}.jpg", 1, 1, f"h{i}", "ok", None, "JPEG", 640, 480)
                for i in range(start, start + count)
            ]
            library.catalog.write_media(records, list(clustered(count, 1, start)))
            if start and start % 200_000 == 0:
                print(f"  catalog: {start:,} items, {time.perf_counter() - started:.0f} s", flush=True)
    return time.perf_counter() - started


CHILD = r"""
import json, os, sys, time, numpy as np
from core.settings import load_settings
from core.options import Paging
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"): return int(line.split()[1]) * 1024
path, queries_file, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
queries = np.load(queries_file)
settings = load_settings(library=path)
out = {"rss_start": rss()}
with Library.open_reader(__import__("pathlib").Path(path)) as library:
    searcher = Searcher(library, settings)
    started = time.perf_counter()
    searcher.ask(Query(vector=queries[0]), "media", Paging(k=k))
    out["first_query_ms"] = (time.perf_counter() - started) * 1000
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        hits = searcher.ask(Query(vector=query), "media", Paging(k=k))
        times.append((time.perf_counter() - started) * 1000)
        found.append([hit.id for hit in hits])
    out["times"], out["found"], out["rss"] = times, found, rss()
    from searcher.stages.lexical import Words, lexical_matches
    words = []
    for query in (("img",), ("0000421",), ("img", "0000421"), ("zebra",)):
        lexical_matches(library.catalog, Words(query, ()), 200)
        started = time.perf_counter()
        for _ in range(5):
            lexical_matches(library.catalog, Words(query, ()), 200)
        words.append((time.perf_counter() - started) * 1000 / 5)
    out["word_ms"] = words
print(json.dumps(out))
"""


def searcher_run(path: Path, queries: np.ndarray, k: int) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=".npy", delete=False) as handle:
        np.save(handle, queries)
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), handle.name, str(k)], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).parent.parent)  # fmt: skip
    os.unlink(handle.name)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only), so that the first run measures reads from the disk."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def disk(path: Path) -> dict[str, int]:
    def size(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0

    catalog = sum(p.stat().st_size for p in path.glob("catalog.sqlite*"))
    return {"catalog": catalog, "vectors": size(path / "vectors"), "index": size(path / "index")}


def float16_copy(path: Path, copy: Path) -> None:
    """The same library with its vectors stored as float16 (the index files and catalog copied as they are)."""
    from indexer.catalog.vector_store import VectorStore

    shutil.copytree(path, copy, ignore=shutil.ignore_patterns("media.vec", "writer.lock"))
    source = VectorStore(path / "vectors" / "media.vec", readonly=True)
    target = VectorStore(copy / "vectors" / "media.vec", readonly=False, value_bytes=2)
    rows = (path / "vectors" / "media.vec").stat().st_size
    total = (rows - 4096) // (DIM * 4)
    for start in range(1, total, 100_000):
        ids = np.arange(start, min(total, start + 100_000))
        target.write(ids, source.read(ids, DIM))
    target.flush()
    source.close()
    target.close()


def one_new_item(path: Path, n: int) -> tuple[float, float, float]:
    """Seconds: a one-item batch written and checkpointed by a writer; a reader open all along finding it."""
    from core.options import Paging
    from core.settings import load_settings
    from indexer.catalog import MediaRecord
    from indexer.library import Library
    from indexer.vector_index import IndexPolicy
    from searcher.engine import Searcher
    from searcher.query import Query

    settings = load_settings(library=path)
    vector = clustered(1, 99, 0)[0]
    with Library.open_reader(path) as reader:
        searcher = Searcher(reader, settings)
        searcher.ask(Query(vector=vector), "media", Paging(k=1))  # loaded
        started = time.perf_counter()
        with Library.open_writer(path, "bench") as library:
            opened = time.perf_counter() - started
            library.catalog.write_media([MediaRecord("/photos/new.jpg", 1, 1, "new", "ok")], [vector])
            library.vector_index("media").update(IndexPolicy.of(settings))
        written = time.perf_counter() - started
        while True:
            hits = searcher.ask(Query(vector=vector), "media", Paging(k=1))
            if hits and hits[0].path == "/photos/new.jpg":
                break
        found = time.perf_counter() - started
    return opened, written, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--library", type=Path, help="build here and keep it (default: a temporary folder)")
    parser.add_argument("--load", action="store_true", help="time the queries again with both cores busy")
    parser.add_argument("--float16", action="store_true", help="also search a float16 copy of the vector files")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from core.settings import load_settings
    from indexer.library import Library
    from indexer.vector_index import IndexPolicy

    with tempfile.TemporaryDirectory() as tmp:
        path = args.library or Path(tmp) / "library"
        n = args.items
        settings = load_settings(library=path)
        built = path / "bench-build.json"  # a kept library is measured again without building it again
        if built.exists():
            catalog_s, build_s, build_peak = json.loads(built.read_text())
            with Library.open_reader(path) as library:
                shape = library.vector_index("media").shape
        else:
            catalog_s = build_catalog(path, n)
            print(f"catalog: {n:,} items in {catalog_s:.0f} s", flush=True)
            started = time.perf_counter()
            with Library.open_writer(path, "bench") as library:
                vector_index = library.vector_index("media")
                vector_index.update(IndexPolicy.of(settings))
                shape = vector_index.shape
            build_s = time.perf_counter() - started
            build_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            built.write_text(json.dumps([catalog_s, build_s, build_peak]))
        print(f"index: {shape} in {build_s:.0f} s (peak RSS of the process {build_peak / 2**30:.2f} GiB)", flush=True)
        queries = clustered(args.queries, 2, 0)
        cold_note = "page cache dropped" if drop_page_cache() else "page cache as found"
        cold = searcher_run(path, queries, args.k)  # re-ranking reads vectors from the disk
        cold_times: list[float] = cold["times"]  # type: ignore[assignment]
        run = searcher_run(path, queries, args.k)
        with Library.open_reader(path) as library:
            truth = exact_top(library, queries, args.k)
        found = run["found"]
        assert isinstance(found, list)
        recall = float(np.mean([len(t & set(f)) / args.k for t, f in zip(truth, found, strict=True)]))
        times = run["times"]
        assert isinstance(times, list)
        loaded_times: list[float] = []
        if args.load:
            with Busy(True):
                loaded = searcher_run(path, queries, args.k)
            loaded_times = loaded["times"]  # type: ignore[assignment]
        sizes = disk(path)
        half = ""
        if args.float16:
            copy = Path(tmp) / "float16"
            float16_copy(path, copy)
            halved = searcher_run(copy, queries, args.k)
            found16 = halved["found"]
            assert isinstance(found16, list)
            recall16 = float(np.mean([len(t & set(f)) / args.k for t, f in zip(truth, found16, strict=True)]))
            times16: list[float] = halved["times"]  # type: ignore[assignment]
            half = (
                f"| the same with float16 vector files: recall@{args.k} / p50 / vector files | {recall16:.3f} / "
                f"{percentile(times16, 50):.2f} ms / {disk(copy)['vectors'] / 2**30:.2f} GiB |"
            )
            shutil.rmtree(copy, ignore_errors=True)
        opened, written, seen = one_new_item(path, n)
        lines = [
            f"| items | {n:,} |",
            f"| index | {shape.kind}, nlist {shape.nlist}{f', PQ {shape.pq_m or DIM // 8} bytes' if shape.kind == 'ivfpq' else ''} |",
            f"| catalog written (rows + vector store) | {catalog_s:.0f} s |",
            f"| index build (train + add), peak RSS of the process | {build_s:.0f} s, {build_peak / 2**30:.2f} GiB |",
            f"| searcher RSS, no model: opened / after {len(queries)} queries | {run['rss_start'] / 2**20:.0f} MB / {run['rss'] / 2**20:.0f} MB |",  # type: ignore[operator]
            f"| search stage, cold ({cold_note}): p50 / p95 | {percentile(cold_times, 50):.2f} / {percentile(cold_times, 95):.2f} ms |",
            f"| search stage, vector query (quiet): p50 / p95 | {percentile(times, 50):.2f} / {percentile(times, 95):.2f} ms |",
            f"| the same, both cores busy | {f'{percentile(loaded_times, 50):.2f} / {percentile(loaded_times, 95):.2f} ms' if loaded_times else '–'} |",
            f"| first query of a fresh process | {run['first_query_ms']:.0f} ms |",
            f"| recall@{args.k} vs exact | {recall:.3f} |",
            f"| word-match stage: 'img' (in every name) / '0000421' (in one) / both / 'zebra' (in none) | {' / '.join(f'{ms:.1f}' for ms in run['word_ms'])} ms |",  # type: ignore[attr-defined]
            f"| disk: catalog / vectors / index | {sizes['catalog'] / 2**30:.2f} / {sizes['vectors'] / 2**30:.2f} / {sizes['index'] / 2**30:.2f} GiB (total {sum(sizes.values()) / 2**30:.2f}) |",
            *([half] if half else []),
            f"| one new item: writer opened / written + checkpoint / a reader finds it | {opened:.2f} / {written:.2f} / {seen:.2f} s |",
        ]  # fmt: skip
        body = f"""## million

`python -m bench.million --items {n} --queries {args.queries}{" --load" if args.load else ""}` — {machine()}

Synthetic clustered 512-d unit vectors ({TOPICS} clusters) written through the catalog, index built by
`VectorIndex.update` with the default settings (`compress_threshold` {settings.compress_threshold:,},
`delta_limit` {settings.delta_limit:,}, nprobe {settings.nprobe}, rescore factor {settings.rescore_factor}).
Queries are vectors (the search stage without encoding), k={args.k}.

| measure | value |
|---|---|
{chr(10).join(lines)}"""
        if args.write:
            write_section(f"million_{n}", body)
        else:
            print(body)


if __name__ == "__main__":
    main()
