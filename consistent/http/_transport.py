"""httpx transports that balance requests over a :class:`consistent.Pool`, sync and async.

Theory of operation
-------------------
The pool is the sans-IO core; a transport is its I/O shell. For each request the transport
asks the pool for an endpoint (``pool.acquire(now)``, ``now = time.monotonic()``), rewrites
the request's scheme, host and port to that endpoint's base URL (a base path such as
``http://10.0.0.1:8080/api`` is prefixed to the request's path; ``Host`` is set to the
endpoint), sends it through an inner httpx transport, and tells the pool how it ended:

=============================================  =====================
what happened                                  outcome reported
=============================================  =====================
any response below 500 (4xx included)          ``Outcome.SUCCESS``
the upstream-unavailable reply (see below)     ``Outcome.UPSTREAM``
any other 5xx                                  ``Outcome.FAILURE``
``httpx.TimeoutException`` (connect, read...)  ``Outcome.TIMEOUT``
any other ``httpx.TransportError`` (refused)   ``Outcome.FAILURE``
the caller cancelled the request (async)       ``Outcome.TIMEOUT``
any other exception                            ``Outcome.FAILURE``
=============================================  =====================

The upstream-unavailable reply is defined in :mod:`consistent.http._wire`: status 502, 503 or
504 with the header ``X-Upstream-Unavailable``. The pool does not count it against the
endpoint unless it was built with ``eject_on_upstream=True``. The outcome is judged on the
status line and headers; the body is the caller's to read.

**Retries.** Every request deposits into the retry budget; after an attempt that did not
succeed, ``retry.should_retry(attempt, outcome, budget, now)`` decides (attempts left, the
outcome in ``retry_on``, a withdrawal from the budget), the transport sleeps
``retry.delay_before(attempt, rng)`` and tries again, excluding the endpoints already tried
when ``retry.prefer_different_endpoint`` (the pool still picks one of them if no other is
available). The caller gets the last attempt's response, or its exception. When retries are
possible the request body is read into memory first, so it can be sent again.

**Health checks.** A background worker (sync: a daemon thread; async: an asyncio task),
started with the first request, sleeps until the pool's next check is due (woken early when
a request ejects an endpoint, and at least every ``health_poll`` seconds), runs
``GET <endpoint><health_path>`` for each endpoint in ``pool.due_checks(now)`` with
``health_timeout``, and reports ``pool.report_check(endpoint, 2xx, now)``. ``close()`` /
``aclose()`` (called by ``httpx.Client.close()``) stop the worker within a bounded time and
close the inner transport.

**Threads.** :class:`PoolTransport` may be shared by threads: every call on the pool, the
budget and the random generator is made under one lock, never held during I/O or sleep.
:class:`AsyncPoolTransport` belongs to one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Final

import httpx

from consistent import (
    ConsistentError,
    InvalidArgumentError,
    InvalidTypeError,
    Outcome,
    Pool,
    RetryBudget,
    RetryPolicy,
)
from consistent.http._wire import classify_status

__all__ = ["DEFAULT_HEALTH_PATH", "Attempt", "AsyncPoolTransport", "PoolTransport"]

DEFAULT_HEALTH_PATH: Final = "/health"
"""The path a health check GETs on an ejected endpoint."""

_SUCCESS: Final = Outcome.SUCCESS


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of one request, as delivered to a transport's ``on_attempt`` callback.

    ``number`` is 1 for the original attempt, 2 for the first retry, ...; ``started`` and
    ``ended`` are the transport's clock (``time.monotonic()`` by default); ``status`` is the
    response's status (``None`` when no response came), ``error`` the exception's class name
    (``None`` when a response came); ``retried`` says whether another attempt follows.

    >>> Attempt("http://127.0.0.1:8001", 1, Outcome.TIMEOUT, 0.0, 1.0, None, "ReadTimeout",
    ...         retried=True).outcome
    Outcome.TIMEOUT
    """

    endpoint: str
    number: int
    outcome: Outcome
    started: float
    ended: float
    status: int | None
    error: str | None
    retried: bool = False


