"""Decoding a camera RAW for the model: the embedded preview against a half-size render, with a full-size demosaic
(what xmodal never does) and the camera's JPEG of the same photo for scale.

    python -m bench.raw_decode [--megapixels 24] [--repeats 5] [--target 224]

The RAW is a DNG written by pidng from a flickr8k photo scaled up to the sensor size (16-bit, uncompressed, RGGB),
with a 1620×1080 JPEG preview as cameras embed one; a real camera's RAW is compressed, so LibRaw's unpacking costs
more there than here. Times are medians of `--repeats`, one thread decoding.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

from PIL import Image

from bench._results import machine, write_section
from data.dng import dng_bytes, real_photo
from indexer.decode import decode_image


def median_ms(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", type=int, default=224)
    args = parser.parse_args()
    width = int((args.megapixels * 1e6 * 3 / 2) ** 0.5) // 2 * 2
    height = width * 2 // 3 // 2 * 2
    photo = real_photo(1).resize((width, height), Image.Resampling.BICUBIC)
    with_preview = dng_bytes(photo, 1, preview=(1620, 1080))
    without = dng_bytes(photo, 1)
    jpeg = io.BytesIO()
    photo.save(jpeg, "JPEG", quality=92)
    limit = 10**9

    def full_size() -> object:
        import rawpy

        with rawpy.imread(io.BytesIO(without)) as raw:
            return raw.postprocess(use_camera_wb=True, output_bps=8)

    rows = [
        ("embedded preview (1620×1080 JPEG)", lambda: decode_image(with_preview, args.target, limit, "a.dng")),
        ("half-size render (no usable preview)", lambda: decode_image(without, args.target, limit, "a.dng")),
        ("full-size demosaic (never done; for scale)", full_size),
        ("the same photo as a JPEG (draft mode)", lambda: decode_image(jpeg.getvalue(), args.target, limit, "a.jpg")),
    ]
    lines = [
        "## raw_decode",
        "",
        f"`python -m bench.raw_decode --megapixels {args.megapixels:g} --repeats {args.repeats}` — a "
        f"{width}×{height} DNG ({len(without) / 2**20:.0f} MiB, 16-bit uncompressed) made from a real photo, decoded "
        f"for a {args.target}-pixel model; medians. Machine: {machine()}.",
        "",
        "| decode | ms |",
        "|---|---|",
    ]
    for name, work in rows:
        lines.append(f"| {name} | {median_ms(work, args.repeats):.0f} |")
    lines += [
        "",
        "xmodal takes the preview when its short side reaches the size asked for (the model's input, or a "
        "thumbnail's), else the half-size render; LibRaw's unpacking of a compressed camera RAW adds to the "
        "half-size row on real files.",
    ]
    write_section("raw_decode", "\n".join(lines))


if __name__ == "__main__":
    main()
