"""The request path against hand-computed expectations: refusals, resets, fill-in, blame.

With no jitter, a constant service time ``S`` and enough concurrency that nothing queues,
every latency is ``S`` plus a whole number of hops ``h`` (plus ``forward_timeout`` where an
entry waited for a black hole), so each path through the cluster has one exact cost.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim import load_scenario, run
from sim._engine import Engine
from sim._faults import schedule_faults
from sim._model import Model
from sim._observer import Observer
from sim._requests import Attempt

H = 0.0005
"""One hop (the scenarios' network delay)."""
S = 0.002
"""The constant service time."""
T = 0.1
"""The entries' forward timeout."""


def exact(servers: int, replication: int, faults: list[dict[str, Any]], **extra: Any
          ) -> dict[str, Any]:
    data: dict[str, Any] = {
        "duration": extra.pop("duration", 2.5),
        "cluster": {"servers": servers, "replication": replication, "concurrency": 10_000,
                    "service": "constant", "service_mean": S, "forward_timeout": T},
        "network": {"delay": H, "jitter": 0.0},
        "clients": {"count": 2, "timeout": 0.25, "max_attempts": 3, **extra.pop("clients", {})},
        "workload": {"rate": 1500.0, "keys": 5000, "popularity": "uniform"},
        "faults": faults,
    }
    assert not extra
    return data


class Failures(Observer):
    """Records every failed attempt: when it started, when it failed, and who is blamed."""

    def __init__(self) -> None:
        self.failed: list[tuple[float, float, int, Attempt]] = []

    def on_attempt_failed(self, now: float, attempt: Attempt, cause: int) -> None:
        self.failed.append((attempt.started, now, cause, attempt))


def run_model(data: dict[str, Any], seed: int = 1) -> tuple[Model, Failures]:
    scenario = load_scenario(data)
    engine = Engine(seed)
    observer = Failures()
    model = Model(scenario, engine, observer)
    # Record each success's attempt too (the request path looks _respond up per event).
    respond = model.requests._respond
    observer.succeeded = []  # type: ignore[attr-defined]

    def recording(attempt: Attempt) -> None:
        if not attempt.done and attempt.lost < 0:
            observer.succeeded.append((attempt.started, engine.now - attempt.started))  # type: ignore[attr-defined]
        respond(attempt)

    model.requests._respond = recording  # type: ignore[method-assign]
    model.start()
    schedule_faults(model, scenario.faults)
    engine.run(scenario.duration)
    assert model.check_conservation()["conserved"]
    return model, observer


def hops(seconds: float) -> float:
    return seconds / H


def test_a_refused_attempt_costs_exactly_one_round_trip() -> None:
    data = exact(3, 1, [{"kind": "crash", "at": 1.0, "node": 1, "mode": "refuse"}],
                 clients={"failure_threshold": 1000, "max_attempts": 1})
    model, failures = run_model(data)
    refused = [(s, t) for s, t, cause, a in failures.failed if a.entry == 1]
    assert refused
    for started, failed_at in refused:
        if started + H > 1.0:
            # Sent to a dead process: refused when it gets there, known one hop later.
            assert hops(failed_at - started) == pytest.approx(2)
        else:
            # Open on the process when it died: reset, known one hop after the crash.
            assert failed_at == pytest.approx(1.0 + H)
    assert model.counters.attempt_failures["refused"] == len(refused)
    assert model.counters.attempt_failures["timeout"] == 0


@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_a_forward_that_fails_over_adds_exactly_the_extra_hops(mode: str) -> None:
    # The home of a third of the keys dies; views keep it until heartbeats (>= 2 s) say so.
    # One attempt per request, so every latency is one attempt's path (no retry backoff).
    data = exact(6, 3, [{"kind": "crash", "at": 1.0, "node": 0, "mode": mode}], duration=2.0,
                 clients={"max_attempts": 1})
    # Few requests in flight at the crash, so entries learn of it by forwarding, not by resets.
    data["workload"]["rate"] = 200.0
    model, observer = run_model(data)
    c = model.counters
    # Only clients that picked the dead server itself fail; forwards to it fill in.
    failed_cause = "refused" if mode == "refuse" else "timeout"
    assert c.failed_total == c.failed[failed_cause]
    assert c.fill_ins > 0 and c.forward_failures > 0
    # Paths: entry is home (2 hops); forwarded (4); forward refused, then served by the entry
    # itself (4) or by the next replica (6); with a black hole the entry waits T instead of the
    # refusal's round trip: served by itself (2 + T) or by the next replica (4 + T).
    allowed = {2, 4, 6} if mode == "refuse" else {2, 4}
    waited = {2, 4} if mode == "blackhole" else set()
    seen: set[float] = set()
    # Attempts in service at the crash are reset part-way: only those sent after it count.
    latencies = [lat for started, lat in observer.succeeded  # type: ignore[attr-defined]
                 if started > 1.0 or started + lat < 1.0]
    for latency in latencies:
        n = hops(latency - S)
        m = hops(latency - S - T)
        ok = any(abs(n - k) < 1e-6 for k in allowed) or any(abs(m - k) < 1e-6 for k in waited)
        assert ok, (latency, n)
        seen.add(round(n, 3))
    if mode == "refuse":
        assert 6.0 in seen  # some fill-ins went to another replica
    else:
        assert any(abs(hops(lat - S - T) - 4) < 1e-6 for lat in latencies)


def test_with_every_replica_down_the_request_fails_as_unavailable_after_the_expected_hops(
) -> None:
    r = 2
    data = exact(3, r, [{"kind": "crash", "at": 1.0, "node": 0, "mode": "refuse"},
                        {"kind": "crash", "at": 1.0, "node": 1, "mode": "refuse"}],
                 duration=1.5, clients={"failure_threshold": 1000})
    # Few requests in flight at the crash, so entries learn of it by trying, not by resets.
    data["workload"]["rate"] = 100.0
    model, failures = run_model(data)
    c = model.counters
    assert c.failed["unavailable"] > 0 and c.failed["timeout"] == 0
    upstream = [(s, t, a) for s, t, cause, a in failures.failed
                if a.tried is not None or a.home != a.entry]
    costs = {round(hops(t - s), 6) for s, t, a in upstream if s + H > 1.0 and a.entry == 2}
    # The entry tries both replicas (a refused round trip each): 2 + 2r hops. Once it
    # suspects them, it answers at once (2 hops), or after trying the one it does not (4).
    assert 2 + 2 * r in costs
    assert costs <= {2.0, 4.0, 2.0 + 2 * r}


def test_clients_do_not_blame_the_messenger() -> None:
    overrides = ["duration=40", 'faults.0.mode="blackhole"', "cluster.replication=1"]
    fair = run("crash", overrides=overrides).summary["ejections"]
    assert fair["wrongful"] == 0 and fair["of_down_servers"] >= 1
    blamed = run("crash", overrides=[*overrides, "clients.eject_on_upstream_error=true"])
    assert blamed.summary["ejections"]["wrongful"] > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_default_graceful_rolling_restart_fails_no_request(seed: int) -> None:
    summary = run(seed=seed).summary
    assert summary["requests"]["failed"] == 0
    assert summary["ejections"]["wrongful"] == 0
    assert summary["conservation"]["conserved"]


def test_a_graceful_stop_ends_as_soon_as_it_holds_nothing() -> None:
    result = run("rolling-restart", overrides=["duration=30", "faults.0.nodes=3",
                                               "faults.0.drain=5"])
    fault = result.scenario.faults[0]
    for k, record in enumerate(result.summary["recovery"]["faults"]):
        told = fault.at + k * fault.pace
        # It held at most requests sent before it refused new work: a client timeout at most.
        assert told <= record["down_at"] <= told + result.scenario.clients.timeout
        assert record["up_at"] == pytest.approx(record["down_at"] + fault.downtime)


def test_a_hung_server_resumes_with_its_work_intact() -> None:
    data = exact(3, 1, [{"kind": "hang", "at": 1.0, "node": 0, "duration": 1.0}],
                 duration=3.0)
    model, _ = run_model(data)
    c = model.counters
    # Entries gave up on forwards to it (forward_timeout), yet it served them on resuming.
    assert c.forward_failures > 0 and c.late_responses > 0
    assert c.attempt_failures["upstream"] > 0
    served_after = model.counters.served[0]
    assert served_after > 0
