"""The cluster model: servers, clients with ``consistent.Pool``\\ s, the request path, faults.

Theory of operation
-------------------
A request is born at a client (a Poisson arrival, :mod:`sim._workload`). The client's pool
picks an *entry* server; one network hop later the entry looks the key's *home* up in its own
ring view and forwards the request one more hop (or serves it itself when it is the home).
The home serves ``concurrency`` requests at once and queues the rest; the response travels
back the way it came, and the client reports the outcome to its pool.

An attempt that reaches a server that is down is lost; the client notices at its timeout.
Timeouts need no timer per attempt: every attempt has the same timeout, so deadlines are in
the order attempts were sent, and one deque plus a single *sweep* event scheduled at the
oldest live deadline finds the expired ones. Attempts that finish first are skipped when the
sweep reaches them. A lost or failed attempt is retried as the client's ``RetryPolicy`` and
retry budget allow.

Per request the work is: one pool ``acquire`` and ``finish``, an index into the entry's
precomputed home list, and four or five heap pushes. Everything else (faults, membership,
health checks) happens per fault, not per request.

Servers crash, restart, join and leave (:meth:`Model.go_down`, :meth:`Model.come_up`, ...);
the membership model (:mod:`sim._membership`) decides when each other server's view and each
client's pool learns of it. A server's *epoch* changes when it goes down, which invalidates
the service completions already scheduled for requests it was serving.

The model never reads a wall clock; its randomness comes from the engine's named streams.
Observers (:class:`ModelObserver`) are told about rare events; hot-path figures are plain
counters the metrics layer samples.
"""

from __future__ import annotations

import array
import contextlib
import random
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import numpy as np

import consistent
from consistent import NoHealthyEndpointError, PoolFullError
from sim._config import Scenario
from sim._engine import Engine
from sim._membership import HeartbeatModel, View, ViewCache
from sim._placement import ALGORITHMS
from sim._workload import Workload

__all__ = ["Attempt", "Client", "Model", "ModelObserver", "Server", "server_names"]

_CHUNK = 16_384
"""Arrivals and service times drawn per vectorised batch."""


def server_names(count: int) -> list[str]:
    """Names of servers by index: ``s000``, ``s001``, ...

    >>> server_names(3)
    ['s000', 's001', 's002']
    """
    width = max(3, len(str(count - 1)))
    return [f"s{i:0{width}d}" for i in range(count)]


class Server:
    """A server: up or down, its own ring view, a concurrency limit and a FIFO queue."""

    __slots__ = (
        "busy",
        "concurrency",
        "down_at",
        "epoch",
        "homes",
        "incarnation",
        "index",
        "leaving",
        "member",
        "name",
        "placer",
        "queue",
        "up",
        "view",
    )

    def __init__(self, index: int, name: str, concurrency: int) -> None:
        self.index = index
        self.name = name
        self.up = False
        #: Part of the cluster (started and not decommissioned).
        self.member = False
        self.leaving = False
        self.view: View | None = None
        self.homes: list[int] = []
        #: Stateful placement (bounded loads): this server's own ring with its load counts.
        self.placer: Any = None
        self.busy = 0
        self.concurrency = concurrency
        self.queue: deque[Attempt] = deque()
        self.epoch = 0
        self.incarnation = 0
        self.down_at = 0.0

    def __repr__(self) -> str:
        return f"<Server {self.name} {'up' if self.up else 'down'}>"


class Attempt:
    """One attempt of a request: which client, key, entry and home, and whether it is done."""

    __slots__ = (
        "client",
        "done",
        "entry",
        "epoch",
        "home",
        "issued",
        "key",
        "lost",
        "number",
        "placer",
        "rid",
        "started",
    )

    def __init__(
        self, client: Client, key: int, issued: float, number: int, started: float,
        entry: int, rid: int,
    ) -> None:
        self.client = client
        self.key = key
        self.issued = issued
        self.number = number
        self.started = started
        self.entry = entry
        self.home = entry
        self.rid = rid
        self.done = False
        self.epoch = -1
        #: Index of the down server that lost this attempt, or -1.
        self.lost = -1
        #: The entry's stateful placement that holds this attempt (bounded loads), or None.
        self.placer: Any = None


