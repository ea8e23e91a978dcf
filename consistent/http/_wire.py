"""What the HTTP parts say to each other on the wire: headers, statuses and their meaning.

Theory of operation
-------------------
The client side (:class:`~consistent.http.PoolTransport`) and the server side
(:class:`~consistent.http.ForwardToHome`) agree on two headers and nothing else:

* **The upstream-unavailable reply.** A server that received a request (the *entry*) but
  could reach none of the key's replicas answers ``502 Bad Gateway`` with the header
  ``X-Upstream-Unavailable: <home>``, where ``<home>`` names the key's home by the entry's
  view. The reply says "I am up; the key's home is not", so a client must not blame the
  entry for it: the transport reports it to the pool as ``Outcome.UPSTREAM``, which is not
  counted against the endpoint unless the pool is configured to
  (``eject_on_upstream=True``). A client recognises the reply by the header on a status of
  502, 503 or 504 (:func:`is_upstream_unavailable`); any other 5xx is the entry's own
  failure.
* **Membership messages.** Servers send each other ``POST /_consistent/membership``
  (:data:`MEMBERSHIP_PATH`) with a JSON object ``{"kind": "heartbeat" | "joined" | "left",
  "from": <sender>, "incarnation": <int>}`` and answer ``200`` with ``{"from": <receiver>,
  "incarnation": <int>, "state_of_sender": <the receiver's state for the sender>,
  "incarnation_of_sender": <int or null>}``, plus ``"members": {name: incarnation}`` (the
  receiver's view) in the answer to ``joined``. A sender told it is ``dead`` or ``left`` at
  its own incarnation or later refutes it (see :class:`consistent.Membership`).
  ``GET /_consistent/membership`` answers ``{"from": <server>, "version": <int>, "members":
  {name: incarnation}}``: the server's current view, for clients that follow membership.
* **The forwarded marker.** A request one server forwards to another carries
  ``X-Consistent-Forwarded: <sender>``. The receiver serves it locally, whatever its own view
  says, so two servers whose views disagree never bounce a request between them.

:func:`classify_status` turns a status and headers into the pool's outcome; it is the one
place where "5xx is a failure" and "the upstream reply is not" are decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Union

from consistent import Outcome

__all__ = [
    "FORWARDED_HEADER",
    "MEMBERSHIP_KINDS",
    "MEMBERSHIP_PATH",
    "UPSTREAM_UNAVAILABLE_HEADER",
    "UPSTREAM_UNAVAILABLE_STATUS",
    "UPSTREAM_UNAVAILABLE_STATUSES",
    "classify_status",
    "is_upstream_unavailable",
]

UPSTREAM_UNAVAILABLE_HEADER: Final = "X-Upstream-Unavailable"
"""Header of the upstream-unavailable reply; its value names the key's home."""

UPSTREAM_UNAVAILABLE_STATUS: Final = 502
"""The status :class:`~consistent.http.ForwardToHome` sends with the upstream reply."""

UPSTREAM_UNAVAILABLE_STATUSES: Final = frozenset({502, 503, 504})
"""Statuses on which a client accepts :data:`UPSTREAM_UNAVAILABLE_HEADER` as the reply."""

FORWARDED_HEADER: Final = "X-Consistent-Forwarded"
"""Header on a forwarded request; its value names the server that forwarded it."""

MEMBERSHIP_PATH: Final = "/_consistent/membership"
"""The path of heartbeats and join/leave announcements between servers."""

MEMBERSHIP_KINDS: Final = ("heartbeat", "joined", "left")
"""The kinds of membership message."""

HeaderItems = Union[Mapping[str, str], Iterable[tuple[str, str]]]


def _has_header(headers: HeaderItems, name: str) -> bool:
    wanted = name.lower()
    items = headers.items() if isinstance(headers, Mapping) else headers
    return any(key.lower() == wanted for key, _ in items)


def is_upstream_unavailable(status: int, headers: HeaderItems) -> bool:
    """Whether a response is the upstream-unavailable reply (see the module docstring).

    Header names are compared case-insensitively.

    >>> is_upstream_unavailable(502, {"x-upstream-unavailable": "http://127.0.0.1:8001"})
    True
    >>> is_upstream_unavailable(500, {"X-Upstream-Unavailable": "a"})
    False
    """
    return status in UPSTREAM_UNAVAILABLE_STATUSES and _has_header(
        headers, UPSTREAM_UNAVAILABLE_HEADER
    )


def classify_status(status: int, headers: HeaderItems) -> Outcome:
    """The pool outcome of a response: upstream reply, other 5xx failure, anything else success.

    A 4xx is a success for the pool: the endpoint answered, the caller was wrong.

    >>> classify_status(200, {}), classify_status(503, {}), classify_status(404, {})
    (Outcome.SUCCESS, Outcome.FAILURE, Outcome.SUCCESS)
    >>> classify_status(502, [("X-Upstream-Unavailable", "b")])
    Outcome.UPSTREAM
    """
    if status >= 500:
        if is_upstream_unavailable(status, headers):
            return Outcome.UPSTREAM
        return Outcome.FAILURE
    return Outcome.SUCCESS
