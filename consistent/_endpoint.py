"""The pool's record of one endpoint: its state, counts and the collaborators' slots.

One mutable object per member (and per removed endpoint with requests still pending). The
:class:`~consistent.Pool` owns it; strategies read ``name``, ``state``, ``pending``,
``probation`` and write their own slots (``cost``, ``stamp``); the ejection clock writes the
timed-ejection slots. Nothing here has behaviour beyond clearing the success-rate window.
"""

from __future__ import annotations

__all__ = ["EndpointRecord"]

_ABSENT = "absent"


class EndpointRecord:
    """The mutable record of one endpoint; the pool's private bookkeeping."""

    __slots__ = (
        "attempt",
        "bucket_bad",
        "bucket_ok",
        "checks_failed",
        "checks_passed",
        "cost",
        "ejected_at",
        "ejections",
        "ejections_refused",
        "failed",
        "last_delay",
        "multiplier",
        "name",
        "next_check",
        "order",
        "pending",
        "probation",
        "readmit_at",
        "reason",
        "since",
        "stamp",
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
        self.state: str = _ABSENT
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
        # timed ejection (outlier_detection)
        self.multiplier = 0
        self.ejected_at = 0.0
        self.readmit_at: float | None = None
        self.probation = False
        self.bucket_ok = 0
        self.bucket_bad = 0
        # latency-aware strategies (peak EWMA)
        self.cost = 0.0
        self.stamp: float | None = None

    def clear_window(self) -> None:
        if self.window_count:
            self.window[:] = bytes(len(self.window))
            self.window_bad = self.window_count = self.window_index = 0
