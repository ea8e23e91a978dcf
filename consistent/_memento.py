"""MementoHash (Coluzzi et al., 2023): jump hash that can remove any node.

Theory of operation
-------------------
Why MementoHash and not AnchorHash: AnchorHash needs a capacity fixed in advance and
memory proportional to it; MementoHash has no capacity, its memory grows only with the
number of removed (not yet restored) buckets, and with no removals it *is* jump hash, so a
:class:`~consistent.JumpHash` and a :class:`MementoHash` over the same nodes place every key
the same way. Its paper reports it ahead of AnchorHash on both lookup time and memory.

State: the *b-array size* ``size`` (the jump range), and a *replacement table* holding,
for every removed bucket ``b``, its *replacer* -- the number of working buckets left just
after ``b`` was removed -- and the bucket removed before it. The table is a stack: the
last removed bucket is its top.

Lookup: ``b = jump_hash(h, size)``. While ``b`` is removed with replacer ``r``, rehash the
key into ``[0, r)`` with ``b`` as seed; if that lands on a bucket removed *before* ``b``
(replacer ``>= r``) follow its replacer until reaching a bucket that was still working
when ``b`` left; repeat if that bucket was itself removed later. The rehash is
``mix(h, b)`` -- XXH3-64 of the key hash's 8 bytes seeded with ``b`` (the paper rehashes
the key itself; hashing its 64-bit hash keeps every key type on one path and vectorises).

Removal of bucket ``b``: if the table is empty and ``b`` is the last bucket, shrink
``size`` as jump hash would; otherwise push ``b`` with replacer ``working - 1``. Only
``b``'s keys move, and they spread evenly over the remaining buckets.

Joining reuses buckets last-in first-out: a new node takes the most recently removed
bucket still free (popping the table), or a new bucket at the end when nothing is removed.
So removing a node and then adding one (whatever its name) gives the newcomer exactly the
keys the removed node had, restoring the previous placement; after several removals, adds
restore them in the reverse order of removal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from consistent._errors import (
    DuplicateNodeError,
    EmptyRingError,
    InvalidArgumentError,
    LimitExceededError,
    UnknownNodeError,
)
from consistent._hashing import Key, KeyHasher, Keys, get_hasher, mix_bitflips, mix_many, mix_scalar
from consistent._jump import MAX_BUCKETS, jump_hash_many, jump_unchecked
from consistent._protocol import codes_by_block, copy_slots, name_array, with_room
from consistent._validate import (
    NODES_REFUSAL,
    check_equal_share_weight,
    check_node_name,
    check_preference_count,
    member_pairs,
)

__all__ = ["MementoHash", "failover_buckets", "memento_bucket"]



# -- the lookup rule (JumpHash's fail-over order uses it too) ---------------------------


def failover_buckets(
    key_hash: int,
    size: int,
    replacer_of: Callable[[int], int],
    working: int,
    table_is_empty: bool,
    count: int,
) -> list[int]:
    """The first ``count`` buckets of a key's fail-over order under MementoHash's rule.

    Simulates removing the key's bucket, then its next bucket, and so on, exactly as
    ``MementoHash.remove`` would (without touching any structure): a removal is recorded in
    a local overlay of the replacement table. ``replacer_of(b)`` is the existing table
    (``-1`` for a working bucket); ``size`` the b-array size; ``working`` the number of
    working buckets; ``table_is_empty`` whether the existing table holds no removal.
    """
    overlay: dict[int, int] = {}

    def replacer(b: int) -> int:
        r = overlay.get(b)
        return replacer_of(b) if r is None else r

    key_bytes = key_hash.to_bytes(8, "little")
    picks: list[int] = []
    while True:
        b = memento_bucket(key_hash, key_bytes, size, replacer)
        picks.append(b)
        if len(picks) == count:
            return picks
        if table_is_empty and not overlay and b == size - 1:
            size -= 1  # MementoHash removes the last bucket as jump hash does: by shrinking
        else:
            overlay[b] = working - 1
        working -= 1


def memento_bucket(
    key_hash: int, key_bytes: bytes, size: int, replacer_of: Callable[[int], int]
) -> int:
    """MementoHash's lookup: jump over the b-array, then follow the replacement table.

    A key landing on a removed bucket ``b`` (whose replacer ``r`` is the number of working
    buckets left after ``b`` went) is rehashed with ``b`` as seed into ``[0, r)``; landing
    on a bucket removed *before* ``b`` (replacer ``>= r``) follows that bucket's replacer
    until it reaches a bucket that was working when ``b`` was removed.
    """
    b = jump_unchecked(key_hash, size)
    r = replacer_of(b)
    while r >= 0:
        b = mix_scalar(key_bytes, b) % r
        later = replacer_of(b)
        while later >= r:
            b = later
            later = replacer_of(b)
        r = later
    return b




def working_table(bucket: int) -> int:
    """Replacement lookup of a table with no removals."""
    return -1


class MementoHash:
    """Jump hash with arbitrary removals: minimal movement, memory only for removals.

    Bucket ``i`` of the b-array is held by one node; ``nodes`` lists the members in the
    order they joined. Weights other than 1 are refused (every node gets the same share).
    The docstring of :mod:`consistent._memento` explains the algorithm and the order in
    which freed buckets are reused (last removed, first reused).

    Runtime complexity: lookups O(log n) expected while few nodes are removed
    (O(log n + log(size/n)**2) in general; the jump loop runs in Python, about 1.3 us per
    ``node_for`` at 100 nodes and 1.9 us at 1,000, hashing included); construction O(n);
    ``add`` O(1) amortised; ``remove`` O(n) in C, no per-node Python (the join-order codes
    of later members shift down).

    >>> ring = MementoHash(["a", "b", "c"])
    >>> ring.remove("b")
    >>> ring.node_for("user:42") in ("a", "c")
    True
    >>> ring.nodes
    ('a', 'c')
    >>> ring  # the repr reproduces the removal too
    MementoHash.from_state(['a', None, 'c'], removed=[1])

    Args:
        nodes: initial node names (a mapping of name to weight is accepted if every
            weight is 1).
        hash: a hash family name (``"xxh3"``, ``"md5"``) or a
            :class:`~consistent.KeyHasher`; xxh3 by default.

    Raises:
        TypeError: a node name is not a str, or a weight not a number.
        DuplicateNodeError: a node name is repeated.
        UnsupportedOperationError: a weight is not 1 (use Rendezvous or HashRing).
    """

    # Facts about the algorithm, read by the registry (consistent.ALGORITHMS), the
    # simulator, the benchmarks and the tests.
    algorithm: ClassVar[str] = "memento"
    summary: ClassVar[str] = "jump with arbitrary removals"
    removes_any_node: ClassVar[bool] = True
    exact_ownership: ClassVar[bool] = False
    weighted: ClassVar[bool] = False
    stateful: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset()

    __slots__ = (
        "_bucket_of",
        "_code_at",
        "_hash_key",
        "_hasher",
        "_last_removed",
        "_names",
        "_node_at",
        "_nodes",
        "_replacer_array",
        "_size",
        "_table",
    )

    def __init__(
        self,
        nodes: Iterable[str] | Mapping[str, float] = (),
        *,
        hash: str | KeyHasher | None = None,
    ) -> None:
        self._hasher = get_hasher(hash)
        self._hash_key = self._hasher.hash_key
        self._nodes: list[str] = []
        self._bucket_of: dict[str, int] = {}
        self._node_at: list[str | None] = []  # b-array: the node of each bucket, or None
        self._size = 0
        self._last_removed = 0  # == size while the table is empty
        # removed bucket -> (replacer, previously removed bucket)
        self._table: dict[int, tuple[int, int]] = {}
        # Batch lookup caches, each with spare room at the end that ``add`` writes into
        # (see _rebuild): the names in join order, and per bucket its node's join-order
        # code and its replacer (-1 for a working bucket; spare entries are -1 too).
        self._names: npt.NDArray[np.object_]
        self._code_at: npt.NDArray[np.int32]
        self._replacer_array: npt.NDArray[np.int64]
        for node, weight in member_pairs(nodes, NODES_REFUSAL):
            self._check_new(node, weight)
            self._bucket_of[node] = self._size
            self._node_at.append(node)
            self._nodes.append(node)
            self._size += 1
        self._last_removed = self._size
        self._rebuild()

    # -- membership --------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member nodes in the order they joined; ``lookup_codes`` indexes this."""
        return tuple(self._nodes)

    @property
    def hasher(self) -> KeyHasher:
        """The :class:`~consistent.KeyHasher` keys are hashed with."""
        return self._hasher

    @property
    def removed_buckets(self) -> int:
        """How many buckets the replacement table remembers (its memory, in entries)."""
        return len(self._table)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._bucket_of

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node on the most recently freed bucket, or a new one; keys move only to it.

        Runtime complexity: O(1) amortised.

        >>> ring = MementoHash(["a", "b"])
        >>> ring.remove("a")
        >>> ring.add("c")  # takes bucket 0, exactly the keys "a" had
        >>> ring.nodes
        ('b', 'c')

        Args:
            node: the new node's name.
            weight: must be 1.

        Raises:
            TypeError: ``node`` is not a str or ``weight`` not a number.
            DuplicateNodeError: ``node`` is already a member.
            UnsupportedOperationError: ``weight`` is not 1.
        """
        self._check_new(node, weight)
        code = len(self._nodes)
        # Make room first: growing is the only step that can fail (memory).
        names = with_room(self._names, code + 1, None)
        code_at = with_room(self._code_at, self._size + 1, -1)
        replacers = with_room(self._replacer_array, self._size + 1, -1)
        if self._table:
            bucket = self._last_removed
            self._last_removed = self._table.pop(bucket)[1]
            self._node_at[bucket] = node
        else:
            bucket = self._size
            self._size += 1
            self._last_removed = self._size
            self._node_at.append(node)
        self._bucket_of[node] = bucket
        self._nodes.append(node)
        names[code] = node
        code_at[bucket] = code
        replacers[bucket] = -1
        self._names, self._code_at, self._replacer_array = names, code_at, replacers

    def _check_new(self, node: str, weight: float) -> None:
        """Refuse a node that ``add`` cannot take, before anything changes."""
        check_node_name(node)
        check_equal_share_weight(node, weight, "MementoHash")
        if node in self._bucket_of:
            raise DuplicateNodeError(f"node {node!r} is already a member")
        if not self._table and self._size >= MAX_BUCKETS:
            raise LimitExceededError(
                f"MementoHash holds at most {MAX_BUCKETS:,} nodes (2**31 - 1)"
            )

    def remove(self, node: str) -> None:
        """Remove any node; only its keys move, spread evenly over the others.

        Runtime complexity: O(n), in C (list and array shifts); O(1) Python work.

        >>> ring = MementoHash(["a", "b", "c"])
        >>> ring.remove("a")
        >>> ring.nodes, ring.removed_buckets
        (('b', 'c'), 1)

        Args:
            node: a member's name.

        Raises:
            TypeError: ``node`` is not a str.
            UnknownNodeError: ``node`` is not a member.
        """
        check_node_name(node)
        bucket = self._bucket_of.get(node)
        if bucket is None:
            raise UnknownNodeError(f"node {node!r} is not a member")
        code = self._nodes.index(node)
        last = len(self._nodes) - 1
        code_at, names = self._code_at, self._names
        later = code_at > code  # allocated before anything changes
        if not self._table and bucket == self._size - 1:
            self._size -= 1
            self._last_removed = self._size
            self._node_at.pop()
        else:
            working = self._size - len(self._table)
            self._table[bucket] = (working - 1, self._last_removed)
            self._last_removed = bucket
            self._node_at[bucket] = None
            self._replacer_array[bucket] = working - 1
        del self._bucket_of[node]
        del self._nodes[code]
        code_at[bucket] = -1
        code_at[later] -= 1  # later joiners' codes shift down with their place in nodes
        names[code:last] = names[code + 1 : last + 1]
        names[last] = None

    def _rebuild(self) -> None:
        """Build the batch lookup caches from the state (construction, ``from_state``).

        ``add`` writes into them in place, first doubling one that is full (so a join
        costs O(1) amortised), and ``remove`` updates them in place. Entries past the live
        ones are ``-1`` (codes, replacers) and ``None`` (names).
        """
        size, nodes = self._size, self._nodes
        self._names = name_array(nodes)
        code_at = np.full(size + 1, -1, dtype=np.int32)
        if nodes:
            buckets = np.fromiter(map(self._bucket_of.__getitem__, nodes), np.intp, len(nodes))
            code_at[buckets] = np.arange(len(nodes), dtype=np.int32)
        self._code_at = code_at
        replacers = np.full(size + 1, -1, dtype=np.int64)
        for bucket, (replacer, _) in self._table.items():
            replacers[bucket] = replacer
        self._replacer_array = replacers

    def _replacer(self, bucket: int) -> int:
        entry = self._table.get(bucket)
        return -1 if entry is None else entry[0]

    # -- lookups -----------------------------------------------------------------------

    def node_for(self, key: Key) -> str:
        """The home node of ``key``.

        Runtime complexity: O(log n) expected while few nodes are removed.

        >>> MementoHash(["a"]).node_for(b"anything")
        'a'

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: ``key`` is not a valid key (see :func:`~consistent.hash_key`).
        """
        if not self._nodes:
            raise EmptyRingError("MementoHash has no nodes")
        h = self._hash_key(key)
        if not self._table:
            return self._node_at[jump_unchecked(h, self._size)]  # type: ignore[return-value]
        bucket = memento_bucket(h, h.to_bytes(8, "little"), self._size, self._replacer)
        return self._node_at[bucket]  # type: ignore[return-value]

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """The first ``n`` distinct nodes of ``key``'s fail-over order, home first.

        The second node is exactly where the key goes if its home is removed, the third
        where it goes if both are removed, and so on.

        Runtime complexity: O(n log n + n**2) expected.

        >>> ring = MementoHash(["a", "b", "c"])
        >>> first, second = ring.nodes_for("k", 2)
        >>> ring.remove(first)
        >>> ring.node_for("k") == second
        True

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not in ``[1, len(self)]``.
            TypeError: ``n`` is not an int, or ``key`` is not a valid key.
        """
        working = len(self._nodes)
        if not working:
            raise EmptyRingError("MementoHash has no nodes")
        count = check_preference_count(n, working)
        buckets = failover_buckets(
            self._hash_key(key), self._size, self._replacer, working, not self._table, count
        )
        return [self._node_at[b] for b in buckets]  # type: ignore[misc]

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as int32 indices into :attr:`nodes`.

        The jump step is vectorised over all keys; the replacement chain is iterated,
        vectorised, on the subset of keys that landed on removed buckets.

        Runtime complexity: O(k log n) expected for k keys.

        >>> MementoHash(["a", "b"]).lookup_codes([1, 2, 3]).dtype
        dtype('int32')

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        if not self._nodes:
            raise EmptyRingError("MementoHash has no nodes")
        return codes_by_block(keys, self._hasher, self._place)

    def _place(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
        """Codes (indices into ``nodes``) of already-hashed keys."""
        buckets = jump_hash_many(hashes, self._size)
        if self._table:
            replacers = self._replacer_array
            pending = np.flatnonzero(replacers[buckets] >= 0)
            if pending.size:
                buckets[pending] = _follow_replacements(
                    hashes[pending], buckets[pending].astype(np.int64), replacers
                )
        codes: npt.NDArray[np.int32] = self._code_at[buckets]
        return codes

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: a numpy object array of node names aligned with ``keys``.

        Runtime complexity: O(k log n) expected for k keys.

        >>> MementoHash(["a"]).lookup_many(["x", "y"]).tolist()
        ['a', 'a']

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        names: npt.NDArray[np.object_] = self._names[self.lookup_codes(keys)]
        return names

    def ownership(self) -> dict[str, float]:
        """Each node's share of the key space: ``1/n`` each.

        This is the expected share over the hash function (MementoHash is balanced like
        jump hash); a given key sample deviates from it by sampling error only.

        Runtime complexity: O(n).

        >>> MementoHash(["a", "b"]).ownership()
        {'a': 0.5, 'b': 0.5}
        """
        share = 1.0 / len(self._nodes) if self._nodes else 0.0
        return dict.fromkeys(self._nodes, share)

    # -- state, copies, equality, debugging --------------------------------------------

    @classmethod
    def from_state(
        cls,
        buckets: Sequence[str | None],
        removed: Sequence[int] = (),
        nodes: Sequence[str] | None = None,
        *,
        hash: str | KeyHasher | None = None,
    ) -> MementoHash:
        """Rebuild a MementoHash from its state, as its ``repr`` shows it after removals.

        Runtime complexity: O(size).

        >>> ring = MementoHash(["a", "b", "c"])
        >>> ring.remove("a")
        >>> ring
        MementoHash.from_state([None, 'b', 'c'], removed=[0])
        >>> MementoHash.from_state([None, "b", "c"], removed=[0]) == ring
        True

        Args:
            buckets: the node of each bucket of the b-array, ``None`` for a removed one.
            removed: the removed buckets in the order they were removed (oldest first);
                exactly the positions of ``None`` in ``buckets``.
            nodes: the members in join order (:attr:`nodes`); bucket order by default.
            hash: as for the constructor.

        Raises:
            TypeError: a bucket holds neither a str nor ``None``.
            ValueError: ``removed`` does not list the empty buckets, the last bucket is
                empty while nothing is removed, or ``nodes`` is not the set of members.
            DuplicateNodeError: a node holds two buckets.
        """
        ring = cls(hash=hash)
        b_array = list(buckets)
        members: list[str] = []
        for bucket, node in enumerate(b_array):
            if node is None:
                continue
            check_node_name(node)
            if node in ring._bucket_of:
                raise DuplicateNodeError(f"node {node!r} holds two buckets")
            ring._bucket_of[node] = bucket
            members.append(node)
        stack = list(removed)
        empty = [b for b, node in enumerate(b_array) if node is None]
        if sorted(stack) != empty:
            raise InvalidArgumentError(
                f"removed must list the empty buckets {empty} in removal order, got {stack}"
            )
        order = members if nodes is None else list(nodes)
        if sorted(order) != sorted(members) or len(set(order)) != len(order):
            raise InvalidArgumentError(
                f"nodes must list the members {sorted(members)}, got {order}"
            )
        ring._node_at = b_array
        ring._size = len(b_array)
        previous = ring._size
        for depth, bucket in enumerate(stack):
            ring._table[bucket] = (len(b_array) - depth - 1, previous)
            previous = bucket
        ring._last_removed = previous
        ring._nodes = order
        ring._rebuild()
        return ring

    def copy(self) -> MementoHash:
        """An independent MementoHash with the same state (removals remembered).

        Runtime complexity: O(size).

        >>> a = MementoHash(["a", "b"]); a.remove("a"); b = a.copy(); b.add("c")
        >>> a.nodes, b.nodes
        (('b',), ('b', 'c'))
        """
        clone = copy_slots(self, MementoHash)
        clone._nodes = list(self._nodes)
        clone._bucket_of = dict(self._bucket_of)
        clone._node_at = list(self._node_at)
        clone._table = dict(self._table)
        # add and remove write into the caches in place
        clone._names = self._names.copy()
        clone._code_at = self._code_at.copy()
        clone._replacer_array = self._replacer_array.copy()
        return clone

    def _removal_order(self) -> list[int]:
        """The removed buckets, oldest removal first."""
        order, bucket = [], self._last_removed
        for _ in range(len(self._table)):
            order.append(bucket)
            bucket = self._table[bucket][1]
        return order[::-1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MementoHash):
            return NotImplemented
        return (
            self._nodes == other._nodes
            and self._node_at == other._node_at
            and self._table == other._table
            and self._hasher == other._hasher
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        suffix = "" if self._hasher == get_hasher(None) else f", hash={self._hasher!r}"
        name = type(self).__name__
        if self._nodes == self._node_at:  # no removals, buckets taken in join order
            return f"{name}({self._nodes!r}{suffix})"
        in_bucket_order = [node for node in self._node_at if node is not None]
        nodes = "" if self._nodes == in_bucket_order else f", nodes={self._nodes!r}"
        return (
            f"{name}.from_state({self._node_at!r}, removed={self._removal_order()!r}"
            f"{nodes}{suffix})"
        )

    def _check(self) -> None:
        """Verify the internal invariants (O(size)); raise AssertionError if one fails."""
        size, table, nodes = self._size, self._table, self._nodes
        assert len(self._node_at) == size
        assert len(nodes) == len(self._bucket_of) == size - len(table)
        for node in nodes:
            bucket = self._bucket_of[node]
            assert self._node_at[bucket] == node
            assert bucket not in table
        for bucket in table:
            assert 0 <= bucket < size
            assert self._node_at[bucket] is None
        if not table:
            assert self._last_removed == size
            if size:
                assert self._node_at[-1] is not None
        # The table is a stack from the last removed bucket down through ``prev`` links;
        # replacers count up by one from the working size (each removal left one fewer).
        bucket, depth = self._last_removed, 0
        while depth < len(table):
            replacer, previous = table[bucket]
            assert replacer == len(nodes) + depth
            bucket, depth = previous, depth + 1
        assert bucket == size
        names = self._names.tolist()
        assert names[: len(nodes)] == nodes
        assert all(spare is None for spare in names[len(nodes) :])
        assert self._code_at.size >= size and self._replacer_array.size >= size
        for code, node in enumerate(nodes):
            assert self._code_at[self._bucket_of[node]] == code
        assert int(np.count_nonzero(self._code_at[:size] < 0)) == len(table)
        assert (self._code_at[size:] == -1).all()
        for b in range(size):
            assert self._replacer_array[b] == self._replacer(b)
        assert (self._replacer_array[size:] == -1).all()
        assert self._hash_key == self._hasher.hash_key


def _follow_replacements(
    hashes: npt.NDArray[np.uint64],
    buckets: npt.NDArray[np.int64],
    replacers: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Vectorised replacement walk for keys whose jump bucket was removed.

    Every step works on the keys still on a removed bucket: rehash into ``[0, r)`` with
    the bucket as seed, then follow replacers of buckets removed earlier (see ``memento_bucket``).
    """
    result: npt.NDArray[np.int64] = buckets.copy()
    index = np.arange(buckets.size)
    replacer = replacers[buckets]
    while index.size:
        mixed = mix_many(hashes, mix_bitflips(buckets.astype(np.uint64)))
        buckets = (mixed % replacer.astype(np.uint64)).astype(np.int64)
        later = replacers[buckets]
        earlier = np.flatnonzero(later >= replacer)
        while earlier.size:
            buckets[earlier] = later[earlier]
            later[earlier] = replacers[buckets[earlier]]
            earlier = earlier[later[earlier] >= replacer[earlier]]
        replacer = later
        settled = replacer < 0
        result[index[settled]] = buckets[settled]
        going_on = ~settled
        index, hashes, buckets, replacer = (
            index[going_on],
            hashes[going_on],
            buckets[going_on],
            replacer[going_on],
        )
    return result
