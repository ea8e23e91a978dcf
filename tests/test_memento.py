"""Tests of consistent._memento: MementoHash."""

from __future__ import annotations

import random
from collections.abc import Callable
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest

import consistent
from consistent import (
    DuplicateNodeError,
    EmptyRingError,
    JumpHash,
    MD5Hasher,
    MementoHash,
    UnknownNodeError,
    UnsupportedOperationError,
)

NODES = [f"node-{i}" for i in range(12)]
KEYS = np.random.default_rng(7).integers(0, 2**64, 60_000, dtype=np.uint64)
MIXED_KEYS: list[str | bytes | int] = [
    *(f"user:{i}" for i in range(300)),
    *(f"blob{i}".encode() for i in range(300)),
    *range(-150, 150),
]


def homes(ring: MementoHash, keys: npt.NDArray[np.uint64] = KEYS) -> npt.NDArray[np.object_]:
    return ring.lookup_many(keys)


def test_without_removals_it_is_jump_hash() -> None:
    memento, jump = MementoHash(NODES), JumpHash(NODES)
    assert (homes(memento) == jump.lookup_many(KEYS)).all()
    assert [memento.node_for(k) for k in MIXED_KEYS] == [jump.node_for(k) for k in MIXED_KEYS]
    assert memento.removed_buckets == 0


def test_removing_any_node_moves_only_its_keys_evenly() -> None:
    for victim in ("node-0", "node-5", "node-11"):
        ring = MementoHash(NODES)
        before = homes(ring)
        ring.remove(victim)
        ring._check()
        after = homes(ring)
        moved = before != after
        assert (before[moved] == victim).all()
        assert not (after == victim).any()
        # the victim's keys spread over the 11 others: each gets about 1/11 of them
        counts = np.unique(after[moved], return_counts=True)[1]
        share = moved.sum() / 11
        sigma = (moved.sum() * (1 / 11) * (10 / 11)) ** 0.5
        assert len(counts) == 11 and np.abs(counts - share).max() < 5 * sigma


def test_balance_after_many_removals() -> None:
    ring = MementoHash([f"n{i}" for i in range(40)])
    rng = random.Random(1)
    for node in rng.sample(ring.nodes, 25):
        ring.remove(node)
    ring._check()
    assert ring.removed_buckets == 25 and len(ring) == 15
    counts = np.bincount(ring.lookup_codes(KEYS), minlength=15)
    sigma = (KEYS.size * (1 / 15) * (14 / 15)) ** 0.5
    assert np.abs(counts - KEYS.size / 15).max() < 5 * sigma
    assert ring.ownership() == dict.fromkeys(ring.nodes, 1 / 15)


def test_scalar_equals_batch_with_removals_for_every_key_type() -> None:
    ring = MementoHash(NODES)
    for node in ("node-3", "node-7", "node-0", "node-11"):
        ring.remove(node)
    ring.add("late")
    scalar = [ring.node_for(k) for k in MIXED_KEYS]
    assert ring.lookup_many(MIXED_KEYS).tolist() == scalar
    assert [ring.nodes[c] for c in ring.lookup_codes(MIXED_KEYS)] == scalar
    big = homes(ring)
    assert big[:3000].tolist() == [ring.node_for(k) for k in KEYS[:3000].tolist()]


def test_add_after_remove_restores_the_placement() -> None:
    ring = MementoHash(NODES)
    original = homes(ring)
    ring.remove("node-4")
    ring.add("replacement")
    assert (homes(ring) == np.where(original == "node-4", "replacement", original)).all()


def test_buckets_are_reused_last_in_first_out() -> None:
    ring = MementoHash(NODES)
    states = [homes(ring)]
    for node in ("node-2", "node-9", "node-5"):
        ring.remove(node)
        states.append(homes(ring))
    assert ring.removed_buckets == 3
    # each add undoes the most recent remaining removal, the newcomer inheriting its keys
    for newcomer, victim, state in zip(
        ("x", "y", "z"), ("node-5", "node-9", "node-2"), reversed(states[:-1]), strict=True
    ):
        ring.add(newcomer)
        ring._check()
        expected = state.copy()
        for renamed, old in (("x", "node-5"), ("y", "node-9"), ("z", "node-2")):
            expected[expected == old] = renamed
            if old == victim:
                break
        assert (homes(ring) == expected).all()
    assert ring.removed_buckets == 0


