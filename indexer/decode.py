"""Turning bytes into a model-ready picture: fast, oriented, bounded, and never fatal to a run.

Every picture xmodal reads goes through `decode_image`, which enforces the caller's pixel limit from the
header before anything is decoded; Pillow's own decompression-bomb limit is switched off for the process
so that the limit that applies (and the one an error names) is always xmodal's. Camera RAW files, told apart
by their name (a RAW is a TIFF to Pillow, which would read its small first thumbnail), go to indexer.raw.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFile, ImageOps, Jpeg2KImagePlugin, UnidentifiedImageError

from indexer.image_info import (
    QUARTER_TURNS,
    DecodeError,
    ImageInfo,
    NotAnImageError,
    TooManyPixels,
    exif_facts,
    exif_of,
)
from indexer.raw import decode_raw, probe_raw
from indexer.selection import is_raw, suffix_of

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency; this keeps a broken wheel non-fatal
    HEIF_SUPPORTED = False

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is recorded as such, not half-indexed
Image.MAX_IMAGE_PIXELS = None  # decode_image checks the caller's max_pixels instead (see above)

# Pillow's names: PPM covers the whole Netpbm family it reads (PBM, PGM, PPM, PNM).
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF", "JPEG2000", "PPM"})
READABLE_FORMATS = "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF, JPEG 2000, PNM or camera RAW"  # as a person names them
WIDE_GREY = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})  # 16-bit grey: PGM, PNG, TIFF
JPEG2000_MAX_REDUCE = 5  # openjpeg's default 6 resolution levels allow halving 5 times

__all__ = [
    "ACCEPTED_FORMATS",
    "READABLE_FORMATS",
    "DecodeError",
    "ImageInfo",
    "NotAnImageError",
    "TooManyPixels",
    "decode_image",
    "probe_image",
]


def raw_format(name: str) -> str:
    """What the catalog calls a RAW file's format: its kind as cameras name it (DNG, CR3, NEF)."""
    return suffix_of(name).lstrip(".").upper()


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The picture's header, checked: a format xmodal reads, within the pixel limit. Nothing decoded yet."""
    if not data:
        raise NotAnImageError("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise NotAnImageError("not an image, or a format xmodal cannot read") from None
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"decompression bomb refused: {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DecodeError(f"unreadable image: {exc}") from None
    if image.format not in ACCEPTED_FORMATS:
        raise NotAnImageError(f"unsupported image format {image.format}")
    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixels(width, height, max_pixels)
    return image


def probe_image(data: bytes, max_pixels: int, name: str | None = None) -> None:
    """Refuse what decode_image would refuse from the header alone, in milliseconds: a query is checked before
    any model is loaded for it. `name`: the file's name, which tells a camera RAW apart."""
    if name is not None and is_raw(name):
        probe_raw(data, max_pixels)
    else:
        _open(data, max_pixels)


def decode_image(
    data: bytes, target_size: int, max_pixels: int, name: str | None = None
) -> tuple[Image.Image, ImageInfo]:
    """Decode to RGB at no less than target_size on the short side, with orientation applied. `name`: the file's
    name, which tells a camera RAW apart (decoded from its embedded preview or at half size: indexer.raw).

    Raises NotAnImageError for bytes that are no picture, TooManyPixels for one over max_pixels (checked from
    the header, before decoding), and DecodeError for anything else that cannot be read."""
    if name is not None and is_raw(name):
        return decode_raw(data, target_size, max_pixels, raw_format(name))
    image = _open(data, max_pixels)
    try:
        info = picture_info(image)
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", (target_size, target_size))  # DCT scaling: decode 1/2, 1/4, 1/8 size
        if isinstance(image, Jpeg2KImagePlugin.Jpeg2KImageFile):
            image = _load_jpeg2000(image, data, target_size, max_pixels)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        if image.mode != "RGB":
            image = _to_rgb(image)
        return image, info
    except DecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"decompression bomb refused: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, IndexError, TypeError) as exc:
        raise DecodeError(f"corrupt or truncated image: {exc}") from None


def _load_jpeg2000(image: Jpeg2KImagePlugin.Jpeg2KImageFile, data: bytes, target: int, max_pixels: int) -> Image.Image:
    """JPEG 2000 holds its picture at halved resolutions too: decode the smallest still at least `target` on the
    short side (a 12 MP picture for a 224-pixel model: a tenth of the time). A file made with fewer resolution
    levels than asked refuses that, and is decoded whole."""
    halvings = 0
    while halvings < JPEG2000_MAX_REDUCE and min(image.size) >> (halvings + 1) >= target:
        halvings += 1
    if halvings == 0:
        return image
    image.reduce = halvings
    try:
        image.load()
        return image
    except OSError:
        whole = _open(data, max_pixels)
        whole.load()  # a damaged file fails here too, with the reason a whole decode gives
        return whole


def _to_rgb(image: Image.Image) -> Image.Image:
    """Transparent pixels become white, not black: how a person sees a logo or a sticker. 16-bit grey is scaled to
    8 bits (Pillow's convert would clip every value over 255 to white)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in WIDE_GREY:
        grey = np.asarray(image, dtype=np.float32) / 257.0
        return Image.fromarray(np.clip(grey, 0, 255).round().astype(np.uint8)).convert("RGB")
    if image.mode == "F":  # a float map (PFM): 0..1 is black..white
        grey = np.asarray(image, dtype=np.float32) * 255.0
        return Image.fromarray(np.clip(np.nan_to_num(grey), 0, 255).round().astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def picture_info(image: Image.Image) -> ImageInfo:
    """Format, upright size, date and camera, from the header alone (no pixels decoded)."""
    facts = exif_facts(exif_of(image))
    width, height = image.size
    if facts.orientation in QUARTER_TURNS:
        width, height = height, width
    return ImageInfo(
        format=str(image.format),
        width=width,
        height=height,
        taken_at=facts.taken_at,
        camera_make=facts.camera_make,
        camera_model=facts.camera_model,
    )
