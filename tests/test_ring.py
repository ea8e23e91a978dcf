"""HashRing: properties against theory and against the reference ring."""

from __future__ import annotations

import math
import pickle
import random
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_ring import ReferenceKetama, ReferenceRing

from consistent import (
    ConsistentError,
    DuplicateNodeError,
    EmptyRingError,
    HashRing,
    InvalidArgumentError,
    JumpHash,
    KeyHasher,
    LimitExceededError,
    MD5Hasher,
    UnknownNodeError,
    XXH3Hasher,
    movement,
)

names = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
node_sets = st.lists(names, min_size=1, max_size=8, unique=True)
keys = st.one_of(st.text(max_size=12), st.binary(max_size=12), st.integers(-(2**63), 2**64 - 1))
INT_KEYS = np.arange(20_000, dtype=np.uint64)


class TinyHasher(KeyHasher):
    """xxh3 squeezed into 8 bits: collisions between points are the rule, not the exception."""

    family = "tiny"

    def hash_bytes(self, data: bytes) -> int:
        return XXH3Hasher().hash_bytes(data) & 0xFF

    def __repr__(self) -> str:
        return "TinyHasher()"


def state(ring: HashRing) -> tuple:
    return (repr(ring), ring.points.tolist(), ring.lookup_many(INT_KEYS[:500]).tolist())


@given(nodes=node_sets, vnodes=st.integers(1, 40), batch=st.lists(keys, max_size=25))
@settings(max_examples=60, deadline=None)
def test_matches_reference_ring(nodes, vnodes, batch):
    ring = HashRing(nodes, vnodes=vnodes)
    ref = ReferenceRing(vnodes)
    ref.weights = dict.fromkeys(nodes, 1.0)
    ring._check()
    for key in batch:
        assert ring.node_for(key) == ref.node_for(key)
        assert ring.nodes_for(key, len(nodes)) == ref.preference(key)
    assert ring.lookup_many(batch).tolist() == [ring.node_for(k) for k in batch]
    assert ring.owned_arcs() == ref.owned()


