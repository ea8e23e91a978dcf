"""Metrics: skew, movement records, counters sampled by name into the time series, availability."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import run
from sim._counters import Counters
from sim._metrics import MovementRecord, Recorder, skew

CRASH = ["duration=8", "workload.rate=300", "faults.0.at=2"]


def test_skew_of_known_loads() -> None:
    assert skew([1.0, 1.0, 2.0]) == pytest.approx((1.5, math.sqrt(2) / 4))
    assert skew([5, 5, 5, 5]) == (1.0, 0.0)
    peak, cv = skew([0.0, 0.0, 3.0])  # one node takes everything
    assert peak == pytest.approx(3.0) and cv == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("loads", [[], [0.0, 0.0]])
def test_skew_is_nan_where_undefined(loads: list[float]) -> None:
    peak, cv = skew(loads)
    assert math.isnan(peak) and math.isnan(cv)


@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=50))
def test_skew_bounds(loads: list[float]) -> None:
    peak, cv = skew(loads)
    if sum(loads) <= 0:
        assert math.isnan(peak)
        return
    # The peak is at least the mean and at most n times it; the CV at most sqrt(n - 1).
    n = len(loads)
    assert 1.0 - 1e-9 <= peak <= n + 1e-9
    assert 0.0 <= cv <= math.sqrt(n - 1) + 1e-9


def test_movement_record_ratio_and_dict() -> None:
    record = MovementRecord(time=3.0, change="remove", node="s001", moved=0.12,
                            optimum=0.1, exact=True)
    assert record.ratio == pytest.approx(1.2)
    assert record.to_dict() == {"time": 3.0, "change": "remove", "node": "s001",
                                "moved": 0.12, "optimum": 0.1, "ratio": record.ratio,
                                "exact": True}
    nothing = MovementRecord(time=0.0, change="add", node="s002", moved=0.0, optimum=0.0,
                             exact=False)
    assert math.isnan(nothing.ratio)


def test_counters_are_sampled_by_name() -> None:
    counters = Counters(servers=3)
    counters.issued += 5
    counters.succeeded += 2
    assert counters.sample(("succeeded", "issued")) == {"succeeded": 2, "issued": 5}
    assert set(counters.sample()) == set(Counters.NAMES)
    with pytest.raises(AttributeError):
        counters.sample(("no_such_counter",))
    # Every counter column the recorder samples is a counter, by that name.
    assert set(Recorder.COUNTER_COLUMNS) <= set(Counters.NAMES)


def test_time_series_bins_add_up_to_the_summary() -> None:
    result = run("crash", overrides=CRASH)
    ts, requests = result.timeseries, result.summary["requests"]
    assert ts["time"][-1] == pytest.approx(result.scenario.duration)
    assert np.all(np.diff(ts["time"]) > 0)
    for column, total in (("issued", requests["issued"]), ("succeeded", requests["succeeded"]),
                          ("failed", requests["failed"]), ("retried", requests["retried"]),
                          ("forwarded", requests["forwarded"]),
                          ("attempt_timeouts", requests["attempt_timeouts"]),
                          ("health_checks_sent", result.summary["health_checks"]["sent"])):
        assert int(ts[column].sum()) == total, column
    assert int(ts["in_flight"][-1]) == requests["in_flight_at_end"]
    served = ts["served"]
    assert served.shape == (len(ts["time"]), result.scenario.max_servers)
    assert int(served.sum()) >= requests["succeeded"]  # each success was served (once or more)


@pytest.mark.parametrize(("algorithm", "method", "keyspace"), [
    ("ring", "exact", "exact"), ("rendezvous", "sampled", "expected"),
])
def test_the_summary_says_how_movement_and_shares_were_measured(
    algorithm: str, method: str, keyspace: str
) -> None:
    result = run("crash", overrides=[*CRASH, f"placement.algorithm={algorithm}"])
    assert result.summary["movement"]["method"] == method
    assert result.summary["load"]["keyspace_method"] == keyspace
    (change,) = result.summary["movement"]["changes"]
    assert change["change"] == "remove" and change["node"] == "s003"
    assert change["exact"] == (method == "exact")
    if keyspace == "expected":  # the expected shares are all 1/n: the skew is ideal
        assert result.summary["load"]["keyspace_peak_to_mean"] == pytest.approx(1.0)
    assert run("steady", overrides=["duration=3"]).summary["movement"]["method"] is None


def test_unavailable_share_seconds_integrate_the_unavailable_share() -> None:
    result = run("crash", overrides=CRASH)
    availability = result.summary["availability"]
    assert "unavailable_key_seconds" not in availability
    # Replication 1: the crashed node's keys are unavailable from t=2 to the end (6 s).
    assert availability["max_unavailable"] > 0
    assert availability["unavailable_keyspace_seconds"] == pytest.approx(
        availability["max_unavailable"] * 6.0)
    assert availability["time_with_unavailable_keys"] == pytest.approx(6.0)
    (episode,) = availability["episodes"]
    assert episode["start"] == pytest.approx(2.0) and episode["end"] is None
    assert episode["peak_unavailable"] == availability["max_unavailable"]


def test_replicas_keep_keys_available_through_one_crash() -> None:
    result = run("crash", overrides=[*CRASH, "cluster.replication=3"])
    availability = result.summary["availability"]
    assert availability["max_unavailable"] == 0.0 and availability["episodes"] == []


# -- measurements that never happened are None, never the run's length --------------------------


def test_clients_that_never_stop_sending_never_converged() -> None:
    # A threshold no run reaches: pools never eject the crashed server.
    result = run("crash", overrides=["duration=30", "clients.failure_threshold=1000000"])
    (fault,) = result.summary["recovery"]["faults"]
    assert fault["client_convergence"] is None and fault["client_detection"] is None


def test_with_every_server_down_no_view_converged() -> None:
    result = run("crash", overrides=["duration=30", "cluster.servers=1", "faults.0.node=0"])
    (fault,) = result.summary["recovery"]["faults"]
    assert fault["view_convergence"] is None
    # Pools in panic keep sending to it: clients did not converge either.
    assert fault["client_convergence"] is None


def test_a_fault_at_the_end_of_the_run_measures_nothing() -> None:
    result = run("crash", overrides=["duration=30", "faults.0.at=30"])
    (fault,) = result.summary["recovery"]["faults"]
    assert all(fault[key] is None for key in (
        "detection", "client_convergence", "view_convergence", "last_failure"))


def test_a_join_is_measured_until_every_view_and_pool_holds_it_and_it_serves() -> None:
    result = run("join", overrides=["duration=30"])
    scenario = result.scenario
    m = scenario.membership
    joins = [f for f in result.summary["recovery"]["faults"] if f["kind"] == "join"]
    assert len(joins) == scenario.faults[0].count
    for fault in joins:
        # Peers learn join_announcement (+ gossip) after it starts, clients within their
        # discovery delay after the announcement.
        assert m.join_announcement <= fault["serving_again"] <= \
            m.join_announcement + max(m.propagation_delay, m.client_discovery_delay)
        assert fault["first_served"] is not None
        assert 0 < fault["first_served"] <= fault["serving_again"]
        assert fault["client_convergence"] is None  # nothing to converge away from


def test_the_table_shows_requests_in_flight_and_defines_the_ratio() -> None:
    table = run("steady", overrides=["duration=3", "workload.rate=500"]).table()
    assert "in flight at the end" in table
    assert "success ratio (succeeded / issued)" in table
