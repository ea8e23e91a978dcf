"""Immutable configuration of a simulation run: one frozen dataclass per TOML table.

These classes hold values only. Reading TOML, checking values and producing the error
messages lives in :mod:`sim._scenario`, which reads the constraints declared here in each
field's ``metadata`` (``check`` names a rule, ``doc`` is a one-line description).
The model layers below the scenario layer take these objects and nothing else.

Server names and node references have their one home here: servers are named ``s000``,
``s001``, ... by index (:func:`server_names`), and a fault names a server by index or by
name (:data:`NodeRef`, resolved by :func:`node_index`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Union

__all__ = [
    "NodeRef",
    "Outage",
    "is_server_name",
    "node_index",
    "server_names",
    "ClientConfig",
    "ClusterConfig",
    "Crash",
    "Decommission",
    "Fault",
    "FAULT_KINDS",
    "Hang",
    "MODES",
    "Join",
    "MembershipConfig",
    "MetricsConfig",
    "NetworkConfig",
    "NetworkDelay",
    "PlacementConfig",
    "Restart",
    "RollingRestart",
    "Scenario",
    "WorkloadConfig",
]


def _f(default: Any, check: str, doc: str) -> Any:
    """A dataclass field with a validation rule and a description."""
    return field(default=default, metadata={"check": check, "doc": doc})


NodeRef = Union[int, str]
"""A server named by index (0-based, in creation order) or by name (``"s003"``)."""


def server_names(count: int) -> list[str]:
    """Names of servers by index: ``s000``, ``s001``, ...

    >>> server_names(3)
    ['s000', 's001', 's002']
    """
    width = max(3, len(str(count - 1)))
    return [f"s{i:0{width}d}" for i in range(count)]


def is_server_name(text: str) -> bool:
    """Whether ``text`` has the shape of a server name: ``s`` then decimal digits.

    >>> is_server_name("s003"), is_server_name("s"), is_server_name("x1")
    (True, False, False)
    """
    return text.startswith("s") and text[1:].isdigit() and text[1:].isascii()


def node_index(node: NodeRef) -> int:
    """The server index a node reference names (an index, or a name like ``s003``).

    >>> node_index("s003"), node_index(2)
    (3, 2)

    Raises:
        ValueError: ``node`` is neither an index nor a server name.
    """
    if isinstance(node, int) and not isinstance(node, bool):
        return node
    if isinstance(node, str) and is_server_name(node):
        return int(node[1:])
    raise ValueError(f"node must be a server index or a name like 's003', got {node!r}")


@dataclass(frozen=True)
class PlacementConfig:
    """Which placement algorithm maps keys to servers, and its parameters."""

    algorithm: str = _f("ring", "algorithm", "placement algorithm (`consistent-sim list`)")
    hash: str = _f("xxh3", "hash", "key hash family: xxh3 or md5")
    vnodes: int = _f(160, "pos_int", "virtual nodes per server (ring, bounded)")
    options: tuple[tuple[str, Any], ...] = _f((), "table", "algorithm keyword arguments")

    @property
    def kwargs(self) -> dict[str, Any]:
        """:attr:`options` as a dict of keyword arguments."""
        return dict(self.options)


@dataclass(frozen=True)
class ClusterConfig:
    """The servers: how many, replication, and how each serves requests."""

    servers: int = _f(10, "pos_int", "number of servers at the start")
    replication: int = _f(1, "pos_int", "replicas per key (r), at most the number of servers")
    concurrency: int = _f(4, "pos_int", "requests a server serves at once")
    service: str = _f("exponential", "service", "service-time distribution")
    service_mean: float = _f(0.002, "pos_float", "mean service time in seconds")
    service_cv: float = _f(1.0, "nonneg_float", "coefficient of variation (lognormal only)")
    queue_limit: int = _f(0, "nonneg_int", "queue length that rejects; 0 = no limit")
    forward_timeout: float = _f(
        0.1, "pos_float",
        "an entry gives up on a forward that gets no answer after this, and fills in from the "
        "next replica",
    )


@dataclass(frozen=True)
class NetworkConfig:
    """One-way delay of every hop (client-server and server-server)."""

    delay: float = _f(0.0005, "nonneg_float", "one-way delay per hop in seconds")
    jitter: float = _f(0.0, "nonneg_float", "mean of an exponential extra delay per hop")


@dataclass(frozen=True)
class MembershipConfig:
    """How servers and clients learn of membership changes."""

    heartbeat_interval: float = _f(1.0, "pos_float", "seconds between heartbeats")
    missed_heartbeats: int = _f(3, "pos_int", "missed heartbeats before a peer is removed")
    propagation_delay: float = _f(0.5, "nonneg_float", "gossip spread, seconds")
    join_announcement: float = _f(1.0, "nonneg_float", "seconds from start-up to announcing")
    client_discovery_delay: float = _f(2.0, "nonneg_float", "clients learn joins/leaves within")


@dataclass(frozen=True)
class ClientConfig:
    """The clients: each holds a ``consistent.Pool`` and retries by a ``RetryPolicy``."""

    count: int = _f(10, "pos_int", "number of clients")
    strategy: str = _f("p2c", "strategy", "pool strategy (consistent.STRATEGIES)")
    preset: str = _f(
        "none", "preset",
        "a client balancer as deployed: poolee, envoy, grpc or finagle (consistent.PRESETS); it "
        "replaces strategy, failure_threshold, max_ejection_share, the health-check settings "
        "and eject_on_upstream_error with that system's defaults",
    )
    timeout: float = _f(0.25, "pos_float", "per-attempt timeout in seconds")
    failure_threshold: int = _f(1, "pos_int", "consecutive failures that eject an endpoint")
    max_ejection_share: float = _f(0.5, "share", "largest share of endpoints ejected at once")
    health_check_base: float = _f(0.5, "pos_float", "first health-check backoff in seconds")
    health_check_factor: float = _f(2.0, "ge1_float", "health-check backoff growth factor")
    health_check_cap: float = _f(8.0, "pos_float", "longest health-check backoff in seconds")
    health_check_timeout: float = _f(0.25, "pos_float", "a check of a dead server fails after")
    health_check_jitter: str = _f(
        "full", "jitter",
        "health-check backoff jitter: none, full, equal or decorrelated (consistent.Pool's "
        "own default is equal; the simulator keeps full)",
    )
    max_attempts: int = _f(3, "pos_int", "attempts per request, the first included")
    retry_backoff_base: float = _f(0.01, "pos_float", "first retry backoff in seconds")
    retry_backoff_cap: float = _f(1.0, "pos_float", "longest retry backoff in seconds")
    retry_budget_ratio: float = _f(0.2, "nonneg_float", "retries per request; 0 = no budget")
    eject_on_upstream_error: bool = _f(
        False, "bool",
        "count an entry's 'upstream unavailable' reply against the entry (by default the pool "
        "does not blame the messenger)",
    )


@dataclass(frozen=True)
class WorkloadConfig:
    """Arrivals (Poisson) and key popularity."""

    rate: float = _f(2000.0, "pos_float", "requests per second, all clients together")
    keys: int = _f(100_000, "pos_int", "size of the key space (at most 10**7)")
    popularity: str = _f("zipf", "popularity", "key popularity")
    zipf_s: float = _f(0.9, "nonneg_float", "Zipf exponent (popularity = zipf)")
    hot_keys: int = _f(10, "pos_int", "number of hot keys, fewer than keys (popularity = hotset)")
    hot_fraction: float = _f(0.5, "share", "share of requests to the hot keys (hotset)")


@dataclass(frozen=True)
class MetricsConfig:
    """How metrics are binned and sampled."""

    interval: float = _f(1.0, "pos_float", "width of a time-series bin in seconds")
    availability_sample: int = _f(4096, "pos_int", "keys sampled for data availability")
    warmup: float = _f(
        0.0, "nonneg_float",
        "seconds from the start left out of steady-state figures: latency, served load and "
        "requests.after_warmup (time series and totals keep them)",
    )


class Outage(NamedTuple):
    """A server a fault takes out of service, and when: from ``start`` until ``end``.

    ``end`` is ``math.inf`` when the server never comes back (a crash, a decommission).
    Each fault class says which outages it causes (its ``outages`` method), so checks over
    them (no two faults take one server out at once; a fault names a server that exists by
    then) work for every kind, a new one included.
    """

    node: int
    start: float
    end: float


MODES = ("refuse", "blackhole")
"""How the world sees a server that is down: ``refuse`` (the process is gone, its host is up:
connections are refused after one round trip, and those open on it are reset) or
``blackhole`` (the host or network is gone: nothing comes back, senders learn at their
timeouts)."""

_MODE_DOC = ("how the world sees it down: refuse (process gone, host up: refused in one round "
             "trip, open connections reset) or blackhole (host gone: senders time out)")
_GRACEFUL_DOC = ("announce the leave, refuse new requests, finish the held ones (up to drain), "
                 "then stop; on return announce the join. false: a plain crash (mode applies)")
_DRAIN_DOC = "longest a graceful stop waits for the requests the server holds, seconds"


@dataclass(frozen=True)
class Crash:
    """A server's process dies for good (``mode``: refused or black-holed from then on)."""

    at: float = _f(10.0, "nonneg_float", "time of the crash")
    node: NodeRef = field(default=0, metadata={"check": "node", "doc": "server index or name"})
    mode: str = _f("refuse", "mode", _MODE_DOC)
    kind: str = field(default="crash", init=False, repr=False)

    def outages(self, servers: int) -> tuple[Outage, ...]:
        """Out of service from ``at`` for good (``servers``: how many there are at the start)."""
        return (Outage(node_index(self.node), self.at, math.inf),)


