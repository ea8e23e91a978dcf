"""Validation: the simulator against the live cluster, on the same scenario, metric by metric.

:func:`validate` (``consistent-sim validate SCENARIO``) does three things:

1. **Calibrates** the model to this machine: a short live run of the scenario without its
   faults (:func:`calibrate`), pooled with the stretch before the first fault of every live
   run of the validation (the machine is shared and its speed drifts from run to run; those
   stretches are no-fault runs measured under the same load as the faults that follow them;
   :func:`pool_decompositions`). The live runner splits the latency of those requests
   (:func:`sim._live_logs.latency_decomposition`, requests matched to the server that served them
   by an id header) into the serving server's wait, its service as it took, and the rest --
   everything the simulator models as network hops: two hops for a request its entry served,
   four for one the entry forwarded to the key's home. :func:`fit_calibration` turns that
   into scenario overrides:

   * ``cluster.service = "lognormal"`` with ``service_mean`` and ``service_cv`` the mean and
     coefficient of variation of the service *as it took* (the drawn sleep plus the event
     loop's overhead): a lognormal with the observed first two moments;
   * ``network.delay`` and ``network.jitter`` (one hop = delay + an exponential of mean
     jitter) by the method of moments: the mean per hop is the total overhead over the total
     hop count (so the model's mean latency matches the calibration data's by construction),
     the jitter is the standard deviation per hop (a sum of ``h`` independent hops has
     variance ``h * jitter**2``; pooled over both hop counts), capped at the mean, and the
     delay is the rest.

2. **Runs** the calibrated scenario simulated over ``seeds`` seeds and live ``runs`` times
   (live run ``i`` uses seed ``SEED + i``, as simulated seed ``i`` does: the same keys and
   the same homes).

3. **Judges** each metric, its tolerance stated before its verdict (:data:`METRICS`):

   * success ratio and failed requests: the 95 % t-intervals (:mod:`sim._stats`) of the
     simulated and the live mean overlap;
   * p50 and p99 latency, detection, view and client convergence: within 20 % of the live
     mean, allowing for sampling error: the 95 % (Welch) interval of the difference of the
     means reaches into +-20 % of the live mean. A metric neither world has (no fault, no
     detection) is ``n/a``; one that only one world has disagrees;
   * served shares: a chi-square test of homogeneity of the per-server served counts, each
     live run against the simulated run of the same seed, summed over the pairs; they agree
     when p >= 0.001 (the 99.9 % level).

With a single live run (or every other one invalid), the live value has no interval of its
own; the interval one run gets is then the simulated seeds' spread (``t * sd`` of the seeds).

A live run whose generator fell behind (``summary["live"]["valid"]`` false) is not a
result: it is left out of the live estimates and counted in ``invalid_runs``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim._config import Scenario
from sim._run import RunResult, run, scenario_dict
from sim._scenario import ScenarioError, load_scenario, normalise_overrides
from sim._stats import Estimate, estimate, t_critical

__all__ = [
    "CALIBRATION_DURATION",
    "METRICS",
    "SHARE_LEVEL",
    "TOLERANCE",
    "Calibration",
    "Metric",
    "Validation",
    "Verdict",
    "calibrate",
    "chi2_sf",
    "fit_calibration",
    "judge",
    "pool_decompositions",
    "shares_verdict",
    "validate",
]

TOLERANCE = 0.2
"""Relative tolerance of latency percentiles and recovery times (issue 11, item 8)."""
TIME_FLOOR = 0.010
"""Absolute floor under the relative tolerance of recovery times, in seconds: a time that is
0 in the model (an announced leave needs no detecting) is a few milliseconds live, the
scheduling jitter of processes on this machine, which no relative band can absorb."""

SHARE_LEVEL = 0.001
"""Served shares agree unless the chi-square test rejects at this level (99.9 %)."""

CALIBRATION_DURATION = 15.0
"""Seconds of the no-fault live run that calibrates the model."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """One compared metric: where it is in a run's summary, and how it is judged.

    ``rule`` is ``"overlap"`` (95 % intervals overlap), ``"relative"`` (within ``tolerance``
    of the live mean, allowing for sampling error) or ``"shares"`` (chi-square at level
    ``tolerance``).
    """

    key: str
    label: str
    rule: str
    tolerance: float = 0.0
    unit: str = ""
    #: ``relative`` only: the band is never narrower than this (in the metric's unit).
    floor: float = 0.0

    def value(self, summary: Mapping[str, Any]) -> float | None:
        """The metric in one run's summary (None when the run has none)."""
        node: Any = summary
        for part in self.key.split("."):
            if not isinstance(node, Mapping) or node.get(part) is None:
                return None
            node = node[part]
        return None if node is None or isinstance(node, Mapping) else float(node)

    def describe_tolerance(self) -> str:
        """The tolerance, in words, as the table prints it."""
        if self.rule == "overlap":
            return "95% CIs overlap"
        if self.rule == "relative":
            if self.floor:
                return f"within {self.tolerance * 100:g}% or {self.floor * 1e3:g} ms"
            return f"within {self.tolerance * 100:g}%"
        return f"chi2 p >= {self.tolerance:g}"


