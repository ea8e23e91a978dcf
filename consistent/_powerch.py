"""PowerCH, power consistent hash (Leu, 2023): a consistent range hash in expected O(1).

Theory of operation
-------------------
With ``m`` the smallest power of two ``>= n``, the paper composes two functions:

* ``f(k, m)`` -- consistent hashing onto a power of two: take the key's low bits
  ``k & (m - 1)``; if zero the bucket is 0, else with ``t`` the highest set bit of them the
  bucket is ``t + (hash(k, t) & (t - 1))``, uniform in ``[t, 2t)``. A key keeps its bucket
  when ``m`` doubles unless its next bit is set, and then it moves into the new half:
  jump hash's property, for powers of two, in O(1).
* ``g(k, n, s)`` -- a jump-hash style walk from ``s = m/2 - 1``: with ``u`` uniform in
  ``(0, 1]`` from a generator seeded by the key, jump to ``floor((x + 1) / u)`` while that
  stays below ``n``; the result is uniform over ``[m/2, n)`` with the right weight and
  moves only onto a new bucket when ``n`` grows. The walk takes about
  ``1 + ln(n / (m/2))`` < 1.7 steps: O(1) expected, independently of ``n``.

``PowerCH(k, n)``: ``r1 = f(k, m)``; if ``r1 < n`` that is the bucket. Otherwise
``r2 = g(k, n, m/2 - 1)``; if ``r2 >= m/2`` that is the bucket, else ``f(k, m/2)``. Every
bucket gets exactly ``1/n`` of the keys in expectation, and growing ``n`` moves only keys
onto the new bucket (Theorems 1-2 of the paper).

The two auxiliary hashes are the research benchmark's choices (java-consistent-hashing-
algorithms' ``PowerEngine``): ``hash(k, t)`` is a seeded hash of the 64-bit key hash -- here
:func:`~consistent._hashing.mix_scalar` (XXH3-64 seeded with ``t``) -- and ``g``'s generator is
jump hash's 64-bit LCG with Guava's ``(int)(state >>> 33) + 1) / 2**31`` doubles. With the
same seeded hash plugged into the Java engine the two give identical buckets (test vectors
in ``tests/vectors/``).

:class:`PowerCH` places named nodes on the buckets as :class:`~consistent.JumpHash` does:
the ``i``-th node holds bucket ``i``, only the last node can leave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from consistent._appendonly import AppendOnlyPlacement
from consistent._hashing import Key, mix_bitflips, mix_many, mix_scalar

__all__ = ["PowerCH", "power_bucket", "power_buckets", "replica_order"]

_MASK64: Final = (1 << 64) - 1
_LCG: Final = 2862933555777941757
_TWO_POW_31: Final = 2147483648.0


def _power_of_two_bucket(key_hash: int, mask: int) -> int:
    """The paper's ``f``: consistent hashing of ``key_hash`` onto ``[0, mask + 1)``."""
    low = key_hash & mask
    if not low:
        return 0
    top = 1 << (low.bit_length() - 1)
    return top + (mix_scalar(key_hash.to_bytes(8, "little"), top) & (top - 1))


def _walk(key_hash: int, size: int, start: int) -> int:
    """The paper's ``g``: the last jump target below ``size`` of a walk from ``start``."""
    state = key_hash
    position = start
    while True:
        state = (state * _LCG + 1) & _MASK64
        # (x + 1) / u with u = ((state >> 33) + 1) / 2**31: both divisions exact in
        # IEEE doubles up to the last one, as the reference's Java.
        target = (position + 1) / (((state >> 33) + 1) / _TWO_POW_31)
        if target >= size:
            return position
        position = int(target)


def power_bucket(key_hash: int, num_buckets: int) -> int:
    """PowerCH's bucket in ``[0, num_buckets)`` of a 64-bit key hash (unchecked).

    Runtime complexity: O(1) expected.

    >>> [power_bucket(0xDEADBEEF, n) for n in range(1, 9)]
    [0, 1, 2, 2, 4, 4, 4, 4]
    """
    if num_buckets <= 1:
        return 0
    enclosing = 1 << (num_buckets - 1).bit_length()
    first = _power_of_two_bucket(key_hash, enclosing - 1)
    if first < num_buckets:
        return first
    half = (enclosing >> 1) - 1
    second = _walk(key_hash, num_buckets, half)
    if second > half:
        return second
    return _power_of_two_bucket(key_hash, half)


