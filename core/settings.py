"""The one settings object: command-line flags > XMODAL_* environment > config file > defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.options import Ranking

APP_NAME = "xmodal"
DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"

Device = Literal["auto", "cpu", "cuda", "mps"]
Runtime = Literal["auto", "onnx", "onnx-int8", "torch"]


def default_library() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "library"


def config_file() -> Path:
    """Where the config file is looked for; XMODAL_CONFIG overrides the per-user location."""
    explicit = os.environ.get("XMODAL_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class VideoSettings(BaseModel):
    """How videos are sampled, cut into moments and bounded (XMODAL_VIDEO__EVERY_SECONDS=2, or [video] in the
    config file). The limits keep one hostile or absurd video from stopping or hanging a run."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(default=True, description="Index videos: their moments become searchable.")
    every_seconds: float = Field(default=1.0, gt=0, le=3600, description="At most one sampled frame per this long.")
    scene_threshold: float = Field(
        default=0.1, gt=0, le=1, description="How different two samples must look for a cut (a new moment always)."
    )
    moment_similarity: float = Field(
        default=0.9,
        ge=-1,
        le=1,
        description="A frame less similar (cosine) than this to its moment's mean starts a new moment.",
    )
    max_moment_seconds: float = Field(default=30.0, gt=0, description="A moment lasts at most this long.")
    max_pixels: int = Field(default=8192 * 4320, ge=1, description="Largest frame (width × height) decoded.")
    max_duration_seconds: float = Field(default=4 * 3600.0, gt=0, description="Longest video indexed.")
    max_wall_seconds: float = Field(default=30 * 60.0, gt=0, description="Most time one video may take to decode.")
    stall_seconds: float = Field(
        default=120.0, gt=0, description="A decoder silent this long (a hang inside FFmpeg) is stopped."
    )
    max_memory_bytes: int = Field(
        default=4 << 30, ge=256 << 20, description="Address space of the process that decodes videos."
    )


class OcrSettings(BaseModel):
    """Reading the words in pictures with Tesseract (XMODAL_OCR__ENABLED=false, or [ocr] in the config file)."""

    model_config = ConfigDict(frozen=True)

    enabled: bool | None = Field(
        default=None,
        description="Read words in pictures. Unset: the library's own choice (the last --ocr/--no-ocr given to it),"
        " on where Tesseract is installed.",
    )
    languages: tuple[str, ...] = Field(
        default=("eng", "chi_sim"), min_length=1, description="Tesseract languages, those installed are used."
    )
    workers: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)), ge=1, le=64, description="OCR processes."
    )
    min_confidence: float = Field(
        default=70.0, ge=0, le=100, description="Words Tesseract is less sure of are dropped."
    )
    probe_pixels: int = Field(
        default=2_100_000,
        ge=10_000,
        description="Pictures larger than this are first read at this size; only where that finds words are they "
        "read whole (most photos have none).",
    )
    max_pixels: int = Field(default=16_000_000, ge=10_000, description="Larger pictures are read at this size.")
    second_look: bool = Field(
        default=True,
        description="Read a picture that has words again at the size its words ask for (twice for small text, half"
        " for large), and one with lines of text at a quarter of its size (headlines, shop signs): more words"
        " found, about 1.6x the time on pictures with text.",
    )
    straighten: bool = Field(
        default=True,
        description="Read a picture whose lines of text lean (a receipt or sign photographed askew, 4-20 degrees)"
        " again, turned level; about 10 ms to tell on every picture, a read more on those that lean.",
    )
    local_threshold: bool = Field(
        default=True,
        description="Read a picture with lines of text again, thresholded locally (Sauvola), and keep the lines it"
        " is sure of: words on a mid-grey sign or receipt on a photo that one global threshold turns into a block.",
    )
    page_layout: bool = Field(
        default=True,
        description="Read a picture with lines of text again as a page of blocks (Tesseract's layout analysis),"
        " besides as scattered words: a sign's block of large words can read as nothing the one way.",
    )
    quarter_turns: bool = Field(
        default=True,
        description="Read a picture with words again a quarter turn each way, for words on end (a chart's axis, a"
        " book's spine): two reads more on pictures with words, none on those without.",
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="Most time one picture's reading may take.")
    max_memory_bytes: int = Field(default=2 << 30, ge=256 << 20, description="Address space of each OCR process.")


class RaySettings(BaseModel):
    """Indexing on a Ray cluster (`xmodal index --ray [ADDRESS]`, XMODAL_RAY__..., or [ray] in the config file).
    The files and the library stay where the writer is; workers read the files by the same paths."""

    model_config = ConfigDict(frozen=True)

    address: str | None = Field(
        default=None,
        description="The cluster: 'auto' (the one `ray start` joined this machine to), 'HOST:6379', or"
        " 'ray://HOST:10001' (Ray Client). Unset: a Ray of this machine alone, started for the run.",
    )
    decode_batch: int = Field(default=64, ge=1, le=4096, description="Files one read-and-decode task takes.")
    encoders: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="Encoder actors, each holding one copy of the model. Unset: one per GPU of the cluster, or"
        " one per 4 CPUs on a cluster without GPUs.",
    )
    cpus_per_encoder: float = Field(default=1.0, gt=0, description="CPUs an encoder actor reserves.")
    commit_batch: int = Field(
        default=512,
        ge=1,
        le=65536,
        description="Items the writer commits per catalog transaction (each costs an fdatasync): more than a local"
        " run's batch_size, as the vectors arrive made.",
    )
    index_shards: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="Shards an index build is split into, added in Ray tasks and merged (0: one per 1M vectors).",
    )
    serve_shards: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="Files an IVF index generation is saved in (disjoint ids sharing one trained quantizer), searched"
        " as one: for an index one process should not load in one piece. Flat indexes stay whole.",
    )


