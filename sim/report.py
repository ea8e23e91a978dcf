"""Reports: the summary table as text, and figures drawn with matplotlib (imported lazily).

matplotlib is an optional dependency (the ``sim`` extra); it is imported only when a figure is
drawn, with the non-interactive Agg backend, so running and printing never need it.

This module presents results and runs nothing: it reads any object with a run's fields
(:class:`RunLike`, which :class:`sim.RunResult` is) and imports nothing of the layers that
produce them, so :mod:`sim._run` can build on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from sim._config import Scenario


class RunLike(Protocol):
    """What a report reads of one run (:class:`sim.RunResult` has it)."""

    @property
    def scenario(self) -> Scenario: ...
    @property
    def seed(self) -> int: ...
    @property
    def summary(self) -> dict[str, Any]: ...
    @property
    def timeseries(self) -> dict[str, Any]: ...
    @property
    def server_names(self) -> list[str]: ...


class ComparisonLike(Protocol):
    """What a report reads of runs compared over one parameter's values."""

    @property
    def key(self) -> str: ...
    @property
    def values(self) -> Sequence[Any]: ...
    @property
    def results(self) -> Sequence[RunLike]: ...


__all__ = [
    "ComparisonLike",
    "RunLike",
    "comparison_rows",
    "comparison_table",
    "figures_available",
    "format_value",
    "plot_comparison",
    "plot_run",
    "summary_rows",
    "summary_table",
]


_TINY = 1e-9
"""Table cells print floats below this magnitude as 0."""

_KEYSPACE_METHOD = {"exact": "exact", "expected": "ideal"}
"""exact: shares computed from the structure; ideal: expected shares over the hash."""
_MOVEMENT_METHOD = {"exact": "exact", "sampled": "sampled", "mixed": "exact + sampled"}


