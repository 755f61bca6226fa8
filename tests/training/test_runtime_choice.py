"""`xmodal eval --runtimes`: the ONNX path finds what torch finds on the demo pairs, and the int8 text tower is
switched on only where its recall holds; the library remembers the verdict and queries follow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.library import Library
from indexer.onnx_encoder import OnnxEncoder
from tests.conftest import REPO, Cli
from training import runtime_choice

PAIRS = REPO / "data" / "samples" / "pairs.csv"


def test_onnx_recall_equals_torch_and_the_int8_verdict_is_stored(cli: Cli) -> None:
    document = cli.json("eval", "--pairs", str(PAIRS), "--model", "demo", "--runtimes")
    found = document["runtimes"]
    metrics = found["metrics"]
    assert set(metrics) == {"torch", "onnx", "onnx-int8"}
    for k in ("R@1", "R@5", "R@10"):
        assert abs(metrics["onnx"][k] - metrics["torch"][k]) <= 0.005
    assert found["top10_agreement"]["onnx"] >= 0.99
    worst = max(
        abs(metrics["onnx-int8"][k] - metrics[ref][k]) for k in ("R@1", "R@5", "R@10") for ref in ("torch", "onnx")
    )
    assert found["int8_text"] == (worst <= runtime_choice.INT8_TOLERANCE)
    with Library.open_reader(cli.library) as library:
        model = library.reader_encoder("cpu")
        assert isinstance(model, OnnxEncoder) and model.int8 == found["int8_text"]
    assert cli.stats()["queries"]["runtime"] == ("onnx-int8" if found["int8_text"] else "onnx")


def test_int8_stays_off_where_it_moves_recall(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_choice, "INT8_TOLERANCE", -1.0)  # any difference, even none, is too much
    document = cli.json("eval", "--pairs", str(PAIRS), "--model", "demo", "--runtimes")
    assert document["runtimes"]["int8_text"] is False
    assert "int8 text tower off" in document["runtimes"]["reason"]
    assert cli.stats()["queries"]["runtime"] == "onnx"
    assert "no usable ONNX export" not in cli("search", "a red circle", "--runtime", "onnx-int8", "-k", "1")
    assert Path(cli.library).is_dir()
