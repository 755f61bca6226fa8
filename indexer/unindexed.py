"""Files that look like pictures but that xmodal does not index, and why: `xmodal stats` lists them by reason, so a
folder's .jxl or .psd files are never left out in silence. Which files count at all is indexer.selection's rule."""

from __future__ import annotations

import importlib.util
from functools import cache

# Extension → why it is not indexed. Formats Pillow cannot read (or reads too partially to trust), and graphics
# formats that are not photos: each is worth a line in stats, since a person may expect it to be searchable.
SKIPPED_EXTENSIONS: dict[str, str] = {
    ".jxl": "JPEG XL: no maintained reader installed",
    ".psd": "Photoshop document: layered files are not read (save a JPEG, PNG or TIFF beside it)",
    ".psb": "Photoshop document: layered files are not read (save a JPEG, PNG or TIFF beside it)",
    ".xcf": "GIMP image: no reader (export a JPEG, PNG or TIFF beside it)",
    ".kra": "Krita document: no reader (export a JPEG, PNG or TIFF beside it)",
    ".svg": "SVG: vector drawings are not rendered",
    ".svgz": "SVG: vector drawings are not rendered",
    ".eps": "EPS: PostScript is not rendered (it needs Ghostscript)",
    ".ai": "Illustrator document: not rendered",
    ".exr": "OpenEXR (HDR): no reader installed",
    ".hdr": "Radiance HDR: no reader installed",
    ".pam": "PAM (Netpbm arbitrary map): Pillow does not read it",
    ".ico": "icon: not indexed (not a photo)",
    ".icns": "icon: not indexed (not a photo)",
    ".tga": "Targa texture: not indexed (not a photo format)",
    ".dds": "DirectDraw texture: not indexed (not a photo format)",
}
RAW_WITHOUT_READER = "camera RAW: rawpy (LibRaw) is not installed (pip install rawpy)"
HEIF_WITHOUT_READER = "HEIC/HEIF: pillow-heif is not installed (pip install pillow-heif)"
VIDEOS_OFF = "video: indexing videos is switched off (video.enabled = false)"


@cache
def reader_installed(module: str) -> bool:
    """Whether a reader package is there, without importing it (rawpy pulls in numpy: a scan need not)."""
    return importlib.util.find_spec(module) is not None
