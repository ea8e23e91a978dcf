"""Merging a live run's logs into the summary and time series of a simulated run.

Every process of a live run (:mod:`sim._live`) writes its own event log as JSON lines timed
on ``time.monotonic()``, which all processes on the host share: servers log views, served
requests and their requests' ids; clients log every request (intended send time, outcome,
cause, attempts, entry, latency) and their pools' transitions; the runner logs what it did
when (starts, signals, exits). :func:`merge_logs` reads them all and derives the figures a
simulated run reports — requests by cause, latency percentiles, recovery times, movement,
served shares, ejections — with the keys, units and time-series columns of
:meth:`sim._metrics.Recorder.summary`, so the table, ``--json`` and ``--out`` work as for a
simulated run. :func:`latency_decomposition` splits request latency into a server's wait, its
service as it took, and the overhead the simulator models as hops: the calibration data of
:mod:`sim._validate`.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim._config import Scenario
from sim._counters import Counters
from sim._metrics import Recorder, aggregate_recovery, skew
from sim._placement import ALGORITHMS, build_placement, key_movement
from sim._run import RunResult, scenario_dict

__all__ = ["latency_decomposition", "merge_logs"]



def _read(path: Path) -> list[dict[str, Any]]:
    events = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.endswith("\n"):  # a line cut by SIGKILL is left out
                with contextlib.suppress(ValueError):
                    events.append(json.loads(line))
    return events


def merge_logs(config: Scenario, names: list[str], runner_events: Sequence[Mapping[str, Any]],
               errors: Sequence[str], workdir: Path, t0: float, processes: int,
               max_lag: float, wall: float) -> RunResult:
    """Build the summary and time series of a simulated run from the processes' logs.

    Runtime complexity: O(e log e) for e logged events.

    Args:
        config: the scenario that ran.
        names: every server's name, by index.
        runner_events: what the runner did and when (its timeline, monotonic times).
        errors: what went wrong in the run (a run with errors is not valid).
        workdir: the folder holding ``server-*.jsonl`` and ``client-*.jsonl``.
        t0: the run's start, on the shared monotonic clock.
        processes: how many client processes there were.
        max_lag: the generator lag (p99) beyond which the run is invalid.
        wall: the run's wall time, in seconds.
    """
    index = {name: i for i, name in enumerate(names)}
    duration = config.duration
    server_events: list[dict[str, Any]] = []
    for path in sorted(workdir.glob("server-*.jsonl")):
        node = path.stem.split("-")[1]
        for event in _read(path):
            event["node"] = node
            event["t"] -= t0
            server_events.append(event)
    client_events: list[dict[str, Any]] = []
    for path in sorted(workdir.glob("client-*.jsonl")):
        for event in _read(path):
            event["t"] -= t0
            client_events.append(event)
    timeline = [{**e, "t": e["t"] - t0} for e in runner_events if e["ev"] != "t0"]
    server_events.sort(key=lambda e: e["t"])
    client_events.sort(key=lambda e: e["t"])
    requests = [e for e in client_events if e["ev"] == "req"]
    ends = [e for e in client_events if e["ev"] == "end"]
    pools = [e for e in client_events if e["ev"] in ("pool", "disc")]
    for r in requests:
        r["i"] -= t0
        r["s"] -= t0
        for a in r["a"]:
            a[2] -= t0
            a[3] -= t0
    # -- ground truth: when each server was out of service (down, leaving or hung) ---------
    outages = _outages(timeline, duration)
    # -- requests --------------------------------------------------------------------------
    issued = sum(int(e["sent"]) for e in ends) if ends else len(requests)
    counters = Counters(len(names))
    counters.issued = issued
    latencies: list[tuple[float, float, float]] = []  # (end, intended, latency)
    lags = np.array([r["s"] - r["i"] for r in requests]) if requests else np.zeros(0)
    for r in requests:
        attempts = r["a"]
        counters.attempts += len(attempts)
        counters.retried += max(0, len(attempts) - 1)
        for a in attempts:
            if a[1] != "ok":
                counters.attempt_failures[a[1]] = counters.attempt_failures.get(a[1], 0) + 1
                if a[1] == "timeout":
                    counters.attempt_timeouts += 1
                if a[1] == "overload":
                    counters.attempt_rejections += 1
        if r["t"] > duration:
            continue
        if r["cause"] == "ok":
            counters.succeeded += 1
            latencies.append((r["t"], r["i"], r["t"] - r["i"]))
        else:
            cause = "unavailable" if r["cause"] == "upstream" else r["cause"]
            counters.failed[cause] = counters.failed.get(cause, 0) + 1
            counters.failed_total += 1
    counters.in_flight = issued - counters.succeeded - counters.failed_total
    forwards = [e for e in server_events if e["ev"] == "fwd"]
    counters.forwarded = sum(1 for e in forwards if e["kind"] in ("forwarded", "failed"))
    counters.forward_failures = sum(1 for e in forwards if e["kind"] == "failed")
    counters.fill_ins = sum(1 for e in forwards if e["kind"] in ("forwarded", "local")
                            and e.get("to") != e.get("home"))
    served_events = [e for e in server_events if e["ev"] == "served" and 0 <= e["t"] <= duration]
    warmup = config.metrics.warmup
    served = np.zeros(len(names))
    for e in served_events:
        if e["t"] >= warmup:
            served[index[e["node"]]] += 1
    steady = np.array([lat for end, intended, lat in latencies if intended >= warmup])
    # -- ejections ------------------------------------------------------------------------
    ejections = [e for e in pools if e["ev"] == "pool" and e["to"] == "ejected"
                 and 0 <= e["t"] <= duration]
    of_down = sum(1 for e in ejections if _out_at(outages, e["ep"], e["t"]))
    # -- recovery --------------------------------------------------------------------------
    records = _recovery(config, names, timeline, outages, server_events, requests, pools,
                        served_events, duration)
    initial = names[: config.cluster.servers]
    start_ptm, start_cv = skew(list(build_placement(config.placement, initial)
                                    .ownership().values()))
    served_initial = served[: config.cluster.servers]
    served_ptm, served_cv = skew(served_initial) if served_initial.sum() else \
        (math.nan, math.nan)
    movements = _movements(config, names, timeline)
    ratios = [m["ratio"] for m in movements if m["optimum"] > 0]

    def pct(q: float) -> float | None:
        return float(np.percentile(steady, q)) if steady.size else None

    lag_p99 = float(np.percentile(lags, 99)) if lags.size else 0.0
    valid = lag_p99 <= max_lag and not errors
    summary: dict[str, Any] = {
        "scenario": scenario_dict(config),
        "seed": config.seed,
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
            "late_responses": None,
            "attempt_failures_by_cause": dict(sorted(counters.attempt_failures.items())),
            "forward_failures": counters.forward_failures,
            "fill_ins": counters.fill_ins,
        },
        "ejections": {"total": len(ejections), "of_down_servers": of_down,
                      "wrongful": len(ejections) - of_down},
        "latency": {
            "mean": float(steady.mean()) if steady.size else None,
            "p50": pct(50), "p90": pct(90), "p99": pct(99), "p999": pct(99.9),
            "max": float(steady.max()) if steady.size else None,
        },
        "load": {
            "keyspace_peak_to_mean": start_ptm,
            "keyspace_cv": start_cv,
            "keyspace_method": ALGORITHMS[config.placement.algorithm].ownership,
            "served_peak_to_mean": served_ptm,
            "served_cv": served_cv,
            "served_share": {names[i]: float(served[i] / served.sum()) if served.sum() else 0.0
                             for i in range(len(names))},
        },
        "movement": {
            "changes": movements,
            "method": "exact" if movements and all(m["exact"] for m in movements) else
            ("sampled" if movements else None),
            "mean_ratio": float(np.mean(ratios)) if ratios else None,
            "max_ratio": float(np.max(ratios)) if ratios else None,
            "total_moved": float(sum(m["moved"] for m in movements)),
        },
        "health_checks": {"sent": None, "passed": None, "failed": None,
                          "in_flight_at_end": None, "per_client": None},
        "recovery": {"faults": records, **aggregate_recovery(records)},
        "availability": {"replication": config.cluster.replication, "sampled_keys": None,
                         "max_unavailable": None, "unavailable_keyspace_seconds": None,
                         "time_with_unavailable_keys": None, "episodes": []},
        "conservation": {"issued": issued, "succeeded": counters.succeeded,
                         "failed": counters.failed_total, "in_flight": counters.in_flight,
                         "conserved": counters.in_flight >= 0},
        "live": {
            "valid": valid,
            "client_processes": processes,
            "generator_lag": {
                "p50": float(np.percentile(lags, 50)) if lags.size else 0.0,
                "p99": lag_p99,
                "max": float(lags.max()) if lags.size else 0.0,
                "bound_p99": max_lag,
            },
            "errors": list(errors),
            "not_measured": ["health_checks", "availability", "late_responses"],
            # Before the first fault only: what the calibration of the model may use.
            "decomposition": latency_decomposition(
                requests, served_events, max(warmup, _DECOMPOSITION_WARMUP),
                min((f.at for f in config.faults), default=duration)),
        },
    }
    timeseries = _timeseries(config, names, requests, latencies, served_events, forwards,
                             ejections, outages, server_events, movements)
    performance = {"wall_seconds": wall, "events": float(len(server_events)
                                                         + len(client_events)),
                   "events_per_second": math.nan, "requests": float(issued),
                   "requests_per_second": issued / duration}
    return RunResult(config, config.seed, summary, timeseries, performance, list(names))


_DECOMPOSITION_WARMUP = 1.0
"""Seconds at the start of a run left out of the latency decomposition (connections open)."""


def _moments(values: Sequence[float]) -> dict[str, Any]:
    array = np.asarray(values, dtype=np.float64)
    if not array.size:
        return {"n": 0, "mean": None, "sd": None, "p50": None, "p99": None}
    return {"n": int(array.size), "mean": float(array.mean()),
            "sd": float(array.std(ddof=1)) if array.size > 1 else 0.0,
            "p50": float(np.percentile(array, 50)), "p99": float(np.percentile(array, 99))}


def latency_decomposition(requests: Sequence[Mapping[str, Any]],
                          served_events: Sequence[Mapping[str, Any]],
                          since: float, until: float = math.inf) -> dict[str, Any]:
    """Split live latency into time at the serving server and time between (the hops).

    Each request that succeeded at its first attempt and was served exactly once (matched by
    the id the client sent), intended at ``since`` or later and finished before ``until``,
    gives one sample: its latency from the intended
    send time, the serving server's wait for a slot and its service as it took (the drawn
    time plus the event loop's overhead), and the *overhead*, latency minus wait minus
    service: everything the simulator models as network hops (two for a request its entry
    served, four for one the entry forwarded to the home), plus the generator's lag.

    Runtime complexity: O(requests + served events).

    >>> d = latency_decomposition(
    ...     [{"cause": "ok", "a": [["s000", "ok", 0.0, 0.01]], "rid": "0-1", "i": 2.0,
    ...       "t": 2.01}],
    ...     [{"rid": "0-1", "wait": 0.0, "dur": 0.004, "svc": 0.003, "f": False, "t": 2.009}],
    ...     since=1.0)
    >>> d["direct"]["n"], round(d["direct"]["mean"], 6), d["forwarded"]["n"]
    (1, 0.006, 0)

    Args:
        requests: the clients' ``req`` events (times relative to the run's start).
        served_events: the servers' ``served`` events (the same clock).
        since: requests intended before this time are left out.
        until: requests finished at or after this time are left out.

    Returns:
        ``{"direct", "forwarded"}``: moments (``n``, ``mean``, ``sd``, ``p50``, ``p99``) of
        the overhead of requests served by their entry (2 hops) and forwarded (4 hops);
        ``"service"``, ``"drawn"`` and ``"wait"``: moments of the service as it took, as
        drawn, and of the wait; ``"latency"``: of the matched requests' latency.
    """
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for e in served_events:
        rid = e.get("rid")
        if rid is not None and "dur" in e:
            by_id.setdefault(str(rid), []).append(e)
    overhead: dict[bool, list[float]] = {False: [], True: []}
    service: list[float] = []
    drawn: list[float] = []
    wait: list[float] = []
    latency: list[float] = []
    for r in requests:
        if r.get("cause") != "ok" or len(r.get("a", ())) != 1 or r["i"] < since \
                or r["t"] >= until:
            continue
        served = by_id.get(str(r.get("rid")), [])
        if len(served) != 1:
            continue
        e = served[0]
        total = r["t"] - r["i"]
        overhead[bool(e["f"])].append(total - e["wait"] - e["dur"])
        service.append(e["dur"])
        drawn.append(e["svc"])
        wait.append(e["wait"])
        latency.append(total)
    return {"direct": _moments(overhead[False]), "forwarded": _moments(overhead[True]),
            "service": _moments(service), "drawn": _moments(drawn), "wait": _moments(wait),
            "latency": _moments(latency)}


def _outages(timeline: list[dict[str, Any]], duration: float) -> dict[str, list[list[float]]]:
    """Per server, the intervals ``[start, end]`` it was out of service (leaving included)."""
    out: dict[str, list[list[float]]] = {}
    for e in timeline:
        spans = out.setdefault(e["node"], [])
        if e["ev"] in ("leaving", "down"):
            if not spans or spans[-1][1] < math.inf:
                spans.append([e["t"], math.inf])
        elif e["ev"] == "up" and spans and spans[-1][1] == math.inf:
            spans[-1][1] = e["t"]
    return out


def _out_at(outages: Mapping[str, list[list[float]]], node: str | None, t: float) -> bool:
    return any(a <= t <= b for a, b in outages.get(node or "", ()))


def _latest_views(server_events: list[dict[str, Any]]) -> list[tuple[float, str, frozenset[str]]]:
    return [(e["t"], e["node"], frozenset(e["members"])) for e in server_events
            if e["ev"] == "view"]


def _recovery(config: Scenario, names: list[str], timeline: list[dict[str, Any]],
              outages: Mapping[str, list[list[float]]], server_events: list[dict[str, Any]],
              requests: list[dict[str, Any]], pools: list[dict[str, Any]],
              served_events: list[dict[str, Any]], duration: float) -> list[dict[str, Any]]:
    """One record per server going down (and per join), with the simulator's fields."""
    views = _latest_views(server_events)
    records: list[dict[str, Any]] = []
    downs = [e for e in timeline if e["ev"] == "down"]
    ups = [e for e in timeline if e["ev"] == "up"]
    for d in downs:
        node = d["node"]
        start = d["t"]
        leaving = [e["t"] for e in timeline if e["ev"] == "leaving" and e["node"] == node
                   and e["t"] <= start]
        out_from = leaving[-1] if leaving and start - leaving[-1] < 30 else start
        if leaving:
            # A graceful stop is down, as the simulator counts it, once the work it held is
            # done (the process itself may linger until uvicorn's drain bound closes idle
            # keep-alive connections): the later of the SIGTERM and its last request served.
            start = max([out_from, *(e["t"] for e in served_events
                                     if e["node"] == node and out_from <= e["t"] <= start)])
        up = next((u["t"] for u in ups if u["node"] == node and u["t"] >= start), None)
        until = up if up is not None else duration
        record: dict[str, Any] = {"kind": d["kind"], "node": node, "down_at": start,
                                  "up_at": up}
        server_detected = next((t for t, who, members in views
                                if t >= out_from and who != node and node not in members),
                               None)
        client_detected = next((e["t"] for e in pools if e["ev"] == "pool"
                                and e["ep"] == node and e["to"] == "ejected"
                                and out_from <= e["t"] <= until), None)
        detected = min((t for t in (server_detected, client_detected) if t is not None),
                       default=None)
        last_sent = None
        failures = 0
        last_failure = None
        for r in requests:
            for a in r["a"]:
                if a[0] == node and start <= a[2] <= until:
                    last_sent = a[2] if last_sent is None else max(last_sent, a[2])
                if a[0] == node and a[1] != "ok" and out_from <= a[2] <= until + 1.0:
                    failures += 1
                    last_failure = a[3] if last_failure is None else max(last_failure, a[3])
        converged = _view_convergence(views, node, out_from, until, timeline, exclude=True)
        # A graceful stop announced its leave before it went down (``out_from``): views that
        # dropped it then had nothing left to detect when it went down, which is 0 s after
        # the down, as the simulator counts an announced leave, never a negative time.
        rec = {
            "detection": None if detected is None else max(0.0, detected - start),
            "server_detection": None if server_detected is None
            else max(0.0, server_detected - start),
            "client_detection": None if client_detected is None
            else max(0.0, client_detected - start),
            "client_convergence": 0.0 if last_sent is None else last_sent - start,
            "view_convergence": None if converged is None else max(0.0, converged - start),
            "last_failure": None if last_failure is None else last_failure - start,
            "failures": failures,
        }
        record.update(rec)
        record.update(_rejoin(views, pools, node, up, timeline, served_events, config))
        records.append(record)
    for u in ups:
        if u["kind"] != "join":
            continue
        record = {"kind": "join", "node": u["node"], "down_at": u["t"], "up_at": u["t"],
                  "detection": None, "server_detection": None, "client_detection": None,
                  "client_convergence": None, "view_convergence": None, "last_failure": None,
                  "failures": 0}
        record.update(_rejoin(views, pools, u["node"], u["t"], timeline, served_events, config))
        records.append(record)
    return records


