"""Video decoding on real files written here with PyAV: what is sampled and when, where shots change, and every
hostile file refused with a reason (or indexed up to where it breaks) in bounded time."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.frame import PictureType
from PIL import Image

from indexer.decode import DecodeError
from indexer.hashing import content_hash, content_sample_hash
from indexer.video import (
    SCENE_CUT_THRESHOLD,
    SampledFrame,
    VideoDecodeError,
    VideoLimits,
    VideoOverLimit,
    VideoTruncated,
    probe,
    sample_frames,
    scene_distance,
)
from indexer.video import sampling as sampling_module
from indexer.video.scenes import thumbnail
from tests.conftest import REPO

pytestmark = pytest.mark.timeout(30)  # a hostile file must never hang a run; none of these takes seconds

LIMITS = VideoLimits()
RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 40)
Colour = tuple[int, int, int]


def shots(t: float) -> Colour:
    """The reference clip: red until 3.0 s, blue until 6.6 s, then green (changes on frame boundaries at 25 fps)."""
    return RED if t < 3.0 else BLUE if t < 6.6 else GREEN


def write_video(
    path: Path,
    *,
    codec: str = "libx264",
    size: tuple[int, int] = (160, 120),
    fps: int = 25,
    seconds: float = 10.0,
    colour: Callable[[float], Colour] = shots,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    keyframes: set[int] | None = None,
    rotation: int | None = None,
) -> Path:
    """A clip of flat colour with a white square moving across it (motion within a shot), and a dark marker in
    the top-left corner (orientation)."""
    width, height = size
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = options or {}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for index in range(round(seconds * fps)):
            pixels = np.empty((height, width, 3), np.uint8)
            pixels[:] = colour(index / fps)
            x = (index * 3) % (width - height // 3)
            pixels[height // 3 : 2 * height // 3, x : x + height // 3] = 255
            pixels[: height // 4, : width // 4] = 0
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            if keyframes is not None and index in keyframes:
                frame.pict_type = PictureType.I
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_audio(path: Path, codec: str) -> Path:
    samples = {"aac": 1024, "libopus": 960}[codec]  # the encoder's frame size
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=48000)
        for index in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, index * samples
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def collect(path: Path, limits: VideoLimits = LIMITS, **kwargs: object) -> list[SampledFrame]:
    return list(sample_frames(path, limits, **kwargs))  # type: ignore[arg-type]


def mean_colour(frame: SampledFrame) -> Colour:
    """The background's colour, from a corner the square and the marker never reach."""
    width, height = frame.image.size
    r, g, b = frame.image.getpixel((width - 3, height - 3))  # type: ignore[misc]
    return r, g, b


def close(a: Colour, b: Colour) -> bool:
    return all(abs(x - y) <= 20 for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="module")
def clip(folder: Path) -> Path:
    """10 s of H.264 at 25 fps in an mp4."""
    return write_video(folder / "clip.mp4")


# What is sampled, and when.


def test_a_10s_clip_at_25fps_gives_one_frame_a_second(clip: Path) -> None:
    frames = collect(clip)
    assert [frame.time for frame in frames] == [float(second) for second in range(10)]
    assert all(frame.image.mode == "RGB" and frame.image.size == (160, 120) for frame in frames)  # never enlarged
    assert [close(mean_colour(frame), shots(frame.time)) for frame in frames] == [True] * 10


def test_a_cut_is_flagged_exactly_where_the_content_changes(clip: Path) -> None:
    assert [frame.time for frame in collect(clip) if frame.cut] == [0.0, 3.0, 7.0]  # the first sample after 6.6
    fine = collect(clip, every_seconds=0.2)
    assert [frame.time for frame in fine if frame.cut] == [0.0, 3.0, 6.6]  # the moving square is no cut
    assert len(fine) == 50


def test_sampling_interval_and_picture_size_follow_the_arguments(folder: Path) -> None:
    path = write_video(folder / "wide.mp4", size=(640, 360), seconds=2.0, colour=lambda t: RED)
    frames = collect(path, every_seconds=0.5, max_side=256)
    assert [frame.time for frame in frames] == [0.0, 0.52, 1.0, 1.52]  # 0.48 and 0.52 are as near 0.5: the later
    assert {frame.image.size for frame in frames} == {(256, 144)}  # decoded small, aspect kept
    with pytest.raises(ValueError):
        collect(path, every_seconds=0)


