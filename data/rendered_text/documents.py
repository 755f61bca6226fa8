"""Printed words: receipts and invoices photographed on a table, and presentation slides."""

from __future__ import annotations

from PIL import Image, ImageDraw

from data.rendered_text.backgrounds import POLARITIES, background, grain, ground_colour, ink_colour
from data.rendered_text.context import Context, Made
from data.rendered_text.ink import Colour, Line, Pen, fitting
from data.rendered_text.scenes import CAMERA
from data.rendered_text.vocabulary import ENGLISH

_SHOP_KINDS = ("MARKET", "STORE", "FOODS", "CAFE", "BAKERY", "PHARMACY")


def receipt(ctx: Context) -> Made:
    """A till receipt or invoice on paper, on a table; a quarter photographed at camera size, some from afar."""
    rng = ctx.rng
    camera = rng.random() < 0.25
    size = rng.choice(CAMERA) if camera else rng.choice(((900, 1200), (1080, 1440), (1200, 1600)))
    lang = "zh" if rng.random() < 0.3 else "en"
    lines, prices, phrase = _receipt_lines(ctx, lang)
    width = size[0] * (rng.uniform(0.35, 0.7) if camera else rng.uniform(0.55, 0.85))
    cap = width / (rng.uniform(26, 34) if lang == "en" else rng.uniform(15, 19))
    paper_colour, word_colour = (*ground_colour("dark-on-light", rng), 255), (*ink_colour("dark-on-light", rng), 255)
    angle = rng.choices((0, 5, -5, 15, -15), (6, 3, 3, 1, 1))[0]
    while True:  # a long receipt on a small photo is printed smaller, so the photo shows all of it
        paper, pen = _paper(ctx, lines, prices, round(width), cap, paper_colour, word_colour, angle)
        turned = paper.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        if turned.width <= size[0] and turned.height <= size[1]:
            break
        width, cap = width * 0.9, cap * 0.9
    kind = rng.choice(("noisy", "photo-like", "photo"))
    image = background(kind, size, rng.choice(POLARITIES), rng, ctx.photos)
    image.paste(turned, (rng.randint(0, size[0] - turned.width), rng.randint(0, size[1] - turned.height)), turned)
    image = grain(image, rng.uniform(2, 6), rng)
    return Made(image, "receipt", kind, "dark-on-light", pen.drawn, [phrase] if phrase else [])


def _paper(
    ctx: Context,
    lines: list[Line],
    prices: list[str],
    width: int,
    cap: float,
    paper_colour: Colour,
    word_colour: Colour,
    angle: int,
) -> tuple[Image.Image, Pen]:
    fonts = ctx.fonts_at(cap, "mono")
    leading, margin = round(cap * 1.7), round(cap * 1.2)
    paper = Image.new("RGBA", (width, margin * 2 + leading * (len(lines) + 1)), paper_colour)
    pen = Pen(paper, word_colour, angle)
    title = ctx.fonts_at(cap * 1.5, "bold")
    room = width - 2 * margin
    if pen.width(lines[0], title) > room:
        title = ctx.fonts_at(cap * 1.5 * room / pen.width(lines[0], title), "bold")
    y = margin + round(cap * 1.5)
    for row, (line, price) in enumerate(zip(lines, prices, strict=True)):
        line_fonts = title if row == 0 else fonts
        x = (width - pen.width(line, line_fonts)) // 2 if row == 0 else margin
        pen.write(fitting(pen, line, line_fonts, room), (x, y), line_fonts)
        if price:
            pen.write([(price, "en")], (width - margin - pen.width([(price, "en")], fonts), y), fonts)
        y += round(leading * (1.4 if row == 0 else 1.0))
    return paper, pen


