"""Video indexing: how many seconds of video an indexing run covers per second of wall time, where that time
goes (sampling the frames vs encoding them), and whether a long video indexes in flat memory.

    python -m bench.video_index [--photos DIR] [--seconds 60] [--models ViT-B-32,demo] [--loads quiet,busy]
                                [--hour-seconds 3600] [--skip-hour]

Test clips are what a phone or camera records, as a decoder sees it: a slideshow of real photos (flickr8k-dev)
with a slow zoom and pan, 1 s crossfades between shots and sensor-like noise that changes every frame, at 30 fps,
H.264 (libx264 veryfast, one slice per frame) at phone bitrates (720p 8 Mbit/s, 1080p 16 Mbit/s). Each is written
twice from the same frames: with a keyframe every second (g=30, as phones record) and with x264's default keyint
of 250, since what sampling costs depends on how far apart the keyframes are. They are cached in the temp folder between runs
(writing them takes minutes on 2 cores); the photos are read where they are, never copied.

Speed rows index one clip into a library that already holds a picture (so the model, the ONNX export and auto's
own-pictures check are in place: the steady state of a library in use; it is put back as it was after each row),
through `index_paths`, as `xmodal index` does: scan, hash, the sampler's child process (started per run), frames,
encoding, moments and the catalog write. ViT-B-32 has random weights: the same compute as trained ones. Each
row runs on a quiet machine and again `busy`: with two spinning processes that keep both cores busy (another
program using the machine). The decode-only rows run `sample_frames` alone on each clip, skipping packets (as
indexing does) and decoding every frame (`skip=False`), to show what the packet skipping saves.

The hour run indexes a 1-hour 720p video with the demo model in a process of its own and samples the resident
memory (VmRSS; /proc) of that process and of its video child every 0.2 s, against how far into the video the run is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from bench._results import machine, write_section
from bench.index_throughput import config_for
from bench.video_decode_probe import decoded_frames_counter
from core.settings import Settings, load_settings
from indexer.ingest import index_paths
from indexer.library import Library
from indexer.video import VideoLimits, sample_frames
from indexer.video.isolated import IsolatedSampler, SamplingPlan

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "flickr8k-dev" / "images"
CACHE = Path(tempfile.gettempdir()) / "xmodal-bench-video"
CLIPS_VERSION = 2  # bump when the clips' content changes, so cached ones are written again
FPS = 30
SHOT_SECONDS = 6.0  # each photo's time on screen, crossfade included
FADE_SECONDS = 1.0
BITRATES = {720: 8_000_000, 1080: 16_000_000}  # bit/s, about what phones record at 30 fps
GOPS = {"1 s (g=30)": {"g": "30"}, "x264 default (keyint 250)": {}}
HOUR_FPS = 5  # the hour clip: cheap to write, and content still changes every shot
HOUR_BITRATE = 1_500_000
SPIN = "while True: pass"


@dataclass(frozen=True)
class Clip:
    """A video, or a folder of them (indexed in one run, as a phone's camera roll is)."""

    label: str
    path: Path

    @property
    def files(self) -> list[Path]:
        return sorted(self.path.glob("*.mp4")) if self.path.is_dir() else [self.path]


# -- test videos ------------------------------------------------------------------------------


def frames(photos: list[Path], width: int, height: int, fps: int, seconds: float, noise: int) -> Iterator[np.ndarray]:
    """RGB frames of the slideshow: each photo zooms in slowly (1.0 to 1.25) while the view pans across it, the
    next one fading in over the last FADE_SECONDS; `noise` (0 for none) flips the low bits of every pixel with
    one of seven fixed patterns, a different one each frame, as sensor noise would."""
    rng = np.random.default_rng(0)
    patterns = [rng.integers(0, noise, (height, width, 3), dtype=np.uint8) for _ in range(7)] if noise else []
    opened: dict[int, Image.Image] = {}

    def view(shot: int, progress: float) -> np.ndarray:
        if shot not in opened:
            if len(opened) > 2:
                opened.pop(min(opened))
            with Image.open(photos[(shot * 37) % len(photos)]) as photo:
                opened[shot] = photo.convert("RGB")
        image = opened[shot]
        zoom = 1.0 + 0.25 * progress
        crop_w = min(image.width, image.height * width / height) / zoom
        crop_h = crop_w * height / width
        x = max(0.0, (image.width - crop_w) * (progress if shot % 2 else 1 - progress))  # >= 0 but for rounding
        y = max(0.0, (image.height - crop_h) * (0.5 + 0.4 * np.sin(3 * progress + shot)))
        return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR, box=(x, y, x + crop_w, y + crop_h)))

    for index in range(round(seconds * fps)):
        at = index / fps
        shot = int(at // SHOT_SECONDS)
        into = at - shot * SHOT_SECONDS
        frame = view(shot, into / (SHOT_SECONDS + FADE_SECONDS))
        fading = into - (SHOT_SECONDS - FADE_SECONDS)
        if fading > 0:
            alpha = fading / FADE_SECONDS
            following = view(shot + 1, fading / (SHOT_SECONDS + FADE_SECONDS))
            frame = (frame * (1 - alpha) + following * alpha).astype(np.uint8)
        if patterns:
            frame = np.bitwise_xor(frame, patterns[index % len(patterns)])
        yield frame


def write_videos(
    source: Iterator[np.ndarray], outputs: dict[Path, dict[str, str]], fps: int, bit_rate: int, preset: str
) -> None:
    """Encode the same frames into each output (H.264, libx264 `preset`, `bit_rate`, one slice per frame, the
    output's own x264 options); each is written beside its name and renamed once complete, so a cache never holds half a video."""
    containers, streams = [], []
    for path, options in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(path.with_suffix(".part.mp4")), "w")
        stream = container.add_stream("libx264", rate=fps)
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        # x264's own default: frame threads, one slice per frame (PyAV's default, slice threads, writes 2 slices
        # per frame, which lets a decoder use slice threads that most files do not allow)
        stream.thread_type = "FRAME"
        stream.options = {"preset": preset, **options}
        containers.append(container)
        streams.append(stream)
    for rgb in source:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for container, stream in zip(containers, streams, strict=True):
            if not stream.width:
                stream.width, stream.height = frame.width, frame.height
            container.mux(stream.encode(frame))
    for container, stream in zip(containers, streams, strict=True):
        container.mux(stream.encode(None))
        container.close()
    for path in outputs:
        path.with_suffix(".part.mp4").rename(path)


