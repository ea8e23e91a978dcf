"""The consistent-sim command line: output, files written, one-line errors with status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import ProgressBar, main

SMALL = ["--set", "duration=5", "--set", "workload.rate=300"]


def test_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("steady", "crash", "rolling-restart", "join", "decommission", "ring"):
        assert name in out
    assert main(["show", "crash"]) == 0
    assert 'kind = "crash"' in capsys.readouterr().out


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


def test_compare_rows_align_when_runs_differ_in_rows() -> None:
    from sim import compare
    from sim.report import summary_rows

    # Only the run with a queue limit fails requests for it: it has a row the other lacks.
    comparison = compare("steady", "cluster.queue_limit", [0, 1], overrides=[
        "duration=3", "workload.rate=3000", "cluster.concurrency=1"])
    per_run = [{f"{sec}: {name.strip()}": value for sec, name, value in summary_rows(r.summary)}
               for r in comparison.results]
    only_second = [name for name in per_run[1] if name.startswith("requests: failed: ")
                   and name not in per_run[0]]
    assert len(only_second) == 1
    rows = comparison.rows()
    for name, cells in rows:
        for run_rows, cell in zip(per_run, cells, strict=True):
            assert cell == run_rows.get(name, "0"), (name, cells)
    names = [name for name, _ in rows]
    assert names.index(only_second[0]) == names.index("requests: failed") + 1


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
    assert done.stderr.strip() == "consistent-sim: error: no built-in scenario 'nosuch' " \
        "(expected one of: crash, decommission, join, rolling-restart, steady)"
    assert done.stdout == ""


def test_progress_bar_draws_only_on_a_terminal() -> None:
    class Tty:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    tty = Tty()
    bar = ProgressBar(tty)  # type: ignore[arg-type]
    bar(30.0, 60.0)
    assert "50.0%" in tty.text
    bar.close()
    assert tty.text.endswith("\r")
