"""Scenarios: TOML files (or the same dict from Python) validated into a frozen :class:`Scenario`.

Where a scenario comes from and how it becomes one: a built-in name or a TOML path (an
argument is a path only when it contains a path separator or ends in ``.toml``), or a dict;
``key=value`` overrides applied to the dict; then each table built and checked by the rules
of :mod:`sim._rules`. Every error is a :class:`ScenarioError` (a :class:`ValueError`) whose
message names the key, the value and what was expected, e.g.::

    workload.rate must be a positive number, got -5

Built-in scenarios live in ``sim/scenarios/*.toml`` and are found by name.
"""

from __future__ import annotations

import dataclasses
import os
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
    MembershipConfig,
    MetricsConfig,
    NetworkConfig,
    PlacementConfig,
    Scenario,
    WorkloadConfig,
)
from sim._rules import ScenarioError, build_config, check_scenario

__all__ = [
    "DEFAULT_SCENARIO",
    "SECTIONS",
    "TOP_LEVEL",
    "ScenarioError",
    "apply_overrides",
    "builtin_toml",
    "is_scenario_path",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "parse_value",
]

DEFAULT_SCENARIO = "rolling-restart"
"""The scenario the README's main command runs and the golden summary records."""

SECTIONS: dict[str, type[Any]] = {
    "cluster": ClusterConfig,
    "placement": PlacementConfig,
    "network": NetworkConfig,
    "membership": MembershipConfig,
    "clients": ClientConfig,
    "workload": WorkloadConfig,
    "metrics": MetricsConfig,
}
"""The scenario's tables (``[cluster]``, ...) and the configuration class of each."""
TOP_LEVEL = ("name", "description", "duration", "seed")
"""The keys outside any table; ``[[faults]]`` is the one array of tables."""


def parse_scenario(data: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML) into a :class:`Scenario`.

    >>> parse_scenario({"duration": 5, "workload": {"rate": 100}}).workload.rate
    100.0
    >>> parse_scenario({"workload": {"rate": -5}})
    Traceback (most recent call last):
    ...
    sim._rules.ScenarioError: workload.rate must be a positive number, got -5

    Raises:
        ScenarioError: an unknown key, a bad value, or values that contradict each other.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source} must be a table, got {data!r}")
    top: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    faults: list[Any] = []
    allowed = sorted([*TOP_LEVEL, *SECTIONS, "faults"])
    for key, value in data.items():
        if key in TOP_LEVEL:
            top[key] = value
        elif key in SECTIONS:
            sections[key] = build_config(SECTIONS[key], value, key)
        elif key == "faults":
            if not isinstance(value, list):
                raise ScenarioError(
                f"faults must be an array of tables ([[faults]]), got {value!r}"
            )
            faults = [_fault(item, f"faults[{i}]") for i, item in enumerate(value)]
        else:
            raise ScenarioError(f"unknown key {key!r} (expected one of: {', '.join(allowed)})")
    scenario: Scenario = build_config(Scenario, top, "")
    scenario = dataclasses.replace(scenario, **sections, faults=tuple(faults))
    check_scenario(scenario)
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
    return build_config(FAULT_KINDS[kind], rest, where)


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
        ScenarioError: an override is not ``key=value`` or indexes a fault the scenario lacks.
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
                    missing = _no_entry(parts[depth - 1], part, target)
                    raise ScenarioError(f"override {key}: {missing}")
                target = target[int(part)]
            else:
                if not isinstance(target, dict):
                    raise ScenarioError(f"override {key}: {where} is not a table")
                # The one array of tables: a scenario without faults has none to index.
                empty: Any = [] if depth == 0 and part == "faults" else {}
                target = target.setdefault(part, empty)
        if not isinstance(target, dict):
            raise ScenarioError(f"override {key}: {'.'.join(parts[:-1])} is not a table")
        target[parts[-1]] = value
    return out


def _no_entry(array: str, index: str, entries: list[Any]) -> str:
    """Why ``array.index`` names nothing: ``the scenario has no fault 3 (it has 1: faults.0)``.

    >>> _no_entry("faults", "0", [])
    'the scenario has no fault 0 (it has no faults)'
    >>> _no_entry("faults", "x", [{}, {}])
    "faults are indexed by number from 0, got 'x' (the scenario has 2: faults.0 to faults.1)"
    """
    noun = array[:-1] if array.endswith("s") else array
    count = len(entries)
    has = (f"it has no {array}" if count == 0 else f"it has 1: {array}.0" if count == 1
           else f"it has {count}: {array}.0 to {array}.{count - 1}")
    if not index.isdigit():
        return (f"{array} are indexed by number from 0, got {index!r} "
                f"(the scenario has {has.removeprefix('it has ')})")
    return f"the scenario has no {noun} {int(index)} ({has})"


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


def is_scenario_path(spec: str | Path) -> bool:
    """Whether ``spec`` names a TOML file rather than a built-in scenario.

    A :class:`~pathlib.Path`, or a string with a path separator or ending in ``.toml``, is a
    file; any other string is a built-in name, even when a file or directory of that name
    exists (``run crash --out crash`` must not make ``crash`` mean the directory next time).
    Write ``./crash`` to mean the file.

    >>> is_scenario_path("crash"), is_scenario_path("./crash"), is_scenario_path("my.toml")
    (False, True, True)
    """
    if isinstance(spec, Path):
        return True
    separators = {"/", os.sep, os.altsep or os.sep}
    return spec.endswith(".toml") or any(sep in spec for sep in separators)


def read_scenario_text(spec: str | Path) -> tuple[str, str]:
    """The TOML text of a built-in scenario name or a TOML file path, and a label for errors.

    Which of the two ``spec`` is, is decided by its spelling alone (:func:`is_scenario_path`),
    never by what happens to exist in the working directory.

    Raises:
        ScenarioError: the file is missing or unreadable, or the name is unknown.
    """
    text_spec = str(spec)
    path = Path(text_spec)
    if is_scenario_path(spec):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"scenario file {text_spec!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"cannot read scenario file {text_spec!r}: {exc}") from None
        label = text_spec
    else:
        try:
            text = builtin_toml(text_spec)
        except ScenarioError as exc:
            if path.is_file():
                raise ScenarioError(f"{exc}; to run the file {text_spec!r}, write "
                                    f"'./{text_spec}'") from None
            raise
        label = f"built-in scenario {text_spec!r}"
    return text, label


def read_scenario_data(spec: str | Path) -> tuple[dict[str, Any], str]:
    """The raw dict of a built-in scenario name or a TOML file path, and a label for errors.

    Raises:
        ScenarioError: the file is missing, unreadable or not TOML, or the name is unknown.
    """
    text, label = read_scenario_text(spec)
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
