"""DxHash (Dong and Wang, 2021): a key's first working bucket in its pseudo-random sequence.

Theory of operation
-------------------
A *node-state array* (NSArray) of ``capacity`` buckets marks each one working or free.
A key's hash seeds a pseudo-random sequence of buckets ``r_0, r_1, ...`` in
``[0, capacity)``; its home is the first working bucket of the sequence. Here
``r_i = mix(h, i) mod capacity``, XXH3-64 of the key hash seeded with the draw's index
(the authors' C++ chains CRC32 steps, the research benchmark's Java uses
``java.util.Random``; none is a production format, so this one is chosen to vectorise).

Because the sequence depends on the key alone, the placement depends only on *which*
buckets work, not on the order of removals (the paper's "statelessness for removals"):
removing a node moves only its keys, each to the next working bucket of its own
sequence, uniformly over the others; a join moves keys only onto the newcomer. The
fail-over order (``nodes_for``) is the sequence itself, without repeats.

The sequence is cut after ``4 * capacity`` draws, as in the authors' C++ (whose lookup then
fails); here the key then takes the first working bucket at or after ``h mod capacity``,
scanning cyclically. The cut-off keeps the walk bounded when few buckets work, and the
fallback is still "the first working bucket in a fixed per-key order", so removals and
joins stay minimal. A key reaches it with probability about ``exp(-4 n)``: ``0.02`` with
one node, below ``1e-8`` from five.

Capacity: joins reuse the most recently freed bucket. When every bucket works, a join
*scales* the array: its capacity doubles, as the paper's ``Scale`` operation (and the
C++ ``resize``) do. Scaling changes ``mod capacity`` for every key, so it moves keys between
existing nodes -- about half of them; it is the one operation that does. The default
capacity is the smallest power of two holding the initial nodes, and at least 32 (so small
clusters do not rescale, and remap, at every doubling of their size); building with ``n``
nodes and growing to ``n`` one join at a time give the same placement. Pass ``capacity``
to leave more room for joins without scaling. Lookups draw ``capacity / n`` buckets on
average, so a capacity far above the node count slows them down.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

from consistent._errors import InvalidArgumentError, InvalidTypeError, LimitExceededError
from consistent._hashing import mix_bitflip, mix_many, mix_scalar
from consistent._reusable import ReusableBucketPlacement

__all__ = ["DxHash"]

_MAX_CAPACITY: Final = 1 << 30
_MIN_DEFAULT_CAPACITY: Final = 32
_DRAWS_PER_BUCKET: Final = 4


class DxHash(ReusableBucketPlacement):
    """DxHash over named nodes: any node leaves, minimal movement, doubling capacity.

    A joining node takes the most recently freed bucket (the first unused one at first);
    when none is free the bucket array doubles, which remaps keys (see
    :mod:`consistent._dxhash`). The placement depends only on which buckets are working.

    Runtime complexity: lookups O(capacity / n) expected draws (below 2 with the default
    capacity from 16 nodes on; the loop runs in Python for ``node_for``, use
    :meth:`lookup_codes` for many keys); ``add`` O(1) amortised; ``remove`` O(1) engine
    work plus an O(n) shift of join-order codes in C; memory 1 byte per bucket plus the
    free stack.

    >>> ring = DxHash(["a", "b", "c"], capacity=4)
    >>> ring.remove("b")
    >>> ring.node_for("user:42") in ("a", "c")
    True
    >>> ring
    DxHash.from_state(['a', None, 'c', None], removed=[3, 1])

    Args:
        nodes: initial node names (a mapping of name to weight is accepted if every
            weight is 1).
        capacity: the initial number of buckets, at least ``len(nodes)``; default the
            smallest power of two that holds the nodes, and at least 32.
        hash: a hash family name (``"xxh3"``, ``"md5"``) or a
            :class:`~consistent.KeyHasher`; xxh3 by default.

    Raises:
        TypeError: a node name is not a str, a weight not a number, or ``capacity`` not
            an int.
        DuplicateNodeError: a node name is repeated.
        UnsupportedOperationError: a weight is not 1 (use Rendezvous or HashRing).
        LimitExceededError: ``capacity`` is smaller than ``len(nodes)`` or above 2**30.
        InvalidArgumentError: ``capacity`` is below 1.
    """

    algorithm: ClassVar[str] = "dx"
    summary: ClassVar[str] = "DxHash: pseudo-random probing, any node leaves"

    __slots__ = ("_working",)

    @classmethod
    def _initial_capacity(cls, count: int, capacity: int | None) -> int:
        if capacity is None:
            return max(_MIN_DEFAULT_CAPACITY, 1 << max(count - 1, 0).bit_length())
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
            raise InvalidTypeError(
                f"capacity must be an int, got {type(capacity).__name__}: {capacity!r}"
            )
        if capacity < 1:
            raise InvalidArgumentError(f"capacity must be at least 1, got {capacity}")
        if capacity > _MAX_CAPACITY:
            raise LimitExceededError(f"capacity must be at most 2**30, got {capacity}")
        if capacity < count:
            raise LimitExceededError(
                f"capacity must be at least the number of nodes ({count}), got {capacity}"
            )
        return int(capacity)

    # -- engine: the NSArray ---------------------------------------------------------------

    def _engine_rebuild(self) -> None:
        self._working = np.array([node is not None for node in self._node_at], dtype=bool)

    def _engine_remove(self, bucket: int) -> None:
        self._working[bucket] = False

    def _engine_add(self, bucket: int) -> None:
        self._working[bucket] = True

    def _grow(self) -> None:
        """The paper's ``Scale``: double the array (this remaps keys)."""
        size = len(self._node_at)
        if 2 * size > _MAX_CAPACITY:
            raise LimitExceededError(f"DxHash holds at most {_MAX_CAPACITY} buckets")
        self._extend(size)
        self._working = np.concatenate([self._working, np.zeros(size, dtype=bool)])

    def _engine_copy(self, clone: Any) -> None:
        clone._working = self._working.copy()

    def _engine_check(self) -> None:
        assert self._working.tolist() == [node is not None for node in self._node_at]

    # -- lookups ---------------------------------------------------------------------------

    def _sequence(self, key_hash: int) -> Iterator[int]:
        """The key's buckets in probing order: the draws, then the cyclic fallback scan."""
        size = len(self._node_at)
        key_bytes = key_hash.to_bytes(8, "little")
        for draw in range(_DRAWS_PER_BUCKET * size):
            yield mix_scalar(key_bytes, draw) % size
        start = key_hash % size
        yield from range(start, size)
        yield from range(start)

    def _bucket(self, key_hash: int) -> int:
        # _sequence's draws written out: through the generator a lookup takes 3x as long.
        node_at = self._node_at
        size = len(node_at)
        key_bytes = key_hash.to_bytes(8, "little")
        for draw in range(_DRAWS_PER_BUCKET * size):
            bucket = mix_scalar(key_bytes, draw) % size
            if node_at[bucket] is not None:
                return bucket
        return self._fallback(key_hash)

    def _fallback(self, key_hash: int) -> int:
        """The first working bucket at or after ``key_hash mod capacity``, cyclically.

        The end of :meth:`_sequence`, read from the NSArray in C, for the rare keys whose
        draws all missed.
        """
        working = self._working
        start = key_hash % len(working)
        after = np.flatnonzero(working[start:])
        return int(after[0]) + start if after.size else int(np.flatnonzero(working)[0])

    def _buckets(self, key_hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Vectorised probing: each round draws once for the keys not yet placed."""
        hashes = np.asarray(key_hashes, dtype=np.uint64)
        working = self._working
        size = np.uint64(len(working))
        buckets = np.empty(hashes.size, dtype=np.int64)
        pending = np.arange(hashes.size)
        for draw in range(_DRAWS_PER_BUCKET * len(working)):
            if not pending.size:
                return buckets
            candidate = (mix_many(hashes[pending], np.uint64(mix_bitflip(draw))) % size).astype(
                np.int64
            )
            hit = working[candidate]
            buckets[pending[hit]] = candidate[hit]
            pending = pending[~hit]
        for index in pending.tolist():
            buckets[index] = self._fallback(int(hashes[index]))
        return buckets

    def _failover(self, key_hash: int, count: int) -> list[int]:
        """The first ``count`` distinct working buckets of the key's probing order."""
        node_at = self._node_at
        picks: list[int] = []
        seen: set[int] = set()
        for bucket in self._sequence(key_hash):
            if node_at[bucket] is not None and bucket not in seen:
                seen.add(bucket)
                picks.append(bucket)
                if len(picks) == count:
                    break
        return picks
