"""Tests of consistent._backoff: formulas, bounds, the monotonic envelope, bad configuration."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consistent import CheckSchedule, ExponentialBackoff, Jitter
from consistent._errors import InvalidArgumentError, InvalidTypeError

FAST = settings(max_examples=150, deadline=None)

bases = st.floats(min_value=1e-3, max_value=100.0)
factors = st.floats(min_value=1.0, max_value=10.0)
cap_ratios = st.floats(min_value=1.0, max_value=1e4)
attempts = st.integers(min_value=1, max_value=2_000)
jitters = st.sampled_from(list(Jitter))
seeds = st.integers(min_value=0, max_value=2**32)


@st.composite
def backoffs(draw: st.DrawFn, jitter: st.SearchStrategy[Jitter] = jitters) -> ExponentialBackoff:
    base = draw(bases)
    return ExponentialBackoff(
        base=base, factor=draw(factors), cap=base * draw(cap_ratios), jitter=draw(jitter)
    )


def test_nominal_sequence() -> None:
    b = ExponentialBackoff(base=0.5, factor=2.0, cap=30.0, jitter="none")
    rng = random.Random(0)
    assert [b.delay(n, rng) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_huge_attempt_saturates_without_overflow() -> None:
    b = ExponentialBackoff(base=1, factor=10, cap=5, jitter="none")
    assert b.delay(10**6, random.Random(0)) == 5.0
    assert b.nominal(10**6) == 5.0


def test_factor_one_is_constant() -> None:
    b = ExponentialBackoff(base=2, factor=1, cap=2, jitter="none")
    assert {b.delay(n, random.Random(0)) for n in range(1, 50)} == {2.0}


@FAST
@given(backoffs(), attempts)
def test_nominal_is_a_monotonic_envelope_below_cap(b: ExponentialBackoff, n: int) -> None:
    assert b.nominal(1) == b.base
    assert b.base <= b.nominal(n) <= b.cap
    assert b.nominal(n) <= b.nominal(n + 1)


@FAST
@given(backoffs(), attempts, seeds)
def test_jittered_delay_bounds(b: ExponentialBackoff, n: int, seed: int) -> None:
    delay = b.delay(n, random.Random(seed))
    nominal = b.nominal(n)
    assert math.isfinite(delay)
    if b.jitter is Jitter.NONE:
        assert delay == nominal
    elif b.jitter is Jitter.FULL:
        assert 0.0 <= delay <= nominal
    elif b.jitter is Jitter.EQUAL:
        assert nominal / 2 <= delay <= nominal
    else:
        assert b.base <= delay <= b.nominal(n + 1) <= b.cap


@FAST
@given(backoffs(st.just(Jitter.DECORRELATED)), attempts, seeds, st.floats(0, 1e6))
def test_decorrelated_with_previous(
    b: ExponentialBackoff, n: int, seed: int, previous: float
) -> None:
    delay = b.delay(n, random.Random(seed), previous)
    assert b.base <= delay <= b.cap
    assert delay <= max(b.base, b.factor * previous)


@FAST
@given(backoffs(st.just(Jitter.DECORRELATED)), seeds)
def test_decorrelated_chain_stays_in_range(b: ExponentialBackoff, seed: int) -> None:
    rng = random.Random(seed)
    previous = None
    for n in range(1, 30):
        delay = b.delay(n, rng, previous)
        assert b.base <= delay <= b.cap
        previous = delay


@FAST
@given(backoffs(), attempts, seeds)
def test_same_seed_same_delays(b: ExponentialBackoff, n: int, seed: int) -> None:
    first = [b.delay(k, random.Random(seed)) for k in range(n, n + 5)]
    second = [b.delay(k, random.Random(seed)) for k in range(n, n + 5)]
    assert first == second


def test_jitter_spreads_delays() -> None:
    b = ExponentialBackoff(base=1, factor=2, cap=100, jitter=Jitter.FULL)
    rng = random.Random(5)
    delays = [b.delay(4, rng) for _ in range(4000)]
    assert abs(sum(delays) / len(delays) - 4.0) < 0.15  # mean of uniform(0, 8)
    assert min(delays) < 0.1 and max(delays) > 7.9


@pytest.mark.parametrize("jitter", ["none", "full", "equal", "decorrelated", *Jitter])
def test_jitter_accepts_strings_and_members(jitter: str | Jitter) -> None:
    b = ExponentialBackoff(jitter=jitter)
    assert b.jitter is Jitter(jitter)
    assert isinstance(b.jitter, Jitter)


def test_repr_is_valid_python_and_equality() -> None:
    b = ExponentialBackoff(base=0.5, factor=2.0, cap=30.0, jitter=Jitter.FULL)
    assert repr(b) == "ExponentialBackoff(base=0.5, factor=2.0, cap=30.0, jitter='full')"
    again = eval(repr(b), {"ExponentialBackoff": ExponentialBackoff})
    assert again == b and hash(again) == hash(b)
    assert b != ExponentialBackoff(base=0.5, factor=2.0, cap=30.0, jitter="equal")
    assert repr(Jitter.EQUAL) == "Jitter.EQUAL"
    assert eval(repr(Jitter.EQUAL)) is Jitter.EQUAL


def test_immutable() -> None:
    b = ExponentialBackoff()
    with pytest.raises(AttributeError):
        b.base = 3.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"base": -1}, ValueError, "base must be a positive finite number, got -1"),
        ({"base": 0}, ValueError, "base must be a positive"),
        ({"base": math.nan}, ValueError, "base must be"),
        ({"base": math.inf, "cap": math.inf}, ValueError, "base must be"),
        ({"base": "1"}, TypeError, "base must be a positive number, got str"),
        ({"base": True}, TypeError, "base must be a positive number, got bool"),
        ({"factor": 0.5}, ValueError, "factor must be at least 1, got 0.5"),
        ({"base": 2, "cap": 1}, ValueError, "cap must be at least base (2), got 1"),
        ({"cap": math.inf}, ValueError, "cap must be a positive finite number"),
        ({"jitter": "fuzzy"}, ValueError, "jitter must be one of"),
        ({"jitter": 3}, ValueError, "got 3"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        ExponentialBackoff(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("attempt", [0, -1, True, 1.0, "1"])
def test_bad_attempt(attempt: object) -> None:
    b = ExponentialBackoff()
    with pytest.raises(ValueError, match="attempt must be an int of at least 1"):
        b.delay(attempt, random.Random(0))  # type: ignore[arg-type]


def test_negative_previous_rejected() -> None:
    b = ExponentialBackoff(jitter="decorrelated")
    with pytest.raises(ValueError, match="previous must be a non-negative delay"):
        b.delay(2, random.Random(0), previous=-1.0)


def test_none_jitter_draws_nothing() -> None:
    rng = random.Random(9)
    state = rng.getstate()
    ExponentialBackoff(jitter="none").delay(3, rng)
    assert rng.getstate() == state


# -- CheckSchedule -------------------------------------------------------------------------


@FAST
@given(
    backoff=backoffs(),
    first=st.one_of(st.none(), st.floats(0.0, 10.0)),
    offset=st.floats(0.0, 1.0),
    resolution=st.one_of(st.none(), st.sampled_from([0.001, 0.01, 0.5])),
    cap=st.one_of(st.none(), st.floats(0.01, 1e3)),
    attempt=st.integers(1, 60),
    seed=seeds,
)
def test_check_schedule_order_first_offset_resolution_cap(
    backoff: ExponentialBackoff,
    first: float | None,
    offset: float,
    resolution: float | None,
    cap: float | None,
    attempt: int,
    seed: int,
) -> None:
    schedule = CheckSchedule(backoff, first=first, offset=offset, resolution=resolution, cap=cap)
    wait = schedule.delay(attempt, random.Random(seed))
    if first is not None and attempt == 1:
        assert wait == first
        return
    n = attempt - 1 if first is not None else attempt
    raw = backoff.delay(n, random.Random(seed)) + offset  # the same single draw
    expected = raw
    if resolution is not None:
        expected = math.floor(raw / resolution + 1e-9) * resolution
    if cap is not None:
        expected = min(expected, cap)
    assert wait == expected


def test_check_schedule_reproduces_poolees_pinger() -> None:
    """poolee 1.0.1 lib/pinger.js: at once, then min(floor(U * 2**k + 10), 10000) ms."""
    schedule = CheckSchedule(
        ExponentialBackoff(0.002, 2.0, 1e12, "full"),
        first=0.0,
        offset=0.010,
        resolution=0.001,
        cap=10.0,
    )
    assert schedule.delay(1, random.Random(0)) == 0.0
    for k in range(1, 30):
        u = random.Random(k).random()
        expected_ms = min(math.floor(u * 2**k + 10), 10000)
        assert round(schedule.delay(k + 1, random.Random(k)) * 1000) == expected_ms


def test_check_schedule_reproduces_finagles_equal_jittered_backoff() -> None:
    """Finagle Backoff.equalJittered(5 s, 300 s): 5 s, then [5*2^(k-2), 5*2^(k-1)), max 300 s."""
    schedule = CheckSchedule(ExponentialBackoff(10.0, 2.0, 1e12, "equal"), first=5.0, cap=300.0)
    assert schedule.delay(1, random.Random(0)) == 5.0
    for k in range(2, 20):
        wait = schedule.delay(k, random.Random(k))
        assert min(300.0, 5 * 2 ** (k - 2)) <= wait <= min(300.0, 5 * 2 ** (k - 1))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"backoff": 1.0}, InvalidTypeError),
        ({"first": -1.0}, InvalidArgumentError),
        ({"offset": float("nan")}, InvalidArgumentError),
        ({"resolution": 0}, InvalidArgumentError),
        ({"cap": "1"}, InvalidTypeError),
    ],
)
def test_check_schedule_bad_configuration(kwargs: dict[str, object], error: type) -> None:
    arguments: dict[str, object] = {"backoff": ExponentialBackoff()}
    arguments.update(kwargs)
    with pytest.raises(error):
        CheckSchedule(**arguments)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="attempt"):
        CheckSchedule(ExponentialBackoff()).delay(0, random.Random(0))
