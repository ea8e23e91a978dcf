"""Clients: the scenario's pool and retry settings reach each client's consistent.Pool."""

from __future__ import annotations

from typing import Any

import pytest

import consistent
from sim import ScenarioError, parse_scenario, run


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


# -- presets: the client balancers people run, selected by clients.preset ----------------------


@pytest.mark.parametrize("preset", sorted(consistent.PRESETS))
def test_every_preset_runs_a_crash_and_conserves_requests(preset: str) -> None:
    # Long enough after the crash (t = 20 s) for interval-based detectors (10 s) to judge.
    result = run("crash", overrides=["duration=45", "workload.rate=1000",
                                     "cluster.replication=3", f'clients.preset="{preset}"'])
    summary = result.summary
    assert summary["conservation"]["conserved"]
    assert summary["scenario"]["clients"]["preset"] == preset
    # Every preset notices the crashed server (refused at once) and ejects it.
    assert summary["ejections"]["of_down_servers"] >= 1


def test_timed_ejection_readmits_without_health_checks() -> None:
    # Envoy re-admits by time (base ejection time x times ejected), never by probing.
    result = run("hang", overrides=["duration=60", 'clients.preset="envoy"'])
    summary = result.summary
    assert summary["health_checks"]["sent"] == 0
    assert summary["ejections"]["total"] >= 1


def test_ejections_are_the_pools_transitions() -> None:
    # Counted where the pool decides them: a failure on an endpoint already ejected is not a
    # second ejection.
    result = run("crash", overrides=["duration=30", "clients.failure_threshold=1"])
    ejections = result.summary["ejections"]
    assert ejections["total"] <= result.scenario.clients.count
