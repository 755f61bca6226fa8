"""ANN recall for text queries on real-ish embeddings: the demo model on tens of thousands of generated scenes.

    python -m bench.text_recall [--scenes 50000] [--queries 300] [--write]

Synthetic clustered vectors are easy for an IVF index (recall 1.000); real CLIP text queries are not: they lie
apart from the pictures' distribution and need more lists probed than image queries (clip-retrieval #76,
OOD-DiskANN). Here the demo model (trained by the project) embeds generated scenes, its text tower embeds
held-out captions of other scenes, and the search stage (ANN + the delta + re-ranking, no later stages) is
compared with exact search at several nprobe, for IVF-Flat and for IVF-PQ with re-ranking from the vector store.
Image queries (other scenes' pictures) are shown beside them.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._results import machine, write_section

NPROBES = (1, 2, 4, 8, 16, 32, 64)
FACTORS = (4, 10, 25, 50)  # candidates per wanted hit re-ranked from the vector store (IVF-PQ)


def scenes_and_queries(count: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Picture vectors of `count` scenes; text and picture vectors of `queries` other scenes."""
    from core.settings import load_settings
    from data.scenes import HELDOUT_TEMPLATES, random_scene, render
    from indexer.encoder import Encoder
    from indexer.model_spec import resolve

    settings = load_settings(model="demo")
    encoder = Encoder(resolve(settings.model, settings.pretrained), "cpu").load()
    rng = random.Random(seed)
    parts = []
    started = time.perf_counter()
    for start in range(0, count, 1024):
        images = [render(random_scene(rng), rng) for _ in range(min(1024, count - start))]
        parts.append(encoder.encode_images(images))
        if start and start % 10_240 == 0:
            print(f"  {start:,} scenes, {time.perf_counter() - started:.0f} s", flush=True)
    pictures = np.concatenate(parts)
    asked = [random_scene(rng) for _ in range(queries)]
    captions = [rng.choice(scene.captions(HELDOUT_TEMPLATES)) for scene in asked]
    texts = encoder.encode_texts(captions)
    others = encoder.encode_images([render(scene, rng) for scene in asked])
    return pictures, texts, others


def library_of(path: Path, vectors: np.ndarray) -> None:
    from indexer.catalog import MediaRecord
    from indexer.library import Library

    with Library.open_writer(path, "bench") as library:
        library.catalog.set_meta("dim", str(vectors.shape[1]))
        for start in range(0, len(vectors), 10_000):
            chunk = vectors[start : start + 10_000]
            records = [
                MediaRecord(f"/scenes/{start + i:06d}.png", 1, 1, f"h{start + i}", "ok") for i in range(len(chunk))
            ]
            library.catalog.write_media(records, list(chunk))


def recalls(path: Path, queries: np.ndarray, truth: list[set[int]], k: int, factor: int) -> dict[int, float]:
    from indexer.library import Library
    from searcher.retrieval import VectorRetrieval

    out = {}
    with Library.open_reader(path) as library:
        for nprobe in NPROBES:
            retrieval = VectorRetrieval(library, nprobe, factor, rerank_candidates=1)  # the factor alone
            found = [set(retrieval.nearest(query, "media", k).ids.tolist()) for query in queries]
            out[nprobe] = float(np.mean([len(f & t) / k for f, t in zip(found, truth, strict=True)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--cache", type=Path, help="keep the embeddings in this .npz and reuse them")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from core.settings import load_settings
    from indexer.library import Library
    from indexer.vector_index import IndexPolicy

    started = time.perf_counter()
    if args.cache is not None and args.cache.exists():
        kept = np.load(args.cache)
        pictures, texts, images, made = kept["pictures"], kept["texts"], kept["images"], float(kept["made"])
    else:
        pictures, texts, images = scenes_and_queries(args.scenes, args.queries, seed=15)
        made = time.perf_counter() - started
        if args.cache is not None:
            np.savez(args.cache, pictures=pictures, texts=texts, images=images, made=made)
    print(f"{args.scenes:,} scenes embedded in {made:.0f} s", flush=True)
    settings = load_settings()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "library"
        library_of(path, pictures)
        ids = np.arange(1, len(pictures) + 1)
        truth = {
            name: [set(ids[np.argsort(-(pictures @ q))[: args.k]].tolist()) for q in queries]
            for name, queries in (("text", texts), ("image", images))
        }
        for label, policy, factors in (
            ("IVF-Flat", IndexPolicy(settings.ivf_threshold), (settings.rescore_factor,)),
            ("IVF-PQ", IndexPolicy(settings.ivf_threshold, compress_threshold=10_000), FACTORS),
        ):
            with Library.open_writer(path, "bench") as library:
                vector_index = library.vector_index("media")
                vector_index.rebuild(policy)
                shape = vector_index.shape
            for factor in factors:
                for name, queries in (("text", texts), ("image", images)):
                    found = recalls(path, queries, truth[name], args.k, factor)
                    cells = " | ".join(f"{found[nprobe]:.3f}" for nprobe in NPROBES)
                    rows.append(f"| {label}, nlist {shape.nlist} | {factor * args.k} | {name} | {cells} |")
                    print(rows[-1], flush=True)
    header = " | ".join(f"nprobe {n}" for n in NPROBES)
    body = f"""## text_recall

`python -m bench.text_recall --scenes {args.scenes} --queries {args.queries}` — {machine()}

The demo model's picture vectors of {args.scenes:,} generated scenes (embedded in {made:.0f} s), searched with
{args.queries} held-out captions of other scenes (text) and with those scenes' pictures (image). Recall@{args.k} of
the search stage (ANN, delta, re-ranking from the vector store where the index holds codes) against exact search;
the candidates re-ranked per query are given in each row (k × a rescore factor; the shipped defaults are nprobe
{settings.nprobe}, and for IVF-PQ at least {settings.rerank_candidates} candidates, `rerank_candidates`: the rows with
250 show what they give, text recall@10 0.999 at nprobe 32).

| index | candidates re-ranked | queries | {header} |
|---|---|---|{"---|" * len(NPROBES)}
{chr(10).join(rows)}"""
    if args.write:
        write_section("text_recall", body)
    else:
        print(body)


if __name__ == "__main__":
    main()
