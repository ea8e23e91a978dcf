"""Selection strategies of the pool: which endpoint a request goes to.

Theory of operation
-------------------
A strategy is a small object the :class:`~consistent.Pool` builds once, with the pool's
``random.Random().random``. The pool calls ``choose(candidates, now)`` with a non-empty list
of candidate records: the healthy endpoints (all of them in panic), less those at their
pending limit and, when the caller passes ``exclude``, those excluded. Strategies that walk
every member (``walks_members = True``: poolee's, Finagle's) get all members instead, in
insertion order, unhealthy ones included, and judge health themselves. A record exposes
``name``, ``state``, ``pending``, ``probation`` and the strategy's own per-endpoint slots
(``cost``, ``stamp``); nothing else of the pool is visible here.

Latency-aware strategies (``observes_latency = True``) are told each finished request's
latency through ``observe(record, latency, now)``; the others are never called.

Every random draw is one ``random()`` call, in a fixed order per strategy, so that a seeded
pool makes the same choices in the simulator and in production.

==================  ======================================================  ==============
name                choice                                                  after
==================  ======================================================  ==============
``p2c``             two distinct candidates at random, fewer pending wins   Finagle
``random``          uniformly at random                                     --
``round_robin``     in turn, in insertion order                             Envoy
``first_idle``      random start, first idle candidate, else least pending  --
``poolee``          poolee 1.0.1's ``get_node`` walk (see :class:`Poolee`)   poolee
``p2c_peak_ewma``   two distinct at random, lower peak-EWMA cost wins       Finagle/Linkerd
``least_request``   ``choice_count`` draws with replacement, fewest pending Envoy
``finagle_p2c``     p2c over all members, healthier first, ``max_effort``   Finagle
==================  ======================================================  ==============
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar, Final, Protocol

from consistent._errors import InvalidArgumentError, InvalidTypeError, PoolFullError

if TYPE_CHECKING:
    from consistent._endpoint import EndpointRecord as _Endpoint

__all__ = [
    "STRATEGY_CLASSES",
    "FinagleP2C",
    "FirstIdle",
    "LeastRequest",
    "P2C",
    "PeakEwma",
    "Poolee",
    "RandomChoice",
    "RoundRobin",
    "Strategy",
]

_HEALTHY: Final = "healthy"


class Strategy(Protocol):
    """What the pool needs of a strategy."""

    name: ClassVar[str]
    observes_latency: ClassVar[bool]
    walks_members: ClassVar[bool]

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint | None:
        """A candidate for the next request, or ``None`` when the strategy finds none."""

    def observe(self, record: _Endpoint, latency: float, now: float) -> None:
        """A request on ``record`` finished after ``latency`` (latency-aware strategies)."""


class _Base:
    """Shared construction: the pool's draw function."""

    name: ClassVar[str] = ""
    observes_latency: ClassVar[bool] = False
    walks_members: ClassVar[bool] = False
    __slots__ = ("_random",)

    def __init__(self, draw: Callable[[], float]) -> None:
        self._random = draw

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint | None:
        raise NotImplementedError  # pragma: no cover - every strategy defines it

    def observe(self, record: _Endpoint, latency: float, now: float) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class P2C(_Base):
    """Power of two choices: two distinct candidates, fewer pending wins (ties: the first).

    Runtime complexity: O(1), two draws.
    """

    name = "p2c"
    __slots__ = ()

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        draw = self._random
        i = int(draw() * n)
        j = int(draw() * (n - 1))
        if j >= i:
            j += 1
        first = candidates[i]
        second = candidates[j]
        return second if second.pending < first.pending else first


class RandomChoice(_Base):
    """Uniformly at random. Runtime complexity: O(1), one draw."""

    name = "random"
    __slots__ = ()

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        return candidates[int(self._random() * n)]


class RoundRobin(_Base):
    """In turn, in insertion order; the cursor survives membership changes (modulo the size).

    Runtime complexity: O(1), no draw.
    """

    name = "round_robin"
    __slots__ = ("_cursor",)

    def __init__(self, draw: Callable[[], float]) -> None:
        super().__init__(draw)
        self._cursor = 0

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        i = self._cursor % n
        self._cursor = i + 1
        return candidates[i]


class FirstIdle(_Base):
    """From a random start, the first candidate with nothing pending, else the least loaded met.

    The fallback is the strict minimum of pending requests (the first met on ties). This is
    *not* poolee's rule; :class:`Poolee` is.

    Runtime complexity: O(n), one draw.
    """

    name = "first_idle"
    __slots__ = ()

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        start = int(self._random() * n)
        best = candidates[start]
        for k in range(start, start + n):
            record = candidates[k % n]
            if record.pending == 0:
                return record
            if record.pending < best.pending:
                best = record
        return best


