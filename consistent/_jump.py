"""Jump consistent hash (Lamping & Veach, 2014) and :class:`JumpHash`, its named-node face.

Theory of operation
-------------------
:func:`jump_hash` is the paper's function, bit for bit: a 64-bit linear congruential
generator (multiplier 2862933555777941757, increment 1) drives a sequence of "jumps"
``j = floor((b + 1) * 2**31 / ((key >> 33) + 1))`` computed in IEEE double arithmetic,
exactly as the paper's C++ does (the quotient first, then the product, then truncation).
A key with ``n`` buckets lands on the last jump target below ``n``; growing ``n`` to
``n + 1`` moves exactly the keys whose next jump lands on ``n``, a ``1/(n + 1)`` share.

:func:`jump_hash_many` runs the same recurrence on a whole uint64 array at once: every
key's generator advances in lockstep while any key's next jump is still below ``n``.
Finished keys are masked, and dropped from the working set once half of it has finished,
so the work stays close to the sum of each key's own iteration count (about ``ln n + 1``
on average), in blocks small enough to stay in the CPU cache. Keeping the candidate
bucket in a float64 array is exact: every value involved is an integer below ``2**62``
whose product and truncation are the same operations the C code performs.

:class:`JumpHash` maps named nodes onto buckets: bucket ``i`` is the ``i``-th node in
insertion order. Keys are first hashed by a :class:`~consistent.KeyHasher` (xxh3 by
default), then jumped. Only the last node can leave; removing any other node is what
:class:`~consistent.MementoHash` is for.

The preference list of a key (``nodes_for``) is its *fail-over order*: the home, then
the node the key would move to if the home left, then the node it would move to if that
one left too, and so on -- computed with MementoHash's replacement rule, so a JumpHash and
a MementoHash over the same nodes agree on every preference list, and the list predicts
where keys really go when nodes fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from consistent._errors import (
    DuplicateNodeError,
    EmptyRingError,
    InvalidArgumentError,
    InvalidTypeError,
    LimitExceededError,
    UnknownNodeError,
    UnsupportedOperationError,
)
from consistent._hashing import Key, KeyHasher, Keys, get_hasher
from consistent._protocol import BLOCK, codes_by_block, copy_slots, name_array, with_room
from consistent._validate import (
    NODES_REFUSAL,
    check_equal_share_weight,
    check_node_name,
    check_preference_count,
    member_pairs,
)

__all__ = ["JumpHash", "jump_hash", "jump_hash_many"]

_MASK64: Final = (1 << 64) - 1
_LCG_MULTIPLIER: Final = 2862933555777941757
_TWO_POW_31: Final = float(1 << 31)
MAX_BUCKETS: Final = (1 << 31) - 1
"""The most buckets (nodes) jump hash addresses: its bucket numbers are 31-bit."""

# -- jump hash -------------------------------------------------------------------------


def jump_unchecked(key: int, num_buckets: int) -> int:
    """The paper's loop, unchecked: ``key`` in [0, 2**64), ``num_buckets`` >= 1."""
    # Locals and literal constants: this loop is on every scalar lookup's path.
    b = -1
    j = 0
    while j < num_buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        # int * float converts the int to a double first, exactly like C's (b + 1) * (...)
        j = int((b + 1) * (2147483648.0 / ((key >> 33) + 1)))
    return b


def _check_num_buckets(num_buckets: object) -> int:
    if isinstance(num_buckets, bool) or not isinstance(num_buckets, (int, np.integer)):
        raise InvalidTypeError(
            f"num_buckets must be an int, got {type(num_buckets).__name__}: {num_buckets!r}"
        )
    if not 1 <= int(num_buckets) <= MAX_BUCKETS:
        raise InvalidArgumentError(
            f"num_buckets must be an int in [1, 2**31 - 1], got {num_buckets!r}"
        )
    return int(num_buckets)


def _check_key(key: object) -> int:
    """Check a jump hash key is an int in ``[0, 2**64)`` (bool refused); return it as int."""
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
        raise InvalidTypeError(
            f"key must be an int in [0, 2**64), got {type(key).__name__}: {key!r}"
        )
    if not 0 <= int(key) <= _MASK64:
        raise InvalidArgumentError(f"key must be an int in [0, 2**64), got {key!r}")
    return int(key)


