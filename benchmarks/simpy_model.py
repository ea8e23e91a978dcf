"""The same cluster as ``sim``'s model, written the SimPy way, for a head-to-head benchmark.

Processes and events as SimPy users write them: an arrival process spawns one process per
request; a request waits on ``attempt | timeout`` (an ``AnyOf``, SimPy's "renege"); each
attempt is a process that reaches its entry server, is forwarded to the key's home and queues
for the home's ``simpy.Resource``; a server whose process ends *interrupts* the attempts open
on it, as entry or as home (SimPy's "machine breakdown"), with itself and its mode as the
cause; faults, failure detection, discovery and health checks are processes too. It drives
the same library objects as ``sim`` (``consistent.Pool``, ``RetryPolicy``, the placement)
with the same parameters from the same :class:`sim.Scenario`, so the two models should
agree *statistically*; their random draws differ (all but the Zipf permutation of the key
ids, taken from the seed's ``workload`` stream as ``sim`` takes it), so they do not agree
draw for draw.

The semantics are ``sim``'s (:mod:`sim._requests`, :mod:`sim._model`):

* a server that is down *refuses* (``mode = "refuse"``: the sender knows after one round
  trip, connections open on it are reset) or is a *black hole* (``"blackhole"``: senders
  learn at their timeouts); a leaving server refuses new work;
* an entry whose forward fails (refused after a round trip, no answer within
  ``cluster.forward_timeout``) marks the home suspect and fills in from the next replica of
  the key by its own view; with no replica left it answers "upstream unavailable", which the
  client's pool does not hold against it (``clients.eject_on_upstream_error``);
* a graceful restart announces the leave (peers learn by gossip, clients by discovery),
  refuses new work, drains what it holds (at most ``drain`` seconds), stops, and starts
  ``downtime`` later announcing the join; a crash is learnt from missed heartbeats;
* every failed attempt has a cause (refused, timeout, upstream, no_endpoint).

Supported faults: crash, restart and rolling-restart, graceful or not, in either mode (what
the default scenario and the benchmark's comparisons use). Not modelled: hangs, joins,
decommissions, network delays, queue limits and stateful placements (bounded loads). One
shortcut: when an entry crashes while its forward is at the home, the home drops that
request too (``sim``'s home finishes it for nobody); a handful of requests per crash.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

import consistent
import sim
from sim import Crash, KeyPopularity, Restart, RollingRestart, Scenario

__all__ = ["SimPyCluster", "SimPyResult", "run_simpy"]

SUCCESS = consistent.Outcome.SUCCESS
FAILURE = consistent.Outcome.FAILURE
TIMEOUT = consistent.Outcome.TIMEOUT
UPSTREAM = consistent.Outcome.UPSTREAM
LOST = None
"""An attempt nothing comes back for (a black hole): its client learns at its timeout."""

#: Why an attempt failed, by the outcome its client reports, and why its request failed.
ATTEMPT_CAUSE = {FAILURE: "refused", TIMEOUT: "timeout", UPSTREAM: "upstream"}
REQUEST_CAUSE = {"refused": "refused", "timeout": "timeout", "upstream": "unavailable",
                 "no_endpoint": "no_endpoint"}


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
    forward_failures: int = 0
    fill_ins: int = 0
    latencies: list[float] = field(default_factory=list)
    served: list[int] = field(default_factory=list)
    attempt_failures: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("refused", "timeout", "upstream",
                                               "no_endpoint"), 0))
    failed_by_cause: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("refused", "timeout", "unavailable",
                                               "no_endpoint"), 0))

    def metrics(self) -> dict[str, float]:
        """The figures compared with ``sim``'s summary."""
        lat = np.array(self.latencies)
        served = np.array(self.served, dtype=float)
        attempts = self.attempts
        return {
            "success_ratio": self.succeeded / self.issued,
            "failed": float(self.failed),
            "latency_mean": float(lat.mean()),
            "latency_p50": float(np.percentile(lat, 50)),
            "latency_p99": float(np.percentile(lat, 99)),
            "forwarded_per_attempt": self.forwarded / attempts,
            "fill_ins_per_attempt": self.fill_ins / attempts,
            "timeouts_per_attempt": self.attempt_timeouts / attempts,
            "refused_per_attempt": self.attempt_failures["refused"] / attempts,
            "upstream_per_attempt": self.attempt_failures["upstream"] / attempts,
            "retried_per_request": self.retried / self.issued,
            "served_cv": float(served.std() / served.mean()),
        }


