"""Membership: when servers' views learn of crashes (heartbeats), joins and leaves (gossip)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import run
from sim._config import MembershipConfig
from sim._membership import HeartbeatModel

FINE = ["duration=30", "workload.rate=500", "metrics.interval=0.1"]


@settings(max_examples=200, deadline=None)
@given(interval=st.floats(0.05, 10.0), missed=st.integers(1, 6),
       spread=st.floats(0.0, 3.0), crashed_at=st.floats(0.0, 1000.0),
       seed=st.integers(0, 2**32 - 1))
def test_detection_is_within_the_heartbeat_bounds(
    interval: float, missed: int, spread: float, crashed_at: float, seed: int
) -> None:
    config = MembershipConfig(heartbeat_interval=interval, missed_heartbeats=missed,
                              propagation_delay=spread)
    rng = random.Random(seed)
    model = HeartbeatModel(config, servers=3, rng=rng)
    assert all(0 <= phase < interval for phase in model.phases)
    last = model.last_heartbeat(1, crashed_at)
    # The last heartbeat at or before the crash, on the node's own phase.
    assert last <= crashed_at + 1e-9 and crashed_at - last < interval + 1e-9
    beats = (last - model.phases[1]) / interval
    assert abs(beats - round(beats)) < 1e-6
    detected = model.detection_time(1, crashed_at, rng)
    # k heartbeats missed after the last one sent, plus the gossip spread.
    assert crashed_at + (missed - 1) * interval - 1e-9 <= detected
    assert detected <= crashed_at + missed * interval + spread + 1e-9


def test_heartbeat_phases_differ_between_servers() -> None:
    model = HeartbeatModel(MembershipConfig(), servers=50, rng=random.Random(4))
    assert len(set(model.phases)) == 50
    # Uniform over one interval: the mean is near half of it.
    assert abs(float(np.mean(model.phases)) - 0.5) < 5 * math.sqrt(1 / 12 / 50)


def _stale(result: object, start: float, end: float) -> list[int]:
    ts = result.timeseries  # type: ignore[attr-defined]
    window = (ts["time"] > start + 1e-6) & (ts["time"] <= end + 1e-6)
    return [int(v) for v in ts["stale_views"][window]]


def test_a_join_reaches_every_view_within_announcement_plus_gossip() -> None:
    result = run("join", seed=2, overrides=FINE)
    scenario = result.scenario
    m = scenario.membership
    at = scenario.faults[0].at
    learnt = at + m.join_announcement + m.propagation_delay
    assert set(_stale(result, 0.0, at - 0.05)) == {0}
    # Until the announcement no peer knows the joiners; after it and the spread, every one.
    assert min(_stale(result, at, at + m.join_announcement - 0.1)) >= scenario.cluster.servers
    assert set(_stale(result, learnt + 0.1, scenario.duration)) == {0}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_leave_reaches_every_view_within_the_gossip_spread(seed: int) -> None:
    result = run("decommission", seed=seed, overrides=FINE)
    scenario = result.scenario
    spread = scenario.membership.propagation_delay
    fault = scenario.faults[0]
    # The leaver drops itself at once; each peer learns within the spread (19 peers all
    # learning in the first 0.2 s of 0.5 is a chance of 0.4**19).
    assert max(_stale(result, fault.at, fault.at + 0.2)) > 0
    assert set(_stale(result, fault.at + spread + 0.1, scenario.duration)) == {0}


# -- the analytic fast path against consistent.Membership driven by every heartbeat ------------


@settings(max_examples=30, deadline=None)
@given(servers=st.integers(2, 6), missed=st.integers(2, 4),
       interval=st.floats(0.1, 2.0), crash_at=st.floats(0.0, 20.0),
       seed=st.integers(0, 2**16))
def test_heartbeat_model_removes_at_the_deadline_membership_computes(
        servers: int, missed: int, interval: float, crash_at: float, seed: int) -> None:
    """Every heartbeat delivered to a real ``consistent.Membership`` removes the crashed server
    at exactly the time the simulator's analytic model schedules (gossip spread aside)."""
    import heapq

    from consistent import Membership

    config = MembershipConfig(heartbeat_interval=interval, missed_heartbeats=missed,
                              propagation_delay=0.0)
    model = HeartbeatModel(config, servers, random.Random(seed))
    names = [f"s{i}" for i in range(servers)]
    crashed = 0
    observer = Membership(names[1], names, now=-interval, heartbeat_interval=interval,
                          missed_heartbeats=missed)
    horizon = crash_at + (missed + 2) * interval
    # Every heartbeat every peer sends until the horizon (the crashed one: until its crash).
    beats = []
    for i in range(servers):
        if i == 1:
            continue
        # (k = 1 is left out: a peer's deadline is then exactly its next heartbeat's time.)
        j = -1
        while (t := model.phases[i] + j * interval) <= horizon:
            if not (i == crashed and t > crash_at):
                beats.append((t, i))
            j += 1
    heapq.heapify(beats)
    removed_at = None
    while True:
        t = beats[0][0] if beats else math.inf
        due = observer.next_deadline()
        if due is not None and due < t and due <= horizon:
            # Time passes to the deadline before the next heartbeat arrives (a heartbeat
            # that arrives exactly at the deadline is in time).
            for event in observer.advance(due):
                if event.to_state == "dead":
                    assert event.peer == names[crashed]
                    removed_at = due if removed_at is None else removed_at
            continue
        if not beats:
            break
        t, i = heapq.heappop(beats)
        observer.heartbeat(names[i], t)
    expected = model.detection_time(crashed, crash_at, random.Random(0))
    assert removed_at is not None
    assert removed_at == pytest.approx(expected, abs=1e-9)