def _receipt_lines(ctx: Context, lang: str) -> tuple[list[Line], list[str], str]:
    """The lines (words on the left) and prices (on the right); and "invoice 2024 <shop>" where it says so."""
    rng = ctx.rng
    year = str(rng.choice((2019, 2021, 2022, 2023, 2024, 2024, 2025)))
    date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    items = rng.randint(3, 8)
    money = [f"{rng.randint(1, 60)}.{rng.randint(0, 99):02d}" for _ in range(items)]
    total = f"{sum(float(value) for value in money):.2f}"
    if lang == "zh":
        lines: list[Line] = [[(ctx.vocabulary.place_zh(), "zh")], [(rng.choice(("发票", "收据")), "zh")]]
        lines += [[("日期", "zh"), (date, "en")]]
        lines += [[(ctx.vocabulary.common_zh(), "zh")] for _ in range(items)]
        lines += [[("合计", "zh")], [("谢谢", "zh"), ("光临", "zh")]]
        return lines, ["", "", "", *money, total, ""], ""
    shop = ctx.vocabulary.made_up().upper()
    title = rng.choice(("INVOICE", "RECEIPT", "INVOICE"))
    lines = [[("ACME", "en"), (shop, "en")] if rng.random() < 0.3 else [(shop, "en"), (rng.choice(_SHOP_KINDS), "en")]]
    street = [(ctx.vocabulary.made_up().capitalize(), "en"), (rng.choice(("STREET", "ROAD", "AVENUE")), "en")]
    lines += [[*street, (str(rng.randint(1, 240)), "en")], [(title, "en")], [("DATE", "en"), (date, "en")]]
    for _ in range(items):
        item = ctx.vocabulary.made_up() if rng.random() < 0.2 else rng.choice(ENGLISH["items"])
        lines.append([(item.upper(), "en")])
    lines += [[("TOTAL", "en")], [("THANK", "en"), ("YOU", "en")]]
    phrase = f"{title.lower()} {year} {shop.lower()}" if title == "INVOICE" else ""
    return lines, ["", "", "", "", *money, total, ""], phrase


def slide(ctx: Context) -> Made:
    """A title and three to five bullets on a plain, gradient or photographed slide, with a small footer."""
    rng = ctx.rng
    size = rng.choice(((1280, 720), (1920, 1080)))
    kind = rng.choice(("plain", "gradient", "photo"))
    polarity = rng.choices(POLARITIES, (3, 1))[0]
    image = background(kind, size, polarity, rng, ctx.photos)
    lang = "zh" if rng.random() < 0.35 else "en"
    pen = Pen(image, ink_colour(polarity, rng))
    margin = round(size[0] * 0.07)
    title_cap = size[1] * rng.uniform(0.045, 0.07)
    title_fonts = ctx.fonts_at(title_cap, "bold")
    title = [ctx.one_picture_word(lang), *(ctx.shared_word(lang, "slides") for _ in range(rng.randint(1, 2)))]
    rng.shuffle(title)
    y = margin + round(title_cap)
    pen.write(fitting(pen, title, title_fonts, size[0] - 2 * margin), (margin, y), title_fonts)
    cap = size[1] * rng.uniform(0.025, 0.04)
    fonts = ctx.fonts_at(cap)
    y += round(title_cap * 2.2)
    draw = ImageDraw.Draw(image)
    radius = max(2, round(cap * 0.2))
    for _ in range(rng.randint(3, 5)):
        words = [ctx.shared_word(lang, rng.choice(("slides", "general"))) for _ in range(rng.randint(2, 5))]
        if rng.random() < 0.7:
            words.insert(rng.randrange(len(words) + 1), ctx.one_picture_word(lang))
        words = fitting(pen, words, fonts, size[0] - 2 * margin - round(cap * 2))
        draw.ellipse((margin, y - cap * 0.6 - radius, margin + 2 * radius, y - cap * 0.6 + radius), fill=pen.colour)
        pen.write(words, (margin + round(cap * 1.6), y), fonts)
        y += round(cap * 2.1)
    footer = ctx.fonts_at(max(8.0, size[1] * 0.011))
    page = [(ctx.vocabulary.made_up().capitalize(), "en"), (str(rng.randint(2, 40)), "en")]
    pen.write(page, (margin, size[1] - margin // 2), footer)
    return Made(image, "slide", kind, polarity, pen.drawn)
