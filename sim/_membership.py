"""The membership protocol: when each server's view learns of crashes, joins and leaves.

Theory of operation
-------------------
Every server routes by its own view (:mod:`sim._views`); this module moves servers from one
view to the next, one server at a time, as each learns of a change. What a server believes
is held by a :class:`consistent.Membership` per server process, the same sans-IO object a
live server drives: this module decides *when* each server hears what (a heartbeat model and
gossip delays, drawn from the run's streams) and tells that server's object; the server then
routes by the object's members.

* a **crash** is learnt from missed heartbeats. Server ``i`` heartbeats every ``H`` seconds
  at its own phase; an observer removes ``i`` when ``k`` heartbeats in a row are missing,
  which happens ``k*H`` after the last heartbeat ``i`` sent, plus a gossip spread drawn per
  observer from ``[0, propagation_delay]``. So after a crash at ``t`` every observer removes
  ``i`` in ``[t + (k-1)*H, t + k*H + propagation_delay]`` (:class:`HeartbeatModel`);
* a **join** is announced ``join_announcement`` after the process starts and spreads by
  gossip; the starting server itself fetches a view from a live peer at once, and notices
  the peers that view still lists although they are down or leaving;
* a **leave** (graceful) is announced and spreads by gossip; the leaving server drops itself
  from its own view at once;
* a **hang** looks like a crash to peers (heartbeats stop); when the server resumes, its
  heartbeats carry a new incarnation and peers add it back within the gossip spread.

News about an older incarnation of a server (it crashed and came back meanwhile) is stale
and ignored. All randomness comes from the run's ``membership`` stream.

**The analytic fast path.** Heartbeats are not delivered one by one (n² messages a second).
The heartbeat model computes when each observer's silence deadline for a stopped server
falls (its last heartbeat plus ``k*H``, the deadline ``consistent.Membership`` computes from
the same heartbeat) plus the gossip spread, and at that time delivers the removal to the
observer's object as gossip (``confirm_dead``). ``tests/test_sim_membership.py`` checks that
driving the objects with every heartbeat removes the server at the same deadline.

A server's incarnation (:attr:`sim._server.Server.incarnation`) rises whenever its process
stops or stops answering; a process announces, and is removed at, the incarnation it ran
with.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import consistent
from sim._config import MembershipConfig, Scenario
from sim._engine import Engine
from sim._observer import Observer
from sim._server import Server
from sim._views import View, ViewCache

__all__ = ["ClusterMembership", "HeartbeatModel"]


class HeartbeatModel:
    """When observers notice a crash, from heartbeat phases and the membership parameters.

    >>> import random
    >>> from sim._config import MembershipConfig
    >>> hb = HeartbeatModel(MembershipConfig(heartbeat_interval=1.0, missed_heartbeats=3,
    ...                     propagation_delay=0.0), servers=2, rng=random.Random(1))
    >>> 2.0 <= hb.detection_time(0, crashed_at=10.0, rng=random.Random(2)) - 10.0 <= 3.0
    True
    """

    def __init__(self, config: MembershipConfig, servers: int, rng: random.Random) -> None:
        self.config = config
        interval = config.heartbeat_interval
        self.phases = [rng.random() * interval for _ in range(servers)]

    def last_heartbeat(self, node: int, before: float) -> float:
        """The time of ``node``'s last heartbeat at or before ``before``."""
        interval = self.config.heartbeat_interval
        phase = self.phases[node]
        if before < phase:
            return phase - interval
        return phase + interval * math.floor((before - phase) / interval)

    def detection_time(self, node: int, crashed_at: float, rng: random.Random) -> float:
        """When one observer removes ``node`` that crashed at ``crashed_at``."""
        config = self.config
        last = self.last_heartbeat(node, crashed_at)
        spread = rng.random() * config.propagation_delay
        return last + config.missed_heartbeats * config.heartbeat_interval + spread


