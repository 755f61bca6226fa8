"""The search page in a real browser (Debian's headless Chromium driven by Playwright) against `xmodal serve`."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import ServedLibrary, serving
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

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

# Playwright's 5 s default is a quiet machine's: with both cores busy a first query or thumbnail can take longer.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def server(served: ServedLibrary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(served.library, tmp_path_factory.mktemp("serve")) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    assert CHROMIUM, "chromium is not installed: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.foreign_requests = []  # type: ignore[attr-defined]
        tab.console_errors = []  # type: ignore[attr-defined]
        tab.on(
            "request",
            lambda r: None if r.url.startswith((server, "blob:", "data:")) else tab.foreign_requests.append(r.url),
        )  # type: ignore[attr-defined]
        tab.on("console", lambda m: tab.console_errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
        yield tab
        browser.close()


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
