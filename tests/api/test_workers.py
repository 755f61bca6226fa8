"""`xmodal serve --workers N` answers on connections with Nagle off, as a single worker does: with it on, each
keep-alive response after the first waited for the client's delayed ACK (40 ms on Linux)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from api.workers import NoDelayConfig


def accepted_no_delay(listener: socket.socket) -> int:
    """TCP_NODELAY of the connection an asyncio server (as each uvicorn worker runs) accepts on `listener`."""
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        host, port = listener.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    return seen[0]


def test_the_workers_listening_socket_gives_connections_without_nagle() -> None:
    ours = NoDelayConfig("api.server:app_from_environment", factory=True, host="127.0.0.1", port=0, workers=2)
    assert accepted_no_delay(ours.bind_socket()) != 0
    theirs = uvicorn.Config("api.server:app_from_environment", factory=True, host="127.0.0.1", port=0, workers=2)
    listener = theirs.bind_socket()
    if listener.proto != socket.IPPROTO_TCP:  # the uvicorn bug this works around, where it is not fixed yet
        assert accepted_no_delay(listener) == 0
