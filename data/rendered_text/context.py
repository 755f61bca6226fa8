"""What every layout gets (a random source, the fonts, the vocabulary, the photos) and what it gives back."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFont

from data.rendered_text.fonts import Fonts
from data.rendered_text.ink import Drawn, cap_size
from data.rendered_text.vocabulary import Vocabulary

LATIN_LOOKS = ("sans", "bold", "serif", "condensed", "mono")
ANGLES = (0, 5, -5, 15, -15, 90)
_ANGLE_WEIGHTS = (50, 10, 10, 10, 10, 10)


@dataclass
class Context:
    rng: random.Random
    fonts: Fonts
    vocabulary: Vocabulary
    photos: list[Path]

    def fonts_at(self, cap_height: float, look: str = "sans") -> dict[str, ImageFont.FreeTypeFont]:
        """A Latin font of `look` and the Chinese font, both with capitals (characters) `cap_height` px tall."""
        return {
            "en": self.fonts.font(look, cap_size(self.fonts, look, cap_height)),
            "zh": self.fonts.font("cjk", cap_size(self.fonts, "cjk", cap_height)),
        }

    def fonts_px(self, pixels: int, look: str = "sans") -> dict[str, ImageFont.FreeTypeFont]:
        """Fonts by their nominal size, as an interface sets them (13 px menu text)."""
        return {"en": self.fonts.font(look, pixels), "zh": self.fonts.font("cjk", pixels)}

    def cap_height(self, low: float, high: float) -> float:
        """Log-uniform: as many words from 12 to 20 px as from 40 to 66 px."""
        return math.exp(self.rng.uniform(math.log(low), math.log(high)))

    def angle(self) -> int:
        return self.rng.choices(ANGLES, _ANGLE_WEIGHTS)[0]

    def cased(self, word: str) -> str:
        """As words appear in pictures: lower case, capitalised or in capitals."""
        return self.rng.choices((word.lower(), word.capitalize(), word.upper()), (4, 4, 2))[0]

    def one_picture_word(self, lang: str) -> tuple[str, str]:
        if lang == "zh":
            return self.vocabulary.unique_zh(), "zh"
        return self.cased(self.vocabulary.made_up()), "en"

    def shared_word(self, lang: str, category: str = "general") -> tuple[str, str]:
        if lang == "zh":
            return self.vocabulary.common_zh(), "zh"
        return self.cased(self.vocabulary.real(category)), "en"


@dataclass
class Made:
    """A picture as drawn, before it is saved."""

    image: Image.Image
    kind: str  # words | receipt | slide | sign | screenshot | notext
    background: str
    polarity: str  # dark-on-light | light-on-dark; "" without words
    words: list[Drawn] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)  # multi-word queries only this picture answers
