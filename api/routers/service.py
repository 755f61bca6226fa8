"""The service's own endpoints: liveness and readiness for a load balancer, what the library holds, metrics.

`/healthz` answers 200 while the process answers at all; `/readyz` answers 200 once the library is
searchable and 503 (with Retry-After and the reason) until then, so a balancer can route on the status.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from api.deps import MetricsDep, Opened, open_library
from api.errors import RETRY_AFTER_SECONDS, error_responses
from api.schemas import HealthOut, ReadyOut, StatsOut
from api.stats import library_stats

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"


def not_ready_response() -> dict[int | str, dict[str, Any]]:
    retry = {
        "description": f"Seconds to wait before asking again ({RETRY_AFTER_SECONDS}).",
        "schema": {"type": "integer"},
    }
    return {
        503: {**error_responses(503)[503], "description": "Not ready yet, and why.", "headers": {"Retry-After": retry}}
    }


probes = APIRouter(tags=["service"])  # public: a load balancer has no API key
reports = APIRouter(tags=["service"])  # behind the API key when one is set


@probes.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> HealthOut:
    """Answered on the event loop: searches busy in every worker thread do not make a live server look dead."""
    return HealthOut()


@probes.get(
    "/readyz",
    dependencies=[Depends(open_library)],
    responses=not_ready_response(),
    summary="Readiness: the library is searchable",
)
def readyz() -> ReadyOut:
    return ReadyOut()


@reports.get("/api/stats", responses=error_responses(503), summary="What the library holds")
def stats(opened: Opened) -> StatsOut:
    return StatsOut(**library_stats(opened.library))


@reports.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
    summary="Prometheus metrics",
)
def prometheus(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)
