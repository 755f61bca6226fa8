"""Words in pictures: Tesseract reads them after the pictures are embedded, and a word search finds them.

The pictures are rendered here, with words at sizes a person reads; nothing is faked: the words come back
through Tesseract, the catalog and the lexical stage."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from core.settings import load_settings
from indexer.catalog import picture_words
from indexer.library import Library
from indexer.ocr.pool import OcrPool, Picture
from indexer.ocr.reader import PictureReader, ReadPlan, second_size
from indexer.ocr.run import OcrPass, read_words, tesseract_for
from indexer.ocr.tesseract import find_tesseract
from indexer.ocr.words import Word, merged, text_of
from indexer.ocr.worker import WorkerPlan
from indexer.progress import ProgressReporter
from tests.conftest import Cli, TinyModel, write_picture

LANGUAGES = ("eng", "chi_sim")
TESSERACT = find_tesseract(LANGUAGES)
LATIN_FONT = next(iter(glob.glob("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")), None)
CJK_FONT = next(iter(glob.glob("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")), None)
READY = TESSERACT.available and TESSERACT.languages == LANGUAGES and LATIN_FONT and CJK_FONT
if not READY and not os.environ.get("CI"):  # CI installs them (.ci/run: make system); there, a gap fails
    pytest.skip("Tesseract's eng+chi_sim data or the fonts are missing: make system", allow_module_level=True)


@pytest.fixture(autouse=True)
def reading_words(monkeypatch: pytest.MonkeyPatch) -> None:
    assert READY, f"Tesseract or fonts missing: {TESSERACT.problem or 'fonts-dejavu-core, fonts-wqy-microhei'}"
    monkeypatch.delenv("XMODAL_OCR__ENABLED")  # the suite's default is off; here the library's default holds


def render(path: Path, lines: list[str], size: tuple[int, int] = (900, 500), height: int = 40) -> Path:
    """Dark words on a light page, `height` pixels per line of text."""
    image = Image.new("RGB", size, (250, 248, 240))
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        cjk = any("\u4e00" <= ch <= "\u9fff" for ch in line)
        font = ImageFont.truetype(CJK_FONT if cjk else LATIN_FONT, height)  # type: ignore[arg-type]
        draw.text((40, 30 + number * int(height * 1.6)), line, font=font, fill=(20, 20, 30))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def library_folder(root: Path) -> Path:
    render(root / "receipt.png", ["ACME Hardware", "INVOICE 2024-117", "Total 48.20"])
    render(root / "slides" / "talk.jpg", ["Quarterly Zephyrine Review", "Revenue grew"])
    render(root / "中文" / "发票.png", ["北京有限公司", "发票 金额"])
    write_picture(root / "photo.jpg", 3)  # a picture with no words
    return root


def top(cli: Cli, query: str) -> dict[str, object]:
    return cli.search_json(query, "-k", "3")[0]


def test_a_word_search_finds_the_picture_that_shows_the_words(cli: Cli, tmp_path: Path) -> None:
    folder = library_folder(tmp_path / "pictures")
    report = cli.index(folder)
    assert report["added"] == 4
    assert report["ocr"]["read"] == 4 and report["ocr"]["with_text"] == 3 and report["ocr"]["failed"] == 0

    receipt = top(cli, "invoice 2024 ACME")
    assert receipt["path"] == str(folder / "receipt.png")
    assert "ACME Hardware" in str(receipt["words"]) and "INVOICE" in str(receipt["words"])
    assert receipt["stages"]["lexical_rank"] == 1  # type: ignore[index]
    assert top(cli, "zephyrine")["path"] == str(folder / "slides" / "talk.jpg")
    # Chinese has no spaces: a word inside a line of characters is found all the same.
    chinese = top(cli, "有限公司")
    assert chinese["path"] == str(folder / "中文" / "发票.png")
    assert "北京有限公司" in str(chinese["words"])
    assert top(cli, "发票")["path"] == str(folder / "中文" / "发票.png")
    # A picture without words says none, and a search for words nobody wrote ranks no picture by its words.
    photo = next(hit for hit in cli.search_json("zephyrine", "-k", "4") if hit["path"].endswith("photo.jpg"))
    assert "words" not in photo
    assert all("lexical" not in (hit.get("stages") or {}) for hit in cli.search_json("quetzalcoatl", "-k", "4"))

    ocr = cli.stats()["ocr"]
    assert (ocr["read"], ocr["with_text"], ocr["failed"], ocr["to_read"]) == (4, 3, 0, 0)
    assert ocr["engine"].startswith("tesseract ") and ocr["engine"].endswith("eng+chi_sim")
    assert "words" in cli("stats")


def test_among_many_invoices_the_one_with_every_word_is_found_first(cli: Cli, tmp_path: Path) -> None:
    """Every invoice says INVOICE and a date in 2024; one also says the shop's name. The tiny model ranks the
    pictures by chance, often an invoice with two of the three words far above the one with all three; that one
    must come first all the same."""
    folder = tmp_path / "invoices"
    shops = ["Bramble", "Quillon", "Marrowby", "Thistledown", "Wexcombe", "Lanternfield", "Oakhollow", "Pennyfeld"]
    for number, shop in enumerate(shops):
        render(folder / f"scan-{number}.png", [f"{shop.upper()} STORES", f"INVOICE 2024-{300 + number}", "Total 9.99"])
    notices = ["Platform closed", "Wet paint", "Garden gate", "Bicycle parking", "Staff only", "Quiet please",
               "Library hours", "Fire exit", "Cloakroom", "Lost property"]  # fmt: skip
    for number, notice in enumerate(notices):  # words elsewhere: INVOICE and 2024 are not in most texts
        render(folder / "notices" / f"notice-{number}.png", [notice], size=(600, 200))
    for seed in range(40):
        write_picture(folder / "photos" / f"photo-{seed}.jpg", seed)
    cli.index(folder)
    for number, shop in enumerate(shops):
        hits = cli.search_json(f"invoice 2024 {shop}", "-k", "3")
        assert hits[0]["path"] == str(folder / f"scan-{number}.png"), (shop, [hit["path"] for hit in hits])
        assert hits[0]["stages"]["lexical_all_words"] == 1.0


def test_words_follow_the_picture_changes_and_moves_cost_nothing(cli: Cli, tmp_path: Path) -> None:
    folder = library_folder(tmp_path / "pictures")
    cli.index(folder)
    assert cli.index(folder)["ocr"]["read"] == 0  # nothing new: nothing read again

    (folder / "receipt.png").rename(folder / "slides" / "receipt-moved.png")
    report = cli.index(folder)
    assert report["moved"] == 1 and report["ocr"]["read"] == 0
    assert top(cli, "ACME")["path"] == str(folder / "slides" / "receipt-moved.png")

    time.sleep(0.01)
    render(folder / "slides" / "talk.jpg", ["Annual Bellwether Summit"])  # the same file, new words
    report = cli.index(folder)
    assert report["updated"] == 1 and report["ocr"]["read"] == 1
    assert top(cli, "bellwether")["path"] == str(folder / "slides" / "talk.jpg")
    assert all("lexical" not in (hit.get("stages") or {}) for hit in cli.search_json("zephyrine", "-k", "4"))

    shutil.copy(folder / "slides" / "talk.jpg", folder / "copy of talk.jpg")
    copied = cli.index(folder)["ocr"]
    assert (copied["read"], copied["copied"]) == (0, 1)  # a copy takes its original's words: nothing read again
    assert {hit["path"] for hit in cli.search_json("bellwether", "-k", "2")} == {
        str(folder / "slides" / "talk.jpg"),
        str(folder / "copy of talk.jpg"),
    }
    (folder / "copy of talk.jpg").unlink()
    cli.index(folder)
    assert cli.stats()["ocr"]["with_text"] == 3


def test_the_choice_is_the_librarys_and_a_stopped_pass_goes_on(cli: Cli, tmp_path: Path) -> None:
    folder = library_folder(tmp_path / "pictures")
    report = cli.index(folder, extra=("--no-ocr",))
    assert report["ocr"]["read"] == 0 and "off for this library" in report["ocr"]["skipped"]
    assert cli.index(folder)["ocr"]["skipped"]  # remembered: still off without the flag
    assert cli.stats()["ocr"]["to_read"] == 4
    assert "lexical" not in (top(cli, "zephyrine").get("stages") or {})

    # `xmodal ocr` reads them; stopped after the first picture, the next pass reads only the rest.
    settings = load_settings(library=cli.library, quiet=True)
    with Library.open_writer(cli.library, "test") as lib:
        go_on = iter([False, False])  # the pass asks before its first batch and before each picture: one picture
        with OcrPass(lib, settings, tesseract_for(settings)) as ocr:
            done = ocr.run(ProgressReporter(quiet=True), stop=lambda: next(go_on, True))
        assert done.read == 1
        assert picture_words.counts(lib.catalog)["to_read"] == 3
    assert cli.json("ocr")["read"] == 3
    assert top(cli, "zephyrine")["path"] == str(folder / "slides" / "talk.jpg")
    assert cli.json("ocr", "--again")["read"] == 4


def test_a_picture_that_cannot_be_read_costs_only_itself(tmp_path: Path) -> None:
    """A worker that crashes (SIGSEGV in Tesseract), a reading over its time limit and a file gone since it was
    planned each fail one picture, with the reason; the others are read."""
    pages = [render(tmp_path / f"page{n}.png", [f"Page Number {n + 10}"]) for n in range(3)]
    assert TESSERACT.tessdata is not None
    plan = WorkerPlan(ReadPlan(TESSERACT.tessdata, "eng", timeout_seconds=30), 1 << 28, 10**8)
    pictures = [Picture(n, str(path), None) for n, path in enumerate(pages)]
    with OcrPool(plan, workers=1) as pool:
        first = list(pool.read(pictures[:1]))
        assert first[0].status == "text" and "Page Number 10" in first[0].text
        child = pool._local.__dict__.get("child") or next(iter(pool._children))
        os.kill(child.process.pid, signal.SIGSEGV)  # the idle worker dies; the next picture gets a new one
        rest = {
            result.picture.id: result
            for result in pool.read([*pictures[1:], Picture(9, str(tmp_path / "gone.png"), None)])
        }
        assert rest[1].status == "text" and rest[2].status == "text"
        assert rest[9].status == "failed" and "gone" in str(rest[9].reason)
        assert pool.started == 2

    slow = WorkerPlan(ReadPlan(TESSERACT.tessdata, "eng+chi_sim", timeout_seconds=0.001), 1 << 28, 10**8)
    big = render(tmp_path / "dense.png", ["Many many words " * 6] * 12, size=(2000, 1500), height=28)
    with OcrPool(slow, workers=1) as pool:
        (result,) = pool.read([Picture(1, str(big), None)])
    assert result.status == "failed" and "XMODAL_OCR__TIMEOUT_SECONDS" in str(result.reason)


def test_a_large_photo_without_words_is_ruled_out_by_a_quick_look(tmp_path: Path) -> None:
    """Above probe_pixels a picture is first read small; words big enough to see there send it to a full read."""
    assert TESSERACT.tessdata is not None
    plan = WorkerPlan(ReadPlan(TESSERACT.tessdata, "eng", probe_pixels=500_000), 1 << 28, 10**8)
    photo = tmp_path / "photo.png"
    write_picture(photo, 5)
    Image.open(photo).resize((2400, 1800), Image.Resampling.BICUBIC).save(photo)
    sign = render(tmp_path / "sign.jpg", ["GRAND HOTEL", "Reception"], size=(2400, 1800), height=120)  # draft path
    with OcrPool(plan, workers=1) as pool:
        results = {
            result.picture.id: result
            for result in pool.read([Picture(1, str(photo), None), Picture(2, str(sign), None)])
        }
    assert results[1].status == "none" and results[1].probed_only
    assert results[2].status == "text" and not results[2].probed_only and "GRAND HOTEL" in results[2].text


def test_a_screenshots_small_words_are_read_again_at_twice_the_size(tmp_path: Path) -> None:
    """Interface text 9-13 px high is under the size Tesseract reads well: the second look finds what the first
    missed, and keeps everything the first found."""
    from data.rendered_text.reading import load_truth, was_read
    from data.text_pictures import generate

    assert TESSERACT.tessdata is not None
    (shot,) = generate(tmp_path / "set", count=1, seed=3, kinds=("screenshot",))
    truth = load_truth(tmp_path / "set")
    image = Image.open(tmp_path / "set" / shot.file)
    found = {}
    for second_look in (False, True):
        reader = PictureReader(ReadPlan(TESSERACT.tessdata, TESSERACT.language_spec, second_look=second_look))
        text = reader.read(image).text
        reader.close()
        found[second_look] = {(word.word, word.lang) for word in truth if was_read(word.word, word.lang, text)}
    assert found[False] <= found[True]
    assert len(found[True]) >= len(found[False]) + 10, (len(found[False]), len(found[True]), len(truth))


def test_the_second_look_is_chosen_by_the_heights_of_the_words_found() -> None:
    page = Image.new("L", (1000, 800), 255)
    small = [Word("Settings", 90, 1, 11), Word("File", 90, 1, 12), Word("Edit", 90, 1, 40)]
    large = [Word("WELCOME", 95, 1, 70), Word("home", 90, 2, 30), Word("to", 90, 2, 12)]
    assert second_size(page, small, max_pixels=16_000_000).size == (2000, 1600)  # type: ignore[union-attr]
    assert second_size(page, small, max_pixels=3_000_000) is None  # twice the size would pass the limit
    assert second_size(page, large, max_pixels=16_000_000).size == (500, 400)  # type: ignore[union-attr]
    assert second_size(Image.new("L", (400, 200)), large, max_pixels=16_000_000) is None  # too small to halve


def askew_receipt(path: Path, angle: float, width: int) -> Path:
    """A receipt on a mottled ground (a photo's worth of texture: the lean is not read off clean edges), turned by
    `angle` degrees counter-clockwise, as a camera held askew sees it, `width` pixels wide."""
    paper = Image.open(render(path.with_suffix(".page.png"), RECEIPT_LINES, size=(900, 620), height=44))
    turned = paper.convert("L").rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    mask = Image.new("L", paper.size, 255).rotate(angle, expand=True)
    ground = noise(turned.size, 40, seed=round(angle) % 360).point(lambda v: 90 + v // 3)
    ground.paste(turned, mask=mask)
    height = round(ground.height * width / ground.width)
    ground.resize((width, height), Image.Resampling.BICUBIC).convert("RGB").save(path, quality=90)
    return path


def noise(size: tuple[int, int], sigma: float, seed: int) -> Image.Image:
    """Grey noise about mid-grey, the same for the same seed (Pillow's effect_noise draws from an unseeded C rand)."""
    pixels = np.random.default_rng(seed).normal(128, sigma, (size[1], size[0]))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


RECEIPT_LINES = ["BRAMBLE MARKET", "INVOICE 2024-311", "Lanterns 12.50", "Chestnuts 3.20", "Total 15.70"]
RECEIPT_WORDS = {"BRAMBLE", "MARKET", "INVOICE", "Lanterns", "Chestnuts", "Total"}


def test_the_lean_of_lines_of_text_is_measured_and_level_pictures_are_left_alone(tmp_path: Path) -> None:
    from indexer.ocr.lines import levelled, line_structure

    def lean(gray: Image.Image) -> float | None:
        return line_structure(gray).lean

    for angle in (-15, -7, 4, 12, 18):
        measured = lean(Image.open(askew_receipt(tmp_path / f"r{angle}.jpg", angle, 1000)).convert("L"))
        assert measured is not None and abs(measured - angle) <= 1.0, (angle, measured)
    level = Image.open(askew_receipt(tmp_path / "level.jpg", 0, 1000)).convert("L")
    assert lean(level) is None
    assert lean(levelled(level, 0.0)) is None
    assert lean(Image.new("L", (800, 600), 200)) is None  # nothing stands out
    assert lean(noise((800, 600), 60, seed=1)) is None  # texture, no lines
    photo = tmp_path / "photo.png"
    write_picture(photo, 5)
    assert lean(Image.open(photo).convert("L")) is None
    assert line_structure(level).has_lines  # worth the locally thresholded read
    assert not line_structure(noise((800, 600), 60, seed=2)).has_lines
    assert not line_structure(Image.open(photo).convert("L")).has_lines


@pytest.mark.parametrize(("width", "angle"), [(1200, 13), (3600, 19)], ids=["small", "camera-size"])
def test_a_receipt_photographed_askew_is_read_turned_level(tmp_path: Path, width: int, angle: int) -> None:
    """Askew, Tesseract reads next to nothing of a receipt; turned level by its measured lean, the receipt reads
    as if photographed straight. At 10 megapixels and 19 degrees the quick look finds no word either: only the
    look turned level sends the photo to a full read."""
    from data.rendered_text.reading import was_read

    assert TESSERACT.tessdata is not None
    image = Image.open(askew_receipt(tmp_path / "askew.jpg", angle, width))
    found, probed_only = {}, {}
    for straighten in (False, True):
        plan = ReadPlan(TESSERACT.tessdata, TESSERACT.language_spec, straighten=straighten, timeout_seconds=600)
        reader = PictureReader(plan)
        result = reader.read(image)
        reader.close()
        found[straighten] = {word for word in RECEIPT_WORDS if was_read(word, "en", result.text)}
        probed_only[straighten] = result.probed_only
    assert len(found[False]) <= 2, found[False]
    assert found[True] >= RECEIPT_WORDS - {"Chestnuts"}, found[True]
    assert probed_only == {False: width > 2000, True: False}


def test_words_on_a_grey_plate_on_a_lighter_ground_are_read_by_a_local_threshold(tmp_path: Path) -> None:
    """A price list on a mid-grey board against a light wall: Tesseract's one global threshold falls between wall
    and board, the board turns black and nothing is read. The locally thresholded read reads it."""
    from data.rendered_text.reading import was_read

    assert TESSERACT.tessdata is not None
    wall = Image.linear_gradient("L").resize((1200, 900)).point(lambda v: 205 + v // 8).convert("RGB")
    board = Image.new("RGB", (560, 400), (172, 166, 150))
    draw = ImageDraw.Draw(board)
    font = ImageFont.truetype(LATIN_FONT, 30)  # type: ignore[arg-type]
    for number, line in enumerate(["QUINCE BAKERY", "Sourdough 4.10", "Cinnamon 2.75", "Total 6.85"]):
        draw.text((30, 30 + number * 70), line, font=font, fill=(30, 60, 30))
    wall.paste(board, (80, 80))
    wall.save(tmp_path / "board.jpg", quality=92)
    image = Image.open(tmp_path / "board.jpg")
    wanted = {"QUINCE", "BAKERY", "Sourdough", "Cinnamon", "Total"}
    found = {}
    for local_threshold in (False, True):
        languages = TESSERACT.language_spec
        plan = ReadPlan(TESSERACT.tessdata, languages, local_threshold=local_threshold, timeout_seconds=600)
        reader = PictureReader(plan)
        text = reader.read(image).text
        reader.close()
        found[local_threshold] = {word for word in wanted if was_read(word, "en", text)}
    assert found == {False: set(), True: wanted}


def test_a_signs_block_of_words_is_read_laid_out_as_a_page() -> None:
    """Read as scattered words, a yellow plate of 46 px words on a dark photo breaks into HARB, PARKIN and OKING;
    Tesseract's page layout finds the plate's block and reads it whole."""
    from data.rendered_text.reading import was_read

    ground = noise((1024, 768), 40, 7).filter(ImageFilter.GaussianBlur(6)).point(lambda v: v // 3)
    image = Image.merge("RGB", (ground, ground, ground.point(lambda v: min(255, v + 30))))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((14, 90, 560, 245), 12, fill=(240, 200, 30))
    font = ImageFont.truetype(LATIN_FONT, 46)  # type: ignore[arg-type]
    draw.text((287, 168), "HARBOUR PARKING\nNO SMOKING", font=font, fill=(20, 20, 20), anchor="mm", align="center")
    assert TESSERACT.tessdata is not None
    found = {}
    for page_layout in (False, True):
        plan = ReadPlan(TESSERACT.tessdata, TESSERACT.language_spec, page_layout=page_layout, timeout_seconds=600)
        reader = PictureReader(plan)
        text = reader.read(image).text
        reader.close()
        found[page_layout] = {word for word in ("HARBOUR", "PARKING", "SMOKING") if was_read(word, "en", text)}
    assert found[True] == {"HARBOUR", "PARKING", "SMOKING"} and found[False] < found[True], found


def test_a_shop_signs_headline_is_read_at_a_quarter_of_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Characters 180-220 px high are shapes to Tesseract, at full size and at half; at a quarter they read."""
    from indexer.ocr import reader as reader_module

    assert TESSERACT.tessdata is not None
    poster = Image.new("RGB", (1400, 1000), (245, 240, 230))
    draw = ImageDraw.Draw(poster)
    draw.text((60, 40), "琳思医院", font=ImageFont.truetype(CJK_FONT, 220), fill=(120, 20, 20))  # type: ignore[arg-type]
    for number, line in enumerate(["Opening hours 9:00 - 21:00", "Noodles, dumplings and tea", "Closed on Mondays"]):
        draw.text((60, 500 + number * 60), line, font=ImageFont.truetype(LATIN_FONT, 26), fill=(30, 30, 30))  # type: ignore[arg-type]
    poster.save(tmp_path / "poster.png")
    image = Image.open(tmp_path / "poster.png")

    def text(second_look: bool) -> str:
        plan = ReadPlan(TESSERACT.tessdata, TESSERACT.language_spec, second_look=second_look, timeout_seconds=600)  # type: ignore[arg-type]
        reader = PictureReader(plan)
        try:
            return reader.read(image).text
        finally:
            reader.close()

    assert "琳思医院" in text(True).replace(" ", "")
    assert "琳思医院" not in text(False).replace(" ", "")
    monkeypatch.setattr(reader_module, "HEADLINE_SIDE", 10_000)  # the half-size second look alone
    assert "琳思医院" not in text(True).replace(" ", "")


def test_chinese_characters_in_a_run_are_kept_a_little_less_sure_and_lone_ones_are_not() -> None:
    from indexer.ocr.words import kept

    read = [
        Word("周", 62, 1), Word("轩", 55, 1), Word("琪", 75, 1),  # a name, its rarer characters less sure
        Word("上", 60, 2),  # alone on its line: an edge in a photo
        Word("Kalezol", 60, 3),  # English below the bar stays out
        Word("人", 58, 4), Word("Road", 90, 4),  # beside English, not in a run
        Word("医院", 52, 5),  # two characters in one piece are a run
        Word("小", 40, 6), Word("区", 45, 6),  # far below the bar, run or not
    ]  # fmt: skip
    assert [word.text for word in kept(read, 70)] == ["周", "轩", "琪", "Road", "医院"]


def test_a_chinese_character_is_trusted_as_a_character_in_a_run_and_as_a_word_alone() -> None:
    """Tesseract's word confidence for a Chinese character read right is often near 0 (its doubt about where the
    word ends); the character's own confidence is what says it was read."""
    from indexer.ocr.words import kept

    read = [
        Word("宋", 93, 1, glyphs=93), Word("斌", 0, 1, glyphs=88), Word("琪", 4, 1, glyphs=85),  # a name
        Word("上", 40, 2, glyphs=96),  # alone: what a photo's edge reads as, sure as a character
        Word("洗", 10, 3, glyphs=60), Word("衣", 13, 3, glyphs=45),  # a run Tesseract is unsure of either way
        Word("多", 30, 4, glyphs=90), Word("和", 20, 4, glyphs=85),  # sure as characters, none of them as a word
    ]  # fmt: skip
    assert [word.text for word in kept(read, 70)] == ["宋", "斌", "琪"]


def test_chinese_names_in_a_screenshots_list_are_read_whole() -> None:
    """A sidebar of names 14 px high beside checkboxes, as in a mail or file manager: judged by Tesseract's word
    confidence alone, 宋斌琪 read as 宋 and 韩伟婷 as 韩伟 (3 names of 10 whole)."""
    names = ["周轩琪", "宋斌琪", "唐晨佳", "蔡浩勇", "韩伟婷", "董芳志", "梁鑫秀", "罗博昊", "杜芳娜", "邓雪鑫"]
    image = Image.new("RGB", (360, 40 + len(names) * 28), (236, 236, 240))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(CJK_FONT, 14)  # type: ignore[arg-type]
    for number, name in enumerate(names):
        y = 20 + number * 28
        draw.rectangle((16, y + 1, 28, y + 13), outline=(120, 120, 120))
        draw.text((36, y), name, font=font, fill=(80, 80, 80))
    assert TESSERACT.tessdata is not None
    # one read: no other look makes up for what the confidence rule drops
    plan = ReadPlan(TESSERACT.tessdata, TESSERACT.language_spec, timeout_seconds=600, second_look=False,
                    straighten=False, local_threshold=False, page_layout=False, quarter_turns=False)  # fmt: skip
    reader = PictureReader(plan)
    text = reader.read(image).text.replace(" ", "")
    reader.close()
    read = [name for name in names if name in text]
    assert {"宋斌琪", "韩伟婷"} <= set(read) and len(read) >= 5, text


def test_words_standing_on_end_are_read_a_quarter_turn_each_way() -> None:
    """A chart's axis label reads upwards, a book's spine downwards; Tesseract reads neither as it stands."""
    page = Image.new("L", (900, 700), 250)
    font = ImageFont.truetype(LATIN_FONT, 36)  # type: ignore[arg-type]
    ImageDraw.Draw(page).text((200, 60), "Quarterly revenue chart", font=font, fill=20)
    for text, turn, left in (("Thousands", 90, 60), ("Marmalade", -90, 760)):
        label = Image.new("L", (300, 60), 250)
        ImageDraw.Draw(label).text((10, 5), text, font=font, fill=20)
        page.paste(label.rotate(turn, expand=True), (left, 250))
    assert TESSERACT.tessdata is not None
    found = {}
    for turns in (False, True):
        # page_layout off: Tesseract's page layout reads some words on end (upwards ones) by itself
        languages = TESSERACT.language_spec
        plan = ReadPlan(TESSERACT.tessdata, languages, quarter_turns=turns, page_layout=False, timeout_seconds=600)
        reader = PictureReader(plan)
        text = reader.read(page).text
        reader.close()
        found[turns] = {word for word in ("Quarterly", "Thousands", "Marmalade") if word in text}
    assert found == {False: {"Quarterly"}, True: {"Quarterly", "Thousands", "Marmalade"}}


def test_a_second_read_adds_whole_chinese_lines_so_names_stay_whole() -> None:
    """Tesseract gives each Chinese character as a word: a second read's 周轩琪 must not lose the 周 the first
    read had elsewhere, or the name is not found."""
    first = [Word("周", 90, 1, 14), Word("兰", 90, 1, 14), Word("涛", 90, 1, 14), Word("Files", 90, 2, 14)]
    second = [Word("周", 90, 1, 28), Word("轩", 90, 1, 28), Word("琪", 90, 1, 28), Word("Files", 90, 2, 28),
              Word("Total", 90, 3, 28), Word("48.20", 90, 3, 28), Word("Files", 90, 4, 28)]  # fmt: skip
    first.append(Word("Total", 90, 3, 14))
    lines = text_of(merged(first, second)).splitlines()
    # English lines add only their new words: a line read twice is not stored (and counted by BM25) twice
    assert lines == ["周兰涛", "Files", "Total", "周轩琪", "48.20"]


def test_where_tesseract_lacks_the_languages_indexing_says_so_and_goes_on(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XMODAL_OCR__LANGUAGES", '["tlh"]')  # Klingon: no such data anywhere
    folder = library_folder(tmp_path / "pictures")
    report = cli.index(folder)
    assert report["added"] == 4
    assert "no Tesseract language data for tlh" in report["ocr"]["skipped"]
    assert "apt-get install tesseract-ocr" in report["ocr"]["skipped"]
    assert "not available here" in cli("stats")


def test_the_watcher_reads_the_words_of_new_pictures(tmp_path: Path, tiny_model: TinyModel) -> None:
    from indexer.watch import Watcher, WatchOptions

    root = tmp_path / "watched"
    root.mkdir()
    settings = load_settings(
        library=tmp_path / "library", model=str(tiny_model.config), pretrained=str(tiny_model.weights), quiet=True
    )
    with Library.open_writer(settings.library, "test watch") as lib:
        watcher = Watcher(lib, lib.writer_encoder(settings), settings, WatchOptions([str(root)], debounce=0.3))
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        try:
            assert watcher.ready.wait(30)
            render(root / "notice.png", ["Closed for Inventory"])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not picture_words.counts(lib.catalog)["with_text"]:
                time.sleep(0.2)
            ids = [row[0] for row in lib.catalog._rows("SELECT id FROM media")]
            assert picture_words.words_of(lib.catalog, ids) == {ids[0]: "Closed for Inventory"}
        finally:
            watcher.stop()
            thread.join(60)
    assert not thread.is_alive()


def test_read_words_reports_nothing_to_do_on_a_library_read_whole(cli: Cli, tmp_path: Path) -> None:
    cli.index(library_folder(tmp_path / "pictures"))
    settings = load_settings(library=cli.library, quiet=True)
    with Library.open_writer(cli.library, "test") as lib:
        assert read_words(lib, settings).read == 0


def test_the_api_shows_the_words_in_hits_media_and_stats(cli: Cli, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.server import create_app

    folder = library_folder(tmp_path / "pictures")
    cli.index(folder)
    with TestClient(create_app(load_settings(library=cli.library))) as client:
        found = client.get("/api/search", params={"q": "invoice ACME", "k": 2}).json()["hits"][0]
        assert found["name"] == "receipt.png" and "INVOICE 2024-117" in found["words"]
        assert client.get(f"/api/media/{found['id']}").json()["words"] == found["words"]
        ocr = client.get("/api/stats").json()["ocr"]
        assert (ocr["with_text"], ocr["to_read"], ocr["problem"]) == (3, 0, None)