def format_value(value: Any, unit: str = "") -> str:
    """A summary value for a table cell.

    Floats smaller than 1e-9 in magnitude (rounding noise such as a CV of 1e-16) print as 0.

    >>> format_value(0.0123, "s"), format_value(None), format_value(12345), format_value(0.5, "%")
    ('12.3 ms', '-', '12345', '50.0%')
    >>> format_value(1.2e-16), format_value(-3e-12, "s")
    ('0', '0 ms')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and abs(value) < _TINY:
        value = 0.0
        if unit == "s":
            return "0 ms"
        if unit != "%":
            return "0"
    if unit == "s":
        if abs(value) < 1:
            return f"{value * 1000:.3g} ms"
        return f"{value:.3g} s"
    if unit == "%":
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _recovery(summary: dict[str, Any], key: str, stat: str) -> Any:
    entry = summary["recovery"].get(key)
    return None if entry is None else entry[stat]


_FAILED = "failed: "
_ATTEMPTS_FAILED = "attempts failed: "
"""Labels of the per-cause rows, which a table lists only for causes that occurred."""


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(section, metric, formatted value)`` rows of a run's summary."""
    req = summary["requests"]
    lat = summary["latency"]
    load = summary["load"]
    mov = summary["movement"]
    avail = summary["availability"]
    checks = summary["health_checks"]
    rows: list[tuple[str, str, Any, str]] = [
        ("requests", "issued", req["issued"], ""),
        ("requests", "succeeded", req["succeeded"], ""),
        ("requests", "failed", req["failed"], ""),
        *[("requests", f"  {_FAILED}{cause}", n, "") for cause, n in
          req["failed_by_cause"].items() if n],
        ("requests", "in flight at the end", req["in_flight_at_end"], ""),
        ("requests", "success ratio (succeeded / issued)", req["success_ratio"], "%"),
        ("requests", "retried", req["retried"], ""),
        ("requests", "forwarded", req["forwarded"], ""),
        ("requests", "attempt timeouts", req["attempt_timeouts"], ""),
        *[("requests", f"  {_ATTEMPTS_FAILED}{cause}", n, "") for cause, n in
          req.get("attempt_failures_by_cause", {}).items() if n],
        ("requests", "forwards failed (filled in: next row)", req.get("forward_failures"), ""),
        ("requests", "fill-ins from the next replica", req.get("fill_ins"), ""),
        ("ejections", "by clients' pools", summary.get("ejections", {}).get("total"), ""),
        ("ejections", "  of servers down, leaving or hung",
         summary.get("ejections", {}).get("of_down_servers"), ""),
        ("ejections", "  wrongful (server up and serving)",
         summary.get("ejections", {}).get("wrongful"), ""),
        ("latency", "mean", lat["mean"], "s"),
        ("latency", "p50", lat["p50"], "s"),
        ("latency", "p99", lat["p99"], "s"),
        ("latency", "p99.9", lat["p999"], "s"),
        ("load", "key-space shares (exact/ideal)",
         _KEYSPACE_METHOD.get(load.get("keyspace_method"), "-"), ""),
        ("load", "key-space peak-to-mean", load["keyspace_peak_to_mean"], ""),
        ("load", "key-space CV", load["keyspace_cv"], ""),
        ("load", "served peak-to-mean", load["served_peak_to_mean"], ""),
        ("load", "served CV", load["served_cv"], ""),
        ("movement", "membership changes", len(mov["changes"]), ""),
        ("movement", "measured (exact/sampled)", _MOVEMENT_METHOD.get(mov.get("method"), "-"), ""),
        ("movement", "mean movement ratio", mov["mean_ratio"], ""),
        ("movement", "max movement ratio", mov["max_ratio"], ""),
        ("recovery", "faults", len(summary["recovery"]["faults"]), ""),
        ("recovery", "detection (mean)", _recovery(summary, "detection", "mean"), "s"),
        ("recovery", "  by a client's pool (mean)",
         _recovery(summary, "client_detection", "mean"), "s"),
        ("recovery", "  by a server's view (mean)",
         _recovery(summary, "server_detection", "mean"), "s"),
        ("recovery", "client convergence (max)",
         _recovery(summary, "client_convergence", "max"), "s"),
        ("recovery", "view convergence (max)", _recovery(summary, "view_convergence", "max"), "s"),
        ("recovery", "last fault failure (max)", _recovery(summary, "last_failure", "max"), "s"),
        ("recovery", "serving again (max)", _recovery(summary, "serving_again", "max"), "s"),
        ("recovery", "  first request served (max)",
         _recovery(summary, "first_served", "max"), "s"),
        ("health checks", "sent", checks["sent"], ""),
        ("health checks", "passed", checks["passed"], ""),
        ("health checks", "failed", checks["failed"], ""),
        ("health checks", "per client", checks["per_client"], ""),
        # r is a row of its own, not part of a label: a comparison may vary it.
        ("availability", "replication (r)", avail["replication"], ""),
        ("availability", "max keys with no live replica", avail["max_unavailable"], "%"),
        ("availability", "unavailable key-space-seconds (share x s)",
         avail["unavailable_keyspace_seconds"], ""),
        ("checks", "requests conserved", summary["conservation"]["conserved"], ""),
    ]
    return [(section, name, format_value(value, unit)) for section, name, value, unit in rows]


