"""One live server: a real process on 127.0.0.1 serving a scenario's keys over HTTP.

Run by the live runner (:mod:`sim._live`) as ``python -m sim._live_server SPEC NAME FD MODE``;
nothing here is meant to be started by hand. The process

* serves ``GET /kv/<key id>`` with the scenario's concurrency limit and queue
  (``cluster.concurrency``, ``cluster.queue_limit``; a full queue answers ``503`` with
  ``X-Overload: 1``, the simulator's ``overload``), sleeping a service time drawn from
  ``cluster.service`` / ``service_mean`` / ``service_cv``;
* wraps that application in :class:`consistent.http.ForwardToHome` (its own view, fill-in
  along the preference list of ``cluster.replication`` nodes, ``cluster.forward_timeout``, the
  upstream-unavailable reply) and :class:`consistent.http.HeartbeatReceiver`, and drives a
  :class:`consistent.Membership` with :class:`consistent.http.HeartbeatTask`
  (``membership.heartbeat_interval``, ``missed_heartbeats``);
* answers ``GET /health`` (``200`` while it serves);
* on SIGTERM stops gracefully: announces ``left``, stops heartbeats, lets uvicorn close its
  socket (new connections are refused) and finish the requests it holds, bounded by the
  drain the runner passes (uvicorn's ``timeout_graceful_shutdown``), then exits;
* dies with its parent (``PR_SET_PDEATHSIG``), so a killed runner leaves nothing behind;
* appends its events to its own JSON-lines log, one line per event, timed with
  ``time.monotonic()`` (one clock for every process of the host): ``start``, ``view``,
  ``served`` (with the time waited for a slot, the drawn service time, the service as it
  took, whether it was forwarded, and the client's request id), ``overload``, ``fwd`` (a
  forward, a failed forward, a fill-in, an upstream-unavailable reply), ``leave``, ``exit``.

Node names are the simulator's (``s000``, ...), so keys have the same homes as in a simulated
run; the spec maps each name to its port. Keys are the simulator's integer key ids, hashed as
integers, for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import sys
import time
from collections import deque
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from sim._config import Scenario
from sim._engine import stream_seed
from sim._placement import build_placement
from sim._scenario import load_scenario

__all__ = ["REQUEST_ID_HEADER", "LiveServer", "LogFile", "die_with_parent", "main",
           "service_sampler"]

KV_PATH = "/kv/"
"""Requests for key id ``k`` are ``GET /kv/k``."""

REQUEST_ID_HEADER = b"x-live-request"
"""Header naming a client's request (``<process>-<sequence>``), logged with ``served``, so the
runner can split each request's latency into time at the server and time between (the
calibration of :mod:`sim._validate`)."""

OVERLOAD_HEADER = "X-Overload"
"""Header of the ``503`` a server with a full queue answers (the simulator's ``overload``)."""

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has.

    A no-op where ``prctl`` is not available (not Linux).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class LogFile:
    """A JSON-lines event log, one ``write`` per line, so a SIGKILL loses no finished line.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log = LogFile(pathlib.Path(d) / "x.jsonl")
    ...     log.event("start", t=1.0, name="s000")
    ...     log.close()
    ...     (pathlib.Path(d) / "x.jsonl").read_text()
    '{"ev":"start","t":1.0,"name":"s000"}\\n'
    """

    def __init__(self, path: Path) -> None:
        self._handle: IO[str] = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def event(self, event: str, /, **fields: Any) -> None:
        """Append one event; ``t`` defaults to ``time.monotonic()``."""
        fields.setdefault("t", time.monotonic())
        self._handle.write(json.dumps({"ev": event, **fields}, separators=(",", ":")) + "\n")

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def service_sampler(scenario: Scenario, seed: int) -> Any:
    """A function returning the next service time (seconds) of ``scenario``'s distribution.

    >>> from sim._scenario import load_scenario
    >>> draw = service_sampler(load_scenario({"cluster": {"service": "constant"}}), 1)
    >>> draw()
    0.002
    """
    cluster = scenario.cluster
    rng = np.random.default_rng(seed)
    mean = cluster.service_mean
    buffer: list[float] = []

    def draw() -> float:
        if not buffer:
            if cluster.service == "exponential":
                values = rng.exponential(mean, 1024)
            elif cluster.service == "constant":
                values = np.full(1024, mean)
            else:
                sigma2 = float(np.log1p(cluster.service_cv**2))
                values = rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), 1024)
            buffer.extend(reversed(values.tolist()))
        return buffer.pop()

    return draw


