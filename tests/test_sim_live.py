"""The live twin of a run (sim._live): limits, clean-up of processes, one short run end to end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

import sim
from sim._live import LIMITS, run_live
from sim._live_client import attempt_cause

ROOT = Path(__file__).resolve().parent.parent


def test_a_scenario_beyond_the_limits_is_refused_in_one_line() -> None:
    with pytest.raises(sim.ScenarioError) as info:
        run_live("steady", overrides=[f"cluster.servers={LIMITS.servers + 1}"])
    message = str(info.value)
    assert "\n" not in message
    assert f"{LIMITS.servers + 1} servers (limit {LIMITS.servers})" in message


def test_a_network_delay_fault_is_refused() -> None:
    with pytest.raises(sim.ScenarioError, match="network-delay"):
        run_live({"cluster": {"servers": 3}, "workload": {"rate": 50}, "clients": {"count": 2},
                  "duration": 5, "faults": [{"kind": "network-delay", "at": 1.0}]})


@pytest.mark.parametrize(("outcome", "status", "error", "cause"), [
    ("success", 200, None, "ok"),
    ("upstream", 502, None, "upstream"),
    ("timeout", None, "ReadTimeout", "timeout"),
    ("failure", 503, None, "overload"),
    ("failure", None, "ConnectError", "refused"),
    ("failure", None, "RemoteProtocolError", "refused"),
    ("failure", 500, None, "error"),
])
def test_attempt_causes_follow_the_simulators(outcome: str, status: int | None,
                                              error: str | None, cause: str) -> None:
    assert attempt_cause(outcome, status, error) == cause


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_killing_the_runner_leaves_no_child_behind() -> None:
    script = textwrap.dedent("""
        from sim._live import run_live
        run_live({"cluster": {"servers": 2}, "workload": {"rate": 20}, "clients": {"count": 1},
                  "duration": 60})
    """)
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        children: set[int] = set()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(children) < 3:  # 2 servers and a client
            children |= _children(runner.pid)
            time.sleep(0.2)
        assert len(children) >= 3, f"the runner started {sorted(children)}"
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in children):
            time.sleep(0.1)
        assert not [p for p in children if _alive(p)]
    finally:
        # The killed runner could not remove its directory; the next run removes such ones.
        for path in Path(tempfile.gettempdir()).glob(f"consistent-live-{runner.pid}-*"):
            shutil.rmtree(path, ignore_errors=True)
        if runner.poll() is None:
            runner.kill()
            runner.wait(timeout=10)


@pytest.mark.slow
def test_a_short_live_run_with_a_graceful_restart_has_a_simulated_runs_shape() -> None:
    scenario = {
        "name": "live-smoke", "duration": 8.0,
        "cluster": {"servers": 3, "replication": 2},
        "workload": {"rate": 40.0, "keys": 1000},
        "clients": {"count": 2},
        "membership": {"heartbeat_interval": 0.5, "client_discovery_delay": 1.0},
        "faults": [{"kind": "restart", "at": 2.0, "node": 1, "downtime": 1.5, "drain": 0.5}],
    }
    live = run_live(scenario)
    simulated = sim.run(scenario)
    assert set(simulated.summary) - {"engine"} <= set(live.summary)
    for block in ("requests", "latency", "load", "ejections"):
        assert set(simulated.summary[block]) <= set(live.summary[block])
    one_d = {k for k, v in simulated.timeseries.items() if v.ndim == 1}
    assert one_d <= set(live.timeseries)
    assert live.timeseries["served"].shape[1] == 3
    requests = live.summary["requests"]
    assert requests["issued"] == requests["succeeded"] + requests["failed"] \
        + requests["in_flight_at_end"]
    # Poisson: 320 expected, far outside 4 standard deviations only if arrivals are wrong.
    assert 240 <= requests["issued"] <= 400
    assert requests["succeeded"] > 0
    shares = live.summary["load"]["served_share"]
    assert all(shares[n] > 0 for n in ("s000", "s001", "s002"))
    (fault,) = live.summary["recovery"]["faults"]
    assert fault["kind"] == "restart" and fault["node"] == "s001"
    # The stop came after SIGTERM at 2 s and a drain of at most 0.5 s (plus signal delivery).
    assert 2.0 <= fault["down_at"] <= 4.0
    assert fault["up_at"] is not None and fault["up_at"] >= fault["down_at"] + 1.5
    assert "INVALID" not in live.table()
    assert set(live.summary["live"]) >= {"valid", "generator_lag", "errors", "not_measured"}
