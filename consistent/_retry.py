"""Retries that cannot amplify an outage: a retry policy and a retry budget.

Theory of operation
-------------------
A :class:`RetryPolicy` says *whether* a request that ended badly is tried again (at most
``max_attempts`` attempts in all, only for the outcomes in ``retry_on``), *how long* to wait
first (its backoff), and that the retry should prefer another endpoint
(``prefer_different_endpoint``; pass the endpoints already tried as ``exclude`` to
:meth:`Pool.pick <consistent.Pool.pick>`).

A :class:`RetryBudget` bounds retries as a share of requests, as Finagle's ``RetryBudget``
and gRPC's retry throttling do: over a sliding window of ``ttl`` time units, retries may be
at most ``ratio`` times the original requests, plus a floor of ``min_per_second * ttl`` so
a client with little traffic can still retry. When a server is down and every request fails,
a 20% budget turns the outage into 1.2x the load, not ``max_attempts`` times it.
Each original request calls :meth:`RetryBudget.deposit`; each retry must first succeed in
:meth:`RetryBudget.try_withdraw`. The window is kept in ten slices of ``ttl / 10``, so memory
is constant and a deposit expires between ``0.9 * ttl`` and ``ttl`` after it was made.

Like the pool, nothing here reads a clock or a global random state: calls take ``now`` and a
:class:`random.Random`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from consistent._backoff import ExponentialBackoff, Jitter, check_attempt
from consistent._errors import InvalidArgumentError, InvalidTypeError
from consistent._outcomes import Outcome, OutcomeLike, check_now

__all__ = ["DEFAULT_RETRY_BACKOFF", "RetryBudget", "RetryPolicy"]

_SLICES: Final = 10

DEFAULT_RETRY_BACKOFF: Final = ExponentialBackoff(
    base=0.05, factor=2.0, cap=1.0, jitter=Jitter.FULL
)
"""50 ms doubling to 1 s, full jitter (the AWS recommendation for competing clients)."""


def _non_negative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise InvalidArgumentError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


class RetryBudget:
    """A sliding-window budget: retries may be ``ratio`` of requests plus a floor.

    ``balance(now) = min_per_second * ttl + ratio * deposits - withdrawals`` over the last
    ``ttl``; a withdrawal succeeds when the balance is at least 1.

    Runtime complexity: O(1) per call (amortised; at most 10 slices are cleared).

    >>> budget = RetryBudget(ratio=0.5, min_per_second=0.0, ttl=10.0)
    >>> for _ in range(4):
    ...     budget.deposit(now=0.0)
    >>> [budget.try_withdraw(now=1.0) for _ in range(3)]
    [True, True, False]
    >>> budget.try_withdraw(now=11.0)      # the deposits have expired
    False

    Raises:
        TypeError, ValueError: a negative or non-finite ``ratio`` or ``min_per_second``, or a
            ``ttl`` that is not positive.
    """

    __slots__ = (
        "_deposited",
        "_deposits",
        "_min_per_second",
        "_ratio",
        "_reserve",
        "_slice",
        "_ttl",
        "_width",
        "_withdrawals",
        "_withdrawn",
    )

    def __init__(self, ratio: float = 0.2, min_per_second: float = 10.0, ttl: float = 10.0) -> None:
        self._ratio = _non_negative("ratio", ratio)
        self._min_per_second = _non_negative("min_per_second", min_per_second)
        ttl_f = _non_negative("ttl", ttl)
        if ttl_f <= 0:
            raise InvalidArgumentError(f"ttl must be a positive duration, got {ttl!r}")
        self._ttl = ttl_f
        self._width = ttl_f / _SLICES
        self._reserve = self._min_per_second * ttl_f
        self._deposits = [0] * _SLICES
        self._withdrawals = [0] * _SLICES
        self._deposited = 0
        self._withdrawn = 0
        self._slice: int | None = None

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self._ratio!r}, min_per_second={self._min_per_second!r}, "
            f"ttl={self._ttl!r})"
        )

    def _advance(self, now: float) -> int:
        """Expire the slices older than ``ttl`` and return the current slice's index."""
        check_now(now)
        current = math.floor(now / self._width)
        last = self._slice
        if last is None:
            self._slice = current
        elif current > last:
            # A time that goes backwards is treated as the latest seen (nothing expires).
            for step in range(last + 1, min(current, last + _SLICES) + 1):
                k = step % _SLICES
                self._deposited -= self._deposits[k]
                self._withdrawn -= self._withdrawals[k]
                self._deposits[k] = self._withdrawals[k] = 0
            self._slice = current
        assert self._slice is not None
        return self._slice % _SLICES

    def deposit(self, now: float) -> None:
        """Record one original (non-retry) request at ``now``."""
        k = self._advance(now)
        self._deposits[k] += 1
        self._deposited += 1

    def balance(self, now: float) -> float:
        """How many retries the budget allows at ``now`` (may be fractional or negative)."""
        self._advance(now)
        return self._reserve + self._ratio * self._deposited - self._withdrawn

    def try_withdraw(self, now: float) -> bool:
        """Take one retry from the budget if it allows one; return whether it did."""
        k = self._advance(now)
        if self._reserve + self._ratio * self._deposited - self._withdrawn < 1.0:
            return False
        self._withdrawals[k] += 1
        self._withdrawn += 1
        return True


