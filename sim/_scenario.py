"""Scenarios: TOML files (or the same dict from Python) validated into a frozen :class:`Scenario`.

Every error is a :class:`ScenarioError` (a :class:`ValueError`) whose message names the key,
the value and what was expected, e.g.::

    workload.rate must be a positive number, got -5

Built-in scenarios live in ``sim/scenarios/*.toml`` and are found by name.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from sim._config import (
    FAULT_KINDS,
    ClientConfig,
    ClusterConfig,
    Crash,
    Decommission,
    MembershipConfig,
    MetricsConfig,
    NetworkConfig,
    PlacementConfig,
    Restart,
    RollingRestart,
    Scenario,
    WorkloadConfig,
    is_server_name,
    node_index,
    server_names,
)
from sim._placement import ALGORITHMS, removal_capable

__all__ = [
    "DEFAULT_SCENARIO",
    "ScenarioError",
    "apply_overrides",
    "builtin_toml",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "parse_value",
]

DEFAULT_SCENARIO = "rolling-restart"
"""The scenario the README's main command runs and the golden summary records."""

_SECTIONS: dict[str, type[Any]] = {
    "cluster": ClusterConfig,
    "placement": PlacementConfig,
    "network": NetworkConfig,
    "membership": MembershipConfig,
    "clients": ClientConfig,
    "workload": WorkloadConfig,
    "metrics": MetricsConfig,
}
_TOP_LEVEL = ("name", "description", "duration", "seed")

