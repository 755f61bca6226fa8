"""What skipping packets pays when sampling a video: indexer.video.sample_frames with skip on and off, on 720p
H.264 clips it writes itself, one per keyframe interval (1 s as phones record, 2 s, and x264's default 10 s).

    python -m bench.video_decode_probe [--seconds 60] [--rounds 3] [--every 1.0]

For each clip and mode: wall and CPU time (medians over rounds, the modes alternating so load from elsewhere on a
shared machine hits them alike; CPU counts every decoder thread, and is what an indexer encoding pictures at the
same time is left without), the clip's frames per wall second (how fast the video is covered), the frames the
decoder handed out, and the samples taken. For reference, the same clip decoded whole with PyAV alone
(no conversion, no sampling) and keyframes only (skip_frame NONKEY: fastest, but the samples land only where
keyframes are). Prints only; the clips go to a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
from av.codec.context import ThreadType

from bench._results import machine
from indexer.video import VideoLimits, sample_frames
from indexer.video import sampling as sampling_module

WIDTH, HEIGHT, FPS = 1280, 720, 25


def write_clip(path: Path, seconds: int, keyint: int) -> None:
    """Moving content that H.264 cannot flatten to nothing: a drifting gradient, a moving block, fine noise,
    and a new colour scheme every 7 s (scene changes)."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 24, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": str(keyint), "keyint_min": str(keyint)}
        for index in range(seconds * FPS):
            scene = index // (7 * FPS)
            base = np.array([(scene * 83) % 256, (scene * 151 + 60) % 256, (scene * 37 + 120) % 256], np.uint8)
            gradient = ((xs + ys + index * 4) % 256).astype(np.uint8)[..., None] // 2
            frame = (base // 2 + gradient + np.roll(noise, index * 3, axis=1)).astype(np.uint8)
            x = (index * 9) % (WIDTH - 160)
            frame[200:360, x : x + 160] = 255 - base
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def decoded_frames_counter() -> Callable[[], int]:
    """Counts the frames the sampler's decoder produces (its _emit sees every one)."""
    counted = [0]
    original = sampling_module._Sampler._emit

    def emit(self: sampling_module._Sampler, frames: list[av.VideoFrame]) -> Iterator[sampling_module.SampledFrame]:
        counted[0] += len(frames)
        return original(self, frames)

    sampling_module._Sampler._emit = emit  # type: ignore[method-assign]

    def take() -> int:
        value, counted[0] = counted[0], 0
        return value

    return take


def pyav_alone(path: Path, keyframes_only: bool) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = ThreadType.AUTO
        if keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        frames = sum(1 for _ in container.decode(stream))
    return frames, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--every", type=float, default=1.0)
    args = parser.parse_args()
    print(machine())
    print(f"PyAV {av.__version__}, FFmpeg {av.library_versions['libavcodec']} (libavcodec)")
    take = decoded_frames_counter()
    limits = VideoLimits()

    def sampled(path: Path, skip: bool) -> tuple[int, int]:
        samples = sum(1 for _ in sample_frames(path, limits, args.every, skip=skip))
        return take(), samples

    modes: dict[str, Callable[[Path], tuple[int, int]]] = {
        "sample_frames, every frame decoded (skip=False)": lambda path: sampled(path, False),
        "sample_frames, packets skipped (skip=True)": lambda path: sampled(path, True),
        "PyAV alone: decode every frame, no conversion": lambda path: pyav_alone(path, False),
        "PyAV alone: keyframes only (NONKEY)": lambda path: pyav_alone(path, True),
    }
    with tempfile.TemporaryDirectory() as folder:
        for gop_seconds in (1, 2, 10):
            path = Path(folder) / f"clip-gop{gop_seconds}.mp4"
            started = time.perf_counter()
            write_clip(path, args.seconds, gop_seconds * FPS)
            total = args.seconds * FPS
            print(
                f"\n{WIDTH}x{HEIGHT} H.264 (x264 veryfast, crf 23), {args.seconds} s at {FPS} fps = {total} frames, "
                f"keyframe every {gop_seconds} s, {path.stat().st_size / 2**20:.1f} MiB "
                f"(written in {time.perf_counter() - started:.0f} s); a sample every {args.every:g} s"
            )
            walls: dict[str, list[float]] = {name: [] for name in modes}
            cpus: dict[str, list[float]] = {name: [] for name in modes}
            counts: dict[str, tuple[int, int]] = {}
            for _ in range(args.rounds):
                for name, run in modes.items():
                    started, cpu = time.perf_counter(), time.process_time()
                    counts[name] = run(path)
                    walls[name].append(time.perf_counter() - started)
                    cpus[name].append(time.process_time() - cpu)
            first = next(iter(modes))
            wall_ref, cpu_ref = statistics.median(walls[first]), statistics.median(cpus[first])
            print(
                "| mode | wall s | CPU s | clip frames / wall s | frames out of the decoder | samples | × wall, × CPU |"
            )
            print("|---|---|---|---|---|---|---|")
            for name in modes:
                wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
                decoded, samples = counts[name]
                print(
                    f"| {name} | {wall:.2f} | {cpu:.2f} | {total / wall:.0f} | {decoded} | {samples or '-'} | "
                    f"{wall_ref / wall:.2f}, {cpu_ref / cpu:.2f} |"
                )


if __name__ == "__main__":
    main()