class _View:
    """One member set's placement, every key id's home, and preference lists on demand."""

    __slots__ = ("homes", "members", "placement", "preferences")

    def __init__(self, members: frozenset[int], placement: Any, homes: list[int]) -> None:
        self.members = members
        self.placement = placement
        self.homes = homes
        self.preferences: dict[int, tuple[int, ...]] = {}


class _Server:
    """A server process and its host; ``resource`` is new for every start of the process."""

    def __init__(self, env: simpy.Environment, index: int, name: str, capacity: int) -> None:
        self.env = env
        self.index = index
        self.name = name
        self.capacity = capacity
        self.resource = simpy.Resource(env, capacity=capacity)
        self.up = True
        self.leaving = False
        #: Up and not leaving: takes new work.
        self.ok = True
        #: How the world sees it while it is down: "refuse" or "blackhole".
        self.mode = "refuse"
        #: Changes whenever the process stops or starts (news about an older one is stale).
        self.life = 0
        self.down_at = 0.0
        #: Processes with a connection open on this server (as entry or as home): its stop
        #: interrupts them.
        self.open: set[simpy.Process] = set()
        #: Requests it queues or serves as their home.
        self.held = 0
        #: Attempts it is the entry of whose client is still waiting.
        self.inflight = 0
        #: Triggered when a leaving server holds nothing any more.
        self.drained: simpy.Event | None = None
        self.view: _View | None = None
        #: Homes its forwards failed to reach, with when the suspicion runs out.
        self.suspects: dict[int, float] = {}

    def holds_work(self) -> bool:
        return bool(self.held or self.inflight)


class _Client:
    def __init__(self, pool: consistent.Pool, budget: Any, rng: random.Random,
                 env: simpy.Environment) -> None:
        self.pool = pool
        self.budget = budget
        self.rng = rng
        self.wake = env.event()
        self.probing: set[str] = set()


class _Attempt:
    __slots__ = ("done", "key")

    def __init__(self, key: int) -> None:
        self.key = key
        #: The client has its outcome (or gave up): the entry stops working on it.
        self.done = False


