"""Truthfulness of the model: shares, movement, queueing, detection, availability.

Every bound here is derived from the model's parameters in the test, never copied from a run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from consistent import HashRing, Maglev, MementoHash, MultiProbe, Rendezvous
from sim import Scenario, ScenarioError, load_scenario, run
from sim._config import server_names

FAST = ["duration=20", "workload.rate=2000", "metrics.interval=1"]


PLACEMENTS = {
    "ring": lambda names: HashRing(names, vnodes=160),
    "rendezvous": Rendezvous,
    "maglev": Maglev,
    "memento": MementoHash,
    "multiprobe": MultiProbe,
}


@pytest.mark.parametrize("algorithm", sorted(PLACEMENTS))
def test_served_share_matches_ownership_without_faults(algorithm: str) -> None:
    keys = 200_000
    result = run("steady", seed=3, overrides=[
        "duration=20", "workload.rate=5000", "workload.popularity=uniform",
        f"workload.keys={keys}", "cluster.servers=10", "cluster.concurrency=16",
        f"placement.algorithm={algorithm}",
    ])
    served = result.summary["load"]["served_share"]
    n = result.summary["requests"]["succeeded"]
    ownership = PLACEMENTS[algorithm](server_names(10)).ownership()
    for name, share in ownership.items():
        # Two sources of sampling error: which key ids exist (keys) and which are requested (n).
        sd = math.sqrt(share * (1 - share) * (1 / n + 1 / keys))
        assert abs(served[name] - share) < 5 * sd, (name, served[name], share, sd)
    # and the chi-square statistic over all nodes is plausible for 9 degrees of freedom
    chi2 = sum((served[k] - p) ** 2 / (p * (1 / n + 1 / keys)) for k, p in ownership.items())
    assert chi2 < 40


def test_movement_on_join_matches_the_exact_arc_computation() -> None:
    result = run("join", seed=2, overrides=["workload.popularity=uniform", "duration=40",
                                            "workload.rate=3000"])
    scenario = result.scenario
    names = server_names(scenario.max_servers)
    before = HashRing(names[: scenario.cluster.servers], vnodes=scenario.placement.vnodes)
    changes = result.summary["movement"]["changes"]
    assert [c["change"] for c in changes] == ["add", "add"]
    ring = before
    for change, joiner in zip(changes, names[scenario.cluster.servers:], strict=True):
        after = ring.copy()
        after.add(joiner)
        assert change["node"] == joiner and change["exact"]
        assert change["moved"] == pytest.approx(ring.movement_to(after), abs=1e-12)
        assert change["optimum"] == pytest.approx(after.ownership()[joiner], abs=1e-12)
        assert change["ratio"] == pytest.approx(1.0)  # a ring moves only the joiner's arcs
        ring = after
    # Once views and pools have converged, the joiners serve their arcs' share of requests.
    ts = result.timeseries
    settled = ts["time"] > 30
    served = ts["served"][settled].sum(axis=0)
    share = served / served.sum()
    ownership = ring.ownership()
    for joiner in names[scenario.cluster.servers:]:
        p = ownership[joiner]
        sd = math.sqrt(p * (1 - p) * (1 / served.sum() + 1 / scenario.workload.keys))
        assert abs(share[names.index(joiner)] - p) < 5 * sd


def test_single_server_reproduces_mm1_mean_latency() -> None:
    arrival, service = 50.0, 100.0
    batches, batch = 20, 100.0
    result = run("steady", seed=11, overrides=[
        f"duration={batches * batch}", f"workload.rate={arrival}",
        f"cluster.service_mean={1 / service}", "cluster.servers=1", "cluster.replication=1",
        "cluster.concurrency=1", "clients.count=1", "network.delay=0",
        "clients.timeout=1000", f"metrics.interval={batch}",
    ])
    ts = result.timeseries
    means = ts["latency_mean"]
    assert len(means) == batches
    # Batch means: 20 batches of ~5000 requests each are nearly independent at rho = 0.5.
    center = float(np.average(means, weights=ts["succeeded"]))
    half_width = 2.86 * float(np.std(means, ddof=1)) / math.sqrt(batches)  # t(0.995, 19)
    expected = 1 / (service - arrival)
    assert abs(center - expected) < half_width + 1e-4, (center, expected, half_width)
    assert result.summary["requests"]["forwarded"] == 0


@pytest.mark.parametrize(("client_timeout", "mode"),
                         [(0.25, "blackhole"), (30.0, "blackhole"), (0.25, "refuse")])
def test_detection_after_a_crash_is_within_the_derived_bounds(client_timeout: float,
                                                               mode: str) -> None:
    result = run("crash", seed=5,
                 overrides=[*FAST, "duration=30", f"clients.timeout={client_timeout}",
                            f'faults.0.mode="{mode}"'])
    scenario = result.scenario
    m = scenario.membership
    heartbeat_low = (m.missed_heartbeats - 1) * m.heartbeat_interval
    heartbeat_high = m.missed_heartbeats * m.heartbeat_interval + m.propagation_delay
    (fault,) = result.summary["recovery"]["faults"]
    # Every view drops the node between k-1 and k heartbeats (+ gossip spread) after the crash.
    assert heartbeat_low <= fault["view_convergence"] <= heartbeat_high
    per_server_rate = scenario.workload.rate / scenario.cluster.servers
    hop = scenario.network.delay
    if mode == "blackhole":
        # A client notices at its first timeout: an attempt lost at the crash times out no
        # earlier than timeout - (the time it had already waited), no later than timeout +
        # the wait for the next request to that server (20 mean gaps is e^-20).
        client_low = client_timeout - 0.05
        client_high = client_timeout + 20 / per_server_rate
    else:
        # A refused process: an attempt open on it is reset one hop after the crash; one sent
        # later is refused a round trip after it is sent.
        client_low = hop
        client_high = 2 * hop + 20 / per_server_rate
    assert heartbeat_low <= fault["server_detection"] <= heartbeat_high
    if client_timeout < scenario.duration - scenario.faults[0].at:
        assert client_low <= fault["client_detection"] <= client_high
    assert min(heartbeat_low, client_low) <= fault["detection"]
    assert fault["detection"] <= min(heartbeat_high, client_high)
    assert fault["detection"] == min(d for d in (fault["server_detection"],
                                                 fault["client_detection"]) if d is not None)


def test_bounded_loads_cap_what_each_entry_sends_to_a_hot_home() -> None:
    # Hot keys and long service: each entry has several requests in flight, so the ring
    # sends every request for a hot key to its one home while bounded loads spread them.
    overrides = ["duration=10", "cluster.service_mean=0.05", "cluster.concurrency=100",
                 'workload.popularity="hotset"', "clients.timeout=2"]
    ring = run("steady", overrides=overrides)
    bounded = run("steady", overrides=[*overrides, "placement.algorithm=bounded",
                                       "placement.options={eps=0.25}"])
    assert bounded.summary["conservation"]["conserved"]
    assert bounded.summary["requests"]["issued"] == ring.summary["requests"]["issued"]
    assert bounded.summary["load"]["served_peak_to_mean"] < \
        0.8 * ring.summary["load"]["served_peak_to_mean"]
    # The key space is the underlying ring's: the same as the plain ring's.
    assert bounded.summary["load"]["keyspace_peak_to_mean"] == \
        ring.summary["load"]["keyspace_peak_to_mean"]


def test_bounded_loads_release_every_assignment_through_faults() -> None:
    from sim._engine import Engine
    from sim._faults import schedule_faults
    from sim._metrics import Recorder
    from sim._model import Model

    scenario = load_scenario("rolling-restart", [
        "duration=30", "workload.rate=1500", "faults.0.nodes=3", "faults.0.pace=6",
        "placement.algorithm=bounded", "cluster.servers=8", "cluster.replication=2"])
    engine = Engine(3)
    recorder = Recorder(scenario, engine)
    model = Model(scenario, engine, recorder)
    model.start()
    recorder.start(model)
    schedule_faults(model, scenario.faults)
    engine.run(scenario.duration)
    assert model.check_conservation()["conserved"]
    # Whatever is still held is exactly the attempts in flight that were placed, per placer.
    held: dict[int, int] = {}
    for attempt in model.requests.held_attempts():
        if attempt.placer is not None:
            held[id(attempt.placer)] = held.get(id(attempt.placer), 0) + 1
    for server in model.servers:
        if server.up:
            server.placer._check()
            assert server.placer.assigned == held.get(id(server.placer), 0)
            assert set(server.placer.nodes) == {model.names[i] for i in server.view.members}


def _serving_again_bounds(scenario: Scenario, *, graceful: bool = False) -> tuple[float, float]:
    """Bounds on "serving again" after a restart whose node every view and client dropped.

    After a graceful restart the node announces itself: peers add it ``join_announcement``
    plus a gossip spread after it starts, clients within ``join_announcement`` plus their
    discovery delay (they removed it when it announced its leave).

    Peers learn of the node ``join_announcement`` after it starts, plus a gossip spread of at
    most ``propagation_delay``. A client that ejected it probes by its backoff: a probe sent
    just before the restart fails ``health_check_timeout`` later, the next comes at most
    ``health_check_cap`` after that (full jitter never exceeds the cap), and a passing probe
    takes a round trip.
    """
    m, c = scenario.membership, scenario.clients
    views_low = m.join_announcement
    views_high = m.join_announcement + m.propagation_delay
    if graceful:
        return views_low, max(views_high, m.join_announcement + m.client_discovery_delay)
    clients_high = c.health_check_timeout + c.health_check_cap + 2 * scenario.network.delay
    return views_low, max(views_high, clients_high)


@pytest.mark.parametrize("seed", [1, 2])
def test_serving_again_after_a_restart_longer_than_detection(seed: int) -> None:
    m = load_scenario("crash").membership
    # Down long enough that every view removes the node (k heartbeats plus the gossip spread)
    # and every client's backoff reaches its cap, so it must be re-admitted on both sides.
    downtime = 2 * (m.missed_heartbeats * m.heartbeat_interval + m.propagation_delay) + 10
    result = run("crash", seed=seed, overrides=[
        "duration=45", "workload.rate=1000", 'faults.0.kind="restart"', "faults.0.at=10",
        f"faults.0.downtime={downtime}", "faults.0.graceful=false"])
    (fault,) = result.summary["recovery"]["faults"]
    heartbeat_high = m.missed_heartbeats * m.heartbeat_interval + m.propagation_delay
    assert fault["view_convergence"] is not None and fault["view_convergence"] <= heartbeat_high
    low, high = _serving_again_bounds(result.scenario)
    assert fault["serving_again"] is not None
    assert low <= fault["serving_again"] <= high
    assert result.summary["recovery"]["serving_again"]["count"] == 1


def test_serving_again_after_a_restart_shorter_than_detection() -> None:
    m = load_scenario("crash").membership
    # Back before any view can have dropped it: only the clients that ejected it must
    # re-admit it (by a health check), and nothing waits for an announcement.
    downtime = 0.5 * (m.missed_heartbeats - 1) * m.heartbeat_interval
    result = run("crash", seed=3, overrides=[
        "duration=30", "workload.rate=1000", 'faults.0.kind="restart"', "faults.0.at=10",
        f"faults.0.downtime={downtime}", "faults.0.graceful=false"])
    (fault,) = result.summary["recovery"]["faults"]
    assert fault["server_detection"] is None  # no view ever dropped it
    c = result.scenario.clients
    assert fault["serving_again"] is not None
    assert 0 <= fault["serving_again"] <= c.health_check_timeout + c.health_check_cap + 0.01


@pytest.mark.parametrize("graceful", [True, False])
def test_every_restart_of_a_long_rolling_restart_serves_again(graceful: bool) -> None:
    result = run("rolling-restart", overrides=[
        "duration=60", "workload.rate=1000", "faults.0.nodes=3", "faults.0.pace=15",
        "faults.0.downtime=8", f"faults.0.graceful={str(graceful).lower()}"])
    low, high = _serving_again_bounds(result.scenario, graceful=graceful)
    faults = result.summary["recovery"]["faults"]
    assert len(faults) == 3
    for fault in faults:
        assert fault["serving_again"] is not None, fault
        assert low <= fault["serving_again"] <= high


def test_crash_with_one_replica_loses_the_nodes_share_of_keys() -> None:
    result = run("crash", seed=7, overrides=[*FAST, "cluster.replication=1",
                                             "metrics.availability_sample=20000"])
    scenario = result.scenario
    ownership = HashRing(server_names(scenario.cluster.servers)).ownership()
    crashed = ownership[server_names(scenario.cluster.servers)[scenario.faults[0].node]]
    availability = result.summary["availability"]
    sd = math.sqrt(crashed * (1 - crashed) / 20000)
    assert abs(availability["max_unavailable"] - crashed) < 5 * sd
    down_for = scenario.duration - scenario.faults[0].at
    assert availability["time_with_unavailable_keys"] == pytest.approx(down_for)
    assert availability["unavailable_keyspace_seconds"] == pytest.approx(
        availability["max_unavailable"] * down_for)


def test_replication_three_keeps_every_key_available_through_a_rolling_restart() -> None:
    result = run("rolling-restart", overrides=["duration=40", "faults.0.nodes=5"])
    assert result.summary["availability"]["max_unavailable"] == 0.0
    assert len(result.summary["recovery"]["faults"]) == 5


def test_a_drained_decommission_fails_no_request() -> None:
    result = run("decommission", overrides=FAST)
    requests = result.summary["requests"]
    assert requests["attempt_timeouts"] == 0 and requests["failed"] == 0
    (change,) = result.summary["movement"]["changes"]
    assert change["change"] == "remove" and change["ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["steady", "crash", "rolling-restart", "join", "decommission"])
def test_requests_are_conserved(name: str) -> None:
    result = run(name, overrides=["duration=25", "workload.rate=1000"])
    c = result.summary["conservation"]
    assert c["conserved"]
    assert c["issued"] == c["succeeded"] + c["failed"] + c["in_flight"]
    ts = result.timeseries
    assert ts["issued"].sum() == c["issued"]
    assert ts["succeeded"].sum() == c["succeeded"]


@pytest.mark.parametrize("algorithm", ["rendezvous", "maglev", "memento", "multiprobe",
                                       "bounded"])
def test_other_algorithms_plug_in(algorithm: str) -> None:
    result = run("crash", overrides=["duration=25", "workload.rate=1000",
                                     f"placement.algorithm={algorithm}"])
    assert result.summary["conservation"]["conserved"]
    assert result.summary["movement"]["changes"][0]["change"] == "remove"


def test_scenario_values_reach_the_model() -> None:
    scenario = load_scenario("steady", ["clients.count=3", "cluster.servers=4"])
    result = run(scenario, overrides=())
    assert set(result.summary["load"]["served_share"]) == set(server_names(4))


def test_network_delay_adds_its_extra_to_every_hop_while_it_lasts() -> None:
    extra = 0.02
    result = run({
        "duration": 20, "workload": {"rate": 500, "popularity": "uniform"},
        "network": {"delay": 0.001},
        "clients": {"timeout": 1.0},
        "faults": [{"kind": "network-delay", "at": 8.0, "duration": 6.0, "extra": extra}],
    }, seed=4)
    ts = result.timeseries
    during = (ts["time"] > 9) & (ts["time"] < 14)
    before = ts["time"] <= 8
    # A forwarded request takes four hops (client, entry, home and back), a local one two.
    added = np.nanmean(ts["latency_p50"][during]) - np.nanmean(ts["latency_p50"][before])
    assert 2 * extra <= added <= 4 * extra + 0.005
    assert ts["extra_delay"][during].tolist() == [extra] * int(during.sum())


@pytest.mark.parametrize("setting", [
    "workload.popularity=hotset", "cluster.service=lognormal", "cluster.service=constant",
    "network.jitter=0.001", "clients.strategy=round_robin", "clients.strategy=first_idle",
    "cluster.queue_limit=2", "clients.retry_budget_ratio=0",
])
def test_every_setting_runs_and_conserves_requests(setting: str) -> None:
    result = run("crash", overrides=["duration=25", "workload.rate=1500", setting])
    assert result.summary["conservation"]["conserved"]


@st.composite
def small_scenarios(draw: st.DrawFn) -> dict[str, object]:
    servers = draw(st.integers(1, 6))
    duration = 8.0
    kinds = st.sampled_from(["crash", "restart", "rolling-restart", "join", "decommission",
                             "network-delay", "hang"])
    faults = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(kinds)
        fault: dict[str, object] = {"kind": kind, "at": draw(st.floats(0, duration))}
        if kind in ("crash", "restart", "decommission", "hang"):
            fault["node"] = draw(st.integers(0, servers - 1))
        if kind in ("crash", "restart", "rolling-restart"):
            fault["mode"] = draw(st.sampled_from(["refuse", "blackhole"]))
        if kind in ("restart", "rolling-restart"):
            fault["graceful"] = draw(st.booleans())
            fault["drain"] = draw(st.floats(0, 2))
        if kind == "hang":
            fault["duration"] = draw(st.floats(0.1, 3))
        if kind == "restart":
            fault["downtime"] = draw(st.floats(0.1, 5))
        if kind == "rolling-restart":
            fault["pace"] = draw(st.floats(0.1, 3))
            fault["downtime"] = draw(st.floats(0.1, 3))
            fault["nodes"] = draw(st.integers(0, servers))
        if kind == "join":
            fault["count"] = draw(st.integers(1, 2))
        if kind == "decommission":
            fault["drain"] = draw(st.floats(0, 3))
        if kind == "network-delay":
            fault["duration"] = draw(st.floats(0.1, 3))
            fault["extra"] = draw(st.floats(0, 0.05))
        faults.append(fault)
    return {
        "duration": duration,
        "cluster": {"servers": servers, "replication": draw(st.integers(1, servers)),
                    "concurrency": draw(st.integers(1, 3))},
        "placement": {"algorithm": draw(st.sampled_from(["ring", "rendezvous", "memento",
                                                         "maglev", "multiprobe", "bounded"]))},
        "membership": {"heartbeat_interval": 0.5, "propagation_delay": 0.2,
                       "join_announcement": 0.3, "client_discovery_delay": 0.5},
        "clients": {"count": draw(st.integers(1, 3)), "timeout": 0.2,
                    "max_attempts": draw(st.integers(1, 3))},
        "workload": {"rate": 300.0, "keys": 500},
        "faults": faults,
    }


@settings(max_examples=25, deadline=None)
@given(small_scenarios(), st.integers(0, 2**16))
def test_any_fault_sequence_conserves_requests(data: dict[str, object], seed: int) -> None:
    try:
        result = run(data, seed=seed)
    except ScenarioError as exc:
        # Restarting a server after it crashed or left for good, or overlapping faults on one
        # server, are rejected by validation.
        assume("for good" not in str(exc) and "overlap" not in str(exc))
        raise
    assert result.summary["conservation"]["conserved"]
    for fault in result.summary["recovery"]["faults"]:
        for key in ("detection", "view_convergence", "last_failure", "serving_again"):
            assert fault[key] is None or fault[key] >= 0
