"""The backoff pool: client-side balancing with passive ejection and health checks, sans-IO.

Theory of operation
-------------------
A :class:`Pool` holds named endpoints (servers). Each endpoint is in one of two states,
``"healthy"`` or ``"ejected"`` (plus ``"absent"``: not, or no longer, a member). The caller
drives the pool; the pool never sleeps, never does I/O and never reads a clock: every call
whose answer depends on time takes ``now`` (any monotonic unit, usually seconds, never
decreasing between calls), and every random choice draws from the :class:`random.Random`
the pool was given. The same seed and the same calls give the same decisions, so real code
(``time.monotonic()`` and an HTTP client) and the simulator drive the very same object.

A request's life: :meth:`Pool.pick` chooses an endpoint with the pool's *strategy*,
:meth:`Pool.start` records it as pending and returns a request id (:meth:`Pool.acquire`
does both), and :meth:`Pool.finish` reports its :class:`Outcome`. Failures and timeouts
eject an endpoint (passive outlier detection):

* after ``failure_threshold`` consecutive failures or timeouts (a success resets the streak);
* optionally (:class:`SuccessRateEjection`) when its success rate over its last ``window``
  outcomes falls below a threshold.

An :attr:`Outcome.UPSTREAM` reply ("upstream unavailable": the endpoint answered, but a
server behind it, the key's home, was unreachable) is not the endpoint's fault: it frees the
request and touches neither the streak nor the success rate, unless the pool was built with
``eject_on_upstream=True``, which counts it as a failure.

An ejection is refused, and the endpoint stays healthy, when it would make more than
``max_ejection_share`` of the endpoints ejected (Envoy's ``max_ejection_percent``; as in
Envoy, at least one endpoint may always be ejected unless the share is 0).

An ejected endpoint is re-admitted only by a passing health check. When it is ejected, its
first check is scheduled ``health_check_backoff.delay(1)`` later; each failed check schedules
the next one ``delay(2)``, ``delay(3)``, ... after the failure, so a dead server is probed
ever more rarely, up to the backoff's cap. The caller asks :meth:`Pool.due_checks` which checks
are due at ``now``, runs them, and reports each with :meth:`Pool.report_check`; a pass
re-admits the endpoint and resets its backoff. A failed check on a *healthy* endpoint (an
active check the caller ran on its own) ejects it, within the ejection cap.

**Panic.** When no endpoint is healthy (everything was ejected), the pool does not become a
dead client: it picks among *all* its endpoints with the same strategy (:attr:`Pool.in_panic`
is then true), like Envoy's panic threshold. Outcomes in panic are counted but do not
re-admit an endpoint; only health checks do. With ``panic=False`` the pool instead raises
:class:`~consistent.NoHealthyEndpointError` whose ``available_at`` is the time the next health
check is due.

Every state change goes through one table, :data:`TRANSITIONS` (``(state, trigger) ->
state``), and is delivered to the observer as a :class:`PoolEvent`; ``docs/pool.md`` shows the
diagram :func:`transition_diagram` draws from that table.

**Time going backwards.** ``now`` is the caller's clock and should never decrease between
calls. The pool enforces only the case it can check exactly, at the cost of one comparison:
:meth:`Pool.finish` raises :class:`~consistent.InvalidArgumentError` (a ValueError) naming
both times when ``now`` is earlier than the ``now`` the request started at (and the request
stays pending). Every ``now`` must be a finite real number (:func:`check_now`). Every other call
takes ``now`` as given, even when it is earlier than a previous call's, because callers
that read a clock before taking a lock legitimately deliver slightly out-of-order times:
the pool stays consistent, but the times it records (event times, ``since``) follow
``now`` back, and a health check is scheduled from the ``now`` it is given.

**Removed endpoints.** :meth:`Pool.remove` takes effect at once: the endpoint is never
picked again and leaves :meth:`Pool.stats`. Its pending requests may still be finished: their
outcomes are counted on the removed endpoint's own record (gone from ``stats()``), they free
their place under the pool-wide pending limit, and they cause no transition. Re-adding the
same name starts a fresh record.
"""

from __future__ import annotations

import math
import numbers
import random
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final, NoReturn, Union

from consistent._backoff import ExponentialBackoff, Jitter
from consistent._errors import (
    DuplicateNodeError,
    InvalidArgumentError,
    InvalidTypeError,
    NoHealthyEndpointError,
    PoolFullError,
    UnknownNodeError,
)

__all__ = [
    "ABSENT",
    "DEFAULT_HEALTH_CHECK_BACKOFF",
    "EJECTED",
    "HEALTHY",
    "STRATEGIES",
    "TRANSITIONS",
    "EndpointStats",
    "Outcome",
    "Pool",
    "PoolEvent",
    "SuccessRateEjection",
    "transition_diagram",
]


