"""Faults: each kind happens to the servers it names, at the times the scenario gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sim import run

BASE: dict[str, Any] = {"duration": 30, "workload": {"rate": 300},
                        "metrics": {"interval": 0.5}}


def _downs(result: Any) -> list[tuple[str, str, float, float | None]]:
    return [(f["node"], f["kind"], f["down_at"], f["up_at"])
            for f in result.summary["recovery"]["faults"] if f["kind"] != "join"]


def test_a_crash_and_a_plain_restart_happen_at_their_times() -> None:
    result = run({**BASE, "faults": [
        {"kind": "crash", "at": 4.0, "node": "s002"},
        {"kind": "restart", "at": 6.0, "node": 5, "downtime": 3.0, "graceful": False},
    ]})
    assert _downs(result) == [("s002", "crash", 4.0, None), ("s005", "restart", 6.0, 9.0)]


def test_a_rolling_restart_takes_servers_in_index_order_one_per_pace() -> None:
    result = run({**BASE, "faults": [{"kind": "rolling-restart", "at": 2.0, "pace": 4.0,
                                      "downtime": 1.5, "nodes": 3, "graceful": False}]})
    assert _downs(result) == [("s000", "restart", 2.0, 3.5), ("s001", "restart", 6.0, 7.5),
                              ("s002", "restart", 10.0, 11.5)]


def test_joined_servers_are_numbered_in_the_order_the_joins_are_listed() -> None:
    result = run({**BASE, "faults": [
        {"kind": "join", "at": 12.0, "count": 1},
        {"kind": "join", "at": 5.0, "count": 2},
        {"kind": "crash", "at": 8.0, "node": "s011"},
    ]})
    # s010 is the first listed join's (at 12), s011 and s012 the second's (at 5).
    assert _downs(result) == [("s011", "crash", 8.0, None)]
    added = [(c["time"], c["node"]) for c in result.summary["movement"]["changes"]
             if c["change"] == "add"]
    assert sorted(added) == [(5.0, "s011"), (5.0, "s012"), (12.0, "s010")]


def test_a_hang_ends_after_its_duration() -> None:
    result = run({**BASE, "faults": [{"kind": "hang", "at": 3.0, "node": 1, "duration": 2.5}]})
    assert _downs(result) == [("s001", "hang", 3.0, 5.5)]


def test_a_network_delay_lasts_its_duration() -> None:
    result = run({**BASE, "faults": [{"kind": "network-delay", "at": 10.0, "duration": 5.0,
                                      "extra": 0.02}]})
    ts = result.timeseries
    during = (ts["time"] > 10.0) & (ts["time"] < 15.0)
    assert np.all(ts["extra_delay"][during] == pytest.approx(0.02))
    assert np.all(ts["extra_delay"][~during & ((ts["time"] < 10.0) | (ts["time"] > 15.0))] == 0)
    # Every request took at least four extra one-way hops' worth while it lasted.
    assert np.nanmin(ts["latency_p50"][during]) > 0.02 * 2
    assert result.summary["recovery"]["faults"] == []


def test_a_decommission_leaves_after_announcing_and_draining() -> None:
    result = run({**BASE, "faults": [{"kind": "decommission", "at": 5.0, "node": 4,
                                      "drain": 2.0}]})
    ((node, kind, down_at, up_at),) = _downs(result)
    assert (node, kind, up_at) == ("s004", "decommission", None)
    assert 5.0 <= down_at <= 7.0  # it stops once drained, at most drain after announcing
    (change,) = result.summary["movement"]["changes"]
    assert change["change"] == "remove" and change["node"] == "s004" and change["time"] == 5.0
