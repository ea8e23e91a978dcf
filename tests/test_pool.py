"""Tests of consistent._pool and consistent._retry: examples, properties and bad configuration."""

from __future__ import annotations

import collections
import math
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consistent
from consistent import (
    DEFAULT_HEALTH_CHECK_BACKOFF,
    STRATEGIES,
    TRANSITIONS,
    DuplicateNodeError,
    EndpointStats,
    ExponentialBackoff,
    Jitter,
    NoHealthyEndpointError,
    Outcome,
    Pool,
    PoolEvent,
    PoolFullError,
    RetryBudget,
    RetryPolicy,
    SuccessRateEjection,
    UnknownNodeError,
    transition_diagram,
)

FIXED = ExponentialBackoff(base=1.0, factor=2.0, cap=8.0, jitter="none")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "pool.md"


def make(names: str = "abcd", **kwargs: object) -> Pool:
    kwargs.setdefault("rng", random.Random(0))
    return Pool(list(names), **kwargs)  # type: ignore[arg-type]


def fail(pool: Pool, endpoint: str, now: float, outcome: Outcome = Outcome.FAILURE) -> None:
    pool.finish(pool.start(endpoint, now), outcome, now)


def succeed(pool: Pool, endpoint: str, now: float) -> None:
    pool.finish(pool.start(endpoint, now), Outcome.SUCCESS, now)


# -- public names --------------------------------------------------------------------------


def test_contract_names_are_exported() -> None:
    for name in [
        "Pool",
        "Outcome",
        "ExponentialBackoff",
        "Jitter",
        "RetryPolicy",
        "RetryBudget",
        "PoolEvent",
        "EndpointStats",
        "SuccessRateEjection",
        "transition_diagram",
    ]:
        assert name in consistent.__all__
        assert hasattr(consistent, name)