def test_join_moves_keys_only_to_the_new_node() -> None:
    ring = MementoHash(NODES)
    ring.remove("node-1")
    ring.remove("node-6")
    for newcomer in ("p", "q", "r"):  # two restores, then a brand new bucket
        before = homes(ring)
        ring.add(newcomer)
        after = homes(ring)
        moved = before != after
        assert (after[moved] == newcomer).all()


def test_removing_the_last_bucket_needs_no_memory() -> None:
    ring = MementoHash(NODES)
    ring.remove("node-11")
    ring.remove("node-10")
    assert ring.removed_buckets == 0
    assert (homes(ring) == JumpHash(NODES[:10]).lookup_many(KEYS)).all()


def test_remove_everything_then_rebuild() -> None:
    ring = MementoHash(["a", "b", "c"])
    before = homes(ring)
    for node in ("b", "a", "c"):
        ring.remove(node)
        ring._check()
    with pytest.raises(EmptyRingError):
        ring.node_for("k")
    for node in ("c2", "a2", "b2"):
        ring.add(node)
        ring._check()
    renamed = {"a": "a2", "b": "b2", "c": "c2"}
    assert homes(ring).tolist() == [renamed[h] for h in before.tolist()]


def test_nodes_for_is_the_failover_order() -> None:
    ring = MementoHash(NODES)
    ring.remove("node-3")
    ring.remove("node-8")
    for key in range(60):
        prefs = ring.nodes_for(key, 4)
        assert prefs[0] == ring.node_for(key)
        assert len(set(prefs)) == 4
        assert ring.nodes_for(key, len(ring))[:4] == prefs
        survivor = MementoHash(NODES)
        survivor.remove("node-3")
        survivor.remove("node-8")
        for gone, expected_next in pairwise(prefs):
            survivor.remove(gone)
            assert survivor.node_for(key) == expected_next
    assert ring.nodes_for("k", 1) == [ring.node_for("k")]


def test_golden_placement() -> None:
    # Keys whose jump bucket was node-2's: pins the rehash (XXH3 of the key hash, seeded
    # with the bucket) that MementoHash uses to move them.
    keys = ["user:7", "user:28", "user:44", "user:48"]
    assert {JumpHash(NODES).node_for(k) for k in keys} == {"node-2"}
    ring = MementoHash(NODES)
    ring.remove("node-2")
    assert [ring.node_for(k) for k in keys] == ["node-1", "node-11", "node-6", "node-4"]
    assert ring.lookup_many(keys).tolist() == ["node-1", "node-11", "node-6", "node-4"]


def test_membership_and_repr() -> None:
    ring = MementoHash(["a", "b", "c"])
    ring.remove("a")
    ring.add("d")
    assert ring.nodes == ("b", "c", "d") and len(ring) == 3
    assert "d" in ring and "a" not in ring and None not in ring
    assert (
        repr(ring) == "MementoHash.from_state(['d', 'b', 'c'], removed=[], nodes=['b', 'c', 'd'])"
    )
    assert eval(repr(ring)).nodes == ring.nodes
    assert repr(MementoHash(["a"], hash="md5")) == "MementoHash(['a'], hash=MD5Hasher())"
    assert MementoHash().ownership() == {}


def snapshot(ring: MementoHash) -> tuple[object, ...]:
    return (
        ring.nodes,
        ring.removed_buckets,
        repr(ring),
        ring.lookup_many(list(range(500))).tolist(),
    )


@pytest.mark.parametrize(
    ("mutation", "error", "fragment"),
    [
        (lambda r: r.remove("zz"), UnknownNodeError, "'zz'"),
        (lambda r: r.remove("a"), UnknownNodeError, "'a'"),  # already removed
        (lambda r: r.remove(3), TypeError, "int"),
        (lambda r: r.add("b"), DuplicateNodeError, "'b'"),
        (lambda r: r.add(None), TypeError, "NoneType"),
        (lambda r: r.add("x", weight=0.5), UnsupportedOperationError, "0.5 for node 'x'"),
        (lambda r: r.add("x", weight=None), TypeError, "NoneType"),
    ],
)
def test_failed_mutation_changes_nothing(
    mutation: Callable[[MementoHash], object], error: type[Exception], fragment: str
) -> None:
    ring = MementoHash(["a", "b", "c", "d"])
    ring.remove("a")
    before = snapshot(ring)
    with pytest.raises(error, match=fragment):
        mutation(ring)
    assert snapshot(ring) == before
    ring._check()


