"""Every error the web app answers, as one JSON shape: `{"detail": what went wrong, "hint": what to do}`.

xmodal's own errors carry their hint; the framework's (401, an unknown route, a wrong method, a parameter
out of range, a body over the limit) get one here. A 422 names each bad parameter and why, and echoes at
most the first `MAX_ECHO` characters of what was sent: an answer never grows with the request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.limits import TOO_LARGE_HINT
from api.schemas import ErrorBody
from api.state import RETRY_SECONDS, NotReady
from core.errors import InputError, NotAnImage, NotFound, XmodalError

RETRY_AFTER_SECONDS = round(RETRY_SECONDS)  # what a waiting client is told: the server tries again that often
MAX_ECHO = 100  # characters of a bad input echoed back
MAX_LISTED = 5  # bad parameters named in one answer
MAX_REASON = 300  # characters of one reason
DOCS_HINT = "the endpoints, their methods and their parameters are listed at /docs"
HINTS = {
    401: "send the API key in an X-API-Key header or an xmodal_api_key cookie",
    413: TOO_LARGE_HINT,
    422: "see /docs for each parameter's type and range",
    500: "this is a bug in xmodal: the server's log has the details",
}
WHERE = {"query": "query parameter", "path": "path parameter", "body": "form field", "header": "header"}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entries for these statuses: each answers an `ErrorBody`."""
    return {code: {"model": ErrorBody} for code in codes}


def error_response(
    status: int, detail: str, hint: str | None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(ErrorBody(detail=detail, hint=hint).model_dump(), status_code=status, headers=headers)


def status_of(exc: XmodalError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotAnImage):
        return 415
    if isinstance(exc, InputError):
        return 400
    return 503  # a library or model problem, not the caller's


def echo(value: object) -> str:
    """What was sent, cut to `MAX_ECHO` characters; nothing for what is not a plain value."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    text = str(value)
    if len(text) <= MAX_ECHO:
        return f"; got {json.dumps(text, ensure_ascii=False)}"
    return f"; got {json.dumps(text[:MAX_ECHO] + '…', ensure_ascii=False)} ({len(text):,} characters)"


def describe(error: Mapping[str, Any]) -> str:
    """One bad parameter: `k (query parameter): Input should be greater than or equal to 1; got "0"`."""
    location: Sequence[Any] = error.get("loc") or ("request",)
    where = WHERE.get(str(location[0]), str(location[0]))
    name = ".".join(str(part) for part in location[1:]) or "the request"
    reason = str(error.get("msg", "invalid"))[:MAX_REASON]
    return f"{name} ({where}): {reason}{echo(error.get('input'))}"


def validation_detail(errors: Sequence[Mapping[str, Any]]) -> str:
    listed = [describe(error) for error in errors[:MAX_LISTED]]
    if len(errors) > MAX_LISTED:
        listed.append(f"and {len(errors) - MAX_LISTED} more")
    return "; ".join(listed) or "the request is not valid"


async def xmodal_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, XmodalError)
    return error_response(status_of(exc), exc.message, exc.hint)


async def not_ready(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotReady)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return error_response(503, f"the library is not ready: {exc.reason}", exc.hint, headers)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    """The framework's own refusals (401, an unknown route, 405, 413), with a hint like every other error."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)[:MAX_REASON]
    return error_response(exc.status_code, detail, HINTS.get(exc.status_code, DOCS_HINT), exc.headers)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, validation_detail(exc.errors()), HINTS[422])


async def internal_error(_request: Request, _exc: Exception) -> JSONResponse:
    """A bug: the same JSON shape, no traceback in the answer (the log has it)."""
    return error_response(500, "internal server error", HINTS[500])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(XmodalError, xmodal_error)
    app.add_exception_handler(NotReady, not_ready)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal_error)
