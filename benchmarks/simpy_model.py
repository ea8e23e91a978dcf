"""The same cluster as ``sim``'s model, written the SimPy way, for a head-to-head benchmark.

Processes and events as SimPy users write them: an arrival process spawns one process per
request; a request waits on ``attempt | timeout`` (an ``AnyOf``); servers are
``simpy.Resource``\\ s; faults, failure detection and health checks are processes. It drives
the same library objects as ``sim`` (``consistent.Pool``, ``RetryPolicy``, the placement),
with the same parameters from the same :class:`sim.Scenario`, so the two models should agree
*statistically*; their random draws differ, so they do not agree draw for draw.

Supported faults: crash, restart, rolling-restart (what the default scenario uses).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

import consistent
from sim import Scenario
from sim._config import Crash, Restart, RollingRestart, server_names
from sim._placement import build_placement, home_codes
from sim._workload import KeyPopularity

__all__ = ["SimPyResult", "run_simpy"]


@dataclass
class SimPyResult:
    """Counts and latencies of a SimPy run (the subset compared with ``sim``)."""

    issued: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    forwarded: int = 0
    attempts: int = 0
    attempt_timeouts: int = 0
    events: int = 0
    latencies: list[float] = field(default_factory=list)
    served: list[int] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """The figures compared with ``sim``'s summary."""
        lat = np.array(self.latencies)
        served = np.array(self.served, dtype=float)
        return {
            "success_ratio": self.succeeded / self.issued,
            "latency_mean": float(lat.mean()),
            "latency_p50": float(np.percentile(lat, 50)),
            "latency_p99": float(np.percentile(lat, 99)),
            "forwarded_per_attempt": self.forwarded / self.attempts,
            "timeouts_per_attempt": self.attempt_timeouts / self.attempts,
            "retried_per_request": self.retried / self.issued,
            "served_cv": float(served.std() / served.mean()),
        }


class _Server:
    def __init__(self, env: simpy.Environment, index: int, name: str, capacity: int) -> None:
        self.index = index
        self.name = name
        self.resource = simpy.Resource(env, capacity=capacity)
        self.up = True
        self.epoch = 0
        self.members: frozenset[int] = frozenset()
        self.homes: list[int] = []


class _Client:
    def __init__(self, pool: consistent.Pool, budget: Any, rng: random.Random,
                 env: simpy.Environment) -> None:
        self.pool = pool
        self.budget = budget
        self.rng = rng
        self.wake = env.event()
        self.probing: set[str] = set()


