"""BoundedLoadRing against a naive model: assign / release / add / remove in any order."""

from __future__ import annotations

import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from consistent import (
    BoundedLoadRing,
    DuplicateNodeError,
    EmptyRingError,
    HashRing,
    UnknownNodeError,
)

NODE_NAMES = [f"n{i}" for i in range(6)]
KEYS = st.one_of(st.integers(0, 15), st.sampled_from(["a", "b", "hot", b"hot"]))
VNODES = 3  # few points: the plain ring is unbalanced, so capacities really bind


class Model:
    """The obvious implementation: scan the ring's full preference list, count by hand."""

    def __init__(self, eps: float) -> None:
        self.eps = eps
        self.members: list[str] = []
        self.loads: dict[str, int] = {}
        self.watermark: dict[str, int] = {}
        # (sequence, key hash, key, node) for every outstanding assignment
        self.items: list[tuple[int, int, object, str]] = []
        self.seq = 0
        self.hasher = HashRing().hasher

    def capacity(self, items: int) -> int:
        return math.ceil((1.0 + self.eps) * items / len(self.members))

    def place(self, key: object, items: int) -> str:
        ring = HashRing(self.members, vnodes=VNODES)
        limit = self.capacity(items)
        for node in ring.nodes_for(key, len(self.members)):  # type: ignore[arg-type]
            if self.loads[node] < limit:
                self.watermark[node] = limit
                return node
        raise AssertionError("no node has room")

    def assign(self, key: object) -> str:
        node = self.place(key, len(self.items) + 1)
        self.loads[node] += 1
        self.items.append((self.seq, self.hasher.hash_key(key), key, node))  # type: ignore[arg-type]
        self.seq += 1
        return node

    def release(self, key: object) -> str:
        h = self.hasher.hash_key(key)  # type: ignore[arg-type]
        index = next(i for i, item in enumerate(self.items) if item[1] == h)
        node = self.items.pop(index)[3]
        self.loads[node] -= 1
        return node

    def held(self, key: object) -> bool:
        h = self.hasher.hash_key(key)  # type: ignore[arg-type]
        return any(item[1] == h for item in self.items)

    def remove(self, node: str) -> None:
        self.members.remove(node)
        del self.loads[node]
        del self.watermark[node]
        for i, (seq, h, key, holder) in enumerate(self.items):
            if holder == node:
                target = self.place(key, len(self.items))
                self.loads[target] += 1
                self.items[i] = (seq, h, key, target)


class BoundedLoadMachine(RuleBasedStateMachine):
    ring: BoundedLoadRing
    model: Model

    @initialize(
        eps=st.sampled_from([0.1, 0.25, 1.0]),
        members=st.lists(st.sampled_from(NODE_NAMES), min_size=1, max_size=4, unique=True),
    )
    def start(self, eps: float, members: list[str]) -> None:
        self.ring = BoundedLoadRing(members, eps=eps, vnodes=VNODES)
        self.model = Model(eps)
        for name in members:
            self.model.members.append(name)
            self.model.loads[name] = 0
            self.model.watermark[name] = 0

    @rule(key=KEYS)
    def assign(self, key: object) -> None:
        if not self.model.members:
            with pytest.raises(EmptyRingError):
                self.ring.assign(key)  # type: ignore[arg-type]
            return
        predicted = self.ring.node_for(key)  # type: ignore[arg-type]
        node = self.ring.assign(key)  # type: ignore[arg-type]
        assert node == predicted == self.model.assign(key)
        # The node that took the item is within the capacity of this placement.
        assert self.ring.load(node) <= self.model.capacity(len(self.model.items))

    @rule(key=KEYS)
    def release(self, key: object) -> None:
        if not self.model.held(key):
            before = self.ring.loads()
            with pytest.raises(KeyError):
                self.ring.release(key)  # type: ignore[arg-type]
            assert self.ring.loads() == before
            return
        assert self.ring.release(key) == self.model.release(key)  # type: ignore[arg-type]

    @rule(node=st.sampled_from(NODE_NAMES))
    def add(self, node: str) -> None:
        if node in self.model.members:
            with pytest.raises(DuplicateNodeError):
                self.ring.add(node)
            return
        self.ring.add(node)
        self.model.members.append(node)
        self.model.loads[node] = 0
        self.model.watermark[node] = 0

    @rule(node=st.sampled_from(NODE_NAMES))
    def remove(self, node: str) -> None:
        if node not in self.model.members:
            with pytest.raises(UnknownNodeError):
                self.ring.remove(node)
            return
        if len(self.model.members) == 1 and self.model.items:
            with pytest.raises(ValueError, match="cannot remove the last node"):
                self.ring.remove(node)
            return
        self.ring.remove(node)
        self.model.remove(node)

    @precondition(lambda self: bool(self.model.members))
    @rule(key=KEYS, n=st.integers(1, 6))
    def preference(self, key: object, n: int) -> None:
        n = min(n, len(self.model.members))
        pref = self.ring.nodes_for(key, n)  # type: ignore[arg-type]
        assert pref[0] == self.ring.node_for(key)  # type: ignore[arg-type]
        assert len(set(pref)) == n

    @invariant()
    def agrees_with_model(self) -> None:
        assert list(self.ring.nodes) == self.model.members
        assert self.ring.loads() == self.model.loads
        assert self.ring.assigned == len(self.model.items)

    @invariant()
    def capacity_invariant(self) -> None:
        # Every node holds at most the capacity in force when it last received an item;
        # with nothing released since, that is at most the current capacity.
        for node, load in self.ring.loads().items():
            assert load <= self.model.watermark[node]
        self.ring._check()


BoundedLoadMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None
)
TestBoundedLoadMachine = BoundedLoadMachine.TestCase
