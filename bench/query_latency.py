"""Query latency through the real search path (ANN → catalog delta → exact rescoring → hits).

    python bench/query_latency.py [--sizes 10000,100000] [--queries 300]

Libraries are built from synthetic clustered unit vectors of CLIP's size (512): 100k real
embeddings cannot be made here (no pretrained weights, 500 real photos). Query encoding is timed
separately with ViT-B-32 (random weights: the same compute as pretrained ones).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import open_clip

from bench._results import machine, percentile, write_section
from core.options import Paging
from core.settings import load_settings
from indexer.catalog import MediaRecord
from indexer.encoder import Encoder
from indexer.library import Library
from indexer.model_spec import resolve
from searcher.engine import Searcher
from searcher.query import Query
from training.random_weights import write_random_checkpoint

DIM = 512


def clustered(n: int, seed: int, topics: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(7).standard_normal((topics, DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, topics, n)] / np.sqrt(DIM) + 0.035 * rng.standard_normal((n, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def build_library(path: Path, n: int) -> np.ndarray:
    vectors = clustered(n, seed=1)
    with Library.open_writer(path, "bench") as library:
        library.catalog.set_meta("dim", str(DIM))
        for start in range(0, n, 2000):
            chunk = range(start, min(n, start + 2000))
            records = [MediaRecord(f"/bench/{i:07d}.jpg", 1, 1, f"h{i}", "ok", None, "JPEG", 640, 480) for i in chunk]
            library.catalog.write_media(records, list(vectors[start : start + len(records)]))
    return vectors


def index_as(path: Path, threshold: int) -> str:
    with Library.open_writer(path, "bench") as library:
        vector_index = library.vector_index("media")
        vector_index.update(threshold)
        shape = vector_index.shape
    return "flat" if shape.kind == "flat" else f"IVF nlist={shape.nlist}"


def measure(path: Path, vectors: np.ndarray, queries: np.ndarray, k: int, nprobe: int) -> tuple[float, float, float]:
    settings = load_settings(library=path, nprobe=nprobe)
    with Library.open_reader(path) as library:
        searcher = Searcher(library, settings)
        page = Paging(k=k)
        searcher.ask(Query(vector=queries[0]), "media", page)  # load the index
        latencies, recalls = [], []
        for query in queries:
            started = time.perf_counter()
            hits = searcher.ask(Query(vector=query), "media", page)
            latencies.append((time.perf_counter() - started) * 1000)
            exact = set((np.argsort(-(vectors @ query))[:k] + 1).tolist())  # catalog ids start at 1
            recalls.append(len(exact & {hit.id for hit in hits}) / k)
    return percentile(latencies, 50), percentile(latencies, 95), float(np.mean(recalls))


def encode_latency(queries: int) -> tuple[float, float, float, float]:
    config = Path(open_clip.__file__).parent / "model_configs" / "ViT-B-32.json"
    weights = Path(tempfile.gettempdir()) / "xmodal-bench-weights" / "ViT-B-32-random.pt"
    if not weights.exists():
        write_random_checkpoint(config, weights)
    encoder = Encoder(resolve(str(config), str(weights)), "auto")
    from PIL import Image

    image = Image.new("RGB", (640, 480), (120, 80, 40))
    text_ms, image_ms = [], []
    for i in range(min(queries, 50) + 2):
        started = time.perf_counter()
        encoder.encode_texts([f"a photo of a dog on the beach number {i}"])
        text_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        encoder.encode_images([image])
        image_ms.append((time.perf_counter() - started) * 1000)
    text_ms, image_ms = text_ms[2:], image_ms[2:]
    return percentile(text_ms, 50), percentile(text_ms, 95), percentile(image_ms, 50), percentile(image_ms, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--nprobe", type=int, default=load_settings().nprobe)
    args = parser.parse_args()
    rows = []
    for n in (int(size) for size in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "lib"
            started = time.perf_counter()
            vectors = build_library(path, n)
            print(f"built {n:,} items in {time.perf_counter() - started:.1f}s", flush=True)
            queries = clustered(args.queries, seed=2)
            for threshold in (n + 1, 1):
                kind = index_as(path, threshold)
                p50, p95, recall = measure(path, vectors, queries, args.k, args.nprobe)
                rows.append(f"| {n:,} | {kind} | {p50:.2f} | {p95:.2f} | {recall:.3f} |")
                print(rows[-1], flush=True)
    t50, t95, i50, i95 = encode_latency(args.queries)
    body = f"""## query_latency

`python bench/query_latency.py` — {args.queries} queries, k={args.k}, nprobe={args.nprobe}, rescore factor
{load_settings().rescore_factor}; synthetic clustered 512-d unit vectors. Machine: {machine()}.

Search stage (ANN + catalog delta + exact rescoring from stored vectors + hit metadata), milliseconds:

| items | index | p50 ms | p95 ms | recall@10 vs exact |
|---|---|---|---|---|
{chr(10).join(rows)}

Query encoding with ViT-B-32 on this machine: text p50 {t50:.1f} ms / p95 {t95:.1f} ms; image p50 {i50:.1f} ms /
p95 {i95:.1f} ms. A text or image query costs encode + search."""
    write_section("query_latency", body)


if __name__ == "__main__":
    main()
