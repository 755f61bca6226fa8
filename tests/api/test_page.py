"""The search page in a real browser (Debian's headless Chromium driven by Playwright) against `xmodal serve`."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import ServedLibrary, serving
from tests.api.videos import VideoLibrary
from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None and not os.environ.get("CI"):  # CI installs it (.ci/run): there, a missing browser fails
    pytest.skip("no chromium on this machine: apt-get install chromium (CI does)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

# Playwright's 5 s default is a quiet machine's: with both cores busy a first query or thumbnail can take longer.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def server(served: ServedLibrary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(served.library, tmp_path_factory.mktemp("serve")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "chromium is not installed: apt-get install chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def new_tab(browser: Browser, server: str) -> Page:
    """A tab of its own that notes every request to anywhere but `server`, and every console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.foreign_requests = []  # type: ignore[attr-defined]
    tab.console_errors = []  # type: ignore[attr-defined]
    tab.on(
        "request",
        lambda r: None if r.url.startswith((server, "blob:", "data:")) else tab.foreign_requests.append(r.url),
    )  # type: ignore[attr-defined]
    tab.on("console", lambda m: tab.console_errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    return tab


@pytest.fixture(scope="module")
def page(browser: Browser, server: str) -> Iterator[Page]:
    tab = new_tab(browser, server)
    yield tab
    tab.context.close()


def card_names(page: Page) -> list[str]:
    return page.locator("#results .card .name").all_inner_texts()


def test_search_scroll_open_more_like_this_and_upload(page: Page, server: str, served: ServedLibrary) -> None:
    page.goto(server)
    expect(page.locator("#footer")).to_contain_text("62 images")

    # Type a query: thumbnails with scores appear, the best ones show what the words say.
    page.fill("#q", "a red circle")
    page.press("#q", "Enter")
    expect(page.locator("#results .card").first).to_be_visible()
    expect(page.locator("#status")).to_contain_text("results")
    assert "?q=a+red+circle" in page.url or "?q=a%20red%20circle" in page.url
    top = [served.scenes.get(name) for name in card_names(page)[:3]]
    assert sum(1 for s in top if s and s.colour == "red" and s.shape == "circle") >= 2, card_names(page)[:3]
    page.wait_for_function("() => document.querySelector('#results img').naturalWidth > 0")
    first_score = float(page.locator("#results .card .score").first.inner_text())
    assert 0 < first_score <= 1

    # Nothing is hidden by default: the first page is full. Asked to hide weak matches, the page says there
    # are more and offers them.
    expect(page.locator("#results .card")).to_have_count(30)
    expect(page.locator("#show-all")).to_be_hidden()
    page.click("#filters summary")
    page.check("#f-cutoff")
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#show-all")).to_be_visible()
    assert "cutoff=true" in page.url
    relevant = page.locator("#results .card").count()
    assert 0 < relevant < 30
    page.click("#show-all")
    assert "cutoff=false" in page.url
    expect(page.locator("#f-cutoff")).not_to_be_checked()
    expect(page.locator("#results .card")).to_have_count(30)

    # Infinite scroll: the rest of the library arrives page by page, each picture once.
    for loaded in (60, 62):
        page.mouse.wheel(0, 20_000)
        expect(page.locator("#results .card")).to_have_count(loaded)
    assert len(set(card_names(page))) == 62

    # Click a photo: it opens with its metadata and the texts that best describe it.
    page.mouse.wheel(0, -40_000)
    first_name = card_names(page)[0]
    page.locator("#results .card button.open").first.click()
    dialog = page.locator("#viewer")
    expect(dialog).to_be_visible()
    expect(page.locator("#viewer-name")).to_have_text(first_name)
    expect(page.locator("#viewer-meta")).to_contain_text("64 × 64")
    expect(page.locator("#viewer-texts li").first).to_be_visible()
    scene = served.scenes[first_name]
    assert scene.colour in page.locator("#viewer-texts li").first.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-viewer.png"))

    # More like this, from the open photo.
    page.click("#viewer-similar")
    expect(dialog).to_be_hidden()
    expect(page.locator("#results .card").first).to_be_visible()
    assert "?similar=" in page.url
    assert first_name not in card_names(page)[:30]  # the photo itself is left out

    # Back goes back to the text query.
    page.go_back()
    expect(page.locator("#q")).to_have_value("a red circle")

    # Upload a picture with the file picker: the same picture comes first.
    query = served.jpeg
    page.set_input_files("#file", str(query))
    expect(page.locator("#query-image")).to_be_visible()
    expect(page.locator("#results .card .name").first).to_have_text(query.name)
    page.screenshot(path=str(ARTIFACTS / "page-results.png"), full_page=False)

    # Drop a picture on the page.
    dropped = served.unicode_file
    data = base64.b64encode(dropped.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([data, name]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "image/png" }));
            return transfer;
        }""",
        [data, dropped.name],
    )
    page.dispatch_event("main", "drop", {"dataTransfer": transfer})
    expect(page.locator("#query-image span")).to_have_text(dropped.name)
    top_two = page.locator("#results .card .name")
    expect(top_two.nth(1)).to_be_visible()
    assert dropped.name in card_names(page)[:2]  # it and its byte-identical twin

    # Nothing was fetched from anywhere but this server, and the page logged no errors.
    assert page.foreign_requests == []  # type: ignore[attr-defined]
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_a_bad_query_shows_the_reason(page: Page, server: str) -> None:
    page.goto(f"{server}/?similar=999999")
    expect(page.locator("#status")).to_contain_text("no indexed image has id 999999")
    assert Path(ARTIFACTS).is_dir()


@pytest.fixture(scope="module")
def video_server(video_served: VideoLibrary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(video_served.library, tmp_path_factory.mktemp("serve-videos")) as url:
        yield url


@pytest.fixture
def video_page(browser: Browser, video_server: str) -> Iterator[Page]:
    tab = new_tab(browser, video_server)
    yield tab
    tab.context.close()


def note_player_time_on(page: Page, event: str) -> None:
    """window.__at: the player's currentTime when `event` next fires (set up before what causes it)."""
    page.evaluate(
        """(event) => {
            window.__at = null;
            const player = document.querySelector("#viewer-video");
            player.addEventListener(event, () => { window.__at = player.currentTime; }, { once: true });
        }""",
        event,
    )


