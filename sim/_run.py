"""Running a scenario: :func:`run` returns a :class:`RunResult`.

This is the function the CLI calls, so a notebook gets exactly what the command line gets;
many runs (a grid of configurations, replications, :func:`sim.compare`) are
:mod:`sim._sweep`'s. Results are deterministic: the same scenario and seed give byte-identical
:meth:`RunResult.to_json`. Wall-clock figures (events per second) live apart, in
:attr:`RunResult.performance`, and never enter the JSON.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from consistent import ConsistentError, UnsupportedOperationError
from sim import report
from sim._config import Scenario
from sim._engine import Engine
from sim._faults import schedule_faults
from sim._metrics import Recorder
from sim._model import Model
from sim._scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario, normalise_overrides

__all__ = ["RunResult", "run"]

ProgressCallback = Callable[[float, float], object]
"""Called as ``progress(simulated_now, simulated_end)``."""

_SIGNIFICANT = 6
"""Significant digits of floats in the JSON summary (keeps it byte-stable and readable)."""


def _round(value: Any) -> Any:
    """Round floats to :data:`_SIGNIFICANT` digits, NaN/inf to None, recursively."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{_SIGNIFICANT}g}")
    if isinstance(value, (np.floating, np.integer)):
        return _round(value.item())
    if isinstance(value, Mapping):
        return {str(k): _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


def scenario_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data (what the summary records of it)."""
    data = dataclasses.asdict(scenario)
    data["placement"]["options"] = dict(scenario.placement.options)
    data["faults"] = [dataclasses.asdict(f) for f in scenario.faults]
    return data


@dataclasses.dataclass
class RunResult:
    """What one run produced: a summary, per-interval time series and timing figures.

    Attributes:
        scenario: the scenario that ran.
        seed: the seed it ran with.
        summary: every summary figure (see DESIGN.md for the definitions).
        timeseries: per-bin numpy arrays (``time``, ``issued``, ``latency_p99``, ...;
            ``served`` is bins x servers).
        performance: wall time, events and requests per second (not part of the JSON).
    """

    scenario: Scenario
    seed: int
    summary: dict[str, Any]
    timeseries: dict[str, npt.NDArray[Any]]
    performance: dict[str, float]
    server_names: list[str]

    def __repr__(self) -> str:
        req = self.summary["requests"]
        return (f"<RunResult {self.scenario.name!r} seed={self.seed}: {req['issued']} requests, "
                f"{req['succeeded']} succeeded>")

    def to_json(self) -> str:
        """The summary as deterministic JSON text (sorted keys, floats to 6 digits)."""
        return json.dumps(_round(self.summary), sort_keys=True, indent=2) + "\n"

    def to_csv(self, path: str | Path) -> Path:
        """Write the time series as CSV (one row per bin); returns the path written.

        A second file ``<stem>_served.csv`` holds requests served per server per bin.
        """
        path = Path(path)
        columns = [k for k, v in self.timeseries.items() if v.ndim == 1]
        rows = zip(*(self.timeseries[c].tolist() for c in columns), strict=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_value(v) for v in row])
        served = self.timeseries["served"]
        served_path = path.with_name(path.stem + "_served.csv")
        with served_path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["time", *self.server_names[: served.shape[1]]])
            for t, row in zip(self.timeseries["time"].tolist(), served.tolist(), strict=True):
                writer.writerow([_csv_value(t), *row])
        return path

    def save(self, directory: str | Path, *, figures: bool = True) -> list[Path]:
        """Write ``summary.json``, ``timeseries.csv`` (+ served) and figures to ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "summary.json"]
        written[0].write_text(self.to_json(), encoding="utf-8")
        written.append(self.to_csv(out / "timeseries.csv"))
        written.append(out / "timeseries_served.csv")
        if figures:
            written.extend(self.plot(out))
        return written

    def plot(self, directory: str | Path | None = None) -> list[Any]:
        """Draw the standard figures (needs matplotlib); save PNGs when given a directory.

        Returns the saved paths, or the figures when ``directory`` is None.
        """
        return report.plot_run(self, directory)

    def table(self) -> str:
        """The summary as a text table (what ``consistent-sim run`` prints)."""
        return report.summary_table(self)


def _name_option(message: str, config: Scenario) -> str:
    """Name a placement option by its scenario key in a library's message about it.

    >>> from sim._scenario import load_scenario
    >>> config = load_scenario({"placement": {"algorithm": "multiprobe",
    ...                                       "options": {"probes": 0}}})
    >>> _name_option("probes (k) must be at least 1, got 0", config)
    'placement.options.probes (k) must be at least 1, got 0'
    """
    for name in sorted(config.placement.kwargs, key=len, reverse=True):
        if message.startswith((name + " ", name + ":")):
            return f"placement.options.{message}"
    return message


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return value


def run(
    scenario: str | Path | Mapping[str, Any] | Scenario = DEFAULT_SCENARIO,
    *,
    seed: int | None = None,
    overrides: str | Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Run a scenario and return its :class:`RunResult`.

    ``scenario`` is a built-in name, a TOML path, a dict or a :class:`Scenario`;
    ``seed`` replaces the scenario's seed (the summary's ``seed`` and ``scenario.seed`` both
    record it); ``overrides`` are ``key=value`` strings, or one such string.

    >>> result = run("steady", overrides=["duration=2", "workload.rate=200"])
    >>> result.summary["conservation"]["conserved"]
    True

    Raises:
        ScenarioError: the scenario is invalid, or the placement cannot do what it asks.
    """
    config = load_scenario(scenario, normalise_overrides(overrides))
    if seed is not None:
        if type(seed) is not int or seed < 0:
            raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}")
        # The seed argument is the scenario's seed for this run: the summary records one seed,
        # and seed=N here and a "seed=N" override are the same run, byte for byte.
        config = dataclasses.replace(config, seed=seed)
    seed = config.seed
    engine = Engine(seed)
    started = time.perf_counter()
    try:
        # Building the placements is where bad algorithm options surface (a Maglev table
        # size that is not prime, ...): those are the scenario's errors, reported in a line.
        recorder = Recorder(config, engine)
        model = Model(config, engine, recorder)
        model.start()
        recorder.start(model)
    except (ConsistentError, ValueError, TypeError) as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(
            f"scenario {config.name!r} cannot start: {_name_option(str(exc), config)}"
        ) from exc
    schedule_faults(model, config.faults)
    on_progress = None
    if progress is not None:
        def on_progress(now: float) -> None:
            progress(now, config.duration)
    try:
        engine.run(config.duration, on_progress=on_progress,
                   progress_interval=max(config.duration / 100, config.metrics.interval))
    except UnsupportedOperationError as exc:
        raise ScenarioError(f"scenario {config.name!r} cannot run: {exc}") from exc
    recorder.finish(engine.now)
    wall = time.perf_counter() - started
    conservation = model.check_conservation()
    if not conservation["conserved"]:
        raise AssertionError(f"requests not conserved: {conservation}")
    summary = {
        "scenario": scenario_dict(config),
        "seed": seed,
        **recorder.summary(),
        "conservation": conservation,
        "engine": {"events": engine.events + model.inline_events,
                   "views_built": model.views.built, "home_lookups": model.views.lookups},
    }
    events = engine.events + model.inline_events
    performance = {
        "wall_seconds": wall,
        "events": float(events),
        "events_per_second": events / wall if wall > 0 else math.inf,
        "requests": float(model.counters.issued),
        "requests_per_second": model.counters.issued / wall if wall > 0 else math.inf,
    }
    return RunResult(config, seed, summary, recorder.timeseries(), performance,
                     list(model.names))
