"""HeartbeatTask, HeartbeatReceiver and MembershipView, in-process and on uvicorn servers.

Servers are uvicorn tasks on pre-bound 127.0.0.1 sockets in the test's own event loop; each
test's ``run`` is bounded, and every server and heartbeat task is stopped (bounded) at the
end of its cluster. H is 50 ms in-process and 100 ms (k = 5) between servers, so detection
takes a fraction of a second yet survives a loaded machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from consistent import HashRing, Membership, Pool, RetryPolicy
from consistent.http import (
    MEMBERSHIP_PATH,
    AsyncPoolTransport,
    ForwardEvent,
    ForwardToHome,
    HeartbeatReceiver,
    HeartbeatTask,
    MembershipView,
    key_from_path,
)

H = 0.05
K = 3
LIVE_H = 0.1
LIVE_K = 5


def run(coroutine: Awaitable[Any], timeout: float = 15.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def fallback(scope: Any, receive: Any, send: Any) -> None:
    """The application behind the receiver: answers 200 'app' (lifespan supported)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    served_by = scope.get("served_by", "").encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"x-served-by", served_by)]}
    )
    await send({"type": "http.response.body", "body": b"app"})


def app_named(name: str) -> Callable[..., Awaitable[None]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "served_by": name}
        await fallback(scope, receive, send)

    return app


async def call(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """Call an ASGI app in-process; return (status, body)."""
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def membership(name: str, peers: list[str], **kwargs: Any) -> Membership:
    kwargs.setdefault("heartbeat_interval", H)
    kwargs.setdefault("missed_heartbeats", K)
    return Membership(name, peers, now=0.0, **kwargs)


# -- in-process ------------------------------------------------------------------------------


def test_receiver_applies_messages_and_answers_json() -> None:
    async def main() -> None:
        m = membership("a", [])
        changes: list[tuple[frozenset[str], int]] = []
        task = HeartbeatTask(m, on_change=lambda members, v: changes.append((members, v)))
        receiver = HeartbeatReceiver(fallback, task)
        message = json.dumps({"kind": "heartbeat", "from": "b", "incarnation": 2}).encode()
        status, body = await call(receiver, "POST", MEMBERSHIP_PATH, message)
        assert status == 200
        reply = json.loads(body)
        assert reply == {
            "from": "a",
            "incarnation": 0,
            "state_of_sender": "alive",
            "incarnation_of_sender": 2,
        }
        assert m.members == {"a", "b"} and changes == [(frozenset({"a", "b"}), 1)]
        joined = json.dumps({"kind": "joined", "from": "c", "incarnation": 0}).encode()
        status, body = await call(receiver, "POST", MEMBERSHIP_PATH, joined)
        assert json.loads(body)["members"] == {"b": 2, "c": 0, "a": 0}
        left = json.dumps({"kind": "left", "from": "b", "incarnation": 3}).encode()
        status, body = await call(receiver, "POST", MEMBERSHIP_PATH, left)
        assert json.loads(body)["state_of_sender"] == "left" and m.members == {"a", "c"}
        assert await call(receiver, "GET", "/other") == (200, b"app")
        status, body = await call(receiver, "GET", MEMBERSHIP_PATH)
        assert status == 200
        assert json.loads(body) == {"from": "a", "version": 3, "members": {"c": 0, "a": 0}}

    run(main())


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [
        ("PUT", b"", 405),
        ("POST", b"not json", 400),
        ("POST", b'{"kind": "heartbeat", "from": "b"}', 400),
        ("POST", b'{"kind": "gossip", "from": "b", "incarnation": 0}', 400),
        ("POST", b'{"kind": "heartbeat", "from": "b", "incarnation": -1}', 400),
        ("POST", b'{"kind": "heartbeat", "from": 5, "incarnation": 0}', 400),
        ("POST", b"[1, 2]", 400),
    ],
)
def test_receiver_rejects_bad_messages(method: str, body: bytes, status: int) -> None:
    m = membership("a", [])
    receiver = HeartbeatReceiver(fallback, HeartbeatTask(m))
    assert run(call(receiver, method, MEMBERSHIP_PATH, body))[0] == status
    assert m.members == {"a"} and m.version == 0


