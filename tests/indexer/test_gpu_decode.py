"""JPEGs decoded by torchvision (indexer.gpu_decode), on the CPU here: the same code nvJPEG runs on a GPU. The tensor
must be what the Pillow path gives within what the two decoders really differ by, and every picture the Pillow
path refuses, or reads differently, must go to it.

Differences, in normalised units (one level of 255 is about 0.015): where Pillow decodes a JPEG whole, both decode
with libjpeg-turbo and only the resizing rounds differently (a pixel off by one level here and there: a mean of about
1e-4). Where Pillow decodes at a reduced size (draft mode, a JPEG at least twice the model's side), the DCT scaling
smooths differently from a whole decode and an antialiased resize: a mean of up to 0.12 on 500 Flickr photos for a
224-pixel model (median 6e-5), up to 0.26 (median 0.04) for the tiny model's 64 pixels, where Pillow decodes at 1/4
size; the tiny model's embeddings stay within cosine 0.995 there. The torchvision path is the one closer to open_clip's
own preprocessing, which decodes whole: a median of 3e-5 from it, against 0.04 for the Pillow path at 64 pixels.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter

from indexer.decode import decode_image
from indexer.encoder import Encoder
from indexer.gpu_decode import TensorDecoder, for_run, upright
from indexer.image_info import UPRIGHT, ImageInfo
from indexer.image_preprocess import OPENAI_MEAN, OPENAI_STD, Preprocess
from indexer.ingest.plan import PlannedFile
from indexer.ingest.read import Decoded, Failed, FileReader, ReadLimits, ReadOutcome
from indexer.model_spec import resolve
from indexer.scan import FoundFile
from tests.conftest import FLICKR, TinyModel

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")

LIMIT = 50_000_000
WHOLE_MEAN = 0.005  # mean |difference| where Pillow decodes the JPEG whole
DRAFT_MEAN = 0.15  # where Pillow decodes it at a reduced size
MIN_COSINE = 0.99  # the tiny model's embeddings of the two tensors
PREPROCESS = Preprocess(224, OPENAI_MEAN, OPENAI_STD)


def photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Something like a photograph to a JPEG coder: smooth gradients, soft-edged shapes, fine texture and noise."""
    rng = random.Random(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([120 + 80 * np.sin(x / width * 3 + c) * np.cos(y / height * 2 - c) for c in (0.0, 1.0, 2.0)], -1)
    image = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    pen = ImageDraw.Draw(image)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.03, 0.2) * min(size)
        colour = tuple(rng.randrange(256) for _ in range(3))
        pen.ellipse((cx - r, cy - r * rng.uniform(0.5, 1.5), cx + r, cy + r), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    noise = np.random.default_rng(seed).normal(0, 6, (height, width, 3))
    return Image.fromarray((np.asarray(image, np.float32) + noise).clip(0, 255).astype(np.uint8))


def jpeg(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


def pillow_path(data: bytes) -> tuple[np.ndarray, ImageInfo, bool]:
    """The Pillow path's tensor and metadata, and whether it decoded the JPEG whole (no draft mode)."""
    image, info = decode_image(data, PREPROCESS.image_size, LIMIT)
    return PREPROCESS(image), info, sorted(image.size) == sorted((info.width, info.height))


def assert_close(data: bytes, decoder: TensorDecoder | None = None) -> torch.Tensor:
    decoded = (decoder or TensorDecoder(PREPROCESS)).decode(data, LIMIT)
    assert decoded is not None, "a plain JPEG must be taken"
    tensor, info = decoded
    expected, expected_info, whole = pillow_path(data)
    assert info == expected_info
    assert tensor.dtype == torch.float32 and tensor.shape == expected.shape
    difference = float(np.abs(tensor.numpy() - expected).mean())
    assert difference <= (WHOLE_MEAN if whole else DRAFT_MEAN), (difference, whole)
    return tensor


@pytest.mark.parametrize("size", [(300, 200), (640, 480), (480, 640), (1600, 1200)])
def test_a_jpeg_gives_the_pillow_paths_tensor(size: tuple[int, int]) -> None:
    """Smaller than the model (upscaled), decoded whole by both, and decoded by Pillow at 1/2 and 1/4 size."""
    assert_close(jpeg(photo(size)))


def test_grey_and_progressive_jpegs_are_taken_too() -> None:
    assert_close(jpeg(photo((320, 256)).convert("L")))
    assert_close(jpeg(photo((320, 256)), progressive=True))


def test_bytes_after_the_end_of_image_are_ignored_as_pillow_ignores_them() -> None:
    assert_close(jpeg(photo((320, 256))) + b"SEFHxxxxSEFT" * 10)  # a phone's trailer


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_picture_as_pillow_does(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg(photo((320, 240), seed=orientation), exif=exif.tobytes())
    assert_close(data)  # a wrong turn or flip differs by far more than WHOLE_MEAN


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_matches_pillows_transposes(orientation: int) -> None:
    pixels = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    transpose = UPRIGHT.get(orientation)
    expected = Image.fromarray(pixels) if transpose is None else Image.fromarray(pixels).transpose(transpose)
    turned = upright(torch.from_numpy(pixels).permute(2, 0, 1), orientation)
    assert np.array_equal(turned.permute(1, 2, 0).numpy(), np.asarray(expected))


def test_the_device_arithmetic_gives_the_same_bits_as_the_host_table() -> None:
    """On a GPU the normalisation is computed, on a CPU looked up: both must be ToTensor and Normalize exactly."""
    pixels = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (3, 224, 224), dtype=np.uint8))
    decoder = TensorDecoder(PREPROCESS)
    assert torch.equal(decoder.normalize(pixels), decoder.normalize_on_host(pixels))


def test_squash_resizing_is_followed() -> None:
    squash = Preprocess(224, OPENAI_MEAN, OPENAI_STD, resize_mode="squash")
    data = jpeg(photo((400, 250)))
    decoded = TensorDecoder(squash).decode(data, LIMIT)
    assert decoded is not None
    expected = squash(decode_image(data, 224, LIMIT)[0])
    assert float(np.abs(decoded[0].numpy() - expected).mean()) <= WHOLE_MEAN


def corrupted(data: bytes) -> bytes:
    broken = bytearray(data)
    for i in range(len(data) // 3, len(data) - 10, 97):
        broken[i] = (broken[i] * 7 + 13) % 256
    return bytes(broken)


def cmyk_jpeg() -> bytes:
    return jpeg(photo((320, 240)).convert("CMYK"))


def png() -> bytes:
    buffer = io.BytesIO()
    photo((320, 240)).save(buffer, "PNG")
    return buffer.getvalue()


LEFT_TO_PILLOW = {
    "png": png,
    "cmyk": cmyk_jpeg,
    "truncated": lambda: jpeg(photo((640, 480)))[:20_000],
    "cut before the scan": lambda: jpeg(photo((640, 480)))[:300],
    "corrupt": lambda: corrupted(jpeg(photo((640, 480)))),
    "empty": lambda: b"",
    "not an image": lambda: b"\xff\xd8\xff" + b"hello" * 100,
}


@pytest.mark.parametrize("kind", sorted(LEFT_TO_PILLOW))
def test_what_the_tensor_decoder_does_not_take_goes_to_pillow_with_the_same_outcome(kind: str, tmp_path: Path) -> None:
    data = LEFT_TO_PILLOW[kind]()
    assert TensorDecoder(PREPROCESS).decode(data, LIMIT) is None
    path = tmp_path / "picture.jpg"
    path.write_bytes(data)
    with_decoder, pillow_only = read_both(path, LIMIT)
    assert type(with_decoder) is type(pillow_only)
    if isinstance(pillow_only, Failed):
        assert isinstance(with_decoder, Failed) and with_decoder.reason == pillow_only.reason
    else:
        assert isinstance(with_decoder, Decoded) and isinstance(pillow_only, Decoded)
        assert torch.equal(with_decoder.tensor, pillow_only.tensor) and with_decoder.info == pillow_only.info


def test_a_picture_over_the_pixel_limit_is_refused_with_the_same_reason(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg(photo((320, 240))))
    assert TensorDecoder(PREPROCESS).decode(path.read_bytes(), 320 * 240 - 1) is None
    with_decoder, pillow_only = read_both(path, 320 * 240 - 1)
    assert isinstance(with_decoder, Failed) and isinstance(pillow_only, Failed)
    assert with_decoder.reason == pillow_only.reason and "XMODAL_MAX_IMAGE_PIXELS" in with_decoder.reason
    assert TensorDecoder(PREPROCESS).decode(path.read_bytes(), 320 * 240) is not None  # the limit itself is allowed


def test_a_reader_with_the_decoder_gives_its_tensor_and_the_pillow_paths_metadata(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x0110] = 6, "Canon", "EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 18:30:00"
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg(photo((400, 300)), exif=exif.tobytes()))
    with_decoder, pillow_only = read_both(path, LIMIT)
    assert isinstance(with_decoder, Decoded) and isinstance(pillow_only, Decoded)
    assert with_decoder.info == pillow_only.info
    assert (with_decoder.info.width, with_decoder.info.height, with_decoder.info.camera_make) == (300, 400, "Canon")
    assert with_decoder.info.taken_at == "2021-07-04T18:30:00"
    assert float((with_decoder.tensor - pillow_only.tensor).abs().mean()) <= WHOLE_MEAN


def read_both(path: Path, max_pixels: int) -> tuple[ReadOutcome, ReadOutcome]:
    """One file read by a FileReader with the tensor decoder and by one without."""
    item = PlannedFile(FoundFile(str(path), path.stat().st_size, path.stat().st_mtime_ns), None)
    limits = ReadLimits(10**9, max_pixels)

    def to_tensor(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(PREPROCESS(image))

    with_decoder = FileReader(limits, 224, to_tensor, set(), TensorDecoder(PREPROCESS)).read(item)
    return with_decoder, FileReader(limits, 224, to_tensor, set()).read(item)


def test_decode_many_decodes_a_batch_and_leaves_each_bad_file_to_pillow() -> None:
    good = [jpeg(photo((320, 240), seed)) for seed in range(3)]
    batch = [good[0], png(), good[1], jpeg(photo((640, 480)))[:20_000], good[2]]
    decoder = TensorDecoder(PREPROCESS)
    many = decoder.decode_many(batch, LIMIT)
    assert [result is None for result in many] == [False, True, False, True, False]
    for data, result in zip(batch, many, strict=True):
        if result is not None:
            single = decoder.decode(data, LIMIT)
            assert single is not None and torch.equal(result[0], single[0]) and result[1] == single[1]


def flickr_photos(count: int) -> list[Path]:
    files = sorted((FLICKR / "images").glob("*.jpg"))
    if not files:
        pytest.skip(f"no Flickr photos at {FLICKR / 'images'}")
    return files[:: max(1, len(files) // count)][:count]


def test_real_photos_give_the_pillow_paths_tensor() -> None:
    differences = []
    for path in flickr_photos(40):
        tensor = assert_close(path.read_bytes())
        differences.append(float(np.abs(tensor.numpy() - pillow_path(path.read_bytes())[0]).mean()))
    assert float(np.median(differences)) <= WHOLE_MEAN


def test_real_photos_embed_as_the_pillow_paths_do(tiny_model: TinyModel) -> None:
    """The whole run's path: the tiny model's own preprocessing (open_clip's transforms) against the decoder that
    `for_run` makes from the same model's config."""
    encoder = Encoder(resolve(str(tiny_model.config), str(tiny_model.weights)), "cpu")
    decoder = for_run("on", encoder, encoder)
    assert decoder is not None and decoder.device.type == "cpu" and decoder.output_device.type == "cpu"
    photos = [path.read_bytes() for path in flickr_photos(16)]
    ours = [decoder.decode(data, LIMIT) for data in photos]
    pillows = [encoder.image_tensor(decode_image(data, encoder.image_size, LIMIT)[0]) for data in photos]
    assert all(result is not None for result in ours)
    vectors = encoder.encode_image_tensors([result[0] for result in ours if result is not None])
    expected = encoder.encode_image_tensors(pillows)
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() >= MIN_COSINE, cosines


def test_auto_decodes_with_pillow_unless_the_model_runs_on_cuda(tiny_model: TinyModel) -> None:
    encoder = Encoder(resolve(str(tiny_model.config), str(tiny_model.weights)), "cpu")
    assert for_run("auto", encoder, encoder) is None
    assert for_run("off", encoder, encoder) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="nvJPEG needs a CUDA device")
def test_nvjpeg_on_the_gpu_gives_the_cpu_decoders_tensor() -> None:
    """nvJPEG's IDCT and colour conversion round a little differently from libjpeg-turbo's."""
    gpu, cpu = TensorDecoder(PREPROCESS, "cuda"), TensorDecoder(PREPROCESS, "cpu")
    exif = Image.Exif()
    exif[0x0112] = 6
    batch = [jpeg(photo((640, 480), seed), exif=exif.tobytes()) for seed in range(4)]
    batch += [jpeg(photo((320, 240)), progressive=True), jpeg(photo((320, 240)).convert("L"))]
    for data, result in zip(batch, gpu.decode_many(batch, LIMIT), strict=True):
        single, reference = gpu.decode(data, LIMIT), cpu.decode(data, LIMIT)
        assert result is not None and single is not None and reference is not None
        assert result[0].device.type == "cuda" and result[1] == reference[1]
        assert float((result[0].cpu() - reference[0]).abs().mean()) <= 0.02
        assert torch.equal(result[0], single[0])
    assert gpu.decode(jpeg(photo((640, 480)))[:20_000], LIMIT) is None  # truncated: Pillow's to refuse


@pytest.mark.skipif(not torch.cuda.is_available(), reason="nvJPEG needs a CUDA device")
def test_a_run_on_cuda_decodes_jpegs_on_the_gpu_and_batches_them_with_pillows_pictures(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """auto takes nvJPEG where the model runs on CUDA; its tensors come back to the host, so that a batch of them,
    Pillow's and video frames stacks and encodes as one."""
    encoder = Encoder(resolve(str(tiny_model.config), str(tiny_model.weights)), "cuda")
    decoder = for_run("auto", encoder, encoder)
    assert decoder is not None and decoder.device.type == "cuda" and decoder.output_device.type == "cpu"
    (tmp_path / "a.jpg").write_bytes(jpeg(photo((640, 480))))
    (tmp_path / "b.png").write_bytes(png())
    reader = FileReader(ReadLimits(10**9, LIMIT), encoder.image_size, encoder.image_tensor, set(), decoder)
    outcomes = [
        reader.read(PlannedFile(FoundFile(str(path), path.stat().st_size, path.stat().st_mtime_ns), None))
        for path in sorted(tmp_path.iterdir())
    ]
    tensors = [outcome.tensor for outcome in outcomes if isinstance(outcome, Decoded)]
    assert len(tensors) == 2 and all(tensor.device.type == "cpu" for tensor in tensors)
    assert encoder.encode_image_tensors(tensors).shape == (2, encoder.dim)


def test_an_index_run_with_gpu_decode_on_keeps_every_item_failure_and_meaning(
    tmp_path: Path, tiny_model: TinyModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`gpu_decode = "on"` through the CLI (torchvision's decoder on the CPU here): the same items, failure reasons
    and picture metadata as Pillow, and vectors that mean the same."""
    from tests.conftest import Cli, library_contents

    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(6):
        (photos / f"p{seed}.jpg").write_bytes(jpeg(photo((400 + 40 * seed, 300), seed)))
    (photos / "flat.png").write_bytes(png())
    (photos / "cut.jpg").write_bytes(jpeg(photo((640, 480)))[:5_000])
    libraries = {}
    for choice in ("off", "on"):
        monkeypatch.setenv("XMODAL_GPU_DECODE", choice)
        cli = Cli(tmp_path / choice, tiny_model)
        caplog.clear()
        with caplog.at_level("INFO", logger="indexer.gpu_decode"):
            cli.index(photos)
        assert ("decoded by torchvision" in caplog.text) == (choice == "on")
        libraries[choice] = library_contents(cli.library)
        assert len(cli.stats()["failures"]) == 1
    assert sorted(libraries["on"]) == sorted(libraries["off"])
    for path, (_, status, error, digest, vector) in libraries["off"].items():
        got = libraries["on"][path]
        assert (got[1], got[2], got[3]) == (status, error, digest)
        if vector is not None:
            assert got[4] is not None and float(got[4] @ vector) >= 0.99