class Poolee(_Base):
    """poolee 1.0.1's ``Pool.prototype.get_node``, exactly (``lib/pool.js`` lines 186-215).

    One draw ``r = floor(U * n)`` over *all* members n (unhealthy ones included), then a walk
    of n steps starting at ``r + 1``: the first healthy idle member is taken. Meanwhile the
    healthy busy members are collected in walk order; if none was idle, the pending mean
    over them is computed, and the collected list is searched *backwards* (from the last
    met) for the first member at or below the mean. Because unhealthy members stay in the
    walk, the idle member right after a run of unhealthy ones is favoured, as in poolee.

    When no member is healthy and the pool allows panic, every member counts as healthy
    (poolee itself has no panic: its preset sets ``panic=False``).

    ``max_pending`` is poolee's ``maxPending`` (1000): consulted only when no member is idle,
    against the pending requests of all members.

    Runtime complexity: O(n), one draw.
    """

    name = "poolee"
    walks_members = True
    __slots__ = ("max_pending",)

    def __init__(self, draw: Callable[[], float], max_pending: int = 1000) -> None:
        super().__init__(draw)
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise InvalidArgumentError(f"max_pending must be a positive int, got {max_pending!r}")
        self.max_pending = max_pending

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint | None:
        n = len(candidates)
        r = int(self._random() * n)
        chosen = self._walk(candidates, n, r, panic=False)
        if chosen is None and not any(e.state is _HEALTHY for e in candidates):
            # The pool's panic (it passes us members only then): all count as healthy.
            chosen = self._walk(candidates, n, r, panic=True)
        return chosen

    def _walk(self, members: list[_Endpoint], n: int, r: int, panic: bool) -> _Endpoint | None:
        busy: list[_Endpoint] = []
        total = 0
        busy_sum = 0
        for _ in range(n):
            r = (r + 1) % n
            record = members[r]
            healthy = panic or record.state is _HEALTHY
            if healthy and record.pending == 0:
                return record
            if healthy:
                busy.append(record)
                busy_sum += record.pending
            total += record.pending
        if total >= self.max_pending:
            raise PoolFullError(
                f"the pool has {total} pending requests and no idle endpoint "
                f"(poolee's maxPending={self.max_pending})"
            )
        if not busy:
            return None
        mean = busy_sum / len(busy)
        while busy:
            record = busy.pop()
            if record.pending <= mean:
                return record
        return None  # pragma: no cover - the minimum is always at or below the mean

    def __repr__(self) -> str:
        return f"Poolee(max_pending={self.max_pending!r})"


class PeakEwma(_Base):
    """Power of two choices by peak-EWMA cost (Finagle's ``P2CPeakEwma``, Linkerd's balancer).

    Each endpoint keeps an exponentially weighted moving average of its latency that jumps
    to any observation above it (a *peak* EWMA) and otherwise decays with time constant
    ``decay_time``: ``cost = cost * w + latency * (1 - w)`` with ``w = exp(-dt / decay_time)``,
    where ``dt`` is the time since the previous observation (Finagle's ``Ema``). The load
    compared is ``cost * (pending + 1)``, with the cost first decayed to ``now``; an endpoint
    with no latency yet but requests pending is penalised (``2**47 + pending``, Finagle's
    ``Long.MaxValue >> 16``). The lower load wins; ties go to the first drawn.

    Runtime complexity: O(1), two draws.
    """

    name = "p2c_peak_ewma"
    observes_latency = True
    __slots__ = ("_inverse", "decay_time")

    PENALTY: ClassVar[float] = float((2**63 - 1) >> 16)

    def __init__(self, draw: Callable[[], float], decay_time: float = 10.0) -> None:
        super().__init__(draw)
        if isinstance(decay_time, bool) or not isinstance(decay_time, (int, float)):
            raise InvalidTypeError(f"decay_time must be a number, got {decay_time!r}")
        if not (decay_time > 0 and math.isfinite(decay_time)):
            raise InvalidArgumentError(
                f"decay_time must be positive and finite, got {decay_time!r}"
            )
        self.decay_time = float(decay_time)
        self._inverse = 1.0 / self.decay_time

    def load(self, record: _Endpoint, now: float) -> float:
        """The record's load at ``now``: its cost decayed to ``now``, times ``pending + 1``.

        Like Finagle's ``Metric.get``, this first observes a latency of 0 at ``now`` (the
        cost decays), so it mutates the record.
        """
        stamp = record.stamp
        if stamp is not None and now > stamp:
            record.cost *= math.exp((stamp - now) * self._inverse)
            record.stamp = now
        cost = record.cost
        if cost == 0.0 and record.pending:
            return self.PENALTY + record.pending
        return cost * (record.pending + 1)

    def observe(self, record: _Endpoint, latency: float, now: float) -> None:
        stamp = record.stamp
        if stamp is None or latency > record.cost:
            # No history, or a peak: Finagle resets the average and takes the latency as is.
            record.cost = latency
            record.stamp = now
        elif now > stamp:
            weight = math.exp((stamp - now) * self._inverse)
            record.cost = latency * (1.0 - weight) + record.cost * weight
            record.stamp = now
        # else: an observation at the same instant has weight 1, the average is unchanged

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        draw = self._random
        i = int(draw() * n)
        j = int(draw() * (n - 1))
        if j >= i:
            j += 1
        first = candidates[i]
        second = candidates[j]
        load = self.load
        return first if load(first, now) <= load(second, now) else second

    def __repr__(self) -> str:
        return f"PeakEwma(decay_time={self.decay_time!r})"


