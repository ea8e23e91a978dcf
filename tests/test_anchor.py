"""AnchorHash against a naive model of the paper's working-set snapshots, and its properties.

The model keeps, for every removed bucket ``b``, a copy of the working array ``W_b`` as it
was just after ``b`` left (the paper's Algorithm 2, before its memory optimisation), and
looks keys up by indexing those copies directly; the implementation reaches the same
buckets through ``A`` and ``K`` without any copy (Algorithm 3).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consistent import (
    DuplicateNodeError,
    InvalidArgumentError,
    LimitExceededError,
    UnknownNodeError,
    XXH3Hasher,
)
from consistent._anchor import AnchorHash, anchor_bucket

VECTORS = Path(__file__).parent / "vectors" / "anchor.json"
KEYS = np.random.default_rng(3).integers(0, 2**64, 2_000, dtype=np.uint64)
HASHER = XXH3Hasher()
KEY_HASHES = [HASHER.hash_key(k) for k in KEYS.tolist()]


class NaiveAnchor:
    """AnchorHash with an explicit snapshot of the working array per removed bucket."""

    def __init__(self, capacity: int, nodes: list[str]) -> None:
        self.capacity = capacity
        self.node_at: list[str | None] = [*nodes, *([None] * (capacity - len(nodes)))]
        self.working = list(range(capacity))
        self.removed: list[tuple[int, int, list[int]]] = []  # (bucket, position, W_b)
        for bucket in range(capacity - 1, len(nodes) - 1, -1):
            self._remove_bucket(bucket)

    def _remove_bucket(self, bucket: int) -> None:
        position = self.working.index(bucket)
        self.working[position] = self.working[-1]
        self.working.pop()
        self.removed.append((bucket, position, list(self.working)))

    def remove(self, node: str) -> None:
        bucket = self.node_at.index(node)
        self.node_at[bucket] = None
        self._remove_bucket(bucket)

    def add(self, node: str) -> None:
        bucket, position, _ = self.removed.pop()
        moved = self.working[position] if position < len(self.working) else None
        if moved is None:
            self.working.append(bucket)
        else:
            self.working[position] = bucket
            self.working.append(moved)
        self.node_at[bucket] = node

    def lookup(self, key_hash: int) -> str:
        snapshots = {bucket: w for bucket, _, w in self.removed}
        bucket = key_hash % self.capacity
        while bucket in snapshots:
            w_b = snapshots[bucket]
            draw = xxhash.xxh3_64_intdigest(key_hash.to_bytes(8, "little"), bucket)
            bucket = w_b[draw % len(w_b)]
        node = self.node_at[bucket]
        assert node is not None
        return node


class AnchorMachine(RuleBasedStateMachine):
    """Random joins and removals on a small anchor, checked against the snapshot model."""

    CAPACITY = 12

    def __init__(self) -> None:
        super().__init__()
        self.ring = AnchorHash(["n0", "n1", "n2"], capacity=self.CAPACITY)
        self.model = NaiveAnchor(self.CAPACITY, ["n0", "n1", "n2"])
        self.counter = 3

    def homes(self) -> list[str]:
        return [self.model.lookup(h) for h in KEY_HASHES]

    @precondition(lambda self: len(self.ring) < AnchorMachine.CAPACITY)
    @rule()
    def add(self) -> None:
        before = self.homes() if len(self.ring) else None
        node = f"n{self.counter}"
        self.counter += 1
        self.ring.add(node)
        self.model.add(node)
        if before is not None:
            assert all(a == b or b == node for a, b in zip(before, self.homes(), strict=True))

    @precondition(lambda self: len(self.ring) > 1)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        node = data.draw(st.sampled_from(sorted(self.ring.nodes)))
        before = self.homes()
        first, second = self.ring.nodes_for(int(KEYS[0]), 2)
        self.ring.remove(node)
        self.model.remove(node)
        after = self.homes()
        assert all(a == b for a, b in zip(before, after, strict=True) if a != node)
        if first == node:  # the preference list predicted where the key went
            assert self.ring.node_for(int(KEYS[0])) == second

    @precondition(lambda self: len(self.ring) == AnchorMachine.CAPACITY)
    @rule()
    def full_anchor_refuses(self) -> None:
        with pytest.raises(LimitExceededError):
            self.ring.add("overflow")

    @invariant()
    def agrees_with_the_model(self) -> None:
        self.ring._check()
        homes = self.homes()
        assert self.ring.lookup_many(KEYS).tolist() == homes
        assert self.ring.node_for(int(KEYS[1])) == homes[1]
        assert eval(repr(self.ring), {"AnchorHash": AnchorHash}) == self.ring


TestAnchorMachine = AnchorMachine.TestCase
TestAnchorMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


@given(st.integers(0, 2**64 - 1))
@settings(max_examples=200, deadline=None)
def test_scalar_equals_batch_after_removals(key: int) -> None:
    ring = AnchorHash([f"n{i}" for i in range(20)], capacity=64)
    for node in ("n3", "n17", "n0", "n9"):
        ring.remove(node)
    assert ring.lookup_many([key]).tolist() == [ring.node_for(key)]


def test_removal_spreads_the_keys_evenly() -> None:
    sample = np.random.default_rng(8).integers(0, 2**64, 120_000, dtype=np.uint64)
    ring = AnchorHash([f"n{i}" for i in range(30)], capacity=100)
    for node in ("n5", "n6", "n7", "n20"):
        ring.remove(node)
    counts = np.bincount(ring.lookup_codes(sample), minlength=len(ring))
    expected = sample.size / len(ring)
    assert (np.abs(counts - expected) <= 5 * np.sqrt(expected)).all()


def test_remove_then_add_restores_the_placement() -> None:
    ring = AnchorHash(["a", "b", "c", "d"], capacity=8)
    before = ring.lookup_many(KEYS).tolist()
    ring.remove("b")
    ring.add("e")  # takes b's bucket
    assert ring.lookup_many(KEYS).tolist() == [("e" if n == "b" else n) for n in before]


def test_capacity_is_checked() -> None:
    with pytest.raises(LimitExceededError, match="at least the number of nodes"):
        AnchorHash(["a", "b", "c"], capacity=2)
    with pytest.raises(InvalidArgumentError, match="at least 1"):
        AnchorHash(capacity=0)
    with pytest.raises(TypeError, match="capacity must be an int"):
        AnchorHash(capacity=2.5)  # type: ignore[arg-type]
    assert AnchorHash(["a"]).capacity == 1024
    ring = AnchorHash(["a"], capacity=1)
    with pytest.raises(LimitExceededError, match="full"):
        ring.add("b")
    with pytest.raises(DuplicateNodeError):
        ring.add("a")
    with pytest.raises(UnknownNodeError):
        ring.remove("zz")
    ring._check()


def test_from_state_refuses_an_inconsistent_stack() -> None:
    with pytest.raises(InvalidArgumentError, match="removed must list"):
        AnchorHash.from_state(["a", None, None], removed=[1])
    with pytest.raises(InvalidArgumentError, match="at least one bucket"):
        AnchorHash.from_state([])
    with pytest.raises(InvalidArgumentError, match="nodes must list the members"):
        AnchorHash.from_state(["a", "b"], nodes=["a", "c"])
    ring = AnchorHash.from_state(["a", None, "b"], removed=[1], nodes=["b", "a"])
    assert ring.nodes == ("b", "a") and ring.capacity == 3
    ring._check()
    ring.add("c")  # takes the freed bucket
    assert ring.from_state(["a", "c", "b"], nodes=["b", "a", "c"]) == ring


@pytest.mark.skipif(not VECTORS.exists(), reason="no reference vectors")
def test_state_arrays_match_the_java_reference() -> None:
    """The Java engine and this one hold the same A, W, L, K after the same operations."""
    data = json.loads(VECTORS.read_text())
    for case in data["cases"]:
        ring = AnchorHash([f"n{i}" for i in range(case["size"])], capacity=case["capacity"])
        bucket_node = {b: f"n{b}" for b in range(case["size"])}
        for step, operation in enumerate(case["operations"]):
            state = case["states"][step]
            if operation == "add":
                node = f"x{step}"
                ring.add(node)
                assert ring._bucket_of[node] == state["bucket"]  # the same bucket reused
                bucket_node[state["bucket"]] = node
            else:
                ring.remove(bucket_node.pop(operation))
            assert ring._removed_size == state["A"], (case["name"], step)
            assert ring._replacement == state["K"], (case["name"], step)
            working = len(ring)
            assert ring._working_at[:working] == state["W"][:working]
            assert [ring._positions[b] for b in ring._working_at[:working]] == list(range(working))
        keys = [int(k) for k in case["keys"]]
        lookups = [
            anchor_bucket(k, case["capacity"], ring._removed_size, ring._replacement, _java_rehash)
            for k in keys
        ]
        assert lookups == case["buckets"], case["name"]


def _java_rehash(state: int, bucket: int) -> tuple[int, int]:
    """The reference's chained draw with the driver's seeded hash (see the driver)."""
    draw = xxhash.xxh3_64_intdigest(state.to_bytes(8, "little"), bucket) >> 1
    return draw, draw