def test_empty_and_bad_arguments() -> None:
    ring = MementoHash()
    for call in (
        lambda: ring.node_for("k"),
        lambda: ring.nodes_for("k", 1),
        lambda: ring.lookup_many([1]),
        lambda: ring.lookup_codes([1]),
    ):
        with pytest.raises(EmptyRingError):
            call()
    ring.add("a")
    with pytest.raises(ValueError, match="got 2"):
        ring.nodes_for("k", 2)
    with pytest.raises(TypeError, match="list"):
        ring.node_for([1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        MementoHash("ab")


def test_check_detects_corruption() -> None:
    ring = MementoHash(["a", "b", "c"])
    ring.remove("a")
    ring._table[0] = (5, 3)  # wrong replacer
    with pytest.raises(AssertionError):
        ring._check()


def test_repr_reproduces_the_state_after_removals() -> None:
    ring = MementoHash(NODES)
    for node in ("node-4", "node-11", "node-0"):
        ring.remove(node)
    ring.add("late")
    text = repr(ring)
    assert text.startswith("MementoHash.from_state(")
    rebuilt = eval(text)
    rebuilt._check()
    assert rebuilt == ring and rebuilt.nodes == ring.nodes
    assert (homes(rebuilt) == homes(ring)).all()
    md5 = MementoHash(["a", "b"], hash="md5")
    md5.remove("a")
    assert repr(md5) == "MementoHash.from_state([None, 'b'], removed=[0], hash=MD5Hasher())"
    assert eval(repr(md5)) == md5
    assert eval(repr(md5)).hasher == MD5Hasher()


@pytest.mark.parametrize(
    ("args", "error", "fragment"),
    [
        ((["a", None], []), ValueError, r"empty buckets \[1\]"),
        ((["a", None, None], [1]), ValueError, r"got \[1\]"),
        ((["a", "a"], []), DuplicateNodeError, "'a'"),
        ((["a", 3], []), TypeError, "int"),
        ((["a", "b"], [], ["a"]), ValueError, "nodes must list"),
        ((["a", "b"], [], ["a", "a"]), ValueError, "nodes must list"),
    ],
)
def test_from_state_rejects_inconsistent_states(
    args: tuple[object, ...], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment) as caught:
        MementoHash.from_state(*args)  # type: ignore[arg-type]
    assert isinstance(caught.value, consistent.ConsistentError)


def test_copy_is_independent_and_equal() -> None:
    ring = MementoHash(NODES)
    ring.remove("node-5")
    clone = ring.copy()
    assert clone == ring and clone is not ring
    clone.remove("node-6")
    clone.add("x")
    clone.add("y")
    assert ring.nodes == tuple(n for n in NODES if n != "node-5")
    assert ring.removed_buckets == 1 and clone.removed_buckets == 0
    assert ring != clone
    ring._check()
    clone._check()
    assert homes(ring)[:300].tolist() == [ring.node_for(k) for k in KEYS[:300].tolist()]


def test_in_place_caches_match_a_rebuilt_ring_and_copies_stay_apart() -> None:
    """add/remove update the batch caches in place; a ring rebuilt from its repr has
    caches built from scratch, so the two must agree after any sequence of changes."""
    rng = random.Random(5)
    ring = MementoHash(NODES)
    copies = []
    for step in range(300):
        if len(ring) > 1 and rng.random() < 0.5:
            ring.remove(rng.choice(ring.nodes))
        else:
            ring.add(f"new-{step}")
        if step % 50 == 0:
            copies.append((ring.copy(), ring.lookup_codes(KEYS[:2_000]), ring.nodes))
        ring._check()
        rebuilt = eval(repr(ring), {"MementoHash": MementoHash})  # our own repr
        assert rebuilt == ring
        assert (ring.lookup_codes(KEYS[:2_000]) == rebuilt.lookup_codes(KEYS[:2_000])).all()
    for clone, codes, nodes in copies:  # later changes to ring did not reach its copies
        clone._check()
        assert clone.nodes == nodes
        assert (clone.lookup_codes(KEYS[:2_000]) == codes).all()


def test_mapping_weights_other_than_one_are_refused_like_add() -> None:
    with pytest.raises(UnsupportedOperationError, match="got 3 for node 'y'"):
        MementoHash({"x": 1, "y": 3})
    with pytest.raises(TypeError, match="weight must be a number"):
        MementoHash({"x": "1"})
    assert MementoHash({"x": 1, "y": 1.0}) == MementoHash(["x", "y"])