class Outcome(str, Enum):
    """How a request ended. The string values are accepted too.

    >>> Outcome("timeout")
    Outcome.TIMEOUT
    """

    SUCCESS = "success"
    FAILURE = "failure"
    TIMEOUT = "timeout"
    UPSTREAM = "upstream"
    """The endpoint answered, but could not serve the request because a server behind it
    (the key's home) was unreachable: an HTTP 502/503 "upstream unavailable" reply. It frees
    the request and is not held against the endpoint (see :class:`Pool`,
    ``eject_on_upstream``); :class:`~consistent.RetryPolicy` retries it by default."""

    def __repr__(self) -> str:
        return f"Outcome.{self.name}"

    def __str__(self) -> str:
        return self.value


OutcomeLike = Union[Outcome, str]


def check_now(now: object) -> None:
    """Refuse a time that is not a finite real number (``bool`` and ``str`` are refused).

    Every ``now`` the pool and the retry objects take goes through this check: a NaN would
    schedule a health check that is never due, and an infinity one due at once forever.

    >>> check_now(float("nan"))
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidArgumentError: now must be a finite number (the clock), got nan

    Raises:
        InvalidTypeError: ``now`` is not a real number (or is a bool).
        InvalidArgumentError: ``now`` is NaN or infinite.
    """
    if now.__class__ is not float and (isinstance(now, bool) or not isinstance(now, numbers.Real)):
        raise InvalidTypeError(
            f"now must be a real number (the clock), got {type(now).__name__}: {now!r}"
        )
    if not math.isfinite(now):
        raise InvalidArgumentError(f"now must be a finite number (the clock), got {now!r}")


# ---------------------------------------------------------------------------------------------
# The state machine. States and triggers are plain strings so events and stats print plainly.
# ---------------------------------------------------------------------------------------------

HEALTHY: Final = "healthy"
"""An endpoint that may be picked."""
EJECTED: Final = "ejected"
"""An endpoint taken out of rotation until a health check passes (picked only in panic)."""
ABSENT: Final = "absent"
"""Not a member: before :meth:`Pool.add` and after :meth:`Pool.remove`."""

TRANSITIONS: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        (ABSENT, "added"): HEALTHY,
        (HEALTHY, "consecutive_failures"): EJECTED,
        (HEALTHY, "success_rate"): EJECTED,
        (HEALTHY, "check_failed"): EJECTED,
        (EJECTED, "check_failed"): EJECTED,
        (EJECTED, "check_passed"): HEALTHY,
        (HEALTHY, "removed"): ABSENT,
        (EJECTED, "removed"): ABSENT,
    }
)
"""Every allowed ``(state, trigger) -> new state``; the trigger is the event's ``reason``.

Entering ``ejected`` (also from ``ejected``: a failed check) schedules the next health check
with the backoff; entering ``healthy`` resets the failure streak, the success-rate window and
the backoff. Ejections from ``healthy`` are subject to the ejection cap.
"""

STRATEGIES: Final = ("p2c", "random", "round_robin", "first_idle")
"""Selection strategies, see :class:`Pool`."""


