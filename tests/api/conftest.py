"""A served library built once per module: held-out demo scenes, a real JPEG with EXIF, a unicode file name,
and a broken file the catalog lists as failed."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.server import create_app
from core.settings import Settings, load_settings
from data.scenes import Scene, generate
from tests.conftest import REPO

if TYPE_CHECKING:
    from tests.api.videos import VideoLibrary

EXIF_DATE, EXIF_MAKE, EXIF_MODEL, EXIF_IFD, EXIF_DATE_ORIGINAL = 0x0132, 0x010F, 0x0110, 0x8769, 0x9003


@dataclass(frozen=True)
class ServedLibrary:
    library: Path
    photos: Path
    scenes: dict[str, Scene]  # image file name -> what it shows
    jpeg: Path  # a JPEG with a date and a camera in its EXIF
    unicode_file: Path
    broken: Path  # a truncated JPEG: in the catalog as a file that failed to index

    def settings(self, **overrides: object) -> Settings:
        return load_settings(**{"library": self.library, **overrides})


def write_exif_jpeg(path: Path, source: Path) -> Path:
    exif = Image.Exif()
    exif[EXIF_MAKE] = "Fujifilm"
    exif[EXIF_MODEL] = "X100V"
    exif.get_ifd(EXIF_IFD)[EXIF_DATE_ORIGINAL] = "2024:07:14 18:30:00"
    Image.open(source).convert("RGB").resize((320, 240)).save(path, "JPEG", quality=90, exif=exif)
    return path


def index(library: Path, *paths: Path) -> None:
    argv = ["index", *map(str, paths), "--model", "demo", "-q", "-l", str(library)]
    result = CliRunner().invoke(cli_app, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@contextlib.contextmanager
def isolated_from_the_developer(scratch: Path) -> Iterator[None]:
    """What tests/conftest.py's per-test isolation does, for module fixtures that run before it: no XMODAL_*
    variable and no config file of the developer's reaches the library being built."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("XMODAL_"):
                patch.delenv(key)
        patch.setenv("XMODAL_CONFIG", str(scratch / "no-config.toml"))
        yield


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> ServedLibrary:
    root = tmp_path_factory.mktemp("served")
    with isolated_from_the_developer(root):
        return build_served(root)


def build_served(root: Path) -> ServedLibrary:
    made = generate(root / "photos", 60, seed=3, heldout=True)
    photos = root / "photos" / "images"
    first = made[0][0]
    jpeg = write_exif_jpeg(photos / "holiday.jpg", first)
    unicode_file = photos / "été à Zürich 🌅.png"
    shutil.copy(made[1][0], unicode_file)
    broken = photos / "broken.jpg"
    broken.write_bytes(jpeg.read_bytes()[:600])
    library = root / "library"
    index(library, photos)
    scenes = {path.name: scene for path, scene, _ in made}
    return ServedLibrary(library, photos, scenes, jpeg, unicode_file, broken)


@pytest.fixture
def client(served: ServedLibrary) -> Iterator[TestClient]:
    with TestClient(create_app(served.settings())) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(library: Path, scratch: Path, *flags: str, host: str = "127.0.0.1") -> Iterator[str]:
    """`xmodal serve` as a user starts it; yields its URL once ready, then stops it with SIGTERM."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("XMODAL_")}
    env["XMODAL_CONFIG"] = str(scratch / "none.toml")
    log = scratch / "serve.log"
    command = [
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "-l",
        str(library),
        "--host",
        host,
        "--port",
        str(port),
        *flags,
    ]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:  # 503 until the library is searchable
                    break
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        # SIGTERM: a clean shutdown (uvicorn re-raises the signal once done, as systemd expects).
        assert process.wait(timeout=30) in (0, -15), log.read_text()
    assert "Application shutdown complete" in log.read_text() or "Finished server process" in log.read_text()


@pytest.fixture(scope="module")
def video_served(tmp_path_factory: pytest.TempPathFactory) -> VideoLibrary:
    from tests.api.videos import build_video_library

    root = tmp_path_factory.mktemp("video-served")
    with isolated_from_the_developer(root):
        return build_video_library(root)


@pytest.fixture
def video_client(video_served: VideoLibrary) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(library=video_served.library))) as test_client:
        yield test_client
