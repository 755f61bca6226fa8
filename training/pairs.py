"""Image–caption pairs for training and evaluation: a CSV (image,caption) or a folder with sidecars."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from indexer.scan import scan
from indexer.texts import parse_text_file


@dataclass(frozen=True)
class Pairs:
    images: list[str]  # absolute paths
    captions: list[list[str]]  # captions[i] describe images[i]

    def __len__(self) -> int:
        return len(self.images)


def load_pairs(source: Path) -> Pairs:
    """A folder: every image with a sidecar .txt (one caption per line). A CSV: image,caption rows."""
    source = source.expanduser()
    if source.is_dir():
        found = scan([str(source.absolute())])
        images = sorted(found.sidecars)
        captions = [[e.text for e in parse_text_file(Path(found.sidecars[i].path), "sidecar")] for i in images]
    elif source.is_file():
        by_image: dict[str, list[str]] = {}
        for entry in parse_text_file(source, "csv"):
            if entry.image is not None:
                by_image.setdefault(entry.image, []).append(entry.text)
        images = sorted(by_image)
        captions = [by_image[image] for image in images]
    else:
        raise InputError(f"no such pairs file or folder: {source}", "pass a CSV of image,caption or a folder")
    kept = [(image, texts) for image, texts in zip(images, captions, strict=True) if texts]
    if not kept:
        raise InputError(
            f"{source} holds no image–caption pairs",
            "a folder needs photo.jpg + photo.txt sidecars; a CSV needs image,caption rows",
        )
    return Pairs([image for image, _ in kept], [texts for _, texts in kept])
