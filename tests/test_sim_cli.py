"""The consistent-sim command line: output, files written, one-line errors with status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import consistent
import sim
import sim.cli
import sim.report
from sim._rules import MAX_BINS, MAX_KEYS, MAX_REQUESTS, MAX_RING_POINTS
from sim.cli import ProgressBar, main

SMALL = ["--set", "duration=5", "--set", "workload.rate=300"]
CRASH = ["--set", "duration=8", "--set", "workload.rate=300", "--set", "faults.0.at=2"]


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a failed command writes to stderr (no traceback)."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("consistent-sim: error: "), err
    return err


def test_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("steady", "crash", "rolling-restart", "join", "decommission", "ring"):
        assert name in out
    assert main(["show", "crash"]) == 0
    assert '[[faults]]\nkind = "crash"' in capsys.readouterr().out


def test_show_prints_every_setting_and_every_fault_kind(
    capsys: pytest.CaptureFixture[str]
) -> None:
    from sim._config import FAULT_KINDS

    assert main(["show", "steady"]) == 0
    out = capsys.readouterr().out
    for line in ("health_check_jitter = \"full\"", "options = {}", "[placement]"):
        assert f"\n{line}\n" in out, line
    for kind in FAULT_KINDS:
        assert f'# kind = "{kind}"' in out, kind
    assert "docs/scenarios.md" in out


def test_show_of_a_file_keeps_that_files_opening_comment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('# My own experiment.\nname = "crash"\n[[faults]]\nkind = "crash"\n')
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# My own experiment.\n#\n# Every setting")
    assert sim.builtin_toml("crash").splitlines()[0] not in out  # named crash, not the built-in


def test_show_output_runs_as_a_scenario_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "crash"]) == 0
    path = tmp_path / "mine.toml"
    path.write_text(capsys.readouterr().out)
    assert main(["run", str(path), *CRASH, "--json", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scenario"]["name"] == "crash"
    assert summary["scenario"]["faults"][0]["node"] == 3


def test_run_prints_a_table_and_writes_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    assert main(["run", "crash", "--seed", "3", *SMALL, "--set", "faults.0.at=2",
                 "--out", str(out_dir)]) == 0
    printed = capsys.readouterr()
    assert "requests conserved" in printed.out and "yes" in printed.out
    assert "\r" not in printed.err  # no progress bar when stderr is not a terminal
    # Timing and files written are notes on stderr: stdout is the result alone.
    assert "events/s" in printed.err and "wrote" in printed.err
    assert "events/s" not in printed.out and "wrote" not in printed.out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["scenario"]["name"] == "crash"
    header = (out_dir / "timeseries.csv").read_text().splitlines()[0]
    assert header.startswith("time,issued,succeeded")
    assert (out_dir / "timeseries_served.csv").exists()
    assert (out_dir / "timeseries.png").stat().st_size > 1000


def test_run_json_and_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "steady", *SMALL, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requests"]["issued"] > 0
    # --quiet drops the progress bar and the informational lines, never the result.
    assert main(["run", "steady", *SMALL, "--quiet", "--out", str(tmp_path / "q"),
                 "--no-figures"]) == 0
    printed = capsys.readouterr()
    assert "requests conserved" in printed.out
    assert "events/s" not in printed.out and "wrote" not in printed.out
    assert printed.err == ""
    assert (tmp_path / "q" / "summary.json").exists()
    assert main(["run", "steady", *SMALL, "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requests"]["issued"] > 0
    # Without --quiet, --json keeps stdout pure JSON: the note on files written goes to stderr.
    assert main(["run", "steady", *SMALL, "--json", "--out", str(tmp_path / "j"),
                 "--no-figures"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["seed"] == 1
    assert "wrote " in printed.err and "wrote" not in printed.out
    assert main(["compare", "steady", "--vary", "clients.strategy=p2c,random", *SMALL,
                 "--quiet"]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("clients.strategy") and printed.err == ""


def test_compare_table_matches_cells_to_their_run(capsys: pytest.CaptureFixture[str]) -> None:
    # Replication varies: each column shows its own r, and the crash loses keys only at r=1.
    assert main(["compare", "crash", "--vary", "cluster.replication=1,3", "--quiet",
                 "--set", "duration=8", "--set", "workload.rate=300",
                 "--set", "faults.0.at=2"]) == 0
    rows = {line[:45].strip(): line[45:].split() for line in capsys.readouterr().out.splitlines()}
    assert rows["availability: replication (r)"] == ["1", "3"]
    unavailable = rows["availability: max keys with no live replica"]
    assert unavailable[0] != "0.0%" and unavailable[1] == "0.0%"
    assert not any("r=" in name for name in rows)


def test_compare_prints_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "crash", "--algorithms", "ring,rendezvous", *SMALL,
                 "--set", "faults.0.at=2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ring" in out.splitlines()[0] and "rendezvous" in out.splitlines()[0]
    assert (tmp_path / "compare.png").exists()
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [r["value"] for r in data["runs"]] == ["ring", "rendezvous"]
    assert main(["compare", "steady", "--vary", "clients.strategy=p2c,random", *SMALL]) == 0
    assert "clients.strategy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "missing.toml"], "does not exist"),
        (["run", "nosuchscenario"], "no built-in scenario 'nosuchscenario'"),
        (["run", "steady", "--set", "workload.rate=-1"], "workload.rate must be a positive"),
        (["run", "steady", "--set", "cluster.replication=50"], "cluster.replication must be at"),
        (["run", "steady", "--set", "workload.colour=1"], "unknown key 'workload.colour'"),
        (["run", "steady", "--set", "nonsense"], "--set expects KEY=VALUE"),
        (["run", "steady", "--seed", "x"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
        (["compare", "steady", "--vary", "x"], "--vary expects"),
        (["show", "nope"], "no built-in scenario 'nope'"),
    ],
)
def test_errors_are_one_line_with_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("consistent-sim: error: ")
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_files_give_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        "not_toml.toml": ("rate = = 3", "is not valid TOML"),
        "unknown.toml": ("[workload]\nspeed = 3\n", "unknown key 'workload.speed'"),
        "negative.toml": ("[workload]\nrate = -3\n", "workload.rate must be a positive number"),
        "replicas.toml": ("[cluster]\nservers = 3\nreplication = 4\n", "cluster.replication"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        assert main(["run", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_python_dash_m_sim_is_the_same_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sim", "run", "nosuch"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 2
    names = ", ".join(sim.list_scenarios())
    assert done.stderr.strip() == "consistent-sim: error: no built-in scenario 'nosuch' " \
        f"(expected one of: {names})"
    assert "crash, decommission" in names
    assert done.stdout == ""


class _Tty:
    """A stream that says it is a terminal and keeps what was written."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


