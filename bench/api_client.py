"""The API load generator of ``bench/api_load.py``: signed requests at a fixed rate, open loop.

Runs in a process of its own so that its CPU never counts as the API's. Request ``i`` is due at
``start + i / rate`` whatever happened to the requests before it (open loop: a slow server makes
requests queue up, and that queueing is part of their latency), on a keep-alive HTTP/1.1
connection taken from a pool, opened when none is idle. Each latency runs from the *scheduled*
send time to the last byte of the response, so a generator that falls behind shows as latency
too, and its own lag is reported apart (``lag_ms``).

Requests are signed with TC3-HMAC-SHA256 by mps's own signer (:mod:`mps.api.auth`, the same
computation as the official SDK's). The HTTP client is a minimal one on asyncio streams (uvloop
when installed): a general-purpose client would cost more CPU per call than the server spends,
on the same two cores.

Prints one JSON object: counts, latencies (ms, in request order), error codes, the generator's
CPU seconds, and the TaskIds returned (``--task-ids``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from mps.api.auth import canonical_request, tc3_signature
from mps.api.wire import RawRequest

#: The API version the official SDK sends.
VERSION = "2019-06-12"
#: Largest number of connections open at once (a request beyond it waits for one to be idle).
MAX_CONNECTIONS = 512
#: Seconds a request may take before it counts as an error (``timeout``).
REQUEST_TIMEOUT = 30.0
#: Idle connections older than this are closed rather than reused: uvicorn closes keep-alive
#: connections idle for 5 s, and a request sent as it does so would fail (a client artefact).
IDLE_SECONDS = 3.0
_TASK_ID = re.compile(rb'"TaskId":\s*"([^"]+)"')
_ERROR_CODE = re.compile(rb'"Error":\s*\{"Code":\s*"([^"]+)"')


@dataclass
class Signer:
    """TC3 headers of one request, from a SecretId/SecretKey pair (none: unsigned)."""

    host: str
    action: str
    secret_id: str | None
    secret_key: str | None
    region: str = "ap-guangzhou"

    def request(self, body: bytes) -> bytes:
        """The bytes of one signed ``POST /`` with ``body``."""
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "host": self.host,
            "x-tc-action": self.action,
            "x-tc-timestamp": timestamp,
            "x-tc-version": VERSION,
            "x-tc-region": self.region,
        }
        if self.secret_id and self.secret_key:
            date = time.strftime("%Y-%m-%d", time.gmtime(int(timestamp)))
            signed = ("content-type", "host")
            canonical = canonical_request(RawRequest("POST", "", headers, body), signed)
            signature = tc3_signature(self.secret_key, date, timestamp, canonical)
            headers["authorization"] = (
                f"TC3-HMAC-SHA256 Credential={self.secret_id}/{date}/mps/tc3_request, "
                f"SignedHeaders=content-type;host, Signature={signature}"
            )
        lines = ["POST / HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
        lines.append(f"content-length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Results:
    """What one run measured."""

    latencies: list[float | None]
    lags: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    task_ids: list[str] = field(default_factory=list)
    connections: int = 0


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Pool:
    """Idle keep-alive connections to one host:port, the most recently used first."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[float, Conn]] = []
        self.opened = 0
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def take(self) -> Conn:
        await self.slots.acquire()
        now = time.monotonic()
        while self.idle:
            used, conn = self.idle.pop()
            if now - used < IDLE_SECONDS:
                return conn
            conn[1].close()
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def give_back(self, conn: Conn | None) -> None:
        if conn is not None:
            self.idle.append((time.monotonic(), conn))
        self.slots.release()


async def _exchange(conn: Conn, data: bytes) -> tuple[int, bytes]:
    reader, writer = conn
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def _one(pool: Pool, signer: Signer, body: bytes, due: float, index: int, out: Results) -> None:
    conn = None
    try:
        conn = await pool.take()
        out.lags.append((time.perf_counter() - due) * 1000)
        status, answer = await asyncio.wait_for(_exchange(conn, signer.request(body)), REQUEST_TIMEOUT)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
        out.codes[f"client:{type(exc).__name__}"] += 1
        if conn is not None:
            conn[1].close()
            conn = None
        pool.give_back(None)
        return
    pool.give_back(conn)
    out.latencies[index] = (time.perf_counter() - due) * 1000
    error = _ERROR_CODE.search(answer)
    if status != 200 or error is not None:
        out.codes[error.group(1).decode() if error else f"http:{status}"] += 1
        out.latencies[index] = None
    elif out.task_ids is not None and (found := _TASK_ID.search(answer)):
        out.task_ids.append(found.group(1).decode())


async def run(
    url: str, signer: Signer, bodies: list[bytes], rate: float, duration: float, collect: bool
) -> Results:
    """Send ``rate * duration`` requests, cycling through ``bodies``, on the schedule."""
    host, _, port = url.rpartition(":")
    pool = Pool(host, int(port))
    count = max(int(rate * duration), 1)
    out = Results(latencies=[None] * count)
    # perf_counter, not loop.time(): uvloop's clock has a resolution of one millisecond.
    start = time.perf_counter() + 0.05
    pending: set[asyncio.Task[None]] = set()
    for index in range(count):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_one(pool, signer, bodies[index % len(bodies)], due, index, out))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=REQUEST_TIMEOUT + 5)
    for _used, (_reader, writer) in pool.idle:
        writer.close()
    out.connections = pool.opened
    if not collect:
        out.task_ids = []
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="host:port of the API")
    parser.add_argument("--action", required=True)
    parser.add_argument("--bodies", required=True, help="JSON file: a list of request objects, cycled")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--task-ids", action="store_true", help="return the TaskIds answered")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        import uvloop  # a cheaper event loop when uvicorn[standard] brought it

        uvloop.install()
    except ImportError:
        pass
    signer = Signer(args.url, args.action, os.environ.get("MPS_SECRET_ID"), os.environ.get("MPS_SECRET_KEY"))
    with open(args.bodies) as file:
        bodies = [json.dumps(item).encode() for item in json.load(file)]
    before = os.times()
    out = asyncio.run(run(args.url, signer, bodies, args.rate, args.duration, args.task_ids))
    after = os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    json.dump(
        {
            "action": args.action, "rate": args.rate, "duration": args.duration,
            "latencies_ms": out.latencies, "lag_ms": out.lags, "codes": dict(out.codes),
            "client_cpu_s": cpu, "connections": out.connections, "task_ids": out.task_ids,
        },
        sys.stdout,
    )  # fmt: skip


if __name__ == "__main__":
    main()