class SimPyCluster:
    """The cluster as SimPy processes. Build, then :meth:`run`."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.env = env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.py_rng = random.Random(seed)
        self.result = SimPyResult()
        cluster = scenario.cluster
        names = server_names(cluster.servers)
        self.names = names
        self.servers = [_Server(env, i, n, cluster.concurrency) for i, n in enumerate(names)]
        self.by_name = {s.name: s for s in self.servers}
        self.result.served = [0] * cluster.servers
        self.keys = np.arange(scenario.workload.keys, dtype=np.uint64)
        self._homes: dict[frozenset[int], list[int]] = {}
        everyone = frozenset(range(cluster.servers))
        for server in self.servers:
            self._set_view(server, everyone)
        self.phases = [self.py_rng.random() * scenario.membership.heartbeat_interval
                       for _ in names]
        self.popularity = KeyPopularity(scenario.workload, self.rng)
        # Draws come from numpy in batches, as a careful SimPy user would write them too:
        # the comparison is about the event machinery, not about per-call numpy overhead.
        rate = scenario.workload.rate
        count = scenario.clients.count
        self._gaps = _batched(lambda n: self.rng.exponential(1.0 / rate, n))
        self._client_ids = _batched(lambda n: self.rng.integers(0, count, n))
        self._keys = _batched(self.popularity.draw)
        self._services = _batched(self._draw_service)
        c = scenario.clients
        self.policy = consistent.RetryPolicy(
            max_attempts=c.max_attempts,
            backoff=consistent.ExponentialBackoff(c.retry_backoff_base, 2.0, c.retry_backoff_cap),
            budget_ratio=c.retry_budget_ratio,
        )
        self.clients = []
        for i in range(c.count):
            rng = random.Random(seed * 10_007 + i)
            pool = consistent.Pool(
                names, rng=rng, strategy=c.strategy, failure_threshold=c.failure_threshold,
                max_ejection_share=c.max_ejection_share,
                health_check_backoff=consistent.ExponentialBackoff(
                    c.health_check_base, c.health_check_factor, c.health_check_cap,
                    jitter=c.health_check_jitter),
            )
            budget = self.policy.new_budget() if c.retry_budget_ratio > 0 else None
            client = _Client(pool, budget, rng, env)
            self.clients.append(client)
            env.process(self.health_checks(client))
        env.process(self.arrivals())
        for fault in scenario.faults:
            if isinstance(fault, RollingRestart):
                for k in range(fault.nodes or cluster.servers):
                    env.process(self.restart(k, fault.at + k * fault.pace, fault.downtime))
            elif isinstance(fault, Restart):
                env.process(self.restart(int(str(fault.node).lstrip("s")), fault.at,
                                         fault.downtime))
            elif isinstance(fault, Crash):
                env.process(self.restart(int(str(fault.node).lstrip("s")), fault.at, math.inf))
            else:
                raise ValueError(f"the SimPy model does not support {fault.kind!r} faults")

    # -- views -------------------------------------------------------------------------

    def _set_view(self, server: _Server, members: frozenset[int]) -> None:
        homes = self._homes.get(members)
        if homes is None:
            placement = build_placement(self.scenario.placement,
                                        [self.names[i] for i in sorted(members)])
            index = {n: i for i, n in enumerate(self.names)}
            to_server = np.array([index[n] for n in placement.nodes])
            homes = self._homes[members] = to_server[home_codes(placement, self.keys)].tolist()
        server.members = members
        server.homes = homes

    # -- processes ---------------------------------------------------------------------

    def hop(self) -> float:
        return self.scenario.network.delay

    def arrivals(self) -> Any:
        env = self.env
        while True:
            yield env.timeout(next(self._gaps))
            if env.now > self.scenario.duration:
                return
            env.process(self.request(self.clients[next(self._client_ids)], next(self._keys)))

    def request(self, client: _Client, key: int) -> Any:
        env = self.env
        result = self.result
        result.issued += 1
        issued = env.now
        if client.budget is not None:
            client.budget.deposit(env.now)
        exclude: tuple[str, ...] = ()
        timeout = self.scenario.clients.timeout
        attempt = 1
        while True:
            endpoint, rid = client.pool.acquire(env.now, exclude)
            result.attempts += 1
            done = env.process(self.attempt(endpoint, key))
            expired = env.timeout(timeout)
            fired = yield done | expired
            if done in fired and done.value:
                client.pool.finish(rid, consistent.Outcome.SUCCESS, env.now)
                result.succeeded += 1
                result.latencies.append(env.now - issued)
                return
            if not expired.triggered or expired not in fired:
                yield expired
            client.pool.finish(rid, consistent.Outcome.TIMEOUT, env.now)
            result.attempt_timeouts += 1
            if not client.wake.triggered:
                client.wake.succeed()
            if not self.policy.should_retry(attempt, consistent.Outcome.TIMEOUT, client.budget,
                                            env.now):
                result.failed += 1
                return
            result.retried += 1
            yield env.timeout(self.policy.delay_before(attempt, client.rng))
            exclude = (endpoint,)
            attempt += 1

    def attempt(self, endpoint: str, key: int) -> Any:
        env = self.env
        entry = self.by_name[endpoint]
        yield env.timeout(self.hop())
        if not entry.up:
            return False
        home = self.servers[entry.homes[key]]
        if home is not entry:
            self.result.forwarded += 1
            yield env.timeout(self.hop())
        if not home.up:
            return False
        epoch = home.epoch
        slot = home.resource.request()
        yield slot
        if home.epoch != epoch:
            home.resource.release(slot)
            return False
        yield env.timeout(next(self._services))
        home.resource.release(slot)
        if home.epoch != epoch:
            return False
        self.result.served[home.index] += 1
        yield env.timeout(self.hop() * (1 if home is entry else 2))
        return True

    def _draw_service(self, n: int) -> Any:
        cluster = self.scenario.cluster
        if cluster.service == "exponential":
            return self.rng.exponential(cluster.service_mean, n)
        if cluster.service == "constant":
            return np.full(n, cluster.service_mean)
        sigma2 = math.log1p(cluster.service_cv ** 2)
        return self.rng.lognormal(math.log(cluster.service_mean) - sigma2 / 2,
                                  math.sqrt(sigma2), n)

    def restart(self, node: int, at: float, downtime: float) -> Any:
        env = self.env
        yield env.timeout(at)
        server = self.servers[node]
        server.up = False
        server.epoch += 1
        m = self.scenario.membership
        interval = m.heartbeat_interval
        phase = self.phases[node]
        last = phase + interval * math.floor((env.now - phase) / interval)
        for peer in self.servers:
            if peer is not server:
                detect = last + m.missed_heartbeats * interval + \
                    self.py_rng.random() * m.propagation_delay
                env.process(self.learn(peer, node, detect - env.now, add=False, epoch=server.epoch))
        if math.isinf(downtime):
            return
        yield env.timeout(downtime)
        server.up = True
        seed = next(s for s in self.servers if s.up and s is not server)
        self._set_view(server, seed.members | {node})
        for peer in self.servers:
            if peer is not server:
                delay = m.join_announcement + self.py_rng.random() * m.propagation_delay
                env.process(self.learn(peer, node, delay, add=True, epoch=server.epoch))

    def learn(self, peer: _Server, node: int, delay: float, *, add: bool, epoch: int) -> Any:
        yield self.env.timeout(max(0.0, delay))
        target = self.servers[node]
        if target.epoch != epoch or not peer.up or target.up != add:
            return
        if add and node not in peer.members:
            self._set_view(peer, peer.members | {node})
        elif not add and node in peer.members:
            self._set_view(peer, peer.members - {node})

    def health_checks(self, client: _Client) -> Any:
        env = self.env
        while True:
            at = client.pool.next_check_at()
            due = [e for e in client.pool.due_checks(env.now) if e not in client.probing]
            for endpoint in due:
                client.probing.add(endpoint)
                env.process(self.probe(client, endpoint))
            if client.wake.triggered:
                client.wake = env.event()
            if at is None or (at <= env.now and not due):
                yield client.wake
            else:
                yield client.wake | env.timeout(max(0.0, at - env.now))

    def probe(self, client: _Client, endpoint: str) -> Any:
        server = self.by_name[endpoint]
        c = self.scenario.clients
        if server.up:
            yield self.env.timeout(2 * self.hop())
        else:
            yield self.env.timeout(c.health_check_timeout)
        client.probing.discard(endpoint)
        client.pool.report_check(endpoint, server.up, self.env.now)
        if not client.wake.triggered:
            client.wake.succeed()

    def run(self) -> SimPyResult:
        """Run to the scenario's duration and return the counts."""
        self.env.run(until=self.scenario.duration)
        return self.result


def _batched(draw: Callable[[int], Any], size: int = 4096) -> Iterator[Any]:
    """Endless values from ``draw(size)`` batches."""
    while True:
        yield from draw(size).tolist()


def run_simpy(scenario: Scenario, seed: int) -> SimPyResult:
    """Run ``scenario`` in the SimPy model with ``seed``."""
    return SimPyCluster(scenario, seed).run()
