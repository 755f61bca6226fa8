"""Schema-driven fuzzing of the OpenAPI document (schemathesis): no input makes the server answer 5xx,
and every answer matches the schema it documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.types import ASGIApp, Receive, Scope, Send

from api.server import create_app
from core.settings import Settings
from tests.api.conftest import ServedLibrary, isolated_from_the_developer


class OnlyGivenSettings(Settings):
    """Settings from the arguments alone: built at import time, before any test's isolation, so no
    XMODAL_* variable or config file of the developer's may shape the schema under test."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class SwappableApp:
    """The schema is read when this module is imported, before the test library exists; requests
    made during the test go to the app the fixture installs."""

    def __init__(self, target: ASGIApp) -> None:
        self.target = target

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.target(scope, receive, send)


APP = SwappableApp(create_app(OnlyGivenSettings(library=Path("not-a-library"))))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(autouse=True, scope="module")
def served_app(served: ServedLibrary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    placeholder = APP.target
    with isolated_from_the_developer(tmp_path_factory.mktemp("fuzz")):
        APP.target = create_app(served.settings(max_upload_bytes=200_000))
    yield
    APP.target = placeholder


@schema.parametrize()
@hypothesis.settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same cases every run: a CI failure reproduces locally
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_input_breaks_the_api(case: schemathesis.Case) -> None:
    # Every check but "schema-valid data is accepted": a schema cannot say "bytes that decode as a
    # picture" or "not only spaces", and those are rightly 415 and 400 with a reason.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
