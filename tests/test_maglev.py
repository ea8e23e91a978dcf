"""Maglev: the paper's population, exact balance, measured movement, errors."""

from __future__ import annotations

import copy
import math
import pickle
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consistent
from consistent import (
    DuplicateNodeError,
    Maglev,
    MD5Hasher,
    UnknownNodeError,
    XXH3Hasher,
)
from consistent._maglev import is_prime, populate, populate_reference

SMALL_PRIMES = [p for p in range(2, 400) if is_prime(p)]

keys_strategy = st.one_of(
    st.text(max_size=20),
    st.binary(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
)


def names(n: int, prefix: str = "node") -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


def table_names(m: Maglev) -> np.ndarray:
    return np.array(m.nodes, dtype=object)[m._code_table]


# -- primality and the population procedure ----------------------------------------------


def test_is_prime_matches_trial_division() -> None:
    def slow(n: int) -> bool:
        return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))

    assert [n for n in range(3000) if is_prime(n)] == [n for n in range(3000) if slow(n)]
    assert is_prime(65537) and is_prime(655373) and is_prime(2**31 - 1)
    assert not is_prime(65536) and not is_prime(3215031751)  # strong pseudoprime to 2,3,5,7


def test_paper_example_table() -> None:
    # Eisenbud et al. 2016, section 3.4: three backends, M = 7, permutations
    # B0 = (offset 3, skip 4), B1 = (0, 2), B2 = (3, 1); the table is B1 B0 B1 B0 B2 B2 B0.
    table = populate(np.array([3, 0, 3]), np.array([4, 2, 1]), np.ones(3), 7)
    assert table.tolist() == [1, 0, 1, 0, 2, 2, 0]


@settings(max_examples=60, deadline=None)
@given(
    m=st.sampled_from(SMALL_PRIMES[5:]),
    data=st.data(),
)
def test_population_matches_literal_procedure(m: int, data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=min(m - 1, 40)))
    offsets = data.draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n))
    skips = data.draw(st.lists(st.integers(1, m - 1), min_size=n, max_size=n))
    raw = data.draw(st.lists(st.sampled_from([1.0, 0.5, 0.25, 0.3, 2.0]), min_size=n, max_size=n))
    relative = [w / max(raw) for w in raw]
    fast = populate(np.array(offsets), np.array(skips), np.array(relative), m)
    assert fast.tolist() == populate_reference(offsets, skips, relative, m)


# -- lookups ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(keys_strategy, min_size=1, max_size=30))
def test_scalar_equals_batch(keys: list[object]) -> None:
    m = Maglev(names(7), table_size=101)
    batch = m.lookup_many(keys).tolist()
    assert batch == [m.node_for(k) for k in keys]  # type: ignore[arg-type]
    codes = m.lookup_codes(keys)
    assert codes.dtype == np.int32
    assert [m.nodes[c] for c in codes.tolist()] == batch


def test_scalar_equals_batch_for_numpy_integer_keys() -> None:
    m = Maglev(names(50))
    keys = np.random.default_rng(3).integers(0, 2**64, size=2000, dtype=np.uint64)
    assert m.lookup_many(keys).tolist() == [m.node_for(int(k)) for k in keys]


def test_deterministic_and_independent_of_insertion_order() -> None:
    members = names(30)
    a = Maglev(members)
    b = Maglev(list(reversed(members)))
    c = Maglev()
    for name in members[::2] + members[1::2]:
        c.add(name)
    keys = np.arange(5000, dtype=np.uint64)
    assert (a.lookup_many(keys) == b.lookup_many(keys)).all()
    assert (a.lookup_many(keys) == c.lookup_many(keys)).all()
    assert a.nodes == tuple(members) and b.nodes == tuple(reversed(members))
    for m in (a, b, c):
        m._check()


def test_hash_family_changes_placement_but_stays_consistent() -> None:
    xx = Maglev(names(10), table_size=1009)
    md5 = Maglev(names(10), table_size=1009, hash="md5")
    assert md5.hasher == MD5Hasher()
    assert xx.hasher == XXH3Hasher()
    keys = [f"k{i}" for i in range(500)]
    assert md5.lookup_many(keys).tolist() == [md5.node_for(k) for k in keys]
    assert md5.lookup_many(keys).tolist() != xx.lookup_many(keys).tolist()


def test_nodes_for_is_distinct_home_first() -> None:
    m = Maglev(names(12), table_size=1009)
    for i in range(300):
        key = f"key-{i}"
        pref = m.nodes_for(key, 12)
        assert len(set(pref)) == 12
        assert pref[0] == m.node_for(key)
        assert m.nodes_for(key, 3) == pref[:3]


