"""What goes into and comes out of a pool: outcomes, times, events and per-endpoint stats.

These small value types are shared by the :class:`~consistent.Pool`, the retry policy and
the pool's collaborators (strategies, detectors, presets); they hold no behaviour.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from enum import Enum
from typing import Union

from consistent._errors import InvalidArgumentError, InvalidTypeError

__all__ = ["EndpointStats", "Outcome", "OutcomeLike", "PoolEvent", "check_now"]


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
    ``ejections_refused`` counts ejections the ejection cap prevented; ``readmit_at`` is when
    a timed ejection ends (``None`` unless ejected with ``outlier_detection``).
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
    readmit_at: float | None = None
