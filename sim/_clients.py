"""Clients: a ``consistent.Pool`` each, a retry budget, health checks, and discovery.

Each client holds a :class:`consistent.Pool` over the servers it knows and reports every
attempt's outcome to it; the pool decides ejections and when each ejected server's next
health check is due. :class:`Clients` runs those checks: it polls a pool when its earliest
due check comes (one pending poll per client, moved earlier when a new ejection needs it),
sends a probe that a live server answers after a round trip and a dead one never answers
(the check fails at ``health_check_timeout``), and reports the result back to the pool.

Clients learn of joins and leaves through discovery, within ``client_discovery_delay``
(drawn from the run's ``discovery`` stream).
"""

from __future__ import annotations

import contextlib
import functools
import random

import consistent
from sim._cluster import Cluster
from sim._config import Scenario
from sim._counters import Counters
from sim._engine import Engine
from sim._network import Network
from sim._observer import Observer

__all__ = ["Client", "Clients"]


class Client:
    """A client: a ``consistent.Pool`` over the servers it knows, a retry budget, a stream."""

    __slots__ = ("budget", "index", "poll_at", "pool", "probing", "rng")

    def __init__(self, index: int, pool: consistent.Pool, budget: consistent.RetryBudget | None,
                 rng: random.Random) -> None:
        self.index = index
        self.pool = pool
        self.budget = budget
        self.rng = rng
        #: When this client's pending poll runs, or None.
        self.poll_at: float | None = None
        #: Endpoints with a health check in flight.
        self.probing: set[str] = set()

    def holds_healthy(self, endpoint: str) -> bool:
        """Whether the pool holds ``endpoint`` and may pick it (False if it does not hold it)."""
        try:
            return bool(self.pool.is_healthy(endpoint))
        except KeyError:
            return False

    def __repr__(self) -> str:
        return f"<Client {self.index}>"


