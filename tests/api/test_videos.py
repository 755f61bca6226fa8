"""Videos through the web API on a real library: a search finds the moment (its times, its video, the video's
other moments folded in), the file endpoint serves the video with byte ranges for a player to seek, a moment's
thumbnail is the frame that shows it, and a video that vanished or broke is a 404 with a reason."""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.server import create_app
from core.settings import load_settings
from tests.api.conftest import index
from tests.api.videos import VideoLibrary, WrittenVideo, add_video


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame of the video in order, as RGB: what a player shows."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)]


def jpeg_pixels(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def truth_pixels(video: WrittenVideo, frame: int) -> np.ndarray:
    picture = video.truth.picture(frame).resize((video.truth.size,) * 2, Image.Resampling.NEAREST)
    return np.asarray(picture, dtype=np.int16)


def test_a_search_finds_the_moment_and_folds_in_the_videos_other_moments(
    video_client: TestClient, video_served: VideoLibrary
) -> None:
    hits = video_client.get("/api/search", params={"q": "a red circle", "k": 100}).json()["hits"]
    party = video_served.party
    first = hits[0]  # both red circle moments are in the party video: the best stands for it
    assert first["kind"] == "video" and first["video_id"] == party.id and first["name"] == "party 2024.mp4"
    red_moments = {party.moment_ids[0], party.moment_ids[2]}
    assert first["id"] in red_moments
    segment = party.segments[party.moment_ids.index(first["id"])]
    assert (first["start"], first["end"], first["frame_time"]) == (segment.start_s, segment.end_s, segment.frame_s)
    assert first["duration"] == party.truth.seconds and first["path"] == str(party.path)
    assert first["file_url"] == f"/api/media/{party.id}/file"
    assert first["thumbnail_url"] == f"/api/media/{first['id']}/thumbnail"
    assert first["play_url"] == f"/api/media/{party.id}/file#t={segment.start_s:g},{segment.end_s:g}"
    # The other red circle comes next among its moments; the blue square, further down the ranking, last.
    moments = first["moments"]
    assert [moment["id"] for moment in moments] == [*(red_moments - {first["id"]}), party.moment_ids[1]]
    cosines = [moment["cosine"] for moment in moments]
    assert cosines == sorted(cosines, reverse=True) and first["cosine"] >= cosines[0]
    blue = moments[1]
    assert (blue["start"], blue["end"], blue["frame_time"]) == (7.0, 10.0, 8.5)
    assert blue["thumbnail_url"] == f"/api/media/{blue['id']}/thumbnail"
    assert blue["play_url"] == f"/api/media/{party.id}/file#t=7,10"
    # Each video is listed once, whatever the number of its moments; pictures are untouched.
    videos = [hit for hit in hits if hit["kind"] == "video"]
    assert sorted(hit["video_id"] for hit in videos) == sorted((party.id, video_served.walk.id))
    every_moment = {*party.moment_ids, *video_served.walk.moment_ids}
    assert not every_moment & {hit["id"] for hit in hits if hit["kind"] == "image"}
    assert len(hits) == 12 + 2
    pictures = [hit for hit in hits if hit["kind"] == "image"]
    assert all(hit["video_id"] is None and hit["moments"] is None and hit["play_url"] is None for hit in pictures)


def test_more_like_a_moment_finds_the_same_scene_in_the_video(
    video_client: TestClient, video_served: VideoLibrary
) -> None:
    party = video_served.party
    similar = video_client.get(f"/api/media/{party.moment_ids[2]}/similar", params={"k": 5}).json()["hits"]
    assert similar[0]["kind"] == "video" and similar[0]["id"] == party.moment_ids[0]  # the red circle, earlier
    whole = video_client.get(f"/api/media/{party.id}/similar")  # a video has no vector of its own
    assert whole.status_code == 400, whole.text
    assert "is a video" in whole.json()["detail"] and str(party.moment_ids[0]) in whole.json()["hint"]


def test_media_metadata_of_a_video_and_of_a_moment(video_client: TestClient, video_served: VideoLibrary) -> None:
    party = video_served.party
    video = video_client.get(f"/api/media/{party.id}").json()
    assert video["media_type"] == "video" and video["name"] == "party 2024.mp4" and video["duration"] == 16.0
    assert (video["parent_id"], video["start"], video["end"], video["frame_time"], video["play_url"]) == (None,) * 5
    assert video["file_url"] == f"/api/media/{party.id}/file" and video["size"] == party.path.stat().st_size
    moment = video_client.get(f"/api/media/{party.moment_ids[1]}").json()
    assert moment["media_type"] == "video" and moment["parent_id"] == party.id
    assert (moment["start"], moment["end"], moment["frame_time"], moment["duration"]) == (7.0, 10.0, 8.5, 16.0)
    assert (moment["path"], moment["name"], moment["folder"]) == (str(party.path), party.path.name, video["folder"])
    assert moment["file_url"] == video["file_url"] and moment["play_url"] == f"/api/media/{party.id}/file#t=7,10"
    assert moment["thumbnail_url"] == f"/api/media/{party.moment_ids[1]}/thumbnail"
    picture = video_client.get("/api/media/1").json()
    assert picture["media_type"] == "image" and picture["duration"] is None and picture["parent_id"] is None


def test_a_moment_serves_its_videos_file_with_byte_ranges(video_client: TestClient, video_served: VideoLibrary) -> None:
    """What a browser's <video> needs to seek: Accept-Ranges, and exactly the bytes it asks for."""
    party = video_served.party
    content = party.path.read_bytes()
    size = len(content)
    for media_id in (party.moment_ids[1], party.id):
        whole = video_client.get(f"/api/media/{media_id}/file")
        assert whole.status_code == 200 and whole.content == content
        assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-disposition"].startswith("inline;")
    url = f"/api/media/{party.moment_ids[1]}/file"
    part = video_client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}" and part.headers["content-length"] == "100"
    assert part.headers["content-type"] == "video/mp4"
    rest = video_client.get(url, headers={"Range": f"bytes={size - 10}-"})  # open-ended: to the end
    assert rest.status_code == 206 and rest.content == content[-10:]
    tail = video_client.get(url, headers={"Range": "bytes=-50"})  # the last 50 bytes
    assert tail.status_code == 206 and tail.content == content[-50:]
    beyond = video_client.get(url, headers={"Range": f"bytes={size - 5}-{size + 1000}"})  # clipped to the end
    assert beyond.status_code == 206 and beyond.content == content[-5:]
    two = video_client.get(url, headers={"Range": "bytes=0-9,20-29"})
    assert two.status_code == 206 and two.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert content[:10] in two.content and content[20:30] in two.content
    # A range past the end is refused in the app's error shape, saying how large the file is.
    refused = video_client.get(url, headers={"Range": f"bytes={size}-"})
    assert refused.status_code == 416 and refused.headers["content-range"] == f"bytes */{size}"
    assert f"{size:,} bytes" in refused.json()["detail"] and refused.json()["hint"]
    # A Range header that cannot be parsed is ignored (RFC 9110): the whole file.
    for nonsense in ("items=0-5", "bytes=9-3", "bytes=abc"):
        ignored = video_client.get(url, headers={"Range": nonsense})
        assert ignored.status_code == 200 and ignored.content == content, nonsense
    # If-Range: the range while the file is what the client has, the whole file once it changed.
    etag = part.headers["etag"]
    assert video_client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    changed = video_client.get(url, headers={"Range": f"bytes={size}-", "If-Range": '"stale"'})
    assert changed.status_code == 200 and changed.content == content


