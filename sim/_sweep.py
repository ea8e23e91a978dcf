"""Sweeps: a grid of configurations x replications, run on an executor, with intervals.

:func:`sweep` runs a scenario over the full factorial grid of the values it is given
(``placement.algorithm`` is a key like any other), each configuration ``replications``
times, and returns a :class:`~sim._sweep_result.SweepResult`: one row per run, and per
configuration and metric the mean, standard deviation, 95 % t half-width, min and max, and
the paired difference from a baseline configuration. :func:`compare` is the one-key case,
returning a :class:`Comparison`.

Theory of operation
-------------------
*Common random numbers.* Replication ``i`` of every configuration runs with seed
``seed + i``. The simulator draws from named random streams, one per purpose (arrivals,
clients and keys from ``workload``; service times; network jitter; membership), so two
configurations run with one seed see the same arrivals and the same keys, and the
difference between them is mostly the difference the configuration makes. Paired
differences are therefore far tighter than the unpaired interval of the same runs, which
:class:`~sim._stats.Difference` reports beside them.

*Runs as tasks.* Each configuration is validated here, once; a run is then a pure function
of its validated scenario and seed (:func:`_run_one`), executed where the executor puts it
(:mod:`sim._executors`: serial, local processes or Dask). Outcomes come back in any order
and are placed by (configuration, replication), so the result's files are byte-identical
whatever the executor and the number of workers (:mod:`sim._sweep_result`).

*Failures.* A run that raises is recorded with its configuration, seed and error, and the
sweep goes on; statistics use the runs that finished. A configuration that does not
validate is recorded as failed runs without running (unless every one fails: then the
error is raised). Ctrl-C (KeyboardInterrupt) cancels the runs not yet finished and returns
what finished, with ``interrupted`` set.

*Precision stopping.* ``until=("latency.p99", 0.05)`` runs a pilot of three replications,
then adds replications in rounds, all configurations together (so differences stay
paired), until every configuration's relative half-width of that metric is at most 5 %, or
``replications`` is reached. Each round aims at the replications the current standard
deviation asks for, at most doubling them (a deviation from a few runs is uncertain too).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim._config import Scenario
from sim._executors import EXECUTORS, open_executor
from sim._run import RunResult, run
from sim._scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario, normalise_overrides
from sim._stats import CONFIDENCE, Estimate, t_critical
from sim._sweep_format import aligned, as_override, metric_unit, plain, rounded, with_interval
from sim._sweep_result import Run, SweepResult

__all__ = [
    "COMPARE_METRICS",
    "DEFAULT_METRICS",
    "DEFAULT_REPLICATIONS",
    "EXECUTORS",
    "PILOT_REPLICATIONS",
    "Comparison",
    "compare",
    "flatten_summary",
    "sweep",
]

DEFAULT_REPLICATIONS = 10
"""Replications per configuration when none is given (t with 9 degrees of freedom: 2.26)."""

DEFAULT_METRICS = ("requests.success_ratio", "latency.p99", "load.served_peak_to_mean")
"""Metrics shown in tables and figures when none are chosen."""

COMPARE_METRICS = (
    "requests.success_ratio", "requests.failed", "requests.retried", "requests.forwarded",
    "latency.mean", "latency.p50", "latency.p99", "latency.p999",
    "load.keyspace_peak_to_mean", "load.served_peak_to_mean", "load.served_cv",
    "movement.mean_ratio", "recovery.detection.mean", "recovery.client_convergence.max",
    "recovery.view_convergence.max", "recovery.serving_again.max",
    "availability.max_unavailable", "health_checks.per_client",
)
"""Rows of a replicated comparison's table."""

PILOT_REPLICATIONS = 3
"""Replications run before precision stopping first estimates the half-widths."""

_NOT_METRICS = frozenset({"scenario", "seed", "load.served_share"})
"""Summary entries that describe the run rather than measure it (or one figure per server)."""

Progress = Callable[[int, int], object]
"""Called as ``progress(runs_done, runs_planned)``."""


