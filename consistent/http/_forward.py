"""ASGI middleware that serves each request on its key's home, by this server's own view.

Theory of operation
-------------------
Every server of a cluster runs the same application behind :class:`ForwardToHome`. For a
request with a key (found by a key extractor; a request without one is served locally), the
middleware asks the view provider for the current placement and takes the key's preference
list of ``replicas`` distinct nodes, home first. It then walks that list:

* the node is this server: the wrapped application serves the request here (as the home, or
  filling in for the nodes before it that failed);
* another node: the request is forwarded to it (``httpx.AsyncClient``) with the header
  ``X-Consistent-Forwarded: <this server>``, and its response, whatever the status, is relayed
  to the caller. If the forward fails -- refused (known at once), no answer within
  ``forward_timeout``, or any other transport error -- the node is marked *suspect* and the
  walk goes on to the next node.

When every node of the list failed, the caller gets the upstream-unavailable reply:
``502`` with ``X-Upstream-Unavailable: <home>`` (see :mod:`consistent.http._wire`), which a
:class:`~consistent.http.PoolTransport` does not count against this server.

**Suspects** (ringpop's handleOrProxy): a node whose forward failed is tried *last* for the
next ``suspect_ttl`` seconds, or until the view's member set changes, whichever comes first,
so requests for its keys go straight to the fill-in instead of paying the failed round trip
(or the timeout) again. Suspicion is local to this middleware, a routing hint, and never
touches the membership view: only the membership protocol removes a node.

**Loops**: a request carrying ``X-Consistent-Forwarded`` is always served locally, even when
this server's view disagrees with the sender's, so a request is forwarded at most once.

The middleware keeps no state but the suspects and one HTTP client; it is safe to run many
requests concurrently on one event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx

from consistent import EmptyRingError, InvalidArgumentError, InvalidTypeError, Placement
from consistent.http._asgi import (
    HOP_BY_HOP,
    ASGIApp,
    KeyExtractor,
    Message,
    Receive,
    Scope,
    Send,
    header_value,
    read_body,
    replay,
    send_reply,
)
from consistent.http._wire import (
    FORWARDED_HEADER,
    UPSTREAM_UNAVAILABLE_HEADER,
    UPSTREAM_UNAVAILABLE_STATUS,
)

__all__ = ["ForwardEvent", "ForwardToHome"]

_FORWARDED: Final = FORWARDED_HEADER.lower().encode("latin-1")
_DROPPED_REQUEST_HEADERS: Final = HOP_BY_HOP | {b"host", b"content-length", _FORWARDED}
_DROPPED_RESPONSE_HEADERS: Final = HOP_BY_HOP


@dataclass(frozen=True, slots=True)
class ForwardEvent:
    """What :class:`ForwardToHome` did with one request, or one failed forward of it.

    ``kind`` is one of

    * ``"local"``: served here; ``node`` is this server; a fill-in when ``node != home``;
    * ``"received"``: served here because it was forwarded by ``node``;
    * ``"forwarded"``: relayed from ``node`` (the home, or a fill-in when ``node != home``);
    * ``"failed"``: the forward to ``node`` failed; ``error`` is ``"refused"``,
      ``"timeout"`` or ``"error"``; more events for the same request follow;
    * ``"unavailable"``: every replica failed; the upstream-unavailable reply was sent.

    ``at`` is the middleware's clock (``time.monotonic()`` by default) when it happened.

    >>> ForwardEvent(at=1.0, kind="failed", key="k", home="a", node="a", error="refused").kind
    'failed'
    """

    at: float
    kind: str
    key: str | None
    home: str | None
    node: str | None
    error: str | None = None


def _error_kind(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        return "refused"
    return "error"


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


class ForwardToHome:
    """ASGI middleware: serve, forward to the key's home, or fill in along the preference list.

    See the module docstring for the theory of operation.

    Runtime complexity: per request, one ``view()`` call, one ``nodes_for(key, replicas)``
    and O(members) to compare the member set with the suspects' (only while there are
    suspects), plus the forwards.

    >>> from consistent import HashRing
    >>> from consistent.http import key_from_path
    >>> async def app(scope, receive, send): ...
    >>> ring = HashRing(["http://127.0.0.1:8001", "http://127.0.0.1:8002"])
    >>> middleware = ForwardToHome(app, name="http://127.0.0.1:8001", view=lambda: ring,
    ...                            key=key_from_path(1), replicas=2)
    >>> middleware.suspects()
    {}

    Args:
        app: the ASGI application that serves requests locally.
        name: this server's node name, as it appears in the placement.
        view: returns the current placement (e.g. a :class:`~consistent.HashRing` over the
            members this server believes alive); called once per keyed request.
        key: the key extractor (:func:`key_from_path`, :func:`key_from_header`, or any
            ``scope -> str | None``).
        replicas: how many distinct nodes of the preference list may serve a key (r >= 1).
        address: maps a node name to its base URL (default: the name is the base URL).
        forward_timeout: seconds a forward may wait for its answer before it fails over.
        suspect_ttl: seconds a failed node is tried last (unless the view changes first).
        client: the HTTP client used to forward (default: one the middleware creates and
            closes on lifespan shutdown or :meth:`aclose`).
        observer: called with a :class:`ForwardEvent` for every decision.
        clock: the monotonic clock of suspicion and events.

    Raises:
        InvalidTypeError, InvalidArgumentError: a bad argument.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str,
        view: Callable[[], Placement],
        key: KeyExtractor,
        replicas: int = 1,
        address: Callable[[str], str] | None = None,
        forward_timeout: float = 1.0,
        suspect_ttl: float = 5.0,
        client: httpx.AsyncClient | None = None,
        observer: Callable[[ForwardEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for label, value in (("app", app), ("view", view), ("key", key), ("clock", clock)):
            if not callable(value):
                raise InvalidTypeError(f"{label} must be callable, got {value!r}")
        if not isinstance(name, str) or not name:
            raise InvalidTypeError(f"name must be a non-empty node name, got {name!r}")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise InvalidArgumentError(f"replicas must be an int of at least 1, got {replicas!r}")
        if address is not None and not callable(address):
            raise InvalidTypeError(f"address must be callable or None, got {address!r}")
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise InvalidTypeError(f"client must be an httpx.AsyncClient or None, got {client!r}")
        if observer is not None and not callable(observer):
            raise InvalidTypeError(f"observer must be callable or None, got {observer!r}")
        self.app = app
        self.name = name
        self._view = view
        self._key = key
        self.replicas = replicas
        self._address = address
        self.forward_timeout = _positive("forward_timeout", forward_timeout)
        self.suspect_ttl = _positive("suspect_ttl", suspect_ttl)
        self._client = client
        self._owns_client = client is None
        self._observer = observer
        self._clock = clock
        # node -> (suspect until, the member set of the view it failed in)
        self._suspects: dict[str, tuple[float, tuple[str, ...]]] = {}

    def __repr__(self) -> str:
        return (
            f"ForwardToHome({self.app!r}, name={self.name!r}, view={self._view!r}, "
            f"key={self._key!r}, replicas={self.replicas!r}, "
            f"forward_timeout={self.forward_timeout!r}, suspect_ttl={self.suspect_ttl!r})"
        )

    # -- suspects ----------------------------------------------------------------------------

    def suspects(self, now: float | None = None) -> dict[str, float]:
        """The nodes suspect now (by the current view), each with the time it stops being so."""
        at = self._clock() if now is None else now
        members = tuple(self._view().nodes) if self._suspects else ()
        return {
            node: until
            for node, (until, seen) in self._suspects.items()
            if until > at and seen == members
        }

    def _order(self, preference: list[str], members: tuple[str, ...], now: float) -> list[str]:
        """The preference list with the nodes suspect in this view moved last."""
        suspects = self._suspects
        if not suspects:
            return preference
        fresh, suspect = [], []
        for node in preference:
            entry = suspects.get(node)
            if entry is None:
                fresh.append(node)
            elif entry[0] > now and entry[1] == members:
                suspect.append(node)
            else:
                del suspects[node]
                fresh.append(node)
        return fresh + suspect

    def _suspect(self, node: str, members: tuple[str, ...], now: float) -> None:
        self._suspects[node] = (now + self.suspect_ttl, members)

    # -- the request path --------------------------------------------------------------------

    def _emit(
        self,
        kind: str,
        key: str | None,
        home: str | None,
        node: str | None,
        error: str | None = None,
    ) -> None:
        if self._observer is not None:
            self._observer(ForwardEvent(self._clock(), kind, key, home, node, error))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, self._closing_on_shutdown(receive), send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        sender = header_value(scope, _FORWARDED)
        if sender is not None:
            self._emit("received", None, None, sender)
            await self.app(scope, receive, send)
            return
        key = self._key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        placement = self._view()
        size = len(placement)
        try:
            preference = placement.nodes_for(key, min(self.replicas, size)) if size else []
        except EmptyRingError:
            preference = []
        if not preference:
            # No view yet: nobody to forward to, so this server answers for itself.
            self._emit("local", key, None, self.name)
            await self.app(scope, receive, send)
            return
        home = preference[0]
        members = tuple(placement.nodes) if self._suspects else ()
        order = self._order(preference, members, self._clock())
        if order[0] == self.name:
            self._emit("local", key, home, self.name)
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the caller went away
        members = tuple(placement.nodes)
        for node in order:
            if node == self.name:
                self._emit("local", key, home, self.name)
                await self.app(scope, replay(body, receive), send)
                return
            error = await self._forward(scope, body, node, send)
            if error is None:
                self._emit("forwarded", key, home, node)
                return
            self._suspect(node, members, self._clock())
            self._emit("failed", key, home, node, error)
        self._emit("unavailable", key, home, None)
        tried = ", ".join(order)
        await send_reply(
            send,
            UPSTREAM_UNAVAILABLE_STATUS,
            f"upstream unavailable: no replica of key {key!r} answered ({tried})\n".encode(),
            [(UPSTREAM_UNAVAILABLE_HEADER.lower().encode("latin-1"), home.encode("latin-1"))],
        )

    def _client_for_forwarding(self) -> httpx.AsyncClient:
        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(trust_env=False)
        return client

    async def _forward(self, scope: Scope, body: bytes, node: str, send: Send) -> str | None:
        """Forward to ``node`` and relay its response; return the error kind if it failed.

        A failure is decided before anything is sent to the caller, so the walk can go on.
        """
        base = node if self._address is None else self._address(node)
        path = scope.get("raw_path") or str(scope.get("path", "/")).encode("utf-8")
        query = scope.get("query_string", b"")
        url = base.rstrip("/") + bytes(path).decode("latin-1")
        if query:
            url += "?" + bytes(query).decode("latin-1")
        headers = [
            (key, value)
            for key, value in scope.get("headers", ())
            if key.lower() not in _DROPPED_REQUEST_HEADERS
        ]
        headers.append((_FORWARDED, self.name.encode("latin-1")))
        client = self._client_for_forwarding()
        try:
            request = client.build_request(
                scope.get("method", "GET"),
                url,
                headers=headers,
                content=body,
                timeout=self.forward_timeout,
            )
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            return _error_kind(exc)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (key, value)
                        for key, value in response.headers.raw
                        if key.lower() not in _DROPPED_RESPONSE_HEADERS
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()
        return None

    # -- lifecycle ---------------------------------------------------------------------------

    def _closing_on_shutdown(self, receive: Receive) -> Receive:
        async def receive_and_close() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                await self.aclose()
            return message

        return receive_and_close

    async def aclose(self) -> None:
        """Close the HTTP client the middleware created (a client passed in is the caller's)."""
        client = self._client
        if client is not None and self._owns_client:
            self._client = None
            await client.aclose()
