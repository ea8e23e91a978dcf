"""Every placement algorithm against the Placement protocol's shared guarantees.

Algorithm-specific properties (balance bands, paper vectors, movement bounds) live in each
algorithm's own test module; this one holds what the protocol promises for all of them.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consistent
from consistent import (
    ConsistentError,
    DuplicateNodeError,
    EmptyRingError,
    InvalidArgumentError,
    InvalidTypeError,
    Placement,
    UnknownNodeError,
)

# Option values that keep the structures small, so the suite stays fast; every algorithm
# comes from the registry (consistent.ALGORITHMS) and gets those of its options it takes.
SMALL_OPTIONS: dict[str, Any] = {"vnodes": 20, "table_size": 1009}
# Algorithms whose joins may move keys between old nodes too (Maglev's table and bounded
# loads do not promise minimal joins; their movement is measured in their own tests).
NOT_MINIMAL_ON_JOIN = {"maglev", "bounded"}
KEYS = np.arange(5_000, dtype=np.uint64)
NODES = [f"node-{i}" for i in range(7)]
keys = st.one_of(st.text(max_size=10), st.binary(max_size=10), st.integers(0, 2**64 - 1))
algorithms = pytest.mark.parametrize("name", list(consistent.ALGORITHMS))


def build(name: str, nodes: Iterable[str] = NODES, **kwargs: Any) -> Any:
    cls = consistent.ALGORITHMS[name]
    options = {key: SMALL_OPTIONS[key] for key in cls.options if key in SMALL_OPTIONS}
    return cls(list(nodes), **options, **kwargs)


def snapshot(placement: Any) -> tuple[Any, ...]:
    return (placement.nodes, placement.lookup_codes(KEYS).tolist(), placement.ownership())


@algorithms
def test_implements_the_protocol(name: str) -> None:
    placement = build(name)
    assert isinstance(placement, Placement)
    assert placement.nodes == tuple(NODES) and len(placement) == len(NODES)
    assert "node-3" in placement and "nope" not in placement
    assert type(placement).__name__ in consistent.__all__
    assert type(placement).algorithm == name


@algorithms
def test_empty_placements_raise_empty_ring_error(name: str) -> None:
    placement = build(name, [])
    for call in (
        lambda: placement.node_for("k"),
        lambda: placement.nodes_for("k", 1),
        lambda: placement.lookup_many(["k"]),
        lambda: placement.lookup_codes([1]),
    ):
        with pytest.raises(EmptyRingError):
            call()


@algorithms
@given(batch=st.lists(keys, min_size=1, max_size=30))
@settings(max_examples=25, deadline=None)
def test_scalar_equals_batch_and_codes_index_nodes(name: str, batch: list[Any]) -> None:
    placement = build(name)
    homes = [placement.node_for(k) for k in batch]
    assert placement.lookup_many(batch).tolist() == homes
    assert [placement.nodes[c] for c in placement.lookup_codes(batch)] == homes


@algorithms
@given(key=keys)
@settings(max_examples=25, deadline=None)
def test_preference_lists_are_distinct_prefixes_with_home_first(name: str, key: Any) -> None:
    placement = build(name)
    full = placement.nodes_for(key, len(NODES))
    assert sorted(full) == sorted(NODES)
    assert full[0] == placement.node_for(key)
    for n in (1, 3):
        assert placement.nodes_for(key, n) == full[:n]
    for bad in (0, len(NODES) + 1):
        with pytest.raises(ValueError, match=str(bad)):
            placement.nodes_for(key, bad)


@algorithms
def test_same_members_same_answers(name: str) -> None:
    assert snapshot(build(name)) == snapshot(build(name))


@algorithms
def test_ownership_is_a_distribution_over_the_members(name: str) -> None:
    shares = build(name).ownership()
    assert set(shares) == set(NODES)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(s > 0 for s in shares.values())


@algorithms
@pytest.mark.parametrize(
    ("members", "error"),
    [
        (["a", "b", "a", 3], DuplicateNodeError),
        (["a", 3, "a"], TypeError),
        (["a", b"x"], TypeError),
    ],
)
def test_constructor_refuses_like_adding_one_by_one(
    name: str, members: list[object], error: type[Exception]
) -> None:
    with pytest.raises(error) as from_constructor:
        build(name, members)  # type: ignore[arg-type]
    grown = build(name, [])
    with pytest.raises(error) as from_add:
        for node in members:
            grown.add(node)
    assert str(from_constructor.value) == str(from_add.value)


@algorithms
def test_construction_equals_adding_one_by_one(name: str) -> None:
    names = [f"n{i}" for i in range(60)]
    built, grown = build(name, names), build(name, [])
    for node in names:
        grown.add(node)
    built._check()
    grown._check()
    assert snapshot(built) == snapshot(grown)


@algorithms
def test_failed_mutations_change_nothing(name: str) -> None:
    placement = build(name)
    before = snapshot(placement)
    with pytest.raises(DuplicateNodeError):
        placement.add("node-2")
    with pytest.raises(UnknownNodeError):
        placement.remove("nope")
    with pytest.raises(TypeError):
        placement.add(42)
    assert snapshot(placement) == before
    placement._check()


@algorithms
def test_copies_are_independent(name: str) -> None:
    placement = build(name)
    before = snapshot(placement)
    clone = placement.copy()
    clone.add("extra")
    assert snapshot(placement) == before
    assert "extra" in clone and "extra" not in placement
    clone._check()
    placement._check()


@pytest.mark.parametrize(
    "name", [name for name in consistent.ALGORITHMS if name not in NOT_MINIMAL_ON_JOIN]
)
def test_a_join_moves_keys_only_onto_the_newcomer(name: str) -> None:
    before = build(name)
    after = before.copy()
    after.add("newcomer")
    a, b = before.lookup_many(KEYS), after.lookup_many(KEYS)
    moved = a != b
    assert set(b[moved].tolist()) <= {"newcomer"}
    assert moved.any()


@algorithms
def test_repr_rebuilds_an_equivalent_placement(name: str) -> None:
    placement = build(name)
    namespace = {n: getattr(consistent, n) for n in consistent.__all__}
    rebuilt = eval(repr(placement), namespace)
    assert snapshot(rebuilt) == snapshot(placement)


@algorithms
@pytest.mark.parametrize("hash", [None, "md5", consistent.XXH3Hasher(seed=7)])
def test_repr_survives_a_pickle_round_trip(name: str, hash: object) -> None:
    placement = build(name) if hash is None else build(name, hash=hash)
    assert repr(pickle.loads(pickle.dumps(placement))) == repr(placement)
    if hash is None and name not in ("ring", "bounded"):
        assert "hash=" not in repr(pickle.loads(pickle.dumps(placement)))


@algorithms
def test_a_str_key_without_utf8_encoding_raises_value_error_naming_it(name: str) -> None:
    placement = build(name)
    message = r"str key 'x\\udfff' cannot be hashed: str keys are hashed as their UTF-8"
    with pytest.raises(ValueError, match=message):
        placement.node_for("x\udfff")
    with pytest.raises(ValueError, match=message):
        placement.nodes_for("x\udfff", 2)
    with pytest.raises(ValueError, match=message):
        placement.lookup_many(["ok", "x\udfff"])


# -- errors: every refusal is a ConsistentError and the built-in a caller would catch ----


@algorithms
@pytest.mark.parametrize("batch", ["user:42", b"user:42", bytearray(b"ab")])
def test_a_single_str_or_bytes_is_not_a_batch_of_keys(name: str, batch: Any) -> None:
    placement = build(name)
    for lookup in (placement.lookup_many, placement.lookup_codes):
        with pytest.raises(InvalidTypeError, match=r"got a single .*; pass \[") as caught:
            lookup(batch)
        assert isinstance(caught.value, TypeError)
    assert placement.lookup_many(["user:42"]).tolist() == [placement.node_for("user:42")]


@algorithms
def test_a_node_name_without_utf8_encoding_is_refused_the_same_way_everywhere(name: str) -> None:
    message = r"node name 'x\\ud800' cannot be used: node names are hashed as UTF-8"
    placement = build(name)
    before = snapshot(placement)
    with pytest.raises(InvalidArgumentError, match=message):
        placement.add("x\ud800")
    assert snapshot(placement) == before
    with pytest.raises(InvalidArgumentError, match=message):
        build(name, ["a", "x\ud800"])


@algorithms
def test_bad_arguments_raise_consistent_errors_that_are_also_builtins(name: str) -> None:
    placement = build(name)
    before = snapshot(placement)
    calls: list[tuple[Any, type[Exception]]] = [
        (lambda: placement.add(3), TypeError),
        (lambda: placement.add("x", weight=0), ValueError),
        (lambda: placement.add("x", weight="2"), TypeError),
        (lambda: placement.nodes_for("k", len(NODES) + 2), ValueError),
        (lambda: placement.nodes_for("k", 0), ValueError),
        (lambda: placement.node_for(1.5), TypeError),
        (lambda: placement.node_for(2**64), ValueError),
        (lambda: placement.lookup_many([1.5]), TypeError),
        (lambda: placement.remove("nope"), KeyError),
        (lambda: consistent.ALGORITHMS[name]("abc"), TypeError),
    ]
    for call, builtin in calls:
        with pytest.raises(ConsistentError) as caught:
            call()
        assert isinstance(caught.value, builtin), (caught.value, builtin)
    assert snapshot(placement) == before
    placement._check()
