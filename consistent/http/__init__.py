"""consistent.http: the I/O shells around the sans-IO core, for real HTTP clients and servers.

Installed with ``pip install 'consistent-ring[http]'`` (httpx). ``import consistent`` never
imports this subpackage, httpx or asyncio; import it explicitly.

* :class:`PoolTransport`, :class:`AsyncPoolTransport`: httpx transports that drive a
  :class:`consistent.Pool` with ``time.monotonic()``: pick, report, retry, health-check.
* :class:`ForwardToHome`: ASGI middleware that serves a request on its key's home, forwards
  it there, or fills in along the preference list; answers the upstream-unavailable reply.
* :class:`HeartbeatTask`: an asyncio task that sends heartbeats to peers and drives a
  :class:`consistent.Membership`; :class:`HeartbeatReceiver` is its ASGI end;
  :class:`MembershipView` the placement over the current members, for ``ForwardToHome``.
* The wire format both sides share: :data:`UPSTREAM_UNAVAILABLE_HEADER`,
  :data:`FORWARDED_HEADER`, :func:`classify_status`.

See ``docs/http.md``.
"""

from consistent.http._asgi import key_from_header, key_from_path
from consistent.http._forward import ForwardEvent, ForwardToHome
from consistent.http._heartbeat import HeartbeatReceiver, HeartbeatTask, MembershipView
from consistent.http._transport import (
    DEFAULT_HEALTH_PATH,
    AsyncPoolTransport,
    Attempt,
    PoolTransport,
)
from consistent.http._wire import (
    FORWARDED_HEADER,
    MEMBERSHIP_PATH,
    UPSTREAM_UNAVAILABLE_HEADER,
    UPSTREAM_UNAVAILABLE_STATUS,
    UPSTREAM_UNAVAILABLE_STATUSES,
    classify_status,
    is_upstream_unavailable,
)

__all__ = [
    # client side
    "PoolTransport",
    "AsyncPoolTransport",
    "Attempt",
    "DEFAULT_HEALTH_PATH",
    # server side
    "ForwardToHome",
    "ForwardEvent",
    "key_from_path",
    "key_from_header",
    "HeartbeatTask",
    "HeartbeatReceiver",
    "MembershipView",
    # wire format
    "FORWARDED_HEADER",
    "MEMBERSHIP_PATH",
    "UPSTREAM_UNAVAILABLE_HEADER",
    "UPSTREAM_UNAVAILABLE_STATUS",
    "UPSTREAM_UNAVAILABLE_STATUSES",
    "classify_status",
    "is_upstream_unavailable",
]
