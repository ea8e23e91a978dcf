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

    def go_down(self, node: int, kind: str) -> None:
        """``node`` stops (crash, restart or the end of a decommission's drain)."""
        self.cluster.go_down(node, kind)

    def come_up(self, node: int, kind: str) -> None:
        """``node`` starts (after a restart): fetch a view, then announce."""
        self.cluster.come_up(node, kind)

    def join(self, node: int) -> None:
        """A new server starts and joins; clients discover it after a delay."""
        self.cluster.come_up(node, "join")
        self.clients.discover_join(node)

    def decommission(self, node: int, drain: float) -> None:
        """``node`` announces it leaves, keeps serving for ``drain`` seconds, then stops."""
        if not self.cluster.announce_leave(node):
            return
        self.clients.discover_leave(node)
        self.engine.control_at(self.engine.now + drain, self._stop, node)

    def _stop(self, node: int) -> None:
        self.go_down(node, "decommission")

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
