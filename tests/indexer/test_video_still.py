"""A video's frame at a time, as a thumbnail is made from it: the very frame a sequential decode shows there
(seeking to the keyframe before it and decoding forward), upright, small, and refused with a reason when the
video cannot give it."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from data.scene_videos import Codec, SceneVideo, write_scene_video
from data.scenes import Scene
from indexer.video import VideoDecodeError, VideoLimits, VideoOverLimit
from indexer.video.still import frame_at
from tests.indexer.test_video_decode import RED, close
from tests.indexer.test_video_decode import write_video as write_marked_video

pytestmark = pytest.mark.timeout(60)

SCENE = Scene("yellow", "triangle", "large", "right", 2, "grass")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> SceneVideo:
    """10 s at 10 fps, a keyframe every second, a scene moving from 2 to 8 s: every frame there differs."""
    folder = tmp_path_factory.mktemp("frames")
    return write_scene_video(folder / "clip.mp4", [(2.0, 8.0, SCENE)], 10.0, seed=4)


def sequential(path: Path, side: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [np.asarray(frame.to_image(width=side, height=side)) for frame in container.decode(video=0)]


@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_the_frame_at_a_time_is_the_one_a_player_shows_there(tmp_path: Path, codec: Codec) -> None:
    suffix = {"h264": ".mp4", "vp9": ".webm"}[codec]
    video = write_scene_video(tmp_path / f"clip{suffix}", [(2.0, 8.0, SCENE)], 10.0, seed=4, codec=codec)
    frames = sequential(video.path, video.size)
    # On a keyframe, just before and after one, mid-interval, the first and last frames; less than half a frame
    # early still counts as the frame (times in a catalog are rounded).
    for seconds, frame in [(0.0, 0), (0.9, 9), (1.0, 10), (1.1, 11), (4.56, 46), (4.97, 50), (5.0, 50), (9.9, 99)]:
        image = frame_at(video.path, seconds, video.size)
        assert np.array_equal(np.asarray(image), frames[frame]), (seconds, frame)
    assert np.array_equal(np.asarray(frame_at(video.path, 60.0, video.size)), frames[-1])  # past the end: the last


def test_the_frame_is_scaled_down_never_up(clip: SceneVideo) -> None:
    assert frame_at(clip.path, 3.0, 100).size == (100, 100)
    assert frame_at(clip.path, 3.0, 1024).size == (256, 256)


def test_a_rotated_video_gives_an_upright_frame(tmp_path: Path) -> None:
    """The marker coded top-left of a video a phone recorded upright is shown bottom-left (see indexer's test)."""
    path = write_marked_video(tmp_path / "portrait.mp4", seconds=1.0, rotation=90, colour=lambda _t: RED)
    image = frame_at(path, 0.5, 512)
    assert image.size == (120, 160)
    assert image.getpixel((3, 156)) == pytest.approx((0, 0, 0), abs=30)
    assert close(image.getpixel((3, 3)), RED)  # type: ignore[arg-type]


def test_what_cannot_give_a_frame_is_refused_with_a_reason(clip: SceneVideo, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        frame_at(tmp_path / "gone.mp4", 1.0, 256)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01 not a video " * 200)
    with pytest.raises(VideoDecodeError, match="not a video"):
        frame_at(garbage, 1.0, 256)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.path.read_bytes()[:1500])  # the index (moov first), then almost no frames
    with pytest.raises(VideoDecodeError):
        frame_at(cut, 5.0, 256)
    spent = VideoLimits(max_wall_seconds=-1.0)  # a budget already spent: stopped at the first packet
    with pytest.raises(VideoOverLimit, match="decoding took over"):
        frame_at(clip.path, 5.0, 256, spent)
