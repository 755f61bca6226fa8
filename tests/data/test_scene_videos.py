"""Videos of the demo world: decoded frames show each scene exactly in its moment, and the ground truth says so."""

from __future__ import annotations

import csv
import itertools
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from data.scene_videos import Moment, SceneVideo, generate, plan_moments, read_scene_video, write_scene_video
from data.scenes import BACKGROUNDS, COLOURS, HELDOUT_TEMPLATES, POSITIONS, TRAIN_TEMPLATES, Scene
from tests.conftest import REPO

FPS, SECONDS, SIZE = 10, 6.0, 256
RED = Moment(1.0, 3.0, Scene("red", "circle", "large", "left", 1, "sand"), (0.0, -0.08), (0.0, 0.08))
BLUE = Moment(3.0, 4.5, Scene("blue", "square", "small", "right", 1, "sand"))  # still, right after the red one
YELLOW = Moment(5.0, 5.8, Scene("yellow", "triangle", "large", "top", 2, "sand"), (-0.06, 0.0), (0.06, 0.0))


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> SceneVideo:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return write_scene_video(path, [YELLOW, RED, BLUE], SECONDS, SIZE, FPS, seed=3)


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(np.int32) for frame in container.decode(video=0)]


def near(frame: np.ndarray, colour: tuple[int, int, int], within: float) -> np.ndarray:
    """Pixels within `within` (Euclidean, RGB) of `colour`."""
    return np.asarray(np.linalg.norm(frame - np.array(colour), axis=-1) < within)


