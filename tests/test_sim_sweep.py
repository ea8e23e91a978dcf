"""Sweeps (sim._sweep) and their statistics (sim._stats): grids, executors, intervals, CLI.

Every simulation here is tiny (one to three simulated seconds at 100-300 requests/s), so the
module stays fast; timings live in benchmarks/bench_sweep.py, never here.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
import sim._sweep as sweep_module
from sim import Run, ScenarioError, SweepResult, compare, sweep
from sim._stats import (
    _T_TABLE,
    _t_expansion,
    estimate,
    paired_difference,
    t_critical,
)
from sim._sweep import flatten_summary
from sim.cli import RunsProgressBar, main

TINY = ["duration=1", "workload.rate=100"]
GRID = {"placement.algorithm": ["ring", "rendezvous"], "cluster.servers": [4, 6]}
MULTIPROBE = ['placement.algorithm="multiprobe"']


def _files(result: SweepResult) -> tuple[str, str, str]:
    return result.runs_csv(), result.summary_csv(), result.to_json()


# -- statistics --------------------------------------------------------------------------------


def test_t_critical_matches_scipy_and_the_fallback_agrees() -> None:
    stats = pytest.importorskip("scipy.stats")
    for df in range(1, 400):
        expected = float(stats.t.ppf(0.975, df))
        assert t_critical(df) == pytest.approx(expected, rel=1e-12)
        fallback = _T_TABLE[df - 1] if df <= len(_T_TABLE) else _t_expansion(df)
        assert fallback == pytest.approx(expected, rel=2e-8), df


def test_t_critical_without_scipy_uses_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy", None)  # import scipy now raises ImportError
    assert t_critical(1) == _T_TABLE[0]
    assert t_critical(31) == _t_expansion(31)
    with pytest.raises(ValueError, match="positive integer, got 0"):
        t_critical(0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=40))
def test_estimate_agrees_with_the_textbook(values: list[float]) -> None:
    e = estimate(values)
    assert e.n == len(values)
    assert e.mean == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-6)
    assert e.sd == pytest.approx(statistics.stdev(values), rel=1e-6, abs=1e-6)
    assert e.half_width == pytest.approx(t_critical(len(values) - 1) * e.sd
                                         / math.sqrt(len(values)), rel=1e-12, abs=1e-12)
    assert (e.min, e.max) == (min(values), max(values))
    # The order runs finished in never changes a figure.
    assert estimate(list(reversed(values))) == e


def test_estimate_of_few_values() -> None:
    assert math.isnan(estimate([]).mean)
    one = estimate([3.0])
    assert one.mean == 3.0 and math.isnan(one.half_width)
    assert estimate([2.0, 2.0]).relative_half_width == 0.0
    assert estimate([-1.0, 1.0]).relative_half_width == math.inf


def test_paired_difference_skips_missing_replications() -> None:
    d = paired_difference([1.0, None, 3.0, 4.0], [0.5, 2.0, None, 3.0])
    assert d.n == 2 and d.mean == pytest.approx(0.75)
    with pytest.raises(ValueError, match="one value per replication"):
        paired_difference([1.0], [1.0, 2.0])


def test_flatten_summary_keeps_one_number_per_metric() -> None:
    result = sim.run("crash", overrides=["duration=4", "workload.rate=100", "faults.0.at=1"])
    flat = flatten_summary(json.loads(result.to_json()))
    assert flat["requests.issued"] == result.summary["requests"]["issued"]
    assert "recovery.detection.mean" in flat and "latency.p99" in flat
    assert not any(name.startswith(("scenario", "load.served_share")) for name in flat)
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat.values())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.floats(-1e3, 1e3, allow_nan=False)),
                         min_size=3, max_size=3), min_size=2, max_size=4), st.randoms())
def test_aggregates_depend_on_the_values_not_on_the_order_runs_finished(
    table: list[list[float | None]], rnd: Any
) -> None:
    configurations = [{"x": i} for i in range(len(table))]
    runs = [Run(c, configurations[c], r, 1 + r, {} if v is None else {"m": v},
                None if v is not None else "ValueError: no")
            for c, row in enumerate(table) for r, v in enumerate(row)]

    def result(order: list[Run]) -> SweepResult:
        return SweepResult("s", [], {"x": list(range(len(table)))}, configurations, 1, 3,
                           order, {"x": 0}, ["m"])

    shuffled = list(runs)
    rnd.shuffle(shuffled)
    assert result(shuffled).to_json() == result(runs).to_json()
    assert result(shuffled).summary_csv() == result(runs).summary_csv()
    # The paired difference is the mean of the per-replication differences.
    if "m" in result(runs).metric_names():
        pairs = [(v, b) for v, b in zip(table[1], table[0], strict=True)
                 if v is not None and b is not None]
        d = result(runs).difference(1, "m")
        assert d.n == len(pairs)
        if pairs:
            assert d.mean == pytest.approx(statistics.fmean(v - b for v, b in pairs), abs=1e-9)


# -- the grid and its seeds ---------------------------------------------------------------------


def test_the_grid_is_every_combination_and_replication_i_has_seed_plus_i() -> None:
    result = sweep("steady", GRID, replications=2, seed=7, executor="serial", overrides=TINY)
    assert result.configurations == [
        {"placement.algorithm": a, "cluster.servers": n}
        for a in ("ring", "rendezvous") for n in (4, 6)]
    assert [(r.configuration, r.replication, r.seed) for r in result.runs] == [
        (c, i, 7 + i) for c in range(4) for i in range(2)]
    # One run of a sweep is exactly sim.run with that configuration and seed.
    run = result.runs[3]
    alone = sim.run("steady", seed=run.seed, overrides=[
        *TINY, 'placement.algorithm="ring"', "cluster.servers=6"])
    assert run.metrics == flatten_summary(json.loads(alone.to_json()))


def test_common_random_numbers_share_arrivals_and_keys() -> None:
    # Placement changes where requests go, never which requests arrive.
    result = sweep("steady", {"placement.algorithm": ["ring", "rendezvous", "maglev"]},
                   replications=3, executor="serial", overrides=TINY)
    for replication in range(3):
        issued = {r.metrics["requests.issued"] for r in result.runs
                  if r.replication == replication}
        assert len(issued) == 1
    assert len({r.metrics["requests.issued"] for r in result.runs}) > 1  # seeds do differ


def test_paired_intervals_are_narrower_than_unpaired_on_common_random_numbers() -> None:
    # The claim behind common random numbers, on a built-in comparison: ring vs rendezvous.
    comparison = compare("steady", "placement.algorithm", ["ring", "rendezvous"],
                         replications=8, executor="serial",
                         overrides=["duration=2", "workload.rate=200"])
    assert comparison.sweep is not None
    for metric in ("latency.mean", "latency.p99", "load.served_peak_to_mean"):
        d = comparison.sweep.difference(1, metric)
        assert d.n == 8
        assert d.half_width < d.unpaired_half_width, metric
    # Arrivals are common: the paired interval of the request count is exactly zero.
    issued = comparison.sweep.difference(1, "requests.issued")
    assert issued.half_width == 0 < issued.unpaired_half_width


# -- executors ----------------------------------------------------------------------------------


def test_files_are_byte_identical_across_executors_and_worker_counts() -> None:
    serial = sweep("steady", GRID, replications=2, executor="serial", overrides=TINY)
    assert not serial.failed
    for workers in (1, 2):
        processes = sweep("steady", GRID, replications=2, executor="processes",
                          workers=workers, overrides=TINY)
        assert _files(processes) == _files(serial)


def test_dask_local_cluster_gives_the_same_bytes() -> None:
    distributed = pytest.importorskip("dask.distributed")
    serial = sweep("steady", GRID, replications=2, executor="serial", overrides=TINY)
    # A cluster started by the sweep, then one at an address (as a remote cluster is used).
    local = sweep("steady", GRID, replications=2, executor="dask", workers=2, overrides=TINY)
    assert _files(local) == _files(serial)
    # In-process (no sockets): the address is inproc://, reached as a tcp:// one would be.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        remote = sweep("steady", GRID, replications=2, executor="dask",
                       scheduler=cluster.scheduler_address, overrides=TINY)
        with distributed.Client(cluster, set_as_default=False) as client:
            given = sweep("steady", GRID, replications=2, executor="dask", scheduler=client,
                          overrides=TINY)
            assert client.status == "running"  # a client given is not closed by the sweep
    assert _files(remote) == _files(serial)
    assert _files(given) == _files(serial)


def test_a_run_that_raises_is_reported_and_the_sweep_goes_on() -> None:
    result = sweep("steady", {"placement.options.probes": [0, 8]}, replications=2,
                   executor="processes", workers=2, overrides=[*TINY, *MULTIPROBE])
    assert [r.ok for r in result.runs] == [False, False, True, True]
    failed = result.failed[0]
    assert failed.config == {"placement.options.probes": 0} and failed.seed == 1
    assert "ScenarioError" in failed.error and "probes" in failed.error
    assert "placement.options.probes=0 replication 0 (seed 1)" in failed.describe()
    data = json.loads(result.to_json())
    assert data["runs"] == {"total": 4, "failed": 2}
    assert data["failed_runs"][1]["seed"] == 2
    assert result.estimate(1, "requests.issued").n == 2
    assert math.isnan(result.estimate(0, "requests.issued").mean)


def test_invalid_configurations_fail_alone_unless_all_are_invalid() -> None:
    result = sweep("steady", {"cluster.replication": [1, 50]}, replications=1,
                   executor="serial", overrides=TINY)
    assert [r.ok for r in result.runs] == [True, False]
    assert "cluster.replication must be at most" in result.failed[0].error
    with pytest.raises(ScenarioError, match=r"cluster\.replication must be at most"):
        sweep("steady", {"cluster.replication": [40, 50]}, executor="serial", overrides=TINY)


def test_interrupted_serial_sweep_keeps_what_finished(monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = sweep_module.run
    calls: list[int] = []

    def run_until_ctrl_c(scenario: Any, *, seed: int) -> Any:
        calls.append(seed)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run(scenario, seed=seed)

    monkeypatch.setattr(sweep_module, "run", run_until_ctrl_c)
    result = sweep("steady", GRID, replications=2, executor="serial", overrides=TINY)
    assert result.interrupted and len(result.runs) == 2 and not result.failed
    assert "[interrupted]" in result.table()
    assert json.loads(result.to_json())["interrupted"] is True


def test_interrupted_process_sweep_cancels_the_rest() -> None:
    seen: list[int] = []

    def ctrl_c_after_two(done: int, total: int) -> None:
        seen.append(done)
        if done == 2:
            raise KeyboardInterrupt

    result = sweep("steady", GRID, replications=4, executor="processes", workers=2,
                   overrides=TINY, progress=ctrl_c_after_two)
    assert result.interrupted
    assert len(result.runs) == 2 and seen[-1] == 2 and seen[0] == 0


# -- baseline, precision stopping, metrics --------------------------------------------------------


def test_baseline_pairs_each_configuration_with_its_match() -> None:
    result = sweep("steady", GRID, replications=2, executor="serial", overrides=TINY,
                   baseline={"placement.algorithm": "rendezvous"})
    # ring/4 is compared with rendezvous/4, ring/6 with rendezvous/6.
    assert [result.baseline_of(i) for i in range(4)] == [2, 3, 2, 3]
    data = json.loads(result.to_json())
    assert "vs_baseline" in data["configurations"][0]
    assert "vs_baseline" not in data["configurations"][2]
    default = sweep("steady", GRID, replications=1, executor="serial", overrides=TINY)
    assert [default.baseline_of(i) for i in range(4)] == [0, 0, 0, 0]
    with pytest.raises(ScenarioError, match="not one of the values"):
        sweep("steady", GRID, baseline={"cluster.servers": 5}, overrides=TINY)
    with pytest.raises(ScenarioError, match="is not varied"):
        sweep("steady", GRID, baseline={"workload.rate": 5}, overrides=TINY)


def test_until_stops_at_the_pilot_when_precise_and_at_the_cap_when_not() -> None:
    loose = sweep("steady", {"placement.algorithm": ["ring", "rendezvous"]}, replications=20,
                  executor="serial", overrides=TINY, until="requests.issued:0.5")
    assert loose.completed_replications == 3
    data = json.loads(loose.to_json())
    assert data["until"]["met"] is True and data["until"]["metric"] == "requests.issued"
    strict = sweep("steady", {"placement.algorithm": ["ring", "rendezvous"]}, replications=5,
                   executor="serial", overrides=TINY, until=("requests.issued", 1e-6))
    assert strict.completed_replications == 5
    assert json.loads(strict.to_json())["until"]["met"] is False
    middle = sweep("steady", {}, replications=40, executor="serial", overrides=TINY,
                   until="requests.issued:0.05")
    assert 3 < middle.completed_replications < 40
    assert middle.estimate(0, "requests.issued").relative_half_width <= 0.05
    with pytest.raises(ScenarioError, match="METRIC:REL"):
        sweep("steady", until="requests.issued", overrides=TINY)


def test_unknown_metrics_are_rejected_and_missing_ones_are_not() -> None:
    with pytest.raises(ScenarioError, match=r"not a summary metric: latency\.p98"):
        sweep("steady", replications=1, executor="serial", overrides=TINY,
              metrics=["latency.p98"])
    # No fault in this scenario: detection is a metric, missing from every run.
    result = sweep("steady", replications=1, executor="serial", overrides=TINY,
                   metrics=["recovery.detection.mean"])
    assert math.isnan(result.estimate(0, "recovery.detection.mean").mean)
    assert "-" in result.table().splitlines()[-1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"vary": {"seed": [1, 2]}}, "seed cannot be varied"),
    ({"vary": {"cluster.servers": []}}, "at least one value"),
    ({"vary": {"cluster.servers": [3, 3]}}, "twice"),
    ({"vary": {"cluster.servers": "34"}}, "must be a list"),
    ({"replications": 0}, "replications must be a positive integer"),
    ({"executor": "threads"}, "executor must be one of"),
    ({"scheduler": "tcp://127.0.0.1:1"}, "needs executor='dask'"),
    ({"seed": -1}, "seed must be a non-negative integer"),
])
def test_bad_arguments_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        sweep("steady", overrides=TINY, **kwargs)


# -- outputs ----------------------------------------------------------------------------------


def test_files_tables_and_frames(tmp_path: Path) -> None:
    result = sweep("steady", GRID, replications=2, executor="serial", overrides=TINY)
    written = result.save(tmp_path)
    assert [p.name for p in written] == ["runs.csv", "summary.csv", "summary.json", "sweep.png"]
    runs = (tmp_path / "runs.csv").read_text().splitlines()
    assert runs[0].startswith("placement.algorithm,cluster.servers,replication,seed,status,")
    assert runs[1].startswith("ring,4,0,1,ok,,") and len(runs) == 9
    summary = json.loads((tmp_path / "summary.json").read_text())
    p99 = summary["configurations"][1]["metrics"]["latency.p99"]
    assert p99["n"] == 2 and p99["half_width"] == pytest.approx(
        result.estimate(1, "latency.p99").half_width, rel=1e-5)
    assert (tmp_path / "sweep.png").stat().st_size > 1000
    table = result.table()
    assert "±" in table and "difference from baseline" in table
    assert table.splitlines()[1].split()[:2] == ["placement.algorithm", "cluster.servers"]
    pd = pytest.importorskip("pandas")
    frame = result.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 8
    assert frame["latency.p99"].notna().all()
    long = result.to_pandas("summary")
    assert set(long["metric"]) == set(result.metric_names())
    with pytest.raises(ValueError, match="'runs' or 'summary'"):
        result.to_pandas("nope")


def test_plot_draws_each_metric_against_each_parameter() -> None:
    import matplotlib.pyplot as plt

    result = sweep("steady", GRID, replications=2, executor="serial", overrides=TINY)
    (fig,) = result.plot(["latency.p99", "load.served_peak_to_mean"])
    try:
        assert len(fig.axes) == 2  # two metrics x one parameter (algorithm draws lines)
        assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
            "ring", "rendezvous"]
        assert fig.axes[0].get_xlabel() == "cluster.servers"
    finally:
        plt.close(fig)


def test_progress_bar_text() -> None:
    assert RunsProgressBar.line(0, 4, 0.0, width=4) == "[----] 0/4 runs  0 s elapsed  ETA ?"
    assert RunsProgressBar.line(4, 4, 8.0, width=4) == "[####] 4/4 runs  8 s elapsed  ETA 0 s"


# -- the command line ---------------------------------------------------------------------------


CLI_TINY = ["--set", "duration=1", "--set", "workload.rate=100"]


def test_cli_sweep_prints_writes_and_matches_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", "steady", "--vary", "placement.algorithm=ring,rendezvous",
                 "--vary", "cluster.servers=4,6", "--replications", "2", "--executor",
                 "serial", *CLI_TINY, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr()
    api = sweep("steady", GRID, replications=2, executor="serial", overrides=TINY)
    assert printed.out == api.table() + "\n"
    assert "wrote" in printed.err and "runs in" in printed.err
    assert (tmp_path / "runs.csv").read_text() == api.runs_csv()
    assert (tmp_path / "summary.json").read_text() == api.to_json()
    assert main(["sweep", "steady", "--vary", "cluster.servers=4,6", "--replications", "2",
                 "--executor", "serial", *CLI_TINY, "--json", "-q"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["vary"] == {"cluster.servers": [4, 6]}
    assert printed.err == ""


def test_cli_sweep_exits_1_naming_failed_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", "steady", "--vary", "placement.options.probes=0,8",
                 "--replications", "2", "--executor", "serial", *CLI_TINY,
                 "--set", MULTIPROBE[0], "-q", "--out", str(tmp_path), "--no-figures"]) == 1
    printed = capsys.readouterr()
    assert "2 of 4 runs failed" in printed.err
    assert "placement.options.probes=0 replication 1 (seed 2): ScenarioError" in printed.err
    assert "placement.options.probes" in printed.out  # the table of what finished
    assert (tmp_path / "runs.csv").read_text().count(",failed,") == 2


def test_cli_sweep_interrupted_writes_what_finished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = sweep_module.run
    calls: list[int] = []

    def run_until_ctrl_c(scenario: Any, *, seed: int) -> Any:
        calls.append(seed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run(scenario, seed=seed)

    monkeypatch.setattr(sweep_module, "run", run_until_ctrl_c)
    assert main(["sweep", "steady", "--executor", "serial", "--replications", "3", *CLI_TINY,
                 "-q", "--out", str(tmp_path), "--no-figures"]) == 130
    assert "interrupted: 1 of 3 runs finished" in capsys.readouterr().err
    assert len((tmp_path / "runs.csv").read_text().splitlines()) == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--vary", "x"], "--vary expects KEY=V1,V2,..."),
    (["--vary", "cluster.servers=4,,6"], "--vary expects"),
    (["--vary", "cluster.servers=4", "--vary", "cluster.servers=6"], "given twice"),
    (["--baseline", "cluster.servers=4,6", "--vary", "cluster.servers=4,6"], "one value"),
    (["--scheduler", "tcp://127.0.0.1:1", "--executor", "serial"], "needs --executor dask"),
    (["--until", "latency.p99"], "METRIC:REL"),
    (["--vary", "workload.colour=1,2"], "unknown key 'workload.colour'"),
    (["--replications", "0"], "replications must be a positive integer"),
])
def test_cli_sweep_errors_are_one_line_with_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", "steady", "--executor", "serial", *CLI_TINY, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("consistent-sim: error: ") and message in err
    assert err.count("\n") == 1


def test_cli_compare_with_replications(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "steady", "--algorithms", "ring,rendezvous", "--replications", "3",
                 *CLI_TINY, "-q", "--out", str(tmp_path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["placement.algorithm", "ring", "rendezvous"]
    assert "latency.p99" in out and "±" in out and "3 replications (seeds 1..3)" in out
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [r["value"] for r in data["runs"]] == ["ring", "rendezvous"]
    assert data["sweep"]["completed_replications"] == 3
    assert (tmp_path / "runs.csv").exists() and (tmp_path / "summary.csv").exists()


def test_compare_raises_on_a_failed_run() -> None:
    with pytest.raises(ScenarioError, match=r"probes=0 replication 0 \(seed 1\) failed"):
        compare("steady", "placement.options.probes", [0, 8], overrides=[*TINY, *MULTIPROBE])


# -- metrics.warmup -----------------------------------------------------------------------------


def test_warmup_leaves_the_start_out_of_steady_state_figures() -> None:
    import numpy as np

    from sim._metrics import skew

    overrides = ["duration=6", "workload.rate=400"]
    plain = sim.run("steady", overrides=overrides)
    warm = sim.run("steady", overrides=[*overrides, "metrics.warmup=2"])
    assert "after_warmup" not in plain.summary["requests"]
    # The same run: totals and time series keep the warm-up.
    assert warm.summary["requests"]["issued"] == plain.summary["requests"]["issued"]
    assert np.array_equal(warm.timeseries["succeeded"], plain.timeseries["succeeded"])
    ts = warm.timeseries
    after = ts["time"] > 2
    steady = warm.summary["requests"]["after_warmup"]
    assert steady["warmup"] == 2.0
    assert steady["succeeded"] == int(ts["succeeded"][after].sum())
    assert steady["failed"] == int(ts["failed"][after].sum())
    served = ts["served"][after].sum(axis=0)[: warm.scenario.cluster.servers]
    assert warm.summary["load"]["served_peak_to_mean"] == pytest.approx(skew(served)[0])
    assert warm.summary["load"]["served_peak_to_mean"] != plain.summary["load"][
        "served_peak_to_mean"]
    assert warm.summary["latency"]["max"] <= plain.summary["latency"]["max"]
    # A warm-up that outlasts the run leaves no steady state to measure.
    late = sim.run("steady", overrides=["duration=2", "workload.rate=100", "metrics.warmup=3"])
    assert late.summary["latency"]["p99"] is None
    assert late.summary["requests"]["after_warmup"]["success_ratio"] is None


def test_a_sweep_reports_steady_state_metrics_after_warmup() -> None:
    result = sweep("steady", {"placement.algorithm": ["ring", "rendezvous"]}, replications=2,
                   executor="serial", overrides=[*TINY, "metrics.warmup=0.5"],
                   metrics=["requests.after_warmup.success_ratio", "latency.p99"])
    assert result.estimate(0, "requests.after_warmup.success_ratio").n == 2
    with pytest.raises(ScenarioError, match=r"metrics\.warmup must be"):
        sweep("steady", overrides=[*TINY, "metrics.warmup=-1"])


def test_welch_half_width_survives_variances_whose_squares_underflow() -> None:
    # 3.2e-112 squared is 0.0 in floats: the degrees of freedom must not divide by it.
    from sim._stats import paired_difference

    d = paired_difference([0.0, 0.0], [0.0, 3.2e-112])
    assert math.isfinite(d.unpaired_half_width) and d.unpaired_half_width > 0