# -- construction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"strategy": "least_conn"}, ValueError, "strategy must be one of .*'least_conn'"),
        ({"failure_threshold": 0}, ValueError, "failure_threshold must be a positive int"),
        ({"failure_threshold": True}, ValueError, "failure_threshold"),
        ({"max_ejection_share": 1.5}, ValueError, r"max_ejection_share must be .*\[0, 1\]"),
        ({"max_ejection_share": -0.1}, ValueError, "max_ejection_share"),
        ({"max_pending": 0}, ValueError, "max_pending must be a positive int or None, got 0"),
        ({"max_pending_per_endpoint": -2}, ValueError, "max_pending_per_endpoint"),
        ({"health_check_backoff": 1.0}, TypeError, "health_check_backoff must be"),
        ({"observer": 3}, TypeError, "observer must be callable"),
        ({"success_rate": 0.9}, TypeError, "success_rate must be"),
        ({"rng": 42}, TypeError, "rng must be a random.Random, got int"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    kwargs.setdefault("rng", random.Random(0))
    with pytest.raises(error, match=message):
        Pool(["a"], **kwargs)  # type: ignore[arg-type]


def test_bad_endpoints() -> None:
    with pytest.raises(DuplicateNodeError, match="'a' is listed twice"):
        Pool(["a", "b", "a"], rng=random.Random(0))
    with pytest.raises(TypeError, match="endpoint must be a str, got int"):
        Pool(["a", 1], rng=random.Random(0))  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 0}, "threshold must be a success rate in"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": 0.5, "window": 0}, "window must be a positive int"),
        (
            {"threshold": 0.5, "window": 5, "min_requests": 6},
            r"min_requests must be .*\[1, window=5\]",
        ),
    ],
)
def test_bad_success_rate(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SuccessRateEjection(**kwargs)  # type: ignore[arg-type]


def test_success_rate_default_min_requests() -> None:
    assert SuccessRateEjection(0.5, window=7).min_requests == 7


def test_repr_is_valid_python() -> None:
    pool = make(
        "ab",
        strategy="round_robin",
        success_rate=SuccessRateEjection(0.5, window=10),
        max_pending=5,
        health_check_backoff=FIXED,
    )
    namespace = {
        "Pool": Pool,
        "random": random,
        "ExponentialBackoff": ExponentialBackoff,
        "SuccessRateEjection": SuccessRateEjection,
    }
    again = eval(repr(pool), namespace)
    assert repr(again) == repr(pool)
    assert again.endpoints == ("a", "b")
    assert repr(Outcome.TIMEOUT) == "Outcome.TIMEOUT"
    event = PoolEvent(1.0, "a", "healthy", "ejected", "check_failed")
    assert eval(repr(event), {"PoolEvent": PoolEvent}) == event
    stats = make("a").stats()["a"]
    assert eval(repr(stats), {"EndpointStats": EndpointStats}) == stats


def test_default_health_check_backoff_is_documented_value() -> None:
    assert ExponentialBackoff(1.0, 2.0, 60.0, Jitter.EQUAL) == DEFAULT_HEALTH_CHECK_BACKOFF


# -- membership ------------------------------------------------------------------------------


def test_add_remove_membership() -> None:
    events: list[PoolEvent] = []
    pool = Pool(["a"], rng=random.Random(0), observer=events.append, now=5.0)
    pool.add("b", 6.0)
    assert pool.endpoints == ("a", "b") and len(pool) == 2 and "b" in pool
    with pytest.raises(DuplicateNodeError, match="'b' is already in the pool"):
        pool.add("b", 7.0)
    pool.remove("a", 8.0)
    assert list(pool.endpoints) == ["b"] and "a" not in pool
    with pytest.raises(UnknownNodeError, match="endpoint 'a' is not in the pool"):
        pool.remove("a", 9.0)
    with pytest.raises(UnknownNodeError):
        pool.is_healthy("zzz")
    assert events == [
        PoolEvent(5.0, "a", "absent", "healthy", "added"),
        PoolEvent(6.0, "b", "absent", "healthy", "added"),
        PoolEvent(8.0, "a", "healthy", "absent", "removed"),
    ]
    pool._check()


def test_empty_pool_raises_no_healthy_endpoint() -> None:
    pool = Pool(rng=random.Random(0))
    with pytest.raises(NoHealthyEndpointError, match="no endpoints") as info:
        pool.pick(0.0)
    assert info.value.available_at is None
    assert isinstance(info.value, LookupError)
    with pytest.raises(NoHealthyEndpointError):
        pool.acquire(0.0)


def test_removed_endpoint_pending_requests_finish_cleanly() -> None:
    pool = make("ab", max_pending=2)
    r1 = pool.start("a", 0.0)
    r2 = pool.start("a", 0.0)
    with pytest.raises(PoolFullError):
        pool.start("b", 0.0)
    pool.remove("a", 1.0)
    assert pool.pending == 2
    with pytest.raises(UnknownNodeError):
        pool.start("a", 1.0)
    pool.finish(r1, Outcome.FAILURE, 2.0)  # no transition, no crash
    pool.add("a", 3.0)  # a fresh record
    pool.finish(r2, Outcome.SUCCESS, 4.0)
    assert pool.pending == 0
    stats = pool.stats()
    assert stats["a"].started == 0 and stats["a"].state == "healthy"
    pool.start("b", 5.0)
    pool._check()


# -- strategies --------------------------------------------------------------------------------


def test_round_robin_in_insertion_order() -> None:
    pool = make("abc", strategy="round_robin")
    assert [pool.pick(0.0) for _ in range(6)] == list("abcabc")


def test_random_is_roughly_uniform() -> None:
    pool = make("abcd", strategy="random", rng=random.Random(3))
    counts = collections.Counter(pool.pick(0.0) for _ in range(8000))
    assert set(counts) == set("abcd")
    assert all(1700 < c < 2300 for c in counts.values())


def test_p2c_prefers_fewer_pending() -> None:
    pool = make("ab", strategy="p2c", rng=random.Random(1))
    pool.start("a", 0.0)
    assert {pool.pick(0.0) for _ in range(50)} == {"b"}


def test_p2c_spreads_load() -> None:
    pool = make("abcdefgh", rng=random.Random(2))
    for _ in range(400):
        pool.acquire(0.0)
    pendings = [s.pending for s in pool.stats().values()]
    assert max(pendings) - min(pendings) <= 3  # p2c keeps loads within a few of each other


def test_first_idle_picks_an_idle_endpoint() -> None:
    pool = make("abcd", strategy="first_idle", rng=random.Random(4))
    for name in "abd":
        pool.start(name, 0.0)
    assert {pool.pick(0.0) for _ in range(30)} == {"c"}
    pool.start("c", 0.0)
    pool.start("c", 0.0)
    assert {pool.pick(0.0) for _ in range(30)} <= set("abd")  # least loaded when none idle


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_same_seed_same_decisions(strategy: str) -> None:
    def run(seed: int) -> tuple[list[object], list[PoolEvent]]:
        events: list[PoolEvent] = []
        pool = Pool(
            [f"s{i}" for i in range(10)],
            rng=random.Random(seed),
            strategy=strategy,
            failure_threshold=2,
            observer=events.append,
        )
        world = random.Random(seed + 1)
        trace: list[object] = []
        pending: list[int] = []
        for step in range(600):
            now = step * 0.1
            for endpoint in pool.due_checks(now):
                pool.report_check(endpoint, world.random() < 0.5, now)
            endpoint, request = pool.acquire(now)
            trace.append(endpoint)
            pending.append(request)
            if len(pending) > 5:
                done = pending.pop(world.randrange(len(pending)))
                pool.finish(done, world.choice(list(Outcome)), now)
        return trace, events

    first, second = run(11), run(11)
    assert first == second
    assert len(first[1]) > 10  # transitions happened
    assert run(12)[0] != first[0]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_exclude_is_a_preference(strategy: str) -> None:
    pool = make("abc", strategy=strategy)
    for _ in range(20):
        assert pool.pick(0.0, exclude={"a", "b"}) == "c"
        assert pool.pick(0.0, exclude=("a",)) in "bc"
    assert pool.pick(0.0, exclude={"a", "b", "c"}) in "abc"  # all excluded: fall back
    assert pool.acquire(0.0, ("a", "b"))[0] == "c"  # positional too


# -- ejection ------------------------------------------------------------------------------


def test_one_failure_ejects_by_default() -> None:
    events: list[PoolEvent] = []
    pool = make("ab", observer=events.append, health_check_backoff=FIXED)
    fail(pool, "a", 3.0)
    assert not pool.is_healthy("a") and pool.healthy_endpoints() == ("b",)
    assert events[-1] == PoolEvent(3.0, "a", "healthy", "ejected", "consecutive_failures")
    s = pool.stats()["a"]
    assert (s.state, s.since, s.reason, s.ejections, s.next_check_at) == (
        "ejected",
        3.0,
        "consecutive_failures",
        1,
        4.0,
    )
    assert all(pool.pick(3.5) == "b" for _ in range(20))


def test_consecutive_failures_and_success_resets_streak() -> None:
    pool = make("ab", failure_threshold=3)
    fail(pool, "a", 0.0)
    fail(pool, "a", 0.0, Outcome.TIMEOUT)
    succeed(pool, "a", 0.0)
    fail(pool, "a", 0.0)
    fail(pool, "a", 0.0)
    assert pool.is_healthy("a") and pool.stats()["a"].consecutive_failures == 2
    fail(pool, "a", 0.0, Outcome.TIMEOUT)
    assert not pool.is_healthy("a")
    s = pool.stats()["a"]
    assert (s.failed, s.timed_out, s.succeeded, s.consecutive_failures) == (3, 2, 1, 0)


def test_failure_threshold_none_disables_streak_ejection() -> None:
    pool = make("a", failure_threshold=None)
    for _ in range(50):
        fail(pool, "a", 0.0)
    assert pool.is_healthy("a")


def test_success_rate_ejection() -> None:
    rule = SuccessRateEjection(threshold=0.8, window=10, min_requests=5)
    pool = make("ab", failure_threshold=None, success_rate=rule)
    for _ in range(3):
        succeed(pool, "a", 0.0)
    fail(pool, "a", 0.0)  # 3/4, too few outcomes to judge
    assert pool.is_healthy("a")
    fail(pool, "a", 1.0)  # 3/5 < 0.8
    assert not pool.is_healthy("a")
    assert pool.stats()["a"].reason == "success_rate"


def test_success_rate_window_slides() -> None:
    rule = SuccessRateEjection(threshold=0.5, window=4)
    pool = make("ab", failure_threshold=None, success_rate=rule)
    for outcome in [Outcome.FAILURE, Outcome.FAILURE] + [Outcome.SUCCESS] * 6:
        pool.finish(pool.start("a", 0.0), outcome, 0.0)
    assert pool.is_healthy("a")  # 2/4 then better: never below 0.5
    for _ in range(2):
        fail(pool, "a", 0.0)
    assert pool.is_healthy("a")  # window: S S F F = 0.5
    fail(pool, "a", 0.0)
    assert not pool.is_healthy("a")
    pool._check()


def test_max_ejection_share_caps_ejections() -> None:
    pool = make("abcd", max_ejection_share=0.5)
    for name in "abcd":
        fail(pool, name, 0.0)
    assert pool.healthy_endpoints() == ("c", "d")
    assert pool.stats()["c"].ejections_refused == 1
    assert not pool.in_panic


def test_max_ejection_share_allows_at_least_one() -> None:
    pool = make("abc", max_ejection_share=0.1)
    for name in "abc":
        fail(pool, name, 0.0)
    assert pool.healthy_endpoints() == ("b", "c")


def test_max_ejection_share_zero_never_ejects() -> None:
    pool = make("ab", max_ejection_share=0.0)
    fail(pool, "a", 0.0)
    assert pool.healthy_endpoints() == ("a", "b")


def test_outcomes_on_ejected_endpoint_are_counted_without_transition() -> None:
    events: list[PoolEvent] = []
    pool = make("ab", observer=events.append)
    r = pool.start("a", 0.0)
    fail(pool, "a", 0.0)
    count = len(events)
    pool.finish(r, Outcome.SUCCESS, 1.0)
    assert not pool.is_healthy("a") and len(events) == count
    assert pool.stats()["a"].succeeded == 1


# -- panic ------------------------------------------------------------------------------------


def test_panic_uses_every_endpoint() -> None:
    pool = make("abc", rng=random.Random(7), strategy="random")
    for name in "abc":
        fail(pool, name, 0.0)
    assert pool.in_panic and pool.healthy_endpoints() == ()
    assert {pool.pick(1.0) for _ in range(60)} == set("abc")
    pool.report_check("b", True, pool.next_check_at() or 0.0)
    assert not pool.in_panic
    assert {pool.pick(1.0) for _ in range(20)} == {"b"}


def test_without_panic_no_healthy_endpoint_error_carries_available_at() -> None:
    pool = make("ab", panic=False, health_check_backoff=FIXED)
    fail(pool, "a", 1.0)
    fail(pool, "b", 1.5)
    assert not pool.in_panic
    with pytest.raises(NoHealthyEndpointError, match=r"next health check is due at 2\.0") as info:
        pool.pick(1.6)
    assert info.value.available_at == 2.0 == pool.next_check_at()


# -- health checks -------------------------------------------------------------------------


def test_health_checks_back_off_and_success_readmits() -> None:
    events: list[PoolEvent] = []
    pool = make("ab", health_check_backoff=FIXED, observer=events.append)
    fail(pool, "a", 10.0)
    assert pool.next_check_at() == 11.0
    assert pool.due_checks(10.99) == [] and pool.due_checks(11.0) == ["a"]
    assert pool.due_checks(11.0) == ["a"]  # a query: still due until reported
    now = 11.0
    for expected_delay in [2.0, 4.0, 8.0, 8.0]:
        pool.report_check("a", False, now)
        assert pool.next_check_at() == now + expected_delay
        now += expected_delay
    assert events[-1] == PoolEvent(now - 8.0, "a", "ejected", "ejected", "check_failed")
    pool.report_check("a", True, now)
    assert pool.is_healthy("a") and pool.next_check_at() is None
    assert events[-1] == PoolEvent(now, "a", "ejected", "healthy", "check_passed")
    s = pool.stats()["a"]
    assert (s.checks_failed, s.checks_passed, s.since, s.reason) == (4, 1, now, "check_passed")
    fail(pool, "a", 100.0)  # backoff was reset
    assert pool.next_check_at() == 101.0


def test_due_checks_order_and_unknown_endpoint() -> None:
    pool = make("abc", health_check_backoff=FIXED)
    fail(pool, "c", 0.0)
    fail(pool, "a", 0.5)
    fail(pool, "b", 0.0)
    assert pool.due_checks(10.0) == ["b", "c", "a"]  # by due time, ties by insertion order
    with pytest.raises(UnknownNodeError):
        pool.report_check("zzz", True, 1.0)


def test_failed_check_on_healthy_endpoint_ejects() -> None:
    pool = make("ab", health_check_backoff=FIXED)
    pool.report_check("a", True, 0.0)
    assert pool.is_healthy("a") and pool.stats()["a"].checks_passed == 1
    pool.report_check("a", False, 1.0)
    assert not pool.is_healthy("a") and pool.stats()["a"].reason == "check_failed"
    assert pool.next_check_at() == 2.0


def test_jittered_check_schedule_within_backoff_bounds() -> None:
    backoff = ExponentialBackoff(base=1.0, factor=2.0, cap=30.0, jitter="decorrelated")
    pool = make("ab", health_check_backoff=backoff)
    fail(pool, "a", 0.0)
    now = 0.0
    for _ in range(20):
        due = pool.next_check_at()
        assert due is not None and 1.0 <= due - now <= 30.0
        now = due
        pool.report_check("a", False, now)


# -- limits -------------------------------------------------------------------------------------


def test_pool_wide_limit() -> None:
    pool = make("ab", max_pending=2)
    pool.acquire(0.0)
    _, request = pool.acquire(0.0)
    with pytest.raises(PoolFullError, match="2 pending requests"):
        pool.acquire(0.0)
    with pytest.raises(PoolFullError):
        pool.start("a", 0.0)
    pool.finish(request, Outcome.SUCCESS, 0.0)
    pool.acquire(0.0)
    pool._check()


def test_per_endpoint_limit() -> None:
    pool = make("ab", max_pending_per_endpoint=2, strategy="round_robin")
    pool.start("a", 0.0)
    pool.start("a", 0.0)
    with pytest.raises(PoolFullError, match="endpoint 'a' has 2 pending"):
        pool.start("a", 0.0)
    assert {pool.pick(0.0) for _ in range(10)} == {"b"}
    pool.acquire(0.0)
    pool.acquire(0.0)
    with pytest.raises(PoolFullError, match="every candidate endpoint"):
        pool.pick(0.0)
    assert isinstance(PoolFullError("x"), consistent.ConsistentError)


# -- finishing -------------------------------------------------------------------------------


def test_finish_unknown_or_twice_changes_nothing() -> None:
    pool = make("a")
    request = pool.start("a", 0.0)
    with pytest.raises(ValueError, match="request id 99 is not pending"):
        pool.finish(99, Outcome.SUCCESS, 0.0)
    with pytest.raises(ValueError, match="outcome must be one of"):
        pool.finish(request, "crashed", 0.0)
    with pytest.raises(ValueError, match="outcome must be one of"):
        pool.finish(request, None, 0.0)  # type: ignore[arg-type]
    assert pool.pending == 1 and pool.stats()["a"].pending == 1
    pool.finish(request, "success", 0.0)  # strings are accepted
    with pytest.raises(ValueError, match="already finished"):
        pool.finish(request, Outcome.SUCCESS, 0.0)
    assert pool.stats()["a"].succeeded == 1
    pool._check()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(list(Outcome))), max_size=60))
