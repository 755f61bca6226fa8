"""Which model made a library's vectors: resolved from what the user typed, recorded in the library."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import ModelError, ModelMismatch
from core.settings import DEFAULT_MODEL, DEFAULT_PRETRAINED
from indexer.hashing import file_sha256

DEMO_MODEL_DIR = Path(__file__).parent / "demo_model"  # trained by data/train_demo_model.py
CHECKPOINT_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin", "model.safetensors", "model.pt")


@dataclass(frozen=True)
class ModelSpec:
    """Enough to load the same model again anywhere: architecture or config, weights, preprocessing."""

    name: str  # what the user sees: an architecture name or a config file's stem
    arch: str | None  # a built-in open_clip architecture, or None for a custom config
    config: dict[str, Any] | None  # a custom open_clip model config (embed_dim, vision_cfg, text_cfg)
    preprocess: dict[str, Any] | None  # preprocessing overrides that came with a custom config
    pretrained: str  # an open_clip tag, or an absolute checkpoint path
    weights_sha256: str | None  # for checkpoint files: the weights, not the path, are the identity

    def weights_file(self) -> Path:
        """Where the weights are now. The demo model moves with the installed package; the SHA-256 still decides."""
        if self.name == "demo":
            return DEMO_MODEL_DIR / Path(self.pretrained).name
        return Path(self.pretrained)

    @property
    def is_tag(self) -> bool:
        return self.weights_sha256 is None

    def identity(self) -> dict[str, Any]:
        weights = self.pretrained if self.is_tag else self.weights_sha256
        return {"arch": self.arch, "config": self.config, "weights": weights}

    def describe(self) -> str:
        if self.is_tag:
            return f"{self.name} / {self.pretrained}"
        return f"{self.name} / {Path(self.pretrained).name} (sha256 {str(self.weights_sha256)[:12]})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(**data)


def resolve(model: str | None, pretrained: str | None) -> ModelSpec:
    """Turn --model/--pretrained into a spec, checking now what can be checked without loading."""
    model = model or DEFAULT_MODEL
    if model == "demo":
        if not (DEMO_MODEL_DIR / "open_clip_config.json").is_file():
            raise ModelError("the demo model is not installed", "train it with: python -m data.train_demo_model")
        return replace(_from_folder(DEMO_MODEL_DIR, pretrained), name="demo")
    if model.startswith("local-dir:") or Path(model).is_dir():
        return _from_folder(Path(model.removeprefix("local-dir:")), pretrained)
    if model.endswith(".json") or os.sep in model:
        return _from_config_file(Path(model), pretrained)
    return _from_builtin(model, pretrained)


def _default_tag(model: str) -> str:
    if model == DEFAULT_MODEL:
        return DEFAULT_PRETRAINED
    raise ModelError(
        f"no weights given for model {model}",
        f"pass --pretrained with one of its tags ({', '.join(_tags(model)) or 'none known'}) or a checkpoint file",
    )


def _tags(model: str) -> list[str]:
    import open_clip

    return list(open_clip.list_pretrained_tags_by_model(model))


def _from_builtin(model: str, pretrained: str | None) -> ModelSpec:
    _check_architecture(model)  # before asking for weights: no weights can help a model that does not exist
    if pretrained is None:
        pretrained = _default_tag(model)
    if _looks_like_file(pretrained):
        path = _checkpoint(pretrained)
        return ModelSpec(model, model, None, None, str(path), file_sha256(str(path)))
    if pretrained not in _tags(model):
        raise ModelError(
            f"{pretrained!r} is neither a checkpoint file nor a pretrained tag of {model}",
            f"tags for {model}: {', '.join(_tags(model)) or 'none'}; or pass --pretrained /path/to/checkpoint",
        )
    return ModelSpec(model, model, None, None, pretrained, None)


def _check_architecture(model: str) -> None:
    import open_clip

    if model not in open_clip.list_models():
        close = [m for m in open_clip.list_models() if model.lower()[:5] in m.lower()][:8]
        raise ModelError(
            f"unknown model {model!r}",
            "use an open_clip architecture name"
            + (f" such as {', '.join(close)}" if close else " (see open_clip.list_models())")
            + ", or a path to an open_clip model-config JSON",
        )


def _from_config_file(path: Path, pretrained: str | None) -> ModelSpec:
    if not path.is_file():
        raise ModelError(f"model config {path} does not exist", "pass an open_clip architecture name or a JSON file")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read model config {path}: {exc}") from exc
    config, preprocess = split_config(data, path)
    if pretrained is None:
        raise ModelError(
            f"model config {path.name} has no weights",
            "pass --pretrained /path/to/checkpoint (a model with random weights gives meaningless vectors)",
        )
    weights = _checkpoint(pretrained)
    return ModelSpec(path.stem, None, config, preprocess, str(weights), file_sha256(str(weights)))


def _from_folder(folder: Path, pretrained: str | None) -> ModelSpec:
    config_path = folder / "open_clip_config.json"
    if not config_path.is_file():
        raise ModelError(f"{folder} holds no open_clip_config.json", "point --model at an open_clip model folder")
    config, preprocess = split_config(json.loads(config_path.read_text()), config_path)
    if pretrained is None:
        found = [folder / name for name in CHECKPOINT_NAMES if (folder / name).is_file()]
        if not found:
            raise ModelError(f"{folder} holds no weights ({', '.join(CHECKPOINT_NAMES)})", "pass --pretrained FILE")
        pretrained = str(found[0])
    weights = _checkpoint(pretrained)
    return ModelSpec(folder.name, None, config, preprocess, str(weights), file_sha256(str(weights)))


def split_config(data: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Accept both a bare model config and open_clip's {model_cfg, preprocess_cfg} wrapper."""
    if isinstance(data, dict) and "model_cfg" in data:
        return data["model_cfg"], data.get("preprocess_cfg") or None
    if isinstance(data, dict) and all(key in data for key in ("embed_dim", "vision_cfg", "text_cfg")):
        return data, None
    raise ModelError(f"{path} is not an open_clip model config", "it needs embed_dim, vision_cfg and text_cfg")


def _looks_like_file(value: str) -> bool:
    return os.sep in value or "." in Path(value).name or Path(value).exists()


def _checkpoint(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise ModelError(f"checkpoint file {value} does not exist", "check the path given to --pretrained")
    return path.resolve()


def check_same_model(recorded: ModelSpec, requested: ModelSpec, library: Path) -> None:
    if recorded.identity() != requested.identity():
        raise ModelMismatch(
            f"the library at {library} was built with {recorded.describe()}, not {requested.describe()}",
            "leave out --model/--pretrained to use the library's model, pass --reindex to re-encode "
            "everything with the new model, or choose another --library",
        )
