"""Membership: detection times by hand, suspicion, incarnations, leave/join, validation.

The fast-path property at the end is what lets the simulator skip heartbeats: feeding only
each peer's last heartbeat before every ``advance`` gives the same view and decisions as
feeding every heartbeat.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consistent
from consistent import (
    MEMBERSHIP_TRANSITIONS,
    DuplicateNodeError,
    InvalidArgumentError,
    InvalidTypeError,
    Membership,
    MembershipEvent,
    membership_diagram,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "membership.md"


def make(members=("b", "c"), **kw) -> Membership:
    params = {"now": 0.0, "heartbeat_interval": 1.0, "missed_heartbeats": 3}
    params.update(kw)
    return Membership("a", list(members), **params)


def drive(m: Membership, heartbeats: list[tuple[float, str, int]], until: float):
    """A heartbeat-driven driver: deliver heartbeats in time order, and call advance at
    every deadline that comes before the next heartbeat (as an event loop would)."""
    events: list[MembershipEvent] = []
    pending = sorted(heartbeats)
    i = 0
    for _ in range(10_000):
        deadline = m.next_deadline()
        next_hb = pending[i][0] if i < len(pending) else math.inf
        if deadline is not None and deadline < next_hb and deadline <= until:
            events += m.advance(deadline)
        elif next_hb <= until:
            at, peer, incarnation = pending[i]
            i += 1
            events += m.heartbeat(peer, at, incarnation)
        else:
            break
    events += m.advance(until)
    m._check()
    return events


def beats(peer: str, phase: float, start: float, end: float, interval: float = 1.0,
          incarnation: int = 0) -> list[tuple[float, str, int]]:
    """Heartbeats of ``peer`` at ``phase + j*interval`` in ``[start, end)``.

    Each is the previous one plus ``interval``, as a real timer would compute it, so with
    ``k = 1`` the next heartbeat falls exactly on the deadline (and wins the tie, being
    delivered first) instead of an ulp after it.
    """
    at = phase + max(0, math.ceil((start - phase) / interval)) * interval
    out = []
    while at < end:
        if at >= start:
            out.append((at, peer, incarnation))
        at += interval
    return out


# -- detection by hand --------------------------------------------------------------------


def test_crash_is_detected_at_last_heartbeat_plus_k_intervals() -> None:
    # b heartbeats at 0.25, 1.25, ...; it crashes at 10.6, so its last heartbeat is 10.25
    # and, with k = 3 and H = 1, it leaves the view at exactly 10.25 + 3 = 13.25.
    m = make(members=["b"])
    events = drive(m, beats("b", 0.25, 0.0, 10.6), until=20.0)
    assert [(e.time, e.peer, e.from_state, e.to_state, e.trigger) for e in events] == [
        (13.25, "b", "alive", "suspect", "missed_heartbeats"),
        (13.25, "b", "suspect", "dead", "suspicion_timeout"),
    ]
    assert m.members == {"a"} and m.version == 1
    assert m.next_deadline() is None


def test_only_the_silent_peer_is_removed() -> None:
    m = make()
    hb = beats("b", 0.5, 0.0, 4.2) + beats("c", 0.75, 0.0, 30.0)
    events = drive(m, hb, until=30.0)
    # b's last heartbeat is 3.5: removed at 6.5; c never misses.
    assert [(e.time, e.peer, e.to_state) for e in events] == [
        (6.5, "b", "suspect"),
        (6.5, "b", "dead"),
    ]
    assert m.members == {"a", "c"}


@settings(max_examples=200, deadline=None)
@given(
    phase=st.floats(0.0, 0.999),
    crash=st.floats(1.0, 50.0),
    k=st.integers(1, 5),
    interval=st.sampled_from([0.1, 0.5, 1.0, 2.0]),
)
def test_detection_bounds(phase: float, crash: float, k: int, interval: float) -> None:
    phase *= interval
    m = make(members=["b"], heartbeat_interval=interval, missed_heartbeats=k)
    hb = beats("b", phase, 0.0, crash, interval)
    events = drive(m, hb, until=crash + (k + 2) * interval)
    removed = [e.time for e in events if e.to_state == "dead"]
    assert len(removed) == 1
    last = hb[-1][0] if hb else 0.0  # the initial view counts as heard at 0
    assert removed[0] == last + k * interval
    if hb:
        eps = 1e-9 * max(1.0, crash)
        assert crash + (k - 1) * interval - eps <= removed[0] <= crash + k * interval + eps


def test_suspicion_timeout_delays_removal_and_a_heartbeat_clears_it() -> None:
    m = make(members=["b"], missed_heartbeats=2, suspicion_timeout=1.5)
    m.heartbeat("b", 1.0)
    assert m.next_deadline() == 3.0
    assert [(e.to_state, e.trigger) for e in m.advance(3.0)] == [("suspect", "missed_heartbeats")]
    assert m.members == {"a", "b"} and m.version == 0  # a suspect is still a member
    assert m.next_deadline() == 4.5
    assert m.advance(4.4) == []
    # Heard again during the suspicion: alive, deadline from the new heartbeat.
    assert [(e.time, e.to_state, e.trigger) for e in m.heartbeat("b", 4.0)] == [
        (4.0, "alive", "heartbeat")
    ]
    assert m.next_deadline() == 6.0
    assert [e.to_state for e in m.advance(6.0)] == ["suspect"]
    assert [(e.time, e.to_state) for e in m.advance(7.5)] == [(7.5, "dead")]
    assert m.members == {"a"} and m.version == 1
    m._check()


def test_late_advance_suspects_from_the_call_time() -> None:
    m = make(members=["b"], missed_heartbeats=1, suspicion_timeout=2.0)
    assert [e.to_state for e in m.advance(5.0)] == ["suspect"]  # deadline was 1.0
    assert m.next_deadline() == 7.0  # the suspicion runs from the call that noticed it


def test_heartbeat_from_before_the_suspicion_does_not_clear_it() -> None:
    m = make(members=["b"], missed_heartbeats=1, suspicion_timeout=2.0)
    m.advance(1.0)
    assert m.heartbeat("b", 0.5) == []  # delivered late, sent before the suspicion
    assert m.state("b") == "suspect"
    assert m.last_heard("b") == 0.5
    m._check()


def test_advance_limited_to_some_peers() -> None:
    m = make(members=["b", "c", "d"], missed_heartbeats=1)
    m.heartbeat("d", 5.0)
    assert [e.peer for e in m.advance(2.0, peers=["c", "d", "x", "a"])] == ["c", "c"]
    assert m.members == {"a", "b", "d"}  # b is overdue too, but was not asked about
    assert [e.peer for e in m.advance(2.0)] == ["b", "b"]
    m._check()


def test_advance_orders_by_deadline_then_name() -> None:
    m = make(members=["b", "c", "d"], missed_heartbeats=1)
    m.heartbeat("b", 0.5)
    events = m.advance(2.0)
    assert [e.peer for e in events if e.to_state == "suspect"] == ["c", "d", "b"]


# -- incarnations -------------------------------------------------------------------------


def test_stale_incarnations_are_ignored() -> None:
    m = Membership("a", {"b": 5}, now=0.0, heartbeat_interval=1.0, missed_heartbeats=2)
    assert m.heartbeat("b", 1.5, incarnation=4) == []
    assert m.last_heard("b") == 0.0 and m.deadline_of("b") == 2.0
    assert m.left("b", 1.0, incarnation=4) == []
    assert m.confirm_dead("b", 1.0, incarnation=4) == []
    assert m.state("b") == "alive"
    # The same incarnation removes it; the same incarnation cannot bring it back.
    assert [e.to_state for e in m.confirm_dead("b", 1.0, incarnation=5)] == ["dead"]
    assert m.heartbeat("b", 1.5, incarnation=5) == []
    assert m.joined("b", 1.6, incarnation=5) == []
    assert m.left("b", 1.7, incarnation=5) == []  # first of dead and left stands
    assert m.state("b") == "dead"
    # A higher one does.
    assert [(e.from_state, e.to_state, e.incarnation) for e in m.heartbeat("b", 2.0, 6)] == [
        ("dead", "alive", 6)
    ]
    assert m.deadline_of("b") == 4.0
    m._check()


def test_newer_removal_of_a_removed_peer_is_bookkeeping_or_a_state_change() -> None:
    m = make(members=["b"])
    m.left("b", 1.0, 0)
    assert m.left("b", 2.0, 3) == []  # newer incarnation, same state: no event
    assert m.incarnation_of("b") == 3
    assert [(e.from_state, e.to_state) for e in m.confirm_dead("b", 3.0, 4)] == [("left", "dead")]
    assert m.joined("b", 4.0, 4) == []
    assert [e.to_state for e in m.joined("b", 4.0, 5)] == ["alive"]
    assert m.version == 2


def test_messages_about_strangers() -> None:
    m = make(members=[])
    assert [(e.from_state, e.to_state) for e in m.heartbeat("x", 1.0, 3)] == [("absent", "alive")]
    assert [(e.from_state, e.to_state) for e in m.confirm_dead("y", 1.0, 2)] == [
        ("absent", "dead")
    ]
    assert m.joined("y", 2.0, 2) == []  # remembered dead at 2
    assert [(e.from_state, e.to_state) for e in m.left("z", 1.0)] == [("absent", "left")]
    assert m.members == {"a", "x"}
    m._check()


def test_rumours_about_the_observer_are_refuted() -> None:
    m = make(incarnation=3)
    assert m.confirm_dead("a", 1.0, incarnation=2) == []  # older than ours
    assert [(e.peer, e.trigger, e.incarnation) for e in m.confirm_dead("a", 1.0, 3)] == [
        ("a", "refute", 4)
    ]
    assert [e.incarnation for e in m.left("a", 2.0, 7)] == [8]
    assert m.incarnation == 8 and "a" in m.members and m.version == 0
    assert m.heartbeat("a", 2.0, 9) == [] and m.joined("a", 2.0, 9) == []


def test_a_hung_peer_comes_back_by_refuting_its_removal() -> None:
    # b stops answering (a long GC pause, SIGSTOP) from 1.2 to 9.0; its last heartbeat
    # before the hang was 1.0, so a removes it at 1.0 + 3 = 4.0.
    a = Membership("a", ["b"], now=0.0, heartbeat_interval=1.0, missed_heartbeats=3)
    b = Membership("b", ["a"], now=0.0, heartbeat_interval=1.0, missed_heartbeats=3)
    a.heartbeat("b", 1.0, b.incarnation)
    assert [e.to_state for e in a.advance(4.0)] == ["suspect", "dead"]
    # b resumes with its queue intact and the same incarnation: a ignores it ...
    assert a.heartbeat("b", 9.0, b.incarnation) == []
    assert "b" not in a.members
    # ... and tells it so (a reply or gossip); b refutes, raising its incarnation ...
    assert [e.trigger for e in b.confirm_dead("b", 9.0, a.incarnation_of("b"))] == ["refute"]
    # ... and its next heartbeat brings it back.
    assert [(e.from_state, e.to_state) for e in a.heartbeat("b", 10.0, b.incarnation)] == [
        ("dead", "alive")
    ]
    assert a.members == {"a", "b"} and a.version == 2


def test_a_short_hang_within_the_suspicion_timeout_costs_nothing() -> None:
    a = Membership("a", ["b"], now=0.0, heartbeat_interval=1.0, missed_heartbeats=3,
                   suspicion_timeout=5.0)
    a.heartbeat("b", 1.0)
    assert [e.to_state for e in a.advance(4.0)] == ["suspect"]
    assert [e.to_state for e in a.heartbeat("b", 7.0)] == ["alive"]  # back before 4 + 5
    assert a.version == 0


# -- the observer leaving and rejoining ---------------------------------------------------


def test_leave_and_rejoin() -> None:
    seen: list[MembershipEvent] = []
    m = make(observer=seen.append)
    events = m.leave(1.0)
    assert [(e.peer, e.from_state, e.to_state, e.trigger, e.incarnation) for e in events] == [
        ("a", "alive", "left", "leave", 1)
    ]
    assert m.members == {"b", "c"} and m.version == 1 and "a" not in m
    assert m.leave(2.0) == []  # twice: nothing
    assert m.confirm_dead("a", 2.0, 5) == []  # a leaving server does not refute
    # It keeps tracking peers while it drains.
    assert [e.peer for e in m.advance(3.0) if e.to_state == "dead"] == ["b", "c"]
    assert [(e.to_state, e.incarnation) for e in m.rejoin(4.0)] == [("alive", 2)]
    assert m.rejoin(5.0) == []
    assert m.members == {"a"}
    assert [e.trigger for e in seen] == [
        "leave", "missed_heartbeats", "suspicion_timeout", "missed_heartbeats",
        "suspicion_timeout", "rejoin",
    ]
    m._check()


def test_a_peer_that_left_comes_back_with_its_join() -> None:
    m = make(members=["b"])
    assert [e.to_state for e in m.left("b", 1.0, incarnation=1)] == ["left"]
    assert m.heartbeat("b", 1.5, incarnation=1) == []  # still heartbeating while draining
    assert [e.to_state for e in m.joined("b", 5.0, incarnation=2)] == ["alive"]
    assert m.deadline_of("b") == 8.0
    assert m.version == 2


def test_snapshot_seeds_a_joining_server() -> None:
    m = Membership("a", {"b": 2, "c": 0}, now=0.0, heartbeat_interval=1.0, missed_heartbeats=3)
    m.left("c", 1.0)
    new = Membership("d", m.snapshot(), now=2.0, heartbeat_interval=1.0, missed_heartbeats=3)
    assert new.members == {"a", "b", "d"}
    assert new.incarnation_of("b") == 2 and new.deadline_of("a") == 5.0


# -- views, events, observer, repr --------------------------------------------------------


def test_version_counts_changes_of_the_view_only() -> None:
    m = make(members=["b"], missed_heartbeats=1, suspicion_timeout=1.0)
    assert m.version == 0
    m.advance(1.0)  # suspect: still a member
    assert m.version == 0
    m.advance(2.0)
    assert m.version == 1
    m.joined("b", 3.0, 1)
    assert m.version == 2


def test_observer_sees_every_returned_event() -> None:
    seen: list[MembershipEvent] = []
    m = make(observer=seen.append, missed_heartbeats=1)
    returned = m.advance(1.0) + m.joined("d", 2.0) + m.leave(3.0)
    assert returned == seen and len(seen) == 6


def test_repr_is_valid_python() -> None:
    m = Membership("a", {"b": 2, "c": 0}, now=1.5, heartbeat_interval=0.5,
                   missed_heartbeats=4, suspicion_timeout=2.0, incarnation=7)
    m.heartbeat("c", 3.0)
    copy = eval(repr(m), {"Membership": Membership})
    assert repr(copy) == repr(m)
    assert copy.snapshot() == m.snapshot() == {"b": 2, "c": 0, "a": 7}
    assert "now=3.0" in repr(m)


def test_parameters_are_read_only() -> None:
    m = make(heartbeat_interval=0.5, missed_heartbeats=4, suspicion_timeout=1.0)
    assert (m.heartbeat_interval, m.missed_heartbeats, m.suspicion_timeout) == (0.5, 4, 1.0)
    with pytest.raises(AttributeError):
        m.heartbeat_interval = 2.0  # type: ignore[misc]
    assert m.deadline_of("b") == 2.0


def test_next_deadline_is_the_earliest_peer_deadline() -> None:
    m = make(members=[f"p{i}" for i in range(20)])
    for step in range(1, 200):
        now = step * 0.1
        m.heartbeat(f"p{step % 20}", now)
        if step % 7 == 0:
            m.advance(now)
        expected = [m.deadline_of(f"p{i}") for i in range(20)]
        due = [d for d in expected if d is not None]
        assert m.next_deadline() == (min(due) if due else None)
        m._check()


def test_heap_stays_bounded_under_churn() -> None:
    m = make(members=["b"], missed_heartbeats=1, suspicion_timeout=100.0)
    for i in range(1000):
        m.advance(2.0 * i + 1.0)  # suspect (a long suspicion: its entry stays far ahead)
        m.heartbeat("b", 2.0 * i + 1.5)  # alive again, a new, earlier entry
    m._check()
    assert len(m._heap) <= 2 * len(m._peers) + 33


def test_diagram_and_docs() -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
    assert blocks == [membership_diagram()]
    for (state, trigger), target in MEMBERSHIP_TRANSITIONS.items():
        source = "[*]" if state == "absent" else state
        assert f"{source} --> {target}: {trigger}" in text


def test_transition_table_is_closed_and_exported() -> None:
    states = {s for s, _ in MEMBERSHIP_TRANSITIONS} | set(MEMBERSHIP_TRANSITIONS.values())
    assert states == {"absent", "alive", "suspect", "dead", "left"}
    for name in ["Membership", "MembershipEvent", "MEMBERSHIP_TRANSITIONS", "membership_diagram"]:
        assert name in consistent.__all__


# -- validation: every bad argument raises, names it, and changes nothing -----------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"now": float("nan")}, InvalidArgumentError, "now must be a finite real number"),
        ({"now": True}, InvalidTypeError, "got bool: True"),
        ({"now": "0"}, InvalidTypeError, "got str: '0'"),
        ({"heartbeat_interval": 0.0}, InvalidArgumentError, "heartbeat_interval .* got 0.0"),
        ({"heartbeat_interval": math.inf}, InvalidArgumentError, "got inf"),
        ({"missed_heartbeats": 0}, InvalidArgumentError, "missed_heartbeats .* got 0"),
        ({"missed_heartbeats": 2.0}, InvalidTypeError, "got float: 2.0"),
        ({"missed_heartbeats": True}, InvalidTypeError, "got bool"),
        ({"suspicion_timeout": -1.0}, InvalidArgumentError, "suspicion_timeout .* got -1.0"),
        ({"missed_heartbeats": 10**400}, InvalidArgumentError, "must be a finite time"),
        ({"heartbeat_interval": 1e300, "missed_heartbeats": 10**10}, InvalidArgumentError,
         r"must be a finite time, got 10000000000 \* 1e\+300"),
        ({"incarnation": -1}, InvalidArgumentError, "incarnation .* got -1"),
        ({"incarnation": 1.0}, InvalidTypeError, "got float: 1.0"),
        ({"observer": 3}, InvalidTypeError, "observer must be callable"),
        ({"members": "bc"}, InvalidTypeError, "the str 'bc'"),
        ({"members": ["b", "b"]}, DuplicateNodeError, "'b' is listed twice"),
        ({"members": ["b", ""]}, InvalidArgumentError, "non-empty str, got ''"),
        ({"members": [3]}, InvalidTypeError, "member name must be a non-empty str, got int: 3"),
        ({"members": {"b": -2}}, InvalidArgumentError, "incarnation of member 'b' .* got -2"),
        ({"members": 5}, InvalidTypeError, "got int: 5"),
    ],
)
def test_constructor_validation(kwargs, error, match) -> None:
    params = {"members": ["b"], "now": 0.0, "heartbeat_interval": 1.0, "missed_heartbeats": 3}
    params.update(kwargs)
    with pytest.raises(error, match=match):
        Membership("a", **params)


def test_self_name_validation() -> None:
    with pytest.raises(InvalidArgumentError, match="self_name"):
        Membership("", now=0, heartbeat_interval=1, missed_heartbeats=1)
    with pytest.raises(InvalidTypeError, match=r"self_name .* got int: 1"):
        Membership(1, now=0, heartbeat_interval=1, missed_heartbeats=1)  # type: ignore[arg-type]


def _state(m: Membership) -> tuple:
    return (repr(m), m.version, m.members, m.next_deadline(),
            [(p, m.state(p), m.incarnation_of(p), m.last_heard(p)) for p in "abcx"])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: m.heartbeat("b", math.nan), InvalidArgumentError, "at must be .* got nan"),
        (lambda m: m.heartbeat("b", False), InvalidTypeError, "at must be .* got bool"),
        (lambda m: m.heartbeat("", 1.0), InvalidArgumentError, "peer must be a non-empty str"),
        (lambda m: m.heartbeat(b"b", 1.0), InvalidTypeError, "got bytes: b'b'"),
        (lambda m: m.heartbeat("x", 1.0, -1), InvalidArgumentError, "incarnation .* got -1"),
        (lambda m: m.joined("x", math.inf), InvalidArgumentError, "now must be .* got inf"),
        (lambda m: m.joined("x", 1.0, "1"), InvalidTypeError, "got str: '1'"),
        (lambda m: m.left("b", None), InvalidTypeError, "got NoneType"),
        (lambda m: m.confirm_dead(None, 1.0), InvalidTypeError, "peer must be"),
        (lambda m: m.advance(-math.inf), InvalidArgumentError, "got -inf"),
        (lambda m: m.advance(9.0, peers="b"), InvalidTypeError, "peers must be .* got str"),
        (lambda m: m.advance(9.0, peers=5), InvalidTypeError, "peers must be .* got int: 5"),
        (lambda m: m.advance(9.0, peers=["b", 3]), InvalidTypeError, "got int: 3"),
        (lambda m: m.advance(9.0, peers=["c", ""]), InvalidArgumentError, "non-empty"),
        (lambda m: m.leave("now"), InvalidTypeError, "got str"),
        (lambda m: m.rejoin(math.nan), InvalidArgumentError, "got nan"),
        (lambda m: m.state(3), InvalidTypeError, "got int: 3"),
    ],
)
def test_a_failed_call_changes_nothing(call, error, match) -> None:
    m = make(missed_heartbeats=2, suspicion_timeout=1.0)
    m.heartbeat("b", 1.0)
    m.advance(2.5)
    before = _state(m)
    with pytest.raises(error, match=match):
        call(m)
    assert _state(m) == before
    m._check()


def test_errors_are_also_builtin_errors() -> None:
    m = make()
    with pytest.raises(ValueError):
        m.advance(math.nan)
    with pytest.raises(TypeError):
        m.advance("1")


# -- the analytic fast path ---------------------------------------------------------------

# A peer's life: up from its start to its end, heartbeating at phase + j*H with incarnation
# equal to its number of (re)starts; down in between. The simulator knows these schedules,
# so it need not deliver every heartbeat.


@st.composite
def scenarios(draw):
    interval = draw(st.sampled_from([1.0, 0.5, 0.3]))
    k = draw(st.integers(1, 4))
    suspicion = draw(st.sampled_from([0.0, 0.7, 2.0]))
    peers = {}
    for name in draw(st.lists(st.sampled_from("bcde"), min_size=1, max_size=4, unique=True)):
        phase = draw(st.floats(0.0, 0.999)) * interval
        cuts = sorted(draw(st.lists(st.floats(0.01, 20.0), max_size=5, unique=True)))
        lives = []
        starts = [0.0, *cuts[1::2]]
        ends = [*cuts[0::2]]
        for i, start in enumerate(starts):
            end = ends[i] if i < len(ends) else 25.0
            if end > start:
                lives.append((start, end, i))
        peers[name] = (phase, lives)
    advances = sorted(draw(st.lists(st.floats(0.05, 26.0), min_size=1, max_size=25,
                                    unique=True)))
    return interval, k, suspicion, peers, advances


def _heartbeats(interval, peers):
    out = []
    for name, (phase, lives) in peers.items():
        for start, end, incarnation in lives:
            out += beats(name, phase, start, end, interval, incarnation)
    return sorted(out)


def _observe(m: Membership, names) -> tuple:
    m._check()
    return (m.members, m.version, m.next_deadline(),
            [(p, m.state(p), m.incarnation_of(p), m.last_heard(p), m.deadline_of(p))
             for p in names])


def _key(e: MembershipEvent):
    return (e.time, e.peer)


def _run_full(interval, k, suspicion, peers, advances):
    """Every heartbeat delivered in time order; at equal times heartbeats first."""
    m = Membership("a", list(peers), now=0.0, heartbeat_interval=interval,
                   missed_heartbeats=k, suspicion_timeout=suspicion)
    hb = _heartbeats(interval, peers)
    i = 0
    steps = []
    for now in advances:
        heard = []
        while i < len(hb) and hb[i][0] <= now:
            at, name, incarnation = hb[i]
            heard += m.heartbeat(name, at, incarnation)
            i += 1
        steps.append((heard, m.advance(now), _observe(m, peers)))
    return steps


def _run_fast(interval, k, suspicion, peers, advances, first_and_last: bool):
    """Per peer and advance, only the last heartbeat at or before it (and, with
    ``first_and_last``, first the first heartbeat of each incarnation since the last call)."""
    m = Membership("a", list(peers), now=0.0, heartbeat_interval=interval,
                   missed_heartbeats=k, suspicion_timeout=suspicion)
    per_peer = {name: [h for h in _heartbeats(interval, {name: peers[name]})] for name in peers}
    steps = []
    previous = -math.inf
    for now in advances:
        heard = []
        for name in sorted(peers):
            window = [h for h in per_peer[name] if previous < h[0] <= now]
            if first_and_last:
                for incarnation in sorted({h[2] for h in window}):
                    first = next(h for h in window if h[2] == incarnation)
                    heard += m.heartbeat(name, first[0], incarnation)
            earlier = [h for h in per_peer[name] if h[0] <= now]
            if earlier:
                at, _, incarnation = earlier[-1]
                heard += m.heartbeat(name, at, incarnation)
        steps.append((heard, m.advance(now), _observe(m, peers)))
        previous = now
    return steps


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_fast_path_last_heartbeat_gives_the_same_decisions(scenario) -> None:
    full = _run_full(*scenario)
    fast = _run_fast(*scenario, first_and_last=False)
    for full_step, fast_step in zip(full, fast, strict=True):
        (heard_full, adv_full, obs_full), (heard_fast, adv_fast, obs_fast) = full_step, fast_step
        # Every decision of advance, and the whole state after it, are identical...
        assert adv_fast == adv_full
        assert obs_fast == obs_full
        # ... and heartbeats caused the same transitions, stamped at the last heartbeat
        # instead of the first (and carrying its incarnation, when the peer restarted
        # again in between).
        def strip(events):
            return sorted((e.peer, e.from_state, e.to_state, e.trigger) for e in events)
        assert strip(heard_fast) == strip(heard_full)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_fast_path_first_and_last_heartbeat_gives_identical_events(scenario) -> None:
    full = _run_full(*scenario)
    fast = _run_fast(*scenario, first_and_last=True)
    for full_step, fast_step in zip(full, fast, strict=True):
        (heard_full, adv_full, obs_full), (heard_fast, adv_fast, obs_fast) = full_step, fast_step
        assert sorted(heard_fast, key=_key) == sorted(heard_full, key=_key)
        assert adv_fast == adv_full
        assert obs_fast == obs_full


# -- the simulator's recipe ---------------------------------------------------------------
# A frozen, self-contained copy of the simulator's membership protocol as it was when
# Membership was written (sim/_membership.py: crash -> each observer removes the peer at
# L + k*H + spread; start -> seed view from a live peer, join announcements, notice the seed
# members that are down or leaving; leave -> gossip), run twice on the same fault schedule and
# the same random draws: once with the simulator's own rules (TODAY), once with one Membership
# per server deciding (OBJECT), fed as the report to the simulator engineer describes. The two
# must give every server the same sequence of views at the same times, to the bit.

_H, _K, _PROP, _JOIN = 1.0, 3, 0.5, 1.0


class _Srv:
    def __init__(self, i: int) -> None:
        self.i, self.name = i, f"s{i:03d}"
        self.up = self.member = self.leaving = False
        self.down_at = 0.0
        self.incarnation = 0  # the simulator's stop counter: makes older news stale
        self.view: frozenset[int] | None = None
        self.m: Membership | None = None
        self.obj_inc = -1  # the Membership incarnation of its last process


class _Cluster:
    def __init__(self, seed: int, n: int, extra: int, faults, use_object: bool,
                 feed_live_peers: bool = True) -> None:
        self.use_object = use_object
        self.feed_live_peers = feed_live_peers
        self.rng = random.Random(seed)
        phases = random.Random(seed + 1)
        self.phases = [phases.random() * _H for _ in range(n + extra)]
        self.servers = [_Srv(i) for i in range(n + extra)]
        self.index = {s.name: s.i for s in self.servers}
        self.heap: list = []
        self.seq, self.now, self.faults = 0, 0.0, faults
        self.history: dict[int, list] = {i: [] for i in range(n + extra)}
        initial = frozenset(range(n))
        for i in sorted(initial):
            s = self.servers[i]
            s.up = s.member = True
            if use_object:
                s.obj_inc = 0
                s.m = Membership(s.name, [self.servers[j].name for j in sorted(initial)],
                                 now=0.0, heartbeat_interval=_H, missed_heartbeats=_K)
                self.record(s)
            else:
                self.set_view(s, initial)

    def at(self, t: float, fn, *args) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, fn, args))

    def run(self, until: float) -> None:
        for t, kind, node in self.faults:
            self.at(t, getattr(self, kind), node)
        while self.heap and self.heap[0][0] <= until:
            self.now, _, fn, args = heapq.heappop(self.heap)
            fn(*args)

    def set_view(self, s: _Srv, members: frozenset[int]) -> None:
        if s.view != members:
            s.view = members
            self.history[s.i].append((self.now, tuple(sorted(members))))

    def record(self, s: _Srv) -> None:
        assert s.m is not None
        self.set_view(s, frozenset(self.index[n] for n in s.m.members))

    def last_heartbeat(self, i: int, before: float) -> float:
        phase = self.phases[i]
        if before < phase:
            return phase - _H
        return phase + _H * math.floor((before - phase) / _H)

    def spread(self) -> float:
        return self.rng.random() * _PROP

    # -- faults
    def crash(self, node: int) -> None:
        self.go_down(node, "crash")
        self.at(self.now + 0.2 + (node * 0.77) % 4.0, self.come_up, node)

    def decommission(self, node: int) -> None:
        s = self.servers[node]
        if s.up and not s.leaving:
            s.leaving = True
            self.leaving(node)
            self.at(self.now + 2.0, self.go_down, node, "decommission")

    def join(self, node: int) -> None:
        self.come_up(node)

    def go_down(self, node: int, kind: str) -> None:
        s = self.servers[node]
        if not s.up:
            return
        s.up, s.down_at = False, self.now
        s.incarnation += 1
        s.member = s.member and kind != "decommission"
        if self.use_object:
            assert s.m is not None
            s.obj_inc, s.m = s.m.incarnation, None
            if s.leaving:  # its heartbeats stop; peers not yet told keep the last one
                last = self.last_heartbeat(node, self.now)
                for w in self.servers:
                    if w.up and w.m is not None and s.name in w.m.members:
                        w.m.heartbeat(s.name, last, s.obj_inc)
        if not s.leaving:
            self.stopped(node)

    def come_up(self, node: int) -> None:
        s = self.servers[node]
        if not s.up:
            s.up = s.member = True
            s.leaving = False
            self.started(node)

    # -- the protocol
    def stopped(self, node: int) -> None:
        s = self.servers[node]
        last = self.last_heartbeat(node, self.now)
        for w in self.servers:
            if w.i == node or not w.member:
                continue
            spread = self.spread()
            at = max(last + _K * _H + spread, self.now)
            if not self.use_object:
                self.at(at, self.learn_removal, w.i, node, s.incarnation)
                continue
            # OBJECT: the observer hears the last heartbeat late by its gossip spread ...
            if w.up and w.m is not None and s.name in w.m.members:
                w.m.heartbeat(s.name, last + spread, s.obj_inc)
            # ... and its detector (or, failing that, the others' gossip) fires at L+k*H+spread.
            self.at(at, self.detect, w.i, node, s.incarnation, s.obj_inc)

    def learn_removal(self, w: int, node: int, incarnation: int) -> None:
        s, watcher = self.servers[node], self.servers[w]
        if s.incarnation != incarnation or s.up or not watcher.up:
            return
        assert watcher.view is not None
        if node in watcher.view:
            self.set_view(watcher, watcher.view - {node})

    def detect(self, w: int, node: int, incarnation: int, obj_inc: int) -> None:
        s, watcher = self.servers[node], self.servers[w]
        if s.incarnation != incarnation or s.up or not watcher.up:
            return
        if self.feed_live_peers:
            self.advance(w)
        else:  # large clusters: act on the detected peer only, O(log n)
            assert watcher.m is not None
            watcher.m.advance(self.now, peers=[s.name])
            self.record(watcher)
        assert watcher.m is not None
        if s.name in watcher.m.members:  # started after the others detected it: gossip
            watcher.m.confirm_dead(s.name, self.now, obj_inc)
            self.record(watcher)

    def advance(self, w: int) -> None:
        """The fast path: last heartbeats of the live peers in the view, then advance."""
        m = self.servers[w].m
        assert m is not None
        for name in sorted(m.members):
            p = self.servers[self.index[name]]
            if p.i != w and p.up:
                assert p.m is not None
                m.heartbeat(name, self.last_heartbeat(p.i, self.now), p.m.incarnation)
        m.advance(self.now)
        self.record(self.servers[w])

    def started(self, node: int) -> None:
        s, now = self.servers[node], self.now
        source = next((p for p in self.servers if p.up and p.i != node
                       and (p.view is not None or p.m is not None)), None)
        if self.use_object:
            seed = source.m.snapshot() if source is not None and source.m else {}
            s.m = Membership(s.name, seed, now=now, heartbeat_interval=_H,
                             missed_heartbeats=_K, incarnation=s.obj_inc + 1)
            self.record(s)
        else:
            self.set_view(s, (source.view or frozenset()) | {node} if source else
                          frozenset({node}))
        for p in self.servers:
            if p.i != node and p.member:
                self.at(now + _JOIN + self.spread(), self.learn_join, p.i, node, s.incarnation)
        assert s.view is not None
        for member in sorted(s.view):
            p = self.servers[member]
            if member == node:
                continue
            if not p.up:
                last = self.last_heartbeat(member, p.down_at)
                spread = self.spread()
                at = max(last + _K * _H + spread, now + _H * _K)
                if self.use_object:
                    assert s.m is not None
                    s.m.heartbeat(p.name, last + spread, p.obj_inc)
                    self.at(at, self.detect, node, member, p.incarnation, p.obj_inc)
                else:
                    self.at(at, self.learn_removal, node, member, p.incarnation)
            elif p.leaving:
                self.at(now + self.spread(), self.learn_leave, node, member)
        for p in self.servers:
            if p.up and not p.leaving and p.i not in s.view:
                self.at(now + self.spread(), self.learn_join, node, p.i, p.incarnation)

    def learn_join(self, w: int, node: int, incarnation: int) -> None:
        s, watcher = self.servers[node], self.servers[w]
        if s.incarnation != incarnation or not s.up or s.leaving or not watcher.up:
            return
        if self.use_object:
            assert watcher.m is not None and s.m is not None
            watcher.m.joined(s.name, self.now, s.m.incarnation)
            self.record(watcher)
        elif watcher.view is not None and node not in watcher.view:
            self.set_view(watcher, watcher.view | {node})

    def leaving(self, node: int) -> None:
        s = self.servers[node]
        if self.use_object:
            assert s.m is not None
            s.m.leave(self.now)
            self.record(s)
        else:
            assert s.view is not None
            self.set_view(s, s.view - {node})
        for p in self.servers:
            if p.i != node and p.member:
                self.at(self.now + self.spread(), self.learn_leave, p.i, node)

    def learn_leave(self, w: int, node: int) -> None:
        watcher, s = self.servers[w], self.servers[node]
        if not watcher.up:
            return
        if self.use_object:
            assert watcher.m is not None
            watcher.m.left(s.name, self.now, s.m.incarnation if s.m else s.obj_inc)
            self.record(watcher)
        elif watcher.view is not None and node in watcher.view:
            self.set_view(watcher, watcher.view - {node})


def _faults(seed: int, n: int, extra: int) -> list:
    rng = random.Random(seed * 7 + 3)
    faults = [(rng.uniform(1, 40), "crash", rng.randrange(n)) for _ in range(rng.randint(1, 6))]
    faults += [(rng.uniform(1, 40), "join", n + j) for j in range(extra)]
    if rng.random() < 0.5:
        faults.append((rng.uniform(1, 40), "decommission", rng.randrange(n)))
    return sorted(faults)


@pytest.mark.parametrize("feed_live_peers", [True, False])
@pytest.mark.parametrize("block", range(4))
def test_simulator_recipe_reproduces_todays_views(block: int, feed_live_peers: bool) -> None:
    changes = 0
    for seed in range(block * 50, block * 50 + 50):
        faults = _faults(seed, 6, 2)
        today = _Cluster(seed, 6, 2, faults, use_object=False)
        today.run(60.0)
        driven = _Cluster(seed, 6, 2, faults, use_object=True, feed_live_peers=feed_live_peers)
        driven.run(60.0)
        assert driven.history == today.history, (seed, faults)
        changes += sum(len(h) for h in today.history.values())
    assert changes > 50 * 8  # every run changes views (the test compares something)
