"""Stateful test of Membership against a naive model that replays the whole message log.

The model keeps nothing between steps but the log of calls. After every step it recomputes,
from the first call, each peer's state, incarnation, last-heard time and deadline, the view,
its version and the full list of events, with the rules of ``docs/membership.md`` written
out as plainly as possible (a dict per peer; every ``advance`` scans every peer). The
invariant compares all of it with the real object, whose deadlines live in a lazy heap, and
calls ``Membership._check()``.

Rules deliver heartbeats (some late, some about stale, current or newer incarnations),
announcements, gossiped removals, rumours about the observer itself, leaves and rejoins, and
let time pass: by arbitrary steps, exactly to ``next_deadline()``, and now and then
backwards.

Also a seeded stress test: ``python tests/test_membership_stateful.py --seed N --steps M``
runs M random calls on 30 peers, applying each to the model as it goes, and compares after
every call.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from consistent import MEMBERSHIP_TRANSITIONS, Membership, MembershipEvent

SELF = "a"
PEERS = ["b", "c", "d", "e"]
NAMES = [SELF, *PEERS]

Event = tuple[float, str, str, str, str, int]
IN_VIEW = ("alive", "suspect")


@dataclass
class Params:
    start: float
    interval: float
    k: int
    suspicion: float
    incarnation: int
    members: dict[str, int]


@dataclass
class NaivePeer:
    state: str
    incarnation: int
    heard: float
    since: float


@dataclass
class Replayed:
    """Everything the model derives from the log."""

    peers: dict[str, NaivePeer] = field(default_factory=dict)
    self_state: str = "alive"
    self_incarnation: int = 0
    version: int = 0
    events: list[Event] = field(default_factory=list)

    def members(self) -> frozenset[str]:
        names = {n for n, p in self.peers.items() if p.state in IN_VIEW}
        if self.self_state == "alive":
            names.add(SELF)
        return frozenset(names)


def due(p: NaivePeer, params: Params) -> float | None:
    if p.state == "alive":
        return p.heard + params.k * params.interval
    if p.state == "suspect":
        return p.since + params.suspicion
    return None


def replay(params: Params, log: list[tuple]) -> Replayed:
    """Recompute everything from the constructor's arguments and the log of calls."""
    r = Replayed(self_incarnation=params.incarnation)
    for name, incarnation in params.members.items():
        if name != SELF:
            r.peers[name] = NaivePeer("alive", incarnation, params.start, params.start)
    for call in log:
        apply(r, params, call)
    return r


def apply(r: Replayed, params: Params, call: tuple) -> None:
    kind = call[0]

    def move(name: str, p: NaivePeer, to: str, trigger: str, t: float) -> None:
        r.events.append((t, name, p.state, to, trigger, p.incarnation))
        if (p.state in IN_VIEW) != (to in IN_VIEW):
            r.version += 1  # one per event that adds or removes a member
        p.state, p.since = to, t

    if kind in ("heartbeat", "joined"):
        _, name, t, inc = call
        if name == SELF:
            return
        p = r.peers.get(name)
        if p is None:
            r.peers[name] = NaivePeer("alive", inc, t, t)
            r.events.append((t, name, "absent", "alive", kind, inc))
            r.version += 1
        elif p.state == "alive":
            if inc >= p.incarnation:
                p.incarnation, p.heard = inc, max(p.heard, t)
        elif p.state == "suspect":
            if inc > p.incarnation or (inc == p.incarnation and t >= p.since):
                p.incarnation, p.heard = inc, max(p.heard, t)
                move(name, p, "alive", kind, t)
            elif inc == p.incarnation:
                p.heard = max(p.heard, t)
        elif inc > p.incarnation:  # dead or left
            p.incarnation, p.heard = inc, max(p.heard, t)
            move(name, p, "alive", kind, t)
    elif kind in ("left", "confirm_dead"):
        _, name, t, inc = call
        target = "left" if kind == "left" else "dead"
        if name == SELF:
            if r.self_state == "alive" and inc >= r.self_incarnation:
                r.self_incarnation = inc + 1
                r.events.append((t, SELF, "alive", "alive", "refute", r.self_incarnation))
            return
        p = r.peers.get(name)
        if p is None:
            r.peers[name] = NaivePeer(target, inc, t, t)
            r.events.append((t, name, "absent", target, kind, inc))
        elif p.state in ("alive", "suspect"):
            if inc >= p.incarnation:
                p.incarnation = inc
                move(name, p, target, kind, t)
        elif inc > p.incarnation:
            p.incarnation = inc
            if p.state != target:
                move(name, p, target, kind, t)
    elif kind == "advance":
        now = call[1]
        only = call[2] if len(call) > 2 else None
        fired = sorted(
            (d, name) for name, p in r.peers.items()
            if (only is None or name in only) and (d := due(p, params)) is not None
            and d <= now
        )
        for _, name in fired:
            p = r.peers[name]
            if p.state == "alive":
                move(name, p, "suspect", "missed_heartbeats", now)
            if p.state == "suspect" and p.since + params.suspicion <= now:
                move(name, p, "dead", "suspicion_timeout", now)
    elif kind in ("leave", "rejoin"):
        now = call[1]
        source, target = ("alive", "left") if kind == "leave" else ("left", "alive")
        if r.self_state == source:
            r.self_incarnation += 1
            r.self_state = target
            r.events.append((now, SELF, source, target, kind, r.self_incarnation))
            r.version += 1
    else:  # pragma: no cover
        raise AssertionError(call)


