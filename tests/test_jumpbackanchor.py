"""Tests of consistent._jumpbackanchor: JumpBackAnchorBuckets and JumpBackAnchor.

tests/vectors/jumpbackanchor.json records hash4j's ConsistentJumpBackAnchorBucketSetHasher
operation by operation (see tests/vectors/drivers/README.md); the tests replay each
scenario on JumpBackAnchorBuckets, scalar and batch. A stateful test runs JumpBackAnchor
beside a naive model written from the algorithm's description.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import consistent._jumpbackanchor as jumpbackanchor
from consistent import (
    ALGORITHMS,
    DuplicateNodeError,
    EmptyRingError,
    JumpBackAnchor,
    JumpBackAnchorBuckets,
    LimitExceededError,
    Placement,
    UnknownNodeError,
    hash_key,
    jump_back_hash,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "jumpbackanchor.json").read_text())
PROBES = VECTORS["probe_keys"]
PROBE_ARRAY = np.array(PROBES, dtype=np.uint64)
MASK64 = (1 << 64) - 1


# -- bit compatibility with hash4j, operation for operation ------------------------------------


def replay(engine: JumpBackAnchorBuckets, op: list[Any]) -> None:
    kind = op[0]
    if kind == "add":
        assert engine.add_bucket() == op[1]
    elif kind == "add_many":
        for _ in range(op[1]):
            engine.add_bucket()
    elif kind == "remove":
        assert engine.remove_bucket(op[1]) is op[2]
    elif kind == "lookup":
        assert [engine.bucket(k) for k in PROBES] == op[1]
        assert engine.buckets_many(PROBE_ARRAY).tolist() == op[1]
    elif kind == "lookup_empty":
        with pytest.raises(EmptyRingError):
            engine.bucket(0)
        with pytest.raises(EmptyRingError):
            engine.buckets_many(PROBE_ARRAY)
    elif kind == "buckets":
        assert engine.num_buckets == len(engine) == op[1]
        assert engine.buckets() == op[2]
    elif kind == "num_buckets":
        assert engine.num_buckets == op[1]
    elif kind == "state":
        assert engine.get_state().hex() == op[1]
    elif kind == "set_state":
        engine.set_state(bytes.fromhex(op[1]))
    else:  # pragma: no cover - a vector file this test does not know
        raise AssertionError(f"unknown operation {kind!r}")


@pytest.mark.parametrize("scenario", VECTORS["scenarios"], ids=lambda s: s["name"])
def test_reference_scenarios(scenario: dict[str, Any]) -> None:
    engine = JumpBackAnchorBuckets()
    for step, op in enumerate(scenario["ops"]):
        try:
            replay(engine, op)
        except AssertionError as error:  # pragma: no cover - names the failing step
            raise AssertionError(f"{scenario['name']} step {step}: {op[:2]}") from error
        if engine._historic < 100_000:
            engine._check()


@pytest.mark.parametrize(("state", "verdict"), VECTORS["set_state_verdicts"])
def test_reference_set_state_verdicts(state: str, verdict: str) -> None:
    engine = JumpBackAnchorBuckets.with_buckets(3)
    engine.remove_bucket(1)
    before = engine.get_state()
    if verdict == "refused":
        with pytest.raises(ValueError, match="state"):
            engine.set_state(bytes.fromhex(state))
        assert engine.get_state() == before  # unlike hash4j, nothing changed
    else:
        engine.set_state(bytes.fromhex(state))
        assert verdict == f"accepted {engine.num_buckets}"
        assert engine.get_state().hex() == state


def test_states_hash4j_accepts_but_never_exports_are_refused() -> None:
    # a = 2 with both ids removed: hash4j's setState takes it into an inconsistent instance.
    with pytest.raises(ValueError, match="removes all 2 buckets"):
        JumpBackAnchorBuckets.from_state(bytes.fromhex("020000000000000001000000"))
    with pytest.raises(TypeError, match="state must be bytes"):
        JumpBackAnchorBuckets.from_state("00000000")  # type: ignore[arg-type]


def test_engine_basics() -> None:
    engine = JumpBackAnchorBuckets()
    with pytest.raises(EmptyRingError):
        engine.bucket(1)
    assert [engine.add_bucket() for _ in range(4)] == [0, 1, 2, 3]
    assert engine.remove_bucket(np.int64(2)) is True
    assert engine.remove_bucket(2) is False and engine.remove_bucket(-1) is False
    with pytest.raises(TypeError, match="bucket must be an int"):
        engine.remove_bucket("2")  # type: ignore[arg-type]
    assert engine.bucket(-1) == engine.bucket(MASK64)  # a Java long or its bits
    copy = engine.copy()
    assert (
        copy == engine
        and eval(repr(engine), {"JumpBackAnchorBuckets": JumpBackAnchorBuckets}) == engine
    )
    copy.add_bucket()
    assert copy != engine
    full = JumpBackAnchorBuckets.from_state((2**31 - 1).to_bytes(4, "little"))
    with pytest.raises(LimitExceededError):
        full.add_bucket()
    assert full.num_buckets == 2**31 - 1


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 60),
    removals=st.lists(st.integers(0, 59), max_size=40),
    keys=st.lists(st.integers(0, MASK64), min_size=1, max_size=30),
)
def test_batch_equals_scalar(size: int, removals: list[int], keys: list[int]) -> None:
    engine = JumpBackAnchorBuckets.with_buckets(size)
    for bucket in removals:
        if engine.num_buckets > 1:
            engine.remove_bucket(bucket)
    batch = engine.buckets_many(np.array(keys, dtype=np.uint64))
    assert batch.tolist() == [engine.bucket(k) for k in keys]
    assert set(batch.tolist()) <= set(engine.buckets())


@pytest.mark.parametrize(("size", "removed"), [(1000, 900), (50, 48), (5000, 1500)])
def test_large_batches_equal_scalar(size: int, removed: int) -> None:
    # Enough keys that the vectorised anchor walk runs (small batches finish in Python).
    engine = JumpBackAnchorBuckets.with_buckets(size)
    for bucket in np.random.default_rng(size).permutation(size)[:removed].tolist():
        engine.remove_bucket(bucket)
    keys = np.random.default_rng(removed).integers(0, 2**64, size=30_000, dtype=np.uint64)
    assert engine.buckets_many(keys).tolist() == [engine.bucket(k) for k in keys.tolist()]


def test_lookup_arrays_for_a_huge_id_space() -> None:
    # 2**31 - 1 ids with three removed: the batch path keeps sparse arrays.
    engine = JumpBackAnchorBuckets.from_state(
        np.array([2**31 - 1, 5, 3_000_000, 77], dtype="<i4").tobytes()
    )
    keys = np.random.default_rng(4).integers(0, 2**64, size=20_000, dtype=np.uint64)
    assert engine.buckets_many(keys).tolist() == [engine.bucket(k) for k in keys.tolist()]


def test_balance_after_many_removals() -> None:
    engine = JumpBackAnchorBuckets.with_buckets(1000)
    order = np.random.default_rng(5).permutation(1000)
    for bucket in order[:900].tolist():
        engine.remove_bucket(bucket)
    keys = np.random.default_rng(6).integers(0, 2**64, size=40_000, dtype=np.uint64)
    counts = np.bincount(engine.buckets_many(keys), minlength=1000)
    working = counts[engine.buckets()]
    assert working.sum() == keys.size and working.size == 100
    assert working.min() > 400 - 120 and working.max() < 400 + 120  # 6 sigma
    assert len(engine.get_state()) == 4 * 901


# -- JumpBackAnchor -------------------------------------------------------------------------


def test_named_nodes_follow_the_engine() -> None:
    ring = JumpBackAnchor([f"n{i}" for i in range(20)])
    assert isinstance(ring, Placement) and ALGORITHMS["jumpbackanchor"] is JumpBackAnchor
    for node in ("n3", "n19", "n0", "n7"):
        ring.remove(node)
    ring.add("x")  # takes n7's bucket, the last freed
    engine = ring.buckets
    assert engine.buckets() == [b for b in range(19) if b not in (3, 0)]
    keys = [f"k{i}" for i in range(300)]
    homes = ring.lookup_many(keys).tolist()
    assert homes == [ring.node_for(k) for k in keys]
    by_bucket = {b: name for b, name in enumerate(ring._node_at) if name is not None}
    assert homes == [by_bucket[engine.bucket(hash_key(k))] for k in keys]
    ring._check()


def test_bucket_of_names_the_hash4j_id() -> None:
    ring = JumpBackAnchor(["a", "b", "c"])
    ring.remove("b")
    ring.add("d")  # takes b's id
    assert [ring.bucket_of(n) for n in ring.nodes] == [0, 2, 1]
    engine = ring.buckets
    for key in range(200):
        assert ring.bucket_of(ring.node_for(key)) == engine.bucket(hash_key(key))
    with pytest.raises(UnknownNodeError):
        ring.bucket_of("b")
    with pytest.raises(TypeError):
        ring.bucket_of(1)  # type: ignore[arg-type]


def test_export_and_import() -> None:
    ring = JumpBackAnchor(["a", "b", "c", "d"])
    ring.remove("b")
    ring.remove("d")
    ring.add("e")  # bucket 3
    state = ring.export_state()
    assert state.hex() == "0400000001000000"
    copy = JumpBackAnchor.from_state(state, ["a", "c", "e"])
    assert copy.nodes == ("a", "c", "e") and copy == ring
    other_order = JumpBackAnchor.from_state(state, ["a", "c", "e"], nodes=["e", "a", "c"])
    assert other_order.nodes == ("e", "a", "c") and other_order != ring
    assert (other_order.lookup_many(range(500)) == ring.lookup_many(range(500))).all()
    assert eval(repr(other_order), {"JumpBackAnchor": JumpBackAnchor}) == other_order
    rebuilt = eval(repr(ring), {"JumpBackAnchor": JumpBackAnchor})
    assert rebuilt == ring and rebuilt.nodes == ("a", "c", "e")
    keys = np.arange(5_000, dtype=np.uint64)
    assert (copy.lookup_many(keys) == ring.lookup_many(keys)).all()
    with pytest.raises(ValueError, match="name the 3 working buckets"):
        JumpBackAnchor.from_state(state, ["a", "c"])
    with pytest.raises(ValueError, match="same names"):
        JumpBackAnchor.from_state(state, ["a", "c", "e"], nodes=["a", "c", "z"])


def test_membership_errors_leave_it_unchanged() -> None:
    ring = JumpBackAnchor(["a", "b"])
    before = repr(ring)
    with pytest.raises(DuplicateNodeError):
        ring.add("a")
    with pytest.raises(UnknownNodeError):
        ring.remove("z")
    with pytest.raises(ValueError, match="weight must be 1"):
        ring.add("c", weight=3)
    with pytest.raises(TypeError):
        ring.remove(1)  # type: ignore[arg-type]
    assert repr(ring) == before
    ring.remove("a")
    ring.remove("b")
    assert len(ring) == 0 and ring.export_state().hex() == "00000000"
    with pytest.raises(EmptyRingError):
        ring.node_for("k")
    with pytest.raises(EmptyRingError):
        ring.lookup_codes([1])
    with pytest.raises(EmptyRingError):
        ring.nodes_for("k", 1)
    ring.add("c")
    assert ring.node_for("k") == "c"


def test_preference_lists_predict_removals() -> None:
    ring = JumpBackAnchor([f"n{i}" for i in range(10)])
    ring.remove("n4")
    for key in range(30):
        prefs = ring.nodes_for(key, 9)
        assert len(set(prefs)) == 9 and prefs[0] == ring.node_for(key)
        trial = ring.copy()
        for position in range(8):
            assert trial.node_for(key) == prefs[position]
            trial.remove(prefs[position])
        assert ring.nodes_for(key, 9) == prefs  # the copy did not touch ring


# -- stateful: JumpBackAnchor against a naive model -----------------------------------------


class NaiveGenerator:
    """SplitMix64 as hash4j's SplitMix64V1: state += golden, then mix."""

    def __init__(self, seed: int) -> None:
        self.state = seed

    def next_long(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) % 2**64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        return z ^ (z >> 31)

    def uniform(self, bound: int) -> int:
        threshold = 2**32 % bound
        while True:
            product = (self.next_long() % 2**32) * bound
            if product % 2**32 >= threshold:
                return product >> 32


