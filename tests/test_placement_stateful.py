"""Every registered placement algorithm against a naive model, driven by Hypothesis.

One machine runs for each entry of :data:`consistent.ALGORITHMS`, shaped by the class's own
facts: algorithms that remove only their last node (``removes_any_node = False``) are asked
to remove the last one, and refuse any other; unweighted ones join with weight 1 and refuse
other weights; stateful ones also ``assign`` and ``release`` keys. The model is the obvious
one -- the members in join order with their weights, the outstanding assignments as a list
per key -- and every step compares the structure with it and calls its ``_check()``.

Beside the model, each step checks what the protocol promises whatever the algorithm:
scalar and batch lookups agree, a preference list is a permutation of the members with the
home first, ownership is a distribution over the members (and, where it is the expected
share over the hash, exactly the share of the weight), a failed mutation changes nothing,
a removal moves only the removed node's keys and a join moves keys only onto the newcomer
(for the algorithms that promise it), and a copy is an independent equal.

Algorithm-specific models (a ring scanning all its points, the MementoHash paper's lookup,
bounded loads' capacities) live in ``test_<algorithm>_stateful.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import consistent
from consistent import (
    ALGORITHMS,
    DuplicateNodeError,
    EmptyRingError,
    UnknownKeyError,
    UnknownNodeError,
    UnsupportedOperationError,
)

# Small structures keep the machine fast; each class gets those of its options it takes.
SMALL_OPTIONS: dict[str, Any] = {"vnodes": 12, "table_size": 211}
# Algorithms whose membership changes may move keys between other nodes too (Maglev's table
# is rebuilt; its excess movement is bounded in test_maglev.py).
NOT_MINIMAL = {"maglev"}
INT_KEYS = np.random.default_rng(5).integers(0, 2**64, 300, dtype=np.uint64)
MIXED_KEYS: list[Any] = ["user:1", b"\x00bytes", -7, 2**64 - 1, "", "ключ"]
WEIGHTS = st.sampled_from([1, 1, 2, 0.5, 3.25])


def build(name: str, members: dict[str, float] | None = None) -> Any:
    cls = ALGORITHMS[name]
    options = {key: SMALL_OPTIONS[key] for key in cls.options if key in SMALL_OPTIONS}
    return cls(members or {}, **options)


def machine_for(name: str) -> type[RuleBasedStateMachine]:
    """A state machine testing ``ALGORITHMS[name]`` against the naive model."""
    cls = ALGORITHMS[name]

    class PlacementMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.placement = build(name)
            self.members: dict[str, float] = {}  # the model: join order and weights
            # stateful: each key's outstanding assignments, oldest first: the node holding
            # it, or None once its node left (the item was re-placed on another node)
            self.held: dict[Any, list[str | None]] = {}
            self.counter = 0

        # -- helpers -------------------------------------------------------------------

        def homes(self) -> list[str]:
            return list(self.placement.lookup_many(INT_KEYS).tolist())

        def snapshot(self) -> tuple[Any, ...]:
            homes = self.homes() if self.members else None
            return (self.placement.nodes, homes, self.placement.ownership(), repr(self.placement))

        def fresh_name(self) -> str:
            self.counter += 1
            return f"n{self.counter}"

        # -- membership rules ------------------------------------------------------------

        @rule(weight=WEIGHTS)
        def join(self, weight: float) -> None:
            if not cls.weighted:
                weight = 1
            node = self.fresh_name()
            before = self.homes() if self.members else None
            self.placement.add(node, weight)
            self.members[node] = float(weight)
            if before is not None and self.minimal():
                after = self.homes()
                assert all(a in (b, node) for b, a in zip(before, after, strict=True))

        @precondition(lambda self: self.members)
        @rule(data=st.data())
        def leave(self, data: st.DataObject) -> None:
            members = list(self.members)
            if cls.removes_any_node:
                node = data.draw(st.sampled_from(members), label="node")
            else:
                node = members[-1]
            if cls.stateful and len(members) == 1 and self.held:
                with pytest.raises(consistent.InvalidArgumentError):
                    self.placement.remove(node)
                return
            before = self.homes()
            self.placement.remove(node)
            del self.members[node]
            for nodes in self.held.values():
                nodes[:] = [None if holder == node else holder for holder in nodes]
            if self.members and self.minimal():
                after = self.homes()
                assert all(a == b for b, a in zip(before, after, strict=True) if b != node)

        def minimal(self) -> bool:
            """Whether a membership change must move only the keys of the node concerned.

            With items assigned, a stateful algorithm's lookups depend on the loads, which
            a change of membership rebalances, so only an idle one promises it.
            """
            return name not in NOT_MINIMAL and not self.held

        @precondition(lambda self: len(self.members) >= 2 and not cls.removes_any_node)
        @rule(data=st.data())
        def a_middle_node_cannot_leave(self, data: st.DataObject) -> None:
            node = data.draw(st.sampled_from(list(self.members)[:-1]), label="node")
            before = self.snapshot()
            with pytest.raises(UnsupportedOperationError):
                self.placement.remove(node)
            assert self.snapshot() == before

        @precondition(lambda self: not cls.weighted)
        @rule()
        def weights_other_than_one_are_refused(self) -> None:
            before = self.snapshot()
            with pytest.raises(UnsupportedOperationError):
                self.placement.add(self.fresh_name(), 2)
            assert self.snapshot() == before

        @precondition(lambda self: self.members)
        @rule(data=st.data())
        def failed_mutations_change_nothing(self, data: st.DataObject) -> None:
            before = self.snapshot()
            node = data.draw(st.sampled_from(list(self.members)), label="node")
            with pytest.raises(DuplicateNodeError):
                self.placement.add(node)
            with pytest.raises(UnknownNodeError):
                self.placement.remove("never-a-member")
            with pytest.raises(consistent.InvalidTypeError):
                self.placement.add(42)
            assert self.snapshot() == before

        @rule()
        def a_copy_is_an_independent_equal(self) -> None:
            copy = getattr(self.placement, "copy", None)
            if copy is None:
                return
            clone = copy()
            before = self.snapshot()
            assert (clone.nodes, clone.ownership()) == (before[0], before[2])
            clone.add(self.fresh_name())
            clone._check()
            assert self.snapshot() == before

        # -- stateful algorithms: assign and release ---------------------------------------

        @precondition(lambda self: cls.stateful and self.members)
        @rule(key=st.sampled_from(["hot", "warm", 7, b"k"]))
        def assign(self, key: Any) -> None:
            node = self.placement.assign(key)
            assert node in self.members
            self.held.setdefault(key, []).append(node)

        @precondition(lambda self: cls.stateful)
        @rule(key=st.sampled_from(["hot", "warm", 7, b"k", "never"]))
        def release(self, key: Any) -> None:
            if not self.held.get(key):
                with pytest.raises(UnknownKeyError):
                    self.placement.release(key)
                return
            node = self.placement.release(key)
            expected = self.held[key].pop(0)  # first in, first out
            assert node == expected or (expected is None and node in self.members)
            if not self.held[key]:
                del self.held[key]

        # -- invariants ------------------------------------------------------------------

        @invariant()
        def structure_is_sound(self) -> None:
            self.placement._check()

        @invariant()
        def membership_matches_the_model(self) -> None:
            placement = self.placement
            assert placement.nodes == tuple(self.members)
            assert len(placement) == len(self.members)
            assert all(node in placement for node in self.members)
            assert "never-a-member" not in placement

        @invariant()
        def lookups_agree_and_preference_lists_are_permutations(self) -> None:
            placement = self.placement
            if not self.members:
                for call in (
                    lambda: placement.node_for("k"),
                    lambda: placement.lookup_many(["k"]),
                ):
                    with pytest.raises(EmptyRingError):
                        call()
                return
            homes = [placement.node_for(k) for k in MIXED_KEYS]
            assert placement.lookup_many(MIXED_KEYS).tolist() == homes
            codes = placement.lookup_codes(INT_KEYS[:50])
            assert [placement.nodes[c] for c in codes] == self.homes()[:50]
            for key, home in zip(MIXED_KEYS[:3], homes, strict=False):
                full = placement.nodes_for(key, len(self.members))
                assert full[0] == home and sorted(full) == sorted(self.members)

        @invariant()
        def ownership_is_a_distribution_over_the_members(self) -> None:
            shares = self.placement.ownership()
            if not self.members:
                assert shares == {}
                return
            assert set(shares) == set(self.members)
            assert math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9)
            if not cls.exact_ownership:  # the expected share over the hash: the weight's
                total = math.fsum(self.members.values())
                for node, weight in self.members.items():
                    assert math.isclose(shares[node], weight / total, rel_tol=1e-12)

        @invariant()
        def stateful_loads_count_the_outstanding_assignments(self) -> None:
            if cls.stateful:
                outstanding = sum(len(nodes) for nodes in self.held.values())
                assert self.placement.assigned == outstanding
                assert sum(self.placement.loads().values()) == outstanding

    PlacementMachine.__name__ = f"{cls.__name__}Machine"
    return PlacementMachine


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_placement_against_the_naive_model(name: str) -> None:
    run_state_machine_as_test(
        machine_for(name),
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