def test_every_node_owns_an_entry_whatever_its_weight() -> None:
    # Round 1 gives everyone a turn, and M > N, so a tiny weight still owns one entry.
    m = Maglev({"a": 1, "b": 1e-9}, table_size=7)
    assert m.entry_counts() == {"a": 6, "b": 1}
    assert sorted(m.nodes_for("k", 2)) == ["a", "b"]
    m._check()


# -- balance --------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(3, 13), (10, 65537), (1000, 65537)])
def test_equal_weights_share_the_table_within_one_entry(n: int, m: int) -> None:
    maglev = Maglev(names(n), table_size=m)
    counts = np.array(list(maglev.entry_counts().values()))
    assert counts.sum() == m
    assert counts.max() - counts.min() <= 1
    peak_to_mean = counts.max() / counts.mean()
    assert peak_to_mean <= math.ceil(m / n) / (m / n) + 1e-12  # 1.0076 for 1000 / 65537
    ownership = maglev.ownership()
    assert math.isclose(sum(ownership.values()), 1.0)
    assert max(ownership.values()) == counts.max() / m


def test_ownership_is_the_share_of_sampled_keys() -> None:
    maglev = Maglev(names(20), table_size=1009)
    keys = np.random.default_rng(0).integers(0, 2**64, size=200_000, dtype=np.uint64)
    sampled = np.bincount(maglev.lookup_codes(keys), minlength=20) / keys.size
    exact = np.array([maglev.ownership()[n] for n in maglev.nodes])
    # Binomial noise: 5 standard deviations of a 1/20 share over 200k keys is 0.0024.
    assert np.abs(sampled - exact).max() < 0.0025


def test_weights_share_the_table_in_proportion() -> None:
    weights = {f"n{i}": float(1 + i % 4) for i in range(100)}
    maglev = Maglev(weights)
    total = sum(weights.values())
    ownership = maglev.ownership()
    # Rounding of the turns: each node is at most one turn (1/M) from its quota.
    for name, weight in weights.items():
        assert abs(ownership[name] - weight / total) <= 1.5 / maglev.table_size
    maglev._check()


# -- movement ---------------------------------------------------------------------------------

# Measured movement ratio (entries whose owner changed / optimal share), one join or leave,
# 5 trials each (see the module docstring): (10, 65537): 1.02-1.03; (100, 65537): 1.54-1.62;
# (1000, 65537): 6.5-7.1. Maglev does not promise minimal disruption; the bounds below sit
# ~20% above the largest measured ratio so that a regression (say, a population order that
# changes with membership) fails, while the paper's non-minimal behaviour passes. A lower
# bound of 1 is exact: the leaving node's entries, or the newcomer's, must change owner.
MOVEMENT_BOUNDS = [(10, 65537, 1.1), (100, 65537, 2.0), (1000, 65537, 8.5)]


@pytest.mark.parametrize(("n", "m", "bound"), MOVEMENT_BOUNDS)
def test_movement_on_join_and_leave_is_bounded(n: int, m: int, bound: float) -> None:
    members = names(n)
    base = Maglev(members, table_size=m)
    before = table_names(base)
    for trial in range(3):
        joined = base.copy()
        joined.add(f"new-{trial}")
        moved = np.count_nonzero(table_names(joined) != before) / m
        newcomer = joined.ownership()[f"new-{trial}"]
        assert moved >= newcomer
        assert 1.0 <= moved / (1 / (n + 1)) < bound

        left = base.copy()
        leaver = members[(trial * 37) % n]
        left.remove(leaver)
        after = table_names(left)
        assert not (after == leaver).any()
        assert (after[before == leaver] != leaver).all()
        moved = np.count_nonzero(after != before) / m
        assert 1.0 <= moved / (1 / n) < bound
        joined._check()
        left._check()
    base._check()


# -- errors and failed mutations ---------------------------------------------------------------


