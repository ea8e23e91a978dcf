"""Rendezvous hashing (highest random weight), weighted by the logarithmic method.

Theory of operation
-------------------
Every node draws a pseudo-random number for every key, and the key goes to the node with
the highest *score* ``-weight / ln(u)`` (Schindelhauer & Schomaker, "Weighted distributed
hash tables"). ``-ln(u) / weight`` is exponentially distributed with rate ``weight``, and
the smallest of independent exponentials is the one of rate ``w_i`` with probability
``w_i / sum(w)``: each node's expected share of the keys is exactly its share of the
weight. Adding a node moves only keys to it; removing one moves only its keys, because
the other nodes' scores do not change.

The draw ``u`` of (key, node) is computed as follows. Each node name is hashed once, when
the node joins, into a 64-bit *node seed* (by the same :class:`~consistent.KeyHasher` as
the keys). A key is hashed to ``h``; the pair's 64 random bits are
``v = XXH3-64(h as 8 little-endian bytes, seed=node seed)`` -- XXH3's 8-byte path, i.e. a
seeded xor followed by the ``rrmxmx`` finaliser, a strong 64-bit mixer that numpy computes
for a whole keys x nodes block at once -- and ``u = ((v >> 12) + 0.5) / 2**52``, which is
strictly inside (0, 1) and exact in double precision.

Ties: the highest score wins; equal scores go to the higher ``v``, then to the node that
joined first. When every weight is equal the score order is the order of ``v`` itself, so
lookups then compare the integers ``v`` directly, skipping the logarithms. With unequal
weights the batch form uses numpy's ``log`` and the scalar form ``math.log``; the rare keys
whose two best scores are within ``2**-40`` of each other are re-decided by the scalar
rule, so batch and scalar answers always agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import repeat
from operator import itemgetter
from typing import Any, ClassVar, Final, TypeVar, Union

import numpy as np
import numpy.typing as npt

from consistent._errors import DuplicateNodeError, EmptyRingError, UnknownNodeError
from consistent._hashing import (
    Key,
    KeyHasher,
    Keys,
    get_hasher,
    mix_bitflip,
    mix_many,
    mix_scalar,
)
from consistent._protocol import copy_slots, name_array
from consistent._validate import (
    check_node_name,
    check_preference_count,
    check_weight,
    member_pairs,
)

__all__ = ["Rendezvous"]

NodesOrWeights = Union[Iterable[str], Mapping[str, float]]
"""Node names (all of weight 1), or a mapping of node names to weights."""

_Item = TypeVar("_Item", bound=np.generic)

_TWO_POW_MINUS_52: Final = 2.0**-52
_NEAR_TIE: Final = 1.0 - 2.0**-40
# Key x node pairs mixed per block of a batch lookup: about half a megabyte of uint64,
# so a block's intermediate arrays stay in the CPU cache.
_PAIRS_PER_BLOCK: Final = 1 << 16


class Rendezvous:
    """Weighted rendezvous (HRW) hashing: each key goes to the node with the highest score.

    Node ``i``'s expected share of keys is ``w_i / sum(w)``; a join or leave moves only the
    keys of the node concerned. See :mod:`consistent._rendezvous` for how scores are drawn.

    Runtime complexity: lookups O(n) per key; construction O(n); ``add`` O(n) in C (numpy
    appends), O(1) Python work; ``remove`` the same.

    >>> r = Rendezvous({"a": 1, "b": 3})
    >>> r.node_for("user:42") in r
    True
    >>> r
    Rendezvous({'a': 1.0, 'b': 3.0})
    >>> Rendezvous(["a", "b"])
    Rendezvous(['a', 'b'])

    Args:
        nodes_or_weights: node names (weight 1 each) or a mapping of names to weights.
        hash: a hash family name (``"xxh3"``, ``"md5"``) or a
            :class:`~consistent.KeyHasher`; xxh3 by default.

    Raises:
        TypeError: a node name is not a str, or a weight is not a number.
        ValueError: a weight is not positive and finite.
        DuplicateNodeError: a node name is repeated.
    """

    # Facts about the algorithm, read by the registry (consistent.ALGORITHMS), the
    # simulator, the benchmarks and the tests.
    algorithm: ClassVar[str] = "rendezvous"
    summary: ClassVar[str] = "weighted rendezvous (HRW)"
    removes_any_node: ClassVar[bool] = True
    exact_ownership: ClassVar[bool] = False
    weighted: ClassVar[bool] = True
    stateful: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset()

    __slots__ = (
        "_bitflips",
        "_hash_key",
        "_hasher",
        "_members",
        "_names",
        "_nodes",
        "_seeds",
        "_uniform",
        "_weight_array",
        "_weight_classes",
        "_weights",
    )

    def __init__(
        self, nodes_or_weights: NodesOrWeights = (), *, hash: str | KeyHasher | None = None
    ) -> None:
        self._hasher = get_hasher(hash)
        self._hash_key = self._hasher.hash_key
        self._nodes: list[str] = []
        self._weights: list[float] = []
        self._seeds: list[int] = []
        self._members: set[str] = set()
        refusal = (
            "nodes_or_weights must be node names or a mapping of names to weights, "
            "got the str {value!r}"
        )
        for node, weight in member_pairs(nodes_or_weights, refusal):
            value = self._check_new(node, weight)
            self._members.add(node)
            self._nodes.append(node)
            self._weights.append(value)
            self._seeds.append(self._hash_key(node))
        self._names: npt.NDArray[np.object_] = name_array(self._nodes)
        self._bitflips = np.array([mix_bitflip(s) for s in self._seeds], dtype=np.uint64)
        self._weight_array = np.array(self._weights, dtype=np.float64)
        self._uniform = len(set(self._weights)) <= 1
        # Built on the first weighted scalar lookup after a change (see _classes).
        self._weight_classes: list[tuple[float, list[int], itemgetter[Any]]] | None = None

    # -- membership --------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member nodes in insertion order; ``lookup_codes`` indexes this tuple."""
        return tuple(self._nodes)

    @property
    def weights(self) -> dict[str, float]:
        """Each node's weight, in insertion order."""
        return dict(zip(self._nodes, self._weights, strict=True))

    @property
    def hasher(self) -> KeyHasher:
        """The :class:`~consistent.KeyHasher` keys and node names are hashed with."""
        return self._hasher

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._members

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node; only keys moving to it change home.

        Runtime complexity: O(n) in C (each lookup array grows by one), O(1) Python work.

        >>> r = Rendezvous(["a"])
        >>> r.add("b", weight=2)
        >>> r.ownership()
        {'a': 0.3333333333333333, 'b': 0.6666666666666666}

        Args:
            node: the new node's name.
            weight: a positive finite number; the node's share is proportional to it.

        Raises:
            TypeError: ``node`` is not a str, or ``weight`` not a number.
            ValueError: ``weight`` is not positive and finite.
            DuplicateNodeError: ``node`` is already a member.
        """
        value = self._check_new(node, weight)
        seed = self._hash_key(node)
        # The new arrays first: building them is all that can fail (memory).
        names = _appended(self._names, node)
        bitflips = _appended(self._bitflips, mix_bitflip(seed))
        weight_array = _appended(self._weight_array, value)
        self._uniform = self._uniform and (not self._weights or value == self._weights[0])
        self._members.add(node)
        self._nodes.append(node)
        self._weights.append(value)
        self._seeds.append(seed)
        self._names, self._bitflips, self._weight_array = names, bitflips, weight_array
        self._weight_classes = None

    def _check_new(self, node: str, weight: float) -> float:
        """Check a node ``add`` would take, before anything changes; returns its weight."""
        check_node_name(node)
        value = check_weight(node, weight, numpy_scalars=True, expected="a positive finite number")
        if node in self._members:
            raise DuplicateNodeError(f"node {node!r} is already a member")
        return value

    def remove(self, node: str) -> None:
        """Remove a node; only its keys move.

        Runtime complexity: O(n) in C (list and array deletions), O(1) Python work.

        >>> r = Rendezvous(["a", "b"])
        >>> r.remove("a")
        >>> r.nodes
        ('b',)

        Raises:
            TypeError: ``node`` is not a str.
            UnknownNodeError: ``node`` is not a member.
        """
        check_node_name(node)
        if node not in self._members:
            raise UnknownNodeError(f"node {node!r} is not a member")
        position = self._nodes.index(node)
        names = np.delete(self._names, position)
        bitflips = np.delete(self._bitflips, position)
        weight_array = np.delete(self._weight_array, position)
        self._members.remove(node)
        del self._nodes[position], self._weights[position], self._seeds[position]
        self._names, self._bitflips, self._weight_array = names, bitflips, weight_array
        if not self._uniform:
            self._uniform = len(set(self._weights)) <= 1
        self._weight_classes = None

    def _classes(self) -> list[tuple[float, list[int], itemgetter[Any]]]:
        """The nodes grouped by weight, for weighted scalar lookups (built once per change).

        Each group is (weight, its members' positions, a C-level getter of their draws as a
        tuple; a single member is listed twice so that the getter still returns a tuple).
        Built lazily: a lookup is O(n) anyway, and ``add``/``remove`` stay O(1) Python.
        """
        if self._weight_classes is None:
            groups: dict[float, list[int]] = {}
            for position, weight in enumerate(self._weights):
                groups.setdefault(weight, []).append(position)
            self._weight_classes = [
                (weight, members, itemgetter(*members, *members[:1] * (len(members) == 1)))
                for weight, members in groups.items()
            ]
        return self._weight_classes

    # -- lookups -----------------------------------------------------------------------

    def _draws(self, key: Key) -> list[int]:
        """The 64-bit draw ``v`` of ``key`` for every node, in node order."""
        key_bytes = self._hash_key(key).to_bytes(8, "little")
        return list(map(mix_scalar, repeat(key_bytes, len(self._seeds)), self._seeds))

    def _scores(self, draws: list[int]) -> list[float]:
        log = math.log
        return [
            w / -log(((v >> 12) + 0.5) * _TWO_POW_MINUS_52)
            for w, v in zip(self._weights, draws, strict=True)
        ]

    def node_for(self, key: Key) -> str:
        """The home node of ``key``: the node with the highest score.

        Runtime complexity: O(n).

        >>> Rendezvous(["a"]).node_for(b"anything")
        'a'

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: ``key`` is not a valid key (see :func:`~consistent.hash_key`).
        """
        if not self._nodes:
            raise EmptyRingError("Rendezvous has no nodes")
        return self._nodes[self._home_code(self._draws(key))]

    def _home_code(self, draws: list[int]) -> int:
        if self._uniform:
            return draws.index(max(draws))
        # Within one weight the score order is the order of the draws, so only each
        # weight's best draw needs a logarithm: a few instead of one per node.
        log = math.log
        best: tuple[float, int, int] | None = None
        for weight, members, pick in self._classes():
            candidates = pick(draws)
            v = max(candidates)
            ranked = (
                weight / -log(((v >> 12) + 0.5) * _TWO_POW_MINUS_52),
                v,
                -members[candidates.index(v)],
            )
            if best is None or ranked > best:
                best = ranked
        assert best is not None
        return -best[2]

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """The ``n`` nodes with the highest scores for ``key``, best first.

        Runtime complexity: O(n_nodes log n_nodes).

        >>> r = Rendezvous(["a", "b", "c"])
        >>> prefs = r.nodes_for("k", 3)
        >>> prefs[0] == r.node_for("k"), sorted(prefs)
        (True, ['a', 'b', 'c'])

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not in ``[1, len(self)]``.
            TypeError: ``n`` is not an int, or ``key`` is not a valid key.
        """
        if not self._nodes:
            raise EmptyRingError("Rendezvous has no nodes")
        count = check_preference_count(n, len(self._nodes))
        draws = self._draws(key)
        if self._uniform:
            order = sorted(range(len(draws)), key=draws.__getitem__, reverse=True)
        else:
            ranked = list(zip(self._scores(draws), draws, strict=True))
            order = sorted(range(len(draws)), key=ranked.__getitem__, reverse=True)
        return [self._nodes[i] for i in order[:count]]

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as int32 indices into :attr:`nodes`.

        Scores are computed for blocks of keys x all nodes at once; no per-key Python
        (beyond hashing str/bytes keys).

        Runtime complexity: O(k n) for k keys and n nodes.

        >>> Rendezvous(["a", "b"]).lookup_codes([1, 2, 3]).dtype
        dtype('int32')

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        if not self._nodes:
            raise EmptyRingError("Rendezvous has no nodes")
        hashes = self._hasher.hash_keys(keys)
        codes = np.empty(hashes.size, dtype=np.int32)
        block = max(1, _PAIRS_PER_BLOCK // len(self._nodes))
        for start in range(0, hashes.size, block):
            codes[start : start + block] = self._place(hashes[start : start + block])
        return codes

    def _place(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        draws = mix_many(hashes[:, None], self._bitflips[None, :])
        if self._uniform:
            best: npt.NDArray[np.intp] = np.argmax(draws, axis=1)
            return best
        u = (draws >> np.uint64(12)).astype(np.float64)
        u += 0.5
        u *= _TWO_POW_MINUS_52
        np.log(u, out=u)
        np.negative(u, out=u)
        scores = np.divide(self._weight_array[None, :], u, out=u)
        best = np.argmax(scores, axis=1)
        top = scores[np.arange(best.size), best]
        contenders = np.count_nonzero(scores >= (top * _NEAR_TIE)[:, None], axis=1)
        for row in np.flatnonzero(contenders > 1).tolist():
            key_bytes = int(hashes[row]).to_bytes(8, "little")
            best[row] = self._home_code([mix_scalar(key_bytes, s) for s in self._seeds])
        return best

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: a numpy object array of node names aligned with ``keys``.

        Runtime complexity: O(k n) for k keys and n nodes.

        >>> Rendezvous(["a"]).lookup_many(["x", "y"]).tolist()
        ['a', 'a']

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: a key is not valid.
        """
        names: npt.NDArray[np.object_] = self._names[self.lookup_codes(keys)]
        return names

    def ownership(self) -> dict[str, float]:
        """Each node's share of the key space: ``w_i / sum(w)``.

        This is the exact expected share over the hash function (the guarantee of the
        logarithmic method); a given sample of keys deviates by sampling error only.

        Runtime complexity: O(n).

        >>> Rendezvous({"a": 1, "b": 3}).ownership()
        {'a': 0.25, 'b': 0.75}
        """
        total = math.fsum(self._weights)
        return {node: w / total for node, w in zip(self._nodes, self._weights, strict=True)}

    # -- copies, equality, debugging ---------------------------------------------------

    def copy(self) -> Rendezvous:
        """An independent Rendezvous with the same nodes, weights and hasher.

        Runtime complexity: O(n).

        >>> a = Rendezvous(["a"]); b = a.copy(); b.add("b"); len(a), len(b)
        (1, 2)
        """
        # the arrays and weight classes are never mutated in place, only replaced
        clone = copy_slots(self, Rendezvous)
        clone._nodes = list(self._nodes)
        clone._weights = list(self._weights)
        clone._seeds = list(self._seeds)
        clone._members = set(self._members)
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rendezvous):
            return NotImplemented
        return (
            self._nodes == other._nodes
            and self._weights == other._weights
            and self._hasher == other._hasher
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        suffix = "" if self._hasher == get_hasher(None) else f", hash={self._hasher!r}"
        if self._uniform and all(w == 1 for w in self._weights):
            return f"{type(self).__name__}({self._nodes!r}{suffix})"
        return f"{type(self).__name__}({self.weights!r}{suffix})"

    def _check(self) -> None:
        """Verify the internal invariants (O(n)); raise AssertionError if one fails."""
        n = len(self._nodes)
        assert len(self._weights) == len(self._seeds) == len(self._members) == n
        assert self._members == set(self._nodes)
        assert self._names.tolist() == self._nodes
        assert self._bitflips.dtype == np.uint64 and self._bitflips.shape == (n,)
        assert self._weight_array.dtype == np.float64 and self._weight_array.shape == (n,)
        for position, node in enumerate(self._nodes):
            assert isinstance(node, str)
            assert self._seeds[position] == self._hasher.hash_key(node)
            assert int(self._bitflips[position]) == mix_bitflip(self._seeds[position])
            weight = self._weights[position]
            assert weight > 0 and math.isfinite(weight)
            assert self._weight_array[position] == weight
        assert self._uniform == (len(set(self._weights)) <= 1)
        classes = self._classes()
        members = sorted(i for _, group, _ in classes for i in group)
        assert members == list(range(n))
        for weight, group, pick in classes:
            assert all(self._weights[i] == weight for i in group)
            assert set(pick(list(range(n)))) == set(group)
        assert self._hash_key == self._hasher.hash_key


def _appended(array: npt.NDArray[_Item], value: object) -> npt.NDArray[_Item]:
    """A new array: ``array`` followed by ``value`` (of the same dtype)."""
    grown = np.empty(array.size + 1, dtype=array.dtype)
    grown[:-1] = array
    grown[-1] = value
    return grown
