"""`xmodal serve`'s entry points: the app factory, the one uvicorn's worker processes call, and how a parent
hands its settings to them. The app itself is built in api/app.py."""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from api.app import create_app
from core.settings import Settings, load_settings

__all__ = ["app_from_environment", "create_app", "export_settings"]


def app_from_environment() -> FastAPI:
    """The factory uvicorn's worker processes call: settings come from XMODAL_* and the config file."""
    return create_app(load_settings())


def export_settings(settings: Settings) -> None:
    """Hand the parent's settings to worker processes through the environment they inherit."""
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, list | dict):
            os.environ[f"XMODAL_{name.upper()}"] = json.dumps(value)
        else:
            os.environ[f"XMODAL_{name.upper()}"] = str(value)
