"""Sweeps: a grid of configurations x replications, run on an executor, with intervals.

:func:`sweep` runs a scenario over the full factorial grid of the values it is given
(``placement.algorithm`` is a key like any other), each configuration ``replications``
times, and returns a :class:`SweepResult`: one row per run, and per configuration and
metric the mean, standard deviation, 95 % t half-width, min and max, and the paired
difference from a baseline configuration. :func:`compare` is the one-key case.

Theory of operation
-------------------
*Common random numbers.* Replication ``i`` of every configuration runs with seed
``seed + i``. The simulator draws from named random streams, one per purpose (arrivals,
clients and keys from ``workload``; service times; network jitter; membership), so two
configurations run with one seed see the same arrivals and the same keys, and the
difference between them is mostly the difference the configuration makes. Paired
differences are therefore far tighter than the unpaired interval of the same runs, which
:class:`~sim._stats.Difference` reports beside them.

*Executors.* ``serial`` runs in this process; ``processes`` (the default) on a
:class:`concurrent.futures.ProcessPoolExecutor`, one worker per core; ``dask`` on a Dask
distributed cluster (``scheduler="tcp://host:8786"``, a ``dask.distributed.Client``, or a
local cluster started for the sweep). Each run is a pure function of its scenario and
seed, results are placed by (configuration, replication), and everything written is
computed from the recorded summaries in that order: the files are byte-identical whatever
the executor and the number of workers. Wall-clock figures never enter them.

*Failures.* A run that raises is recorded with its configuration, seed and error, and the
sweep goes on; statistics use the runs that finished. Ctrl-C (KeyboardInterrupt) cancels
the runs not yet finished and returns what finished, with ``interrupted`` set.

*Precision stopping.* ``until=("latency.p99", 0.05)`` runs a pilot of three replications,
then adds replications in rounds, all configurations together (so differences stay
paired), until every configuration's relative half-width of that metric is at most 5 %, or
``replications`` is reached. Each round aims at the replications the current standard
deviation asks for, at most doubling them (a deviation from a few runs is uncertain too).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import itertools
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from sim._config import Scenario
from sim._run import RunResult, run
from sim._scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario, normalise_overrides
from sim._stats import (
    CONFIDENCE,
    Difference,
    Estimate,
    estimate,
    paired_difference,
    t_critical,
)

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_REPLICATIONS",
    "EXECUTORS",
    "Comparison",
    "Run",
    "SweepResult",
    "compare",
    "flatten_summary",
    "metric_unit",
    "sweep",
]

EXECUTORS = ("serial", "processes", "dask")
"""Where a sweep's runs execute."""

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

_SIGNIFICANT = 6
"""Significant digits of floats in the files written (as in a run's summary.json)."""

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


def metric_unit(name: str) -> str:
    """The unit a metric prints in: ``"s"``, ``"%"`` (a share) or ``""``.

    >>> metric_unit("latency.p99"), metric_unit("requests.success_ratio"), metric_unit("x.y")
    ('s', '%', '')
    """
    last = name.rsplit(".", 1)[-1]
    if last == "count":
        return ""
    if name.startswith(("latency.", "recovery.", "availability.time_with_")):
        return "s"
    if last in {"success_ratio", "max_unavailable"}:
        return "%"
    return ""


def _round(value: Any) -> Any:
    """Floats to :data:`_SIGNIFICANT` significant digits, NaN/inf to None, recursively."""
    if isinstance(value, float):
        return float(f"{value:.{_SIGNIFICANT}g}") if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


