"""The original file, with byte ranges: what lets a browser seek in a video without downloading all of it.

Starlette's FileResponse answers ranges itself: `bytes=a-b` is a 206 with Content-Range, several ranges a
multipart/byteranges 206, If-Range is honoured, and every answer says Accept-Ranges: bytes. Two of its refusals
are not this app's, and are changed here before it sees the request: a range past the end of the file is a
416 with Content-Range `bytes */size` in the JSON error shape of every other refusal (Starlette answers plain
text), and a Range header it cannot parse (another unit, `bytes=9-3`, garbage) is ignored, as RFC 9110 §14.2
asks, so the whole file is served (Starlette answers 400).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import Receive, Scope, Send

from api.errors import error_response

RANGE_HINT = "ask for bytes 0 up to the file's size less one; Content-Range says its size"


class RangedFile(FileResponse):
    """A FileResponse made with `stat_result` (the size must be known before the range is checked)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        asked = headers.get("range")
        if asked is not None and self.stat_result is not None and self._ranged(scope, headers):
            size = self.stat_result.st_size
            try:
                self._parse_range_header(asked, size)
            except MalformedRangeHeader:
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]}
            except RangeNotSatisfiable:
                detail = f"the range {asked[:100]!r} starts past the end of the file ({size:,} bytes)"
                refusal = error_response(416, detail, RANGE_HINT, {"Content-Range": f"bytes */{size}"})
                await refusal(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _ranged(self, scope: Scope, headers: Headers) -> bool:
        """Whether FileResponse would answer the Range header at all (If-Range can tell it not to)."""
        if_range = headers.get("if-range")
        return (
            scope["type"] == "http"
            and scope["method"].upper() in ("GET", "HEAD")
            and self.status_code == 200
            and (if_range is None or self._should_use_range(if_range))
        )