METRICS: tuple[Metric, ...] = (
    Metric("requests.success_ratio", "success ratio", "overlap"),
    Metric("requests.failed", "failed requests", "overlap"),
    Metric("latency.p50", "latency p50", "relative", TOLERANCE, "s"),
    Metric("latency.p99", "latency p99", "relative", TOLERANCE, "s"),
    Metric("recovery.detection.mean", "detection", "relative", TOLERANCE, "s", TIME_FLOOR),
    Metric("recovery.view_convergence.mean", "view convergence", "relative", TOLERANCE, "s",
           TIME_FLOOR),
    Metric("recovery.client_convergence.mean", "client convergence", "relative", TOLERANCE,
           "s", TIME_FLOOR),
    Metric("load.served_share", "served shares", "shares", SHARE_LEVEL),
)
"""The metrics :func:`validate` compares, in the order it prints them."""


# -- calibration ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The model's network and service settings that describe this machine.

    ``hop_mean`` = ``delay + jitter`` is the mean time one hop costs live (Python HTTP on
    both ends, not the wire); ``direct`` and ``forwarded`` are the mean overheads measured
    for requests of two and four hops, which a per-hop model can only fit on average.
    """

    delay: float
    jitter: float
    service_mean: float
    service_cv: float
    samples: int
    direct: float | None = None
    forwarded: float | None = None
    drawn_service_mean: float | None = None

    @property
    def hop_mean(self) -> float:
        """Mean cost of one hop, seconds."""
        return self.delay + self.jitter

    def overrides(self) -> list[str]:
        """Scenario overrides (``--set`` strings) that put these settings into a scenario.

        >>> Calibration(0.001, 0.002, 0.004, 0.7, 100).overrides()[:2]
        ['network.delay=0.001', 'network.jitter=0.002']
        """
        return [f"network.delay={self.delay!r}", f"network.jitter={self.jitter!r}",
                'cluster.service="lognormal"', f"cluster.service_mean={self.service_mean!r}",
                f"cluster.service_cv={self.service_cv!r}"]

    def as_dict(self) -> dict[str, Any]:
        """The figures by name, with the overrides."""
        return {**dataclasses.asdict(self), "hop_mean": self.hop_mean,
                "overrides": self.overrides()}

    def describe(self) -> str:
        """One line: what the model now assumes."""
        return (f"one hop {self.delay * 1000:.2f} ms + exponential {self.jitter * 1000:.2f} ms "
                f"(live overhead: {_ms(self.direct)} for 2 hops, {_ms(self.forwarded)} for 4); "
                f"service lognormal mean {self.service_mean * 1000:.2f} ms, cv "
                f"{self.service_cv:.2f} (drawn mean {_ms(self.drawn_service_mean)}); "
                f"{self.samples} requests")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.2f} ms"


def fit_calibration(decomposition: Mapping[str, Any]) -> Calibration:
    """Fit hop delay, hop jitter and the service's mean and CV to a latency decomposition.

    The method (module docstring): mean per hop = total overhead / total hops; jitter = the
    pooled standard deviation per hop, ``sqrt(sum((n_h - 1) * sd_h**2 / h) / sum(n_h - 1))``
    over hop counts ``h`` of 2 and 4, at most the mean; delay = mean - jitter; service =
    the observed mean and CV of the service as it took.

    Runtime complexity: O(1).

    >>> group = lambda n, mean, sd: {"n": n, "mean": mean, "sd": sd}
    >>> c = fit_calibration({"direct": group(100, 0.006, 0.002 * 2**0.5),
    ...                      "forwarded": group(100, 0.012, 0.002 * 2),
    ...                      "service": group(200, 0.004, 0.002)})
    >>> round(c.delay, 6), round(c.jitter, 6), c.service_mean, c.service_cv
    (0.001, 0.002, 0.004, 0.5)

    Args:
        decomposition: ``summary["live"]["decomposition"]`` of a live run: ``direct`` and
            ``forwarded`` overhead and ``service`` moments (``n``, ``mean``, ``sd``).

    Returns:
        A :class:`Calibration`.

    Raises:
        ValueError: fewer than 20 requests could be decomposed, or none was served.
    """
    groups = [(2, decomposition.get("direct") or {}), (4, decomposition.get("forwarded") or {})]
    groups = [(h, g) for h, g in groups if g.get("n")]
    samples = sum(int(g["n"]) for _, g in groups)
    service = decomposition.get("service") or {}
    if samples < 20 or not service.get("n"):
        raise ValueError(f"calibration needs at least 20 decomposed requests, got {samples} "
                         f"(did the live run serve any request?)")
    overhead = math.fsum(g["n"] * g["mean"] for _, g in groups)
    hops = sum(h * g["n"] for h, g in groups)
    hop_mean = max(0.0, overhead / hops)
    dof = sum(g["n"] - 1 for _, g in groups)
    per_hop_variance = (math.fsum((g["n"] - 1) * g["sd"] ** 2 / h for h, g in groups) / dof
                        if dof > 0 else 0.0)
    jitter = min(hop_mean, math.sqrt(per_hop_variance))
    mean = float(service["mean"])
    cv = float(service.get("sd") or 0.0) / mean if mean > 0 else 0.0
    drawn = (decomposition.get("drawn") or {}).get("mean")
    return Calibration(delay=hop_mean - jitter, jitter=jitter, service_mean=mean,
                       service_cv=cv, samples=samples,
                       direct=(decomposition.get("direct") or {}).get("mean"),
                       forwarded=(decomposition.get("forwarded") or {}).get("mean"),
                       drawn_service_mean=None if drawn is None else float(drawn))


def pool_decompositions(decompositions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One decomposition from several runs' (``n``, ``mean`` and ``sd`` of each group pooled).

    Runtime complexity: O(runs).

    >>> a = {"direct": {"n": 2, "mean": 1.0, "sd": 0.0}, "service": {"n": 2, "mean": 2.0,
    ...      "sd": 0.0}}
    >>> b = {"direct": {"n": 2, "mean": 3.0, "sd": 0.0}, "service": {"n": 0, "mean": None,
    ...      "sd": None}}
    >>> pooled = pool_decompositions([a, b])
    >>> pooled["direct"]["n"], pooled["direct"]["mean"], round(pooled["direct"]["sd"], 4)
    (4, 2.0, 1.1547)
    >>> pooled["service"]
    {'n': 2, 'mean': 2.0, 'sd': 0.0}
    """
    out: dict[str, Any] = {}
    for group in ("direct", "forwarded", "service", "drawn", "wait", "latency"):
        parts = [d[group] for d in decompositions if (d.get(group) or {}).get("n")]
        n = sum(int(p["n"]) for p in parts)
        if not n:
            out[group] = {"n": 0, "mean": None, "sd": None}
            continue
        mean = math.fsum(p["n"] * p["mean"] for p in parts) / n
        squares = math.fsum((p["n"] - 1) * (p["sd"] or 0.0) ** 2 + p["n"] * (p["mean"] - mean) ** 2
                            for p in parts)
        out[group] = {"n": n, "mean": mean, "sd": math.sqrt(squares / (n - 1)) if n > 1 else 0.0}
    return out


