"""Tests of consistent._strategies: each strategy against a naive transcription of its source.

The naive models are written from the reference code (poolee's ``lib/pool.js``, Finagle's
``P2CPick.scala``/``Balancer.scala``/``PeakEwma.scala``, Envoy's least-request rule) and from the
pool's original inline strategies, and are compared on random states and draw sequences.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from consistent._endpoint import EndpointRecord
from consistent._strategies import (
    P2C,
    FinagleP2C,
    FirstIdle,
    LeastRequest,
    PeakEwma,
    Poolee,
    RandomChoice,
    RoundRobin,
)

FAST = settings(max_examples=300, deadline=None)


def records(pending: list[int], healthy: list[bool]) -> list[EndpointRecord]:
    out = []
    for i, (p, h) in enumerate(zip(pending, healthy, strict=True)):
        record = EndpointRecord(f"e{i}", i, 0)
        record.state = "healthy" if h else "ejected"
        record.pending = p
        out.append(record)
    return out


def feeder(draws: list[float]) -> Callable[[], float]:
    it = iter(draws)
    return lambda: next(it)


states = st.integers(1, 9).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 6), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)
draws = st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=12, max_size=12)


def poolee_get_node(nodes: list[EndpointRecord], u: float) -> EndpointRecord | None:
    """lib/pool.js lines 186-215, line by line (maxPending never reached here)."""
    length = len(nodes)
    h = []
    total = 0
    r = math.floor(u * length)
    for _ in range(length):
        r = (r + 1) % length
        node = nodes[r]
        ready = node.state == "healthy" and node.pending == 0
        if ready:
            return node
        if node.state == "healthy":
            h.append(node)
            total += node.pending
    if not h:
        return None
    avg = total / len(h)
    while h:
        node = h.pop()
        if node.pending <= avg:
            return node
    return None


@FAST
@given(state=states, u=st.floats(0.0, 1.0, exclude_max=True))
def test_poolee_is_get_node(state: tuple[list[int], list[bool]], u: float) -> None:
    pending, healthy = state
    nodes = records(pending, healthy)
    expected = poolee_get_node(nodes, u)
    chosen = Poolee(lambda: u).choose(nodes, 0.0)
    if expected is None and not any(healthy):
        # The pool's panic: every member counts as healthy (poolee itself has none).
        everyone = records(pending, [True] * len(pending))
        expected = everyone[poolee_get_node(everyone, u).order]  # type: ignore[union-attr]
        assert chosen is not None and chosen.order == expected.order
        return
    assert chosen is expected


def finagle_apply(nodes: list[EndpointRecord], draw: Callable[[], float], effort: int) -> int:
    """P2CPick.pick + Balancer.apply's maxEffort loop, with ``rng.nextInt(k) = floor(u * k)``."""

    def is_open(node: EndpointRecord) -> bool:
        return node.state == "healthy" and not (node.probation and node.pending)

    def pick() -> EndpointRecord:
        if len(nodes) == 1:
            return nodes[0]
        a = math.floor(draw() * len(nodes))
        b = math.floor(draw() * (len(nodes) - 1))
        if b >= a:
            b = b + 1
        node_a, node_b = nodes[a], nodes[b]
        if is_open(node_a) == is_open(node_b):
            return node_a if node_a.pending <= node_b.pending else node_b
        return node_a if is_open(node_a) else node_b

    for _ in range(effort):
        node = pick()
        if is_open(node):
            return node.order
    return pick().order


@FAST
@given(state=states, us=draws, effort=st.integers(0, 4))
def test_finagle_p2c_is_p2cpick_with_max_effort(
    state: tuple[list[int], list[bool]], us: list[float], effort: int
) -> None:
    pending, healthy = state
    nodes = records(pending, healthy)
    expected = finagle_apply(nodes, feeder(us), effort)
    assert FinagleP2C(feeder(us), max_effort=effort).choose(nodes, 0.0).order == expected


def original_choose(strategy: str, cand: list[EndpointRecord], draw: Callable[[], float]) -> int:
    """The pool's inline strategies before they became collaborators (commit 1b6023d)."""
    n = len(cand)
    if n == 1:
        return cand[0].order
    if strategy == "p2c":
        i = int(draw() * n)
        j = int(draw() * (n - 1))
        if j >= i:
            j += 1
        return (cand[j] if cand[j].pending < cand[i].pending else cand[i]).order
    if strategy == "random":
        return cand[int(draw() * n)].order
    start = int(draw() * n)
    best = cand[start]
    for k in range(start, start + n):
        record = cand[k % n]
        if record.pending == 0:
            return record.order
        if record.pending < best.pending:
            best = record
    return best.order