def test_the_file_is_h264_in_a_streamable_mp4_of_the_asked_length(video: SceneVideo) -> None:
    with av.open(str(video.path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (stream.width, stream.height, stream.frames) == (SIZE, SIZE, SECONDS * FPS)
        assert container.duration == pytest.approx(SECONDS * 1_000_000, abs=1000)
        times = [frame.time for frame in container.decode(stream)]
    assert times == pytest.approx([i / FPS for i in range(int(SECONDS * FPS))])
    head = video.path.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # faststart: a browser can play it before the end arrives


def test_frames_show_each_scene_in_its_moment_and_only_background_outside(video: SceneVideo) -> None:
    frames = decode(video.path)
    assert [m.scene.colour for m in video.moments] == ["red", "blue", "yellow"]  # sorted by time
    background = frames[0][0, 0]
    assert np.linalg.norm(background - np.array(BACKGROUNDS["sand"])) < 40
    for index, frame in enumerate(frames):
        # Close to the renderer's picture scaled up: what H.264 loses is small.
        expected = np.asarray(video.picture(index).resize((SIZE, SIZE), Image.Resampling.NEAREST), dtype=np.int32)
        assert np.abs(frame - expected).mean() < 3
        moment = video.moment_at(index)
        shown = [near(frame, COLOURS[m.scene.colour], 60).sum() for m in video.moments]
        if moment is None:
            assert np.abs(frame - background).max() < 16 and max(shown) == 0
            continue
        # Its own colour at the shape's spot (one shape), no other scene's colour anywhere.
        assert [bool(count) for count in shown] == [m is moment for m in video.moments]
        if moment.scene.count == 1:
            dx, dy = moment.offset(index, FPS)
            px, py = POSITIONS[moment.scene.position]
            centre = frame[round((py + dy) * SIZE), round((px + dx) * SIZE)]
            assert np.linalg.norm(centre - np.array(COLOURS[moment.scene.colour])) < 60
    assert [video.moment_at(i) for i in (9, 10, 29, 30, 44, 45, 49, 50, 57, 58)] == [
        None, RED, RED, BLUE, BLUE, None, None, YELLOW, YELLOW, None,
    ]  # fmt: skip


def test_a_moving_scene_moves_as_its_truth_says(video: SceneVideo) -> None:
    frames = decode(video.path)
    for moment in (RED, YELLOW):
        shown = moment.frames(FPS)
        first, last = (near(frames[i], COLOURS[moment.scene.colour], 60).nonzero() for i in (shown[0], shown[-1]))
        moved = (last[1].mean() - first[1].mean(), last[0].mean() - first[0].mean())  # x, y in pixels
        (x0, y0), (x1, y1) = moment.moves_from, moment.moves_to
        assert moved == pytest.approx(((x1 - x0) * SIZE, (y1 - y0) * SIZE), abs=6)
    still = np.array([[c.mean() for c in near(frames[i], COLOURS["blue"], 60).nonzero()] for i in BLUE.frames(FPS)])
    assert np.ptp(still, axis=0).max() < 1  # a still scene stays put


def test_moments_csv_holds_every_caption_of_every_moment_once(tmp_path: Path) -> None:
    made = generate(tmp_path, 3, seed=5, seconds=12, size=128, heldout=True)
    with open(tmp_path / "moments.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_video: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for row in rows:
        by_video[row["video"]].append((float(row["start"]), float(row["end"]), row["caption"]))
    assert sorted(by_video) == [f"videos/video-5-{i:04d}.mp4" for i in range(3)]
    for video in made:
        assert video.path.is_file() and read_scene_video(video.path.with_suffix(".json")) == video
        expected = [(m.start, m.end, c) for m in video.moments for c in m.scene.captions(HELDOUT_TEMPLATES)]
        assert by_video[f"videos/{video.path.name}"] == expected
        captions = [caption for _, _, caption in expected]
        assert len(captions) == len(set(captions))  # each caption names one moment of its video
        assert not set(captions) & {c for m in video.moments for c in m.scene.captions(TRAIN_TEMPLATES)}
        assert len(decode(video.path)) == 12 * FPS


def test_the_same_seed_writes_the_same_videos(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 2, seed=9, seconds=5, size=64)
    b = generate(tmp_path / "b", 2, seed=9, seconds=5, size=64)
    assert [v.moments for v in a] == [v.moments for v in b]
    for name in ("moments.csv", "videos/video-9-0000.json", "videos/video-9-0001.json", "videos/video-9-0001.mp4"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = generate(tmp_path / "c", 2, seed=10, seconds=5, size=64)
    assert [v.moments for v in other] != [v.moments for v in a]
    longer = generate(tmp_path / "d", 3, seed=9, seconds=5, size=64)
    assert [v.moments for v in longer[:2]] == [v.moments for v in a]  # the n-th video depends on seed and n only


def test_the_command_writes_to_a_unicode_path(tmp_path: Path) -> None:
    out = tmp_path / "vidéos 视频"
    command = [sys.executable, "-m", "data.scene_videos", str(out), "--count", "1", "--seconds", "3", "--size", "64"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(decode(out / "videos" / "video-0-0000.mp4")) == 30
    clip = write_scene_video(out / "clip ✓.mp4", [(0.5, 1.5, Scene("green", "circle", "large", "left", 1, "sky"))], 2)
    frames = decode(clip.path)
    assert len(frames) == 20 and near(frames[10], COLOURS["green"], 60).any() and clip.moments[0].moves_from != (0, 0)


def test_vp9_in_webm_too(tmp_path: Path) -> None:
    clip = write_scene_video(tmp_path / "clip.webm", [BLUE], 5, size=64, codec="vp9")
    with av.open(str(clip.path)) as container:
        assert container.streams.video[0].codec_context.name == "vp9"
        assert len(list(container.decode(video=0))) == 50


def test_bad_intervals_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match="overlap"):
        write_scene_video(path, [RED, Moment(2.5, 3.5, BLUE.scene)], SECONDS)
    with pytest.raises(ValueError, match="one background"):
        write_scene_video(path, [RED, Moment(4.0, 5.0, Scene("blue", "square", "small", "right", 1, "night"))], 6)
    with pytest.raises(ValueError, match="inside"):
        write_scene_video(path, [RED], 2.5)
    with pytest.raises(ValueError, match="even"):
        write_scene_video(path, [RED], SECONDS, size=255)
    with pytest.raises(ValueError, match="webm"):
        write_scene_video(path, [RED], SECONDS, codec="vp9")
    assert not path.exists()


def test_plans_hold_three_to_five_distinct_scenes_of_two_to_six_seconds() -> None:
    counts = set()
    for seed in range(200):
        moments = plan_moments(random.Random(seed), 20.0, FPS, "grass")
        counts.add(len(moments))
        assert len({m.scene.colour for m in moments}) == len(moments)  # any caption: one moment per video
        assert moments[0].start > 0 and moments[-1].end <= 20.0
        assert all(2.0 - 1e-9 <= m.end - m.start <= 6.0 + 1e-9 for m in moments)
        assert all(a.end <= b.start for a, b in itertools.pairwise(moments))
    assert counts == {3, 4, 5}
    assert len(plan_moments(random.Random(0), 1.0, FPS, "grass")) == 1  # a clip too short for more
