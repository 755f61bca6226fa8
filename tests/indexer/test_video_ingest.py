"""Videos through `xmodal index` on real files: found beside pictures, cut into moments that cover them, searched
as moments, incremental like pictures (unchanged, moved, copied, deleted), and every bad video recorded with a
reason while the run goes on."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from data.scene_videos import generate
from indexer.video.isolated import DecoderCrashed, IsolatedSampler, SamplingPlan
from indexer.video.probe import VideoInfo, VideoLimits
from tests.conftest import Cli, make_photo_folder
from tests.indexer.test_video_decode import truncated, write_audio, write_video

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def scene_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 20 s videos of the demo scenes (256×256, 10 fps) with known moments."""
    root = tmp_path_factory.mktemp("scene-videos")
    generate(root, 2, seed=5)
    return root / "videos"


@pytest.fixture(autouse=True)
def short_moments(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny model's random weights see every frame alike: moments of at most 5 s give each video several."""
    monkeypatch.setenv("XMODAL_VIDEO__MAX_MOMENT_SECONDS", "5")


def media_folder(tmp_path: Path, scene_videos: Path) -> Path:
    folder = tmp_path / "media"
    make_photo_folder(folder, 3)
    for video in sorted(scene_videos.glob("*.mp4")):
        shutil.copy(video, folder / video.name)
    return folder


def rows(library: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(library / "catalog.sqlite") as db:
        return db.execute(sql).fetchall()


def moments_of(library: Path) -> dict[str, list[tuple[float, float, float]]]:
    """{video path: [(start, end, frame time)] in time order}."""
    found: dict[str, list[tuple[float, float, float]]] = {}
    query = (
        "SELECT v.path, m.start_s, m.end_s, m.frame_s FROM media m JOIN media v ON m.parent_id = v.id "
        "ORDER BY v.path, m.start_s"
    )
    for path, start, end, frame in rows(library, query):
        found.setdefault(str(path), []).append((float(start), float(end), float(frame)))  # type: ignore[arg-type]
    return found


def test_videos_become_moments_that_cover_them_beside_the_pictures(
    cli: Cli, tmp_path: Path, scene_videos: Path
) -> None:
    folder = media_folder(tmp_path, scene_videos)
    report = cli.index(folder)
    assert (report["added"], report["failed"], report["videos"], report["frames"]) == (5, 0, 2, 40)
    stats = cli.stats()
    assert (stats["images"], stats["videos"]) == (3, 2) and stats["moments"] == report["moments"] >= 8
    assert stats["indexes"]["media"]["count"] == 3 + stats["moments"]  # moments are searchable, videos are not
    for path, moments in moments_of(cli.library).items():
        assert path.endswith(".mp4")
        assert moments[0][0] == 0.0 and moments[-1][1] == 20.0  # from the first frame to the header's duration
        for (_, end, _), (start, _, _) in itertools.pairwise(moments):
            assert end == start  # no gap, no overlap
        assert all(start <= frame <= end for start, end, frame in moments)
    (frames,) = rows(cli.library, "SELECT count(*) FROM video_frames")[0]
    assert frames == 40  # kept: moments can be made again without decoding


def test_search_returns_moments_and_type_filters_them(cli: Cli, tmp_path: Path, scene_videos: Path) -> None:
    folder = media_folder(tmp_path, scene_videos)
    cli.index(folder)
    moments = cli.search_json("a red square", "--type", "video", "-k", "50", "--no-moments")
    assert moments and all(hit["kind"] == "video" and hit["path"].endswith(".mp4") for hit in moments)
    assert len({hit["video_id"] for hit in moments}) == 2
    for hit in moments:
        assert hit["start"] <= hit["frame_time"] <= hit["end"] <= hit["duration"] == 20.0
    grouped = cli.search_json("a red square", "--type", "video", "-k", "50")
    assert len(grouped) == 2  # one hit per video, its best moment first
    for hit in grouped:
        others = hit["moments"]
        assert all(other["cosine"] <= hit["cosine"] for other in others)
        assert 1 + len(others) == sum(1 for moment in moments if moment["video_id"] == hit["video_id"])
    pictures = cli.search_json("a red square", "--type", "image", "-k", "50")
    assert len(pictures) == 3 and all(hit["kind"] == "image" for hit in pictures)
    line = cli("search", "a red square", "--type", "video", "-k", "1")
    assert " @ 00:00:" in line and ".mp4" in line


def test_an_unchanged_video_is_not_read_again_and_a_moved_one_keeps_its_moments(
    cli: Cli, tmp_path: Path, scene_videos: Path
) -> None:
    folder = media_folder(tmp_path, scene_videos)
    cli.index(folder)
    before = moments_of(cli.library)
    ids_before = rows(cli.library, "SELECT id FROM media WHERE parent_id IS NOT NULL ORDER BY id")
    again = cli.index(folder)
    assert (again["unchanged"], again["videos"], again["frames"]) == (5, 0, 0)
    (folder / "trip").mkdir()
    old = sorted(folder.glob("*.mp4"))[0]
    new = folder / "trip" / "Été 2024.mp4"
    old.rename(new)
    moved = cli.index(folder)
    assert (moved["moved"], moved["videos"], moved["frames"]) == (1, 0, 0)
    after = moments_of(cli.library)
    assert after[str(new)] == before[str(old)] and str(old) not in after
    assert rows(cli.library, "SELECT id FROM media WHERE parent_id IS NOT NULL ORDER BY id") == ids_before
    hits = cli.search_json("a red square", "--type", "video", "-k", "50", "--no-moments")
    assert {hit["path"] for hit in hits} == {str(new), str(sorted(folder.glob("*.mp4"))[0])}


def test_a_copied_video_gets_its_own_moments_and_a_deleted_one_takes_them_along(
    cli: Cli, tmp_path: Path, scene_videos: Path
) -> None:
    folder = media_folder(tmp_path, scene_videos)
    cli.index(folder)
    original = sorted(folder.glob("*.mp4"))[0]
    shutil.copy(original, folder / "copy.mp4")
    copied = cli.index(folder)
    assert (copied["added"], copied["videos"]) == (1, 1)
    moments = moments_of(cli.library)
    assert [m[:2] for m in moments[str(folder / "copy.mp4")]] == [m[:2] for m in moments[str(original)]]
    count = cli.stats()["moments"]
    original.unlink()
    removed = cli.index(folder)
    assert removed["removed"] == 1
    stats = cli.stats()
    assert stats["videos"] == 2 and stats["moments"] == count - len(moments[str(original)])
    assert stats["indexes"]["media"]["count"] == 3 + stats["moments"]
    hits = cli.search_json("a red square", "--type", "video", "-k", "50", "--no-moments")
    assert str(original) not in {hit["path"] for hit in hits}


def test_every_bad_video_is_recorded_with_a_reason_and_the_run_goes_on(
    cli: Cli, tmp_path: Path, scene_videos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    good = shutil.copy(sorted(scene_videos.glob("*.mp4"))[0], folder / "good.mp4")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "garbage.mov").write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, np.uint8).tobytes())
    make_photo_folder(tmp_path / "pics", 1)
    shutil.copy(next((tmp_path / "pics").glob("*.jpg")), folder / "photo.mp4")
    write_audio(folder / "song.mp4", "aac")
    known = write_video(tmp_path / "known.avi", codec="mpeg4", seconds=1.0).read_bytes()
    (folder / "unknown.avi").write_bytes(known.replace(b"FMP4", b"QQQQ"))
    truncated(write_video(tmp_path / "plain.mp4", seconds=4.0), folder / "no-index.mp4")  # its index was at the end
    broken = write_video(tmp_path / "cut.mkv", seconds=10.0)
    truncated(broken, folder / "cut.mkv")
    write_video(folder / "wide.mp4", size=(640, 360), seconds=1.0)
    monkeypatch.setenv("XMODAL_VIDEO__MAX_PIXELS", str(320 * 240))
    report = cli.index(folder)
    reasons = {Path(item["path"]).name: item["reason"] for item in cli.stats()["failures"]}
    assert reasons == {
        "empty.mp4": "empty file (0 bytes)",
        "garbage.mov": reasons["garbage.mov"],
        "photo.mp4": "a picture, not a video",
        "song.mp4": "an audio-only file: no video stream",
        "unknown.avi": "its video is in a codec xmodal cannot decode",
        "no-index.mp4": reasons["no-index.mp4"],
        "wide.mp4": reasons["wide.mp4"],
    }
    assert reasons["garbage.mov"].startswith("not a video") and reasons["no-index.mp4"].startswith("not a video")
    assert "XMODAL_VIDEO__MAX_PIXELS" in reasons["wide.mp4"]
    assert report["failed"] == 7 and report["videos"] == 2  # good.mp4, and cut.mkv up to where it breaks
    stats = cli.stats()
    (partial,) = stats["partial_videos"]
    assert Path(partial["path"]).name == "cut.mkv" and "indexed up to" in partial["reason"]
    assert Path(good).name in {Path(path).name for path in moments_of(cli.library)}


