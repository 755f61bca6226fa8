"""Each ranking stage on and off, on sets built so the right answer is known (what `xmodal eval --stages` runs).

    python -m bench.ranking_quality [--scenes 300] [--per-pair 8]

Sets (demo model, held-out wordings as queries; a query's own caption never matches itself lexically):
- described: every picture has a sidecar that describes it in other words (training wordings);
- names only: no sidecars, meaningless file names (what most photo libraries are);
- confusable: groups of five scenes one attribute apart (colour, shape, size or position);
- index fast, rerank: the described set indexed with a tiny random model, reranked by the demo model.
Also the cutoff's z threshold swept on the described and names-only sets, every cutoff method on every set,
and the judged plain-shapes set (data/plain_shapes.py: pictures drawn by other code than the training scenes,
broad and absent queries, English and Chinese; what `xmodal eval --queries QUERIES --stages` runs), with the
calibrated threshold learnt on the described set's pairs.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from bench._results import machine, write_section
from core.options import Ranking
from core.settings import load_settings
from data import plain_shapes
from data.scenes import generate
from indexer.ingest import add_texts, index_paths
from indexer.library import Library
from searcher.engine import Searcher
from training.calibration import Calibration, learn_calibration, store_calibration
from training.evaluate import StageMetrics, evaluate_stages, stage_variants
from training.judged import JudgedReport, cutoff_variants, evaluate_judged, judged_images, load_judged
from training.random_weights import write_random_checkpoint

REPO = Path(__file__).resolve().parent.parent
HEADER = "| stages | R@1 | R@5 | R@10 | MRR | absent: hits of 100 | p50 ms |\n|---|---|---|---|---|---|---|"


def rows(report: dict[str, StageMetrics]) -> str:
    lines = []
    for name, stage in report.items():
        m = stage.metrics
        lines.append(
            f"| {name} | {m.recall[1]:.3f} | {m.recall[5]:.3f} | {m.recall[10]:.3f} | {m.mrr:.3f} "
            f"| {stage.absent_hits:.1f} | {stage.p50_ms:.1f} |"
        )
    return "\n".join(lines)


JUDGED_HEADER = (
    "| stages | kind | lang | recall (all true) | kept (of model top 100) | worst query kept | P@5 | absent: hits of 100 |"
    "\n|---|---|---|---|---|---|---|---|"
)


def _cell(value: float, digits: int = 3) -> str:
    return "–" if value != value else f"{value:.{digits}f}"


def judged_rows(report: JudgedReport) -> str:
    return "\n".join(
        f"| {name} | {kind} | {language} | {_cell(m.recall)} | {_cell(m.kept)} | {_cell(m.kept_min)} | {_cell(m.p5)} "
        f"| {_cell(m.absent_hits, 1)} |"
        for name, groups in report.groups.items()
        for (kind, language), m in groups.items()
    )


def calibrate(root: Path) -> Calibration:
    """The calibrated cutoff's threshold from this set's pairs, stored in its library."""
    pairs_file = root / "data" / "pairs.csv"
    with open(pairs_file) as handle:
        images = sorted({str((root / "data" / row["image"]).absolute()) for row in csv.DictReader(handle)})
    with Library.open_writer(root / "library", "bench") as lib:
        calibration = learn_calibration(lib, images, [str(pairs_file.absolute())])
        store_calibration(lib, calibration)
    return calibration


def judged(root: Path, per_pair: int, calibration: Calibration) -> JudgedReport:
    plain_shapes.generate(root / "data", per_pair)
    queries = load_judged(root / "data" / "queries.csv")
    settings = load_settings(library=root / "library", model="demo", quiet=True)
    with Library.open_writer(root / "library", "bench") as lib:
        index_paths(lib, lib.writer_encoder(settings), [Path(p) for p in judged_images(queries)], settings, quiet=True)
        store_calibration(lib, calibration)
    base = Ranking()
    variants = {"model alone (no cutoff)": stage_variants(base)["vector only"], **cutoff_variants(base)}
    variants["defaults"] = base
    with Library.open_reader(root / "library") as lib:
        searcher = Searcher(lib, settings)
        try:
            return evaluate_judged(lib, searcher, queries, variants)
        finally:
            searcher.close()


def build(root: Path, scenes: int, sidecars: str, confusable: bool, model: str, pretrained: str | None) -> Path:
    generate(root / "data", scenes, seed=2, heldout=True, sidecars=sidecars, confusable=confusable)  # type: ignore[arg-type]
    settings = load_settings(library=root / "library", model=model, pretrained=pretrained, quiet=True)
    with Library.open_writer(root / "library", "bench") as lib:
        encoder = lib.writer_encoder(settings)
        index_paths(lib, encoder, [root / "data" / "images"], settings, quiet=True)
        add_texts(lib, encoder, [str(root / "data" / "pairs.csv")], settings)
    return root


def run(root: Path, variants: dict[str, Ranking], rerank: Ranking | None = None) -> dict[str, StageMetrics]:
    pairs_file = root / "data" / "pairs.csv"
    with open(pairs_file) as handle:
        pairs = [(str((root / "data" / row["image"]).absolute()), row["caption"]) for row in csv.DictReader(handle)]
    settings = load_settings(library=root / "library", quiet=True)
    if rerank is not None:
        settings = settings.model_copy(update={"ranking": rerank})
    with Library.open_reader(root / "library") as lib:
        searcher = Searcher(lib, settings)
        report = evaluate_stages(lib, searcher, pairs, variants, (str(pairs_file.absolute()),))
    for name, stage in report.items():
        print(f"  {name}: MRR {stage.metrics.mrr:.3f} R@10 {stage.metrics.recall[10]:.3f} absent {stage.absent_hits}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--per-pair", type=int, default=8, help="plain-shapes pictures per colour × shape")
    args = parser.parse_args()
    base = Ranking()
    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        sweeps = []
        calibration: Calibration | None = None
        for title, sidecars, confusable in (
            ("described (sidecars in other words)", "train", False),
            ("names only (no sidecars)", "none", False),
            ("confusable (groups one attribute apart, described)", "train", True),
        ):
            print(title, flush=True)
            root = build(scratch / sidecars / str(confusable), args.scenes, sidecars, confusable, "demo", None)
            if calibration is None:  # learnt on the first (described) set's pairs, used on every set
                calibration = calibrate(root)
            else:
                with Library.open_writer(root / "library", "bench") as lib:
                    store_calibration(lib, calibration)
            variants = {**stage_variants(base), **cutoff_variants(base)}
            sections.append(f"**{title}**\n\n{HEADER}\n{rows(run(root, variants))}")
            bare = stage_variants(base)["vector only"]
            sweep = {
                f"cutoff z ≥ {z}": bare.model_copy(update={"cutoff": True, "cutoff_z": z, "hybrid": sidecars != "none"})
                for z in (1.0, 1.5, 1.75, 2.0)
            }
            sweeps.append(
                f"**{title}, hybrid {'on' if sidecars != 'none' else 'off'}**\n\n{HEADER}\n{rows(run(root, sweep))}"
            )
        assert calibration is not None
        print("plain shapes, judged", flush=True)
        judged_section = judged_rows(judged(scratch / "plain", args.per_pair, calibration))
        print("index fast, rerank", flush=True)
        tiny = write_random_checkpoint(REPO / "data" / "models" / "tiny-clip.json", scratch / "tiny.pt", seed=0)
        root = build(
            scratch / "tiny", args.scenes, "none", False, str(REPO / "data" / "models" / "tiny-clip.json"), str(tiny)
        )
        reranked = base.model_copy(update={"rerank_model": "demo", "cutoff": False, "hybrid": False})
        variants = {name: v for name, v in stage_variants(reranked).items() if name in ("vector only", "+ rerank")}
        sections.append(
            "**index fast, rerank: a tiny random-weight model indexes, the demo model reranks the top 100**\n\n"
            f"{HEADER}\n{rows(run(root, variants, reranked))}"
        )
    body = f"""## ranking_quality

