"""PoolTransport and AsyncPoolTransport against real servers on 127.0.0.1 ephemeral ports.

Every server is a stdlib ThreadingHTTPServer in a daemon thread, shut down by its fixture;
a handler that "hangs" waits on an event the fixture sets, so nothing outlives its test.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consistent import (
    ExponentialBackoff,
    InvalidArgumentError,
    InvalidTypeError,
    Outcome,
    Pool,
    RetryPolicy,
)
from consistent.http import (
    UPSTREAM_UNAVAILABLE_HEADER,
    AsyncPoolTransport,
    Attempt,
    PoolTransport,
    classify_status,
    is_upstream_unavailable,
)

FAST = ExponentialBackoff(base=0.001, factor=1.0, cap=0.001, jitter="none")
CHECKS = ExponentialBackoff(base=0.05, factor=1.0, cap=0.05, jitter="none")
NO_RETRY = RetryPolicy(max_attempts=1)


class Behaviour:
    """What a test server answers; tests change it while the server runs."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.health_status = 200
        self.hang = False
        self.released = threading.Event()
        self.requests: list[tuple[str, str, bytes, dict[str, str]]] = []


def _handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            behaviour.requests.append((self.command, self.path, body, dict(self.headers)))
            if self.path.endswith("/health"):
                self._answer(behaviour.health_status, {}, b"health")
                return
            if behaviour.hang:
                behaviour.released.wait(5.0)
                return
            self._answer(behaviour.status, behaviour.headers, b"served:" + body)

        do_GET = do_POST = _serve

    return Handler


class Server:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.behaviour))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.behaviour.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5.0)
        assert not self.thread.is_alive()