@given(nodes=node_sets, batch=st.lists(keys, min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_scalar_equals_batch_for_every_key_type(nodes, batch):
    ring = HashRing(nodes, vnodes=8)
    homes = [ring.node_for(k) for k in batch]
    assert ring.lookup_many(batch).tolist() == homes
    assert [ring.nodes[c] for c in ring.lookup_codes(batch)] == homes
    ints = [k for k in batch if isinstance(k, int)]
    if ints:
        arr = np.array([k % 2**64 for k in ints], dtype=np.uint64)
        assert ring.lookup_many(arr).tolist() == [ring.node_for(k) for k in ints]


@given(nodes=node_sets, newcomer=names)
@settings(max_examples=40, deadline=None)
def test_adding_a_node_moves_keys_only_onto_it(nodes, newcomer):
    if newcomer in nodes:
        return
    before = HashRing(nodes, vnodes=20)
    after = before.copy()
    after.add(newcomer)
    a, b = before.lookup_many(INT_KEYS), after.lookup_many(INT_KEYS)
    moved = a != b
    assert set(b[moved].tolist()) <= {newcomer}
    # The exact arc computation agrees with the newcomer's share and with sampling.
    exact = before.movement_to(after)
    assert exact == pytest.approx(after.ownership()[newcomer], abs=1e-15)
    assert moved.mean() == pytest.approx(exact, abs=5 * math.sqrt(exact / INT_KEYS.size) + 1e-3)


@given(nodes=st.lists(names, min_size=2, max_size=8, unique=True), data=st.data())
@settings(max_examples=40, deadline=None)
def test_removing_a_node_moves_only_its_keys(nodes, data):
    leaving = data.draw(st.sampled_from(nodes))
    before = HashRing(nodes, vnodes=20)
    after = before.copy()
    after.remove(leaving)
    a, b = before.lookup_many(INT_KEYS), after.lookup_many(INT_KEYS)
    assert set(a[a != b].tolist()) <= {leaving}
    assert before.movement_to(after) == pytest.approx(before.ownership()[leaving], abs=1e-15)


@given(nodes=st.lists(names, min_size=3, max_size=8, unique=True), key=keys, data=st.data())
@settings(max_examples=50, deadline=None)
def test_preference_lists_are_distinct_and_stable_under_unrelated_removal(nodes, key, data):
    ring = HashRing(nodes, vnodes=10)
    full = ring.nodes_for(key, len(nodes))
    assert len(set(full)) == len(full) == len(nodes)
    assert full[0] == ring.node_for(key)
    assert list(ring.preference(key)) == full
    for n in range(1, len(nodes) + 1):
        assert ring.nodes_for(key, n) == full[:n]
    gone = data.draw(st.sampled_from(nodes))
    ring.remove(gone)
    assert ring.nodes_for(key, len(nodes) - 1) == [x for x in full if x != gone]


@given(nodes=node_sets, seed=st.integers(0, 1000))
@settings(max_examples=30, deadline=None)
def test_insertion_order_does_not_matter(nodes, seed):
    shuffled = list(nodes)
    random.Random(seed).shuffle(shuffled)
    a, b = HashRing(nodes, vnodes=7), HashRing([], vnodes=7)
    for name in shuffled:
        b.add(name)
    assert a.points.tolist() == b.points.tolist()
    assert a.lookup_many(INT_KEYS[:2000]).tolist() == b.lookup_many(INT_KEYS[:2000]).tolist()
    assert a.owned_arcs() == b.owned_arcs()


@given(nodes=node_sets)
@settings(max_examples=30, deadline=None)
def test_ownership_is_exact_and_sums_to_one(nodes):
    ring = HashRing(nodes, vnodes=5)
    assert sum(ring.owned_arcs().values()) == 2**64
    assert math.fsum(ring.ownership().values()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n_nodes", [10, 100])
@pytest.mark.parametrize("vnodes", [40, 160])
def test_balance_within_the_band_theory_predicts(n_nodes, vnodes):
    # A node's share is a sum of `vnodes` spacings of a uniform sample: Gamma(vnodes) scaled,
    # so share / mean has standard deviation ~ 1/sqrt(vnodes). The peak of n such shares lies
    # within mean + z * sd with z = sqrt(2 ln n) + 3 (a loose Gaussian extreme-value bound),
    # and the coefficient of variation near 1/sqrt(vnodes).
    sd = 1 / math.sqrt(vnodes)
    z = math.sqrt(2 * math.log(n_nodes)) + 3
    for trial in range(3):
        ring = HashRing([f"node-{trial}-{i}" for i in range(n_nodes)], vnodes=vnodes)
        shares = np.array(list(ring.ownership().values())) * n_nodes
        assert shares.max() <= 1 + z * sd
        assert 0.5 * sd <= shares.std() <= 1.5 * sd


def test_weights_scale_ownership():
    ring = HashRing({"small": 1, "big": 3}, vnodes=400)
    own = ring.ownership()
    assert ring.point_count("big") == 1200
    assert own["big"] / own["small"] == pytest.approx(3, rel=0.25)
    ring.set_weight("small", 3)
    assert ring.point_count("small") == 1200
    ring._check()


@given(
    nodes=st.lists(names, min_size=2, max_size=6, unique=True),
    w1=st.sampled_from([0.5, 1, 2, 3.25]),
    w2=st.sampled_from([0.25, 1, 1.5, 4]),
    data=st.data(),
)
@settings(max_examples=40, deadline=None)
def test_reweight_moves_keys_only_to_or_from_that_node(nodes, w1, w2, data):
    node = data.draw(st.sampled_from(nodes))
    ring = HashRing({n: (w1 if n == node else 1) for n in nodes}, vnodes=8)
    other = ring.copy()
    other.set_weight(node, w2)
    other._check()
    a, b = ring.lookup_many(INT_KEYS), other.lookup_many(INT_KEYS)
    moved = a != b
    if w2 > w1:
        assert set(b[moved].tolist()) <= {node}
    else:
        assert set(a[moved].tolist()) <= {node}


def test_collisions_are_ordered_by_name_and_removal_keeps_the_survivor():
    hasher = TinyHasher()
    ring = HashRing(["b", "a", "c"], vnodes=40, hash=hasher)  # 120 points in 256 positions
    ring._check()
    pts = ring.points.tolist()
    assert len(set(pts)) < len(pts)  # there really are collisions
    ref = ReferenceRing(40, hasher)
    ref.weights = dict.fromkeys(["a", "b", "c"], 1.0)
    for key in range(300):
        assert ring.node_for(key) == ref.node_for(key)
    ring.remove("a")
    ring._check()
    ref.weights.pop("a")
    for key in range(300):
        assert ring.node_for(key) == ref.node_for(key)
    assert ring.owned_arcs() == ref.owned(2**64)


def test_copy_is_independent_and_pickle_round_trips():
    ring = HashRing({"a": 1, "b": 2}, vnodes=30)
    before = state(ring)
    clone = ring.copy()
    clone.add("c")
    clone.remove("a")
    clone.set_weight("b", 3)
    for _ in range(40):  # enough removals to renumber the clone's slots (_compact)
        clone.add("x")
        clone.remove("x")
    assert state(ring) == before and ring.weight("b") == 2
    ring._check()
    clone._check()
    assert ring.nodes == ("a", "b") and clone.nodes == ("b", "c")
    revived = pickle.loads(pickle.dumps(ring))
    assert revived == ring and state(revived) == state(ring)


@given(nodes=node_sets, vnodes=st.integers(1, 300))
@settings(max_examples=30, deadline=None)
def test_repr_is_valid_python_for_the_same_ring(nodes, vnodes):
    ring = HashRing(dict.fromkeys(nodes, 1.5), vnodes=vnodes, hash="md5")
    rebuilt = eval(
        repr(ring), {"HashRing": HashRing, "XXH3Hasher": XXH3Hasher, "MD5Hasher": MD5Hasher}
    )
    assert rebuilt == ring
    assert state(rebuilt) == state(ring)


def test_memory_per_point_is_small():
    ring = HashRing([f"n{i}" for i in range(200)])
    assert sys.getsizeof(ring) / ring.points.size < 32


# ---------------------------------------------------------------- errors


def test_empty_ring_lookups_raise_empty_ring_error():
    ring = HashRing()
    for call in (
        lambda: ring.node_for("k"),
        lambda: ring.lookup_many(["k"]),
        lambda: ring.lookup_codes([1]),
        lambda: ring.nodes_for("k", 1),
        lambda: ring.preference("k"),
    ):
        with pytest.raises(EmptyRingError):
            call()
    assert issubclass(EmptyRingError, LookupError)
    assert ring.ownership() == {} and len(ring) == 0
    ring.add("a")
    assert ring.node_for("k") == "a"
    ring.remove("a")
    with pytest.raises(EmptyRingError):
        ring.node_for("k")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.add("a"), DuplicateNodeError, "'a' is already"),
        (lambda r: r.remove("zz"), UnknownNodeError, "'zz' is not"),
        (lambda r: r.set_weight("zz", 2), UnknownNodeError, "'zz'"),
        (lambda r: r.add("x", -1), ValueError, "positive number, got -1 for node 'x'"),
        (lambda r: r.add("x", 0), ValueError, "got 0"),
        (lambda r: r.add("x", float("nan")), ValueError, "nan"),
        (lambda r: r.add("x", float("inf")), ValueError, "inf"),
        (lambda r: r.add("x", "2"), TypeError, "str '2'"),
        (lambda r: r.add("x", True), TypeError, "bool"),
        (lambda r: r.add(3), TypeError, "node name must be a str, got int"),
        (lambda r: r.add(""), ValueError, "non-empty"),
        (lambda r: r.set_weight("a", -2), ValueError, "-2"),
        (lambda r: r.nodes_for("k", 0), ValueError, "between 1 and 2, got 0"),
        (lambda r: r.nodes_for("k", 3), ValueError, "got 3"),
        (lambda r: r.nodes_for("k", 1.0), ValueError, "1.0"),
        (lambda r: r.node_for(1.5), TypeError, "float"),
        (lambda r: r.add("\ud800"), ValueError, "node name '\\\\ud800' cannot be used"),
        (lambda r: r.lookup_many("user:42"), TypeError, "got a single str 'user:42'"),
        (lambda r: r.lookup_codes(b"user:42"), TypeError, "got a single bytes"),
        (lambda r: r.add("x", 10**7), LimitExceededError, "HashRing.MAX_POINTS"),
        (lambda r: r.set_weight("a", 1e300), LimitExceededError, "HashRing.MAX_POINTS"),
    ],
)
def test_bad_calls_raise_named_errors_and_change_nothing(call, error, message):
    ring = HashRing({"a": 1, "b": 2}, vnodes=16)
    before = state(ring)
    with pytest.raises(error, match=message) as caught:
        call(ring)
    assert isinstance(caught.value, ConsistentError)  # and the built-in ``error``
    assert state(ring) == before
    ring._check()