def test_table_size_must_be_prime() -> None:
    with pytest.raises(ValueError, match=r"table_size must be a prime.*got 65536"):
        Maglev(["a"], table_size=65536)
    with pytest.raises(ValueError, match="got 1"):
        Maglev(table_size=1)
    with pytest.raises(TypeError, match="table_size must be a prime int, got float"):
        Maglev(table_size=65537.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got bool"):
        Maglev(table_size=True)


def test_table_size_must_exceed_node_count() -> None:
    with pytest.raises(ValueError, match="larger than the number of nodes, got table_size 5"):
        Maglev(names(5), table_size=5)
    m = Maglev(names(4), table_size=5)
    before = repr(m), m._code_table.copy()
    with pytest.raises(ValueError, match="table_size 5 for 5 nodes"):
        m.add("one-too-many")
    assert (repr(m), m._code_table.tolist()) == (before[0], before[1].tolist())
    m._check()


def test_bad_members_and_failed_mutations_change_nothing() -> None:
    with pytest.raises(TypeError, match="node name must be a str, got int"):
        Maglev([1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable of names"):
        Maglev("abc")
    with pytest.raises(DuplicateNodeError, match="'a' is already a member"):
        Maglev(["a", "a"])
    with pytest.raises(ValueError, match="weight must be a positive number, got -1 for node 'a'"):
        Maglev({"a": -1})
    m = Maglev({"a": 1, "b": 2}, table_size=101)
    snapshot = (repr(m), m._code_table.tolist(), m.nodes)
    with pytest.raises(DuplicateNodeError, match="'a' is already a member"):
        m.add("a")
    with pytest.raises(ValueError, match="got 0 for node 'c'"):
        m.add("c", weight=0)
    with pytest.raises(ValueError, match="got nan for node 'c'"):
        m.add("c", weight=float("nan"))
    with pytest.raises(TypeError, match="weight must be a positive number, got str"):
        m.add("c", weight="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="node name must be a str"):
        m.add(b"c")  # type: ignore[arg-type]
    with pytest.raises(UnknownNodeError, match="'zz' is not a member"):
        m.remove("zz")
    with pytest.raises(UnknownNodeError):
        m.weight("zz")
    with pytest.raises(ValueError, match="n must be an int between 1 and 2"):
        m.nodes_for("k", 3)
    with pytest.raises(ValueError, match="got 0"):
        m.nodes_for("k", 0)
    assert (repr(m), m._code_table.tolist(), m.nodes) == snapshot
    m._check()


def test_repr_is_valid_python() -> None:
    for m in (
        Maglev(["a", "b"], table_size=13),
        Maglev({"a": 1, "b": 2.5}, table_size=13),
        Maglev(["x"], table_size=7, hash="md5"),
        Maglev(),
    ):
        clone = eval(repr(m), {"Maglev": Maglev, "MD5Hasher": MD5Hasher})
        assert repr(clone) == repr(m)
        assert clone._code_table.tolist() == m._code_table.tolist()


def test_sizeof_counts_four_bytes_per_entry_and_the_books() -> None:
    small = Maglev(names(3))
    assert 4 * 65537 <= sys.getsizeof(small) < 4 * 65537 + 4_000
    big = Maglev(names(1_000), table_size=10_007)
    assert 4 * 10_007 + 1_000 * 100 <= sys.getsizeof(big) < 4 * 10_007 + 1_000 * 400
    assert sys.getsizeof(Maglev()) < 1_000


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(keys_strategy, min_size=1, max_size=30))
def test_scalar_lookups_read_the_batch_table(keys: list[object]) -> None:
    m = Maglev({**dict.fromkeys(names(5), 1.0), "heavy": 3.0}, table_size=101)
    homes = [m.node_for(k) for k in keys]  # type: ignore[arg-type]
    entries = [m.hasher.hash_key(k) % 101 for k in keys]  # type: ignore[arg-type]
    assert homes == [m.nodes[int(m._code_table[e])] for e in entries]
    assert m.lookup_many(keys).tolist() == homes
    assert [m.nodes_for(k, 1)[0] for k in keys] == homes  # type: ignore[arg-type]


def test_pickle_and_deepcopy_keep_one_table() -> None:
    m = Maglev({"a": 1, "b": 2, "c": 1}, table_size=101)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        clone._check()
        assert (
            clone.lookup_many(list(range(300))).tolist() == m.lookup_many(list(range(300))).tolist()
        )
        assert [clone.node_for(k) for k in range(300)] == [m.node_for(k) for k in range(300)]
        clone.add("d")
        clone._check()
    assert m.nodes == ("a", "b", "c")


@pytest.mark.parametrize("table_size", [2**31 - 1, Maglev.MAX_TABLE_SIZE + 1, 10**40])
def test_a_table_past_the_limit_is_refused_before_allocating(table_size: int) -> None:
    with pytest.raises(consistent.LimitExceededError, match=r"Maglev\.MAX_TABLE_SIZE") as caught:
        Maglev(["a"], table_size=table_size)
    assert isinstance(caught.value, ValueError)
    assert Maglev.MAX_TABLE_SIZE == 2**22


def test_refusals_are_consistent_errors() -> None:
    for call, builtin in (
        (lambda: Maglev(["a"], table_size=65536), ValueError),  # not prime
        (lambda: Maglev(["a"], table_size=1.5), TypeError),
        (lambda: Maglev(["a", "b"], table_size=2), ValueError),  # no room
    ):
        with pytest.raises(consistent.ConsistentError) as caught:
            call()
        assert isinstance(caught.value, builtin)
