"""`xmodal serve --workers N`: uvicorn's process supervisor, on a listening socket that keeps Nagle off.

uvicorn binds the socket its workers share with `proto` 0 (uvicorn issue #3149). Accepted connections inherit
that, and asyncio turns TCP_NODELAY on only for sockets that say IPPROTO_TCP, so on Linux every keep-alive
response after a connection's first waited for the client's delayed ACK: 64–72 ms a text query instead of
24 (measured with 2 workers, bench/RESULTS.md). A single worker is unaffected: asyncio binds that socket itself.
"""

from __future__ import annotations

import inspect
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from core.settings import Settings


class NoDelayConfig(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return sock
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, sock.detach())


def run_workers(settings: Settings, app: str) -> None:
    """Serve the app factory named `app` (an import string: each worker process builds its own) in
    `settings.server_workers` processes."""
    config = NoDelayConfig(app, factory=True, host=settings.host, port=settings.port, workers=settings.server_workers)
    sockets = [config.bind_socket()]
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn before it built the server itself
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=sockets).run()  # type: ignore[call-arg]
    else:
        Multiprocess(config, sockets=sockets).run()
