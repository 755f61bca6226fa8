"""Does `xmodal serve` answer more text queries per second with 8 concurrent clients than with 1, with query
batching on and off, in one process or two? The servers run in one run, so that the numbers compare.

    python -m bench.serve_concurrency [--items 100000] [--seconds 20] [--clients 1,8] [--rounds 2] [--library DIR]

The library has ViT-B-32's architecture with random weights (bench/query_speed.py: the compute of the real
model; its ONNX export encodes each query) and 100k items (synthetic 512-d vectors, IVF index). Every request
is a new text, so the server's query-vector cache never answers and every request is encoded.

Three servers run side by side: one process with XMODAL_QUERY_BATCHING=true, one with =false, and two worker
processes with it true (an idle one takes no CPU); each (server, clients) row gets --seconds in all, in --rounds slices taken in turn, so that load from
elsewhere on a shared machine falls on every row alike. Clients are asyncio + httpx in this process: they
share the machine's cores with the server, so their CPU time is reported next to the server's. Query-encode
batches are read from /metrics. `--library DIR` keeps the built library there and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench._results import machine, percentile, write_section
from bench.query_speed import build_vit_library
from bench.serve_load import queries, run_clients, start_server

# label -> (XMODAL_QUERY_BATCHING, worker processes)
MODES = {"on": ("true", 1), "off": ("false", 1), "on, 2 workers": ("true", 2)}
WARM_UP_SECONDS = 2.0
BATCH_METRIC = re.compile(r'^xmodal_query_encode_(batches|items)_total\{kind="texts"\} ([0-9.e+]+)$', re.M)
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One (batching, clients) row, summed over its slices."""

    mode: str
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    server_cpu: float = 0.0  # CPU seconds of the server process
    client_cpu: float = 0.0  # CPU seconds of this (client) process
    machine_cpu: float = 0.0  # CPU seconds of every process on the machine
    encodes: int | None = 0  # query-encode calls, None where /metrics does not say
    encoded: int = 0  # texts those calls encoded

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def cells(self) -> str:
        per_encode = f"{self.encoded / max(self.encodes, 1):.2f}" if self.encodes is not None else "n/a"
        return (
            f"| {self.mode} | {self.clients} | **{self.rate:.1f}** | {percentile(self.latencies, 50):.1f} | "
            f"{percentile(self.latencies, 95):.1f} | {percentile(self.latencies, 99):.1f} | {self.errors} | "
            f"{per_encode} | {1000 * self.server_cpu / max(len(self.latencies), 1):.1f} | "
            f"{100 * self.server_cpu / self.seconds:.0f} | {100 * self.client_cpu / self.seconds:.0f} | "
            f"{100 * max(0.0, self.machine_cpu - self.server_cpu - self.client_cpu) / self.seconds:.0f} |"
        )


@dataclass
class Server:
    mode: str
    url: str
    process: subprocess.Popen[bytes]
    workers: int  # processes; /metrics then answers for one of them, so batches go unreported