@pytest.mark.parametrize(
    ("name", "codec"),
    [("h264.mkv", "libx264"), ("h264.mov", "libx264"), ("h264.m4v", "libx264"), ("vp9.webm", "libvpx-vp9"),
     ("mpeg4.avi", "mpeg4")],
)  # fmt: skip
def test_every_container_and_codec_samples_alike(folder: Path, name: str, codec: str) -> None:
    path = write_video(folder / name, codec=codec, seconds=4.0)
    info = probe(path, LIMITS)
    assert (info.width, info.height, info.fps, info.rotation) == (160, 120, 25.0, 0)
    assert info.codec == {"libx264": "h264", "libvpx-vp9": "vp9", "mpeg4": "mpeg4"}[codec]
    assert info.duration == pytest.approx(4.0, abs=0.05)
    frames = collect(path)
    assert [frame.time for frame in frames] == [0.0, 1.0, 2.0, 3.0]
    assert [frame.cut for frame in frames] == [True, False, False, True]
    assert close(mean_colour(frames[3]), BLUE)


def test_probe_reports_what_the_header_says(clip: Path) -> None:
    info = probe(clip, LIMITS)
    assert (info.duration, info.fps, info.width, info.height) == (10.0, 25.0, 160, 120)
    assert (info.codec, info.frames, info.rotation) == ("h264", 250, 0)


def test_a_rotated_video_is_sampled_upright(folder: Path) -> None:
    """A phone held upright records landscape pixels and a display matrix; a player turns them, and so do we.
    FFmpeg's rotation is counter-clockwise, so the marker coded top-left is shown bottom-left."""
    path = write_video(folder / "portrait.mp4", seconds=1.0, rotation=90, colour=lambda t: RED)
    info = probe(path, LIMITS)
    assert (info.width, info.height, info.rotation) == (120, 160, 90)
    frame = collect(path)[0]
    assert frame.image.size == (120, 160)
    assert frame.image.getpixel((3, 156)) == pytest.approx((0, 0, 0), abs=30)  # the marker, bottom-left
    assert close(frame.image.getpixel((3, 3)), RED)  # type: ignore[arg-type]


def test_non_square_pixels_are_made_square(folder: Path) -> None:
    path = folder / "anamorphic.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(2, 1)
        for packet in stream.encode(av.VideoFrame(160, 120, "yuv420p")):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert (probe(path, LIMITS).width, probe(path, LIMITS).height) == (320, 120)
    assert collect(path)[0].image.size == (320, 120)


# Skipping what no sample needs.


def decoded(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Counts the frames that come out of the sampler's decoder."""
    count = [0]
    emit = sampling_module._Sampler._emit

    def counting(self: sampling_module._Sampler, frames: list[av.VideoFrame]) -> Iterator[SampledFrame]:
        count[0] += len(frames)
        return emit(self, frames)

    monkeypatch.setattr(sampling_module._Sampler, "_emit", counting)

    def take() -> int:
        value, count[0] = count[0], 0
        return value

    return take


@pytest.mark.parametrize("every", [1.0, 0.5, 0.3, 2.5])
def test_skipping_picks_the_frames_decoding_everything_picks(
    folder: Path, monkeypatch: pytest.MonkeyPatch, every: float
) -> None:
    """Keyframes at irregular times: close together (so the decoder is drained early), then far apart (so that
    guess is wrong and the packets are decoded again from the keyframe), B-frames throughout."""
    path = folder / "irregular.mp4"
    if not path.exists():
        keyframes = {0, 10, 20, 30, 40, 50, 125, 140, 150, 160, 170, 180, 230}
        options = {"g": "1000", "sc_threshold": "0", "forced-idr": "1", "bf": "3"}
        write_video(path, keyframes=keyframes, options=options)
    count = decoded(monkeypatch)
    everything = collect(path, every_seconds=every, skip=False)
    all_frames = count()
    skipped = collect(path, every_seconds=every)
    assert count() < all_frames
    assert [(f.time, f.cut) for f in skipped] == [(f.time, f.cut) for f in everything]
    for a, b in zip(skipped, everything, strict=True):
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image)), a.time


