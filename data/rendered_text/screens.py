"""Screenshots: an application window filling a 1920×1080 or 1280×800 screen, with a title bar, a menu, a
sidebar and a status bar in small interface text (12-16 px fonts), and a document's heading and body text."""

from __future__ import annotations

from PIL import ImageDraw

from data.rendered_text.backgrounds import background
from data.rendered_text.context import Context, Made
from data.rendered_text.ink import Line, Pen, fitting
from data.rendered_text.vocabulary import CHINESE_INTERFACE, ENGLISH

_MENU = ("File", "Edit", "View", "Insert", "Format", "Tools", "Window", "Help")
_APPS = ("Notes", "Editor", "Mail", "Reader", "Writer", "Browser", "Files")
_THEMES = {  # window, chrome, words, quiet words
    "light": ((250, 250, 250), (228, 230, 235), (25, 25, 30), (90, 95, 105)),
    "dark": ((32, 33, 38), (48, 50, 58), (225, 228, 232), (160, 165, 172)),
}


def screenshot(ctx: Context) -> Made:
    rng = ctx.rng
    size = rng.choice(((1920, 1080), (1280, 800)))
    theme = rng.choice(sorted(_THEMES))
    window, chrome, text, quiet = _THEMES[theme]
    polarity = "dark-on-light" if theme == "light" else "light-on-dark"
    lang = "zh" if rng.random() < 0.3 else "en"
    image = background("plain", size, polarity, rng, [])
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, *size), fill=window)
    ui_px = rng.randint(12, 16)
    ui = ctx.fonts_px(ui_px)
    bar = round(ui_px * 2.3)
    pen = Pen(image, text)
    quiet_pen = Pen(image, quiet, drawn=pen.drawn)  # both record into one list
    # Title bar: the document's name and the application's; window buttons at the right.
    draw.rectangle((0, 0, size[0], bar), fill=chrome)
    for i, colour in enumerate(((237, 95, 87), (245, 190, 80), (98, 197, 85))):
        x = 14 + i * round(ui_px * 1.5)
        draw.ellipse((x, bar // 2 - ui_px // 3, x + 2 * (ui_px // 3), bar // 2 + ui_px // 3), fill=colour)
    title = [ctx.one_picture_word("en"), (rng.choice(_APPS), "en")]
    pen.write(title, ((size[0] - pen.width(title, ui)) // 2, bar // 2 + ui_px // 3), ui)
    # Menu bar.
    menu = CHINESE_INTERFACE[:7] if lang == "zh" else _MENU[: rng.randint(5, 8)]
    x, y = 16, bar + bar // 2 + ui_px // 3
    for item in menu:
        x = pen.write([(item, lang)], (x, y), ui) + round(ui_px * 1.4)
    draw.line((0, 2 * bar, size[0], 2 * bar), fill=chrome, width=1)
    # Sidebar: folders and documents, some of them named in this picture alone.
    side = round(size[0] * rng.uniform(0.14, 0.2))
    draw.rectangle((0, 2 * bar + 1, side, size[1] - bar), fill=chrome)
    y = 2 * bar + round(ui_px * 2.2)
    while y < size[1] - 2 * bar:
        if rng.random() < 0.5:
            entry: Line = [ctx.one_picture_word(lang)]
        else:
            entry = [(rng.choice(ENGLISH["interface"]), "en")] if lang == "en" else [ctx.shared_word("zh")]
        draw.rectangle((16, y - ui_px + 2, 16 + ui_px - 2, y), outline=quiet)  # an icon
        quiet_pen.write(fitting(quiet_pen, entry, ui, side - 24 - ui_px * 2), (20 + ui_px, y), ui)
        y += round(ui_px * rng.uniform(1.8, 2.4))
    # The document: a heading and paragraphs of body text.
    left, right = side + round(size[0] * 0.04), size[0] - round(size[0] * 0.05)
    heading_px = rng.randint(22, 30)
    heading = ctx.fonts_px(heading_px, "bold")
    y = 2 * bar + round(heading_px * 2)
    words = [ctx.one_picture_word(lang), *(ctx.shared_word(lang) for _ in range(rng.randint(1, 3)))]
    pen.write(fitting(pen, words, heading, right - left), (left, y), heading)
    body_px = rng.randint(14, 18)
    body = ctx.fonts_px(body_px, rng.choice(("sans", "serif")))
    y += round(heading_px * 1.8)
    for _paragraph in range(rng.randint(2, 5)):
        for _line in range(rng.randint(2, 4)):
            if y > size[1] - 3 * bar:
                break
            line = _body_line(ctx, lang)
            pen.write(fitting(pen, line, body, right - left), (left, y), body)
            y += round(body_px * 1.6)
        y += round(body_px * 1.2)
    # Status bar.
    draw.rectangle((0, size[1] - bar, size[0], size[1]), fill=chrome)
    status = [("Ready", "en")] if rng.random() < 0.5 else [("Line", "en"), (str(rng.randint(1, 400)), "en")]
    quiet_pen.write(status, (16, size[1] - bar // 2 + ui_px // 3), ctx.fonts_px(max(12, ui_px - 2)))
    return Made(image, "screenshot", "plain", polarity, pen.drawn)


def _body_line(ctx: Context, lang: str) -> Line:
    """A line of prose: shared words, and now and then a word of this picture alone."""
    rng = ctx.rng
    line = [ctx.shared_word(lang, rng.choice(("general", "slides"))) for _ in range(rng.randint(6, 12))]
    line = [(text.lower() if lang == "en" else text, lang) for text, _ in line]
    if rng.random() < 0.4:
        line.insert(rng.randrange(len(line) + 1), ctx.one_picture_word(lang))
    return line
