"""BinomialHash (Coluzzi, Brocco, Antonucci and Leidi, 2024): a constant-time range hash.

Theory of operation
-------------------
Buckets are the nodes of a complete binary tree read level by level: level ``l >= 1``
holds buckets ``[2**(l-1), 2**l)``, and buckets 0 and 1 form the root. For ``n`` buckets,
the *enclosing tree* is the smallest such tree holding them (filter ``E = 2**ceil(log2 n)
- 1``) and the *minor tree* the one level smaller (filter ``M = E >> 1``), entirely inside
``[0, n)``.

A key's hash ``h`` picks ``h & E``, then is *relocated* to a uniformly drawn position of
the same level (``relocate``: a rehash seeded with the level's filter). If that bucket is
below ``n`` it is the answer. Otherwise up to ``omega = 4`` fresh draws are taken in the
enclosing tree: a draw in ``[M + 1, n)`` is the answer, a draw inside the minor tree
stops the search, and when nothing was found the key goes to its relocated position in
the minor tree, ``relocate(h & M)``, always valid. Every step is a function of the key
and of ``E`` alone, so a bucket added at ``n`` takes keys only from the others, and when
``n`` crosses a power of two the relocation keeps each key's position in the old tree.
All arithmetic is integer. The seeded rehash is XXH3-64 of the 64-bit value under the seed
(:func:`~consistent._hashing.mix_scalar`); see below for why not the reference's.

Balance is near perfect: the buckets above the minor tree receive a share that differs
from ``1/n`` by a term that shrinks geometrically with ``omega`` (the paper's Theorem 3);
:func:`binomial_shares` gives every bucket's exact probability (the largest over the
smallest is at most 1.032). :meth:`BinomialHash.ownership` reports ``1/n`` each, the
registry's convention for shares that are expected rather than measured.

Reference: ``BinomialEngine`` of java-consistent-hashing-algorithms (the paper's authors'
benchmark). Its rehash, ``((c v + 1)**2 * s mod 2**64) >> 32`` with jump hash's LCG
multiplier ``c``, uses the seed as a multiplier, so draws seeded with 1 and 3 are strongly
correlated: with 5 buckets the reference gives bucket 3 about 9 % more keys than bucket 2.
The paper's analysis assumes independent draws, so this implementation rehashes with
XXH3 instead. With the reference's rehash plugged in (``rehash=``), :func:`binomial_bucket`
is bit-identical to a Java engine *built* with ``n`` buckets (test vectors in
``tests/vectors/``). The reference's
``addBucket``/``removeBucket`` update the two filters incrementally with a rule that differs
from its constructor's; see ``docs/algorithms.md`` for where that makes a grown or shrunk
engine disagree with one built at the same size. Here the filters are always computed
from ``n``, so a BinomialHash gives the same buckets however it reached ``n`` nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from consistent._appendonly import AppendOnlyPlacement
from consistent._hashing import Key, mix_bitflips, mix_many, mix_scalar
from consistent._powerch import highest_bits, replica_order

__all__ = ["BinomialHash", "binomial_bucket", "binomial_buckets"]

_RETRIES: Final = 4  # the paper's omega, as the reference

Rehash = Callable[[int, int], int]
"""``(value, seed) -> 64-bit value``: the seeded rehash BinomialHash draws with."""


def _rehash(value: int, seed: int) -> int:
    """The seeded rehash: XXH3-64 of the 64-bit ``value`` under ``seed``."""
    return mix_scalar(value.to_bytes(8, "little"), seed)


def _relocate(bucket: int, key_hash: int, rehash: Rehash) -> int:
    """A uniformly drawn bucket of ``bucket``'s tree level (buckets 0 and 1 stay)."""
    if bucket < 2:
        return bucket
    base = 1 << (bucket.bit_length() - 1)
    return base + (rehash(key_hash, base - 1) & (base - 1))


def binomial_bucket(key_hash: int, num_buckets: int, rehash: Rehash = _rehash) -> int:
    """BinomialHash's bucket in ``[0, num_buckets)`` of a 64-bit key hash (unchecked).

    ``rehash(value, seed)`` is the seeded rehash; the default is this library's, another
    reproduces a reference implementation's buckets.

    Runtime complexity: O(1) (at most ``omega + 2`` rehashes).

    >>> [binomial_bucket(0xDEADBEEF, n) for n in range(1, 9)]
    [0, 1, 2, 2, 2, 5, 5, 5]
    """
    if num_buckets < 2:
        return 0
    enclosing = (1 << (num_buckets - 1).bit_length()) - 1
    minor = enclosing >> 1
    bucket = _relocate(key_hash & enclosing, key_hash, rehash)
    if bucket < num_buckets:
        return bucket
    draw = key_hash
    for _ in range(_RETRIES):
        draw = rehash(draw, enclosing)
        bucket = _relocate(draw & enclosing, draw, rehash)
        if bucket <= minor:
            break
        if bucket < num_buckets:
            return bucket
    return _relocate(key_hash & minor, key_hash, rehash)


def _rehashes(
    values: npt.NDArray[np.uint64], seeds: npt.NDArray[np.uint64] | np.uint64
) -> npt.NDArray[np.uint64]:
    """Vectorised :func:`_rehash`."""
    return mix_many(values, mix_bitflips(np.asarray(seeds, dtype=np.uint64)))


