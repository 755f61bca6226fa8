"""Camera RAW files through LibRaw, on DNGs made from a real photo: upright, from the embedded preview when it is
large enough and at half size otherwise, with the camera's date and name, and refused with a reason when broken."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from data.dng import dng_bytes, real_photo
from indexer.decode import DecodeError, NotAnImageError, TooManyPixels, decode_image, probe_image

LIMIT = 50_000_000


def distance(image: Image.Image, reference: Image.Image) -> float:
    """Mean absolute difference per channel (0-255), at the reference's size."""
    shown = np.asarray(image.resize(reference.size), dtype=np.float32)
    return float(np.abs(shown - np.asarray(reference, dtype=np.float32)).mean())


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return real_photo(0)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("preview", [True, False], ids=["preview", "half-size"])
def test_a_raw_comes_out_upright_whichever_way_the_camera_was_held(
    photo: Image.Image, orientation: int, preview: bool
) -> None:
    sensor_size = photo.size if orientation in (1, 3) else photo.size[::-1]
    data = dng_bytes(photo, orientation, preview=sensor_size if preview else None)
    image, info = decode_image(data, 64, LIMIT, "IMG_0001.DNG")
    assert image.mode == "RGB"
    assert image.width < image.height  # the photo is portrait
    turned = [photo.transpose(t) for t in (Image.Transpose.ROTATE_180, Image.Transpose.FLIP_TOP_BOTTOM)]
    assert distance(image, photo) < 25 and all(distance(image, other) > 40 for other in turned)
    assert (info.width, info.height) == (374, 500)  # the whole sensor's picture, upright (width made even)
    assert (info.format, info.camera_make, info.camera_model) == ("DNG", "Testcam", "RX-1")
    assert info.taken_at == "2021-06-05T10:11:12"


def test_the_preview_is_used_when_its_short_side_reaches_the_size_asked_for(photo: Image.Image) -> None:
    data = dng_bytes(photo, 1, preview=photo.size)  # a full-size preview, 375×500
    from_preview, _ = decode_image(data, 300, LIMIT, "a.dng")
    assert from_preview.size == photo.size  # the preview's pixels (a half-size render is 187×250)
    half, _ = decode_image(data, 400, LIMIT, "a.dng")  # more than the preview's 375: the sensor data, at half size
    assert half.size == (187, 250)
    assert distance(from_preview, photo) < 8 and distance(half, photo) < 25


def test_a_small_preview_or_none_falls_back_to_a_half_size_render(photo: Image.Image) -> None:
    for preview in ((120, 160), None):  # a thumbnail of 120 pixels, for a model that asks for 150
        image, _ = decode_image(dng_bytes(photo, 1, preview=preview), 150, LIMIT, "a.dng")
        assert image.size == (187, 250)


def test_the_pixel_limit_is_checked_before_decoding(photo: Image.Image) -> None:
    data = dng_bytes(photo, 6)
    with pytest.raises(TooManyPixels) as refused:
        decode_image(data, 64, 100_000, "a.dng")
    assert str(refused.value) == "image is 374×500 (187,000 pixels), over the limit of 100,000"
    with pytest.raises(TooManyPixels):
        probe_image(data, 100_000, "a.dng")
    probe_image(data, LIMIT, "a.dng")  # within the limit: accepted from LibRaw's parse alone


def test_bytes_that_are_no_raw_are_refused_with_a_reason() -> None:
    with pytest.raises(NotAnImageError, match="not a camera RAW file LibRaw can read"):
        decode_image(b"this is not a raw file at all\n" * 100, 64, LIMIT, "IMG_0002.CR2")
    with pytest.raises(NotAnImageError, match="empty file"):
        decode_image(b"", 64, LIMIT, "IMG_0003.NEF")


def test_a_truncated_raw_is_refused_as_corrupt(photo: Image.Image) -> None:
    data = dng_bytes(photo, 1)
    for cut in (len(data) // 2, 200):
        with pytest.raises(DecodeError, match="corrupt or truncated RAW file: LibRaw: "):
            decode_image(data[:cut], 64, LIMIT, "cut.dng")


def test_a_raw_is_told_apart_by_its_name_not_read_as_the_tiff_it_also_is(photo: Image.Image) -> None:
    data = dng_bytes(photo, 1)
    with pytest.raises(DecodeError):  # to Pillow a DNG is a TIFF it cannot read
        decode_image(data, 64, LIMIT, "a.tif")
    decode_image(data, 64, LIMIT, "a.DnG")  # any case