@dataclass(frozen=True, slots=True)
class _Base:
    """An endpoint's base URL, parsed once."""

    scheme: str
    host: str
    port: int | None
    prefix: bytes
    host_header: str


def _parse_base(endpoint: str) -> _Base:
    try:
        url = httpx.URL(endpoint)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidArgumentError(
            f"endpoint must be a base URL such as 'http://127.0.0.1:8001', got {endpoint!r}"
        ) from exc
    if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
        raise InvalidArgumentError(
            "endpoint must be an http(s) base URL with a host and no query, such as "
            f"'http://127.0.0.1:8001', got {endpoint!r}"
        )
    return _Base(
        scheme=url.scheme,
        host=url.host,
        port=url.port,
        prefix=url.raw_path.rstrip(b"/"),
        host_header=url.netloc.decode("ascii"),
    )


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def outcome_of_error(error: BaseException) -> Outcome:
    """The pool outcome of an attempt that raised instead of answering.

    >>> outcome_of_error(httpx.ConnectError("refused")), outcome_of_error(httpx.ReadTimeout("t"))
    (Outcome.FAILURE, Outcome.TIMEOUT)
    """
    if isinstance(error, (httpx.TimeoutException, asyncio.CancelledError)):
        return Outcome.TIMEOUT
    return Outcome.FAILURE


