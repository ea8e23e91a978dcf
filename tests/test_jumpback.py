"""Tests of consistent._jumpback: jump_back_hash, its batch form and JumpBackHash.

The vectors in tests/vectors/jumpback.json come from hash4j (see
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

import consistent._jumpback as jumpback
from consistent import (
    ALGORITHMS,
    DuplicateNodeError,
    EmptyRingError,
    JumpBackAnchor,
    JumpBackHash,
    Placement,
    UnknownNodeError,
    UnsupportedOperationError,
    hash_key,
    jump_back_hash,
    jump_back_hash_many,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "jumpback.json").read_text())
UINT64 = st.integers(min_value=0, max_value=2**64 - 1)
BUCKETS = st.one_of(st.integers(1, 300), st.integers(1, 2**31 - 1))


# -- bit compatibility with hash4j ----------------------------------------------------------


def test_reference_grid_scalar_and_batch() -> None:
    keys = np.array(VECTORS["keys"], dtype=np.uint64)
    for column, n in enumerate(VECTORS["num_buckets"]):
        expected = [row[column] for row in VECTORS["grid_key_n"]]
        assert [jump_back_hash(k, n) for k in VECTORS["keys"]] == expected, n
        assert jump_back_hash_many(keys, n).tolist() == expected, n


def test_reference_random_pairs() -> None:
    pairs = VECTORS["key_n_bucket"]
    for key, n, expected in pairs:
        assert jump_back_hash(key, n) == expected
    for key, n, expected in pairs[:300]:
        assert jump_back_hash_many(np.array([key, key], dtype=np.uint64), n).tolist() == [
            expected,
            expected,
        ]


def test_java_longs_are_their_unsigned_bits() -> None:
    assert jump_back_hash(-1, 1000) == jump_back_hash(2**64 - 1, 1000)
    signed = np.array([-1, -(2**63), 5], dtype=np.int64)
    assert jump_back_hash_many(signed, 77).tolist() == [jump_back_hash(int(k), 77) for k in signed]


# -- properties -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(UINT64, min_size=1, max_size=60), n=BUCKETS)
def test_batch_equals_scalar(keys: list[int], n: int) -> None:
    batch = jump_back_hash_many(np.array(keys, dtype=np.uint64), n)
    assert batch.dtype == np.int32
    assert batch.tolist() == [jump_back_hash(k, n) for k in keys]


@pytest.mark.parametrize("n", [3, 10, 513, 10_000, 2**31 - 1])
def test_large_batches_equal_scalar(n: int) -> None:
    # Enough keys that the vectorised re-draw loop runs (small batches finish in Python).
    keys = np.random.default_rng(n % 1000).integers(0, 2**64, size=40_000, dtype=np.uint64)
    expected = [jump_back_hash(k, n) for k in keys.tolist()]
    assert jump_back_hash_many(keys, n).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(key=UINT64, n=st.integers(1, 2**31 - 2))
def test_growing_moves_keys_only_to_the_new_bucket(key: int, n: int) -> None:
    before = jump_back_hash(key, n)
    assert 0 <= before < n
    assert jump_back_hash(key, n + 1) in (before, n)


def test_monotone_over_a_whole_range_of_sizes() -> None:
    keys = np.random.default_rng(3).integers(0, 2**64, size=3_000, dtype=np.uint64)
    previous = jump_back_hash_many(keys, 1)
    for n in range(2, 300):
        current = jump_back_hash_many(keys, n)
        moved = current != previous
        assert (current[moved] == n - 1).all()
        previous = current


@pytest.mark.parametrize("n", [5, 100, 513, 1000])
def test_balance(n: int) -> None:
    keys = np.random.default_rng(n).integers(0, 2**64, size=400 * n, dtype=np.uint64)
    counts = np.bincount(jump_back_hash_many(keys, n), minlength=n)
    assert counts.size == n
    assert counts.min() > 400 - 120 and counts.max() < 400 + 120  # 6 sigma


def test_argument_errors() -> None:
    with pytest.raises(TypeError, match="num_buckets must be an int"):
        jump_back_hash(1, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"num_buckets must be an int in \[1, 2\*\*31 - 1\]"):
        jump_back_hash(1, 2**31)
    with pytest.raises(ValueError, match="key must be"):
        jump_back_hash(2**64, 3)
    with pytest.raises(TypeError, match="key must be"):
        jump_back_hash("1", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one-dimensional"):
        jump_back_hash_many(np.zeros((2, 2), dtype=np.uint64), 3)
    with pytest.raises(TypeError, match="dtype float64"):
        jump_back_hash_many(np.zeros(2), 3)
    assert jump_back_hash_many([], 3).tolist() == []
    assert jump_back_hash(np.uint64(5), np.int64(9)) == jump_back_hash(5, 9)
    assert jump_back_hash(123, 1) == 0


# -- JumpBackHash ---------------------------------------------------------------------------


def test_places_like_the_function_and_like_jump_back_anchor() -> None:
    nodes = [f"n{i}" for i in range(41)]
    ring, anchor = JumpBackHash(nodes), JumpBackAnchor(nodes)
    keys = [f"key-{i}" for i in range(500)]
    expected = [f"n{jump_back_hash(hash_key(k), 41)}" for k in keys]
    assert [ring.node_for(k) for k in keys] == expected
    assert ring.lookup_many(keys).tolist() == expected
    assert anchor.lookup_many(keys).tolist() == expected
    ints = np.arange(70_000, dtype=np.uint64)  # more than one block
    assert (ring.lookup_codes(ints) == anchor.lookup_codes(ints)).all()
    for key in keys[:50]:
        assert ring.nodes_for(key, 5) == anchor.nodes_for(key, 5)


def test_preference_list_is_the_fail_over_order() -> None:
    nodes = [f"n{i}" for i in range(12)]
    ring = JumpBackHash(nodes)
    for key in range(40):
        prefs = ring.nodes_for(key, 12)
        assert sorted(prefs) == sorted(nodes) and prefs[0] == ring.node_for(key)
        anchor = JumpBackAnchor(nodes)
        for position in range(11):
            assert anchor.node_for(key) == prefs[position]
            anchor.remove(prefs[position])


def test_membership_rules() -> None:
    ring = JumpBackHash(["a", "b", "c"])
    assert isinstance(ring, Placement)
    assert ALGORITHMS["jumpback"] is JumpBackHash
    with pytest.raises(UnsupportedOperationError, match="only remove its last node"):
        ring.remove("b")
    with pytest.raises(UnknownNodeError):
        ring.remove("z")
    with pytest.raises(DuplicateNodeError):
        ring.add("c")
    with pytest.raises(TypeError):
        ring.add(3)  # type: ignore[arg-type]
    assert ring.nodes == ("a", "b", "c")
    ring.remove("c")
    assert ring.nodes == ("a", "b")
    with pytest.raises(EmptyRingError):
        JumpBackHash().node_for("k")
    with pytest.raises(ValueError, match="n must be between 1 and the number of nodes"):
        ring.nodes_for("k", 3)


def test_repr_copy_and_equality() -> None:
    ring = JumpBackHash(["a", "b"])
    assert eval(repr(ring), {"JumpBackHash": JumpBackHash}) == ring
    clone = ring.copy()
    clone.add("c")
    assert (len(ring), len(clone)) == (2, 3)
    ring._check()
    clone._check()


# -- stateful: JumpBackHash against a naive model --------------------------------------------


class JumpBackHashMachine(RuleBasedStateMachine):
    """JumpBackHash beside a plain list whose i-th node is the home of keys jumping to i."""

    def __init__(self) -> None:
        super().__init__()
        self.ring = JumpBackHash()
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
        home = self.model[jump_back_hash(hash_key(key), len(self.model))]
        assert self.ring.node_for(key) == home
        assert self.ring.lookup_many([key]).tolist() == [home]

    @invariant()
    def agrees(self) -> None:
        self.ring._check()
        assert self.ring.nodes == tuple(self.model)


JumpBackHashMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=30, deadline=None
)
TestJumpBackHashStateful = JumpBackHashMachine.TestCase


def test_bit_count_parity_without_numpy_bitwise_count(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.random.default_rng(8).integers(0, 2**31, size=5_000, dtype=np.uint64)
    expected = np.array([bin(v).count("1") % 2 for v in values.tolist()], dtype=np.uint64)
    assert (jumpback._odd_bit_counts(values) == expected).all()
    monkeypatch.setattr(jumpback, "_bitwise_count", None)  # numpy < 2.0 has none
    assert (jumpback._odd_bit_counts(values) == expected).all()


def test_vectorised_redraw_to_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    # With no scalar tail, the numpy loop itself finishes every key.
    monkeypatch.setattr(jumpback, "_SCALAR_TAIL", 0)
    keys = np.random.default_rng(2).integers(0, 2**64, size=3_000, dtype=np.uint64)
    for n in (3, 513, 2**31 - 1):
        assert jump_back_hash_many(keys, n).tolist() == [
            jump_back_hash(k, n) for k in keys.tolist()
        ]