@FAST
@given(state=states, us=draws)
def test_original_strategies_make_the_same_choices_and_draws(
    state: tuple[list[int], list[bool]], us: list[float]
) -> None:
    pending, _ = state
    cand = records(pending, [True] * len(pending))
    for name, cls in (("p2c", P2C), ("random", RandomChoice), ("first_idle", FirstIdle)):
        used_new: list[float] = []
        used_old: list[float] = []
        it_new, it_old = iter(us), iter(us)

        def new_draw(used: list[float] = used_new, it=it_new) -> float:
            used.append(next(it))
            return used[-1]

        def old_draw(used: list[float] = used_old, it=it_old) -> float:
            used.append(next(it))
            return used[-1]

        assert cls(new_draw).choose(cand, 0.0).order == original_choose(name, cand, old_draw)
        assert used_new == used_old


def test_round_robin_cursor_survives_membership_changes() -> None:
    rr = RoundRobin(lambda: 0.0)
    five = records([0] * 5, [True] * 5)
    assert [rr.choose(five, 0.0).order for _ in range(3)] == [0, 1, 2]
    three = five[:3]
    assert [rr.choose(three, 0.0).order for _ in range(3)] == [0, 1, 2]  # 3 % 3 = 0


@FAST
@given(state=states, us=draws, count=st.integers(2, 4))
def test_least_request_is_envoys_unweighted_rule(
    state: tuple[list[int], list[bool]], us: list[float], count: int
) -> None:
    pending, _ = state
    cand = records(pending, [True] * len(pending))
    it = iter(us)
    best = cand[math.floor(next(it) * len(cand))] if len(cand) > 1 else cand[0]
    if len(cand) > 1:
        for _ in range(count - 1):
            other = cand[math.floor(next(it) * len(cand))]
            if other.pending < best.pending:
                best = other
    assert LeastRequest(feeder(us), choice_count=count).choose(cand, 0.0) is best


class FinagleEma:
    """com.twitter.finagle.util.Ema, transcribed."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.time: float | None = None
        self.ewma = 0.0

    def update(self, stamp: float, x: float) -> float:
        if self.time is None:
            self.time = stamp
            self.ewma = x
        else:
            td = stamp - self.time
            self.time = stamp
            w = math.exp(-td / self.window)
            self.ewma = x * (1 - w) + self.ewma * w
        return self.ewma

    def reset(self) -> None:
        self.time = None
        self.ewma = 0.0


class FinagleMetric:
    """PeakEwma.scala's Metric (observe, get), with our clock."""

    def __init__(self, decay: float) -> None:
        self.cost = FinagleEma(decay)
        self.stamp = 0.0
        self.pending = 0

    def observe(self, now: float, rtt: float) -> None:
        if now - self.stamp > 0:
            self.stamp = now
        if rtt > self.cost.ewma:
            self.cost.reset()
        self.cost.update(self.stamp, rtt)

    def get(self, now: float) -> float:
        if self.cost.time is not None:  # (an empty Ema stays 0 either way)
            self.observe(now, 0.0)
        last = self.cost.ewma
        if last == 0.0 and self.pending:
            return float((2**63 - 1) >> 16) + self.pending
        return last * (self.pending + 1)


@FAST
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["observe", "get", "start"]), st.floats(0.0, 3.0), st.floats(0.001, 2.0)
        ),
        max_size=30,
    )
)
def test_peak_ewma_is_finagles_metric(steps: list[tuple[str, float, float]]) -> None:
    strategy = PeakEwma(lambda: 0.0, decay_time=2.0)
    record = records([0], [True])[0]
    model = FinagleMetric(2.0)
    now = 0.0
    for kind, dt, rtt in steps:
        now += dt
        if kind == "observe":
            strategy.observe(record, rtt, now)
            model.observe(now, rtt)
        elif kind == "start":
            record.pending += 1
            model.pending += 1
        else:
            assert math.isclose(strategy.load(record, now), model.get(now), rel_tol=1e-12)
