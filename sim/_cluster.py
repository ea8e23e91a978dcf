"""The cluster: servers starting, stopping and leaving, and the views they route by.

:class:`Cluster` owns the servers and their lifecycle; :mod:`sim._membership` decides when
each other server learns of a change. A server's *epoch* changes whenever it stops or
starts, which invalidates the service completions already scheduled for requests it was
serving; its *incarnation* changes when it stops, which makes older membership news stale.
Clients are not told anything here: the model (:mod:`sim._model`) tells them of joins and
leaves, as a discovery service would.
"""

from __future__ import annotations

import numpy as np

from sim._config import Scenario, server_names
from sim._engine import Engine
from sim._membership import ClusterMembership
from sim._observer import Observer
from sim._placement import ALGORITHMS
from sim._server import Server
from sim._views import ViewCache

__all__ = ["Cluster"]


class Cluster:
    """Every server of a run (those that join later included) and their lifecycle.

    Args:
        scenario: the validated scenario.
        engine: the run's engine.
        observer: told about servers going down, coming up and leaving, and view changes.
    """

    def __init__(self, scenario: Scenario, engine: Engine, observer: Observer) -> None:
        self.scenario = scenario
        self.engine = engine
        self.observer = observer
        total = scenario.max_servers
        self.names = server_names(total)
        self.servers = [Server(i, n, scenario.cluster.concurrency)
                        for i, n in enumerate(self.names)]
        self.by_name = {s.name: s for s in self.servers}
        self.index = {name: i for i, name in enumerate(self.names)}
        #: Key ids the workload draws (0 .. keys-1), as the placements hash them.
        self.keys = np.arange(scenario.workload.keys, dtype=np.uint64)
        self.views = ViewCache(scenario.placement, self.names, self.keys,
                               scenario.cluster.replication)
        #: Homes depend on the load at placement time (bounded loads), not on views only.
        self.stateful = ALGORITHMS[scenario.placement.algorithm].stateful
        self.membership = ClusterMembership(scenario, engine, self.servers, self.views,
                                            observer, stateful=self.stateful)

    def start(self) -> None:
        """Bring the initial servers up with converged views."""
        initial = self.servers[: self.scenario.cluster.servers]
        now = self.engine.now
        for server in initial:
            server.up = server.member = True
            server.refresh()
        self.membership.start(initial)
        for server in initial:
            self.observer.on_up(now, server.index, "start")

    def go_down(self, node: int, kind: str, mode: str = "refuse") -> bool:
        """``node``'s process stops (crash, restart or the end of a decommission's drain).

        What it was serving or queueing is lost; peers that were not told it was leaving
        learn it from missed heartbeats. ``mode`` says how the world sees it while it is
        down (``"refuse"`` or ``"blackhole"``). Returns False if it was already down.
        """
        server = self.servers[node]
        if not server.up:
            return False
        now = self.engine.now
        server.up = False
        server.hung = False
        server.mode = mode
        server.on_drained = None
        server.refresh()
        server.down_at = now
        server.epoch += 1
        server.incarnation += 1
        for attempt in server.queue:
            attempt.lost = node
        server.queue.clear()
        server.backlog.clear()
        server.busy = 0
        server.placer = None  # in-memory load counts die with the process
        if kind == "decommission":
            server.member = False
        self.observer.on_down(now, node, kind)
        if server.leaving:
            return True  # peers removed it when it announced
        self.membership.stopped(node)
        return True

    def come_up(self, node: int, kind: str) -> None:
        """``node`` starts (after a restart, or joining): fetch a view, then announce."""
        server = self.servers[node]
        if server.up:
            return
        server.up = server.member = True
        server.leaving = False
        server.refresh()
        server.epoch += 1
        server.fresh = True
        server.suspects.clear()
        self.membership.started(node, kind)

    def announce_leave(self, node: int) -> bool:
        """``node`` announces it leaves (it keeps serving); False if it cannot (down, leaving)."""
        server = self.servers[node]
        if not server.up or server.leaving:
            return False
        server.leaving = True
        server.refresh()
        self.observer.on_leave(self.engine.now, node)
        self.membership.leaving(node)
        return True

    def hang(self, node: int, duration: float) -> bool:
        """``node`` stops answering for ``duration`` (False if it is not up and answering).

        Its heartbeats stop, so peers remove it as they would a crashed server.
        """
        server = self.servers[node]
        if not server.up or server.hung:
            return False
        server.hung = True
        server.hang_for = duration
        server.refresh()
        server.incarnation += 1
        self.observer.on_down(self.engine.now, node, "hang")
        if not server.leaving:
            self.membership.stopped(node)
        return True

    def resume(self, node: int) -> bool:
        """``node`` answers again after a hang (False if it is not hung)."""
        server = self.servers[node]
        if not server.up or not server.hung:
            return False
        server.hung = False
        server.refresh()
        server.incarnation += 1
        self.observer.on_up(self.engine.now, node, "hang")
        if not server.leaving:
            self.membership.resumed(node)
        return True
