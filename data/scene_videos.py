"""The demo world in motion: short videos of data/scenes.py's scenes, with the moments each one is on screen.

    python -m data.scene_videos OUT [--count N] [--seed S] [--seconds 20] [--size 256] [--fps 10]
                                    [--codec h264|vp9] [--heldout] [--varied]

Each video holds one background. Empty background first, then 3-5 scenes of 2-6 s each, some back to back and
some with empty background between them; a scene appears at a known frame, most move smoothly within their
position word ("left" stays left, so every frame still fits the captions), and disappear at a known frame.
The scenes of one video all differ in colour, and every caption names the colour, so a caption has exactly
one true moment in its video (other videos may hold the same scene).

Writes OUT/videos/NAME.mp4 (H.264, yuv420p, BT.601 tagged, moov first so a browser plays it while loading;
`--codec vp9` writes NAME.webm), a sidecar OUT/videos/NAME.json with each moment's scene, motion and captions,
and OUT/moments.csv (video,start,end,caption; seconds; a moment covers frames start*fps up to, not including,
end*fps), one row per caption like data/scenes.py's pairs.csv. `--heldout` captions in the held-out wordings.

Frames are data.scenes.render's 64x64 pictures at one seed per video (the background holds still; shapes move
by render's offset), scaled up by nearest neighbour, so a frame scaled back to 64 is the picture the demo
model knows. The look is the demo's flat one, the look data/scenes.py gives held-out scenes; `--varied` uses
the training look, whose grain and JPEG loss render draws per picture and may change where a scene starts.
Frames go to the encoder one at a time: memory does not grow with the length of a video.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter
from av.video.stream import VideoStream
from PIL import Image

from data.scenes import (
    BACKGROUNDS,
    COLOURS,
    HELDOUT_TEMPLATES,
    POSITIONS,
    SHAPES,
    SIZES,
    TRAIN_TEMPLATES,
    Scene,
    render,
)

Codec = Literal["h264", "vp9"]
Offset = tuple[float, float]
# How far a group may move from its position word's spot (shares of the side), along its row or column and
# across it: what data.scenes' varied renderer allows one picture, so the position word still holds.
ALONG, ACROSS = 0.08, 0.04
STILL_SHARE = 0.25  # moments whose scene stays put
# container format, file suffix, encoder and its options for each codec
CODECS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    # one encoder thread: frames this small gain nothing from more, and lose much on a busy machine
    "h264": ("mp4", ".mp4", "libx264", {"crf": "20", "preset": "veryfast", "threads": "1"}),
    "vp9": (
        "webm",
        ".webm",
        "libvpx-vp9",
        {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8", "threads": "1"},
    ),
}
# BT.601 and limited range, written into the stream: what the RGB->YUV conversion below uses, so players agree.
SMPTE170M = 6


@dataclass(frozen=True)
class Moment:
    """`scene` on screen from `start` to `end` seconds, its shapes moving from `moves_from` to `moves_to`
    (render offsets: x, y as shares of the side) with an eased start and stop."""

    start: float
    end: float
    scene: Scene
    moves_from: Offset = (0.0, 0.0)
    moves_to: Offset = (0.0, 0.0)

    def frames(self, fps: int) -> range:
        """The frames that show this scene."""
        return range(round(self.start * fps), round(self.end * fps))

    def offset(self, frame: int, fps: int) -> Offset:
        shown = self.frames(fps)
        progress = (frame - shown.start) / max(len(shown) - 1, 1)
        eased = (1 - math.cos(math.pi * min(max(progress, 0.0), 1.0))) / 2
        (x0, y0), (x1, y1) = self.moves_from, self.moves_to
        return (x0 + (x1 - x0) * eased, y0 + (y1 - y0) * eased)


@dataclass(frozen=True)
class SceneVideo:
    """One written video and its ground truth: what every frame shows."""

    path: Path
    seconds: float
    fps: int
    size: int
    background: str
    look_seed: int  # every frame is render(..., random.Random(look_seed), ...): one background, one look
    varied: bool
    moments: tuple[Moment, ...]

    @property
    def frame_count(self) -> int:
        return round(self.seconds * self.fps)

    def moment_at(self, frame: int) -> Moment | None:
        return next((m for m in self.moments if frame in m.frames(self.fps)), None)

    def picture(self, frame: int) -> Image.Image:
        """Frame `frame` at 64x64, before scaling and encoding: what the model should see there."""
        moment = self.moment_at(frame)
        if moment is None:
            empty = Scene("red", "circle", "small", "left", 0, self.background)  # count 0: background alone
            return render(empty, random.Random(self.look_seed), self.varied)
        return render(moment.scene, random.Random(self.look_seed), self.varied, moment.offset(frame, self.fps))

    def pictures(self) -> Iterator[Image.Image]:
        """Every frame in order, the background drawn once for all empty frames."""
        empty: Image.Image | None = None
        for frame in range(self.frame_count):
            if self.moment_at(frame) is not None:
                yield self.picture(frame)
                continue
            if empty is None:
                empty = self.picture(frame)
            yield empty

    def to_json(self, templates: tuple[str, ...] = TRAIN_TEMPLATES) -> dict[str, object]:
        """The sidecar: everything needed to draw each frame again, and each moment's captions."""
        return {
            "video": self.path.name,
            "seconds": self.seconds,
            "fps": self.fps,
            "frames": self.frame_count,
            "size": self.size,
            "background": self.background,
            "look_seed": self.look_seed,
            "varied": self.varied,
            "moments": [
                {
                    "start": m.start,
                    "end": m.end,
                    "scene": asdict(m.scene),
                    "moves_from": list(m.moves_from),
                    "moves_to": list(m.moves_to),
                    "captions": m.scene.captions(templates),
                }
                for m in self.moments
            ],
        }