@dataclass(frozen=True)
class Restart:
    """A server restarts: it stops (gracefully by default) and starts ``downtime`` later."""

    at: float = _f(10.0, "nonneg_float", "time it is told to stop (or crashes)")
    node: NodeRef = field(default=0, metadata={"check": "node", "doc": "server index or name"})
    downtime: float = _f(5.0, "pos_float", "seconds from its stop to its start")
    graceful: bool = _f(True, "bool", _GRACEFUL_DOC)
    drain: float = _f(5.0, "nonneg_float", _DRAIN_DOC)
    mode: str = _f("refuse", "mode", _MODE_DOC + "; when graceful = false")
    kind: str = field(default="restart", init=False, repr=False)

    def outages(self, servers: int) -> tuple[Outage, ...]:
        """Out of service from ``at`` to its start: ``downtime`` after it stops (a graceful
        stop comes at most ``drain`` after ``at``)."""
        drain = self.drain if self.graceful else 0.0
        return (Outage(node_index(self.node), self.at, self.at + drain + self.downtime),)


@dataclass(frozen=True)
class RollingRestart:
    """Servers restart one at a time (gracefully by default), one every ``pace`` seconds."""

    at: float = _f(10.0, "nonneg_float", "time the first server is told to stop")
    pace: float = _f(10.0, "pos_float", "seconds between consecutive servers' stops")
    downtime: float = _f(5.0, "pos_float", "seconds from each server's stop to its start")
    nodes: int = _f(0, "nonneg_int", "how many servers, in index order; 0 = all")
    graceful: bool = _f(True, "bool", _GRACEFUL_DOC)
    drain: float = _f(5.0, "nonneg_float", _DRAIN_DOC)
    mode: str = _f("refuse", "mode", _MODE_DOC + "; when graceful = false")
    kind: str = field(default="rolling-restart", init=False, repr=False)

    def outages(self, servers: int) -> tuple[Outage, ...]:
        """Server ``k`` (of the first ``nodes``, or of all ``servers``) out ``k * pace`` later."""
        drain = self.drain if self.graceful else 0.0
        return tuple(Outage(k, self.at + k * self.pace,
                            self.at + k * self.pace + drain + self.downtime)
                     for k in range(self.nodes or servers))


