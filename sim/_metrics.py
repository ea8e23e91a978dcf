"""Metrics: collectors that observe the model and never steer it.

Definitions (DESIGN.md, binding):

* **key movement** of a membership change: the fraction of the key space whose home changed
  (exact arcs where the placement offers ``movement_to``, sampled otherwise), beside the
  optimum (the share of the node that joined or left); *movement ratio* = moved / optimum.
  Membership here is the *converged* membership: the servers that are up and not leaving.
* **load skew**: peak-to-mean and coefficient of variation of per-node load over live nodes,
  for key-space ownership (exact, ``ownership()``) and for requests served.
* **recovery** after a fault: time to first detection (a server's view drops the node or a
  client's pool ejects it), client convergence (the last attempt a client sent to the node
  while it was down), ring-view convergence (every live server's view excludes it), the last
  failure the fault caused; after a restart, the time until it serves again (every live
  server's view includes it and every client's pool holds it healthy).
* **requests are conserved**: issued = succeeded + failed + in flight.
* **health checks**: probes clients sent to endpoints their pools had ejected (the pools'
  backoff decides when), and how many passed or failed; the traffic that the backoff base
  and cap trade against recovery time.
* **data availability** with replication r: a key is unavailable while all r replicas (the
  first r nodes of its preference list over the configured members) are down. Over time it
  adds up as *unavailable key-space-seconds*: the share of the key space unavailable
  (0..1) integrated over seconds, so 0.1 for 20 s is 2 share-seconds.

Hot-path figures are counters on the model; a tick event every ``metrics.interval`` copies
them, so the request path pays nothing for metrics.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from consistent import Placement
from sim._config import Scenario
from sim._engine import Engine
from sim._model import Model
from sim._observer import Observer
from sim._placement import ALGORITHMS, build_placement, derive_placement, key_movement
from sim._requests import Attempt
from sim._views import View

__all__ = ["FaultRecord", "MovementRecord", "Recorder", "aggregate_recovery", "skew"]


def skew(loads: npt.ArrayLike) -> tuple[float, float]:
    """Peak-to-mean and coefficient of variation of per-node loads (NaN when undefined).

    >>> skew([1.0, 1.0, 2.0])
    (1.5, 0.3535533905932738)
    """
    values = np.asarray(loads, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    if mean <= 0:
        return math.nan, math.nan
    return float(values.max()) / mean, float(values.std()) / mean


@dataclass
class MovementRecord:
    """Key movement of one change of the converged membership."""

    time: float
    change: str
    node: str
    moved: float
    optimum: float
    exact: bool

    @property
    def ratio(self) -> float:
        """moved / optimum (1.0 is the minimum disruption possible)."""
        return self.moved / self.optimum if self.optimum > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON summary."""
        return {
            "time": self.time, "change": self.change, "node": self.node, "moved": self.moved,
            "optimum": self.optimum, "ratio": self.ratio, "exact": self.exact,
        }


