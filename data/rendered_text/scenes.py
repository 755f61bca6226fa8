"""Words in a scene: scattered words of many sizes and angles, signs, and pictures with no words at all."""

from __future__ import annotations

from PIL import Image, ImageDraw

from data.rendered_text.backgrounds import POLARITIES, background, grain, ink_colour, texture
from data.rendered_text.context import LATIN_LOOKS, Context, Made
from data.rendered_text.ink import Box, Drawn, Pen, overlaps, stamp_turned, tile, turned_size

CAMERA = ((4000, 3000), (3000, 4000))  # 12 MP: what a phone photographs a sign or a receipt at
_SCENE_SIZES = ((640, 480), (800, 600), (1024, 768), (1280, 960), (1200, 1600), (1600, 1200))
_PLATES = {  # plate colour, word colour: road signs, shop fronts, notices
    "green": ((20, 110, 60), (250, 250, 250)),
    "blue": ((20, 60, 150), (250, 250, 250)),
    "red": ((190, 30, 30), (255, 255, 255)),
    "white": ((240, 240, 235), (20, 20, 20)),
    "yellow": ((245, 200, 30), (15, 15, 15)),
    "black": ((25, 25, 25), (240, 240, 240)),
}


def scattered(ctx: Context) -> Made:
    """Three to eight words, each with its own size (12-80 px), angle, look and language."""
    rng = ctx.rng
    size = rng.choice(_SCENE_SIZES)
    kind = rng.choice(("plain", "gradient", "noisy", "photo-like", "photo"))
    polarity = rng.choices(POLARITIES, (3, 2))[0]
    image = background(kind, size, polarity, rng, ctx.photos)
    drawn: list[Drawn] = []
    boxes: list[Box] = []
    for _ in range(rng.randint(3, 8)):
        lang = "zh" if rng.random() < 0.4 else "en"
        text, lang = ctx.one_picture_word(lang) if rng.random() < 0.75 else ctx.shared_word(lang)
        fonts = ctx.fonts_at(ctx.cap_height(12, 80), rng.choice(LATIN_LOOKS))
        word, angle = tile(text, fonts[lang]), ctx.angle()
        width, height = turned_size(word, angle)
        if width > size[0] - 20 or height > size[1] - 20:
            continue
        for _attempt in range(40):
            centre = (rng.randint(width // 2 + 10, size[0] - width // 2 - 10),
                      rng.randint(height // 2 + 10, size[1] - height // 2 - 10))  # fmt: skip
            box = (centre[0] - width // 2, centre[1] - height // 2, centre[0] + width // 2, centre[1] + height // 2)
            if not overlaps(box, boxes, max(6, word.height // 2)):
                boxes.append(stamp_turned(image, word, centre, angle, ink_colour(polarity, rng)))
                drawn.append(Drawn(text, lang, word.height, angle))
                break
    if kind != "plain" and rng.random() < 0.5:
        image = grain(image, rng.uniform(2, 6), rng)
    return Made(image, "words", kind, polarity, drawn)


def sign(ctx: Context) -> Made:
    """A plate with one to three lines on a scene; a fifth are camera-sized, the sign far or near."""
    rng = ctx.rng
    camera = rng.random() < 0.2
    size = rng.choice(CAMERA) if camera else rng.choice(_SCENE_SIZES[2:])
    kind = rng.choice(("noisy", "photo-like", "photo"))
    image = background(kind, size, rng.choice(POLARITIES), rng, ctx.photos)
    lang = "zh" if rng.random() < 0.35 else "en"
    lines = _sign_lines(ctx, lang)
    cap = min(size) * (rng.uniform(0.012, 0.05) if camera else rng.uniform(0.03, 0.09))
    look = rng.choice(("bold", "sans", "condensed"))
    fonts = ctx.fonts_at(cap, look)
    widest = max(Pen(image, (0, 0, 0)).width(line, fonts) for line in lines) + 1.4 * cap
    if widest > 0.85 * size[0]:  # a long name on a small picture: a smaller sign
        cap *= 0.85 * size[0] / widest
        fonts = ctx.fonts_at(cap, look)
    plate_colour, word_colour = _PLATES[rng.choice(sorted(_PLATES))]
    pad, leading = round(cap * 0.7), round(cap * 1.6)
    widths = [Pen(image, word_colour).width(line, fonts) for line in lines]
    plate = Image.new("RGBA", (max(widths) + 2 * pad, len(lines) * leading + 2 * pad - round(cap * 0.6)))
    ImageDraw.Draw(plate).rounded_rectangle((0, 0, plate.width - 1, plate.height - 1), radius=pad // 2,
                                            fill=(*plate_colour, 255))  # fmt: skip
    angle = rng.choices((0, 5, -5, 15, -15), (6, 2, 2, 1, 1))[0]
    if plate.rotate(angle, expand=True).width >= size[0] or plate.rotate(angle, expand=True).height >= size[1]:
        angle = 0  # turned, it would not fit
    pen = Pen(plate, (*word_colour, 255), angle)
    for row, (line, width) in enumerate(zip(lines, widths, strict=True)):
        pen.write(line, ((plate.width - width) // 2, pad + round(cap) + row * leading), fonts)
    turned = plate.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    spot = (rng.randint(0, size[0] - turned.width), rng.randint(0, size[1] - turned.height))
    image.paste(turned, spot, turned)
    if rng.random() < 0.5:
        image = grain(image, rng.uniform(2, 5), rng)
    return Made(image, "sign", kind, "light-on-dark" if sum(plate_colour) < 380 else "dark-on-light", pen.drawn)


def _sign_lines(ctx: Context, lang: str) -> list[list[tuple[str, str]]]:
    rng, name = ctx.rng, ctx.one_picture_word(lang)
    if lang == "zh":
        lines = [[name], [ctx.shared_word("zh")]]
        return lines[: rng.randint(1, 2)]
    name = (name[0].upper(), "en")
    street = (ctx.vocabulary.real("signs"), "en")
    lines = [[name, street]] if rng.random() < 0.5 else [[name]]
    if rng.random() < 0.6:
        lines.append([(ctx.vocabulary.real("signs"), "en")])
    return lines


def no_text(ctx: Context) -> Made:
    """A photo-like texture with no words: what a reader must find nothing in (and what that costs)."""
    rng = ctx.rng
    size = rng.choice(_SCENE_SIZES)
    image = grain(texture(size, rng), rng.uniform(2, 8), rng)
    return Made(image, "notext", "photo-like", "")
