"""ASGI plumbing the server-side parts share: types, key extractors, bodies and replies.

The middleware in this subpackage is plain ASGI 3 (``async def app(scope, receive, send)``),
so any ASGI application (Starlette, FastAPI, Quart, a bare function) can be wrapped and any
ASGI server can run it. Nothing here depends on a server or a framework.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from consistent import InvalidArgumentError, InvalidTypeError

__all__ = [
    "ASGIApp",
    "KeyExtractor",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "key_from_header",
    "key_from_path",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
KeyExtractor = Callable[[Scope], "str | None"]
"""Returns a request's key from its ASGI scope, or ``None`` for a request without one."""

# Hop-by-hop headers (RFC 9110 section 7.6.1) never travel past one connection; host and
# content-length are recomputed by the client that forwards.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


def key_from_path(segment: int) -> KeyExtractor:
    """A key extractor returning the path segment at index ``segment`` (0 is the first).

    >>> key_from_path(1)({"type": "http", "path": "/items/user:42/profile"})
    'user:42'
    >>> key_from_path(1)({"type": "http", "path": "/health"}) is None
    True

    Raises:
        InvalidArgumentError: ``segment`` is not a non-negative int.
    """
    if isinstance(segment, bool) or not isinstance(segment, int) or segment < 0:
        raise InvalidArgumentError(f"segment must be a non-negative int, got {segment!r}")

    def extract(scope: Scope) -> str | None:
        parts = [part for part in str(scope.get("path", "")).split("/") if part]
        return parts[segment] if segment < len(parts) else None

    extract.__qualname__ = f"key_from_path({segment!r})"
    return extract


def key_from_header(name: str) -> KeyExtractor:
    """A key extractor returning the value of header ``name`` (case-insensitive).

    >>> key_from_header("X-Key")({"type": "http", "headers": [(b"x-key", b"user:42")]})
    'user:42'

    Raises:
        InvalidTypeError: ``name`` is not a non-empty str.
    """
    if not isinstance(name, str) or not name:
        raise InvalidTypeError(f"name must be a non-empty header name, got {name!r}")
    wanted = name.lower().encode("latin-1")

    def extract(scope: Scope) -> str | None:
        return header_value(scope, wanted)

    extract.__qualname__ = f"key_from_header({name!r})"
    return extract


def header_value(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes) in an ASGI scope."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then defers to the original ``receive``."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


async def send_reply(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Send a complete small response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