@pytest.fixture
def servers() -> Iterator[Callable[[], Server]]:
    started: list[Server] = []

    def start() -> Server:
        server = Server()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def closed_port_url() -> str:
    """A base URL on which nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_pool(endpoints: list[str], **kwargs: object) -> Pool:
    kwargs.setdefault("strategy", "round_robin")
    kwargs.setdefault("health_check_backoff", CHECKS)
    return Pool(endpoints, rng=random.Random(7), **kwargs)  # type: ignore[arg-type]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# -- the wire format -------------------------------------------------------------------------


@given(
    status=st.integers(100, 599),
    headers=st.lists(
        st.tuples(
            st.sampled_from(["X-Upstream-Unavailable", "x-upstream-unavailable", "X-Other"]),
            st.text(min_size=1, max_size=5),
        ),
        max_size=3,
    ),
)
def test_classify_status_matches_its_definition(
    status: int, headers: list[tuple[str, str]]
) -> None:
    marked = any(name.lower() == "x-upstream-unavailable" for name, _ in headers)
    expected = (
        Outcome.SUCCESS
        if status < 500
        else Outcome.UPSTREAM
        if marked and status in (502, 503, 504)
        else Outcome.FAILURE
    )
    assert classify_status(status, headers) is expected
    assert classify_status(status, dict(headers)) is expected


def test_classify_status_table() -> None:
    assert classify_status(200, {}) is Outcome.SUCCESS
    assert classify_status(404, {}) is Outcome.SUCCESS
    assert classify_status(500, {}) is Outcome.FAILURE
    for status in (502, 503, 504):
        assert classify_status(status, {"x-UPSTREAM-unavailable": "h"}) is Outcome.UPSTREAM
        assert classify_status(status, {}) is Outcome.FAILURE
    assert classify_status(500, {UPSTREAM_UNAVAILABLE_HEADER: "h"}) is Outcome.FAILURE
    assert not is_upstream_unavailable(200, {UPSTREAM_UNAVAILABLE_HEADER: "h"})


# -- the sync transport ----------------------------------------------------------------------


def test_success_rewrites_url_and_host(servers: Callable[[], Server]) -> None:
    server = servers()
    pool = make_pool([server.url + "/api/"])
    with httpx.Client(
        transport=PoolTransport(pool, health_path=None), base_url="http://service"
    ) as client:
        response = client.post("/items/42?x=1", content=b"body")
    assert response.status_code == 200 and response.content == b"served:body"
    assert response.extensions["consistent.endpoint"] == server.url + "/api/"
    assert response.extensions["consistent.attempts"] == 1
    method, path, _, headers = server.behaviour.requests[0]
    assert (method, path) == ("POST", "/api/items/42?x=1")
    assert headers["Host"] == server.url.removeprefix("http://")
    stats = pool.stats()[server.url + "/api/"]
    assert (stats.started, stats.succeeded, stats.pending) == (1, 1, 0)


def test_refused_is_a_failure_and_retried_elsewhere(servers: Callable[[], Server]) -> None:
    good = servers()
    dead = closed_port_url()
    pool = make_pool([dead, good.url])
    attempts: list[Attempt] = []
    transport = PoolTransport(
        pool, retry=RetryPolicy(backoff=FAST), health_path=None, on_attempt=attempts.append
    )
    with httpx.Client(transport=transport) as client:
        response = client.get("http://service/k")
    assert response.status_code == 200
    assert [(a.endpoint, a.outcome, a.error) for a in attempts] == [
        (dead, Outcome.FAILURE, "ConnectError"),
        (good.url, Outcome.SUCCESS, None),
    ]
    assert attempts[0].retried and not attempts[1].retried
    assert pool.stats()[dead].failed == 1 and not pool.is_healthy(dead)


def test_refused_without_retry_raises_connect_error() -> None:
    dead = closed_port_url()
    pool = make_pool([dead])
    transport = PoolTransport(pool, retry=NO_RETRY, health_path=None)
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError):
        client.get("http://service/k")
    assert pool.stats()[dead].failed == 1 and pool.pending == 0


def test_timeout_is_reported_as_timeout(servers: Callable[[], Server]) -> None:
    slow, good = servers(), servers()
    slow.behaviour.hang = True
    pool = make_pool([slow.url, good.url])
    attempts: list[Attempt] = []
    transport = PoolTransport(
        pool, retry=RetryPolicy(backoff=FAST), health_path=None, on_attempt=attempts.append
    )
    with httpx.Client(transport=transport, timeout=0.2) as client:
        response = client.get("http://service/k")
    assert response.status_code == 200
    assert attempts[0].outcome is Outcome.TIMEOUT and attempts[0].error == "ReadTimeout"
    assert 0.15 <= attempts[0].ended - attempts[0].started < 2.0
    assert pool.stats()[slow.url].timed_out == 1 and not pool.is_healthy(slow.url)


def test_5xx_is_a_failure_and_the_last_response_is_returned(
    servers: Callable[[], Server],
) -> None:
    server = servers()
    server.behaviour.status = 500
    pool = make_pool([server.url])
    with httpx.Client(transport=PoolTransport(pool, retry=NO_RETRY, health_path=None)) as client:
        response = client.get("http://service/k")
    assert response.status_code == 500 and response.content == b"served:"
    stats = pool.stats()[server.url]
    assert (stats.failed, stats.state) == (1, "ejected")


def test_upstream_reply_does_not_eject_the_entry(servers: Callable[[], Server]) -> None:
    server = servers()
    server.behaviour.status = 502
    server.behaviour.headers = {UPSTREAM_UNAVAILABLE_HEADER: "http://home"}
    pool = make_pool([server.url])
    with httpx.Client(transport=PoolTransport(pool, retry=NO_RETRY, health_path=None)) as client:
        for _ in range(3):
            assert client.get("http://service/k").status_code == 502
    stats = pool.stats()[server.url]
    assert (stats.upstream, stats.failed, stats.state) == (3, 0, "healthy")


def test_upstream_reply_ejects_when_the_pool_says_so(servers: Callable[[], Server]) -> None:
    server = servers()
    server.behaviour.status = 503
    server.behaviour.headers = {UPSTREAM_UNAVAILABLE_HEADER: "http://home"}
    pool = make_pool([server.url], eject_on_upstream=True)
    with httpx.Client(transport=PoolTransport(pool, retry=NO_RETRY, health_path=None)) as client:
        client.get("http://service/k")
    assert not pool.is_healthy(server.url)


def test_plain_502_without_the_header_is_the_entrys_failure(
    servers: Callable[[], Server],
) -> None:
    server = servers()
    server.behaviour.status = 502
    pool = make_pool([server.url])
    with httpx.Client(transport=PoolTransport(pool, retry=NO_RETRY, health_path=None)) as client:
        client.get("http://service/k")
    assert pool.stats()[server.url].failed == 1 and not pool.is_healthy(server.url)


def test_background_health_checks_readmit_an_ejected_endpoint(
    servers: Callable[[], Server],
) -> None:
    server = servers()
    server.behaviour.status = 500
    server.behaviour.health_status = 503
    pool = make_pool([server.url])
    transport = PoolTransport(pool, retry=NO_RETRY, health_timeout=0.5, health_poll=0.1)
    with httpx.Client(transport=transport) as client:
        client.get("http://service/k")
        assert not pool.is_healthy(server.url)
        with transport.lock:
            assert pool.stats()[server.url].checks_failed == 0
        assert wait_until(lambda: pool.stats()[server.url].checks_failed >= 2)
        assert not pool.is_healthy(server.url)
        server.behaviour.health_status = 200
        assert wait_until(lambda: pool.is_healthy(server.url))
        health = [path for _, path, _, _ in server.behaviour.requests if path == "/health"]
        assert len(health) >= 3
        assert transport.health_worker_alive
    assert not transport.health_worker_alive


def test_check_now_runs_due_checks_in_the_caller(servers: Callable[[], Server]) -> None:
    server = servers()
    dead = closed_port_url()
    pool = make_pool([dead, server.url])
    transport = PoolTransport(pool, retry=NO_RETRY, health_path="/health")
    now = time.monotonic()
    pool.finish(pool.start(dead, now), Outcome.FAILURE, now)
    pool.finish(pool.start(server.url, now), Outcome.FAILURE, now)
    assert transport.check_now() == []
    time.sleep(0.06)
    assert sorted(transport.check_now()) == sorted([(dead, False), (server.url, True)])
    assert pool.is_healthy(server.url) and not pool.is_healthy(dead)
    transport.close()


def test_retries_go_to_a_different_endpoint_within_max_attempts(
    servers: Callable[[], Server],
) -> None:
    failing = [servers() for _ in range(3)]
    for server in failing:
        server.behaviour.status = 500
    pool = make_pool([s.url for s in failing], failure_threshold=None)
    attempts: list[Attempt] = []
    retry = RetryPolicy(max_attempts=3, backoff=FAST, budget_min_per_second=10.0)
    transport = PoolTransport(pool, retry=retry, health_path=None, on_attempt=attempts.append)
    with httpx.Client(transport=transport) as client:
        response = client.get("http://service/k")
    assert response.status_code == 500 and response.extensions["consistent.attempts"] == 3
    assert len({a.endpoint for a in attempts}) == 3
    assert [a.number for a in attempts] == [1, 2, 3]
    assert pool.pending == 0 and sum(s.failed for s in pool.stats().values()) == 3


def test_retry_budget_bounds_retries(servers: Callable[[], Server]) -> None:
    server = servers()
    server.behaviour.status = 500
    pool = make_pool([server.url], failure_threshold=None)
    # A reserve of exactly one retry (0.1/s over 10 s) and nothing earned per request.
    retry = RetryPolicy(max_attempts=3, backoff=FAST, budget_ratio=0.0, budget_min_per_second=0.1)
    attempts: list[Attempt] = []
    transport = PoolTransport(pool, retry=retry, health_path=None, on_attempt=attempts.append)
    with httpx.Client(transport=transport) as client:
        for _ in range(4):
            client.get("http://service/k")
    assert len(attempts) == 5  # four originals and the budget's one retry
    assert sum(a.retried for a in attempts) == 1


def test_retried_upstream_replies_keep_the_body(servers: Callable[[], Server]) -> None:
    entry, other = servers(), servers()
    entry.behaviour.status = 502
    entry.behaviour.headers = {UPSTREAM_UNAVAILABLE_HEADER: "http://home"}
    pool = make_pool([entry.url, other.url])
    transport = PoolTransport(pool, retry=RetryPolicy(backoff=FAST), health_path=None)
    with httpx.Client(transport=transport) as client:
        response = client.post("http://service/k", content=b"payload")
    assert response.status_code == 200 and response.content == b"served:payload"
    assert pool.stats()[entry.url].upstream == 1 and pool.is_healthy(entry.url)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="base URL"):
        PoolTransport(make_pool(["not a url"]))
    with pytest.raises(InvalidArgumentError, match="base URL"):
        PoolTransport(make_pool(["ftp://127.0.0.1:1"]))
    with pytest.raises(InvalidTypeError, match=r"consistent\.Pool"):
        PoolTransport(["http://127.0.0.1:1"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="health_path"):
        PoolTransport(make_pool(["http://127.0.0.1:1"]), health_path="health")
    with pytest.raises(InvalidArgumentError, match="health_timeout"):
        PoolTransport(make_pool(["http://127.0.0.1:1"]), health_timeout=0)


def test_an_endpoint_added_later_that_is_no_url_fails_without_leaking() -> None:
    pool = make_pool(["http://127.0.0.1:1"])
    transport = PoolTransport(pool, retry=NO_RETRY, health_path=None)
    pool.remove("http://127.0.0.1:1", now=0.0)
    pool.add("no-url", now=0.0)
    with pytest.raises(InvalidArgumentError, match="no-url"):
        transport.handle_request(httpx.Request("GET", "http://service/"))
    assert pool.pending == 0 and pool.stats()["no-url"].failed == 1


def test_update_endpoints_follows_a_membership_view(servers: Callable[[], Server]) -> None:
    first, second = servers(), servers()
    pool = make_pool([first.url, "http://127.0.0.1:1"])
    transport = PoolTransport(pool, retry=NO_RETRY, health_path=None)
    assert transport.update_endpoints([second.url, first.url]) == (
        [second.url],
        ["http://127.0.0.1:1"],
    )
    assert pool.endpoints == (first.url, second.url)
    with pytest.raises(InvalidArgumentError, match="base URL"):
        transport.update_endpoints([first.url, "nope"])
    assert pool.endpoints == (first.url, second.url)  # nothing changed
    with httpx.Client(transport=transport) as client:
        served = {client.get("http://svc/k").extensions["consistent.endpoint"] for _ in range(4)}
    assert served == {first.url, second.url}


def test_closed_transport_refuses_requests() -> None:
    transport = PoolTransport(make_pool(["http://127.0.0.1:1"]))
    transport.close()
    with pytest.raises(RuntimeError, match="closed"):
        transport.handle_request(httpx.Request("GET", "http://service/"))


def test_repr_is_python_that_rebuilds_an_equivalent_transport() -> None:
    import consistent

    transport = PoolTransport(
        make_pool(["http://127.0.0.1:1"]), retry=RetryPolicy(max_attempts=2), health_path=None
    )
    namespace = {**vars(consistent), "random": random, "PoolTransport": PoolTransport}
    again = eval(repr(transport), namespace)
    assert repr(again) == repr(transport)
    assert again.pool.endpoints == ("http://127.0.0.1:1",)


def test_threads_share_one_transport(servers: Callable[[], Server]) -> None:
    good, broken = servers(), servers()
    broken.behaviour.status = 500
    pool = make_pool([good.url, broken.url], strategy="p2c", failure_threshold=None)
    attempts: list[Attempt] = []
    transport = PoolTransport(
        pool, retry=RetryPolicy(backoff=FAST), health_path=None, on_attempt=attempts.append
    )
    statuses: list[int] = []

    def worker() -> None:
        statuses.extend(client.get("http://svc/k").status_code for _ in range(10))

    with httpx.Client(transport=transport) as client:
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20.0)
        assert not any(thread.is_alive() for thread in threads)
    assert len(statuses) == 40
    with transport.lock:
        pool._check()
        stats = pool.stats()
    assert pool.pending == 0
    assert sum(s.started for s in stats.values()) == len(attempts)
    assert stats[broken.url].failed == sum(a.outcome is Outcome.FAILURE for a in attempts)
    assert statuses.count(500) == sum(
        a.outcome is Outcome.FAILURE and not a.retried for a in attempts
    )


# -- the async transport ---------------------------------------------------------------------


def run(coroutine: object, timeout: float = 10.0) -> object:
    async def bounded() -> object:
        return await asyncio.wait_for(coroutine, timeout)  # type: ignore[arg-type]

    return asyncio.run(bounded())


def test_async_refused_then_retried(servers: Callable[[], Server]) -> None:
    good = servers()
    dead = closed_port_url()
    pool = make_pool([dead, good.url])
    attempts: list[Attempt] = []

    async def main() -> int:
        transport = AsyncPoolTransport(
            pool, retry=RetryPolicy(backoff=FAST), health_path=None, on_attempt=attempts.append
        )
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get("http://service/k")
        return response.status_code

    assert run(main()) == 200
    assert [(a.outcome, a.error) for a in attempts] == [
        (Outcome.FAILURE, "ConnectError"),
        (Outcome.SUCCESS, None),
    ]


def test_async_timeout_upstream_and_5xx(servers: Callable[[], Server]) -> None:
    slow, upstream, broken = servers(), servers(), servers()
    slow.behaviour.hang = True
    upstream.behaviour.status = 502
    upstream.behaviour.headers = {UPSTREAM_UNAVAILABLE_HEADER: "http://home"}
    broken.behaviour.status = 500
    pool = make_pool([slow.url, upstream.url, broken.url], failure_threshold=None)
    attempts: list[Attempt] = []

    async def main() -> None:
        transport = AsyncPoolTransport(
            pool, retry=NO_RETRY, health_path=None, on_attempt=attempts.append
        )
        async with httpx.AsyncClient(transport=transport, timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("http://service/k")
            assert (await client.get("http://service/k")).status_code == 502
            assert (await client.get("http://service/k")).status_code == 500

    run(main())
    assert [(a.endpoint, a.outcome) for a in attempts] == [
        (slow.url, Outcome.TIMEOUT),
        (upstream.url, Outcome.UPSTREAM),
        (broken.url, Outcome.FAILURE),
    ]
    stats = pool.stats()
    assert (stats[slow.url].timed_out, stats[upstream.url].upstream, stats[broken.url].failed) == (
        1,
        1,
        1,
    )


def test_async_cancelled_request_frees_its_place(servers: Callable[[], Server]) -> None:
    slow = servers()
    slow.behaviour.hang = True
    pool = make_pool([slow.url])

    async def main() -> None:
        transport = AsyncPoolTransport(pool, health_path=None)
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.get("http://service/k"), 0.2)

    run(main())
    stats = pool.stats()[slow.url]
    assert (stats.pending, stats.timed_out, stats.started) == (0, 1, 1)


def test_async_concurrent_requests_leave_the_pool_consistent(
    servers: Callable[[], Server],
) -> None:
    good, broken = servers(), servers()
    broken.behaviour.status = 500
    pool = make_pool([good.url, broken.url], strategy="p2c", failure_threshold=None)

    async def main() -> list[int]:
        transport = AsyncPoolTransport(pool, retry=RetryPolicy(backoff=FAST), health_path=None)
        async with httpx.AsyncClient(transport=transport) as client:
            responses = await asyncio.gather(*(client.get("http://svc/k") for _ in range(30)))
        return [r.status_code for r in responses]

    statuses = run(main())
    assert isinstance(statuses, list) and len(statuses) == 30
    pool._check()
    assert pool.pending == 0
    stats = pool.stats()
    assert stats[good.url].succeeded == statuses.count(200)


def test_async_health_task_readmits_and_stops_on_aclose(servers: Callable[[], Server]) -> None:
    server = servers()
    server.behaviour.status = 500
    pool = make_pool([server.url])

    async def main() -> AsyncPoolTransport:
        transport = AsyncPoolTransport(pool, retry=NO_RETRY, health_timeout=0.5, health_poll=0.1)
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://service/k")
            assert not pool.is_healthy(server.url)
            assert transport.health_worker_alive
            for _ in range(200):
                if pool.is_healthy(server.url):
                    break
                await asyncio.sleep(0.01)
            assert pool.is_healthy(server.url)
        return transport

    transport = run(main())
    assert isinstance(transport, AsyncPoolTransport) and not transport.health_worker_alive


# -- the core stays I/O-free -----------------------------------------------------------------


def test_import_consistent_imports_no_io() -> None:
    code = (
        "import sys, json, consistent; "
        "print(json.dumps(sorted(m for m in ('httpx', 'asyncio', 'consistent.http', "
        "'httpcore', 'anyio', 'socket', 'threading') if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(result.stdout)
    assert "httpx" not in loaded and "asyncio" not in loaded and "consistent.http" not in loaded
    assert "httpcore" not in loaded and "anyio" not in loaded