def test_a_video_hit_plays_from_its_moment_and_seeks_to_the_others(
    video_page: Page, video_server: str, video_served: VideoLibrary
) -> None:
    page = video_page
    page.goto(f"{video_server}/?q=a+red+circle")
    expect(page.locator("#results .card").first).to_be_visible()
    hits = page.evaluate("() => fetch('/api/search?q=a+red+circle&k=30&cutoff=false').then((r) => r.json())")["hits"]
    hit = hits[0]
    assert hit["kind"] == "video" and hit["video_id"] == video_served.party.id
    card = page.locator("#results .card").first
    expect(card).to_have_class("card video")
    start, end = hit["start"], hit["end"]
    expect(card.locator(".badge")).to_have_text(f"▶ 00:{int(start):02d}–00:{int(end):02d}")
    expect(card.locator(".more-moments")).to_have_text("+2 more moments")
    expect(card.locator(".name")).to_have_text("party 2024.mp4")
    page.wait_for_function("() => document.querySelector('#results .card.video img').naturalWidth > 0")

    # Open it: the video plays from the moment's start, not from 0:00.
    note_player_time_on(page, "playing")
    card.locator("button.open").click()
    expect(page.locator("#viewer-video")).to_be_visible()
    expect(page.locator("#viewer-image")).to_be_hidden()
    page.wait_for_function("() => window.__at !== null")
    assert abs(page.evaluate("window.__at") - start) < 1.0
    assert page.evaluate("document.querySelector('#viewer-video').paused") is False
    expect(page.locator("#viewer-name")).to_have_text("party 2024.mp4")
    expect(page.locator("#viewer-meta")).to_contain_text(f"00:{int(start):02d}–00:{int(end):02d}")
    expect(page.locator("#viewer-meta")).to_contain_text("00:16")
    moments = page.locator("#viewer-moments button")
    expect(moments).to_have_text(["00:03–00:06", "00:07–00:10", "00:11–00:14"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-video.png"))

    # Another moment of the video: the player seeks there.
    note_player_time_on(page, "seeked")
    moments.nth(1).click()
    page.wait_for_function("() => window.__at !== null")
    assert abs(page.evaluate("window.__at") - 7.0) < 1.0
    expect(moments.nth(1)).to_have_attribute("aria-current", "true")

    # More like the moment now shown (the blue square): the viewer closes, its video stops.
    blue = video_served.party.moment_ids[1]
    page.click("#viewer-similar")
    expect(page.locator("#viewer")).to_be_hidden()
    assert f"?similar={blue}" in page.url
    page.wait_for_function("() => !document.querySelector('#viewer-video').hasAttribute('src')")
    assert page.evaluate("document.querySelector('#viewer-video').paused") is True
    expect(page.locator("#results .card").first).to_be_visible()
    assert str(blue) not in page.locator("#results .card").evaluate_all("cards => cards.map((c) => c.dataset.id)")

    # More like a red circle moment, from its card: the other red circle moment of the same video comes first.
    page.goto(f"{video_server}/?similar={hit['id']}")
    first = page.locator("#results .card").first
    expect(first).to_have_class("card video")
    other_red = next(m for m in video_served.party.moment_ids if m not in (hit["id"], blue))
    expect(first).to_have_attribute("data-id", str(other_red))

    # Pictures still open as pictures.
    page.goto(f"{video_server}/?q=a+yellow+circle")
    picture = page.locator("#results .card:not(.video)").first
    expect(picture).to_be_visible()
    picture.locator("button.open").click()
    expect(page.locator("#viewer-image")).to_be_visible()
    expect(page.locator("#viewer-video")).to_be_hidden()
    expect(page.locator("#viewer-moments-box")).to_be_hidden()
    assert page.foreign_requests == []  # type: ignore[attr-defined]
    assert page.console_errors == []  # type: ignore[attr-defined]