class Client:
    """A client: a ``consistent.Pool`` over the servers it knows, a retry budget, a stream."""

    __slots__ = ("budget", "index", "poll_at", "pool", "probing", "rng")

    def __init__(self, index: int, pool: consistent.Pool, budget: consistent.RetryBudget | None,
                 rng: random.Random) -> None:
        self.index = index
        self.pool = pool
        self.budget = budget
        self.rng = rng
        self.poll_at: float | None = None
        self.probing: set[str] = set()


class ModelObserver:
    """Receives the model's rare events; the metrics layer subclasses it. All no-ops here."""

    def on_down(self, now: float, node: int, kind: str) -> None:
        """``node`` went down (``kind``: crash, restart, decommission)."""

    def on_up(self, now: float, node: int, kind: str) -> None:
        """``node`` came up (``kind``: start, restart, join)."""

    def on_leave(self, now: float, node: int) -> None:
        """``node`` announced it is leaving (decommission)."""

    def on_view(self, now: float, server: int, view: View) -> None:
        """``server`` now routes by ``view``."""

    def on_sent_to_down(self, now: float, node: int) -> None:
        """A client sent an attempt to ``node`` while it was down."""

    def on_attempt_failed(self, now: float, attempt: Attempt, cause: int) -> None:
        """An attempt failed; ``cause`` is the down server that lost it, or -1."""

    def on_pool_change(self, now: float, client: int, node: int, healthy: bool) -> None:
        """A client's pool ejected (``healthy=False``) or readmitted ``node``."""

    def on_network(self, now: float, extra: float) -> None:
        """The extra network delay changed."""