@pytest.mark.parametrize(
    "make",
    [
        lambda: HashRing(["a"], vnodes=10**9),
        lambda: HashRing(["a"], vnodes=10**30),
        lambda: HashRing({"a": 1e12}),
        lambda: HashRing({f"n{i}": 1 for i in range(62_501)}),  # 10,000,160 points
    ],
)
def test_more_points_than_the_limit_are_refused_before_allocating(make):
    with pytest.raises(LimitExceededError, match="MAX_POINTS") as caught:
        make()
    assert isinstance(caught.value, ValueError)
    assert HashRing.MAX_POINTS == 10_000_000


@pytest.mark.parametrize("vnodes", [0, -1, 1.5, True, "160"])
def test_bad_vnodes(vnodes):
    message = f"vnodes must be a positive int, got {vnodes!r}"
    with pytest.raises(InvalidArgumentError, match=message):
        HashRing(["a"], vnodes=vnodes)


def test_bad_constructor_arguments():
    with pytest.raises(DuplicateNodeError):
        HashRing(["a", "a"])
    with pytest.raises(TypeError, match="the str 'abc'"):
        HashRing("abc")
    with pytest.raises(ValueError, match="got -1 for node 'b'"):
        HashRing({"a": 1, "b": -1})
    with pytest.raises(ValueError, match="'sha1'"):
        HashRing(["a"], hash="sha1")
    assert issubclass(UnknownNodeError, KeyError) and issubclass(UnknownNodeError, ConsistentError)
    assert str(UnknownNodeError("node 'x' is not in the ring")) == "node 'x' is not in the ring"