def speed_clips(photos: list[Path], seconds: float) -> list[Clip]:
    """The 720p and 1080p clips, each with both keyframe intervals; written unless cached."""
    clips: list[Clip] = []
    for height, bit_rate in BITRATES.items():
        width = height * 16 // 9
        named = {
            gop: CACHE / f"v{CLIPS_VERSION}-{height}p-{seconds:g}s-{'g30' if options else 'default'}" / "clip.mp4"
            for gop, options in GOPS.items()
        }
        missing = {named[gop]: options for gop, options in GOPS.items() if not named[gop].exists()}
        if missing:
            started = time.perf_counter()
            print(f"writing {height}p clips of {seconds:g} s (cached in {CACHE}) ...", flush=True)
            write_videos(frames(photos, width, height, FPS, seconds, 16), missing, FPS, bit_rate, "veryfast")
            print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
        clips.extend(Clip(f"{height}p, keyframes {gop}", path) for gop, path in named.items())
    return clips


def short_clips(photos: list[Path], count: int, seconds: float) -> Clip:
    """A folder of `count` 1080p clips as phones record them (keyframe every second), each of other photos."""
    folder = CACHE / f"v{CLIPS_VERSION}-1080p-{count}x{seconds:g}s-g30"
    if not folder.exists():
        started = time.perf_counter()
        print(f"writing {count} 1080p clips of {seconds:g} s (cached in {CACHE}) ...", flush=True)
        writing = folder.with_name(folder.name + ".part")
        shutil.rmtree(writing, ignore_errors=True)
        for index in range(count):
            turned = photos[index * 41 :] + photos[: index * 41]
            source = frames(turned, 1920, 1080, FPS, seconds, 16)
            write_videos(source, {writing / f"clip-{index}.mp4": GOPS["1 s (g=30)"]}, FPS, BITRATES[1080], "veryfast")
        writing.rename(folder)
        print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    return Clip(f"{count} clips of {seconds:g} s in a folder, 1080p, keyframes 1 s (g=30)", folder)