def _cell(value: Any) -> str:
    """A CSV cell: strings as they are, numbers in shortest form, missing values empty."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(_round(value))
    return json.dumps(value)


def _assignment(key: str, value: Any) -> str:
    """``key=value`` as an override (JSON gives TOML syntax for strings, numbers, booleans)."""
    return f"{key}={json.dumps(value)}"


def _label(config: Mapping[str, Any]) -> str:
    """``k=v k=v`` for messages (``(base)`` for the empty configuration)."""
    return " ".join(_assignment(k, v) for k, v in config.items()) or "(base)"


# -- runs ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of a sweep: which configuration and replication, its seed and its metrics.

    ``error`` is ``"ExceptionType: message"`` for a run that raised (its ``metrics`` empty).
    ``wall_seconds`` is how long the run took where it ran (never written to files).
    """

    configuration: int
    config: dict[str, Any]
    replication: int
    seed: int
    metrics: dict[str, float]
    error: str | None = None
    wall_seconds: float = dataclasses.field(default=0.0, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the run finished."""
        return self.error is None

    def describe(self) -> str:
        """The run named for a message: configuration, replication and seed."""
        return f"{_label(self.config)} replication {self.replication} (seed {self.seed})"


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


def _outcome_of(future: Any, task: _Task) -> _Outcome:
    """A finished future's outcome; its exception (a worker died, ...) as a failed run."""
    try:
        outcome: _Outcome = future.result()
    except Exception as exc:  # BrokenProcessPool, a Dask KilledWorker, an unpicklable value
        return _Outcome(task.configuration, task.replication, None, _describe_error(exc), 0.0)
    return outcome


# -- executors -------------------------------------------------------------------------------


def default_workers() -> int:
    """Cores this process may run on (one worker per core)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class _Serial:
    """Runs tasks one after another in this process."""

    def map(self, tasks: Sequence[_Task]) -> Iterator[_Outcome]:
        for task in tasks:
            yield _run_one(task)

    def close(self, cancel: bool) -> None:
        pass


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it cancels and terminates)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_context() -> Any:
    import multiprocessing

    # forkserver, not fork: the parent may hold threads (a Dask client, a notebook kernel's)
    # whose locks a forked child would inherit held.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sim._sweep"])
        return context
    return multiprocessing.get_context("spawn")  # pragma: no cover - Windows


class _Processes:
    """A pool of local worker processes (:class:`concurrent.futures.ProcessPoolExecutor`)."""

    def __init__(self, workers: int) -> None:
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=_process_context(),
                                         initializer=_ignore_sigint)
        self._futures: list[Future[_Outcome]] = []

    def map(self, tasks: Sequence[_Task]) -> Iterator[_Outcome]:
        futures = {self._pool.submit(_run_one, task): task for task in tasks}
        self._futures = list(futures)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield _outcome_of(future, futures[future])

    def close(self, cancel: bool) -> None:
        if cancel:
            for future in self._futures:
                future.cancel()
            terminate = getattr(self._pool, "terminate_workers", None)  # Python 3.14
            if terminate is not None:
                terminate()
            else:
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=cancel)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started inside inherit SIGINT ignored: Ctrl-C is the sweep's to handle.

    A terminal's Ctrl-C reaches the whole process group; a local Dask cluster's workers would
    each die with a traceback, where the sweep itself cancels them and closes the cluster.
    (Python keeps an inherited SIG_IGN instead of installing its KeyboardInterrupt handler.)
    """
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Dask:
    """Runs tasks on a Dask distributed cluster: given, at an address, or local."""

    def __init__(self, workers: int, scheduler: Any) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise RuntimeError("the dask executor needs dask.distributed: "
                               "pip install 'consistent-ring[dask]'") from None
        self._cluster: Any = None
        self._owns_client = True
        if scheduler is None:
            import logging

            with _sigint_ignored():
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                             processes=True, host="127.0.0.1",
                                             dashboard_address=None,
                                             silence_logs=logging.ERROR)
            self._client = Client(self._cluster, set_as_default=False)
        elif isinstance(scheduler, str):
            try:
                self._client = Client(scheduler, set_as_default=False, timeout=30)
            except OSError as exc:
                raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler!r}: "
                                   f"{exc}") from None
        else:
            self._client = scheduler
            self._owns_client = False
        self._futures: list[Any] = []

    def map(self, tasks: Sequence[_Task]) -> Iterator[_Outcome]:
        from dask.distributed import as_completed

        futures = {self._client.submit(_run_one, task, pure=False): task for task in tasks}
        self._futures = list(futures)
        # The client is not the default one (set_as_default=False): name its event loop.
        for future in as_completed(list(futures), loop=self._client.loop):
            yield _outcome_of(future, futures[future])

    def close(self, cancel: bool) -> None:
        try:
            if cancel and self._futures:
                self._client.cancel(self._futures)
        finally:
            if self._owns_client:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()


