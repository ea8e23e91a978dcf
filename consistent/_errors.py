"""The exception hierarchy.

Every exception the library raises on purpose derives from :class:`ConsistentError`, and
also from the built-in exception a caller would naturally catch: a lookup on an empty
structure is a :class:`LookupError`, an unknown node a :class:`KeyError`, a caller's bad
argument a :class:`ValueError`.
"""

from __future__ import annotations

__all__ = [
    "ConsistentError",
    "DuplicateNodeError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "LimitExceededError",
    "UnknownKeyError",
    "EmptyRingError",
    "NoHealthyEndpointError",
    "PoolFullError",
    "UnknownNodeError",
    "UnsupportedOperationError",
]


class ConsistentError(Exception):
    """Base class of every error raised by :mod:`consistent`."""


class InvalidArgumentError(ConsistentError, ValueError):
    """A caller passed a value the operation cannot take (also a :class:`ValueError`)."""


class InvalidTypeError(ConsistentError, TypeError):
    """A caller passed a value of a type the operation cannot take (also a :class:`TypeError`)."""


class LimitExceededError(InvalidArgumentError):
    """A size (points on a ring, a table's length) is beyond the library's documented limit."""


class EmptyRingError(ConsistentError, LookupError):
    """A lookup was made on a placement structure that has no nodes."""


class UnknownNodeError(ConsistentError, KeyError):
    """A node (or endpoint) named in a call is not a member."""

    def __str__(self) -> str:
        # KeyError.__str__ repr()s its argument; our argument is already a sentence.
        return str(self.args[0]) if self.args else ""


class UnknownKeyError(ConsistentError, KeyError):
    """A key named in a call holds nothing to act on (e.g. releasing a key never assigned)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DuplicateNodeError(ConsistentError, ValueError):
    """A node (or endpoint) that is already a member was added again."""


class UnsupportedOperationError(ConsistentError, ValueError):
    """The algorithm cannot perform this operation (e.g. jump hash removing a middle bucket)."""


class PoolFullError(ConsistentError):
    """A request could not start: a pool-wide or per-endpoint pending limit is reached."""


class NoHealthyEndpointError(ConsistentError, LookupError):
    """No endpoint can take a request now.

    ``available_at`` is the earliest time at which one may become available (the next
    health check that is due), or ``None`` when nothing is scheduled.
    """

    def __init__(self, message: str, available_at: float | None = None) -> None:
        super().__init__(message)
        self.available_at = available_at
