"""A server's state: up or down, member or not, its view, its concurrency limit and queue.

Plain data with slots, shared by the layers above: :mod:`sim._membership` moves a server
between views, :mod:`sim._cluster` starts and stops it, :mod:`sim._requests` queues and
serves attempts on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import consistent
from sim._views import View

if TYPE_CHECKING:
    from sim._requests import Attempt

__all__ = ["Server"]


class Server:
    """One server process and its host.

    >>> Server(0, "s000", concurrency=4)
    <Server s000 down>
    """

    __slots__ = (
        "backlog",
        "busy",
        "concurrency",
        "down_at",
        "epoch",
        "fresh",
        "hang_for",
        "homes",
        "hung",
        "incarnation",
        "index",
        "inflight",
        "leaving",
        "member",
        "membership",
        "mode",
        "name",
        "ok",
        "on_drained",
        "placer",
        "queue",
        "suspects",
        "up",
        "view",
    )

    def __init__(self, index: int, name: str, concurrency: int) -> None:
        self.index = index
        self.name = name
        self.up = False
        #: Part of the cluster (started and not decommissioned).
        self.member = False
        self.leaving = False
        self.view: View | None = None
        #: What this server's process believes about its peers: a sans-IO
        #: ``consistent.Membership`` (None until it first starts); :attr:`view` follows it.
        self.membership: consistent.Membership | None = None
        #: Home server index of every key id by :attr:`view` (-1: serve it itself).
        self.homes: list[int] = []
        #: Stateful placement (bounded loads): this server's own ring with its load counts.
        self.placer: Any = None
        self.busy = 0
        self.concurrency = concurrency
        self.queue: deque[Attempt] = deque()
        #: Changes whenever the process stops or starts: completions of an older epoch are lost.
        self.epoch = 0
        #: Started and has not served a request yet.
        self.fresh = False
        #: Changes whenever the process stops: membership news about an older one is stale.
        self.incarnation = 0
        self.down_at = 0.0
        #: How the world sees it while it is down: "refuse" or "blackhole" (sim._config.MODES).
        self.mode = "refuse"
        #: Stopped answering (a hang): it accepts and holds work, answers nothing, until resumed.
        self.hung = False
        #: How long the current hang lasts (work in service finishes that much later).
        self.hang_for = 0.0
        #: Attempts that reached it as their entry while it hung, in arrival order.
        self.backlog: deque[Attempt] = deque()
        #: Up, not leaving and not hung: takes new work and answers. Kept by :meth:`refresh`.
        self.ok = False
        #: Attempts it is the entry of and whose client is still waiting for it.
        self.inflight = 0
        #: Nodes this server's forwards failed to reach, with when the suspicion expires:
        #: its requests skip them (straight to the next replica) until its view settles.
        self.suspects: dict[int, float] = {}
        #: Called when a leaving server holds nothing any more (set by whoever drains it).
        self.on_drained: Callable[[Server], object] | None = None

    def refresh(self) -> None:
        """Recompute :attr:`ok` after ``up``, ``leaving`` or ``hung`` changed."""
        self.ok = self.up and not self.leaving and not self.hung

    def holds_work(self) -> bool:
        """Whether it still serves, queues or relays anything (a drain waits for this)."""
        return bool(self.busy or self.queue or self.inflight or self.backlog)

    @property
    def members(self) -> frozenset[int]:
        """The members of this server's view (empty before it has one)."""
        return self.view.members if self.view is not None else frozenset()

    def __repr__(self) -> str:
        state = "down" if not self.up else "hung" if self.hung else \
            "leaving" if self.leaving else "up"
        return f"<Server {self.name} {state}>"