def test_counts_are_conserved(plan: list[tuple[int, Outcome]]) -> None:
    pool = make("abcd", failure_threshold=2)
    open_requests: list[int] = []
    for k, outcome in plan:
        if k == 0 and open_requests:
            pool.finish(open_requests.pop(), outcome, 1.0)
        else:
            open_requests.append(pool.acquire(1.0)[1])
    for s in pool.stats().values():
        assert s.started == s.succeeded + s.failed + s.timed_out + s.upstream + s.pending
    assert pool.pending == len(open_requests)
    pool._check()


# -- documentation -------------------------------------------------------------------------


def test_docs_show_the_generated_diagram() -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
    assert blocks == [transition_diagram()]


def test_transition_table_is_closed() -> None:
    states = {s for s, _ in TRANSITIONS} | set(TRANSITIONS.values())
    assert states == {"absent", "healthy", "ejected"}
    with pytest.raises(TypeError):
        TRANSITIONS[("absent", "x")] = "healthy"  # type: ignore[index]


# -- retries -------------------------------------------------------------------------------


def test_retry_policy_defaults_and_repr() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 3 and policy.prefer_different_endpoint
    assert policy.retry_on == frozenset({Outcome.FAILURE, Outcome.TIMEOUT, Outcome.UPSTREAM})
    again = eval(
        repr(policy), {"RetryPolicy": RetryPolicy, "ExponentialBackoff": ExponentialBackoff}
    )
    assert again == policy
    assert RetryPolicy(retry_on={"timeout"}).retry_on == frozenset({Outcome.TIMEOUT})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts must be an int of at least 1, got 0"),
        ({"retry_on": {"success"}}, ValueError, "must not contain Outcome.SUCCESS"),
        ({"retry_on": {"boom"}}, ValueError, "retry_on must hold outcomes"),
        ({"retry_on": "failure"}, TypeError, "retry_on must be a collection"),
        ({"backoff": 1.0}, TypeError, "backoff must be an ExponentialBackoff"),
        ({"budget_ratio": -0.1}, ValueError, "ratio must be a non-negative"),
        ({"budget_ttl": 0}, ValueError, "ttl must be a positive duration, got 0"),
        ({"budget_min_per_second": "x"}, TypeError, "min_per_second must be a number"),
    ],
)
def test_retry_policy_bad_configuration(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_should_retry() -> None:
    policy = RetryPolicy(max_attempts=3, retry_on=frozenset({Outcome.TIMEOUT}))
    assert policy.should_retry(1, Outcome.TIMEOUT, None, 0.0)
    assert policy.should_retry(2, "timeout", None, 0.0)
    assert not policy.should_retry(3, Outcome.TIMEOUT, None, 0.0)
    assert not policy.should_retry(1, Outcome.FAILURE, None, 0.0)
    assert not policy.should_retry(1, Outcome.SUCCESS, None, 0.0)


def test_should_retry_spends_budget_only_when_retrying() -> None:
    policy = RetryPolicy(budget_min_per_second=0.0, budget_ratio=1.0)
    budget = policy.new_budget()
    budget.deposit(0.0)
    assert not policy.should_retry(1, Outcome.SUCCESS, budget, 0.0)
    assert not policy.should_retry(3, Outcome.FAILURE, budget, 0.0)
    assert policy.should_retry(1, Outcome.FAILURE, budget, 0.0)
    assert not policy.should_retry(1, Outcome.FAILURE, budget, 0.0)  # spent


def test_delay_before_follows_backoff() -> None:
    policy = RetryPolicy(backoff=FIXED)
    rng = random.Random(0)
    assert [policy.delay_before(n, rng) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]


def test_budget_bounds_retries_to_a_share_of_requests() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=0.0, ttl=10.0)
    retries = 0
    for i in range(1000):
        now = i * 0.001
        budget.deposit(now)
        retries += budget.try_withdraw(now)
    assert retries == 200