class LeastRequest(_Base):
    """Envoy's least-request balancer: ``choice_count`` draws *with replacement*, fewest pending.

    With equal weights this is Envoy's documented algorithm (``choice_count`` default 2; ties
    keep the earlier draw). With ``weights`` (name -> positive weight, 1 for names not
    listed), each draw is compared by ``(pending + 1) ** active_request_bias / weight``, the
    weighted form of the same rule (Envoy instead schedules weighted hosts with an EDF
    scheduler over ``weight / (pending + 1) ** bias``: the same preference, not the same
    sequence).

    Runtime complexity: O(choice_count), ``choice_count`` draws.
    """

    name = "least_request"
    __slots__ = ("active_request_bias", "choice_count", "weights")

    def __init__(
        self,
        draw: Callable[[], float],
        choice_count: int = 2,
        weights: Mapping[str, float] | None = None,
        active_request_bias: float = 1.0,
    ) -> None:
        super().__init__(draw)
        if isinstance(choice_count, bool) or not isinstance(choice_count, int) or choice_count < 2:
            raise InvalidArgumentError(
                f"choice_count must be an int of at least 2, got {choice_count!r}"
            )
        self.choice_count = choice_count
        if weights is not None:
            for key, weight in weights.items():
                if (
                    isinstance(weight, bool)
                    or not isinstance(weight, (int, float))
                    or not (weight > 0 and math.isfinite(weight))
                ):
                    raise InvalidArgumentError(
                        f"weight must be a positive number, got {weight!r} for endpoint {key!r}"
                    )
            weights = dict(weights)
        self.weights = weights
        self.active_request_bias = float(active_request_bias)

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        draw = self._random
        best = candidates[int(draw() * n)]
        weights = self.weights
        if weights is None:
            if self.choice_count == 2:
                other = candidates[int(draw() * n)]
                return other if other.pending < best.pending else best
            for _ in range(self.choice_count - 1):
                other = candidates[int(draw() * n)]
                if other.pending < best.pending:
                    best = other
            return best
        bias = self.active_request_bias
        best_load = (best.pending + 1) ** bias / weights.get(best.name, 1.0)
        for _ in range(self.choice_count - 1):
            other = candidates[int(draw() * n)]
            load = (other.pending + 1) ** bias / weights.get(other.name, 1.0)
            if load < best_load:
                best, best_load = other, load
        return best

    def __repr__(self) -> str:
        return (
            f"LeastRequest(choice_count={self.choice_count!r}, weights={self.weights!r}, "
            f"active_request_bias={self.active_request_bias!r})"
        )


class FinagleP2C(_Base):
    """Finagle's balancer: P2C over *all* members, healthier first, ``max_effort`` tries.

    ``P2CPick.pick`` (``finagle-core/.../p2c/P2CPick.scala`` lines 23-65) draws two distinct
    members; if their statuses differ the healthier wins, otherwise the lower load (pending
    requests; ties: the first). ``Balancer.apply`` (``Balancer.scala`` lines 219-235) repeats
    the pick up to ``max_effort`` times (``PanicMode`` default 4) until it gets an *Open*
    member, and otherwise takes one more pick as it is. A member is Open when it is healthy
    and not a busy probe (re-admitted on probation with its probe request still pending).

    Runtime complexity: O(max_effort), two draws per try.
    """

    name = "finagle_p2c"
    walks_members = True
    __slots__ = ("max_effort",)

    def __init__(self, draw: Callable[[], float], max_effort: int = 4) -> None:
        super().__init__(draw)
        if isinstance(max_effort, bool) or not isinstance(max_effort, int) or max_effort < 0:
            raise InvalidArgumentError(f"max_effort must be a non-negative int, got {max_effort!r}")
        self.max_effort = max_effort

    def choose(self, candidates: list[_Endpoint], now: float) -> _Endpoint:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        draw = self._random
        for attempt in range(self.max_effort + 1):
            a = int(draw() * n)
            b = int(draw() * (n - 1))
            if b >= a:
                b += 1
            first, second = candidates[a], candidates[b]
            # Open: healthy and not a probe with its request still in flight (ProbeClosed).
            open_first = first.state is _HEALTHY and not (first.probation and first.pending)
            open_second = second.state is _HEALTHY and not (second.probation and second.pending)
            if open_first == open_second:
                chosen = first if first.pending <= second.pending else second
                if open_first or attempt == self.max_effort:
                    return chosen
            elif open_first:
                return first
            else:
                return second
        raise AssertionError("unreachable")  # pragma: no cover

    def __repr__(self) -> str:
        return f"FinagleP2C(max_effort={self.max_effort!r})"


STRATEGY_CLASSES: Final[Mapping[str, type[_Base]]] = {
    cls.name: cls
    for cls in (
        P2C,
        RandomChoice,
        RoundRobin,
        FirstIdle,
        Poolee,
        PeakEwma,
        LeastRequest,
        FinagleP2C,
    )
}
"""Strategy name -> class; the first four are the original :data:`~consistent.STRATEGIES`."""
