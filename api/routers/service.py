"""The service's own endpoints: health, what the library holds, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import Context, MetricsDep, Opened
from api.errors import error_responses
from api.schemas import HealthOut, StatsOut
from api.state import NotReady
from api.stats import library_stats

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"

probes = APIRouter(tags=["service"])  # public: a load balancer has no API key
reports = APIRouter(tags=["service"])  # behind the API key when one is set


@probes.get("/healthz", summary="Liveness, and whether the library is searchable")
def healthz(context: Context) -> HealthOut:
    try:
        context.library.get()
    except NotReady as exc:
        return HealthOut(status="starting", ready=False, detail=exc.reason)
    return HealthOut(status="ok", ready=True)


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
