"""The model of one run: the collaborators wired together, and the operations faults call.

A run is made of a few collaborators, each in its own module and each using only those
listed before it:

=====================  ============================================================
:mod:`sim._network`    hop delays
:mod:`sim._cluster`    servers starting, stopping and leaving; their views
                       (:mod:`sim._membership` decides who learns what, when)
:mod:`sim._clients`    clients' pools, health checks and discovery
:mod:`sim._requests`   the request path: arrivals, forwarding, service, retries
=====================  ============================================================

:class:`Model` builds them, starts them, and offers the operations the fault schedule
(:mod:`sim._faults`) calls: :meth:`Model.crash`, :meth:`Model.restart_down`, ... Hot-path
figures are counters (:mod:`sim._counters`) the metrics layer samples; rare events go to
the :class:`~sim._observer.Observer` given at construction.

The model never reads a wall clock; its randomness comes from the engine's named streams.
"""

from __future__ import annotations

from sim._clients import Client, Clients
from sim._cluster import Cluster
from sim._config import Scenario
from sim._counters import Counters
from sim._engine import Engine
from sim._network import Network
from sim._observer import Observer
from sim._requests import RequestPath
from sim._server import Server
from sim._views import ViewCache

__all__ = ["Model"]


class Model:
    """Servers, clients and the request path of one run (see the module docstring).

    Args:
        scenario: the validated scenario.
        engine: the event engine (its seed drives every random stream).
        observer: told about faults, view changes, failures and pool changes.
    """

    def __init__(self, scenario: Scenario, engine: Engine, observer: Observer | None = None
                 ) -> None:
        self.scenario = scenario
        self.engine = engine
        self.observer = observer if observer is not None else Observer()
        self.counters = Counters(scenario.max_servers)
        self.cluster = Cluster(scenario, engine, self.observer)
        self.network = Network(scenario.network, engine.np_stream("network"))
        self.clients = Clients(scenario, engine, self.cluster, self.network, self.counters,
                               self.observer)
        self.requests = RequestPath(scenario, engine, self.cluster, self.clients, self.network,
                                    self.counters, self.observer)

    # -- what the metrics layer reads --------------------------------------------------

    @property
    def servers(self) -> list[Server]:
        """Every server, by index."""
        return self.cluster.servers

    @property
    def names(self) -> list[str]:
        """Every server's name, by index."""
        return self.cluster.names

    @property
    def views(self) -> ViewCache:
        """The interned ring views."""
        return self.cluster.views

    @property
    def client_list(self) -> list[Client]:
        """Every client, by index."""
        return self.clients.clients

    def start(self) -> None:
        """Bring the initial servers up with converged views and schedule the first arrival."""
        self.cluster.start()
        self.requests.start()

    # -- operations the fault schedule calls -------------------------------------------

    def go_down(self, node: int, kind: str, mode: str = "refuse") -> None:
        """``node``'s process ends at once (a crash; ``mode``: refuse or blackhole).

        What it held fails as ``mode`` says (:meth:`sim._requests.RequestPath.server_stopped`).
        """
        if self.cluster.go_down(node, kind, mode):
            self.requests.server_stopped(node, mode)

    def come_up(self, node: int, kind: str, *, announce_to_clients: bool = False) -> None:
        """``node`` starts (after a restart): fetch a view, then announce to its peers.

        With ``announce_to_clients`` (a graceful restart) clients learn of it through
        discovery too; otherwise only their health checks bring it back.
        """
        if self.servers[node].up:
            return
        self.cluster.come_up(node, kind)
        if announce_to_clients:
            self.clients.discover_join(node)

    def restart(self, node: int, *, downtime: float, graceful: bool = True,
                drain: float = 5.0, mode: str = "refuse") -> None:
        """``node`` restarts: stops (gracefully, or at once in ``mode``), starts ``downtime``
        after it stopped."""
        if graceful:
            self.leave(node, drain, kind="restart", downtime=downtime)
            return
        if not self.servers[node].up:
            return
        self.go_down(node, "restart", mode)
        self.engine.control_at(self.engine.now + downtime, self._start_again, (node, False))

    def _start_again(self, args: tuple[int, bool]) -> None:
        node, announce = args
        self.come_up(node, "restart", announce_to_clients=announce)

    def join(self, node: int) -> None:
        """A new server starts and joins; clients discover it after a delay."""
        self.cluster.come_up(node, "join")
        self.clients.discover_join(node)

    def leave(self, node: int, drain: float, *, kind: str = "decommission",
              downtime: float | None = None) -> None:
        """A graceful stop: ``node`` announces it leaves, refuses new requests, finishes the
        ones it holds (for at most ``drain`` seconds), then stops.

        Peers learn of the leave by gossip, clients by discovery. ``kind`` is
        ``"decommission"`` (it never returns) or ``"restart"`` (it starts again ``downtime``
        after it stopped, and announces itself to peers and clients).
        """
        server = self.servers[node]
        if not self.cluster.announce_leave(node):
            return
        self.clients.discover_leave(node)
        stop = _GracefulStop(self, node, kind, downtime)
        self.engine.control_at(self.engine.now + drain, stop)
        if server.holds_work():
            server.on_drained = stop.drained
        else:
            self.engine.control_at(self.engine.now, stop)

    def decommission(self, node: int, drain: float) -> None:
        """``node`` leaves for good, gracefully (see :meth:`leave`)."""
        self.leave(node, drain)

    def hang(self, node: int, duration: float) -> None:
        """``node`` stops answering for ``duration`` seconds, then resumes."""
        if not self.cluster.hang(node, duration):
            return
        self.requests.server_hung(node)
        self.engine.control_at(self.engine.now + duration, self._resume, node)

    def _resume(self, node: int) -> None:
        if self.cluster.resume(node):
            self.requests.server_resumed(node)

    def set_extra_delay(self, extra: float) -> None:
        """Every hop takes ``extra`` seconds longer from now on."""
        self.network.set_extra_delay(extra)
        self.observer.on_network(self.engine.now, extra)

    # -- end of run --------------------------------------------------------------------

    @property
    def inline_events(self) -> int:
        """Events run without a trip through the heap (counted in the engine's total)."""
        return self.requests.inline_events

    def check_conservation(self) -> dict[str, int | bool]:
        """Issued = succeeded + failed + in flight, with in flight counted independently."""
        c = self.counters
        in_flight = self.requests.unfinished_attempts() + c.pending_retries
        ok = c.issued == c.succeeded + c.failed_total + in_flight
        return {
            "issued": c.issued,
            "succeeded": c.succeeded,
            "failed": c.failed_total,
            "in_flight": in_flight,
            "conserved": ok and in_flight == c.in_flight,
        }


class _GracefulStop:
    """The end of one graceful stop: at its drain deadline, or as soon as the server holds
    nothing, whichever comes first (once)."""

    __slots__ = ("_done", "downtime", "kind", "model", "node")

    def __init__(self, model: Model, node: int, kind: str, downtime: float | None) -> None:
        self.model = model
        self.node = node
        self.kind = kind
        self.downtime = downtime
        self._done = False

    def drained(self, server: Server) -> None:
        """Called on the request path when the server has finished its last held request."""
        self.model.engine.control_at(self.model.engine.now, self)

    def __call__(self, _: object) -> None:
        if self._done:
            return
        self._done = True
        model = self.model
        server = model.servers[self.node]
        if not server.up or not server.leaving:
            return  # stopped some other way meanwhile
        # The process exits: whatever it still holds is reset.
        model.go_down(self.node, self.kind, "refuse")
        if self.downtime is not None:
            model.engine.control_at(model.engine.now + self.downtime, model._start_again,
                                    (self.node, True))
