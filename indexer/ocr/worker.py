"""The OCR child process: one Tesseract instance, loaded once, reading the pictures it is sent one at a time.

Run as `python -m indexer.ocr.worker FD` by indexer.ocr.pool (see core.child_process for why a child).
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection

from core.child_process import limit_memory
from indexer.decode import DecodeError, decode_image
from indexer.ocr.reader import OcrTimeout, PictureReader, ReadPlan

log = logging.getLogger(__name__)
FULL_SIZE = 1 << 16  # decode_image's target side: no reduced decoding, small words need every pixel


def probe_side(probe_pixels: int) -> int:
    """The short side a reduced decode must keep for the quick look to see `probe_pixels` even at 16:9."""
    return math.isqrt(probe_pixels * 9 // 16)


@dataclass(frozen=True)
class WorkerPlan:
    read: ReadPlan
    max_file_bytes: int
    max_image_pixels: int
    memory_bytes: int | None = None


def read_file(reader: PictureReader, path: str, plan: WorkerPlan) -> tuple[object, ...]:
    """("ok", text, words, probed_only, seconds) or ("failed", reason): never raises for a bad file."""
    try:
        size = os.path.getsize(path)
        if size > plan.max_file_bytes:
            return ("failed", f"file is {size:,} bytes, over max_file_bytes ({plan.max_file_bytes:,})")
        with open(path, "rb") as handle:
            data = handle.read()
        # A JPEG is first decoded at reduced size (DCT scaling) for the quick look; in full only if it found words.
        name = os.path.basename(path)  # a camera RAW is told apart by its name
        image, info = decode_image(data, probe_side(plan.read.probe_pixels), plan.max_image_pixels, name)
        pixels = info.width * info.height
        if image.width * image.height < pixels:
            whole = lambda: decode_image(data, FULL_SIZE, plan.max_image_pixels, name)[0]  # noqa: E731
            result = reader.read(image, whole, pixels)
        else:
            result = reader.read(image)
        return ("ok", result.text, result.words, result.probed_only, result.seconds)
    except FileNotFoundError:
        return ("failed", "the file is gone")
    except DecodeError as exc:
        return ("failed", f"cannot decode it: {exc}")
    except OcrTimeout as exc:
        return ("failed", f"{exc} (XMODAL_OCR__TIMEOUT_SECONDS)")
    except MemoryError:
        return ("failed", "reading it needs more memory than one picture may take (XMODAL_OCR__MAX_MEMORY_BYTES)")
    except OSError as exc:
        return ("failed", f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # a bug or a hostile file costs one picture, never the worker
        log.exception("unexpected error reading words in %s", path)
        return ("failed", f"unexpected error: {type(exc).__name__}: {exc}")


def _serve(conn: Connection) -> None:
    try:
        plan: WorkerPlan = conn.recv()
        limit_memory(plan.memory_bytes)
        reader = PictureReader(plan.read)
        conn.send(("ready",))
        while (path := conn.recv()) is not None:
            conn.send(read_file(reader, path, plan))
        reader.close()
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the parent closed the pipe, or the user pressed Ctrl-C: the parent handles it


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    _serve(Connection(int(sys.argv[1])))