def highest_bits(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The highest set bit of each value below ``2**53`` (0 stays 0), vectorised.

    Read from the float64 exponent, exact below ``2**53``; ``v | 1`` has the same top bit
    for ``v >= 1`` and keeps the exponent defined for ``v == 0``, which is then masked.
    """
    one = np.uint64(1)
    exponent = ((values | one).astype(np.float64).view(np.uint64) >> np.uint64(52)) - np.uint64(
        1023
    )
    result: npt.NDArray[np.uint64] = (one << exponent) * (values != 0)
    return result


def _power_of_two_buckets(key_hashes: npt.NDArray[np.uint64], mask: int) -> npt.NDArray[np.int64]:
    """Vectorised ``f``."""
    top = highest_bits(key_hashes & np.uint64(mask))
    draws = mix_many(key_hashes, mix_bitflips(top))
    with np.errstate(over="ignore"):
        low_bits = draws & (top - np.uint64(1))  # 0 - 1 wraps, but top == 0 is masked below
    result: npt.NDArray[np.int64] = np.where(top == 0, np.uint64(0), top + low_bits).astype(
        np.int64
    )
    return result


def _walks(key_hashes: npt.NDArray[np.uint64], size: int, start: int) -> npt.NDArray[np.int64]:
    """Vectorised ``g``: every key's generator advances in lockstep while it still jumps."""
    positions = np.full(key_hashes.size, start, dtype=np.int64)
    states = key_hashes.copy()
    active = np.arange(key_hashes.size)
    multiplier, one, shift = np.uint64(_LCG), np.uint64(1), np.uint64(33)
    with np.errstate(over="ignore"):
        while active.size:
            states[active] = states[active] * multiplier + one
            uniform = ((states[active] >> shift) + one).astype(np.float64) / _TWO_POW_31
            targets = (positions[active] + 1).astype(np.float64) / uniform
            jumping = targets < size
            active = active[jumping]
            positions[active] = targets[jumping].astype(np.int64)
    return positions


def power_buckets(key_hashes: npt.ArrayLike, num_buckets: int) -> npt.NDArray[np.int64]:
    """:func:`power_bucket` of every element of a uint64 array, vectorised in numpy.

    Gives exactly the answers of the scalar function.

    Runtime complexity: O(k) expected for k keys, without per-key Python.

    >>> power_buckets(np.array([0xDEADBEEF, 1, 2], dtype=np.uint64), 8).tolist()
    [4, 1, 2]
    """
    hashes = np.asarray(key_hashes, dtype=np.uint64)
    if num_buckets <= 1:
        return np.zeros(hashes.size, dtype=np.int64)
    enclosing = 1 << (num_buckets - 1).bit_length()
    buckets = _power_of_two_buckets(hashes, enclosing - 1)
    outside = np.flatnonzero(buckets >= num_buckets)
    if outside.size:
        half = (enclosing >> 1) - 1
        walked = _walks(hashes[outside], num_buckets, half)
        low = walked <= half
        if low.any():
            walked[low] = _power_of_two_buckets(hashes[outside[low]], half)
        buckets[outside] = walked
    return buckets


def replica_order(
    key_hash: int, nodes: Sequence[str], count: int, bucket: Callable[[int, int], int]
) -> list[str]:
    """The first ``count`` nodes of a range hash's replica order for one key hash.

    The home, ``nodes[bucket(key_hash, len(nodes))]``, then for ``i = 1, 2, ...`` the range
    hash, over the nodes not picked yet, of the key hash rehashed with ``i`` as seed.

    Runtime complexity: O(count * len(nodes)) (list removals, in C).

    >>> replica_order(7, ["a", "b", "c"], 3, power_bucket)[0] == ["a", "b", "c"][power_bucket(7, 3)]
    True
    """
    key_bytes = key_hash.to_bytes(8, "little")
    remaining = list(nodes)
    picks: list[str] = []
    for place in range(count):
        draw = mix_scalar(key_bytes, place) if place else key_hash
        picks.append(remaining.pop(bucket(draw, len(remaining))))
    return picks


class PowerCH(AppendOnlyPlacement):
    """PowerCH (power consistent hash) over named nodes: bucket ``i`` is the ``i``-th node.

    Perfect expected balance and minimal movement when the last node joins or leaves, in
    O(1) expected time whatever the number of nodes. Only the last node can leave
    (:class:`~consistent.UnsupportedOperationError` otherwise; use
    :class:`~consistent.AnchorHash`, :class:`~consistent.DxHash` or
    :class:`~consistent.MementoHash` to remove any node).

    Runtime complexity: lookups O(1) expected (about 1.5 us per ``node_for`` in Python,
    hashing included; use :meth:`lookup_codes` for many keys); ``add`` and removing the
    last node O(1) amortised; memory: the node list.

    >>> ring = PowerCH(["a", "b", "c"])
    >>> ring.node_for("user:42") in ring
    True
    >>> ring
    PowerCH(['a', 'b', 'c'])

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

    algorithm: ClassVar[str] = "power"
    summary: ClassVar[str] = "PowerCH: constant-time range hash (append/pop only)"

    __slots__ = ()

    def _bucket(self, key_hash: int, size: int) -> int:
        return power_bucket(key_hash, size)

    def _buckets(self, key_hashes: npt.NDArray[np.uint64], size: int) -> npt.NDArray[np.int32]:
        return power_buckets(key_hashes, size).astype(np.int32)

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """The home of ``key`` and ``n - 1`` more distinct nodes, each drawn by PowerCH.

        The ``i``-th pick is PowerCH over the nodes not picked yet, of the key hash
        rehashed with ``i`` as seed: a replica order, spread evenly.

        Runtime complexity: O(n * len(self)) (list removals, in C).

        >>> ring = PowerCH(["a", "b", "c"])
        >>> prefs = ring.nodes_for("k", 3)
        >>> prefs[0] == ring.node_for("k"), sorted(prefs)
        (True, ['a', 'b', 'c'])

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not in ``[1, len(self)]``.
            TypeError: ``n`` is not an int, or ``key`` is not a valid key.
        """
        count = self._preference_count(n)
        return replica_order(self._hash_key(key), self._nodes, count, power_bucket)