@dataclass(frozen=True)
class Join:
    """New servers start (scale out)."""

    at: float = _f(10.0, "nonneg_float", "time the new servers start")
    count: int = _f(1, "pos_int", "how many servers join")
    kind: str = field(default="join", init=False, repr=False)

    def outages(self, servers: int) -> tuple[Outage, ...]:
        """None: joining takes no server out (the new ones exist from ``at``)."""
        return ()


@dataclass(frozen=True)
class Decommission:
    """A server leaves for good, gracefully: announces, drains, then stops."""

    at: float = _f(10.0, "nonneg_float", "time of the announcement")
    node: NodeRef = field(default=0, metadata={"check": "node", "doc": "server index or name"})
    drain: float = _f(5.0, "nonneg_float", _DRAIN_DOC)
    kind: str = field(default="decommission", init=False, repr=False)

    def outages(self, servers: int) -> tuple[Outage, ...]:
        """Leaving from the announcement at ``at`` for good (it drains, then stops)."""
        return (Outage(node_index(self.node), self.at, math.inf),)


@dataclass(frozen=True)
class NetworkDelay:
    """Every hop takes ``extra`` seconds longer for ``duration`` seconds."""

    at: float = _f(10.0, "nonneg_float", "start of the delay")
    duration: float = _f(5.0, "pos_float", "how long it lasts")
    extra: float = _f(0.01, "nonneg_float", "extra one-way delay per hop in seconds")
    kind: str = field(default="network-delay", init=False, repr=False)

    def outages(self, servers: int) -> tuple[Outage, ...]:
        """None: every server stays up, only slower to reach."""
        return ()