`python -m bench.ranking_quality --scenes {args.scenes}` (the same as `xmodal eval --pairs PAIRS --stages` per set) —
text→image through the ranking pipeline, {args.scenes} held-out scenes, demo model, each stage alone on top of the
vector ranking, then the shipped defaults. "absent: hits" is the mean number of results for six concepts no
scene shows ("a giraffe", "a red car", ...). Machine: {machine()}.

{chr(10).join(chr(10) + s + chr(10) for s in sections)}

`+ cutoff: METHOD` rows: the vector ranking with that cutoff method alone (`calibrated`: cosine ≥
{calibration.cosine:.3f}, learnt on the described set's pairs: keeps {calibration.true_kept:.0%} of its
{calibration.pairs} true pairs and {calibration.random_kept:.0%} of random ones).

**plain shapes, judged** (`python -m data.plain_shapes OUT --per-pair {args.per_pair}`: {args.per_pair * 12} pictures,
one plain shape each, drawn by other code than the training scenes; k=100; recall = share of all true matches
returned; kept = share returned of the true matches the model alone ranks in its top 100, and the worst query's;
P@5; absent = pictures returned for concepts no picture shows, of 100). The issue's acceptance for a default:
every query keeps ≥ 0.90 (worst query kept ≥ 0.90 in every row) and absent ≤ 20.

{JUDGED_HEADER}
{judged_section}

Cutoff threshold sweep (how many standard deviations above the query's mean score over a library sample):

{chr(10).join(chr(10) + s + chr(10) for s in sweeps)}"""
    write_section("ranking_quality", body)


if __name__ == "__main__":
    main()