def test_budget_floor_and_expiry() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=1.0, ttl=5.0)
    assert sum(budget.try_withdraw(0.0) for _ in range(10)) == 5  # floor: 1/s over 5 s
    assert not budget.try_withdraw(4.0)
    assert budget.try_withdraw(5.0)  # the first withdrawals have expired
    assert budget.balance(5.0) == 4.0
    assert budget.balance(1000.0) == 5.0  # a long gap clears everything
    assert budget.balance(3.0) == 5.0  # time going backwards expires nothing
    assert eval(repr(budget), {"RetryBudget": RetryBudget}).balance(0.0) == 5.0


def test_retry_loop_against_a_dead_endpoint_does_not_amplify() -> None:
    """Every request to a dead service fails; the budget keeps load near 1 + ratio."""
    policy = RetryPolicy(max_attempts=5, budget_ratio=0.2, budget_min_per_second=1.0)
    budget = policy.new_budget()
    pool = make("ab", max_ejection_share=0.0)  # never eject: isolate the budget's effect
    rng = random.Random(0)
    attempts_total = 0
    originals = 2000
    for i in range(originals):
        now = i * 0.01
        budget.deposit(now)
        tried: list[str] = []
        attempt = 0
        while True:
            exclude = tried if policy.prefer_different_endpoint else ()
            endpoint, request = pool.acquire(now, exclude=exclude)
            tried.append(endpoint)
            attempt += 1
            attempts_total += 1
            pool.finish(request, Outcome.FAILURE, now)
            if not policy.should_retry(attempt, Outcome.FAILURE, budget, now):
                break
            assert policy.delay_before(attempt, rng) >= 0
            if attempt == 2:
                assert tried[0] != tried[1]
    assert attempts_total <= originals * 1.2 + 1.0 * 20 + 1


