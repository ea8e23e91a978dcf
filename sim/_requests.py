"""The request path: arrivals, the entry's forward to the home, service, responses, retries.

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
precomputed home list, and four or five heap pushes. When no control event (a fault or a
view change, :meth:`sim._engine.Engine.control_at`) can come before an attempt reaches its
entry, the entry's decision is taken at send time, saving an event. Everything else
(faults, membership, health checks) happens per fault, not per request.
"""

from __future__ import annotations

import array
from collections import deque
from heapq import heappush
from typing import Any

import numpy as np

import consistent
from consistent import NoHealthyEndpointError, PoolFullError
from sim._clients import Client, Clients
from sim._cluster import Cluster
from sim._config import Scenario
from sim._counters import Counters
from sim._engine import Engine
from sim._network import Network
from sim._observer import Observer
from sim._server import Server
from sim._workload import Workload

__all__ = ["Attempt", "RequestPath"]

_CHUNK = 16_384
"""Arrivals and service times drawn per vectorised batch."""


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


class RequestPath:
    """Every request of a run, from arrival to response (see the module docstring).

    Args:
        scenario: the validated scenario.
        engine: the run's engine (streams ``workload`` and ``service``).
        cluster: the servers and their views.
        clients: the clients, their pools and health checks.
        network: hop delays.
        counters: the hot-path counters this path increments.
        observer: told about failed attempts and attempts sent to a down server.
    """

    def __init__(self, scenario: Scenario, engine: Engine, cluster: Cluster, clients: Clients,
                 network: Network, counters: Counters, observer: Observer) -> None:
        self.scenario = scenario
        self.engine = engine
        self.cluster = cluster
        self.clients = clients
        self.network = network
        self.counters = counters
        self.observer = observer
        self.servers: list[Server] = cluster.servers
        self.names = cluster.names
        self.workload = Workload(scenario.workload, scenario.clients.count,
                                 engine.np_stream("workload"))
        self._service_rng = engine.np_stream("service")
        self.retry_policy = clients.retry_policy
        #: Latency of every successful request, in completion order.
        self.latencies = array.array("d")
        #: Events run inline (arrivals that did not need the heap).
        self.inline_events = 0
        # Hot-path bindings: one attribute load instead of a chain, per event.
        self._heap = engine.heap
        self._seq = engine.next_seq
        self._control_times = engine.control_times
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
        # Stateful placement (bounded loads): the entry places each request when it gets
        # there, so no decision is taken at send time, and completions release the load.
        self.stateful = cluster.stateful
        self._index = cluster.index
        if self.stateful:
            self._complete = self._complete_and_release  # type: ignore[method-assign]

    def start(self) -> None:
        """Schedule the first arrival."""
        self._chunk = self.workload.next_chunk(_CHUNK)
        first = self._chunk[0][0]
        if first <= self.scenario.duration:
            self.engine.at(first, self._arrive, 0)

    # -- arrivals and sending --------------------------------------------------------------

    def _arrive(self, i: int) -> None:
        # Arrivals are known in advance, so while the next one comes before every scheduled
        # event it runs right here, clock advanced, without a trip through the heap. Ties go
        # to the heap's event, which was scheduled first: the order is exactly the heap's.
        engine = self.engine
        heap = self._heap
        times, clients, keys = self._chunk
        all_clients = self.clients.clients
        duration = self._duration
        counters = self.counters
        while True:
            now = times[i]
            engine.now = now
            client = all_clients[clients[i]]
            counters.issued += 1
            counters.in_flight += 1
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
        server = self.cluster.by_name[endpoint]
        attempt = Attempt(client, key, issued, number, now, server.index, rid)
        self.counters.attempts += 1
        if not server.up:
            self.observer.on_sent_to_down(now, server.index)
        self._deadlines.append(attempt)
        if not self._sweep_scheduled:
            self._sweep_scheduled = True
            self.engine.at(now + self._timeout_s, self._sweep)
        network = self.network
        jitter = network.jitter
        arrives = now + (network.hop() if jitter else network.hop_delay)
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
            self.counters.forwarded += 1
            attempt.home = home
            arrives += network.hop() if jitter else network.hop_delay
        heappush(self._heap, (arrives, self._seq(), self._at_home, attempt))

    # -- at the entry and at the home ----------------------------------------------------

    def _at_entry(self, attempt: Attempt) -> None:
        server = self.servers[attempt.entry]
        if not server.up:
            attempt.lost = server.index
            return
        home = self._assign(server, attempt) if self.stateful else server.homes[attempt.key]
        if home == attempt.entry or home < 0:
            self._at_home(attempt)
            return
        self.counters.forwarded += 1
        attempt.home = home
        network = self.network
        hop = network.hop() if network.jitter else network.hop_delay
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
        RequestPath._complete(self, attempt)

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
            self.counters.attempt_rejections += 1
            hops = 1 if attempt.home == attempt.entry else 2
            heappush(self._heap, (self.engine.now + hops * self.network.hop(), self._seq(),
                                  self._rejected, attempt))
            return
        server.queue.append(attempt)

    def _complete(self, attempt: Attempt) -> None:
        server = self.servers[attempt.home]
        if attempt.epoch != server.epoch:
            return  # the server went down while serving it: lost
        self.counters.served[server.index] += 1
        now = self.engine.now
        queue = server.queue
        if queue:
            nxt = queue.popleft()
            nxt.epoch = server.epoch
            heappush(self._heap, (now + self._service_time(), self._seq(), self._complete, nxt))
        else:
            server.busy -= 1
        network = self.network
        if network.jitter:
            hop = network.hop()
            if attempt.home != attempt.entry:
                hop += network.hop()
        else:
            hop = network.hop_delay
            if attempt.home != attempt.entry:
                hop += network.hop_delay
        heappush(self._heap, (now + hop, self._seq(), self._respond, attempt))

    # -- back at the client --------------------------------------------------------------

    def _respond(self, attempt: Attempt) -> None:
        counters = self.counters
        if attempt.done:
            counters.late_responses += 1
            return
        attempt.done = True
        now = self.engine.now
        attempt.client.pool.finish(attempt.rid, self._success, now)
        counters.succeeded += 1
        counters.in_flight -= 1
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
        self.clients.after_failure(client, self.names[attempt.entry])
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
        self.counters.attempt_timeouts += 1
        cause = attempt.lost
        if cause < 0 and attempt.epoch >= 0 and self.servers[attempt.home].epoch != attempt.epoch:
            cause = attempt.home
        self.observer.on_attempt_failed(now, attempt, cause)
        endpoint = self.names[attempt.entry]
        self.clients.after_failure(client, endpoint)
        self._retry_or_fail(client, attempt.key, attempt.issued, attempt.number, endpoint,
                            self._timeout, "timeout")

    def _attempt_failed(self, client: Client, key: int, issued: float, number: int,
                        endpoint: str, cause: str) -> None:
        """An attempt could not even start (no healthy endpoint, pool full)."""
        self.clients.schedule_poll(client)
        self._retry_or_fail(client, key, issued, number, endpoint, self._failure, cause)

    def _retry_or_fail(self, client: Client, key: int, issued: float, number: int,
                       endpoint: str, outcome: Any, cause: str) -> None:
        now = self.engine.now
        policy = self.retry_policy
        counters = self.counters
        if policy.should_retry(number, outcome, client.budget, now):
            counters.retried += 1
            counters.pending_retries += 1
            delay = policy.delay_before(number, client.rng)
            exclude = (endpoint,) if endpoint else ()
            self.engine.at(now + delay, self._retry, (client, key, issued, number + 1, exclude))
            return
        counters.failed[cause] += 1
        counters.failed_total += 1
        counters.in_flight -= 1

    def _retry(self, args: tuple[Client, int, float, int, tuple[str, ...]]) -> None:
        self.counters.pending_retries -= 1
        client, key, issued, number, exclude = args
        self._send(client, key, issued, number, exclude)

    # -- end of run --------------------------------------------------------------------

    def unfinished_attempts(self) -> int:
        """Attempts sent and not yet finished (counted from the deadline queue)."""
        return sum(1 for attempt in self._deadlines if not attempt.done)

    def held_attempts(self) -> list[Attempt]:
        """Attempts sent and not yet finished, in the order sent."""
        return [attempt for attempt in self._deadlines if not attempt.done]
