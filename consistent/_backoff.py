"""Backoff policies: how long to wait before the n-th retry or health check.

Theory of operation
-------------------
An :class:`ExponentialBackoff` is a small, immutable, pure object. Its *nominal* delay for
attempt ``n`` (``n = 1`` is the first retry or the first health check) is::

    nominal(n) = min(cap, base * factor ** (n - 1))

which never decreases with ``n`` and never exceeds ``cap``. Jitter spreads the actual delay
so that many clients that failed together do not retry together (see "Exponential Backoff
And Jitter", AWS Architecture Blog, 2015):

==================  ==========================================  =========================
jitter              delay                                       range
==================  ==========================================  =========================
``NONE``            ``nominal(n)``                              exactly ``nominal(n)``
``FULL``            ``uniform(0, nominal(n))``                  ``[0, nominal(n)]``
``EQUAL``           ``nominal(n)/2 + uniform(0, nominal(n)/2)``  ``[nominal(n)/2, nominal(n)]``
``DECORRELATED``    ``min(cap, uniform(base, factor * prev))``  ``[base, cap]``
==================  ==========================================  =========================

Decorrelated jitter depends on the previous delay ``prev``; when the caller does not pass it,
``prev`` is ``nominal(n)`` (``base`` for ``n = 1``, AWS's starting point), so the delay then
lies in ``[base, nominal(n + 1)]``, again a monotonic envelope. With ``factor=3`` it is
exactly the AWS formula.

Randomness comes only from the :class:`random.Random` passed to :meth:`~ExponentialBackoff.delay`
(one ``rng.random()`` draw per jittered delay, none for ``NONE``): the same seed gives the same
delays, and nothing reads a clock or a global random state.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import Enum
from typing import Union

from consistent._errors import InvalidArgumentError, InvalidTypeError

__all__ = ["CheckSchedule", "ExponentialBackoff", "Jitter"]


class Jitter(str, Enum):
    """How an :class:`ExponentialBackoff` randomises its nominal delay.

    The string values are accepted wherever a ``Jitter`` is expected.

    >>> Jitter("equal")
    Jitter.EQUAL
    """

    NONE = "none"
    FULL = "full"
    EQUAL = "equal"
    DECORRELATED = "decorrelated"

    def __repr__(self) -> str:
        return f"Jitter.{self.name}"

    def __str__(self) -> str:
        return self.value


JitterLike = Union[Jitter, str]
"""A :class:`Jitter` or one of its string values."""


def _positive_number(name: str, value: object) -> float:
    """``value`` as a float if it is a finite positive real number, else a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(
            f"{name} must be a positive number, got {type(value).__name__}: {value!r}"
        )
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _to_jitter(value: object) -> Jitter:
    if isinstance(value, Jitter):
        return value
    if isinstance(value, str):
        try:
            return Jitter(value)
        except ValueError:
            pass
    raise InvalidArgumentError(
        f"jitter must be one of {[j.value for j in Jitter]} or a Jitter, got {value!r}"
    )


