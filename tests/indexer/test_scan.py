"""Discovery on real folders: nesting, unicode, symlink loops, hidden files, fifos, sidecars."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import InputError
from indexer.scan import normalize_roots, scan
from tests.conftest import write_picture


def test_finds_images_in_nested_and_unicode_folders(tmp_path: Path) -> None:
    expected = {
        write_picture(tmp_path / "a" / "b" / "c" / "deep.png", 1),
        write_picture(tmp_path / "été à Zürich" / "фото 1.jpg", 2),
        write_picture(tmp_path / "with space" / "IMG 0001.JPG", 3, "JPEG"),
    }
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    found = scan([str(tmp_path)])
    assert {Path(f.path) for f in found.media} == expected


def test_symlink_loops_end_and_each_folder_is_read_once(tmp_path: Path) -> None:
    write_picture(tmp_path / "photos" / "one.png", 1)
    os.symlink(tmp_path, tmp_path / "photos" / "loop")
    os.symlink(tmp_path / "photos", tmp_path / "alias")
    found = scan([str(tmp_path)])
    assert len(found.media) == 1


def test_hidden_files_fifos_and_dangling_links_are_skipped(tmp_path: Path) -> None:
    write_picture(tmp_path / "seen.png", 1)
    write_picture(tmp_path / ".hidden.png", 2)
    write_picture(tmp_path / ".thumbnails" / "t.png", 3)
    os.mkfifo(tmp_path / "pipe.jpg")
    os.symlink(tmp_path / "nowhere.jpg", tmp_path / "dangling.jpg")
    found = scan([str(tmp_path)])
    assert [Path(f.path).name for f in found.media] == ["seen.png"]


def test_sidecar_captions_pair_with_their_image(tmp_path: Path) -> None:
    image = write_picture(tmp_path / "beach.jpg", 1, "JPEG")
    (tmp_path / "beach.txt").write_text("a sunny beach")
    (tmp_path / "orphan.txt").write_text("no image for me")
    found = scan([str(tmp_path)])
    assert found.sidecars[str(image)].path == str(tmp_path / "beach.txt")
    assert len(found.sidecars) == 1


def test_the_library_inside_a_root_is_not_scanned(tmp_path: Path) -> None:
    write_picture(tmp_path / "photo.png", 1)
    write_picture(tmp_path / "lib" / "thumb.png", 2)
    found = scan([str(tmp_path)], exclude=str(tmp_path / "lib"))
    assert [Path(f.path).name for f in found.media] == ["photo.png"]


def test_a_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        normalize_roots([tmp_path / "nope"])
