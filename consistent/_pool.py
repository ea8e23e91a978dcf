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

**Timed ejection and per-interval detectors** (``outlier_detection=``, see
:class:`~consistent.OutlierDetection`): Envoy's and gRPC's outlier detection re-admit an
ejected endpoint when its ejection time has passed, and judge success rates and failure
percentages once per interval. The pool runs those evaluations lazily, at their own times,
when a call's ``now`` reaches them. Finagle's failure accrual re-admits on probation.

**Collaborators.** Strategies live in :mod:`consistent._strategies` (the latency-aware ones
learn each request's latency from :meth:`Pool.finish`: ``latency=``, by default ``now`` minus
the request's start); detectors and the :class:`~consistent._detectors.EjectionClock` in
:mod:`consistent._detectors`; each endpoint's record in :mod:`consistent._endpoint`; the
presets in :mod:`consistent._presets`; outcomes, events and stats in
:mod:`consistent._outcomes`. The state machine stays here, in one table.

Without ``outlier_detection``, an ejected endpoint is re-admitted only by a passing health
check. When it is ejected, its
first check is scheduled ``health_check_backoff.delay(1)`` later; each failed check schedules
the next one ``delay(2)``, ``delay(3)``, ... after the failure, so a dead server is probed
ever more rarely, up to the backoff's cap. The caller asks :meth:`Pool.due_checks` which checks
are due at ``now``, runs them, and reports each with :meth:`Pool.report_check`; a pass
re-admits the endpoint and resets its backoff. A failed check on a *healthy* endpoint (an
active check the caller ran on its own) ejects it, within the ejection cap.

**Panic.** When no endpoint is healthy (everything was ejected), the pool does not become a
dead client: it picks among *all* its endpoints with the same strategy (:attr:`Pool.in_panic`
is then true), like Envoy's panic threshold. With ``panic_threshold=p`` it does so as soon as
fewer than ``p`` of the endpoints are healthy (Envoy: 0.5). Outcomes in panic are counted but do not
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
import random
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, NoReturn, Union

from consistent._backoff import CheckSchedule, ExponentialBackoff, Jitter
from consistent._detectors import EjectionClock, OutlierDetection, SuccessRateEjection
from consistent._endpoint import EndpointRecord
from consistent._errors import (
    DuplicateNodeError,
    InvalidArgumentError,
    InvalidTypeError,
    NoHealthyEndpointError,
    PoolFullError,
    UnknownNodeError,
)
from consistent._outcomes import EndpointStats, Outcome, OutcomeLike, PoolEvent, check_now
from consistent._strategies import STRATEGY_CLASSES

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

# ---------------------------------------------------------------------------------------------
# The state machine. States and triggers are plain strings so events and stats print plainly.
# ---------------------------------------------------------------------------------------------

HEALTHY: Final = "healthy"
"""An endpoint that may be picked."""
EJECTED: Final = "ejected"
"""An endpoint out of rotation until re-admitted (picked only in panic)."""
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
        (HEALTHY, "success_rate_outlier"): EJECTED,
        (HEALTHY, "failure_percentage"): EJECTED,
        (HEALTHY, "probe_failed"): EJECTED,
        (EJECTED, "ejection_expired"): HEALTHY,
    }
)
"""Every allowed ``(state, trigger) -> new state``; the trigger is the event's ``reason``.

Entering ``ejected`` (also from ``ejected``: a failed check) schedules the next health check
with the backoff, or, with timed ejection, the end of the ejection; entering ``healthy``
resets the failure streak, the success-rate window and the backoff. Ejections from
``healthy`` are subject to the ejection cap. The last four rows exist only with
``outlier_detection``: per-interval ejections, a failed probation and timed re-admission.
"""

STRATEGIES: Final = tuple(STRATEGY_CLASSES)
"""Selection strategies, see :class:`Pool` and :mod:`consistent._strategies`."""


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


