"""Multi-probe consistent hashing: one point per node, k probes per key.

Theory of operation
-------------------
Appleton and O'Reilly, "Multi-probe consistent hashing" (arXiv:1505.00062, 2015). Each node
has a single point on a 64-bit ring (the hash of its name, computed once when it joins). A
key is hashed ``k`` times; each *probe* looks up the first node point at or after it,
clockwise, and the key's home is the node whose point is the closest after any probe (the
minimum clockwise distance over the ``k`` probes). With ``k = 1 + 1/eps`` probes the
expected peak-to-mean load is about ``1 + eps``: ``k = 21`` aims at 1.05, with ``O(N)``
memory instead of a ring's ``O(N * vnodes)``.

The ``k`` probes of a key are derived from its single 64-bit hash (the library's shared key
hashing step) by the splitmix64 output function: ``probe_i = mix(h + (i + 1) * gamma)``,
``gamma = 0x9E3779B97F4A7C15``. The mixer is a bijection with full avalanche, so the probes
behave as independent hashes of the key, and scalar and batch lookups derive the same ones.

Two consequences of the minimum-distance rule, both used here and tested:

* A node's distance from a key, ``d(node) = min over probes of (point(node) - probe) mod
  2**64``, does not depend on the other nodes. So the home is ``argmin d`` and membership
  changes are **minimal**: a join moves keys only to the new node, a leave only the leaving
  node's keys. Sorting all nodes by ``d`` gives a natural **preference list** whose second
  entry is exactly where the key goes if its home is removed (:meth:`MultiProbe.nodes_for`).
* A node's share of the key space has a closed form given the arc lengths ``a_j`` (the gap
  from the previous point): ``P(home = j) = integral over [0, a_j] of k * S(t)**(k - 1) dt``
  with ``S(t) = sum_i max(0, a_i - t)``, a sum of polynomials computed exactly in
  O(N log N) (:meth:`MultiProbe.ownership`). It is the expected share when a key's probes
  are independent and uniform, the paper's model; actual hashed keys match it up to
  sampling noise.

Measured (exact ownership, ``k = 21``, five name sets each): peak-to-mean 1.032-1.050 for
100 nodes and 1.045-1.051 for 1,000, the paper's 1.05; with ``k = 1`` (a plain ring with one
point per node) it is above 2.5. The 1.05 is a large-``N`` figure, steady from about 100
nodes on; smaller clusters vary more with the names. Over the name sets ``node-i``,
``server-i``, ``hosti``, ``si`` and ``10.0.0.i`` it is 1.00-1.12 at 10 nodes (1.12 for
``node-i``) and 1.02-1.15 at 30, against 1.03-1.06 at 100 and 1.04-1.06 at 300.

That figure bounds the most loaded node only. The least loaded can get far less than its
share (one node in 20 ``node-i`` names gets 14% of it; at 1,000 nodes the minimum is
0.3-3%), because a point that lands just after another owns a short arc whatever ``k``;
:class:`MultiProbe` gives the numbers.

Cost: a scalar lookup mixes the ``k`` probes together in one Python int (128-bit lanes, see
``_PackedProbes``), then locates each through the bucket index the batch path uses, with
a few Python operations per probe: about 4 us at ``k = 21`` whatever ``N`` (it was 9-12 us
with a mix and a ``bisect`` per probe). Batches run about 2.7 million keys/s on one core.
Both are O(k) per key: ``k`` times the cost of one ring lookup, the price of the O(N) memory.

**Weights are not supported**: the paper's scheme gives every node one point, and there is
no proportional analogue that keeps the guarantee. ``add(node, weight)`` with a weight other
than 1 raises :class:`~consistent.UnsupportedOperationError`; use
:class:`~consistent.HashRing` or :class:`~consistent.Maglev` for weighted placement.
"""

from __future__ import annotations