class Model:
    """Servers, clients and the request path of one run (see the module docstring).

    Args:
        scenario: the validated scenario.
        engine: the event engine (its seed drives every random stream).
        observer: told about faults, view changes, failures and pool changes.
    """

    def __init__(
        self, scenario: Scenario, engine: Engine, observer: ModelObserver | None = None
    ) -> None:
        self.scenario = scenario
        self.engine = engine
        self.observer = observer if observer is not None else ModelObserver()
        cluster = scenario.cluster
        total = scenario.max_servers
        self.names = server_names(total)
        self.servers = [Server(i, n, cluster.concurrency) for i, n in enumerate(self.names)]
        self.by_name = {s.name: s for s in self.servers}
        self.keys = np.arange(scenario.workload.keys, dtype=np.uint64)
        self.views = ViewCache(scenario.placement, self.names, self.keys)
        self.heartbeats = HeartbeatModel(
            scenario.membership, total, engine.stream("membership/phases")
        )
        self._membership_rng = engine.stream("membership")
        self._discovery_rng = engine.stream("discovery")
        self.workload = Workload(scenario.workload, scenario.clients.count,
                                 engine.np_stream("workload"))
        self._service_rng = engine.np_stream("service")
        self._jitter_rng = engine.np_stream("network")
        self.delay = scenario.network.delay
        self.extra_delay = 0.0
        #: One hop's delay when there is no jitter (the common, hot case).
        self.hop_delay = self.delay
        self.jitter = scenario.network.jitter
        self._jitters: list[float] = []
        self._jitter_i = 0

        # Hot-path counters, sampled by the metrics layer.
        self.issued = 0
        self.succeeded = 0
        self.failed: dict[str, int] = {"timeout": 0, "rejected": 0, "no_endpoint": 0,
                                       "pool_full": 0}
        self.failed_total = 0
        self.in_flight = 0
        self.attempts = 0
        self.retried = 0
        self.forwarded = 0
        self.attempt_timeouts = 0
        self.attempt_rejections = 0
        self.late_responses = 0
        self.pending_retries = 0
        # Health checks clients sent, and how those that completed came out.
        self.health_checks_sent = 0
        self.health_checks_passed = 0
        self.health_checks_failed = 0
        self.served = [0] * total
        self.latencies = array.array("d")

        #: Times of pending control events (faults, view changes): see :meth:`control_at`.
        self._control_times: list[float] = []
        #: Events run inline (arrivals that did not need the heap).
        self.inline_events = 0
        # Hot-path bindings: one attribute load instead of a chain, per event.
        self._heap = engine.heap
        self._seq = engine.next_seq
        self._duration = scenario.duration
        self._timeout_s = scenario.clients.timeout
        self._queue_limit = scenario.cluster.queue_limit
        self._latencies_append = self.latencies.append
        # Attempts in the order sent, which is the order of their deadlines (started + timeout).
        self._deadlines: deque[Attempt] = deque()
        self._sweep_scheduled = False
        self._service: list[float] = []
        self._service_i = 0
        self._chunk: tuple[list[float], list[int], list[int]] = ([], [], [])
        self._success = consistent.Outcome.SUCCESS
        self._timeout = consistent.Outcome.TIMEOUT
        self._failure = consistent.Outcome.FAILURE

        self.retry_policy = self._make_retry_policy()
        self.clients = [self._make_client(i) for i in range(scenario.clients.count)]

        # Stateful placement (bounded loads): the entry places each request when it gets
        # there, so no decision is taken at send time, and completions release the load.
        self.stateful = ALGORITHMS[scenario.placement.algorithm].stateful
        self._index = {name: i for i, name in enumerate(self.names)}
        if self.stateful:
            self._complete = self._complete_and_release  # type: ignore[method-assign]

    # -- construction ------------------------------------------------------------------

    def _make_client(self, index: int) -> Client:
        config = self.scenario.clients
        rng = self.engine.stream(f"client/{index}")
        backoff = consistent.ExponentialBackoff(
            config.health_check_base, config.health_check_factor, config.health_check_cap,
            jitter=config.health_check_jitter,
        )
        endpoints = [s.name for s in self.servers[: self.scenario.cluster.servers]]
        pool = consistent.Pool(
            endpoints,
            rng=rng,
            strategy=config.strategy,
            failure_threshold=config.failure_threshold,
            max_ejection_share=config.max_ejection_share,
            health_check_backoff=backoff,
        )
        budget = self.retry_policy.new_budget() if config.retry_budget_ratio > 0 else None
        return Client(index, pool, budget, rng)

    def _make_retry_policy(self) -> consistent.RetryPolicy:
        config = self.scenario.clients
        backoff = consistent.ExponentialBackoff(
            config.retry_backoff_base, 2.0, config.retry_backoff_cap
        )
        return consistent.RetryPolicy(
            max_attempts=config.max_attempts,
            prefer_different_endpoint=True,
            backoff=backoff,
            budget_ratio=config.retry_budget_ratio,
        )

    def start(self) -> None:
        """Bring the initial servers up with converged views and schedule the first arrival."""
        initial = frozenset(range(self.scenario.cluster.servers))
        view = self.views.view(initial)
        now = self.engine.now
        for i in sorted(initial):
            server = self.servers[i]
            server.up = server.member = True
            self._adopt(server, view)
            self.observer.on_up(now, i, "start")
        self._chunk = self.workload.next_chunk(_CHUNK)
        first = self._chunk[0][0]
        if first <= self.scenario.duration:
            self.engine.at(first, self._arrive, 0)

    # -- the request path (hot) --------------------------------------------------------

    def _arrive(self, i: int) -> None:
        # Arrivals are known in advance, so while the next one comes before every scheduled
        # event it runs right here, clock advanced, without a trip through the heap. Ties go
        # to the heap's event, which was scheduled first: the order is exactly the heap's.
        engine = self.engine
        heap = self._heap
        times, clients, keys = self._chunk
        all_clients = self.clients
        duration = self._duration
        while True:
            now = times[i]
            engine.now = now
            client = all_clients[clients[i]]
            self.issued += 1
            self.in_flight += 1
            budget = client.budget
            if budget is not None:
                budget.deposit(now)
            self._send(client, keys[i], now, 1, ())
            i += 1
            if i == len(times):
                self._chunk = times, clients, keys = self.workload.next_chunk(_CHUNK)
                i = 0
            next_time = times[i]
            if next_time > duration:
                return
            if heap and heap[0][0] <= next_time:
                heappush(heap, (next_time, self._seq(), self._arrive, i))
                return
            self.inline_events += 1

    def _hop(self) -> float:
        """One network hop's delay now (hot paths read :attr:`hop_delay` without jitter)."""
        delay = self.hop_delay
        if self.jitter:
            i = self._jitter_i
            if i >= len(self._jitters):
                self._jitters = self._jitter_rng.exponential(self.jitter, _CHUNK).tolist()
                i = 0
            self._jitter_i = i + 1
            delay += self._jitters[i]
        return delay

    def _send(self, client: Client, key: int, issued: float, number: int,
              exclude: tuple[str, ...]) -> None:
        now = self.engine.now
        try:
            endpoint, rid = client.pool.acquire(now, exclude) if exclude else \
                client.pool.acquire(now)
        except NoHealthyEndpointError:
            self._attempt_failed(client, key, issued, number, "", "no_endpoint")
            return
        except PoolFullError:
            self._attempt_failed(client, key, issued, number, "", "pool_full")
            return
        server = self.by_name[endpoint]
        attempt = Attempt(client, key, issued, number, now, server.index, rid)
        self.attempts += 1
        if not server.up:
            self.observer.on_sent_to_down(now, server.index)
        self._deadlines.append(attempt)
        if not self._sweep_scheduled:
            self._sweep_scheduled = True
            self.engine.at(now + self._timeout_s, self._sweep)
        hop = self._hop() if self.jitter else self.hop_delay
        arrives = now + hop
        control = self._control_times
        if (control and control[0] <= arrives) or self.stateful:
            # A fault or view change may come first, or the placement depends on the load
            # when the request gets there: let the entry decide then.
            heappush(self._heap, (arrives, self._seq(), self._at_entry, attempt))
            return
        # Nothing can change the entry's state (up, view) before the attempt reaches it, so
        # its decision is known now; this saves an event per request.
        if not server.up:
            attempt.lost = server.index
            return
        home = server.homes[key]
        if home != server.index and home >= 0:
            self.forwarded += 1
            attempt.home = home
            arrives += self._hop() if self.jitter else self.hop_delay
        heappush(self._heap, (arrives, self._seq(), self._at_home, attempt))

    def _at_entry(self, attempt: Attempt) -> None:
        server = self.servers[attempt.entry]
        if not server.up:
            attempt.lost = server.index
            return
        home = self._assign(server, attempt) if self.stateful else server.homes[attempt.key]
        if home == attempt.entry or home < 0:
            self._at_home(attempt)
            return
        self.forwarded += 1
        attempt.home = home
        hop = self._hop() if self.jitter else self.hop_delay
        heappush(self._heap, (self.engine.now + hop, self._seq(), self._at_home, attempt))

    def _assign(self, server: Server, attempt: Attempt) -> int:
        """Place ``attempt`` by the entry's load-aware placement; hold it until released."""
        placer = server.placer
        if not len(placer):
            return -1  # knows no member: serves it itself, as with a static placement
        attempt.placer = placer
        return self._index[placer.assign(attempt.key)]

    @staticmethod
    def _release(attempt: Attempt) -> None:
        """Free the load ``attempt`` holds on its entry's placement (once)."""
        placer = attempt.placer
        if placer is not None:
            attempt.placer = None
            # The ring frees the key's oldest assignment: a hot key's concurrent requests
            # are interchangeable, so per-node counts may trade places, the total never.
            placer.release(attempt.key)

    def _complete_and_release(self, attempt: Attempt) -> None:
        if attempt.epoch == self.servers[attempt.home].epoch:
            self._release(attempt)
        Model._complete(self, attempt)

    def _service_time(self) -> float:
        i = self._service_i
        if i >= len(self._service):
            self._service = self._draw_service()
            i = 0
        self._service_i = i + 1
        return self._service[i]

    def _draw_service(self) -> list[float]:
        cluster = self.scenario.cluster
        mean = cluster.service_mean
        rng = self._service_rng
        if cluster.service == "exponential":
            draws = rng.exponential(mean, _CHUNK)
        elif cluster.service == "constant":
            draws = np.full(_CHUNK, mean)
        else:  # lognormal with the given mean and coefficient of variation
            sigma2 = np.log1p(cluster.service_cv**2)
            draws = rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), _CHUNK)
        result: list[float] = draws.tolist()
        return result

    def _at_home(self, attempt: Attempt) -> None:
        server = self.servers[attempt.home]
        if not server.up:
            attempt.lost = server.index
            return
        if server.busy < server.concurrency:
            server.busy += 1
            attempt.epoch = server.epoch
            # _service_time inlined: this runs once per request.
            i = self._service_i
            if i >= len(self._service):
                self._service = self._draw_service()
                i = 0
            self._service_i = i + 1
            heappush(self._heap, (self.engine.now + self._service[i], self._seq(),
                                  self._complete, attempt))
            return
        limit = self._queue_limit
        if limit and len(server.queue) >= limit:
            self.attempt_rejections += 1
            hops = 1 if attempt.home == attempt.entry else 2
            heappush(self._heap, (self.engine.now + hops * self._hop(), self._seq(),
                                  self._rejected, attempt))
            return
        server.queue.append(attempt)

    def _complete(self, attempt: Attempt) -> None:
        server = self.servers[attempt.home]
        if attempt.epoch != server.epoch:
            return  # the server went down while serving it: lost
        self.served[server.index] += 1
        now = self.engine.now
        queue = server.queue
        if queue:
            nxt = queue.popleft()
            nxt.epoch = server.epoch
            heappush(self._heap, (now + self._service_time(), self._seq(), self._complete, nxt))
        else:
            server.busy -= 1
        hop = self._hop() if self.jitter else self.hop_delay
        if attempt.home != attempt.entry:
            hop += self._hop() if self.jitter else self.hop_delay
        heappush(self._heap, (now + hop, self._seq(), self._respond, attempt))

    def _respond(self, attempt: Attempt) -> None:
        if attempt.done:
            self.late_responses += 1
            return
        attempt.done = True
        now = self.engine.now
        attempt.client.pool.finish(attempt.rid, self._success, now)
        self.succeeded += 1
        self.in_flight -= 1
        self._latencies_append(now - attempt.issued)

    def _rejected(self, attempt: Attempt) -> None:
        if attempt.done:
            return
        attempt.done = True
        self._release(attempt)
        client = attempt.client
        now = self.engine.now
        client.pool.finish(attempt.rid, self._failure, now)
        self.observer.on_attempt_failed(now, attempt, -1)
        self._after_failure(client, self.names[attempt.entry])
        self._retry_or_fail(client, attempt.key, attempt.issued, attempt.number,
                            self.names[attempt.entry], self._failure, "rejected")

    def _sweep(self, _: object) -> None:
        now = self.engine.now
        deadlines = self._deadlines
        timeout = self._timeout_s
        while deadlines:
            attempt = deadlines[0]
            if attempt.done:
                deadlines.popleft()
                continue
            if attempt.started + timeout > now:
                break
            deadlines.popleft()
            self._timed_out(attempt)
        if deadlines:
            self.engine.at(deadlines[0].started + timeout, self._sweep)
        else:
            self._sweep_scheduled = False

    def _timed_out(self, attempt: Attempt) -> None:
        attempt.done = True
        self._release(attempt)
        now = self.engine.now
        client = attempt.client
        client.pool.finish(attempt.rid, self._timeout, now)
        self.attempt_timeouts += 1
        cause = attempt.lost
        if cause < 0 and attempt.epoch >= 0 and self.servers[attempt.home].epoch != attempt.epoch:
            cause = attempt.home
        self.observer.on_attempt_failed(now, attempt, cause)
        endpoint = self.names[attempt.entry]
        self._after_failure(client, endpoint)
        self._retry_or_fail(client, attempt.key, attempt.issued, attempt.number, endpoint,
                            self._timeout, "timeout")

    def _after_failure(self, client: Client, endpoint: str) -> None:
        """Report an ejection to the observer and make sure the pool's checks are polled."""
        pool = client.pool
        if endpoint and endpoint in self.by_name and not self._healthy(pool, endpoint):
            self.observer.on_pool_change(self.engine.now, client.index,
                                         self.by_name[endpoint].index, False)
        self._schedule_poll(client)

    @staticmethod
    def _healthy(pool: consistent.Pool, endpoint: str) -> bool:
        try:
            return bool(pool.is_healthy(endpoint))
        except KeyError:
            return False

    def _attempt_failed(self, client: Client, key: int, issued: float, number: int,
                        endpoint: str, cause: str) -> None:
        """An attempt could not even start (no healthy endpoint, pool full)."""
        self._schedule_poll(client)
        self._retry_or_fail(client, key, issued, number, endpoint, self._failure, cause)

    def _retry_or_fail(self, client: Client, key: int, issued: float, number: int,
                       endpoint: str, outcome: Any, cause: str) -> None:
        now = self.engine.now
        policy = self.retry_policy
        if policy.should_retry(number, outcome, client.budget, now):
            self.retried += 1
            self.pending_retries += 1
            delay = policy.delay_before(number, client.rng)
            exclude = (endpoint,) if endpoint else ()
            self.engine.at(now + delay, self._retry, (client, key, issued, number + 1, exclude))
            return
        self.failed[cause] += 1
        self.failed_total += 1
        self.in_flight -= 1

    def _retry(self, args: tuple[Client, int, float, int, tuple[str, ...]]) -> None:
        self.pending_retries -= 1
        client, key, issued, number, exclude = args
        self._send(client, key, issued, number, exclude)

    # -- control events ------------------------------------------------------------------

    def control_at(self, time: float, callback: Callable[[Any], object],
                   argument: Any = None) -> None:
        """Schedule an event that may change a server's state or view (a *control* event).

        The request path looks at the earliest pending control time to know when it may
        decide a hop in advance; every fault and membership event goes through here.
        """
        heappush(self._control_times, time)
        self.engine.at(time, self._control, (callback, argument))

    def _control(self, item: tuple[Callable[[Any], object], Any]) -> None:
        heappop(self._control_times)
        callback, argument = item
        callback(argument)

    # -- health checks -----------------------------------------------------------------

    def _next_check(self, client: Client) -> float | None:
        """When the client's next health check not already in flight is due, or None.

        A check stays due in the pool until its result is reported, so the pool's own
        earliest due time can name a check that is in flight; polling for it would find
        nothing to do, so those in flight are excluded.
        """
        return client.pool.next_check_at(client.probing)

    def _schedule_poll(self, client: Client) -> None:
        at = self._next_check(client)
        if at is None:
            return
        now = self.engine.now
        at = max(at, now)
        if client.poll_at is not None and client.poll_at <= at:
            return
        client.poll_at = at
        self.engine.at(at, self._poll, client)

    def _poll(self, client: Client) -> None:
        now = self.engine.now
        if client.poll_at is not None and client.poll_at > now:
            return  # superseded by an earlier poll that has already run
        client.poll_at = None
        for endpoint in client.pool.due_checks(now):
            if endpoint in client.probing:
                continue
            client.probing.add(endpoint)
            self.health_checks_sent += 1
            server = self.by_name[endpoint]
            if server.up:
                self.engine.at(now + 2 * self._hop(), self._probe_done, (client, endpoint, True))
            else:
                self.engine.at(now + self.scenario.clients.health_check_timeout,
                               self._probe_done, (client, endpoint, False))
        # Keep the chain alive: checks that were not due yet (or moved later since this poll
        # was scheduled) need their own poll, and nothing else may come to schedule it.
        self._schedule_poll(client)

    def _probe_done(self, args: tuple[Client, str, bool]) -> None:
        client, endpoint, healthy = args
        client.probing.discard(endpoint)
        if healthy:
            self.health_checks_passed += 1
        else:
            self.health_checks_failed += 1
        now = self.engine.now
        pool = client.pool
        try:
            was_healthy = pool.is_healthy(endpoint)
        except KeyError:
            return  # removed from the pool meanwhile
        pool.report_check(endpoint, healthy, now)
        if not was_healthy and pool.is_healthy(endpoint):
            self.observer.on_pool_change(now, client.index, self.by_name[endpoint].index, True)
        self._schedule_poll(client)

    # -- views and membership ----------------------------------------------------------

    def _adopt(self, server: Server, view: View) -> None:
        if self.stateful:
            self._update_placer(server, view)
        self.views.hold(server.view, view)
        server.view = view
        server.homes = view.homes
        self.observer.on_view(self.engine.now, server.index, view)

    def _update_placer(self, server: Server, view: View) -> None:
        """Bring the server's own stateful placement to ``view``'s members, loads kept."""
        placer = server.placer
        if placer is None or not view.members:
            # Starting (or knowing no member): fresh, empty loads. Attempts placed by an
            # earlier placer still hold it and release into it.
            stateful: Any = view.placement  # a BoundedLoadRing: it has copy()
            server.placer = stateful.copy()
            return
        old = server.view.members if server.view is not None else frozenset()
        names = self.names
        # Adds first, so a removal always has somewhere to re-place the requests it held.
        for i in sorted(view.members - old):
            placer.add(names[i])
        for i in sorted(old - view.members):
            placer.remove(names[i])

    def _change_view(self, server: Server, members: frozenset[int]) -> None:
        if server.view is not None and members == server.view.members:
            return
        self._adopt(server, self.views.view(members, near=server.view))

    def _seed_view(self, joining: int) -> frozenset[int]:
        """Membership a starting server fetches from a live peer (itself included)."""
        for server in self.servers:
            if server.up and server.index != joining and server.view is not None:
                return server.view.members | {joining}
        return frozenset({joining})

    def _at_random(self, spread: float) -> float:
        return self._membership_rng.random() * spread

    def go_down(self, node: int, kind: str) -> None:
        """``node`` stops (crash, restart or the end of a decommission's drain)."""
        server = self.servers[node]
        if not server.up:
            return
        now = self.engine.now
        server.up = False
        server.down_at = now
        server.epoch += 1
        server.incarnation += 1
        for attempt in server.queue:
            attempt.lost = node
        server.queue.clear()
        server.busy = 0
        server.placer = None  # in-memory load counts die with the process
        if kind == "decommission":
            server.member = False
        self.observer.on_down(now, node, kind)
        if server.leaving:
            return  # peers removed it when it announced
        for observer in self.servers:
            if observer.index != node and observer.member:
                at = self.heartbeats.detection_time(node, now, self._membership_rng)
                self.control_at(max(at, now), self._learn_removal,
                                (observer.index, node, server.incarnation))

    def _learn_removal(self, args: tuple[int, int, int]) -> None:
        observer, node, incarnation = args
        server = self.servers[node]
        watcher = self.servers[observer]
        if server.incarnation != incarnation or server.up or not watcher.up:
            return
        if watcher.view is not None and node in watcher.view.members:
            self._change_view(watcher, watcher.view.members - {node})

    def come_up(self, node: int, kind: str) -> None:
        """``node`` starts (after a restart, or joining): fetch a view, then announce."""
        server = self.servers[node]
        if server.up:
            return
        now = self.engine.now
        server.up = server.member = True
        server.leaving = False
        server.epoch += 1
        self._change_view(server, self._seed_view(node))
        if self.stateful and server.placer is None and server.view is not None:
            self._update_placer(server, server.view)
        self.observer.on_up(now, node, kind)
        config = self.scenario.membership
        for peer in self.servers:
            if peer.index == node or not peer.member:
                continue
            at = now + config.join_announcement + self._at_random(config.propagation_delay)
            self.control_at(at, self._learn_join, (peer.index, node, server.incarnation))
        # Peers the seed view still lists although they are down or leaving: notice them too.
        assert server.view is not None
        for member in server.view.members:
            peer = self.servers[member]
            if member == node:
                continue
            if not peer.up:
                at = self.heartbeats.detection_time(member, peer.down_at, self._membership_rng)
                silence = config.heartbeat_interval * config.missed_heartbeats
                self.control_at(max(at, now + silence), self._learn_removal,
                                (node, member, peer.incarnation))
            elif peer.leaving:
                self.control_at(now + self._at_random(config.propagation_delay),
                                self._learn_leave, (node, member))
        for peer in self.servers:
            if peer.up and not peer.leaving and peer.index not in server.view.members:
                self.control_at(now + self._at_random(config.propagation_delay),
                                self._learn_join, (node, peer.index, peer.incarnation))

    def _learn_join(self, args: tuple[int, int, int]) -> None:
        observer, node, incarnation = args
        server = self.servers[node]
        watcher = self.servers[observer]
        if server.incarnation != incarnation or not server.up or server.leaving or not watcher.up:
            return
        if watcher.view is not None and node not in watcher.view.members:
            self._change_view(watcher, watcher.view.members | {node})

    def join(self, node: int) -> None:
        """A new server starts and joins; clients discover it after a delay."""
        self.come_up(node, "join")
        config = self.scenario.membership
        now = self.engine.now
        for client in self.clients:
            at = now + config.join_announcement + \
                self._discovery_rng.random() * config.client_discovery_delay
            self.engine.at(at, self._client_add, (client, self.names[node]))

    def _client_add(self, args: tuple[Client, str]) -> None:
        client, endpoint = args
        server = self.by_name[endpoint]
        if not server.member or server.leaving:
            return
        try:
            client.pool.add(endpoint, self.engine.now)
        except (ValueError, KeyError):
            return  # already known
        # A node the client (re-)learns through discovery is admitted healthy, like a
        # passing health check: the metrics count it as re-admitted either way.
        self.observer.on_pool_change(self.engine.now, client.index, server.index, True)

    def decommission(self, node: int, drain: float) -> None:
        """``node`` announces it leaves, keeps serving for ``drain`` seconds, then stops."""
        server = self.servers[node]
        if not server.up or server.leaving:
            return
        now = self.engine.now
        server.leaving = True
        self.observer.on_leave(now, node)
        assert server.view is not None
        self._change_view(server, server.view.members - {node})
        config = self.scenario.membership
        for peer in self.servers:
            if peer.index != node and peer.member:
                self.control_at(now + self._at_random(config.propagation_delay),
                                self._learn_leave, (peer.index, node))
        for client in self.clients:
            at = now + self._discovery_rng.random() * config.client_discovery_delay
            self.engine.at(at, self._client_remove, (client, server.name))
        self.control_at(now + drain, self._stop, node)

    def _learn_leave(self, args: tuple[int, int]) -> None:
        observer, node = args
        watcher = self.servers[observer]
        if watcher.up and watcher.view is not None and node in watcher.view.members:
            self._change_view(watcher, watcher.view.members - {node})

    def _client_remove(self, args: tuple[Client, str]) -> None:
        client, endpoint = args
        with contextlib.suppress(KeyError):  # already gone
            client.pool.remove(endpoint, self.engine.now)
        client.probing.discard(endpoint)

    def _stop(self, node: int) -> None:
        self.go_down(node, "decommission")

    def set_extra_delay(self, extra: float) -> None:
        """Every hop takes ``extra`` seconds longer from now on."""
        self.extra_delay = extra
        self.hop_delay = self.delay + extra
        self.observer.on_network(self.engine.now, extra)

    # -- end of run --------------------------------------------------------------------

    def unfinished_attempts(self) -> int:
        """Attempts sent and not yet finished (counted from the deadline queue)."""
        return sum(1 for attempt in self._deadlines if not attempt.done)

    def check_conservation(self) -> dict[str, int | bool]:
        """Issued = succeeded + failed + in flight, with in flight counted independently."""
        in_flight = self.unfinished_attempts() + self.pending_retries
        ok = self.issued == self.succeeded + self.failed_total + in_flight
        return {
            "issued": self.issued,
            "succeeded": self.succeeded,
            "failed": self.failed_total,
            "in_flight": in_flight,
            "conserved": ok and in_flight == self.in_flight,
        }
