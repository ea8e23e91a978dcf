"""Cluster membership from heartbeats and announcements: one server's view, sans-IO.

Theory of operation
-------------------
A :class:`Membership` is what one server (the *observer*, ``self_name``) believes about its
peers. It never sleeps, never does I/O and never reads a clock: every call takes the time it
happened at (``now``, or ``at`` for a heartbeat), in any monotonic unit, usually seconds. A
driver tells it what was heard and lets time pass; it answers with a versioned view
(:attr:`Membership.members`, :attr:`Membership.version`) and the transitions it made, as
:class:`MembershipEvent` lists. The simulator drives it with simulated time, a live server
with ``time.monotonic()`` and sockets: the same object, the same decisions.

Each peer is in one state: ``alive`` and ``suspect`` peers are in the view; ``dead``
(removed after silence, or on a removal gossiped by another member) and ``left`` (it
announced it was leaving) peers are not, nor ``absent`` ones (never heard of). The observer
itself is ``alive`` (in its own view) or ``left`` (after :meth:`Membership.leave`).

**Failure detection.** Peers heartbeat every ``heartbeat_interval`` (H). A peer last heard at
``L`` becomes ``suspect`` at the first :meth:`Membership.advance` at or after its *deadline*
``L + missed_heartbeats * H`` (k missed heartbeats), and ``dead`` once its suspicion has
lasted ``suspicion_timeout`` (T); with ``T = 0`` both happen in the same call, so a peer that
crashed with its last heartbeat at ``L`` leaves the view at exactly ``L + k*H`` when the
driver calls ``advance`` at :meth:`Membership.next_deadline`. A heartbeat heard at or after
the suspicion began clears it.

**Incarnations** (as in SWIM and ringpop). Every message about a peer carries the peer's
incarnation, a number the peer raises when it restarts or rejoins. A message about an older
incarnation than the one known is ignored. A ``dead`` or ``left`` peer comes back only with a
higher incarnation (its join announcement or a heartbeat carrying it). At the same
incarnation, a removal (``confirm_dead``, ``left``) overrides ``alive`` and ``suspect``, and
the first of ``dead`` and ``left`` stands. A removal or leave gossiped about the observer
itself, at its incarnation or later, is *refuted*: it raises its own incarnation above it
(its next heartbeats then bring it back into its peers' views).

Every state change goes through one table, :data:`MEMBERSHIP_TRANSITIONS` (``(state,
trigger) -> state``); ``docs/membership.md`` shows the diagram
:func:`membership_diagram` draws from it. Refreshes that change no state (a heartbeat from an
``alive`` peer, a newer incarnation of a peer already removed) are bookkeeping, not events.

**Time** is the caller's: only :meth:`Membership.advance` acts on the passing of time, and
no call enforces that times never decrease (a driver that reads its clock before taking a
lock may deliver slightly out-of-order times). A heartbeat's ``at`` only ever raises the time
a peer was last heard.

**Cost.** Deadlines live in a heap with lazy deletion: a heartbeat from an ``alive`` peer is
O(1) (it only moves the peer's deadline later, which the heap learns when the stale entry
surfaces); :meth:`Membership.advance` is O(1) when nothing is due and O((d + s) log n) for d
transitions and s stale entries; :meth:`Membership.next_deadline` is O(1) when the earliest
entry is current, and moving a stale one costs O(log n), paid once per heartbeat that made it
stale. The heap is rebuilt when stale entries outnumber peers, so it stays O(n).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Union

from consistent._errors import DuplicateNodeError, InvalidArgumentError, InvalidTypeError

__all__ = [
    "ABSENT",
    "ALIVE",
    "DEAD",
    "LEFT",
    "MEMBERSHIP_TRANSITIONS",
    "SUSPECT",
    "Membership",
    "MembershipEvent",
    "membership_diagram",
]

# ---------------------------------------------------------------------------------------------
# The state machine. States and triggers are plain strings so events print plainly.
# ---------------------------------------------------------------------------------------------

ALIVE: Final = "alive"
"""In the view: heard from within its deadline (or the observer itself)."""
SUSPECT: Final = "suspect"
"""Still in the view, but silent past its deadline; removed if the suspicion lasts."""
DEAD: Final = "dead"
"""Removed: silent for too long, or its removal was gossiped to the observer."""
LEFT: Final = "left"
"""Removed: it announced it was leaving (or, for the observer itself, it is leaving)."""
ABSENT: Final = "absent"
"""Never heard of."""

IN_VIEW: Final = frozenset({ALIVE, SUSPECT})
"""The states whose peers are members of the view."""

MEMBERSHIP_TRANSITIONS: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        # A peer first heard of.
        (ABSENT, "joined"): ALIVE,
        (ABSENT, "heartbeat"): ALIVE,
        (ABSENT, "left"): LEFT,
        (ABSENT, "confirm_dead"): DEAD,
        # Silence, suspicion and its end.
        (ALIVE, "missed_heartbeats"): SUSPECT,
        (SUSPECT, "heartbeat"): ALIVE,
        (SUSPECT, "joined"): ALIVE,
        (SUSPECT, "suspicion_timeout"): DEAD,
        # Removals announced or gossiped.
        (ALIVE, "left"): LEFT,
        (SUSPECT, "left"): LEFT,
        (ALIVE, "confirm_dead"): DEAD,
        (SUSPECT, "confirm_dead"): DEAD,
        (DEAD, "left"): LEFT,
        (LEFT, "confirm_dead"): DEAD,
        # Coming back with a higher incarnation.
        (DEAD, "joined"): ALIVE,
        (DEAD, "heartbeat"): ALIVE,
        (LEFT, "joined"): ALIVE,
        (LEFT, "heartbeat"): ALIVE,
        # The observer itself.
        (ALIVE, "leave"): LEFT,
        (LEFT, "rejoin"): ALIVE,
        (ALIVE, "refute"): ALIVE,
    }
)
"""Every allowed ``(state, trigger) -> new state``; the trigger is the event's ``trigger``.

