"""One live client process: open-loop Poisson requests through real ``consistent.Pool`` s.

Run by the live runner (:mod:`sim._live`) as ``python -m sim._live_client SPEC INDEX LOG
PARENT``. The process hosts some of the scenario's clients (client ``i`` lives in process
``i mod processes``); each is what a simulated client is, on a real clock and real sockets:
a :class:`consistent.Pool` built with the same settings as the simulator's (strategy,
``failure_threshold``, ``max_ejection_share``, the health-check backoff, ``eject_on_upstream``)
driven by :class:`consistent.http.AsyncPoolTransport` with the same
:class:`consistent.RetryPolicy`, per-attempt timeout ``clients.timeout`` and health checks of
``GET /health`` bounded by ``health_check_timeout``.

**Arrivals are open-loop.** The process draws Poisson arrival times at its share of
``workload.rate`` and key ids with the scenario's popularity (the same key permutation as a
simulated run of the seed, from :class:`sim._workload.KeyPopularity`), and starts each request
at its intended time whatever happened to the ones before. Latency is measured from the
intended time (no coordinated omission); how late each request was started (the generator's
lag) is logged with it, so the runner can say when the generator fell behind.

**Discovery.** Every ``membership.client_discovery_delay`` seconds (random phase) each client
asks one server of its pool for its view (``GET /_consistent/membership``) and makes its
pool's endpoints the view's members (``update_endpoints``): joins are learnt, leaves dropped.

It prints ``READY`` when its pools are built, waits for ``GO <t0>`` on stdin (t0 on
``time.monotonic()``), runs ``duration`` seconds, waits (bounded) for the requests in flight,
and exits. Log lines: ``req`` (one per request, with its attempts and the id it sent in the
``x-live-request`` header), ``pool`` (a pool's state
change), ``disc`` (a discovery that changed the pool), ``end``.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim._config import Scenario
from sim._engine import Engine, stream_seed
from sim._live_server import KV_PATH, REQUEST_ID_HEADER, LogFile, die_with_parent
from sim._scenario import load_scenario
from sim._workload import KeyPopularity

__all__ = ["attempt_cause", "main"]

_CURRENT: contextvars.ContextVar[list[Any]] = contextvars.ContextVar("live_request")

_REFUSED_ERRORS = frozenset({"ConnectError", "ReadError", "WriteError", "RemoteProtocolError",
                             "LocalProtocolError", "CloseError"})


def attempt_cause(outcome: str, status: int | None, error: str | None) -> str:
    """The simulator's cause of a failed attempt from what the transport saw.

    >>> attempt_cause("upstream", 502, None), attempt_cause("failure", None, "ConnectError")
    ('upstream', 'refused')
    >>> attempt_cause("failure", 503, None), attempt_cause("timeout", None, "ReadTimeout")
    ('overload', 'timeout')
    """
    if outcome == "success":
        return "ok"
    if outcome == "upstream":
        return "upstream"
    if outcome == "timeout":
        return "timeout"
    if status == 503:
        return "overload"
    if error in _REFUSED_ERRORS:
        return "refused"
    return "error"


class _Client:
    """One scenario client: its pool, transport, HTTP client and discovery loop."""

    def __init__(self, index: int, scenario: Scenario, seed: int, address: dict[str, str],
                 log: LogFile) -> None:
        import httpx

        import consistent
        from consistent.http import AsyncPoolTransport

        config = scenario.clients
        self.index = index
        self.log = log
        self.address = address
        self.name_of = {url: name for name, url in address.items()}
        self.rng = random.Random(stream_seed(seed, f"live/client/{index}"))
        backoff = consistent.ExponentialBackoff(
            config.health_check_base, config.health_check_factor, config.health_check_cap,
            jitter=config.health_check_jitter)
        initial = [address[n] for n in sorted(address)[: scenario.cluster.servers]]
        self.pool = consistent.Pool(
            initial, rng=self.rng, strategy=config.strategy,
            failure_threshold=config.failure_threshold,
            max_ejection_share=config.max_ejection_share, health_check_backoff=backoff,
            eject_on_upstream=config.eject_on_upstream_error, observer=self._pool_event,
            now=time.monotonic())
        policy = consistent.RetryPolicy(
            max_attempts=config.max_attempts, prefer_different_endpoint=True,
            backoff=consistent.ExponentialBackoff(config.retry_backoff_base, 2.0,
                                                  config.retry_backoff_cap),
            budget_ratio=config.retry_budget_ratio)
        self.transport = AsyncPoolTransport(
            self.pool, retry=policy, rng=self.rng, health_path="/health",
            health_timeout=config.health_check_timeout, health_poll=0.25,
            on_attempt=self._attempt)
        self.http = httpx.AsyncClient(transport=self.transport, base_url="http://cluster",
                                      timeout=config.timeout, trust_env=False)
        self.discovery = httpx.AsyncClient(timeout=0.5, trust_env=False)
        self.discovery_period = max(scenario.membership.client_discovery_delay, 0.25)

    def _pool_event(self, event: Any) -> None:
        self.log.event("pool", t=event.time, c=self.index, ep=self.name_of.get(event.endpoint),
                       to=event.to_state, frm=event.from_state, why=event.reason)

    def _attempt(self, attempt: Any) -> None:
        attempts = _CURRENT.get(None)
        if attempts is None:
            return
        outcome = attempt.outcome.value if hasattr(attempt.outcome, "value") else \
            str(attempt.outcome)
        attempts.append([self.name_of.get(attempt.endpoint), attempt_cause(
            str(outcome).lower(), attempt.status, attempt.error), attempt.started,
            attempt.ended])

    async def request(self, key: int, intended: float, rid: str) -> None:
        import httpx

        from consistent import NoHealthyEndpointError, PoolFullError

        attempts: list[Any] = []
        _CURRENT.set(attempts)
        started = time.monotonic()
        cause = "ok"
        try:
            response = await self.http.get(f"{KV_PATH}{key}",
                                           headers={REQUEST_ID_HEADER.decode(): rid})
            if response.status_code >= 500 or not attempts:
                cause = attempts[-1][1] if attempts else "error"
        except NoHealthyEndpointError:
            cause = "no_endpoint"
        except PoolFullError:
            cause = "pool_full"
        except httpx.HTTPError:
            cause = attempts[-1][1] if attempts else "error"
        ended = time.monotonic()
        self.log.event("req", t=ended, c=self.index, k=key, i=intended, s=started,
                       cause=cause, a=attempts, rid=rid)

    async def discover(self, until: float) -> None:
        await asyncio.sleep(self.rng.random() * self.discovery_period)
        while time.monotonic() < until:
            endpoints: list[str] = list(self.pool.healthy_endpoints()) or \
                list(self.pool.endpoints)
            if endpoints:
                base = self.rng.choice(endpoints)
                try:
                    reply = await self.discovery.get(base + "/_consistent/membership")
                    members = reply.json()["members"]
                    urls = [self.address[m] for m in sorted(members) if m in self.address]
                    if urls:
                        added, removed = self.transport.update_endpoints(urls)
                        if added or removed:
                            self.log.event("disc", c=self.index,
                                           added=[self.name_of[u] for u in added],
                                           removed=[self.name_of[u] for u in removed])
                except Exception:  # a failed discovery changes nothing
                    pass
            await asyncio.sleep(self.discovery_period)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.discovery.aclose()


async def _run(spec: dict[str, Any], index: int, log: LogFile) -> None:
    scenario = load_scenario(spec["scenario"])
    seed = int(spec["seed"])
    processes = int(spec["client_processes"])
    address = {name: f"http://127.0.0.1:{port}" for name, port in spec["ports"].items()}
    mine = [i for i in range(scenario.clients.count) if i % processes == index]
    clients = [_Client(i, scenario, seed, address, log) for i in mine]
    workload = scenario.workload
    popularity = KeyPopularity(workload, Engine(seed).np_stream("workload"))
    cdf = np.cumsum(popularity.probabilities())
    rng = np.random.default_rng(stream_seed(seed, f"live/arrivals/{index}"))
    rate = workload.rate * len(mine) / scenario.clients.count
    duration = scenario.duration
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if not line.startswith("GO "):
        return
    t0 = float(line.split()[1])
    end = t0 + duration
    discovery = [asyncio.create_task(c.discover(end)) for c in clients]
    tasks: set[asyncio.Task[None]] = set()
    limit = int(rate * duration * 2 + 100)  # a bound far beyond any Poisson draw
    intended = t0
    sent = 0
    max_lag = 0.0
    for _ in range(limit):
        gaps = rng.exponential(1.0 / rate, 256)
        keys = np.searchsorted(cdf, rng.random(256), side="right")
        np.minimum(keys, workload.keys - 1, out=keys)
        which = rng.integers(0, len(clients), 256)
        stop = False
        for gap, key, c in zip(gaps.tolist(), keys.tolist(), which.tolist(), strict=True):
            intended += gap
            if intended >= end:
                stop = True
                break
            delay = intended - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            max_lag = max(max_lag, time.monotonic() - intended)
            task = asyncio.create_task(clients[c].request(key, intended, f"{index}-{sent}"))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        if stop:
            break
    config = scenario.clients
    grace = config.max_attempts * (config.timeout + config.retry_backoff_cap) + 1.0
    if tasks:
        await asyncio.wait(list(tasks), timeout=grace)
    for task in [*tasks, *discovery]:
        task.cancel()
    log.event("end", index=index, sent=sent, max_lag=max_lag, unfinished=len(tasks))
    for c in clients:
        await asyncio.wait_for(c.aclose(), 2.0)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m sim._live_client SPEC INDEX LOG PARENT``."""
    args = sys.argv[1:] if argv is None else argv
    spec_path, index, log_path, parent = args
    die_with_parent(int(parent))
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    log = LogFile(Path(log_path))
    try:
        asyncio.run(_run(spec, int(index), log))
    finally:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
