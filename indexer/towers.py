"""Loading open_clip models as two towers: a text query needs only the text tower, so it is built alone
when the model's shape allows it (a plain CLIP text transformer); anything else loads the whole model
once and hands out both towers. This is the one place that builds open_clip models."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from core.errors import ModelError
from indexer.model_spec import ModelSpec
from indexer.weights import PREPROCESS_KEYS, builtin_weights, verify_weights

log = logging.getLogger(__name__)
# The parameters CLIP's text path reads; in a checkpoint they sit at the top level, beside `visual.*`.
TEXT_KEYS = ("transformer.", "token_embedding.", "positional_embedding", "ln_final.", "text_projection")


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for, but no CUDA device is available", "use --device auto or cpu")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ModelError("--device mps was asked for, but MPS is not available", "use --device auto or cpu")
    return torch.device(requested)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def normalize(features: torch.Tensor) -> np.ndarray:
    array = features.float().cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32)


class TrimmedText(torch.nn.Module):
    """CLIP's text path on the real tokens only. The tower is causal and pools at the end-of-text token, so the
    padding after it never changes the embedding: a batch runs on as many positions as its longest text needs
    (a short query: 5 of 77), which is several times less work. The ONNX export runs this same module."""

    def __init__(self, text: Any) -> None:
        super().__init__()
        self.transformer = text.transformer
        self.token_embedding = text.token_embedding
        self.positional_embedding = text.positional_embedding
        self.ln_final = text.ln_final
        self.text_projection = text.text_projection
        self.pool_type = text.text_pool_type
        self.eos_id = getattr(text, "text_eos_id", None)
        self.register_buffer("attn_mask", text.attn_mask, persistent=False)

    @staticmethod
    def fits(text: Any) -> bool:
        """Whether trimming is exact for this text tower: a causal mask and pooling at the end token."""
        needed = ("transformer", "token_embedding", "positional_embedding", "ln_final", "text_projection")
        return (
            all(hasattr(text, name) for name in needed)
            and getattr(text, "attn_mask", None) is not None
            and getattr(text, "text_pool_type", None) in ("argmax", "eos")
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        from open_clip.transformer import text_global_pool

        length = tokens.shape[1]
        cast = self.transformer.get_cast_dtype()
        x = self.token_embedding(tokens).to(cast) + self.positional_embedding[:length].to(cast)
        mask = cast_tensor(self.attn_mask)
        x = self.transformer(x, attn_mask=mask[:length, :length])
        x = text_global_pool(self.ln_final(x), tokens, self.pool_type, eos_token_id=self.eos_id)
        if isinstance(self.text_projection, torch.nn.Linear):
            return self.text_projection(x)
        return x @ self.text_projection if self.text_projection is not None else x


def cast_tensor(value: object) -> torch.Tensor:
    """A registered buffer, typed as what it is (nn.Module's attribute lookup is typed as Tensor | Module)."""
    assert isinstance(value, torch.Tensor)
    return value


def trim_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """The columns up to the longest text's last real token (padding is 0 and never the end token)."""
    used = int((tokens != 0).any(dim=0).nonzero().max()) + 1 if tokens.numel() else 1
    return tokens[:, : max(used, 1)]


@dataclass
class TextTower:
    """Tokenizer and text encoder. One encode at a time: torch already spreads one call over every core.
    `trimmed`: the encoder is a TrimmedText, so the tokens are cut to the real ones first."""

    encode_tokens: Callable[[torch.Tensor], torch.Tensor]
    tokenizer: Any
    device: torch.device
    trimmed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(
        cls, text: Any, fallback: Callable[[torch.Tensor], torch.Tensor], tokenizer: Any, device: torch.device
    ) -> TextTower:
        """The trimmed encoder where `text` (a CLIP model, or its text attributes) allows it, else `fallback`."""
        if TrimmedText.fits(text):
            return cls(TrimmedText(text).eval(), tokenizer, device, trimmed=True)
        return cls(fallback, tokenizer, device)

    @property
    def module(self) -> torch.nn.Module | None:
        """The text encoder as a module an exporter can trace, or None (a text tower trimming does not fit)."""
        return self.encode_tokens if isinstance(self.encode_tokens, TrimmedText) else None

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        parts = []
        with self.lock:
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(list(texts[start : start + batch_size]))
                if self.trimmed:
                    tokens = trim_tokens(tokens)
                with torch.inference_mode(), _autocast(self.device):
                    parts.append(normalize(self.encode_tokens(tokens.to(self.device))))
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


@dataclass
class ImageTower:
    """Preprocessing and image encoder; `preprocess` is safe to call from decode worker threads.
    `visual` and `preprocess_config` are what an exporter needs (the module, and how pictures are prepared)."""

    encode_pixels: Callable[[torch.Tensor], torch.Tensor]
    preprocess: Callable[[Image.Image], torch.Tensor]
    image_size: int
    device: torch.device
    visual: torch.nn.Module | None = None
    preprocess_config: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def encode(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        with self.lock, torch.inference_mode(), _autocast(self.device):
            stacked = torch.stack(list(batch)).to(self.device, non_blocking=True)
            return normalize(self.encode_pixels(stacked))


# -- the whole model ----------------------------------------------------------------------------


def register_config(config: dict[str, Any]) -> str:
    """open_clip builds custom architectures from registered config files; register ours by content."""
    import open_clip

    text = json.dumps(config, sort_keys=True)
    name = "xmodal-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    if name not in open_clip.list_models():
        # open_clip reads the file when it is added and keeps the config in memory; the file need not stay
        with tempfile.TemporaryDirectory(prefix="xmodal-model-") as folder:
            (Path(folder) / f"{name}.json").write_text(text)
            open_clip.add_model_config(Path(folder) / f"{name}.json")
    return name


def hugging_face_text(spec: ModelSpec) -> str | None:
    """The Hugging Face text model a multilingual open_clip model reads words with (xlm-roberta-base for
    xlm-roberta-base-ViT-B-32, NLLB for nllb-clip-*), or None for a CLIP text transformer."""
    import open_clip

    config = spec.config if spec.config is not None else open_clip.get_model_config(spec.arch or "")
    text = (config or {}).get("text_cfg", {})
    name = text.get("hf_tokenizer_name") or text.get("hf_model_name")
    return str(name) if name else None


def _check_text_libraries(spec: ModelSpec) -> None:
    """Before any download: a model whose words go through Hugging Face needs `transformers` installed."""
    name = hugging_face_text(spec)
    if name is None:
        return
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise ModelError(
            f"{spec.describe()} reads text with the Hugging Face model {name}, and transformers is not installed",
            "pip install 'xmodal[multilingual]' (transformers and sentencepiece), then run the command again",
        ) from None


def _open_clip_arguments(spec: ModelSpec) -> tuple[str, str, dict[str, Any]]:
    """(model name, pretrained, create_model arguments) that build this spec with open_clip."""
    _check_text_libraries(spec)
    if spec.arch is not None:
        pretrained, overrides = builtin_weights(spec)
        return spec.arch, pretrained, overrides
    assert spec.config is not None
    kwargs: dict[str, Any] = {}
    if spec.preprocess:
        kwargs["force_preprocess_cfg"] = {k: v for k, v in spec.preprocess.items() if k in PREPROCESS_KEYS}
    return register_config(spec.config), str(verify_weights(spec)), kwargs


def load_open_clip(spec: ModelSpec, device: torch.device) -> tuple[torch.nn.Module, Callable[..., Any], Any]:
    """(model, preprocess, tokenizer): the whole model, as training and fine-tuning need it."""
    import open_clip

    name, pretrained, kwargs = _open_clip_arguments(spec)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, device=device, **kwargs
        )
    except ModelError:
        raise
    except OSError as exc:  # a Hugging Face text tower's config or tokenizer is not cached and cannot be fetched
        raise _hub_error(spec, exc) from exc
    except Exception as exc:  # open_clip raises RuntimeError, KeyError, ... for bad weights
        raise ModelError(
            f"cannot load model {spec.describe()}: {exc}",
            "check that --pretrained matches the architecture given to --model",
        ) from exc
    try:
        tokenizer = open_clip.get_tokenizer(name)
    except OSError as exc:
        raise _hub_error(spec, exc) from exc
    return model, preprocess, tokenizer


def _hub_error(spec: ModelSpec, exc: OSError) -> ModelError:
    text = hugging_face_text(spec)
    if text is None:
        return ModelError(f"cannot load model {spec.describe()}: {exc}", "check the file named above")
    return ModelError(
        f"{spec.describe()} needs the tokenizer and config of {text} from huggingface.co, which is not reachable "
        "and not in the Hugging Face cache",
        f"run any xmodal command with this model once on a machine with internet and copy its cache (HF_HOME, "
        f"~/.cache/huggingface) here, or set HF_HOME to a folder that holds {text}",
    )


def load_towers(spec: ModelSpec, device: torch.device) -> tuple[TextTower, ImageTower]:
    """Both towers from one whole model (what indexing needs, and the fallback for any model shape)."""
    model: Any
    model, preprocess, tokenizer = load_open_clip(spec, device)
    model.eval()
    size = getattr(model.visual, "image_size", 224)
    image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
    import open_clip

    text = TextTower.of(model, model.encode_text, tokenizer, device)
    config = dict(open_clip.get_model_preprocess_cfg(model) or {})
    image = ImageTower(model.encode_image, preprocess, image_size, device, model.visual, config)
    return text, image


# -- the text tower alone -----------------------------------------------------------------------


def load_text_tower(spec: ModelSpec, device: torch.device) -> TextTower | None:
    """The text tower built and loaded alone, or None when this model's shape needs the whole model."""
    import open_clip
    from open_clip.model import CLIP, _build_text_tower

    name, pretrained, kwargs = _open_clip_arguments(spec)
    config = dict(spec.config or open_clip.get_model_config(name) or {})
    text_cfg = config.get("text_cfg") or {}
    if not Path(pretrained).is_file() or config.get("custom_text") or text_cfg.get("hf_model_name"):
        return None  # a download, or a text tower open_clip builds differently: the general path handles it
    state = _read_tensors(Path(pretrained), TEXT_KEYS)
    if state is None:
        return None
    quick_gelu = bool(config.get("quick_gelu") or kwargs.get("force_quick_gelu"))
    try:
        # Built on the meta device, the tower's parameters become the checkpoint's tensors as they are
        # read (memory-mapped): no random initialisation to compute, no second copy of the weights.
        with torch.device("meta"):
            text = _build_text_tower(config["embed_dim"], text_cfg, quick_gelu)
            tower = _TextOnly(text)
        tower.load_state_dict(state, strict=True, assign=True)
        if text.attn_mask is not None:
            tower.attn_mask = text.build_causal_mask()  # a buffer no checkpoint holds: made here, on the CPU
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        log.info("text tower of %s cannot load alone (%s); loading the whole model", spec.describe(), exc)
        return None
    if any(tensor.is_meta for tensor in [*tower.parameters(), *tower.buffers()]):
        log.info("text tower of %s has state no checkpoint holds; loading the whole model", spec.describe())
        return None
    tower.to(device).eval()
    encode = CLIP.encode_text.__get__(tower)  # CLIP's own text path, on the same parameters
    return TextTower.of(tower, encode, open_clip.get_tokenizer(name), device)


class _TextOnly(torch.nn.Module):
    """The attributes CLIP's text path reads, laid out as CLIP lays them out (so its checkpoint keys fit)."""

    def __init__(self, text: Any) -> None:
        super().__init__()
        self.transformer = text.transformer
        self.context_length = text.context_length
        self.vocab_size = text.vocab_size
        self.token_embedding = text.token_embedding
        self.positional_embedding = text.positional_embedding
        self.ln_final = text.ln_final
        self.text_projection = text.text_projection
        self.text_pool_type = text.pool_type
        self.text_eos_id = text.eos_id
        self.register_buffer("attn_mask", text.attn_mask, persistent=False)


def _read_tensors(path: Path, prefixes: tuple[str, ...]) -> dict[str, torch.Tensor] | None:
    """The checkpoint's tensors whose names start with a prefix, reading no more of the file than needed."""
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                names = [key for key in handle.keys() if key.startswith(prefixes)]  # noqa: SIM118 - not a dict
                return {key: handle.get_tensor(key) for key in names}
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # an old-style (non-zip) checkpoint cannot be memory-mapped
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a format only open_clip's general loader knows (TorchScript, numpy, ...)
        log.info("cannot read %s as a state dict (%s)", path, exc)
        return None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        return None
    found = {}
    for key, value in loaded.items():
        name = key.removeprefix("module.")
        if name.startswith(prefixes) and isinstance(value, torch.Tensor):
            found[name] = value.float() if value.is_floating_point() else value
    return found or None
