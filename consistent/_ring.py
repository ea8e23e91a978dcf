"""The consistent-hash ring: virtual nodes, weights, preference lists, libketama mode.

Theory of operation
-------------------
Each node owns ``points`` positions on a circle of ``2**bits`` positions (``bits`` is 64, or
32 in ketama mode). A key hashes to a position ``h`` and its *home* is the owner of the
first point at or after ``h`` (``bisect_left``), wrapping past the top to the first point.
So point ``i`` owns the arc ``(points[i-1], points[i]]``, which makes ownership and key
movement exact integer arithmetic on arc lengths.

Points of node ``name``: ``hash("{name}-{i}")`` for ``i`` in ``range(count)``, where
``count = max(1, round(vnodes * weight))``. Because a node's points form a prefix of one
fixed sequence, changing a weight adds or removes points at the end of it: incremental,
and only the keys next to those points move.

**Collisions.** Two points with the same position are ordered by node name (the smaller
name first); equal positions of one node are interchangeable. The first of such a run
wins every key up to that position, whatever order nodes were added in. Removing a node
removes exactly its own points (selected by owner, never by position), so a node whose
points collided with another's can be removed without disturbing the survivor -- the
corruption uhashring suffers when it deletes by position.

**Storage.** ``_hashes`` (sorted uint64) and ``_codes`` (int32 node slot per point, plus one
wrap-around entry) are numpy arrays that share memory with :mod:`array` objects used by the
scalar path (``bisect`` on an ``array`` needs no Python list of ints). Every mutation builds
new arrays (vectorised, O(points)) and swaps them in only when it cannot fail any more, so
a failed call leaves the ring as it was.

**The lookup index.** The circle is cut into ``B = 2**k`` equal buckets (``points <= B <
2 * points``); ``_first[b]`` is the index of the first point at or after bucket ``b``'s
start. A scalar lookup is: hash, shift, one array index, then a scan forward over the
bucket's points (fewer than one on average; a sentinel position past the end stops it and
a wrapped owner table maps "past the end" to point 0). No ``bisect`` over the whole ring,
no per-call allocation beyond the hash itself. Batch lookups do the same in numpy. The
index costs 4 bytes per bucket, so the ring needs about 16-20 bytes per point in all
(8 position + 4 owner + index), see ``sys.getsizeof(ring)``.

**ketama mode** (:meth:`HashRing.ketama`) reproduces libketama: md5; for each server
``floorf(pct * 40.0 * (float)n)`` digests of ``"name-k"`` where ``pct`` is the
single-precision share of total weight (the float rounding is reproduced: with 7 equal
servers C gets 40 digests where double arithmetic gets 39); 4 points per digest, each 4
digest bytes little-endian; a key's hash is its md5's first 4 bytes little-endian.
"""

from __future__ import annotations

import hashlib
import math
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import compress
from typing import Any, ClassVar, Final

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
from consistent._hashing import (
    Key,
    KeyHasher,
    Keys,
    MD5Hasher,
    _key_to_bytes,
    get_hasher,
    unencodable_key,
)
from consistent._validate import check_name, check_weight, get_member, member_pairs

__all__ = ["HashRing"]

_KETAMA_DIGESTS: Final = 40
_MASK32: Final = 0xFFFFFFFF
_SENTINEL: Final = (1 << 64) - 1


def _validate_name(node: object) -> str:
    name = check_name(node)
    if not name:
        raise InvalidArgumentError("node name must be a non-empty str, got ''")
    return name