def test_movement_helpers_refuse_mismatched_rings():
    with pytest.raises(ValueError, match="same way"):
        HashRing(["a"]).movement_to(HashRing(["a"], hash="md5"))
    with pytest.raises(EmptyRingError):
        HashRing(["a"]).movement_to(HashRing())
    a, b = HashRing(["a", "b"]), HashRing(["a", "b", "c"])
    assert movement(a, b) == pytest.approx(a.movement_to(b), abs=0.01)


# ---------------------------------------------------------------- ketama


@pytest.mark.parametrize(
    "weights",
    [
        {f"10.0.0.{i}:11211": 1 for i in range(1, 8)},  # 7 equal servers: the float32 case
        {"10.0.1.1:11211": 600, "10.0.1.2:11211": 300, "cache-c:11211": 100},
        {f"host{i}:11211": (i % 4) + 1 for i in range(13)},
    ],
)
def test_ketama_is_byte_for_byte_libketama(weights):
    ring = HashRing.ketama(weights)
    ref = ReferenceKetama(weights)
    ring._check()
    assert {n: ring.point_count(n) for n in weights} == ref.counts
    assert ring.points.tolist() == [p for p, _ in ref.points]
    for i in range(3000):
        key = f"key:{i}"
        assert ring.node_for(key) == ref.node_for(key)
    batch = [f"key:{i}" for i in range(3000)]
    assert ring.lookup_many(batch).tolist() == [ref.node_for(k) for k in batch]


def test_ketama_float32_rounding_matters():
    # In double arithmetic 7 equal servers would get floor(39.999...) = 39 digests each;
    # libketama's single-precision path gives 40, i.e. 160 points.
    assert math.floor((1 / 7) * 40.0 * 7) == 39
    ring = HashRing.ketama([f"s{i}" for i in range(7)])
    assert all(ring.point_count(f"s{i}") == 160 for i in range(7))


def test_ketama_agrees_with_uhashring():
    uhashring = pytest.importorskip("uhashring")
    servers = [f"192.168.0.{i}:11211" for i in range(1, 11)]
    theirs = uhashring.HashRing(nodes=servers, hash_fn="ketama")
    ours = HashRing.ketama(servers)
    for i in range(5000):
        key = f"object-{i}"
        assert ours.node_for(key) == theirs.get_node(key)


def test_ketama_membership_changes_and_repr():
    ring = HashRing.ketama({"a:1": 1, "b:1": 1})
    ring.add("c:1", 2)
    ring._check()
    ref = ReferenceKetama({"a:1": 1, "b:1": 1, "c:1": 2})
    assert ring.points.tolist() == [p for p, _ in ref.points]
    ring.remove("a:1")
    ring._check()
    assert repr(ring) == "HashRing.ketama({'b:1': 1, 'c:1': 2})"
    assert eval(repr(ring), {"HashRing": HashRing}) == ring
    with pytest.raises(ValueError, match="positive integers"):
        ring.add("d:1", 1.5)


@pytest.mark.parametrize("other", [JumpHash(["a"]), "a", None])
def test_movement_to_names_the_other_type_when_it_is_not_a_ring(other: object) -> None:
    with pytest.raises(TypeError, match=f"got {type(other).__name__}.*consistent.movement"):
        HashRing(["a"]).movement_to(other)  # type: ignore[arg-type]


def test_a_tiny_weight_still_gets_one_point_as_documented() -> None:
    ring = HashRing({"a": 1e-9, "b": 1})
    assert ring.point_count("a") == 1 and ring.point_count("b") == 160
    assert ring.ownership()["a"] == pytest.approx(0.0078, abs=0.0001)
    assert "at least one" in (HashRing.__doc__ or "")