class _Driver:
    """The decisions both transports share; every method is called under the caller's lock."""

    def __init__(
        self,
        pool: Pool,
        retry: RetryPolicy,
        budget: RetryBudget | None,
        rng: random.Random | None,
        health_path: str | None,
        health_timeout: float,
        health_poll: float,
        on_attempt: Callable[[Attempt], None] | None,
        clock: Callable[[], float],
    ) -> None:
        if not isinstance(pool, Pool):
            raise InvalidTypeError(f"pool must be a consistent.Pool, got {pool!r}")
        if not isinstance(retry, RetryPolicy):
            raise InvalidTypeError(f"retry must be a consistent.RetryPolicy, got {retry!r}")
        if budget is not None and not isinstance(budget, RetryBudget):
            raise InvalidTypeError(f"budget must be a RetryBudget or None, got {budget!r}")
        if rng is not None and not isinstance(rng, random.Random):
            raise InvalidTypeError(f"rng must be a random.Random or None, got {rng!r}")
        if health_path is not None and (
            not isinstance(health_path, str) or not health_path.startswith("/")
        ):
            raise InvalidArgumentError(
                f"health_path must be a path starting with '/' or None, got {health_path!r}"
            )
        if on_attempt is not None and not callable(on_attempt):
            raise InvalidTypeError(f"on_attempt must be callable or None, got {on_attempt!r}")
        if not callable(clock):
            raise InvalidTypeError(f"clock must be callable, got {clock!r}")
        self.pool = pool
        self.retry = retry
        self.budget = retry.new_budget() if budget is None else budget
        self.rng = random.Random() if rng is None else rng
        self.health_path = health_path
        self.health_timeout = _positive("health_timeout", health_timeout)
        self.health_poll = _positive("health_poll", health_poll)
        self.on_attempt = on_attempt
        self.clock = clock
        self._bases: dict[str, _Base] = {}
        for endpoint in pool.endpoints:
            self.base(endpoint)

    def base(self, endpoint: str) -> _Base:
        parsed = self._bases.get(endpoint)
        if parsed is None:
            parsed = self._bases[endpoint] = _parse_base(endpoint)
        return parsed

    def outgoing(self, request: httpx.Request, endpoint: str) -> httpx.Request:
        """The request as sent to ``endpoint``."""
        base = self.base(endpoint)
        url = request.url
        if base.prefix:
            url = url.copy_with(raw_path=base.prefix + url.raw_path)
        url = url.copy_with(scheme=base.scheme, host=base.host, port=base.port)
        headers = request.headers.copy()
        headers["Host"] = base.host_header
        return httpx.Request(
            request.method,
            url,
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )

    def health_request(self, endpoint: str) -> httpx.Request:
        base = self.base(endpoint)
        assert self.health_path is not None
        url = httpx.URL(
            scheme=base.scheme,
            host=base.host,
            port=base.port,
            raw_path=base.prefix + self.health_path.encode("ascii"),
        )
        return httpx.Request(
            "GET",
            url,
            headers={"Host": base.host_header},
            extensions={"timeout": httpx.Timeout(self.health_timeout).as_dict()},
        )

    def start(self, tried: Collection[str]) -> tuple[str, int]:
        """Pick and start an attempt; the first one also deposits into the retry budget."""
        now = self.clock()
        if not tried:
            self.budget.deposit(now)
        exclude = tried if self.retry.prefer_different_endpoint else ()
        endpoint, request_id = self.pool.acquire(now, exclude=exclude)
        try:
            self.base(endpoint)
        except InvalidArgumentError:
            # An endpoint added to the pool later that is no base URL: it cannot serve.
            self.pool.finish(request_id, Outcome.FAILURE, now)
            raise
        return endpoint, request_id

    def finish(
        self,
        request_id: int,
        endpoint: str,
        attempt: int,
        outcome: Outcome,
        previous: float | None,
        error: BaseException | None,
    ) -> tuple[float | None, bool]:
        """Report an attempt; return (the delay before a retry or None, whether it ejected).

        An attempt ended by an exception that is not an ``Exception`` (a cancellation, a
        ``KeyboardInterrupt``) is never retried.
        """
        now = self.clock()
        self.pool.finish(request_id, outcome, now)
        ejected = endpoint in self.pool and not self.pool.is_healthy(endpoint)
        if (
            outcome is _SUCCESS
            or not isinstance(error, (Exception, type(None)))
            or not self.retry.should_retry(attempt, outcome, self.budget, now)
        ):
            return None, ejected
        return self.retry.delay_before(attempt, self.rng, previous), ejected

    def update_endpoints(self, endpoints: Iterable[str]) -> tuple[list[str], list[str]]:
        """Make the pool's endpoints exactly ``endpoints``; return (added, removed)."""
        if isinstance(endpoints, str):
            raise InvalidTypeError(
                f"endpoints must be a collection of base URLs, got {endpoints!r}"
            )
        wanted = list(dict.fromkeys(endpoints))
        for endpoint in wanted:
            self.base(endpoint)  # every URL is checked before the pool changes
        now = self.clock()
        pool = self.pool
        current = set(pool.endpoints)
        keep = set(wanted)
        removed = [e for e in pool.endpoints if e not in keep]
        added = [e for e in wanted if e not in current]
        for endpoint in removed:
            pool.remove(endpoint, now)
        for endpoint in added:
            pool.add(endpoint, now)
        return added, removed

    def report(self, attempt: Attempt) -> None:
        if self.on_attempt is not None:
            self.on_attempt(attempt)

    def sleep_before_check(self) -> float:
        """How long the health worker may sleep before a check could be due."""
        next_at = self.pool.next_check_at()
        if next_at is None:
            return self.health_poll
        return min(max(next_at - self.clock(), 0.0), self.health_poll)

    def repr_args(self) -> str:
        return (
            f"{self.pool!r}, retry={self.retry!r}, health_path={self.health_path!r}, "
            f"health_timeout={self.health_timeout!r}, health_poll={self.health_poll!r}"
        )


def _status_and_error(
    response: httpx.Response | None, error: BaseException | None
) -> tuple[int | None, str | None]:
    status = None if response is None else response.status_code
    return status, (None if error is None else type(error).__name__)