def read_scene_video(sidecar: Path | str) -> SceneVideo:
    """A written video's ground truth back from its sidecar (NAME.json beside NAME.mp4)."""
    sidecar = Path(sidecar)
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    moments = tuple(
        Moment(m["start"], m["end"], Scene(**m["scene"]), tuple(m["moves_from"]), tuple(m["moves_to"]))
        for m in data["moments"]
    )
    return SceneVideo(
        sidecar.with_name(data["video"]),
        data["seconds"],
        data["fps"],
        data["size"],
        data["background"],
        data["look_seed"],
        data["varied"],
        moments,
    )


def motion(scene: Scene, rng: random.Random) -> tuple[Offset, Offset]:
    """A smooth move along the scene's row (top, bottom) or column (left, right), a little across it; some stay."""
    if rng.random() < STILL_SHARE:
        still = (rng.uniform(-ACROSS, ACROSS), rng.uniform(-ACROSS, ACROSS))
        return still, still
    sign = rng.choice((-1.0, 1.0))
    along = (sign * rng.uniform(ALONG / 2, ALONG), -sign * rng.uniform(ALONG / 2, ALONG))
    across = (rng.uniform(-ACROSS, ACROSS), rng.uniform(-ACROSS, ACROSS))
    if scene.position in ("top", "bottom"):
        return (along[0], across[0]), (along[1], across[1])
    return (across[0], along[0]), (across[1], along[1])


