"""Judged queries through the engine: recall, kept share and absent hits on real files in a real library,
and `xmodal eval --queries` end to end."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from core.options import Ranking
from core.settings import load_settings
from data.plain_shapes import generate
from indexer.library import Library
from searcher.engine import Searcher
from searcher.stages.cutoff import CALIBRATION_KEY
from tests.conftest import Cli, write_picture
from training.evaluate import stage_variants
from training.judged import JudgedQuery, QueryResult, evaluate_judged, load_judged, score_query, summarise


def test_one_query_scores_recall_kept_and_precision_at_5() -> None:
    recall, kept, p5 = score_query([1, 2, 3, 4, 5, 6], truth={1, 3, 9}, model_top={1, 3, 4})
    assert (recall, kept, p5) == (pytest.approx(2 / 3), 1.0, pytest.approx(2 / 5))


def judged_set(root: Path) -> Path:
    """Six pictures; 'two of them' holds two, 'all of them' six, 'nothing here' none; relative paths."""
    for i in range(6):
        write_picture(root / "images" / f"p{i}.png", seed=i)
    rows = [("two of them", "en", "specific", "images/p0.png"), ("two of them", "en", "specific", "images/p1.png")]
    rows += [("all of them", "en", "any", f"images/p{i}.png") for i in range(6)]
    rows += [("nothing here", "en", "absent", "")]
    with open(root / "queries.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query", "language", "kind", "image"])
        writer.writerows(rows)
    return root / "queries.csv"


def test_judged_evaluation_counts_what_each_ranking_returns(cli: Cli, tmp_path: Path) -> None:
    queries = load_judged(judged_set(tmp_path / "set"))
    assert queries[0].truth == tuple(str((tmp_path / "set" / "images" / f"p{i}.png").absolute()) for i in (0, 1))
    cli.index(tmp_path / "set" / "images")
    with Library.open_writer(cli.library, "test") as lib:
        spec = lib.model_spec()
        assert spec is not None
        lib.catalog.set_json(CALIBRATION_KEY, {"model": spec.identity(), "cosine": 1.5})  # above every cosine
    settings = load_settings(library=cli.library)
    alone = stage_variants(Ranking())["vector only"]
    variants = {"alone": alone, "none pass": alone.model_copy(update={"cutoff": True, "cutoff_method": "calibrated"})}
    with Library.open_reader(cli.library) as lib:
        searcher = Searcher(lib, settings)
        try:
            report = evaluate_judged(lib, searcher, queries, variants)
        finally:
            searcher.close()
    everything = report.groups["alone"]
    assert everything[("specific", "en")].recall == 1.0 and everything[("specific", "en")].kept == 1.0
    assert everything[("any", "en")].p5 == 1.0 and everything[("any", "en")].kept_min == 1.0
    assert everything[("absent", "en")].absent_hits == 6.0  # the whole library comes back, all 6 pictures
    cut = report.groups["none pass"]
    assert cut[("specific", "en")].recall == 0.0 and cut[("any", "en")].kept == 0.0 and cut[("any", "en")].p5 == 0.0
    assert cut[("absent", "en")].absent_hits == 0.0


def test_groups_average_per_kind_and_language_and_keep_the_worst_query() -> None:
    a = JudgedQuery("a", "en", "specific", ("x",))
    b = JudgedQuery("b", "en", "specific", ("y",))
    gone = JudgedQuery("c", "zh", "absent", ())
    summary = summarise(
        [
            QueryResult(a, 1.0, 1.0, 0.2, 10),
            QueryResult(b, 0.5, 0.25, 0.0, 3),
            QueryResult(gone, float("nan"), float("nan"), float("nan"), 7),
        ]
    )
    assert summary[("specific", "en")].kept == 0.625 and summary[("specific", "en")].kept_min == 0.25
    assert summary[("specific", "en")].recall == 0.75 and summary[("absent", "zh")].absent_hits == 7.0


def test_eval_queries_prints_a_row_per_kind_for_every_cutoff_method(tmp_path: Path) -> None:
    generate(tmp_path / "plain", per_pair=1)
    argv = ["eval", "--queries", str(tmp_path / "plain" / "queries.csv"), "--model", "demo", "--stages"]
    result = CliRunner().invoke(app, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for row in ("specific", "colour", "shape", "any", "absent", "defaults", "+ cutoff: calibrated", "+ cutoff: gap"):
        assert row in result.output
    assert "zh" in result.output and "en" in result.output
