"""Membership over HTTP: an asyncio task that heartbeats peers and drives a Membership.

Theory of operation
-------------------
:class:`consistent.Membership` decides who is in this server's view; this module only moves
its messages and its clock. A :class:`HeartbeatTask` owns three duties:

* **Sending.** Every ``heartbeat_interval`` (H, the membership's), at fixed times ``t0 + i*H``
  (a late tick is skipped, never bunched), it POSTs ``{"kind": "heartbeat", "from": <self>,
  "incarnation": <n>}`` to :data:`~consistent.http.MEMBERSHIP_PATH` of every *target*: the
  current members and the *seeds* (the peers it was configured with), less itself. Each send
  is its own task, bounded by ``timeout``, so a peer that does not answer never delays the
  next tick. A failed send changes nothing: only silence, observed by the receiver, counts.
* **Time.** Between ticks it sleeps until the next tick or the membership's
  :meth:`~consistent.Membership.next_deadline`, whichever is first, and calls
  ``advance(time.monotonic())`` there, so a silent peer is suspected and removed on time.
* **Receiving.** :meth:`HeartbeatTask.receive` applies a message heard from a peer
  (``heartbeat(peer, at=now, incarnation)``, ``joined``, ``left``) and returns the reply;
  :class:`HeartbeatReceiver` is the ASGI middleware that calls it for
  ``POST /_consistent/membership`` and passes every other request on.

Incarnations (see :class:`~consistent.Membership`): :meth:`HeartbeatTask.start` announces
``joined`` to every target and adds the members each one answers with (so a new server learns
the cluster from its seeds); :meth:`HeartbeatTask.leave` announces ``left`` with the raised
incarnation. A reply saying the sender is ``dead`` or ``left`` at its incarnation or later
(it was removed while hung) makes the sender refute it: ``confirm_dead(self)`` raises its
incarnation, and its next heartbeat brings it back into that peer's view.

``on_change(members, version)`` is called after every call that changed the view (from the
loop or from :meth:`receive`); :class:`MembershipView` turns the current members into a
placement for :class:`~consistent.http.ForwardToHome`, rebuilt only when the version changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import httpx

from consistent import (
    HashRing,
    InvalidArgumentError,
    InvalidTypeError,
    Membership,
    Placement,
)
from consistent.http._asgi import ASGIApp, Receive, Scope, Send, read_body, send_reply
from consistent.http._wire import MEMBERSHIP_KINDS, MEMBERSHIP_PATH

__all__ = ["HeartbeatReceiver", "HeartbeatTask", "MembershipView"]

_REMOVED: Final = frozenset({"dead", "left"})


class MembershipView:
    """A view provider: the placement over a membership's current members, cached by version.

    ``factory`` builds the placement from the sorted member names (default: a
    :class:`~consistent.HashRing`); it is called again only after :attr:`Membership.version`
    changed, so every caller between two changes gets the same object.

    >>> from consistent import Membership
    >>> m = Membership("a", ["b"], now=0.0, heartbeat_interval=1.0, missed_heartbeats=3)
    >>> view = MembershipView(m)
    >>> view().nodes, view() is view()
    (('a', 'b'), True)

    Args:
        membership: the membership whose members the placement is built over.
        factory: ``sorted member names -> Placement``.
    """

    def __init__(
        self,
        membership: Membership,
        factory: Callable[[list[str]], Placement] = HashRing,
    ) -> None:
        if not isinstance(membership, Membership):
            raise InvalidTypeError(
                f"membership must be a consistent.Membership, got {membership!r}"
            )
        if not callable(factory):
            raise InvalidTypeError(f"factory must be callable, got {factory!r}")
        self.membership = membership
        self.factory = factory
        self._version = -1
        self._placement: Placement | None = None

    def __repr__(self) -> str:
        return f"MembershipView({self.membership!r}, factory={self.factory!r})"

    def __call__(self) -> Placement:
        version = self.membership.version
        placement = self._placement
        if placement is None or version != self._version:
            placement = self._placement = self.factory(sorted(self.membership.members))
            self._version = version
        return placement


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


class HeartbeatTask:
    """Heartbeats to peers every H seconds and the membership's clock, as one asyncio task.

    See the module docstring for the theory of operation. Node names are base URLs unless
    ``address`` maps them.

    >>> from consistent import Membership
    >>> m = Membership("http://127.0.0.1:8001", ["http://127.0.0.1:8002"], now=0.0,
    ...                heartbeat_interval=0.5, missed_heartbeats=3)
    >>> task = HeartbeatTask(m, clock=lambda: 1.0)
    >>> task.targets()
    ['http://127.0.0.1:8002']
    >>> task.receive("heartbeat", "http://127.0.0.1:8003", 4)["state_of_sender"]
    'alive'
    >>> sorted(m.members)[-1]
    'http://127.0.0.1:8003'

    Args:
        membership: the sans-IO membership this server drives (its ``self_name`` is this
            server's name; its ``heartbeat_interval`` is H).
        seeds: peers always sent heartbeats and announcements (default: the membership's
            members when the task is made).
        address: maps a node name to its base URL (default: the name is the base URL).
        timeout: seconds one send may take (default: H).
        client: the HTTP client (default: one the task makes and closes in :meth:`stop`).
        on_change: called with ``(members, version)`` after every change of the view.
        clock: the monotonic clock given to the membership.

    Raises:
        InvalidTypeError, InvalidArgumentError: a bad argument.
    """

    def __init__(
        self,
        membership: Membership,
        *,
        seeds: Iterable[str] | None = None,
        address: Callable[[str], str] | None = None,
        timeout: float | None = None,
        client: httpx.AsyncClient | None = None,
        on_change: Callable[[frozenset[str], int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(membership, Membership):
            raise InvalidTypeError(
                f"membership must be a consistent.Membership, got {membership!r}"
            )
        for label, value in (("address", address), ("on_change", on_change)):
            if value is not None and not callable(value):
                raise InvalidTypeError(f"{label} must be callable or None, got {value!r}")
        if not callable(clock):
            raise InvalidTypeError(f"clock must be callable, got {clock!r}")
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise InvalidTypeError(f"client must be an httpx.AsyncClient or None, got {client!r}")
        self.membership = membership
        self.name = membership.self_name
        if seeds is None:
            self.seeds = frozenset(membership.members) - {self.name}
        else:
            if isinstance(seeds, str):
                raise InvalidTypeError(f"seeds must be a collection of names, got {seeds!r}")
            self.seeds = frozenset(seeds) - {self.name}
        self.interval = membership.heartbeat_interval
        self.timeout = self.interval if timeout is None else _seconds("timeout", timeout)
        self._address = address
        self._client = client
        self._owns_client = client is None
        self._on_change = on_change
        self._clock = clock
        self._version = membership.version
        self._loop_task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[bool]] = set()
        #: Heartbeats sent, and those that got no valid answer.
        self.sent = 0
        self.failed = 0

    def __repr__(self) -> str:
        return (
            f"HeartbeatTask({self.membership!r}, seeds={sorted(self.seeds)!r}, "
            f"timeout={self.timeout!r})"
        )

    # -- the view ----------------------------------------------------------------------------

    def targets(self) -> list[str]:
        """Who the next heartbeat goes to: members and seeds, less this server, sorted."""
        return sorted((self.membership.members | self.seeds) - {self.name})

    def _changed(self) -> None:
        version = self.membership.version
        if version != self._version:
            self._version = version
            if self._on_change is not None:
                self._on_change(self.membership.members, version)

    # -- receiving ---------------------------------------------------------------------------

    def receive(self, kind: str, peer: str, incarnation: int) -> dict[str, Any]:
        """Apply a membership message heard from ``peer`` now; return the JSON reply.

        Raises:
            InvalidArgumentError: ``kind`` is not one of ``heartbeat``, ``joined``, ``left``
                (and the membership's own errors for a bad name or incarnation).
        """
        membership = self.membership
        now = self._clock()
        if kind == "heartbeat":
            membership.heartbeat(peer, at=now, incarnation=incarnation)
        elif kind == "joined":
            membership.joined(peer, now=now, incarnation=incarnation)
        elif kind == "left":
            membership.left(peer, now=now, incarnation=incarnation)
        else:
            raise InvalidArgumentError(
                f"kind must be one of {list(MEMBERSHIP_KINDS)}, got {kind!r}"
            )
        self._changed()
        reply: dict[str, Any] = {
            "from": self.name,
            "incarnation": membership.incarnation,
            "state_of_sender": membership.state(peer),
            "incarnation_of_sender": membership.incarnation_of(peer),
        }
        if kind == "joined":
            reply["members"] = membership.snapshot()
        return reply

    def view(self) -> dict[str, Any]:
        """This server's view as JSON: ``{"from", "version", "members": {name: incarnation}}``.

        What ``GET /_consistent/membership`` answers, so a client can keep its pool's
        endpoints in step with the servers (``PoolTransport.update_endpoints``).
        """
        membership = self.membership
        return {"from": self.name, "version": membership.version, "members": membership.snapshot()}

    def _apply_reply(self, kind: str, reply: object) -> None:
        """Learn from a peer's answer: refute a removal of this server; a join's members."""
        if not isinstance(reply, dict):
            raise ValueError(f"a membership reply must be a JSON object, got {reply!r}")
        membership = self.membership
        now = self._clock()
        state = reply.get("state_of_sender")
        known = reply.get("incarnation_of_sender")
        if (
            state in _REMOVED
            and isinstance(known, int)
            and known >= membership.incarnation
            and membership.state(self.name) == "alive"
        ):
            membership.confirm_dead(self.name, now=now, incarnation=known)
        members = reply.get("members")
        if kind == "joined" and isinstance(members, dict):
            for peer, incarnation in members.items():
                if isinstance(peer, str) and peer and isinstance(incarnation, int):
                    membership.joined(peer, now=now, incarnation=incarnation)
        self._changed()

    # -- sending -----------------------------------------------------------------------------

    def _client_for_sending(self) -> httpx.AsyncClient:
        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(trust_env=False)
        return client

    async def send(self, peer: str, kind: str = "heartbeat") -> bool:
        """Send one membership message to ``peer`` and apply its reply; True if it answered."""
        base = peer if self._address is None else self._address(peer)
        message = {"kind": kind, "from": self.name, "incarnation": self.membership.incarnation}
        self.sent += 1
        try:
            response = await self._client_for_sending().post(
                base.rstrip("/") + MEMBERSHIP_PATH, json=message, timeout=self.timeout
            )
            if response.status_code != 200:
                raise ValueError(f"status {response.status_code}")
            self._apply_reply(kind, response.json())
        except (httpx.HTTPError, ValueError):
            self.failed += 1
            return False
        return True

    def _send_in_background(self, peer: str, kind: str = "heartbeat") -> None:
        task = asyncio.get_running_loop().create_task(self.send(peer, kind))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def announce(self, kind: str) -> int:
        """Send ``kind`` (``joined`` or ``left``) to every target at once; return the answers."""
        results = await asyncio.gather(*(self.send(peer, kind) for peer in self.targets()))
        return sum(results)

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Heartbeat and advance the membership until cancelled."""
        membership = self.membership
        clock = self._clock
        interval = self.interval
        next_beat = clock()
        while True:
            now = clock()
            if now >= next_beat:
                if membership.state(self.name) == "alive":
                    for peer in self.targets():
                        self._send_in_background(peer)
                next_beat += interval
                if next_beat <= now:  # fell behind: skip the lost ticks, never bunch them
                    next_beat = now + interval
            membership.advance(clock())
            self._changed()
            deadline = membership.next_deadline()
            wake = next_beat if deadline is None else min(next_beat, deadline)
            await asyncio.sleep(max(0.0, wake - clock()))

    async def start(self, announce: bool = True) -> None:
        """Announce ``joined`` to every target (bounded by ``timeout``), then start :meth:`run`."""
        if self._loop_task is not None:
            return
        if announce:
            await self.announce("joined")
        self._loop_task = asyncio.get_running_loop().create_task(
            self.run(), name=f"consistent-heartbeats:{self.name}"
        )

    async def leave(self) -> int:
        """Leave the membership and announce it (bounded by ``timeout``); heartbeats stop.

        Returns how many peers answered.
        """
        self.membership.leave(self._clock())
        self._changed()
        return await self.announce("left")

    async def stop(self, timeout: float = 2.0) -> None:
        """Cancel the loop and the sends in flight, waiting at most ``timeout`` seconds;
        close the client the task made."""
        tasks: list[asyncio.Task[Any]] = [*self._sends]
        if self._loop_task is not None:
            tasks.append(self._loop_task)
            self._loop_task = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        client = self._client
        if client is not None and self._owns_client:
            self._client = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), timeout)

    @property
    def running(self) -> bool:
        """Whether the loop is running."""
        return self._loop_task is not None and not self._loop_task.done()