class SimPyCluster:
    """The cluster as SimPy processes. Build, then :meth:`run`."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        _check_supported(scenario)
        self.scenario = scenario
        self.env = env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.py_rng = random.Random(seed)
        self.result = SimPyResult()
        cluster = scenario.cluster
        names = sim.server_names(cluster.servers)
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.servers = [_Server(env, i, n, cluster.concurrency) for i, n in enumerate(names)]
        self.by_name = {s.name: s for s in self.servers}
        self.result.served = [0] * cluster.servers
        self.keys = np.arange(scenario.workload.keys, dtype=np.uint64)
        self._views: dict[frozenset[int], _View] = {}
        everyone = frozenset(range(cluster.servers))
        for server in self.servers:
            self._set_view(server, everyone)
        m = scenario.membership
        self.phases = [self.py_rng.random() * m.heartbeat_interval for _ in names]
        self.suspect_for = m.heartbeat_interval * m.missed_heartbeats
        self.forward_timeout = cluster.forward_timeout
        # Which key ids are hot is drawn as sim draws it for this seed, from its "workload"
        # stream: common random numbers for the shape of the load (which servers hold the
        # hot keys), which otherwise dominates seed-to-seed differences. Every draw after
        # that (arrivals, clients, keys, service times) is the model's own.
        self.popularity = KeyPopularity(scenario.workload,
                                        sim.Engine(seed).np_stream("workload"))
        # Draws come from numpy in batches, as a careful SimPy user would write them too:
        # the comparison is about the event machinery, not about per-call numpy overhead.
        rate = scenario.workload.rate
        count = scenario.clients.count
        self._gaps = _batched(lambda n: self.rng.exponential(1.0 / rate, n))
        self._client_ids = _batched(lambda n: self.rng.integers(0, count, n))
        self._keys = _batched(self.popularity.draw)
        self._services = _batched(self._draw_service)
        network = scenario.network
        if network.jitter:
            jitters = _batched(lambda n: self.rng.exponential(network.jitter, n))
            self.hop: Callable[[], float] = lambda: network.delay + next(jitters)
        else:
            self.hop = lambda: network.delay
        c = scenario.clients
        self.policy = consistent.RetryPolicy(
            max_attempts=c.max_attempts,
            prefer_different_endpoint=True,
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
                eject_on_upstream=c.eject_on_upstream_error,
            )
            budget = self.policy.new_budget() if c.retry_budget_ratio > 0 else None
            client = _Client(pool, budget, rng, env)
            self.clients.append(client)
            env.process(self.health_checks(client))
        env.process(self.arrivals())
        for fault in scenario.faults:
            if isinstance(fault, RollingRestart):
                for k in range(fault.nodes or cluster.servers):
                    env.process(self.restart(k, fault.at + k * fault.pace, fault))
            elif isinstance(fault, Restart):
                env.process(self.restart(sim.node_index(fault.node), fault.at, fault))
            else:
                assert isinstance(fault, Crash)
                env.process(self.crash(sim.node_index(fault.node), fault.at, fault.mode))

    # -- views -------------------------------------------------------------------------

    def _set_view(self, server: _Server, members: frozenset[int]) -> None:
        view = self._views.get(members)
        if view is None:
            placement = sim.build_placement(self.scenario.placement,
                                            [self.names[i] for i in sorted(members)])
            to_server = np.array([self.index[n] for n in placement.nodes])
            homes = to_server[sim.home_codes(placement, self.keys)].tolist()
            view = self._views[members] = _View(members, placement, homes)
        old = server.view
        if server.suspects and old is not None:
            # Its view has settled on these nodes: route by the view again.
            for node in [n for n in server.suspects
                         if n not in members or n not in old.members]:
                del server.suspects[node]
        server.view = view

    def _preference(self, server: _Server, key: int) -> tuple[int, ...]:
        """The key's first r distinct nodes by ``server``'s view, home first."""
        view = server.view
        assert view is not None
        found = view.preferences.get(key)
        if found is None:
            count = min(self.scenario.cluster.replication, len(view.members))
            found = view.preferences[key] = tuple(
                self.index[name] for name in view.placement.nodes_for(key, count))
        return found

    # -- requests ----------------------------------------------------------------------

    def arrivals(self) -> Any:
        env = self.env
        while True:
            yield env.timeout(next(self._gaps))
            if env.now > self.scenario.duration:
                return
            env.process(self.request(self.clients[next(self._client_ids)], next(self._keys)))

    def request(self, client: _Client, key: int) -> Any:
        """A request: attempts (each against the client's timeout) and retries."""
        env = self.env
        result = self.result
        result.issued += 1
        issued = env.now
        if client.budget is not None:
            client.budget.deposit(issued)
        exclude: tuple[str, ...] = ()
        timeout = self.scenario.clients.timeout
        number = 1
        while True:
            try:
                endpoint, rid = client.pool.acquire(env.now, exclude)
            except consistent.NoHealthyEndpointError:
                endpoint, outcome, cause = "", FAILURE, "no_endpoint"
            else:
                entry = self.by_name[endpoint]
                entry.inflight += 1
                result.attempts += 1
                attempt = _Attempt(key)
                done = env.process(self.attempt(entry, attempt))
                expired = env.timeout(timeout)
                fired = yield done | expired
                outcome = done.value if done in fired else LOST
                if outcome is LOST:
                    if expired not in fired:
                        yield expired
                    outcome = TIMEOUT
                attempt.done = True
                client.pool.finish(rid, outcome, env.now)
                entry.inflight -= 1
                if entry.leaving:
                    self._check_drained(entry)
                if outcome is SUCCESS:
                    result.succeeded += 1
                    result.latencies.append(env.now - issued)
                    return
                cause = ATTEMPT_CAUSE[outcome]
                if outcome is TIMEOUT:
                    result.attempt_timeouts += 1
            result.attempt_failures[cause] += 1
            if not client.wake.triggered:
                client.wake.succeed()
            if not self.policy.should_retry(number, outcome, client.budget, env.now):
                result.failed += 1
                result.failed_by_cause[REQUEST_CAUSE[cause]] += 1
                return
            result.retried += 1
            yield env.timeout(self.policy.delay_before(number, client.rng))
            exclude = (endpoint,) if endpoint else ()
            number += 1

    def attempt(self, entry: _Server, attempt: _Attempt) -> Any:
        """One attempt: to the entry, routed there, and the answer back to the client."""
        env = self.env
        yield env.timeout(self.hop())
        if not entry.ok:
            if entry.up or entry.mode == "refuse":
                # Leaving (it refuses new work), or its process is gone: refused.
                yield env.timeout(self.hop())
                return FAILURE
            return LOST
        me = env.active_process
        entry.open.add(me)
        try:
            answer = yield from self.route(entry, attempt)
        except simpy.Interrupt as stop:
            # The entry's process ended with this request open on it: reset, or silence.
            if stop.cause[1] == "refuse":
                yield env.timeout(self.hop())
                return FAILURE
            return LOST
        entry.open.discard(me)
        if answer is LOST:
            return LOST  # its client gave up: nobody is waiting
        yield env.timeout(self.hop())
        return answer

    def route(self, entry: _Server, attempt: _Attempt) -> Any:
        """At the entry: forward to the key's home by its view; fill in when that fails."""
        env = self.env
        result = self.result
        key = attempt.key
        assert entry.view is not None
        home = entry.view.homes[key]
        suspects = entry.suspects
        if suspects and home in suspects:
            home = self._first_unsuspected(entry, key)
            if home < 0:
                return UPSTREAM  # every replica is suspect: nothing is worth trying
        if home != entry.index:
            result.forwarded += 1
        tried: list[int] = []
        while True:
            served = yield from self.serve(self.servers[home], entry)
            if served:
                return SUCCESS
            if attempt.done:
                return LOST
            result.forward_failures += 1
            now = env.now
            suspects[home] = now + self.suspect_for
            tried.append(home)
            for node in self._preference(entry, key):
                if node in tried:
                    continue
                until = suspects.get(node)
                if until is not None:
                    if until > now:
                        continue
                    del suspects[node]
                break
            else:
                return UPSTREAM  # no replica left to try
            result.fill_ins += 1
            home = node

    def _first_unsuspected(self, entry: _Server, key: int) -> int:
        now = self.env.now
        suspects = entry.suspects
        for node in self._preference(entry, key):
            until = suspects.get(node)
            if until is None:
                return node
            if until <= now:
                del suspects[node]
                return node
        return -1

    def serve(self, home: _Server, entry: _Server) -> Any:
        """At the home: queue for a slot and serve; True if the response reached the entry.

        The attempt's own process, now open on the home too: a stop of the home interrupts
        it here; a stop of the entry goes on to :meth:`attempt`.
        """
        env = self.env
        sent = env.now
        forwarded = home is not entry
        if forwarded:
            yield env.timeout(self.hop())
        if not home.ok:
            if home.up or home.mode == "refuse":
                yield env.timeout(self.hop())  # refused: the entry knows a hop later
            else:
                yield env.timeout(sent + self.forward_timeout - env.now)  # black hole
            return False
        me = env.active_process
        life = home.life
        if forwarded:
            home.open.add(me)
        home.held += 1
        try:
            with home.resource.request() as slot:
                yield slot
                yield env.timeout(next(self._services))
        except simpy.Interrupt as stop:
            stopped, mode = stop.cause
            if stopped is not home or not forwarded:
                # The entry stopped: the client's problem (the home drops the request).
                if home.life == life:
                    home.open.discard(me)
                    home.held -= 1
                    if home.leaving:
                        self._check_drained(home)
                raise
            # The home's process ended while queueing or serving it.
            if mode == "refuse":
                yield env.timeout(self.hop())  # the connection is reset
            else:
                yield env.timeout(max(0.0, sent + self.forward_timeout - env.now))
            return False
        if forwarded:
            home.open.discard(me)
        home.held -= 1
        self.result.served[home.index] += 1
        if home.leaving:
            self._check_drained(home)
        if forwarded:
            yield env.timeout(self.hop())
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

    # -- servers stopping and starting -------------------------------------------------

    def crash(self, node: int, at: float, mode: str) -> Any:
        yield self.env.timeout(at)
        if self.servers[node].up:
            self._stop(self.servers[node], mode)

    def restart(self, node: int, at: float, fault: Restart | RollingRestart) -> Any:
        """Stop ``node`` at ``at`` (gracefully, or a crash in ``fault.mode``), start it
        ``fault.downtime`` after it stopped."""
        env = self.env
        yield env.timeout(at)
        server = self.servers[node]
        if fault.graceful:
            if not server.up or server.leaving:
                return
            self._announce_leave(server)
            if server.holds_work():
                server.drained = env.event()
                yield server.drained | env.timeout(fault.drain)
            if not server.up or not server.leaving:
                return  # stopped some other way meanwhile
            self._stop(server, "refuse")  # what it still holds is reset
        else:
            if not server.up:
                return
            self._stop(server, fault.mode)
        yield env.timeout(fault.downtime)
        self._start(server, announce=fault.graceful)

    def _check_drained(self, server: _Server) -> None:
        drained = server.drained
        if drained is not None and not drained.triggered and not server.holds_work():
            drained.succeed()

    def _announce_leave(self, server: _Server) -> None:
        """It refuses new work and drops itself; peers learn by gossip, clients by discovery."""
        server.leaving = True
        server.ok = False
        assert server.view is not None
        self._set_view(server, server.view.members - {server.index})
        m = self.scenario.membership
        for peer in self.servers:
            if peer is not server:
                self._later(self.py_rng.random() * m.propagation_delay,
                            self._learn_leave, peer, server)
        for client in self.clients:
            self._later(self.py_rng.random() * m.client_discovery_delay,
                        self._client_remove, client, server)

    def _stop(self, server: _Server, mode: str) -> None:
        """The process ends: connections open on it are reset (refuse) or go silent."""
        now = self.env.now
        server.up = server.ok = False
        server.mode = mode
        server.life += 1
        server.down_at = now
        server.drained = None
        for process in server.open:
            process.interrupt((server, mode))
        server.open = set()
        server.held = 0
        if server.leaving:
            return  # peers removed it when it announced
        for peer in self.servers:
            if peer is not server:
                at = self._detected_at(server.index, now)
                self._later(max(0.0, at - now), self._learn_removal, peer, server, server.life)

    def _start(self, server: _Server, *, announce: bool) -> None:
        """It starts, fetches a view from a live peer, and announces itself."""
        env = self.env
        now = env.now
        m = self.scenario.membership
        server.up = server.ok = True
        server.leaving = False
        server.life += 1
        server.resource = simpy.Resource(env, capacity=server.capacity)
        server.suspects = {}
        seed = next(s for s in self.servers if s.up and s is not server)
        assert seed.view is not None
        self._set_view(server, seed.view.members | {server.index})
        spread = self.py_rng.random
        for peer in self.servers:
            if peer is not server:
                self._later(m.join_announcement + spread() * m.propagation_delay,
                            self._learn_join, peer, server, server.life)
        # Peers the seed's view still lists although they are down or leaving.
        silence = m.heartbeat_interval * m.missed_heartbeats
        assert server.view is not None
        for member in server.view.members:
            peer = self.servers[member]
            if peer is server:
                continue
            if not peer.up:
                at = max(self._detected_at(member, peer.down_at), now + silence)
                self._later(at - now, self._learn_removal, server, peer, peer.life)
            elif peer.leaving:
                self._later(spread() * m.propagation_delay, self._learn_leave, server, peer)
        for peer in self.servers:
            if peer.up and not peer.leaving and peer.index not in server.view.members:
                self._later(spread() * m.propagation_delay, self._learn_join, server, peer,
                            peer.life)
        if announce:
            for client in self.clients:
                self._later(m.join_announcement + spread() * m.client_discovery_delay,
                            self._client_add, client, server)

    def _detected_at(self, node: int, stopped: float) -> float:
        """When one observer removes ``node`` that stopped at ``stopped`` (heartbeats)."""
        m = self.scenario.membership
        interval = m.heartbeat_interval
        phase = self.phases[node]
        if stopped < phase:
            last = phase - interval
        else:
            last = phase + interval * math.floor((stopped - phase) / interval)
        return last + m.missed_heartbeats * interval + \
            self.py_rng.random() * m.propagation_delay

    def _later(self, delay: float, learn: Callable[..., None], *args: Any) -> None:
        self.env.process(self._after(delay, learn, args))

    def _after(self, delay: float, learn: Callable[..., None], args: tuple[Any, ...]) -> Any:
        yield self.env.timeout(delay)
        learn(*args)

    def _learn_removal(self, watcher: _Server, node: _Server, life: int) -> None:
        if node.life != life or not watcher.up or watcher.view is None:
            return  # it came back meanwhile, or the watcher is down
        self._set_view(watcher, watcher.view.members - {node.index})

    def _learn_join(self, watcher: _Server, node: _Server, life: int) -> None:
        if node.life != life or not node.up or node.leaving or not watcher.up \
                or watcher.view is None:
            return
        self._set_view(watcher, watcher.view.members | {node.index})

    def _learn_leave(self, watcher: _Server, node: _Server) -> None:
        if watcher.up and watcher.view is not None and (node.leaving or not node.up):
            self._set_view(watcher, watcher.view.members - {node.index})

    def _client_remove(self, client: _Client, server: _Server) -> None:
        with contextlib.suppress(KeyError):
            client.pool.remove(server.name, self.env.now)
        client.probing.discard(server.name)

    def _client_add(self, client: _Client, server: _Server) -> None:
        if server.leaving:
            return
        with contextlib.suppress(ValueError, KeyError):  # already known
            client.pool.add(server.name, self.env.now)

    # -- health checks -----------------------------------------------------------------

    def health_checks(self, client: _Client) -> Any:
        env = self.env
        while True:
            for endpoint in client.pool.due_checks(env.now):
                if endpoint not in client.probing:
                    client.probing.add(endpoint)
                    env.process(self.probe(client, endpoint))
            at = client.pool.next_check_at(client.probing)
            if client.wake.triggered:
                client.wake = env.event()
            if at is None or at <= env.now:
                yield client.wake
            else:
                yield client.wake | env.timeout(at - env.now)

    def probe(self, client: _Client, endpoint: str) -> Any:
        """A check passes after a round trip; a refusing or leaving server fails it after a
        round trip, a black hole at the check's timeout."""
        server = self.by_name[endpoint]
        healthy = server.ok
        if healthy or server.up or server.mode == "refuse":
            yield self.env.timeout(2 * self.hop())
        else:
            yield self.env.timeout(self.scenario.clients.health_check_timeout)
        client.probing.discard(endpoint)
        with contextlib.suppress(KeyError):  # removed from the pool meanwhile
            client.pool.report_check(endpoint, healthy, self.env.now)
        if not client.wake.triggered:
            client.wake.succeed()

    def run(self) -> SimPyResult:
        """Run to the scenario's duration and return the counts."""
        self.env.run(until=self.scenario.duration)
        return self.result


def _check_supported(scenario: Scenario) -> None:
    unsupported = [f.kind for f in scenario.faults
                   if not isinstance(f, (Crash, Restart, RollingRestart))]
    if unsupported:
        raise ValueError(f"the SimPy model does not support {unsupported[0]!r} faults")
    if scenario.cluster.queue_limit:
        raise ValueError("the SimPy model does not support cluster.queue_limit")
    if sim.ALGORITHMS[scenario.placement.algorithm].stateful:
        raise ValueError("the SimPy model does not support stateful placements")


def _batched(draw: Callable[[int], Any], size: int = 4096) -> Iterator[Any]:
    """Endless values from ``draw(size)`` batches."""
    while True:
        yield from draw(size).tolist()


def run_simpy(scenario: Scenario, seed: int) -> SimPyResult:
    """Run ``scenario`` in the SimPy model with ``seed``."""
    return SimPyCluster(scenario, seed).run()
