"""Regression tests for the fixes from the new-user review of the simulator and its CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import consistent
import sim.cli
from sim import ScenarioError, load_scenario, parse_scenario, run
from sim._config import WorkloadConfig
from sim._scenario import MAX_BINS, MAX_KEYS, MAX_REQUESTS, MAX_RING_POINTS
from sim._sweep import compare
from sim._workload import KeyPopularity
from sim.cli import main
from sim.report import format_value, plot_comparison, plot_run

SMALL = ["--set", "duration=5", "--set", "workload.rate=300"]
CRASH = ["--set", "duration=8", "--set", "workload.rate=300", "--set", "faults.0.at=2"]


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# 1. hot set ------------------------------------------------------------------------------


def test_hot_keys_not_below_keys_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ScenarioError, match=r"workload\.hot_keys must be less than "
                                            r"workload\.keys \(1,000\).*got 1,000$"):
        parse_scenario({"workload": {"popularity": "hotset", "keys": 1000, "hot_keys": 1000}})
    # Only the hot-set popularity uses hot_keys.
    parse_scenario({"workload": {"popularity": "zipf", "keys": 5, "hot_keys": 10}})
    assert main(["run", "crash", "--set", "workload.popularity=hotset",
                 "--set", "workload.hot_keys=1000000", "-q"]) == 2
    err = _error_line(capsys)
    assert "workload.hot_keys" in err and "1,000,000" in err and "100,000" in err


@pytest.mark.parametrize("config", [
    WorkloadConfig(keys=50, popularity="uniform"),
    WorkloadConfig(keys=50, popularity="zipf", zipf_s=1.1),
    WorkloadConfig(keys=50, popularity="hotset", hot_keys=5, hot_fraction=0.7),
    WorkloadConfig(keys=50, popularity="hotset", hot_keys=49, hot_fraction=0.2),
    # Built directly (validation would reject it): every key is hot, so the draw is uniform.
    WorkloadConfig(keys=50, popularity="hotset", hot_keys=500, hot_fraction=0.5),
], ids=["uniform", "zipf", "hotset", "hotset-one-cold", "hotset-all-hot"])
def test_draw_frequencies_match_probabilities(config: WorkloadConfig) -> None:
    popularity = KeyPopularity(config, np.random.default_rng(3))
    n = 400_000
    counts = np.bincount(popularity.draw(n), minlength=config.keys)
    expected = popularity.probabilities() * n
    assert popularity.probabilities().sum() == pytest.approx(1.0)
    # Each count within 5 binomial standard deviations, and a chi-square far from its tail.
    sd = np.sqrt(expected * (1 - expected / n))
    assert np.all(np.abs(counts - expected) <= 5 * sd + 1)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < config.keys + 6 * np.sqrt(2 * config.keys)


# 2. huge inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("override", "message"), [
    ("workload.keys=10000000000000", f"workload.keys must be at most {MAX_KEYS:,}"),
    ("placement.vnodes=100000000", f"at most {MAX_RING_POINTS:,} ring points"),
    ("workload.rate=1e12", f"at most {MAX_REQUESTS:,} expected requests"),
    ("metrics.interval=1e-9", f"at most {MAX_BINS:,} time-series bins"),
    ("cluster.servers=100000", "cluster.servers plus joined servers must be at most"),
    ("clients.count=10000000", "clients.count must be at most"),
])
def test_huge_inputs_are_one_line_errors(
    override: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "crash", "--set", override, "-q"]) == 2
    assert message in _error_line(capsys)


def test_memory_error_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(sim.cli, "run", boom)
    assert main(["run", "steady", "-q"]) == 2
    assert "out of memory" in _error_line(capsys)


# 3. broken pipe ----------------------------------------------------------------------------


def test_closed_stdout_stops_quietly_with_status_141() -> None:
    done = subprocess.run(
        f"{sys.executable} -m sim list | head -1", shell=True, capture_output=True, text=True,
        check=False,
    )
    assert done.stdout == "scenarios:\n" and done.stderr == ""
    # Deterministically: the reader is gone before the command writes anything.
    proc = subprocess.Popen([sys.executable, "-m", "sim", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == sim.cli.EXIT_BROKEN_PIPE == 141
    assert err == b""


# 4. seed -----------------------------------------------------------------------------------


def test_seed_argument_and_seed_override_are_the_same_run() -> None:
    overrides = ["duration=5", "workload.rate=300"]
    by_argument = run("steady", seed=2, overrides=overrides)
    by_override = run("steady", overrides=[*overrides, "seed=2"])
    assert by_argument.to_json() == by_override.to_json()
    summary = json.loads(by_argument.to_json())
    assert summary["seed"] == summary["scenario"]["seed"] == 2
    assert by_argument.scenario.seed == 2


# 5. --out checked before the run -----------------------------------------------------------


def test_out_is_checked_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ran before checking --out")

    monkeypatch.setattr(sim.cli, "run", must_not_run)
    monkeypatch.setattr(sim.cli, "compare", must_not_run)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for command in (["run", "steady"], ["compare", "steady"]):
        assert main([*command, "--out", str(a_file), "-q"]) == 2
        err = _error_line(capsys)
        assert str(a_file) in err and "not a directory" in err
    assert main(["run", "steady", "--out", str(a_file / "below"), "-q"]) == 2
    assert str(a_file / "below") in _error_line(capsys)


def test_out_directory_is_created_only_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "new" / "nested"
    seen: list[bool] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.append(target.exists())
        raise ScenarioError("stop here")

    monkeypatch.setattr(sim.cli, "run", record)
    assert main(["run", "steady", "--out", str(target), "-q"]) == 2
    assert seen == [False] and not (tmp_path / "new").exists()


# 6. exact vs sampled values ----------------------------------------------------------------


def test_format_value_prints_rounding_noise_as_zero() -> None:
    assert format_value(1.6e-16) == "0"
    assert format_value(-2e-10) == "0"
    assert format_value(1e-16, "%") == "0.0%"
    assert format_value(2e-9) == "2e-09"


def test_tables_say_how_each_figure_was_measured(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "crash", *CRASH, "--algorithms", "ring,rendezvous", "-q"]) == 0
    rows = {line[:48].strip(): line[48:].split() for line in capsys.readouterr().out.splitlines()}
    assert rows["movement: measured (exact/sampled)"] == ["exact", "sampled"]
    assert rows["load: key-space shares (exact/ideal)"] == ["exact", "ideal"]
    # The ideal shares' CV is rounding noise, printed as 0.
    assert rows["load: key-space CV"][1] == "0"
    result = run("crash", overrides=["duration=8", "workload.rate=300", "faults.0.at=2"])
    assert result.summary["movement"]["method"] == "exact"
    assert result.summary["load"]["keyspace_method"] == "exact"
    table = result.table()
    assert "measured (exact/sampled)" in table and "key-space shares (exact/ideal)" in table


# 7. key-space-seconds ----------------------------------------------------------------------


def test_unavailable_share_seconds_is_named_for_what_it_is() -> None:
    result = run("crash", overrides=["duration=8", "workload.rate=300", "faults.0.at=2"])
    availability = result.summary["availability"]
    assert "unavailable_key_seconds" not in availability
    assert availability["unavailable_keyspace_seconds"] == pytest.approx(
        availability["max_unavailable"] * 6.0)
    assert "unavailable key-space-seconds (share x s)" in result.table()


# 8. CLI polish -----------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"consistent-sim {consistent.__version__}"


def test_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    helps = {}
    for command in ("run", "compare", "show"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = " ".join(capsys.readouterr().out.split())
    assert "compare.json and compare.png" in helps["compare"]
    assert "--json" not in helps["compare"]
    assert "default: ring,rendezvous,maglev" in helps["compare"]
    assert "faults.0.pace=5" in helps["run"] and "faults.0.pace=5" in helps["compare"]
    assert "summary.json, timeseries.csv" in helps["run"]
    assert "built-in scenario name" in helps["show"]
    assert "built-in name or TOML path" in helps["compare"]


def test_vary_and_algorithms_cannot_be_combined(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "steady", "--vary", "cluster.servers=2,3",
                 "--algorithms", "ring"]) == 2
    assert "--vary and --algorithms cannot be combined" in _error_line(capsys)


def test_compare_reports_every_file_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "steady", *SMALL, "--algorithms", "ring", "--out",
                 str(tmp_path)]) == 0
    printed = capsys.readouterr()
    assert "compare.json" in printed.err and "compare.png" in printed.err
    assert "wrote" not in printed.out
    assert (tmp_path / "compare.png").exists()


def test_a_bad_placement_option_is_named_by_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "steady", "--set", "placement.algorithm=multiprobe",
                 "--set", "placement.options.probes=0", "-q"]) == 2
    assert "placement.options.probes" in _error_line(capsys)


def test_one_server_is_singular() -> None:
    result = run("steady", overrides=["duration=2", "workload.rate=50", "cluster.servers=1",
                                      "cluster.replication=1", "clients.count=1"])
    header = result.table().splitlines()[0]
    assert "1 server " in header and "1 client " in header


# 9. wall time on stderr --------------------------------------------------------------------


def test_table_mode_stdout_is_identical_across_runs(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert main(["run", "steady", *SMALL]) == 0
        printed = capsys.readouterr()
        assert "events/s" in printed.err
        outputs.append(printed.out)
    assert outputs[0] == outputs[1]


# 10. figures -------------------------------------------------------------------------------


def test_figures_axes_and_legends() -> None:
    import matplotlib.pyplot as plt

    result = run("steady", overrides=["duration=5", "workload.rate=300"])
    (fig,) = plot_run(result)
    try:
        twin = [ax for ax in fig.axes if ax.get_ylabel() == "keys unavailable (%)"]
        assert len(twin) == 1
        bottom, top = twin[0].get_ylim()
        assert bottom < 0 < 1 <= top
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None:  # outside the axes, to the right
                assert legend.get_bbox_to_anchor().bounds[0] > ax.get_window_extent().x1
    finally:
        plt.close(fig)
    comparison = compare("steady", "placement.algorithm", ["ring", "rendezvous"],
                         overrides=["duration=3", "workload.rate=200"])
    (fig,) = plot_comparison(comparison)
    try:
        assert fig._suptitle is not None
        title = fig._suptitle.get_text()
        assert "steady" in title and "seed 1" in title
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert labels == ["ring", "rendezvous"]
    finally:
        plt.close(fig)


# 11. overrides as a string -----------------------------------------------------------------


def test_a_single_override_string_is_one_override() -> None:
    result = run("steady", overrides="duration=2")
    assert result.scenario.duration == 2.0
    assert load_scenario("steady", "workload.rate=5").workload.rate == 5.0
    with pytest.raises(TypeError, match="int"):
        run("steady", overrides=5)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError) as excinfo:
        run("steady", overrides="w")
    assert "--set" not in str(excinfo.value) and "'w'" in str(excinfo.value)
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario("crash", ["faults.7.at=1"])
    assert "--set" not in str(excinfo.value)


# 12. health-check jitter -------------------------------------------------------------------


@pytest.mark.parametrize("jitter", [None, "none", "equal", "decorrelated"])
def test_health_check_jitter_is_a_scenario_setting(
    jitter: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    original = consistent.ExponentialBackoff

    def recording(*args: Any, **kwargs: Any) -> Any:
        backoff = original(*args, **kwargs)
        seen.append(backoff)
        return backoff

    monkeypatch.setattr(consistent, "ExponentialBackoff", recording)
    overrides = ["duration=2", "workload.rate=50", "clients.count=2"]
    if jitter is not None:
        overrides.append(f"clients.health_check_jitter={jitter}")
    result = run("steady", overrides=overrides)
    expected = jitter or "full"  # the default keeps the simulator's historical behaviour
    assert result.scenario.clients.health_check_jitter == expected
    health = [b for b in seen if b.base == result.scenario.clients.health_check_base]
    assert len(health) == 2 and {b.jitter.value for b in health} == {expected}


def test_bad_health_check_jitter_is_rejected() -> None:
    with pytest.raises(ScenarioError, match=r"clients\.health_check_jitter must be one of"):
        parse_scenario({"clients": {"health_check_jitter": "fuzzy"}})


# 13. NaN ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_numbers_say_finite(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "steady", "--set", f"workload.rate={value}", "-q"]) == 2
    assert "workload.rate must be a finite number" in _error_line(capsys)
