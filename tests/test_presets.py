"""Tests of consistent._presets: each preset reproduces its system.

* poolee: traces recorded from the real poolee 1.0.1 (``tests/poolee/record.js``) are replayed
  into ``Pool.preset("poolee")`` with the very random numbers poolee drew: every pick, every
  health change and every ping time must be identical; and ``get_node``'s choice for every
  start index on fixed states (exact enumeration of its distribution).
* Envoy, gRPC, Finagle: one table-driven case per documented rule.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consistent import (
    PRESETS,
    NoHealthyEndpointError,
    Outcome,
    Pool,
    PoolEvent,
)
from consistent._presets import http_5xx_fails, preset_arguments, preset_table

TRACES = Path(__file__).resolve().parent / "poolee" / "traces"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "pool.md"


class Replayed(random.Random):
    """A Random whose ``random()`` returns recorded draws, in order."""

    def __new__(cls, draws: list[float]) -> Replayed:
        # Python 3.10's Random.__new__ would seed itself with ``draws``.
        return super().__new__(cls)

    def __init__(self, draws: list[float]) -> None:
        super().__init__(0)
        self._draws: Iterator[float] = iter(draws)
        self.used = 0

    def random(self) -> float:
        self.used += 1
        return next(self._draws)


class Fixed(random.Random):
    def __init__(self, u: float) -> None:
        super().__init__(0)
        self.u = u

    def random(self) -> float:
        return self.u


# -- poolee ----------------------------------------------------------------------------------


def replay(trace: dict[str, Any]) -> tuple[list[tuple[float, str, bool]], list[Any], int]:
    """Drive the preset through a recorded trace; assert every step; return the timelines."""
    events = trace["events"]
    draws = [e["u"] for e in events if e["ev"] == "draw" and e["from"] in ("pool", "pinger")]
    rng = Replayed(draws)
    transitions: list[PoolEvent] = []
    pool = Pool.preset("poolee", trace["nodes"], rng=rng, observer=transitions.append)
    ids: dict[int, int] = {}
    poolee_health: list[tuple[float, str, bool]] = []
    picks = 0
    last_pick = None
    for e in events:
        t = e["t"] / 1000
        kind = e["ev"]
        if kind == "pick":
            picks += 1
            if e["node"] is None:
                with pytest.raises(NoHealthyEndpointError):
                    pool.pick(t)
            else:
                last_pick = pool.pick(t)
                assert last_pick == e["node"], f"pick {picks} at {e['t']} ms"
        elif kind == "send" and not e["ping"]:
            assert e["node"] == last_pick
            ids[e["id"]] = pool.start(e["node"], t)
        elif kind == "send":
            # poolee counts whole milliseconds; in seconds, 1.451 + 0.080 is 1.5310000000000001.
            assert e["node"] in pool.due_checks(t + 1e-9), f"ping of {e['node']} at {e['t']} ms"
        elif kind == "done" and not e["ping"]:
            outcome = Outcome.SUCCESS if e["ok"] else Outcome.FAILURE
            pool.finish(ids.pop(e["id"]), outcome, t)
        elif kind == "done":
            pool.report_check(e["node"], e["ok"], t)
        elif kind == "health":
            poolee_health.append((e["t"], e["node"], e["healthy"]))
            assert pool.is_healthy(e["node"]) == e["healthy"]
        elif kind == "ping_scheduled":
            due = pool.stats()[e["node"]].next_check_at
            assert due is not None and round(due * 1000) == e["at"], (e, due)
    pool._check()
    assert rng.used == len(draws)  # every draw poolee made, the pool made, in order
    ours = [
        (round(ev.time * 1000), ev.endpoint, ev.to_state == "healthy")
        for ev in transitions
        if ev.reason != "added" and ev.from_state != ev.to_state
    ]
    return poolee_health, ours, picks


@pytest.mark.parametrize("name", ["outage.json", "busy.json"])
def test_poolee_trace_replays_identically(name: str) -> None:
    trace = json.loads((TRACES / name).read_text())
    assert trace["poolee"] == "1.0.1"
    poolee_health, ours, picks = replay(trace)
    assert ours == poolee_health
    assert picks > 500 and len(poolee_health) >= 4


def test_poolee_outage_readmits_as_poolee_does() -> None:
    """The issue's example: a server down for 54 s is back about 10 s after it recovered."""
    trace = json.loads((TRACES / "outage.json").read_text())
    poolee_health, _, _ = replay(trace)
    back = [t for t, node, healthy in poolee_health if node == "10.0.0.2:80" and healthy]
    assert 55_000 < back[0] <= 65_100