def test_a_decoder_that_crashes_or_hangs_costs_that_video_only(scene_videos: Path) -> None:
    """The child is killed with SIGSEGV (what a crash in FFmpeg does) and stopped with SIGSTOP (a hang inside one
    FFmpeg call): each ends that video with a reason, and the next video gets a fresh child."""
    first, second = sorted(str(path) for path in scene_videos.glob("*.mp4"))
    plan = SamplingPlan(VideoLimits(), 1.0, 0.1, memory_bytes=2 << 30)
    with IsolatedSampler(plan, stall_seconds=5.0) as sampler:  # a busy machine may take a second per frame
        stream = sampler.sample(first)
        assert isinstance(next(stream), VideoInfo)
        next(stream)
        assert sampler._child is not None
        os.kill(sampler._child.process.pid, signal.SIGSEGV)
        with pytest.raises(DecoderCrashed, match="crashed on this video \\(signal 11\\)"):
            list(stream)
        assert len(list(sampler.sample(second))) == 21  # its info and 20 frames, from a new child
        stream = sampler.sample(first)
        next(stream)
        assert sampler._child is not None
        os.kill(sampler._child.process.pid, signal.SIGSTOP)
        with pytest.raises(DecoderCrashed, match="stalled: nothing for 5 s"):
            list(stream)
        assert len(list(sampler.sample(second))) == 21
        assert sampler.started == 3


