"""DxHash against a naive model (a set of working buckets and a probing loop), and its
properties: placement independent of removal order, minimal movement, scaling."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consistent import InvalidArgumentError, LimitExceededError, XXH3Hasher
from consistent._dxhash import DxHash

KEYS = np.random.default_rng(4).integers(0, 2**64, 2_000, dtype=np.uint64)
HASHER = XXH3Hasher()
KEY_HASHES = [HASHER.hash_key(k) for k in KEYS.tolist()]


class NaiveDx:
    """The NSArray as a dict bucket -> node, probing written out, free buckets a stack."""

    def __init__(self, nodes: list[str]) -> None:
        self.capacity = 32
        while self.capacity < len(nodes):
            self.capacity *= 2
        self.node_at = dict(enumerate(nodes))
        self.free = list(range(self.capacity - 1, len(nodes) - 1, -1))

    def add(self, node: str) -> None:
        if not self.free:  # Scale: double the array
            self.free = list(range(2 * self.capacity - 1, self.capacity - 1, -1))
            self.capacity *= 2
        self.node_at[self.free.pop()] = node

    def remove(self, node: str) -> None:
        bucket = next(b for b, n in self.node_at.items() if n == node)
        del self.node_at[bucket]
        self.free.append(bucket)

    def probe_order(self, key_hash: int) -> Iterator[int]:
        # Drawn lazily: a lookup stops at the first working bucket, so the model is as
        # obviously right as the full list and much faster.
        data = key_hash.to_bytes(8, "little")
        for i in range(4 * self.capacity):
            yield xxhash.xxh3_64_intdigest(data, i) % self.capacity
        start = key_hash % self.capacity
        for i in range(self.capacity):
            yield (start + i) % self.capacity

    def lookup(self, key_hash: int) -> str:
        return next(self.node_at[b] for b in self.probe_order(key_hash) if b in self.node_at)


class DxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        start = [f"n{i}" for i in range(28)]  # close to the default capacity: scaling happens
        self.ring = DxHash(start)
        self.model = NaiveDx(start)
        self.counter = len(start)

    def homes(self) -> list[str]:
        return [self.model.lookup(h) for h in KEY_HASHES[:300]]

    @precondition(lambda self: len(self.ring) < 70)
    @rule()
    def add(self) -> None:
        before = self.homes()
        scales = not self.model.free
        node = f"n{self.counter}"
        self.counter += 1
        self.ring.add(node)
        self.model.add(node)
        if not scales:  # a join without scaling moves keys only onto the newcomer
            assert all(a == b or b == node for a, b in zip(before, self.homes(), strict=True))

    @precondition(lambda self: len(self.ring) > 1)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        node = data.draw(st.sampled_from(sorted(self.ring.nodes)))
        key = int(KEYS[0])
        first, second = self.ring.nodes_for(key, 2)
        before = self.homes()
        self.ring.remove(node)
        self.model.remove(node)
        assert all(a == b for a, b in zip(before, self.homes(), strict=True) if a != node)
        if first == node:
            assert self.ring.node_for(key) == second

    @invariant()
    def agrees_with_the_model(self) -> None:
        self.ring._check()
        assert self.ring.capacity == self.model.capacity
        homes = self.homes()
        assert self.ring.lookup_many(KEYS[:300]).tolist() == homes
        assert self.ring.node_for(int(KEYS[5])) == homes[5]
        assert eval(repr(self.ring), {"DxHash": DxHash}) == self.ring


TestDxMachine = DxMachine.TestCase
TestDxMachine.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)


def test_placement_does_not_depend_on_removal_order() -> None:
    nodes = [f"n{i}" for i in range(16)]
    one, two = DxHash(nodes), DxHash(nodes)
    for node in ("n1", "n5", "n9"):
        one.remove(node)
    for node in ("n9", "n1", "n5"):
        two.remove(node)
    assert one.lookup_many(KEYS).tolist() == two.lookup_many(KEYS).tolist()


@given(st.integers(0, 2**64 - 1))
@settings(max_examples=200, deadline=None)
def test_scalar_equals_batch_with_few_working_buckets(key: int) -> None:
    ring = DxHash(["a", "b", "c"], capacity=64)
    ring.remove("b")
    assert ring.lookup_many([key]).tolist() == [ring.node_for(key)]
    assert ring.nodes_for(key, 2)[0] == ring.node_for(key)


def test_the_fallback_scan_places_keys_that_never_hit_a_working_bucket() -> None:
    ring = DxHash(["only"], capacity=256)
    homes = ring.lookup_many(KEYS)
    assert set(homes.tolist()) == {"only"}


def test_keys_spread_evenly() -> None:
    sample = np.random.default_rng(8).integers(0, 2**64, 120_000, dtype=np.uint64)
    ring = DxHash([f"n{i}" for i in range(40)])
    ring.remove("n7")
    counts = np.bincount(ring.lookup_codes(sample), minlength=len(ring))
    expected = sample.size / len(ring)
    assert (np.abs(counts - expected) <= 5 * np.sqrt(expected)).all()


def test_capacity_defaults_to_a_power_of_two_and_scales_when_full() -> None:
    sizes = (0, 1, 5, 32, 33, 64, 65, 1000)
    capacities = [DxHash([f"n{i}" for i in range(n)]).capacity for n in sizes]
    assert capacities == [32, 32, 32, 32, 64, 64, 128, 1024]
    ring = DxHash(["a", "b"], capacity=2)
    ring.add("c")
    assert ring.capacity == 4
    assert DxHash(["a", "b"], capacity=10).capacity == 10
    with pytest.raises(LimitExceededError):
        DxHash(["a", "b"], capacity=1)
    with pytest.raises(InvalidArgumentError):
        DxHash(capacity=0)