def as_tuple(e: MembershipEvent) -> Event:
    return (e.time, e.peer, e.from_state, e.to_state, e.trigger, e.incarnation)


class MembershipMachine(RuleBasedStateMachine):
    """Drive a Membership and the replaying model side by side."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple] = []
        self.returned: list[Event] = []
        self.observed: list[Event] = []

    @initialize(
        start=st.sampled_from([0.0, 1.0, 100.25]),
        interval=st.sampled_from([0.5, 1.0, 0.3]),
        k=st.integers(1, 3),
        suspicion=st.sampled_from([0.0, 0.75, 2.0]),
        incarnation=st.integers(0, 2),
        members=st.dictionaries(st.sampled_from(NAMES), st.integers(0, 3), max_size=5),
    )
    def setup(self, start, interval, k, suspicion, incarnation, members) -> None:
        self.params = Params(start, interval, k, suspicion, incarnation, members)
        self.clock = start
        self.m = Membership(
            SELF, members, now=start, heartbeat_interval=interval, missed_heartbeats=k,
            suspicion_timeout=suspicion, incarnation=incarnation,
            observer=lambda e: self.observed.append(as_tuple(e)),
        )

    def _known(self, name: str) -> int:
        known = self.m.incarnation_of(name)
        return 0 if known is None else known

    def _do(self, call: tuple) -> None:
        kind, *args = call
        events = getattr(self.m, kind)(*args)
        self.log.append(call)
        self.returned += [as_tuple(e) for e in events]

    @rule(
        name=st.sampled_from(NAMES),
        lag=st.sampled_from([0.0, 0.0, 0.0, 0.2, 1.5]),
        delta=st.sampled_from([0, 0, 0, 1, -1, 2]),
    )
    def heartbeat(self, name, lag, delta) -> None:
        self._do(("heartbeat", name, self.clock - lag, max(0, self._known(name) + delta)))

    @rule(
        kind=st.sampled_from(["joined", "left", "confirm_dead"]),
        name=st.sampled_from(NAMES),
        delta=st.sampled_from([0, 1, -1, 2]),
    )
    def message(self, kind, name, delta) -> None:
        self._do((kind, name, self.clock, max(0, self._known(name) + delta)))

    @rule(dt=st.sampled_from([0.0, 0.1, 0.5, 0.75, 1.0, 2.5]))
    def pass_time(self, dt) -> None:
        self.clock += dt

    @rule(dt=st.sampled_from([0.0, 0.25, 1.0, 3.0]))
    def advance(self, dt) -> None:
        self.clock += dt
        self._do(("advance", self.clock))

    @rule(dt=st.sampled_from([0.0, 1.0, 3.0]),
          only=st.lists(st.sampled_from([*NAMES, "zz"]), max_size=3))
    def advance_some_peers(self, dt, only) -> None:
        self.clock += dt
        self._do(("advance", self.clock, tuple(only)))

    @rule()
    def advance_to_next_deadline(self) -> None:
        deadline = self.m.next_deadline()
        if deadline is not None:
            self.clock = max(self.clock, deadline)
        self._do(("advance", self.clock))

    @rule(back=st.sampled_from([0.5, 5.0]))
    def advance_backwards(self, back) -> None:
        self._do(("advance", self.clock - back))

    @rule(kind=st.sampled_from(["leave", "rejoin"]))
    def self_change(self, kind) -> None:
        self._do((kind, self.clock))

    @invariant()
    def agrees_with_the_replayed_log(self) -> None:
        m = self.m
        m._check()
        model = replay(self.params, self.log)
        assert self.returned == model.events
        assert self.observed == model.events
        assert m.members == model.members()
        assert m.version == model.version
        assert m.incarnation == model.self_incarnation
        assert m.state(SELF) == model.self_state
        deadlines = []
        for name in PEERS:
            p = model.peers.get(name)
            if p is None:
                assert m.state(name) == "absent"
                assert m.incarnation_of(name) is None and m.last_heard(name) is None
                continue
            assert (m.state(name), m.incarnation_of(name), m.last_heard(name)) == (
                p.state, p.incarnation, p.heard,
            ), name
            d = due(p, self.params)
            assert m.deadline_of(name) == d, name
            if d is not None:
                deadlines.append(d)
        assert m.next_deadline() == (min(deadlines) if deadlines else None)
        # The repr builds the same view of peers with the same settings (a constructor
        # cannot say that the observer has left, nor carry removed peers or timings).
        copy = eval(repr(m), {"Membership": Membership})
        peers = {n: i for n, i in m.snapshot().items() if n != SELF}
        assert {n: i for n, i in copy.snapshot().items() if n != SELF} == peers
        assert (copy.heartbeat_interval, copy.missed_heartbeats, copy.suspicion_timeout,
                copy.incarnation) == (m.heartbeat_interval, m.missed_heartbeats,
                                      m.suspicion_timeout, m.incarnation)
        assert m.snapshot() == {
            **{n: p.incarnation for n, p in model.peers.items()
               if p.state in ("alive", "suspect")},
            **({SELF: model.self_incarnation} if model.self_state == "alive" else {}),
        }


MembershipMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None
)
TestMembershipStateful = MembershipMachine.TestCase


def stress(seed: int, steps: int) -> set[tuple[str, str, str]]:
    """Random calls on many peers against the model, applied incrementally, compared always.

    Returns every ``(from_state, trigger, to_state)`` that happened (absent drawn as such).
    """
    rng = random.Random(seed)
    names = [SELF] + [f"p{i:02d}" for i in range(30)]
    params = Params(0.0, rng.choice([0.5, 1.0]), rng.randint(1, 3), rng.choice([0.0, 1.0]),
                    0, {n: 0 for n in rng.sample(names, 20)})
    m = Membership(SELF, params.members, now=0.0, heartbeat_interval=params.interval,
                   missed_heartbeats=params.k, suspicion_timeout=params.suspicion)
    model = replay(params, [])
    clock = 0.0
    for _ in range(steps):
        name = rng.choice(names)
        known = m.incarnation_of(name) or 0
        incarnation = max(0, known + rng.choice([0, 0, 0, 0, 1, -1]))
        op = rng.random()
        if op < 0.55:
            call: tuple = ("heartbeat", name, clock - rng.choice([0.0, 0.0, 0.3]), incarnation)
        elif op < 0.65:
            call = (rng.choice(["joined", "left", "confirm_dead"]), name, clock, incarnation)
        elif op < 0.95:
            clock += rng.choice([0.05, 0.2, 1.0])
            deadline = m.next_deadline()
            if deadline is not None and rng.random() < 0.3:
                clock = max(clock, deadline)
            call = ("advance", clock)
        else:
            call = (rng.choice(["leave", "rejoin"]), clock)
        kind, *args = call
        events = [as_tuple(e) for e in getattr(m, kind)(*args)]
        before = len(model.events)
        apply(model, params, call)
        assert events == model.events[before:], call
        assert m.members == model.members() and m.version == model.version
        dues = [d for p in model.peers.values() if (d := due(p, params)) is not None]
        assert m.next_deadline() == (min(dues) if dues else None)
    m._check()
    for name, p in model.peers.items():
        assert (m.state(name), m.incarnation_of(name), m.last_heard(name)) == (
            p.state, p.incarnation, p.heard)
    return {(e[2], e[4], e[3]) for e in model.events}


def test_stress_script_runs_a_short_seeded_session() -> None:
    stress(seed=1, steps=500)


def test_every_transition_of_the_table_is_reached() -> None:
    seen = stress(seed=5, steps=10_000) | stress(seed=6, steps=10_000)
    assert seen == {(s, trigger, t) for (s, trigger), t in MEMBERSHIP_TRANSITIONS.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    stress(args.seed, args.steps)
    print(f"ok: seed={args.seed} steps={args.steps}")