def _open_executor(executor: str, workers: int | None, scheduler: Any,
                   tasks: int) -> _Serial | _Processes | _Dask:
    if executor == "serial":
        return _Serial()
    if executor == "processes":
        return _Processes(max(1, min(workers or default_workers(), tasks)))
    return _Dask(max(1, min(workers or default_workers(), tasks)), scheduler)


# -- the result ------------------------------------------------------------------------------


@dataclasses.dataclass
class SweepResult:
    """What a sweep produced: every run, and statistics per configuration and metric.

    Attributes:
        scenario: the scenario's name.
        overrides: the ``key=value`` overrides applied to every configuration.
        vary: each varied key and its values, in grid order.
        configurations: the grid, one ``{key: value}`` dict per configuration.
        seed: replication ``i`` ran with seed ``seed + i``.
        replications: the replications asked for (the cap, with ``until``).
        runs: every run, ordered by configuration then replication.
        baseline: the assignments that make a configuration's baseline.
        metrics: the metrics shown by :meth:`table` and :meth:`plot`.
        until: ``(metric, relative half-width)`` of precision stopping, or None.
        interrupted: the sweep was cancelled (Ctrl-C) before every run finished.
        results: the runs' full :class:`RunResult` by ``(configuration, replication)``,
            when the sweep was asked to keep them.
        wall_seconds: the sweep's wall time (never written to files).
    """

    scenario: str
    overrides: list[str]
    vary: dict[str, list[Any]]
    configurations: list[dict[str, Any]]
    seed: int
    replications: int
    runs: list[Run]
    baseline: dict[str, Any]
    metrics: list[str]
    until: tuple[str, float] | None = None
    interrupted: bool = False
    results: dict[tuple[int, int], RunResult] = dataclasses.field(default_factory=dict,
                                                                  repr=False)
    wall_seconds: float = dataclasses.field(default=0.0, repr=False)
    _index: dict[int, dict[int, Run]] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False)
    _index_key: tuple[int, int] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False)

    def __repr__(self) -> str:
        state = ", interrupted" if self.interrupted else ""
        return (f"<SweepResult {self.scenario!r}: {len(self.configurations)} configurations, "
                f"{len(self.runs)} runs, {len(self.failed)} failed{state}>")

    # -- runs and metrics

    @property
    def failed(self) -> list[Run]:
        """The runs that raised, by configuration and replication."""
        return [r for r in self._in_order() if not r.ok]

    def _in_order(self) -> list[Run]:
        """The runs by configuration then replication, however :attr:`runs` is ordered."""
        return sorted(self.runs, key=lambda r: (r.configuration, r.replication))

    @property
    def completed_replications(self) -> int:
        """Replications run for every configuration (fewer than asked with ``until``)."""
        return 1 + max((max(self._runs_of(i), default=-1)
                        for i in range(len(self.configurations))), default=-1)

    def metric_names(self) -> list[str]:
        """Every metric some run recorded, in summary order."""
        names: dict[str, None] = {}
        for r in self._in_order():
            names.update(dict.fromkeys(r.metrics))
        return list(names)

    def _runs_of(self, configuration: int) -> dict[int, Run]:
        """A configuration's runs by replication (indexed once per list of runs)."""
        key = (id(self.runs), len(self.runs))
        if self._index_key != key:
            index: dict[int, dict[int, Run]] = {}
            for r in self.runs:
                index.setdefault(r.configuration, {})[r.replication] = r
            self._index, self._index_key = index, key
        return self._index.get(configuration, {})

    def values(self, configuration: int, metric: str) -> list[float | None]:
        """``metric`` in replication 0, 1, ... of a configuration (None: failed or missing)."""
        runs = self._runs_of(configuration)
        return [runs[i].metrics.get(metric) if i in runs else None
                for i in range(self.completed_replications)]

    def estimate(self, configuration: int, metric: str) -> Estimate:
        """Mean, sd, 95 % half-width, min and max of ``metric`` over a configuration's runs."""
        return estimate([v for v in self.values(configuration, metric) if v is not None])

    def baseline_of(self, configuration: int) -> int:
        """The index of a configuration's baseline: itself with the baseline assignments.

        With one varied key that is one configuration for all; with several, each
        configuration is compared with the one that differs only in the baseline's keys.
        """
        target = {**self.configurations[configuration], **self.baseline}
        return self.configurations.index(target)

    def difference(self, configuration: int, metric: str) -> Difference:
        """``metric`` of a configuration minus its baseline's, paired by replication."""
        return paired_difference(self.values(configuration, metric),
                                 self.values(self.baseline_of(configuration), metric))

    # -- documents

    def to_dict(self) -> dict[str, Any]:
        """Everything :meth:`to_json` writes, as plain data (floats not yet rounded)."""
        names = self.metric_names()
        configurations = []
        for index, config in enumerate(self.configurations):
            runs = [r for r in self.runs if r.configuration == index]
            base = self.baseline_of(index)
            entry: dict[str, Any] = {
                "config": config,
                "runs": len(runs),
                "failed": sum(not r.ok for r in runs),
                "baseline": self.configurations[base],
                "metrics": {m: self.estimate(index, m).as_dict() for m in names},
            }
            if base != index:
                entry["vs_baseline"] = {m: self.difference(index, m).as_dict() for m in names}
            configurations.append(entry)
        until = None
        if self.until is not None:
            metric, target = self.until
            worst = max((self.estimate(i, metric).relative_half_width
                         for i in range(len(self.configurations))), default=math.nan)
            until = {"metric": metric, "relative_half_width": target,
                     "achieved": worst, "met": bool(worst <= target)}
        return {
            "scenario": self.scenario,
            "overrides": self.overrides,
            "seed": self.seed,
            "vary": self.vary,
            "replications": self.replications,
            "completed_replications": self.completed_replications,
            "confidence": CONFIDENCE,
            "baseline": self.baseline,
            "metrics": self.metrics,
            "until": until,
            "interrupted": self.interrupted,
            "runs": {"total": len(self.runs), "failed": len(self.failed)},
            "failed_runs": [{"config": r.config, "replication": r.replication, "seed": r.seed,
                             "error": r.error} for r in self.failed],
            "configurations": configurations,
        }

    def to_json(self) -> str:
        """The aggregates as deterministic JSON (``summary.json``)."""
        return json.dumps(_round(self.to_dict()), sort_keys=True, indent=2) + "\n"

    def run_rows(self) -> list[dict[str, Any]]:
        """One dict per run: varied keys, replication, seed, status, error, every metric."""
        names = self.metric_names()
        return [{**r.config, "replication": r.replication, "seed": r.seed,
                 "status": "ok" if r.ok else "failed", "error": r.error,
                 **{m: r.metrics.get(m) for m in names}} for r in self.runs]

    def summary_rows(self) -> list[dict[str, Any]]:
        """One dict per configuration and metric: the estimate and the paired difference."""
        rows = []
        for index, config in enumerate(self.configurations):
            own_baseline = self.baseline_of(index) == index
            for metric in self.metric_names():
                e = self.estimate(index, metric)
                d = None if own_baseline else self.difference(index, metric)
                rows.append({
                    **config, "metric": metric, **e.as_dict(),
                    "diff_n": None if d is None else d.n,
                    "diff_mean": None if d is None else d.mean,
                    "diff_sd": None if d is None else d.sd,
                    "diff_half_width": None if d is None else d.half_width,
                    "unpaired_half_width": None if d is None else d.unpaired_half_width,
                })
        return rows

    def runs_csv(self) -> str:
        """``runs.csv``: one row per run."""
        return _csv(self.run_rows(), [*self.vary, "replication", "seed", "status", "error",
                                      *self.metric_names()])

    def summary_csv(self) -> str:
        """``summary.csv``: one row per configuration and metric."""
        return _csv(self.summary_rows(), [
            *self.vary, "metric", "n", "mean", "sd", "half_width", "min", "max",
            "diff_n", "diff_mean", "diff_sd", "diff_half_width", "unpaired_half_width"])

    def to_pandas(self, table: str = "runs") -> Any:
        """The run table (``"runs"``) or the aggregates (``"summary"``) as a DataFrame.

        Needs pandas (not a dependency of this package).

        Raises:
            ValueError: ``table`` is neither ``"runs"`` nor ``"summary"``.
            RuntimeError: pandas is not installed.
        """
        if table not in ("runs", "summary"):
            raise ValueError(f"table must be 'runs' or 'summary', got {table!r}")
        try:
            import pandas as pd
        except ImportError:
            raise RuntimeError("to_pandas needs pandas: pip install pandas") from None
        rows = self.run_rows() if table == "runs" else self.summary_rows()
        return pd.DataFrame(rows)

    # -- presentation

    def table(self, metrics: Sequence[str] | None = None) -> str:
        """Mean ± 95 % half-width per configuration, then paired differences from baseline."""
        chosen = list(metrics) if metrics is not None else self.metrics
        keys = list(self.vary)
        header = [*keys, *chosen]
        rows = []
        for index, config in enumerate(self.configurations):
            cells = [_plain(config[k]) for k in keys]
            for metric in chosen:
                e = self.estimate(index, metric)
                cells.append(_with_interval(e.mean, e.half_width, metric_unit(metric)))
            rows.append(cells)
        done = len(self.runs) - len(self.failed)
        reps = self.completed_replications
        title = (f"sweep {self.scenario!r}: {len(self.configurations)} configuration"
                 f"{'s' if len(self.configurations) != 1 else ''} x {reps} replication"
                 f"{'s' if reps != 1 else ''} (seeds {self.seed}..{self.seed + max(reps, 1) - 1}),"
                 f" {done} runs; mean ± {CONFIDENCE:.0%} t half-width")
        if self.interrupted:
            title += "  [interrupted]"
        lines = [title, *_align([header, *rows])]
        compared = [i for i in range(len(self.configurations)) if self.baseline_of(i) != i]
        if compared and chosen:
            lines.append("")
            lines.append(f"difference from baseline ({_label(self.baseline)}), paired on "
                         f"common random numbers")
            diff_rows = [header]
            for index in compared:
                cells = [_plain(self.configurations[index][k]) for k in keys]
                for metric in chosen:
                    d = self.difference(index, metric)
                    cells.append(_with_interval(d.mean, d.half_width, metric_unit(metric),
                                                signed=True))
                diff_rows.append(cells)
            lines.extend(_align(diff_rows))
        return "\n".join(lines)

    def plot(self, metrics: Sequence[str] | None = None,
             directory: str | Path | None = None) -> list[Any]:
        """Each metric against each varied parameter, one line per algorithm, CI error bars.

        Returns the saved paths (``sweep.png``) when given a directory, else the figures.
        Needs matplotlib (the ``sim`` extra).
        """
        return _plot(self, list(metrics) if metrics is not None else self.metrics, directory)

    def save(self, directory: str | Path, *, figures: bool = True) -> list[Path]:
        """Write ``runs.csv``, ``summary.csv``, ``summary.json`` and ``sweep.png``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in (("runs.csv", self.runs_csv()), ("summary.csv", self.summary_csv()),
                           ("summary.json", self.to_json())):
            (out / name).write_text(text, encoding="utf-8")
            written.append(out / name)
        if figures and self.runs:
            written.extend(self.plot(directory=out))
        return written


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _with_interval(mean: float, half_width: float, unit: str, *, signed: bool = False) -> str:
    """``mean ± half-width`` for a table cell (the mean alone when there is no interval).

    >>> _with_interval(0.0123, 0.0004, "s"), _with_interval(1.5, float("nan"), "")
    ('12.3 ms ± 0.4 ms', '1.5')
    """
    from sim.report import format_value

    if math.isnan(mean):
        return "-"
    text = format_value(float(mean), unit)
    if signed and mean >= 0:
        text = "+" + text
    if math.isnan(half_width):
        return text
    return f"{text} ± {format_value(float(half_width), unit)}"


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError("figures need matplotlib: pip install 'consistent-ring[sim]'") from None
    if "matplotlib.pyplot" not in sys.modules:
        # Agg for the command line; a notebook that imported pyplot keeps its own backend.
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot(result: SweepResult, metrics: list[str], directory: str | Path | None) -> list[Any]:
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter
    from matplotlib.transforms import ScaledTranslation
    lines_key = "placement.algorithm" if "placement.algorithm" in result.vary else None
    x_keys = [k for k in result.vary if k != lines_key] or ([lines_key] if lines_key else [])
    if not x_keys:
        x_keys = [""]
    fig, axes = plt.subplots(len(metrics), len(x_keys), squeeze=False, layout="constrained",
                             figsize=(4.5 * len(x_keys) + 2.5, 3.2 * len(metrics)))
    for col, x_key in enumerate(x_keys):
        values = result.vary.get(x_key, [""])
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        positions = values if numeric else list(range(len(values)))
        # One line per combination of the other varied keys (the algorithm, usually).
        others = [k for k in result.vary if k != x_key]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index, config in enumerate(result.configurations):
            groups.setdefault(tuple(config[k] for k in others), []).append(index)
        spread = numeric and min(values) > 0 and max(values) >= 10 * min(values)
        for row, metric in enumerate(metrics):
            ax = axes[row][col]
            unit = metric_unit(metric)
            scale = 1000.0 if unit == "s" else 100.0 if unit == "%" else 1.0
            for line, (group, members) in enumerate(groups.items()):
                # Lines side by side by a few points, so equal means keep visible error bars.
                shift = (line - (len(groups) - 1) / 2) * 0.05
                offset = ax.transData + ScaledTranslation(shift, 0, fig.dpi_scale_trans)
                xs, ys, errs = [], [], []
                for index in members:
                    e = result.estimate(index, metric)
                    if math.isnan(e.mean):
                        continue
                    value = result.configurations[index].get(x_key, "")
                    xs.append(positions[values.index(value)])
                    ys.append(e.mean * scale)
                    errs.append(0.0 if math.isnan(e.half_width) else e.half_width * scale)
                label = ", ".join(f"{_plain(v)}" if k == lines_key else f"{k}={_plain(v)}"
                                  for k, v in zip(others, group, strict=True)) or None
                # Categories have no order between them: points, not lines.
                bars = ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=label,
                                   linestyle="-" if numeric else "none")
                for artist in bars.get_children():  # after autoscaling, which reads data
                    artist.set_transform(offset)
            if spread:
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            if not numeric or len(values) <= 6:
                ax.set_xticks(positions, [_plain(v) for v in values])
                ax.minorticks_off()
            ax.set_xlabel(x_key)
            suffix = " (ms)" if unit == "s" else " (%)" if unit == "%" else ""
            ax.set_ylabel(metric + suffix)
            if len(groups) > 1 and row == 0:
                ax.legend(fontsize="small", title=lines_key if others == [lines_key] else None)
    reps = result.completed_replications
    fig.suptitle(f"{result.scenario}: mean ± {CONFIDENCE:.0%} t-interval over {reps} "
                 f"replication{'s' if reps != 1 else ''}")
    if directory is None:
        return [fig]
    path = Path(directory) / "sweep.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]


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
    loaded = [_load(scenario, [*overrides, *(_assignment(k, v) for k, v in config.items())])
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

    pool = _open_executor(executor, workers, scheduler,
                          planned * (len(loaded) - len(errors)))
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
            for outcome in pool.map(tasks):
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
        header = [self.key, *(_plain(v) for v in self.values)]
        rows = [header]
        present = set(sweep_.metric_names())
        for metric in COMPARE_METRICS:
            if metric not in present:
                continue
            unit = metric_unit(metric)
            rows.append([metric, *(_with_interval(e.mean, e.half_width, unit) for e in
                                   (sweep_.estimate(i, metric)
                                    for i in range(len(self.values))))])
        title = (f"{self.replications} replications (seeds {sweep_.seed}.."
                 f"{sweep_.seed + self.replications - 1}); mean ± {CONFIDENCE:.0%} t half-width")
        return "\n".join([*_align(rows), "", title])

    def to_json(self) -> str:
        """Every value's first-replication summary (and, replicated, the sweep's aggregates)."""
        data: dict[str, Any] = {
            "key": self.key,
            "runs": [{"value": v, "summary": json.loads(r.to_json())}
                     for v, r in zip(self.values, self.results, strict=True)],
        }
        if self.sweep is not None and self.replications > 1:
            data["sweep"] = self.sweep.to_dict()
        return json.dumps(_round(data), sort_keys=True, indent=2) + "\n"

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