def test_a_moments_thumbnail_is_the_frame_that_shows_it(video_client: TestClient, video_served: VideoLibrary) -> None:
    party = video_served.party
    frames = decoded_frames(party.path)
    fps = party.truth.fps
    for media_id, segment in zip(party.moment_ids, party.segments, strict=True):
        response = video_client.get(f"/api/media/{media_id}/thumbnail")
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        pixels = jpeg_pixels(response.content)
        assert pixels.shape == (256, 256, 3)
        at = round(segment.frame_s * fps)
        # The very frame a player shows there, give or take JPEG (the moving circle is elsewhere 2 frames off).
        distances = [difference(pixels, frame) for frame in frames]
        assert distances[at] < 1.0 and distances[at] == pytest.approx(min(distances), abs=0.01)
        # And what the scene video says is on screen there, not another moment's scene.
        others = [m for m in party.truth.moments if m.scene != party.truth.moment_at(at).scene]  # type: ignore[union-attr]
        assert difference(pixels, truth_pixels(party, at)) < 3.0
        assert all(difference(pixels, truth_pixels(party, m.frames(fps).start + 5)) > 8.0 for m in others)
    # A small one is small, and cached under the frame's time beside the video's content.
    small = video_client.get(f"/api/media/{party.moment_ids[0]}/thumbnail", params={"size": 100})
    assert Image.open(io.BytesIO(small.content)).size == (128, 128)
    cached = list((video_served.library / "thumbnails" / "128").glob(f"{party.moment_ids[0]}-*-4500.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == small.content
    assert small.headers["etag"].endswith('-4500-128"')
    again = video_client.get(
        f"/api/media/{party.moment_ids[0]}/thumbnail",
        params={"size": 100},
        headers={"If-None-Match": small.headers["etag"]},
    )
    assert again.status_code == 304


def test_a_videos_own_thumbnail_is_its_first_moments_frame(
    video_client: TestClient, video_served: VideoLibrary
) -> None:
    walk = video_served.walk
    own = jpeg_pixels(video_client.get(f"/api/media/{walk.id}/thumbnail").content)
    first = jpeg_pixels(video_client.get(f"/api/media/{walk.moment_ids[0]}/thumbnail").content)
    assert difference(own, first) < 1.0
    assert difference(own, truth_pixels(walk, round(walk.segments[0].frame_s * walk.truth.fps))) < 3.0


@pytest.fixture
def own_library(video_served: VideoLibrary, tmp_path: Path) -> tuple[Path, WrittenVideo]:
    """A library of its own with a copy of the party video, for tests that break its file."""
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(next(video_served.photos.glob("*.png")), photos)
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(video_served.party.path, videos / "party.mp4")
    library = tmp_path / "library"
    index(library, photos)
    return library, add_video(library, replace(video_served.party.truth, path=videos / "party.mp4"))


def test_a_vanished_video_is_404_with_the_reason(own_library: tuple[Path, WrittenVideo]) -> None:
    library, video = own_library
    video.path.unlink()
    with TestClient(create_app(load_settings(library=library))) as client:
        moment = video.moment_ids[1]
        assert client.get(f"/api/media/{moment}").status_code == 200  # the catalog still knows it
        for url in (f"/api/media/{moment}/file", f"/api/media/{moment}/thumbnail", f"/api/media/{video.id}/file"):
            response = client.get(url)
            assert response.status_code == 404, url
            body = response.json()
            assert "is no longer on disk" in body["detail"] and f"video {video.id}" in body["detail"]
            assert "index run" in body["hint"]
        detail = client.get(f"/api/media/{moment}/file").json()["detail"]
        assert detail == f"video {video.id} (moment {moment}) is no longer on disk"


def test_a_broken_video_is_404_with_the_reason(own_library: tuple[Path, WrittenVideo]) -> None:
    library, video = own_library
    video.path.write_bytes(b"not a video at all, " * 100)
    with TestClient(create_app(load_settings(library=library))) as client:
        response = client.get(f"/api/media/{video.moment_ids[0]}/thumbnail")
        assert response.status_code == 404
        assert response.json()["detail"].startswith(f"video {video.id} (moment {video.moment_ids[0]}) cannot be read")
        assert "not a video" in response.json()["detail"]
        assert client.get(f"/api/media/{video.moment_ids[0]}/file").status_code == 200  # the bytes are still there


def test_the_openapi_document_describes_video_hits_and_ranges(video_client: TestClient) -> None:
    schema = video_client.get("/openapi.json").json()
    hit = schema["components"]["schemas"]["HitOut"]["properties"]
    assert set(hit["kind"]["enum"]) == {"image", "video", "text"}
    for field in ("video_id", "start", "end", "frame_time", "duration", "moments", "play_url"):
        assert hit[field]["description"], field
    moment = schema["components"]["schemas"]["MomentOut"]["properties"]
    assert set(moment) == {"id", "start", "end", "frame_time", "cosine", "thumbnail_url", "play_url"}
    media = schema["components"]["schemas"]["MediaOut"]["properties"]
    assert {"media_type", "duration", "parent_id", "start", "end", "frame_time", "play_url"} <= set(media)
    responses = schema["paths"]["/api/media/{media_id}/file"]["get"]["responses"]
    assert {"200", "206", "404", "416"} <= set(responses)