def _alive_at(timeline: list[dict[str, Any]], t: float) -> set[str]:
    """Servers whose process runs and serves at ``t`` (by the runner's own actions)."""
    alive: set[str] = set()
    for e in timeline:
        if e["t"] > t:
            break
        if e["ev"] == "spawn" or e["ev"] == "up":
            alive.add(e["node"])
        elif e["ev"] in ("down", "leaving"):
            alive.discard(e["node"])
    return alive


def _view_convergence(views: list[tuple[float, str, frozenset[str]]], node: str, since: float,
                      until: float, timeline: list[dict[str, Any]], *,
                      exclude: bool) -> float | None:
    """First time after ``since`` when every other live server's view excludes (includes)
    ``node``."""
    latest: dict[str, frozenset[str]] = {}
    for t, who, members in views:
        latest[who] = members
        if t < since or t > until + 30:
            continue
        alive = _alive_at(timeline, t) - {node}
        if not alive:
            continue
        if all(who_ in latest and ((node not in latest[who_]) if exclude
                                   else (node in latest[who_])) for who_ in alive):
            return t
    return None


def _rejoin(views: list[tuple[float, str, frozenset[str]]], pools: list[dict[str, Any]],
            node: str, up: float | None, timeline: list[dict[str, Any]],
            served_events: list[dict[str, Any]], config: Scenario) -> dict[str, Any]:
    if up is None:
        return {"serving_again": None, "first_served": None}
    views_in = _view_convergence(views, node, up, math.inf, timeline, exclude=False)
    clients = set(range(config.clients.count))
    healthy: dict[int, bool] = {}
    clients_in = None
    for e in pools:
        if e["t"] < up:
            continue
        c = e["c"]
        if e["ev"] == "disc":
            if node in e["added"]:
                healthy[c] = True
            if node in e["removed"]:
                healthy[c] = False
        elif e["ep"] == node:
            healthy[c] = e["to"] == "healthy"
        if all(healthy.get(c_, False) for c_ in clients):
            clients_in = e["t"]
            break
    first = next((e["t"] for e in served_events if e["node"] == node and e["t"] >= up), None)
    again = None if views_in is None or clients_in is None else max(views_in, clients_in) - up
    return {"serving_again": again, "first_served": None if first is None else first - up}


