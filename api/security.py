"""The API key: when one is configured, every API endpoint and /metrics need it (a header, or the page's cookie)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyCookie, APIKeyHeader

from api.deps import SettingsDep
from core.settings import Settings

API_KEY_HEADER = "X-API-Key"
API_KEY_COOKIE = "xmodal_api_key"

Header = Annotated[str | None, Security(APIKeyHeader(name=API_KEY_HEADER, auto_error=False))]
Cookie = Annotated[str | None, Security(APIKeyCookie(name=API_KEY_COOKIE, auto_error=False))]


def require_api_key(settings: SettingsDep, header: Header = None, cookie: Cookie = None) -> None:
    """Compared in constant time; the page's <img> requests carry the key in the cookie."""
    given = header or cookie or ""
    if not secrets.compare_digest(given.encode(), (settings.api_key or "").encode()):
        raise HTTPException(401, "a valid API key is required", headers={"WWW-Authenticate": "ApiKey"})


def guarded(settings: Settings) -> list[Any]:
    """The dependencies a protected router takes: none without a key, so the OpenAPI document shows none."""
    return [Depends(require_api_key)] if settings.api_key else []