class Clients:
    """Every client of a run, their health checks and their discovery of joins and leaves.

    Args:
        scenario: the validated scenario.
        engine: the run's engine (streams ``client/<i>`` and ``discovery``).
        cluster: the servers (a probe asks whether its server is up).
        network: hop delays (a passing probe takes a round trip).
        counters: health-check counters.
        observer: told about ejections and re-admissions.
    """

    def __init__(self, scenario: Scenario, engine: Engine, cluster: Cluster, network: Network,
                 counters: Counters, observer: Observer) -> None:
        self.scenario = scenario
        self.engine = engine
        self.cluster = cluster
        self.network = network
        self.counters = counters
        self.observer = observer
        self._discovery_rng = engine.stream("discovery")
        self.retry_policy = self._make_retry_policy()
        self.clients = [self._make_client(i) for i in range(scenario.clients.count)]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.clients)

    def __len__(self) -> int:
        return len(self.clients)

    def __getitem__(self, index: int) -> Client:
        return self.clients[index]

    # -- construction ------------------------------------------------------------------

    def _make_client(self, index: int) -> Client:
        config = self.scenario.clients
        rng = self.engine.stream(f"client/{index}")
        backoff = consistent.ExponentialBackoff(
            config.health_check_base, config.health_check_factor, config.health_check_cap,
            jitter=config.health_check_jitter,
        )
        endpoints = self.cluster.names[: self.scenario.cluster.servers]
        observer = functools.partial(self.pool_event, index)
        if config.preset != "none":
            pool = consistent.Pool.preset(config.preset, endpoints, rng=rng,
                                          observer=observer)
        else:
            pool = consistent.Pool(
                endpoints,
                rng=rng,
                strategy=config.strategy,
                failure_threshold=config.failure_threshold,
                max_ejection_share=config.max_ejection_share,
                health_check_backoff=backoff,
                eject_on_upstream=config.eject_on_upstream_error,
                observer=observer,
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

    def all_hold_healthy(self, endpoint: str) -> bool:
        """Whether every client's pool holds ``endpoint`` healthy."""
        return all(c.holds_healthy(endpoint) for c in self.clients)

    def any_holds_healthy(self, endpoint: str) -> bool:
        """Whether some client's pool holds ``endpoint`` healthy (and may pick it)."""
        return any(c.holds_healthy(endpoint) for c in self.clients)

    # -- outcomes and health checks ----------------------------------------------------

    def after_failure(self, client: Client, endpoint: str) -> None:
        """Make sure the pool's health checks are polled after a failure (it may have ejected)."""
        self.schedule_poll(client)

    def pool_event(self, client: int, event: consistent.PoolEvent) -> None:
        """A pool's transition: ejections and re-admissions go to the observer.

        Whatever caused them (a failure streak, a detector's interval, a passing check, the
        end of a timed ejection) is the pool's decision, reported where it is made.
        """
        server = self.cluster.by_name.get(event.endpoint)
        if server is None:
            return
        if event.to_state == "ejected" and event.from_state == "healthy":
            self.observer.on_pool_change(event.time, client, server.index, False)
        elif event.to_state == "healthy" and event.from_state == "ejected":
            self.observer.on_pool_change(event.time, client, server.index, True)

    def schedule_poll(self, client: Client) -> None:
        """Poll ``client``'s pool when its next health check not already in flight is due.

        A check stays due in the pool until its result is reported, so the pool's own
        earliest due time can name a check that is in flight; polling for it would find
        nothing to do, so those in flight are excluded.
        """
        at = client.pool.next_check_at(client.probing)
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
        by_name = self.cluster.by_name
        for endpoint in client.pool.due_checks(now):
            if endpoint in client.probing:
                continue
            client.probing.add(endpoint)
            self.counters.health_checks_sent += 1
            server = by_name[endpoint]
            if server.ok:
                self.engine.at(now + 2 * self.network.hop(), self._probe_done,
                               (client, endpoint, True))
            elif server.hung or (not server.up and server.mode == "blackhole"):
                # Nothing answers: the check fails at its timeout.
                self.engine.at(now + self.scenario.clients.health_check_timeout,
                               self._probe_done, (client, endpoint, False))
            else:
                # Refused (process gone) or refusing (leaving): it fails in a round trip.
                self.engine.at(now + 2 * self.network.hop(), self._probe_done,
                               (client, endpoint, False))
        # Keep the chain alive: checks that were not due yet (or moved later since this poll
        # was scheduled) need their own poll, and nothing else may come to schedule it.
        self.schedule_poll(client)

    def _probe_done(self, args: tuple[Client, str, bool]) -> None:
        client, endpoint, healthy = args
        client.probing.discard(endpoint)
        if healthy:
            self.counters.health_checks_passed += 1
        else:
            self.counters.health_checks_failed += 1
        now = self.engine.now
        pool = client.pool
        if endpoint not in pool:
            return  # removed from the pool meanwhile
        pool.report_check(endpoint, healthy, now)
        self.schedule_poll(client)

    # -- discovery -----------------------------------------------------------------------

    def discover_join(self, node: int) -> None:
        """Every client learns of the new server ``node`` after its discovery delay."""
        config = self.scenario.membership
        now = self.engine.now
        name = self.cluster.names[node]
        for client in self.clients:
            at = now + config.join_announcement + \
                self._discovery_rng.random() * config.client_discovery_delay
            self.engine.at(at, self._client_add, (client, name))

    def _client_add(self, args: tuple[Client, str]) -> None:
        client, endpoint = args
        server = self.cluster.by_name[endpoint]
        if not server.member or server.leaving:
            return
        try:
            client.pool.add(endpoint, self.engine.now)
        except (ValueError, KeyError):
            return  # already known
        # A node the client (re-)learns through discovery is admitted healthy, like a
        # passing health check: the metrics count it as re-admitted either way.
        self.observer.on_pool_change(self.engine.now, client.index, server.index, True)

    def discover_leave(self, node: int) -> None:
        """Every client drops the leaving server ``node`` after its discovery delay."""
        config = self.scenario.membership
        now = self.engine.now
        name = self.cluster.names[node]
        for client in self.clients:
            at = now + self._discovery_rng.random() * config.client_discovery_delay
            self.engine.at(at, self._client_remove, (client, name))

    def _client_remove(self, args: tuple[Client, str]) -> None:
        client, endpoint = args
        with contextlib.suppress(KeyError):  # already gone
            client.pool.remove(endpoint, self.engine.now)
        client.probing.discard(endpoint)