def test_progress_bar_draws_only_on_a_terminal() -> None:
    tty = _Tty()
    bar = ProgressBar(tty)  # type: ignore[arg-type]
    bar(30.0, 60.0)
    assert "50.0%" in tty.text
    bar.close()
    assert tty.text.endswith("\r")


def test_compare_progress_says_which_run_it_is_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["compare", "steady", *SMALL, "--algorithms", "ring,rendezvous,maglev"]) == 0
    assert "\r" in tty.text
    drawn = [line.strip() for line in tty.text.split("\r") if line.strip()]
    # One bar over all the runs, counting them, not a bar that restarts with each run.
    assert any("3/3 runs" in line for line in drawn), drawn
    assert all(" runs " in line for line in drawn), drawn
    assert capsys.readouterr().out.startswith("placement.algorithm")


# -- a built-in name is never shadowed -----------------------------------------------------


def test_an_out_directory_named_like_a_built_in_does_not_shadow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the second run used to fail with "Is a directory"
        assert main(["run", "crash", *CRASH, "--out", "crash", "--no-figures", "-q"]) == 0
        assert "requests conserved" in capsys.readouterr().out
    assert (tmp_path / "crash" / "summary.json").exists()
    # A file of that name is not read either, unless asked for as a path.
    (tmp_path / "steady").write_text("name = 'mine'\nduration = 2\n")
    assert main(["run", "steady", *SMALL, "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["scenario"]["name"] == "steady"
    assert main(["run", "./steady", "--json", "-q", "--set", "workload.rate=100"]) == 0
    assert json.loads(capsys.readouterr().out)["scenario"]["name"] == "mine"
    assert main(["run", "./crash"]) == 2
    assert "cannot read scenario file './crash'" in _error_line(capsys)


# -- --out: checked before the run, created after it ---------------------------------------


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
    err = _error_line(capsys)
    assert str(a_file / "below") in err and "Not a directory" in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions that apply (not root)")
def test_out_in_a_read_only_directory_fails_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ran before checking --out")

    monkeypatch.setattr(sim.cli, "run", must_not_run)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["run", "steady", "--out", str(locked / "new" / "dir"), "-q"]) == 2
        assert f"cannot be created in {str(locked)!r}" in _error_line(capsys)
        assert main(["run", "steady", "--out", str(locked), "-q"]) == 2
        assert "is not writable" in _error_line(capsys)
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("argv", [
    ["run", "steady", "--set", "cluster.servers=0"],
    ["run", "nosuch"],
    ["run", "steady", "--set", "faults.0.at=3"],
    ["run", "steady", "--seed", "-1"],
    # Fails when the model is built, after validation: still nothing written.
    ["run", "steady", "--set", "placement.algorithm=multiprobe",
     "--set", "placement.options.probes=0"],
], ids=["invalid", "unknown", "no-fault", "bad-seed", "cannot-start"])
def test_a_failed_run_leaves_no_out_directory(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new" / "dir"
    assert main([*argv, "--out", str(target), "-q"]) == 2
    _error_line(capsys)
    assert not (tmp_path / "new").exists()


def test_out_directory_is_created_only_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new" / "nested"
    seen: list[bool] = []
    real_run = sim.cli.run

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.append(target.exists())
        return real_run(*args, **kwargs)

    monkeypatch.setattr(sim.cli, "run", record)
    assert main(["run", "steady", *SMALL, "--out", str(target), "--no-figures", "-q"]) == 0
    assert seen == [False]
    assert sorted(p.name for p in target.iterdir()) == [
        "summary.json", "timeseries.csv", "timeseries_served.csv"]


def test_without_matplotlib_figures_fail_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ran although figures cannot be drawn")

    monkeypatch.setattr(sim.cli, "run", must_not_run)
    monkeypatch.setattr(sim.report, "figures_available", lambda: False)
    assert main(["run", "crash", "--out", str(tmp_path / "o"), "-q"]) == 2
    err = _error_line(capsys)
    assert "matplotlib" in err and "consistent-ring[sim]" in err and "--no-figures" in err
    assert not (tmp_path / "o").exists()
    # Asking for no figures (or no files) needs no matplotlib.
    monkeypatch.setattr(sim.cli, "run", sim.run)
    assert main(["run", "steady", *SMALL, "--out", str(tmp_path / "o"), "--no-figures",
                 "-q"]) == 0
    assert main(["run", "steady", *SMALL, "-q"]) == 0


def test_figures_available_looks_for_matplotlib_without_importing_it(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from sim.report import figures_available

    assert figures_available()  # the dev extra installs matplotlib
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else object())
    assert not figures_available()

    def hidden(name: str, *args: Any) -> Any:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(importlib.util, "find_spec", hidden)
    assert not figures_available()


# -- Ctrl-C ----------------------------------------------------------------------------------


def test_ctrl_c_exits_130_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.cli, "run", interrupted)
    target = tmp_path / "never-created"
    assert main(["run", "steady", "-q", "--out", str(target)]) == sim.cli.EXIT_INTERRUPTED
    assert sim.cli.EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "consistent-sim: interrupted\n"
    assert not target.exists()


# -- bad input: one line, status 2 -----------------------------------------------------------


def test_hot_keys_not_below_keys_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "crash", "--set", "workload.popularity=hotset",
                 "--set", "workload.hot_keys=1000000", "-q"]) == 2
    err = _error_line(capsys)
    assert "workload.hot_keys" in err and "1,000,000" in err and "100,000" in err


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


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_numbers_say_finite(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "steady", "--set", f"workload.rate={value}", "-q"]) == 2
    assert "workload.rate must be a finite number" in _error_line(capsys)