def test_membership_view_is_rebuilt_only_when_the_version_changes() -> None:
    m = membership("a", ["b", "c"])
    built: list[list[str]] = []

    def factory(members: list[str]) -> HashRing:
        built.append(members)
        return HashRing(members)

    view = MembershipView(m, factory)
    first = view()
    assert view() is first and built == [["a", "b", "c"]]
    m.left("b", now=1.0)
    assert view() is not first and view().nodes == ("a", "c") and len(built) == 2


def test_loop_suspects_and_removes_a_silent_peer_on_time() -> None:
    async def main() -> None:
        m = membership("http://127.0.0.1:1", ["http://127.0.0.1:2"])
        clock_start = asyncio.get_running_loop().time()
        changes: list[int] = []
        task = HeartbeatTask(
            m,
            clock=lambda: asyncio.get_running_loop().time() - clock_start,
            on_change=lambda members, version: changes.append(version),
        )
        await task.start(announce=False)
        try:
            assert task.running
            assert await eventually(lambda: len(m.members) == 1)
            elapsed = asyncio.get_running_loop().time() - clock_start
            assert K * H <= elapsed < K * H + 1.0
            assert changes == [1] and task.sent >= 2
        finally:
            await task.stop()
        assert not task.running

    run(main())


# -- on uvicorn servers ----------------------------------------------------------------------


def bound_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


class LiveNode:
    def __init__(
        self,
        sock: socket.socket,
        peers: list[str],
        seeds: list[str] | None,
        incarnation: int = 0,
        suspicion_timeout: float = 0.0,
    ) -> None:
        self.sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        # Servers on a loaded machine: half a second of silence, not 150 ms, removes a peer.
        self.membership = membership(
            self.url,
            peers,
            incarnation=incarnation,
            suspicion_timeout=suspicion_timeout,
            heartbeat_interval=LIVE_H,
            missed_heartbeats=LIVE_K,
        )
        # Sends may take longer than H on a loaded machine; only silence must stay short.
        self.task = HeartbeatTask(self.membership, seeds=seeds, timeout=2.0)
        self.view = MembershipView(self.membership)
        self.events: list[ForwardEvent] = []
        app = ForwardToHome(
            app_named(self.url),
            name=self.url,
            view=self.view,
            key=key_from_path(1),
            replicas=2,
            forward_timeout=0.5,
            observer=self.events.append,
        )
        self.server = uvicorn.Server(
            uvicorn.Config(
                HeartbeatReceiver(app, self.task),
                lifespan="on",
                log_level="error",
                # uvicorn does not tell a connection accepted while it shuts down to close,
                # and heartbeats keep it busy: bound the drain so a stop stays bounded.
                timeout_keep_alive=1,
                timeout_graceful_shutdown=1,
                access_log=False,
            )
        )
        self.serving: asyncio.Task[None] | None = None

    async def start(self, announce: bool = True) -> None:
        self.serving = asyncio.get_running_loop().create_task(
            self.server.serve(sockets=[self.sock])
        )
        assert await eventually(lambda: self.server.started)
        await self.task.start(announce=announce)

    async def stop(self) -> None:
        await self.task.stop()
        self.server.should_exit = True
        if self.serving is not None:
            _, pending = await asyncio.wait([self.serving], timeout=5.0)
            assert not pending
            self.serving = None
        self.sock.close()


@contextlib.asynccontextmanager
async def live_nodes() -> AsyncIterator[Callable[..., LiveNode]]:
    made: list[LiveNode] = []

    def make(
        peers: list[str] | None = None,
        seeds: list[str] | None = None,
        incarnation: int = 0,
        suspicion_timeout: float = 0.0,
    ) -> LiveNode:
        node = LiveNode(bound_socket(), peers or [], seeds, incarnation, suspicion_timeout)
        made.append(node)
        return node

    try:
        yield make
    finally:
        for node in made:
            await node.stop()


