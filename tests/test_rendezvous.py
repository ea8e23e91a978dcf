"""Tests of consistent._rendezvous: weighted rendezvous (HRW) hashing."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

import consistent._rendezvous as rendezvous_module
from consistent import (
    DuplicateNodeError,
    EmptyRingError,
    MD5Hasher,
    Rendezvous,
    UnknownNodeError,
    XXH3Hasher,
)

KEYS = np.random.default_rng(5).integers(0, 2**64, 100_000, dtype=np.uint64)
MIXED_KEYS: list[str | bytes | int] = [
    *(f"user:{i}" for i in range(300)),
    *(f"blob{i}".encode() for i in range(300)),
    *range(-150, 150),
]
WEIGHTS = {"a": 1, "b": 2, "c": 3.5, "d": 0.5, "e": 2}


HASHER = XXH3Hasher()


def naive_home(nodes: dict[str, float], key: object, hasher: XXH3Hasher = HASHER) -> str:
    """The documented rule, spelled out: highest -w/ln(u), then highest draw, then first."""
    h = hasher.hash_key(key)  # type: ignore[arg-type]
    best: tuple[float, int, int] | None = None
    home = ""
    for position, (node, weight) in enumerate(nodes.items()):
        v = xxhash.xxh3_64_intdigest(h.to_bytes(8, "little"), hasher.hash_key(node))
        u = ((v >> 12) + 0.5) / 2**52
        assert 0 < u < 1
        ranked = (-weight / math.log(u), v, -position)
        if best is None or ranked > best:
            best, home = ranked, node
    return home


@pytest.mark.parametrize("spec", [list(WEIGHTS), WEIGHTS])
def test_matches_the_documented_rule(spec: list[str] | dict[str, float]) -> None:
    ring = Rendezvous(spec)
    weights = spec if isinstance(spec, dict) else dict.fromkeys(spec, 1.0)
    assert [ring.node_for(k) for k in MIXED_KEYS] == [naive_home(weights, k) for k in MIXED_KEYS]


@pytest.mark.parametrize("spec", [list(WEIGHTS), WEIGHTS, {"x": 1.0, "y": 1.0 + 1e-15}])
def test_node_for_equals_batch_for_every_key_type(spec: list[str] | dict[str, float]) -> None:
    ring = Rendezvous(spec)
    scalar = [ring.node_for(k) for k in MIXED_KEYS]
    assert ring.lookup_many(MIXED_KEYS).tolist() == scalar
    codes = ring.lookup_codes(MIXED_KEYS)
    assert codes.dtype == np.int32
    assert [ring.nodes[c] for c in codes] == scalar
    assert ring.lookup_many(KEYS[:5000]).tolist() == [
        ring.node_for(k) for k in KEYS[:5000].tolist()
    ]


def test_near_tie_path_gives_the_scalar_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = Rendezvous(WEIGHTS)
    normal = ring.lookup_codes(KEYS[:20_000])
    # With the threshold at 0 every key counts as a near tie and is decided by the scalar rule.
    monkeypatch.setattr(rendezvous_module, "_NEAR_TIE", 0.0)
    assert (ring.lookup_codes(KEYS[:20_000]) == normal).all()


@pytest.mark.parametrize("spec", [list(WEIGHTS), WEIGHTS])
def test_empirical_shares_match_ownership(spec: list[str] | dict[str, float]) -> None:
    ring = Rendezvous(spec)
    counts = np.bincount(ring.lookup_codes(KEYS), minlength=len(ring))
    for node, count in zip(ring.nodes, counts, strict=True):
        p = ring.ownership()[node]
        sigma = math.sqrt(p * (1 - p) / KEYS.size)
        assert abs(count / KEYS.size - p) < 5 * sigma, (node, count, p)


def test_ownership_is_the_weight_share() -> None:
    ring = Rendezvous(WEIGHTS)
    total = sum(WEIGHTS.values())
    assert ring.ownership() == pytest.approx({n: w / total for n, w in WEIGHTS.items()})
    assert math.fsum(ring.ownership().values()) == pytest.approx(1)
    assert Rendezvous().ownership() == {}


@pytest.mark.parametrize("spec", [list(WEIGHTS), WEIGHTS])
def test_join_and_leave_move_minimal_keys(spec: list[str] | dict[str, float]) -> None:
    ring = Rendezvous(spec)
    before = ring.lookup_many(KEYS)
    ring.add("new", weight=3)
    after = ring.lookup_many(KEYS)
    moved = before != after
    assert (after[moved] == "new").all()
    # the newcomer's expected share: 3 / (total + 3)
    p = ring.ownership()["new"]
    assert abs(moved.mean() - p) < 5 * math.sqrt(p * (1 - p) / KEYS.size)
    ring.remove("b")
    final = ring.lookup_many(KEYS)
    moved = after != final
    assert (after[moved] == "b").all()
    ring.remove("new")
    ring.add("b", weight=WEIGHTS["b"] if isinstance(spec, dict) else 1)
    assert sorted(ring.lookup_many(KEYS[:2000]).tolist()) == sorted(before[:2000].tolist())


@settings(max_examples=40)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=5),
        st.floats(min_value=0.01, max_value=100),
        min_size=1,
        max_size=8,
    ),
    st.lists(st.integers(min_value=-(2**63), max_value=2**64 - 1), min_size=1, max_size=50),
)
def test_scalar_equals_batch_property(weights: dict[str, float], keys: list[int]) -> None:
    ring = Rendezvous(weights)
    ring._check()
    assert ring.lookup_many(keys).tolist() == [ring.node_for(k) for k in keys]
    for key in keys[:5]:
        prefs = ring.nodes_for(key, len(ring))
        assert prefs[0] == ring.node_for(key)
        assert sorted(prefs) == sorted(weights)


def test_nodes_for_is_top_n_and_the_failover_order() -> None:
    ring = Rendezvous(WEIGHTS)
    for key in range(100):
        prefs = ring.nodes_for(key, 5)
        assert len(set(prefs)) == 5 and prefs[0] == ring.node_for(key)
        assert ring.nodes_for(key, 2) == prefs[:2]
        survivor = Rendezvous({n: w for n, w in WEIGHTS.items() if n != prefs[0]})
        assert survivor.node_for(key) == prefs[1]


def test_draws_are_xxh3_of_the_key_hash_seeded_with_the_node_hash() -> None:
    ring = Rendezvous(["a", "b"])
    h = XXH3Hasher().hash_key("k")
    seeds = [XXH3Hasher().hash_key(n) for n in ("a", "b")]
    assert ring._draws("k") == [xxhash.xxh3_64_intdigest(h.to_bytes(8, "little"), s) for s in seeds]


def test_golden_placement() -> None:
    ring = Rendezvous({"a": 1, "b": 2, "c": 3})
    assert [ring.node_for(f"user:{k}") for k in range(8)] == list("cbcbcccc")
    uniform = Rendezvous(["a", "b", "c"])
    assert [uniform.node_for(f"user:{k}") for k in range(8)] == list("cbabacca")


def test_other_hash_family() -> None:
    ring = Rendezvous(["a", "b", "c"], hash="md5")
    assert ring.hasher == MD5Hasher()
    assert ring.lookup_many(MIXED_KEYS).tolist() == [ring.node_for(k) for k in MIXED_KEYS]
    assert repr(ring) == "Rendezvous(['a', 'b', 'c'], hash=MD5Hasher())"


def test_membership_weights_and_repr() -> None:
    ring = Rendezvous(WEIGHTS)
    assert ring.nodes == tuple(WEIGHTS) and len(ring) == 5
    assert "a" in ring and "z" not in ring and 1 not in ring
    assert ring.weights == {n: float(w) for n, w in WEIGHTS.items()}
    assert repr(ring) == "Rendezvous({'a': 1.0, 'b': 2.0, 'c': 3.5, 'd': 0.5, 'e': 2.0})"
    assert eval(repr(ring)).weights == ring.weights
    assert repr(Rendezvous(["x", "y"])) == "Rendezvous(['x', 'y'])"
    assert repr(Rendezvous({"x": 2, "y": 2})) == "Rendezvous({'x': 2.0, 'y': 2.0})"
    ring._check()


def snapshot(ring: Rendezvous) -> tuple[object, ...]:
    return (ring.nodes, ring.weights, repr(ring), ring.lookup_many(list(range(500))).tolist())


@pytest.mark.parametrize(
    ("mutation", "error", "fragment"),
    [
        (lambda r: r.add("x", weight=0), ValueError, "got 0 for node 'x'"),
        (lambda r: r.add("x", weight=-1), ValueError, "got -1 for node 'x'"),
        (lambda r: r.add("x", weight=math.nan), ValueError, "nan"),
        (lambda r: r.add("x", weight=math.inf), ValueError, "inf"),
        (lambda r: r.add("x", weight="2"), TypeError, "str"),
        (lambda r: r.add("x", weight=True), TypeError, "bool"),
        (lambda r: r.add(7), TypeError, "int"),
        (lambda r: r.add("a"), DuplicateNodeError, "'a'"),
        (lambda r: r.remove("zz"), UnknownNodeError, "'zz'"),
        (lambda r: r.remove(None), TypeError, "NoneType"),
    ],
)
def test_failed_mutation_changes_nothing(
    mutation: Callable[[Rendezvous], object], error: type[Exception], fragment: str
) -> None:
    ring = Rendezvous(WEIGHTS)
    before = snapshot(ring)
    with pytest.raises(error, match=fragment):
        mutation(ring)
    assert snapshot(ring) == before
    ring._check()


def test_empty_and_bad_arguments() -> None:
    ring = Rendezvous()
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
    with pytest.raises(TypeError, match="str"):
        Rendezvous("abc")
    with pytest.raises(DuplicateNodeError):
        Rendezvous(["a", "a"])
    with pytest.raises(ValueError, match="for node 'b'"):
        Rendezvous({"a": 1, "b": -2})


def test_many_nodes_use_small_key_blocks() -> None:
    ring = Rendezvous([f"n{i}" for i in range(300)])
    keys = KEYS[:3000]
    assert ring.lookup_many(keys).tolist() == [ring.node_for(k) for k in keys.tolist()]


def test_copy_is_independent_and_equal() -> None:
    ring = Rendezvous(WEIGHTS)
    clone = ring.copy()
    assert clone == ring and clone is not ring
    clone.add("z", weight=9)
    clone.remove("a")
    assert ring.nodes == tuple(WEIGHTS) and ring.weights["a"] == 1
    assert ring != clone and ring != Rendezvous(list(WEIGHTS))
    ring._check()
    clone._check()
    assert ring.lookup_many(KEYS[:500]).tolist() == [ring.node_for(k) for k in KEYS[:500].tolist()]


@pytest.mark.parametrize(
    ("members", "error"),
    [
        (["a", "b", "a", 3], DuplicateNodeError),
        (["a", 3, "a"], TypeError),
        ({"a": 1, "b": -1, "c": "x"}, ValueError),
        ({"a": 1, "b": "x", "c": -1}, TypeError),
    ],
)
def test_constructor_refuses_like_adding_one_by_one(
    members: list[object] | dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error) as from_constructor:
        Rendezvous(members)  # type: ignore[arg-type]
    ring = Rendezvous()
    pairs = members.items() if isinstance(members, dict) else [(m, 1) for m in members]
    with pytest.raises(error) as from_add:
        for node, weight in pairs:
            ring.add(node, weight)  # type: ignore[arg-type]
    assert str(from_constructor.value) == str(from_add.value)


@pytest.mark.parametrize("spec", [[f"node-{i}" for i in range(300)], WEIGHTS])
def test_construction_equals_adding_one_by_one(spec: list[str] | dict[str, float]) -> None:
    built, grown = Rendezvous(spec), Rendezvous()
    for node, weight in spec.items() if isinstance(spec, dict) else [(n, 1) for n in spec]:
        grown.add(node, weight)
    built._check()
    grown._check()
    assert built == grown
    assert (built.lookup_codes(KEYS[:5_000]) == grown.lookup_codes(KEYS[:5_000])).all()
    assert [built.node_for(k) for k in MIXED_KEYS] == [grown.node_for(k) for k in MIXED_KEYS]


def test_changes_keep_lookups_equal_to_a_fresh_instance() -> None:
    """add/remove update the arrays and drop the weight groups; scalar (weighted and
    uniform) and batch lookups must then agree with an instance built from scratch."""
    rng = np.random.default_rng(3)
    ring = Rendezvous()
    for step in range(120):
        if len(ring) > 1 and rng.random() < 0.4:
            ring.remove(ring.nodes[int(rng.integers(len(ring)))])
        else:
            ring.add(f"n{step}", float(rng.choice([1.0, 1.0, 2.0, 0.5])))
        if step % 10 == 0:
            ring._check()
            fresh = Rendezvous(ring.weights)
            assert (ring.lookup_codes(KEYS[:3_000]) == fresh.lookup_codes(KEYS[:3_000])).all()
            assert [ring.node_for(k) for k in MIXED_KEYS] == [fresh.node_for(k) for k in MIXED_KEYS]
    uniform = Rendezvous({"a": 2, "b": 1})
    uniform.remove("a")
    uniform.add("c", 1)
    uniform._check()
    assert uniform._uniform
    assert [uniform.node_for(k) for k in MIXED_KEYS] == [
        Rendezvous(["b", "c"]).node_for(k) for k in MIXED_KEYS
    ]