def test_a_second_model_reranks_moments_by_their_frames(
    cli: Cli, tmp_path: Path, scene_videos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reranker sees a moment as its frame at frame_time, decoded from the video and cached by the video's
    content and that time: every moment in its depth is rescored, once."""
    folder = media_folder(tmp_path, scene_videos)
    cli.index(folder)
    monkeypatch.setenv("XMODAL_RANKING__RERANK_MODEL", "demo")
    monkeypatch.setenv("XMODAL_RANKING__RERANK_DEPTH", "100")
    hits = cli.search_json("a red square", "--type", "video", "-k", "50", "--no-moments", "--no-hybrid")
    assert hits and all("rerank" in hit["stages"] for hit in hits)
    (cache,) = (cli.library / "rerank").glob("*.sqlite")
    with sqlite3.connect(cache) as db:
        (keys,) = db.execute("SELECT count(*) FROM vectors WHERE content_hash LIKE '%@%'").fetchone()
    assert keys == len(hits)  # one per moment: the video's hash and the frame's time
    again = cli.search_json("a red square", "--type", "video", "-k", "50", "--no-moments", "--no-hybrid")
    assert [hit["id"] for hit in again] == [hit["id"] for hit in hits]


def test_reindex_samples_videos_again(cli: Cli, tmp_path: Path, scene_videos: Path) -> None:
    """--reindex forgets every vector: a video's frames and moments go with them, and it is sampled again."""
    folder = media_folder(tmp_path, scene_videos)
    cli.index(folder)
    moments = cli.stats()["moments"]
    again = cli.index(folder, extra=("--reindex",))
    assert (again["updated"], again["videos"], again["frames"]) == (5, 2, 40)
    stats = cli.stats()
    assert stats["moments"] == moments and stats["indexes"]["media"]["count"] == 3 + moments
