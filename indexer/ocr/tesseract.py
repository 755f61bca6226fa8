"""Finding Tesseract: the binding (tesserocr), its language data, and a message that says what to install.

tesserocr is a C binding that keeps a loaded model per worker (70 ms a page here, against 700 ms for a `tesseract`
process per picture, most of it loading the languages). Its wheels carry libtesseract but no language data: that
comes from the system (Debian's tesseract-ocr-eng and tesseract-ocr-chi-sim) or TESSDATA_PREFIX.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from functools import cache

INSTALL_HINT = (
    "install Tesseract's language data (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng "
    "tesseract-ocr-chi-sim; `make system` does it) or point TESSDATA_PREFIX at a tessdata folder"
)
_SYSTEM_FOLDERS = (
    "/usr/share/tesseract-ocr/*/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)


@dataclass(frozen=True)
class Tesseract:
    """Where OCR can run, or why it cannot (`problem` set, the rest empty)."""

    tessdata: str | None
    languages: tuple[str, ...]  # of those asked for, the ones installed, in the order asked
    version: str
    problem: str | None = None

    @property
    def available(self) -> bool:
        return self.problem is None

    @property
    def language_spec(self) -> str:
        return "+".join(self.languages)

    @property
    def engine(self) -> str:
        """What read a picture's words, as recorded with them: another engine or language set reads again."""
        return f"tesseract {self.version} {self.language_spec}"


def tessdata_folders() -> list[str]:
    explicit = os.environ.get("TESSDATA_PREFIX")
    folders = [explicit] if explicit else []
    for pattern in _SYSTEM_FOLDERS:
        folders.extend(sorted(glob.glob(pattern), reverse=True))  # the newest tesseract's data first
    return [folder for folder in folders if os.path.isdir(folder)]


@cache
def find_tesseract(languages: tuple[str, ...]) -> Tesseract:
    """The binding and a tessdata folder holding at least one of `languages`; never raises."""
    try:
        import tesserocr
    except ImportError as exc:
        return Tesseract(None, (), "", f"the tesserocr binding is not installed ({exc}): pip install tesserocr")
    version = tesserocr.tesseract_version().split()[1] if tesserocr.tesseract_version() else "?"
    for folder in tessdata_folders():
        present = tuple(lang for lang in languages if os.path.isfile(os.path.join(folder, f"{lang}.traineddata")))
        if present:
            return Tesseract(folder, present, version)
    wanted = ", ".join(languages)
    return Tesseract(None, (), version, f"no Tesseract language data for {wanted} was found: {INSTALL_HINT}")