def jump_hash(key: int, num_buckets: int) -> int:
    """The bucket in ``[0, num_buckets)`` of a 64-bit key: Lamping & Veach's jump hash.

    Bit for bit the paper's reference function. ``key`` is the already-hashed 64-bit key;
    use :class:`JumpHash` to place str/bytes/int keys on named nodes.

    Runtime complexity: O(log num_buckets) expected.

    >>> [jump_hash(0xDEADBEEF, n) for n in range(1, 8)]
    [0, 1, 2, 3, 3, 5, 5]

    Args:
        key: an unsigned 64-bit integer, ``0 <= key < 2**64``.
        num_buckets: the number of buckets, ``1 <= num_buckets < 2**31``.

    Returns:
        The bucket number.

    Raises:
        TypeError: ``key`` or ``num_buckets`` is not an int.
        ValueError: ``key`` or ``num_buckets`` is out of range.
    """
    n = _check_num_buckets(num_buckets)
    return jump_unchecked(_check_key(key), n)


def jump_hash_many(keys: npt.ArrayLike, num_buckets: int) -> npt.NDArray[np.int32]:
    """:func:`jump_hash` of every key of a uint64 array, vectorised in numpy.

    Gives exactly the answers of the scalar function, and refuses exactly the keys it
    refuses: a negative or too large integer, a bool, a float (checked per key for a list,
    per array for an integer array).

    Runtime complexity: O(k log num_buckets) expected for k keys, without per-key Python
    for integer arrays.

    >>> jump_hash_many(np.array([0, 1, 0xDEADBEEF], dtype=np.uint64), 17).tolist()
    [0, 6, 16]
    >>> jump_hash_many([-1, 5], 10)
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidArgumentError: key must be an int in [0, 2**64), got -1

    Args:
        keys: unsigned 64-bit keys: an integer array, or a sequence of ints in
            ``[0, 2**64)``.
        num_buckets: the number of buckets, ``1 <= num_buckets < 2**31``.

    Returns:
        An int32 array of buckets aligned with ``keys``.

    Raises:
        TypeError: ``num_buckets`` is not an int, or a key is not an int (``keys`` is not
            an integer array).
        ValueError: ``num_buckets`` or a key is out of range, or ``keys`` is not
            one-dimensional.
    """
    n = _check_num_buckets(num_buckets)
    array = _key_array(keys)
    out = np.zeros(array.size, dtype=np.int32)
    if n == 1:
        return out
    for start in range(0, array.size, BLOCK):
        _jump_block(array[start : start + BLOCK], float(n), out[start : start + BLOCK])
    return out


