"""The request path: arrivals, the entry's forward to the home, fill-in, service, replies.

Theory of operation
-------------------
A request is born at a client (a Poisson arrival, :mod:`sim._workload`). The client's pool
picks an *entry* server; one network hop later the entry looks the key's *home* up in its own
ring view and forwards the request one more hop (or serves it itself when it is the home).
The home serves ``concurrency`` requests at once and queues the rest; the response travels
back the way it came, and the client reports the outcome to its pool.

What a sender sees of a server that is not serving depends on why (``Server.mode``):

* **refused** — the process is gone but its host is up, or it is leaving (a graceful stop
  refuses new work): a connection is refused one hop after it arrives, so the sender knows
  a round trip after sending; connections open on a process that dies are reset, and their
  senders know one hop after it died (:meth:`RequestPath.server_stopped`);
* **black hole** — the host is gone, or the process hangs: nothing comes back. A client
  learns at its timeout, an entry at ``cluster.forward_timeout`` after it forwarded.

**Fill-in.** An entry whose forward failed (refused, reset or unanswered) marks the home
*suspect* and sends the request to the next replica of the key by its own view (the key's
first ``r`` distinct nodes, :meth:`sim._views.View.preference`), itself included; its later
requests for keys of a suspect home go straight to the first replica it does not suspect,
until its view settles on that node (drops or re-adds it) or ``k*H`` passes. With no replica
left it answers "upstream unavailable": the client's pool is told
:attr:`consistent.Outcome.UPSTREAM`, which does not count against the entry.

Every reply that ends an attempt (refusal, reset, upstream, overload, timeout) has a cause;
a failed attempt is retried as the client's ``RetryPolicy`` and retry budget allow, and a
request that runs out of attempts fails with its last attempt's cause (``upstream`` reads
``unavailable``). Stale events are recognised, not cancelled: a forward carries a generation
(``Attempt.fwd``) that answering or moving on advances, and a completion must match the
attempt's current home, epoch and ``done_at``.

Timeouts need no timer per attempt: every attempt has the same timeout, so deadlines are in
the order attempts were sent, and one deque plus a single *sweep* event scheduled at the
oldest live deadline finds the expired ones; attempts that finished first are skipped.

Per request the work is: one pool ``acquire`` and ``finish``, an index into the entry's
precomputed home list, and four or five heap pushes. When no control event (a fault or a
view change, :meth:`sim._engine.Engine.control_at`) can come before an attempt reaches its
entry, the entry's decision is taken at send time, saving an event. Everything else
(faults, membership, health checks, fill-in) happens per fault, not per request.
"""

from __future__ import annotations