def flatten_summary(summary: Mapping[str, Any]) -> dict[str, float]:
    """A run summary's numeric figures by dotted name (``latency.p99``, ``requests.failed``).

    Lists (per-fault and per-change details), strings, booleans, missing values and the
    per-server shares are left out: what remains is one number per metric.

    >>> flatten_summary({"seed": 1, "latency": {"p99": 0.01, "method": "x"},
    ...                  "recovery": {"detection": {"mean": 0.3}, "faults": [1]}})
    {'latency.p99': 0.01, 'recovery.detection.mean': 0.3}
    """
    flat: dict[str, float] = {}

    def walk(prefix: str, value: Any) -> None:
        if prefix in _NOT_METRICS:
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value)):
            flat[prefix] = value

    walk("", summary)
    return flat


# -- runs as tasks --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Task:
    """What a worker needs for one run: a validated scenario and a seed."""

    configuration: int
    replication: int
    seed: int
    scenario: Scenario
    keep: bool = False


@dataclasses.dataclass(frozen=True)
class _Outcome:
    configuration: int
    replication: int
    summary: dict[str, Any] | None
    error: str | None
    wall_seconds: float
    result: RunResult | None = None


def _describe_error(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _run_one(task: _Task) -> _Outcome:
    """Run one task; an exception becomes the outcome's error (workers never raise)."""
    started = time.perf_counter()
    try:
        result = run(task.scenario, seed=task.seed)
        # The summary as a run's summary.json records it (6 significant digits): what every
        # statistic is computed from, so a sweep's files follow from runs.csv alone.
        summary = json.loads(result.to_json())
    except Exception as exc:
        return _Outcome(task.configuration, task.replication, None, _describe_error(exc),
                        time.perf_counter() - started)
    return _Outcome(task.configuration, task.replication, summary, None,
                    time.perf_counter() - started, result if task.keep else None)


def _lost(task: _Task, exc: Exception) -> _Outcome:
    """The outcome of a task whose result never came back (a worker died, ...): failed."""
    return _Outcome(task.configuration, task.replication, None, _describe_error(exc), 0.0)


# -- the sweep -------------------------------------------------------------------------------


def _check_vary(vary: Mapping[str, Sequence[Any]] | None) -> dict[str, list[Any]]:
    if vary is None:
        return {}
    if not isinstance(vary, Mapping):
        raise ScenarioError(f"vary must map keys to lists of values, got {type(vary).__name__}")
    checked: dict[str, list[Any]] = {}
    for key, values in vary.items():
        if not isinstance(key, str) or not key.strip():
            raise ScenarioError(f"a varied key must be a dotted name, got {key!r}")
        if key == "seed":
            raise ScenarioError("seed cannot be varied: replications run with seeds "
                                "seed, seed + 1, ... (set the first with seed=)")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ScenarioError(f"the values of {key} must be a list, got {values!r}")
        if not values:
            raise ScenarioError(f"{key} needs at least one value to vary over")
        seen: list[Any] = []
        for value in values:
            if value in seen:
                raise ScenarioError(f"{key} lists the value {value!r} twice")
            seen.append(value)
        checked[key] = list(values)
    return checked


def _check_baseline(baseline: Mapping[str, Any] | None,
                    vary: dict[str, list[Any]]) -> dict[str, Any]:
    if baseline is None:
        return {key: values[0] for key, values in vary.items()}
    checked = {}
    for key, value in baseline.items():
        if key not in vary:
            raise ScenarioError(f"baseline key {key!r} is not varied (varied: "
                                f"{', '.join(vary) or 'nothing'})")
        if value not in vary[key]:
            raise ScenarioError(f"baseline {key}={value!r} is not one of the values of {key}: "
                                f"{vary[key]!r}")
        checked[key] = vary[key][vary[key].index(value)]
    return checked


def _check_until(until: str | tuple[str, float] | None) -> tuple[str, float] | None:
    if until is None:
        return None
    if isinstance(until, str):
        metric, sep, text = until.rpartition(":")
        try:
            target = float(text) if sep and metric else math.nan
        except ValueError:
            target = math.nan
    else:
        metric, target = until
    if not metric or not math.isfinite(target) or target <= 0:
        raise ScenarioError(f"until expects METRIC:REL with REL a positive relative half-width "
                            f"(0.05 for 5 %), got {until!r}")
    return metric, float(target)


def _load(scenario: Any, overrides: list[str]) -> Scenario | ScenarioError:
    """The validated scenario of one configuration, or why it is invalid."""
    try:
        return load_scenario(scenario, overrides)
    except ScenarioError as exc:
        return exc


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(f"{name} must be a positive integer, got {value!r}")
    return value


def _needed_replications(e: Estimate, target: float, cap: int) -> int:
    """Runs that would bring ``e``'s relative half-width to ``target``, at its sd and mean."""
    if e.mean == 0 or math.isnan(e.sd):
        return cap
    n = e.n
    for _ in range(3):  # t at the projected degrees of freedom, not the pilot's (4.3 at n=3)
        n = math.ceil((t_critical(max(n - 1, 1)) * e.sd / (target * abs(e.mean))) ** 2)
        if n >= cap:
            return cap
    return max(n, 2)


def _next_replications(result: SweepResult, done: int, cap: int) -> int:
    """Replications to have after the next round of precision stopping (``done``: none)."""
    assert result.until is not None
    metric, target = result.until
    wanted = done
    for index in range(len(result.configurations)):
        e = result.estimate(index, metric)
        if e.n == 0 or e.relative_half_width <= target:
            continue  # met, or every run failed (more of them will not help)
        # At most double per round: an sd from a few runs is itself uncertain.
        wanted = max(wanted, done + 1, min(_needed_replications(e, target, cap), 2 * done))
    return min(cap, wanted)


def sweep(
    scenario: str | Path | Mapping[str, Any] | Scenario = DEFAULT_SCENARIO,
    vary: Mapping[str, Sequence[Any]] | None = None,
    *,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int | None = None,
    overrides: str | Sequence[str] = (),
    executor: str = "processes",
    workers: int | None = None,
    scheduler: Any = None,
    baseline: Mapping[str, Any] | None = None,
    until: str | tuple[str, float] | None = None,
    metrics: Sequence[str] | None = None,
    progress: Progress | None = None,
    keep_results: bool = False,
) -> SweepResult:
    """Run ``scenario`` over the grid ``vary`` with replications; return a :class:`SweepResult`.

    Runtime complexity: one simulation run per configuration and replication.

    >>> result = sweep("steady", {"placement.algorithm": ["ring", "rendezvous"]},
    ...                replications=2, executor="serial",
    ...                overrides=["duration=1", "workload.rate=100"])
    >>> [(r.config["placement.algorithm"], r.seed) for r in result.runs]
    [('ring', 1), ('ring', 2), ('rendezvous', 1), ('rendezvous', 2)]
    >>> result.estimate(0, "requests.issued").n
    2

    Args:
        scenario: a built-in name, a TOML path or a dict (a :class:`Scenario` only when
            nothing is varied or overridden).
        vary: each key and its values; the sweep runs every combination (full factorial).
        replications: runs per configuration, with seeds ``seed``, ``seed + 1``, ...; with
            ``until``, the most to run.
        seed: the first replication's seed (default: the scenario's).
        overrides: ``key=value`` strings applied to every configuration (like ``--set``).
        executor: ``"serial"``, ``"processes"`` or ``"dask"``.
        workers: worker processes (default: one per core); for ``dask``, of the local cluster.
        scheduler: with ``executor="dask"``, a scheduler address (``"tcp://host:8786"``) or a
            ``dask.distributed.Client``; None starts a local cluster for the sweep.
        baseline: assignments that make a configuration's baseline for paired differences,
            e.g. ``{"placement.algorithm": "ring"}`` (default: every key's first value).
        until: ``"METRIC:REL"`` or ``(metric, rel)``: add replications until every
            configuration's relative 95 % half-width of the metric is at most ``rel``.
        metrics: metrics for :meth:`SweepResult.table` and :meth:`SweepResult.plot`.
        progress: called as ``progress(runs_done, runs_planned)`` after each run.
        keep_results: keep every run's full :class:`RunResult` (time series too) in
            :attr:`SweepResult.results`.

    Returns:
        A :class:`SweepResult`; check ``failed`` (runs that raised) and ``interrupted``.

    A script that sweeps on ``processes`` or ``dask`` needs ``if __name__ == "__main__":``
    around its work: worker processes start by forkserver or spawn, which import the main
    module.

    Raises:
        ScenarioError: the scenario, a varied key or value, the baseline or ``until`` is
            invalid (when every configuration is invalid; otherwise the invalid ones are
            recorded as failed runs), or a chosen metric is not a summary metric.
        RuntimeError: the dask executor without dask installed, or no scheduler there.
    """
    started = time.perf_counter()
    vary = _check_vary(vary)
    overrides = normalise_overrides(overrides)
    replications = _check_count("replications", replications)
    if workers is not None:
        _check_count("workers", workers)
    if executor not in EXECUTORS:
        raise ScenarioError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise ScenarioError(f"a scheduler needs executor='dask', got executor={executor!r}")
    chosen_baseline = _check_baseline(baseline, vary)
    target = _check_until(until)
    chosen = list(metrics) if metrics is not None else list(DEFAULT_METRICS)
    if target is not None and target[0] not in chosen:
        chosen.append(target[0])
    base = load_scenario(scenario, overrides)
    if isinstance(scenario, Scenario) and vary:
        raise ScenarioError("a sweep needs a scenario name, file or dict to vary, not a Scenario")
    if seed is not None and (type(seed) is not int or seed < 0):
        raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}")
    first_seed = base.seed if seed is None else seed

    configurations = [dict(zip(vary, combo, strict=True))
                      for combo in itertools.product(*vary.values())]
    loaded = [_load(scenario, [*overrides, *(as_override(k, v) for k, v in config.items())])
              for config in configurations]
    errors = [item for item in loaded if isinstance(item, ScenarioError)]
    if errors and len(errors) == len(loaded):
        raise errors[0]

    result = SweepResult(base.name, overrides, vary, configurations, first_seed, replications,
                         [], chosen_baseline, chosen, target)
    runs: dict[tuple[int, int], Run] = {}
    done = 0
    planned = replications if target is None else min(replications, PILOT_REPLICATIONS)
    checked_metrics = False

    def record(outcome: _Outcome) -> None:
        nonlocal checked_metrics
        config = configurations[outcome.configuration]
        metrics_ = {} if outcome.summary is None else flatten_summary(outcome.summary)
        runs[outcome.configuration, outcome.replication] = Run(
            outcome.configuration, config, outcome.replication,
            first_seed + outcome.replication, metrics_, outcome.error, outcome.wall_seconds)
        if outcome.result is not None:
            result.results[outcome.configuration, outcome.replication] = outcome.result
        if outcome.summary is not None and not checked_metrics:
            checked_metrics = True
            unknown = [m for m in chosen if not _names_a_metric(outcome.summary, m)]
            if unknown:
                raise ScenarioError(
                    f"not a summary metric: {', '.join(unknown)} (metrics: "
                    f"{', '.join(metrics_)})")

    pool = open_executor(executor, workers, scheduler, planned * (len(loaded) - len(errors)))
    cancelled = True
    try:
        while True:
            tasks = []
            for replication in range(done, planned):
                for index, item in enumerate(loaded):
                    if isinstance(item, ScenarioError):
                        record(_Outcome(index, replication, None, _describe_error(item), 0.0))
                    else:
                        tasks.append(_Task(index, replication, first_seed + replication, item,
                                           keep_results))
            total = planned * len(configurations)
            if progress is not None:
                progress(len(runs), total)
            for outcome in pool.map(_run_one, tasks, _lost):
                record(outcome)
                if progress is not None:
                    progress(len(runs), total)
            done = planned
            if target is None or done >= replications:
                break
            result.runs = [runs[key] for key in sorted(runs)]
            planned = _next_replications(result, done, replications)
            if planned <= done:
                break
        cancelled = False
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        pool.close(cancel=cancelled)
    result.runs = [runs[key] for key in sorted(runs)]
    result.wall_seconds = time.perf_counter() - started
    return result


