"""HashRing driven by random add/remove/reweight/lookup sequences beside a naive model.

Also runnable as a seeded stress script (sortedcontainers' habit):
    python tests/test_ring_stateful.py --seed 7 --steps 2000
"""

from __future__ import annotations

import argparse
import random

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from reference_ring import ReferenceRing

from consistent import (
    DuplicateNodeError,
    EmptyRingError,
    HashRing,
    KeyHasher,
    UnknownNodeError,
    XXH3Hasher,
)

NAMES = [f"n{i}" for i in range(8)]
WEIGHTS = [0.25, 0.5, 1, 1.5, 3]
PROBE_KEYS = [f"k{i}" for i in range(40)] + list(range(20)) + [b"\x00", b"zz"]


class NarrowHasher(KeyHasher):
    """12-bit positions: point collisions happen in most runs."""

    family = "narrow"

    def hash_bytes(self, data: bytes) -> int:
        return XXH3Hasher().hash_bytes(data) & 0xFFF

    def __repr__(self) -> str:
        return "NarrowHasher()"


class RingMachine(RuleBasedStateMachine):
    hasher: KeyHasher = XXH3Hasher()

    def __init__(self) -> None:
        super().__init__()
        self.ring = HashRing(vnodes=6, hash=self.hasher)
        self.model = ReferenceRing(6, self.hasher)

    @rule(name=st.sampled_from(NAMES), weight=st.sampled_from(WEIGHTS))
    def add(self, name: str, weight: float) -> None:
        if name in self.model.weights:
            with pytest.raises(DuplicateNodeError):
                self.ring.add(name, weight)
        else:
            self.ring.add(name, weight)
            self.model.weights[name] = float(weight)

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name: str) -> None:
        if name in self.model.weights:
            self.ring.remove(name)
            del self.model.weights[name]
        else:
            with pytest.raises(UnknownNodeError):
                self.ring.remove(name)

    @rule(name=st.sampled_from(NAMES), weight=st.sampled_from(WEIGHTS))
    def reweight(self, name: str, weight: float) -> None:
        if name in self.model.weights:
            self.ring.set_weight(name, weight)
            self.model.weights[name] = float(weight)
        else:
            with pytest.raises(UnknownNodeError):
                self.ring.set_weight(name, weight)

    @rule(weight=st.sampled_from([-1, 0, float("nan")]), name=st.sampled_from(NAMES))
    def bad_weight_changes_nothing(self, weight: float, name: str) -> None:
        with pytest.raises(ValueError):
            self.ring.add(name + "x", weight)

    @precondition(lambda self: self.model.weights)
    @rule(key=st.sampled_from(PROBE_KEYS), n=st.integers(1, 8))
    def preference_list(self, key: object, n: int) -> None:
        n = min(n, len(self.model.weights))
        assert self.ring.nodes_for(key, n) == self.model.preference(key)[:n]

    @invariant()
    def agrees_with_model(self) -> None:
        self.ring._check()
        assert set(self.ring.nodes) == set(self.model.weights)
        if not self.model.weights:
            with pytest.raises(EmptyRingError):
                self.ring.node_for("k")
            return
        homes = [self.model.node_for(k) for k in PROBE_KEYS]
        assert [self.ring.node_for(k) for k in PROBE_KEYS] == homes
        assert self.ring.lookup_many(PROBE_KEYS).tolist() == homes
        space = 2**64
        assert self.ring.owned_arcs() == self.model.owned(space)


class NarrowRingMachine(RingMachine):
    hasher = NarrowHasher()


TestRing = RingMachine.TestCase
TestRing.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestRingWithCollisions = NarrowRingMachine.TestCase
TestRingWithCollisions.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def stress(seed: int, steps: int) -> None:
    """Random operations on a big ring against the model, checking invariants as it goes."""
    rng = random.Random(seed)
    ring, model = HashRing(vnodes=20), ReferenceRing(20)
    names = [f"node-{i}" for i in range(40)]
    for step in range(steps):
        name = rng.choice(names)
        op = rng.random()
        if name not in model.weights and op < 0.6:
            w = rng.choice(WEIGHTS)
            ring.add(name, w)
            model.weights[name] = float(w)
        elif name in model.weights and op < 0.4:
            ring.remove(name)
            del model.weights[name]
        elif name in model.weights:
            w = rng.choice(WEIGHTS)
            ring.set_weight(name, w)
            model.weights[name] = float(w)
        if step % 50 == 0:
            ring._check()
            if model.weights:
                key = rng.getrandbits(64)
                assert ring.node_for(key) == model.node_for(key)


def test_stress_script_runs_a_short_seeded_session() -> None:
    stress(seed=1, steps=200)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    stress(args.seed, args.steps)
    print(f"ok: seed={args.seed} steps={args.steps}")
