"""AnchorHash (Mendelson, Vargaftik, Barabash, Lorenz, Keslassy and Orda, 2020).

Theory of operation
-------------------
A fixed *anchor* of ``capacity`` buckets, of which ``N`` are working. Four arrays of
``capacity`` integers hold the state, exactly as the paper's Algorithm 3:

* ``A[b]``: 0 for a working bucket; for a removed one, the number of working buckets
  left just after it was removed (``|W_b|``);
* ``W``, ``L``: the working buckets as an array ``W[0..N)`` and each bucket's last position
  in it, so that a removal swaps the last working bucket into the leaver's place;
* ``K[b]``: the bucket that took removed bucket ``b``'s place in ``W`` (``b`` itself while
  working).

Lookup (``GETBUCKET``): ``b = h mod capacity``; while ``b`` is removed, draw
``h_b(k) mod A[b]`` -- a fresh uniform choice among the ``A[b]`` buckets that were working
when ``b`` left -- and, while that bucket was itself removed before ``b`` (``A[h] >= A[b]``),
follow ``K`` to the bucket that replaced it; the result is ``b``'s next candidate. A key
never moves unless its bucket is removed, and a removed bucket's keys spread uniformly
over the buckets still working (the paper's Theorems 1-3).

``h_b(k)`` is the paper's first choice, a hash of the key seeded with the bucket: here
:func:`~consistent._hashing.mix_scalar` of the 64-bit key hash seeded with ``b`` (XXH3-64,
the same rehash MementoHash uses). The authors' C++ and the research benchmark's Java
instead chain the draws (each hash seeds the next), the paper's other option; both give
AnchorHash's guarantees, but not the same buckets, so this implementation is not
bit-identical to either (see ``docs/algorithms.md``; the state arrays are, and are tested
against the Java reference operation by operation).

Removals and joins are O(1) (``REMOVEBUCKET``, ``ADDBUCKET``): a join takes the last
removed bucket, undoing that removal exactly. The capacity is fixed at construction:
AnchorHash cannot grow past it (``add`` raises :class:`~consistent.LimitExceededError`).
Lookups cost ``O((1 + ln(capacity / N))**2)`` expected, so a capacity far above the
working set slows them down.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence, Sequence
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

from consistent._errors import InvalidArgumentError, InvalidTypeError, LimitExceededError
from consistent._hashing import mix_bitflips, mix_many, mix_scalar
from consistent._reusable import ReusableBucketPlacement

__all__ = ["AnchorHash", "anchor_bucket"]

DEFAULT_CAPACITY: Final = 1024
_MAX_CAPACITY: Final = (1 << 31) - 1

Rehash = Callable[[int, int], tuple[int, int]]
"""``(state, bucket) -> (state', draw)``: the key's draw at a removed bucket."""


def _seeded_rehash(key_hash: int, bucket: int) -> tuple[int, int]:
    """The paper's ``h_b(k)``: the key hash seeded with the bucket (state unchanged)."""
    return key_hash, mix_scalar(key_hash.to_bytes(8, "little"), bucket)


def anchor_bucket(
    key_hash: int,
    capacity: int,
    removed_size: Sequence[int],
    replacement: Sequence[int],
    rehash: Rehash = _seeded_rehash,
) -> int:
    """AnchorHash's ``GETBUCKET``: the working bucket of ``key_hash``.

    ``removed_size`` is the paper's ``A`` and ``replacement`` its ``K``. ``rehash`` is
    ``h_b``; the default is this library's, another reproduces a reference's draws.

    Runtime complexity: O((1 + ln(capacity / N))**2) expected for N working buckets.

    >>> anchor_bucket(12345, 4, [0, 0, 0, 0], [0, 1, 2, 3])  # nothing removed: h mod a
    1
    """
    state, bucket = key_hash, key_hash % capacity
    size = removed_size[bucket]
    while size > 0:
        state, draw = rehash(state, bucket)
        candidate = draw % size
        while removed_size[candidate] >= size:
            candidate = replacement[candidate]
        bucket = candidate
        size = removed_size[bucket]
    return bucket


class _Overlay:
    """A sequence read through a dict of changes, for simulated removals (``nodes_for``)."""

    __slots__ = ("_base", "_changes")

    def __init__(self, base: Sequence[int]) -> None:
        self._base = base
        self._changes: dict[int, int] = {}

    def __getitem__(self, index: int) -> int:
        value = self._changes.get(index)
        return self._base[index] if value is None else value

    def __setitem__(self, index: int, value: int) -> None:
        self._changes[index] = value


def _remove_bucket(
    bucket: int,
    working: int,
    removed_size: MutableSequence[int] | _Overlay,
    positions: MutableSequence[int] | _Overlay,
    working_at: MutableSequence[int] | _Overlay,
    replacement: MutableSequence[int] | _Overlay,
) -> int:
    """The paper's ``REMOVEBUCKET`` on the arrays; returns the new working count."""
    working -= 1
    last = working_at[working]
    removed_size[bucket] = working
    working_at[positions[bucket]] = last
    positions[last] = positions[bucket]
    replacement[bucket] = last
    return working


class AnchorHash(ReusableBucketPlacement):
    """AnchorHash over named nodes: any node leaves, minimal movement, fixed capacity.

    A joining node takes the most recently freed bucket (the first unused one at first),
    so removing a node and adding one restores the previous placement. The docstring of
    :mod:`consistent._anchor` explains the algorithm.

    Runtime complexity: lookups O((1 + ln(capacity / n))**2) expected (a loop in Python:
    a few microseconds per ``node_for`` while ``capacity / n`` is small; use
    :meth:`lookup_codes` for many keys); ``add`` and ``remove`` O(1) engine work (plus an
    O(n) shift of join-order codes in C on removal); memory 4 integers per bucket.

    >>> ring = AnchorHash(["a", "b", "c"], capacity=5)
    >>> ring.remove("b")
    >>> ring.node_for("user:42") in ("a", "c")
    True
    >>> ring
    AnchorHash.from_state(['a', None, 'c', None, None], removed=[4, 3, 1])

    Args:
        nodes: initial node names (a mapping of name to weight is accepted if every
            weight is 1).
        capacity: the number of buckets, at least ``len(nodes)``: the most nodes this
            placement can ever hold. Default: 1024, or ``len(nodes)`` if more.
        hash: a hash family name (``"xxh3"``, ``"md5"``) or a
            :class:`~consistent.KeyHasher`; xxh3 by default.

    Raises:
        TypeError: a node name is not a str, a weight not a number, or ``capacity`` not
            an int.
        DuplicateNodeError: a node name is repeated.
        UnsupportedOperationError: a weight is not 1 (use Rendezvous or HashRing).
        LimitExceededError: ``capacity`` is smaller than ``len(nodes)`` or above 2**31 - 1.
        InvalidArgumentError: ``capacity`` is below 1.
    """

    algorithm: ClassVar[str] = "anchor"
    summary: ClassVar[str] = "AnchorHash: any node leaves, fixed capacity"

    __slots__ = (
        "_positions",
        "_removed_size",
        "_removed_size_array",
        "_replacement",
        "_replacement_array",
        "_working_at",
    )

    @classmethod
    def _initial_capacity(cls, count: int, capacity: int | None) -> int:
        if capacity is None:
            return max(DEFAULT_CAPACITY, count)
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
            raise InvalidTypeError(
                f"capacity must be an int, got {type(capacity).__name__}: {capacity!r}"
            )
        if capacity < 1:
            raise InvalidArgumentError(f"capacity must be at least 1, got {capacity}")
        if capacity > _MAX_CAPACITY:
            raise LimitExceededError(f"capacity must be at most 2**31 - 1, got {capacity}")
        if capacity < count:
            raise LimitExceededError(
                f"capacity must be at least the number of nodes ({count}), got {capacity}"
            )
        return int(capacity)

    # -- engine ----------------------------------------------------------------------------

    def _engine_rebuild(self) -> None:
        """``INITANCHOR(a, a)``, then the removals of the free stack, oldest first."""
        size = len(self._node_at)
        self._removed_size = [0] * size
        self._positions = list(range(size))
        self._working_at = list(range(size))
        self._replacement = list(range(size))
        working = size
        for bucket in self._free:
            working = _remove_bucket(
                bucket,
                working,
                self._removed_size,
                self._positions,
                self._working_at,
                self._replacement,
            )
        self._removed_size_array = np.array(self._removed_size, dtype=np.int64)
        self._replacement_array = np.array(self._replacement, dtype=np.int64)

    def _engine_remove(self, bucket: int) -> None:
        working = len(self._nodes)  # before the base class removes the node
        _remove_bucket(
            bucket,
            working,
            self._removed_size,
            self._positions,
            self._working_at,
            self._replacement,
        )
        self._removed_size_array[bucket] = working - 1
        self._replacement_array[bucket] = self._replacement[bucket]

    def _engine_add(self, bucket: int) -> None:
        """The paper's ``ADDBUCKET`` for ``bucket``, the top of the free stack."""
        working = len(self._nodes)  # before the base class adds the node
        self._removed_size[bucket] = 0
        self._positions[self._working_at[working]] = working
        self._working_at[self._positions[bucket]] = bucket
        self._replacement[bucket] = bucket
        self._removed_size_array[bucket] = 0
        self._replacement_array[bucket] = bucket

    def _grow(self) -> None:
        raise LimitExceededError(
            f"AnchorHash is full: all {len(self._node_at)} buckets are working; build it "
            "with a larger capacity"
        )

    def _engine_copy(self, clone: Any) -> None:
        clone._removed_size = list(self._removed_size)
        clone._positions = list(self._positions)
        clone._working_at = list(self._working_at)
        clone._replacement = list(self._replacement)
        clone._removed_size_array = self._removed_size_array.copy()
        clone._replacement_array = self._replacement_array.copy()

    def _engine_check(self) -> None:
        size, working = len(self._node_at), len(self._nodes)
        removed_size, replacement = self._removed_size, self._replacement
        for depth, bucket in enumerate(self._free):  # oldest removal first
            assert removed_size[bucket] == size - 1 - depth
        for bucket, node in enumerate(self._node_at):
            if node is not None:
                assert removed_size[bucket] == 0 and replacement[bucket] == bucket
        assert sorted(self._working_at[:working]) == sorted(self._bucket_of.values())
        for position in range(working):
            assert self._positions[self._working_at[position]] == position
        assert self._removed_size_array.tolist() == removed_size
        assert self._replacement_array.tolist() == replacement

    # -- lookups ---------------------------------------------------------------------------

    def _bucket(self, key_hash: int) -> int:
        return anchor_bucket(key_hash, len(self._node_at), self._removed_size, self._replacement)

    def _buckets(self, key_hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Vectorised ``GETBUCKET``: each round rehashes the keys still on removed buckets."""
        hashes = np.asarray(key_hashes, dtype=np.uint64)
        removed_size, replacement = self._removed_size_array, self._replacement_array
        buckets: npt.NDArray[np.int64] = (hashes % np.uint64(len(self._node_at))).astype(np.int64)
        pending = np.flatnonzero(removed_size[buckets] > 0)
        while pending.size:
            current = buckets[pending]
            size = removed_size[current]
            draws = mix_many(hashes[pending], mix_bitflips(current.astype(np.uint64)))
            candidate = (draws % size.astype(np.uint64)).astype(np.int64)
            earlier = np.flatnonzero(removed_size[candidate] >= size)
            while earlier.size:
                candidate[earlier] = replacement[candidate[earlier]]
                earlier = earlier[removed_size[candidate[earlier]] >= size[earlier]]
            buckets[pending] = candidate
            pending = pending[removed_size[candidate] > 0]
        return buckets

    def _failover(self, key_hash: int, count: int) -> list[int]:
        """Simulate removing the key's bucket, then its next one, ... on overlays."""
        removed_size = _Overlay(self._removed_size)
        replacement = _Overlay(self._replacement)
        positions = _Overlay(self._positions)
        working_at = _Overlay(self._working_at)
        working = len(self._nodes)
        size = len(self._node_at)
        picks: list[int] = []
        while True:
            bucket = anchor_bucket(key_hash, size, removed_size, replacement)  # type: ignore[arg-type]
            picks.append(bucket)
            if len(picks) == count:
                return picks
            working = _remove_bucket(
                bucket, working, removed_size, positions, working_at, replacement
            )
