"""open_clip's evaluation preprocessing (torchvision Resize, CenterCrop, ToTensor, Normalize on a PIL image)
without torch, so that an image can be encoded with ONNX Runtime alone. The resizing is Pillow's, called as
torchvision calls it, so the pixels are the same; only the float arithmetic is redone, in the same order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

# open_clip's defaults (open_clip.constants), for a preprocessing config that names no mean or std.
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
RESIZE_MODES = ("shortest", "squash")

Triple = tuple[float, float, float]


class Preprocess:
    """A PIL image to the (3, S, S) float32 array open_clip's preprocess gives. 'shortest' scales the shorter side
    to S and crops the centre; 'squash' scales to S x S, ignoring the aspect ratio. Safe to call from threads."""

    def __init__(
        self,
        image_size: int,
        mean: Triple,
        std: Triple,
        interpolation: str = "bicubic",
        resize_mode: str = "shortest",
    ) -> None:
        if interpolation not in FILTERS:
            raise ValueError(f"interpolation must be one of {sorted(FILTERS)}, not {interpolation!r}")
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, not {resize_mode!r}")
        if image_size < 1 or len(mean) != 3 or len(std) != 3:
            raise ValueError(f"need a positive size and 3 means and stds, not {image_size}, {mean}, {std}")
        self.image_size = image_size
        self.mean, self.std = tuple(mean), tuple(std)
        self.interpolation, self.resize_mode = interpolation, resize_mode
        # Each channel's 256 possible outputs, computed as ToTensor and Normalize compute them in float32
        # (divide by 255, subtract the mean, divide by the std), so that a lookup gives the same bits.
        levels = np.arange(256, dtype=np.float32) / np.float32(255)
        channel = (slice(None), None)
        self._levels = (levels - np.asarray(mean, np.float32)[channel]) / np.asarray(std, np.float32)[channel]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Preprocess | None:
        """From open_clip's preprocessing config (PreprocessCfg's keys; 'image_size' is read for 'size'), with
        open_clip's defaults for what it leaves out. None where open_clip would do something this class does not
        (resize_mode 'longest', a non-square size, another mode or interpolation): the caller then uses torch."""
        size = config.get("size", config.get("image_size", 224))
        if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]:
            size = size[0]
        mean, std = _triple(config.get("mean") or OPENAI_MEAN), _triple(config.get("std") or OPENAI_STD)
        interpolation = config.get("interpolation") or "bicubic"
        if interpolation == "random":  # open_clip picks at random only in training; it evaluates with bicubic
            interpolation = "bicubic"
        resize_mode = config.get("resize_mode") or "shortest"
        if (
            not isinstance(size, int)
            or isinstance(size, bool)
            or mean is None
            or std is None
            or config.get("mode", "RGB") != "RGB"
            or interpolation not in FILTERS
            or resize_mode not in RESIZE_MODES
        ):
            return None
        return cls(size, mean, std, interpolation, resize_mode)

    def __call__(self, image: Image.Image) -> np.ndarray:
        # Resized and cropped in the image's own mode, converted to RGB after, as open_clip does: Pillow
        # resizes palette images with nearest neighbour and RGBA with premultiplied alpha.
        image = self._crop(self._resize(image))
        if image.mode != "RGB":
            image = image.convert("RGB")
        planes = np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1))  # uint8 first: 4x less to move
        array = np.empty(planes.shape, dtype=np.float32)
        for channel in range(3):
            np.take(self._levels[channel], planes[channel], out=array[channel])
        return array

    def _resize(self, image: Image.Image) -> Image.Image:
        """torchvision's Resize: the shorter side becomes S and the longer one is scaled and truncated to an int
        (not rounded), or both sides become S; an image already that size is left as it is."""
        size = self.image_size
        width, height = image.size
        if self.resize_mode == "squash":
            target = (size, size)
        elif width <= height:
            target = (size, int(size * height / width))
        else:
            target = (int(size * width / height), size)
        return image if image.size == target else image.resize(target, FILTERS[self.interpolation])

    def _crop(self, image: Image.Image) -> Image.Image:
        """torchvision's CenterCrop: offsets rounded half to even (Python's round), so one extra row goes below.
        The resized image is never smaller than the crop, so torchvision's zero padding never happens."""
        size = self.image_size
        width, height = image.size
        if (width, height) == (size, size):
            return image
        left, top = round((width - size) / 2), round((height - size) / 2)
        return image.crop((left, top, left + size, top + size))


def _triple(value: Any) -> Triple | None:
    """open_clip's mean or std: one number for all channels, or one per channel (a single-element sequence
    broadcasts as torchvision's Normalize broadcasts it)."""
    if isinstance(value, (int, float)):
        return (float(value),) * 3
    if isinstance(value, (list, tuple)) and len(value) in (1, 3) and all(isinstance(v, (int, float)) for v in value):
        values = [float(v) for v in value] * (3 if len(value) == 1 else 1)
        return values[0], values[1], values[2]
    return None