def plan_moments(rng: random.Random, seconds: float, fps: int, background: str) -> list[Moment]:
    """3-5 scenes of 2-6 s in distinct colours after an empty start, about a third back to back, the rest
    apart. Where they do not fit, scenes and gaps shrink toward 2 s and 0.5 s (a short video holds fewer);
    the time left over widens the start, the gaps and the end."""
    frames = round(seconds * fps)
    lead = max(1, round(rng.uniform(0.5, 2.0) * fps))
    shortest, narrowest = max(1, round(2.0 * fps)), max(1, round(0.5 * fps))
    count = rng.randint(3, 5)
    while count > 1 and lead + count * shortest + (count - 1) * narrowest > frames:
        count -= 1
    if lead + shortest >= frames:  # shorter than one scene: one in its middle
        return _moments(rng, frames // 4, [max(1, frames // 2)], [], fps, background)
    lengths = [round(rng.uniform(2.0, 6.0) * fps) for _ in range(count)]
    gaps = [0 if rng.random() < 0.3 else round(rng.uniform(0.5, 3.0) * fps) for _ in range(count - 1)]
    floors = [shortest] * count + [narrowest if gap else 0 for gap in gaps]
    sizes = lengths + gaps
    over = lead + sum(sizes) - frames
    if over > 0:  # take the excess from every scene and gap in proportion to what it has above its floor
        keep = 1 - over / sum(size - floor for size, floor in zip(sizes, floors, strict=True))
        sizes = [floor + math.floor((size - floor) * keep) for size, floor in zip(sizes, floors, strict=True)]
        lengths, gaps = sizes[:count], sizes[count:]
    # Spread the spare frames over the start, the gaps that are gaps, and the end.
    open_gaps = [i for i, gap in enumerate(gaps) if gap > 0]
    spare = frames - lead - sum(lengths) - sum(gaps)
    cuts = sorted(rng.randint(0, spare) for _ in range(len(open_gaps) + 1))
    shares = [b - a for a, b in zip([0, *cuts], [*cuts, spare], strict=True)]
    for i, share in zip(open_gaps, shares[1:-1], strict=True):
        gaps[i] += share
    return _moments(rng, lead + shares[0], lengths, gaps, fps, background)


def _moments(
    rng: random.Random, lead: int, lengths: list[int], gaps: list[int], fps: int, background: str
) -> list[Moment]:
    """Scenes in distinct colours, each with its motion, at the planned frames."""
    colours = rng.sample(list(COLOURS), len(lengths))
    moments, frame = [], lead
    for i, (length, colour) in enumerate(zip(lengths, colours, strict=True)):
        scene = Scene(
            colour=colour,
            shape=rng.choice(SHAPES),
            size=rng.choice(list(SIZES)),
            position=rng.choice(list(POSITIONS)),
            count=rng.choice((1, 1, 2, 3)),
            background=background,
        )
        moves_from, moves_to = motion(scene, rng)
        moments.append(Moment(frame / fps, (frame + length) / fps, scene, moves_from, moves_to))
        frame += length + (gaps[i] if i < len(gaps) else 0)
    return moments


def write_scene_video(
    path: Path | str,
    intervals: Sequence[Moment | tuple[float, float, Scene]],
    seconds: float,
    size: int = 256,
    fps: int = 10,
    background: str | None = None,
    seed: int = 0,
    varied: bool = False,
    codec: Codec = "h264",
) -> SceneVideo:
    """Write one video of `intervals` over their scenes' background; returns its ground truth. `background`
    is needed only for a video with no scenes.

    A (start, end, scene) interval gets a motion drawn from `seed`; a Moment moves as it says. Times snap to
    whole frames. `seed` also picks the look (background tone, shades, jitter) shared by every frame."""
    if size < 16 or size % 2:
        raise ValueError(f"size must be even and at least 16 (yuv420p halves it), not {size}")
    if Path(path).suffix.lower() != CODECS[codec][1]:
        raise ValueError(f"a {codec} video is a {CODECS[codec][1]} file, not {Path(path).name}")
    if fps < 1 or seconds * fps < 1:
        raise ValueError("a video needs at least one frame")
    rng = random.Random(seed)
    look_seed = rng.randrange(2**32)
    scenes = [item.scene if isinstance(item, Moment) else item[2] for item in intervals]
    backgrounds = {scene.background for scene in scenes} | ({background} if background else set())
    if len(backgrounds) != 1 or not backgrounds <= set(BACKGROUNDS):
        raise ValueError(f"one background per video, one of {sorted(BACKGROUNDS)}: got {sorted(backgrounds)}")
    (ground,) = backgrounds
    moments = []
    for item in intervals:
        moment = item if isinstance(item, Moment) else Moment(item[0], item[1], item[2], *motion(item[2], rng))
        start, end = round(moment.start * fps), round(moment.end * fps)
        if not 0 <= start < end <= round(seconds * fps):
            raise ValueError(f"{moment.start}-{moment.end} s is not a span of whole frames inside {seconds} s")
        moments.append(replace(moment, start=start / fps, end=end / fps))
    moments.sort(key=lambda m: m.start)
    for before, after in itertools.pairwise(moments):
        if after.start < before.end:
            raise ValueError(f"moments overlap: {before.start}-{before.end} s and {after.start}-{after.end} s")
    video = SceneVideo(Path(path), round(seconds * fps) / fps, fps, size, ground, look_seed, varied, tuple(moments))
    encode(video.path, video.pictures(), size, fps, codec)
    return video


def encode(path: Path, pictures: Iterator[Image.Image], size: int, fps: int, codec: Codec = "h264") -> None:
    """Scale each picture to `size` by nearest neighbour and encode it at once: one frame in memory at a time."""
    container_format, _, encoder, options = CODECS[codec]
    path.parent.mkdir(parents=True, exist_ok=True)
    muxer_options = {"movflags": "+faststart"} if container_format == "mp4" else {}
    with av.open(str(path), "w", format=container_format, options=muxer_options) as container:
        # a keyframe a second: a player seeks to a moment's start without decoding far back
        stream = container.add_stream(encoder, rate=fps, options={**options, "g": str(fps)})
        assert isinstance(stream, VideoStream)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.colorspace = Colorspace.ITU601
        context.color_range = ColorRange.MPEG
        context.color_primaries = context.color_trc = SMPTE170M
        reformatter = VideoReformatter()  # one scaler for the video, on this thread (a new one per frame costs ms)
        last, yuv = b"", np.empty(0, np.uint8)
        for index, picture in enumerate(pictures):
            pixels = picture.tobytes()
            if pixels != last:  # empty background and still scenes: converted once
                scaled = np.asarray(picture.resize((size, size), Image.Resampling.NEAREST))
                rgb = av.VideoFrame.from_ndarray(scaled, format="rgb24")
                converted = reformatter.reformat(
                    rgb, format="yuv420p", dst_colorspace=Colorspace.ITU601, dst_color_range=ColorRange.MPEG, threads=1
                )
                last, yuv = pixels, np.asarray(converted.to_ndarray(), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def generate(
    out: Path,
    count: int,
    seed: int = 0,
    seconds: float = 20.0,
    size: int = 256,
    fps: int = 10,
    codec: Codec = "h264",
    heldout: bool = False,
    varied: bool = False,
) -> list[SceneVideo]:
    """Write `count` videos, their sidecars and moments.csv; returns each video's ground truth.
    The n-th video depends on the seed and n only: a longer run starts with a shorter one's videos."""
    templates = HELDOUT_TEMPLATES if heldout else TRAIN_TEMPLATES
    rng = random.Random(seed)
    videos_dir = out / "videos"
    videos_dir.mkdir(parents=True, exist_ok=True)
    made = []
    with open(out / "moments.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "start", "end", "caption"])
        for i in range(count):
            video_rng = random.Random(rng.randrange(2**32))
            background = video_rng.choice(list(BACKGROUNDS))
            moments = plan_moments(video_rng, seconds, fps, background)
            path = videos_dir / f"video-{seed}-{i:04d}{CODECS[codec][1]}"
            video = write_scene_video(
                path, moments, seconds, size, fps, background, video_rng.randrange(2**32), varied, codec
            )
            sidecar = json.dumps(video.to_json(templates), indent=1, ensure_ascii=False)
            path.with_suffix(".json").write_text(sidecar + "\n", encoding="utf-8")
            for moment in video.moments:
                for caption in moment.scene.captions(templates):
                    writer.writerow([f"videos/{path.name}", moment.start, moment.end, caption])
            made.append(video)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--codec", choices=sorted(CODECS), default="h264")
    parser.add_argument("--heldout", action="store_true", help="caption in wordings never seen in training")
    parser.add_argument("--varied", action="store_true", help="the training look (default: the demo's flat look)")
    args = parser.parse_args()
    videos = generate(
        args.out, args.count, args.seed, args.seconds, args.size, args.fps, args.codec, args.heldout, args.varied
    )
    print(f"{len(videos)} videos, {sum(len(v.moments) for v in videos)} moments in {args.out}")


if __name__ == "__main__":
    main()