@pytest.mark.parametrize("outcome", ["success", "failure", "timeout"])
def test_finish_before_start_raises_naming_both_times_and_changes_nothing(outcome: str) -> None:
    pool = Pool(["a"], rng=random.Random(1), failure_threshold=1)
    _, request = pool.acquire(5.0)
    other = pool.start("a", 7.0)
    before = pool.stats()
    with pytest.raises(ValueError, match=r"cannot finish at now=4\.0, before it started at 5\.0"):
        pool.finish(request, outcome, 4.0)
    with pytest.raises(ValueError, match=r"now=6\.5, before it started at 7\.0"):
        pool.finish(other, outcome, 6.5)
    assert pool.stats() == before and pool.pending == 2
    pool.finish(request, outcome, 5.0)  # at the start time itself is fine
    pool.finish(other, "success", 7.0)
    assert pool.pending == 0
    pool._check()


def test_other_calls_take_an_earlier_now_as_given() -> None:
    # The documented policy: only finish-before-start is refused.
    events: list[PoolEvent] = []
    pool = Pool(["a", "b"], rng=random.Random(1), observer=events.append, failure_threshold=1)
    pool.add("c", 10.0)
    _, request = pool.acquire(9.0)
    pool.finish(request, "success", 9.5)
    pool.report_check("c", False, 8.0)
    assert events[-1].time == 8.0 and pool.stats()["c"].since == 8.0
    pool._check()


# -- upstream unavailable ------------------------------------------------------------------


def test_upstream_reply_frees_the_request_and_is_not_held_against_the_endpoint() -> None:
    events: list[PoolEvent] = []
    pool = make("ab", failure_threshold=2, observer=events.append)
    fail(pool, "a", 1.0)  # streak 1
    for _ in range(5):
        fail(pool, "a", 1.0, Outcome.UPSTREAM)
    s = pool.stats()["a"]
    assert (s.upstream, s.failed, s.pending, s.consecutive_failures) == (5, 1, 0, 1)
    assert s.state == "healthy" and pool.pending == 0
    fail(pool, "a", 2.0)  # the streak was not reset by the upstream replies: ejected now
    assert not pool.is_healthy("a")
    assert [e.reason for e in events] == ["added", "added", "consecutive_failures"]
    pool.finish(pool.start("b", 3.0), "upstream", 3.0)  # the string value works too
    assert pool.stats()["b"].upstream == 1
    pool._check()


def test_upstream_reply_is_no_success_for_the_success_rate() -> None:
    rule = SuccessRateEjection(threshold=0.5, window=4, min_requests=4)
    pool = make("ab", failure_threshold=None, success_rate=rule)
    fail(pool, "a", 0.0)
    fail(pool, "a", 0.0)
    for _ in range(10):
        fail(pool, "a", 0.0, Outcome.UPSTREAM)
    succeed(pool, "a", 0.0)
    assert pool.is_healthy("a")  # 1 success in 3 judged outcomes; window not yet full
    fail(pool, "a", 0.0)  # 1 of 4 succeeded: below 0.5
    assert not pool.is_healthy("a")