class ClusterMembership:
    """Moves servers between views as they learn of crashes, joins and leaves.

    Args:
        scenario: the run's scenario (membership settings, server count).
        engine: schedules the learning events (as control events) and supplies the streams.
        servers: every server, by index.
        views: the interned views.
        observer: told about every view change.
        stateful: whether each server keeps its own load-aware placement (bounded loads).
    """

    def __init__(self, scenario: Scenario, engine: Engine, servers: Sequence[Server],
                 views: ViewCache, observer: Observer, *, stateful: bool) -> None:
        self.config = scenario.membership
        self.engine = engine
        self.servers = servers
        self.names = [s.name for s in servers]
        self.views = views
        self.observer = observer
        self.stateful = stateful
        self.heartbeats = HeartbeatModel(
            self.config, len(servers), engine.stream("membership/phases")
        )
        self._rng = engine.stream("membership")
        self._index = {name: i for i, name in enumerate(self.names)}

    def _process(self, server: Server, members: dict[str, int]) -> consistent.Membership:
        """A new process's membership object, knowing ``members`` (name: incarnation)."""
        config = self.config
        membership = consistent.Membership(
            server.name, members, now=self.engine.now,
            heartbeat_interval=config.heartbeat_interval,
            missed_heartbeats=config.missed_heartbeats, incarnation=server.incarnation,
        )
        server.membership = membership
        return membership

    def _sync(self, server: Server) -> None:
        """``server`` routes by what its membership object now holds."""
        membership = server.membership
        assert membership is not None
        index = self._index
        self.change_view(server, frozenset(index[name] for name in membership.members))

    def start(self, initial: Sequence[Server]) -> None:
        """The initial servers, each knowing all of them (converged views)."""
        members = dict.fromkeys((s.name for s in initial), 0)
        for server in initial:
            self._process(server, members)
            self._sync(server)

    # -- a server's own view -----------------------------------------------------------

    def adopt(self, server: Server, view: View) -> None:
        """``server`` routes by ``view`` from now on (suspicions of nodes it drops end)."""
        if self.stateful:
            self._update_placer(server, view)
        if server.suspects:
            # Its view has settled on these nodes: route by the view again.
            old = server.members
            for node in [n for n in server.suspects if n not in view.members or n not in old]:
                del server.suspects[node]
        self.views.hold(server.view, view)
        server.view = view
        server.homes = view.homes
        self.observer.on_view(self.engine.now, server.index, view)

    def _update_placer(self, server: Server, view: View) -> None:
        """Bring the server's own stateful placement to ``view``'s members, loads kept."""
        placer = server.placer
        if placer is None or not view.members:
            # Starting (or knowing no member): fresh, empty loads. Attempts placed by an
            # earlier placer still hold it and release into it.
            stateful: Any = view.placement  # a BoundedLoadRing: it has copy()
            server.placer = stateful.copy()
            return
        old = server.members
        names = self.names
        # Adds first, so a removal always has somewhere to re-place the requests it held.
        for i in sorted(view.members - old):
            placer.add(names[i])
        for i in sorted(old - view.members):
            placer.remove(names[i])

    def change_view(self, server: Server, members: frozenset[int]) -> None:
        """``server`` routes by the view of ``members`` (no-op if it already does)."""
        if server.view is not None and members == server.view.members:
            return
        self.adopt(server, self.views.view(members, near=server.view))

    def _seed(self, joining: Server) -> dict[str, int]:
        """Membership a starting server fetches from a live peer (name: incarnation)."""
        for server in self.servers:
            if server.up and server is not joining and server.membership is not None:
                return server.membership.snapshot()
        return {}

    def _spread(self) -> float:
        return self._rng.random() * self.config.propagation_delay

    # -- what happened, and who learns it when -------------------------------------------

    def stopped(self, node: int) -> None:
        """``node`` stopped without announcing: peers learn it from missed heartbeats."""
        server = self.servers[node]
        now = self.engine.now
        for observer in self.servers:
            if observer.index != node and observer.member:
                at = self.heartbeats.detection_time(node, now, self._rng)
                self.engine.control_at(max(at, now), self._learn_removal,
                                       (observer.index, node, server.incarnation))

    def _learn_removal(self, args: tuple[int, int, int]) -> None:
        observer, node, incarnation = args
        server = self.servers[node]
        watcher = self.servers[observer]
        if server.incarnation != incarnation or (server.up and not server.hung) \
                or not watcher.up or watcher.membership is None:
            return  # it came back (or this news is about an older incarnation)
        # The process that fell silent ran with the incarnation before this one.
        watcher.membership.confirm_dead(server.name, self.engine.now, incarnation - 1)
        self._sync(watcher)

    def started(self, node: int, kind: str) -> None:
        """``node`` started (``kind``: restart, join): it fetches a view, then announces."""
        server = self.servers[node]
        now = self.engine.now
        config = self.config
        self._process(server, self._seed(server))
        self._sync(server)
        if self.stateful and server.placer is None and server.view is not None:
            self._update_placer(server, server.view)
        self.observer.on_up(now, node, kind)
        for peer in self.servers:
            if peer.index == node or not peer.member:
                continue
            at = now + config.join_announcement + self._spread()
            self.engine.control_at(at, self._learn_join, (peer.index, node, server.incarnation))
        # Peers the seed view still lists although they are down or leaving: notice them too.
        assert server.view is not None
        for member in server.view.members:
            peer = self.servers[member]
            if member == node:
                continue
            if not peer.up:
                at = self.heartbeats.detection_time(member, peer.down_at, self._rng)
                silence = config.heartbeat_interval * config.missed_heartbeats
                self.engine.control_at(max(at, now + silence), self._learn_removal,
                                       (node, member, peer.incarnation))
            elif peer.leaving:
                self.engine.control_at(now + self._spread(), self._learn_leave,
                                       (node, member, peer.incarnation))
        for peer in self.servers:
            if peer.up and not peer.leaving and peer.index not in server.view.members:
                self.engine.control_at(now + self._spread(), self._learn_join,
                                       (node, peer.index, peer.incarnation))

    def resumed(self, node: int) -> None:
        """``node`` answers again after a hang: its heartbeats refute the suspicion, and
        peers that removed it add it back within the gossip spread."""
        server = self.servers[node]
        now = self.engine.now
        if server.membership is not None:
            # It learns it was suspected and refutes it: its own incarnation rises to the
            # one its heartbeats now carry (so a peer seeding from it gets the right number).
            server.membership.confirm_dead(server.name, now, server.incarnation - 1)
        for peer in self.servers:
            if peer.index != node and peer.member:
                self.engine.control_at(now + self._spread(), self._learn_join,
                                       (peer.index, node, server.incarnation))

    def _learn_join(self, args: tuple[int, int, int]) -> None:
        observer, node, incarnation = args
        server = self.servers[node]
        watcher = self.servers[observer]
        if server.incarnation != incarnation or not server.up or server.leaving \
                or not watcher.up or watcher.membership is None:
            return
        watcher.membership.joined(server.name, self.engine.now, incarnation)
        self._sync(watcher)

    def leaving(self, node: int) -> None:
        """``node`` announced it leaves: it drops itself at once, peers learn by gossip."""
        server = self.servers[node]
        now = self.engine.now
        assert server.membership is not None
        server.membership.leave(now)
        self._sync(server)
        for peer in self.servers:
            if peer.index != node and peer.member:
                self.engine.control_at(now + self._spread(), self._learn_leave,
                                       (peer.index, node, server.incarnation))

    def _learn_leave(self, args: tuple[int, int, int]) -> None:
        observer, node, incarnation = args
        watcher = self.servers[observer]
        if watcher.up and watcher.membership is not None:
            watcher.membership.left(self.names[node], self.engine.now, incarnation)
            self._sync(watcher)
