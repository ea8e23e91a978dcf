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