import heapq
import struct
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from itertools import pairwise
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
)
from consistent._hashing import Key, KeyHasher, Keys, _key_to_bytes, get_hasher, unencodable_key
from consistent._protocol import copy_slots, name_array
from consistent._validate import (
    check_count,
    check_name,
    check_unit_weight,
    get_member,
    member_pairs,
)

__all__ = ["MultiProbe"]

_MASK64: Final = (1 << 64) - 1
_GAMMA: Final = 0x9E3779B97F4A7C15
_MIX1: Final = 0xBF58476D1CE4E5B9
_MIX2: Final = 0x94D049BB133111EB
_DEFAULT_PROBES: Final = 21
# Width of one probe's lane in _PackedProbes: room for a 64-bit value times a 64-bit constant.
_LANE_BITS: Final = 128
# Keys per numpy batch: probes x chunk uint64 temporaries stay around 10 MB at k = 21.
_CHUNK: Final = 1 << 15


def _check_weight(weight: object, node: str) -> None:
    check_unit_weight(
        node,
        weight,
        "MultiProbe does not support weights (one point per node), got weight {weight!r} "
        "for node {node!r}; use HashRing or Maglev for weighted placement",
        numpy_scalars=False,
    )


def _mix_scalar(h: int, gamma: int) -> int:
    z = (h + gamma) & _MASK64
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def probe_points(hashes: npt.NDArray[np.uint64], probes: int) -> npt.NDArray[np.uint64]:
    """The ``probes`` ring positions of each key hash: shape ``(probes, len(hashes))``.

    Runtime complexity: O(probes * len(hashes)), vectorised.

    >>> probe_points(np.array([0], dtype=np.uint64), 2)[:, 0].tolist()
    [16294208416658607535, 7960286522194355700]
    """
    gammas = np.array([(i + 1) * _GAMMA & _MASK64 for i in range(probes)], dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = hashes[np.newaxis, :] + gammas[:, np.newaxis]
        z ^= z >> np.uint64(30)
        z *= np.uint64(_MIX1)
        z ^= z >> np.uint64(27)
        z *= np.uint64(_MIX2)
        z ^= z >> np.uint64(31)
    result: npt.NDArray[np.uint64] = z
    return result


class MultiProbe:
    """Multi-probe consistent hashing (Appleton & O'Reilly 2015): one point per node.

    See the module docstring for the rule, the preference list and the exact ownership.

    Runtime complexity: lookups O(k) expected for ``k`` probes (about 4 us per ``node_for``
    at ``k = 21``); ``add``/``remove`` O(N log N), rebuilding the index.

    Balance: peak-to-mean about ``1 + 1/(k - 1)`` (1.05 at ``k = 21``) from about 100 nodes
    on; below that it varies with the names (1.00-1.12 at 10 nodes, up to 1.15 at 30).

    Multi-probe bounds the **peak**, not the minimum: a node whose point lands just after
    another's gets a small fraction of its fair share, and no number of probes fixes that.
    The least-loaded node's share over the fair share ``1/N`` (exact :meth:`ownership`,
    ``k = 21``, names ``node-i``, ``serveri.example.com``, ``10.0.x.y:11211`` and random
    64-bit hex) is 0.02-0.96 at 10 nodes, 0.14-0.85 at 20, 0.08-0.30 at 100 and
    0.003-0.03 at 1,000; at 100 and 1,000 nodes 2-4% of the nodes get under half their
    fair share. Use :class:`HashRing`, :class:`Maglev` or :class:`JumpHash` when every
    node must carry close to its share.

    >>> mp = MultiProbe(["a", "b", "c"])
    >>> mp.node_for("user:42") in mp
    True
    >>> round(sum(mp.ownership().values()), 12)
    1.0
    >>> mp
    MultiProbe(['a', 'b', 'c'], probes=21)

    Args:
        nodes: node names (a mapping of name to weight is accepted if every weight is 1).
        probes: ``k``, the number of probes per key; at least 1. Expected peak-to-mean is
            about ``1 + 1/(k - 1)``.
        hash: key hash family (``"xxh3"``, ``"md5"``) or a :class:`KeyHasher`; also used to
            hash node names.

    Raises:
        TypeError: a node name is not a str, or ``probes`` not an int.
        LimitExceededError: ``probes`` is above :attr:`MAX_PROBES` (1,024).
        ValueError: ``probes < 1``, a duplicate name (:class:`DuplicateNodeError`), two names
            hashing to the same point, or a weight other than 1
            (:class:`UnsupportedOperationError`).
    """

    # Facts about the algorithm, read by the registry (consistent.ALGORITHMS), the
    # simulator, the benchmarks and the tests.
    algorithm: ClassVar[str] = "multiprobe"
    summary: ClassVar[str] = "multi-probe hashing"
    removes_any_node: ClassVar[bool] = True
    exact_ownership: ClassVar[bool] = True
    weighted: ClassVar[bool] = False
    stateful: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset({"probes"})

    #: The most probes per key: expected peak-to-mean is then about 1.001, and every
    #: lookup costs ``k`` probes, so more would only slow lookups down.
    MAX_PROBES: ClassVar[int] = 1024

    __slots__ = (
        "_bucket_first",
        "_bucket_shift",
        "_codes_ext",
        "_first_seq",
        "_gammas",
        "_hasher",
        "_lookup",
        "_name_of_point",
        "_nodes",
        "_packed_probes",
        "_point_of",
        "_points_ext",
        "_points_list",
        "_probes",
        "_search_ext",
    )

    def __init__(
        self,
        nodes: Iterable[str] | Mapping[str, float] = (),
        *,
        probes: int = _DEFAULT_PROBES,
        hash: str | KeyHasher | None = None,
    ) -> None:
        if isinstance(probes, bool) or not isinstance(probes, int):
            raise InvalidTypeError(
                f"probes must be an int, got {type(probes).__name__}: {probes!r}"
            )
        if probes < 1:
            raise InvalidArgumentError(f"probes (k) must be at least 1, got {probes}")
        if probes > self.MAX_PROBES:
            raise LimitExceededError(
                f"probes (k) must be at most MultiProbe.MAX_PROBES ({self.MAX_PROBES}), "
                f"got {probes:,}"
            )
        self._probes = probes
        self._gammas = [(i + 1) * _GAMMA & _MASK64 for i in range(probes)]
        self._packed_probes = _PackedProbes(self._gammas)
        self._hasher = get_hasher(hash)
        members = member_pairs(
            nodes, "nodes must be an iterable of names, got {kind} {value!r}", refuse=(str, bytes)
        )
        point_of: dict[str, int] = {}
        owner: dict[int, str] = {}
        for node, weight in members:  # checked in order, exactly as add() checks them
            name = check_name(node)
            _check_weight(weight, name)
            if name in point_of:
                raise DuplicateNodeError(f"node {name!r} is already a member")
            point = self._hasher.hash_key(name)
            if point in owner:
                raise self._collision(name, owner[point])
            point_of[name] = point
            owner[point] = name
        self._point_of = point_of
        self._rebuild()

    @staticmethod
    def _collision(name: str, other: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"node {name!r} hashes to the same ring point as node {other!r}; rename one"
        )

    def _rebuild(self) -> None:
        nodes = tuple(self._point_of)
        pairs = sorted((point, code) for code, point in enumerate(self._point_of.values()))
        points = [point for point, _ in pairs]
        codes = [code for _, code in pairs]
        # The first point repeated at the end: a probe past the last point then finds it
        # at index N, and (point - probe) wraps modulo 2**64 to the right distance.
        self._points_ext = np.array(points + points[:1], dtype=np.uint64)
        self._codes_ext = np.array(codes + codes[:1], dtype=np.int32)
        # A bucket index over the top bits replaces a binary search per probe (measured
        # 7x faster than numpy.searchsorted on random probes): bucket b starts at the first
        # point >= b << shift, and at least 4 buckets per point keep the scan after it short.
        # The sentinel 2**64 - 1 stops every scan at index N, the wrap-around entry.
        # The index is an ``array`` that numpy views: the scalar path reads plain ints
        # from it, the batch path gathers from the same memory. 64-bit entries, because
        # the batch path's gathers index with what it reads (int32 indices measured 8%
        # slower there: numpy converts them to intp on every gather).
        bits = min(max(1, (4 * len(points) - 1).bit_length()), 24)
        self._bucket_shift = np.uint64(64 - bits)
        starts = np.arange(1 << bits, dtype=np.uint64) << self._bucket_shift
        first = np.searchsorted(self._points_ext[:-1], starts).astype(np.int64)
        self._first_seq = array("q", first.tobytes())
        self._bucket_first = np.frombuffer(self._first_seq, dtype=np.int64)
        self._search_ext = np.array([*points, _MASK64], dtype=np.uint64)
        self._points_list = points
        self._name_of_point = [nodes[code] for code in codes]
        self._nodes = nodes
        # Scalar lookup, everything in one tuple. Past the last point sits the first one
        # plus 2**64: the scan stops there, and ``point - probe`` is the clockwise
        # distance without a wrap test or a mask.
        scan = [*points, points[0] + (1 << 64)] if points else []
        self._lookup = (
            self._hasher.hash_bytes,
            self._packed_probes,
            self._first_seq,
            64 - bits,
            scan,
            self._name_of_point + self._name_of_point[:1],
        )

    # -- membership --------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member nodes in insertion order; :meth:`lookup_codes` indexes this tuple."""
        return self._nodes

    @property
    def probes(self) -> int:
        """``k``, the number of probes per key."""
        return self._probes

    @property
    def hasher(self) -> KeyHasher:
        """The key hasher (also used for node names)."""
        return self._hasher

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._point_of

    def point(self, node: str) -> int:
        """The ring point of ``node`` (the hash of its name).

        Runtime complexity: O(1).

        Raises:
            UnknownNodeError: ``node`` is not a member.
        """
        return get_member(self._point_of, node)

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node; only keys that move to it change home.

        Runtime complexity: O(N log N) (the index is rebuilt).

        >>> mp = MultiProbe(["a"])
        >>> mp.add("b")
        >>> mp.nodes
        ('a', 'b')

        Args:
            node: the new node's name.
            weight: must be 1 (see the module docstring).

        Raises:
            TypeError: ``node`` is not a str or ``weight`` not a number.
            DuplicateNodeError: ``node`` is already a member.
            UnsupportedOperationError: ``weight`` is not 1.
            ValueError: ``node`` hashes to an existing node's point.
        """
        check_name(node)
        _check_weight(weight, node)
        if node in self._point_of:
            raise DuplicateNodeError(f"node {node!r} is already a member")
        point = self._hasher.hash_key(node)
        position = bisect_left(self._points_list, point)
        if position < len(self._points_list) and self._points_list[position] == point:
            raise self._collision(node, self._name_of_point[position])
        self._point_of[node] = point
        try:
            self._rebuild()
        except BaseException:
            del self._point_of[node]
            self._rebuild()
            raise

    def remove(self, node: str) -> None:
        """Remove a node; only its keys change home.

        Runtime complexity: O(N log N) (the index is rebuilt).

        >>> mp = MultiProbe(["a", "b"])
        >>> mp.remove("a")
        >>> set(mp.lookup_many(range(10)))
        {'b'}

        Raises:
            UnknownNodeError: ``node`` is not a member.
        """
        if node not in self._point_of:
            raise UnknownNodeError(f"node {node!r} is not a member")
        previous = self._point_of
        self._point_of = {k: v for k, v in previous.items() if k != node}
        try:
            self._rebuild()
        except BaseException:
            self._point_of = previous
            self._rebuild()
            raise

    def copy(self) -> MultiProbe:
        """An independent copy.

        Runtime complexity: O(N).
        """
        clone = copy_slots(self, MultiProbe)
        clone._point_of = dict(self._point_of)
        return clone

    # -- lookups -----------------------------------------------------------------------

    def _empty(self) -> EmptyRingError:
        return EmptyRingError("MultiProbe has no nodes; add one before looking keys up")

    def node_for(self, key: Key) -> str:
        """The home node of ``key``: the closest node point clockwise after any probe.

        Runtime complexity: O(k) expected: the ``k`` probes are mixed at once (see
        :class:`_PackedProbes`), then each is located through the bucket index; about
        4 us at ``k = 21`` whatever ``N``.

        >>> MultiProbe(["a"]).node_for("k")
        'a'

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: ``key`` is not a valid key (see :mod:`consistent`).
        """
        hash_bytes, packed, first, shift, scan, names = self._lookup
        if not names:
            raise self._empty()
        try:
            data = key.encode() if type(key) is str else _key_to_bytes(key)
        except UnicodeEncodeError:
            raise unencodable_key(key) from None  # type: ignore[arg-type]
        best_distance = 1 << 65
        best = 0
        for probe in packed.probes(hash_bytes(data)):
            # The bucket's first point, then a short scan (under a point on average).
            i = first[probe >> shift]
            while scan[i] < probe:
                i += 1
            distance = scan[i] - probe
            if distance < best_distance:
                best_distance = distance
                best = i
        return names[best]

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """``n`` distinct nodes for ``key``, in order of their distance from the key.

        A node's distance is the smallest clockwise gap from any of the key's probes to its
        point. The home comes first, and the ``i``-th node is where the key would live if
        the ``i - 1`` nodes before it were removed: this is the fail-over order. Computed
        by merging the ``k`` probes' clockwise walks.

        Runtime complexity: O((k + n) log k + k log N).

        >>> mp = MultiProbe(["a", "b", "c"])
        >>> sorted(mp.nodes_for("k", 3))
        ['a', 'b', 'c']
        >>> mp.nodes_for("k", 1) == [mp.node_for("k")]
        True

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not between 1 and the number of nodes.
        """
        points = self._points_list
        if not points:
            raise self._empty()
        check_count(n, len(points))
        h = self._hasher.hash_key(key)
        last = len(points)
        frontier: list[tuple[int, int, int, int]] = []
        for index, z in enumerate(self._packed_probes.probes(h)):
            j = bisect_left(points, z) % last
            frontier.append(((points[j] - z) & _MASK64, index, j, z))
        heapq.heapify(frontier)
        chosen: dict[str, None] = {}
        while len(chosen) < n:
            _, index, j, z = frontier[0]
            chosen.setdefault(self._name_of_point[j])
            j = (j + 1) % last
            heapq.heapreplace(frontier, ((points[j] - z) & _MASK64, index, j, z))
        return list(chosen)

    def _codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        if not self._nodes:
            raise self._empty()
        hashes = self._hasher.hash_keys(keys)
        out = np.empty(hashes.size, dtype=np.int32)
        points_ext = self._points_ext
        search_ext = self._search_ext
        bucket_first = self._bucket_first
        shift = self._bucket_shift
        for start in range(0, hashes.size, _CHUNK):
            chunk = hashes[start : start + _CHUNK]
            probes = probe_points(chunk, self._probes).ravel()
            where = bucket_first[probes >> shift]
            behind = np.flatnonzero(search_ext[where] < probes)
            while behind.size:
                where[behind] += 1
                behind = behind[search_ext[where[behind]] < probes[behind]]
            distance = (points_ext[where] - probes).reshape(self._probes, chunk.size)
            best_probe = np.argmin(distance, axis=0)  # wrapped modulo 2**64 by design
            best = where.reshape(self._probes, chunk.size)[best_probe, np.arange(chunk.size)]
            out[start : start + chunk.size] = self._codes_ext[best]
        return out

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: a numpy object array of node names aligned with ``keys``.

        Runtime complexity: O(k * len(keys)) expected, vectorised (k probes x keys, each
        located through a bucket index over the ring, in chunks).

        >>> MultiProbe(["a"]).lookup_many(["x", b"y", 3]).tolist()
        ['a', 'a', 'a']

        Raises:
            EmptyRingError: there are no nodes.
        """
        homes: npt.NDArray[np.object_] = name_array(self._nodes)[self._codes(keys)]
        return homes

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as int32 indices into :attr:`nodes`.

        Runtime complexity: O(k * len(keys)) expected, vectorised.

        >>> mp = MultiProbe(["a", "b"])
        >>> [mp.nodes[c] for c in mp.lookup_codes([1, 2])] == mp.lookup_many([1, 2]).tolist()
        True

        Raises:
            EmptyRingError: there are no nodes.
        """
        return self._codes(keys)

    def ownership(self) -> dict[str, float]:
        """Each node's exact expected share of the key space under the paper's model.

        The closed form in the module docstring, evaluated from the arc lengths: the
        probability that a key whose ``k`` probes are independent and uniform has its home
        at each node.

        Runtime complexity: O(N log N).

        >>> MultiProbe(["a"]).ownership()
        {'a': 1.0}
        >>> mp = MultiProbe(["a", "b"], probes=1)
        >>> arc_a = ((mp.point("a") - mp.point("b")) % 2**64) / 2**64
        >>> abs(mp.ownership()["a"] - arc_a) < 1e-12
        True
        """
        n = len(self._nodes)
        if n == 0:
            return {}
        if n == 1:
            return {self._nodes[0]: 1.0}
        points = self._points_ext[:-1]
        with np.errstate(over="ignore"):
            gaps = points - np.roll(points, 1)  # gap before each point, modulo 2**64
        arcs = gaps.astype(np.float64) / 2.0**64
        order = np.argsort(arcs, kind="stable")
        b = arcs[order]
        b = b / b.sum()  # exact in the model; absorbs the float rounding of the gaps
        k = self._probes
        breaks = np.concatenate(([0.0], b))
        suffix = np.concatenate((np.cumsum(b[::-1])[::-1], [0.0]))
        longer = np.arange(n, 0, -1, dtype=np.float64)  # arcs longer than t on interval s
        s_start = suffix[:-1] - longer * breaks[:-1]
        s_end = suffix[:-1] - longer * breaks[1:]
        interval_mass = (np.maximum(s_start, 0.0) ** k - np.maximum(s_end, 0.0) ** k) / longer
        share_sorted = np.cumsum(interval_mass)
        share = np.empty(n, dtype=np.float64)
        share[order] = share_sorted
        share /= share.sum()
        by_code = np.empty(n, dtype=np.float64)
        by_code[self._codes_ext[:-1]] = share
        return dict(zip(self._nodes, by_code.tolist(), strict=True))

    # -- introspection -----------------------------------------------------------------

    def __getstate__(self) -> dict[str, object]:
        # ``_bucket_first`` views ``_first_seq``'s memory: pickle the array once, view it again.
        return {slot: getattr(self, slot) for slot in self.__slots__ if slot != "_bucket_first"}

    def __setstate__(self, state: dict[str, object]) -> None:
        for slot, value in state.items():
            object.__setattr__(self, slot, value)
        self._bucket_first = np.frombuffer(self._first_seq, dtype=np.int64)

    def __repr__(self) -> str:
        hash_part = "" if self._hasher == get_hasher(None) else f", hash={self._hasher!r}"
        return f"MultiProbe({list(self._nodes)!r}, probes={self._probes}{hash_part})"

    def _check(self) -> None:
        """Verify the structure's invariants; raises ``AssertionError`` on a violation.

        Runtime complexity: O(N log N).
        """
        n = len(self._nodes)
        assert self._nodes == tuple(self._point_of)
        assert all(isinstance(name, str) for name in self._nodes)
        assert self._probes >= 1 and len(self._gammas) == self._probes
        assert self._packed_probes.gammas == tuple(self._gammas)
        points = self._points_list
        assert len(points) == n and len(self._name_of_point) == n
        assert all(a < b for a, b in pairwise(points))
        assert sorted(self._point_of.values()) == points
        for point, name in zip(points, self._name_of_point, strict=True):
            assert self._point_of[name] == point
            assert self._hasher.hash_key(name) == point
        assert self._points_ext.tolist() == points + points[:1]
        assert self._search_ext.tolist() == [*points, _MASK64]
        hash_bytes, packed, first, shift, scan, names = self._lookup
        assert hash_bytes == self._hasher.hash_bytes and packed is self._packed_probes
        assert first is self._first_seq and shift == int(self._bucket_shift)
        assert self._bucket_first.tolist() == first.tolist()
        if n:
            assert np.shares_memory(self._bucket_first, np.frombuffer(first, np.int64))
            assert scan == [*points, points[0] + 2**64]
            assert names == self._name_of_point + self._name_of_point[:1]
        else:
            assert scan == [] and names == []
        starts = np.arange(self._bucket_first.size, dtype=np.uint64) << self._bucket_shift
        assert self._bucket_first.tolist() == np.searchsorted(_as_uint64(points), starts).tolist()
        assert [self._nodes[c] for c in self._codes_ext.tolist()] == (
            self._name_of_point + self._name_of_point[:1]
        )


class _PackedProbes:
    """The ``k`` splitmix64 probes of a key hash, mixed all at once in one Python int.

    Mixing each probe separately costs about a dozen Python int operations per probe
    (some 6 us of a 9 us lookup at ``k = 21``). Here the ``k`` values ride in 128-bit
    lanes of one big int (SWAR): a lane's 64-bit value times a 64-bit constant fits in its
    lane, so a multiplication never carries into the next lane, and masking every lane to
    its low 64 bits after each shift and product discards what spilled over from the lane
    above. The same ~15 operations then mix every probe, and ``struct`` unpacks the
    lanes' low halves. Bit for bit :func:`_mix_scalar` of each gamma (tested).

    >>> packed = _PackedProbes([_GAMMA, 2 * _GAMMA & _MASK64])
    >>> packed.probes(0) == tuple(_mix_scalar(0, g) for g in packed.gammas)
    True
    """

    __slots__ = ("_lane_mask", "_lanes", "_replicate", "_size", "_unpack", "gammas")

    def __init__(self, gammas: list[int]) -> None:
        self.gammas = tuple(gammas)
        self._replicate = sum(1 << (_LANE_BITS * i) for i in range(len(gammas)))
        self._lane_mask = _MASK64 * self._replicate
        self._lanes = sum(g << (_LANE_BITS * i) for i, g in enumerate(gammas))
        self._size = _LANE_BITS // 8 * len(gammas)
        self._unpack = struct.Struct("<" + "Q8x" * len(gammas)).unpack

    def probes(self, h: int) -> tuple[int, ...]:
        """``_mix_scalar(h, gamma)`` for every gamma, in order."""
        mask = self._lane_mask
        z = (h * self._replicate + self._lanes) & mask
        z = ((z ^ (z >> 30)) & mask) * _MIX1 & mask
        z = ((z ^ (z >> 27)) & mask) * _MIX2 & mask
        # No final mask: unpacking reads only each lane's low 64 bits.
        values: tuple[int, ...] = self._unpack((z ^ (z >> 31)).to_bytes(self._size, "little"))
        return values

    def __reduce__(self) -> tuple[type[_PackedProbes], tuple[list[int]]]:
        return (_PackedProbes, (list(self.gammas),))  # a Struct does not pickle

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PackedProbes) and self.gammas == other.gammas

    __hash__ = None  # type: ignore[assignment]


def _as_uint64(points: list[int]) -> npt.NDArray[np.uint64]:
    """Ring points as a uint64 array (used by ``_check``)."""
    return np.array(points, dtype=np.uint64)
