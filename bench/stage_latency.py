"""What each ranking stage costs at 100k items: p50 milliseconds per stage, every stage on.

    python -m bench.stage_latency [--items 100000] [--queries 40]

The library is serve_load's (demo model encoding the queries, 100k synthetic clustered vectors,
real JPEG files by hard link so the reranker really decodes and encodes), plus a caption for every
third item so the lexical stage has real work. The reranker is the demo model itself over the top
100: the first pass is cold (every candidate decoded and embedded), the second pass reads the cache.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._results import machine, write_section
from bench.serve_load import build_library, queries, source_images
from core.options import Paging, Ranking
from core.settings import load_settings
from data.scenes import TRAIN_TEMPLATES, random_scene
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query

STAGES = ("encode", "vector", "lexical", "fusion", "rerank", "cutoff", "collapse", "mmr", "total")


def add_captions(library: Path, every: int) -> int:
    import random

    rng = random.Random(3)
    with Library.open_writer(library, "bench") as lib, lib.catalog.engine.begin() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM media ORDER BY id")][::every]
        conn.exec_driver_sql(
            "INSERT INTO text_sources(path, kind, size, mtime_ns) VALUES ('captions.csv', 'csv', 0, 0)"
        )
        rows = [("captions.csv", n, random_scene(rng).captions(TRAIN_TEMPLATES)[0], item) for n, item in enumerate(ids)]
        conn.exec_driver_sql("INSERT INTO texts(source, position, text, media_id) VALUES (?, ?, ?, ?)", rows)  # type: ignore[arg-type]
    return len(ids)


def measure(searcher: Searcher, texts: list[str], ranking: Ranking) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {stage: [] for stage in STAGES}
    page = Paging(k=30)
    fresh = f" {time.perf_counter_ns()}"  # new words each run: the encode is measured, not the query cache
    for text in texts:
        text += fresh
        started = time.perf_counter()
        searcher.queries.prepare(Query(text), ranking.templates if ranking.expand else ())
        encoded = time.perf_counter()
        ranked = searcher.rank(Query(text), "media", page, ranking=ranking)  # the words' vector is cached now
        found["encode"].append(encoded - started)
        for stage, seconds in ranked.seconds.items():
            if stage in found:
                found[stage].append(seconds)
        found["total"].append(time.perf_counter() - started)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    texts = queries(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        library = scratch / "library"
        started = time.perf_counter()
        build_library(library, args.items, source_images(scratch))
        captions = add_captions(library, 3)
        print(f"built {args.items} items, {captions} captions in {time.perf_counter() - started:.0f} s", flush=True)
        everything = Ranking(hybrid=True, cutoff=True, collapse=True, mmr=0.7, rerank_model="demo")
        settings = load_settings(library=library, quiet=True)
        with Library.open_reader(library) as lib:
            searcher = Searcher(lib, settings)
            searcher.warm()  # the model loads once, not in the numbers
            runs = {
                "vector only": measure(searcher, texts, Ranking(hybrid=False, cutoff=False)),
                "every stage, reranker cold": measure(searcher, texts, everything),
                "every stage, reranker warm": measure(searcher, texts, everything),
            }
    lines = []
    for name, found in runs.items():
        cells = [f"{1000 * float(np.median(found[stage])):.1f}" if found[stage] else "–" for stage in STAGES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    body = f"""## stage_latency

`python -m bench.stage_latency --items {args.items} --queries {args.queries}` — p50 milliseconds per ranking stage,
{args.items:,} items (IVF; synthetic vectors, real JPEG files), a caption on every third item, new text queries
(30 hits), everything in one process. Rerank: the demo model over the top 100 (cold: each candidate decoded and
embedded; warm: from the cache in `LIBRARY/rerank/`). Machine: {machine()}.

| run | {" | ".join(STAGES)} |
|---|{"---|" * len(STAGES)}
{chr(10).join(lines)}"""
    write_section("stage_latency", body)


if __name__ == "__main__":
    main()