@dataclass(frozen=True)
class Hang:
    """A server stops answering for ``duration`` seconds, then resumes with its work intact.

    A long garbage-collection pause or a SIGSTOP: its process and host are up, so connections
    are accepted and requests wait, but nothing is answered and no heartbeat is sent; senders
    learn at their timeouts (a black hole). When it resumes it finishes what it held.
    """

    at: float = _f(10.0, "nonneg_float", "time it stops answering")
    node: NodeRef = field(default=0, metadata={"check": "node", "doc": "server index or name"})
    duration: float = _f(5.0, "pos_float", "seconds it stays unresponsive")
    kind: str = field(default="hang", init=False, repr=False)

    def outages(self, servers: int) -> tuple[Outage, ...]:
        """Out of service from ``at`` to ``at + duration``."""
        return (Outage(node_index(self.node), self.at, self.at + self.duration),)


Fault = Union[Crash, Restart, RollingRestart, Join, Decommission, NetworkDelay, Hang]

FAULT_KINDS: dict[str, type[Any]] = {
    "crash": Crash,
    "restart": Restart,
    "rolling-restart": RollingRestart,
    "join": Join,
    "decommission": Decommission,
    "network-delay": NetworkDelay,
    "hang": Hang,
}


@dataclass(frozen=True)
class Scenario:
    """A whole, validated scenario. Build one with :func:`sim.load_scenario`."""

    name: str = _f("custom", "str", "scenario name")
    description: str = _f("", "str", "one-line description")
    duration: float = _f(60.0, "pos_float", "simulated seconds")
    seed: int = _f(1, "seed", "default seed (the command line's --seed overrides)")
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    membership: MembershipConfig = field(default_factory=MembershipConfig)
    clients: ClientConfig = field(default_factory=ClientConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    faults: tuple[Fault, ...] = ()

    @property
    def max_servers(self) -> int:
        """Servers at the start plus every server a join fault adds."""
        return self.cluster.servers + sum(f.count for f in self.faults if isinstance(f, Join))
