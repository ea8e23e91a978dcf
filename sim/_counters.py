"""The hot-path counters: one object the request path increments and the recorder samples.

Counting a request must cost one attribute increment, so the counters are plain slots on one
object; the metrics layer reads them *by name* (:meth:`Counters.sample`) once per time-series
bin, never on the request path.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["Counters"]


class Counters:
    """Cumulative counts since the start of the run (requests, attempts, health checks).

    >>> c = Counters(servers=2)
    >>> c.issued += 3
    >>> c.sample(("issued", "succeeded"))
    {'issued': 3, 'succeeded': 0}
    """

    #: Counters of requests and attempts, in the order the time series lists them.
    NAMES: ClassVar[tuple[str, ...]] = (
        "issued", "succeeded", "failed_total", "retried", "forwarded", "attempts",
        "attempt_timeouts", "attempt_rejections", "late_responses", "in_flight",
        "pending_retries", "health_checks_sent", "health_checks_passed",
        "health_checks_failed", "forward_failures", "fill_ins",
    )

    #: Why an attempt failed: its entry refused (or reset) the connection; no answer in
    #: time; the entry answered "upstream unavailable" (no replica could be reached); a full
    #: queue; no endpoint to send to; the client's pending limit.
    ATTEMPT_CAUSES: ClassVar[tuple[str, ...]] = (
        "refused", "timeout", "upstream", "overload", "no_endpoint", "pool_full")
    #: Why a request failed: the cause of its last attempt, where "upstream" shows as
    #: "unavailable" (no replica of the key could serve it).
    REQUEST_CAUSES: ClassVar[tuple[str, ...]] = (
        "refused", "timeout", "unavailable", "overload", "no_endpoint", "pool_full")

    __slots__ = (*NAMES, "attempt_failures", "failed", "fill_ins", "forward_failures", "served")

    def __init__(self, servers: int) -> None:
        self.issued = 0
        self.succeeded = 0
        self.failed_total = 0
        self.retried = 0
        self.forwarded = 0
        self.attempts = 0
        self.attempt_timeouts = 0
        self.attempt_rejections = 0
        self.late_responses = 0
        #: Requests issued and not yet succeeded or failed (retries pending included).
        self.in_flight = 0
        #: Retries scheduled and not yet sent.
        self.pending_retries = 0
        #: Health checks clients sent, and how those that completed came out.
        self.health_checks_sent = 0
        self.health_checks_passed = 0
        self.health_checks_failed = 0
        #: Forwards an entry gave up on (refused, reset or unanswered), and the forwards it
        #: then sent to the next replica of the key (fill-in).
        self.forward_failures = 0
        self.fill_ins = 0
        #: Failed requests by cause (the cause of the last attempt; see REQUEST_CAUSES).
        self.failed: dict[str, int] = dict.fromkeys(self.REQUEST_CAUSES, 0)
        #: Failed attempts by cause (see ATTEMPT_CAUSES).
        self.attempt_failures: dict[str, int] = dict.fromkeys(self.ATTEMPT_CAUSES, 0)
        #: Requests served, by server index.
        self.served: list[int] = [0] * servers

    def sample(self, names: tuple[str, ...] = NAMES) -> dict[str, int]:
        """The current value of each named counter."""
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        return f"<Counters issued={self.issued} succeeded={self.succeeded}>"