def test_an_override_of_a_missing_fault_is_one_clear_line(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "steady", "--set", "faults.0.at=3"]) == 2
    err = _error_line(capsys)
    assert err.rstrip().endswith("the scenario has no fault 0 (it has no faults)")
    assert "{" not in err


def test_overlapping_faults_are_one_line_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "twice.toml"
    path.write_text('[[faults]]\nkind = "crash"\nat = 5.0\nnode = 2\n'
                    '[[faults]]\nkind = "crash"\nat = 7.0\nnode = 2\n')
    assert main(["run", str(path)]) == 2
    err = _error_line(capsys)
    assert "faults[1] (crash)" in err and "faults[0] (crash)" in err and "s002" in err


def test_a_bad_placement_option_is_named_by_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "steady", "--set", "placement.algorithm=multiprobe",
                 "--set", "placement.options.probes=0", "-q"]) == 2
    assert "placement.options.probes" in _error_line(capsys)


def test_vary_and_algorithms_cannot_be_combined(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "steady", "--vary", "cluster.servers=2,3",
                 "--algorithms", "ring"]) == 2
    assert "--vary and --algorithms cannot be combined" in _error_line(capsys)


# -- pipes, version, help, stdout ------------------------------------------------------------


def test_closed_stdout_stops_quietly_with_status_141() -> None:
    done = subprocess.run(
        f"{sys.executable} -m sim list | head -1", shell=True, capture_output=True, text=True,
        check=False, timeout=120,
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
    assert "checked before the run, created after it" in helps["run"]
    assert "ends in .toml, e.g. ./crash" in helps["run"]
    assert "built-in scenario name" in helps["show"] and "every setting" in helps["show"]
    assert "built-in name or TOML path" in helps["compare"]


def test_compare_reports_every_file_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "steady", *SMALL, "--algorithms", "ring", "--out",
                 str(tmp_path)]) == 0
    printed = capsys.readouterr()
    assert "compare.json" in printed.err and "compare.png" in printed.err
    assert "wrote" not in printed.out
    assert (tmp_path / "compare.png").exists()