def naive_jump_back(generator: NaiveGenerator, n: int) -> int:
    """JumpBackHash read off the paper: descend power-of-two ranges from the top."""
    r0 = generator.next_long()
    ranges = ((r0 ^ (r0 >> 32)) % 2**32) % 2 ** (n - 1).bit_length()
    while ranges:
        j = ranges.bit_length() - 1
        half = r0 >> 32 if bin(ranges).count("1") % 2 else r0
        candidate = 2**j + half % 2**j
        if candidate < n:
            return candidate
        while True:
            r1 = generator.next_long()
            for draw in (r1 % 2**32, r1 >> 32):
                candidate = draw % 2 ** (j + 1)
                if candidate < 2**j:
                    break
                if candidate < n:
                    return candidate
            else:
                continue
            break
        ranges -= 2**j
    return 0


class NaiveAnchor:
    """The bucket set with plain per-id lists, every lookup walking them from scratch."""

    def __init__(self) -> None:
        self.size = 0  # ids ever held since empty
        self.stack: list[int] = []
        self.view: list[int] = []  # per id: 0 if working, else the view it left in
        self.target: list[int] = []

    def at_view(self, bucket: int, view: int) -> int:
        while self.view[bucket] >= view:
            bucket = self.target[bucket]
        return bucket

    def add(self) -> int:
        if self.stack:
            bucket = self.stack.pop()
            self.view[bucket] = 0
            return bucket
        self.size += 1
        self.view.append(0)
        self.target.append(0)
        return self.size - 1

    def remove(self, bucket: int) -> None:
        if len(self.stack) == self.size - 1:
            self.__init__()  # type: ignore[misc]
        elif bucket == self.size - 1 and not self.stack:
            self.size -= 1
            self.view.pop()
            self.target.pop()
        else:
            self.stack.append(bucket)
            view = self.size - len(self.stack)
            self.target[bucket] = self.at_view(view, view + 1)
            self.view[bucket] = view

    def bucket(self, key_hash: int) -> int:
        if self.size <= 1:
            return 0
        generator = NaiveGenerator(key_hash)
        bucket = naive_jump_back(generator, self.size)
        while self.view[bucket]:
            view = self.view[bucket]
            bucket = self.at_view(generator.uniform(view), view)
        return bucket