def test_short_keyframe_intervals_decode_a_fraction_of_the_frames(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_video(folder / "phone.mp4", options={"g": "25", "keyint_min": "25", "sc_threshold": "0"})
    count = decoded(monkeypatch)
    assert len(collect(path, every_seconds=2.0)) == 5
    assert count() < 250 // 4


# Hostile files: each refused with a reason, or indexed up to where it breaks, in bounded time.


def refused(path: Path, limits: VideoLimits = LIMITS) -> str:
    """The reason probe and sample_frames both give."""
    with pytest.raises(VideoDecodeError) as probed:
        probe(path, limits)
    with pytest.raises(VideoDecodeError) as sampled:
        collect(path, limits)
    assert not isinstance(sampled.value, VideoTruncated)  # nothing was yielded
    assert str(probed.value) == str(sampled.value)
    assert isinstance(probed.value, DecodeError)  # recorded by the indexer like a bad picture
    return str(probed.value)


def test_an_empty_file_is_refused(folder: Path) -> None:
    path = folder / "empty.mp4"
    path.write_bytes(b"")
    assert refused(path) == "empty file (0 bytes)"


def test_garbage_named_mp4_is_refused(folder: Path) -> None:
    path = folder / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    assert refused(path).startswith("not a video")


def test_a_picture_named_mp4_is_refused(folder: Path) -> None:
    path = folder / "photo.mp4"
    Image.new("RGB", (64, 48), RED).save(path, format="JPEG")
    assert refused(path) == "a picture, not a video"


@pytest.mark.parametrize(("name", "codec"), [("song.m4a", "aac"), ("voice.ogg", "libopus")])
def test_an_audio_only_file_is_refused(folder: Path, name: str, codec: str) -> None:
    assert refused(write_audio(folder / name, codec)) == "an audio-only file: no video stream"


def test_a_codec_ffmpeg_cannot_decode_is_refused(folder: Path) -> None:
    """An AVI whose fourcc names no codec FFmpeg knows: its stream has no decoder (and no codec context, which
    PyAV before 18.1 would crash on)."""
    data = write_video(folder / "known.avi", codec="mpeg4", seconds=1.0).read_bytes()
    assert data.count(b"FMP4") == 2  # the stream header's and the bitmap header's fourcc
    path = folder / "unknown.avi"
    path.write_bytes(data.replace(b"FMP4", b"QQQQ"))
    assert refused(path) == "its video is in a codec xmodal cannot decode"


def test_a_resolution_over_the_pixel_limit_is_refused_from_the_header(clip: Path) -> None:
    reason = refused(clip, VideoLimits(max_pixels=160 * 120 - 1))
    assert reason == "video is 160×120 (19,200 pixels a frame), over the limit of 19,199"
    with pytest.raises(VideoOverLimit) as exc:
        probe(clip, VideoLimits(max_pixels=10_000))
    assert exc.value.limit == "max_pixels"


def test_a_video_over_the_duration_limit_is_refused_from_the_header(clip: Path) -> None:
    reason = refused(clip, VideoLimits(max_duration_seconds=5))
    assert reason == "video is 10 s long, over the limit of 5 s"


def test_a_video_whose_header_gives_no_duration_is_stopped_at_the_limit(folder: Path) -> None:
    """A live WebM carries no duration: the packets' times are held to the limit as they come."""
    path = write_video(folder / "live.webm", codec="libvpx-vp9", container_options={"live": "1"})
    assert probe(path, LIMITS).duration is None
    times = []
    with pytest.raises(VideoOverLimit) as exc:
        for frame in sample_frames(path, VideoLimits(max_duration_seconds=4.5)):
            times.append(frame.time)
    assert exc.value.limit == "max_duration_seconds"
    assert times == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_the_wall_clock_budget_stops_a_video_and_names_the_limit(clip: Path) -> None:
    with pytest.raises(VideoOverLimit) as exc:
        collect(clip, VideoLimits(max_wall_seconds=0))
    assert exc.value.limit == "max_wall_seconds"
    assert str(exc.value) == "decoding took over 0 s, the limit for one video"


def truncated(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


@pytest.mark.parametrize(
    ("name", "codec", "options"),
    [("fast.mp4", "libx264", {"movflags": "faststart"}), ("cut.webm", "libvpx-vp9", {}), ("cut.mkv", "libx264", {})],
)
def test_a_truncated_video_yields_its_frames_then_says_where_it_broke(
    folder: Path, name: str, codec: str, options: dict[str, str]
) -> None:
    """Half of the file: the frames in that half are good and come out; then VideoTruncated says how far the
    video got. The index (mp4 with faststart) or the header (Matroska) still declares 10 s."""
    whole = write_video(folder / f"whole-{name}", codec=codec, container_options=options)
    path = truncated(whole, folder / name)
    frames: list[SampledFrame] = []
    with pytest.raises(VideoTruncated) as exc:
        for frame in sample_frames(path, LIMITS):
            frames.append(frame)
    assert 1 <= len(frames) < 10 and exc.value.frames == len(frames)
    assert [frame.time for frame in frames] == [float(second) for second in range(len(frames))]
    assert frames[-1].time <= exc.value.seconds < 10
    assert "truncated" in str(exc.value)
    assert probe(path, LIMITS).duration == pytest.approx(10.0, abs=0.05)  # the header cannot tell


def test_a_truncated_mp4_without_its_index_is_refused(folder: Path, clip: Path) -> None:
    """An mp4 written the usual way keeps its index at the end: the first half alone holds no playable video."""
    reason = refused(truncated(clip, folder / "cut.mp4"))
    assert reason == "not a video, or one xmodal cannot read (damaged, or cut short before its index)"


def test_a_unicode_path_is_read(folder: Path) -> None:
    path = write_video(folder / "vidéo 動画.mp4", seconds=2.0)
    assert probe(path, LIMITS).duration == 2.0
    assert [frame.time for frame in collect(path)] == [0.0, 1.0]


def test_a_missing_file_is_an_os_error_not_a_bad_video(folder: Path) -> None:
    """The indexer tells a file that vanished from a broken one."""
    with pytest.raises(FileNotFoundError):
        probe(folder / "gone.mp4", LIMITS)
    with pytest.raises(FileNotFoundError):
        collect(folder / "gone.mp4")


# Streaming.


def test_frames_stream_one_at_a_time(folder: Path, clip: Path) -> None:
    """sample_frames is a generator: nothing is opened before the first frame is asked for, one frame is made per
    step, and stopping early closes the video."""
    lazy = sample_frames(folder / "gone.mp4", LIMITS)  # no error yet: nothing opened
    assert inspect.isgenerator(lazy)
    frames = sample_frames(clip, LIMITS)
    first = next(frames)
    assert first.time == 0.0 and first.cut
    assert next(frames).time == 1.0
    frames.close()
    assert inspect.getgeneratorstate(frames) == inspect.GEN_CLOSED


# The scene test on its own.


def picture(colour: Colour, size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.new("RGB", size, colour)


def test_scene_distance_ignores_where_things_are_and_small_light_changes() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    moved = np.roll(pixels, 16, axis=1)
    assert scene_distance(thumbnail(Image.fromarray(pixels)), thumbnail(Image.fromarray(moved))) < 0.02
    grey, lighter = thumbnail(picture((100, 100, 100))), thumbnail(picture((120, 120, 120)))
    assert scene_distance(grey, lighter) == pytest.approx(20 / 255)
    assert scene_distance(grey, lighter) < SCENE_CUT_THRESHOLD


def test_scene_distance_sees_a_change_of_colour_or_light() -> None:
    black, white = thumbnail(picture((0, 0, 0))), thumbnail(picture((255, 255, 255)))
    assert scene_distance(black, white) == 1.0
    assert scene_distance(thumbnail(picture(RED)), thumbnail(picture(BLUE))) >= SCENE_CUT_THRESHOLD
    # The same brightness (luma 120 or so), another colour: still a cut.
    assert scene_distance(thumbnail(picture((200, 90, 60))), thumbnail(picture((60, 150, 100)))) >= SCENE_CUT_THRESHOLD


# What else the brief asks of the foundation.


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


def test_the_video_package_imports_no_torch() -> None:
    code = "import sys, indexer.video; assert 'torch' not in sys.modules, 'torch was imported'"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