def _count(n: int, noun: str) -> str:
    """``1 server``, ``2 servers``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def summary_table(result: RunLike) -> str:
    """The summary of one run as an aligned text table."""
    rows = summary_rows(result.summary)
    width = max(len(name) for _, name, _ in rows)
    scenario = result.scenario
    lines = [
        f"scenario {scenario.name!r}  seed {result.seed}  {scenario.duration:g} s simulated  "
        f"{_count(scenario.cluster.servers, 'server')}  "
        f"{_count(scenario.clients.count, 'client')}  "
        f"{scenario.placement.algorithm}",
    ]
    section = ""
    for sec, name, value in rows:
        if sec != section:
            lines.append(f"{sec}")
            section = sec
        lines.append(f"  {name:<{width}}  {value:>12}")
    return "\n".join(lines)


def comparison_rows(comparison: ComparisonLike) -> list[tuple[str, list[str]]]:
    """``(metric, [formatted value per run])`` rows.

    Cells are matched by metric name, never by position: runs can have different rows (a
    failure cause only one run saw), and a row's label holds no run's value.
    """
    per_run = [{f"{sec}: {name.strip()}": value for sec, name, value in summary_rows(r.summary)}
               for r in comparison.results]
    names: list[str] = []
    for rows_ in per_run:
        position = 0
        for name in rows_:  # merge, keeping each run's order
            if name in names:
                position = names.index(name) + 1
            else:
                names.insert(position, name)
                position += 1
    # A failure cause is listed only where it occurred: elsewhere it is zero, not unknown.
    by_cause = tuple(f"requests: {label}" for label in (_FAILED, _ATTEMPTS_FAILED))
    missing = {name: "0" if name.startswith(by_cause) else "-" for name in names}
    return [(name, [rows_.get(name, missing[name]) for rows_ in per_run]) for name in names]


def comparison_table(comparison: ComparisonLike) -> str:
    """Runs side by side, one column per compared value."""
    header = [str(v) for v in comparison.values]
    rows = comparison_rows(comparison)
    width = max(len(name) for name, _ in rows)
    cell = max(12, *(len(h) for h in header), *(len(c) for _, cells in rows for c in cells))
    lines = [f"{comparison.key:<{width}}  " + "  ".join(f"{h:>{cell}}" for h in header)]
    for name, cells in rows:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{c:>{cell}}" for c in cells))
    return "\n".join(lines)


_NO_MATPLOTLIB = "figures need matplotlib: pip install 'consistent-ring[sim]'"


def figures_available() -> bool:
    """Whether figures can be drawn (matplotlib is installed), without importing it.

    The command line asks before a run that will write figures, so a missing matplotlib
    is an error in the first second rather than after the whole run.
    """
    import importlib.util

    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # a broken install, or one an import hook hides
        return False


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError(_NO_MATPLOTLIB) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_STEPS: dict[str, Any] = {"drawstyle": "steps-pre"}
"""Counts and latencies cover the bin that *ends* at their time."""
_STATE: dict[str, Any] = {"drawstyle": "steps-post"}
"""States (skew of ownership, views, availability) hold from their time on."""


def _latency_axis(ax: Any, *series_ms: Any) -> None:
    """A log latency axis that always has labelled ticks, whatever the data.

    Major ticks at 1, 2 and 5 times powers of ten, and limits a factor 1.6 beyond the data
    each way: the span is then wider than the largest gap between ticks (5 to 10 is x2), so
    at least one tick is labelled even when every latency is within a few percent. Bins
    without a completed request are gaps; with none at all the axis says so.
    """
    import numpy as np
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    values = np.concatenate([np.asarray(s, dtype=float).ravel() for s in series_ms])
    finite = values[np.isfinite(values) & (values > 0)]
    if finite.size:
        ax.set_ylim(float(finite.min()) / 1.6, float(finite.max()) * 1.6)
    else:
        ax.set_ylim(1.0, 10.0)
        ax.text(0.5, 0.5, "no request completed", transform=ax.transAxes, ha="center",
                va="center", color="grey")
    ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())  # no "6x10^0" minor tick labels


_DOWN = {"color": "tab:red", "alpha": 0.08, "lw": 0}
"""How the time a server was down is shaded."""
_CHANGE = {"color": "grey", "lw": 0.6, "ls": ":"}
"""How a membership change is marked."""


def _fault_spans(ax: Any, result: RunLike, *, label: bool = False) -> None:
    """Shade the time each server was down; dotted lines mark membership changes.

    With ``label``, the first of each gets a legend entry ("server down", "membership
    change"), so the legend that holds them explains the shading of every panel.
    """
    for i, fault in enumerate(result.summary["recovery"]["faults"]):
        end = fault["up_at"] if fault["up_at"] is not None else result.scenario.duration
        ax.axvspan(fault["down_at"], end, label="server down" if label and i == 0 else None,
                   **_DOWN)
    for i, change in enumerate(result.summary["movement"]["changes"]):
        ax.axvline(change["time"], label="membership change" if label and i == 0 else None,
                   **_CHANGE)


def _state_limits(values: Any, floor: float, ceiling: float = math.inf) -> tuple[float, float]:
    """Limits for a quantity that is often 0 or at its maximum: a margin beyond both, so a
    line at 0 (or at 100 %) is drawn inside the frame, not on it.

    >>> _state_limits([0.0, 0.0], floor=1.0), _state_limits([0.0, 100.0], 1.0, 100.0)
    ((-0.05, 1.05), (-5.0, 105.0))
    """
    import numpy as np

    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    peak = min(ceiling, max(floor, float(finite.max()) if finite.size else 0.0))
    return -0.05 * peak, 1.05 * peak


_LEGEND: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0),
                            "borderaxespad": 0.0, "fontsize": "small"}
"""Legends sit outside the axes, to the right, so they never cover data."""


def plot_run(result: RunLike, directory: str | Path | None = None) -> list[Any]:
    """Throughput/failures, latency, load skew and availability over time.

    Shaded spans are the time a server was down and dotted lines membership changes (the
    top panel's legend names both).

    Returns the PNG paths written to ``directory``, or the figures when it is None.
    """
    plt = _pyplot()
    ts = result.timeseries
    t = ts["time"]
    fig, axes = plt.subplots(4, 1, figsize=(11, 10), sharex=True, layout="constrained")
    for i, ax in enumerate(axes):
        _fault_spans(ax, result, label=i == 0)
    interval = result.scenario.metrics.interval
    axes[0].plot(t, ts["succeeded"] / interval, label="succeeded/s", **_STEPS)
    axes[0].plot(t, ts["failed"] / interval, label="failed/s", **_STEPS)
    axes[0].plot(t, ts["attempt_timeouts"] / interval, label="attempt timeouts/s", **_STEPS)
    axes[0].plot(t, ts["retried"] / interval, label="retries/s", **_STEPS)
    axes[0].set_ylabel("requests/s")
    axes[0].legend(**_LEGEND)
    p50, p99 = ts["latency_p50"] * 1000, ts["latency_p99"] * 1000
    axes[1].plot(t, p50, label="p50", **_STEPS)
    axes[1].plot(t, p99, label="p99", **_STEPS)
    axes[1].set_ylabel("latency (ms)")
    _latency_axis(axes[1], p50, p99)
    axes[1].legend(**_LEGEND)
    axes[2].plot(t, ts["served_peak_to_mean"], label="served peak-to-mean", **_STEPS)
    axes[2].plot(t, ts["keyspace_peak_to_mean"], label="key-space peak-to-mean", **_STATE)
    axes[2].set_ylabel("load skew")
    axes[2].legend(**_LEGEND)
    axes[3].plot(t, ts["stale_views"], color="tab:orange", label="servers with a stale view",
                 **_STATE)
    axes[3].set_ylabel("stale views")
    axes[3].set_xlabel("simulated time (s)")
    axes[3].set_ylim(*_state_limits(ts["stale_views"] * 1.1, floor=1.0))
    unavailable = axes[3].twinx()
    percent = ts["unavailable_keys"] * 100
    unavailable.plot(t, percent, color="tab:purple",
                     label="keys with no live replica (%)", **_STATE)
    unavailable.set_ylabel("keys unavailable (%)")
    unavailable.set_ylim(*_state_limits(percent, floor=1.0, ceiling=100.0))
    lines = axes[3].get_lines() + unavailable.get_lines()
    lines = [line for line in lines if not line.get_label().startswith("_")]
    # Further right than the others: the twin axis's label sits between.
    axes[3].legend(lines, [line.get_label() for line in lines],
                   **{**_LEGEND, "bbox_to_anchor": (1.08, 1.0)})
    fig.suptitle(f"{result.scenario.name} (seed {result.seed})")
    if directory is None:
        return [fig]
    path = Path(directory) / "timeseries.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]


def plot_comparison(comparison: ComparisonLike, directory: str | Path | None = None) -> list[Any]:
    """Success rate, p99 latency and served skew over time, one line per compared value."""
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(11, 8), sharex=True, layout="constrained")
    for value, result in zip(comparison.values, comparison.results, strict=True):
        ts = result.timeseries
        label = str(value)
        issued = ts["succeeded"] + ts["failed"]
        ratio = ts["succeeded"] / issued.clip(min=1)
        axes[0].plot(ts["time"], ratio, label=label, **_STEPS)
        axes[1].plot(ts["time"], ts["latency_p99"] * 1000, label=label, **_STEPS)
        axes[2].plot(ts["time"], ts["served_peak_to_mean"], label=label, **_STEPS)
    axes[0].set_ylabel("success ratio")
    axes[1].set_ylabel("p99 latency (ms)")
    _latency_axis(axes[1], *(r.timeseries["latency_p99"] * 1000 for r in comparison.results))
    axes[2].set_ylabel("served peak-to-mean")
    axes[2].set_xlabel("simulated time (s)")
    axes[0].legend(title=comparison.key, **_LEGEND)
    first = comparison.results[0]
    fig.suptitle(f"{first.scenario.name} (seed {first.seed}): by {comparison.key}")
    if directory is None:
        return [fig]
    Path(directory).mkdir(parents=True, exist_ok=True)
    path = Path(directory) / "compare.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]