def hour_clip(photos: list[Path], seconds: float) -> Path:
    """720p at HOUR_FPS, x264 ultrafast (its keyint: 250 frames, 50 s, and no scene-cut keyframes), no noise."""
    path = CACHE / f"v{CLIPS_VERSION}-hour-720p-{seconds:g}s-{HOUR_FPS}fps" / "clip.mp4"
    if not path.exists():
        started = time.perf_counter()
        print(f"writing the {seconds:g} s 720p clip at {HOUR_FPS} fps (cached in {CACHE}) ...", flush=True)
        write_videos(frames(photos, 1280, 720, HOUR_FPS, seconds, 0), {path: {}}, HOUR_FPS, HOUR_BITRATE, "ultrafast")
        print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    return path


@dataclass(frozen=True)
class ClipFacts:
    """Summed over a folder's clips."""

    seconds: float
    frames: int
    keyframes: int
    mib: float

    def describe(self) -> str:
        gap = self.seconds / self.keyframes if self.keyframes else float("nan")
        return (
            f"{self.frames} frames, {self.keyframes} keyframes (every {gap:.1f} s on average), "
            f"{self.mib:.0f} MiB = {self.mib * 8 * 1.048576 / self.seconds:.1f} Mbit/s"
        )


def clip_facts(clip: Clip) -> ClipFacts:
    facts = [video_facts(path) for path in clip.files]
    return ClipFacts(*(sum(getattr(one, name) for one in facts) for name in ("seconds", "frames", "keyframes", "mib")))


def video_facts(path: Path) -> ClipFacts:
    """Read from the packets, without decoding: duration, frame count, keyframes, size."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [(packet.pts, packet.is_keyframe) for packet in container.demux(stream) if packet.size]
        base = stream.time_base
        assert base is not None
        pts = [pts for pts, _ in packets if pts is not None]
        seconds = float((max(pts) - min(pts)) * base) + 1 / float(stream.average_rate or FPS)
    return ClipFacts(seconds, len(packets), sum(key for _, key in packets), path.stat().st_size / 2**20)


# -- load ----------------------------------------------------------------------------------------


class Busy:
    """Two processes that spin as long as the block runs: both cores busy with another program's work."""

    def __init__(self, busy: bool) -> None:
        self.busy = busy
        self.spinners: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Busy:
        if self.busy:
            self.spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(2)]
            time.sleep(0.5)
        return self

    def __exit__(self, *_: object) -> None:
        for spinner in self.spinners:
            spinner.kill()
            spinner.wait()


class OthersCpu:
    """How many cores the rest of the machine kept busy while the block ran (the machine is shared): the CPU
    time /proc/stat counts busy, less this process's and its children's (the video child, the spinners and the
    hour run's worker are waited for before the block ends, so theirs is counted as ours)."""

    cores = 0.0

    def __enter__(self) -> OthersCpu:
        self.started = (time.perf_counter(), _machine_busy(), _ours())
        return self

    def __exit__(self, *_: object) -> None:
        wall, busy, ours = self.started
        others = (_machine_busy() - busy) - (_ours() - ours)
        self.cores = max(0.0, others) / (time.perf_counter() - wall)