def calibrate(scenario: str | Path | Mapping[str, Any] | Scenario, *, seed: int | None = None,
              overrides: str | Sequence[str] = (), duration: float = CALIBRATION_DURATION,
              progress: Callable[[float, float], object] | None = None,
              ) -> tuple[Calibration, RunResult]:
    """Calibrate the model from a short live run of ``scenario`` without its faults.

    Returns the :class:`Calibration` (apply it with ``overrides=calibration.overrides()``)
    and the calibration run itself.

    Raises:
        ScenarioError: the scenario is invalid or beyond the live limits.
        ValueError: the run gave too few requests to decompose.
    """
    from sim._live import run_live  # the live twin needs the `live` extra

    config = load_scenario(scenario, normalise_overrides(overrides))
    quiet = dataclasses.replace(
        config, faults=(), duration=min(config.duration, duration),
        metrics=dataclasses.replace(config.metrics, warmup=0.0))
    result = run_live(quiet, seed=seed, progress=progress)
    return fit_calibration(result.summary["live"]["decomposition"]), result


# -- verdicts ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One metric's comparison: both estimates, the tolerance, and whether they agree.

    ``agrees`` is None when neither world has the metric (``n/a``). ``statistic`` is the
    relative difference (``relative``), the chi-square p-value (``shares``), or None.
    """

    metric: Metric
    simulated: Estimate
    live: Estimate
    agrees: bool | None
    statistic: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {"metric": self.metric.key, "label": self.metric.label, "rule": self.metric.rule,
                "tolerance": self.metric.tolerance,
                "tolerance_text": self.metric.describe_tolerance(),
                "simulated": _clean(self.simulated.as_dict()), "live": _clean(self.live.as_dict()),
                "agrees": self.agrees, "statistic": _finite(self.statistic), "note": self.note}

    @property
    def verdict(self) -> str:
        """``agree``, ``DISAGREE`` or ``n/a``."""
        return "n/a" if self.agrees is None else ("agree" if self.agrees else "DISAGREE")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _clean(figures: Mapping[str, float]) -> dict[str, float | None]:
    return {k: _finite(v) for k, v in figures.items()}


def _half(e: Estimate) -> float:
    """The half-width, 0 for a single value (the value itself is all that is known)."""
    return 0.0 if math.isnan(e.half_width) else e.half_width


def judge(metric: Metric, simulated: Sequence[float | None],
          live: Sequence[float | None]) -> Verdict:
    """Judge one ``overlap`` or ``relative`` metric from its values in each run.

    Runtime complexity: O(runs).

    >>> m = Metric("latency.p50", "latency p50", "relative", 0.2)
    >>> judge(m, [0.010, 0.011, 0.009], [0.0125, 0.0120, 0.0130]).agrees
    True
    >>> judge(m, [0.010, 0.0101, 0.0099], [0.020, 0.0201, 0.0199]).agrees
    False
    >>> judge(m, [None, None], [None]).verdict
    'n/a'

    Args:
        metric: an ``overlap`` or ``relative`` :class:`Metric`.
        simulated, live: the metric in each run (None where a run has no value).

    Returns:
        A :class:`Verdict`.

    Raises:
        ValueError: ``metric`` is a ``shares`` metric (see :func:`shares_verdict`).
    """
    if metric.rule not in ("overlap", "relative"):
        raise ValueError(f"judge compares overlap or relative metrics, got rule {metric.rule!r} "
                         f"(served shares: shares_verdict)")
    sim_values = [float(v) for v in simulated if v is not None and math.isfinite(v)]
    live_values = [float(v) for v in live if v is not None and math.isfinite(v)]
    s, v = estimate(sim_values), estimate(live_values)
    if not sim_values and not live_values:
        return Verdict(metric, s, v, None, note="neither world has it")
    if not sim_values or not live_values:
        which = "simulated" if not sim_values else "live"
        return Verdict(metric, s, v, False, note=f"no {which} value")
    live_half = _half(v)
    if v.n == 1 and s.n >= 2:
        # One live run has no spread of its own: one run's spread is the seeds' (the
        # interval a single simulated run would get).
        live_half = t_critical(s.n - 1) * s.sd
    if metric.rule == "overlap":
        overlap = (s.mean - _half(s) <= v.mean + live_half
                   and v.mean - live_half <= s.mean + _half(s))
        return Verdict(metric, s, v, overlap)
    difference = s.mean - v.mean
    # Welch's interval of the difference, each side's own t half-width combined.
    slack = math.hypot(_half(s), live_half)
    band = max(metric.tolerance * abs(v.mean), metric.floor)
    relative = difference / v.mean if v.mean else (0.0 if difference == 0 else math.inf)
    return Verdict(metric, s, v, abs(difference) - slack <= band, statistic=relative)


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with ``df`` degrees of freedom.

    Uses scipy when installed, else the Wilson-Hilferty normal approximation (good to about
    0.005 absolute for df >= 3).

    >>> round(chi2_sf(3.841458820694124, 1), 3), chi2_sf(0.0, 4)
    (0.05, 1.0)
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be a positive integer, got {df!r}")
    if statistic <= 0:
        return 1.0
    try:
        from scipy import stats
    except ImportError:
        z = ((statistic / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
        return 0.5 * math.erfc(z / math.sqrt(2))
    return float(stats.chi2.sf(statistic, df))


def shares_verdict(metric: Metric, pairs: Sequence[tuple[Sequence[float], Sequence[float]]],
                   ) -> Verdict:
    """Chi-square test of homogeneity of served counts, summed over (simulated, live) pairs.

    For each pair of runs with the same seed, the 2 x k table of per-server served counts
    (servers that served in either) gives ``sum((O - E)**2 / E)`` with ``k - 1`` degrees of
    freedom; the statistics and degrees of freedom add over pairs. The shares agree when the
    p-value is at least ``metric.tolerance``.

    Runtime complexity: O(pairs x servers).

    >>> m = Metric("load.served_share", "served shares", "shares", 0.001)
    >>> shares_verdict(m, [([500, 300, 200], [510, 290, 200])]).agrees
    True
    >>> shares_verdict(m, [([500, 300, 200], [300, 500, 200])]).agrees
    False

    Returns:
        A :class:`Verdict` whose estimates are of the largest share's absolute difference
        per pair (simulated) and zero (live), and whose statistic is the p-value.
    """
    total = 0.0
    dof = 0
    gaps: list[float] = []
    for sim_counts, live_counts in pairs:
        a = np.asarray(sim_counts, dtype=np.float64)
        b = np.asarray(live_counts, dtype=np.float64)
        keep = (a + b) > 0
        a, b = a[keep], b[keep]
        if a.size < 2 or a.sum() == 0 or b.sum() == 0:
            continue
        both = a + b
        expected_a = both * a.sum() / both.sum()
        expected_b = both * b.sum() / both.sum()
        total += float(((a - expected_a) ** 2 / expected_a).sum()
                       + ((b - expected_b) ** 2 / expected_b).sum())
        dof += int(a.size) - 1
        gaps.append(float(np.abs(a / a.sum() - b / b.sum()).max()))
    if dof == 0:
        return Verdict(metric, estimate([]), estimate([]), None, note="no served counts")
    p = chi2_sf(total, dof)
    return Verdict(metric, estimate(gaps), estimate([0.0] * len(gaps)), p >= metric.tolerance,
                   statistic=p, note=f"chi2 {total:.1f} on {dof} df; largest share gap "
                                     f"{max(gaps) * 100:.1f} points")


# -- the whole validation ---------------------------------------------------------------------


def _served_counts(result: RunResult) -> list[float]:
    return [float(x) for x in np.asarray(result.timeseries["served"]).sum(axis=0)]


@dataclasses.dataclass
class Validation:
    """The outcome of :func:`validate`: calibration, runs, and one :class:`Verdict` per metric."""

    scenario: Scenario
    calibration: Calibration
    simulated: list[RunResult]
    live: list[RunResult]
    verdicts: list[Verdict]
    invalid_runs: int = 0

    @property
    def agrees(self) -> bool:
        """Every metric that both worlds have agrees (and some live run was valid)."""
        return bool(self.live) and all(v.agrees is not False for v in self.verdicts)

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """The table's rows as text: metric, simulated, live, tolerance, verdict."""
        return [(v.metric.label, _estimate_text(v.simulated, v.metric),
                 _estimate_text(v.live, v.metric), v.metric.describe_tolerance(),
                 v.verdict + _statistic_text(v)) for v in self.verdicts]

    def table(self) -> str:
        """The side-by-side table, tolerance before verdict."""
        rows = [("metric", "simulated", "live", "tolerance", "verdict"), *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [f"validate {self.scenario.name}: {len(self.simulated)} simulated seeds, "
                 f"{len(self.live)} live runs"
                 + (f" ({self.invalid_runs} invalid, left out)" if self.invalid_runs else ""),
                 f"calibrated: {self.calibration.describe()}", ""]
        lines.extend("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True))
                     + "  " + r[4] for r in rows)
        lines.append("")
        failing = ", ".join(v.metric.label for v in self.verdicts if v.agrees is False)
        lines.append("AGREE: every metric within its tolerance" if self.agrees else
                     f"DISAGREE: {failing or 'no valid live run'}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: scenario, calibration, verdicts and each run's headline figures."""
        def run_figures(r: RunResult) -> dict[str, Any]:
            return {"seed": r.seed, **{m.key: m.value(r.summary) for m in METRICS
                                       if m.rule != "shares"},
                    "served": _served_counts(r),
                    "live": r.summary.get("live", {}).get("generator_lag")}
        return {"scenario": scenario_dict(self.scenario), "agrees": self.agrees,
                "calibration": self.calibration.as_dict(),
                "verdicts": [v.as_dict() for v in self.verdicts],
                "invalid_runs": self.invalid_runs,
                "simulated": [run_figures(r) for r in self.simulated],
                "live": [run_figures(r) for r in self.live]}

    def to_json(self) -> str:
        """:meth:`as_dict` as indented JSON."""
        return json.dumps(self.as_dict(), indent=2, allow_nan=False) + "\n"

    def plot(self, path: str | Path) -> Path:
        """Overlay the simulated (mean over seeds) and live timelines on one fault schedule."""
        try:
            import matplotlib
        except ImportError:  # pragma: no cover - depends on the environment
            raise RuntimeError("figures need matplotlib: pip install 'consistent-ring[sim]'"
                               ) from None
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
        interval = self.scenario.metrics.interval

        def mean_series(results: list[RunResult], name: str, rate: bool) -> Any:
            if not results:
                return None
            bins = min(len(r.timeseries[name]) for r in results)
            stack = np.array([np.asarray(r.timeseries[name][:bins], dtype=float)
                              for r in results])
            with np.errstate(all="ignore"):
                values = np.nanmean(stack, axis=0) if not rate else stack.mean(axis=0)
            return values / interval if rate else values

        sources = [("simulated", self.simulated, "tab:blue"), ("live", self.live, "tab:orange")]
        for label, results, colour in sources:
            if not results:
                continue
            time = np.asarray(results[0].timeseries["time"])
            for ax, name in ((axes[0], "succeeded"), (axes[1], "failed")):
                series = mean_series(results, name, rate=True)
                ax.plot(time[: len(series)], series, drawstyle="steps-pre", color=colour,
                        label=label)
            for name, style in (("latency_p50", "-"), ("latency_p99", "--")):
                series = mean_series(results, name, rate=False) * 1000
                axes[2].plot(time[: len(series)], series, drawstyle="steps-pre", color=colour,
                             ls=style, label=f"{label} {name[-3:]}")
        servers = self.scenario.cluster.servers
        for ax in axes:
            for fault in self.scenario.faults:
                ax.axvline(fault.at, color="tab:red", lw=0.8, ls=":")
                for outage in fault.outages(servers):
                    ax.axvspan(outage.start, min(outage.end, self.scenario.duration),
                               color="tab:red", alpha=0.08, lw=0)
        axes[0].set_ylabel("succeeded / s")
        axes[1].set_ylabel("failed / s")
        axes[2].set_ylabel("latency (ms)")
        axes[2].set_yscale("log")
        axes[2].set_xlabel("time (s); dotted: each fault's time; shaded: a server out of "
                           "service (as scheduled)")
        axes[0].legend(fontsize="small", loc="lower left")
        axes[2].legend(fontsize="small", ncol=2, loc="upper left")
        axes[0].set_title(f"{self.scenario.name}: simulated (mean of {len(self.simulated)} "
                          f"seeds) and live (mean of {len(self.live)} runs)")
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out, dpi=100)
        plt.close(fig)
        return out

    def save(self, directory: str | Path, *, figures: bool = True) -> list[Path]:
        """Write ``validation.json`` (and ``validation.png``) into ``directory``."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        written = [target / "validation.json"]
        written[0].write_text(self.to_json(), encoding="utf-8")
        if figures:
            written.append(self.plot(target / "validation.png"))
        return written


def _estimate_text(e: Estimate, metric: Metric) -> str:
    if e.n == 0:
        return "-"
    if metric.rule == "shares":
        return f"gap {e.mean * 100:.1f} pts" if e.mean else "0"
    scale, unit = (1000.0, " ms") if metric.unit == "s" else (1.0, "")
    digits = 4 if metric.key.endswith("ratio") else 1
    mean = f"{e.mean * scale:.{digits}f}"
    if math.isnan(e.half_width):
        return f"{mean}{unit} (n=1)"
    return f"{mean} ± {e.half_width * scale:.{digits}f}{unit}"


def _statistic_text(v: Verdict) -> str:
    if v.statistic is None:
        return f" ({v.note})" if v.note else ""
    if v.metric.rule == "shares":
        return f" (p={v.statistic:.3g})"
    return f" ({v.statistic * 100:+.0f}%)" if math.isfinite(v.statistic) else ""


def validate(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    *,
    runs: int = 3,
    seeds: int = 10,
    seed: int | None = None,
    overrides: str | Sequence[str] = (),
    calibration: Calibration | None = None,
    calibration_duration: float = CALIBRATION_DURATION,
    progress: Callable[[float, float], object] | None = None,
) -> Validation:
    """Calibrate, run ``scenario`` simulated ``seeds`` times and live ``runs`` times, judge.

    Args:
        scenario, seed, overrides: as for :func:`sim.run` (the seed is the first of both
            worlds' seeds).
        runs: live runs (at least 1).
        seeds: simulated seeds (at least 2).
        calibration: skip the calibration run and use this one.
        calibration_duration: seconds of the calibration run.
        progress: called as ``progress(steps_done, steps)`` (a step: the calibration run,
            one live run, the simulated runs).

    Returns:
        A :class:`Validation`; its ``agrees`` is the verdict.

    Raises:
        ScenarioError: the scenario is invalid or beyond the live limits, or ``runs`` /
            ``seeds`` out of range.
    """
    from sim._live import run_live  # the live twin needs the `live` extra

    if type(runs) is not int or runs < 1:
        raise ScenarioError(f"runs must be a positive integer, got {runs!r}")
    if type(seeds) is not int or seeds < 2:
        raise ScenarioError(f"seeds must be an integer of at least 2, got {seeds!r}")
    overrides = normalise_overrides(overrides)
    config = load_scenario(scenario, overrides)
    if seed is not None:
        if type(seed) is not int or seed < 0:
            raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}")
        config = dataclasses.replace(config, seed=seed)
    steps = float(runs + 2)
    done = 0.0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, steps)

    if progress is not None:
        progress(0.0, steps)
    decompositions: list[Mapping[str, Any]] = []
    if calibration is None:
        _, quiet = calibrate(config, duration=calibration_duration)
        decompositions.append(quiet.summary["live"]["decomposition"])
    step()
    live_all: list[RunResult] = []
    for i in range(runs):
        live_all.append(run_live(config, seed=config.seed + i))
        step()
    valid = [r for r in live_all if r.summary["live"]["valid"]]
    if calibration is None:
        # The machine is shared: its speed drifts between runs. The live runs' own stretches
        # before their first fault are no-fault runs measured under the same load.
        decompositions.extend(r.summary["live"]["decomposition"] for r in valid)
        calibration = fit_calibration(pool_decompositions(decompositions))
    calibrated = load_scenario(scenario_dict(config), calibration.overrides())
    simulated = [run(calibrated, seed=config.seed + i) for i in range(max(seeds, runs))]
    step()
    verdicts: list[Verdict] = []
    for metric in METRICS:
        if metric.rule == "shares":
            pairs = [(_served_counts(simulated[r.seed - config.seed]), _served_counts(r))
                     for r in valid]
            verdicts.append(shares_verdict(metric, pairs))
        else:
            verdicts.append(judge(metric, [metric.value(r.summary) for r in simulated[:seeds]],
                                  [metric.value(r.summary) for r in valid]))
    return Validation(calibrated, calibration, simulated[:seeds], valid, verdicts,
                      invalid_runs=len(live_all) - len(valid))
