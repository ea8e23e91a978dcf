"""Outlier detectors of the pool: which endpoints to eject, and for how long.

Theory of operation
-------------------
The pool ejects an endpoint for one of four reasons, each a *detector*:

* **consecutive failures** (``Pool(failure_threshold=...)``): inline, on the failure that
  reaches the threshold (Envoy's ``consecutive_5xx``, Finagle's ``consecutiveFailures``,
  poolee's any-failure rule with a threshold of 1);
* **sliding success rate** (:class:`SuccessRateEjection`): inline, over an endpoint's last
  ``window`` outcomes;
* **statistical success rate** (:class:`SuccessRateOutliers`) and **failure percentage**
  (:class:`FailurePercentage`): evaluated once per ``interval`` over the outcomes counted
  since the previous evaluation, as Envoy's and gRPC's outlier detection (gRFC A50) do.

:class:`OutlierDetection` groups the per-interval detectors with *timed ejection*: an
ejected endpoint returns to service when its ejection time has passed (``base_ejection_time``
times the number of times it was ejected in a row, capped at ``max_ejection_time``), not when
a health check passes. The multiplier decreases by one at every evaluation that finds the
endpoint in service. Alternatively (``ejection_durations``) each ejection lasts the next delay
of a schedule, and re-admission puts the endpoint on *probation*: the next failure ejects it
again for the following delay, a success ends the probation and resets the schedule
(Finagle's failure accrual).

This module holds the configuration (immutable, validated), the pure arithmetic of the
per-interval detectors and the :class:`EjectionClock` that runs evaluations and ends timed
ejections, lazily, when a call's ``now`` passes their time; the :class:`~consistent.Pool`
keeps the counters and applies every ejection and re-admission through its state machine,
ejection cap included.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from consistent._backoff import CheckSchedule, ExponentialBackoff
from consistent._endpoint import EndpointRecord
from consistent._errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "EjectionClock",
    "FailurePercentage",
    "OutlierDetection",
    "SuccessRateEjection",
    "SuccessRateOutliers",
    "failure_percentage_outliers",
    "success_rate_outliers",
]


def _number(name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise InvalidArgumentError(f"{name} must be a {kind} finite number, got {value!r}")
    return float(value)


def _count(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an int of at least {minimum}, got {value!r}")
    return value


def _percent(name: str, value: object) -> float:
    v = _number(name, value)
    if v > 100:
        raise InvalidArgumentError(f"{name} must be a percentage in [0, 100], got {value!r}")
    return v


@dataclass(frozen=True)
class SuccessRateEjection:
    """Eject an endpoint whose success rate over its last ``window`` outcomes is too low.

    The rate is judged once at least ``min_requests`` outcomes are in the window (default:
    a full window); failures and timeouts both count against it. The window is cleared when
    the endpoint is ejected or re-admitted.

    >>> SuccessRateEjection(threshold=0.9, window=50, min_requests=10)
    SuccessRateEjection(threshold=0.9, window=50, min_requests=10)

    Raises:
        InvalidArgumentError: ``threshold`` outside ``(0, 1]``, ``window < 1`` or
            ``min_requests`` outside ``[1, window]``.
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


@dataclass(frozen=True)
class SuccessRateOutliers:
    """Per interval: eject endpoints whose success rate is below ``mean - stdev_factor * stdev``.

    Only endpoints in service with at least ``request_volume`` outcomes in the interval take
    part, and nothing is judged unless at least ``minimum_hosts`` do. The mean and the
    (population) standard deviation are over their success rates. An outlier is ejected with
    probability ``enforcement_percentage`` / 100 (one draw when below 100). Defaults are
    Envoy's and gRPC's (``success_rate_stdev_factor`` 1900 / 1000, 100 %, 5 hosts, 100
    requests).

    >>> SuccessRateOutliers().stdev_factor
    1.9
    """

    stdev_factor: float = 1.9
    enforcement_percentage: float = 100.0
    minimum_hosts: int = 5
    request_volume: int = 100

    def __post_init__(self) -> None:
        object.__setattr__(self, "stdev_factor", _number("stdev_factor", self.stdev_factor))
        object.__setattr__(
            self,
            "enforcement_percentage",
            _percent("enforcement_percentage", self.enforcement_percentage),
        )
        _count("minimum_hosts", self.minimum_hosts)
        _count("request_volume", self.request_volume)