class HeartbeatReceiver:
    """ASGI middleware serving ``/_consistent/membership`` from a :class:`HeartbeatTask`.

    ``POST`` applies a membership message (:meth:`HeartbeatTask.receive`; 400 if malformed);
    ``GET`` answers :meth:`HeartbeatTask.view`. Every other request goes to ``app``. Put it
    outermost (around :class:`~consistent.http.ForwardToHome`), so membership messages are
    never forwarded.

    Args:
        app: the application for every other request.
        task: the heartbeat task whose :meth:`HeartbeatTask.receive` applies messages.
    """

    def __init__(self, app: ASGIApp, task: HeartbeatTask) -> None:
        if not callable(app):
            raise InvalidTypeError(f"app must be callable, got {app!r}")
        if not isinstance(task, HeartbeatTask):
            raise InvalidTypeError(f"task must be a HeartbeatTask, got {task!r}")
        self.app = app
        self.task = task

    def __repr__(self) -> str:
        return f"HeartbeatReceiver({self.app!r}, {self.task!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != MEMBERSHIP_PATH:
            await self.app(scope, receive, send)
            return
        method = scope.get("method")
        if method == "GET":
            await _send_json(send, self.task.view())
            return
        if method != "POST":
            await send_reply(
                send, 405, b"membership messages are POSTed\n", [(b"allow", b"GET, POST")]
            )
            return
        body = await read_body(receive)
        if body is None:
            return
        try:
            message = json.loads(body)
            kind, peer, incarnation = message["kind"], message["from"], message["incarnation"]
            if not isinstance(kind, str):
                raise TypeError(f"kind must be a str, got {kind!r}")
            reply = self.task.receive(kind, peer, incarnation)
        except (ValueError, TypeError, KeyError) as exc:
            await send_reply(send, 400, f"bad membership message: {exc}\n".encode())
            return
        await _send_json(send, reply)


async def _send_json(send: Send, value: object) -> None:
    payload = json.dumps(value).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})
