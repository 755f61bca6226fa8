"""`xmodal serve` itself: several worker processes inherit the command's settings (the API key among them)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.api.conftest import ServedLibrary, serving


def get(url: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_workers_share_the_flags_they_were_started_with(served: ServedLibrary, tmp_path: Path) -> None:
    with serving(served.library, tmp_path, "--workers", "2", "--api-key", "k3y") as url:
        for _ in range(4):  # requests land on either worker: each enforces the key and searches the library
            assert get(f"{url}/api/search?q=a+red+circle")[0] == 401
            status, body = get(f"{url}/api/search?q=a+red+circle&k=3", key="k3y")
            assert status == 200 and len(json.loads(body)["hits"]) == 3
        assert get(f"{url}/healthz")[0] == 200


def test_a_warning_when_exposed_without_a_key(served: ServedLibrary, tmp_path: Path) -> None:
    # 127.0.0.2 is loopback too, but not one of the names xmodal treats as local-only.
    with serving(served.library, tmp_path, host="127.0.0.2") as url:
        assert get(f"{url}/healthz")[0] == 200
    assert "without an API key" in (tmp_path / "serve.log").read_text()


@pytest.mark.parametrize("flag", [["--port", "70000"], ["--workers", "0"]])
def test_bad_flags_are_refused(flag: list[str], served: ServedLibrary) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(app, ["serve", "--library", str(served.library), *flag])
    assert result.exit_code == 2