def test_poolee_walk_enumeration_matches_get_node() -> None:
    cases = json.loads((TRACES / "walk.json").read_text())
    for case in cases:
        n = len(case["pending"])
        names = [f"10.0.0.{i}:80" for i in range(n)]
        for r, expected in enumerate(case["chosen"]):
            pool = Pool.preset("poolee", names, rng=Fixed((r + 0.5) / n))
            for name, pending in zip(names, case["pending"], strict=True):
                for _ in range(pending):
                    pool.start(name, 0.0)
            for name, healthy in zip(names, case["healthy"], strict=True):
                if not healthy:
                    pool.report_check(name, False, 0.0)
            if expected is None:
                with pytest.raises(NoHealthyEndpointError):
                    pool.pick(0.0)
            else:
                assert pool.pick(0.0) == names[expected], (case, r)


def test_poolee_fallback_spreads_over_nodes_at_or_below_the_mean() -> None:
    """With pending [3,1,2,5,1,4,2,6] poolee picks among five nodes, first_idle among two."""
    pending = [3, 1, 2, 5, 1, 4, 2, 6]
    names = [f"n{i}" for i in range(8)]
    chosen: dict[str, set[str]] = {"poolee": set(), "first_idle": set()}
    for strategy in chosen:
        for r in range(8):
            pool = Pool(names, rng=Fixed((r + 0.5) / 8), strategy=strategy)
            for name, k in zip(names, pending, strict=True):
                for _ in range(k):
                    pool.start(name, 0.0)
            chosen[strategy].add(pool.pick(0.0))
    assert len(chosen["poolee"]) == 5 and len(chosen["first_idle"]) == 2


# -- Envoy, gRPC, Finagle: one case per documented rule ---------------------------------------


def names(n: int) -> list[str]:
    return [f"h{i}" for i in range(n)]


def fail_n(pool: Pool, endpoint: str, n: int, now: float, outcome: Any = Outcome.FAILURE) -> None:
    for _ in range(n):
        pool.finish(pool.start(endpoint, now), outcome, now)


def succeed_n(pool: Pool, endpoint: str, n: int, now: float) -> None:
    for _ in range(n):
        pool.finish(pool.start(endpoint, now), Outcome.SUCCESS, now)


def envoy(n: int = 10, **kw: Any) -> Pool:
    return Pool.preset("envoy", names(n), rng=random.Random(0), **kw)


def grpc(n: int = 10, **kw: Any) -> Pool:
    return Pool.preset("grpc", names(n), rng=random.Random(0), **kw)


def finagle(n: int = 10, **kw: Any) -> Pool:
    return Pool.preset("finagle", names(n), rng=random.Random(0), **kw)


def test_envoy_consecutive_5xx_ejects_at_five() -> None:
    """outlier_detection.proto consecutive_5xx: 'Defaults to 5'; a success resets the run."""
    pool = envoy()
    fail_n(pool, "h0", 4, 1.0)
    succeed_n(pool, "h0", 1, 1.0)
    fail_n(pool, "h0", 4, 1.0)
    assert pool.is_healthy("h0")
    fail_n(pool, "h0", 1, 1.0)
    assert not pool.is_healthy("h0")


def test_envoy_5xx_replies_count_as_failures() -> None:
    """outlier.rst 'Consecutive 5xx': HTTP 5xx replies and 502/503 'upstream' replies count."""
    pool = envoy()
    fail_n(pool, "h0", 5, 1.0, 503)
    assert not pool.is_healthy("h0")
    pool = envoy()
    fail_n(pool, "h1", 5, 1.0, Outcome.UPSTREAM)
    assert pool.stats()["h1"].reason == "consecutive_failures"
    pool = envoy()
    fail_n(pool, "h2", 9, 1.0, 404)
    assert pool.is_healthy("h2")
    assert http_5xx_fails(500) is Outcome.FAILURE and http_5xx_fails(499) is Outcome.SUCCESS