def test_eject_on_upstream_counts_it_as_a_failure() -> None:
    pool = make("ab", eject_on_upstream=True, health_check_backoff=FIXED)
    fail(pool, "a", 1.0, Outcome.UPSTREAM)
    s = pool.stats()["a"]
    assert (s.state, s.reason, s.upstream, s.failed) == ("ejected", "consecutive_failures", 1, 0)
    assert "eject_on_upstream=True" in repr(pool)
    assert "eject_on_upstream" not in repr(make("ab"))
    rule = SuccessRateEjection(threshold=0.5, window=2)
    rated = make("ab", failure_threshold=None, success_rate=rule, eject_on_upstream=True)
    succeed(rated, "a", 0.0)
    fail(rated, "a", 0.0, Outcome.UPSTREAM)
    assert rated.is_healthy("a")  # 1 of 2: not below 0.5
    fail(rated, "a", 0.0, Outcome.UPSTREAM)
    assert not rated.is_healthy("a")


def test_upstream_is_retried_by_default_like_a_failure() -> None:
    policy = RetryPolicy()
    assert policy.should_retry(1, Outcome.UPSTREAM, None, 0.0)
    assert policy.should_retry(1, "upstream", None, 0.0)
    assert not policy.should_retry(3, Outcome.UPSTREAM, None, 0.0)
    assert not RetryPolicy(retry_on={"timeout"}).should_retry(1, "upstream", None, 0.0)  # type: ignore[arg-type]


# -- hardening (issue 12): times, names, check results, attempt numbers ---------------------

BAD_NOWS = [
    (float("nan"), consistent.InvalidArgumentError, "finite"),
    (float("inf"), consistent.InvalidArgumentError, "finite"),
    (-float("inf"), consistent.InvalidArgumentError, "finite"),
    ("5", consistent.InvalidTypeError, "real number.*str"),
    (True, consistent.InvalidTypeError, "real number.*bool"),
    (None, consistent.InvalidTypeError, "real number.*NoneType"),
]