def _machine_busy() -> float:
    """CPU seconds every core has spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:3]) + sum(fields[5:8])  # not idle (3) nor iowait (4)
    return busy / os.sysconf("SC_CLK_TCK")


def _ours() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


# -- speed -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    name: str
    model: str
    pretrained: str | None

    def settings(self, library: Path) -> Settings:
        return load_settings(library=library, model=self.model, pretrained=self.pretrained, quiet=True)


def models(names: list[str]) -> list[Model]:
    chosen = []
    for name in names:
        if name == "demo":
            chosen.append(Model("demo", "demo", None))
            continue
        config = config_for(name)
        weights = Path(tempfile.gettempdir()) / "xmodal-bench-weights" / f"{name}-random.pt"
        if not weights.exists():
            from training.random_weights import write_random_checkpoint

            weights.parent.mkdir(exist_ok=True)
            write_random_checkpoint(config, weights)
        chosen.append(Model(f"{name} (random weights)", str(config), str(weights)))
    return chosen


class Libraries:
    """One library per model, made once: the model recorded, its ONNX export written, one photo indexed (so
    auto's choice of runtime and its check on the library's first pictures are done). Each speed row indexes
    into it and then the library is put back as it was, the export left in place, so that the ONNX session this
    process opened on it is reused as a long run would reuse it."""

    def __init__(self, folder: Path, photo: Path) -> None:
        self.folder = folder
        self.photo = photo
        self.made: dict[str, Path] = {}

    def ready(self, model: Model) -> Path:
        if model.name not in self.made:
            path = self.folder / f"lib-{len(self.made)}"
            settings = model.settings(path)
            started = time.perf_counter()
            with Library.open_writer(path, "bench") as library:
                encoder = library.writer_encoder(settings)
                report = index_paths(library, encoder, [self.photo], settings, quiet=True)
                assert report.added == 1, report
            print(f"library for {model.name}: {time.perf_counter() - started:.0f} s", flush=True)
            shutil.copytree(path, path.with_name(path.name + "-clean"), ignore=shutil.ignore_patterns("towers"))
            self.made[model.name] = path
        return self.made[model.name]

    def reset(self, model: Model) -> None:
        path = self.made[model.name]
        clean = path.with_name(path.name + "-clean")
        for entry in path.iterdir():
            if entry.name != "towers":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        for entry in clean.iterdir():
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, path / entry.name)


@dataclass
class IndexRow:
    clip: Clip
    model: str
    runtime: str
    busy: bool
    duration: float
    wall: float
    read_decode: float
    encode: float
    write: float
    frames: int
    moments: int
    others: float  # cores the rest of the machine kept busy meanwhile

    @property
    def rate(self) -> float:
        return self.duration / self.wall


def index_row(libraries: Libraries, model: Model, clip: Clip, duration: float, busy: bool) -> IndexRow:
    path = libraries.ready(model)
    settings = model.settings(path)
    with Library.open_writer(path, "bench") as library:
        encoder = library.writer_encoder(settings)
        with OthersCpu() as others, Busy(busy):
            started = time.perf_counter()
            report = index_paths(library, encoder, [clip.path], settings, quiet=True)
            wall = time.perf_counter() - started
    libraries.reset(model)
    assert report.videos == len(clip.files) and not report.failed, report
    stages = report.stages
    return IndexRow(
        clip,
        model.name,
        report.image_runtime,
        busy,
        duration,
        wall,
        stages.read_decode,
        stages.encode,
        stages.write,
        report.frames,
        report.moments,
        others.cores,
    )


@dataclass
class DecodeRow:
    clip: Clip
    busy: bool
    wall: dict[bool, float] = field(default_factory=dict)  # by skip
    cpu: dict[bool, float] = field(default_factory=dict)
    decoded: dict[bool, int] = field(default_factory=dict)
    samples: int = 0
    others: float = 0.0  # cores the rest of the machine kept busy meanwhile


def decode_row(clip: Clip, busy: bool, count: Callable[[], int]) -> DecodeRow:
    """sample_frames alone, in this process: skipping packets, then decoding every frame."""
    row = DecodeRow(clip, busy)
    with OthersCpu() as others, Busy(busy):
        for skip in (True, False):
            count()
            started, cpu = time.perf_counter(), time.process_time()
            samples = sum(1 for path in clip.files for _ in sample_frames(path, VideoLimits(), 1.0, skip=skip))
            row.wall[skip], row.cpu[skip] = time.perf_counter() - started, time.process_time() - cpu
            row.decoded[skip] = count()
            row.samples = samples
    row.others = others.cores
    return row


def child_start_seconds(clip: Path) -> float:
    """From asking the sampler's child for a video to its first frame, the child's start included (each
    indexing run starts one; a run of many videos keeps it)."""
    started = time.perf_counter()
    with IsolatedSampler(SamplingPlan(VideoLimits(), 1.0, 0.1), 60.0) as sampler:
        stream = sampler.sample(str(clip))
        next(stream)  # the VideoInfo
        next(stream)  # the first frame
        first = time.perf_counter() - started
        stream.close()
    return first


# -- memory ------------------------------------------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB ({} once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def _children(pid: int) -> list[int]:
    """Children of every thread of the process (the video child is started from the frames thread)."""
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


@dataclass
class MemorySample:
    at: float  # seconds into the video the run had reached
    rss: int  # KiB: the indexing process
    hwm: int
    child_rss: int  # the video child (0: none running)
    child_hwm: int


def hour_run(clip: Path, folder: Path) -> tuple[list[MemorySample], dict[str, Any], float]:
    """Index the clip with the demo model in a process of its own (this module's --hour-worker), sampling its
    memory and its children's every 0.2 s. Returns the samples taken while the video was being read, the run's
    report, and the worker's RSS (KiB) once the model was loaded, before indexing began."""
    command = [sys.executable, "-m", "bench.video_index", "--hour-worker", str(folder / "lib"), str(clip)]
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert worker.stdout is not None
    position: list[float | None] = [None]
    report: dict[str, Any] = {}
    ready_rss = [0]

    def read() -> None:
        assert worker.stdout is not None
        for line in worker.stdout:
            kind, _, rest = line.strip().partition(" ")
            if kind == "AT":
                position[0] = float(rest)
            elif kind == "READY":
                ready_rss[0] = _status(worker.pid).get("VmRSS", 0)
                position[0] = 0.0
            elif kind == "REPORT":
                report.update(json.loads(rest))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    samples = []
    child_hwm: dict[int, int] = {}
    while worker.poll() is None:
        own = _status(worker.pid)
        child = {pid: _status(pid) for pid in _children(worker.pid)}
        for pid, status in child.items():
            child_hwm[pid] = max(child_hwm.get(pid, 0), status.get("VmHWM", 0))
        at = position[0]
        if at is not None and own and not report:
            samples.append(
                MemorySample(
                    at,
                    own.get("VmRSS", 0),
                    own.get("VmHWM", 0),
                    sum(status.get("VmRSS", 0) for status in child.values()),
                    max((child_hwm[pid] for pid in child), default=0),
                )
            )
        time.sleep(0.2)
    reader.join()
    if worker.returncode:
        raise SystemExit(f"the hour run failed: exit {worker.returncode}")
    return samples, report, ready_rss[0]


def hour_worker(library: Path, clip: Path) -> None:
    """The process the hour run measures: index the clip with the demo model, printing where it is."""
    from indexer.ingest.run import IndexRun
    from indexer.progress import ProgressReporter

    class Positions(ProgressReporter):
        def status(self, detail: str | None) -> None:
            if detail and detail.endswith(" s") and " at " in detail:
                print("AT", detail.rsplit(" at ", 1)[1][:-2], flush=True)

    settings = load_settings(library=library, model="demo", quiet=True)
    with Library.open_writer(library, "bench") as opened:
        encoder = opened.writer_encoder(settings)
        print("READY", flush=True)
        with Positions(quiet=True) as progress:
            report = IndexRun(opened, encoder, settings).run([clip], progress)
    assert report.videos == 1 and not report.failed, report
    stages = {name: round(value, 2) for name, value in vars(report.stages).items()}
    summary = {"frames": report.frames, "moments": report.moments, "seconds": report.seconds, "stages": stages}
    print("REPORT", json.dumps(summary), flush=True)


def memory_table(samples: list[MemorySample], duration: float) -> tuple[str, str]:
    """Peak RSS so far at 10%, 50% and 100% of the video, and the RSS curve at every tenth."""
    lines, curve = [], []
    for share in (0.1, 0.5, 1.0):
        upto = [sample for sample in samples if sample.at <= share * duration] or samples[:1]
        last = upto[-1]
        lines.append(
            f"| {share:.0%} ({last.at:.0f} s) | {max(s.rss for s in upto) / 1024:.0f} | {last.hwm / 1024:.0f} "
            f"| {max(s.child_rss for s in upto) / 1024:.0f} | {last.child_hwm / 1024:.0f} |"
        )
    for tenth in range(11):
        near = min(samples, key=lambda sample: abs(sample.at - tenth / 10 * duration))
        curve.append(f"{tenth * 10}%: {near.rss / 1024:.0f} + {near.child_rss / 1024:.0f}")
    return "\n".join(lines), "; ".join(curve)


def _load(busy: bool) -> str:
    return "busy" if busy else "quiet"


def speed_lines(rows: list[IndexRow]) -> list[str]:
    return [
        f"| {row.clip.label} | {row.model} ({row.runtime}) | {_load(row.busy)} | **{row.rate:.1f}** | {row.wall:.1f} "
        f"| {row.read_decode:.1f} | {row.encode:.1f} | {row.frames} | {row.moments} | {row.others:.2f} |"
        for row in rows
    ]


def decode_lines(decodes: list[DecodeRow], facts: dict[Clip, ClipFacts]) -> list[str]:
    lines = []
    for row in decodes:
        duration = facts[row.clip].seconds
        lines.append(
            f"| {row.clip.label} | {_load(row.busy)} | {row.wall[True]:.1f} ({duration / row.wall[True]:.0f}×) "
            f"| {row.cpu[True]:.1f} | {row.decoded[True]} | {row.wall[False]:.1f} ({duration / row.wall[False]:.0f}×) "
            f"| {row.cpu[False]:.1f} | {row.decoded[False]} | {row.wall[False] / row.wall[True]:.1f}× | {row.others:.2f} |"
        )
    return lines


def verdict_lines(rows: list[IndexRow], decodes: list[DecodeRow]) -> list[str]:
    """Quiet rows only: the decode-only wall time (packets skipped) against the encode stage of the same clip."""
    lines = []
    for row in rows:
        if row.busy:
            continue
        sampled = next(decode for decode in decodes if decode.clip == row.clip and not decode.busy)
        ratio = sampled.wall[True] / row.encode if row.encode else float("inf")
        lines.append(
            f"| {row.clip.label} | {row.model} | {sampled.wall[True]:.1f} | {row.encode:.1f} | {ratio:.2f} "
            f"| {'yes' if ratio <= 0.5 else 'no'} |"
        )
    return lines


# -- report ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each speed clip")
    parser.add_argument("--models", default="ViT-B-32,demo")
    parser.add_argument("--loads", default="quiet,busy", help="quiet, busy (two spinning processes), or both")
    parser.add_argument("--shorts", type=int, default=8, help="clips in the folder of short clips (0: none)")
    parser.add_argument("--short-seconds", type=float, default=15.0, help="length of each short clip")
    parser.add_argument("--hour-seconds", type=float, default=3600.0, help="length of the memory run's clip")
    parser.add_argument("--skip-hour", action="store_true", help="no memory run")
    parser.add_argument("--hour-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hour_worker:
        hour_worker(*args.hour_worker)
        return
    command = " ".join(["python -m bench.video_index", *sys.argv[1:]])
    began = time.perf_counter()
    photos = sorted(args.photos.glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no photos in {args.photos}: --photos names a folder of JPEGs")
    busy_modes = [mode == "busy" for mode in args.loads.split(",")]
    clips = speed_clips(photos, args.seconds)
    if args.shorts:
        clips.append(short_clips(photos, args.shorts, args.short_seconds))
    facts = {clip: clip_facts(clip) for clip in clips}
    hour = None if args.skip_hour else hour_clip(photos, args.hour_seconds)
    chosen = models(args.models.split(","))
    count = decoded_frames_counter()
    started_child = child_start_seconds(clips[0].path)

    rows: list[IndexRow] = []
    decodes: list[DecodeRow] = []
    with tempfile.TemporaryDirectory() as folder:
        libraries = Libraries(Path(folder), photos[0])
        for clip in clips:
            for busy in busy_modes:  # quiet and busy alternate, so drifting load elsewhere hits both alike
                decodes.append(decode_row(clip, busy, count))
                print(clip.label, "busy" if busy else "quiet", decodes[-1], flush=True)
                for model in chosen:
                    rows.append(index_row(libraries, model, clip, facts[clip].seconds, busy))
                    print(rows[-1], flush=True)
        memory = None
        if hour is not None:
            hour_facts = video_facts(hour)
            with OthersCpu() as others:
                samples, report, ready = hour_run(hour, Path(folder))
            memory = (hour_facts, samples, report, ready, others.cores)

    speed = speed_lines(rows)
    decode = decode_lines(decodes, facts)
    verdicts = verdict_lines(rows, decodes)
    clips_text = "\n".join(f"- {clip.label}: {facts[clip].describe()}" for clip in clips)

    memory_text = "(skipped: --skip-hour)"
    if memory is not None:
        hour_facts, samples, report, ready, hour_others = memory
        table, curve = memory_table(samples, hour_facts.seconds)
        stages = report["stages"]
        memory_text = f"""{hour_facts.seconds:.0f} s of 720p at {HOUR_FPS} fps (x264 ultrafast: keyint 250 = 50 s, no
scene-cut keyframes; no noise; {hour_facts.describe()}), demo model, indexed in {report["seconds"]:.0f} s
({hour_facts.seconds / report["seconds"]:.0f} video s per wall s; sampling wait {stages["read_decode"]:.0f} s, encode
{stages["encode"]:.0f} s, write {stages["write"]:.1f} s; others' cores {hour_others:.2f}): {report["frames"]} frames,
{report["moments"]} moments. The indexing process held {ready / 1024:.0f} MiB once the model was loaded, before the
video (imports: torch alone is about 500 MiB). RSS sampled every 0.2 s.

| into the video | indexing process: peak RSS so far (MiB) | its VmHWM (MiB) | video child: peak RSS so far (MiB) | its VmHWM (MiB) |
|---|---|---|---|---|
{table}

RSS (MiB, indexing process + video child) at each tenth of the video: {curve}."""

    body = f"""## video_index

`{command}` ({time.perf_counter() - began:.0f} s, clips cached). Machine: {machine()}; PyAV {av.__version__}.

Clips (30 fps, H.264 by libx264 veryfast with one slice per frame, 720p at 8 and 1080p at 16 Mbit/s; a slideshow
of flickr8k-dev photos with a slow zoom and pan, 1 s crossfades every {SHOT_SECONDS:g} s and per-frame noise):
{clips_text}

**Indexing speed** (`index_paths` on one clip, or the folder, into a library in use; one sample per second):

| clip | model (runtime used) | load | video s / wall s | wall s | sampling wait (read_decode) s | encode s | frames | moments | others' cores |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(speed)}

`quiet`: nothing else of ours running; the machine is shared, so the last column says how many cores other
programs kept busy meanwhile (CPU time from /proc/stat less ours). `busy`: two spinning processes of ours keep
both cores busy meanwhile. `sampling wait` is the time the run waited on or took frames from the sampler (its
child process decodes while the run encodes, so this is the decoding not hidden behind encoding); `encode` is
the model's time on the frames. The wall time includes starting the sampler's child process: {started_child:.2f} s
to the first frame of a 720p clip, paid once per run.

**Decode only** (`sample_frames` alone in one process on the clip; wall s with video s per wall s, CPU s of all
the decoder's threads, frames out of the decoder):

| clip | load | skipping packets: wall s | CPU s | frames decoded | every frame (`skip=False`): wall s | CPU s | frames decoded | skipping saves (wall) | others' cores |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(decode)}

**Does sampling keep decoding well below the encoder's cost?** (quiet; decode-only wall s vs the encode stage of
the same clip's indexing run; "well below": at most half)

| clip | model | sampling (decode) s | encode s | decode / encode | well below |
|---|---|---|---|---|---|
{chr(10).join(verdicts)}

**Memory over a long video** (`--hour-seconds {args.hour_seconds:g}`):
{memory_text}"""
    write_section("video_index", body)


if __name__ == "__main__":
    main()