def _key_array(keys: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """``keys`` as a one-dimensional uint64 array, each key checked as :func:`jump_hash` does."""
    if isinstance(keys, (str, bytes)):
        raise InvalidTypeError(f"keys must be a sequence of ints, got a {type(keys).__name__}")
    if not isinstance(keys, np.ndarray):
        # Lists go key by key: numpy would turn [2**63, 5] into floats and -1 into 2**64 - 1.
        try:
            values = [_check_key(key) for key in keys]  # type: ignore[union-attr]
        except TypeError as error:
            if isinstance(error, InvalidTypeError):
                raise
            raise InvalidTypeError(
                f"keys must be a sequence of ints, got {type(keys).__name__}: {keys!r:.60}"
            ) from None
        return np.array(values, dtype=np.uint64)
    if keys.ndim != 1:
        raise InvalidArgumentError(f"keys must be a one-dimensional array, got shape {keys.shape}")
    if keys.dtype.kind == "u":
        return keys.astype(np.uint64, copy=False)
    if keys.dtype.kind == "i":
        negative = np.flatnonzero(keys < 0)
        if negative.size:
            _check_key(int(keys[negative[0]]))  # raises the scalar form's error
        return keys.astype(np.uint64)
    if keys.dtype.kind == "O":
        return _key_array(keys.tolist())
    if not keys.size:
        return np.empty(0, dtype=np.uint64)
    raise InvalidTypeError(f"keys must be an unsigned 64-bit integer array, got dtype {keys.dtype}")


def _jump_block(keys: npt.NDArray[np.uint64], n: float, out: npt.NDArray[np.int32]) -> None:
    """Run the jump recurrence on one block of keys, writing buckets into ``out``."""
    multiplier = np.uint64(_LCG_MULTIPLIER)
    one = np.uint64(1)
    shift = np.uint64(33)
    size = keys.size
    # The loop's first pass sets b = j = 0 before any jump, so every key starts there.
    state = keys.copy()
    bucket = np.zeros(size)
    jump = np.empty(size)
    plus_one = np.empty(size)
    shifted = np.empty(size, dtype=np.uint64)
    alive = np.ones(size, dtype=bool)
    going_on = np.empty(size, dtype=bool)
    index: npt.NDArray[np.intp] | None = None
    with np.errstate(over="ignore"):
        while True:
            state *= multiplier
            state += one
            np.right_shift(state, shift, out=shifted)
            np.add(shifted, 1.0, out=jump)
            np.divide(_TWO_POW_31, jump, out=jump)
            np.add(bucket, 1.0, out=plus_one)
            jump *= plus_one
            np.trunc(jump, out=jump)
            np.less(jump, n, out=going_on)
            # Finished keys stay in the block (masked) until half of it has finished:
            # compacting after every pass costs more than computing a few dead lanes.
            going_on &= alive
            np.copyto(bucket, jump, where=going_on)
            alive, going_on = going_on, alive
            live = int(np.count_nonzero(alive))
            if 2 * live >= alive.size:
                continue
            selected = np.flatnonzero(alive)
            if index is None:
                out[:] = bucket
                index = selected
            else:
                out[index] = bucket
                index = index[selected]
            if not live:
                return
            state = state[selected]
            bucket = bucket[selected]
            jump = np.empty(live)
            plus_one = np.empty(live)
            shifted = np.empty(live, dtype=np.uint64)
            alive = np.ones(live, dtype=bool)
            going_on = np.empty(live, dtype=bool)


# -- JumpHash --------------------------------------------------------------------------


class JumpHash:
    """Jump consistent hash over named nodes: bucket ``i`` is the ``i``-th node added.

    Minimal memory (the node list), perfect balance, and minimal movement when the last
    node joins or leaves. Removing any other node raises
    :class:`~consistent.UnsupportedOperationError`: use :class:`~consistent.MementoHash`.

    Runtime complexity: lookups O(log n) expected (the jump loop runs about ``ln n + 1``
    times in Python: about 1.3 us per ``node_for`` at 100 nodes, 1.9 us at 1,000, hashing
    included; use :meth:`lookup_codes` for many keys); construction O(n); ``add`` and
    removing the last node O(1) amortised.

    >>> ring = JumpHash(["a", "b", "c"])
    >>> ring.node_for("user:42") in ring
    True
    >>> ring
    JumpHash(['a', 'b', 'c'])

    Args:
        nodes: initial node names, in bucket order (a mapping of name to weight is
            accepted if every weight is 1).
        hash: a hash family name (``"xxh3"``, ``"md5"``) or a
            :class:`~consistent.KeyHasher`; xxh3 by default.

    Raises:
        TypeError: a node name is not a str, or a weight not a number.
        DuplicateNodeError: a node name is repeated.
        UnsupportedOperationError: a weight is not 1 (use Rendezvous or HashRing).
    """

    # Facts about the algorithm, read by the registry (consistent.ALGORITHMS), the
    # simulator, the benchmarks and the tests.
    algorithm: ClassVar[str] = "jump"
    summary: ClassVar[str] = "jump consistent hash (append/pop only)"
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
        # Node names for lookup_many. ``add`` writes into spare room at the end (doubling
        # the array when it is full), so a join costs O(1) amortised, not a rebuilt array.
        self._names: npt.NDArray[np.object_] = name_array(self._nodes)

    # -- membership --------------------------------------------------------------------

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

        >>> ring = JumpHash(["a"])
        >>> ring.add("b")
        >>> ring.nodes
        ('a', 'b')

        Args:
            node: the new node's name.
            weight: must be 1 (jump hash gives every bucket the same share).

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
        check_node_name(node)
        check_equal_share_weight(node, weight, "JumpHash")
        if node in self._index:
            raise DuplicateNodeError(f"node {node!r} is already a member")
        if len(self._nodes) >= MAX_BUCKETS:
            raise LimitExceededError(f"JumpHash holds at most {MAX_BUCKETS:,} nodes (2**31 - 1)")

    def remove(self, node: str) -> None:
        """Remove the last node added; only its keys move.

        Runtime complexity: O(1).

        >>> ring = JumpHash(["a", "b"])
        >>> ring.remove("b")
        >>> ring.remove("a")
        >>> len(ring)
        0

        Args:
            node: the name of the last node.

        Raises:
            TypeError: ``node`` is not a str.
            UnknownNodeError: ``node`` is not a member.
            UnsupportedOperationError: ``node`` is not the last node (use MementoHash).
        """
        check_node_name(node)
        if node not in self._index:
            raise UnknownNodeError(f"node {node!r} is not a member")
        if self._nodes[-1] != node:
            raise UnsupportedOperationError(
                f"JumpHash can only remove its last node ({self._nodes[-1]!r}), got {node!r}; "
                f"use MementoHash to remove arbitrary nodes"
            )
        del self._index[node]
        self._nodes.pop()
        self._names[len(self._nodes)] = None  # spare room holds no reference

    # -- lookups -----------------------------------------------------------------------

    def node_for(self, key: Key) -> str:
        """The home node of ``key``.

        Runtime complexity: O(log n) expected.

        >>> JumpHash(["a"]).node_for(b"anything")
        'a'

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: ``key`` is not a valid key (see :func:`~consistent.hash_key`).
        """
        nodes = self._nodes
        if not nodes:
            raise EmptyRingError("JumpHash has no nodes")
        return nodes[jump_unchecked(self._hash_key(key), len(nodes))]

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """The first ``n`` distinct nodes of ``key``'s fail-over order, home first.

        The second node is where the key would go if its home left, the third where it
        would go if both left, and so on (MementoHash's replacement rule; see the module
        docstring).

        Runtime complexity: O(n log n + n**2) expected.

        >>> ring = JumpHash(["a", "b", "c"])
        >>> prefs = ring.nodes_for("k", 3)
        >>> prefs[0] == ring.node_for("k"), sorted(prefs)
        (True, ['a', 'b', 'c'])

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not in ``[1, len(self)]``.
            TypeError: ``n`` is not an int, or ``key`` is not a valid key.
        """
        size = len(self._nodes)
        if not size:
            raise EmptyRingError("JumpHash has no nodes")
        count = check_preference_count(n, size)
        # MementoHash builds on this module, so its rule is imported when first needed.
        from consistent._memento import failover_buckets, working_table

        buckets = failover_buckets(self._hash_key(key), size, working_table, size, True, count)
        return [self._nodes[b] for b in buckets]

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as int32 indices into :attr:`nodes`.

        Runtime complexity: O(k log n) expected for k keys; integer keys need no per-key
        Python (strings cost one hash call each).

        >>> JumpHash(["a", "b"]).lookup_codes([1, 2, 3]).dtype
        dtype('int32')

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        if not self._nodes:
            raise EmptyRingError("JumpHash has no nodes")
        return codes_by_block(keys, self._hasher, partial(jump_hash_many, num_buckets=len(self)))

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: a numpy object array of node names aligned with ``keys``.

        Runtime complexity: O(k log n) expected for k keys.

        >>> JumpHash(["a"]).lookup_many(["x", "y"]).tolist()
        ['a', 'a']

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        names: npt.NDArray[np.object_] = self._names[self.lookup_codes(keys)]  # codes < n
        return names

    def ownership(self) -> dict[str, float]:
        """Each node's exact share of the key space: ``1/n`` each (jump hash's guarantee).

        Runtime complexity: O(n).

        >>> JumpHash(["a", "b"]).ownership()
        {'a': 0.5, 'b': 0.5}
        """
        share = 1.0 / len(self._nodes) if self._nodes else 0.0
        return dict.fromkeys(self._nodes, share)

    # -- copies, equality, debugging ---------------------------------------------------

    def copy(self) -> JumpHash:
        """An independent JumpHash with the same nodes and hasher.

        Runtime complexity: O(n).

        >>> a = JumpHash(["a"]); b = a.copy(); b.add("b"); len(a), len(b)
        (1, 2)
        """
        clone = copy_slots(self, JumpHash)
        clone._nodes = list(self._nodes)
        clone._index = dict(self._index)
        clone._names = self._names.copy()  # written in place by add
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JumpHash):
            return NotImplemented
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


