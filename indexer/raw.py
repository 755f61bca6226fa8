"""Camera RAW files through LibRaw (rawpy), fast: the camera's own embedded preview when it is large enough for
what is asked, else a half-size render of the sensor data (2x2 pixels binned, no demosaicing). Never a full-size
demosaic: that takes seconds a picture, and the model looks at 224 pixels.

Upright like the camera showed it: LibRaw's `flip` (the RAW's orientation), or the preview's own EXIF orientation
when it has one. Bounded: the RAW's size is checked against the pixel limit before anything is decoded. The date
and camera come from the RAW's first TIFF directory where it has one (DNG, CR2, NEF, ARW, PEF, ...: Pillow reads
TIFF directories), else from the preview's EXIF (LibRaw writes the make, model and date it parsed into a preview
that has none of its own), else LibRaw's timestamp.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from indexer.image_info import (
    QUARTER_TURNS,
    DecodeError,
    ExifFacts,
    ImageInfo,
    NotAnImageError,
    TooManyPixels,
    exif_facts,
    exif_of,
    upright,
)

if TYPE_CHECKING:
    import rawpy

# LibRaw's flip (sizes.flip) as the EXIF orientation it stands for.
FLIP_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
TIFF_HEADERS = (b"II*\x00", b"MM\x00*")  # DNG, CR2, NEF, ARW, PEF, SRW, ...: their first directory is EXIF's IFD0
# LibRaw dates a file it found no date in at the epoch, in its own timestamp and in the EXIF it writes into a preview.
NO_DATE = "1970-01-01"


@dataclass(frozen=True)
class RawShape:
    """The RAW's picture as the sensor holds it, and how to turn it upright."""

    width: int
    height: int
    orientation: int

    @property
    def upright_size(self) -> tuple[int, int]:
        turned = self.orientation in QUARTER_TURNS
        return (self.height, self.width) if turned else (self.width, self.height)

    def holds_like_sensor(self, size: tuple[int, int]) -> bool:
        """Whether a preview of this size is stored the way the sensor is (landscape for a landscape sensor), and
        so still needs the RAW's orientation."""
        width, height = size
        return width == height or (width > height) == (self.width > self.height)


def probe_raw(data: bytes, max_pixels: int) -> None:
    """Refuse what decode_raw would refuse from LibRaw's parse alone (no pixel is decoded)."""
    with _opened(data) as raw:
        _checked_shape(raw, max_pixels)


def decode_raw(data: bytes, target_size: int, max_pixels: int, kind: str) -> tuple[Image.Image, ImageInfo]:
    """RGB, upright, at no less than target_size on the short side where the RAW has that many pixels; `kind`
    names the format for the catalog (DNG, CR3)."""
    with _opened(data) as raw:
        shape = _checked_shape(raw, max_pixels)
        found = _preview(raw, shape, target_size, max_pixels)
        if found is not None:
            image, preview_facts = found
        else:
            image, preview_facts = _half_size(raw), None
        facts = _facts(data, preview_facts, raw if found is None else None)
    width, height = shape.upright_size
    return image, ImageInfo(kind, width, height, facts.taken_at, facts.camera_make, facts.camera_model)


@contextmanager
def _opened(data: bytes) -> Iterator[rawpy.RawPy]:
    """LibRaw's parse of the file (headers and metadata; no pixel decoded yet), closed afterwards."""
    if not data:
        raise NotAnImageError("empty file (0 bytes)")
    try:
        import rawpy
    except ImportError as exc:
        raise DecodeError(f"camera RAW files need rawpy (LibRaw), which cannot be imported: {exc}") from None
    try:
        raw = rawpy.imread(io.BytesIO(data))
    except rawpy.LibRawFileUnsupportedError:
        raise NotAnImageError("not a camera RAW file LibRaw can read (unsupported camera, or not a RAW)") from None
    except rawpy.LibRawError as exc:
        raise DecodeError(f"corrupt or truncated RAW file: LibRaw: {_said(exc)}") from None
    try:
        yield raw
    except rawpy.LibRawError as exc:
        raise DecodeError(f"corrupt or truncated RAW file: LibRaw: {_said(exc)}") from None
    finally:
        raw.close()


def _said(exc: Exception) -> str:
    """LibRaw's message (rawpy hands it over as bytes)."""
    said = exc.args[0] if exc.args else type(exc).__name__
    return said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)