def test_envoy_max_ejection_percent_ten_and_at_least_one() -> None:
    """max_ejection_percent: 'Defaults to 10% but will eject at least one host'."""
    pool = envoy(n=10)
    fail_n(pool, "h0", 5, 1.0)
    fail_n(pool, "h1", 5, 1.0)
    assert pool.healthy_endpoints() == tuple(names(10)[1:])  # 2 of 10 would be 20 %
    small = envoy(n=3)
    fail_n(small, "h0", 5, 1.0)
    assert not small.is_healthy("h0")  # 33 % > 10 %, but one host may always be ejected
    fail_n(small, "h1", 5, 1.0)
    assert small.is_healthy("h1")


def test_envoy_ejection_time_is_base_times_ejections_readmitted_at_an_interval() -> None:
    """base_ejection_time 30 s x times ejected; ejected hosts return at an interval sweep."""
    pool = envoy(n=10)
    fail_n(pool, "h0", 5, 5.0)  # ejected at 5 s, for 30 s
    pool.pick(34.0)
    assert not pool.is_healthy("h0")
    pool.pick(39.9)
    assert not pool.is_healthy("h0")  # 35 s is not a sweep; the sweep at 40 s is
    pool.pick(40.0)
    assert pool.is_healthy("h0")
    assert pool.stats()["h0"].since == 40.0
    fail_n(pool, "h0", 5, 41.0)  # second ejection in a row: 60 s
    pool.pick(100.0)
    assert not pool.is_healthy("h0")
    pool.pick(110.0)
    assert pool.is_healthy("h0")


def test_envoy_ejection_time_capped_at_max_ejection_time() -> None:
    """max_ejection_time: 'Defaults to 300 s'; the time does not increase beyond it."""
    pool = envoy(n=10)
    t = 0.0
    for _ in range(14):
        fail_n(pool, "h0", 5, t + 1)
        readmit = pool.stats()["h0"].readmit_at
        assert readmit is not None
        assert readmit - (t + 1) <= 300.0
        t = readmit + 10.0
        pool.pick(t)
        assert pool.is_healthy("h0")
    assert pool.stats()["h0"].readmit_at is None
    assert pool._by_name["h0"].multiplier == 10  # 10 x 30 s = 300 s: no longer increased


def test_envoy_multiplier_decreases_while_healthy() -> None:
    """'If the host is healthy during that check, the ejection time multiplier is decremented.'"""
    pool = envoy(n=10)
    fail_n(pool, "h0", 5, 1.0)  # multiplier 1, ejected until the sweep at 40 s
    pool.pick(40.0)
    fail_n(pool, "h0", 5, 41.0)  # multiplier 2: 60 s
    pool.pick(110.0)
    assert pool.is_healthy("h0")
    assert pool._by_name["h0"].multiplier == 2
    pool.pick(120.0)  # healthy at the sweep: 2 -> 1
    assert pool._by_name["h0"].multiplier == 1
    fail_n(pool, "h0", 5, 121.0)  # multiplier 2 again (not 3)
    assert pool.stats()["h0"].readmit_at == 121.0 + 60.0


def test_envoy_success_rate_outlier_ejected_at_the_interval() -> None:
    """Success rate: mean - 1.9 stdev over hosts with >= 100 requests, >= 5 such hosts."""
    pool = envoy(n=10)
    for h in names(10):
        succeed_n(pool, h, 100, 1.0)
    fail_n(pool, "h3", 4, 1.0)  # 100/104 succeed: an outlier, but fewer than 5 in a row
    assert pool.is_healthy("h3")
    pool.pick(10.0)  # the first sweep
    s = pool.stats()["h3"]
    assert s.state == "ejected" and s.reason == "success_rate_outlier"


def test_envoy_success_rate_needs_minimum_hosts_and_volume() -> None:
    pool = envoy(n=10)
    for h in names(4):
        succeed_n(pool, h, 100, 1.0)
    fail_n(pool, "h0", 4, 1.0)
    for h in names(10)[4:]:
        succeed_n(pool, h, 99, 1.0)  # below success_rate_request_volume
    pool.pick(10.0)
    assert pool.is_healthy("h0")  # only 4 hosts with enough volume: not judged


def test_envoy_failure_percentage_is_off_by_default() -> None:
    """enforcing_failure_percentage 'Defaults to 0'."""
    pool = envoy(n=10, failure_threshold=None)
    for h in names(10):
        fail_n(pool, h, 60, 1.0)
    pool.pick(10.0)
    assert len(pool.healthy_endpoints()) == 10


