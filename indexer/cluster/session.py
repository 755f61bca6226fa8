"""Joining a Ray cluster for one run, and what it offers. Ray is optional (pip install 'xmodal[ray]'): everything
else in xmodal runs without it."""

from __future__ import annotations

import importlib
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from core.errors import ClusterError

log = logging.getLogger(__name__)

HOW_TO_START = (
    "start one with `ray start --head` on its first machine (and `ray start --address HOST:6379` on the others), "
    "then pass --ray-address HOST:6379, or --ray alone for this machine only; a cluster with token authentication "
    "needs the same RAY_AUTH_TOKEN (or ~/.ray/auth_token) here"
)
REACH_SECONDS = 5.0
LOCAL = "local"  # `--ray` with no address: a Ray of this machine alone, started for the run and stopped after it


def require_ray() -> ModuleType:
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ClusterError(
            f"--ray needs Ray, which is not installed here ({exc})", "pip install 'xmodal[ray]' on every machine"
        ) from exc


@dataclass(frozen=True)
class Cluster:
    """The resources the run may use, as Ray counts them."""

    address: str
    cpus: float
    gpus: float

    def default_encoders(self) -> int:
        """One per GPU; on CPUs alone, one per 4 CPUs, the rest reading and decoding."""
        if self.gpus >= 1:
            return int(self.gpus)
        return max(1, int(self.cpus // 4))


@contextmanager
def joined(address: str | None) -> Iterator[Cluster]:
    """Connect to the cluster at `address` ('auto', HOST:PORT or ray://HOST:PORT), or start a local Ray for None
    or 'local'; leave it as found afterwards (a Ray this process started is stopped, a cluster stays up)."""
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        target = None if address in (None, "", LOCAL) else address
        if target is not None:
            _check_reachable(target)
        try:
            ray.init(address=target, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"cannot join the Ray cluster at {target}: {exc}", HOW_TO_START) from exc
    try:
        resources = ray.cluster_resources()
        cluster = Cluster(address or LOCAL, float(resources.get("CPU", 0)), float(resources.get("GPU", 0)))
        log.info("Ray cluster %s: %g CPUs, %g GPUs", cluster.address, cluster.cpus, cluster.gpus)
        yield cluster
    finally:
        if started_here:
            ray.shutdown()


def _check_reachable(address: str) -> None:
    """A HOST:PORT that nothing answers on fails now, not after Ray's minute of reconnecting."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # 'auto', or a form Ray knows better
    try:
        socket.create_connection((host, int(port)), timeout=REACH_SECONDS).close()
    except OSError as exc:
        raise ClusterError(
            f"cannot join the Ray cluster at {address}: nothing answers there ({exc.strerror or exc})",
            HOW_TO_START,
        ) from exc
