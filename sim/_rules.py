"""Validation rules: what each configuration field may hold, limits, and checks across values.

Each field of the configuration classes (:mod:`sim._config`) names its rule in its metadata
(``check``); :func:`check_value` enforces it, :func:`build_config` builds a configuration
class from a table, and :func:`check_scenario` checks what involves more than one value:
size limits, replication against servers, caps against bases, placement options, and the
faults (times within the run; no two faults on one server at once; servers a join adds
targeted only after they start). :func:`describe_rule` and :data:`KEY_LIMITS` say the same
in words for the scenario reference (:mod:`sim._reference`).

Every error is a :class:`ScenarioError` (a :class:`ValueError`) whose message names the key,
the value and what was expected.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from typing import Any

import consistent
from sim._config import (
    MODES,
    Fault,
    Join,
    NetworkDelay,
    Outage,
    RollingRestart,
    Scenario,
    is_server_name,
    server_names,
)
from sim._placement import ALGORITHMS, removal_capable

__all__ = [
    "KEY_LIMITS",
    "MAX_BINS",
    "MAX_CLIENTS",
    "MAX_KEYS",
    "MAX_REQUESTS",
    "MAX_RING_POINTS",
    "MAX_SERVERS",
    "ScenarioError",
    "build_config",
    "check_scenario",
    "check_value",
    "describe_rule",
]

_CHOICES = {
    "service": ("exponential", "constant", "lognormal"),
    "strategy": tuple(consistent.STRATEGIES),
    "preset": ("none", *consistent.PRESETS),
    "popularity": ("uniform", "zipf", "hotset"),
    "hash": ("xxh3", "md5"),
    "jitter": ("none", "full", "equal", "decorrelated"),
    "mode": MODES,
}

# Upper bounds that keep a run within memory and a sensible wall time. A scenario beyond
# them is rejected before anything is allocated (documented in README "Limits").
MAX_KEYS = 10**7
"""``workload.keys``: the key space is held as arrays of this length (~80 MB each)."""
MAX_SERVERS = 10_000
"""``cluster.servers`` plus every server join faults add."""
MAX_CLIENTS = 100_000
"""``clients.count``: each client holds a pool over every server."""
MAX_RING_POINTS = 10**6
"""``placement.vnodes`` x the most servers the run can have (ring and bounded points)."""
MAX_REQUESTS = 10**8
"""Expected requests, ``workload.rate`` x ``duration`` (about an hour of wall time)."""
MAX_BINS = 10**6
"""Time-series bins, ``duration`` / ``metrics.interval``."""


KEY_LIMITS: dict[str, str] = {
    "duration": "at least every fault's `at`",
    "cluster.servers": f"with the servers join faults add, at most {MAX_SERVERS:,}",
    "cluster.replication": "at most `cluster.servers`",
    "placement.algorithm": "one that removes any node when a fault takes a server out",
    "placement.options": "only the algorithm's own options (see the algorithm table)",
    "placement.vnodes": f"x servers (joins included) at most {MAX_RING_POINTS:,} ring points",
    "clients.count": f"at most {MAX_CLIENTS:,}",
    "clients.health_check_cap": "at least `clients.health_check_base`",
    "clients.retry_backoff_cap": "at least `clients.retry_backoff_base`",
    "workload.rate": f"x `duration` at most {MAX_REQUESTS:,} expected requests",
    "workload.keys": f"at most {MAX_KEYS:,}",
    "workload.hot_keys": "less than `workload.keys` (popularity hotset)",
    "metrics.interval": f"`duration` / interval at most {MAX_BINS:,} time-series bins",
    "faults.at": "at most `duration`",
    "faults.node": "a server that exists by then and that no other fault has out at the "
                   "same time",
    "faults.nodes": "at most `cluster.servers`",
}
"""Limits that involve more than one value (checked by :func:`check_scenario` after each
value's own rule), by key; ``faults.<field>`` applies to that field of every fault kind.
The scenario reference (:mod:`sim._reference`) prints them beside each key's rule."""


def describe_rule(rule: str) -> tuple[str, str]:
    """The type and the limits a field's validation rule enforces, for the reference.

    >>> describe_rule("pos_float"), describe_rule("hash")
    (('number', '> 0'), ('string', "one of 'xxh3', 'md5'"))

    Raises:
        KeyError: no such rule.
    """
    if rule in _CHOICES:
        return "string", "one of " + ", ".join(repr(c) for c in _CHOICES[rule])
    if rule == "algorithm":
        return "string", "one of " + ", ".join(repr(c) for c in ALGORITHMS)
    return _RULES[rule]


_RULES: dict[str, tuple[str, str]] = {
    "pos_float": ("number", "> 0"),
    "nonneg_float": ("number", ">= 0"),
    "ge1_float": ("number", ">= 1"),
    "share": ("number", "0 to 1"),
    "pos_int": ("integer", ">= 1"),
    "nonneg_int": ("integer", ">= 0"),
    "seed": ("integer", ">= 0"),
    "bool": ("boolean", ""),
    "str": ("string", ""),
    "table": ("table", ""),
    "node": ("integer or string", "a server index >= 0 or a name like 's003'"),
}
"""What :func:`check_value` enforces for each rule that is not a choice; every number is finite."""


class ScenarioError(ValueError):
    """A scenario file or dict is missing, unreadable or has a bad key or value."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def check_value(rule: str, key: str, value: Any) -> Any:
    """Validate one value by ``rule``; return it normalised (ints to float where expected)."""

    original = value

    def fail(expected: str) -> ScenarioError:
        return ScenarioError(f"{key} must be {expected}, got {original!r}")

    if rule in ("pos_float", "nonneg_float", "ge1_float", "share"):
        if not _is_number(value):
            raise fail("a finite number")
        value = float(value)
        if rule == "pos_float" and value <= 0:
            raise fail("a positive number")
        if rule == "nonneg_float" and value < 0:
            raise fail("a non-negative number")
        if rule == "ge1_float" and value < 1:
            raise fail("a number >= 1")
        if rule == "share" and not 0 <= value <= 1:
            raise fail("a number between 0 and 1")
        return value
    if rule in ("pos_int", "nonneg_int", "seed"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise fail("an integer")
        if rule == "pos_int" and value < 1:
            raise fail("a positive integer")
        if rule in ("nonneg_int", "seed") and value < 0:
            raise fail("a non-negative integer")
        return value
    if rule == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if rule == "str":
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if rule in _CHOICES:
        choices = _CHOICES[rule]
        if value not in choices:
            raise fail("one of " + ", ".join(repr(c) for c in choices))
        return value
    if rule == "algorithm":
        if value not in ALGORITHMS:
            raise fail("one of " + ", ".join(repr(c) for c in ALGORITHMS))
        return value
    if rule == "table":
        if not isinstance(value, Mapping):
            raise fail("a table")
        return tuple(sorted(value.items()))
    if rule == "node":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise fail("a server index or name like 's003'")
        if isinstance(value, int) and value < 0:
            raise fail("a non-negative server index")
        if isinstance(value, str) and not is_server_name(value):
            raise fail("a server index or name like 's003'")
        return value
    raise AssertionError(f"unknown rule {rule}")  # pragma: no cover


def build_config(cls: type[Any], table: Any, where: str) -> Any:
    """Build a config dataclass from a TOML table, checking every key and value."""
    if not isinstance(table, Mapping):
        raise ScenarioError(f"{where} must be a table, got {table!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{where}.{key}" if where else key
        spec = fields.get(key)
        if spec is None:
            raise ScenarioError(
                f"unknown key {path!r} (expected one of: {', '.join(sorted(fields))})"
            )
        kwargs[key] = check_value(spec.metadata["check"], path, value)
    return cls(**kwargs)


def _check_limits(scenario: Scenario) -> None:
    """Reject scenarios too big to run (see the ``MAX_*`` bounds above)."""
    workload = scenario.workload
    if workload.keys > MAX_KEYS:
        raise ScenarioError(f"workload.keys must be at most {MAX_KEYS:,}, got {workload.keys:,}")
    if workload.popularity == "hotset" and workload.hot_keys >= workload.keys:
        raise ScenarioError(
            f"workload.hot_keys must be less than workload.keys ({workload.keys:,}) with "
            f"popularity 'hotset', got {workload.hot_keys:,}"
        )
    servers = scenario.max_servers
    if servers > MAX_SERVERS:
        raise ScenarioError(
            f"cluster.servers plus joined servers must be at most {MAX_SERVERS:,}, got {servers:,}"
        )
    if scenario.clients.count > MAX_CLIENTS:
        raise ScenarioError(
            f"clients.count must be at most {MAX_CLIENTS:,}, got {scenario.clients.count:,}"
        )
    points = scenario.placement.vnodes * servers
    if points > MAX_RING_POINTS:
        raise ScenarioError(
            f"placement.vnodes x servers must be at most {MAX_RING_POINTS:,} ring points, got "
            f"{scenario.placement.vnodes:,} x {servers:,} = {points:,}"
        )
    expected = workload.rate * scenario.duration
    if expected > MAX_REQUESTS:
        raise ScenarioError(
            f"workload.rate x duration must be at most {MAX_REQUESTS:,} expected requests, got "
            f"{workload.rate:g} x {scenario.duration:g} = {expected:.3g} (lower the rate or "
            f"the duration)"
        )
    bins = scenario.duration / scenario.metrics.interval
    if bins > MAX_BINS:
        raise ScenarioError(
            f"duration / metrics.interval must be at most {MAX_BINS:,} time-series bins, got "
            f"{scenario.duration:g} / {scenario.metrics.interval:g} = {bins:.3g}"
        )


def check_scenario(scenario: Scenario) -> None:
    """Checks across values: limits, replication, backoffs, options, faults.

    Raises:
        ScenarioError: naming the values that contradict each other.
    """
    _check_limits(scenario)
    cluster = scenario.cluster
    if cluster.replication > cluster.servers:
        raise ScenarioError(
            f"cluster.replication must be at most cluster.servers ({cluster.servers}), "
            f"got {cluster.replication}"
        )
    clients = scenario.clients
    for base, cap in (("health_check_base", "health_check_cap"),
                      ("retry_backoff_base", "retry_backoff_cap")):
        if getattr(clients, cap) < getattr(clients, base):
            raise ScenarioError(
                f"clients.{cap} must be at least clients.{base} ({getattr(clients, base)}), "
                f"got {getattr(clients, cap)}"
            )
    algorithm = ALGORITHMS[scenario.placement.algorithm]
    unknown = set(scenario.placement.kwargs) - algorithm.options
    if unknown:
        raise ScenarioError(
            f"unknown key 'placement.options.{sorted(unknown)[0]}' for algorithm "
            f"{algorithm.name!r} (expected: {', '.join(sorted(algorithm.options)) or 'none'})"
        )
    removes = False
    for i, fault in enumerate(scenario.faults):
        where = f"faults[{i}]"
        if fault.at > scenario.duration:
            raise ScenarioError(
                f"{where}.at must be within the run (duration {scenario.duration}), got {fault.at}"
            )
        if isinstance(fault, RollingRestart) and fault.nodes > cluster.servers:
            raise ScenarioError(
                f"{where}.nodes must be at most cluster.servers ({cluster.servers}), "
                f"got {fault.nodes}"
            )
        if fault.outages(cluster.servers):
            removes = True  # a server out of service leaves every view
    _check_fault_targets(scenario)
    if removes and not algorithm.removes:
        raise ScenarioError(
            f"placement.algorithm {algorithm.name!r} cannot remove arbitrary nodes, which this "
            f"scenario's faults need (use one of "
            f"{', '.join(repr(name) for name in removal_capable())})"
        )


def _server_starts(scenario: Scenario) -> list[tuple[float, int | None]]:
    """When each server (by index) starts, and which join fault starts it (None: at 0).

    Join faults add servers in the order they are listed, as :mod:`sim._faults` runs them.
    """
    starts: list[tuple[float, int | None]] = [(0.0, None)] * scenario.cluster.servers
    for i, fault in enumerate(scenario.faults):
        if isinstance(fault, Join):
            starts.extend([(fault.at, i)] * fault.count)
    return starts


def _span(outage: Outage) -> str:
    """``from 3 to 6``, or ``for good from 5``."""
    if math.isinf(outage.end):
        return f"for good from {outage.start:g}"
    return f"from {outage.start:g} to {outage.end:g}"


def _check_fault_targets(scenario: Scenario) -> None:
    """Every server a fault takes out exists by then, and no two faults overlap on one.

    Generic over fault kinds: each says which servers it takes out and when
    (``outages``, see :class:`~sim._config.Outage`). Servers added by a join fault may be
    targeted after they start. Two faults that take the same server out at overlapping
    times (closed intervals: one ending when the next begins overlaps too) would be merged
    silently into one outage, so they are rejected, naming both. That includes bringing back
    a server a crash or decommission ended for good. Network delays must not overlap either:
    the network has one extra delay at a time.
    """
    starts = _server_starts(scenario)
    total = len(starts)
    names = server_names(max(total, 1))
    initial = scenario.cluster.servers
    by_node: dict[int, list[tuple[Outage, int, Fault]]] = {}
    for i, fault in enumerate(scenario.faults):
        for outage in fault.outages(initial):
            if outage.node >= total:
                joined = (f"; {initial} at the start and {total - initial} that join faults add"
                          if total > initial else "")
                raise ScenarioError(
                    f"faults[{i}].node must name one of the {total} servers "
                    f"(0..{total - 1} or {names[0]!r}..{names[total - 1]!r}{joined}), "
                    f"got {getattr(fault, 'node', outage.node)!r}"
                )
            started, join = starts[outage.node]
            if join is not None and outage.start <= started:
                raise ScenarioError(
                    f"faults[{i}] ({fault.kind}) takes {names[outage.node]} out at "
                    f"{outage.start:g}, but it starts only at {started:g} (added by "
                    f"faults[{join}], a join): a fault on it must come after that"
                )
            by_node.setdefault(outage.node, []).append((outage, i, fault))
    for node, outages in sorted(by_node.items()):
        outages.sort(key=lambda entry: (entry[0].start, entry[1]))
        for (first, i, fault_i), (later, j, fault_j) in itertools.pairwise(outages):
            if later.start <= first.end:
                name = names[node]
                raise ScenarioError(
                    f"faults[{j}] ({fault_j.kind}) takes {name} out {_span(later)}, but "
                    f"faults[{i}] ({fault_i.kind}) already has it out {_span(first)}: faults "
                    f"on one server must not overlap"
                )
    # The network has one extra delay at a time: the end of one would cancel the other.
    delays = sorted((f.at, f.at + f.duration, i) for i, f in enumerate(scenario.faults)
                    if isinstance(f, NetworkDelay))
    for (start, end, i), (next_start, next_end, j) in itertools.pairwise(delays):
        if next_start <= end:
            raise ScenarioError(
                f"faults[{j}] (network-delay) from {next_start:g} to {next_end:g} overlaps "
                f"faults[{i}] (network-delay) from {start:g} to {end:g}: network delays "
                f"must not overlap (set one delay with the sum of their extras instead)"
            )
