"""Camera RAW files made from real photos, for tests and benchmarks: DNGs written by pidng (a dev dependency),
with or without an embedded JPEG preview. The sensor data is the photo itself, mosaicked (RGGB) in linear light,
so what LibRaw renders from it is that photo again."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from pidng.core import DNGTags, Tag
from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, PhotometricInterpretation
from pidng.dng import DNG, dngIFD, dngTag
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
FLICKR = REPO.parent / "shared" / "data" / "flickr8k-dev"

WHITE = 4095
# XYZ → linear sRGB, as a DNG's ColorMatrix1: the camera "sees" in sRGB, so no colour cast comes out.
XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


def real_photo(index: int = 0) -> Image.Image:
    """A real photo (flickr8k where the shared data is there, else a sample scene), RGB."""
    photos = sorted((FLICKR / "images").glob("*.jpg")) or sorted((REPO / "data/samples/images").glob("*.png"))
    return Image.open(photos[index % len(photos)]).convert("RGB")


def stored_for(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores for an upright photo under an EXIF orientation (1, 3, 6 or 8)."""
    undo = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    transpose = undo[orientation]
    return upright if transpose is None else upright.transpose(transpose)


def dng_bytes(
    upright: Image.Image,
    orientation: int = 1,
    *,
    preview: tuple[int, int] | None = None,
    make: str = "Testcam",
    model: str = "RX-1",
    taken: str = "2021:06:05 10:11:12",
) -> bytes:
    """A DNG of the photo as a camera held `orientation` would store it; `preview`: the size of an embedded JPEG
    preview (stored like the sensor data, as cameras do), or none."""
    sensor = stored_for(upright, orientation)
    linear = (np.asarray(sensor, dtype=np.float32) / 255.0) ** 2.2
    height, width = linear.shape[0] // 2 * 2, linear.shape[1] // 2 * 2
    linear = linear[:height, :width]
    mosaic = np.empty((height, width), np.uint16)
    for row, col, channel in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)):
        mosaic[row::2, col::2] = linear[row::2, col::2, channel] * WHITE
    tags = DNGTags()
    for tag, value in (
        (Tag.ImageWidth, width),
        (Tag.ImageLength, height),
        (Tag.TileWidth, width),
        (Tag.TileLength, height),
        (Tag.Orientation, orientation),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, 16),
        (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB),
        (Tag.BlackLevel, 0),
        (Tag.WhiteLevel, WHITE),
        (Tag.ColorMatrix1, [[round(v * 10000), 10000] for row in XYZ_TO_SRGB for v in row]),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, make),
        (Tag.Model, model),
        (Tag.DateTime, taken),
        (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2),
        (Tag.UniqueCameraModel, f"{make} {model}"),
    ):
        tags.set(tag, value)
    document = DNG()
    document.ImageDataStrips.append(mosaic.tobytes())
    main = dngIFD()
    offsets = dngTag(Tag.TileOffsets, [0])
    main.tags += [offsets, dngTag(Tag.NewSubfileType, [0]), dngTag(Tag.TileByteCounts, [mosaic.nbytes])]
    main.tags += [dngTag(Tag.Compression, [1]), *tags.list()]
    document.IFDs.append(main)
    preview_offsets = None
    if preview is not None:  # a second directory, chained after the first: NewSubfileType 1, a baseline JPEG
        buffer = io.BytesIO()
        sensor.resize(preview).save(buffer, "JPEG", quality=92)
        jpeg = buffer.getvalue()
        document.ImageDataStrips.append(jpeg)
        thumb = dngIFD()
        preview_offsets = dngTag(Tag.StripOffsets, [0])
        thumb.tags += [preview_offsets, dngTag(Tag.NewSubfileType, [1]), dngTag(Tag.Compression, [7])]
        thumb.tags += [dngTag(Tag.ImageWidth, [preview[0]]), dngTag(Tag.ImageLength, [preview[1]])]
        thumb.tags += [dngTag(Tag.BitsPerSample, [8, 8, 8]), dngTag(Tag.SamplesPerPixel, [3])]
        thumb.tags += [dngTag(Tag.PhotometricInterpretation, [6]), dngTag(Tag.RowsPerStrip, [preview[1]])]
        thumb.tags += [dngTag(Tag.StripByteCounts, [len(jpeg)])]
        document.IFDs.append(thumb)
        main.NextIFDOffset = 8 + main.dataLen()
    out = bytearray(document.dataLen())  # lays the strips out: their offsets are known from here on
    offsets.setValue([document.StripOffsets[0]])
    if preview_offsets is not None:
        preview_offsets.setValue([document.StripOffsets[1]])
    document.setBuffer(out)
    document.write()
    return bytes(out)


def write_dng(path: Path, upright: Image.Image, orientation: int = 1, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dng_bytes(upright, orientation, **options))  # type: ignore[arg-type]
    return path