import array
from collections import deque
from collections.abc import Collection
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
    """One attempt of a request: its client, key, entry and home, and where it stands."""

    __slots__ = (
        "client",
        "done",
        "done_at",
        "entry",
        "entry_at",
        "epoch",
        "fwd",
        "fwd_at",
        "home",
        "home_at",
        "issued",
        "key",
        "lost",
        "number",
        "placer",
        "rid",
        "started",
        "tried",
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
        #: The client has its outcome (a response, a refusal, a reply or its timeout).
        self.done = False
        self.epoch = -1
        #: Index of the server that lost this attempt without a word (black hole), or -1.
        self.lost = -1
        #: The entry's stateful placement that holds this attempt (bounded loads), or None.
        self.placer: Any = None
        #: When it reaches its entry, and (forwarded or not) its current home.
        self.entry_at = 0.0
        self.home_at = 0.0
        #: When the entry sent its current forward.
        self.fwd_at = 0.0
        #: When its current home finishes serving it (-1: not being served).
        self.done_at = -1.0
        #: Generation of the entry's current forward: a forward's failure or timeout that
        #: arrives after the home answered, or after the entry moved on, is stale.
        self.fwd = 0
        #: Homes the entry tried and failed to reach (None until one fails).
        self.tried: list[int] | None = None


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
        membership = scenario.membership
        #: How long an entry skips a home it failed to reach, unless its view settles first.
        self.suspect_for = membership.heartbeat_interval * membership.missed_heartbeats
        self.forward_timeout = scenario.cluster.forward_timeout
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
        self._upstream = consistent.Outcome.UPSTREAM
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
        server.inflight += 1
        if not server.ok:
            self.observer.on_sent_to_down(now, server.index)
        self._deadlines.append(attempt)
        if not self._sweep_scheduled:
            self._sweep_scheduled = True
            self.engine.at(now + self._timeout_s, self._sweep)
        network = self.network
        jitter = network.jitter
        arrives = now + (network.hop() if jitter else network.hop_delay)
        attempt.entry_at = arrives
        control = self._control_times
        if (control and control[0] <= arrives) or self.stateful or not server.ok:
            # A fault or view change may come first, the placement depends on the load when
            # the request gets there, or the entry is not taking work: decide at the entry.
            heappush(self._heap, (arrives, self._seq(), self._at_entry, attempt))
            return
        # Nothing can change the entry's state (up, view) before the attempt reaches it, so
        # its decision is known now; this saves an event per request.
        home = server.homes[key]
        if server.suspects and home in server.suspects:
            heappush(self._heap, (arrives, self._seq(), self._at_entry, attempt))
            return
        if home != server.index and home >= 0:
            self.counters.forwarded += 1
            attempt.home = home
            attempt.fwd_at = arrives
            arrives += network.hop() if jitter else network.hop_delay
        attempt.home_at = arrives
        heappush(self._heap, (arrives, self._seq(), self._at_home, attempt))

    # -- at the entry ------------------------------------------------------------------

    def _at_entry(self, attempt: Attempt) -> None:
        server = self.servers[attempt.entry]
        if not server.ok:
            if server.up and server.hung:
                server.backlog.append(attempt)  # accepted; read when it resumes
            elif server.up or server.mode == "refuse":
                # Leaving (it refuses new work) or its process is gone: connection refused.
                self._after_hop(self._refused, attempt)
            else:
                attempt.lost = server.index
            return
        if self.stateful:
            home = self._assign(server, attempt)
        else:
            home = server.homes[attempt.key]
            if server.suspects and home in server.suspects:
                fill_in = self._next_replica(server, attempt.key, ())
                if fill_in == -2:
                    # Every replica is suspect: answer at once, nothing is worth trying.
                    attempt.home = home
                    self._after_hop(self._upstream_reply, attempt)
                    return
                home = fill_in
        if home == attempt.entry or home < 0:
            attempt.home = attempt.entry
            attempt.home_at = self.engine.now
            self._at_home(attempt)
            return
        self.counters.forwarded += 1
        self._forward(attempt, home)

    def _forward(self, attempt: Attempt, home: int) -> None:
        """The entry sends ``attempt`` on to ``home`` (one hop)."""
        now = self.engine.now
        attempt.home = home
        attempt.fwd_at = now
        network = self.network
        arrives = now + (network.hop() if network.jitter else network.hop_delay)
        attempt.home_at = arrives
        heappush(self._heap, (arrives, self._seq(), self._at_home, attempt))

    def _next_replica(self, server: Server, key: int, tried: Collection[int]) -> int:
        """The first replica of ``key`` by ``server``'s view that it has not ``tried`` and does
        not suspect, or -2 when none is left."""
        now = self.engine.now
        suspects = server.suspects
        for node in self._preference(server, key):
            if node in tried:
                continue
            until = suspects.get(node)
            if until is None:
                return node
            if until <= now:
                del suspects[node]  # the suspicion has run out: try it again
                return node
        return -2

    def _preference(self, server: Server, key: int) -> tuple[int, ...]:
        view = server.view
        return view.preference(key) if view is not None else ()

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

    # -- a failed forward and fill-in -----------------------------------------------------

    def _forward_failed(self, args: tuple[Attempt, int]) -> None:
        """The entry learns its forward failed (refused, reset, or no answer in time)."""
        attempt, fwd = args
        if attempt.fwd != fwd or attempt.done:
            return  # answered meanwhile, already moved on, or the client has given up
        entry = self.servers[attempt.entry]
        if not entry.up or entry.hung:
            return  # the entry itself is gone or stopped: its client finds out on its own
        now = self.engine.now
        failed = attempt.home
        attempt.fwd = fwd + 1
        attempt.done_at = -1.0
        attempt.lost = -1
        counters = self.counters
        counters.forward_failures += 1
        entry.suspects[failed] = now + self.suspect_for
        tried = attempt.tried
        if tried is None:
            tried = attempt.tried = [failed]
        else:
            tried.append(failed)
        self._release(attempt)
        node = self._next_replica(entry, attempt.key, tried)
        if node == -2:
            # No replica left to try: the entry answers "upstream unavailable".
            self._after_hop(self._upstream_reply, attempt)
            return
        counters.fill_ins += 1
        if node == entry.index:
            attempt.home = node
            attempt.home_at = now
            self._at_home(attempt)
        else:
            self._forward(attempt, node)

    # -- at the home -------------------------------------------------------------------

    def _complete_and_release(self, attempt: Attempt) -> None:
        if attempt.epoch == self.servers[attempt.home].epoch \
                and attempt.done_at == self.engine.now:
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
        if not server.ok:
            self._home_not_serving(server, attempt)
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
            done_at = attempt.done_at = self.engine.now + self._service[i]
            heappush(self._heap, (done_at, self._seq(), self._complete, attempt))
            return
        limit = self._queue_limit
        if limit and len(server.queue) >= limit:
            self.counters.attempt_rejections += 1
            hops = 1 if attempt.home == attempt.entry else 2
            heappush(self._heap, (self.engine.now + hops * self.network.hop(), self._seq(),
                                  self._overloaded, attempt))
            return
        server.queue.append(attempt)

    def _home_not_serving(self, server: Server, attempt: Attempt) -> None:
        """``attempt`` reached a home that is down, leaving or hung."""
        forwarded = attempt.home != attempt.entry
        if server.up and server.hung:
            server.queue.append(attempt)  # accepted, waits for the process to resume
            if forwarded:
                self._forward_timer(attempt)
            return
        if not forwarded:
            # The entry is its own home and stopped in between: its client learns as any
            # client of a stopped entry does (reset, or nothing from a black hole).
            if server.up or server.mode == "refuse":
                self._after_hop(self._refused, attempt)
            else:
                attempt.lost = server.index
            return
        if server.up or server.mode == "refuse":
            # Leaving, or the process is gone: the entry's connection is refused.
            self.engine.at(self.engine.now + self.network.hop(), self._forward_failed,
                           (attempt, attempt.fwd))
        else:
            attempt.lost = server.index
            self._forward_timer(attempt)

    def _forward_timer(self, attempt: Attempt) -> None:
        """The entry gives up on the current forward ``forward_timeout`` after sending it."""
        at = max(self.engine.now, attempt.fwd_at + self.forward_timeout)
        self.engine.at(at, self._forward_failed, (attempt, attempt.fwd))

    def _serve_next(self, server: Server, now: float) -> bool:
        """Start serving the first queued attempt still meant for ``server`` (in the slot the
        caller holds for it); False when none is queued."""
        queue = server.queue
        while queue:
            nxt = queue.popleft()
            if nxt.home != server.index:
                continue  # its entry gave up on this server and filled in elsewhere
            nxt.epoch = server.epoch
            done_at = nxt.done_at = now + self._service_time()
            heappush(self._heap, (done_at, self._seq(), self._complete, nxt))
            return True
        return False

    def _complete(self, attempt: Attempt) -> None:
        server = self.servers[attempt.home]
        now = self.engine.now
        if attempt.epoch != server.epoch or attempt.done_at != now:
            return  # the server stopped while serving it, or it was re-routed: stale
        if server.hung:
            # Paused mid-service: it finishes as much later as the hang lasts.
            done_at = attempt.done_at = now + server.hang_for
            heappush(self._heap, (done_at, self._seq(), self._complete, attempt))
            return
        self.counters.served[server.index] += 1
        if server.fresh:
            server.fresh = False
            self.observer.on_first_served(now, server.index)
        attempt.fwd += 1  # answered: a pending forward timeout is stale
        if not (server.queue and self._serve_next(server, now)):
            server.busy -= 1
            if server.leaving and not server.holds_work():
                self._drained(server)
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
        if attempt.done or attempt.lost >= 0:
            counters.late_responses += 1
            return
        attempt.done = True
        now = self.engine.now
        attempt.client.pool.finish(attempt.rid, self._success, now)
        counters.succeeded += 1
        counters.in_flight -= 1
        self._latencies_append(now - attempt.issued)
        entry = self.servers[attempt.entry]
        entry.inflight -= 1
        if entry.leaving and not entry.holds_work():
            self._drained(entry)

    def _after_hop(self, callback: Any, attempt: Attempt) -> None:
        """Deliver a reply (refusal, reset, upstream, overload) to ``attempt``'s client."""
        self.engine.at(self.engine.now + self.network.hop(), callback, attempt)

    def _finish_failed(self, attempt: Attempt, outcome: Any, cause: str, blame: int,
                       request_cause: str) -> None:
        """The client got a failure reply for ``attempt``: report, retry or fail."""
        attempt.done = True
        self._release(attempt)
        client = attempt.client
        now = self.engine.now
        client.pool.finish(attempt.rid, outcome, now)
        counters = self.counters
        counters.attempt_failures[cause] += 1
        self.observer.on_attempt_failed(now, attempt, blame)
        entry = self.servers[attempt.entry]
        entry.inflight -= 1
        if entry.leaving and not entry.holds_work():
            self._drained(entry)
        endpoint = self.names[attempt.entry]
        self.clients.after_failure(client, endpoint)
        self._retry_or_fail(client, attempt.key, attempt.issued, attempt.number, endpoint,
                            outcome, request_cause)

    def _refused(self, attempt: Attempt) -> None:
        """The entry refused the connection, or reset it when its process ended."""
        if attempt.done:
            return
        self._finish_failed(attempt, self._failure, "refused", attempt.entry, "refused")

    def _upstream_reply(self, attempt: Attempt) -> None:
        """The entry answered "upstream unavailable": no replica of the key could serve."""
        if attempt.done:
            return
        blame = attempt.tried[0] if attempt.tried else attempt.home
        self._finish_failed(attempt, self._upstream, "upstream", blame, "unavailable")

    def _overloaded(self, attempt: Attempt) -> None:
        """The home's queue was full: the entry relays an overload reply."""
        if attempt.done:
            return
        # The entry's own overload is its failure; a home's, relayed, is not the entry's.
        outcome = self._failure if attempt.home == attempt.entry else self._upstream
        self._finish_failed(attempt, outcome, "overload", -1, "overload")

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
        cause = attempt.lost
        if cause < 0 and attempt.epoch >= 0 and self.servers[attempt.home].epoch != attempt.epoch:
            cause = attempt.home
        if cause < 0:
            entry = self.servers[attempt.entry]
            home = self.servers[attempt.home]
            cause = entry.index if not entry.ok else home.index if not home.ok else -1
        self.counters.attempt_timeouts += 1
        self._finish_failed(attempt, self._timeout, "timeout", cause, "timeout")

    def _attempt_failed(self, client: Client, key: int, issued: float, number: int,
                        endpoint: str, cause: str) -> None:
        """An attempt could not even start (no healthy endpoint, pool full)."""
        self.counters.attempt_failures[cause] += 1
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

    # -- servers stopping, hanging and resuming (called per fault) --------------------

    def _drained(self, server: Server) -> None:
        callback = server.on_drained
        if callback is not None:
            server.on_drained = None
            callback(server)

    def server_stopped(self, node: int, mode: str) -> None:
        """``node``'s process ended (its queue already dropped): what it held fails.

        With ``mode = "refuse"`` every connection open on it is reset: clients whose entry
        it was learn one hop later, and entries that forwarded to it fill in one hop later.
        With ``"blackhole"`` nobody is told: clients time out, entries at their
        ``forward_timeout``.
        """
        now = self.engine.now
        hop = self.network.hop_delay
        refuse = mode == "refuse"
        for attempt in self._deadlines:
            if attempt.done:
                continue
            if attempt.entry == node:
                if attempt.entry_at > now:
                    continue  # not there yet: refused (or lost) when it arrives
                if attempt.done_at >= 0 and attempt.done_at + (
                        hop if attempt.home != node else 0.0) <= now:
                    continue  # its response has already left this server
                attempt.fwd += 1  # whatever its forward does now, nobody is waiting for it
                if refuse:
                    self._after_hop(self._refused, attempt)
                else:
                    attempt.lost = node
            elif attempt.home == node and attempt.home_at <= now and (
                    attempt.done_at < 0 or attempt.done_at > now):
                if refuse:
                    self.engine.at(now + self.network.hop(), self._forward_failed,
                                   (attempt, attempt.fwd))
                else:
                    attempt.lost = node
                    self._forward_timer(attempt)

    def server_hung(self, node: int) -> None:
        """``node`` stopped answering: entries time out on what they forwarded to it."""
        now = self.engine.now
        for attempt in self._deadlines:
            if attempt.done or attempt.home != node or attempt.entry == node:
                continue
            if attempt.home_at <= now and (attempt.done_at < 0 or attempt.done_at > now):
                self._forward_timer(attempt)

    def server_resumed(self, node: int) -> None:
        """``node`` answers again: it serves what it queued and reads what reached it."""
        server = self.servers[node]
        now = self.engine.now
        while server.busy < server.concurrency and self._serve_next(server, now):
            server.busy += 1
        backlog = server.backlog
        server.backlog = deque()
        for attempt in backlog:
            if not attempt.done:
                self._at_entry(attempt)

    # -- end of run --------------------------------------------------------------------

    def unfinished_attempts(self) -> int:
        """Attempts sent and not yet finished (counted from the deadline queue)."""
        return sum(1 for attempt in self._deadlines if not attempt.done)

    def held_attempts(self) -> list[Attempt]:
        """Attempts sent and not yet finished, in the order sent."""
        return [attempt for attempt in self._deadlines if not attempt.done]
