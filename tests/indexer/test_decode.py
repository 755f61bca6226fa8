"""Decoding real files in every supported format, and refusing bad ones with a reason."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from indexer.decode import DecodeError, TooManyPixels, decode_image
from tests.conftest import picture

LIMIT = 50_000_000


def encoded(fmt: str, image: Image.Image | None = None, **save: object) -> bytes:
    buffer = io.BytesIO()
    (image or picture(1, (120, 80))).save(buffer, format=fmt, **save)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF", "JPEG2000", "PPM"])
def test_every_supported_format_decodes_to_rgb(fmt: str) -> None:
    image, info = decode_image(encoded(fmt), 64, LIMIT)
    assert image.mode == "RGB"
    assert (info.width, info.height) == (120, 80)
    assert info.format == fmt


@pytest.mark.parametrize(("mode", "magic"), [("1", b"P4"), ("L", b"P5"), ("RGB", b"P6")])
def test_the_netpbm_family_shows_the_picture(mode: str, magic: bytes) -> None:
    """PBM, PGM and PPM, as Pillow writes them: the decoded picture is the one written (in grey for PGM)."""
    source = picture(4, (120, 80))
    data = encoded("PPM", source.convert(mode))
    assert data.startswith(magic)
    image, info = decode_image(data, 64, LIMIT)
    assert (image.mode, image.size, info.format) == ("RGB", (120, 80), "PPM")
    expected = np.asarray(source.convert(mode).convert("RGB"), dtype=np.float32)
    assert np.abs(np.asarray(image, dtype=np.float32) - expected).mean() < 1


def test_a_16_bit_pgm_is_scaled_not_clipped_to_white() -> None:
    levels = np.array([[0, 16384, 32768, 65535]], dtype=">u2")
    data = b"P5\n4 1\n65535\n" + levels.tobytes()
    image, _ = decode_image(data, 1, LIMIT)
    assert [pixel[0] for pixel in np.asarray(image)[0]] == [0, 64, 128, 255]


def test_a_large_jpeg_2000_is_decoded_at_a_reduced_resolution_but_not_below_target() -> None:
    data = encoded("JPEG2000", picture(5, (1600, 1200)))
    image, info = decode_image(data, 224, LIMIT)
    assert (info.width, info.height) == (1600, 1200)  # the catalog keeps the real size
    assert image.size == (400, 300)  # halved twice: the smallest level still at least 224 on the short side
    whole, _ = decode_image(data, 1200, LIMIT)
    assert whole.size == (1600, 1200)


def test_a_jpeg_2000_with_fewer_resolution_levels_than_asked_is_decoded_whole() -> None:
    data = encoded("JPEG2000", picture(5, (1600, 1200)), num_resolutions=2)  # one halving at most
    image, _ = decode_image(data, 100, LIMIT)  # three halvings would do: refused by the file, so decoded whole
    assert image.size == (1600, 1200)


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 40), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    image, _ = decode_image(buffer.getvalue(), 32, LIMIT)
    red, _, blue = image.getpixel((20, 20))  # type: ignore[misc]
    assert red > 200 and blue < 50


def test_exif_orientation_is_applied_and_metadata_recorded() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 18:30:00"
    data = encoded("JPEG", Image.new("RGB", (200, 100), (10, 200, 10)), exif=exif.tobytes())
    image, info = decode_image(data, 32, LIMIT)
    assert image.size[0] < image.size[1]  # landscape pixels, portrait photo
    assert (info.width, info.height) == (100, 200)
    assert info.taken_at == "2021-07-04T18:30:00"
    assert (info.camera_make, info.camera_model) == ("Canon", "EOS 5D")


def test_large_jpeg_is_decoded_at_reduced_size_but_not_below_target() -> None:
    data = encoded("JPEG", Image.new("RGB", (2400, 1600), (50, 60, 70)))
    image, info = decode_image(data, 224, LIMIT)
    assert (info.width, info.height) == (2400, 1600)  # the catalog keeps the real size
    assert image.size[0] < 2400 and min(image.size) >= 224


def test_transparent_png_gets_a_white_background() -> None:
    data = encoded("PNG", Image.new("RGBA", (20, 20), (0, 0, 0, 0)))
    image, _ = decode_image(data, 16, LIMIT)
    assert image.getpixel((5, 5)) == (255, 255, 255)


def test_empty_file_is_refused() -> None:
    with pytest.raises(DecodeError, match="empty"):
        decode_image(b"", 64, LIMIT)


def test_text_with_an_image_extension_is_refused() -> None:
    with pytest.raises(DecodeError, match="not an image"):
        decode_image(b"hello, I am not a picture\n" * 10, 64, LIMIT)


def test_truncated_jpeg_is_refused() -> None:
    data = encoded("JPEG", picture(3, (400, 300)))
    with pytest.raises(DecodeError, match=r"truncated|corrupt"):
        decode_image(data[: len(data) // 2], 64, LIMIT)


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny PNG whose header claims width×height pixels (by default 1.6 billion)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(DecodeError, match=r"pixels|bomb"):
        decode_image(bomb_png(), 64, LIMIT)


def test_a_real_8000x8000_png_over_the_limit_names_its_size_and_the_limit_that_applied() -> None:
    buffer = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buffer, format="PNG")  # 64 M pixels, a few KB on disk
    with pytest.raises(TooManyPixels) as refused:
        decode_image(buffer.getvalue(), 64, LIMIT)
    assert (refused.value.width, refused.value.height, refused.value.limit) == (8000, 8000, LIMIT)
    assert str(refused.value) == "image is 8000×8000 (64,000,000 pixels), over the limit of 50,000,000"


def test_the_limit_that_applies_is_xmodals_even_past_pillows_own() -> None:
    """Pillow refuses over ~179 M pixels by itself; xmodal's limit must apply instead, below or above that."""
    header_only = bomb_png(20_000, 10_000)  # 200 M pixels claimed, almost no data
    with pytest.raises(TooManyPixels) as refused:
        decode_image(header_only, 64, 150_000_000)
    assert str(refused.value).endswith("over the limit of 150,000,000") and refused.value.limit == 150_000_000
    with pytest.raises(DecodeError, match="corrupt or truncated") as allowed:  # allowed: decoding finds no data
        decode_image(header_only, 64, 10**12)
    assert not isinstance(allowed.value, TooManyPixels)


def test_jpeg_signature_followed_by_garbage_is_refused() -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
    with pytest.raises(DecodeError):
        decode_image(data, 64, LIMIT)
