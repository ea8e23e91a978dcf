"""ForwardToHome on real uvicorn servers on 127.0.0.1 ephemeral ports.

Each test runs in one event loop (``run``, bounded by a timeout); the servers are uvicorn
tasks on pre-bound sockets, stopped and awaited (bounded) when the test's cluster closes.
A "refusing" node is a closed port; a "blackhole" node is a listening socket nobody accepts
on, so a request sent to it never gets an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st

from consistent import HashRing, Outcome, Placement, Pool, RetryPolicy
from consistent.http import (
    FORWARDED_HEADER,
    UPSTREAM_UNAVAILABLE_HEADER,
    ForwardEvent,
    ForwardToHome,
    PoolTransport,
    key_from_header,
    key_from_path,
)


def run(coroutine: Awaitable[Any], timeout: float = 15.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


def bound_socket(listen: bool = True) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    if listen:
        sock.listen(8)
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def refusing_node() -> str:
    with bound_socket(listen=False) as sock:
        return url_of(sock)


def echo_app(name: str) -> Callable[..., Awaitable[None]]:
    """The application each server runs: it says who served the request, and the body."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        forwarded = dict(scope["headers"]).get(FORWARDED_HEADER.lower().encode(), b"-")
        payload = f"{name}|{scope['path']}|{forwarded.decode()}|".encode() + body
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-served-by", name.encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


class Node:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.url = url_of(sock)
        self.events: list[ForwardEvent] = []
        self.view: Placement = HashRing()
        self.middleware: ForwardToHome | None = None


