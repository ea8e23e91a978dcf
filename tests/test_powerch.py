"""PowerCH: the range hash (definition, scalar == batch, monotonicity, balance, the Java
reference's vectors) and the named-node placement against a naive model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consistent import UnsupportedOperationError, XXH3Hasher
from consistent._powerch import PowerCH, power_bucket, power_buckets

VECTORS = Path(__file__).parent / "vectors" / "powerch.json"
HASHES = np.random.default_rng(5).integers(0, 2**64, 100_000, dtype=np.uint64)
MASK = 2**64 - 1


def definition(h: int, n: int) -> int:
    """PowerCH written from the paper's description, for clarity."""

    def f(mask: int) -> int:  # consistent hashing onto the power of two mask + 1
        bits = h & mask
        if bits == 0:
            return 0
        top = 2 ** (len(bin(bits)) - 3)
        return top + xxhash.xxh3_64_intdigest(h.to_bytes(8, "little"), top) % top

    def g(start: int) -> int:  # the last jump target below n of a walk from start
        state, position = h, start
        while True:
            state = (state * 2862933555777941757 + 1) % 2**64
            uniform = ((state >> 33) + 1) / 2**31
            if (position + 1) / uniform >= n:
                return position
            position = int((position + 1) / uniform)

    if n == 1:
        return 0
    m = 1
    while m < n:
        m *= 2
    first = f(m - 1)
    if first < n:
        return first
    second = g(m // 2 - 1)
    return second if second >= m // 2 else f(m // 2 - 1)


@given(st.integers(0, MASK), st.integers(1, 5000))
@settings(max_examples=300, deadline=None)
def test_scalar_follows_the_definition_and_batch_equals_scalar(h: int, n: int) -> None:
    expected = definition(h, n)
    assert power_bucket(h, n) == expected
    assert power_buckets(np.array([h], dtype=np.uint64), n).tolist() == [expected]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100, 1000, 1024, 1025])
def test_batch_equals_scalar_on_many_keys(n: int) -> None:
    sample = HASHES[:3000]
    assert power_buckets(sample, n).tolist() == [power_bucket(int(h), n) for h in sample]


def test_growing_moves_keys_only_onto_the_new_bucket() -> None:
    before = power_buckets(HASHES, 1)
    for n in range(2, 140):
        after = power_buckets(HASHES, n)
        moved = before != after
        assert (after[moved] == n - 1).all(), n
        assert 0 < moved.mean() < 3 / n, n  # about 1/n of the keys move
        before = after


@pytest.mark.parametrize("n", [3, 5, 12, 100, 700, 1000])
def test_every_bucket_gets_one_nth(n: int) -> None:
    counts = np.bincount(power_buckets(HASHES, n), minlength=n)
    expected = HASHES.size / n
    # within 5 standard deviations of a binomial count, bucket by bucket
    assert (np.abs(counts - expected) <= 5 * np.sqrt(expected) + 1).all()


@pytest.mark.skipif(not VECTORS.exists(), reason="no reference vectors")
def test_matches_the_java_reference_engine() -> None:
    data = json.loads(VECTORS.read_text())
    keys = [int(k) for k in data["keys"]]
    for size, buckets in data["built"].items():
        assert [power_bucket(k, int(size)) for k in keys] == buckets, size
        assert power_buckets(np.array(keys, dtype=np.uint64), int(size)).tolist() == buckets


@pytest.mark.skipif(not VECTORS.exists(), reason="no reference vectors")
def test_the_reference_gives_the_same_buckets_grown_shrunk_or_built() -> None:
    data = json.loads(VECTORS.read_text())
    for size, built in data["built"].items():
        assert data["grown_from_1"][size] in (None, built)
        assert data["grown_from_2"][size] in (None, built)
        assert data["shrunk_from_5000"][size] == built
    # the driver's seeded hash (Java) is the library's mix (XXH3-64 of 8 bytes under a seed)
    for key, seed, value in data["xxh3"]:
        assert xxhash.xxh3_64_intdigest(int(key).to_bytes(8, "little"), seed) == int(value)


def test_named_nodes_are_placed_on_their_buckets() -> None:
    nodes = [f"n{i}" for i in range(37)]
    ring = PowerCH(nodes)
    hasher = XXH3Hasher()
    for key in range(500):
        assert ring.node_for(key) == nodes[power_bucket(hasher.hash_key(key), 37)]


def test_only_the_last_node_leaves() -> None:
    ring = PowerCH(["a", "b", "c"])
    with pytest.raises(UnsupportedOperationError, match="last node"):
        ring.remove("a")
    ring.remove("c")
    assert ring.nodes == ("a", "b")


class PowerMachine(RuleBasedStateMachine):
    """PowerCH against a list of names and the definition above."""

    def __init__(self) -> None:
        super().__init__()
        self.ring = PowerCH()
        self.model: list[str] = []
        self.counter = 0
        self.keys = HASHES[:400]
        self.key_hashes = XXH3Hasher().hash_keys(self.keys)

    def homes(self) -> list[str]:
        return [self.model[definition(int(h), len(self.model))] for h in self.key_hashes]

    @rule()
    def add(self) -> None:
        before = self.homes() if self.model else None
        name = f"node-{self.counter}"
        self.counter += 1
        self.ring.add(name)
        self.model.append(name)
        if before is not None:
            after = self.homes()
            assert all(a == b or b == name for a, b in zip(before, after, strict=True))

    @precondition(lambda self: self.model)
    @rule()
    def remove_last(self) -> None:
        self.ring.remove(self.model.pop())

    @precondition(lambda self: len(self.model) > 1)
    @rule(data=st.data())
    def remove_middle_is_refused(self, data: st.DataObject) -> None:
        node = data.draw(st.sampled_from(self.model[:-1]))
        with pytest.raises(UnsupportedOperationError):
            self.ring.remove(node)

    @invariant()
    def agrees_with_the_model(self) -> None:
        self.ring._check()
        assert list(self.ring.nodes) == self.model
        if self.model:
            assert self.ring.lookup_many(self.keys).tolist() == self.homes()
            assert self.ring.node_for(int(self.keys[0])) == self.homes()[0]


TestPowerMachine = PowerMachine.TestCase
TestPowerMachine.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