def test_cluster_detects_a_crash_learns_a_join_and_a_leave() -> None:
    async def main() -> None:
        async with live_nodes() as make:
            a = make()
            b = make()
            c = make()
            urls = [a.url, b.url, c.url]
            for node in (a, b, c):
                for url in urls:
                    if url != node.url:
                        node.membership.joined(url, now=0.0)
                node.task.seeds = frozenset(urls) - {node.url}
            for node in (a, b, c):
                await node.start(announce=False)
            # Heartbeats keep everyone in everyone's view (a peer suspected on a loaded machine
            # refutes and comes back).
            await asyncio.sleep(2 * LIVE_K * LIVE_H)
            assert await eventually(
                lambda: all(n.membership.members == set(urls) for n in (a, b, c))
            )

            # A crash: c's server and heartbeats stop; a and b remove it after k missed beats.
            await c.stop()
            assert await eventually(lambda: c.url not in a.membership.members)
            assert await eventually(lambda: c.url not in b.membership.members)
            assert a.view().nodes == tuple(sorted([a.url, b.url]))

            # A join: d knows only a; its announcement teaches it b, and its heartbeats teach b.
            d = make(seeds=[a.url])
            await d.start()
            assert d.url in a.membership.members
            assert await eventually(lambda: b.url in d.membership.members)
            assert await eventually(lambda: d.url in b.membership.members)

            # A graceful leave: gone from the others' views at once, not after k*H.
            assert await d.task.leave() == 2
            assert d.url not in a.membership.members and d.url not in b.membership.members
            assert a.membership.state(d.url) == "left"

    run(main())


def test_a_peer_removed_while_hung_refutes_and_comes_back() -> None:
    async def main() -> None:
        async with live_nodes() as make:
            a = make()
            b = make()
            for node, other in ((a, b), (b, a)):
                node.membership.joined(other.url, now=0.0)
                node.task.seeds = frozenset({other.url})
            await a.start(announce=False)
            await b.start(announce=False)
            # a removes b, as if b had hung past its deadline (same incarnation).
            a.membership.confirm_dead(b.url, now=0.0, incarnation=0)
            assert b.url not in a.membership.members
            # b's next heartbeat hears "dead", refutes with a higher incarnation, and is back.
            assert await eventually(lambda: b.url in a.membership.members)
            assert b.membership.incarnation >= 1
            assert a.membership.incarnation_of(b.url) == b.membership.incarnation

    run(main())


def test_a_crash_costs_no_request_end_to_end() -> None:
    """Client pool -> entry -> home, with fill-in while the views still hold the dead node."""

    async def main() -> None:
        async with live_nodes() as make:
            # Suspects stay in the views for 2 s: the window in which entries fill in.
            nodes = [make(suspicion_timeout=2.0) for _ in range(3)]
            urls = [node.url for node in nodes]
            for node in nodes:
                for url in urls:
                    if url != node.url:
                        node.membership.joined(url, now=0.0)
                node.task.seeds = frozenset(urls) - {node.url}
                await node.start(announce=False)
            a, b, c = nodes
            ring = HashRing(urls)
            keys = [f"key{i}" for i in range(400) if ring.node_for(f"key{i}") == c.url][:20]
            pool = Pool([a.url, b.url], rng=random.Random(3))
            transport = AsyncPoolTransport(pool, retry=RetryPolicy(max_attempts=1))
            async with httpx.AsyncClient(transport=transport, timeout=2.0) as client:
                await c.stop()  # a crash: refused from now on, still in a's and b's views
                during = [await client.get(f"http://svc/items/{key}") for key in keys[:10]]
                assert [r.status_code for r in during] == [200] * 10
                assert {r.headers["x-served-by"] for r in during} <= {a.url, b.url}
                failed = [e for n in (a, b) for e in n.events if e.kind == "failed"]
                assert failed and {(e.node, e.error) for e in failed} == {(c.url, "refused")}
                assert await eventually(
                    lambda: c.url not in a.membership.members | b.membership.members, 8.0
                )
                marks = len(a.events), len(b.events)
                after = [await client.get(f"http://svc/items/{key}") for key in keys[10:]]
                assert [r.status_code for r in after] == [200] * 10
                later = a.events[marks[0] :] + b.events[marks[1] :]
                assert len(later) >= 10
                assert all(e.home != c.url and e.kind != "failed" for e in later)
            assert pool.healthy_endpoints() == (a.url, b.url)
            assert not transport.health_worker_alive

    run(main())
