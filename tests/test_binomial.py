"""BinomialHash: the range hash (definition, scalar == batch, monotonicity, balance, the
Java reference's vectors) and the named-node placement against a naive model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consistent import UnsupportedOperationError, XXH3Hasher
from consistent._binomial import BinomialHash, binomial_bucket, binomial_buckets, binomial_shares

VECTORS = Path(__file__).parent / "vectors" / "binomial.json"
HASHES = np.random.default_rng(5).integers(0, 2**64, 100_000, dtype=np.uint64)
MASK = 2**64 - 1
KEYS = np.arange(2_000, dtype=np.uint64)


def xxh3_rehash(value: int, seed: int) -> int:
    return xxhash.xxh3_64_intdigest(value.to_bytes(8, "little"), seed)


def java_rehash(value: int, seed: int) -> int:
    """The Java reference's ``BinomialEngine.rehash`` (an LCG step squared, times the seed)."""
    step = (value * 2862933555777941757 + 1) % 2**64
    return (step * step * seed) % 2**64 // 2**32


def definition(h: int, n: int, rehash: Callable[[int, int], int] = xxh3_rehash) -> int:
    """BinomialHash written from its description, for clarity (trees as explicit ranges)."""

    def relocate(bucket: int, key: int) -> int:
        if bucket < 2:
            return bucket
        level = 2 ** (len(bin(bucket)) - 3)  # the level holds [level, 2 * level)
        return level + rehash(key, level - 1) % level

    if n < 2:
        return 0
    tree = 1
    while tree < n:
        tree *= 2
    bucket = relocate(h % tree, h)
    if bucket < n:
        return bucket
    draw = h
    for _ in range(4):
        draw = rehash(draw, tree - 1)
        bucket = relocate(draw % tree, draw)
        if bucket < tree // 2:
            break
        if bucket < n:
            return bucket
    return relocate(h % (tree // 2), h)


@given(st.integers(0, MASK), st.integers(1, 5000))
@settings(max_examples=300, deadline=None)
def test_scalar_follows_the_definition_and_batch_equals_scalar(h: int, n: int) -> None:
    expected = definition(h, n)
    assert binomial_bucket(h, n) == expected
    assert binomial_buckets(np.array([h], dtype=np.uint64), n).tolist() == [expected]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100, 1000, 1024, 1025])
def test_batch_equals_scalar_on_many_keys(n: int) -> None:
    sample = HASHES[:3000]
    assert binomial_buckets(sample, n).tolist() == [binomial_bucket(int(h), n) for h in sample]


def test_growing_moves_keys_only_onto_the_new_bucket() -> None:
    before = binomial_buckets(HASHES, 1)
    for n in range(2, 140):
        after = binomial_buckets(HASHES, n)
        moved = before != after
        assert (after[moved] == n - 1).all(), n
        assert 0 < moved.mean() < 3 / n, n  # about 1/n of the keys move
        before = after


@pytest.mark.parametrize("n", [3, 5, 12, 100, 700, 1000])
def test_balance_matches_the_model_shares(n: int) -> None:
    counts = np.bincount(binomial_buckets(HASHES, n), minlength=n)
    expected = np.array(binomial_shares(n)) * HASHES.size
    assert counts.sum() == HASHES.size
    # within 5 standard deviations of a binomial count, bucket by bucket
    assert (np.abs(counts - expected) <= 5 * np.sqrt(expected) + 1).all()
    shares = binomial_shares(n)
    assert sum(shares) == pytest.approx(1.0)
    assert max(shares) / min(shares) < 1.25  # the paper's bound shrinks with omega


@pytest.mark.skipif(not VECTORS.exists(), reason="no reference vectors")
def test_matches_the_java_reference_engine_built_at_each_size() -> None:
    data = json.loads(VECTORS.read_text())
    keys = [int(k) for k in data["keys"]]
    for size, buckets in data["built"].items():
        assert [binomial_bucket(k, int(size), java_rehash) for k in keys] == buckets, size
        assert [definition(k, int(size), java_rehash) for k in keys] == buckets, size


@pytest.mark.skipif(not VECTORS.exists(), reason="no reference vectors")
def test_the_java_reference_grown_from_one_bucket_leaves_the_range() -> None:
    """Documented in docs/algorithms.md: the reference's addBucket, started from a single
    bucket, sets both tree filters to the same value, and from then on its getBucket can
    return buckets >= n. Grown from 2 buckets, or shrunk, it agrees with the built engine."""
    data = json.loads(VECTORS.read_text())
    for size, built in data["built"].items():
        assert data["grown_from_2"][size] in (None, built)
        assert data["shrunk_from_5000"][size] == built
    outside = {
        int(size): sum(b >= int(size) for b in buckets)
        for size, buckets in data["grown_from_1"].items()
        if buckets is not None
    }
    assert outside[1] == outside[2] == 0
    assert all(outside[n] > 0 for n in (3, 4, 5, 8, 9, 100, 1024, 4097))
    ring = BinomialHash(["n0"])  # here growth from one node is the built placement
    for i in range(1, 9):
        ring.add(f"n{i}")
    built = BinomialHash([f"n{i}" for i in range(9)])
    assert ring.lookup_many(KEYS).tolist() == built.lookup_many(KEYS).tolist()


def test_named_nodes_are_placed_on_their_buckets() -> None:
    nodes = [f"n{i}" for i in range(37)]
    ring = BinomialHash(nodes)
    hasher = XXH3Hasher()
    for key in range(500):
        assert ring.node_for(key) == nodes[binomial_bucket(hasher.hash_key(key), 37)]


def test_only_the_last_node_leaves() -> None:
    ring = BinomialHash(["a", "b", "c"])
    with pytest.raises(UnsupportedOperationError, match="last node"):
        ring.remove("a")
    ring.remove("c")
    assert ring.nodes == ("a", "b")


class BinomialMachine(RuleBasedStateMachine):
    """BinomialHash against a list of names and the definition above."""

    def __init__(self) -> None:
        super().__init__()
        self.ring = BinomialHash()
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


TestBinomialMachine = BinomialMachine.TestCase
TestBinomialMachine.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