def transition_diagram() -> str:
    """The Mermaid state diagram of :data:`TRANSITIONS`, as shown in ``docs/pool.md``.

    ``absent`` is drawn as the start/end marker ``[*]``.

    >>> print(transition_diagram().splitlines()[1])
        [*] --> healthy: added
    """
    lines = ["stateDiagram-v2"]
    for (source, trigger), target in TRANSITIONS.items():
        src = "[*]" if source == ABSENT else source
        dst = "[*]" if target == ABSENT else target
        lines.append(f"    {src} --> {dst}: {trigger}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class PoolEvent:
    """One state transition of one endpoint, delivered to the pool's observer.

    >>> PoolEvent(time=1.5, endpoint="a", from_state="healthy", to_state="ejected",
    ...           reason="consecutive_failures").to_state
    'ejected'
    """

    time: float
    endpoint: str
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Counts and state of one endpoint, as returned by :meth:`Pool.stats`.

    ``started == succeeded + failed + timed_out + upstream + pending`` always holds
    (``upstream`` counts :attr:`Outcome.UPSTREAM` replies).
    ``since`` and ``reason`` are the time and trigger of the transition into ``state``;
    ``next_check_at`` is when the next health check is due (``None`` unless ejected);
    ``ejections_refused`` counts ejections the ejection cap prevented.
    """

    started: int
    succeeded: int
    failed: int
    timed_out: int
    pending: int
    ejections: int
    checks_passed: int
    checks_failed: int
    state: str
    since: float
    reason: str = "added"
    consecutive_failures: int = 0
    next_check_at: float | None = None
    ejections_refused: int = 0
    upstream: int = 0


@dataclass(frozen=True)
class SuccessRateEjection:
    """Eject an endpoint whose success rate over its last ``window`` outcomes is too low.

    The rate is judged once at least ``min_requests`` outcomes are in the window (default:
    a full window); failures and timeouts both count against it. The window is cleared when
    the endpoint is ejected or re-admitted.

    >>> SuccessRateEjection(threshold=0.9, window=50, min_requests=10)
    SuccessRateEjection(threshold=0.9, window=50, min_requests=10)

    Raises:
        ValueError: ``threshold`` outside ``(0, 1]``, ``window < 1`` or ``min_requests``
            outside ``[1, window]``.
    """

    threshold: float
    window: int = 100
    min_requests: int | None = None

    def __post_init__(self) -> None:
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 1:
            raise InvalidArgumentError(f"threshold must be a success rate in (0, 1], got {t!r}")
        w = self.window
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise InvalidArgumentError(f"window must be a positive int (outcomes), got {w!r}")
        m = self.min_requests
        if m is None:
            object.__setattr__(self, "min_requests", w)
        elif isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= w:
            raise InvalidArgumentError(f"min_requests must be an int in [1, window={w}], got {m!r}")


_SUCCESS: Final = Outcome.SUCCESS
_FAILURE: Final = Outcome.FAILURE
_TIMEOUT: Final = Outcome.TIMEOUT
_UPSTREAM: Final = Outcome.UPSTREAM
_UNLIMITED: Final = sys.maxsize
_P2C, _RANDOM, _ROUND_ROBIN, _FIRST_IDLE = STRATEGIES

DEFAULT_HEALTH_CHECK_BACKOFF: Final = ExponentialBackoff(
    base=1.0, factor=2.0, cap=60.0, jitter=Jitter.EQUAL
)
"""1 s, 2 s, 4 s, ... up to 60 s between health checks, with equal jitter: checks of many
clients are spread out, yet never come sooner than half the nominal delay, so a dead
server is not probed right after it failed."""


class _Endpoint:
    """The mutable record of one endpoint; the pool's private bookkeeping."""

    __slots__ = (
        "attempt",
        "checks_failed",
        "checks_passed",
        "ejections",
        "ejections_refused",
        "failed",
        "last_delay",
        "name",
        "next_check",
        "order",
        "pending",
        "reason",
        "since",
        "started",
        "state",
        "streak",
        "succeeded",
        "timed_out",
        "upstream",
        "window",
        "window_bad",
        "window_count",
        "window_index",
    )

    def __init__(self, name: str, order: int, window: int) -> None:
        self.name = name
        self.order = order
        self.state: str = ABSENT
        self.reason = "absent"
        self.since = 0.0
        self.pending = 0
        self.started = 0
        self.succeeded = 0
        self.failed = 0
        self.timed_out = 0
        self.upstream = 0
        self.streak = 0
        self.ejections = 0
        self.ejections_refused = 0
        self.checks_passed = 0
        self.checks_failed = 0
        self.attempt = 0
        self.last_delay: float | None = None
        self.next_check: float | None = None
        self.window = bytearray(window)
        self.window_bad = 0
        self.window_count = 0
        self.window_index = 0

    def clear_window(self) -> None:
        if self.window_count:
            self.window[:] = bytes(len(self.window))
            self.window_bad = self.window_count = self.window_index = 0


def _check_limit(name: str, value: object) -> int:
    if value is None:
        return _UNLIMITED
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive int or None, got {value!r}")
    return value


class Pool:
    """A sans-IO client-side load balancer with ejection, health checks and panic mode.

    See the module docstring for the theory of operation.

    Strategies (``strategy=``), applied to the healthy endpoints (all endpoints in panic):

    * ``"p2c"`` (default): power of two choices -- two distinct endpoints drawn at random,
      the one with fewer pending requests wins (Finagle's default balancer);
    * ``"random"``: uniformly at random;
    * ``"round_robin"``: in turn, in insertion order;
    * ``"first_idle"``: from a random start, the first endpoint with no pending request, or
      failing that the least loaded one met (poolee's).

    Runtime complexity: :meth:`pick`, :meth:`start`, :meth:`finish` are O(1) for ``p2c``,
    ``random`` and ``round_robin`` (O(n) for ``first_idle``, and when ``exclude`` is given
    or the chosen endpoint is at its pending limit); :meth:`add` is O(1) amortised (O(n)
    in panic); other transitions and :meth:`remove` are O(n).

    >>> pool = Pool(["a", "b", "c"], rng=random.Random(1), strategy="round_robin")
    >>> endpoint, request = pool.acquire(now=0.0)
    >>> endpoint
    'a'
    >>> pool.finish(request, Outcome.FAILURE, now=0.5)      # one failure ejects (default)
    >>> pool.healthy_endpoints(), pool.next_check_at() is not None
    (('b', 'c'), True)
    >>> pool.report_check("a", healthy=True, now=pool.next_check_at())
    >>> pool.is_healthy("a")
    True

    Args:
        endpoints: the initial endpoints (names), added at time ``now``.
        rng: the source of every random choice.
        strategy: one of :data:`STRATEGIES`.
        failure_threshold: consecutive failures/timeouts that eject an endpoint (default 1,
            as poolee), or ``None`` to disable that rule.
        success_rate: optional success-rate ejection rule.
        max_ejection_share: the largest share of endpoints that may be ejected, in [0, 1].
        health_check_backoff: the spacing of health checks of an ejected endpoint
            (default :data:`DEFAULT_HEALTH_CHECK_BACKOFF`: 1 s doubling to 60 s, equal jitter).
        max_pending: pool-wide limit on pending requests, or ``None``.
        max_pending_per_endpoint: per-endpoint limit on pending requests, or ``None``.
        observer: called with a :class:`PoolEvent` after every transition (synchronously,
            with the pool already in its new state).
        panic: pick among all endpoints when none is healthy (default) instead of raising.
        eject_on_upstream: count an :attr:`Outcome.UPSTREAM` reply as a failure of the
            endpoint (default ``False``: it is not held against the endpoint).
        now: the time of the initial endpoints' ``added`` transitions.

    Raises:
        TypeError: ``rng`` is not a ``random.Random``, ``health_check_backoff`` not an
            :class:`ExponentialBackoff`, ``observer`` not callable, an endpoint not a str.
        ValueError: an unknown strategy or an out-of-range number.
        DuplicateNodeError: an endpoint is listed twice.
    """

    def __init__(
        self,
        endpoints: Iterable[str] = (),
        *,
        rng: random.Random,
        strategy: str = "p2c",
        failure_threshold: int | None = 1,
        success_rate: SuccessRateEjection | None = None,
        max_ejection_share: float = 1.0,
        health_check_backoff: ExponentialBackoff = DEFAULT_HEALTH_CHECK_BACKOFF,
        max_pending: int | None = None,
        max_pending_per_endpoint: int | None = None,
        observer: Callable[[PoolEvent], None] | None = None,
        panic: bool = True,
        eject_on_upstream: bool = False,
        now: float = 0.0,
    ) -> None:
        if not isinstance(rng, random.Random):
            raise InvalidTypeError(
                f"rng must be a random.Random, got {type(rng).__name__}: {rng!r}"
            )
        if strategy not in STRATEGIES:
            raise InvalidArgumentError(
                f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}"
            )
        if failure_threshold is not None and (
            isinstance(failure_threshold, bool)
            or not isinstance(failure_threshold, int)
            or failure_threshold < 1
        ):
            raise InvalidArgumentError(
                f"failure_threshold must be a positive int or None, got {failure_threshold!r}"
            )
        if success_rate is not None and not isinstance(success_rate, SuccessRateEjection):
            raise InvalidTypeError(
                f"success_rate must be a SuccessRateEjection or None, got {success_rate!r}"
            )
        share = max_ejection_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise InvalidArgumentError(
                f"max_ejection_share must be a number in [0, 1], got {share!r}"
            )
        if not isinstance(health_check_backoff, ExponentialBackoff):
            raise InvalidTypeError(
                "health_check_backoff must be an ExponentialBackoff, "
                f"got {type(health_check_backoff).__name__}: {health_check_backoff!r}"
            )
        if observer is not None and not callable(observer):
            raise InvalidTypeError(f"observer must be callable or None, got {observer!r}")
        check_now(now)
        if isinstance(endpoints, (str, bytes)):
            raise InvalidTypeError(
                f"endpoints must be an iterable of names, got the {type(endpoints).__name__} "
                f"{endpoints!r} (a one-endpoint pool is Pool([{endpoints!r}], ...))"
            )

        self._rng = rng
        # Bound once: the hot path draws through this local-speed attribute.
        self._random = rng.random
        # Canonical objects, so the hot path can compare strategies by identity.
        self._strategy = STRATEGIES[STRATEGIES.index(strategy)]
        self._failure_threshold = failure_threshold
        self._streak_limit = _UNLIMITED if failure_threshold is None else failure_threshold
        self._success_rate = success_rate
        self._window_size = 0 if success_rate is None else success_rate.window
        self._max_ejection_share = float(share)
        self._health_check_backoff = health_check_backoff
        self._max_pending_arg = max_pending
        self._max_pending_per_endpoint_arg = max_pending_per_endpoint
        self._max_pending = _check_limit("max_pending", max_pending)
        self._max_per = _check_limit("max_pending_per_endpoint", max_pending_per_endpoint)
        self._observer = observer
        self._panic_allowed = bool(panic)
        self._eject_on_upstream = bool(eject_on_upstream)

        self._by_name: dict[str, _Endpoint] = {}
        self._candidates: list[_Endpoint] = []
        self._panic = False
        self._n_ejected = 0
        # request id -> (its endpoint's record, the ``now`` it started at)
        self._requests: dict[int, tuple[_Endpoint, float]] = {}
        self._next_request = 0
        self._pending = 0
        self._cursor = 0
        self._order = 0

        names = list(endpoints)
        for name in names:
            self._validate_name(name)
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise DuplicateNodeError(f"endpoint {name!r} is listed twice")
            seen.add(name)
        for name in names:
            self.add(name, now)

    # -- membership ------------------------------------------------------------------------

    @staticmethod
    def _validate_name(endpoint: object) -> None:
        if not isinstance(endpoint, str):
            raise InvalidTypeError(
                f"endpoint must be a str, got {type(endpoint).__name__}: {endpoint!r}"
            )
        if not endpoint:
            raise InvalidArgumentError("endpoint must be a non-empty name, got ''")

    def _get(self, endpoint: str) -> _Endpoint:
        record = self._by_name.get(endpoint)
        if record is None:
            raise UnknownNodeError(f"endpoint {endpoint!r} is not in the pool")
        return record

    def add(self, endpoint: str, now: float) -> None:
        """Add a healthy endpoint at time ``now``.

        Runtime complexity: O(1) amortised (O(n) in panic).

        >>> pool = Pool(rng=random.Random(0))
        >>> pool.add("a", now=0.0); pool.endpoints
        ('a',)

        Raises:
            InvalidTypeError: ``endpoint`` is not a str, or ``now`` not a real number.
            InvalidArgumentError: ``endpoint`` is empty, or ``now`` not finite.
            DuplicateNodeError: it is already a member.
        """
        check_now(now)
        self._validate_name(endpoint)
        if endpoint in self._by_name:
            raise DuplicateNodeError(f"endpoint {endpoint!r} is already in the pool")
        record = _Endpoint(endpoint, self._order, self._window_size)
        self._order += 1
        self._by_name[endpoint] = record
        self._transition(record, "added", now)

    def remove(self, endpoint: str, now: float) -> None:
        """Remove an endpoint at time ``now``; its pending requests may still be finished.

        See "Removed endpoints" in the module docstring.

        Runtime complexity: O(n).

        Raises:
            UnknownNodeError: it is not a member.
            InvalidTypeError, InvalidArgumentError: ``now`` is not a finite real number.
        """
        check_now(now)
        record = self._get(endpoint)
        del self._by_name[endpoint]
        self._transition(record, "removed", now)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """All member endpoints, in insertion order."""
        return tuple(self._by_name)

    def healthy_endpoints(self) -> tuple[str, ...]:
        """The healthy endpoints, in insertion order.

        Runtime complexity: O(n).
        """
        return tuple(e.name for e in self._by_name.values() if e.state is HEALTHY)

    def is_healthy(self, endpoint: str) -> bool:
        """Whether ``endpoint`` is healthy (not ejected).

        Raises:
            UnknownNodeError: it is not a member.
        """
        return self._get(endpoint).state is HEALTHY

    @property
    def in_panic(self) -> bool:
        """True when no endpoint is healthy and the pool picks among all of them."""
        return self._panic

    @property
    def pending(self) -> int:
        """Pending requests in the whole pool (including those on removed endpoints)."""
        return self._pending

    @property
    def strategy(self) -> str:
        """The selection strategy."""
        return self._strategy

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, endpoint: object) -> bool:
        return endpoint in self._by_name

    def __repr__(self) -> str:
        # The rng's state cannot be shown; a fresh Random keeps the repr valid Python.
        return (
            f"Pool({list(self._by_name)!r}, rng=random.Random(), strategy={self._strategy!r}, "
            f"failure_threshold={self._failure_threshold!r}, "
            f"success_rate={self._success_rate!r}, "
            f"max_ejection_share={self._max_ejection_share!r}, "
            f"health_check_backoff={self._health_check_backoff!r}, "
            f"max_pending={self._max_pending_arg!r}, "
            f"max_pending_per_endpoint={self._max_pending_per_endpoint_arg!r}, "
            f"panic={self._panic_allowed!r}"
            + (", eject_on_upstream=True)" if self._eject_on_upstream else ")")
        )

    # -- the state machine -------------------------------------------------------------------

    def _transition(self, record: _Endpoint, trigger: str, now: float) -> None:
        """Apply ``TRANSITIONS[(state, trigger)]`` to ``record`` with its side effects."""
        source = record.state
        target = TRANSITIONS[(source, trigger)]
        if source is EJECTED:
            self._n_ejected -= 1
        if target is EJECTED:
            self._n_ejected += 1
            if source is HEALTHY:
                record.ejections += 1
                record.attempt = 0
                record.last_delay = None
            record.attempt += 1
            delay = self._health_check_backoff.delay(record.attempt, self._rng, record.last_delay)
            record.last_delay = delay
            record.next_check = now + delay
        else:
            record.attempt = 0
            record.last_delay = None
            record.next_check = None
        if source is not target:
            record.state = target
            record.reason = trigger
            record.since = now
            record.streak = 0
            record.clear_window()
            if source is ABSENT and not self._panic:
                # The newest member goes last in insertion order: O(1), so that building
                # a pool of n endpoints is O(n), not O(n^2).
                self._candidates.append(record)
            else:
                self._refresh_candidates()
        if self._observer is not None:
            self._observer(PoolEvent(now, record.name, source, target, trigger))

    def _refresh_candidates(self) -> None:
        members = self._by_name.values()
        healthy = [e for e in members if e.state is HEALTHY]
        if healthy:
            self._candidates, self._panic = healthy, False
        elif members and self._panic_allowed:
            self._candidates, self._panic = list(members), True
        else:
            self._candidates, self._panic = [], False

    def _eject(self, record: _Endpoint, trigger: str, now: float) -> None:
        """Eject a healthy endpoint unless the ejection cap forbids it."""
        share = self._max_ejection_share
        allowed = math.floor(share * len(self._by_name) + 1e-9)
        if share > 0 and allowed < 1:
            allowed = 1
        if self._n_ejected >= allowed:
            record.ejections_refused += 1
            return
        self._transition(record, trigger, now)

    # -- picking -----------------------------------------------------------------------------

    def _choose(self, candidates: list[_Endpoint]) -> _Endpoint:
        """Apply the strategy to a non-empty list of endpoints."""
        n = len(candidates)
        if n == 1:
            return candidates[0]
        strategy = self._strategy
        if strategy is _P2C:
            draw = self._random
            i = int(draw() * n)
            j = int(draw() * (n - 1))
            if j >= i:
                j += 1
            first = candidates[i]
            second = candidates[j]
            return second if second.pending < first.pending else first
        if strategy is _RANDOM:
            return candidates[int(self._random() * n)]
        if strategy is _ROUND_ROBIN:
            i = self._cursor % n
            self._cursor = i + 1
            return candidates[i]
        start = int(self._random() * n)
        best = candidates[start]
        for k in range(start, start + n):
            record = candidates[k % n]
            if record.pending == 0:
                return record
            if record.pending < best.pending:
                best = record
        return best

    def _select(self, exclude: Collection[str]) -> _Endpoint:
        candidates = self._candidates
        if exclude or not candidates:
            return self._select_slow(exclude)
        record = self._choose(candidates)
        if record.pending >= self._max_per:
            return self._select_slow(exclude)
        return record

    def _select_slow(self, exclude: Collection[str]) -> _Endpoint:
        candidates = self._candidates
        if not candidates:
            if not self._by_name:
                raise NoHealthyEndpointError("the pool has no endpoints", available_at=None)
            at = self.next_check_at()
            raise NoHealthyEndpointError(
                f"no healthy endpoint among {len(self._by_name)}; "
                f"the next health check is due at {at!r}",
                available_at=at,
            )
        limit = self._max_per
        free = [e for e in candidates if e.pending < limit]
        if not free:
            raise PoolFullError(
                f"every candidate endpoint has {limit} pending requests "
                f"(max_pending_per_endpoint={limit})"
            )
        if exclude:
            preferred = [e for e in free if e.name not in exclude]
            if preferred:
                free = preferred
        return self._choose(free)

    def pick(self, now: float, exclude: Collection[str] = ()) -> str:
        """Choose an endpoint for a request with the pool's strategy.

        ``exclude`` is a preference (retries use it to try another endpoint): excluded
        endpoints are chosen only when every other candidate is unavailable. In panic the
        candidates are all endpoints. Endpoints at their per-endpoint pending limit are
        skipped.

        Runtime complexity: O(1) for p2c, random and round robin; O(n) for first idle, with
        ``exclude``, or when the chosen endpoint is at its limit.

        >>> pool = Pool(["a", "b"], rng=random.Random(3))
        >>> pool.pick(0.0, exclude={"a"})
        'b'

        Raises:
            NoHealthyEndpointError: no endpoint at all, or (with ``panic=False``) none is
                healthy; ``available_at`` is when the next health check is due.
            PoolFullError: every candidate is at its per-endpoint pending limit.
            InvalidTypeError, InvalidArgumentError: ``now`` is not a finite real number.
        """
        if now.__class__ is not float or now - now != 0.0:
            check_now(now)
        return self._select(exclude).name

    # -- requests ------------------------------------------------------------------------------

    def start(self, endpoint: str, now: float) -> int:
        """Record a request started on ``endpoint`` and return its request id.

        Starting on an ejected endpoint is allowed (the caller decides); it is counted alike.

        Runtime complexity: O(1).

        Raises:
            UnknownNodeError: ``endpoint`` is not a member.
            PoolFullError: the pool-wide or the endpoint's pending limit is reached.
            InvalidTypeError, InvalidArgumentError: ``now`` is not a finite real number.
        """
        # One comparison on the hot path: x - x is 0.0 exactly for finite floats.
        if now.__class__ is not float or now - now != 0.0:
            check_now(now)
        record = self._by_name.get(endpoint)
        if record is None:
            raise UnknownNodeError(f"endpoint {endpoint!r} is not in the pool")
        if self._pending >= self._max_pending:
            raise PoolFullError(f"the pool has {self._pending} pending requests (max_pending)")
        if record.pending >= self._max_per:
            raise PoolFullError(
                f"endpoint {endpoint!r} has {record.pending} pending requests "
                "(max_pending_per_endpoint)"
            )
        record.pending += 1
        record.started += 1
        self._pending += 1
        request_id = self._next_request
        self._next_request = request_id + 1
        self._requests[request_id] = (record, now)
        return request_id

    def acquire(self, now: float, exclude: Collection[str] = ()) -> tuple[str, int]:
        """Pick an endpoint and start a request on it: ``(endpoint, request_id)``.

        Runtime complexity: as :meth:`pick`.

        Raises:
            PoolFullError: a pending limit is reached (checked before picking).
            NoHealthyEndpointError: as :meth:`pick`.
            InvalidTypeError, InvalidArgumentError: ``now`` is not a finite real number.
        """
        if now.__class__ is not float or now - now != 0.0:
            check_now(now)
        if self._pending >= self._max_pending:
            raise PoolFullError(f"the pool has {self._pending} pending requests (max_pending)")
        record = self._select(exclude)
        record.pending += 1
        record.started += 1
        self._pending += 1
        request_id = self._next_request
        self._next_request = request_id + 1
        self._requests[request_id] = (record, now)
        return record.name, request_id

    def finish(self, request_id: int, outcome: OutcomeLike, now: float) -> None:
        """Report how a started request ended; failures may eject its endpoint.

        A success resets the endpoint's failure streak; a failure or timeout extends it and
        ejects the endpoint at ``failure_threshold`` (within the ejection cap). Outcomes on
        ejected or removed endpoints are counted but cause no transition.

        :attr:`Outcome.UPSTREAM` (the endpoint answered that a server behind it was
        unreachable) frees the request and is counted in ``upstream``, but is not held
        against the endpoint: it neither extends nor resets the failure streak, and is no
        success for the success rate. A pool built with ``eject_on_upstream=True`` treats it
        as a failure instead (streak, success rate, ejection).

        Runtime complexity: O(1) (O(n) when it ejects).

        Raises:
            ValueError: ``request_id`` is not pending (unknown or already finished),
                ``outcome`` is not an :class:`Outcome`, or ``now`` is earlier than the
                request's start (the request stays pending); all of them are
                :class:`~consistent.InvalidArgumentError`.
            InvalidTypeError: ``now`` is not a real number.
        """
        if outcome is _SUCCESS:
            failed = False
        elif outcome is _FAILURE or outcome is _TIMEOUT or outcome is _UPSTREAM:
            failed = True
        else:
            return self.finish(request_id, self._to_outcome(outcome), now)
        if now.__class__ is not float or now - now != 0.0:
            check_now(now)
        entry = self._requests.pop(request_id, None)
        if entry is None:
            self._unknown_request(request_id)
        record, started = entry
        if now < started:
            self._requests[request_id] = entry  # still pending: nothing changed
            self._finished_before_start(request_id, started, now)
        record.pending -= 1
        self._pending -= 1
        if not failed:
            record.succeeded += 1
            record.streak = 0
            if self._window_size and record.state is HEALTHY:
                self._record_rate(record, 0, now)
            return None
        if outcome is _FAILURE:
            record.failed += 1
        elif outcome is _TIMEOUT:
            record.timed_out += 1
        else:
            record.upstream += 1
            if not self._eject_on_upstream:
                return None
        record.streak += 1
        if record.state is HEALTHY:
            if record.streak >= self._streak_limit:
                self._eject(record, "consecutive_failures", now)
            if self._window_size and record.state is HEALTHY:
                self._record_rate(record, 1, now)
        return None

    @staticmethod
    def _to_outcome(outcome: object) -> Outcome:
        if isinstance(outcome, str):
            try:
                return Outcome(outcome)
            except ValueError:
                pass
        raise InvalidArgumentError(
            f"outcome must be one of {[o.value for o in Outcome]} or an Outcome, got {outcome!r}"
        )

    def _unknown_request(self, request_id: int) -> NoReturn:
        raise InvalidArgumentError(
            f"request id {request_id!r} is not pending (unknown or already finished)"
        )

    def _finished_before_start(self, request_id: int, started: float, now: float) -> NoReturn:
        raise InvalidArgumentError(
            f"request {request_id} cannot finish at now={now!r}, before it started at "
            f"{started!r}: now must never decrease between calls"
        )

    def _record_rate(self, record: _Endpoint, bad: int, now: float) -> None:
        """Slide ``bad`` (0 or 1) into the endpoint's outcome window and judge its rate."""
        rule = self._success_rate
        assert rule is not None and rule.min_requests is not None
        window = record.window
        i = record.window_index
        if record.window_count == len(window):
            record.window_bad -= window[i]
        else:
            record.window_count += 1
        window[i] = bad
        record.window_bad += bad
        record.window_index = (i + 1) % len(window)
        count = record.window_count
        if count >= rule.min_requests and count - record.window_bad < rule.threshold * count:
            self._eject(record, "success_rate", now)

    # -- health checks -----------------------------------------------------------------------

    def due_checks(self, now: float) -> list[str]:
        """Ejected endpoints whose health check is due at or before ``now``.

        Ordered by due time, ties by insertion order. This is a query: a check stays due
        until its result is reported with :meth:`report_check` (callers running checks
        concurrently should remember which are in flight).

        Runtime complexity: O(n + d log d) for d due checks.

        >>> pool = Pool(["a"], rng=random.Random(0),
        ...             health_check_backoff=ExponentialBackoff(base=2, jitter="none"))
        >>> pool.finish(pool.start("a", 1.0), "failure", 1.0)
        >>> pool.due_checks(2.9), pool.due_checks(3.0)
        ([], ['a'])

        Raises:
            InvalidTypeError, InvalidArgumentError: ``now`` is not a finite real number.
        """
        check_now(now)
        due = [
            e
            for e in self._by_name.values()
            if e.state is EJECTED and e.next_check is not None and e.next_check <= now
        ]
        due.sort(key=_check_order)
        return [e.name for e in due]

    def next_check_at(self, exclude: Collection[str] = ()) -> float | None:
        """When the earliest health check is due, or ``None`` if no endpoint is ejected.

        ``exclude`` names endpoints to leave out: a caller running checks concurrently
        passes those in flight, whose checks stay due until their results are reported.

        Runtime complexity: O(n).

        >>> pool = Pool(["a", "b"], rng=random.Random(0),
        ...             health_check_backoff=ExponentialBackoff(base=2, jitter="none"))
        >>> pool.finish(pool.start("a", 1.0), "failure", 1.0)
        >>> pool.next_check_at(), pool.next_check_at(exclude={"a"})
        (3.0, None)
        """
        if exclude:
            times = [
                e.next_check
                for e in self._by_name.values()
                if e.next_check is not None and e.name not in exclude
            ]
        else:
            times = [e.next_check for e in self._by_name.values() if e.next_check is not None]
        return min(times) if times else None

    def report_check(self, endpoint: str, healthy: bool, now: float) -> None:
        """Report a health check's result at ``now``.

        A pass re-admits an ejected endpoint and resets its backoff; a failure schedules
        the next check of an ejected endpoint one backoff step later, and ejects a healthy
        one (within the ejection cap). A pass on a healthy endpoint is only counted.

        Runtime complexity: O(n) when the state changes, else O(1).

        Raises:
            UnknownNodeError: ``endpoint`` is not a member.
            InvalidTypeError: ``healthy`` is not a bool, or ``now`` not a real number.
            InvalidArgumentError: ``now`` is not finite.
        """
        if healthy is not True and healthy is not False:
            raise InvalidTypeError(
                f"healthy must be a bool (did the check pass?), "
                f"got {type(healthy).__name__}: {healthy!r}"
            )
        check_now(now)
        record = self._get(endpoint)
        if healthy:
            record.checks_passed += 1
            if record.state is EJECTED:
                self._transition(record, "check_passed", now)
        else:
            record.checks_failed += 1
            if record.state is EJECTED:
                self._transition(record, "check_failed", now)
            else:
                self._eject(record, "check_failed", now)

    # -- observability -----------------------------------------------------------------------

    def stats(self) -> dict[str, EndpointStats]:
        """Counts and state per member endpoint, in insertion order.

        Runtime complexity: O(n).

        >>> pool = Pool(["a"], rng=random.Random(0))
        >>> pool.finish(pool.start("a", 0.0), Outcome.SUCCESS, 0.1)
        >>> s = pool.stats()["a"]; (s.started, s.succeeded, s.pending, s.state)
        (1, 1, 0, 'healthy')
        """
        return {
            name: EndpointStats(
                started=e.started,
                succeeded=e.succeeded,
                failed=e.failed,
                timed_out=e.timed_out,
                pending=e.pending,
                ejections=e.ejections,
                checks_passed=e.checks_passed,
                checks_failed=e.checks_failed,
                state=e.state,
                since=e.since,
                reason=e.reason,
                consecutive_failures=e.streak,
                next_check_at=e.next_check,
                ejections_refused=e.ejections_refused,
                upstream=e.upstream,
            )
            for name, e in self._by_name.items()
        }

    def _check(self) -> None:
        """Verify the pool's internal invariants (O(n + pending)); raise AssertionError."""
        members = list(self._by_name.values())
        healthy = [e for e in members if e.state is HEALTHY]
        ejected = [e for e in members if e.state is EJECTED]
        assert len(healthy) + len(ejected) == len(members)
        assert self._n_ejected == len(ejected), (self._n_ejected, len(ejected))
        if healthy:
            assert self._candidates == healthy and not self._panic
        elif members and self._panic_allowed:
            assert self._candidates == members and self._panic
        else:
            assert self._candidates == [] and not self._panic
        for e in members:
            assert e.started == e.succeeded + e.failed + e.timed_out + e.upstream + e.pending
            assert (e.next_check is not None) == (e.state is EJECTED)
            assert e.pending >= 0
        assert self._pending == len(self._requests)
        per: dict[int, int] = {}
        for record, _ in self._requests.values():
            per[id(record)] = per.get(id(record), 0) + 1
        for e in members:
            assert per.get(id(e), 0) == e.pending


def _check_order(record: _Endpoint) -> tuple[float, int]:
    assert record.next_check is not None
    return (record.next_check, record.order)