@dataclass(frozen=True)
class RetryPolicy:
    """When and how to retry a request; pure configuration (the budget holds the state).

    ``attempt`` below is the number of attempts made so far: 1 after the original request
    ended, 2 after the first retry, and so on.

    >>> policy = RetryPolicy(max_attempts=2, budget_min_per_second=1.0)
    >>> budget = policy.new_budget()
    >>> budget.deposit(now=0.0)
    >>> policy.should_retry(1, Outcome.TIMEOUT, budget, now=0.1)
    True
    >>> policy.should_retry(2, Outcome.TIMEOUT, budget, now=0.2)    # max_attempts reached
    False
    >>> 0.0 <= policy.delay_before(1, random.Random(0)) <= 0.05
    True

    Args:
        max_attempts: attempts in all, the original included (1 disables retries).
        prefer_different_endpoint: retries should exclude the endpoints already tried.
        retry_on: the outcomes worth retrying (strings accepted; not ``SUCCESS``). The
            default retries failures, timeouts and :attr:`~consistent.Outcome.UPSTREAM`
            replies (another endpoint may reach the key's home).
        backoff: the wait before each retry (default :data:`DEFAULT_RETRY_BACKOFF`).
        budget_ratio, budget_min_per_second, budget_ttl: parameters of :meth:`new_budget`.

    Raises:
        TypeError, ValueError: a parameter of the wrong type or out of range.
    """

    max_attempts: int = 3
    prefer_different_endpoint: bool = True
    retry_on: frozenset[Outcome] = frozenset({Outcome.FAILURE, Outcome.TIMEOUT, Outcome.UPSTREAM})
    backoff: ExponentialBackoff = DEFAULT_RETRY_BACKOFF
    budget_ratio: float = 0.2
    budget_min_per_second: float = 10.0
    budget_ttl: float = 10.0

    def __post_init__(self) -> None:
        m = self.max_attempts
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise InvalidArgumentError(f"max_attempts must be an int of at least 1, got {m!r}")
        object.__setattr__(self, "retry_on", _to_outcomes(self.retry_on))
        if not isinstance(self.backoff, ExponentialBackoff):
            raise InvalidTypeError(f"backoff must be an ExponentialBackoff, got {self.backoff!r}")
        RetryBudget(self.budget_ratio, self.budget_min_per_second, self.budget_ttl)

    def __repr__(self) -> str:
        outcomes = sorted(o.value for o in self.retry_on)
        return (
            f"RetryPolicy(max_attempts={self.max_attempts!r}, "
            f"prefer_different_endpoint={self.prefer_different_endpoint!r}, "
            f"retry_on=frozenset({outcomes!r}), backoff={self.backoff!r}, "
            f"budget_ratio={self.budget_ratio!r}, "
            f"budget_min_per_second={self.budget_min_per_second!r}, "
            f"budget_ttl={self.budget_ttl!r})"
        )

    def new_budget(self) -> RetryBudget:
        """A fresh :class:`RetryBudget` with this policy's parameters (one per client)."""
        return RetryBudget(self.budget_ratio, self.budget_min_per_second, self.budget_ttl)

    def should_retry(
        self, attempt: int, outcome: OutcomeLike, budget: RetryBudget | None, now: float
    ) -> bool:
        """Whether to retry after ``attempt`` attempts, the last ending with ``outcome``.

        Withdraws from ``budget`` (when given) only if everything else allows the retry;
        ``None`` means no budget.

        Runtime complexity: O(1).

        Raises:
            InvalidArgumentError: ``attempt`` is not an int of at least 1 (as for
                :meth:`ExponentialBackoff.delay`), ``outcome`` is not an outcome, or ``now``
                is not finite.
            InvalidTypeError: ``now`` is not a real number.
        """
        check_attempt(attempt)
        check_now(now)
        if attempt >= self.max_attempts:
            return False
        if _to_outcome(outcome) not in self.retry_on:
            return False
        return budget is None or budget.try_withdraw(now)

    def delay_before(
        self, attempt: int, rng: random.Random, previous: float | None = None
    ) -> float:
        """The wait before the next attempt, after ``attempt`` attempts: ``backoff.delay(attempt)``.

        ``previous`` is the previous wait (used by decorrelated jitter only).

        Runtime complexity: O(1).
        """
        return self.backoff.delay(attempt, rng, previous)


def _to_outcome(value: object) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise InvalidArgumentError(
            f"outcome must be one of {[o.value for o in Outcome]} or an Outcome, got {value!r}"
        ) from None


def _to_outcomes(values: Iterable[OutcomeLike]) -> frozenset[Outcome]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidTypeError(f"retry_on must be a collection of outcomes, got {values!r}")
    outcomes: set[Outcome] = set()
    for value in values:
        try:
            outcome = Outcome(value)
        except ValueError:
            raise InvalidArgumentError(
                f"retry_on must hold outcomes among {[o.value for o in Outcome]}, got {value!r}"
            ) from None
        if outcome is Outcome.SUCCESS:
            raise InvalidArgumentError(
                "retry_on must not contain Outcome.SUCCESS: a success is final"
            )
        outcomes.add(outcome)
    return frozenset(outcomes)
