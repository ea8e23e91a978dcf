"""The observer interface: how the model tells the metrics layer about rare events.

The model calls these methods on faults, view changes, failed attempts and pool changes;
:class:`~sim._metrics.Recorder` implements them. Observers look and never steer: none of
these calls may change the model's state or draw from its random streams. Hot-path figures
are not delivered here; they are counters (:mod:`sim._counters`) the recorder samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim._requests import Attempt
    from sim._views import View

__all__ = ["Observer"]


class Observer:
    """Receives the model's rare events. Every method is a no-op here."""

    def on_down(self, now: float, node: int, kind: str) -> None:
        """``node`` went down (``kind``: crash, restart, decommission)."""

    def on_up(self, now: float, node: int, kind: str) -> None:
        """``node`` came up (``kind``: start, restart, join)."""

    def on_leave(self, now: float, node: int) -> None:
        """``node`` announced it is leaving (decommission)."""

    def on_view(self, now: float, server: int, view: View) -> None:
        """``server`` now routes by ``view``."""

    def on_sent_to_down(self, now: float, node: int) -> None:
        """A client sent an attempt to ``node`` while it was not serving (down, leaving, hung)."""

    def on_attempt_failed(self, now: float, attempt: Attempt, cause: int) -> None:
        """An attempt failed; ``cause`` is the down server that lost it, or -1."""

    def on_pool_change(self, now: float, client: int, node: int, healthy: bool) -> None:
        """A client's pool ejected (``healthy=False``) or readmitted ``node``."""

    def on_first_served(self, now: float, node: int) -> None:
        """``node`` served the first request since it (re)started."""

    def on_network(self, now: float, extra: float) -> None:
        """The extra network delay changed."""
