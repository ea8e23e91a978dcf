"""Stateful test of Pool against a naive model.

The model keeps, per endpoint, its state, failure streak, counters and the time its next
health check is due, recomputed from the backoff's formula (no jitter here, so due times are
exact). Rules drive both; invariants compare them and call ``Pool._check()``. Checked:

* an ejected endpoint is never picked outside panic, and panic happens exactly when no
  endpoint is healthy;
* checks are due exactly when the policy says; a passing check re-admits;
* the ejection cap is respected;
* counts are conserved: started = succeeded + failed + timed out + upstream + pending;
* an upstream reply is held against the endpoint only with ``eject_on_upstream``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from consistent import (
    STRATEGIES,
    ExponentialBackoff,
    NoHealthyEndpointError,
    Outcome,
    OutlierDetection,
    Pool,
    PoolEvent,
)

NAMES = ["e0", "e1", "e2", "e3", "e4"]
BACKOFF = ExponentialBackoff(base=1.0, factor=2.0, cap=5.0, jitter="none")


@dataclass
class ModelEndpoint:
    """What the model knows of one endpoint."""

    healthy: bool = True
    streak: int = 0
    attempt: int = 0
    next_check: float | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            [
                "started",
                "success",
                "failure",
                "timeout",
                "upstream",
                "checks_passed",
                "checks_failed",
            ],
            0,
        )
    )
    pending: int = 0


class PoolMachine(RuleBasedStateMachine):
    """Drive a Pool and a model side by side."""

    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.model: dict[str, ModelEndpoint] = {}
        self.request_owner: dict[int, tuple[str, ModelEndpoint]] = {}
        self.events: list[PoolEvent] = []

    @initialize(
        strategy=st.sampled_from(STRATEGIES),
        threshold=st.integers(1, 3),
        share=st.sampled_from([1.0, 0.5, 0.3, 0.0]),
        panic=st.booleans(),
        initial=st.lists(st.sampled_from(NAMES), unique=True, max_size=4),
        seed=st.integers(0, 2**16),
        eject_on_upstream=st.booleans(),
    )
    def setup(
        self,
        strategy: str,
        threshold: int,
        share: float,
        panic: bool,
        initial: list[str],
        seed: int,
        eject_on_upstream: bool,
    ) -> None:
        self.threshold = threshold
        self.share = share
        self.panic = panic
        self.eject_on_upstream = eject_on_upstream
        self.pool = Pool(
            initial,
            rng=random.Random(seed),
            strategy=strategy,
            failure_threshold=threshold,
            max_ejection_share=share,
            health_check_backoff=BACKOFF,
            observer=self.events.append,
            panic=panic,
            eject_on_upstream=eject_on_upstream,
        )
        for name in initial:
            self.model[name] = ModelEndpoint()

    # -- model helpers ---------------------------------------------------------------------

    def healthy(self) -> list[str]:
        return [n for n, e in self.model.items() if e.healthy]

    def model_eject(self, name: str) -> bool:
        entry = self.model[name]
        ejected = sum(not e.healthy for e in self.model.values())
        allowed = math.floor(self.share * len(self.model) + 1e-9)
        if self.share > 0:
            allowed = max(allowed, 1)
        if ejected >= allowed:
            return False
        entry.healthy = False
        entry.streak = 0
        entry.attempt = 1
        entry.next_check = self.now + BACKOFF.nominal(1)
        return True

    # -- rules -------------------------------------------------------------------------------

    @rule(dt=st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule(name=st.sampled_from(NAMES))
    def add(self, name: str) -> None:
        if name in self.model:
            return
        self.pool.add(name, self.now)
        self.model[name] = ModelEndpoint()
        assert self.events[-1] == PoolEvent(self.now, name, "absent", "healthy", "added")

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name: str) -> None:
        if name not in self.model:
            return
        self.pool.remove(name, self.now)
        del self.model[name]

    @rule(target=requests, exclude=st.sets(st.sampled_from(NAMES), max_size=3))
    def acquire(self, exclude: set[str]) -> int:
        healthy = self.healthy()
        try:
            endpoint, request = self.pool.acquire(self.now, exclude=exclude)
        except NoHealthyEndpointError as error:
            assert not healthy and (not self.panic or not self.model)
            due = [e.next_check for e in self.model.values() if e.next_check is not None]
            assert error.available_at == (min(due) if due else None)
            return -1
        if healthy and self.pool.strategy == "finagle_p2c":
            # Finagle fails open: after max_effort draws of two that find no healthy member it
            # takes any member, so an ejected one may be picked; an excluded one only if every
            # healthy member is excluded.
            assert not self.pool.in_panic and endpoint in self.model
            if [n for n in healthy if n not in exclude]:
                assert endpoint not in exclude
        elif healthy:
            assert endpoint in healthy, "an ejected endpoint was picked outside panic"
            assert not self.pool.in_panic
            preferred = [n for n in healthy if n not in exclude]
            if preferred:
                assert endpoint in preferred
        else:
            assert self.panic and self.pool.in_panic
            assert endpoint in self.model
        entry = self.model[endpoint]
        entry.counts["started"] += 1
        entry.pending += 1
        self.request_owner[request] = (endpoint, entry)
        return request

    @rule(request=consumes(requests), outcome=st.sampled_from(list(Outcome)))
    def finish(self, request: int, outcome: Outcome) -> None:
        if request < 0:
            return
        self.pool.finish(request, outcome, self.now)
        name, entry = self.request_owner.pop(request)
        entry.pending -= 1
        entry.counts[outcome.value] += 1
        if outcome is Outcome.SUCCESS:
            entry.streak = 0
            return
        if outcome is Outcome.UPSTREAM and not self.eject_on_upstream:
            return  # not the endpoint's fault: the streak neither grows nor resets
        entry.streak += 1
        current = self.model.get(name)
        if current is entry and entry.healthy and entry.streak >= self.threshold:
            self.model_eject(name)

    @precondition(lambda self: any(not e.healthy for e in self.model.values()))
    @rule(data=st.data(), passed=st.booleans())
    def run_due_check(self, data: st.DataObject, passed: bool) -> None:
        due = self.pool.due_checks(self.now)
        order = {n: i for i, n in enumerate(self.model)}  # insertion order, as the pool's
        expected = sorted(
            (
                n
                for n, e in self.model.items()
                if e.next_check is not None and e.next_check <= self.now
            ),
            key=lambda n: (self.model[n].next_check, order[n]),
        )
        assert due == expected
        if not due:
            return
        name = data.draw(st.sampled_from(due))
        self.report(name, passed)

    @rule(name=st.sampled_from(NAMES), passed=st.booleans())
    def check_any(self, name: str, passed: bool) -> None:
        """Active checks at any time, on healthy or ejected endpoints."""
        if name in self.model:
            self.report(name, passed)

    def report(self, name: str, passed: bool) -> None:
        self.pool.report_check(name, passed, self.now)
        entry = self.model[name]
        if passed:
            entry.counts["checks_passed"] += 1
            if not entry.healthy:
                entry.healthy = True
                entry.streak = 0
                entry.attempt = 0
                entry.next_check = None
        else:
            entry.counts["checks_failed"] += 1
            if entry.healthy:
                self.model_eject(name)
            else:
                entry.attempt += 1
                entry.next_check = self.now + BACKOFF.nominal(entry.attempt)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        if not hasattr(self, "pool"):
            return
        pool = self.pool
        pool._check()
        assert set(pool.endpoints) == set(self.model)
        assert pool.healthy_endpoints() == tuple(n for n in pool.endpoints if self.model[n].healthy)
        assert pool.in_panic == (self.panic and bool(self.model) and not self.healthy())
        stats = pool.stats()
        for name, entry in self.model.items():
            s = stats[name]
            c = entry.counts
            assert s.state == ("healthy" if entry.healthy else "ejected")
            assert s.next_check_at == entry.next_check
            assert (s.started, s.succeeded, s.failed, s.timed_out, s.upstream, s.pending) == (
                c["started"],
                c["success"],
                c["failure"],
                c["timeout"],
                c["upstream"],
                entry.pending,
            )
            assert s.started == s.succeeded + s.failed + s.timed_out + s.upstream + s.pending
            assert (s.checks_passed, s.checks_failed) == (c["checks_passed"], c["checks_failed"])
            assert s.consecutive_failures == entry.streak
        due = [e.next_check for e in self.model.values() if e.next_check is not None]
        assert pool.next_check_at() == (min(due) if due else None)
        assert pool.pending == len(self.request_owner)


PoolMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
TestPoolStateful = PoolMachine.TestCase


# -- timed ejection (outlier_detection) against a naive model -----------------------------------


@dataclass
class TimedModel:
    """What the model knows of one endpoint under timed ejection."""

    healthy: bool = True
    streak: int = 0
    multiplier: int = 0
    ejected_at: float = 0.0
    duration: float = 0.0


class TimedPoolMachine(RuleBasedStateMachine):
    """Pool with OutlierDetection (consecutive failures, interval sweeps or exact expiry)."""

    requests = Bundle("requests")

    @initialize(
        interval=st.sampled_from([None, 1.0, 2.0]),
        threshold=st.integers(1, 3),
        share=st.sampled_from([1.0, 0.5, 0.2]),
        cap_multiplier=st.booleans(),
        strictly=st.booleans(),
        order=st.sampled_from(["envoy", "grpc"]),
        seed=st.integers(0, 2**16),
    )
    def setup(
        self,
        interval: float | None,
        threshold: int,
        share: float,
        cap_multiplier: bool,
        strictly: bool,
        order: str,
        seed: int,
    ) -> None:
        self.now = 0.0
        self.interval = interval
        self.threshold = threshold
        self.share = share
        self.cap_multiplier = cap_multiplier
        self.strictly = strictly
        self.base, self.max = 1.0, 3.0
        self.last_tick = 0.0
        self.model = {name: TimedModel() for name in NAMES}
        self.owner: dict[int, TimedModel] = {}
        self.pool = Pool(
            NAMES,
            rng=random.Random(seed),
            failure_threshold=threshold,
            max_ejection_share=share,
            outlier_detection=OutlierDetection(
                interval=interval,
                base_ejection_time=self.base,
                max_ejection_time=self.max,
                order=order,  # type: ignore[arg-type]
                cap_multiplier=cap_multiplier,
                readmit_after_strictly=strictly,
            ),
        )

    def expired(self, entry: TimedModel, at: float) -> bool:
        elapsed = at - entry.ejected_at
        return elapsed > entry.duration or (not self.strictly and elapsed >= entry.duration)

    def move_time(self, to: float) -> None:
        if self.interval is None:
            due = sorted(
                (e.ejected_at + e.duration, i)
                for i, e in enumerate(self.model.values())
                if not e.healthy and e.ejected_at + e.duration <= to
            )
            entries = list(self.model.values())
            for _, i in due:
                entries[i].healthy = True
                entries[i].streak = 0
        else:
            while self.last_tick + self.interval <= to:
                self.last_tick += self.interval
                for entry in self.model.values():
                    if not entry.healthy:
                        if self.expired(entry, self.last_tick):
                            entry.healthy = True
                            entry.streak = 0
                    elif entry.multiplier > 0:
                        entry.multiplier -= 1
        self.now = to

    def eject(self, entry: TimedModel) -> None:
        ejected = sum(not e.healthy for e in self.model.values())
        allowed = max(math.floor(self.share * len(self.model) + 1e-9), 1)
        if ejected >= allowed:
            return
        if not self.cap_multiplier or self.base * entry.multiplier < max(self.base, self.max):
            entry.multiplier += 1
        entry.healthy = False
        entry.streak = 0
        entry.ejected_at = self.now
        entry.duration = min(self.base * entry.multiplier, max(self.base, self.max))

    @rule(dt=st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]))
    def advance(self, dt: float) -> None:
        self.move_time(self.now + dt)

    @rule(target=requests)
    def acquire(self) -> int:
        endpoint, request = self.pool.acquire(self.now)
        healthy = [n for n, e in self.model.items() if e.healthy]
        if healthy:
            assert endpoint in healthy
        self.owner[request] = self.model[endpoint]
        return request

    @rule(request=consumes(requests), failed=st.booleans())
    def finish(self, request: int, failed: bool) -> None:
        self.pool.finish(request, Outcome.FAILURE if failed else Outcome.SUCCESS, self.now)
        entry = self.owner.pop(request)
        if not failed:
            entry.streak = 0
            return
        entry.streak += 1
        if entry.healthy and entry.streak >= self.threshold:
            self.eject(entry)

    @rule(name=st.sampled_from(NAMES))
    def passing_check(self, name: str) -> None:
        self.pool.report_check(name, True, self.now)
        entry = self.model[name]
        if not entry.healthy:
            entry.healthy = True
            entry.streak = 0
            entry.multiplier = 0

    @invariant()
    def agrees_with_model(self) -> None:
        if not hasattr(self, "pool"):
            return
        pool = self.pool
        pool.due_checks(self.now)  # runs the evaluations due by now
        pool._check()
        stats = pool.stats()
        for name, entry in self.model.items():
            s = stats[name]
            assert s.state == ("healthy" if entry.healthy else "ejected"), name
            assert s.consecutive_failures == entry.streak
            assert pool._by_name[name].multiplier == entry.multiplier
            if not entry.healthy:
                assert s.readmit_at == entry.ejected_at + entry.duration


TimedPoolMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)
TestTimedPoolStateful = TimedPoolMachine.TestCase