class LiveServer:
    """The ASGI application of one live server: ``/kv/<key>`` with a limit and a queue.

    The concurrency limit hands a finished request's slot to the first waiter (FIFO), as the
    simulator's server does; with ``queue_limit > 0`` a request that finds that many waiting
    is answered ``503`` at once.
    """

    def __init__(self, scenario: Scenario, name: str, log: LogFile, seed: int) -> None:
        self.name = name
        self.concurrency = scenario.cluster.concurrency
        self.queue_limit = scenario.cluster.queue_limit
        self.log = log
        self.draw = service_sampler(scenario, seed)
        self.busy = 0
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.serving = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = str(scope.get("path", ""))
        if path == "/health":
            await _reply(send, 200 if self.serving else 503, b"ok\n" if self.serving else b"")
            return
        if not path.startswith(KV_PATH):
            await _reply(send, 404, b"not found\n")
            return
        arrived = time.monotonic()
        if self.busy >= self.concurrency:
            if self.queue_limit and len(self.waiting) >= self.queue_limit:
                self.log.event("overload", t=arrived, k=path[len(KV_PATH):])
                await _reply(send, 503, b"overloaded\n", [(OVERLOAD_HEADER.lower().encode(),
                                                            b"1")])
                return
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            await waiter  # the slot is handed over: busy already counts this request
        else:
            self.busy += 1
        try:
            started = time.monotonic()
            service = self.draw()
            await asyncio.sleep(service)
            headers = scope.get("headers", ())
            forwarded = any(k == b"x-consistent-forwarded" for k, _ in headers)
            rid = next((v.decode("latin-1") for k, v in headers if k == REQUEST_ID_HEADER), None)
            await _reply(send, 200, b"value\n")
            self.log.event("served", k=path[len(KV_PATH):], wait=started - arrived,
                           svc=service, dur=time.monotonic() - started, f=forwarded, rid=rid)
        finally:
            if self.waiting:
                self.waiting.popleft().set_result(None)
            else:
                self.busy -= 1


async def _reply(send: Any, status: int, body: bytes,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _key_id(scope: Any) -> Any:
    """The integer key id of ``/kv/<id>`` (hashed as the simulator hashes it), or None."""
    path = str(scope.get("path", ""))
    if not path.startswith(KV_PATH):
        return None
    text = path[len(KV_PATH):]
    return int(text) if text.isdigit() else text


async def serve(spec: dict[str, Any], name: str, fd: int, mode: str, log: LogFile,
                drain: float) -> None:
    """Run one server until SIGTERM (graceful stop) or SIGKILL."""
    import uvicorn

    from consistent import Membership
    from consistent.http import ForwardToHome, HeartbeatReceiver, HeartbeatTask, MembershipView

    scenario = load_scenario(spec["scenario"])
    ports: dict[str, int] = spec["ports"]
    address = {node: f"http://127.0.0.1:{port}" for node, port in ports.items()}
    initial = list(spec["initial"])
    membership_config = scenario.membership
    incarnation = time.time_ns()
    now = time.monotonic()
    peers = initial if mode == "initial" else [name]
    membership = Membership(name, peers, now=now,
                            heartbeat_interval=membership_config.heartbeat_interval,
                            missed_heartbeats=membership_config.missed_heartbeats,
                            incarnation=incarnation)

    def on_change(members: frozenset[str], version: int) -> None:
        log.event("view", members=sorted(members), version=version)

    heartbeats = HeartbeatTask(membership, seeds=[n for n in spec["seeds"] if n != name],
                               address=address.__getitem__, on_change=on_change)
    view = MembershipView(membership,
                          factory=lambda names: build_placement(scenario.placement, names))

    def observe(event: Any) -> None:
        if event.kind == "local" and (event.node == event.home or event.home is None):
            return  # the home served it: the "served" line says so
        if event.kind == "received":
            return
        log.event("fwd", t=event.at, kind=event.kind, k=event.key, home=event.home,
                  to=event.node, err=event.error)

    seed = stream_seed(int(spec["seed"]), f"live/service/{name}/{incarnation}")
    app = LiveServer(scenario, name, log, seed)
    cluster = scenario.cluster
    forward = ForwardToHome(app, name=name, view=view, key=_key_id,
                            replicas=cluster.replication, address=address.__getitem__,
                            forward_timeout=cluster.forward_timeout,
                            suspect_ttl=membership_config.heartbeat_interval
                            * membership_config.missed_heartbeats,
                            observer=observe)
    outer = HeartbeatReceiver(forward, heartbeats)
    config = uvicorn.Config(cast(Any, outer), log_level="warning", access_log=False,
                            lifespan="on",
                            timeout_graceful_shutdown=cast(Any, max(drain, 0.001)),
                            timeout_keep_alive=5)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if sig == signal.SIGTERM and not stopping:
                loop.call_soon_threadsafe(lambda: stopping.append(loop.create_task(stop())))
            else:
                self.should_exit = True

    server = Server(config)

    async def stop() -> None:
        log.event("leave")
        app.serving = False
        with contextlib.suppress(Exception):  # the leave is best effort, bounded
            await asyncio.wait_for(heartbeats.leave(), membership_config.heartbeat_interval)
        await heartbeats.stop(timeout=1.0)
        server.should_exit = True

    sock = socket.socket(fileno=fd)
    log.event("start", name=name, port=sock.getsockname()[1], pid=os.getpid(),
              incarnation=incarnation, mode=mode)
    log.event("view", members=sorted(membership.members), version=membership.version)
    started = asyncio.Event()

    async def begin() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        await heartbeats.start(announce=mode != "initial")
        started.set()
        sys.stdout.write(f"READY {name}\n")
        sys.stdout.flush()

    ready = loop.create_task(begin())
    try:
        await server.serve(sockets=[sock])
    finally:
        ready.cancel()
        await heartbeats.stop(timeout=1.0)
        log.event("exit")


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m sim._live_server SPEC NAME FD MODE LOG PARENT DRAIN``."""
    args = sys.argv[1:] if argv is None else argv
    spec_path, name, fd, mode, log_path, parent, drain = args
    die_with_parent(int(parent))
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    log = LogFile(Path(log_path))
    try:
        asyncio.run(serve(spec, name, int(fd), mode, log, float(drain)))
    finally:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
