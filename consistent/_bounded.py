"""Consistent hashing with bounded loads: a hash ring whose nodes refuse work beyond a cap.

Theory of operation
-------------------
Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded Loads" (SODA 2018,
arXiv:1608.01350). Items (keys, requests) are placed one at a time. With ``m`` items
assigned -- counting the one being placed -- and ``n`` live nodes, every node has capacity
``ceil((1 + eps) * m / n)``; an item goes to the first node *clockwise from its hash* that
is below capacity: its ring home if that has room, else the next distinct node of the ring's
preference list, and so on. Total capacity is at least ``(1 + eps) * m > m``, so a node with
room always exists, and no node ever receives an item that takes it past the capacity in
force at that moment. The paper shows the expected number of nodes visited is
``O(1/eps**2)``, so most items stay at their ring home (consistency) while the peak load is
capped at about ``1 + eps`` times the mean (balance).

This module keeps the paper's *state*: :class:`BoundedLoadRing` wraps a
:class:`~consistent.HashRing` and counts what each node holds.

* :meth:`BoundedLoadRing.assign` places an item and holds its capacity until
  :meth:`BoundedLoadRing.release`. Assignments are **not sticky**: assigning a key that is
  already held is a second, independent assignment (a second request for the same key),
  which may land elsewhere if the first filled its node. A hot key therefore spreads over
  the start of its preference list. ``release(key)`` frees the key's *oldest* outstanding
  assignment (first in, first out) and returns the node it was on. Keys are identified by
  their 64-bit hash, so ``"a"`` and ``b"a"`` are the same key, as everywhere in the library.
* **Weights** scale capacity: node ``i`` of weight ``w_i`` has capacity
  ``ceil((1 + eps) * m * w_i / W)``, ``W`` the total weight (the ring also gives it
  proportionally more points). With equal weights this is the paper's formula.
* **Membership changes.** ``add`` moves nothing: items in flight stay where they are, and new
  placements start using the new node. ``remove`` re-places the leaving node's items, oldest
  first, as the paper's deletion of a bin does; every other item stays put.
* **The bound after releases.** Capacity follows ``m`` down when items are released, so a
  node can hold more than the *current* capacity after others' items leave (or after a join
  lowers it). Placed items are never moved to restore it (they may be requests in flight);
  instead such a node takes nothing new until it is below capacity again. The invariant,
  checked by :meth:`BoundedLoadRing._check` and the stateful tests: every node's load is at
  most the capacity in force when it last received an item, and a node below capacity is
  never skipped. With assignments only (no releases, no joins), no node ever exceeds the
  current capacity.

Stateless members of the :class:`~consistent.Placement` protocol describe *the next
placement*: :meth:`~BoundedLoadRing.node_for` is where :meth:`~BoundedLoadRing.assign` would
put a key now, without placing it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from consistent._errors import (
    EmptyRingError,
    InvalidArgumentError,
    InvalidTypeError,
    UnknownKeyError,
    UnknownNodeError,
)
from consistent._hashing import Key, KeyHasher, Keys, check_batch
from consistent._protocol import copy_slots, name_array
from consistent._ring import HashRing
from consistent._validate import check_count, get_member

__all__ = ["BoundedLoadRing"]

_DEFAULT_EPS: Final = 0.25


def _check_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise InvalidTypeError(f"eps must be a positive number, got {type(eps).__name__}: {eps!r}")
    if not (math.isfinite(eps) and eps > 0):
        raise InvalidArgumentError(f"eps must be a positive finite number (e.g. 0.25), got {eps!r}")
    return float(eps)


def _total_weight(ring: HashRing) -> float:
    return math.fsum(ring.weight(name) for name in ring.nodes)


class BoundedLoadRing:
    """A hash ring with bounded loads (Mirrokni, Thorup & Zadimoghaddam): stateful placement.

    See the module docstring for the rule, the semantics of ``assign``/``release`` and the
    invariant.

    Runtime complexity: ``assign`` O(1) expected when the home has room, else
    O(nodes visited * vnodes); ``release`` O(1); ``remove`` O(points + items held).

    >>> ring = BoundedLoadRing(["a", "b", "c"], eps=0.5)
    >>> homes = [ring.assign("hot") for _ in range(6)]  # a hot key spreads out
    >>> sorted(ring.loads().values())  # capacity for the 6th was ceil(1.5 * 6 / 3) = 3
    [0, 3, 3]
    >>> ring.release("hot") == homes[0]
    True
    >>> ring
    BoundedLoadRing(['a', 'b', 'c'], eps=0.5, vnodes=160)

    Args:
        nodes: node names, or a mapping of name to positive weight.
        eps: the slack ``eps > 0``: capacity is ``ceil((1 + eps) * m / n)``.
        vnodes: points per unit of weight on the underlying :class:`HashRing`.
        hash: key hash family (``"xxh3"``, ``"md5"``) or a :class:`KeyHasher`.

    Raises:
        TypeError: a node name is not a str, a weight or ``eps`` not a number.
        ValueError: ``eps <= 0``, a weight not positive, bad ``vnodes``, a duplicate name.
    """

    # Facts about the algorithm, read by the registry (consistent.ALGORITHMS), the
    # simulator, the benchmarks and the tests.
    algorithm: ClassVar[str] = "bounded"
    summary: ClassVar[str] = "hash ring with bounded loads (each entry assigns/releases requests)"
    removes_any_node: ClassVar[bool] = True
    exact_ownership: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    stateful: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = frozenset({"eps", "vnodes"})

    __slots__ = (
        "_eps",
        "_held",
        "_loads",
        "_next_seq",
        "_ring",
        "_total",
        "_watermark",
        "_weight_total",
    )

    def __init__(
        self,
        nodes: Iterable[str] | Mapping[str, float] = (),
        *,
        eps: float = _DEFAULT_EPS,
        vnodes: int = 160,
        hash: str | KeyHasher | None = None,
    ) -> None:
        self._eps = _check_eps(eps)
        self._ring = HashRing(nodes, vnodes=vnodes, hash=hash)
        self._weight_total = _total_weight(self._ring)
        self._loads: dict[str, int] = dict.fromkeys(self._ring.nodes, 0)
        # The capacity in force when each node last received an item (the invariant).
        self._watermark: dict[str, int] = dict.fromkeys(self._ring.nodes, 0)
        # key hash -> outstanding assignments, oldest first: (sequence number, node, key).
        self._held: dict[int, deque[tuple[int, str, Key]]] = {}
        self._total = 0
        self._next_seq = 0

    # -- capacity ----------------------------------------------------------------------

    @property
    def eps(self) -> float:
        """The slack: capacity is ``ceil((1 + eps) * m / n)``."""
        return self._eps

    @property
    def ring(self) -> HashRing:
        """A copy of the underlying hash ring (the home placement)."""
        return self._ring.copy()

    @property
    def assigned(self) -> int:
        """How many assignments are outstanding (``m`` before the next placement)."""
        return self._total

    def _scale(self, items: int, ring: HashRing) -> float:
        """Capacity per unit of weight, ``(1 + eps) * m / W``; one expression everywhere."""
        total_weight = self._weight_total if ring is self._ring else _total_weight(ring)
        return (1.0 + self._eps) * items / total_weight

    def capacity(self, node: str | None = None) -> int:
        """The capacity the next assignment is checked against: ``ceil((1+eps)(m+1)/n)``.

        With weights, each node's capacity is scaled by ``w / W`` (name the node).

        Runtime complexity: O(n).

        >>> ring = BoundedLoadRing(["a", "b"], eps=1.0)
        >>> ring.capacity()  # ceil(2 * 1 / 2)
        1
        >>> BoundedLoadRing({"a": 1, "b": 3}, eps=1.0).capacity("b")  # ceil(2 * 1 * 3/4)
        2

        Raises:
            EmptyRingError: there are no nodes.
            UnknownNodeError: ``node`` is not a member.
            ValueError: ``node`` omitted although weights differ.
        """
        ring = self._ring
        if not ring.nodes:
            raise self._empty()
        if node is None:
            weights = {ring.weight(name) for name in ring.nodes}
            if len(weights) > 1:
                raise InvalidArgumentError(
                    "node weights differ, so capacities differ: name a node, got node=None"
                )
            node = ring.nodes[0]
        if node not in ring:
            raise UnknownNodeError(f"node {node!r} is not a member")
        return math.ceil(self._scale(self._total + 1, ring) * ring.weight(node))

    def load(self, node: str) -> int:
        """How many outstanding assignments ``node`` holds.

        Runtime complexity: O(1).

        Raises:
            UnknownNodeError: ``node`` is not a member.
        """
        return get_member(self._loads, node)

    def loads(self) -> dict[str, int]:
        """Every node's load (outstanding assignments), in :attr:`nodes` order.

        Runtime complexity: O(n).
        """
        return {name: self._loads[name] for name in self._ring.nodes}

    def assignments(self, key: Key) -> list[str]:
        """The nodes holding ``key``'s outstanding assignments, oldest first.

        Runtime complexity: O(assignments of the key).

        >>> ring = BoundedLoadRing(["a"])
        >>> ring.assign("k"), ring.assignments("k"), ring.assignments("other")
        ('a', ['a'], [])
        """
        held = self._held.get(self._ring.hasher.hash_key(key))
        return [node for _, node, _ in held] if held else []

    # -- placement ---------------------------------------------------------------------

    def _empty(self) -> EmptyRingError:
        return EmptyRingError("BoundedLoadRing has no nodes; add one before placing keys")

    def _place(self, key: Key, scale: float, ring: HashRing) -> str:
        """The first node of ``key``'s preference list below ``ceil(scale * weight)``."""
        loads = self._loads
        # Fast path: the home (the preference list's head, found by the ring's O(1) index)
        # usually has room; walk the preference list only when it is full.
        home = ring.node_for(key)
        if loads[home] < math.ceil(scale * ring.weight(home)):
            return home
        for node in ring.preference(key):
            if loads[node] < math.ceil(scale * ring.weight(node)):
                return node
        raise AssertionError("unreachable: total capacity exceeds the items placed")

    def node_for(self, key: Key) -> str:
        """Where :meth:`assign` would place ``key`` now (nothing is placed).

        Runtime complexity: O(1) expected when the home has room.

        >>> BoundedLoadRing(["a"]).node_for("k")
        'a'

        Raises:
            EmptyRingError: there are no nodes.
        """
        if not self._ring.nodes:
            raise self._empty()
        return self._place(key, self._scale(self._total + 1, self._ring), self._ring)

    def assign(self, key: Key) -> str:
        """Place one item for ``key`` on the first node clockwise with room, and hold it.

        Not sticky: each call is an independent assignment (see the module docstring).

        Runtime complexity: O(1) expected when the home has room.

        >>> ring = BoundedLoadRing(["a", "b"])
        >>> ring.assign("k") in ring, ring.assigned
        (True, 1)

        Returns:
            The node the item was placed on.

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: ``key`` is not a valid key.
        """
        ring = self._ring
        if not ring.nodes:
            raise self._empty()
        key_hash = ring.hasher.hash_key(key)
        items = self._total + 1
        scale = self._scale(items, ring)
        node = self._place(key, scale, ring)
        self._loads[node] += 1
        self._watermark[node] = math.ceil(scale * ring.weight(node))
        self._held.setdefault(key_hash, deque()).append((self._next_seq, node, key))
        self._next_seq += 1
        self._total = items
        return node

    def release(self, key: Key) -> str:
        """Release ``key``'s oldest outstanding assignment; returns the node it was on.

        Runtime complexity: O(1).

        >>> ring = BoundedLoadRing(["a"])
        >>> ring.assign("k")
        'a'
        >>> ring.release("k"), ring.assigned
        ('a', 0)

        Raises:
            UnknownKeyError: ``key`` has no outstanding assignment (also a KeyError).
        """
        key_hash = self._ring.hasher.hash_key(key)
        held = self._held.get(key_hash)
        if not held:
            raise UnknownKeyError(f"key {key!r} has no outstanding assignment")
        _, node, _ = held.popleft()
        if not held:
            del self._held[key_hash]
        self._loads[node] -= 1
        self._total -= 1
        return node

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """``n`` distinct nodes for ``key``: the ring's preference list, nodes with room first.

        The nodes below capacity come in ring preference order (so the first is
        :meth:`node_for`), followed by the full ones in the same order: the order in which
        fail-over would try them now.

        Runtime complexity: O(points walked).

        >>> ring = BoundedLoadRing(["a", "b", "c"])
        >>> ring.nodes_for("k", 1) == [ring.node_for("k")]
        True

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not between 1 and the number of nodes.
        """
        ring = self._ring
        if not ring.nodes:
            raise self._empty()
        check_count(n, len(ring.nodes))
        items = self._total + 1
        scale = self._scale(items, ring)
        with_room: list[str] = []
        full: list[str] = []
        for node in ring.preference(key):
            if self._loads[node] < math.ceil(scale * ring.weight(node)):
                with_room.append(node)
                if len(with_room) == n:
                    break
            else:
                full.append(node)
        return (with_room + full)[:n]

    def _full_codes(self) -> npt.NDArray[np.bool_]:
        ring = self._ring
        scale = self._scale(self._total + 1, ring)
        return np.array(
            [self._loads[name] >= math.ceil(scale * ring.weight(name)) for name in ring.nodes],
            dtype=bool,
        )

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` (each key judged alone) as int32 indices into :attr:`nodes`.

        Homes come from the ring in one vectorised pass; only keys whose home is full walk
        their preference list.

        Runtime complexity: O(len(keys)) vectorised, plus a walk per key with a full home.

        >>> ring = BoundedLoadRing(["a", "b"])
        >>> codes = ring.lookup_codes(["x", "y"])
        >>> [ring.nodes[c] for c in codes] == [ring.node_for("x"), ring.node_for("y")]
        True

        Raises:
            EmptyRingError: there are no nodes.
        """
        ring = self._ring
        if not ring.nodes:
            raise self._empty()
        if not isinstance(keys, np.ndarray) and not isinstance(keys, (list, tuple)):
            check_batch(keys)
            keys = list(keys)
        codes = ring.lookup_codes(keys)
        full = self._full_codes()
        redo = np.flatnonzero(full[codes])
        if redo.size:
            position = {name: i for i, name in enumerate(ring.nodes)}
            scale = self._scale(self._total + 1, ring)
            for i in redo.tolist():
                key = keys[i]
                if isinstance(key, np.generic):
                    key = key.item()
                codes[i] = position[self._place(key, scale, ring)]
        return codes

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: node names aligned with ``keys`` (each key judged alone).

        Runtime complexity: as :meth:`lookup_codes`.

        >>> BoundedLoadRing(["a"]).lookup_many(["x", 1]).tolist()
        ['a', 'a']

        Raises:
            EmptyRingError: there are no nodes.
        """
        homes: npt.NDArray[np.object_] = name_array(self._ring.nodes)[self.lookup_codes(keys)]
        return homes

    def ownership(self) -> dict[str, float]:
        """Each node's exact share of the key space on the underlying ring.

        This is where keys go while no node is full; the share of *items* actually held is
        :meth:`loads`.

        Runtime complexity: O(points).

        >>> BoundedLoadRing(["a"]).ownership()
        {'a': 1.0}
        """
        return self._ring.ownership()

    # -- membership --------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member nodes in insertion order; :meth:`lookup_codes` indexes this tuple."""
        return self._ring.nodes

    @property
    def hasher(self) -> KeyHasher:
        """The key hasher of the underlying ring."""
        return self._ring.hasher

    def __len__(self) -> int:
        return len(self._ring.nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._loads

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node; nothing moves, new placements may use it.

        Runtime complexity: O(points).

        >>> ring = BoundedLoadRing(["a"])
        >>> ring.add("b")
        >>> ring.loads()
        {'a': 0, 'b': 0}

        Raises:
            TypeError: ``node`` is not a str or ``weight`` not a number.
            ValueError: ``weight`` is not positive.
            DuplicateNodeError: ``node`` is already a member.
        """
        self._ring.add(node, weight)  # validates; unchanged if it raises
        self._weight_total = _total_weight(self._ring)
        self._loads[node] = 0
        self._watermark[node] = 0

    def remove(self, node: str) -> None:
        """Remove a node and re-place its items, oldest first, on the remaining nodes.

        Every other item stays where it is.

        Runtime complexity: O(points + items held).

        >>> ring = BoundedLoadRing(["a", "b"])
        >>> ring.remove("a")
        >>> ring.nodes
        ('b',)

        Raises:
            UnknownNodeError: ``node`` is not a member.
            ValueError: ``node`` is the last node and items are still assigned.
        """
        if node not in self._loads:
            raise UnknownNodeError(f"node {node!r} is not a member")
        if len(self._loads) == 1 and self._total:
            raise InvalidArgumentError(
                f"cannot remove the last node {node!r} while {self._total} items are "
                f"assigned to it; release them first"
            )
        ring = self._ring.copy()
        ring.remove(node)
        displaced = sorted(
            (seq, key_hash, key)
            for key_hash, held in self._held.items()
            for seq, holder, key in held
            if holder == node
        )
        old_loads, old_watermark = self._loads, self._watermark
        self._loads = {k: v for k, v in old_loads.items() if k != node}
        self._watermark = {k: v for k, v in old_watermark.items() if k != node}
        new_home: dict[int, str] = {}
        # The displaced items are still counted in m ("counting the one being placed").
        scale = self._scale(self._total, ring) if ring.nodes else 0.0
        try:
            for seq, _, key in displaced:
                target = self._place(key, scale, ring)
                self._loads[target] += 1
                self._watermark[target] = math.ceil(scale * ring.weight(target))
                new_home[seq] = target
        except BaseException:
            self._loads, self._watermark = old_loads, old_watermark
            raise
        for _, key_hash, _ in displaced:
            held = self._held[key_hash]
            self._held[key_hash] = deque(
                (seq, new_home.get(seq, holder), key) for seq, holder, key in held
            )
        self._ring = ring
        self._weight_total = _total_weight(ring)

    def copy(self) -> BoundedLoadRing:
        """An independent copy, loads and outstanding assignments included.

        Runtime complexity: O(points + items held).
        """
        clone = copy_slots(self, BoundedLoadRing)
        clone._ring = self._ring.copy()
        clone._loads = dict(self._loads)
        clone._watermark = dict(self._watermark)
        clone._held = {k: deque(v) for k, v in self._held.items()}
        return clone

    # -- introspection -----------------------------------------------------------------

    def __repr__(self) -> str:
        """Valid Python rebuilding the membership and parameters (not the loads)."""
        ring = self._ring
        weights = {name: ring.weight(name) for name in ring.nodes}
        if all(w == 1.0 for w in weights.values()):
            members = repr(list(ring.nodes))
        else:
            members = repr({k: int(w) if w.is_integer() else w for k, w in weights.items()})
        hasher = ring.hasher
        hash_part = "" if hasher == HashRing().hasher else f", hash={hasher!r}"
        return f"BoundedLoadRing({members}, eps={self._eps!r}, vnodes={ring.vnodes}{hash_part})"

    def _check(self) -> None:
        """Verify the invariants in O(points + items held); raises ``AssertionError``.

        Loads equal the outstanding assignments; every node's load is at most the capacity
        in force when it last received an item.
        """
        ring = self._ring
        ring._check()
        assert self._eps > 0 and math.isfinite(self._eps)
        assert tuple(self._loads) == ring.nodes == tuple(self._watermark)
        assert self._weight_total == _total_weight(ring)
        counted = dict.fromkeys(ring.nodes, 0)
        seen_seq: set[int] = set()
        for key_hash, held in self._held.items():
            assert held, "empty deque left behind"
            previous = -1
            for seq, node, key in held:
                assert ring.hasher.hash_key(key) == key_hash
                assert seq > previous and seq < self._next_seq and seq not in seen_seq
                previous = seq
                seen_seq.add(seq)
                counted[node] += 1
        assert counted == self._loads
        assert sum(counted.values()) == self._total == len(seen_seq)
        for node, load in self._loads.items():
            assert 0 <= load <= self._watermark[node], (node, load, self._watermark[node])