@dataclass(frozen=True)
class FailurePercentage:
    """Per interval: eject endpoints whose failure percentage reaches ``threshold``.

    Judged only when the pool has at least ``minimum_hosts`` members, for endpoints in service
    with at least ``request_volume`` outcomes in the interval. ``inclusive`` selects the
    comparison: ``>=`` (Envoy's documentation, the default) or ``>`` (gRFC A50's algorithm).
    Defaults are Envoy's and gRPC's (85 %, 5 hosts, 50 requests; Envoy's enforcement default
    is 0 %, which disables it, gRPC's 100 % when configured).

    >>> FailurePercentage(threshold=85, inclusive=False).threshold
    85.0
    """

    threshold: float = 85.0
    enforcement_percentage: float = 100.0
    minimum_hosts: int = 5
    request_volume: int = 50
    inclusive: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", _percent("threshold", self.threshold))
        object.__setattr__(
            self,
            "enforcement_percentage",
            _percent("enforcement_percentage", self.enforcement_percentage),
        )
        _count("minimum_hosts", self.minimum_hosts)
        _count("request_volume", self.request_volume)
        if not isinstance(self.inclusive, bool):
            raise InvalidTypeError(f"inclusive must be a bool, got {self.inclusive!r}")


@dataclass(frozen=True)
class OutlierDetection:
    """Per-interval detectors and timed ejection (Envoy's and gRPC's outlier detection).

    A pool given one re-admits ejected endpoints by time instead of by health check (a
    passing health check the caller reports still re-admits at once). Evaluations happen at
    ``now0 + k * interval`` (``now0`` is the pool's construction time), lazily: the first
    call whose ``now`` reaches an evaluation time runs it (and any earlier one missed) at its
    own time, before doing anything else, so the result is the same as with a timer.

    An evaluation (``order="envoy"``): endpoints whose ejection time has passed are
    re-admitted, others in service have their multiplier decreased by one; then the interval's
    counters are judged by ``success_rate`` and ``failure_percentage``, in that order, and
    reset. ``order="grpc"`` judges first and re-admits/decreases after (gRFC A50, steps 2-5).

    Ejection time: ``min(base_ejection_time * multiplier, max(base_ejection_time,
    max_ejection_time))``, the multiplier being increased on each ejection (Envoy stops
    increasing it once the time is capped, ``cap_multiplier=True``; gRPC does not). An
    endpoint is re-admitted at the first evaluation at which ``now - ejected_at >=`` that
    time (``readmit_after_strictly=True``: ``>``, A50's "after"). With ``interval=None`` no
    evaluation runs and an endpoint is re-admitted at exactly the end of its ejection.

    ``ejection_durations`` replaces the multiplier rule by a schedule (Finagle's failure
    accrual): the k-th ejection in a row lasts ``ejection_durations.delay(k)``, re-admission
    is on probation (the next failure ejects again, the next success resets k).

    ``max_ejection_rule`` selects the ejection cap's arithmetic (the share itself is the
    pool's ``max_ejection_share``): ``"envoy"`` ejects when the share after ejecting stays
    within the cap or nothing is ejected; ``"grpc"`` when the share before ejecting is not
    above it (A50: "if the percentage of ejected addresses is greater than
    max_ejection_percent, stop").

    >>> OutlierDetection(success_rate=SuccessRateOutliers()).interval
    10.0

    Raises:
        InvalidArgumentError, InvalidTypeError: a value out of range or of the wrong type.
    """

    interval: float | None = 10.0
    base_ejection_time: float = 30.0
    max_ejection_time: float = 300.0
    success_rate: SuccessRateOutliers | None = None
    failure_percentage: FailurePercentage | None = None
    order: Literal["envoy", "grpc"] = "envoy"
    cap_multiplier: bool = True
    readmit_after_strictly: bool = False
    max_ejection_rule: Literal["envoy", "grpc"] = "envoy"
    ejection_durations: CheckSchedule | ExponentialBackoff | None = None

    def __post_init__(self) -> None:
        if self.interval is not None:
            object.__setattr__(self, "interval", _number("interval", self.interval, positive=True))
        base = _number("base_ejection_time", self.base_ejection_time, positive=True)
        object.__setattr__(self, "base_ejection_time", base)
        object.__setattr__(
            self,
            "max_ejection_time",
            _number("max_ejection_time", self.max_ejection_time, positive=True),
        )
        if self.success_rate is not None and not isinstance(self.success_rate, SuccessRateOutliers):
            raise InvalidTypeError(
                f"success_rate must be a SuccessRateOutliers or None, got {self.success_rate!r}"
            )
        if self.failure_percentage is not None and not isinstance(
            self.failure_percentage, FailurePercentage
        ):
            raise InvalidTypeError(
                "failure_percentage must be a FailurePercentage or None, "
                f"got {self.failure_percentage!r}"
            )
        for name in ("order", "max_ejection_rule"):
            if getattr(self, name) not in ("envoy", "grpc"):
                raise InvalidArgumentError(
                    f"{name} must be 'envoy' or 'grpc', got {getattr(self, name)!r}"
                )
        for name in ("cap_multiplier", "readmit_after_strictly"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidTypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        durations = self.ejection_durations
        if durations is not None and not isinstance(durations, (CheckSchedule, ExponentialBackoff)):
            raise InvalidTypeError(
                "ejection_durations must be a CheckSchedule, an ExponentialBackoff or None, "
                f"got {durations!r}"
            )
        if self.interval is None and (self.success_rate or self.failure_percentage):
            raise InvalidArgumentError(
                "success_rate and failure_percentage are judged per interval: give an interval"
            )

    @property
    def counts_outcomes(self) -> bool:
        """Whether the per-interval counters are needed (a per-interval detector is set)."""
        return self.success_rate is not None or self.failure_percentage is not None

    def ejection_time(self, multiplier: int) -> float:
        """How long the ``multiplier``-th ejection in a row lasts (the multiplier rule).

        >>> OutlierDetection().ejection_time(3), OutlierDetection().ejection_time(20)
        (90.0, 300.0)
        """
        base = self.base_ejection_time
        return min(base * multiplier, max(base, self.max_ejection_time))


def success_rate_outliers(
    rule: SuccessRateOutliers, volumes: list[tuple[int, int]]
) -> list[int] | None:
    """Indexes of the outliers among ``(successes, total)`` pairs, or ``None`` if not judged.

    Pairs below ``request_volume`` take no part; ``None`` when fewer than ``minimum_hosts``
    take part. Runtime complexity: O(n).

    >>> rule = SuccessRateOutliers(minimum_hosts=3, request_volume=10)
    >>> success_rate_outliers(rule, [(10, 10), (10, 10), (10, 10), (10, 10), (0, 10)])
    [4]
    """
    judged = [
        (i, ok / total) for i, (ok, total) in enumerate(volumes) if total >= rule.request_volume
    ]
    if len(judged) < rule.minimum_hosts:
        return None
    rates = [rate for _, rate in judged]
    mean = sum(rates) / len(rates)
    stdev = math.sqrt(sum((r - mean) ** 2 for r in rates) / len(rates))
    threshold = mean - rule.stdev_factor * stdev
    return [i for i, rate in judged if rate < threshold]


def failure_percentage_outliers(
    rule: FailurePercentage, volumes: list[tuple[int, int]], members: int
) -> list[int] | None:
    """Indexes of the endpoints whose failure percentage reaches the threshold, or ``None``.

    ``None`` when the pool has fewer than ``minimum_hosts`` members. Runtime complexity: O(n).

    >>> success_rate = [(0, 60), (60, 60), (9, 60)]
    >>> failure_percentage_outliers(FailurePercentage(minimum_hosts=3), success_rate, 5)
    [0, 2]
    """
    if members < rule.minimum_hosts:
        return None
    out = []
    for i, (ok, total) in enumerate(volumes):
        if total < rule.request_volume:
            continue
        failed = 100.0 * (total - ok) / total
        if failed > rule.threshold or (rule.inclusive and failed == rule.threshold):
            out.append(i)
    return out


class EjectionClock:
    """Time passing without calls: interval evaluations and the ends of timed ejections.

    A :class:`~consistent.Pool` built with ``outlier_detection`` owns one. It tells the clock
    of each ejection (:meth:`ejected`: how long it lasts), and before handling a call whose
    ``now`` reaches :attr:`next_at` it asks the clock to catch up (:meth:`advance`), handing
    it the members and two actions of its state machine: ``readmit(record, at)`` and
    ``eject(record, reason, at) -> bool`` (the ejection cap applies). Every evaluation runs
    at its own time, in order, so a lazy clock decides exactly as a timer would.

    Runtime complexity: O(n) per evaluation; :meth:`ejected` O(1).
    """

    __slots__ = ("detection", "epoch", "exact", "next_at", "ticks")

    def __init__(self, detection: OutlierDetection, epoch: float) -> None:
        self.detection = detection
        self.epoch = epoch
        self.ticks = 0
        interval = detection.interval
        self.exact = interval is None
        self.next_at = math.inf if interval is None else epoch + interval

    def ejected(self, record: EndpointRecord, now: float, rng: random.Random) -> None:
        """Record an ejection at ``now`` and how long it lasts (``record.readmit_at``)."""
        detection = self.detection
        record.ejected_at = now
        durations = detection.ejection_durations
        if durations is not None:
            record.attempt += 1
            delay = durations.delay(record.attempt, rng, record.last_delay)
        else:
            base = detection.base_ejection_time
            if not detection.cap_multiplier or base * record.multiplier < max(
                base, detection.max_ejection_time
            ):
                record.multiplier += 1
            delay = detection.ejection_time(record.multiplier)
        record.last_delay = delay
        record.readmit_at = now + delay
        record.next_check = None

    def reschedule(self, members: list[EndpointRecord]) -> None:
        """Without an interval: the next event is the earliest end of an ejection."""
        times = [e.readmit_at for e in members if e.readmit_at is not None]
        self.next_at = min(times) if times else math.inf

    def advance(
        self,
        now: float,
        members: list[EndpointRecord],
        readmit: Callable[[EndpointRecord, float], None],
        eject: Callable[[EndpointRecord, str, float], bool],
        draw: Callable[[], float],
    ) -> None:
        """Run every evaluation (or end of ejection) due at or before ``now``, in order."""
        detection = self.detection
        if self.exact:
            while self.next_at <= now:
                at = self.next_at
                due = [e for e in members if e.readmit_at is not None and e.readmit_at <= at]
                due.sort(key=_readmit_order)
                for record in due:
                    readmit(record, at)  # the pool reschedules us on each transition
                self.reschedule(members)
            return
        interval = detection.interval
        assert interval is not None
        while self.next_at <= now:
            self.ticks += 1
            at = self.next_at
            self.next_at = self.epoch + (self.ticks + 1) * interval
            if detection.order == "envoy":
                self._readmit_or_decay(members, readmit, at)
                self._judge(members, eject, draw, at)
            else:
                self._judge(members, eject, draw, at)
                self._readmit_or_decay(members, readmit, at)

    def _readmit_or_decay(
        self,
        members: list[EndpointRecord],
        readmit: Callable[[EndpointRecord, float], None],
        at: float,
    ) -> None:
        strictly = self.detection.readmit_after_strictly
        for record in list(members):
            if record.state == "ejected":
                needed = record.last_delay
                if record.readmit_at is None or needed is None:
                    continue
                elapsed = at - record.ejected_at
                if elapsed > needed or (not strictly and elapsed >= needed):
                    readmit(record, at)
            elif record.multiplier > 0:
                record.multiplier -= 1

    def _judge(
        self,
        members: list[EndpointRecord],
        eject: Callable[[EndpointRecord, str, float], bool],
        draw: Callable[[], float],
        at: float,
    ) -> None:
        detection = self.detection
        judged = [e for e in members if e.state == "healthy"]
        volumes = [(e.bucket_ok, e.bucket_ok + e.bucket_bad) for e in judged]
        for e in members:
            e.bucket_ok = e.bucket_bad = 0
        outliers: list[tuple[EndpointRecord, float, str]] = []
        rule = detection.success_rate
        if rule is not None:
            found = success_rate_outliers(rule, volumes) or ()
            pct = rule.enforcement_percentage
            outliers.extend((judged[i], pct, "success_rate_outlier") for i in found)
        fp = detection.failure_percentage
        if fp is not None:
            found = failure_percentage_outliers(fp, volumes, len(members)) or ()
            outliers.extend(
                (judged[i], fp.enforcement_percentage, "failure_percentage") for i in found
            )
        for record, percentage, reason in outliers:
            if record.state != "healthy":
                continue  # already ejected by the first detector
            if percentage < 100.0 and int(draw() * 100) >= percentage:
                continue
            eject(record, reason, at)


def _readmit_order(record: EndpointRecord) -> tuple[float, int]:
    assert record.readmit_at is not None
    return (record.readmit_at, record.order)