def _relocates(
    buckets: npt.NDArray[np.uint64], key_hashes: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """Vectorised :func:`_relocate`."""
    base = highest_bits(buckets)
    with np.errstate(over="ignore"):
        level_filter = base - np.uint64(1)  # wraps for bucket 0, masked below
    moved = base + (_rehashes(key_hashes, level_filter) & level_filter)
    result: npt.NDArray[np.uint64] = np.where(buckets < np.uint64(2), buckets, moved)
    return result


def binomial_buckets(key_hashes: npt.ArrayLike, num_buckets: int) -> npt.NDArray[np.int64]:
    """:func:`binomial_bucket` of every element of a uint64 array, vectorised in numpy.

    Gives exactly the answers of the scalar function.

    Runtime complexity: O(k) for k keys, without per-key Python.

    >>> binomial_buckets(np.array([0xDEADBEEF, 1, 2], dtype=np.uint64), 8).tolist()
    [5, 1, 2]
    """
    hashes = np.asarray(key_hashes, dtype=np.uint64)
    if num_buckets < 2:
        return np.zeros(hashes.size, dtype=np.int64)
    enclosing = (1 << (num_buckets - 1).bit_length()) - 1
    minor = enclosing >> 1
    limit = np.uint64(num_buckets)
    buckets = _relocates(hashes & np.uint64(enclosing), hashes)
    pending = np.flatnonzero(buckets >= limit)
    draws = hashes[pending]
    seed = np.uint64(enclosing)
    for _ in range(_RETRIES):
        if not pending.size:
            break
        draws = _rehashes(draws, seed)
        candidate = _relocates(draws & seed, draws)
        found = (candidate > np.uint64(minor)) & (candidate < limit)
        buckets[pending[found]] = candidate[found]
        going_on = candidate > np.uint64(minor)
        going_on &= ~found
        stopped = ~(found | going_on)
        if stopped.any():
            chosen = pending[stopped]
            buckets[chosen] = _relocates(hashes[chosen] & np.uint64(minor), hashes[chosen])
        pending, draws = pending[going_on], draws[going_on]
    if pending.size:
        buckets[pending] = _relocates(hashes[pending] & np.uint64(minor), hashes[pending])
    return buckets.astype(np.int64)


class BinomialHash(AppendOnlyPlacement):
    """BinomialHash over named nodes: bucket ``i`` is the ``i``-th node, constant time.

    Integer-only lookups in at most ``omega + 2`` rehashes, near-perfect balance, and
    minimal movement when the last node joins or leaves. Only the last node can leave
    (:class:`~consistent.UnsupportedOperationError` otherwise; use
    :class:`~consistent.AnchorHash`, :class:`~consistent.DxHash` or
    :class:`~consistent.MementoHash` to remove any node).

    Runtime complexity: lookups O(1) (about 1.5 us per ``node_for`` in Python, hashing
    included; use :meth:`lookup_codes` for many keys); ``add`` and removing the last
    node O(1) amortised; memory: the node list.

    >>> ring = BinomialHash(["a", "b", "c"])
    >>> ring.node_for("user:42") in ring
    True
    >>> ring
    BinomialHash(['a', 'b', 'c'])

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

    algorithm: ClassVar[str] = "binomial"
    summary: ClassVar[str] = "BinomialHash: constant-time range hash (append/pop only)"

    __slots__ = ()

    def _bucket(self, key_hash: int, size: int) -> int:
        return binomial_bucket(key_hash, size)

    def _buckets(self, key_hashes: npt.NDArray[np.uint64], size: int) -> npt.NDArray[np.int32]:
        return binomial_buckets(key_hashes, size).astype(np.int32)

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """The home of ``key`` and ``n - 1`` more distinct nodes, each drawn by BinomialHash.

        The ``i``-th pick is BinomialHash over the nodes not picked yet, of the key hash
        rehashed with ``i`` as seed: a replica order, spread evenly.

        Runtime complexity: O(n * len(self)) (list removals, in C).

        >>> ring = BinomialHash(["a", "b", "c"])
        >>> prefs = ring.nodes_for("k", 3)
        >>> prefs[0] == ring.node_for("k"), sorted(prefs)
        (True, ['a', 'b', 'c'])

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not in ``[1, len(self)]``.
            TypeError: ``n`` is not an int, or ``key`` is not a valid key.
        """
        count = self._preference_count(n)
        return replica_order(self._hash_key(key), self._nodes, count, binomial_bucket)


def binomial_shares(num_buckets: int) -> list[float]:
    """Each bucket's probability under BinomialHash, for a uniform key hash.

    The first lookup lands uniformly in the enclosing tree (``E + 1`` buckets). A miss
    (probability ``(E + 1 - n) / (E + 1)``) then draws up to ``omega`` times: each draw is in
    ``[M + 1, n)`` with probability ``p = (n - M - 1) / (E + 1)``, in the minor tree with
    ``q = (M + 1) / (E + 1)``; the remainder falls back uniformly onto the minor tree.

    >>> binomial_shares(4)
    [0.25, 0.25, 0.25, 0.25]
    """
    if num_buckets < 2:
        return [1.0] * num_buckets
    enclosing = (1 << (num_buckets - 1).bit_length()) - 1
    minor = enclosing >> 1
    tree = enclosing + 1
    miss = (tree - num_buckets) / tree
    upper = (num_buckets - minor - 1) / tree
    inside = (minor + 1) / tree
    found, carry = 0.0, 1.0
    for _ in range(_RETRIES):
        found += carry * upper
        carry *= 1.0 - upper - inside
    to_upper = miss * found / (num_buckets - minor - 1) if num_buckets > minor + 1 else 0.0
    to_minor = miss * (1.0 - found) / (minor + 1)
    return [1.0 / tree + (to_minor if b <= minor else to_upper) for b in range(num_buckets)]