class Settings(BaseSettings):
    """Everything a user can configure. Model fields are None unless asked for: a library remembers its model."""

    model_config = SettingsConfigDict(
        env_prefix="XMODAL_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    library: Path = Field(default_factory=default_library, description="Folder that holds the library.")
    model: str | None = Field(
        default=None,
        description="Model for a new library: demo, an open_clip architecture, a model-config JSON, or local-dir:"
        " a folder (a library keeps the model it was made with).",
    )
    pretrained: str | None = Field(
        default=None, description="Its weights: an open_clip pretrained tag or a checkpoint file."
    )
    device: Device = Field(default="auto", description="auto, cpu, cuda or mps.")
    batch_size: int = Field(default=32, ge=1, le=4096, description="Images per encode batch.")
    workers: int = Field(
        default_factory=lambda: min(8, os.cpu_count() or 1), ge=1, le=256, description="Decode threads."
    )
    gpu_decode: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Who decodes JPEGs while indexing: auto (nvJPEG on the GPU when the model runs on CUDA, where"
        " decoding on the CPU is what holds the encoder back; else Pillow), on (torchvision's decoder on the model's"
        " GPU, or on the CPU without one) or off (Pillow, with its reduced-size JPEG decoding). Whatever torchvision"
        " cannot decode (other formats, CMYK, damaged files) goes to Pillow either way.",
    )
    quiet: bool = Field(default=False, description="No progress display.")
    runtime: Runtime = Field(
        default="auto",
        description="What encodes queries: onnx (the library's exported towers, no torch), onnx-int8 (its int8 text "
        "tower), torch (the reference), or auto (onnx where the library holds a checked export, with int8 words "
        "where xmodal eval --runtimes chose them; else torch).",
    )
    index_runtime: Runtime = Field(
        default="auto",
        description="What encodes pictures while indexing: onnx-int8 (the library's int8 image tower, 2.5x torch's"
        " images/s on a CPU, refused by the exporter below cosine 0.999 to torch on its sample pictures), onnx (its"
        " fp32 image tower), torch (the reference), or auto, which never mixes runtimes in a library: what encoded its"
        " pictures so far if it holds any (a library indexed through torch stays torch's until --reindex); else"
        " onnx-int8 on a CPU where the export holds a checked one; else torch. A library whose pictures came"
        " through more than one runtime (asked for by name) says so in xmodal stats.",
    )

    # Index shape and search.
    ivf_threshold: int = Field(
        default=20_000, ge=1, description="Vectors at which the exact flat index gives way to IVF."
    )
    vector_precision: Literal["float32", "float16"] = Field(
        default="float32",
        description="How a new library (or one re-encoded with --reindex) stores its vectors on disk: float16 halves"
        " the vector files (1 GB at 1M items against 2 GB); scores then differ from float32's by about 1e-3.",
    )
    compress_threshold: int = Field(
        default=200_000,
        ge=10_000,
        description="Vectors at which the IVF index keeps 64-byte codes (IVF-PQ) instead of whole vectors, and"
        " searches re-rank its candidates from the vector store: 2 GB of memory at 1M items becomes about 80 MB.",
    )
    rerank_candidates: int = Field(
        default=256,
        ge=1,
        description="Candidates a compressed (IVF-PQ) index hands to re-ranking from the vector store, at least:"
        " its codes order text queries' neighbours loosely (recall@10 0.86 with 40, 0.999 with 250 at nprobe 32).",
    )
    delta_limit: int = Field(
        default=10_000,
        ge=0,
        description="Changes a checkpoint leaves beside an index of over four times as many, for searches to scan"
        " exactly, instead of rewriting the index (0: always rewrite).",
    )
    nprobe: int = Field(default=32, ge=1, description="IVF lists visited per query.")
    rescore_factor: int = Field(
        default=4,
        ge=1,
        description="ANN candidates fetched per wanted hit (rescored from the stored vectors where the index's "
        "scores are approximate; flat and IVF-Flat score exactly).",
    )
    ranking: Ranking = Field(default_factory=Ranking)
    video: VideoSettings = Field(default_factory=VideoSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    checkpoint_seconds: float = Field(default=60.0, gt=0, description="How often a long run writes the index to disk.")

    # Limits that keep hostile input from stopping or hanging a run.
    max_file_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=150_000_000, ge=1)

    # `xmodal serve`: safe by default (loopback only, no CORS, uploads bounded).
    host: str = Field(default="127.0.0.1", description="Address to listen on; 0.0.0.0 exposes it to the network.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port to listen on.")
    server_workers: int = Field(default=1, ge=1, le=64, description="Server processes (each loads the model).")
    api_key: str | None = Field(
        default=None, description="Required on every API endpoint (not the page, /healthz, /readyz) when set."
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from a browser.")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1, description="Largest query image accepted.")
    max_upload_pixels: int = Field(default=50_000_000, ge=1, description="Most pixels in a query image.")
    query_batching: bool = Field(
        default=True, description="Encode queries that arrive while the model is busy together, in one call."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)


def load_settings(**flags: Any) -> Settings:
    """Build settings with the flags that were actually given (None means 'not given')."""
    given = {name: value for name, value in flags.items() if value is not None}
    return Settings(**given)