def _names_a_metric(summary: Mapping[str, Any], name: str) -> bool:
    """Whether ``name`` is a metric of summaries like ``summary`` (present, or under a null).

    A run without faults has ``recovery.detection`` null: ``recovery.detection.mean`` is
    still a metric, missing in that run.

    >>> _names_a_metric({"recovery": {"detection": None}}, "recovery.detection.mean")
    True
    >>> _names_a_metric({"latency": {"p99": 0.1}}, "latency.p98")
    False
    """
    value: Any = summary
    for part in name.split("."):
        if value is None:
            return True
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    return value is None or name in flatten_summary(summary)


# -- compare: one key, side by side --------------------------------------------------------


@dataclasses.dataclass
class Comparison:
    """The same scenario run across the values of one parameter, side by side.

    ``results`` holds the first replication's run of each value (its time series draw
    :meth:`plot`); ``sweep`` has every replication and the statistics.
    """

    key: str
    values: list[Any]
    results: list[RunResult]
    sweep: SweepResult | None = None

    @property
    def replications(self) -> int:
        """Runs per value."""
        return 1 if self.sweep is None else self.sweep.completed_replications

    def rows(self) -> list[tuple[str, list[Any]]]:
        """``(metric, [value per run])`` rows of the first replication's table."""
        from sim import report

        return report.comparison_rows(self)

    def table(self) -> str:
        """The comparison as a text table: each run's figures, or mean ± half-width."""
        from sim import report

        if self.sweep is None or self.replications == 1:
            return report.comparison_table(self)
        sweep_ = self.sweep
        header = [self.key, *(plain(v) for v in self.values)]
        rows = [header]
        present = set(sweep_.metric_names())
        for metric in COMPARE_METRICS:
            if metric not in present:
                continue
            unit = metric_unit(metric)
            rows.append([metric, *(with_interval(e.mean, e.half_width, unit) for e in
                                   (sweep_.estimate(i, metric)
                                    for i in range(len(self.values))))])
        title = (f"{self.replications} replications (seeds {sweep_.seed}.."
                 f"{sweep_.seed + self.replications - 1}); mean ± {CONFIDENCE:.0%} t half-width")
        return "\n".join([*aligned(rows), "", title])

    def to_json(self) -> str:
        """Every value's first-replication summary (and, replicated, the sweep's aggregates)."""
        data: dict[str, Any] = {
            "key": self.key,
            "runs": [{"value": v, "summary": json.loads(r.to_json())}
                     for v, r in zip(self.values, self.results, strict=True)],
        }
        if self.sweep is not None and self.replications > 1:
            data["sweep"] = self.sweep.to_dict()
        return json.dumps(rounded(data), sort_keys=True, indent=2) + "\n"

    def plot(self, directory: str | Path | None = None) -> list[Any]:
        """Figures comparing the first replication's runs over time (needs matplotlib)."""
        from sim import report

        return report.plot_comparison(self, directory)


