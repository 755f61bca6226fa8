"""The JSON API against a real library: every endpoint's answer and its errors, as a client sees them."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

import api.state
from api.server import create_app
from indexer.library import Library
from searcher.media import MediaService
from tests.api.conftest import ServedLibrary, index
from tests.conftest import Cli, write_picture


def upload(path: Path) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (path.name, path.read_bytes(), "application/octet-stream")}


def test_text_search_finds_what_the_words_describe(client: TestClient, served: ServedLibrary) -> None:
    response = client.get("/api/search", params={"q": "a red circle", "k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "text-to-image" and body["query"] == "a red circle" and body["next_offset"] == 5
    top = [served.scenes.get(hit["name"]) for hit in body["hits"]]
    red_circles = sum(1 for scene in top if scene and scene.colour == "red" and scene.shape == "circle")
    available = sum(1 for scene in served.scenes.values() if scene.colour == "red" and scene.shape == "circle")
    assert red_circles >= min(3, available), [hit["name"] for hit in body["hits"]]
    first = body["hits"][0]
    assert first["rank"] == 1 and first["kind"] == "image"
    assert first["thumbnail_url"] == f"/api/media/{first['id']}/thumbnail"
    # The order is the fusion of the vector and lexical rankings; each hit says what every stage gave it.
    fused = [hit["stages"].get("fused", 0.0) for hit in body["hits"]]
    assert fused == sorted(fused, reverse=True) and all("vector" in hit["stages"] for hit in body["hits"])


def test_pages_return_every_hit_exactly_once(client: TestClient) -> None:
    everything = client.get("/api/search", params={"q": "blue squares", "k": 100, "cutoff": False}).json()
    assert everything["next_offset"] is None  # the last page says so
    total = len(everything["hits"])
    assert total == 62  # 60 scenes + the EXIF JPEG + the unicode-named copy
    paged: list[int] = []
    offset: int | None = 0
    while offset is not None:
        params = {"q": "blue squares", "k": 7, "offset": offset, "cutoff": False}
        page = client.get("/api/search", params=params).json()
        paged += [hit["id"] for hit in page["hits"]]
        assert [hit["rank"] for hit in page["hits"]] == list(range(offset + 1, offset + 1 + len(page["hits"])))
        offset = page["next_offset"]
    assert paged == [hit["id"] for hit in everything["hits"]]


def test_image_upload_finds_the_same_picture_first(client: TestClient, served: ServedLibrary) -> None:
    query = next(path for path in served.photos.glob("scene-*.png"))
    body = client.post("/api/search/image", files=upload(query), params={"k": 3}).json()
    assert body["kind"] == "image-to-image" and body["query"] == query.name
    assert body["hits"][0]["name"] == query.name and body["hits"][0]["score"] > 0.999


def test_more_like_this_leaves_out_the_picture_itself(client: TestClient, served: ServedLibrary) -> None:
    first = client.get("/api/search", params={"q": "a green triangle", "k": 1}).json()["hits"][0]
    body = client.get(f"/api/media/{first['id']}/similar", params={"k": 5}).json()
    ids = [hit["id"] for hit in body["hits"]]
    assert first["id"] not in ids and len(ids) == 5
    # The unicode-named file is a byte copy of a scene: each is the other's nearest neighbour.
    copy = client.get("/api/search", params={"q": "x", "k": 100, "cutoff": False}).json()["hits"]
    unicode_hit = next(hit for hit in copy if hit["name"] == served.unicode_file.name)
    twin = client.get(f"/api/media/{unicode_hit['id']}/similar", params={"k": 1}).json()["hits"][0]
    assert twin["score"] > 0.999 and twin["id"] != unicode_hit["id"]


def test_image_to_texts_returns_its_own_captions(client: TestClient, served: ServedLibrary) -> None:
    query = next(path for path in served.photos.glob("scene-*.png"))
    uploaded = client.post("/api/search/image/texts", files=upload(query), params={"k": 5}).json()
    assert uploaded["kind"] == "image-to-text"
    assert all(hit["kind"] == "text" and hit["text"] for hit in uploaded["hits"])
    scene = served.scenes[query.name]
    top = uploaded["hits"][0]["text"]
    assert scene.colour in top and scene.shape in top, (scene, top)  # a caption that says what it shows
    media_id = next(hit["media_id"] for hit in uploaded["hits"] if hit["media_id"])
    by_id = client.get(f"/api/media/{media_id}/texts", params={"k": 5}).json()
    assert [hit["id"] for hit in by_id["hits"]]  # the same question by id answers too


def test_media_metadata_carries_exif_and_unicode_names(client: TestClient, served: ServedLibrary) -> None:
    hits = client.get("/api/search", params={"q": "anything", "k": 100, "cutoff": False}).json()["hits"]
    by_name = {hit["name"]: hit for hit in hits}
    jpeg = client.get(f"/api/media/{by_name['holiday.jpg']['id']}").json()
    assert jpeg["camera_make"] == "Fujifilm" and jpeg["camera_model"] == "X100V"
    assert jpeg["taken_at"] == "2024-07-14T18:30:00" and (jpeg["width"], jpeg["height"]) == (320, 240)
    assert jpeg["format"] == "JPEG" and jpeg["size"] == served.jpeg.stat().st_size
    unicode_item = client.get(f"/api/media/{by_name[served.unicode_file.name]['id']}").json()
    assert unicode_item["path"] == str(served.unicode_file)
    original = client.get(unicode_item["file_url"])
    assert original.status_code == 200 and original.content == served.unicode_file.read_bytes()
    assert original.headers["content-type"] == "image/png"


def test_thumbnails_are_small_cached_and_revalidated(client: TestClient, served: ServedLibrary) -> None:
    hits = client.get("/api/search", params={"q": "anything", "k": 100, "cutoff": False}).json()["hits"]
    jpeg_id = next(hit["id"] for hit in hits if hit["name"] == "holiday.jpg")
    response = client.get(f"/api/media/{jpeg_id}/thumbnail", params={"size": 100})
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    thumb = Image.open(io.BytesIO(response.content))
    assert thumb.format == "JPEG" and max(thumb.size) == 128 and thumb.size == (128, 96)  # rounded up to 128
    cached = list((served.library / "thumbnails" / "128").glob(f"{jpeg_id}-*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == response.content
    again = client.get(
        f"/api/media/{jpeg_id}/thumbnail", params={"size": 100}, headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


def test_a_file_gone_from_disk_is_404_not_500(served: ServedLibrary, tmp_path: Path) -> None:
    library = tmp_path / "library"
    photos = tmp_path / "photos"
    shutil.copytree(served.photos, photos, ignore=shutil.ignore_patterns("scene-3-0001*", "scene-3-0002*"))
    index(library, photos)
    with TestClient(create_app(served.settings(library=library))) as client:
        hits = client.get("/api/search", params={"q": "anything", "k": 100, "cutoff": False}).json()["hits"]
        victim = hits[0]
        Path(victim["path"]).unlink()
        for url in (victim["file_url"], victim["thumbnail_url"]):
            response = client.get(url)
            assert response.status_code == 404 and "no longer on disk" in response.json()["detail"]


def test_a_file_that_failed_to_index_is_not_served(client: TestClient, served: ServedLibrary) -> None:
    failure = client.get("/api/stats").json()["failures"][0]
    assert failure["path"] == str(served.broken) and failure["reason"]
    with Library.open_reader(served.library) as library:
        broken_id = library.catalog.media_id_for_path(str(served.broken))
    for url in (f"/api/media/{broken_id}", f"/api/media/{broken_id}/file", f"/api/media/{broken_id}/thumbnail"):
        response = client.get(url)
        assert response.status_code == 404 and f"no indexed image has id {broken_id}" in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/search", 422),  # no q
        ("/api/search?q=", 422),
        ("/api/search?q=%20%20%20", 400),  # only spaces
        ("/api/search?q=cat&k=0", 422),
        ("/api/search?q=cat&k=100000", 422),
        ("/api/search?q=cat&offset=-1", 422),
        ("/api/search?q=" + "x" * 1001, 422),
        ("/api/media/999999", 404),
        ("/api/media/0", 422),
        ("/api/media/99999999999999999999999", 422),
        ("/api/media/abc", 422),
        ("/api/media/999999/similar", 404),
        ("/api/media/999999/texts", 404),
        ("/api/media/999999/thumbnail", 404),
        ("/api/media/999999/file", 404),
        ("/api/media/1/thumbnail?size=5000", 422),
    ],
)
def test_bad_requests_get_a_4xx_with_a_reason(client: TestClient, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "hint"} and isinstance(body["detail"], str) and body["detail"]


def test_every_error_is_a_reason_and_a_hint(served: ServedLibrary) -> None:
    with TestClient(create_app(served.settings(api_key="s3cret", max_upload_bytes=10_000))) as client:
        key = {"X-API-Key": "s3cret"}
        answers = {
            401: client.get("/api/search?q=cat"),
            404: client.get("/api/no-such-endpoint", headers=key),
            405: client.delete("/api/search?q=cat", headers=key),
            413: client.post(
                "/api/search/image", files={"file": ("big.png", b"\0" * 20_000, "image/png")}, headers=key
            ),
            422: client.get("/api/search?k=0", headers=key),
        }
        for status, response in answers.items():
            body = response.json()
            assert response.status_code == status, (status, response.text)
            assert set(body) == {"detail", "hint"} and body["detail"] and body["hint"], (status, body)
        assert answers[401].headers["www-authenticate"] == "ApiKey"
        assert "GET" in answers[405].headers["allow"]
        assert "limit of 10,000 bytes" in answers[413].json()["detail"]


def test_a_bug_answers_json_without_a_traceback(served: ServedLibrary, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("secret internals /home/someone/.config")

    monkeypatch.setattr(MediaService, "record", broken)
    with TestClient(create_app(served.settings()), raise_server_exceptions=False) as client:
        response = client.get("/api/media/1")
        assert response.status_code == 500 and response.headers["content-type"] == "application/json"
        assert response.json() == {"detail": "internal server error", "hint": response.json()["hint"]}
        assert "secret" not in response.text and "log" in response.json()["hint"]
        metrics = client.get("/metrics").text
        assert 'route="/api/media/{media_id}",status="500"' in metrics  # counted, though it raised


def test_a_huge_bad_parameter_is_not_echoed_back(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "x" * 60_000, "k": 5})  # about as long as a URL may be
    assert response.status_code == 422
    assert len(response.content) < 1000, len(response.content)  # not the 60 KB that was sent
    body = response.json()
    assert body["detail"].startswith("q (query parameter): String should have at most 1000 characters")
    assert '"' + "x" * 100 + '…"' in body["detail"] and "60,000 characters" in body["detail"]
    assert "/docs" in body["hint"]


def test_each_bad_parameter_is_named(client: TestClient) -> None:
    body = client.get("/api/search", params={"k": 0, "after": "yesterday"}).json()
    reasons = body["detail"].split("; ")
    assert any(reason.startswith("q (query parameter): Field required") for reason in reasons), reasons
    assert any(
        reason.startswith("k (query parameter): Input should be greater than or equal to 1") for reason in reasons
    )
    assert any(reason.startswith("after (query parameter):") and "YYYY-MM-DD" in reason for reason in reasons), reasons
    missing = client.post("/api/search/image").json()
    assert missing["detail"].startswith("file (form field): Field required")


@pytest.mark.parametrize(
    "url",
    [
        "/api/media/..%2F..%2F..%2Fetc%2Fpasswd/file",
        "/api/media/%2Fetc%2Fpasswd/file",
        "/api/media/1%2F..%2F..%2Fcatalog.sqlite/file",
        "/static/../catalog.sqlite",
        "/static/..%2F..%2Fcatalog.sqlite",
        "/static/%2e%2e/%2e%2e/indexer/settings.py",
        "/static/../../../../etc/passwd",
        "/static-docs/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/media/1/file/../../../../etc/passwd",
    ],
)
def test_no_path_in_a_url_reaches_the_filesystem(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (404, 422), (url, response.status_code)
    assert b"root:" not in response.content and b"SQLite format" not in response.content


def test_uploads_over_the_limit_are_413(served: ServedLibrary) -> None:
    with TestClient(create_app(served.settings(max_upload_bytes=10_000))) as client:
        big = {"file": ("big.png", b"\x89PNG" + b"\0" * 20_000, "image/png")}
        response = client.post("/api/search/image", files=big)
        assert response.status_code == 413 and "limit" in response.json()["detail"] and response.json()["hint"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while the body streams in
            boundary = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            yield boundary
            for _ in range(40):
                yield b"\0" * 1000
            yield b"\r\n--xx--\r\n"

        streamed = client.post(
            "/api/search/image", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xx"}
        )
        assert streamed.status_code == 413 and streamed.json()["hint"]


def test_non_images_are_415_and_broken_images_400(client: TestClient, served: ServedLibrary, tmp_path: Path) -> None:
    text = client.post("/api/search/image", files={"file": ("notes.txt", b"hello, not a picture", "text/plain")})
    assert text.status_code == 415 and "not an image" in text.json()["detail"]
    empty = client.post("/api/search/image/texts", files={"file": ("empty.jpg", b"", "image/jpeg")})
    assert empty.status_code == 415
    truncated = served.jpeg.read_bytes()[:600]
    broken = client.post("/api/search/image", files={"file": ("cut.jpg", truncated, "image/jpeg")})
    assert broken.status_code == 400 and "cut.jpg" in broken.json()["detail"]
    missing = client.post("/api/search/image")
    assert missing.status_code == 422


def test_images_over_the_pixel_limit_are_refused(served: ServedLibrary, tmp_path: Path) -> None:
    big = write_picture(tmp_path / "big.png", 1, "PNG")  # 96x72 = 6912 pixels
    with TestClient(create_app(served.settings(max_upload_pixels=5000))) as client:
        response = client.post("/api/search/image", files=upload(big))
    assert response.status_code == 400 and "over the limit" in response.json()["detail"]


def test_an_upload_over_the_upload_pixel_limit_names_that_limit(client: TestClient, tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 8000)).save(huge)  # 64 M pixels in a small file: over max_upload_pixels (50 M)
    body = client.post("/api/search/image", files=upload(huge)).json()
    assert "8000×8000" in body["detail"] and "50,000,000" in body["detail"] and "max_upload_pixels" in body["detail"]
    assert "MAX_IMAGE_PIXELS" not in body["detail"] + body["hint"]  # not the indexing limit
    assert "XMODAL_MAX_UPLOAD_PIXELS" in body["hint"] and "PNG" not in body["hint"]  # it is a PNG already


def test_api_key_guards_everything_but_the_probes(served: ServedLibrary) -> None:
    with TestClient(create_app(served.settings(api_key="s3cret"))) as client:
        for url in ("/api/search?q=cat", "/api/stats", "/api/media/1", "/api/media/1/thumbnail", "/metrics"):
            assert client.get(url).status_code == 401, url
            assert client.get(url, headers={"X-API-Key": "wrong"}).status_code == 401, url
        assert client.post("/api/search/image", files=upload(served.jpeg)).status_code == 401
        found = client.get("/api/search?q=cat", headers={"X-API-Key": "s3cret"})
        assert found.status_code == 200
        client.cookies.set("xmodal_api_key", "s3cret")  # how the page's <img> requests carry it
        assert client.get(found.json()["hits"][0]["thumbnail_url"]).status_code == 200
        client.cookies.clear()
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}  # a load balancer has no key
        schema = client.get("/openapi.json").json()
        assert "APIKeyHeader" in schema["components"]["securitySchemes"]
    with TestClient(create_app(served.settings())) as open_client:
        assert open_client.get("/api/search?q=cat").status_code == 200
        assert "securitySchemes" not in open_client.get("/openapi.json").json().get("components", {})


def test_not_ready_until_the_library_exists_then_serving(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, served: ServedLibrary
) -> None:
    monkeypatch.setattr(api.state, "RETRY_SECONDS", 0.0)
    with TestClient(create_app(served.settings(library=cli.library))) as client:
        live = client.get("/healthz")
        assert live.status_code == 200 and live.json() == {"status": "ok"}  # alive: do not restart it
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["retry-after"] == "2"  # not ready: send no traffic
        assert "no xmodal library" in ready.json()["detail"] and "index a folder first" in ready.json()["hint"]
        response = client.get("/api/search?q=cat")
        assert response.status_code == 503 and response.headers["retry-after"] == "2"
        assert "index a folder first" in response.json()["hint"]
        photo = write_picture(tmp_path / "photos" / "first.png", 5, "PNG")
        cli.index(photo.parent)  # a watcher or an index run creates the library meanwhile
        assert client.get("/readyz").status_code == 200
        found = client.post("/api/search/image", files=upload(photo)).json()["hits"]
        assert found[0]["name"] == "first.png"


def test_a_new_index_generation_is_picked_up_without_restart(tmp_path: Path, cli: Cli, served: ServedLibrary) -> None:
    cli.index(*[write_picture(tmp_path / "photos" / f"a{i}.png", i, "PNG") for i in range(3)])
    with TestClient(create_app(served.settings(library=cli.library))) as client:
        assert client.get("/api/stats").json()["images"] == 3
        searcher = client.app.state.context.library.get().searcher  # type: ignore[attr-defined]
        before, _ = searcher.retrieval.indexes["media"].current()
        later = write_picture(tmp_path / "more" / "later.png", 42, "PNG")
        cli.index(later.parent)
        hits = client.post("/api/search/image", files=upload(later)).json()["hits"]
        assert hits[0]["name"] == "later.png" and hits[0]["score"] > 0.999
        assert (
            searcher.retrieval.indexes["media"].current()[0] is not before
        )  # the new generation was loaded, not just the delta
        assert client.get("/api/stats").json()["images"] == 4


def test_metrics_count_queries_and_library_size(client: TestClient) -> None:
    client.get("/api/search", params={"q": "a yellow square"})
    client.get("/api/search", params={"q": "a yellow square", "offset": 20})
    text = client.get("/metrics").text
    assert re.search(r'xmodal_queries_total\{kind="text-to-image"\} 2\.0', text)
    assert re.search(r'xmodal_query_seconds_count\{kind="text-to-image"\} 2\.0', text)
    assert re.search(r'xmodal_library_items\{kind="media"\} 62\.0', text)
    assert re.search(r'xmodal_http_requests_total\{method="GET",route="/api/search",status="200"\} 2\.0', text)


def test_metrics_count_query_encodes_when_batched(served: ServedLibrary) -> None:
    with TestClient(create_app(served.settings(query_batching=True))) as client:
        client.get("/api/search", params={"q": "a green triangle"})
        client.get("/api/search", params={"q": "a blue star"})
        client.get("/api/search", params={"q": "a blue star", "offset": 20})  # the cached vector: no encode
        text = client.get("/metrics").text
    assert re.search(r'xmodal_query_encode_batches_total\{kind="texts"\} 2\.0', text)  # one at a time: 1 each
    assert re.search(r'xmodal_query_encode_items_total\{kind="texts"\} 2\.0', text)
    assert re.search(r'xmodal_query_encode_items_total\{kind="images"\} 0\.0', text)
    with TestClient(create_app(served.settings(query_batching=False))) as client:
        client.get("/api/search", params={"q": "a green triangle"})
        assert "xmodal_query_encode" not in client.get("/metrics").text


def test_openapi_document_and_docs_work_offline(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/search",
        "/api/search/image",
        "/api/search/image/texts",
        "/api/media/{media_id}",
        "/api/media/{media_id}/similar",
        "/api/media/{media_id}/texts",
        "/api/media/{media_id}/thumbnail",
        "/api/media/{media_id}/file",
        "/api/stats",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    assert paths["/api/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchResponse"
    }
    assert "415" in paths["/api/search/image"]["post"]["responses"]
    assert "404" in paths["/api/media/{media_id}"]["get"]["responses"]
    ready_503 = paths["/readyz"]["get"]["responses"]["503"]
    assert "Retry-After" in ready_503["headers"]
    assert ready_503["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    too_long = paths["/api/search"]["get"]["responses"]["422"]  # what a 422 really answers
    assert too_long["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    docs = client.get("/docs").text
    assert "cdn" not in docs.lower()
    for asset in re.findall(r"""(?:src|href)=['"](/[^'"]+)['"]""", docs):
        assert client.get(asset).status_code == 200, asset


def test_cors_is_off_unless_configured(served: ServedLibrary, client: TestClient) -> None:
    origin = {"Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in client.get("/api/search?q=cat", headers=origin).headers
    with TestClient(create_app(served.settings(cors_origins=["https://photos.example"]))) as allowed:
        response = allowed.get("/api/search?q=cat", headers={"Origin": "https://photos.example"})
        assert response.headers["access-control-allow-origin"] == "https://photos.example"


def test_the_page_and_its_assets_are_served_from_the_package(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<title>xmodal</title>" in page.text
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", page.text):
        assert client.get(asset).status_code == 200, asset
    assert "http" not in re.sub(r"https?://www\.w3\.org[^\"']*", "", client.get("/static/app.js").text)


def test_the_api_takes_the_cli_options_type_text_and_any_offset(client: TestClient) -> None:
    """README: the search endpoints take the CLI's options; paging has no cap."""
    texts = client.get("/api/search", params={"q": "a red circle", "type": "text", "k": 5})
    assert texts.status_code == 200
    hits = texts.json()["hits"]
    assert hits and all(hit["kind"] == "text" for hit in hits) and "red circle" in hits[0]["text"]
    far = client.get("/api/search", params={"q": "a red circle", "offset": 250_000, "cutoff": False})
    assert far.status_code == 200 and far.json()["hits"] == [] and far.json()["next_offset"] is None
    for name in ("k", "offset", "type", "after", "hybrid", "mmr", "min_score"):  # one declaration, documented
        assert name in {
            p["name"] for p in client.get("/openapi.json").json()["paths"]["/api/search"]["get"]["parameters"]
        }