Triggers are the inputs that cause them: ``heartbeat``, ``joined``, ``left`` and
``confirm_dead`` (messages about a peer), ``missed_heartbeats`` and ``suspicion_timeout``
(:meth:`Membership.advance`), and for the observer itself ``leave``, ``rejoin`` and
``refute``. Which incarnation a message needs to cause its transition:

* ``heartbeat``/``joined``: from ``absent`` any; from ``dead``/``left`` a higher one; from
  ``suspect`` a higher one, or the same one heard at or after the suspicion began;
* ``left``/``confirm_dead``: from ``absent`` any; from ``alive``/``suspect`` the same or
  higher; from ``dead``/``left`` (into the other) a higher one;
* ``refute``: a ``left`` or ``confirm_dead`` about the observer at its incarnation or higher.
"""


def membership_diagram() -> str:
    """The Mermaid state diagram of :data:`MEMBERSHIP_TRANSITIONS`, as in ``docs/membership.md``.

    ``absent`` is drawn as the start marker ``[*]``.

    >>> print(membership_diagram().splitlines()[1])
        [*] --> alive: joined
    """
    lines = ["stateDiagram-v2"]
    for (source, trigger), target in MEMBERSHIP_TRANSITIONS.items():
        src = "[*]" if source == ABSENT else source
        lines.append(f"    {src} --> {target}: {trigger}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class MembershipEvent:
    """One state transition of one peer (or of the observer itself) in a :class:`Membership`.

    ``time`` is the ``now`` (for a heartbeat, the ``at``) of the call that made it;
    ``incarnation`` is the peer's incarnation after it.

    >>> MembershipEvent(time=4.0, peer="b", from_state="alive", to_state="suspect",
    ...                 trigger="missed_heartbeats", incarnation=0).to_state
    'suspect'
    """

    time: float
    peer: str
    from_state: str
    to_state: str
    trigger: str
    incarnation: int = 0


# ---------------------------------------------------------------------------------------------
# Argument checks: every one raises before anything changes, naming the value.
# ---------------------------------------------------------------------------------------------


def _time(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(
            f"{name} must be a finite real number (a time), got {type(value).__name__}: "
            f"{value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidArgumentError(f"{name} must be a finite real number (a time), got {value!r}")
    return number


def _peer_name(value: object, subject: str = "peer") -> str:
    if not isinstance(value, str):
        raise InvalidTypeError(
            f"{subject} must be a non-empty str, got {type(value).__name__}: {value!r}"
        )
    if not value:
        raise InvalidArgumentError(f"{subject} must be a non-empty str, got ''")
    return value


def _incarnation(value: object, subject: str = "incarnation") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(
            f"{subject} must be a non-negative int, got {type(value).__name__}: {value!r}"
        )
    if value < 0:
        raise InvalidArgumentError(f"{subject} must be a non-negative int, got {value!r}")
    return int(value)


class _Peer:
    """The mutable record of one known peer; the membership's private bookkeeping."""

    __slots__ = ("entry", "entry_at", "incarnation", "last_heard", "name", "since", "state")

    def __init__(self, name: str, state: str, incarnation: int, now: float) -> None:
        self.name = name
        self.state = state
        self.incarnation = incarnation
        #: The latest time the peer was heard from (a heartbeat's ``at``, an announcement).
        self.last_heard = now
        #: When the peer entered its state.
        self.since = now
        #: Sequence number of the peer's authoritative heap entry, -1 if none.
        self.entry = -1
        #: That entry's time, a lower bound of the peer's deadline.
        self.entry_at = 0.0


