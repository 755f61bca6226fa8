"""Does the demo model know "a red circle" outside its own renderer? Colour+shape precision@5, English and Chinese.

    python -m bench.demo_generalisation [--model demo] [--compare NAME=MODEL_DIR ...] [--scenes 300]

Two worlds, each indexed into a real library with the model: `data/plain_shapes.py` (another program's pictures,
never trained on: other shapes' code, sizes, shades, backgrounds, half JPEG) and held-out `data/scenes.py` scenes.
Every query goes through the model alone: its text vector against the media index, no lexical or hybrid stage, no
cutoff, no rerank. A hit counts when the picture shows the query's colour and shape. `--compare` runs the same on
other model folders (e.g. a candidate retrained by data/train_demo_model.py) and reports each on its own row.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

from bench._results import machine, write_section
from core.options import Paging
from core.settings import load_settings
from data import plain_shapes, scenes
from indexer.ingest import index_paths
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query

Truth = dict[str, tuple[str, str]]  # absolute image path -> (colour, shape)


def build(library: Path, images: Path, model: str) -> None:
    settings = load_settings(library=library, model=model, quiet=True)
    with Library.open_writer(library, "bench") as lib:
        index_paths(lib, lib.writer_encoder(settings), [images], settings, quiet=True)


def top(searcher: Searcher, text: str, k: int) -> list[str]:
    """The model alone: the query's vector against the media index, no later stage."""
    vector = searcher.queries.text_vector(text)
    return [str(hit.path) for hit in searcher.ask(Query(vector=vector), "media", Paging(k=k)) if hit.path]


def precision(searcher: Searcher, truth: Truth, text: str, colour: str | None, shape: str | None) -> float:
    hits = top(searcher, text, 5)
    return float(np.mean([colour in (None, truth[h][0]) and shape in (None, truth[h][1]) for h in hits]))


def plain_quality(root: Path, model: str) -> dict[str, float]:
    plain_shapes.generate(root / "plain", per_pair=8, seed=0)
    truth: Truth = {}
    with open(root / "plain" / "truth.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            truth[str(root / "plain" / row["image"])] = (row["colour"], row["shape"])
    build(root / "plain-library", root / "plain" / "images", model)
    result: dict[str, list[float]] = {}
    overlap = []
    with Library.open_reader(root / "plain-library") as lib:
        searcher = Searcher(lib, load_settings(library=root / "plain-library"))
        for kind, english, chinese, colour, shape in plain_shapes.JUDGED:
            if kind == "any":
                continue
            for language, text in (("en", english), ("zh", chinese)):
                result.setdefault(f"{kind}_{language}", []).append(precision(searcher, truth, text, colour, shape))
            if kind == "specific":
                overlap.append(len(set(top(searcher, english, 8)) & set(top(searcher, chinese, 8))) / 8)
    means = {key: float(np.mean(values)) for key, values in result.items()}
    means["overlap8"] = float(np.mean(overlap))
    return means


def scene_quality(root: Path, model: str, count: int, varied: bool) -> dict[str, float]:
    made = scenes.generate(root / "held", count, seed=2, heldout=True, sidecars="none", varied=varied)
    truth: Truth = {str(path): (scene.colour, scene.shape) for path, scene, _ in made}
    build(root / "held-library", root / "held" / "images", model)
    english, chinese = [], []
    with Library.open_reader(root / "held-library") as lib:
        searcher = Searcher(lib, load_settings(library=root / "held-library"))
        for colour in scenes.COLOURS:
            for shape in scenes.SHAPES:
                zh = f"一个{scenes.ZH_COLOURS[colour]}的{scenes.ZH_SHAPES[shape]}"  # a held-out Chinese wording
                english.append(precision(searcher, truth, f"a {colour} {shape}", colour, shape))
                chinese.append(precision(searcher, truth, zh, colour, shape))
    return {"en": float(np.mean(english)), "zh": float(np.mean(chinese))}


def row(name: str, model: str, count: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        plain = plain_quality(Path(tmp), model)
        flat = scene_quality(Path(tmp) / "flat", model, count, varied=False)
        varied = scene_quality(Path(tmp) / "varied", model, count, varied=True)
    line = (
        f"| {name} | **{plain['specific_en']:.3f}** | **{plain['specific_zh']:.3f}** | {plain['overlap8']:.2f} "
        f"| {plain['colour_en']:.3f} / {plain['colour_zh']:.3f} | {plain['shape_en']:.3f} / {plain['shape_zh']:.3f} "
        f"| {flat['en']:.3f} / {flat['zh']:.3f} | {varied['en']:.3f} / {varied['zh']:.3f} |"
    )
    print(line, flush=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo", help="the model to measure (default: the shipped demo model)")
    parser.add_argument("--compare", action="append", default=[], help="NAME=MODEL_DIR, measured the same way")
    parser.add_argument("--scenes", type=int, default=300, help="held-out scenes")
    args = parser.parse_args()
    rows = [row(f"`{args.model}`", args.model, args.scenes)]
    for compare in args.compare:
        name, _, folder = compare.partition("=")
        rows.append(row(name, folder, args.scenes))
    body = f"""## demo_generalisation

`python -m bench.demo_generalisation` — the demo model alone (text vector against the media index: no lexical or
hybrid stage, no cutoff, no rerank) on pictures drawn by another program (`data/plain_shapes.py`: 96 pictures,
4 colours × 3 shapes × 8, never trained on) and on {args.scenes} held-out `data/scenes.py` scenes. P@5: share of
the top 5 showing the query's colour and shape, mean over the colour+shape queries (12 on plain shapes: "a red
circle" / `红色的圆`; 15 on scenes: "a red circle" / `一个红色的圆`, wordings never trained on). Top-8 overlap:
how much of `红色的圆`'s top 8 is also in "a red circle"'s. Colour / shape: "something red" / `红色的东西`,
"a circle" / `一个圆`, English / Chinese. Scenes: held-out scenes in the demo's flat look (what data/samples shows)
and in the varied training look.
Machine: {machine()}.

| model | plain shapes P@5, English | plain shapes P@5, Chinese | top-8 overlap en/zh | colour-only P@5 en / zh | shape-only P@5 en / zh | flat scenes P@5 en / zh | varied scenes P@5 en / zh |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}"""
    write_section("demo_generalisation", body)


if __name__ == "__main__":
    main()
