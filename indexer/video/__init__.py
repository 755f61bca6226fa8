"""Videos, decoded for indexing: opening and checking one (probe.py), sampling small upright frames from it with
the decoder doing as little as the samples need (sampling.py), and marking where a new shot starts (scenes.py).
Torch-free; FFmpeg through PyAV. Not yet wired into indexing or search."""

from indexer.selection import VIDEO_EXTENSIONS
from indexer.video.probe import (
    VideoDecodeError,
    VideoInfo,
    VideoLimits,
    VideoOverLimit,
    VideoTruncated,
    probe,
)
from indexer.video.sampling import FRAME_SIDE, SampledFrame, sample_frames
from indexer.video.scenes import SCENE_CUT_THRESHOLD, scene_distance

__all__ = [
    "FRAME_SIDE",
    "SCENE_CUT_THRESHOLD",
    "VIDEO_EXTENSIONS",
    "SampledFrame",
    "VideoDecodeError",
    "VideoInfo",
    "VideoLimits",
    "VideoOverLimit",
    "VideoTruncated",
    "probe",
    "sample_frames",
    "scene_distance",
]
