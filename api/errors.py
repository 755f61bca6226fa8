"""Errors as the web app answers them: `{"detail": what went wrong, "hint": what to do}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.schemas import ErrorBody
from api.state import NotReady
from core.errors import InputError, NotAnImage, NotFound, XmodalError

RETRY_AFTER_SECONDS = 2  # what a client waiting for the library is told; the server retries on request


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


async def xmodal_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, XmodalError)
    return error_response(status_of(exc), exc.message, exc.hint)


async def not_ready(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotReady)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return error_response(503, f"the library is not ready: {exc.reason}", exc.hint, headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(XmodalError, xmodal_error)
    app.add_exception_handler(NotReady, not_ready)
