"""Named nodes over a range hash: bucket ``i`` is the ``i``-th node, only the last can leave.

Theory of operation
-------------------
A *consistent range hash* maps a 64-bit key hash to a bucket in ``[0, n)`` so that growing
``n`` to ``n + 1`` moves only keys onto bucket ``n``: jump hash, FlipHash, JumpBackHash,
PowerCH and BinomialHash are such. Over named nodes they all work the same way, and that
common part lives here, once (:class:`~consistent.FlipHash`, :class:`~consistent.JumpBackHash`,
:class:`~consistent.PowerCH` and :class:`~consistent.BinomialHash` use it;
:class:`~consistent.JumpHash` predates it): :class:`AppendOnlyPlacement` keeps the members in
join order (the ``i``-th member holds bucket ``i``), appends a joining node as the next
bucket and lets only the last node leave. A subclass supplies the range hash (``_bucket``
for one key hash, ``_buckets`` for a uint64 array of them), its preference-list rule
(``nodes_for``) and its facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from consistent._errors import (
    DuplicateNodeError,
    EmptyRingError,
    UnknownNodeError,
    UnsupportedOperationError,
)
from consistent._hashing import Key, KeyHasher, Keys, get_hasher
from consistent._protocol import codes_by_block, name_array, with_room
from consistent._validate import (
    NODES_REFUSAL,
    check_equal_share_weight,
    check_node_name,
    check_preference_count,
    member_pairs,
)

__all__ = ["AppendOnlyPlacement"]

MAX_BUCKETS: Final = (1 << 31) - 1


class AppendOnlyPlacement:
    """Base of the range-hash placements: members in bucket order, append and pop only.

    Subclasses set the facts (``algorithm``, ``summary``, ...), ``_bucket``, ``_buckets``
    and ``nodes_for``; everything else (membership, batch lookups, ownership, copies,
    equality, ``repr`` and ``_check``) is shared.
    """

    algorithm: ClassVar[str]
    summary: ClassVar[str]
    removes_any_node: ClassVar[bool] = False
    exact_ownership: ClassVar[bool] = False
    weighted: ClassVar[bool] = False
    stateful: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset()

    __slots__ = ("_hash_key", "_hasher", "_index", "_names", "_nodes")

    def __init__(
        self,
        nodes: Iterable[str] | Mapping[str, float] = (),
        *,
        hash: str | KeyHasher | None = None,
    ) -> None:
        self._hasher = get_hasher(hash)
        self._hash_key = self._hasher.hash_key
        self._nodes: list[str] = []
        self._index: dict[str, int] = {}
        for node, weight in member_pairs(nodes, NODES_REFUSAL):
            self._check_new(node, weight)
            self._index[node] = len(self._nodes)
            self._nodes.append(node)
        # Names for lookup_many, with spare room at the end that ``add`` writes into.
        self._names: npt.NDArray[np.object_] = name_array(self._nodes)

    # -- the range hash (subclasses) -----------------------------------------------------

    def _bucket(self, key_hash: int, size: int) -> int:
        """The bucket in ``[0, size)`` of one key hash (``size >= 1``)."""
        raise NotImplementedError

    def _buckets(self, key_hashes: npt.NDArray[np.uint64], size: int) -> npt.NDArray[np.int32]:
        """The buckets of a uint64 array of key hashes, as int32."""
        raise NotImplementedError

    # -- membership ----------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member nodes in insertion (bucket) order; ``lookup_codes`` indexes this."""
        return tuple(self._nodes)

    @property
    def hasher(self) -> KeyHasher:
        """The :class:`~consistent.KeyHasher` keys are hashed with."""
        return self._hasher

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._index

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node as the next bucket; only keys moving to it change home.

        Runtime complexity: O(1) amortised.

        Args:
            node: the new node's name.
            weight: must be 1 (every bucket gets the same share).

        Raises:
            TypeError: ``node`` is not a str or ``weight`` not a number.
            DuplicateNodeError: ``node`` is already a member.
            UnsupportedOperationError: ``weight`` is not 1.
        """
        self._check_new(node, weight)
        position = len(self._nodes)
        self._names = with_room(self._names, position + 1, None)
        self._names[position] = node
        self._index[node] = position
        self._nodes.append(node)

    def _check_new(self, node: str, weight: float) -> None:
        """Refuse a node that ``add`` cannot take, before anything changes."""
        name = type(self).__name__
        check_node_name(node)
        check_equal_share_weight(node, weight, name)
        if node in self._index:
            raise DuplicateNodeError(f"node {node!r} is already a member")
        if len(self._nodes) >= MAX_BUCKETS:
            raise UnsupportedOperationError(f"{name} holds at most {MAX_BUCKETS} nodes")

    def remove(self, node: str) -> None:
        """Remove the last node added; only its keys move.

        Runtime complexity: O(1).

        Args:
            node: the name of the last node.

        Raises:
            TypeError: ``node`` is not a str.
            UnknownNodeError: ``node`` is not a member.
            UnsupportedOperationError: ``node`` is not the last node.
        """
        check_node_name(node)
        if node not in self._index:
            raise UnknownNodeError(f"node {node!r} is not a member")
        if self._nodes[-1] != node:
            raise UnsupportedOperationError(
                f"{type(self).__name__} can only remove its last node ({self._nodes[-1]!r}), "
                f"got {node!r}; use JumpBackAnchor or MementoHash to remove any node"
            )
        del self._index[node]
        self._nodes.pop()
        self._names[len(self._nodes)] = None  # spare room holds no reference

    # -- lookups -------------------------------------------------------------------------

    def node_for(self, key: Key) -> str:
        """The home node of ``key``.

        Runtime complexity: O(1) expected.

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: ``key`` is not a valid key (see :func:`~consistent.hash_key`).
        """
        nodes = self._nodes
        if not nodes:
            raise EmptyRingError(f"{type(self).__name__} has no nodes")
        return nodes[self._bucket(self._hash_key(key), len(nodes))]

    def _preference_count(self, n: object) -> int:
        """Check a preference-list length against the membership (raises if empty)."""
        if not self._nodes:
            raise EmptyRingError(f"{type(self).__name__} has no nodes")
        return check_preference_count(n, len(self._nodes))

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as int32 indices into :attr:`nodes`.

        Runtime complexity: O(k) expected for k keys; integer keys need no per-key Python
        (strings cost one hash call each).

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        size = len(self._nodes)
        if not size:
            raise EmptyRingError(f"{type(self).__name__} has no nodes")
        return codes_by_block(keys, self._hasher, lambda hashes: self._buckets(hashes, size))

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: a numpy object array of node names aligned with ``keys``.

        Runtime complexity: O(k) expected for k keys.

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        names: npt.NDArray[np.object_] = self._names[self.lookup_codes(keys)]  # codes < n
        return names

    def ownership(self) -> dict[str, float]:
        """Each node's expected share of the key space: ``1/n`` each.

        Runtime complexity: O(n).
        """
        share = 1.0 / len(self._nodes) if self._nodes else 0.0
        return dict.fromkeys(self._nodes, share)

    # -- copies, equality, debugging -----------------------------------------------------

    def copy(self) -> AppendOnlyPlacement:
        """An independent placement with the same nodes and hasher.

        Runtime complexity: O(n).
        """
        clone = object.__new__(type(self))
        for slot in AppendOnlyPlacement.__slots__:  # subclasses add no slots
            object.__setattr__(clone, slot, getattr(self, slot))
        clone._nodes = list(self._nodes)
        clone._index = dict(self._index)
        clone._names = self._names.copy()  # written in place by add
        return clone

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, AppendOnlyPlacement)
        return self._nodes == other._nodes and self._hasher == other._hasher

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        suffix = "" if self._hasher == get_hasher(None) else f", hash={self._hasher!r}"
        return f"{type(self).__name__}({self._nodes!r}{suffix})"

    def _check(self) -> None:
        """Verify the internal invariants (O(n)); raise AssertionError if one fails."""
        n = len(self._nodes)
        assert len(self._index) == n <= len(self._names)
        for position, node in enumerate(self._nodes):
            assert isinstance(node, str)
            assert self._index[node] == position
            assert self._names[position] == node
        assert all(spare is None for spare in self._names[n:].tolist())
        assert self._hash_key == self._hasher.hash_key
