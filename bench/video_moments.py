"""Finding the moment: temporal localisation on generated videos the demo model never saw, with the demo model.

    python -m bench.video_moments [--videos 40] [--seconds 30] [--similarity 0.8,0.85,0.9,0.95] [--write]

Videos of the demo scenes (data/scene_videos.py, held-out wordings, a seed no training run used) in which
scenes appear, move and disappear at known times. Each caption names what is on screen in exactly one interval
of its video. For every caption, the video's moments are ranked through the engine (`xmodal search CAPTION
--video ID --no-moments`: the query's text tower, the ANN index, every default stage), and a moment counts when
its temporal IoU with the true interval reaches 0.5 (0.7): R@1 and R@5 as temporal grounding reports them.
Also reported: over the whole library (no --video), whether the top moment is in the right video at IoU 0.5,
though another video may show the same scene (their captions do not say which video). One index per
`--similarity` (moments are made from the stored frames, not decoded again); `--write` puts the table in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from collections import defaultdict
from pathlib import Path

from bench._results import machine, write_section
from core.options import SearchOptions
from core.settings import load_settings
from data.scene_videos import generate
from indexer.ingest import index_paths
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query

SEED = 913  # no training run draws videos from this seed


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def evaluate(library: Path, truth: list[tuple[str, float, float, str]], similarity: float) -> dict[str, float]:
    settings = load_settings(library=library, quiet=True)
    with Library.open_writer(library, "bench") as lib:
        ids = {row.path: row.id for row in lib.catalog.known_files(["/"]).values()}
    counts: dict[str, float] = defaultdict(float)
    lengths = []
    with Library.open_reader(library) as lib:
        searcher = Searcher(lib, settings)
        for video, start, end, caption in truth:
            video_id = ids[video]
            query = Query(text=caption)
            options = SearchOptions(k=5, video=video_id, moments=False)
            found = [(hit.start or 0.0, hit.end or 0.0) for hit in searcher.ask(query, "media", options)]
            overlaps = [iou(moment, (start, end)) for moment in found]
            for bar in (0.5, 0.7):
                counts[f"R@1 IoU{bar}"] += bool(overlaps) and overlaps[0] >= bar
                counts[f"R@5 IoU{bar}"] += any(overlap >= bar for overlap in overlaps)
            top = searcher.ask(query, "media", SearchOptions(k=1, type="video"))
            counts["library R@1 IoU0.5"] += (
                bool(top)
                and top[0].path == video
                and iou((top[0].start or 0.0, top[0].end or 0.0), (start, end)) >= 0.5
            )
            lengths.extend(end - start for start, end in found[:1])
        searcher.close()
        moments = lib.catalog.counts()["segments"]
    result = {name: value / len(truth) for name, value in counts.items()}
    result["moments per video"] = moments / len({video for video, *_ in truth})
    result["top moment seconds"] = sum(lengths) / max(1, len(lengths))
    result["similarity"] = similarity
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--similarity", default="0.8,0.85,0.9,0.95", help="moment_similarity values to compare")
    parser.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "held", args.videos, seed=SEED, seconds=args.seconds, heldout=True)
        with open(root / "held" / "moments.csv", encoding="utf-8") as handle:
            truth = [
                (str((root / "held" / row["video"]).absolute()), float(row["start"]), float(row["end"]), row["caption"])
                for row in csv.DictReader(handle)
            ]
        for similarity in (float(value) for value in args.similarity.split(",")):
            library = root / f"library-{similarity}"
            settings = load_settings(library=library, model="demo", quiet=True)
            settings = settings.model_copy(
                update={"video": settings.video.model_copy(update={"moment_similarity": similarity})}
            )
            with Library.open_writer(library, "bench") as lib:
                report = index_paths(lib, lib.writer_encoder(settings), [root / "held" / "videos"], settings, True)
            result = evaluate(library, truth, similarity)
            result["index seconds"] = report.seconds
            rows.append(result)
            print({name: round(value, 3) for name, value in result.items()}, flush=True)
    columns = ["similarity", "moments per video", "top moment seconds", "R@1 IoU0.5", "R@5 IoU0.5"]
    columns += ["R@1 IoU0.7", "R@5 IoU0.7", "library R@1 IoU0.5"]
    table = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    for row in rows:
        table += "| " + " | ".join(f"{row[name]:.3g}" if name != "similarity" else f"{row[name]:g}" for name in columns)
        table += " |\n"
    body = f"""## Finding the moment: temporal localisation (demo model, generated videos)

`python -m bench.video_moments --videos {args.videos} --seconds {args.seconds:g}` — {machine()}

{args.videos} held-out videos of {args.seconds:g} s ({len(truth)} captions, each naming what is on screen in one
interval of its video); moments ranked through the engine within the caption's video (`--video ID`); a moment
counts at temporal IoU ≥ 0.5 (0.7). "library R@1" asks the whole library instead: the top moment must be in the
caption's video and overlap its interval.

{table}"""
    print(body)
    if args.write:
        write_section("video_moments", body)


if __name__ == "__main__":
    main()
