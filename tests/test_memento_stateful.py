"""MementoHash against a naive model, driven by Hypothesis.

The model keeps the b-array as a plain list of node names (``None`` for a removed bucket)
and the removals as a Python list used as a stack, and looks keys up with a direct,
unoptimised transcription of the paper's algorithm (scalar, per key, no caches). Beside
it, each rule checks the properties a user relies on: a removal moves only the removed
node's keys, a join moves keys only to the new node, and a join right after removals
restores the placement from before the most recent one (last removed, first reused).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import xxhash
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from consistent import MementoHash, XXH3Hasher, jump_hash

KEYS = np.random.default_rng(11).integers(0, 2**64, 3_000, dtype=np.uint64)
HASHER = XXH3Hasher()
KEY_HASHES = [HASHER.hash_key(k) for k in KEYS.tolist()]


class NaiveMemento:
    """The paper's MementoHash, written for clarity rather than speed."""

    def __init__(self) -> None:
        self.b_array: list[str | None] = []
        self.removals: list[tuple[int, int]] = []  # (bucket, replacer), oldest first

    @property
    def working(self) -> list[str]:
        return [node for node in self.b_array if node is not None]

    def add(self, node: str) -> None:
        if self.removals:
            bucket, _ = self.removals.pop()
            self.b_array[bucket] = node
        else:
            self.b_array.append(node)

    def remove(self, node: str) -> None:
        bucket = self.b_array.index(node)
        if not self.removals and bucket == len(self.b_array) - 1:
            self.b_array.pop()
        else:
            self.removals.append((bucket, len(self.working) - 1))
            self.b_array[bucket] = None

    def lookup(self, key_hash: int) -> str:
        replacer = dict(self.removals)
        b = jump_hash(key_hash, len(self.b_array))
        while b in replacer:
            r = replacer[b]
            b = xxhash.xxh3_64_intdigest(key_hash.to_bytes(8, "little"), b) % r
            while b in replacer and replacer[b] >= r:  # removed before: follow it
                b = replacer[b]
        node = self.b_array[b]
        assert node is not None
        return node


class MementoMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ring = MementoHash()
        self.model = NaiveMemento()
        self.joined: list[str] = []  # model of ``nodes``: join order of current members
        self.counter = 0
        # one entry per removal not yet undone: (homes before it, removed node)
        self.undo: list[tuple[npt.NDArray[np.object_], str]] = []
        self.successor: dict[str, str] = {}  # removed node -> the node that took its bucket

    def homes(self) -> npt.NDArray[np.object_]:
        return self.ring.lookup_many(KEYS)

    @initialize(count=st.integers(min_value=1, max_value=12))
    def start(self, count: int) -> None:
        for _ in range(count):
            self.join()

    def fresh_name(self) -> str:
        self.counter += 1
        return f"n{self.counter}"

    @rule()
    def join(self) -> None:
        name = self.fresh_name()
        before = self.homes() if self.joined else None
        self.ring.add(name)
        self.model.add(name)
        self.joined.append(name)
        after = self.homes()
        if before is not None:
            moved = before != after
            assert (after[moved] == name).all()
        if self.undo:
            # The newcomer takes the removed node's bucket; later removals are already
            # undone, their buckets held by the nodes that took them over.
            previous, removed = self.undo.pop()
            self.successor[removed] = name
            expected = [self.current_holder(node) for node in previous.tolist()]
            assert after.tolist() == expected

    def current_holder(self, node: str) -> str:
        while node in self.successor:
            node = self.successor[node]
        return node

    @precondition(lambda self: len(self.joined) > 0)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        node = data.draw(st.sampled_from(self.joined))
        before = self.homes()
        self.ring.remove(node)
        self.model.remove(node)
        self.joined.remove(node)
        self.undo.append((before, node))
        if self.joined:
            after = self.homes()
            moved = before != after
            assert (before[moved] == node).all()
            assert not (after == node).any()

    @precondition(lambda self: len(self.joined) > 0)
    @rule(data=st.data())
    def rejoin_existing_name_fails(self, data: st.DataObject) -> None:
        node = data.draw(st.sampled_from(self.joined))
        try:
            self.ring.add(node)
        except ValueError:
            pass
        else:  # pragma: no cover - a duplicate must be refused
            raise AssertionError(f"duplicate {node!r} accepted")

    @invariant()
    def agrees_with_model(self) -> None:
        self.ring._check()
        rebuilt = eval(repr(self.ring), {"MementoHash": MementoHash})
        assert rebuilt == self.ring
        rebuilt._check()
        assert self.ring.nodes == tuple(self.joined)
        assert len(self.ring) == len(self.joined)
        assert self.ring.removed_buckets == len(self.model.removals)
        if not self.joined:
            return
        homes = self.homes()
        expected = [self.model.lookup(h) for h in KEY_HASHES[:400]]
        assert homes[:400].tolist() == expected
        sample = KEYS[:30].tolist()
        assert [self.ring.node_for(k) for k in sample] == homes[:30].tolist()
        first = self.ring.nodes_for(sample[0], len(self.joined))
        assert first[0] == homes[0] and sorted(first) == sorted(self.joined)


MementoMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=25, deadline=None)
TestMemento = MementoMachine.TestCase