class HashRing:
    """A consistent-hash ring with virtual nodes, weights and preference lists.

    Runtime complexity: ``node_for`` O(1) expected (one hash, one table index; a bisect over
    a bucket's few points otherwise); ``lookup_many`` O(k) vectorised; ``add``/``remove``/
    ``set_weight`` O(points) vectorised, no re-hashing of other nodes; memory about 20 bytes
    per point (``sys.getsizeof``).

    >>> ring = HashRing(["a", "b", "c"])
    >>> ring.node_for("user:42") in ring
    True
    >>> ring.nodes_for("user:42", 3)[0] == ring.node_for("user:42")
    True
    >>> round(sum(ring.ownership().values()), 12)
    1.0
    >>> HashRing({"a": 1, "b": 2}, vnodes=10)
    HashRing({'a': 1.0, 'b': 2.0}, vnodes=10, hash=XXH3Hasher(seed=0))

    Weights are honoured down to one point: node ``i`` gets ``max(1, round(vnodes * w_i))``
    points, so every member owns at least one arc however small its weight. A weight below
    ``0.5 / vnodes`` would round to no point and gets one, far more than its share:
    ``HashRing({"a": 1e-9, "b": 1})`` gives ``a`` one point against ``b``'s 160, about
    1/161 of the keys (0.78% for these names), not 1e-9. Raise ``vnodes`` for finer
    weights, or leave such a node out. (Ketama mode keeps libketama's own point counts.)

    Args:
        nodes: node names, or a mapping of name to positive weight. Each node gets
            ``max(1, round(vnodes * weight))`` points: at least one, whatever its weight
            (see above).
        vnodes: points per unit of weight (default 160).
        hash: hash family: ``"xxh3"`` (default), ``"md5"`` or a :class:`KeyHasher`.

    Limits: at most :attr:`MAX_POINTS` (10,000,000) points on one ring, about 200 MB.

    Raises:
        TypeError: a node name is not a str, or a weight is not a number.
        ValueError: bad ``vnodes``, non-positive weight, unknown hash family.
        LimitExceededError: the ring would hold more than :attr:`MAX_POINTS` points.
        DuplicateNodeError: a node name appears twice.
    """

    # Facts about the algorithm, read by the registry (consistent.ALGORITHMS), the
    # simulator, the benchmarks and the tests.
    algorithm: ClassVar[str] = "ring"
    summary: ClassVar[str] = "hash ring with virtual nodes"
    removes_any_node: ClassVar[bool] = True
    exact_ownership: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    stateful: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset({"vnodes"})

    #: The most points a ring holds (about 200 MB at 16-20 bytes per point): a constructor,
    #: ``add`` or ``set_weight`` that would need more raises LimitExceededError, before
    #: allocating anything.
    MAX_POINTS: ClassVar[int] = 10_000_000

    def __init__(
        self,
        nodes: Iterable[str] | Mapping[str, float] = (),
        *,
        vnodes: int = 160,
        hash: str | KeyHasher | None = None,
    ) -> None:
        if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
            raise InvalidArgumentError(f"vnodes must be a positive int, got {vnodes!r}")
        if vnodes > self.MAX_POINTS:
            raise LimitExceededError(
                f"vnodes must be at most HashRing.MAX_POINTS ({self.MAX_POINTS:,} points on "
                f"one ring), got {vnodes:,}"
            )
        self._init_empty(vnodes, get_hasher(hash), ketama=False)
        self._add_many(_normalise_members(nodes))

    @classmethod
    def ketama(cls, nodes: Iterable[str] | Mapping[str, int] = ()) -> HashRing:
        """A ring that places keys exactly as libketama does (memcached clients).

        Weights are libketama's ``memory`` column: positive integers.

        >>> ring = HashRing.ketama({"10.0.0.1:11211": 1, "10.0.0.2:11211": 1})
        >>> ring.point_count("10.0.0.1:11211")
        160

        Raises:
            TypeError, ValueError: as for the constructor; a weight that is not an int.
        """
        ring = cls.__new__(cls)
        ring._init_empty(160, MD5Hasher(), ketama=True)
        ring._add_many(_normalise_members(nodes))
        return ring

    # ------------------------------------------------------------------ state

    def _init_empty(self, vnodes: int, hasher: KeyHasher, *, ketama: bool) -> None:
        """An empty ring with its configuration (every constructor path comes here)."""
        self._vnodes = vnodes
        self._hasher = hasher
        self._ketama = ketama
        self._key_hash = self._make_key_hash()
        self._bits = 32 if ketama else 64
        self._space = 1 << self._bits
        self._weights: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._slot_of: dict[str, int] = {}
        self._slot_names: list[str | None] = []
        self._nodes: tuple[str, ...] = ()
        self._install(np.empty(0, np.uint64), np.empty(0, np.int32))

    def _install(
        self,
        hashes: npt.NDArray[np.uint64],
        codes: npt.NDArray[np.int32],
    ) -> None:
        """Swap in new point arrays and bring the lookup index up to date.

        Only called once nothing can fail any more: this is the commit point of a mutation.
        """
        n = hashes.size
        # One sentinel past the end (the largest position) stops the scalar scan.
        self._seq = array("Q", hashes.tobytes())
        self._seq.append(_SENTINEL)
        self._hashes = np.frombuffer(self._seq, dtype=np.uint64)[:n]
        self._positions = np.frombuffer(self._seq, dtype=np.uint64)
        wrapped = np.empty(n + 1 if n else 0, dtype=np.int32)
        wrapped[:n] = codes
        if n:
            wrapped[n] = codes[0]
        self._codes_seq = array("i", wrapped.tobytes())
        self._codes_wrapped = np.frombuffer(self._codes_seq, dtype=np.int32)
        self._codes = self._codes_wrapped[:n]
        names = self._slot_names
        self._slot_lut = np.array([*names, None], dtype=object)
        index_of_slot = np.full(len(names) + 1, -1, dtype=np.int32)
        for i, name in enumerate(self._nodes):
            index_of_slot[self._slot_of[name]] = i
        self._index_of_slot = index_of_slot
        self._rebuild_index()

    def _rebuild_index(self) -> None:
        """Rebuild the bucket index from the point arrays: O(points + buckets), vectorised."""
        n = self._hashes.size
        # points <= buckets < 2 * points: a bucket holds 0.5 to 1 point.
        k = min(self._bits - 1, (n - 1).bit_length()) if n else 0
        shift = self._bits - k
        first = np.zeros(1 << k, dtype=np.uint32)
        if n:
            bucket_of_point = (self._hashes >> np.uint64(shift)).astype(np.intp)
            counts = np.bincount(bucket_of_point, minlength=1 << k)
            first[1:] = np.cumsum(counts[:-1])
        self._first = array("I", first.tobytes())
        self._first_np = np.frombuffer(self._first, dtype=np.uint32)
        self._shift = shift
        self._lookup = (
            self._key_hash,
            self._first,
            shift,
            self._seq,
            self._codes_seq,
            self._slot_names,
        )

    # ---------------------------------------------------------------- points

    def _target_counts(self, weights: Mapping[str, float]) -> dict[str, int]:
        """How many points each node gets for the given weights."""
        if not self._ketama:
            v = self._vnodes
            # min(): a huge weight must not make a huge int before the limit is checked
            cap = self.MAX_POINTS + 1
            return {name: max(1, round(min(cap, v * w))) for name, w in weights.items()}
        n = len(weights)
        if not n:
            return {}
        # libketama: float pct = (float)w / (float)total; floorf(pct * 40.0 * (float)n).
        # pct is single precision, the products double, and floorf's argument single again.
        total = np.float32(sum(int(w) for w in weights.values()))
        n32 = float(np.float32(n))
        counts = {}
        for name, w in weights.items():
            pct = float(np.float32(int(w)) / total)
            digests = math.floor(float(np.float32(pct * float(_KETAMA_DIGESTS) * n32)))
            counts[name] = 4 * digests
        return counts

    def _point_hashes(
        self, names: list[str], starts: list[int], stops: list[int]
    ) -> npt.NDArray[np.uint64]:
        """Positions of points ``starts[j]..stops[j]-1`` of each ``names[j]``, concatenated."""
        if not self._ketama:
            return self._hasher.node_points(names, starts, stops)
        # libketama: digest d of "name-d" gives points 4d..4d+3 (4 bytes each, little-endian).
        parts = []
        for name, start, stop in zip(names, starts, stops, strict=True):
            first_digest, last_digest = start // 4, (stop + 3) // 4
            raw = b"".join(
                hashlib.md5(f"{name}-{d}".encode()).digest()
                for d in range(first_digest, last_digest)
            )
            words = np.frombuffer(raw, dtype="<u4").astype(np.uint64)
            parts.append(words[start - first_digest * 4 : stop - first_digest * 4])
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)

    # ------------------------------------------------------------- mutations

    def _plan(
        self, new_weights: dict[str, float], touched: list[str]
    ) -> tuple[dict[str, int], list[tuple[str, int, int]]]:
        """Point-count changes needed to reach ``new_weights``: (counts, [(name, old, new)]).

        Outside ketama mode a node's count depends on its own weight only, so only the
        ``touched`` nodes are recomputed; libketama's counts depend on every weight.
        """
        if self._ketama:
            counts = self._target_counts(new_weights)
            candidates = set(counts) | set(self._counts)
        else:
            counts = dict(self._counts)
            for name in touched:
                counts.pop(name, None)
            counts.update(
                self._target_counts({n: new_weights[n] for n in touched if n in new_weights})
            )
            candidates = set(touched)
        changes = []
        for name in candidates:
            old, new = self._counts.get(name, 0), counts.get(name, 0)
            if old != new:
                changes.append((name, old, new))
        changes.sort()
        points = self._hashes.size + sum(new - old for _, old, new in changes)
        if points > self.MAX_POINTS:
            raise LimitExceededError(
                f"the ring would need at least {points:,} points, more than HashRing.MAX_POINTS "
                f"({self.MAX_POINTS:,}); lower vnodes or the weights"
            )
        return counts, changes

    def _apply(
        self,
        new_weights: dict[str, float],
        added: list[str],
        removed: list[str],
        reweighted: list[str],
    ) -> None:
        """Move from the current membership to ``new_weights``; commit only at the end."""
        counts, changes = self._plan(new_weights, [*added, *removed, *reweighted])
        slot_of = dict(self._slot_of)
        slot_names = list(self._slot_names)
        for name in added:
            slot_of[name] = len(slot_names)
            slot_names.append(name)
        hashes, codes = self._hashes, self._codes
        keep = None
        grow: list[tuple[str, int, int]] = []
        for name, old, new in changes:
            slot = slot_of[name]
            if new > old:
                grow.append((name, old, new))
            elif name in removed or new == 0:
                mask = codes != slot
                keep = mask if keep is None else keep & mask
            else:
                drop = self._point_hashes([name], [new], [old])
                mask = _shrink_mask(hashes, codes, slot, drop)
                keep = mask if keep is None else keep & mask
        if keep is not None:
            hashes, codes = hashes[keep], codes[keep]
        if grow:
            names, starts, stops = (list(column) for column in zip(*grow, strict=True))
            add_h = self._point_hashes(names, starts, stops)
            add_c = np.repeat(
                np.array([slot_of[name] for name in names], dtype=np.int32),
                np.subtract(stops, starts),
            )
            order = np.argsort(add_h)
            add_h, add_c = add_h[order], add_c[order]
            pos = np.searchsorted(hashes, add_h, side="left")
            hashes = np.insert(hashes, pos, add_h)
            codes = np.insert(codes, pos, add_c)
        codes = _order_ties(hashes, codes, slot_names)
        # Commit: nothing below can raise for valid state.
        for name in removed:
            slot_names[slot_of.pop(name)] = None
        self._slot_of = slot_of
        self._slot_names = slot_names
        self._weights = new_weights
        self._counts = counts
        self._nodes = tuple(new_weights)
        if len(slot_names) > 2 * len(new_weights) + 16:
            self._compact(hashes, codes)
        else:
            self._install(hashes, codes)

    def _compact(self, hashes: npt.NDArray[np.uint64], codes: npt.NDArray[np.int32]) -> None:
        """Renumber slots densely after many removals (keeps slot lists small)."""
        remap = np.full(len(self._slot_names), -1, dtype=np.int32)
        names: list[str | None] = []
        for name in self._nodes:
            remap[self._slot_of[name]] = len(names)
            names.append(name)
        self._slot_names = names
        self._slot_of = {name: i for i, name in enumerate(self._nodes)}
        self._install(hashes, remap[codes])

    def _add_many(self, members: list[tuple[str, object]]) -> None:
        """Add members in order, each checked as :meth:`add` checks it; all or nothing."""
        weights = dict(self._weights)
        added = []
        for node, weight in members:
            name = _validate_name(node)
            if name in weights:
                raise DuplicateNodeError(f"node {name!r} is already in the ring")
            weights[name] = check_weight(name, weight)
            if self._ketama and int(weights[name]) != weights[name]:
                raise InvalidArgumentError(
                    f"ketama weights must be positive integers, got {weight!r} for node {name!r}"
                )
            added.append(name)
        if added:
            self._apply(weights, added, [], [])

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node with ``weight`` (points = ``round(vnodes * weight)``, at least 1).

        Only keys that now land on the new node's points move, all of them to it.

        Runtime complexity: O(points) vectorised; the other nodes are not re-hashed.

        >>> ring = HashRing(["a"]); ring.add("b", weight=2); ring.point_count("b")
        320

        Raises:
            TypeError: ``node`` is not a str or ``weight`` not a number.
            ValueError: ``weight`` is not positive.
            DuplicateNodeError: ``node`` is already in the ring.
        """
        self._add_many([(node, weight)])

    def remove(self, node: str) -> None:
        """Remove a node; only its keys move, each to the next point clockwise.

        Runtime complexity: O(points) vectorised.

        Raises:
            UnknownNodeError: ``node`` is not in the ring.
        """
        if node not in self._weights:
            raise UnknownNodeError(f"node {node!r} is not in the ring")
        weights = {k: w for k, w in self._weights.items() if k != node}
        self._apply(weights, [], [node], [])

    def set_weight(self, node: str, weight: float) -> None:
        """Change a node's weight: points are added or removed at the end of its sequence.

        Runtime complexity: O(points) vectorised.

        Raises:
            UnknownNodeError: ``node`` is not in the ring.
            TypeError, ValueError: ``weight`` is not a positive number.
        """
        if node not in self._weights:
            raise UnknownNodeError(f"node {node!r} is not in the ring")
        w = check_weight(node, weight)
        if self._ketama and int(w) != w:
            raise InvalidArgumentError(f"ketama weights must be positive integers, got {weight!r}")
        weights = dict(self._weights)
        weights[node] = w
        self._apply(weights, [], [], [node])

    # ---------------------------------------------------------------- lookups

    def node_for(self, key: Key) -> str:
        """The home node of ``key``: owner of the first point at or after its hash.

        Runtime complexity: O(1) expected.

        >>> HashRing(["a"]).node_for(b"anything")
        'a'

        Raises:
            EmptyRingError: the ring has no nodes.
            TypeError: ``key`` is not str, bytes or int.
        """
        # Hot path: one attribute load unpacks everything (see "The lookup index" above).
        key_hash, first, shift, seq, codes, names = self._lookup
        try:
            data = key.encode()  # type: ignore[union-attr]
        except AttributeError:
            data = key if type(key) is bytes else _key_to_bytes(key)
        except UnicodeEncodeError:
            raise unencodable_key(key) from None  # type: ignore[arg-type]
        h = key_hash(data)
        # The bucket's first point, then a short scan (at most one point on average); the
        # sentinel ends it and the wrapped owner table maps "past the end" to point 0.
        i = first[h >> shift]
        while seq[i] < h:
            i += 1
        try:
            return names[codes[i]]  # type: ignore[return-value]
        except IndexError:
            raise EmptyRingError("cannot look up a key in an empty ring") from None

    def _key_position(self, key: Key) -> int:
        return int(self._key_hash(_key_to_bytes(key)))

    def _index_of(self, h: int) -> int:
        n = self._hashes.size
        i = bisect_left(self._seq, h, 0, n)
        return 0 if i == n else i

    def preference(self, key: Key) -> Iterator[str]:
        """Distinct nodes clockwise from ``key``'s position, home first (lazy).

        Runtime complexity: O(points walked); every node appears exactly once.

        Raises:
            EmptyRingError: the ring has no nodes.
        """
        if not self._nodes:
            raise EmptyRingError("cannot look up a key in an empty ring")
        return self._walk(self._index_of(self._key_position(key)))

    def _walk(self, start: int) -> Iterator[str]:
        codes, names = self._codes_seq, self._slot_names
        n, total = self._hashes.size, len(self._nodes)
        seen: set[int] = set()
        i = start
        while True:
            c = codes[i]
            if c not in seen:
                seen.add(c)
                yield names[c]  # type: ignore[misc]
                if len(seen) == total:
                    return
            i += 1
            if i == n:
                i = 0

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """The preference list of ``key``: ``n`` distinct nodes clockwise, home first.

        Replicas go to these nodes; when the home is down the next one fills in.

        Runtime complexity: O(points walked), about O(n * vnodes) for small n.

        >>> ring = HashRing(["a", "b", "c"])
        >>> sorted(ring.nodes_for("k", 3))
        ['a', 'b', 'c']

        Raises:
            ValueError: ``n`` is not between 1 and the number of nodes.
            EmptyRingError: the ring has no nodes.
        """
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(self._nodes):
            if not self._nodes:
                raise EmptyRingError("cannot look up a key in an empty ring")
            raise InvalidArgumentError(
                f"n must be an int between 1 and {len(self._nodes)}, got {n!r}"
            )
        walk = self.preference(key)
        return [next(walk) for _ in range(n)]

    def key_positions(self, keys: Keys) -> npt.NDArray[np.uint64]:
        """Positions of ``keys`` on this ring's circle (hash, or ketama's 32-bit hash)."""
        h = self._hasher.hash_keys(keys)
        if self._ketama:
            h &= np.uint64(_MASK32)
        return h

    def _slots_at(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
        """Owner slot of each position: the bucket's first point, then a vectorised scan."""
        if not self._nodes:
            raise EmptyRingError("cannot look up keys in an empty ring")
        positions = self._positions
        idx = self._first_np[(h >> np.uint64(self._shift)).astype(np.intp)].astype(np.intp)
        active = np.flatnonzero(positions[idx] < h)
        while active.size:
            idx[active] += 1
            active = active[positions[idx[active]] < h[active]]
        slots: npt.NDArray[np.int32] = self._codes_wrapped[idx]
        return slots

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as int32 indices into :attr:`nodes` (compact for millions).

        Runtime complexity: O(k log(points)) in numpy, plus hashing (vectorised for integer
        arrays, one C call per str/bytes key).

        >>> ring = HashRing(["a", "b"])
        >>> codes = ring.lookup_codes(["x", "y"])
        >>> [ring.nodes[c] for c in codes] == [ring.node_for("x"), ring.node_for("y")]
        True

        Raises:
            EmptyRingError: the ring has no nodes.
        """
        slots = self._slots_at(self.key_positions(keys))
        result: npt.NDArray[np.int32] = self._index_of_slot[slots]
        return result

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: a numpy object array of node names aligned with ``keys``.

        Runtime complexity: as :meth:`lookup_codes`.

        >>> HashRing(["a"]).lookup_many([1, "x", b"y"]).tolist()
        ['a', 'a', 'a']

        Raises:
            EmptyRingError: the ring has no nodes.
        """
        result: npt.NDArray[np.object_] = self._slot_lut[self._slots_at(self.key_positions(keys))]
        return result

    # ------------------------------------------------------------ measurement

    def owned_arcs(self) -> dict[str, int]:
        """Each node's exact number of hash positions (integers summing to ``2**bits``).

        Runtime complexity: O(points).

        >>> HashRing(["a"]).owned_arcs() == {"a": 2**64}
        True
        """
        n = self._hashes.size
        if not n:
            return {}
        slots = len(self._slot_names)
        # Point i owns (points[i-1], points[i]]; point 0 also owns the wrap past the top.
        # Halves of 32 bits summed in float64 stay exact (< 2**53) for any ring that fits.
        arcs = np.diff(self._hashes)
        codes = self._codes[1:]
        low = np.bincount(codes, (arcs & np.uint64(_MASK32)).astype(np.float64), slots)
        high = np.bincount(codes, (arcs >> np.uint64(32)).astype(np.float64), slots)
        wrap = self._space - int(self._hashes[-1]) + int(self._hashes[0])
        owned = {}
        for name in self._nodes:
            slot = self._slot_of[name]
            owned[name] = (int(high[slot]) << 32) + int(low[slot])
        first_owner = self._slot_names[int(self._codes[0])]
        assert first_owner is not None
        owned[first_owner] += wrap
        return owned

    def ownership(self) -> dict[str, float]:
        """Each node's exact share of the hash space, from arc lengths; shares sum to 1.

        Runtime complexity: O(points).

        >>> HashRing(["a"]).ownership()
        {'a': 1.0}
        """
        space = self._space
        return {name: arc / space for name, arc in self.owned_arcs().items()}

    def movement_to(self, other: HashRing) -> float:
        """Exact fraction of the key space whose home differs between this ring and ``other``.

        Both rings must hash keys the same way. Runtime complexity: O(p log p) over both
        rings' points.

        >>> a = HashRing(["a", "b", "c"]); b = a.copy(); b.add("d")
        >>> abs(a.movement_to(b) - b.ownership()["d"]) < 1e-12
        True

        Raises:
            TypeError: ``other`` is not a HashRing (compare other placements with
                :func:`consistent.movement`).
            ValueError: the rings hash keys differently.
            EmptyRingError: either ring is empty.
        """
        if not isinstance(other, HashRing):
            raise InvalidTypeError(
                f"movement_to compares two HashRings, got {type(other).__name__}; "
                "use consistent.movement(before, after) for other placements"
            )
        if (self._hasher, self._ketama) != (other._hasher, other._ketama):
            raise InvalidArgumentError(
                f"rings must hash keys the same way, got {self._hasher!r} and {other._hasher!r}"
            )
        if not self._nodes or not other._nodes:
            raise EmptyRingError("movement needs two non-empty rings")
        bounds = np.union1d(self._hashes, other._hashes)
        mine = self._owner_names_at(bounds)
        theirs = other._owner_names_at(bounds)
        # Exact integer arc lengths: segment j is (bounds[j-1], bounds[j]], segment 0 wraps.
        arcs = [self._space - int(bounds[-1]) + int(bounds[0]), *np.diff(bounds).tolist()]
        moved: int = sum(compress(arcs, (mine != theirs).tolist()))
        return moved / self._space

    def _owner_names_at(self, positions: npt.NDArray[np.uint64]) -> npt.NDArray[np.object_]:
        result: npt.NDArray[np.object_] = self._slot_lut[self._slots_at(positions)]
        return result

    def point_count(self, node: str) -> int:
        """How many points ``node`` has on the ring.

        Raises:
            UnknownNodeError: ``node`` is not in the ring.
        """
        return get_member(self._counts, node, "is not in the ring")

    def weight(self, node: str) -> float:
        """The weight of ``node``.

        Raises:
            UnknownNodeError: ``node`` is not in the ring.
        """
        # Inline, not get_member: BoundedLoadRing calls this on every placement.
        try:
            return self._weights[node]
        except KeyError:
            raise UnknownNodeError(f"node {node!r} is not in the ring") from None

    # ----------------------------------------------------------------- basics

    @property
    def nodes(self) -> tuple[str, ...]:
        """Member nodes in insertion order; :meth:`lookup_codes` indexes this tuple."""
        return self._nodes

    @property
    def weights(self) -> dict[str, float]:
        """A copy of the node -> weight mapping."""
        return dict(self._weights)

    @property
    def vnodes(self) -> int:
        """Points per unit of weight (160 in ketama mode, where it is informational)."""
        return self._vnodes

    @property
    def hasher(self) -> KeyHasher:
        """The key hasher (for ketama mode, md5; positions use its low 32 bits)."""
        return self._hasher

    @property
    def is_ketama(self) -> bool:
        """Whether this ring places keys as libketama does."""
        return self._ketama

    @property
    def points(self) -> npt.NDArray[np.uint64]:
        """The sorted point positions (read-only view)."""
        view: npt.NDArray[np.uint64] = self._hashes.view()
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return len(self._nodes)

    def __sizeof__(self) -> int:
        """Bytes held by the ring: its point, owner and index arrays plus bookkeeping."""
        arrays = sum(a.itemsize * len(a) for a in (self._seq, self._codes_seq, self._first))
        books = sum(
            sys.getsizeof(x)
            for x in (self._weights, self._counts, self._slot_of, self._slot_names, self._nodes)
        )
        return object.__sizeof__(self) + arrays + books

    def __contains__(self, node: object) -> bool:
        return node in self._weights

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __repr__(self) -> str:
        weights = {k: (int(w) if self._ketama else w) for k, w in self._weights.items()}
        if self._ketama:
            return f"HashRing.ketama({weights!r})"
        return f"HashRing({weights!r}, vnodes={self._vnodes}, hash={self._hasher!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HashRing):
            return NotImplemented
        return (
            self._weights == other._weights
            and self._vnodes == other._vnodes
            and self._hasher == other._hasher
            and self._ketama == other._ketama
        )

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> HashRing:
        """An independent ring with the same members; O(1): all state is shared until changed.

        >>> a = HashRing(["a"]); b = a.copy(); b.add("b"); len(a), len(b)
        (1, 2)
        """
        clone = object.__new__(HashRing)
        # Mutations never change a container in place: they build new arrays, dicts and
        # lists and swap them in (see _apply), so a copy can share every one of them.
        clone.__dict__.update(self.__dict__)
        return clone

    def _make_key_hash(self) -> Callable[[bytes], int]:
        """The bytes -> position function of the scalar path (bound once, not per call)."""
        if self._ketama:
            md5 = hashlib.md5
            from_bytes = int.from_bytes

            def ketama_hash(data: bytes) -> int:
                return from_bytes(md5(data).digest()[:4], "little")

            return ketama_hash
        return self._hasher.hash_bytes

    def __getstate__(self) -> dict[str, Any]:
        return {
            "weights": self._weights,
            "vnodes": self._vnodes,
            "hasher": self._hasher,
            "ketama": self._ketama,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._init_empty(state["vnodes"], state["hasher"], ketama=state["ketama"])
        self._add_many(list(state["weights"].items()))

    # ------------------------------------------------------------- invariants

    def _check(self) -> None:
        """Verify every invariant in O(points); raises AssertionError on the first violation."""
        n = self._hashes.size
        assert n == sum(self._counts.values()), "point total"
        assert set(self._counts) == set(self._weights) == set(self._slot_of) == set(self._nodes)
        assert self._counts == self._target_counts(self._weights), "point counts"
        assert len(self._nodes) == len(set(self._nodes))
        for name, slot in self._slot_of.items():
            assert self._slot_names[slot] == name
        assert sum(x is not None for x in self._slot_names) == len(self._nodes)
        assert np.all(self._hashes[1:] >= self._hashes[:-1]), "points sorted"
        if n:
            assert int(self._hashes[-1]) < self._space
            assert self._codes_wrapped[n] == self._codes_wrapped[0]
        # Each node's points are exactly its generated sequence.
        for name, count in self._counts.items():
            mine = np.sort(self._hashes[self._codes == self._slot_of[name]])
            assert mine.size == count, f"{name}: {mine.size} points, expected {count}"
            expected = np.sort(self._point_hashes([name], [0], [count]))
            assert np.array_equal(mine, expected), name
        # Collisions ordered by node name.
        ties = np.flatnonzero(self._hashes[1:] == self._hashes[:-1])
        for i in ties.tolist():
            a = self._slot_names[self._codes[i]]
            b = self._slot_names[self._codes[i + 1]]
            assert a is not None and b is not None and a <= b, f"tie order at {i}"
        # Scalar mirrors share the numpy buffers' contents.
        assert list(self._seq)[:n] == self._hashes.tolist()
        # The lookup index equals a full rebuild.
        assert len(self._seq) == n + 1 and self._seq[n] == _SENTINEL
        first, shift = self._first, self._shift
        self._rebuild_index()
        assert self._first == first and self._shift == shift
        assert n <= len(first) < 2 * n or n == 0
        for b in range(0, len(first), max(1, len(first) // 64)):
            assert first[b] == bisect_left(self._seq, b << shift, 0, n), f"bucket {b}"


def _normalise_members(nodes: Iterable[str] | Mapping[str, float]) -> list[tuple[str, object]]:
    refusal = "nodes must be an iterable of names or a mapping, got the str {value!r}"
    return list(member_pairs(nodes, refusal))


def _shrink_mask(
    hashes: npt.NDArray[np.uint64],
    codes: npt.NDArray[np.int32],
    slot: int,
    drop: npt.NDArray[np.uint64],
) -> npt.NDArray[np.bool_]:
    """Mask keeping all points except one point of ``slot`` per position in ``drop``."""
    candidates = (codes == slot) & np.isin(hashes, drop)
    if np.count_nonzero(candidates) == drop.size:
        keep_all: npt.NDArray[np.bool_] = ~candidates
        return keep_all
    # A kept point of this node shares a position with a dropped one (a self-collision):
    # drop exactly as many as asked; equal points of one node are interchangeable.
    need = Counter(drop.tolist())
    keep = np.ones(hashes.size, dtype=bool)
    for i in np.flatnonzero(candidates).tolist():
        h = int(hashes[i])
        if need[h]:
            need[h] -= 1
            keep[i] = False
    return keep


def _order_ties(
    hashes: npt.NDArray[np.uint64], codes: npt.NDArray[np.int32], names: list[str | None]
) -> npt.NDArray[np.int32]:
    """Order points that share a position by node name (the documented tie rule)."""
    ties = np.flatnonzero(hashes[1:] == hashes[:-1])
    if not ties.size:
        return codes
    codes = codes.copy()
    i, n = 0, ties.size
    while i < n:
        start = int(ties[i])
        end = start + 1
        while i < n and int(ties[i]) == end - 1:
            end += 1
            i += 1
        run = sorted(codes[start:end].tolist(), key=lambda c: names[c] or "")
        codes[start:end] = run
    return codes
