"""Membership: detection times by hand, suspicion, incarnations, leave/join, validation.

The fast-path property at the end is what lets the simulator skip heartbeats: feeding only
each peer's last heartbeat before every ``advance`` gives the same view and decisions as
feeding every heartbeat.
"""

from __future__ import annotations

import math
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