_SUCCESS: Final = Outcome.SUCCESS
_FAILURE: Final = Outcome.FAILURE
_TIMEOUT: Final = Outcome.TIMEOUT
_UPSTREAM: Final = Outcome.UPSTREAM
_UNLIMITED: Final = sys.maxsize
_NEVER: Final = math.inf
_OUTCOME_VALUES: Final = frozenset(o.value for o in Outcome)

DEFAULT_HEALTH_CHECK_BACKOFF: Final = ExponentialBackoff(
    base=1.0, factor=2.0, cap=60.0, jitter=Jitter.EQUAL
)
"""1 s, 2 s, 4 s, ... up to 60 s between health checks, with equal jitter: checks of many
clients are spread out, yet never come sooner than half the nominal delay, so a dead
server is not probed right after it failed."""

Schedule = Union[ExponentialBackoff, CheckSchedule]
"""Anything with ``delay(attempt, rng, previous)``: the spacing of health checks."""


def _check_limit(name: str, value: object) -> int:
    if value is None:
        return _UNLIMITED
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive int or None, got {value!r}")
    return value


def _share(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InvalidArgumentError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


class Pool:
    """A sans-IO client-side load balancer with ejection, health checks and panic mode.

    See the module docstring for the theory of operation, and :meth:`preset` for the
    configurations that reproduce poolee, Envoy, gRPC and Finagle.

    Strategies (``strategy=``; options of the new ones through ``strategy_options``),
    applied to the healthy endpoints (all endpoints in panic):

    * ``"p2c"`` (default): power of two choices -- two distinct endpoints drawn at random,
      the one with fewer pending requests wins (Finagle's default balancer);
    * ``"random"``: uniformly at random;
    * ``"round_robin"``: in turn, in insertion order;
    * ``"first_idle"``: from a random start, the first endpoint with no pending request, or
      failing that the least loaded one met (the strict minimum; *not* poolee's rule);
    * ``"poolee"``: poolee 1.0.1's walk over all members and its mean-pending fallback;
    * ``"p2c_peak_ewma"``: two at random, lower peak-EWMA latency cost wins (Finagle, Linkerd;
      option ``decay_time``);
    * ``"least_request"``: Envoy's least request (options ``choice_count``, ``weights``,
      ``active_request_bias``);
    * ``"finagle_p2c"``: Finagle's P2C over all members with ``max_effort`` tries.

    Runtime complexity: :meth:`pick`, :meth:`start`, :meth:`finish` are O(1) for ``p2c``,
    ``random``, ``round_robin``, ``p2c_peak_ewma``, ``least_request`` and ``finagle_p2c``
    (O(n) for ``first_idle`` and ``poolee``, and when ``exclude`` is given or the chosen
    endpoint is at its pending limit); :meth:`add` is O(1) amortised (O(n) in panic); other
    transitions, :meth:`remove` and an interval evaluation are O(n).

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
        success_rate: optional sliding-window success-rate ejection rule.
        max_ejection_share: the largest share of endpoints that may be ejected, in [0, 1].
        health_check_backoff: the spacing of health checks of an ejected endpoint
            (default :data:`DEFAULT_HEALTH_CHECK_BACKOFF`: 1 s doubling to 60 s, equal jitter),
            or a :class:`~consistent.CheckSchedule` (an immediate first check, an offset,
            the cap after jitter).
        max_pending: pool-wide limit on pending requests, or ``None``.
        max_pending_per_endpoint: per-endpoint limit on pending requests, or ``None``.
        observer: called with a :class:`PoolEvent` after every transition (synchronously,
            with the pool already in its new state).
        panic: pick among all endpoints when none is healthy (default) instead of raising.
        eject_on_upstream: count an :attr:`Outcome.UPSTREAM` reply as a failure of the
            endpoint (default ``False``: it is not held against the endpoint).
        strategy_options: keyword arguments of the strategy's class (e.g.
            ``{"decay_time": 5.0}`` for ``p2c_peak_ewma``).
        outlier_detection: timed ejection and per-interval detectors
            (:class:`~consistent.OutlierDetection`); ``None`` (default): re-admission by
            health checks only.
        panic_threshold: panic as soon as the healthy share of endpoints is below it
            (default 0: only when none is healthy; Envoy: 0.5).
        classify: maps whatever :meth:`finish` is given that is not an :class:`Outcome` (an
            HTTP status, an exception) to an outcome: which replies count as failures.
        now: the time of the initial endpoints' ``added`` transitions (and of the first
            interval of ``outlier_detection``).

    Raises:
        InvalidTypeError: ``rng`` is not a ``random.Random``, ``health_check_backoff`` not a
            backoff, ``observer`` or ``classify`` not callable, an endpoint not a str,
            ``endpoints`` a bare str.
        InvalidArgumentError: an unknown strategy or an out-of-range number.
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
        health_check_backoff: Schedule = DEFAULT_HEALTH_CHECK_BACKOFF,
        max_pending: int | None = None,
        max_pending_per_endpoint: int | None = None,
        observer: Callable[[PoolEvent], None] | None = None,
        panic: bool = True,
        eject_on_upstream: bool = False,
        strategy_options: Mapping[str, Any] | None = None,
        outlier_detection: OutlierDetection | None = None,
        panic_threshold: float = 0.0,
        classify: Callable[[Any], OutcomeLike] | None = None,
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
        share = _share("max_ejection_share", max_ejection_share)
        if not isinstance(health_check_backoff, (ExponentialBackoff, CheckSchedule)):
            raise InvalidTypeError(
                "health_check_backoff must be an ExponentialBackoff or a CheckSchedule, "
                f"got {type(health_check_backoff).__name__}: {health_check_backoff!r}"
            )
        if observer is not None and not callable(observer):
            raise InvalidTypeError(f"observer must be callable or None, got {observer!r}")
        if classify is not None and not callable(classify):
            raise InvalidTypeError(f"classify must be callable or None, got {classify!r}")
        if outlier_detection is not None and not isinstance(outlier_detection, OutlierDetection):
            raise InvalidTypeError(
                f"outlier_detection must be an OutlierDetection or None, got {outlier_detection!r}"
            )
        if strategy_options is not None and not isinstance(strategy_options, Mapping):
            raise InvalidTypeError(
                f"strategy_options must be a mapping or None, got {strategy_options!r}"
            )
        threshold = _share("panic_threshold", panic_threshold)
        check_now(now)
        if isinstance(endpoints, (str, bytes)):
            raise InvalidTypeError(
                f"endpoints must be an iterable of names, got the {type(endpoints).__name__} "
                f"{endpoints!r} (a one-endpoint pool is Pool([{endpoints!r}], ...))"
            )

        self._rng = rng
        # Bound once: the hot path draws through this local-speed attribute.
        self._random = rng.random
        self._strategy = STRATEGIES[STRATEGIES.index(strategy)]
        self._strategy_options = dict(strategy_options or {})
        try:
            chooser = STRATEGY_CLASSES[strategy](self._random, **self._strategy_options)
        except TypeError as error:
            raise InvalidArgumentError(
                f"strategy_options {self._strategy_options!r} do not fit strategy "
                f"{strategy!r}: {error}"
            ) from None
        self._chooser = chooser
        self._choose: Callable[[list[EndpointRecord], float], EndpointRecord | None] = (
            chooser.choose
        )
        self._walks = chooser.walks_members
        self._observe = chooser.observe if chooser.observes_latency else None
        self._failure_threshold = failure_threshold
        self._streak_limit = _UNLIMITED if failure_threshold is None else failure_threshold
        self._success_rate = success_rate
        self._window_size = 0 if success_rate is None else success_rate.window
        self._max_ejection_share = share
        self._health_check_backoff = health_check_backoff
        self._max_pending_arg = max_pending
        self._max_pending_per_endpoint_arg = max_pending_per_endpoint
        self._max_pending = _check_limit("max_pending", max_pending)
        self._max_per = _check_limit("max_pending_per_endpoint", max_pending_per_endpoint)
        self._observer = observer
        self._panic_allowed = bool(panic)
        self._eject_on_upstream = bool(eject_on_upstream)
        self._panic_threshold = threshold
        self._classify = classify
        self._detection = outlier_detection
        self._counting = outlier_detection is not None and outlier_detection.counts_outcomes
        self._grpc_cap = (
            outlier_detection is not None and outlier_detection.max_ejection_rule == "grpc"
        )
        # The next time something happens without a call: an interval evaluation or the end
        # of a timed ejection. The hot path compares ``now`` with it once (inf by default).
        self._clock = None if outlier_detection is None else EjectionClock(outlier_detection, now)
        self._next_timer = _NEVER if self._clock is None else self._clock.next_at

        self._by_name: dict[str, EndpointRecord] = {}
        self._members: list[EndpointRecord] = []
        self._candidates: list[EndpointRecord] = []
        self._panic = False
        self._n_ejected = 0
        # request id -> (its endpoint's record, the ``now`` it started at)
        self._requests: dict[int, tuple[EndpointRecord, float]] = {}
        self._next_request = 0
        self._pending = 0
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

    @classmethod
    def preset(
        cls, name: str, endpoints: Iterable[str] = (), *, rng: random.Random, **overrides: Any
    ) -> Pool:
        """A pool configured as poolee, Envoy, gRPC or Finagle behave by default.

        ``name`` is one of :data:`~consistent.PRESETS`. ``overrides`` replace single keyword
        arguments of the preset (any :class:`Pool` argument). ``docs/pool.md`` lists each
        preset's settings and their sources.

        >>> pool = Pool.preset("envoy", ["a", "b", "c"], rng=random.Random(0))
        >>> pool.strategy
        'round_robin'

        Raises:
            InvalidArgumentError: an unknown preset name.
        """
        from consistent._presets import preset_arguments

        return cls(endpoints, rng=rng, **{**preset_arguments(name), **overrides})

    # -- membership ------------------------------------------------------------------------

    @staticmethod
    def _validate_name(endpoint: object) -> None:
        if not isinstance(endpoint, str):
            raise InvalidTypeError(
                f"endpoint must be a str, got {type(endpoint).__name__}: {endpoint!r}"
            )
        if not endpoint:
            raise InvalidArgumentError("endpoint must be a non-empty name, got ''")

    def _get(self, endpoint: str) -> EndpointRecord:
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
        if now >= self._next_timer:
            self._advance(now)
        record = EndpointRecord(endpoint, self._order, self._window_size)
        self._order += 1
        self._by_name[endpoint] = record
        self._members.append(record)
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
        if now >= self._next_timer:
            self._advance(now)
        del self._by_name[endpoint]
        self._members.remove(record)
        self._transition(record, "removed", now)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """All member endpoints, in insertion order."""
        return tuple(self._by_name)

    def healthy_endpoints(self) -> tuple[str, ...]:
        """The healthy endpoints, in insertion order.

        Runtime complexity: O(n).
        """
        return tuple(e.name for e in self._members if e.state is HEALTHY)

    def is_healthy(self, endpoint: str) -> bool:
        """Whether ``endpoint`` is healthy (not ejected).

        Raises:
            UnknownNodeError: it is not a member.
        """
        return self._get(endpoint).state is HEALTHY

    @property
    def in_panic(self) -> bool:
        """True when the pool picks among all endpoints (too few are healthy)."""
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
        # Arguments added after the first release are shown only when not at their default,
        # so the repr of a pool built the old way is unchanged.
        extra = ""
        if self._eject_on_upstream:
            extra += ", eject_on_upstream=True"
        if self._strategy_options:
            extra += f", strategy_options={self._strategy_options!r}"
        if self._detection is not None:
            extra += f", outlier_detection={self._detection!r}"
        if self._panic_threshold:
            extra += f", panic_threshold={self._panic_threshold!r}"
        if self._classify is not None:
            # A named function shows as its name (valid Python where that name is imported).
            extra += f", classify={getattr(self._classify, '__qualname__', repr(self._classify))}"
        return (
            f"Pool({list(self._by_name)!r}, rng=random.Random(), strategy={self._strategy!r}, "
            f"failure_threshold={self._failure_threshold!r}, "
            f"success_rate={self._success_rate!r}, "
            f"max_ejection_share={self._max_ejection_share!r}, "
            f"health_check_backoff={self._health_check_backoff!r}, "
            f"max_pending={self._max_pending_arg!r}, "
            f"max_pending_per_endpoint={self._max_pending_per_endpoint_arg!r}, "
            f"panic={self._panic_allowed!r}{extra})"
        )

    # -- the state machine -------------------------------------------------------------------

    def _transition(self, record: EndpointRecord, trigger: str, now: float) -> None:
        """Apply ``TRANSITIONS[(state, trigger)]`` to ``record`` with its side effects."""
        source = record.state
        target = TRANSITIONS[(source, trigger)]
        if source is EJECTED:
            self._n_ejected -= 1
        if target is EJECTED:
            self._n_ejected += 1
            if source is HEALTHY:
                record.ejections += 1
            if self._detection is None:
                self._schedule_check(record, fresh=source is HEALTHY, now=now)
            elif source is HEALTHY:
                assert self._clock is not None
                self._clock.ejected(record, now, self._rng)
        else:
            if target is HEALTHY and self._detection is not None:
                record.readmit_at = None
                durations = self._detection.ejection_durations
                # Finagle: re-admitted on probation; the schedule resets only after a success.
                record.probation = trigger == "ejection_expired" and durations is not None
                if durations is None or trigger != "ejection_expired":
                    record.attempt = 0
                    record.last_delay = None
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
            if self._clock is not None and self._clock.exact:
                self._clock.reschedule(self._members)
                self._next_timer = self._clock.next_at
        if self._observer is not None:
            self._observer(PoolEvent(now, record.name, source, target, trigger))

    def _schedule_check(self, record: EndpointRecord, fresh: bool, now: float) -> None:
        """Health-check re-admission: the next check, one backoff step later."""
        if fresh:
            record.attempt = 0
            record.last_delay = None
        record.attempt += 1
        delay = self._health_check_backoff.delay(record.attempt, self._rng, record.last_delay)
        record.last_delay = delay
        record.next_check = now + delay

    def _advance(self, now: float) -> None:
        """Let the ejection clock run what is due at or before ``now``, each at its time."""
        clock = self._clock
        assert clock is not None
        clock.advance(now, self._members, self._readmit, self._eject, self._random)
        self._next_timer = clock.next_at

    def _readmit(self, record: EndpointRecord, at: float) -> None:
        self._transition(record, "ejection_expired", at)

    def _refresh_candidates(self) -> None:
        members = self._members
        healthy = [e for e in members if e.state is HEALTHY]
        if healthy and len(healthy) >= self._panic_threshold * len(members):
            self._candidates, self._panic = healthy, False
        elif members and self._panic_allowed:
            self._candidates, self._panic = list(members), True
        else:
            self._candidates, self._panic = [], False

    def _eject(self, record: EndpointRecord, trigger: str, now: float) -> bool:
        """Eject a healthy endpoint unless the ejection cap forbids it; whether it did."""
        share = self._max_ejection_share
        n = len(self._by_name)
        if self._grpc_cap:
            # gRFC A50: stop once the ejected share is *above* the cap.
            refused = self._n_ejected > share * n + 1e-9
        else:
            allowed = math.floor(share * n + 1e-9)
            if share > 0 and allowed < 1:
                allowed = 1
            refused = self._n_ejected >= allowed
        if refused:
            record.ejections_refused += 1
            return False
        self._transition(record, trigger, now)
        return True

    # -- picking -----------------------------------------------------------------------------

    def _select(self, exclude: Collection[str], now: float) -> EndpointRecord:
        candidates = self._candidates
        if self._walks:
            if exclude or not candidates or self._max_per < _UNLIMITED:
                return self._select_walk(exclude, now)
            walked = self._choose(self._members, now)
            if walked is None:
                self._no_endpoint()
            return walked
        if exclude or not candidates:
            return self._select_slow(exclude, now)
        record = self._choose(candidates, now)
        if record is None or record.pending >= self._max_per:
            return self._select_slow(exclude, now)
        return record

    def _no_endpoint(self) -> NoReturn:
        if not self._by_name:
            raise NoHealthyEndpointError("the pool has no endpoints", available_at=None)
        at = self.next_check_at()
        raise NoHealthyEndpointError(
            f"no healthy endpoint among {len(self._by_name)}; "
            f"the next health check is due at {at!r}",
            available_at=at,
        )

    def _select_slow(self, exclude: Collection[str], now: float) -> EndpointRecord:
        if self._walks:
            return self._select_walk(exclude, now)
        candidates = self._candidates
        if not candidates:
            self._no_endpoint()
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
        record = self._choose(free, now)
        assert record is not None
        return record

    def _select_walk(self, exclude: Collection[str], now: float) -> EndpointRecord:
        """Strategies that walk every member (poolee, Finagle) judge health themselves."""
        members = self._members
        if not members or not (self._candidates or self._walks):
            self._no_endpoint()
        if not self._candidates and not self._panic_allowed:
            # Still one draw, as poolee's get_node draws before finding no healthy node.
            self._random()
            self._no_endpoint()
        limit = self._max_per
        if limit < _UNLIMITED:
            members = [e for e in members if e.pending < limit]
            if not members:
                raise PoolFullError(
                    f"every endpoint has {limit} pending requests "
                    f"(max_pending_per_endpoint={limit})"
                )
        if exclude:
            preferred = [e for e in members if e.name not in exclude]
            if any(e.state is HEALTHY for e in preferred):
                members = preferred
        record = self._choose(members, now)
        if record is None:
            self._no_endpoint()
        return record

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
        if now >= self._next_timer:
            self._advance(now)
        return self._select(exclude, now).name

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
        if now >= self._next_timer:
            self._advance(now)
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
        if now >= self._next_timer:
            self._advance(now)
        record = self._select(exclude, now)
        record.pending += 1
        record.started += 1
        self._pending += 1
        request_id = self._next_request
        self._next_request = request_id + 1
        self._requests[request_id] = (record, now)
        return record.name, request_id

    def finish(
        self,
        request_id: int,
        outcome: OutcomeLike,
        now: float,
        latency: float | None = None,
    ) -> None:
        """Report how a started request ended; failures may eject its endpoint.

        A success resets the endpoint's failure streak; a failure or timeout extends it and
        ejects the endpoint at ``failure_threshold`` (within the ejection cap). Outcomes on
        ejected or removed endpoints are counted but cause no transition.

        :attr:`Outcome.UPSTREAM` (the endpoint answered that a server behind it was
        unreachable) frees the request and is counted in ``upstream``, but is not held
        against the endpoint: it neither extends nor resets the failure streak, and is no
        success for the success rate. A pool built with ``eject_on_upstream=True`` treats it
        as a failure instead (streak, success rate, ejection).

        ``outcome`` may be anything the pool's ``classify`` maps to an outcome (an HTTP
        status, say). ``latency`` is the request's latency for latency-aware strategies
        (default: ``now`` minus the time the request started).

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
            return self.finish(request_id, self._to_outcome(outcome), now, latency)
        if now.__class__ is not float or now - now != 0.0:
            check_now(now)
        entry = self._requests.pop(request_id, None)
        if entry is None:
            self._unknown_request(request_id)
        record, started = entry
        if now < started:
            self._requests[request_id] = entry  # still pending: nothing changed
            self._finished_before_start(request_id, started, now)
        if now >= self._next_timer:
            self._advance(now)
        record.pending -= 1
        self._pending -= 1
        if self._observe is not None:
            if latency is None:
                latency = now - started
            self._observe(record, latency, now)
        if not failed:
            record.succeeded += 1
            record.streak = 0
            if self._counting:
                record.bucket_ok += 1
            if record.probation:
                record.probation = False
                record.attempt = 0
                record.last_delay = None
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
        if self._counting:
            record.bucket_bad += 1
        if record.state is HEALTHY:
            if record.probation:
                record.probation = False
                self._eject(record, "probe_failed", now)
            elif record.streak >= self._streak_limit:
                self._eject(record, "consecutive_failures", now)
            if self._window_size and record.state is HEALTHY:
                self._record_rate(record, 1, now)
        return None

    def _to_outcome(self, outcome: object) -> Outcome:
        if isinstance(outcome, Outcome):
            return outcome
        if isinstance(outcome, str) and outcome in _OUTCOME_VALUES:
            return Outcome(outcome)
        if self._classify is not None:
            classified = self._classify(outcome)
            if isinstance(classified, Outcome):
                return classified
            if isinstance(classified, str) and classified in _OUTCOME_VALUES:
                return Outcome(classified)
            raise InvalidArgumentError(
                f"classify must return an outcome, got {classified!r} for {outcome!r}"
            )
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

    def _record_rate(self, record: EndpointRecord, bad: int, now: float) -> None:
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
        concurrently should remember which are in flight). With ``outlier_detection`` no
        check is ever scheduled (re-admission is by time).

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
        if now >= self._next_timer:
            self._advance(now)
        due = [
            e
            for e in self._members
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
                for e in self._members
                if e.next_check is not None and e.name not in exclude
            ]
        else:
            times = [e.next_check for e in self._members if e.next_check is not None]
        return min(times) if times else None

    def next_event_at(self) -> float | None:
        """When the pool next changes on its own (an interval evaluation or the end of a timed
        ejection), or ``None``. A driver that wants events on time calls any method then.

        Runtime complexity: O(1).
        """
        return None if self._next_timer == _NEVER else self._next_timer

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
        if now >= self._next_timer:
            self._advance(now)
        if healthy:
            record.checks_passed += 1
            if record.state is EJECTED:
                record.multiplier = 0
                self._transition(record, "check_passed", now)
        else:
            record.checks_failed += 1
            if record.state is EJECTED:
                if self._detection is None:
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
            e.name: EndpointStats(
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
                readmit_at=e.readmit_at,
            )
            for e in self._members
        }

    def _check(self) -> None:
        """Verify the pool's internal invariants (O(n + pending)); raise AssertionError."""
        members = self._members
        assert [e.name for e in members] == list(self._by_name)
        assert all(self._by_name[e.name] is e for e in members)
        healthy = [e for e in members if e.state is HEALTHY]
        ejected = [e for e in members if e.state is EJECTED]
        assert len(healthy) + len(ejected) == len(members)
        assert self._n_ejected == len(ejected), (self._n_ejected, len(ejected))
        if healthy and len(healthy) >= self._panic_threshold * len(members):
            assert self._candidates == healthy and not self._panic
        elif members and self._panic_allowed:
            assert self._candidates == members and self._panic
        else:
            assert self._candidates == [] and not self._panic
        timed = self._detection is not None
        for e in members:
            assert e.started == e.succeeded + e.failed + e.timed_out + e.upstream + e.pending
            if timed:
                assert e.next_check is None
                assert (e.readmit_at is not None) == (e.state is EJECTED)
            else:
                assert (e.next_check is not None) == (e.state is EJECTED)
                assert e.readmit_at is None and not e.probation
            assert e.pending >= 0
        assert self._pending == len(self._requests)
        per: dict[int, int] = {}
        for record, _ in self._requests.values():
            per[id(record)] = per.get(id(record), 0) + 1
        for e in members:
            assert per.get(id(e), 0) == e.pending


def _check_order(record: EndpointRecord) -> tuple[float, int]:
    assert record.next_check is not None
    return (record.next_check, record.order)
