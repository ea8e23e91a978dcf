"""Named nodes over a bucket array whose freed buckets are reused last-in first-out.

Theory of operation
-------------------
AnchorHash and DxHash share a shape: a fixed array of ``capacity`` buckets, some working
(each held by one node) and the others free; any node can leave, and a joining node takes
the most recently freed bucket. The free buckets form a stack (``_free``, top last): at
construction the buckets the initial members do not fill are pushed from the last down,
so the next join takes the lowest unused bucket, exactly as if every bucket had started
working and the unused ones had been removed from the last down (AnchorHash's
``INITANCHOR``). Removing a node pushes its bucket; adding pops one. So a removal followed
by a join (whatever the newcomer's name) restores the previous placement, and any history
of joins and removals leaves the same state as removing the stack's buckets, bottom to
top, from a full array: the pair (bucket of each node, free stack) *is* the state, which
is what ``repr`` and ``from_state`` write and read.

:class:`ReusableBucketPlacement` keeps that bookkeeping once -- the members in join order,
each node's bucket, the free stack, the batch-lookup caches -- and a subclass supplies
the algorithm: its engine state and how a removal or a join changes it (``_engine_*``),
the bucket of a key hash (``_bucket``, ``_buckets``), a key's fail-over order
(``_failover``), what to do when no bucket is free (``_grow``) and its facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from consistent._errors import DuplicateNodeError, EmptyRingError, InvalidArgumentError
from consistent._hashing import Key, KeyHasher, Keys, get_hasher
from consistent._protocol import codes_by_block, name_array, with_room
from consistent._validate import (
    NODES_REFUSAL,
    check_equal_share_weight,
    check_node_name,
    check_preference_count,
    get_member,
    member_pairs,
)

__all__ = ["ReusableBucketPlacement"]

_P = TypeVar("_P", bound="ReusableBucketPlacement")


class ReusableBucketPlacement:
    """Base of AnchorHash and DxHash: any node leaves, freed buckets are reused LIFO.

    Subclasses set the facts and the ``_engine_*``, ``_bucket``, ``_buckets``,
    ``_failover`` and ``_grow`` hooks; membership, batch lookups, ownership, copies,
    equality, ``repr``, ``from_state`` and the shared part of ``_check`` live here.
    """

    algorithm: ClassVar[str]
    summary: ClassVar[str]
    removes_any_node: ClassVar[bool] = True
    exact_ownership: ClassVar[bool] = False
    weighted: ClassVar[bool] = False
    stateful: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset({"capacity"})

    __slots__ = (
        "_bucket_of",
        "_code_at",
        "_free",
        "_hash_key",
        "_hasher",
        "_names",
        "_node_at",
        "_nodes",
    )

    _names: npt.NDArray[np.object_]
    _code_at: npt.NDArray[np.int32]

    def __init__(
        self,
        nodes: Iterable[str] | Mapping[str, float] = (),
        *,
        capacity: int | None = None,
        hash: str | KeyHasher | None = None,
    ) -> None:
        self._hasher = get_hasher(hash)
        self._hash_key = self._hasher.hash_key
        members = member_pairs(nodes, NODES_REFUSAL)
        self._nodes: list[str] = []
        self._bucket_of: dict[str, int] = {}
        for node, weight in members:
            self._check_name_and_weight(node, weight)
            if node in self._bucket_of:
                raise DuplicateNodeError(f"node {node!r} is already a member")
            self._bucket_of[node] = len(self._nodes)
            self._nodes.append(node)
        size = self._initial_capacity(len(self._nodes), capacity)
        self._node_at: list[str | None] = [*self._nodes, *([None] * (size - len(self._nodes)))]
        self._free: list[int] = list(range(size - 1, len(self._nodes) - 1, -1))
        self._rebuild()

    # -- what a subclass supplies ----------------------------------------------------------

    @classmethod
    def _initial_capacity(cls, count: int, capacity: int | None) -> int:
        """The bucket array's size for ``count`` initial members and the ``capacity`` asked."""
        raise NotImplementedError

    def _engine_rebuild(self) -> None:
        """Build the engine from ``_node_at`` and ``_free`` (construction, ``from_state``)."""
        raise NotImplementedError

    def _engine_remove(self, bucket: int) -> None:
        """Update the engine for ``bucket`` leaving (already pushed on ``_free``)."""
        raise NotImplementedError

    def _engine_add(self, bucket: int) -> None:
        """Update the engine for ``bucket`` working again (already popped from ``_free``)."""
        raise NotImplementedError

    def _grow(self) -> None:
        """Make a bucket free when none is (or raise, changing nothing)."""
        raise NotImplementedError

    def _bucket(self, key_hash: int) -> int:
        """The working bucket of one key hash (there is at least one node)."""
        raise NotImplementedError

    def _buckets(self, key_hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """The working buckets of a uint64 array of key hashes."""
        raise NotImplementedError

    def _failover(self, key_hash: int, count: int) -> list[int]:
        """The first ``count`` buckets of a key's fail-over order, home first."""
        raise NotImplementedError

    def _engine_copy(self, clone: Any) -> None:
        """Give ``clone`` (a slot-sharing copy) its own mutable engine containers."""
        raise NotImplementedError

    def _engine_check(self) -> None:
        """Assert the engine's invariants against ``_node_at`` and ``_free``."""
        raise NotImplementedError

    # -- membership ------------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member nodes in the order they joined; ``lookup_codes`` indexes this."""
        return tuple(self._nodes)

    @property
    def hasher(self) -> KeyHasher:
        """The :class:`~consistent.KeyHasher` keys are hashed with."""
        return self._hasher

    @property
    def capacity(self) -> int:
        """The number of buckets, working or free."""
        return len(self._node_at)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._bucket_of

    def _check_name_and_weight(self, node: object, weight: object) -> None:
        check_node_name(node)
        check_equal_share_weight(node, weight, type(self).__name__)  # type: ignore[arg-type]

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node on the most recently freed bucket; keys move only onto it.

        Runtime complexity: O(1) amortised (plus the subclass's growth, if full).

        Args:
            node: the new node's name.
            weight: must be 1 (every node gets the same share).

        Raises:
            TypeError: ``node`` is not a str or ``weight`` not a number.
            DuplicateNodeError: ``node`` is already a member.
            UnsupportedOperationError: ``weight`` is not 1.
            LimitExceededError: no bucket is free and the algorithm cannot grow.
        """
        self._check_name_and_weight(node, weight)
        if node in self._bucket_of:
            raise DuplicateNodeError(f"node {node!r} is already a member")
        if not self._free:
            self._grow()
        code = len(self._nodes)
        names = with_room(self._names, code + 1, None)  # the only step that can fail
        bucket = self._free.pop()
        self._engine_add(bucket)
        self._node_at[bucket] = node
        self._bucket_of[node] = bucket
        self._nodes.append(node)
        names[code] = node
        self._names = names
        self._code_at[bucket] = code

    def remove(self, node: str) -> None:
        """Remove any node; only its keys move, spread over the others.

        Runtime complexity: O(n) in C (join-order codes of later members shift down);
        O(1) Python work.

        Args:
            node: a member's name.

        Raises:
            TypeError: ``node`` is not a str.
            UnknownNodeError: ``node`` is not a member.
        """
        check_node_name(node)
        bucket = get_member(self._bucket_of, node)
        code = self._nodes.index(node)
        last = len(self._nodes) - 1
        code_at, names = self._code_at, self._names
        later = code_at > code
        self._free.append(bucket)
        self._engine_remove(bucket)
        self._node_at[bucket] = None
        del self._bucket_of[node]
        del self._nodes[code]
        code_at[bucket] = -1
        code_at[later] -= 1
        names[code:last] = names[code + 1 : last + 1]
        names[last] = None

    def _rebuild(self) -> None:
        """Build the batch caches and the engine from ``_node_at``, ``_free`` and ``_nodes``."""
        self._names = name_array(self._nodes)
        code_at = np.full(len(self._node_at), -1, dtype=np.int32)
        for code, node in enumerate(self._nodes):
            code_at[self._bucket_of[node]] = code
        self._code_at = code_at
        self._engine_rebuild()

    def _extend(self, extra: int) -> None:
        """Append ``extra`` free buckets (pushed from the last down) to a full array."""
        size = len(self._node_at)
        self._node_at.extend([None] * extra)
        self._free.extend(range(size + extra - 1, size - 1, -1))
        self._code_at = np.concatenate([self._code_at, np.full(extra, -1, dtype=np.int32)])

    # -- lookups ---------------------------------------------------------------------------

    def _no_nodes(self) -> EmptyRingError:
        return EmptyRingError(f"{type(self).__name__} has no nodes")

    def node_for(self, key: Key) -> str:
        """The home node of ``key``.

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: ``key`` is not a valid key (see :func:`~consistent.hash_key`).
        """
        if not self._nodes:
            raise self._no_nodes()
        return self._node_at[self._bucket(self._hash_key(key))]  # type: ignore[return-value]

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """The first ``n`` distinct nodes of ``key``'s fail-over order, home first.

        The second node is exactly where the key goes if its home is removed, the third
        where it goes if both are removed, and so on.

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not in ``[1, len(self)]``.
            TypeError: ``n`` is not an int, or ``key`` is not a valid key.
        """
        if not self._nodes:
            raise self._no_nodes()
        count = check_preference_count(n, len(self._nodes))
        buckets = self._failover(self._hash_key(key), count)
        return [self._node_at[b] for b in buckets]  # type: ignore[misc]

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as int32 indices into :attr:`nodes`.

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        if not self._nodes:
            raise self._no_nodes()
        return codes_by_block(keys, self._hasher, self._place)

    def _place(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
        codes: npt.NDArray[np.int32] = self._code_at[self._buckets(hashes)]
        return codes

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: a numpy object array of node names aligned with ``keys``.

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        names: npt.NDArray[np.object_] = self._names[self.lookup_codes(keys)]
        return names

    def ownership(self) -> dict[str, float]:
        """Each node's expected share of the key space: ``1/n`` each.

        Runtime complexity: O(n).
        """
        share = 1.0 / len(self._nodes) if self._nodes else 0.0
        return dict.fromkeys(self._nodes, share)

    # -- state, copies, equality, debugging ------------------------------------------------

    @classmethod
    def from_state(
        cls: type[_P],
        buckets: Sequence[str | None],
        removed: Sequence[int] = (),
        nodes: Sequence[str] | None = None,
        *,
        hash: str | KeyHasher | None = None,
    ) -> _P:
        """Rebuild a placement from its state, as its ``repr`` shows it after removals.

        Args:
            buckets: the node of each bucket, ``None`` for a free one (the capacity is
                ``len(buckets)``).
            removed: the free buckets in the order they were freed, oldest first (the
                next join takes the last); exactly the positions of ``None``.
            nodes: the members in join order (:attr:`nodes`); bucket order by default.
            hash: as for the constructor.

        Raises:
            TypeError: a bucket holds neither a str nor ``None``.
            InvalidArgumentError: ``buckets`` is empty, ``removed`` does not list the free
                buckets, or ``nodes`` is not the set of members.
            DuplicateNodeError: a node holds two buckets.
        """
        b_array = list(buckets)
        if not b_array:
            raise InvalidArgumentError("buckets must hold at least one bucket, got none")
        placement = cls(capacity=len(b_array), hash=hash)
        members: list[str] = []
        bucket_of: dict[str, int] = {}
        for bucket, node in enumerate(b_array):
            if node is None:
                continue
            check_node_name(node)
            if node in bucket_of:
                raise DuplicateNodeError(f"node {node!r} holds two buckets")
            bucket_of[node] = bucket
            members.append(node)
        stack = list(removed)
        empty = [b for b, node in enumerate(b_array) if node is None]
        if sorted(stack) != empty:
            raise InvalidArgumentError(
                f"removed must list the free buckets {empty} in removal order, got {stack}"
            )
        order = members if nodes is None else list(nodes)
        if sorted(order) != sorted(members) or len(set(order)) != len(order):
            raise InvalidArgumentError(
                f"nodes must list the members {sorted(members)}, got {order}"
            )
        placement._node_at = b_array
        placement._bucket_of = bucket_of
        placement._free = stack
        placement._nodes = order
        placement._rebuild()
        return placement

    def copy(self: _P) -> _P:
        """An independent placement with the same state (removals remembered).

        Runtime complexity: O(capacity).
        """
        clone = object.__new__(type(self))
        for cls in type(self).__mro__:  # this class's slots and the subclass's
            for slot in getattr(cls, "__slots__", ()):
                object.__setattr__(clone, slot, getattr(self, slot))
        clone._nodes = list(self._nodes)
        clone._bucket_of = dict(self._bucket_of)
        clone._node_at = list(self._node_at)
        clone._free = list(self._free)
        clone._names = self._names.copy()  # add and remove write into the caches in place
        clone._code_at = self._code_at.copy()
        self._engine_copy(clone)
        return clone

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, ReusableBucketPlacement)
        return (
            self._nodes == other._nodes
            and self._node_at == other._node_at
            and self._free == other._free
            and self._hasher == other._hasher
        )

    __hash__ = None  # type: ignore[assignment]

    def _is_fresh(self) -> bool:
        """Whether the state is the constructor's: members in buckets 0.. in join order."""
        n = len(self._nodes)
        size = len(self._node_at)
        return self._node_at[:n] == self._nodes and self._free == list(range(size - 1, n - 1, -1))

    def _default_capacity(self) -> bool:
        """Whether the constructor would pick this capacity for these members by itself."""
        return self._initial_capacity(len(self._nodes), None) == len(self._node_at)

    def __repr__(self) -> str:
        suffix = "" if self._hasher == get_hasher(None) else f", hash={self._hasher!r}"
        name = type(self).__name__
        if self._is_fresh():
            size = "" if self._default_capacity() else f", capacity={len(self._node_at)}"
            return f"{name}({self._nodes!r}{size}{suffix})"
        in_bucket_order = [node for node in self._node_at if node is not None]
        nodes = "" if self._nodes == in_bucket_order else f", nodes={self._nodes!r}"
        return f"{name}.from_state({self._node_at!r}, removed={self._free!r}{nodes}{suffix})"

    def _check(self) -> None:
        """Verify the internal invariants (O(capacity)); raise AssertionError if one fails."""
        nodes, node_at, free = self._nodes, self._node_at, self._free
        size = len(node_at)
        assert len(nodes) == len(self._bucket_of) == size - len(free)
        assert sorted(free) == [b for b in range(size) if node_at[b] is None]
        for code, node in enumerate(nodes):
            bucket = self._bucket_of[node]
            assert node_at[bucket] == node
            assert self._code_at[bucket] == code
        assert self._code_at.size == size
        assert int(np.count_nonzero(self._code_at < 0)) == len(free)
        names = self._names.tolist()
        assert names[: len(nodes)] == nodes
        assert all(spare is None for spare in names[len(nodes) :])
        assert self._hash_key == self._hasher.hash_key
        self._engine_check()
