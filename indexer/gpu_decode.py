"""JPEGs straight to the model's input tensor through torchvision's decode_jpeg: by nvJPEG on a CUDA device, where
decoding on the CPU is what holds the encoder back (ViT-B-32 encodes thousands of pictures a second on one GPU; a
CPU core decodes some 55 phone photos of 12 MP a second, even at reduced size), or by libjpeg-turbo on a CPU (the
same code, which is how it is tested). On a CPU, Pillow stays the default: decoding a 12 MP JPEG whole costs 3x its
reduced-size decoding (small photos, which neither decodes at a reduced size, go about 1.5x faster through here).

Only the plain case is taken: a complete JPEG (an end-of-image marker after its first scan) in RGB or grey, within
the pixel limit, that decode_jpeg reads. Anything else (another format, CMYK, a camera RAW, a truncated or damaged
file, a picture over the limit) gives None, and the caller's Pillow path (indexer.decode) reads it or refuses it
with its usual reason: one place decides what is refused and why. The header and the metadata are read by Pillow
(no pixels decoded), so ImageInfo is the one the Pillow path records.

The pixels differ from the Pillow path's in one known way: Pillow decodes a large JPEG at a reduced size (DCT
scaling, draft mode) before its bicubic resize, while this decodes it whole and resizes with an antialiased bicubic
filter; nvJPEG's IDCT also rounds a little differently from libjpeg-turbo's. tests/indexer/test_gpu_decode.py
bounds the difference.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from PIL import Image

from indexer.decode import picture_info
from indexer.image_info import ORIENTATION, ImageInfo, exif_of
from indexer.image_preprocess import Preprocess
from indexer.selection import is_raw

if TYPE_CHECKING:
    from indexer.encoder import Encoder
    from indexer.ingest.pictures import PictureEncoder

log = logging.getLogger(__name__)

# torchvision 0.29 deprecates its image codecs in favour of TorchCodec, with a warning on every call; decode_jpeg
# is still the one nvJPEG decoder a plain torch install brings.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision are deprecated")

GpuDecode = Literal["auto", "on", "off"]  # core.settings.Settings.gpu_decode
JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # an MPO's first picture is a JPEG: the one Pillow reads too
PLAIN_MODES = frozenset({"RGB", "L"})  # YCbCr or grey; CMYK (and Adobe's inverted CMYK) is left to Pillow
SOI, EOI, SOS = b"\xff\xd8\xff", b"\xff\xd9", 0xDA

Prepared = tuple[torch.Tensor, ImageInfo]  # the model's input, and the picture's metadata


class TensorDecoder:
    """JPEG bytes to the (3, S, S) float32 tensor `preprocess` makes from a Pillow image, decoded on `device` and
    left on `output_device` (default: `device`). Safe to call from many threads (torchvision serialises nvJPEG).
    torchvision is imported here, not with the module: a run that decodes with Pillow does not pay for it (1.7 s)."""

    def __init__(
        self,
        preprocess: Preprocess,
        device: torch.device | str = "cpu",
        output_device: torch.device | str | None = None,
    ) -> None:
        import torchvision.transforms.v2.functional as F
        from torchvision.io import ImageReadMode, decode_jpeg
        from torchvision.transforms import InterpolationMode

        self._decode_jpeg, self._rgb, self._resize, self._crop = decode_jpeg, ImageReadMode.RGB, F.resize, F.center_crop
        self._interpolation = InterpolationMode(preprocess.interpolation)
        self.preprocess = preprocess
        self.device = torch.device(device)
        self.output_device = torch.device(output_device) if output_device is not None else self.device
        self._mean = torch.tensor(preprocess.mean, dtype=torch.float32, device=self.device).view(3, 1, 1)
        self._std = torch.tensor(preprocess.std, dtype=torch.float32, device=self.device).view(3, 1, 1)
        # Each channel's 256 outputs, as ToTensor and Normalize compute them in float32 (indexer.image_preprocess).
        levels = np.arange(256, dtype=np.float32) / np.float32(255)
        mean, std = np.asarray(preprocess.mean, np.float32)[:, None], np.asarray(preprocess.std, np.float32)[:, None]
        self._levels = (levels - mean) / std
        self._streams = threading.local()

    def decode(self, data: bytes, max_pixels: int, name: str | None = None) -> Prepared | None:
        """The model's input and the picture's metadata, or None where the Pillow path is to read the file."""
        if name is not None and is_raw(name):
            return None
        header = _header(data, max_pixels)
        if header is None:
            return None
        try:
            with self._own_stream():
                pixels = self._decode_jpeg(_as_tensor(data), mode=self._rgb, device=self.device)
                return self.prepare(pixels, header[0]), header[1]
        except (RuntimeError, ValueError) as exc:  # damaged data, a kind of JPEG it lacks, device memory: Pillow's
            log.debug("decode_jpeg refused a picture (%s); Pillow reads it", exc)
            return None

    def decode_many(self, datas: Sequence[bytes], max_pixels: int) -> list[Prepared | None]:
        """`decode` for a batch, in one decode_jpeg call: nvJPEG decodes baseline JPEGs of a batch together on the
        GPU's hardware decoder, which single calls cannot. A batch the decoder refuses is decoded one by one, so
        that one bad file costs only itself."""
        headers = [_header(data, max_pixels) for data in datas]
        chosen = [i for i, header in enumerate(headers) if header is not None]
        results: list[Prepared | None] = [None] * len(datas)
        if not chosen:
            return results
        try:
            with self._own_stream():
                decoded = self._decode_jpeg([_as_tensor(datas[i]) for i in chosen], mode=self._rgb, device=self.device)
                results = self._prepared(chosen, decoded, headers, results)
            return results
        except (RuntimeError, ValueError):
            return [
                None if header is None else self.decode(data, max_pixels)
                for data, header in zip(datas, headers, strict=True)
            ]

    def _prepared(
        self, chosen: list[int], decoded: list[torch.Tensor], headers: list[Any], results: list[Prepared | None]
    ) -> list[Prepared | None]:
        for i, pixels in zip(chosen, decoded, strict=True):
            header = headers[i]
            assert header is not None
            results[i] = self.prepare(pixels, header[0]), header[1]
        return results

    def _own_stream(self) -> contextlib.AbstractContextManager[Any]:
        """On CUDA, each decode thread's work on a stream of its own: on the default stream, nvJPEG's writes could
        land in memory the caching allocator hands back while the encoder's queued kernels still read it
        (pytorch/vision#9606). The copy back to the host at the end of `prepare` waits for this stream only."""
        if self.device.type != "cuda":
            return contextlib.nullcontext()
        stream = getattr(self._streams, "stream", None)
        if stream is None:
            stream = self._streams.stream = torch.cuda.Stream(self.device)
        return torch.cuda.stream(stream)

    def works(self) -> bool:
        """Whether decode_jpeg decodes on this device at all (a torchvision built without nvJPEG does not), tried on
        a small JPEG: a decoder that cannot would send every file through two header parses to Pillow."""
        buffer = io.BytesIO()
        Image.new("RGB", (16, 16), (120, 30, 200)).save(buffer, "JPEG")
        return self.decode(buffer.getvalue(), 16 * 16) is not None

    def prepare(self, pixels: torch.Tensor, orientation: int | None) -> torch.Tensor:
        """uint8 (3, H, W) pixels as decoded → upright → open_clip's Resize, CenterCrop, ToTensor and Normalize,
        in that order and with the same arithmetic (so a resized picture Pillow and torch agree on gives the same
        floats as indexer.image_preprocess)."""
        pixels = upright(pixels, orientation)
        size = self.preprocess.image_size
        height, width = pixels.shape[-2:]
        if self.preprocess.resize_mode == "squash":
            target = [size, size]
        elif width <= height:
            target = [int(size * height / width), size]
        else:
            target = [size, int(size * width / height)]
        if [height, width] != target:
            pixels = self._resize(pixels, target, interpolation=self._interpolation, antialias=True)
        pixels = self._crop(pixels, [size, size])
        if self.device.type == "cpu":
            return self.normalize_on_host(pixels).to(self.output_device)
        return self.normalize(pixels).to(self.output_device)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """ToTensor and Normalize on the device, in float32 and in their order: the same bits as the table below."""
        return pixels.to(torch.float32).div_(255).sub_(self._mean).div_(self._std)

    def normalize_on_host(self, pixels: torch.Tensor) -> torch.Tensor:
        """`normalize` by table lookup in numpy, on one core. torch would spread each of its four passes over every
        core, and a decode thread pool doing that on a busy machine waits on its own threads (measured 5 to 10x
        slower on 2 loaded cores)."""
        planes = pixels.numpy()
        array = np.empty(planes.shape, dtype=np.float32)
        for channel in range(3):
            np.take(self._levels[channel], planes[channel], out=array[channel])
        return torch.from_numpy(array)


def upright(pixels: torch.Tensor, orientation: int | None) -> torch.Tensor:
    """(C, H, W) pixels turned as EXIF `orientation` asks (Pillow's exif_transpose, indexer.image_info.UPRIGHT). Done
    here because decode_jpeg applies EXIF orientation only on the CPU."""
    if orientation == 2:
        return pixels.flip(-1)
    if orientation == 3:
        return pixels.flip(-2, -1)
    if orientation == 4:
        return pixels.flip(-2)
    if orientation == 5:
        return pixels.transpose(-2, -1)
    if orientation == 6:
        return pixels.rot90(-1, (-2, -1))
    if orientation == 7:
        return pixels.transpose(-2, -1).flip(-2, -1)
    if orientation == 8:
        return pixels.rot90(1, (-2, -1))
    return pixels


def for_run(choice: GpuDecode, encoder: Encoder, pictures: PictureEncoder) -> TensorDecoder | None:
    """The decoder an indexing run's FileReader takes, or None for Pillow: "auto" only where the model runs on CUDA
    (nvJPEG; on a CPU, Pillow's reduced-size decoding is the faster), "on" on the model's device if CUDA else on the
    CPU, "off" never. Pictures are prepared as `pictures` prepares them (an ONNX export: as its manifest says).

    The tensors come back to the host: a batch mixes them with Pillow's (PNG, HEIC, what decode_jpeg refuses) and
    with video frames, and ImageTower.encode stacks the batch before moving it to the device. The copy is 600 KB a
    picture (2 GB/s at 3,000 pictures/s, a small share of the bus); bench/gpu_throughput.py --keep-on-device measures
    what leaving them on the GPU would gain."""
    cuda = encoder.device.type == "cuda"
    if choice == "off" or (choice == "auto" and not cuda):
        return None
    manifest = getattr(pictures, "manifest", None)
    config: Mapping[str, Any] = encoder.image_tower.preprocess_config if manifest is None else manifest.preprocess
    preprocess = Preprocess.from_config(config)
    if preprocess is None:
        log.info("pictures are decoded by Pillow: torchvision cannot prepare them as this model's config asks")
        return None
    device = encoder.device if cuda else torch.device("cpu")
    decoder = TensorDecoder(preprocess, device, output_device="cpu")
    if not decoder.works():
        log.warning("decode_jpeg fails on %s: pictures are decoded by Pillow", device)
        return None
    log.info("JPEGs are decoded by torchvision on %s", device)
    return decoder


def _header(data: bytes, max_pixels: int) -> tuple[int | None, ImageInfo] | None:
    """(EXIF orientation, metadata) of a plain, complete JPEG within the limit, from Pillow's header parse; None
    for anything the Pillow path is to decide on."""
    if not data.startswith(SOI) or not _complete(data):
        return None
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in JPEG_FORMATS or image.mode not in PLAIN_MODES:
            return None
        width, height = image.size
        if width * height > max_pixels:
            return None
        orientation = exif_of(image).get(ORIENTATION)
        return (orientation if isinstance(orientation, int) else None), picture_info(image)
    except Exception:  # whatever the header does, Pillow's path meets it again and records why
        return None


def _complete(data: bytes) -> bool:
    """Whether an end-of-image marker follows the first scan's start. Pillow refuses a truncated JPEG; libjpeg-turbo
    in decode_jpeg does too, but nvJPEG's hardware decoder need not, so a file without one is left to Pillow. Inside
    a scan 0xFF is always followed by 0x00 or a restart marker, so 0xFFD9 there is the real end (bytes after it,
    such as a phone's trailer or an MPO's second picture, are ignored, as Pillow ignores them)."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
        elif marker == SOS:
            return data.find(EOI, position) != -1
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return False


def _as_tensor(data: bytes) -> torch.Tensor:
    """decode_jpeg takes a uint8 CPU tensor; bytes are read-only, which torch warns about, so they are copied (a
    memcpy of the file: microseconds beside the decode)."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)
