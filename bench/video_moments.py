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
import tempfile
from pathlib import Path

from bench._results import machine, write_section
from core.settings import load_settings
from data.scene_videos import generate
from indexer.ingest import index_paths
from indexer.library import Library
from searcher.engine import Searcher
from training.moments import evaluate_moments, load_moments

SEED = 913  # no training run draws videos from this seed


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
        truth = load_moments(root / "held" / "moments.csv")
        for similarity in (float(value) for value in args.similarity.split(",")):
            library = root / f"library-{similarity}"
            settings = load_settings(library=library, model="demo", quiet=True)
            settings = settings.model_copy(
                update={"video": settings.video.model_copy(update={"moment_similarity": similarity})}
            )
            with Library.open_writer(library, "bench") as lib:
                report = index_paths(lib, lib.writer_encoder(settings), [root / "held" / "videos"], settings, True)
            with Library.open_reader(library) as lib:
                searcher = Searcher(lib, settings)
                result = {"similarity": similarity, **evaluate_moments(lib, searcher, truth).to_json()}
                searcher.close()
            result["index seconds"] = report.seconds
            rows.append(result)
            print({name: round(value, 3) for name, value in result.items()}, flush=True)
    columns = {
        "similarity": "moment_similarity",
        "moments_per_video": "moments per video",
        "top_moment_seconds": "top moment, s",
        "r1_iou50": "R@1 IoU 0.5",
        "r5_iou50": "R@5 IoU 0.5",
        "r1_iou70": "R@1 IoU 0.7",
        "r5_iou70": "R@5 IoU 0.7",
        "library_r1_iou50": "library R@1 IoU 0.5",
    }
    table = "| " + " | ".join(columns.values()) + " |\n|" + "---|" * len(columns) + "\n"
    for row in rows:
        table += "| " + " | ".join(f"{row[name]:.3g}" for name in columns) + " |\n"
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
