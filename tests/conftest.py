"""Shared fixtures: a tiny open_clip model with seeded random weights, real image files, a CLI runner."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from data.scenes import Scene, generate
from training.random_weights import write_random_checkpoint

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / "data" / "models" / "tiny-clip.json"
FLICKR = REPO.parent / "shared" / "data" / "flickr8k-dev"


@dataclass(frozen=True)
class TinyModel:
    config: Path
    weights: Path

    def flags(self) -> list[str]:
        return ["--model", str(self.config), "--pretrained", str(self.weights)]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    folder = tmp_path_factory.mktemp("model")
    return TinyModel(TINY_CONFIG, write_random_checkpoint(TINY_CONFIG, folder / "tiny.pt", seed=0))


@pytest.fixture(scope="session")
def demo_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Scene]]:
    """150 held-out scenes (unseen wordings) indexed with the shipped demo model; tests only read it."""
    root = tmp_path_factory.mktemp("demo")
    made = generate(root / "held", 150, seed=2, heldout=True)
    library = root / "library"
    argv = ["index", str(root / "held" / "images"), "--model", "demo", "-q", "-l", str(library)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    return library, {str(path): scene for path, scene, _ in made}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's config or library, or reaches a model hub."""
    for key in list(os.environ):
        if key.startswith("XMODAL_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XMODAL_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("XMODAL_WORKERS", "2")
    # Words in pictures are read only where a test asks (--ocr, tests/indexer/test_ocr.py): starting Tesseract
    # workers for every index run would cost each of the other tests a second or more.
    monkeypatch.setenv("XMODAL_OCR__ENABLED", "false")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


def picture(seed: int, size: tuple[int, int] = (96, 72)) -> Image.Image:
    """A distinct picture per seed: coloured blocks, so vectors differ between seeds."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(cells).resize(size, Image.Resampling.NEAREST)


def write_picture(path: Path, seed: int, fmt: str | None = None, **save: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    picture(seed).save(path, format=fmt, **save)
    return path


def library_contents(library: Path) -> dict[str, tuple[int, str, str | None, str | None, np.ndarray | None]]:
    """Every media row as (id, status, error, content hash, vector), by path: what two ways of indexing the same
    folder must agree on."""
    from indexer.library import Library

    with Library.open_reader(library) as lib, lib.catalog.connection() as conn:
        rows = conn.execute("SELECT id, path, status, error, content_hash FROM media").fetchall()
        ids, vectors = lib.catalog.fetch_vectors("media", [row[0] for row in rows], lib.dim())
    vector_of = dict(zip(ids.tolist(), vectors, strict=True))
    return {path: (id_, status, error, digest, vector_of.get(id_)) for id_, path, status, error, digest in rows}


def make_photo_folder(root: Path, count: int, start: int = 0) -> list[Path]:
    return [write_picture(root / f"photo-{start + i:03d}.jpg", start + i, "JPEG", quality=92) for i in range(count)]


class Cli:
    """Runs `xmodal` in-process against one library; asserts on the exit code it expects."""

    def __init__(self, library: Path, model: TinyModel) -> None:
        self.library = library
        self.model = model
        self.runner = CliRunner()

    def invoke(self, *args: str, code: int = 0) -> Result:
        argv = [args[0], *args[1:], "--library", str(self.library)]
        result = self.runner.invoke(app, argv, catch_exceptions=False)
        assert result.exit_code == code, f"xmodal {' '.join(args)} exited {result.exit_code}:\n{result.output}"
        return result

    def __call__(self, *args: str, code: int = 0) -> str:
        """What a person sees: standard output and error together."""
        return self.invoke(*args, code=code).output

    def json(self, *args: str) -> Any:
        """The one JSON document `--json` prints on standard output (messages go to standard error)."""
        return json.loads(self.invoke(*args, "--json").stdout)

    def index(self, *paths: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
        return self.json("index", *map(str, paths), *self.model.flags(), "--quiet", *extra)  # type: ignore[no-any-return]

    def search_json(self, *args: str) -> list[dict[str, Any]]:
        return self.json("search", *args)  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self.json("stats")  # type: ignore[no-any-return]


@pytest.fixture
def cli(tmp_path: Path, tiny_model: TinyModel) -> Iterator[Cli]:
    yield Cli(tmp_path / "library", tiny_model)