def distinct_texts(count: int) -> list[str]:
    """`count` different query texts (serve_load's held-out scene captions), so no request hits the cache."""
    texts = list(dict.fromkeys(queries(count + count // 10)))[:count]
    assert len(texts) == count, f"only {len(texts)} distinct texts"
    return texts


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
        children.setdefault(parent, []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            total += process_cpu(current)
        todo += children.get(current, [])
    return total


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process), from /proc/stat."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split()[1:9]]  # user nice system idle iowait irq ...
    return (sum(ticks) - ticks[3] - ticks[4]) / TICKS


def encode_batches(url: str) -> tuple[int, int] | None:
    """(query-encode calls, texts encoded) so far, from the server's /metrics; None where it does not say."""
    found = dict(BATCH_METRIC.findall(httpx.get(f"{url}/metrics", timeout=10).text))
    if "batches" not in found or "items" not in found:
        return None
    return int(float(found["batches"])), int(float(found["items"]))


class Texts:
    """Hands out each text once over the whole run, in either server."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.used = 0

    def request(self, client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
        self.used += 1
        return client.get("/api/search", params={"q": self.texts[self.used % len(self.texts)], "k": 10})


def measure(row: Row, server: Server, seconds: float, texts: Texts) -> None:
    """`row.clients` clients for `seconds` against `server`, added to `row`."""
    pid = server.process.pid
    batches_before, server_before, client_before = encode_batches(server.url), tree_cpu(pid), time.process_time()
    machine_before = machine_cpu()
    _, latencies, errors = asyncio.run(run_clients(row.clients, seconds, texts.request, server.url))
    row.machine_cpu += machine_cpu() - machine_before
    row.server_cpu += tree_cpu(pid) - server_before
    row.client_cpu += time.process_time() - client_before
    batches_after = encode_batches(server.url)
    if row.encodes is None or batches_before is None or batches_after is None or server.workers > 1:
        row.encodes = None
    else:
        row.encodes += batches_after[0] - batches_before[0]
        row.encoded += batches_after[1] - batches_before[1]
    row.seconds += seconds
    row.latencies += latencies
    row.errors += errors


def ceiling(few: Row, many: Row) -> float:
    """The most `many`'s req/s could be over `few`'s on this machine with nothing else running: every core
    busy with requests that cost the CPU time they cost in `many`, against requests that take their own
    CPU time (as in `few`) one at a time. Contention from elsewhere does not move it much (CPU per request)."""
    return (os.cpu_count() or 1) * (few.server_cpu / len(few.latencies)) / (many.server_cpu / len(many.latencies))


@contextlib.contextmanager
def library_at(path: Path | None, items: int) -> Iterator[Path]:
    """The ViT-B-32 library: built in a scratch folder, or at `path` (kept, and reused if already there)."""
    with contextlib.ExitStack() as stack:
        if path is None:
            path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xmodal-concurrency-"))) / "library"
        if not path.exists():
            started = time.perf_counter()
            build_vit_library(path, items)
            print(f"built {items:,} items in {time.perf_counter() - started:.0f} s", flush=True)
        yield path


@contextlib.contextmanager
def servers(library: Path, port: int) -> Iterator[list[Server]]:
    """One server per batching mode, on consecutive ports, stopped on the way out."""
    started: list[Server] = []
    try:
        for i, (mode, (value, workers)) in enumerate(MODES.items()):
            process = start_server(library, port + i, workers, env={"XMODAL_QUERY_BATCHING": value})
            started.append(Server(mode, f"http://127.0.0.1:{port + i}", process, workers))
        yield started
    finally:
        for server in started:
            server.process.terminate()
            server.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per row, over all rounds")
    parser.add_argument("--clients", default="1,8", help="concurrent client counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="slices each row's seconds are taken in, in turn")
    parser.add_argument("--port", type=int, default=8766, help="the batching server's; the other's is the next")
    parser.add_argument("--library", type=Path, help="build the library here (kept), or reuse the one there")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    texts = Texts(distinct_texts(20_000))
    rows = {(mode, clients): Row(mode, clients) for clients in counts for mode in MODES}
    with library_at(args.library, args.items) as library, servers(library, args.port) as running:
        for server in running:  # the first requests of a process: not measured
            measure(Row(server.mode, max(counts)), server, WARM_UP_SECONDS, texts)
        for round_ in range(args.rounds):
            order = running if round_ % 2 == 0 else running[::-1]
            for clients in counts:
                for server in order:
                    measure(rows[server.mode, clients], server, args.seconds / args.rounds, texts)
                    print(f"round {round_ + 1}: {rows[server.mode, clients].cells()}", flush=True)
    if texts.used > len(texts.texts):
        print(f"warning: {texts.used:,} requests for {len(texts.texts):,} texts: some texts were asked twice")
    low, high = min(counts), max(counts)
    ratios = [f"batching {mode}: **{rows[mode, high].rate / rows[mode, low].rate:.2f}×**" for mode in MODES]
    ceilings = [f"batching {mode}: {ceiling(rows[mode, low], rows[mode, high]):.2f}×" for mode in MODES]
    best = max(MODES, key=lambda mode: rows[mode, high].rate)
    ratios.append(
        f"the best {high}-client server ({best}) over the 1-process batching server's {low} client: "
        f"**{rows[best, high].rate / rows['on', low].rate:.2f}×**"
    )
    print("\n".join(ratios + ceilings), flush=True)
    body = f"""## serve_concurrency

`python -m bench.serve_concurrency --items {args.items} --seconds {args.seconds:g} --clients {args.clients} --rounds {args.rounds}`
— `xmodal serve` on loopback, ViT-B-32 architecture (random weights, its ONNX export encoding
every query), {args.items:,} items (synthetic 512-d vectors, IVF index); `GET /api/search?q=…&k=10`, every
request a new text ({texts.used:,} texts, none asked twice: the query-vector cache never answers). Three servers side by
side: one process with `XMODAL_QUERY_BATCHING=true`, one with `=false`, and `--workers 2` with batching on (each
process batches its own requests; they share the memory-mapped index); each row is {args.seconds:g} s of {", ".join(map(str, counts))}
concurrent clients, taken in {args.rounds} slices in turn with the other rows (after {WARM_UP_SECONDS:g} s unmeasured
per server). Machine: {machine()}.

The clients (asyncio + httpx, one process) run on the same {os.cpu_count()} cores as the server and take CPU from
it: "client CPU %" is theirs, "server CPU %" the server's, "other CPU %" every other process's on the machine
(other people's work on a shared machine; 100 = one core busy the whole time). "texts per encode" is the mean query-encode call from /metrics
(1.00 = each text alone; n/a = batching off, or 2 processes that each count their own). "server CPU ms/req" is the
server's CPU time per answer (all its processes).

| server | clients | req/s | p50 ms | p95 ms | p99 ms | errors | texts per encode | server CPU ms/req | server CPU % | client CPU % | other CPU % |
|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows[mode, clients].cells() for mode in MODES for clients in counts)}

{high} clients / {low} client: {"; ".join(ratios)} (target with batching on: ≥ 2.5×). What it could be on this machine
with nothing else running, if a lone client's request took its CPU time and {high} clients kept every core busy
({os.cpu_count()} × server CPU per request at {low} client / at {high}): {"; ".join(ceilings)}."""
    write_section("serve_concurrency", body)


if __name__ == "__main__":
    main()