SAMPLE = [f"key-{i}" for i in range(200)]


class JumpBackAnchorMachine(RuleBasedStateMachine):
    """JumpBackAnchor beside NaiveAnchor, plus the movement guarantees on a key sample."""

    def __init__(self) -> None:
        super().__init__()
        self.ring = JumpBackAnchor()
        self.naive = NaiveAnchor()
        self.node_at: dict[int, str] = {}
        self.order: list[str] = []
        self.counter = 0
        self.homes: list[str] | None = None

    def snapshot(self) -> list[str] | None:
        return self.ring.lookup_many(SAMPLE).tolist() if self.order else None

    @rule()
    def add(self) -> None:
        node = f"node-{self.counter}"
        self.counter += 1
        before = self.snapshot()
        self.ring.add(node)
        self.node_at[self.naive.add()] = node
        self.order.append(node)
        after = self.snapshot()
        if before is not None and after is not None:  # keys move only to the newcomer
            assert all(a in (b, node) for a, b in zip(after, before, strict=True))

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        node = data.draw(st.sampled_from(self.order))
        before = self.snapshot()
        self.ring.remove(node)
        bucket = next(b for b, name in self.node_at.items() if name == node)
        self.naive.remove(bucket)
        del self.node_at[bucket]
        self.order.remove(node)
        after = self.snapshot()
        if before is not None and after is not None:  # only the leaver's keys move
            assert all(a == b for a, b in zip(after, before, strict=True) if b != node)

    @precondition(lambda self: self.order)
    @rule(key=st.one_of(st.text(max_size=6), st.integers(0, MASK64)))
    def lookup(self, key: str | int) -> None:
        home = self.node_at[self.naive.bucket(hash_key(key))]
        assert self.ring.node_for(key) == home
        assert self.ring.lookup_many([key]).tolist() == [home]

    @precondition(lambda self: self.order)
    @rule()
    def export_round_trip(self) -> None:
        state = self.ring.export_state()
        assert state[:4] == self.naive.size.to_bytes(4, "little")
        names = [self.node_at[b] for b in sorted(self.node_at)]
        assert JumpBackAnchor.from_state(state, names, nodes=self.order) == self.ring

    @invariant()
    def agrees(self) -> None:
        self.ring._check()
        assert self.ring.nodes == tuple(self.order)
        assert sorted(self.ring.buckets.buckets()) == sorted(self.node_at)
        if self.order and not self.naive.stack:  # nothing removed: JumpBackHash
            bucket = jump_back_hash(hash_key("probe"), self.naive.size)
            assert self.ring.node_for("probe") == self.node_at[bucket]


JumpBackAnchorMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=40, deadline=None
)
TestJumpBackAnchorStateful = JumpBackAnchorMachine.TestCase


def test_vectorised_walk_to_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    # With no scalar tail, the numpy loop itself finishes every key.
    monkeypatch.setattr(jumpbackanchor, "_SCALAR_TAIL", 0)
    engine = JumpBackAnchorBuckets.with_buckets(300)
    for bucket in np.random.default_rng(3).permutation(300)[:280].tolist():
        engine.remove_bucket(bucket)
    keys = np.random.default_rng(4).integers(0, 2**64, size=3_000, dtype=np.uint64)
    assert engine.buckets_many(keys).tolist() == [engine.bucket(k) for k in keys.tolist()]


# -- seeded stress, also a script: python tests/test_jumpbackanchor.py --seed N --steps M ---


def stress(seed: int, steps: int) -> None:
    """Random adds, removals (valid and refused) and lookups on the bucket set against
    NaiveAnchor, with state round trips, invariants and batch lookups as it goes."""
    rng = random.Random(seed)
    engine, naive = JumpBackAnchorBuckets(), NaiveAnchor()
    for step in range(steps):
        working = engine.buckets()
        if not working or (len(working) < 300 and rng.random() < 0.45):
            assert engine.add_bucket() == naive.add()
        else:
            bucket = (
                rng.choice(working) if rng.random() < 0.9 else rng.randrange(-2, naive.size + 2)
            )
            valid = 0 <= bucket < naive.size and naive.view[bucket] == 0
            assert engine.remove_bucket(bucket) is valid
            if valid:
                naive.remove(bucket)
        if engine.num_buckets:
            key = rng.getrandbits(64)
            assert engine.bucket(key) == naive.bucket(key)
        if step % 100 == 0:
            engine._check()
            assert JumpBackAnchorBuckets.from_state(engine.get_state()) == engine
            if engine.num_buckets:
                keys = np.array([rng.getrandbits(64) for _ in range(64)], dtype=np.uint64)
                assert engine.buckets_many(keys).tolist() == [
                    naive.bucket(k) for k in keys.tolist()
                ]


def test_stress_script_runs_a_short_seeded_session() -> None:
    stress(seed=1, steps=1_500)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    stress(args.seed, args.steps)
    print(f"ok: seed={args.seed} steps={args.steps}")