def _movements(config: Scenario, names: list[str],
               timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Key movement of each change of the servers that were up and not leaving."""
    live = set(names[: config.cluster.servers])
    placement = build_placement(config.placement, sorted(live))
    out = []
    for e in timeline:
        after = set(live)
        if e["ev"] in ("down", "leaving"):
            after.discard(e["node"])
        elif e["ev"] == "up":
            after.add(e["node"])
        if after == live or not after:
            continue
        new = build_placement(config.placement, sorted(after))
        moved, exact = key_movement(placement, new)
        added = e["ev"] == "up"
        share = (new if added else placement).ownership().get(e["node"], 0.0)
        out.append({"time": e["t"], "change": "add" if added else "remove", "node": e["node"],
                    "moved": moved, "optimum": share,
                    "ratio": moved / share if share > 0 else math.nan, "exact": exact})
        live, placement = after, new
    return out


def _timeseries(config: Scenario, names: list[str], requests: list[dict[str, Any]],
                latencies: list[tuple[float, float, float]],
                served_events: list[dict[str, Any]], forwards: list[dict[str, Any]],
                ejections: list[dict[str, Any]], outages: Mapping[str, list[list[float]]],
                server_events: list[dict[str, Any]],
                movements: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-bin columns with the simulated run's names (:attr:`Recorder.COLUMNS`)."""
    interval = config.metrics.interval
    duration = config.duration
    bins = max(1, math.ceil(duration / interval - 1e-9))
    edges = np.minimum(np.arange(1, bins + 1) * interval, duration)

    def count(times: Sequence[float]) -> Any:
        array = np.asarray(times, dtype=np.float64)
        array = array[(array >= 0) & (array <= duration)]
        which = np.minimum((array / interval).astype(np.int64), bins - 1)
        return np.bincount(which, minlength=bins).astype(np.int64)

    finished = [r for r in requests if r["t"] <= duration]
    series: dict[str, Any] = {name: np.zeros(bins, dtype=np.int64)
                              for name in Recorder.COLUMNS}
    series["time"] = edges.astype(np.float64)
    series["issued"] = count([r["i"] for r in requests])
    series["succeeded"] = count([r["t"] for r in finished if r["cause"] == "ok"])
    series["failed"] = count([r["t"] for r in finished if r["cause"] != "ok"])
    series["retried"] = count([a[2] for r in requests for a in r["a"][1:]])
    series["attempts"] = count([a[2] for r in requests for a in r["a"]])
    series["attempt_timeouts"] = count([a[3] for r in requests for a in r["a"]
                                        if a[1] == "timeout"])
    series["forwarded"] = count([e["t"] for e in forwards
                                 if e["kind"] in ("forwarded", "failed")])
    series["forward_failures"] = count([e["t"] for e in forwards if e["kind"] == "failed"])
    series["fill_ins"] = count([e["t"] for e in forwards if e["kind"] in ("forwarded", "local")
                                and e.get("to") != e.get("home")])
    series["ejections"] = count([e["t"] for e in ejections])
    series["wrongful_ejections"] = count([e["t"] for e in ejections
                                          if not _out_at(outages, e["ep"], e["t"])])
    issued_cum = np.cumsum(series["issued"])
    done_cum = np.cumsum(series["succeeded"] + series["failed"])
    series["in_flight"] = (issued_cum - done_cum).astype(np.int64)
    series["live_servers"] = np.array([
        sum(1 for n in names if any(e["ev"] == "start" and e["node"] == n and e["t"] <= t
                                    for e in server_events) and not _out_at(outages, n, t))
        for t in edges], dtype=np.int64)
    served = np.zeros((bins, len(names)), dtype=np.int64)
    index = {n: i for i, n in enumerate(names)}
    for e in served_events:
        served[min(int(e["t"] / interval), bins - 1), index[e["node"]]] += 1
    series["served"] = served
    ptm = np.full(bins, math.nan)
    cv = np.full(bins, math.nan)
    for b in range(bins):
        row = served[b][served[b] > 0]
        if row.size:
            ptm[b], cv[b] = skew(row)
    series["served_peak_to_mean"], series["served_cv"] = ptm, cv
    for name in ("keyspace_peak_to_mean", "keyspace_cv", "unavailable_keys"):
        series[name] = np.full(bins, math.nan)
    series["extra_delay"] = np.zeros(bins)
    series["key_movement"] = np.zeros(bins)
    for m in movements:
        if 0 <= m["time"] <= duration:
            series["key_movement"][min(int(m["time"] / interval), bins - 1)] += m["moved"]
    views = _latest_views(server_events)
    distinct = np.zeros(bins, dtype=np.int64)
    latest: dict[str, frozenset[str]] = {}
    j = 0
    for b, t in enumerate(edges):
        while j < len(views) and views[j][0] <= t:
            latest[views[j][1]] = views[j][2]
            j += 1
        live = {n for n in latest if not _out_at(outages, n, t)}
        distinct[b] = len({latest[n] for n in live})
    series["distinct_views"] = distinct
    series["stale_views"] = np.zeros(bins, dtype=np.int64)
    lat = sorted(latencies)
    for label in ("latency_p50", "latency_p99"):
        series[label] = np.full(bins, math.nan)
    series["latency_mean"] = np.full(bins, math.nan)
    by_bin: dict[int, list[float]] = {}
    for end, _, value in lat:
        if 0 <= end <= duration:
            by_bin.setdefault(min(int(end / interval), bins - 1), []).append(value)
    for b, values in by_bin.items():
        series["latency_p50"][b] = np.percentile(values, 50)
        series["latency_p99"][b] = np.percentile(values, 99)
        series["latency_mean"][b] = float(np.mean(values))
    return series