class PoolTransport(httpx.BaseTransport):
    """A sync httpx transport that spreads requests over a :class:`~consistent.Pool`.

    The pool's endpoint names are base URLs (``"http://127.0.0.1:8001"``); see the module
    docstring for how outcomes are reported, retried and health-checked.

    Runtime complexity: per attempt, the pool's ``acquire`` and ``finish`` plus O(1).

    >>> import random
    >>> from consistent import Pool
    >>> pool = Pool(["http://127.0.0.1:8001", "http://127.0.0.1:8002"], rng=random.Random(1))
    >>> client = httpx.Client(transport=PoolTransport(pool), base_url="http://service")
    >>> client.close()           # stops the health-check thread (none was started here)

    Args:
        pool: the pool; its endpoints (also those added later) must be http(s) base URLs.
        retry: the retry policy (``RetryPolicy(max_attempts=1)`` disables retries).
        budget: the retry budget (default: ``retry.new_budget()``, one per transport; pass
            one to share it between transports).
        rng: the source of retry delays' jitter (default: a fresh ``random.Random()``).
        health_path: the path of health checks, or ``None`` to run none in the background
            (the caller then runs ``pool.due_checks`` itself).
        health_timeout: seconds a health check may take before it counts as failed.
        health_poll: the longest the health worker sleeps between looks at the pool.
        transport: the inner transport that does the I/O (default ``httpx.HTTPTransport()``;
            closed by :meth:`close`).
        on_attempt: called with an :class:`Attempt` after every attempt (outside the lock).
        clock: the monotonic clock given to the pool as ``now``.

    Raises:
        InvalidTypeError, InvalidArgumentError: a bad argument, or an endpoint that is not
            an http(s) base URL.
    """

    def __init__(
        self,
        pool: Pool,
        *,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen, so safe as a default)
        budget: RetryBudget | None = None,
        rng: random.Random | None = None,
        health_path: str | None = DEFAULT_HEALTH_PATH,
        health_timeout: float = 1.0,
        health_poll: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._driver = _Driver(
            pool, retry, budget, rng, health_path, health_timeout, health_poll, on_attempt, clock
        )
        self._inner = httpx.HTTPTransport() if transport is None else transport
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._worker: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"PoolTransport({self._driver.repr_args()})"

    @property
    def pool(self) -> Pool:
        """The pool this transport drives (lock it with :attr:`lock` when calling it)."""
        return self._driver.pool

    @property
    def lock(self) -> threading.Lock:
        """The lock held around every call on the pool, the budget and the rng."""
        return self._lock

    @property
    def budget(self) -> RetryBudget:
        """The retry budget."""
        return self._driver.budget

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to an endpoint of the pool, retrying as the policy allows.

        Raises:
            NoHealthyEndpointError, PoolFullError: the pool cannot start the first attempt.
            InvalidArgumentError: the first attempt's endpoint (added to the pool after the
                transport was made) is not an http(s) base URL; it is reported as a failure.
            httpx.TransportError: the last attempt's error, when it raised one.
        """
        driver = self._driver
        if self._closed:
            raise RuntimeError("PoolTransport is closed")
        if driver.retry.max_attempts > 1:
            request.read()
        self._ensure_worker()
        with self._lock:
            endpoint, request_id = driver.start(())
        tried = [endpoint]
        attempt = 1
        previous: float | None = None
        while True:
            started = driver.clock()
            response: httpx.Response | None = None
            error: BaseException | None = None
            try:
                response = self._inner.handle_request(driver.outgoing(request, endpoint))
            except BaseException as exc:
                error = exc
            if response is not None:
                outcome = classify_status(response.status_code, response.headers.multi_items())
            else:
                assert error is not None
                outcome = outcome_of_error(error)
            with self._lock:
                delay, ejected = driver.finish(
                    request_id, endpoint, attempt, outcome, previous, error
                )
            if ejected:
                self._wake.set()
            status, error_name = _status_and_error(response, error)
            driver.report(
                Attempt(
                    endpoint,
                    attempt,
                    outcome,
                    started,
                    driver.clock(),
                    status,
                    error_name,
                    retried=delay is not None,
                )
            )
            if delay is None:
                break
            time.sleep(delay)
            previous = delay
            try:
                with self._lock:
                    endpoint, request_id = driver.start(tried)
            except ConsistentError:
                break
            if response is not None:
                _discard(response)
            tried.append(endpoint)
            attempt += 1
        if response is not None:
            response.extensions["consistent.endpoint"] = endpoint
            response.extensions["consistent.attempts"] = attempt
            return response
        assert error is not None
        raise error

    # -- health checks -----------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._worker is not None or self._driver.health_path is None:
            return
        with self._lock:
            if self._worker is None and not self._closed:
                self._worker = threading.Thread(
                    target=self._run_checks, name="consistent-health-checks", daemon=True
                )
                self._worker.start()

    def _run_checks(self) -> None:
        driver = self._driver
        while not self._closed:
            self._wake.clear()
            with self._lock:
                due = driver.pool.due_checks(driver.clock())
            for endpoint in due:
                if self._closed:
                    return
                healthy = self._probe(endpoint)
                with self._lock:
                    if endpoint in driver.pool:
                        driver.pool.report_check(endpoint, healthy, driver.clock())
            with self._lock:
                wait = driver.sleep_before_check()
            self._wake.wait(wait)

    def _probe(self, endpoint: str) -> bool:
        try:
            response = self._inner.handle_request(self._driver.health_request(endpoint))
        except Exception:
            return False
        _discard(response)
        return 200 <= response.status_code < 300

    def update_endpoints(self, endpoints: Iterable[str]) -> tuple[list[str], list[str]]:
        """Make the pool's endpoints exactly ``endpoints`` (e.g. a membership view's members).

        New endpoints join healthy; missing ones are removed (their requests in flight still
        finish). Returns ``(added, removed)``, each in order.

        Raises:
            InvalidArgumentError: an endpoint is not an http(s) base URL (nothing changes).
        """
        with self._lock:
            return self._driver.update_endpoints(endpoints)

    def check_now(self) -> list[tuple[str, bool]]:
        """Run the health checks that are due now in the calling thread; return the results.

        For callers that pass ``health_path`` but drive checks themselves, and for tests.
        """
        with self._lock:
            due = self._driver.pool.due_checks(self._driver.clock())
        results = []
        for endpoint in due:
            healthy = self._probe(endpoint)
            with self._lock:
                if endpoint in self._driver.pool:
                    self._driver.pool.report_check(endpoint, healthy, self._driver.clock())
            results.append((endpoint, healthy))
        return results

    def close(self, timeout: float | None = None) -> None:
        """Stop the health-check thread (waiting at most ``timeout`` seconds, default
        ``health_timeout + health_poll``) and close the inner transport."""
        self._closed = True
        self._wake.set()
        worker = self._worker
        if worker is not None:
            limit = (
                self._driver.health_timeout + self._driver.health_poll
                if timeout is None
                else timeout
            )
            worker.join(limit)
        self._inner.close()

    @property
    def health_worker_alive(self) -> bool:
        """Whether the background health-check thread is running."""
        return self._worker is not None and self._worker.is_alive()


def _discard(response: httpx.Response) -> None:
    """Read what is left of a response (so its connection can be reused) and close it."""
    try:
        response.read()
    except httpx.HTTPError:
        pass
    finally:
        response.close()


async def _adiscard(response: httpx.Response) -> None:
    try:
        await response.aread()
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()


class AsyncPoolTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`PoolTransport`, for ``httpx.AsyncClient``.

    Same arguments and behaviour; the health worker is an asyncio task started by the first
    request and stopped by :meth:`aclose` (``AsyncClient.aclose()`` calls it). It belongs to
    the event loop of its first request.

    >>> import random
    >>> from consistent import Pool
    >>> transport = AsyncPoolTransport(Pool(["http://127.0.0.1:8001"], rng=random.Random(1)))
    >>> transport.pool.endpoints
    ('http://127.0.0.1:8001',)
    """

    def __init__(
        self,
        pool: Pool,
        *,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen, so safe as a default)
        budget: RetryBudget | None = None,
        rng: random.Random | None = None,
        health_path: str | None = DEFAULT_HEALTH_PATH,
        health_timeout: float = 1.0,
        health_poll: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._driver = _Driver(
            pool, retry, budget, rng, health_path, health_timeout, health_poll, on_attempt, clock
        )
        self._inner = httpx.AsyncHTTPTransport() if transport is None else transport
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"AsyncPoolTransport({self._driver.repr_args()})"

    @property
    def pool(self) -> Pool:
        """The pool this transport drives."""
        return self._driver.pool

    @property
    def budget(self) -> RetryBudget:
        """The retry budget."""
        return self._driver.budget

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to an endpoint of the pool, retrying as the policy allows.

        Raises:
            NoHealthyEndpointError, PoolFullError: the pool cannot start the first attempt.
            InvalidArgumentError: the first attempt's endpoint (added to the pool after the
                transport was made) is not an http(s) base URL; it is reported as a failure.
            httpx.TransportError: the last attempt's error, when it raised one.
        """
        driver = self._driver
        if self._closed:
            raise RuntimeError("AsyncPoolTransport is closed")
        if driver.retry.max_attempts > 1:
            await request.aread()
        self._ensure_worker()
        endpoint, request_id = driver.start(())
        tried = [endpoint]
        attempt = 1
        previous: float | None = None
        while True:
            started = driver.clock()
            response: httpx.Response | None = None
            error: BaseException | None = None
            try:
                response = await self._inner.handle_async_request(
                    driver.outgoing(request, endpoint)
                )
            except BaseException as exc:
                error = exc
            if response is not None:
                outcome = classify_status(response.status_code, response.headers.multi_items())
            else:
                assert error is not None
                outcome = outcome_of_error(error)
            delay, ejected = driver.finish(request_id, endpoint, attempt, outcome, previous, error)
            if ejected and self._wake is not None:
                self._wake.set()
            status, error_name = _status_and_error(response, error)
            driver.report(
                Attempt(
                    endpoint,
                    attempt,
                    outcome,
                    started,
                    driver.clock(),
                    status,
                    error_name,
                    retried=delay is not None,
                )
            )
            if delay is None:
                break
            await asyncio.sleep(delay)
            previous = delay
            try:
                endpoint, request_id = driver.start(tried)
            except ConsistentError:
                break
            if response is not None:
                await _adiscard(response)
            tried.append(endpoint)
            attempt += 1
        if response is not None:
            response.extensions["consistent.endpoint"] = endpoint
            response.extensions["consistent.attempts"] = attempt
            return response
        assert error is not None
        raise error

    # -- health checks -----------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._worker is not None or self._driver.health_path is None or self._closed:
            return
        self._wake = asyncio.Event()
        self._worker = asyncio.get_running_loop().create_task(
            self._run_checks(), name="consistent-health-checks"
        )

    async def _run_checks(self) -> None:
        driver = self._driver
        wake = self._wake
        assert wake is not None
        while not self._closed:
            wake.clear()
            due = driver.pool.due_checks(driver.clock())
            if due:
                await asyncio.gather(*(self._check(endpoint) for endpoint in due))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), driver.sleep_before_check())

    async def _check(self, endpoint: str) -> tuple[str, bool]:
        healthy = await self._probe(endpoint)
        pool = self._driver.pool
        if endpoint in pool:
            pool.report_check(endpoint, healthy, self._driver.clock())
        return endpoint, healthy

    async def _probe(self, endpoint: str) -> bool:
        request = self._driver.health_request(endpoint)
        try:
            response = await asyncio.wait_for(
                self._inner.handle_async_request(request), self._driver.health_timeout
            )
        except Exception:
            return False
        await _adiscard(response)
        return 200 <= response.status_code < 300

    def update_endpoints(self, endpoints: Iterable[str]) -> tuple[list[str], list[str]]:
        """Make the pool's endpoints exactly ``endpoints`` (see ``PoolTransport``'s)."""
        return self._driver.update_endpoints(endpoints)

    async def check_now(self) -> list[tuple[str, bool]]:
        """Run the health checks that are due now, concurrently; return the results."""
        due = self._driver.pool.due_checks(self._driver.clock())
        return list(await asyncio.gather(*(self._check(endpoint) for endpoint in due)))

    async def aclose(self, timeout: float | None = None) -> None:
        """Stop the health-check task (waiting at most ``timeout`` seconds, default
        ``health_timeout + health_poll``) and close the inner transport."""
        self._closed = True
        worker = self._worker
        if worker is not None:
            worker.cancel()
            limit = (
                self._driver.health_timeout + self._driver.health_poll
                if timeout is None
                else timeout
            )
            await asyncio.wait([worker], timeout=limit)
        await self._inner.aclose()

    @property
    def health_worker_alive(self) -> bool:
        """Whether the background health-check task is running."""
        return self._worker is not None and not self._worker.done()
