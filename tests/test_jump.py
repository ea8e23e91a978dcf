"""Tests of consistent._jump: the jump hash function, its batch form and JumpHash."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consistent
from consistent import (
    DuplicateNodeError,
    JumpHash,
    MD5Hasher,
    MementoHash,
    UnknownNodeError,
    UnsupportedOperationError,
    XXH3Hasher,
    jump_hash,
    jump_hash_many,
)

UINT64 = st.integers(min_value=0, max_value=2**64 - 1)
BUCKETS = st.integers(min_value=1, max_value=2**31 - 1)


def reference_jump(key: int, num_buckets: int) -> int:
    """An independent transcription of the paper's C++, with C's types made explicit."""
    b = np.int64(-1)
    j = np.int64(0)
    k = np.uint64(key)
    with np.errstate(over="ignore"):
        while j < num_buckets:
            b = j
            k = k * np.uint64(2862933555777941757) + np.uint64(1)
            # j = (b + 1) * (double(1LL << 31) / double((key >> 33) + 1));
            quotient = np.float64(1 << 31) / np.float64((k >> np.uint64(33)) + np.uint64(1))
            j = np.int64(np.float64(b + np.int64(1)) * quotient)
    return int(b)


# Generated from the reference C++ code; published with github.com/dgryski/go-jump.
GO_JUMP_VECTORS = {
    0: [0] * 20,
    1: [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17],
    0xDEADBEEF: [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16],
    0x0DDC0FFEEBADF00D: [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15],
}


# -- jump_hash ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(GO_JUMP_VECTORS))
def test_published_vectors(key: int) -> None:
    expected = GO_JUMP_VECTORS[key]
    assert [jump_hash(key, n) for n in range(1, len(expected) + 1)] == expected
    batch = [int(jump_hash_many(np.array([key], dtype=np.uint64), n)[0]) for n in range(1, 20)]
    assert batch == expected[:19]


def test_python_package_vector() -> None:
    # The README of the PyPI package jump-consistent-hash: jump.hash(256, 1024) == 520.
    assert jump_hash(256, 1024) == 520


@given(UINT64, BUCKETS)
def test_matches_independent_transcription(key: int, num_buckets: int) -> None:
    assert jump_hash(key, num_buckets) == reference_jump(key, num_buckets)


@settings(max_examples=30)
@given(st.lists(UINT64, min_size=1, max_size=300), BUCKETS)
def test_batch_equals_scalar(keys: list[int], num_buckets: int) -> None:
    batch = jump_hash_many(np.array(keys, dtype=np.uint64), num_buckets)
    assert batch.dtype == np.int32
    assert batch.tolist() == [jump_hash(k, num_buckets) for k in keys]


@pytest.mark.parametrize("num_buckets", [1, 2, 3, 10, 1000, 65_537, 2**31 - 1])
def test_batch_equals_scalar_many_keys(num_buckets: int) -> None:
    keys = np.random.default_rng(num_buckets).integers(0, 2**64, 40_000, dtype=np.uint64)
    batch = jump_hash_many(keys, num_buckets)
    assert batch[:4000].tolist() == [jump_hash(k, num_buckets) for k in keys[:4000].tolist()]
    assert ((batch >= 0) & (batch < num_buckets)).all()


def test_batch_accepts_int_arrays_and_empty() -> None:
    assert jump_hash_many(np.array([], dtype=np.uint64), 5).tolist() == []
    signed = np.array([0, 1, 0xDEADBEEF], dtype=np.int64)
    assert jump_hash_many(signed, 17).tolist() == [0, 6, 16]


def test_growing_moves_keys_only_to_the_new_bucket() -> None:
    keys = np.random.default_rng(1).integers(0, 2**64, 100_000, dtype=np.uint64)
    before = jump_hash_many(keys, 9)
    after = jump_hash_many(keys, 10)
    moved = before != after
    assert (after[moved] == 9).all()
    # about 1/10 of the keys move: 6 standard deviations of a binomial
    sigma = (100_000 * 0.1 * 0.9) ** 0.5
    assert abs(moved.sum() - 10_000) < 6 * sigma


@pytest.mark.parametrize("num_buckets", [7, 50])
def test_balance_within_binomial_band(num_buckets: int) -> None:
    keys = np.random.default_rng(2).integers(0, 2**64, 200_000, dtype=np.uint64)
    counts = np.bincount(jump_hash_many(keys, num_buckets), minlength=num_buckets)
    mean = keys.size / num_buckets
    sigma = (keys.size * (1 / num_buckets) * (1 - 1 / num_buckets)) ** 0.5
    assert np.abs(counts - mean).max() < 5 * sigma


@pytest.mark.parametrize(
    ("args", "error", "fragment"),
    [
        ((1, 0), ValueError, "got 0"),
        ((1, -3), ValueError, "got -3"),
        ((1, 2**31), ValueError, "got 2147483648"),
        ((1, 2.0), TypeError, "float"),
        ((1, True), TypeError, "bool"),
        ((-1, 5), ValueError, "got -1"),
        ((2**64, 5), ValueError, str(2**64)),
        (("a", 5), TypeError, "str"),
    ],
)
def test_jump_hash_errors_name_the_value(
    args: tuple[object, object], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        jump_hash(*args)  # type: ignore[arg-type]


def test_jump_hash_many_errors() -> None:
    with pytest.raises(ValueError, match="got 0"):
        jump_hash_many(np.zeros(3, dtype=np.uint64), 0)
    with pytest.raises(ValueError, match="one-dimensional"):
        jump_hash_many(np.zeros((2, 2), dtype=np.uint64), 3)
    with pytest.raises(TypeError, match="float64"):
        jump_hash_many(np.zeros(3), 3)


# -- JumpHash ----------------------------------------------------------------------------

NODES = [f"node-{i}" for i in range(7)]
MIXED_KEYS: list[str | bytes | int] = [
    *(f"user:{i}" for i in range(300)),
    *(f"blob{i}".encode() for i in range(300)),
    *range(-150, 150),
    2**64 - 1,
]


def test_golden_placement() -> None:
    # Pins the key hashing and jump together: a change here changes users' placements.
    ring = JumpHash(NODES)
    assert [ring.node_for(k) for k in range(5)] == [
        "node-1",
        "node-3",
        "node-4",
        "node-2",
        "node-4",
    ]
    assert [ring.node_for(f"user:{k}") for k in range(3)] == ["node-2", "node-1", "node-4"]


def test_node_for_equals_batch_for_every_key_type() -> None:
    ring = JumpHash(NODES)
    scalar = [ring.node_for(k) for k in MIXED_KEYS]
    assert ring.lookup_many(MIXED_KEYS).tolist() == scalar
    codes = ring.lookup_codes(MIXED_KEYS)
    assert codes.dtype == np.int32
    assert [ring.nodes[c] for c in codes] == scalar
    hasher = XXH3Hasher()
    assert scalar == [NODES[jump_hash(hasher.hash_key(k), len(NODES))] for k in MIXED_KEYS]


def test_large_integer_batch_is_hashed_in_blocks_identically() -> None:
    ring = JumpHash(NODES)
    keys = np.arange(100_000, dtype=np.uint64)
    expected = jump_hash_many(XXH3Hasher().hash_keys(keys), len(NODES))
    assert (ring.lookup_codes(keys) == expected).all()
    assert (ring.lookup_codes(keys.astype(np.int64)) == expected).all()


def test_deterministic_across_instances_and_hash_families() -> None:
    keys = [f"k{i}" for i in range(200)]
    assert (JumpHash(NODES).lookup_many(keys) == JumpHash(NODES).lookup_many(keys)).all()
    md5 = JumpHash(NODES, hash="md5")
    assert md5.hasher == MD5Hasher()
    assert md5.lookup_many(keys).tolist() == [md5.node_for(k) for k in keys]


def test_join_and_leave_of_last_node_move_minimal_keys() -> None:
    keys = np.random.default_rng(3).integers(0, 2**64, 50_000, dtype=np.uint64)
    ring = JumpHash(NODES)
    before = ring.lookup_many(keys)
    ring.add("node-7")
    after = ring.lookup_many(keys)
    moved = before != after
    assert (after[moved] == "node-7").all()
    ring.remove("node-7")
    assert (ring.lookup_many(keys) == before).all()


def test_nodes_for_is_the_failover_order() -> None:
    ring = JumpHash(NODES)
    memento = MementoHash(NODES)
    for key in range(200):
        prefs = ring.nodes_for(key, len(NODES))
        assert prefs[0] == ring.node_for(key)
        assert sorted(prefs) == sorted(NODES)
        assert prefs == memento.nodes_for(key, len(NODES))
        assert ring.nodes_for(key, 3) == prefs[:3]
    # the second choice is where the key goes when its home leaves
    for key in range(40):
        first, second = ring.nodes_for(key, 2)
        survivor = MementoHash(NODES)
        survivor.remove(first)
        assert survivor.node_for(key) == second


def test_ownership_is_exact() -> None:
    ring = JumpHash(NODES)
    assert ring.ownership() == dict.fromkeys(NODES, 1 / 7)
    assert sum(ring.ownership().values()) == pytest.approx(1)
    assert JumpHash().ownership() == {}


def test_membership_and_repr() -> None:
    ring = JumpHash(["a", "b"])
    assert len(ring) == 2 and "a" in ring and "z" not in ring and 3 not in ring
    assert ring.nodes == ("a", "b")
    assert repr(ring) == "JumpHash(['a', 'b'])"
    assert eval(repr(ring)).nodes == ring.nodes
    md5 = JumpHash(["a"], hash="md5")
    assert repr(md5) == "JumpHash(['a'], hash=MD5Hasher())"
    assert eval(repr(md5)).hasher == MD5Hasher()
    ring._check()


def snapshot(ring: JumpHash) -> tuple[object, ...]:
    return (ring.nodes, repr(ring), ring.lookup_many(list(range(300))).tolist())


@pytest.mark.parametrize(
    ("mutation", "error", "fragment"),
    [
        (lambda r: r.remove("a"), UnsupportedOperationError, "MementoHash"),
        (lambda r: r.remove("zz"), UnknownNodeError, "'zz'"),
        (lambda r: r.remove(5), TypeError, "int"),
        (lambda r: r.add("b"), DuplicateNodeError, "'b'"),
        (lambda r: r.add(b"x"), TypeError, "bytes"),
        (lambda r: r.add("x", weight=2), UnsupportedOperationError, "got 2 for node 'x'"),
        (lambda r: r.add("x", weight="1"), TypeError, "str"),
    ],
)
def test_failed_mutation_changes_nothing(
    mutation: Callable[[JumpHash], object], error: type[Exception], fragment: str
) -> None:
    ring = JumpHash(["a", "b", "c"])
    before = snapshot(ring)
    with pytest.raises(error, match=fragment):
        mutation(ring)
    assert snapshot(ring) == before
    ring._check()


def test_unit_weight_accepted() -> None:
    ring = JumpHash()
    ring.add("a", weight=1)
    ring.add("b", weight=1.0)
    assert ring.nodes == ("a", "b")


def test_bad_arguments() -> None:
    ring = JumpHash(["a", "b"])
    with pytest.raises(ValueError, match="got 3"):
        ring.nodes_for("k", 3)
    with pytest.raises(ValueError, match="got 0"):
        ring.nodes_for("k", 0)
    with pytest.raises(TypeError, match="float"):
        ring.nodes_for("k", 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float"):
        ring.node_for(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        JumpHash("abc")
    with pytest.raises(DuplicateNodeError):
        JumpHash(["a", "a"])


def test_copy_is_independent_and_equal() -> None:
    ring = JumpHash(["a", "b"], hash="md5")
    clone = ring.copy()
    assert clone == ring and clone is not ring
    clone.add("c")
    assert ring.nodes == ("a", "b") and clone.nodes == ("a", "b", "c")
    assert ring != clone and ring != JumpHash(["a", "b"])
    ring._check()
    clone._check()
    assert ring.lookup_many(list(range(50))).tolist() == [ring.node_for(k) for k in range(50)]


def test_copies_grow_and_shrink_independently() -> None:
    ring = JumpHash(["a"])
    clone = ring.copy()
    for i in range(20):  # past the name array's spare room: it grows, in each copy alone
        ring.add(f"r{i}")
        clone.add(f"c{i}")
    for _ in range(5):
        clone.remove(clone.nodes[-1])
    clone.add("again")
    ring._check()
    clone._check()
    for placement in (ring, clone):
        keys = list(range(500))
        assert placement.lookup_many(keys).tolist() == [placement.node_for(k) for k in keys]
    assert ring.nodes[-1] == "r19" and clone.nodes[-2:] == ("c14", "again")


def test_mapping_weights_other_than_one_are_refused_like_add() -> None:
    with pytest.raises(UnsupportedOperationError, match="got 3 for node 'y'"):
        JumpHash({"x": 1, "y": 3})
    with pytest.raises(TypeError, match="weight must be a number"):
        JumpHash({"x": "1"})
    assert JumpHash({"x": 1, "y": 1.0}) == JumpHash(["x", "y"])


# -- jump_hash_many validates every key as jump_hash does -------------------------------


@pytest.mark.parametrize(
    "keys",
    [[-1, 5], [5, 2**64], [True, 1], [1.5], np.array([3, -1], dtype=np.int64), [None]],
)
def test_jump_hash_many_refuses_what_jump_hash_refuses(keys: object) -> None:
    bad = next(
        k for k in (keys.tolist() if isinstance(keys, np.ndarray) else keys)  # type: ignore[attr-defined]
        if isinstance(k, (bool, float)) or k is None or not 0 <= k < 2**64
    )
    with pytest.raises(consistent.ConsistentError) as scalar:
        jump_hash(bad, 10)
    with pytest.raises(type(scalar.value), match=re.escape(str(scalar.value))):
        jump_hash_many(keys, 10)  # type: ignore[arg-type]


@given(st.lists(UINT64, max_size=20), BUCKETS)
@settings(max_examples=50)
def test_jump_hash_many_takes_any_list_of_uint64_ints(keys: list[int], n: int) -> None:
    # numpy would read [2**63, 5] as floats: a list is converted key by key
    assert jump_hash_many(keys, n).tolist() == [jump_hash(k, n) for k in keys]


def test_a_jumphash_past_2_31_nodes_is_a_limit() -> None:
    class Full(list):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return 2**31 - 1

    ring = JumpHash(["a"])
    ring._nodes = Full(["a"])  # only the length is read before refusing
    with pytest.raises(consistent.LimitExceededError, match="at most 2,147,483,647 nodes"):
        ring._check_new("b", 1)