def test_envoy_panic_below_half_healthy() -> None:
    """healthy_panic_threshold 50 %: below it, all hosts are balanced across."""
    pool = envoy(n=4, max_ejection_share=1.0)
    fail_n(pool, "h0", 5, 1.0)
    fail_n(pool, "h1", 5, 1.0)
    assert not pool.in_panic  # 2 of 4 = 50 % healthy
    fail_n(pool, "h2", 5, 1.0)
    assert pool.in_panic
    assert {pool.pick(2.0) for _ in range(8)} == set(names(4))  # round robin over all


def test_envoy_round_robin_over_healthy_hosts() -> None:
    pool = envoy(n=3)
    assert [pool.pick(0.0) for _ in range(6)] == ["h0", "h1", "h2"] * 2


def test_envoy_successful_health_check_unejects() -> None:
    """outlier.rst note: a successful active health check unejects the host."""
    pool = envoy(n=10)
    fail_n(pool, "h0", 5, 1.0)
    pool.report_check("h0", True, 2.0)
    assert pool.is_healthy("h0")


def test_grpc_has_no_consecutive_failure_rule() -> None:
    """A50 supports only success rate and failure percentage."""
    pool = grpc()
    fail_n(pool, "h0", 40, 1.0)
    assert pool.is_healthy("h0")


def test_grpc_failure_percentage_above_85_at_the_interval() -> None:
    """A50 'Failure Percentage Algorithm': volume >= 50, percentage > 85 (strictly)."""
    pool = grpc(n=10)
    for h in names(10):
        succeed_n(pool, h, 60, 1.0)
    fail_n(pool, "h0", 400, 1.0)  # 400 / 460 = 87 % failed
    succeed_n(pool, "h1", 0, 1.0)
    fail_n(pool, "h1", 340, 1.0)  # 340 / 400 = 85 % exactly: not above
    pool.pick(10.0)
    assert pool.stats()["h0"].reason == "failure_percentage"
    assert pool.is_healthy("h1")


def test_grpc_failure_percentage_needs_five_addresses() -> None:
    pool = grpc(n=4)
    succeed_n(pool, "h1", 60, 1.0)
    fail_n(pool, "h0", 100, 1.0)
    pool.pick(10.0)
    assert pool.is_healthy("h0")


def test_grpc_success_rate_outlier() -> None:
    """A50 'Success Rate Algorithm': below mean - stdev_factor/1000 * stdev is ejected."""
    pool = grpc(n=6)
    for h in names(6):
        succeed_n(pool, h, 100, 1.0)
    fail_n(pool, "h5", 20, 1.0)  # 100 / 120
    pool.pick(10.0)
    assert pool.stats()["h5"].reason == "success_rate_outlier"


def test_grpc_uneject_strictly_after_ejection_time() -> None:
    """A50 step 5: un-eject when the current time is *after* timestamp + base x multiplier."""
    pool = grpc(n=10)
    for h in names(10):
        succeed_n(pool, h, 60, 1.0)
    fail_n(pool, "h0", 400, 1.0)
    pool.pick(10.0)  # ejected at the sweep of 10 s, for 30 s
    pool.pick(40.0)
    assert not pool.is_healthy("h0")  # 40 is not after 10 + 30
    pool.pick(50.0)
    assert pool.is_healthy("h0")


def test_grpc_max_ejection_percent_checked_before_each_ejection() -> None:
    """A50: 'If the percentage of ejected addresses is greater than max_ejection_percent, stop'."""
    pool = grpc(n=10)
    for h in names(10):
        succeed_n(pool, h, 60, 1.0)
    for h in ("h0", "h1", "h2"):
        fail_n(pool, h, 400, 1.0)
    pool.pick(10.0)
    # 0 % -> eject h0; 10 % is not above 10 % -> eject h1; 20 % > 10 % -> stop.
    assert pool.healthy_endpoints() == tuple(names(10)[2:])


def test_grpc_multiplier_grows_without_cap_and_decreases_while_healthy() -> None:
    """A50: the multiplier increases on each ejection, decreases by 1 per healthy interval."""
    pool = grpc(n=10)
    record = pool._by_name["h0"]
    for h in names(10):
        succeed_n(pool, h, 60, 1.0)
    fail_n(pool, "h0", 400, 1.0)
    pool.pick(10.0)
    assert record.multiplier == 1
    pool.pick(50.0)  # un-ejected at 50 (after 40); not decreased in that sweep
    assert pool.is_healthy("h0") and record.multiplier == 1
    pool.pick(60.0)
    assert record.multiplier == 0


