"""A server's state: up or down, member or not, its view, its concurrency limit and queue.

Plain data with slots, shared by the layers above: :mod:`sim._membership` moves a server
between views, :mod:`sim._cluster` starts and stops it, :mod:`sim._requests` queues and
serves attempts on it.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

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
        "busy",
        "concurrency",
        "down_at",
        "epoch",
        "homes",
        "incarnation",
        "index",
        "leaving",
        "member",
        "name",
        "placer",
        "queue",
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
        #: Home server index of every key id by :attr:`view` (-1: serve it itself).
        self.homes: list[int] = []
        #: Stateful placement (bounded loads): this server's own ring with its load counts.
        self.placer: Any = None
        self.busy = 0
        self.concurrency = concurrency
        self.queue: deque[Attempt] = deque()
        #: Changes whenever the process stops or starts: completions of an older epoch are lost.
        self.epoch = 0
        #: Changes whenever the process stops: membership news about an older one is stale.
        self.incarnation = 0
        self.down_at = 0.0

    @property
    def members(self) -> frozenset[int]:
        """The members of this server's view (empty before it has one)."""
        return self.view.members if self.view is not None else frozenset()

    def __repr__(self) -> str:
        return f"<Server {self.name} {'up' if self.up else 'down'}>"
