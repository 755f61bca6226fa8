"""The foundations of video support: a content hash that samples a large file, the extensions, the settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.hashing import content_hash, content_sample_hash
from indexer.selection import VIDEO_EXTENSIONS


def test_content_sample_hash_reads_three_pieces_of_a_large_file(tmp_path: Path) -> None:
    data = bytes(np.random.default_rng(1).integers(0, 256, 1000, dtype=np.uint8))
    original = tmp_path / "a.mp4"
    original.write_bytes(data)
    moved = tmp_path / "elsewhere" / "b.mp4"
    moved.parent.mkdir()
    moved.write_bytes(data)
    digest = content_sample_hash(original, sample_bytes=100)
    assert content_sample_hash(moved, sample_bytes=100) == digest  # a moved file is recognised
    assert digest != content_hash(data)

    def changed(offset: int) -> str:
        edited = bytearray(data)
        edited[offset] ^= 0xFF
        moved.write_bytes(bytes(edited))
        return content_sample_hash(moved, sample_bytes=100)

    for offset in (0, 99, 450, 549, 900, 999):  # inside the first, middle (450..549) and last pieces
        assert changed(offset) != digest, offset
    assert changed(300) == digest  # between the pieces: not read, by design
    moved.write_bytes(data + b"\x00")
    assert content_sample_hash(moved, sample_bytes=100) != digest  # the size counts
    small = tmp_path / "small.mp4"
    small.write_bytes(data[:250])
    assert content_sample_hash(small, sample_bytes=100) != content_sample_hash(original, sample_bytes=100)


def test_video_extensions_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings

    assert {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"} == VIDEO_EXTENSIONS
    settings = Settings()
    assert (settings.video_frame_every, settings.video_max_seconds) == (1.0, 4 * 3600.0)
    monkeypatch.setenv("XMODAL_VIDEO_FRAME_EVERY", "2.5")
    assert Settings().video_frame_every == 2.5