@pytest.mark.parametrize(("now", "error", "message"), BAD_NOWS)
def test_every_now_must_be_a_finite_real_number(now: object, error: type, message: str) -> None:
    pool = make("ab", rng=random.Random(1))
    _, request = pool.acquire(0.0)
    fail(pool, "b", 0.0)  # b is ejected, a check is due later
    before = (pool.stats(), pool.pending, pool.next_check_at())
    calls = [
        lambda: Pool(["a"], rng=random.Random(1), now=now),  # type: ignore[arg-type]
        lambda: pool.pick(now),  # type: ignore[arg-type]
        lambda: pool.acquire(now),  # type: ignore[arg-type]
        lambda: pool.start("a", now),  # type: ignore[arg-type]
        lambda: pool.finish(request, Outcome.FAILURE, now),  # type: ignore[arg-type]
        lambda: pool.due_checks(now),  # type: ignore[arg-type]
        lambda: pool.report_check("b", True, now),  # type: ignore[arg-type]
        lambda: pool.add("c", now),  # type: ignore[arg-type]
        lambda: pool.remove("a", now),  # type: ignore[arg-type]
        lambda: RetryPolicy().should_retry(1, "failure", None, now),  # type: ignore[arg-type]
        lambda: RetryBudget().deposit(now),  # type: ignore[arg-type]
        lambda: RetryBudget().try_withdraw(now),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(error, match=message):
            call()
        assert issubclass(error, consistent.ConsistentError)
    assert (pool.stats(), pool.pending, pool.next_check_at()) == before  # nothing changed
    pool._check()


def test_the_reported_nan_never_schedules_an_unreachable_check() -> None:
    pool = Pool(["a", "b"], rng=random.Random(1))
    _, request = pool.acquire(0.0)
    with pytest.raises(ValueError, match="finite"):
        pool.finish(request, "failure", float("nan"))
    assert pool.healthy_endpoints() == ("a", "b") and pool.pending == 1


def test_numeric_nows_of_other_real_types_are_accepted() -> None:
    import fractions

    import numpy as np

    pool = make("ab")
    for now in (1, np.float64(2.0), np.int64(3), fractions.Fraction(7, 2)):
        pool.finish(pool.start("a", now), "success", now)  # type: ignore[arg-type]
    assert pool.stats()["a"].succeeded == 4


@pytest.mark.parametrize("endpoints", ["abc", b"abc", "a"])
def test_a_bare_str_or_bytes_is_not_a_list_of_endpoints(endpoints: object) -> None:
    with pytest.raises(consistent.InvalidTypeError, match="iterable of names"):
        Pool(endpoints, rng=random.Random(0))  # type: ignore[arg-type]


def test_empty_endpoint_names_are_refused() -> None:
    with pytest.raises(consistent.InvalidArgumentError, match="non-empty"):
        Pool(["a", ""], rng=random.Random(0))
    pool = make("ab")
    with pytest.raises(consistent.InvalidArgumentError, match="non-empty"):
        pool.add("", 0.0)
    assert pool.endpoints == ("a", "b")
    pool._check()


@pytest.mark.parametrize("healthy", [None, "yes", 1, 0, "", 1.0])
def test_report_check_takes_a_bool(healthy: object) -> None:
    pool = make("ab")
    fail(pool, "a", 0.0)
    before = pool.stats()
    with pytest.raises(consistent.InvalidTypeError, match="healthy must be a bool"):
        pool.report_check("a", healthy, 5.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pool.report_check("b", healthy, 5.0)  # type: ignore[arg-type]
    assert pool.stats() == before


@pytest.mark.parametrize("attempt", [0, -1, True, 1.0, "1"])
def test_attempt_numbers_start_at_one_everywhere(attempt: object) -> None:
    budget = RetryBudget()
    with pytest.raises(
        consistent.InvalidArgumentError, match="attempt must be an int of at least 1"
    ):
        RetryPolicy().should_retry(attempt, "failure", budget, 0.0)  # type: ignore[arg-type]
    with pytest.raises(
        consistent.InvalidArgumentError, match="attempt must be an int of at least 1"
    ):
        ExponentialBackoff().delay(attempt, random.Random(0))  # type: ignore[arg-type]
    assert budget.balance(0.0) == RetryBudget().balance(0.0)  # nothing withdrawn


def test_should_retry_refuses_an_unknown_outcome_with_the_librarys_error() -> None:
    with pytest.raises(consistent.InvalidArgumentError, match="outcome must be one of"):
        RetryPolicy().should_retry(1, "boom", None, 0.0)


def test_every_pool_argument_error_is_a_consistent_error() -> None:
    cases = [
        lambda: Pool(rng=random.Random(0), strategy="x"),
        lambda: Pool(rng=object()),  # type: ignore[arg-type]
        lambda: Pool([3], rng=random.Random(0)),  # type: ignore[list-item]
        lambda: make().finish(99, "success", 0.0),
        lambda: make().finish(make().start("a", 0.0), "boom", 0.0),
        lambda: SuccessRateEjection(threshold=2),
        lambda: ExponentialBackoff(base=-1),
        lambda: RetryPolicy(max_attempts=0),
        lambda: RetryBudget(ratio=-1),
    ]
    for call in cases:
        with pytest.raises(consistent.ConsistentError):
            call()


# -- mechanisms for the presets (issue 14) --------------------------------------------------


class FixedDraw(random.Random):
    """``random()`` returns the given values in turn (then repeats the last)."""

    def __new__(cls, *values: float) -> FixedDraw:
        # Python 3.10's Random.__new__ takes at most one argument (a seed).
        return super().__new__(cls)

    def __init__(self, *values: float) -> None:
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


def test_latency_defaults_to_the_time_since_start_and_feeds_peak_ewma() -> None:
    pool = Pool(["a", "b"], rng=random.Random(0), strategy="p2c_peak_ewma")
    a = pool._by_name["a"]
    pool.finish(pool.start("a", 1.0), "success", 1.5)  # latency 0.5, first observation
    assert (a.cost, a.stamp) == (0.5, 1.5)
    pool.finish(pool.start("a", 2.0), "success", 2.1, latency=2.0)  # a peak: taken as is
    assert (a.cost, a.stamp) == (2.0, 2.1)
    pool.finish(pool.start("a", 12.1), "success", 12.1, latency=0.0)  # 10 s later: w = 1/e
    assert a.cost == pytest.approx(2.0 / math.e)


def test_peak_ewma_load_decays_and_penalises_unknown_busy_endpoints() -> None:
    pool = Pool(["a", "b"], rng=random.Random(0), strategy="p2c_peak_ewma")
    chooser = pool._chooser
    a, b = pool._by_name["a"], pool._by_name["b"]
    pool.finish(pool.start("a", 0.0), "success", 1.0)  # cost 1.0 at t = 1
    assert chooser.load(a, 11.0) == pytest.approx(math.exp(-1.0))  # type: ignore[attr-defined]
    pool.start("b", 11.0)
    assert chooser.load(b, 11.0) > 1e12  # type: ignore[attr-defined]
    assert pool.pick(11.0) == "a"


def test_peak_ewma_prefers_the_faster_endpoint() -> None:
    pool = Pool(["fast", "slow"], rng=random.Random(3), strategy="p2c_peak_ewma")
    now = 0.0
    for _ in range(20):
        pool.finish(pool.start("fast", now), "success", now + 0.01)
        pool.finish(pool.start("slow", now), "success", now + 0.5)
        now += 0.5
    assert collections.Counter(pool.pick(now) for _ in range(20)) == {"fast": 20}


def test_least_request_draws_with_replacement_and_honours_weights() -> None:
    pool = Pool(["a", "b"], rng=FixedDraw(0.1, 0.1), strategy="least_request")
    assert pool.pick(0.0) == "a"  # the same endpoint twice: allowed (with replacement)
    pool.start("a", 0.0)
    pool2 = Pool(["a", "b"], rng=FixedDraw(0.1, 0.9), strategy="least_request")
    pool2.start("a", 0.0)
    assert pool2.pick(0.0) == "b"
    weighted = Pool(
        ["a", "b"],
        rng=FixedDraw(0.1, 0.9),
        strategy="least_request",
        strategy_options={"weights": {"a": 4.0}},
    )
    weighted.start("a", 0.0)  # a: 2 / 4 = 0.5 < b: 1 / 1
    assert weighted.pick(0.0) == "a"
    with pytest.raises(consistent.InvalidArgumentError, match="weight must be a positive"):
        Pool(
            ["a"],
            rng=random.Random(0),
            strategy="least_request",
            strategy_options={"weights": {"a": 0}},
        )
    with pytest.raises(consistent.InvalidArgumentError, match="choice_count"):
        Pool(
            ["a"],
            rng=random.Random(0),
            strategy="least_request",
            strategy_options={"choice_count": 1},
        )


def test_strategy_options_must_fit_the_strategy() -> None:
    with pytest.raises(consistent.InvalidArgumentError, match="do not fit strategy 'p2c'"):
        Pool(["a"], rng=random.Random(0), strategy_options={"decay_time": 1.0})
    with pytest.raises(consistent.InvalidTypeError, match="strategy_options must be a mapping"):
        Pool(["a"], rng=random.Random(0), strategy_options=[1])  # type: ignore[arg-type]


def test_classify_decides_which_replies_are_failures() -> None:
    def status(reply: object) -> Outcome:
        return Outcome.FAILURE if reply == 503 else Outcome.SUCCESS

    pool = make("ab", classify=status, failure_threshold=2)
    pool.finish(pool.start("a", 0.0), 503, 0.0)  # type: ignore[arg-type]
    pool.finish(pool.start("a", 0.0), 200, 0.0)  # type: ignore[arg-type]
    pool.finish(pool.start("a", 0.0), "failure", 0.0)  # outcome strings bypass classify
    assert pool.stats()["a"].succeeded == 1 and pool.stats()["a"].failed == 2
    assert "classify=" in repr(pool)
    bad = make("ab", classify=lambda reply: "maybe")
    request = bad.start("a", 0.0)
    with pytest.raises(consistent.InvalidArgumentError, match="classify must return an outcome"):
        bad.finish(request, 503, 0.0)  # type: ignore[arg-type]
    assert bad.pending == 1
    with pytest.raises(consistent.InvalidTypeError, match="classify must be callable"):
        make("a", classify=3)


def test_panic_threshold_panics_below_the_healthy_share() -> None:
    pool = make("abcd", panic_threshold=0.5, failure_threshold=1)
    fail(pool, "a", 0.0)
    fail(pool, "b", 0.0)
    assert not pool.in_panic  # 2 of 4 healthy: not below one half
    fail(pool, "c", 0.0)
    assert pool.in_panic  # 1 of 4: every endpoint is a candidate again
    assert {pool.pick(0.0) for _ in range(40)} == set("abcd")
    pool._check()
    with pytest.raises(consistent.InvalidArgumentError, match="panic_threshold"):
        make("a", panic_threshold=1.5)


def test_timed_ejection_schedules_no_health_checks_and_readmits_by_time() -> None:
    detection = consistent.OutlierDetection(interval=None, base_ejection_time=2.0)
    events: list[PoolEvent] = []
    pool = make("ab", outlier_detection=detection, observer=events.append)
    fail(pool, "a", 1.0)
    s = pool.stats()["a"]
    assert (s.state, s.next_check_at, s.readmit_at) == ("ejected", None, 3.0)
    assert pool.next_check_at() is None and pool.next_event_at() == 3.0
    assert pool.due_checks(100.0) == []  # no checks; the call runs the re-admission at 3 s
    assert pool.next_event_at() is None
    assert events[-1] == PoolEvent(3.0, "a", "ejected", "healthy", "ejection_expired")
    fail(pool, "a", 4.0)  # second in a row: 4 s
    assert pool.stats()["a"].readmit_at == 8.0 and pool.next_event_at() == 8.0
    pool.report_check("a", False, 5.0)  # a failed check on an ejected endpoint changes nothing
    assert pool.stats()["a"].readmit_at == 8.0
    pool.report_check("a", True, 5.0)  # a passing check re-admits at once
    assert pool.is_healthy("a") and pool.next_event_at() is None
    pool._check()


def test_interval_evaluations_run_lazily_at_their_own_times() -> None:
    detection = consistent.OutlierDetection(
        interval=10.0,
        base_ejection_time=10.0,
        failure_percentage=consistent.FailurePercentage(minimum_hosts=2, request_volume=2),
    )
    events: list[PoolEvent] = []
    pool = Pool(
        list("abc"),
        rng=random.Random(0),
        failure_threshold=None,
        outlier_detection=detection,
        observer=events.append,
        now=5.0,
    )
    assert pool.next_event_at() == 15.0
    fail(pool, "a", 6.0)
    fail(pool, "a", 7.0)
    succeed(pool, "b", 7.0)
    succeed(pool, "b", 7.0)
    pool.pick(40.0)  # evaluations at 15 (eject a), 25 (a back: 10 s passed), 35
    reasons = [(e.time, e.endpoint, e.reason) for e in events if e.reason != "added"]
    assert reasons == [(15.0, "a", "failure_percentage"), (25.0, "a", "ejection_expired")]
    assert pool.next_event_at() == 45.0
    pool._check()


def test_outlier_detection_configuration_errors() -> None:
    with pytest.raises(consistent.InvalidArgumentError, match="give an interval"):
        consistent.OutlierDetection(interval=None, success_rate=consistent.SuccessRateOutliers())
    with pytest.raises(consistent.InvalidArgumentError, match="order must be"):
        consistent.OutlierDetection(order="linkerd")  # type: ignore[arg-type]
    with pytest.raises(consistent.InvalidArgumentError, match="interval must be a positive"):
        consistent.OutlierDetection(interval=0)
    with pytest.raises(consistent.InvalidArgumentError, match="threshold must be a percentage"):
        consistent.FailurePercentage(threshold=101)
    with pytest.raises(consistent.InvalidArgumentError, match="minimum_hosts"):
        consistent.SuccessRateOutliers(minimum_hosts=0)
    with pytest.raises(consistent.InvalidTypeError, match="outlier_detection must be"):
        make("a", outlier_detection={"interval": 10})


def test_new_configuration_objects_have_valid_python_reprs() -> None:
    namespace = {name: getattr(consistent, name) for name in consistent.__all__}
    namespace["random"] = random
    for name in consistent.PRESETS:
        pool = Pool.preset(name, ["a", "b"], rng=random.Random(0))
        namespace.update(
            http_5xx_fails=consistent._presets.http_5xx_fails,
            http_never_fails=consistent._presets.http_never_fails,
        )
        again = eval(repr(pool), namespace)
        assert repr(again) == repr(pool)