def test_grpc_no_panic() -> None:
    pool = grpc(n=1)
    pool.report_check("h0", False, 1.0)
    with pytest.raises(NoHealthyEndpointError):
        pool.pick(1.0)


def test_finagle_five_consecutive_failures_mark_dead_for_five_seconds() -> None:
    """FailureAccrualPolicy.scala line 92: 5 failures; FailureAccrualFactory.scala line 28:
    equalJittered(5 s, 300 s), whose first duration is exactly 5 s."""
    pool = finagle()
    fail_n(pool, "h0", 5, 1.0)
    s = pool.stats()["h0"]
    assert s.state == "ejected" and s.readmit_at == 6.0
    pool.pick(6.0)
    assert pool.is_healthy("h0")


def test_finagle_probe_failure_marks_dead_again_for_longer() -> None:
    """ProbeOpen -> ProbeClosed -> Dead on failure, with the next backoff: 5 s then [5, 10)."""
    pool = finagle()
    fail_n(pool, "h0", 5, 1.0)
    pool.pick(6.0)
    fail_n(pool, "h0", 1, 6.5)  # the probe fails: dead again at once
    s = pool.stats()["h0"]
    assert s.state == "ejected" and s.reason == "probe_failed"
    assert s.readmit_at is not None and 6.5 + 5.0 <= s.readmit_at < 6.5 + 10.0


def test_finagle_probe_success_revives_and_resets_the_backoff() -> None:
    pool = finagle()
    fail_n(pool, "h0", 5, 1.0)
    pool.pick(6.0)
    succeed_n(pool, "h0", 1, 6.5)
    fail_n(pool, "h0", 4, 7.0)
    assert pool.is_healthy("h0")  # alive again: five failures needed
    fail_n(pool, "h0", 1, 7.0)
    assert pool.stats()["h0"].readmit_at == 12.0  # the backoff restarted at 5 s


def test_finagle_backoff_is_equal_jittered_and_capped_at_300() -> None:
    """Backoff.scala EqualJittered: the k-th duration is in [5*2^(k-2), 5*2^(k-1)), cap 300."""
    pool = finagle()
    fail_n(pool, "h0", 5, 0.0)
    t = 0.0
    for k in range(2, 12):
        t = pool.stats()["h0"].readmit_at or t
        pool.pick(t)
        fail_n(pool, "h0", 1, t)
        duration = (pool.stats()["h0"].readmit_at or 0) - t
        assert min(300.0, 5 * 2 ** (k - 2)) <= duration <= min(300.0, 5 * 2 ** (k - 1)), k


def test_finagle_p2c_prefers_open_nodes_and_fails_open() -> None:
    """P2CPick: the healthier of two wins; Balancer: max_effort tries, then any node."""
    pool = finagle(n=2)
    fail_n(pool, "h0", 5, 0.0)
    assert {pool.pick(0.1) for _ in range(20)} == {"h1"}
    fail_n(pool, "h1", 5, 0.1)
    assert pool.pick(0.2) in {"h0", "h1"}  # everything dead: Finagle still picks


def test_finagle_p2c_least_loaded_ties_to_the_first_drawn() -> None:
    pool = Pool.preset("finagle", ["a", "b"], rng=Fixed(0.0))
    assert pool.pick(0.0) == "a"  # a = 0, b = 1, equal loads: a
    pool.start("a", 0.0)
    assert pool.pick(0.0) == "b"


# -- the preset table ------------------------------------------------------------------------


def test_every_preset_builds_and_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert preset_table() in text
    for name, preset in PRESETS.items():
        assert preset.name == name and preset.sources
        pool = Pool.preset(name, ["a", "b"], rng=random.Random(0))
        pool._check()
        assert preset_arguments(name) is not preset_arguments(name)


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("preset must be one of")):
        Pool.preset("haproxy", ["a"], rng=random.Random(0))


def test_preset_overrides_replace_single_arguments() -> None:
    pool = Pool.preset("envoy", ["a", "b"], rng=random.Random(0), strategy="least_request")
    assert pool.strategy == "least_request"
