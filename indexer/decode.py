"""Turning bytes into a model-ready picture: fast, oriented, bounded, and never fatal to a run.

Every picture xmodal reads goes through `decode_image`, which enforces the caller's pixel limit from the
header before anything is decoded; Pillow's own decompression-bomb limit is switched off for the process
so that the limit that applies (and the one an error names) is always xmodal's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency; this keeps a broken wheel non-fatal
    HEIF_SUPPORTED = False

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is recorded as such, not half-indexed
Image.MAX_IMAGE_PIXELS = None  # decode_image checks the caller's max_pixels instead (see above)

ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF"})
READABLE_FORMATS = "JPEG, PNG, WebP, GIF, BMP, TIFF or HEIC"  # as a person names them

_EXIF_IFD = 0x8769
_ORIENTATION, _MAKE, _MODEL, _DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_DATETIME_ORIGINAL = 0x9003


class DecodeError(Exception):
    """A file that cannot be indexed; the message is what `stats` shows."""


class NotAnImageError(DecodeError):
    """The bytes are no picture at all (as opposed to a picture that is damaged or too large)."""


class TooManyPixels(DecodeError):
    """A picture over the pixel limit the caller gave; the caller knows which setting that was (uploads are held
    to max_upload_pixels, indexed files to max_image_pixels) and can say so."""

    def __init__(self, width: int, height: int, limit: int) -> None:
        super().__init__(f"image is {width}×{height} ({width * height:,} pixels), over the limit of {limit:,}")
        self.width = width
        self.height = height
        self.limit = limit


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int  # as displayed, after EXIF orientation
    height: int
    taken_at: str | None
    camera_make: str | None
    camera_model: str | None


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


def probe_image(data: bytes, max_pixels: int) -> None:
    """Refuse what decode_image would refuse from the header alone, in milliseconds: a query is checked before
    any model is loaded for it."""
    _open(data, max_pixels)


def decode_image(data: bytes, target_size: int, max_pixels: int) -> tuple[Image.Image, ImageInfo]:
    """Decode to RGB at no less than target_size on the short side, with orientation applied.

    Raises NotAnImageError for bytes that are no picture, TooManyPixels for one over max_pixels (checked from
    the header, before decoding), and DecodeError for anything else that cannot be read."""
    image = _open(data, max_pixels)
    try:
        info = _info(image)
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", (target_size, target_size))  # DCT scaling: decode 1/2, 1/4, 1/8 size
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


def _to_rgb(image: Image.Image) -> Image.Image:
    """Transparent pixels become white, not black: how a person sees a logo or a sticker."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _info(image: Image.Image) -> ImageInfo:
    try:
        exif = image.getexif()
    except Exception:  # hostile EXIF must not cost us the picture
        exif = Image.Exif()
    width, height = image.size
    if exif.get(_ORIENTATION) in (5, 6, 7, 8):
        width, height = height, width
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        sub = {}
    taken = _exif_date(sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME))
    return ImageInfo(
        format=str(image.format),
        width=width,
        height=height,
        taken_at=taken,
        camera_make=_exif_text(exif.get(_MAKE)),
        camera_model=_exif_text(exif.get(_MODEL)),
    )


def _exif_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:200] or None


def _exif_date(value: object) -> str | None:
    text = _exif_text(value)
    if not text:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d"):
        try:
            return datetime.strptime(text[:19], fmt).isoformat()
        except ValueError:
            continue
    return None
