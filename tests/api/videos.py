"""A served library with videos in it: a few demo pictures indexed as a user would, and two scene videos
written into the catalog the way indexing writes them (indexing does not write videos yet): a video row, its
frames sampled once a second, and one moment per scene, each vector the library's own model's, then the ANN
index brought up to the catalog as a writer's checkpoint does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.settings import load_settings
from data.scene_videos import Moment, SceneVideo, write_scene_video
from data.scenes import Scene, generate
from indexer.catalog import MediaRecord
from indexer.catalog.records import Segment
from indexer.hashing import content_sample_hash
from indexer.library import Library
from indexer.video import VideoLimits, sample_frames
from tests.api.conftest import index

RED_CIRCLE = Scene("red", "circle", "large", "left", 1, "sky")
BLUE_SQUARE = Scene("blue", "square", "large", "right", 1, "sky")
GREEN_TRIANGLE = Scene("green", "triangle", "large", "top", 1, "night")
PURPLE_SQUARE = Scene("purple", "square", "large", "bottom", 2, "night")


@dataclass(frozen=True)
class WrittenVideo:
    truth: SceneVideo  # what every frame shows
    id: int
    moment_ids: tuple[int, ...]  # one per moment of `truth`, in time order
    segments: tuple[Segment, ...]  # as written: their times

    @property
    def path(self) -> Path:
        return self.truth.path


@dataclass(frozen=True)
class VideoLibrary:
    library: Path
    photos: Path
    party: WrittenVideo  # a red circle (moving), a blue square, the red circle again: two moments of one scene
    walk: WrittenVideo  # a green triangle, two purple squares

    @property
    def videos(self) -> tuple[WrittenVideo, WrittenVideo]:
        return (self.party, self.walk)


def build_video_library(root: Path) -> VideoLibrary:
    generate(root / "photos", 12, seed=5, heldout=True)
    photos = root / "photos" / "images"
    videos = root / "photos" / "videos"
    party = write_scene_video(
        videos / "party 2024.mp4",
        [
            Moment(3.0, 6.0, RED_CIRCLE, (0.0, -0.08), (0.0, 0.08)),
            Moment(7.0, 10.0, BLUE_SQUARE),
            Moment(11.0, 14.0, RED_CIRCLE),
        ],
        16.0,
        seed=1,
    )
    walk = write_scene_video(
        videos / "walk.mp4", [Moment(2.0, 6.0, GREEN_TRIANGLE), Moment(7.0, 10.0, PURPLE_SQUARE)], 12.0, seed=2
    )
    library = root / "library"
    index(library, photos)
    written = [add_video(library, truth) for truth in (party, walk)]
    return VideoLibrary(library, photos, *written)


def add_video(library_path: Path, truth: SceneVideo) -> WrittenVideo:
    """The video in the catalog with a moment per scene, whose best frame is its middle one, and in the index."""
    with Library.open_writer(library_path, "a test's video") as library:
        model = library.reader_encoder()
        sampled = list(sample_frames(truth.path, VideoLimits()))
        vectors = model.encode_images([frame.image for frame in sampled])
        frames = [(frame.time, vector) for frame, vector in zip(sampled, vectors, strict=True)]
        segments = []
        for moment in truth.moments:
            inside = [vector for time, vector in frames if moment.start <= time < moment.end]
            mean = np.mean(inside, axis=0)
            middle = round((moment.start + moment.end) / 2 * truth.fps) / truth.fps
            segments.append(Segment(moment.start, moment.end, middle, mean / np.linalg.norm(mean)))
        stat = truth.path.stat()
        record = MediaRecord(
            path=str(truth.path),
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            content_hash=content_sample_hash(truth.path),
            status="ok",
            format="mp4",
            width=truth.size,
            height=truth.size,
            media_type="video",
            duration_s=truth.seconds,
        )
        video_id, ids = library.catalog.write_video(record, frames, segments)
        library.vector_index("media").update(load_settings(library=library_path).ivf_threshold)
    return WrittenVideo(truth, video_id, tuple(ids), tuple(segments))