MembersLike = Union[Iterable[str], Mapping[str, int]]


class Membership:
    """One server's view of the cluster, from heartbeats, announcements and time; sans-IO.

    See the module docstring for the theory of operation and :data:`MEMBERSHIP_TRANSITIONS`
    for the states; ``docs/membership.md`` for detection bounds and drivers.

    Every input returns the list of :class:`MembershipEvent` it caused (often empty) and
    passes each to ``observer``; :attr:`members` changes only with an event, and
    :attr:`version` counts its changes.

    Runtime complexity: :meth:`heartbeat` from an ``alive`` peer O(1); any transition
    O(log n) (plus O(n) to rebuild :attr:`members` the next time it is read after a change
    of the view); :meth:`advance` O(1) when nothing is due; :meth:`next_deadline` O(1), or
    O(log n) per stale entry it moves; :meth:`_check` O(n).

    >>> m = Membership("a", ["b", "c"], now=0.0, heartbeat_interval=1.0, missed_heartbeats=3)
    >>> sorted(m.members), m.version
    (['a', 'b', 'c'], 0)
    >>> m.heartbeat("b", at=2.0)
    []
    >>> m.next_deadline()                      # c, silent since 0.0, is due at 0 + 3*1
    3.0
    >>> [(e.peer, e.to_state) for e in m.advance(3.0)]
    [('c', 'suspect'), ('c', 'dead')]
    >>> sorted(m.members), m.version, m.next_deadline()
    (['a', 'b'], 1, 5.0)
    >>> m.heartbeat("c", at=3.5)               # the same incarnation cannot undo a removal
    []
    >>> [e.trigger for e in m.joined("c", now=4.0, incarnation=1)]
    ['joined']

    Args:
        self_name: the observer's own name.
        members: the initial peers, ``alive`` and last heard at ``now``: names (incarnation
            0), or a mapping of name to incarnation such as another member's
            :meth:`snapshot`. ``self_name`` may be listed; its entry is ignored.
        now: the time of the initial view.
        heartbeat_interval: H, the time between a peer's heartbeats.
        missed_heartbeats: k, how many heartbeats in a row a peer may miss before it is
            suspected (its deadline is ``k*H`` after it was last heard).
        suspicion_timeout: T, how long a suspicion lasts before removal; 0 removes a peer at
            its deadline.
        incarnation: the observer's own incarnation (raise it each time the process starts,
            e.g. a restart counter or the start time in integer nanoseconds).
        observer: called with every :class:`MembershipEvent` as it happens (synchronously,
            with the membership already in its new state), or ``None``.

    Raises:
        InvalidTypeError: a name, time, count or incarnation of the wrong type, ``members``
            a lone str, ``observer`` not callable.
        InvalidArgumentError: an empty name, a time not finite, an interval or count not
            positive, a negative incarnation or suspicion timeout.
        DuplicateNodeError: a peer listed twice.
    """

    __slots__ = (
        "_heap",
        "_incarnation",
        "_interval",
        "_k",
        "_latest",
        "_members",
        "_n_in_view",
        "_observer",
        "_peers",
        "_self_name",
        "_self_state",
        "_seq",
        "_silence",
        "_suspicion",
        "_version",
    )

    def __init__(
        self,
        self_name: str,
        members: MembersLike = (),
        *,
        now: float,
        heartbeat_interval: float,
        missed_heartbeats: int,
        suspicion_timeout: float = 0.0,
        incarnation: int = 0,
        observer: Callable[[MembershipEvent], None] | None = None,
    ) -> None:
        name = _peer_name(self_name, "self_name")
        start = _time("now", now)
        interval = _time("heartbeat_interval", heartbeat_interval)
        if interval <= 0:
            raise InvalidArgumentError(
                f"heartbeat_interval must be a positive number of seconds, got "
                f"{heartbeat_interval!r}"
            )
        k = missed_heartbeats
        if isinstance(k, bool) or not isinstance(k, int):
            raise InvalidTypeError(
                f"missed_heartbeats must be a positive int, got {type(k).__name__}: {k!r}"
            )
        if k < 1:
            raise InvalidArgumentError(f"missed_heartbeats must be a positive int, got {k!r}")
        try:
            silence = k * interval
        except OverflowError:
            silence = math.inf
        if not math.isfinite(silence):
            raise InvalidArgumentError(
                f"missed_heartbeats * heartbeat_interval must be a finite time, got "
                f"{k!r} * {interval!r}"
            )
        suspicion = _time("suspicion_timeout", suspicion_timeout)
        if suspicion < 0:
            raise InvalidArgumentError(
                f"suspicion_timeout must be a non-negative number of seconds, got "
                f"{suspicion_timeout!r}"
            )
        own = _incarnation(incarnation)
        if observer is not None and not callable(observer):
            raise InvalidTypeError(f"observer must be callable or None, got {observer!r}")
        initial = self._initial_peers(name, members)

        self._self_name = name
        self._interval = interval
        self._k = k
        self._silence = silence
        self._suspicion = suspicion
        self._incarnation = own
        self._self_state = ALIVE
        self._observer = observer
        self._latest = start
        self._version = 0
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._peers: dict[str, _Peer] = {}
        for peer, peer_incarnation in initial:
            record = self._peers[peer] = _Peer(peer, ALIVE, peer_incarnation, start)
            self._schedule(record)
        self._n_in_view = len(self._peers)
        self._members: frozenset[str] | None = None

    @staticmethod
    def _initial_peers(self_name: str, members: object) -> list[tuple[str, int]]:
        if isinstance(members, (str, bytes)):
            raise InvalidTypeError(
                f"members must be names or a mapping of name to incarnation, got the "
                f"{type(members).__name__} {members!r}"
            )
        pairs: list[tuple[object, object]]
        if isinstance(members, Mapping):
            pairs = list(members.items())
        elif isinstance(members, Iterable):
            pairs = [(peer, 0) for peer in members]
        else:
            raise InvalidTypeError(
                f"members must be names or a mapping of name to incarnation, got "
                f"{type(members).__name__}: {members!r}"
            )
        seen: set[str] = set()
        result = []
        for peer, peer_incarnation in pairs:
            name = _peer_name(peer, "member name")
            number = _incarnation(peer_incarnation, f"incarnation of member {name!r}")
            if name in seen:
                raise DuplicateNodeError(f"member {name!r} is listed twice")
            seen.add(name)
            if name != self_name:
                result.append((name, number))
        return result

    # -- what the view is --------------------------------------------------------------------

    @property
    def self_name(self) -> str:
        """The observer's own name."""
        return self._self_name

    @property
    def heartbeat_interval(self) -> float:
        """H, the time between a peer's heartbeats."""
        return self._interval

    @property
    def missed_heartbeats(self) -> int:
        """k: a peer silent for ``k * heartbeat_interval`` is suspected."""
        return self._k

    @property
    def suspicion_timeout(self) -> float:
        """T, how long a suspicion lasts before the peer is removed (0: at once)."""
        return self._suspicion

    @property
    def incarnation(self) -> int:
        """The observer's own incarnation: put it in every heartbeat and announcement."""
        return self._incarnation

    @property
    def members(self) -> frozenset[str]:
        """The view: ``alive`` and ``suspect`` peers, and the observer unless it has left."""
        members = self._members
        if members is None:
            names = [p.name for p in self._peers.values() if p.state in IN_VIEW]
            if self._self_state is ALIVE:
                names.append(self._self_name)
            members = self._members = frozenset(names)
        return members

    @property
    def version(self) -> int:
        """How many times :attr:`members` has changed since construction (starts at 0).

        Every event that adds or removes a member raises it by one, so an :meth:`advance`
        that removes two peers raises it by two, and an observer reading it during a call
        sees the version of the view it is told about.
        """
        return self._version

    def state(self, peer: str) -> str:
        """The state of ``peer`` (``absent`` if never heard of; the observer's own too).

        >>> Membership("a", ["b"], now=0, heartbeat_interval=1, missed_heartbeats=2).state("x")
        'absent'
        """
        name = _peer_name(peer)
        if name == self._self_name:
            return self._self_state
        record = self._peers.get(name)
        return ABSENT if record is None else record.state

    def incarnation_of(self, peer: str) -> int | None:
        """The latest incarnation known of ``peer`` (``None`` if never heard of).

        >>> m = Membership("a", {"b": 7}, now=0, heartbeat_interval=1, missed_heartbeats=2)
        >>> m.incarnation_of("b"), m.incarnation_of("a"), m.incarnation_of("x")
        (7, 0, None)
        """
        name = _peer_name(peer)
        if name == self._self_name:
            return self._incarnation
        record = self._peers.get(name)
        return None if record is None else record.incarnation

    def last_heard(self, peer: str) -> float | None:
        """The latest time ``peer`` was heard from (``None`` for the observer and strangers).

        >>> m = Membership("a", ["b"], now=1.5, heartbeat_interval=1, missed_heartbeats=2)
        >>> m.last_heard("b")
        1.5
        """
        record = self._peers.get(_peer_name(peer))
        return None if record is None else record.last_heard

    def deadline_of(self, peer: str) -> float | None:
        """When :meth:`advance` would next change ``peer``'s state, or ``None``.

        An ``alive`` peer's deadline is ``last_heard + missed_heartbeats *
        heartbeat_interval``; a ``suspect``'s is the end of its suspicion.

        >>> m = Membership("a", ["b"], now=1.5, heartbeat_interval=1, missed_heartbeats=2)
        >>> m.deadline_of("b"), m.deadline_of("a")
        (3.5, None)
        """
        record = self._peers.get(_peer_name(peer))
        return None if record is None else self._due(record)

    def snapshot(self) -> dict[str, int]:
        """Every member of the view with its incarnation (what a joining server is sent).

        Runtime complexity: O(n).

        >>> m = Membership("a", {"b": 2}, now=0, heartbeat_interval=1, missed_heartbeats=2)
        >>> m.snapshot()
        {'b': 2, 'a': 0}
        """
        view = {p.name: p.incarnation for p in self._peers.values() if p.state in IN_VIEW}
        if self._self_state is ALIVE:
            view[self._self_name] = self._incarnation
        return view

    def __len__(self) -> int:
        return self._n_in_view + (self._self_state is ALIVE)

    def __contains__(self, peer: object) -> bool:
        if peer == self._self_name:
            return self._self_state is ALIVE
        record = self._peers.get(peer) if isinstance(peer, str) else None
        return record is not None and record.state in IN_VIEW

    def __repr__(self) -> str:
        # The view and the settings: what a constructor can take. Removed peers, timings and
        # an observer that has left are not shown.
        return (
            f"Membership({self._self_name!r}, {self.snapshot()!r}, now={self._latest!r}, "
            f"heartbeat_interval={self.heartbeat_interval!r}, "
            f"missed_heartbeats={self.missed_heartbeats!r}, "
            f"suspicion_timeout={self.suspicion_timeout!r}, "
            f"incarnation={self._incarnation!r})"
        )

    # -- deadlines ---------------------------------------------------------------------------

    def _due(self, record: _Peer) -> float | None:
        state = record.state
        if state is ALIVE:
            return record.last_heard + self._silence
        if state is SUSPECT:
            return record.since + self._suspicion
        return None

    def _push(self, record: _Peer, due: float) -> None:
        self._seq += 1
        record.entry = self._seq
        record.entry_at = due
        heapq.heappush(self._heap, (due, self._seq, record.name))

    def _schedule(self, record: _Peer) -> None:
        """Keep the invariant: a peer with a deadline has one live heap entry at or before it."""
        due = self._due(record)
        if due is None:
            record.entry = -1  # its entry, if any, is now stale
        elif record.entry < 0 or due < record.entry_at:
            self._push(record, due)
            if len(self._heap) > 2 * len(self._peers) + 32:
                self._compact()

    def _compact(self) -> None:
        """Rebuild the heap from the live entries (stale ones outnumber the peers)."""
        heap = [
            (p.entry_at, p.entry, p.name) for p in self._peers.values() if p.entry >= 0
        ]
        heapq.heapify(heap)
        self._heap = heap

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`advance` would change something, or ``None``.

        A driver sleeps until then (or until a message arrives) and calls ``advance``.

        Runtime complexity: O(1) when the earliest heap entry is current; each stale entry
        on top is moved to its true deadline in O(log n), at most once per heartbeat that
        moved that deadline (so O(log n) amortised per heartbeat).

        >>> m = Membership("a", ["b"], now=0, heartbeat_interval=1, missed_heartbeats=3)
        >>> m.next_deadline()
        3.0
        >>> _ = m.heartbeat("b", at=1.25)
        >>> m.next_deadline()
        4.25
        """
        heap = self._heap
        peers = self._peers
        while heap:
            at, seq, name = heap[0]
            record = peers[name]
            if record.entry != seq:
                heapq.heappop(heap)
                continue
            due = self._due(record)
            assert due is not None
            if due == at:
                return at
            self._seq += 1
            record.entry = self._seq
            record.entry_at = due
            heapq.heapreplace(heap, (due, self._seq, name))
        return None

    # -- the state machine -------------------------------------------------------------------

    def _move(self, record: _Peer, trigger: str, now: float) -> MembershipEvent:
        """Apply ``MEMBERSHIP_TRANSITIONS[(state, trigger)]`` to a peer; the caller schedules."""
        source = record.state
        target = MEMBERSHIP_TRANSITIONS[(source, trigger)]
        record.state = target
        record.since = now
        was, now_in = source in IN_VIEW, target in IN_VIEW
        if was != now_in:
            self._n_in_view += 1 if now_in else -1
            self._view_changed()
        return self._emit(MembershipEvent(now, record.name, source, target, trigger,
                                          record.incarnation))

    def _view_changed(self) -> None:
        self._version += 1
        self._members = None

    def _emit(self, event: MembershipEvent) -> MembershipEvent:
        if self._observer is not None:
            self._observer(event)
        return event

    def _seen(self, now: float) -> None:
        if now > self._latest:
            self._latest = now

    def _new_peer(self, name: str, incarnation: int, now: float) -> _Peer:
        record = self._peers[name] = _Peer(name, ABSENT, incarnation, now)
        return record

    # -- inputs ------------------------------------------------------------------------------

    def heartbeat(self, peer: str, at: float, incarnation: int = 0) -> list[MembershipEvent]:
        """``peer`` was heard from at ``at`` (a heartbeat, or any message proving it alive).

        Raises the time the peer was last heard to ``at`` (never lowers it). An ``alive``
        peer's heartbeat causes no event; a ``suspect`` comes back if heard at or after its
        suspicion began or at a higher incarnation; a ``dead``, ``left`` or unknown peer
        joins the view only at a higher incarnation (any, if unknown). A heartbeat about the
        observer itself is ignored.

        Runtime complexity: O(1) from an ``alive`` peer, O(log n) with a transition.

        >>> m = Membership("a", ["b"], now=0, heartbeat_interval=1, missed_heartbeats=1,
        ...                suspicion_timeout=5)
        >>> [e.to_state for e in m.advance(1.0)]
        ['suspect']
        >>> [(e.time, e.to_state) for e in m.heartbeat("b", at=1.5)]
        [(1.5, 'alive')]

        Args:
            peer: who was heard.
            at: when (the receive time; a finite number).
            incarnation: the incarnation the message carried.

        Raises:
            InvalidTypeError, InvalidArgumentError: a bad name, time or incarnation.
        """
        # The hot path: exact types checked inline (``at - at`` is 0.0 only when finite);
        # anything else goes through the full checks, which convert or raise.
        if (
            type(at) is float and at - at == 0.0 and type(peer) is str and peer
            and type(incarnation) is int and incarnation >= 0
        ):
            name, when, number = peer, at, incarnation
        else:
            name = _peer_name(peer)
            when = _time("at", at)
            number = _incarnation(incarnation)
        if when > self._latest:
            self._latest = when
        record = self._peers.get(name)
        if record is not None and record.state is ALIVE:
            # A live peer's heartbeat only moves its deadline later, which the heap learns
            # lazily (see next_deadline).
            if number >= record.incarnation:
                record.incarnation = number
                if when > record.last_heard:
                    record.last_heard = when
            return []
        return self._alive_message(name, record, "heartbeat", when, number)

    def joined(self, peer: str, now: float, incarnation: int = 0) -> list[MembershipEvent]:
        """``peer`` announced that it joins (or rejoins) at ``incarnation``.

        The same rules as :meth:`heartbeat`: it enters the view if unknown, or if removed
        and the incarnation is higher; an announcement about the observer is ignored.

        Runtime complexity: O(log n).

        >>> m = Membership("a", [], now=0, heartbeat_interval=1, missed_heartbeats=3)
        >>> [(e.peer, e.from_state, e.to_state) for e in m.joined("b", now=2.0)]
        [('b', 'absent', 'alive')]
        >>> sorted(m.members), m.version
        (['a', 'b'], 1)

        Raises:
            InvalidTypeError, InvalidArgumentError: a bad name, time or incarnation.
        """
        name = _peer_name(peer)
        when = _time("now", now)
        number = _incarnation(incarnation)
        self._seen(when)
        return self._alive_message(name, self._peers.get(name), "joined", when, number)

    def _alive_message(
        self, name: str, record: _Peer | None, trigger: str, when: float, number: int
    ) -> list[MembershipEvent]:
        if name == self._self_name:
            return []
        if record is None:
            record = self._new_peer(name, number, when)
        state = record.state
        if state is ALIVE:
            if number >= record.incarnation:
                record.incarnation = number
                if when > record.last_heard:
                    record.last_heard = when
            return []
        known = record.incarnation
        if state is SUSPECT:
            if number < known:
                return []
            if when > record.last_heard:
                record.last_heard = when
            record.incarnation = number
            if number == known and when < record.since:
                return []  # heard before the suspicion began: no news
        elif state is ABSENT or number > known:
            record.incarnation = number
            if when > record.last_heard:
                record.last_heard = when
        else:
            return []  # dead or left at this incarnation: stale
        event = self._move(record, trigger, when)
        self._schedule(record)
        return [event]

    def left(self, peer: str, now: float, incarnation: int = 0) -> list[MembershipEvent]:
        """``peer`` announced that it leaves: it is removed from the view.

        Ignored at an older incarnation than known, or the same one once the peer is
        already removed. About the observer itself (alive, at its incarnation or later),
        it is refuted: the observer's incarnation rises above it.

        Runtime complexity: O(log n).

        >>> m = Membership("a", ["b"], now=0, heartbeat_interval=1, missed_heartbeats=3)
        >>> [(e.peer, e.to_state) for e in m.left("b", now=1.0)]
        [('b', 'left')]
        >>> m.next_deadline() is None
        True

        Raises:
            InvalidTypeError, InvalidArgumentError: a bad name, time or incarnation.
        """
        return self._removal(peer, now, incarnation, "left", LEFT)

    def confirm_dead(self, peer: str, now: float, incarnation: int = 0) -> list[MembershipEvent]:
        """Another member removed ``peer`` (gossip of its death): it is removed here too.

        The same incarnation rules as :meth:`left`, including the refutation of a rumour
        about the observer itself.

        Runtime complexity: O(log n).

        >>> m = Membership("a", ["b"], now=0, heartbeat_interval=1, missed_heartbeats=3)
        >>> [(e.peer, e.to_state) for e in m.confirm_dead("b", now=1.0)]
        [('b', 'dead')]
        >>> [(e.peer, e.trigger, e.incarnation) for e in m.confirm_dead("a", now=1.5)]
        [('a', 'refute', 1)]

        Raises:
            InvalidTypeError, InvalidArgumentError: a bad name, time or incarnation.
        """
        return self._removal(peer, now, incarnation, "confirm_dead", DEAD)

    def _removal(
        self, peer: str, now: float, incarnation: int, trigger: str, target: str
    ) -> list[MembershipEvent]:
        name = _peer_name(peer)
        when = _time("now", now)
        number = _incarnation(incarnation)
        self._seen(when)
        if name == self._self_name:
            if self._self_state is not ALIVE or number < self._incarnation:
                return []
            self._incarnation = number + 1
            return [self._emit(MembershipEvent(when, name, ALIVE, ALIVE, "refute",
                                               self._incarnation))]
        record = self._peers.get(name)
        if record is None:
            record = self._new_peer(name, number, when)
        state = record.state
        known = record.incarnation
        if state is ABSENT or (state in IN_VIEW and number >= known):
            pass
        elif number > known:  # dead or left, at a newer incarnation
            record.incarnation = number
            if state is target:
                return []  # bookkeeping: no transition
        else:
            return []
        record.incarnation = number
        event = self._move(record, trigger, when)
        self._schedule(record)
        return [event]

    def advance(
        self, now: float, peers: Iterable[str] | None = None
    ) -> list[MembershipEvent]:
        """Let time pass to ``now``: suspect silent peers, remove expired suspects.

        An ``alive`` peer whose deadline (``last_heard + k*H``) is at or before ``now``
        becomes ``suspect`` (since ``now``); a ``suspect`` whose suspicion started
        ``suspicion_timeout`` or more before ``now`` becomes ``dead``. With
        ``suspicion_timeout=0`` both happen in this call. Peers are processed in order of
        deadline, ties by name; every event is stamped ``now``.

        ``peers`` limits the call to those peers (unknown names are skipped): a driver that
        knows every other peer is alive -- a simulator that has not fed their heartbeats --
        acts on the one whose detection is due without feeding the others. It gives the
        same events as a full ``advance`` whenever every other peer's deadline is after
        ``now``.

        Runtime complexity: O(1) when nothing is due; otherwise O((d + s) log n) for d due
        peers and s stale heap entries; with ``peers``, O(p log p + d log n) for p names.

        >>> m = Membership("a", ["b", "c"], now=0, heartbeat_interval=1, missed_heartbeats=2)
        >>> _ = m.heartbeat("c", at=1.0)
        >>> m.advance(1.9)
        []
        >>> [(e.peer, e.trigger) for e in m.advance(2.0)]
        [('b', 'missed_heartbeats'), ('b', 'suspicion_timeout')]
        >>> m.advance(5.0, peers=["x"])
        []

        Raises:
            InvalidTypeError, InvalidArgumentError: ``now`` is not a finite number, or
                ``peers`` not an iterable of names.
        """
        when = now if type(now) is float and now - now == 0.0 else _time("now", now)
        if peers is not None:
            return self._advance_some(when, peers)
        if when > self._latest:
            self._latest = when
        heap = self._heap
        if not heap or heap[0][0] > when:
            return []
        records = self._peers
        due_now: list[tuple[float, str]] = []
        while heap and heap[0][0] <= when:
            _, seq, name = heapq.heappop(heap)
            record = records[name]
            if record.entry != seq:
                continue  # stale
            record.entry = -1
            due = self._due(record)
            assert due is not None
            if due <= when:
                due_now.append((due, name))
            else:
                self._push(record, due)  # a heartbeat moved it; its true deadline is later
        return self._fire(due_now, when)

    def _advance_some(self, when: float, peers: object) -> list[MembershipEvent]:
        if isinstance(peers, (str, bytes)) or not isinstance(peers, Iterable):
            raise InvalidTypeError(
                f"peers must be an iterable of names or None, got {type(peers).__name__}: "
                f"{peers!r}"
            )
        names = {_peer_name(name) for name in peers}
        if when > self._latest:
            self._latest = when
        due_now = []
        for name in names:
            record = self._peers.get(name)
            if record is not None:
                due = self._due(record)
                if due is not None and due <= when:
                    due_now.append((due, name))
        return self._fire(due_now, when)

    def _fire(self, due_now: list[tuple[float, str]], when: float) -> list[MembershipEvent]:
        """Apply the time-driven transitions of the peers due at ``when``, in order."""
        due_now.sort()
        events: list[MembershipEvent] = []
        suspicion = self._suspicion
        for _, name in due_now:
            record = self._peers[name]
            if record.state is ALIVE:
                events.append(self._move(record, "missed_heartbeats", when))
            if record.state is SUSPECT and record.since + suspicion <= when:
                events.append(self._move(record, "suspicion_timeout", when))
            self._schedule(record)
        return events

    def leave(self, now: float) -> list[MembershipEvent]:
        """The observer announces that it leaves: out of its own view, incarnation raised.

        Announce ``left(self_name, now, incarnation)`` to the peers with the new
        :attr:`incarnation`. Leaving twice changes nothing.

        >>> m = Membership("a", ["b"], now=0, heartbeat_interval=1, missed_heartbeats=3)
        >>> [(e.peer, e.to_state, e.incarnation) for e in m.leave(5.0)]
        [('a', 'left', 1)]
        >>> sorted(m.members)
        ['b']

        Raises:
            InvalidTypeError, InvalidArgumentError: ``now`` is not a finite number.
        """
        when = _time("now", now)
        self._seen(when)
        if self._self_state is not ALIVE:
            return []
        return [self._self_move("leave", when)]

    def rejoin(self, now: float) -> list[MembershipEvent]:
        """The observer, having left, joins again with a higher incarnation.

        Announce ``joined(self_name, now, incarnation)`` to the peers. Rejoining while in
        the view changes nothing.

        >>> m = Membership("a", [], now=0, heartbeat_interval=1, missed_heartbeats=3)
        >>> _ = m.leave(1.0)
        >>> [(e.to_state, e.incarnation) for e in m.rejoin(2.0)]
        [('alive', 2)]

        Raises:
            InvalidTypeError, InvalidArgumentError: ``now`` is not a finite number.
        """
        when = _time("now", now)
        self._seen(when)
        if self._self_state is not LEFT:
            return []
        return [self._self_move("rejoin", when)]

    def _self_move(self, trigger: str, now: float) -> MembershipEvent:
        source = self._self_state
        target = MEMBERSHIP_TRANSITIONS[(source, trigger)]
        self._self_state = target
        self._incarnation += 1
        self._view_changed()
        return self._emit(MembershipEvent(now, self._self_name, source, target, trigger,
                                          self._incarnation))

    # -- invariants --------------------------------------------------------------------------

    def _check(self) -> None:
        """Verify the internal invariants (O(n + heap)); raise AssertionError."""
        heap = self._heap
        for i in range(1, len(heap)):
            assert heap[(i - 1) // 2] <= heap[i], "heap order"
        entries = {seq: (at, name) for at, seq, name in heap}
        assert len(entries) == len(heap), "heap sequence numbers are unique"
        in_view = 0
        assert self._self_name not in self._peers
        assert self._self_state in (ALIVE, LEFT)
        for name, record in self._peers.items():
            assert record.name == name
            assert record.state in (ALIVE, SUSPECT, DEAD, LEFT), record.state
            assert record.incarnation >= 0
            in_view += record.state in IN_VIEW
            due = self._due(record)
            if due is None:
                assert record.entry == -1, (name, record.entry)
            else:
                assert record.entry in entries, (name, record.entry)
                assert entries[record.entry] == (record.entry_at, name)
                assert record.entry_at <= due, (name, record.entry_at, due)
        assert in_view == self._n_in_view
        assert len(heap) <= 2 * len(self._peers) + 33
        expected = {n for n, p in self._peers.items() if p.state in IN_VIEW}
        if self._self_state is ALIVE:
            expected.add(self._self_name)
        assert self.members == expected
        assert len(self) == len(expected)
        assert self._version >= 0
