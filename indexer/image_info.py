"""What decoding a picture yields besides its pixels, and the ways it fails: shared by the Pillow path
(indexer.decode) and the camera RAW path (indexer.raw), so that both record the same metadata and reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PIL import Image

EXIF_IFD = 0x8769
ORIENTATION, MAKE, MODEL, DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
DATETIME_ORIGINAL = 0x9003

# EXIF orientation → the transpose that makes the picture upright (1 needs none).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
QUARTER_TURNS = frozenset({5, 6, 7, 8})  # orientations that swap width and height


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


@dataclass(frozen=True)
class ExifFacts:
    """What the catalog keeps from a picture's EXIF."""

    orientation: int | None
    taken_at: str | None
    camera_make: str | None
    camera_model: str | None


def upright(image: Image.Image, orientation: int | None) -> Image.Image:
    transpose = UPRIGHT.get(orientation or 1)
    return image if transpose is None else image.transpose(transpose)


def exif_of(image: Image.Image) -> Image.Exif:
    try:
        return image.getexif()
    except Exception:  # hostile EXIF must not cost us the picture
        return Image.Exif()


def exif_facts(exif: Image.Exif) -> ExifFacts:
    try:
        sub = exif.get_ifd(EXIF_IFD)
    except Exception:
        sub = {}
    orientation = exif.get(ORIENTATION)
    return ExifFacts(
        orientation=orientation if isinstance(orientation, int) else None,
        taken_at=exif_date(sub.get(DATETIME_ORIGINAL) or exif.get(DATETIME)),
        camera_make=exif_text(exif.get(MAKE)),
        camera_model=exif_text(exif.get(MODEL)),
    )


def exif_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:200] or None


def exif_date(value: object) -> str | None:
    text = exif_text(value)
    if not text:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d"):
        try:
            return datetime.strptime(text[:19], fmt).isoformat()
        except ValueError:
            continue
    return None