@dataclass(frozen=True)
class ExponentialBackoff:
    """Exponential backoff with a cap and optional jitter; immutable and pure.

    ``delay(n, rng)`` is the wait before attempt ``n`` (``n = 1``: the first retry or check).
    See the module docstring for the formulas.

    Runtime complexity: O(1) per delay.

    >>> b = ExponentialBackoff(base=0.5, factor=2.0, cap=3.0, jitter="none")
    >>> [b.delay(n, random.Random(0)) for n in range(1, 6)]
    [0.5, 1.0, 2.0, 3.0, 3.0]
    >>> b
    ExponentialBackoff(base=0.5, factor=2.0, cap=3.0, jitter='none')
    >>> ExponentialBackoff(base=-1)
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidArgumentError: base must be a positive finite number, got -1

    Args:
        base: the nominal delay of the first attempt (seconds, or whatever unit ``now`` uses).
        factor: growth per attempt, at least 1.
        cap: the largest delay, at least ``base``.
        jitter: a :class:`Jitter` or its string value.

    Raises:
        TypeError: a parameter is not a number.
        ValueError: ``base`` not positive, ``factor < 1``, ``cap < base``, a non-finite value,
            or an unknown jitter.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: Jitter = Jitter.FULL

    def __init__(
        self,
        base: float = 1.0,
        factor: float = 2.0,
        cap: float = 60.0,
        jitter: JitterLike = Jitter.FULL,
    ) -> None:
        base_f = _positive_number("base", base)
        factor_f = _positive_number("factor", factor)
        if factor_f < 1.0:
            raise InvalidArgumentError(f"factor must be at least 1, got {factor!r}")
        cap_f = _positive_number("cap", cap)
        if cap_f < base_f:
            raise InvalidArgumentError(f"cap must be at least base ({base!r}), got {cap!r}")
        object.__setattr__(self, "base", base_f)
        object.__setattr__(self, "factor", factor_f)
        object.__setattr__(self, "cap", cap_f)
        object.__setattr__(self, "jitter", _to_jitter(jitter))

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoff(base={self.base!r}, factor={self.factor!r}, "
            f"cap={self.cap!r}, jitter={self.jitter.value!r})"
        )

    def nominal(self, attempt: int) -> float:
        """The delay before attempt ``attempt`` without jitter: ``min(cap, base*factor**(n-1))``.

        It never decreases with ``attempt`` and is the upper envelope of every jittered delay
        (for decorrelated jitter without ``previous``, ``nominal(attempt + 1)`` is).

        Runtime complexity: O(1).

        >>> ExponentialBackoff(base=1, factor=10, cap=50).nominal(3)
        50.0

        Raises:
            ValueError: ``attempt`` is not an int of at least 1.
        """
        check_attempt(attempt)
        return self._nominal(attempt)

    def _nominal(self, attempt: int) -> float:
        try:
            grown = self.base * self.factor ** (attempt - 1)
        except OverflowError:
            return self.cap
        return grown if grown < self.cap else self.cap

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """The (jittered) delay before attempt ``attempt``; ``attempt = 1`` is the first.

        ``previous`` is the delay returned for the previous attempt; only decorrelated jitter
        uses it (see the module docstring for its default).

        Runtime complexity: O(1), at most one ``rng.random()`` draw.

        >>> b = ExponentialBackoff(base=1, factor=2, cap=8, jitter=Jitter.EQUAL)
        >>> 1.0 <= b.delay(2, random.Random(7)) <= 2.0   # nominal(2) = 2, equal jitter: [1, 2]
        True

        Raises:
            ValueError: ``attempt`` is not an int of at least 1, or ``previous`` is negative.
        """
        check_attempt(attempt)
        jitter = self.jitter
        if jitter is Jitter.DECORRELATED:
            if previous is None:
                previous = self._nominal(attempt)
            elif not previous >= 0:
                raise InvalidArgumentError(
                    f"previous must be a non-negative delay, got {previous!r}"
                )
            upper = min(self.cap, self.factor * previous)
            if upper <= self.base:
                return self.base
            return min(self.cap, self.base + rng.random() * (upper - self.base))
        nominal = self._nominal(attempt)
        if jitter is Jitter.NONE:
            return nominal
        if jitter is Jitter.FULL:
            return rng.random() * nominal
        half = nominal / 2.0
        return half + rng.random() * half


def check_attempt(attempt: object) -> None:
    """Refuse an attempt number that is not an int of at least 1 (1 = the first).

    Shared with :class:`~consistent.RetryPolicy`, so attempts are numbered alike everywhere.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise InvalidArgumentError(
            f"attempt must be an int of at least 1 (1 = the first), got {attempt!r}"
        )


@dataclass(frozen=True)
class CheckSchedule:
    """A schedule of waits built on a backoff: fixed first wait, offset, cap after jitter.

    The wait before attempt ``n`` (``n = 1``: the first health check after an ejection, or
    the first ejection in a row):

    * with ``first`` set, attempt 1 waits exactly ``first`` (``0``: at once, as poolee's
      first ping; Finagle's first mark-dead period) and attempt ``n > 1`` waits as the
      backoff's attempt ``n - 1``; without it attempt ``n`` waits as the backoff's ``n``;
    * ``offset`` is added after jitter (poolee's ``+ 10`` ms), then the wait is rounded down
      to a multiple of ``resolution`` when one is given (poolee's whole milliseconds), and
      finally capped at ``cap`` when one is given: jitter *before* the cap, unlike
      :class:`ExponentialBackoff`'s own cap, which bounds the nominal delay before jitter.

    The backoff's random draws are the only ones (none for a ``first`` wait).

    poolee 1.0.1's pinger (``lib/pinger.js`` lines 23-36: ``min(floor(U * 2**k + 10), 10000)``
    ms after the k-th failed ping, the first ping at once), in seconds:

    >>> poolee = CheckSchedule(ExponentialBackoff(0.002, 2.0, 1e12, "full"), first=0.0,
    ...                        offset=0.010, resolution=0.001, cap=10.0)
    >>> poolee.delay(1, random.Random(0))
    0.0
    >>> 0.010 <= poolee.delay(2, random.Random(0)) <= 0.012
    True

    Runtime complexity: O(1) per delay.

    Raises:
        InvalidTypeError: ``backoff`` is not an :class:`ExponentialBackoff`, or a number
            is not a number.
        InvalidArgumentError: a negative or non-finite ``first``/``offset``, a ``resolution``
            or ``cap`` that is not positive.
    """

    backoff: ExponentialBackoff
    first: float | None = None
    offset: float = 0.0
    resolution: float | None = None
    cap: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.backoff, ExponentialBackoff):
            raise InvalidTypeError(f"backoff must be an ExponentialBackoff, got {self.backoff!r}")
        for name in ("first", "offset"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidTypeError(f"{name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise InvalidArgumentError(f"{name} must be non-negative and finite, got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("resolution", "cap"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _positive_number(name, value))

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """The wait before attempt ``attempt`` (``1`` = the first); see the class docstring.

        ``previous`` is passed on to the backoff (decorrelated jitter).

        Raises:
            InvalidArgumentError: ``attempt`` is not an int of at least 1.
        """
        check_attempt(attempt)
        first = self.first
        if first is not None:
            if attempt == 1:
                return first
            attempt -= 1
        wait = self.backoff.delay(attempt, rng, previous) + self.offset
        resolution = self.resolution
        if resolution is not None:
            wait = math.floor(wait / resolution + 1e-9) * resolution
        cap = self.cap
        if cap is not None and wait > cap:
            wait = cap
        return wait
