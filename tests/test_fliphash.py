"""Tests of consistent._fliphash: flip_hash, its batch form and FlipHash.

The vectors in tests/vectors/fliphash.json come from Datadog's fliphash-rs (see
tests/vectors/drivers/README.md); everything else checks properties.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import consistent._fliphash as fliphash
from consistent import (
    ALGORITHMS,
    DuplicateNodeError,
    EmptyRingError,
    FlipHash,
    JumpHash,
    Placement,
    UnknownNodeError,
    UnsupportedOperationError,
    flip_hash,
    flip_hash_many,
    hash_key,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "fliphash.json").read_text())
UINT64 = st.integers(min_value=0, max_value=2**64 - 1)
BUCKETS = st.one_of(
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=1, max_value=2**31 - 1),
    st.integers(min_value=1, max_value=2**64),
)


# -- bit compatibility with fliphash-rs ----------------------------------------------------


@pytest.mark.parametrize("seed_index", range(len(VECTORS["seeds"])))
def test_reference_grid_scalar_and_batch(seed_index: int) -> None:
    seed = VECTORS["seeds"][seed_index]
    grid = VECTORS["grid_seed_key_range"][seed_index]
    keys = np.array(VECTORS["keys"], dtype=np.uint64)
    for column, range_end in enumerate(VECTORS["range_ends"]):
        expected = [row[column] for row in grid]
        scalar = [flip_hash(key, range_end + 1, seed=seed) for key in VECTORS["keys"]]
        assert scalar == expected, (seed, range_end)
        assert flip_hash_many(keys, range_end + 1, seed=seed).tolist() == expected


def test_reference_random_triples() -> None:
    triples = VECTORS["key_seed_range_end_hash"]
    for key, seed, range_end, expected in triples:
        assert flip_hash(key, range_end + 1, seed=seed) == expected
    # Batch, grouped by (seed, range end) so every group is one array.
    for key, seed, range_end, expected in triples[:200]:
        batch = flip_hash_many(np.array([key, key], dtype=np.uint64), range_end + 1, seed=seed)
        assert batch.tolist() == [expected, expected]


def test_edge_ranges() -> None:
    assert flip_hash(2**64 - 1, 1) == 0
    assert 0 <= flip_hash(2**64 - 1, 2**64) < 2**64
    assert flip_hash(123, 2**31 - 1) < 2**31 - 1


# -- properties -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(UINT64, min_size=1, max_size=50), n=BUCKETS, seed=UINT64)
def test_batch_equals_scalar(keys: list[int], n: int, seed: int) -> None:
    batch = flip_hash_many(np.array(keys, dtype=np.uint64), n, seed=seed)
    assert batch.dtype == np.uint64
    assert batch.tolist() == [flip_hash(k, n, seed=seed) for k in keys]


@pytest.mark.parametrize("n", [3, 10, 513, 10_000, 2**31 - 1, 2**33 + 5, 2**64])
def test_large_batches_equal_scalar(n: int) -> None:
    # Enough keys that the vectorised re-draw loop runs (small batches finish in Python).
    keys = np.random.default_rng(n % 1000).integers(0, 2**64, size=40_000, dtype=np.uint64)
    expected = [flip_hash(k, n, seed=77) for k in keys.tolist()]
    assert flip_hash_many(keys, n, seed=77).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(key=UINT64, n=st.integers(min_value=1, max_value=2**40), seed=UINT64)
def test_growing_moves_keys_only_to_the_new_bucket(key: int, n: int, seed: int) -> None:
    before = flip_hash(key, n, seed=seed)
    after = flip_hash(key, n + 1, seed=seed)
    assert 0 <= before < n
    assert after in (before, n)


def test_monotone_over_a_whole_range_of_sizes() -> None:
    keys = np.random.default_rng(7).integers(0, 2**64, size=2_000, dtype=np.uint64)
    previous = flip_hash_many(keys, 1)
    for n in range(2, 300):
        current = flip_hash_many(keys, n)
        moved = current != previous
        assert (current[moved] == n - 1).all()
        previous = current


@pytest.mark.parametrize("n", [7, 100, 513, 1000])
def test_balance(n: int) -> None:
    keys = np.random.default_rng(n).integers(0, 2**64, size=400 * n, dtype=np.uint64)
    counts = np.bincount(flip_hash_many(keys, n).astype(np.int64), minlength=n)
    # 400 keys per bucket: a binomial's standard deviation is about 20, so 6 sigma.
    assert counts.size == n
    assert counts.min() > 400 - 120 and counts.max() < 400 + 120


def test_seeds_give_independent_placements() -> None:
    keys = np.arange(50_000, dtype=np.uint64)
    a, b = flip_hash_many(keys, 10), flip_hash_many(keys, 10, seed=1)
    agree = float(np.mean(a == b))
    assert 0.08 < agree < 0.12  # independent: agree on about 1 key in 10


def test_argument_errors() -> None:
    with pytest.raises(TypeError, match="num_buckets must be an int"):
        flip_hash(1, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"num_buckets must be an int in \[1, 2\*\*64\]"):
        flip_hash(1, 0)
    with pytest.raises(ValueError, match="key must be"):
        flip_hash(-1, 3)
    with pytest.raises(TypeError, match="key must be"):
        flip_hash(True, 3)
    with pytest.raises(ValueError, match="seed must be"):
        flip_hash(1, 3, seed=2**64)
    with pytest.raises(ValueError, match="one-dimensional"):
        flip_hash_many(np.zeros((2, 2), dtype=np.uint64), 3)
    with pytest.raises(TypeError, match="dtype float64"):
        flip_hash_many(np.zeros(2), 3)
    assert flip_hash_many([], 3).tolist() == []
    assert flip_hash(np.uint64(5), np.int64(9)) == flip_hash(5, 9)


# -- FlipHash -----------------------------------------------------------------------------


def test_flip_hash_places_like_the_function() -> None:
    ring = FlipHash([f"n{i}" for i in range(37)])
    keys = [f"key-{i}" for i in range(500)]
    expected = [f"n{flip_hash(hash_key(k), 37)}" for k in keys]
    assert [ring.node_for(k) for k in keys] == expected
    assert ring.lookup_many(keys).tolist() == expected
    ints = np.arange(70_000, dtype=np.uint64)  # more than one block
    codes = ring.lookup_codes(ints)
    assert codes.dtype == np.int32
    assert codes[::997].tolist() == [ring.nodes.index(ring.node_for(int(k))) for k in ints[::997]]


def test_flip_hash_membership_rules() -> None:
    ring = FlipHash(["a", "b", "c"])
    assert isinstance(ring, Placement)
    assert ALGORITHMS["flip"] is FlipHash
    with pytest.raises(UnsupportedOperationError, match="only remove its last node"):
        ring.remove("a")
    with pytest.raises(UnknownNodeError):
        ring.remove("z")
    with pytest.raises(DuplicateNodeError):
        ring.add("a")
    with pytest.raises(UnsupportedOperationError, match="weight must be 1"):
        ring.add("d", weight=2)
    assert ring.nodes == ("a", "b", "c")
    ring.remove("c")
    ring.add("d")
    assert ring.nodes == ("a", "b", "d")
    assert ring.ownership() == {"a": 1 / 3, "b": 1 / 3, "d": 1 / 3}
    empty = FlipHash()
    with pytest.raises(EmptyRingError):
        empty.node_for("k")
    with pytest.raises(EmptyRingError):
        empty.nodes_for("k", 1)
    with pytest.raises(EmptyRingError):
        empty.lookup_codes([1])


def test_flip_hash_repr_copy_and_equality() -> None:
    ring = FlipHash(["a", "b"], hash="md5")
    assert eval(repr(ring), {"FlipHash": FlipHash, "MD5Hasher": type(ring.hasher)}) == ring
    clone = ring.copy()
    clone.add("c")
    assert len(ring) == 2 and len(clone) == 3
    assert ring != clone
    assert FlipHash(["a"]) != JumpHash(["a"])
    clone._check()


@settings(max_examples=100, deadline=None)
@given(key=st.text(max_size=8), size=st.integers(1, 40), data=st.data())
def test_preference_lists(key: str, size: int, data: st.DataObject) -> None:
    ring = FlipHash([f"n{i}" for i in range(size)])
    count = data.draw(st.integers(1, size))
    prefs = ring.nodes_for(key, count)
    assert len(prefs) == len(set(prefs)) == count
    assert prefs[0] == ring.node_for(key)
    assert ring.nodes_for(key, size)[:count] == prefs


# -- stateful: FlipHash against a naive model ----------------------------------------------


class FlipHashMachine(RuleBasedStateMachine):
    """FlipHash beside a plain list whose i-th node is the home of keys flipping to i."""

    def __init__(self) -> None:
        super().__init__()
        self.ring = FlipHash()
        self.model: list[str] = []
        self.counter = 0

    @rule()
    def add(self) -> None:
        node = f"node-{self.counter}"
        self.counter += 1
        self.ring.add(node)
        self.model.append(node)

    @precondition(lambda self: self.model)
    @rule()
    def remove_last(self) -> None:
        self.ring.remove(self.model.pop())

    @precondition(lambda self: len(self.model) > 1)
    @rule(data=st.data())
    def remove_other_refused(self, data: st.DataObject) -> None:
        node = data.draw(st.sampled_from(self.model[:-1]))
        with pytest.raises(UnsupportedOperationError):
            self.ring.remove(node)

    @precondition(lambda self: self.model)
    @rule(key=st.one_of(st.text(max_size=6), st.integers(0, 2**64 - 1)))
    def lookup(self, key: str | int) -> None:
        home = self.model[flip_hash(hash_key(key), len(self.model))]
        assert self.ring.node_for(key) == home
        assert self.ring.lookup_many([key]).tolist() == [home]

    @invariant()
    def agrees(self) -> None:
        self.ring._check()
        assert self.ring.nodes == tuple(self.model)
        assert len(self.ring) == len(self.model)


FlipHashMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
TestFlipHashStateful = FlipHashMachine.TestCase


def test_vectorised_redraw_to_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    # With no scalar tail, the numpy loop itself finishes every key.
    monkeypatch.setattr(fliphash, "_SCALAR_TAIL", 0)
    keys = np.random.default_rng(2).integers(0, 2**64, size=3_000, dtype=np.uint64)
    for n in (3, 513, 2**33 + 5):
        expected = [flip_hash(k, n, seed=5) for k in keys.tolist()]
        assert flip_hash_many(keys, n, seed=5).tolist() == expected