class Cluster:
    """Nodes running ForwardToHome(echo_app) under uvicorn, and the dead nodes of the views."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        self.blackholes: list[socket.socket] = []

    async def start(self, count: int, **options: Any) -> list[Node]:
        started = []
        for _ in range(count):
            node = Node(bound_socket())
            node.middleware = ForwardToHome(
                echo_app(node.url),
                name=node.url,
                view=lambda node=node: node.view,
                key=key_from_path(1),
                observer=node.events.append,
                **options,
            )
            # uvicorn does not tell a connection accepted while it shuts down to close: bound
            # the keep-alive and the drain so stopping stays well within its bound.
            config = uvicorn.Config(
                node.middleware,
                lifespan="on",
                log_level="error",
                access_log=False,
                timeout_keep_alive=1,
                timeout_graceful_shutdown=1,
            )
            server = uvicorn.Server(config)
            task = asyncio.get_running_loop().create_task(server.serve(sockets=[node.sock]))
            self.servers.append((server, task))
            self.nodes.append(node)
            started.append(node)
        for _ in range(500):
            if all(server.started for server, _ in self.servers):
                break
            await asyncio.sleep(0.01)
        assert all(server.started for server, _ in self.servers)
        return started

    def blackhole(self) -> str:
        sock = bound_socket()
        self.blackholes.append(sock)
        return url_of(sock)

    def set_view(self, members: list[str]) -> None:
        for node in self.nodes:
            node.view = HashRing(members)

    async def close(self) -> None:
        for server, _ in self.servers:
            server.should_exit = True
        tasks = [task for _, task in self.servers]
        _, pending = await asyncio.wait(tasks, timeout=5.0)
        for task in pending:
            task.cancel()
        assert not pending
        for node in self.nodes:
            node.sock.close()
        for sock in self.blackholes:
            sock.close()


@contextlib.asynccontextmanager
async def cluster() -> AsyncIterator[Cluster]:
    running = Cluster()
    try:
        yield running
    finally:
        await running.close()


def key_with_preference(members: list[str], wanted: list[str]) -> str:
    """A key whose preference list (by a ring over ``members``) starts with ``wanted``."""
    ring = HashRing(members)
    for i in range(100_000):
        key = f"key{i}"
        if ring.nodes_for(key, len(wanted)) == wanted:
            return key
    raise AssertionError(f"no key with preference {wanted}")


def kinds(node: Node) -> list[tuple[str, str | None, str | None]]:
    return [(e.kind, e.node, e.error) for e in node.events]


async def get(url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        return await client.request(kwargs.pop("method", "GET"), url, **kwargs)


# -- forwarding ------------------------------------------------------------------------------


def test_forwards_to_the_home_and_serves_its_own_keys_locally() -> None:
    async def main() -> None:
        async with cluster() as c:
            a, b = await c.start(2)
            members = [a.url, b.url]
            c.set_view(members)
            remote = key_with_preference(members, [b.url])
            local = key_with_preference(members, [a.url])
            response = await get(f"{a.url}/items/{remote}?q=1", method="POST", content=b"xyz")
            assert response.status_code == 200
            assert response.headers["x-served-by"] == b.url
            assert response.content == f"{b.url}|/items/{remote}|{a.url}|xyz".encode()
            assert kinds(a) == [("forwarded", b.url, None)]
            assert kinds(b) == [("received", a.url, None)]
            response = await get(f"{a.url}/items/{local}")
            assert response.headers["x-served-by"] == a.url
            assert kinds(a)[-1] == ("local", a.url, None)
            assert a.middleware is not None and a.middleware._client is not None
        # lifespan shutdown closed the client the middleware made for forwarding
        assert a.middleware._client is None

    run(main())


def test_requests_without_a_key_are_served_locally() -> None:
    async def main() -> None:
        async with cluster() as c:
            (a,) = await c.start(1)
            c.set_view([a.url, refusing_node()])
            response = await get(f"{a.url}/")
            assert response.headers["x-served-by"] == a.url and a.events == []

    run(main())


def test_fill_in_when_the_home_refuses_then_straight_to_the_fill_in() -> None:
    async def main() -> None:
        async with cluster() as c:
            a, b = await c.start(2, replicas=2, suspect_ttl=30.0)
            dead = refusing_node()
            members = [a.url, b.url, dead]
            c.set_view(members)
            key = key_with_preference(members, [dead, b.url])
            response = await get(f"{a.url}/items/{key}", method="PUT", content=b"v1")
            assert response.status_code == 200 and response.headers["x-served-by"] == b.url
            assert response.content.endswith(b"|v1")
            assert kinds(a) == [("failed", dead, "refused"), ("forwarded", b.url, None)]
            assert a.events[0].home == dead and a.events[1].home == dead
            assert a.middleware is not None and set(a.middleware.suspects()) == {dead}
            response = await get(f"{a.url}/items/{key}")
            assert response.headers["x-served-by"] == b.url
            assert kinds(a)[2:] == [("forwarded", b.url, None)]  # no second failed forward

    run(main())


def test_fill_in_locally_when_this_server_is_the_next_replica() -> None:
    async def main() -> None:
        async with cluster() as c:
            a, b = await c.start(2, replicas=2)
            dead = refusing_node()
            members = [a.url, b.url, dead]
            c.set_view(members)
            key = key_with_preference(members, [dead, a.url])
            response = await get(f"{a.url}/items/{key}", method="POST", content=b"body")
            assert response.headers["x-served-by"] == a.url
            assert response.content == f"{a.url}|/items/{key}|-|body".encode()
            assert kinds(a) == [("failed", dead, "refused"), ("local", a.url, None)]

    run(main())


def test_fill_in_after_forward_timeout_when_the_home_does_not_answer() -> None:
    async def main() -> None:
        async with cluster() as c:
            a, b = await c.start(2, replicas=2, forward_timeout=0.2)
            hung = c.blackhole()
            members = [a.url, b.url, hung]
            c.set_view(members)
            key = key_with_preference(members, [hung, b.url])
            sent = time.monotonic()
            response = await get(f"{a.url}/items/{key}")
            assert response.headers["x-served-by"] == b.url
            failed, forwarded = a.events
            assert (failed.kind, failed.node, failed.error) == ("failed", hung, "timeout")
            assert (forwarded.kind, forwarded.node) == ("forwarded", b.url)
            assert 0.2 <= failed.at - sent < 1.5  # the forward timeout, then at once to b

    run(main())


def test_upstream_reply_when_every_replica_is_down() -> None:
    async def main() -> None:
        async with cluster() as c:
            a, b = await c.start(2, replicas=2)
            dead1, dead2 = refusing_node(), refusing_node()
            members = [a.url, b.url, dead1, dead2]
            c.set_view(members)
            key = key_with_preference(members, [dead1, dead2])
            response = await get(f"{a.url}/items/{key}")
            assert response.status_code == 502
            assert response.headers[UPSTREAM_UNAVAILABLE_HEADER] == dead1
            assert kinds(a) == [
                ("failed", dead1, "refused"),
                ("failed", dead2, "refused"),
                ("unavailable", None, None),
            ]
            assert kinds(b) == []

    run(main())


def test_replicas_one_never_fills_in() -> None:
    async def main() -> None:
        async with cluster() as c:
            a, b = await c.start(2, replicas=1)
            dead = refusing_node()
            members = [a.url, b.url, dead]
            c.set_view(members)
            key = key_with_preference(members, [dead, b.url])
            response = await get(f"{a.url}/items/{key}")
            assert response.status_code == 502 and kinds(b) == []

    run(main())


def test_the_client_pool_does_not_blame_the_entry_for_the_upstream_reply() -> None:
    async def main() -> None:
        async with cluster() as c:
            (a,) = await c.start(1, replicas=1)
            dead = refusing_node()
            members = [a.url, dead]
            c.set_view(members)
            key = key_with_preference(members, [dead])
            pool = Pool([a.url], rng=random.Random(1))
            transport = PoolTransport(pool, retry=RetryPolicy(max_attempts=1), health_path=None)
            # The sync client runs in a thread, so the servers keep running on this loop.
            with httpx.Client(transport=transport) as client:
                response = await asyncio.to_thread(client.get, f"http://svc/items/{key}")
            assert response.status_code == 502
            stats = pool.stats()[a.url]
            assert (stats.upstream, stats.failed, stats.state) == (1, 0, "healthy")
            assert Outcome.UPSTREAM.value == "upstream"

    run(main())


def test_forwarded_header_prevents_loops_between_disagreeing_views() -> None:
    async def main() -> None:
        async with cluster() as c:
            a, b = await c.start(2)
            members = [a.url, b.url]
            key = key_with_preference(members, [b.url])
            a.view = HashRing(members)
            b.view = HashRing([a.url])  # b believes a is the only member, so a is the home
            response = await get(f"{a.url}/items/{key}")
            assert response.headers["x-served-by"] == b.url
            assert kinds(b) == [("received", a.url, None)]
            # Without the header, b would forward to a by its own view.
            response = await get(f"{b.url}/items/{key}")
            assert response.headers["x-served-by"] == a.url

    run(main())


def test_suspicion_ends_after_the_ttl_and_when_the_view_changes() -> None:
    now = [100.0]
    dead = refusing_node()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not served here")

    ring = HashRing(["http://self", dead])
    middleware = ForwardToHome(
        app,
        name="http://self",
        view=lambda: ring,
        key=key_from_path(0),
        replicas=1,
        suspect_ttl=5.0,
        clock=lambda: now[0],
    )
    members = tuple(ring.nodes)
    middleware._suspect(dead, members, now[0])
    assert middleware.suspects() == {dead: 105.0}
    now[0] = 104.9
    assert dead in middleware.suspects()
    now[0] = 105.0
    assert middleware.suspects() == {}
    middleware._suspect(dead, members, now[0])
    ring.add("http://other")
    assert middleware.suspects() == {}
    assert middleware._order([dead, "http://self"], tuple(ring.nodes), now[0]) == [
        dead,
        "http://self",
    ]


NAMES = [f"http://n{i}" for i in range(6)]


@given(
    preference=st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True),
    suspects=st.dictionaries(
        st.sampled_from(NAMES),
        st.tuples(st.floats(0, 20), st.booleans()),
        max_size=6,
    ),
    now=st.floats(0, 20),
)
def test_order_puts_current_suspects_last_and_forgets_stale_ones(
    preference: list[str], suspects: dict[str, tuple[float, bool]], now: float
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    ring = HashRing(NAMES)
    members = tuple(ring.nodes)
    middleware = ForwardToHome(app, name=NAMES[0], view=lambda: ring, key=key_from_path(0))
    for node, (until, same_view) in suspects.items():
        middleware._suspects[node] = (until, members if same_view else members[:-1])
    current = {n for n, (until, same) in suspects.items() if same and until > now}
    order = middleware._order(list(preference), members, now)
    # The naive model: the preference list, current suspects moved last, each half in order.
    assert order == [n for n in preference if n not in current] + [
        n for n in preference if n in current
    ]
    for node in preference:  # stale entries of the nodes it looked at are forgotten
        assert (node in middleware._suspects) == (node in current)
    assert set(middleware.suspects(now)) == current


def test_key_extractors() -> None:
    scope = {"type": "http", "path": "/a/b/c", "headers": [(b"x-shard-key", b"k9")]}
    assert key_from_path(0)(scope) == "a" and key_from_path(2)(scope) == "c"
    assert key_from_path(3)(scope) is None
    assert key_from_header("X-Shard-Key")(scope) == "k9"
    assert key_from_header("X-Other")(scope) is None
    with pytest.raises(ValueError, match="segment"):
        key_from_path(-1)


def test_bad_arguments() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    ring = HashRing(["a"])
    with pytest.raises(ValueError, match="replicas"):
        ForwardToHome(app, name="a", view=lambda: ring, key=key_from_path(0), replicas=0)
    with pytest.raises(ValueError, match="forward_timeout"):
        ForwardToHome(app, name="a", view=lambda: ring, key=key_from_path(0), forward_timeout=0)
    with pytest.raises(TypeError, match="view"):
        ForwardToHome(app, name="a", view=ring, key=key_from_path(0))  # type: ignore[arg-type]