def compare(
    scenario: str | Path | Mapping[str, Any] = DEFAULT_SCENARIO,
    key: str = "placement.algorithm",
    values: Sequence[Any] = ("ring",),
    *,
    seed: int | None = None,
    overrides: str | Sequence[str] = (),
    progress: Progress | None = None,
    replications: int = 1,
    executor: str | None = None,
    workers: int | None = None,
) -> Comparison:
    """Run ``scenario`` once per value of ``key`` (same seeds) and collect the results.

    A :func:`sweep` over one key that keeps each run's full result. With one replication
    (the default) it runs in this process; with more, on local processes.

    >>> c = compare("steady", "workload.popularity", ["uniform", "zipf"],
    ...             overrides=["duration=2", "workload.rate=200"])
    >>> [r.scenario.workload.popularity for r in c.results]
    ['uniform', 'zipf']

    Args:
        progress: called as ``progress(runs_done, runs_planned)``.
        replications: runs per value (seeds ``seed``, ``seed + 1``, ...).
        executor: as for :func:`sweep` (default: serial for one replication, else processes).

    Raises:
        ScenarioError: see :func:`sweep`; also when any run fails (naming it).
        KeyboardInterrupt: interrupted before every run finished.
    """
    if isinstance(values, (str, bytes)) or not values:
        raise ScenarioError(f"compare needs at least one value for {key}")
    result = sweep(scenario, {key: list(values)}, replications=replications, seed=seed,
                   overrides=overrides, progress=progress, workers=workers,
                   executor=executor or ("serial" if replications == 1 else "processes"),
                   metrics=list(DEFAULT_METRICS), keep_results=True)
    if result.interrupted:
        raise KeyboardInterrupt
    if result.failed:
        first = result.failed[0]
        raise ScenarioError(f"{first.describe()} failed: {first.error}")
    return Comparison(key, list(values), [result.results[i, 0] for i in range(len(values))],
                      result)