def test_table_mode_stdout_is_identical_across_runs(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert main(["run", "steady", *SMALL]) == 0
        printed = capsys.readouterr()
        assert "events/s" in printed.err
        outputs.append(printed.out)
    assert outputs[0] == outputs[1]


def test_compare_table_says_how_each_figure_was_measured(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "crash", *CRASH, "--algorithms", "ring,rendezvous", "-q"]) == 0
    rows = {line[:48].strip(): line[48:].split() for line in capsys.readouterr().out.splitlines()}
    assert rows["movement: measured (exact/sampled)"] == ["exact", "sampled"]
    assert rows["load: key-space shares (exact/ideal)"] == ["exact", "ideal"]
    # The ideal shares' CV is rounding noise, printed as 0.
    assert rows["load: key-space CV"][1] == "0"


@pytest.mark.parametrize("command", [
    ["sweep", "steady", "--set", "cluster.servers=0"],
    ["compare", "nosuch"],
    ["sweep", "nosuch", "--vary", "placement.vnodes=10,20"],
])
def test_compare_and_sweep_leave_no_out_directory_when_they_cannot_start(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "new"
    assert main([*command, "--out", str(target), "--quiet"]) == 2
    assert not target.exists()
    assert capsys.readouterr().err.count("\n") == 1