_CHOICES = {
    "service": ("exponential", "constant", "lognormal"),
    "strategy": ("p2c", "random", "round_robin", "first_idle"),
    "popularity": ("uniform", "zipf", "hotset"),
    "hash": ("xxh3", "md5"),
    "jitter": ("none", "full", "equal", "decorrelated"),
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


class ScenarioError(ValueError):
    """A scenario file or dict is missing, unreadable or has a bad key or value."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check(rule: str, key: str, value: Any) -> Any:
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


def _build(cls: type[Any], table: Any, where: str) -> Any:
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
        kwargs[key] = _check(spec.metadata["check"], path, value)
    return cls(**kwargs)


def parse_scenario(data: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML) into a :class:`Scenario`.

    >>> parse_scenario({"duration": 5, "workload": {"rate": 100}}).workload.rate
    100.0
    >>> parse_scenario({"workload": {"rate": -5}})
    Traceback (most recent call last):
    ...
    sim._scenario.ScenarioError: workload.rate must be a positive number, got -5

    Raises:
        ScenarioError: an unknown key, a bad value, or values that contradict each other.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source} must be a table, got {data!r}")
    top: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    faults: list[Any] = []
    allowed = sorted([*_TOP_LEVEL, *_SECTIONS, "faults"])
    for key, value in data.items():
        if key in _TOP_LEVEL:
            top[key] = value
        elif key in _SECTIONS:
            sections[key] = _build(_SECTIONS[key], value, key)
        elif key == "faults":
            if not isinstance(value, list):
                raise ScenarioError(
                f"faults must be an array of tables ([[faults]]), got {value!r}"
            )
            faults = [_fault(item, f"faults[{i}]") for i, item in enumerate(value)]
        else:
            raise ScenarioError(f"unknown key {key!r} (expected one of: {', '.join(allowed)})")
    scenario: Scenario = _build(Scenario, top, "")
    scenario = dataclasses.replace(scenario, **sections, faults=tuple(faults))
    _cross_check(scenario)
    return scenario


def _fault(item: Any, where: str) -> Any:
    if not isinstance(item, Mapping):
        raise ScenarioError(f"{where} must be a table, got {item!r}")
    kind = item.get("kind")
    if kind not in FAULT_KINDS:
        raise ScenarioError(
            f"{where}.kind must be one of {', '.join(repr(k) for k in FAULT_KINDS)}, got {kind!r}"
        )
    rest = {k: v for k, v in item.items() if k != "kind"}
    return _build(FAULT_KINDS[kind], rest, where)


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


def _cross_check(scenario: Scenario) -> None:
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
        node = getattr(fault, "node", None)
        if node is not None:
            index = node if isinstance(node, int) else int(node[1:])
            if index >= cluster.servers:
                raise ScenarioError(
                    f"{where}.node must name one of the {cluster.servers} servers "
                    f"(0..{cluster.servers - 1} or 's000'..), got {node!r}"
                )
        if isinstance(fault, RollingRestart) and fault.nodes > cluster.servers:
            raise ScenarioError(
                f"{where}.nodes must be at most cluster.servers ({cluster.servers}), "
                f"got {fault.nodes}"
            )
        if fault.kind in ("crash", "restart", "rolling-restart", "decommission"):
            removes = True
    _check_no_return_from_permanent_faults(scenario)
    if removes and not algorithm.removes:
        raise ScenarioError(
            f"placement.algorithm {algorithm.name!r} cannot remove arbitrary nodes, which this "
            f"scenario's faults need (use one of "
            f"{', '.join(repr(name) for name in removal_capable())})"
        )


def _check_no_return_from_permanent_faults(scenario: Scenario) -> None:
    """Reject a restart that would bring back a server a crash or decommission ended for good.

    A crash (or the end of a decommission's drain) at ``t`` is final only if no restart of
    the same server is still to bring it up at or after ``t``: a restart whose up-time comes
    first is fine (restart, then crash). Everything is known from the fault list, so this is
    decided here rather than silently resurrecting the server during the run.
    """
    ends: list[tuple[float, int, str]] = []  # (time it goes down for good, server, fault)
    for i, fault in enumerate(scenario.faults):
        if isinstance(fault, Crash):
            ends.append((fault.at, node_index(fault.node),
                         f"faults[{i}] (crash at {fault.at:g})"))
        elif isinstance(fault, Decommission):
            ends.append((fault.at + fault.drain, node_index(fault.node),
                         f"faults[{i}] (decommission at {fault.at:g})"))
    if not ends:
        return
    names = server_names(scenario.max_servers)
    for i, fault in enumerate(scenario.faults):
        if isinstance(fault, Restart):
            ups = [(node_index(fault.node), fault.at + fault.downtime)]
        elif isinstance(fault, RollingRestart):
            count = fault.nodes or scenario.cluster.servers
            ups = [(k, fault.at + k * fault.pace + fault.downtime) for k in range(count)]
        else:
            continue
        for node, up_at in ups:
            for end_at, ended, what in ends:
                if ended == node and end_at <= up_at:
                    raise ScenarioError(
                        f"faults[{i}] ({fault.kind}) would bring {names[node]} back up at "
                        f"{up_at:g}, but {what} takes it down for good (a restart of it "
                        f"must end before that)"
                    )


def _scenario_dir() -> Path:
    # Next to this file: package data ships in the wheel beside the modules.
    return Path(__file__).resolve().parent / "scenarios"


def list_scenarios() -> dict[str, str]:
    """Built-in scenario names and their one-line descriptions.

    >>> "rolling-restart" in list_scenarios()
    True
    """
    out: dict[str, str] = {}
    for entry in sorted(_scenario_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            out[entry.name[: -len(".toml")]] = str(data.get("description", ""))
    return out


def builtin_toml(name: str) -> str:
    """The TOML text of the built-in scenario ``name``.

    Raises:
        ScenarioError: there is no built-in scenario of that name.
    """
    entry = _scenario_dir() / f"{name}.toml"
    if not entry.is_file():
        raise ScenarioError(
            f"no built-in scenario {name!r} (expected one of: {', '.join(list_scenarios())})"
        )
    text: str = entry.read_text(encoding="utf-8")
    return text


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax (numbers, booleans, quoted strings, arrays), else a string.

    >>> parse_value("5"), parse_value("0.5"), parse_value("true"), parse_value("jump")
    (5, 0.5, True, 'jump')
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides (dotted keys; ``faults.0.downtime`` indexes the faults).

    >>> apply_overrides({"workload": {"rate": 1.0}}, ["workload.rate=5", "seed=3"])
    {'workload': {'rate': 5}, 'seed': 3}

    Raises:
        ScenarioError: an override is not ``key=value`` or indexes a missing fault.
    """
    out: dict[str, Any] = _deep_copy(data)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScenarioError(f"override expects key=value, got {item!r}")
        value = parse_value(text.strip())
        parts = key.split(".")
        target: Any = out
        for depth, part in enumerate(parts[:-1]):
            where = ".".join(parts[: depth + 1])
            if isinstance(target, list):
                if not part.isdigit() or int(part) >= len(target):
                    raise ScenarioError(
                        f"override {key}: {where} must index one of the {len(target)} entries"
                    )
                target = target[int(part)]
            else:
                if not isinstance(target, dict):
                    raise ScenarioError(f"override {key}: {where} is not a table")
                target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ScenarioError(f"override {key}: {'.'.join(parts[:-1])} is not a table")
        target[parts[-1]] = value
    return out


def normalise_overrides(overrides: object) -> list[str]:
    """Overrides as a list: one ``"key=value"`` string is one override.

    >>> normalise_overrides("workload.rate=5"), normalise_overrides(("seed=2",))
    (['workload.rate=5'], ['seed=2'])

    Raises:
        TypeError: ``overrides`` is neither a string nor a sequence of strings.
    """
    if isinstance(overrides, str):
        return [overrides]
    if isinstance(overrides, (bytes, Mapping)) or not isinstance(overrides, (list, tuple)):
        raise TypeError(
            "overrides must be a 'key=value' string or a list of them, "
            f"got {type(overrides).__name__}"
        )
    for item in overrides:
        if not isinstance(item, str):
            raise TypeError(
                f"each override must be a 'key=value' string, got {type(item).__name__}"
            )
    return list(overrides)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def read_scenario_data(spec: str | Path) -> tuple[dict[str, Any], str]:
    """The raw dict of a built-in scenario name or a TOML file path, and a label for errors.

    Raises:
        ScenarioError: the file is missing, unreadable or not TOML, or the name is unknown.
    """
    text_spec = str(spec)
    path = Path(text_spec)
    looks_like_file = text_spec.endswith(".toml") or "/" in text_spec or path.exists()
    if looks_like_file:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"scenario file {text_spec!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"cannot read scenario file {text_spec!r}: {exc}") from None
        label = text_spec
    else:
        text = builtin_toml(text_spec)
        label = f"built-in scenario {text_spec!r}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label} is not valid TOML: {exc}") from None
    return data, label


def load_scenario(
    spec: str | Path | Mapping[str, Any] | Scenario = DEFAULT_SCENARIO,
    overrides: str | list[str] | tuple[str, ...] = (),
) -> Scenario:
    """A validated :class:`Scenario` from a built-in name, a TOML path, a dict or a Scenario.

    ``overrides`` are ``key=value`` strings applied before validation (like ``--set``).

    >>> load_scenario("steady", ["workload.rate=500"]).workload.rate
    500.0

    Raises:
        ScenarioError: see :func:`parse_scenario` and :func:`read_scenario_data`.
    """
    overrides = normalise_overrides(overrides)
    if isinstance(spec, Scenario):
        if not overrides:
            return spec
        raise ScenarioError("overrides need a scenario name, file or dict, not a Scenario")
    if isinstance(spec, Mapping):
        data, label = dict(spec), "scenario"
    else:
        data, label = read_scenario_data(spec)
    data = apply_overrides(data, overrides)
    try:
        return parse_scenario(data, source=label)
    except ScenarioError as exc:
        raise ScenarioError(f"{label}: {exc}") from None