@dataclass
class FaultRecord:
    """Recovery times of one server going down (times are absolute; see :meth:`to_dict`)."""

    kind: str
    node: int
    name: str
    down_at: float
    up_at: float | None = None
    detected_at: float | None = None
    server_detected_at: float | None = None
    client_detected_at: float | None = None
    last_sent_at: float | None = None
    views_converged_at: float | None = None
    last_failure_at: float | None = None
    failures: int = 0
    views_rejoined_at: float | None = None
    clients_rejoined_at: float | None = None
    #: When it served its first request after coming up (joins and restarts).
    first_served_at: float | None = None
    #: Set at the end of the run: clients never stopped sending to it while it was down.
    clients_never_converged: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Durations in seconds after the fault (or after the restart, for rejoining)."""

        def since(t: float | None, start: float | None) -> float | None:
            return None if t is None or start is None else t - start

        serving_again = None
        if self.up_at is not None and self.views_rejoined_at is not None \
                and self.clients_rejoined_at is not None:
            serving_again = max(self.views_rejoined_at, self.clients_rejoined_at) - self.up_at
        return {
            "kind": self.kind,
            "node": self.name,
            "down_at": self.down_at,
            "up_at": self.up_at,
            "detection": since(self.detected_at, self.down_at),
            "server_detection": since(self.server_detected_at, self.down_at),
            "client_detection": since(self.client_detected_at, self.down_at),
            "client_convergence": None if self.clients_never_converged or self.kind == "join"
            else since(self.last_sent_at, self.down_at)
            if self.last_sent_at is not None else 0.0,
            "view_convergence": since(self.views_converged_at, self.down_at),
            "last_failure": since(self.last_failure_at, self.down_at),
            "failures": self.failures,
            "serving_again": serving_again,
            "first_served": since(self.first_served_at, self.up_at),
        }


class Recorder(Observer):
    """Observes one :class:`~sim._model.Model` and builds the time series and summaries.

    Built before the model (the model is given it as its observer), then attached to the
    model by :meth:`start`.

    Args:
        scenario: the run's scenario.
        engine: the run's engine (stream ``metrics/availability``; the tick events).
    """

    def __init__(self, scenario: Scenario, engine: Engine) -> None:
        self.scenario = scenario
        self.engine = engine
        self.model: Model  # attached by start()
        self.interval = scenario.metrics.interval
        self.replication = scenario.cluster.replication
        sample = min(scenario.metrics.availability_sample, scenario.workload.keys)
        rng = engine.np_stream("metrics/availability")
        self._sample_keys = np.sort(rng.choice(scenario.workload.keys, sample, replace=False))
        self._rows: list[dict[str, float]] = []
        self._served_rows: list[list[int]] = []
        self._latency_marks: list[int] = [0]
        self._last: dict[str, float] = {}
        self.movements: list[MovementRecord] = []
        self.faults: list[FaultRecord] = []
        self._open: dict[int, FaultRecord] = {}
        self._rejoining: dict[int, FaultRecord] = {}
        self._live: set[int] = set()
        self._placement: Placement | None = None
        self._ownership: dict[str, float] = {}
        self._keyspace_skew = (math.nan, math.nan)
        self._data_members: set[int] = set()
        self._replicas: npt.NDArray[np.int32] = np.empty((0, 0), dtype=np.int32)
        self._down = np.zeros(scenario.max_servers, dtype=bool)
        self._unavailable = 0.0
        self._unavailable_since = 0.0
        self.unavailable_keyspace_seconds = 0.0
        self.max_unavailable = 0.0
        self.unavailable_time = 0.0
        #: Periods with keys that have no live replica: [start, end or None, peak share].
        self.episodes: list[list[Any]] = []
        self._moved_total = 0.0
        self._extra_delay = 0.0
        #: Ejections by clients' pools: all, of servers that were down, leaving or hung, and
        #: wrongful ones (of a server that was up and serving).
        self.ejections = 0
        self.ejections_of_down = 0
        self.wrongful_ejections = 0
        self._started = False
        #: What had happened when the warm-up (``metrics.warmup``) ended: latencies recorded,
        #: requests served per server, requests succeeded and failed. Steady-state figures
        #: count what came after; None until then.
        self.warmup = scenario.metrics.warmup
        self._at_warmup: tuple[int, list[int], int, int] | None = None

    # -- the tick ------------------------------------------------------------------------

    def start(self, model: Model) -> None:
        """Attach to ``model`` (started), record its membership and schedule the first tick."""
        self.model = model
        self._started = True
        self._set_live(self.model.engine.now, "start", -1)
        self._recompute_replicas()
        self.model.engine.at(self.interval, self._tick)
        if self.warmup > 0:  # no event without a warm-up: default runs keep their event order
            self.model.engine.at(self.warmup, self._end_warmup)

    def _end_warmup(self, _: object) -> None:
        counters = self.model.counters
        self._at_warmup = (len(self.model.requests.latencies), list(counters.served),
                           counters.succeeded, counters.failed_total)

    def _since_warmup(self) -> tuple[int, list[int], int, int]:
        """The warm-up's marks (all zero without one; everything if it outlasted the run)."""
        if self.warmup <= 0:
            return 0, [], 0, 0
        if self._at_warmup is None:
            counters = self.model.counters
            return (len(self.model.requests.latencies), list(counters.served),
                    counters.succeeded, counters.failed_total)
        return self._at_warmup

    def _tick(self, _: object) -> None:
        model = self.model
        now = model.engine.now
        servers = model.servers
        live = [s.index for s in servers if s.up]
        counters = model.counters
        served = list(counters.served)
        previous = self._served_rows[-1] if self._served_rows else [0] * len(served)
        in_bin = np.array(served, dtype=np.float64) - np.array(previous, dtype=np.float64)
        served_ptm, served_cv = skew(in_bin[live]) if live else (math.nan, math.nan)
        views = {id(s.view) for s in servers if s.up}
        converged = frozenset(i for i in live if not servers[i].leaving)
        stale = sum(1 for i in live if servers[i].members != converged)
        row: dict[str, float] = dict(counters.sample(self.COUNTER_COLUMNS))
        row["failed"] = row.pop("failed_total")
        row.update({
            "time": now, "live_servers": len(live), "served_peak_to_mean": served_ptm,
            "served_cv": served_cv, "keyspace_peak_to_mean": self._keyspace_skew[0],
            "keyspace_cv": self._keyspace_skew[1], "unavailable_keys": self._unavailable,
            "distinct_views": len(views), "stale_views": stale, "extra_delay": self._extra_delay,
            "key_movement": self._moved_total, "ejections": self.ejections,
            "wrongful_ejections": self.wrongful_ejections,
        })
        self._rows.append(row)
        self._served_rows.append(served)
        self._latency_marks.append(len(model.requests.latencies))
        if now + self.interval <= model.scenario.duration + 1e-9:
            model.engine.at(now + self.interval, self._tick)

    # -- membership, movement, key-space skew ----------------------------------------------

    def _set_live(self, now: float, change: str, node: int) -> None:
        model = self.model
        live = {s.index for s in model.servers if s.up and not s.leaving}
        if live == self._live:
            return
        names = [model.names[i] for i in sorted(live)]
        before = self._placement
        if not live:
            self._placement = None
            self._ownership = {}
            self._keyspace_skew = (math.nan, math.nan)
            self._live = live
            return
        derived = None
        if before is not None:
            derived = derive_placement(before, [model.names[i] for i in sorted(self._live - live)],
                                       [model.names[i] for i in sorted(live - self._live)])
        after = derived if derived is not None else build_placement(model.scenario.placement,
                                                                    names)
        ownership = after.ownership()
        if before is not None and node >= 0:
            moved, exact = key_movement(before, after)
            name = model.names[node]
            optimum = ownership.get(name, 0.0) if node in live else self._ownership.get(name, 0.0)
            self.movements.append(MovementRecord(now, "add" if node in live else "remove",
                                                 name, moved, optimum, exact))
            self._moved_total += moved
        self._placement = after
        self._ownership = ownership
        self._keyspace_skew = skew(list(ownership.values()))
        self._live = live

    def _recompute_replicas(self) -> None:
        model = self.model
        members = {s.index for s in model.servers if s.member}
        if members == self._data_members:
            return
        self._data_members = members
        if not members:
            # No member holds any data: every key is unavailable.
            self._replicas = np.empty((self._sample_keys.size, 0), dtype=np.int32)
            self._update_availability(model.engine.now)
            return
        placement = build_placement(model.scenario.placement,
                                    [model.names[i] for i in sorted(members)])
        r = min(self.replication, len(members))
        index = {name: i for i, name in enumerate(model.names)}
        rows = [[index[n] for n in placement.nodes_for(int(k), r)]
                for k in self._sample_keys.tolist()]
        self._replicas = np.array(rows, dtype=np.int32).reshape(len(rows), r)
        self._update_availability(model.engine.now)

    def _update_availability(self, now: float) -> None:
        if self._started:
            elapsed = now - self._unavailable_since
            self.unavailable_keyspace_seconds += self._unavailable * elapsed
            if self._unavailable > 0:
                self.unavailable_time += elapsed
        self._unavailable_since = now
        if self._replicas.shape[0]:
            gone = self._down[self._replicas].all(axis=1)
            self._unavailable = float(gone.mean())
        else:
            self._unavailable = 0.0
        self.max_unavailable = max(self.max_unavailable, self._unavailable)
        episode = self.episodes[-1] if self.episodes and self.episodes[-1][1] is None else None
        if self._unavailable > 0:
            if episode is None:
                self.episodes.append([now, None, self._unavailable])
            else:
                episode[2] = max(episode[2], self._unavailable)
        elif episode is not None:
            episode[1] = now

    # -- observer callbacks ---------------------------------------------------------------

    def on_down(self, now: float, node: int, kind: str) -> None:
        model = self.model
        record = FaultRecord(kind, node, model.names[node], now)
        self.faults.append(record)
        self._open[node] = record
        self._rejoining.pop(node, None)
        self._down[node] = True
        if model.servers[node].leaving:
            # Announced before it stopped (a decommission or a graceful restart): everyone
            # was told, nothing had to be detected; views that dropped it before the stop
            # have converged by the stop.
            record.detected_at = record.server_detected_at = now
            record.views_converged_at = now if self._views_exclude(node) else None
        if kind == "decommission":
            self._recompute_replicas()
        self._update_availability(now)
        self._set_live(now, kind, node)

    def on_up(self, now: float, node: int, kind: str) -> None:
        if not self._started:
            return
        self._down[node] = False
        record = self._open.pop(node, None)
        if record is None and kind == "join":
            # A join is measured like a return: until every view and pool includes the new
            # server, and until it serves its first request.
            record = FaultRecord(kind, node, self.model.names[node], now)
            self.faults.append(record)
        if record is not None:
            record.up_at = now
            self._rejoining[node] = record
            # A short outage may end before any view dropped the node or any client ejected
            # it: then nothing is left to re-admit and it serves again at once. Otherwise the
            # view and pool changes that re-admit it close the record (on_view, on_pool_change).
            if self._views_include(node):
                record.views_rejoined_at = now
            name = self.model.names[node]
            if self.model.clients.all_hold_healthy(name):
                record.clients_rejoined_at = now
            self._maybe_close(node, record)
        if kind == "join":
            self._recompute_replicas()
        self._update_availability(now)
        self._set_live(now, kind, node)

    def on_leave(self, now: float, node: int) -> None:
        self._set_live(now, "decommission", node)

    def on_view(self, now: float, server: int, view: View) -> None:
        for node, record in self._open.items():
            if record.views_converged_at is None and self._views_exclude(node):
                record.views_converged_at = now
            if record.server_detected_at is None and node not in view.members \
                    and server != node:
                record.server_detected_at = now
                if record.detected_at is None:
                    record.detected_at = now
        for node, record in list(self._rejoining.items()):
            if record.views_rejoined_at is None and self._views_include(node):
                record.views_rejoined_at = now
                self._maybe_close(node, record)

    def _views_exclude(self, node: int) -> bool:
        return all(node not in s.members for s in self.model.servers
                   if s.up and s.index != node)

    def _views_include(self, node: int) -> bool:
        return all(node in s.members for s in self.model.servers
                   if s.up and not s.leaving)

    def _maybe_close(self, node: int, record: FaultRecord) -> None:
        if record.views_rejoined_at is not None and record.clients_rejoined_at is not None:
            self._rejoining.pop(node, None)

    def on_sent_to_down(self, now: float, node: int) -> None:
        record = self._open.get(node)
        if record is not None:
            record.last_sent_at = now

    def on_attempt_failed(self, now: float, attempt: Attempt, cause: int) -> None:
        record = self._open.get(cause) if cause >= 0 else None
        if record is None and cause >= 0:
            # the server is back up, but this attempt was lost while it was down
            for candidate in reversed(self.faults):
                if candidate.node == cause:
                    record = candidate
                    break
        if record is not None:
            record.last_failure_at = now
            record.failures += 1

    def on_pool_change(self, now: float, client: int, node: int, healthy: bool) -> None:
        if not healthy:
            self.ejections += 1
            if self.model.servers[node].ok:
                # Up, not leaving and not hung: ejected for someone else's failure.
                self.wrongful_ejections += 1
            else:
                self.ejections_of_down += 1
            record = self._open.get(node)
            if record is not None and record.client_detected_at is None:
                record.client_detected_at = now
                if record.detected_at is None:
                    record.detected_at = now
            return
        record = self._rejoining.get(node)
        if record is not None and record.clients_rejoined_at is None:
            name = self.model.names[node]
            if self.model.clients.all_hold_healthy(name):
                record.clients_rejoined_at = now
                self._maybe_close(node, record)

    def on_network(self, now: float, extra: float) -> None:
        self._extra_delay = extra

    # -- results -------------------------------------------------------------------------

    COLUMNS = (
        "time", "issued", "succeeded", "failed", "retried", "forwarded", "attempts",
        "attempt_timeouts", "late_responses", "in_flight", "live_servers",
        "served_peak_to_mean", "served_cv", "keyspace_peak_to_mean", "keyspace_cv",
        "unavailable_keys", "distinct_views", "stale_views", "extra_delay", "key_movement",
        "health_checks_sent", "health_checks_passed", "health_checks_failed",
        "forward_failures", "fill_ins", "ejections", "wrongful_ejections",
    )
    """Time-series columns; counts are per bin, the rest are values at the bin's end."""

    COUNTER_COLUMNS = (
        "issued", "succeeded", "failed_total", "retried", "forwarded", "attempts",
        "attempt_timeouts", "late_responses", "in_flight", "health_checks_sent",
        "health_checks_passed", "health_checks_failed", "forward_failures", "fill_ins",
    )
    """The columns sampled from :class:`~sim._counters.Counters`, by name."""

    CUMULATIVE = ("issued", "succeeded", "failed", "retried", "forwarded", "attempts",
                  "attempt_timeouts", "late_responses", "key_movement", "health_checks_sent",
                  "health_checks_passed", "health_checks_failed", "forward_failures",
                  "fill_ins", "ejections", "wrongful_ejections")

    def finish(self, now: float) -> None:
        """Close the availability integral and the last (possibly partial) bin."""
        self._update_availability(now)
        if not self._rows or self._rows[-1]["time"] < now:
            self._tick(None)
        for record in self._open.values():
            if record.views_converged_at is None and self._views_exclude(record.node) \
                    and any(s.up and s.index != record.node for s in self.model.servers):
                record.views_converged_at = now
            # Clients that still hold it healthy would still send to it, and clients that sent
            # to it in the last bin (a pool in panic) still do: they never converged (and a
            # fault too close to the end to tell is not a convergence either).
            still_sending = record.last_sent_at is not None \
                and record.last_sent_at > now - self.interval
            if still_sending or self.model.clients.any_holds_healthy(record.name):
                record.clients_never_converged = True

    def on_first_served(self, now: float, node: int) -> None:
        for record in reversed(self.faults):
            if record.node == node:
                if record.up_at is not None and record.first_served_at is None:
                    record.first_served_at = now
                break

    def timeseries(self) -> dict[str, npt.NDArray[Any]]:
        """Per-bin columns as numpy arrays (see :attr:`COLUMNS`), plus latency and served."""
        table = np.array([[row[c] for c in self.COLUMNS] for row in self._rows],
                         dtype=np.float64).reshape(len(self._rows), len(self.COLUMNS))
        series: dict[str, npt.NDArray[Any]] = {}
        for j, name in enumerate(self.COLUMNS):
            column = table[:, j]
            if name == "key_movement":
                column = np.diff(column, prepend=0.0)
            elif name in self.CUMULATIVE:
                column = np.diff(column, prepend=0.0).astype(np.int64)
            elif name in ("in_flight", "live_servers", "distinct_views", "stale_views"):
                column = column.astype(np.int64)
            series[name] = column
        latencies = np.frombuffer(self.model.requests.latencies, dtype=np.float64)
        bins = list(itertools.pairwise(self._latency_marks))
        for label, q in (("latency_p50", 50), ("latency_p99", 99)):
            series[label] = np.array([
                np.percentile(latencies[a:b], q) if b > a else math.nan for a, b in bins
            ])
        series["latency_mean"] = np.array([
            latencies[a:b].mean() if b > a else math.nan for a, b in bins
        ])
        served = np.array(self._served_rows, dtype=np.int64)
        series["served"] = np.diff(served, axis=0, prepend=np.zeros((1, served.shape[1]),
                                                                     dtype=np.int64)) \
            if served.size else served
        return series

    def summary(self) -> dict[str, Any]:
        """Everything but the time series, as plain JSON-able values."""
        model = self.model
        counters = model.counters
        first_latency, served_before, succeeded_before, failed_before = self._since_warmup()
        latencies = np.frombuffer(model.requests.latencies, dtype=np.float64)[first_latency:]

        def pct(q: float) -> float | None:
            return float(np.percentile(latencies, q)) if latencies.size else None

        issued = counters.issued
        served = np.array(counters.served, dtype=np.float64)
        served[:len(served_before)] -= served_before
        initial = model.scenario.cluster.servers
        served_ptm, served_cv = skew(served[:initial]) if served[:initial].sum() else \
            (math.nan, math.nan)
        start_ptm, start_cv = self._initial_keyspace_skew()
        movements = [m.to_dict() for m in self.movements]
        ratios = [m.ratio for m in self.movements if m.optimum > 0]
        recovery = [f.to_dict() for f in self.faults]
        return {
            "requests": {
                "issued": issued,
                "succeeded": counters.succeeded,
                "failed": counters.failed_total,
                "failed_by_cause": dict(sorted(counters.failed.items())),
                "in_flight_at_end": counters.in_flight,
                "success_ratio": counters.succeeded / issued if issued else None,
                "attempts": counters.attempts,
                "retried": counters.retried,
                "forwarded": counters.forwarded,
                "attempt_timeouts": counters.attempt_timeouts,
                "attempt_rejections": counters.attempt_rejections,
                "late_responses": counters.late_responses,
                "attempt_failures_by_cause": dict(sorted(counters.attempt_failures.items())),
                "forward_failures": counters.forward_failures,
                "fill_ins": counters.fill_ins,
                **self._after_warmup(succeeded_before, failed_before),
            },
            "ejections": {
                "total": self.ejections,
                "of_down_servers": self.ejections_of_down,
                "wrongful": self.wrongful_ejections,
            },
            "latency": {
                "mean": float(latencies.mean()) if latencies.size else None,
                "p50": pct(50), "p90": pct(90), "p99": pct(99), "p999": pct(99.9),
                "max": float(latencies.max()) if latencies.size else None,
            },
            "load": {
                "keyspace_peak_to_mean": start_ptm,
                "keyspace_cv": start_cv,
                # "exact" from the structure (ring arcs, Maglev table entries) or "expected":
                # each node's expected share over the hash, so the skew is ideal (CV 0).
                "keyspace_method": ALGORITHMS[model.scenario.placement.algorithm].ownership,
                "served_peak_to_mean": served_ptm,
                "served_cv": served_cv,
                "served_share": {
                    model.names[i]: float(served[i] / served.sum()) if served.sum() else 0.0
                    for i in range(len(served))
                },
            },
            "movement": {
                "changes": movements,
                # "exact" (arc lengths), "sampled" (a sample of keys, so a ratio can fall
                # below 1), "mixed", or None without changes.
                "method": _movement_method(self.movements),
                "mean_ratio": float(np.mean(ratios)) if ratios else None,
                "max_ratio": float(np.max(ratios)) if ratios else None,
                "total_moved": float(sum(m.moved for m in self.movements)),
            },
            "health_checks": {
                "sent": counters.health_checks_sent,
                "passed": counters.health_checks_passed,
                "failed": counters.health_checks_failed,
                "in_flight_at_end": counters.health_checks_sent - counters.health_checks_passed
                - counters.health_checks_failed,
                "per_client": counters.health_checks_sent / len(model.clients),
            },
            "recovery": {"faults": recovery, **aggregate_recovery(recovery)},
            "availability": {
                "replication": self.replication,
                "sampled_keys": int(self._sample_keys.size),
                "max_unavailable": self.max_unavailable,
                "unavailable_keyspace_seconds": self.unavailable_keyspace_seconds,
                "time_with_unavailable_keys": self.unavailable_time,
                "episodes": [
                    {"start": start, "end": end, "duration": None if end is None else end - start,
                     "peak_unavailable": peak}
                    for start, end, peak in self.episodes
                ],
            },
        }

    def _after_warmup(self, succeeded_before: int, failed_before: int) -> dict[str, Any]:
        """Requests finished after the warm-up, when there is one (else nothing)."""
        if self.warmup <= 0:
            return {}
        succeeded = self.model.counters.succeeded - succeeded_before
        failed = self.model.counters.failed_total - failed_before
        finished = succeeded + failed
        return {"after_warmup": {
            "warmup": self.warmup, "succeeded": succeeded, "failed": failed,
            "success_ratio": succeeded / finished if finished else None,
        }}

    def _initial_keyspace_skew(self) -> tuple[float, float]:
        model = self.model
        names = [model.names[i] for i in range(model.scenario.cluster.servers)]
        ownership = build_placement(model.scenario.placement, names).ownership()
        return skew(list(ownership.values()))


def _movement_method(movements: list[MovementRecord]) -> str | None:
    """How the movement figures were measured: exact, sampled, mixed, or None without any."""
    kinds = {m.exact for m in movements}
    if not kinds:
        return None
    if len(kinds) == 2:
        return "mixed"
    return "exact" if True in kinds else "sampled"


def aggregate_recovery(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and max of each recovery time over the fault records that have it.

    Records lacking a time (None or absent) leave it out; a time no record has is None.

    >>> aggregate_recovery([{"detection": 1.0}, {"detection": 3.0}])["detection"]
    {'mean': 2.0, 'max': 3.0, 'count': 2}
    """
    out: dict[str, Any] = {}
    for key in ("detection", "server_detection", "client_detection", "client_convergence",
                "view_convergence", "last_failure", "serving_again", "first_served"):
        values = [r[key] for r in records if r.get(key) is not None]
        out[key] = {"mean": float(np.mean(values)), "max": float(np.max(values)),
                    "count": len(values)} if values else None
    return out
