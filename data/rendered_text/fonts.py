"""Finding fonts on the machine that renders: by file name in the usual font folders, then through fontconfig.

The set needs a Latin font and one with Simplified Chinese glyphs. Nothing is bundled and no path is assumed:
fonts differ between machines, so each is looked up when the set is made, and a missing one is an error that
says what to install, never tofu boxes drawn in silence.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import ImageFont

ENV_FOLDERS = "XMODAL_FONT_DIRS"  # extra folders to search first, os.pathsep-separated
_FOLDERS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
# File names per role, most wanted first; a role with none found falls back to "sans" (except "cjk").
_NAMES: dict[str, tuple[str, ...]] = {
    "sans": ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "NotoSans-Regular.ttf", "Arial.ttf", "arial.ttf"),
    "bold": ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "NotoSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf"),
    "condensed": ("DejaVuSansCondensed.ttf", "LiberationSansNarrow-Regular.ttf"),
    "serif": ("DejaVuSerif.ttf", "LiberationSerif-Regular.ttf", "NotoSerif-Regular.ttf", "Times New Roman.ttf"),
    "mono": ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf", "NotoSansMono-Regular.ttf", "Courier New.ttf"),
    "cjk": (
        "wqy-microhei.ttc",
        "wqy-zenhei.ttc",
        "NotoSansCJK-Regular.ttc",
        "NotoSansSC-Regular.otf",
        "NotoSansSC-Regular.ttf",
        "SourceHanSansSC-Regular.otf",
        "DroidSansFallbackFull.ttf",
        "simhei.ttf",
        "msyh.ttc",
        "PingFang.ttc",
    ),
}
LATIN_ROLES = ("sans", "bold", "condensed", "serif", "mono")
INSTALL_HINT = (
    "install fonts (Debian/Ubuntu: apt-get install fonts-dejavu-core fonts-wqy-microhei) or name a folder that "
    f"holds them in {ENV_FOLDERS}"
)


class FontMissing(RuntimeError):
    """No usable font for a role the set needs."""


@dataclass(frozen=True)
class Fonts:
    """The font file for each role, found once per process."""

    files: dict[str, Path]

    def font(self, role: str, size: int) -> ImageFont.FreeTypeFont:
        return _load(str(self.files[role]), max(6, int(size)))


def _folders() -> list[Path]:
    extra = [part for part in os.environ.get(ENV_FOLDERS, "").split(os.pathsep) if part]
    found = [Path(folder).expanduser() for folder in (*extra, *_FOLDERS)]
    return [folder for folder in found if folder.is_dir()]


def _by_name(names: tuple[str, ...], folders: list[Path]) -> Path | None:
    wanted = {name.lower(): rank for rank, name in enumerate(names)}
    best: tuple[int, Path] | None = None
    for folder in folders:
        for root, _, files in os.walk(folder):
            for file in files:
                rank = wanted.get(file.lower())
                found = Path(root) / file
                if rank is not None and (best is None or (rank, str(found)) < (best[0], str(best[1]))):
                    best = (rank, found)
        if best is not None:
            return best[1]  # a font in an earlier folder (the user's own first) wins
    return None


def _fontconfig(role: str) -> Path | None:
    """fontconfig's answer, only where it is sure: for Chinese, a font that declares the language."""
    if shutil.which("fc-list") is None or shutil.which("fc-match") is None:
        return None
    if role == "cjk":
        argv = ["fc-list", ":lang=zh-cn", "file"]
    else:
        pattern = {"sans": "sans-serif", "bold": "sans-serif:bold", "serif": "serif", "mono": "monospace"}
        if role not in pattern:
            return None
        argv = ["fc-match", "-f", "%{file}\n", pattern[role]]
    try:
        listed = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in listed.splitlines() if line.strip())
    usable = [Path(file) for file in files if file.lower().endswith((".ttf", ".ttc", ".otf")) and Path(file).is_file()]
    return usable[0] if usable else None


@cache
def find_fonts() -> Fonts:
    """A file for every role; raises FontMissing when there is no Latin or no Chinese font at all."""
    folders = _folders()
    files: dict[str, Path] = {}
    for role, names in _NAMES.items():
        found = _by_name(names, folders) or _fontconfig(role)
        if found is not None:
            files[role] = found
    if "sans" not in files:
        raise FontMissing(f"no Latin font was found (looked for {', '.join(_NAMES['sans'])}): {INSTALL_HINT}")
    if "cjk" not in files:
        raise FontMissing(f"no font with Simplified Chinese glyphs was found: {INSTALL_HINT}")
    for role in LATIN_ROLES:
        files.setdefault(role, files["sans"])
    return Fonts(files)


@cache
def _load(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)