def _checked_shape(raw: rawpy.RawPy, max_pixels: int) -> RawShape:
    sizes = raw.sizes
    shape = RawShape(int(sizes.width), int(sizes.height), FLIP_ORIENTATION.get(int(sizes.flip), 1))
    if shape.width <= 0 or shape.height <= 0:
        raise DecodeError("corrupt RAW file: LibRaw found no picture in it")
    if shape.width * shape.height > max_pixels:
        raise TooManyPixels(*shape.upright_size, max_pixels)
    return shape


def _preview(
    raw: rawpy.RawPy, shape: RawShape, target_size: int, max_pixels: int
) -> tuple[Image.Image, ExifFacts] | None:
    """The embedded preview, upright, when its short side reaches target_size (camera previews are mostly 1 to
    2 MP, or full size); None when there is none that large, or it cannot be read (the sensor data may still be
    fine)."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:
        return None
    try:
        if isinstance(thumb.data, bytes):  # a JPEG
            found = _jpeg_preview(thumb.data, target_size, max_pixels)
        else:
            found = _bitmap_preview(thumb.data, target_size, max_pixels)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None
    if found is None:
        return None
    image, facts = found
    orientation = facts.orientation
    if orientation in (None, 1):  # a preview that says nothing follows the sensor, unless it is turned already
        orientation = shape.orientation if shape.holds_like_sensor(image.size) else 1
    return upright(image.convert("RGB"), orientation), facts


def _jpeg_preview(data: bytes, target_size: int, max_pixels: int) -> tuple[Image.Image, ExifFacts] | None:
    image = Image.open(io.BytesIO(data))
    if image.format != "JPEG" or not _fits(image.size, target_size, max_pixels):
        return None
    facts = exif_facts(exif_of(image))
    image.draft("RGB", (target_size, target_size))  # DCT scaling, as for any JPEG
    image.load()
    return image, facts


def _bitmap_preview(pixels: Any, target_size: int, max_pixels: int) -> tuple[Image.Image, ExifFacts] | None:
    """A preview LibRaw hands over as pixels (some cameras store them uncompressed): 8-bit RGB only."""
    array = np.asarray(pixels)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        return None
    if not _fits((array.shape[1], array.shape[0]), target_size, max_pixels):
        return None
    return Image.fromarray(np.ascontiguousarray(array)), ExifFacts(None, None, None, None)


def _fits(size: tuple[int, int], target_size: int, max_pixels: int) -> bool:
    return min(size) >= target_size and size[0] * size[1] <= max_pixels


def _half_size(raw: rawpy.RawPy) -> Image.Image:
    """The sensor data at half size, white-balanced as shot, in 8-bit sRGB; LibRaw turns it upright itself."""
    rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
    return Image.fromarray(np.ascontiguousarray(rgb[..., :3]))


def _facts(data: bytes, preview: ExifFacts | None, unpacked: rawpy.RawPy | None) -> ExifFacts:
    """Date and camera: the RAW's own TIFF directory first, then the preview's EXIF, then LibRaw's timestamp where
    the sensor data was unpacked anyway (rawpy unpacks it to hand the timestamp over: 80 ms on a 24 MP file)."""
    found = _tiff_facts(data)
    for fallback in (preview, _libraw_facts(unpacked) if unpacked is not None else None):
        if fallback is None:
            continue
        taken = fallback.taken_at if fallback.taken_at and not fallback.taken_at.startswith(NO_DATE) else None
        found = replace(
            found,
            taken_at=found.taken_at or taken,
            camera_make=found.camera_make or fallback.camera_make,
            camera_model=found.camera_model or fallback.camera_model,
        )
    return found


def _tiff_facts(data: bytes) -> ExifFacts:
    if not data.startswith(TIFF_HEADERS):
        return ExifFacts(None, None, None, None)
    exif = Image.Exif()
    try:
        exif.load(data)
    except Exception:  # a damaged directory costs the metadata, never the picture
        return ExifFacts(None, None, None, None)
    return exif_facts(exif)


def _libraw_facts(raw: rawpy.RawPy) -> ExifFacts:
    """LibRaw's own parse: its timestamp (from whichever of the file's dates it found), when it has one."""
    try:
        timestamp = raw.other.timestamp
    except Exception:
        return ExifFacts(None, None, None, None)
    taken = timestamp.replace(tzinfo=None).isoformat(timespec="seconds") if timestamp is not None else None
    return ExifFacts(None, taken, None, None)
