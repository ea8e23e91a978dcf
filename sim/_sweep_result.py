"""A sweep's result: every run, and per configuration and metric the statistics and figures.

:class:`SweepResult` holds one :class:`Run` per configuration and replication and computes
from them, on demand, each configuration's estimate of a metric (mean, standard deviation,
95 % t half-width, min and max: :func:`sim._stats.estimate`) and the paired difference from
its baseline configuration (:func:`sim._stats.paired_difference`); it writes them as tables,
``runs.csv``, ``summary.csv``, ``summary.json`` (:meth:`SweepResult.save`) and figures.

Theory of operation
-------------------
*Deterministic files.* Runs are placed by (configuration, replication), whatever order they
finished in, and everything written is computed from the recorded summaries (to six
significant digits, as a run's ``summary.json``) in that order: the files are byte-identical
whatever the executor and the number of workers. Wall-clock figures never enter them.

*Baselines.* A configuration's baseline is itself with the baseline's assignments
(``{"placement.algorithm": "ring"}``; by default every varied key's first value): with one
varied key one configuration for all, with several the one that differs only in the
baseline's keys. Differences are paired by replication, which ran on the same seed (common
random numbers); the unpaired interval of the same runs is reported beside them.

*Missing values.* A run that failed, or a metric a run did not record, is a missing value:
left out of its configuration's estimate and of the pairs it belongs to. With precision
stopping fewer replications than asked may have run
(:attr:`SweepResult.completed_replications`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim._run import RunResult
from sim._stats import CONFIDENCE, Difference, Estimate, estimate, paired_difference
from sim._sweep_format import (
    aligned,
    csv_text,
    label,
    metric_unit,
    plain,
    rounded,
    with_interval,
)

__all__ = ["Run", "SweepResult"]


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
        return f"{label(self.config)} replication {self.replication} (seed {self.seed})"


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
        return json.dumps(rounded(self.to_dict()), sort_keys=True, indent=2) + "\n"

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
        return csv_text(self.run_rows(), [*self.vary, "replication", "seed", "status", "error",
                                      *self.metric_names()])

    def summary_csv(self) -> str:
        """``summary.csv``: one row per configuration and metric."""
        return csv_text(self.summary_rows(), [
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
            cells = [plain(config[k]) for k in keys]
            for metric in chosen:
                e = self.estimate(index, metric)
                cells.append(with_interval(e.mean, e.half_width, metric_unit(metric)))
            rows.append(cells)
        done = len(self.runs) - len(self.failed)
        reps = self.completed_replications
        title = (f"sweep {self.scenario!r}: {len(self.configurations)} configuration"
                 f"{'s' if len(self.configurations) != 1 else ''} x {reps} replication"
                 f"{'s' if reps != 1 else ''} (seeds {self.seed}..{self.seed + max(reps, 1) - 1}),"
                 f" {done} runs; mean ± {CONFIDENCE:.0%} t half-width")
        if self.interrupted:
            title += "  [interrupted]"
        lines = [title, *aligned([header, *rows])]
        compared = [i for i in range(len(self.configurations)) if self.baseline_of(i) != i]
        if compared and chosen:
            lines.append("")
            lines.append(f"difference from baseline ({label(self.baseline)}), paired on "
                         f"common random numbers")
            diff_rows = [header]
            for index in compared:
                cells = [plain(self.configurations[index][k]) for k in keys]
                for metric in chosen:
                    d = self.difference(index, metric)
                    cells.append(with_interval(d.mean, d.half_width, metric_unit(metric),
                                                signed=True))
                diff_rows.append(cells)
            lines.extend(aligned(diff_rows))
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
                label = ", ".join(f"{plain(v)}" if k == lines_key else f"{k}={plain(v)}"
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
                ax.set_xticks(positions, [plain(v) for v in values])
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
