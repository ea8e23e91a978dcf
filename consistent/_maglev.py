"""Maglev hashing: a lookup table of prime size filled by per-node permutations.

Theory of operation
-------------------
Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer" (NSDI 2016),
section 3.4. The table has ``M`` entries, ``M`` prime and larger than the number of nodes.
Each node ``i`` has a *permutation* of ``0..M-1`` defined by two independent hashes of its
name::

    offset_i = h1(name_i) mod M
    skip_i   = h2(name_i) mod (M - 1) + 1
    permutation_i[j] = (offset_i + j * skip_i) mod M

Because ``M`` is prime and ``1 <= skip_i < M`` this visits every entry exactly once. The
table is *populated* in turns: nodes take turns in a fixed order; on its turn a node claims
the first entry of its permutation that is still empty, then the next node goes; this stops
the moment the table is full. A key's home is ``table[hash(key) mod M]``: one hash, one
modulo, one array read, for scalar and batch lookups alike.

Decisions made here, beyond the paper:

* **Turn order** is the nodes sorted by name, not insertion order, so every process that
  knows the same membership builds the same table whatever order it learnt it in.
  (:attr:`Maglev.nodes` and :meth:`Maglev.lookup_codes` still use insertion order.)
* **Weights**: in round ``t = 1, 2, ...`` node ``i`` takes a turn only while it has claimed
  fewer than ``t * w_i / w_max`` entries. The heaviest nodes take a turn every round, a node
  of half the weight every other round, so entries are shared in proportion to weight (up to
  the rounding of the last round). Every node takes a turn in round 1, so every node owns at
  least one entry however small its weight. With all weights equal this is exactly the paper's
  procedure.
* **Node hashes**: ``h1`` and ``h2`` are the instance's key hasher applied to the UTF-8 name
  followed by ``b"\\xffoffset"`` and ``b"\\xffskip"``; ``0xff`` never occurs in UTF-8, so
  the two inputs differ from each other and from every other name's. Names are hashed once,
  when they join.
* **Population is a tight sequential loop**, not numpy: each turn depends on all earlier
  ones, and batching a round's turns in numpy (committing the prefix of turns up to the
  first conflict, then re-probing) was measured about 15x slower than the plain loop
  because of per-call overhead. Its table is checked against a literal transcription of
  the paper's pseudocode (:func:`populate_reference`).

Balance and movement (measured exactly on the table, see ``tests/test_maglev.py``): with
equal weights every node owns ``floor(M/N)`` or ``ceil(M/N)`` entries, so the table-share
peak-to-mean is at most ``ceil(M/N) / (M/N)``: 1.0076 for 1,000 nodes in 65,537 entries.
Maglev trades minimal disruption for that balance. A join or leave moves more than the
optimal ``1/N`` of the key space, and the excess grows with ``N**2 / M``. Movement ratio
(entries changed / optimal), one node joining or leaving:

=========  ========  ===============
N          M         movement ratio
=========  ========  ===============
10         65,537    1.02 - 1.03
100        65,537    1.54 - 1.62
100        655,373   1.13 - 1.14
1,000      65,537    6.5 - 7.1
1,000      655,373   4.2 - 4.4
=========  ========  ===============

so pick ``M`` well above ``N**2`` where movement matters, as the paper's section 5.3 advises
(a larger table is more resilient).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterable, Mapping
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
from consistent._validate import check_count, check_name, check_weight, get_member, member_pairs

__all__ = ["Maglev", "is_prime"]

_DEFAULT_TABLE_SIZE: Final = 65537
_OFFSET_SUFFIX: Final = b"\xffoffset"
_SKIP_SUFFIX: Final = b"\xffskip"
# Deterministic Miller-Rabin witnesses: correct for every n < 3.3 * 10**24.
_MR_BASES: Final = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


def is_prime(n: int) -> bool:
    """Whether ``n`` is prime (deterministic Miller-Rabin, exact for ``n < 3.3e24``).

    Runtime complexity: O(log(n)**3).

    >>> [p for p in range(20) if is_prime(p)]
    [2, 3, 5, 7, 11, 13, 17, 19]
    >>> is_prime(65537), is_prime(65536)
    (True, False)

    Args:
        n: the integer to test.

    Returns:
        ``True`` when ``n`` is prime.
    """
    if n < 2:
        return False
    for p in _MR_BASES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in _MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _check_table_size(table_size: object) -> int:
    if isinstance(table_size, bool) or not isinstance(table_size, int):
        raise InvalidTypeError(
            f"table_size must be a prime int, got {type(table_size).__name__}: {table_size!r}"
        )
    if table_size > Maglev.MAX_TABLE_SIZE:
        raise LimitExceededError(
            f"table_size must be at most Maglev.MAX_TABLE_SIZE ({Maglev.MAX_TABLE_SIZE:,}), "
            f"got {table_size:,}"
        )
    if not is_prime(table_size):
        raise InvalidArgumentError(f"table_size must be a prime (e.g. 65537), got {table_size}")
    return table_size


def populate(
    offsets: npt.NDArray[np.int64],
    skips: npt.NDArray[np.int64],
    relative_weights: npt.NDArray[np.float64],
    table_size: int,
) -> npt.NDArray[np.int32]:
    """Fill a Maglev table; entry ``e`` holds the turn index of the node that claimed it.

    Nodes take turns in index order (see the module docstring; ``relative_weights`` are
    ``w_i / w_max``, all 1.0 for the paper's unweighted procedure).

    Each turn depends on every turn before it, so the fill is a tight loop over Python ints
    and lists (measured faster than resolving rounds in numpy batches, whose per-call
    overhead dominates: 1,000 nodes into 65,537 entries take about 40 ms this way,
    against about 1 s for the numpy-batched variant).

    Runtime complexity: O(M log M) probes.

    >>> populate(np.array([0, 1]), np.array([1, 1]), np.ones(2), 5).tolist()
    [0, 1, 0, 1, 0]

    Args:
        offsets: per node, the first entry of its permutation (``0 <= offset < M``).
        skips: per node, the permutation's stride (``1 <= skip < M``).
        relative_weights: per node, weight divided by the largest weight, in ``(0, 1]``.
        table_size: ``M``, a prime larger than the number of nodes.

    Returns:
        An int32 array of length ``M``; every entry is a node index.
    """
    m = table_size
    n = len(offsets)
    if n == 0:
        return np.full(m, -1, dtype=np.int32)
    # Local bindings and an incremental position (c += skip, wrap by subtraction) keep the
    # inner probe loop to a handful of bytecodes: it runs about M * ln(M) times.
    entry = [-1] * m
    position = [int(x) for x in offsets.tolist()]
    skip = [int(x) for x in skips.tolist()]
    quota = [float(x) for x in relative_weights.tolist()]
    claimed = [0] * n
    weighted = any(q != 1.0 for q in quota)
    turns = range(n)
    filled = 0
    round_number = 0
    while True:
        round_number += 1
        for i in turns:
            if weighted:
                if not claimed[i] < round_number * quota[i]:
                    continue
                claimed[i] += 1
            c = position[i]
            step = skip[i]
            while entry[c] >= 0:
                c += step
                if c >= m:
                    c -= m
            entry[c] = i
            c += step
            position[i] = c - m if c >= m else c
            filled += 1
            if filled == m:
                return np.array(entry, dtype=np.int32)


def populate_reference(
    offsets: list[int], skips: list[int], relative_weights: list[float], table_size: int
) -> list[int]:
    """The population procedure transcribed literally (one turn at a time), for testing.

    Runtime complexity: O(M log M) Python-level probes.

    >>> populate_reference([0, 1], [1, 1], [1.0, 1.0], 5)
    [0, 1, 0, 1, 0]
    """
    m = table_size
    n = len(offsets)
    entry = [-1] * m
    if n == 0:
        return entry
    next_step = [0] * n
    claimed = [0] * n
    filled = 0
    round_number = 0
    while True:
        round_number += 1
        for i in range(n):
            if not claimed[i] < round_number * relative_weights[i]:
                continue
            c = (offsets[i] + next_step[i] * skips[i]) % m
            while entry[c] >= 0:
                next_step[i] += 1
                c = (offsets[i] + next_step[i] * skips[i]) % m
            entry[c] = i
            next_step[i] += 1
            claimed[i] += 1
            filled += 1
            if filled == m:
                return entry


class Maglev:
    """Maglev consistent hashing (Eisenbud et al. 2016): O(1) lookups in a prime-size table.

    Balance is excellent (each node owns ``M/N`` entries, give or take one, for equal
    weights) but a membership change moves somewhat more than the optimal share of keys;
    see the module docstring for the procedure and measured figures.

    Runtime complexity: lookups O(1) (one hash, one modulo, two reads); ``add``/``remove``
    rebuild the table in O(M log M).

    Memory: 4 bytes per table entry (an int32 owner code, shared between the scalar and
    the batch lookups), about 256 KiB at the default ``M = 65537``, plus O(N) for the
    node names, weights and name hashes. ``sys.getsizeof`` reports it all.

    >>> m = Maglev(["a", "b", "c"], table_size=13)
    >>> m.node_for("user:42") in m
    True
    >>> sum(m.ownership().values())
    1.0
    >>> m
    Maglev(['a', 'b', 'c'], table_size=13)

    Args:
        nodes_or_weights: node names, or a mapping of node name to positive weight.
        table_size: ``M``, a prime larger than the number of nodes. The paper recommends
            ``M > 100 * N`` for at most about 1% imbalance.
        hash: key hash family (``"xxh3"``, ``"md5"``) or a :class:`KeyHasher`; also used to
            hash node names.

    Raises:
        TypeError: a node name is not a str, a weight not a number, ``table_size`` not an int.
        LimitExceededError: ``table_size`` is above :attr:`MAX_TABLE_SIZE` (4,194,304).
        ValueError: ``table_size`` not prime, or not larger than the number of nodes; a
            weight not positive; a duplicate name (:class:`DuplicateNodeError`).
    """

    # Facts about the algorithm, read by the registry (consistent.ALGORITHMS), the
    # simulator, the benchmarks and the tests.
    algorithm: ClassVar[str] = "maglev"
    summary: ClassVar[str] = "Maglev lookup table"
    removes_any_node: ClassVar[bool] = True
    exact_ownership: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    stateful: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset({"table_size"})

    #: The largest table (``M``) a Maglev builds: 2**22 entries, 16 MB of table and a few
    #: seconds to fill; the paper's ``M > 100 N`` fits for up to about 40,000 nodes.
    MAX_TABLE_SIZE: ClassVar[int] = 1 << 22

    __slots__ = (
        "_code_table",
        "_codes_seq",
        "_hasher",
        "_lookup",
        "_name_array",
        "_node_hashes",
        "_nodes",
        "_size",
        "_size_u64",
        "_weights",
    )

    def __init__(
        self,
        nodes_or_weights: Iterable[str] | Mapping[str, float] = (),
        *,
        table_size: int = _DEFAULT_TABLE_SIZE,
        hash: str | KeyHasher | None = None,
    ) -> None:
        self._size = _check_table_size(table_size)
        self._size_u64 = np.uint64(self._size)
        self._hasher = get_hasher(hash)
        members = member_pairs(
            nodes_or_weights,
            "nodes_or_weights must be an iterable of names or a mapping of name to weight, "
            "got {kind} {value!r}",
            refuse=(str, bytes),
        )
        weights: dict[str, float] = {}
        for node, weight in members:  # checked in order, exactly as add() checks them
            name = check_name(node)
            if name in weights:
                raise DuplicateNodeError(f"node {name!r} is already a member")
            weights[name] = check_weight(name, weight)
        self._check_room(len(weights))
        self._weights = weights
        self._node_hashes = {name: self._hash_name(name) for name in weights}
        self._rebuild()

    # -- construction ------------------------------------------------------------------

    def _hash_name(self, name: str) -> tuple[int, int]:
        data = name.encode()
        return (
            self._hasher.hash_key(data + _OFFSET_SUFFIX),
            self._hasher.hash_key(data + _SKIP_SUFFIX),
        )

    def _check_room(self, count: int) -> None:
        if count >= self._size:
            raise InvalidArgumentError(
                f"table_size must be larger than the number of nodes, got table_size "
                f"{self._size} for {count} nodes"
            )

    def _rebuild(self) -> None:
        """Recompute the table from ``_weights`` and ``_node_hashes`` (all or nothing)."""
        nodes = tuple(self._weights)
        # One int32 table serves both paths: ``array`` indexing gives the scalar lookup a
        # plain Python int (no numpy scalar boxing), and numpy views the same memory.
        codes_seq = array("i", self._build_table(nodes).tobytes())
        names = name_array(nodes)
        # Commit only after everything that can fail has run.
        self._nodes = nodes
        self._codes_seq = codes_seq
        self._code_table: npt.NDArray[np.int32] = np.frombuffer(codes_seq, dtype=np.int32)
        self._name_array = names
        # Hot path: node_for unpacks everything it needs from one attribute.
        self._lookup = (self._hasher.hash_bytes, codes_seq, nodes, self._size)

    def _build_table(self, nodes: tuple[str, ...]) -> npt.NDArray[np.int32]:
        if not nodes:
            return np.empty(0, dtype=np.int32)
        m = self._size
        turn_order = sorted(nodes)
        hashes = [self._node_hashes[name] for name in turn_order]
        offsets = np.array([h1 % m for h1, _ in hashes], dtype=np.int64)
        skips = np.array([h2 % (m - 1) + 1 for _, h2 in hashes], dtype=np.int64)
        weights = np.array([self._weights[name] for name in turn_order], dtype=np.float64)
        relative = weights / weights.max()
        by_turn = populate(offsets, skips, relative, m)
        position = {name: i for i, name in enumerate(nodes)}
        code_of_turn = np.array([position[name] for name in turn_order], dtype=np.int32)
        table: npt.NDArray[np.int32] = code_of_turn[by_turn]
        return table

    # -- membership --------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member nodes in insertion order; :meth:`lookup_codes` indexes this tuple."""
        return self._nodes

    @property
    def table_size(self) -> int:
        """``M``, the number of table entries (a prime)."""
        return self._size

    @property
    def hasher(self) -> KeyHasher:
        """The key hasher (also used for node names)."""
        return self._hasher

    def weight(self, node: str) -> float:
        """The weight of ``node``.

        Runtime complexity: O(1).

        >>> Maglev({"a": 2}, table_size=7).weight("a")
        2.0

        Raises:
            UnknownNodeError: ``node`` is not a member.
        """
        return get_member(self._weights, node)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._weights

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node and repopulate the table.

        Runtime complexity: O(M log M).

        >>> m = Maglev(["a"], table_size=7)
        >>> m.add("b", weight=2)
        >>> m.nodes
        ('a', 'b')

        Args:
            node: the new node's name.
            weight: its positive weight; entries are shared in proportion to weight.

        Raises:
            TypeError: ``node`` is not a str or ``weight`` not a number.
            ValueError: ``weight`` is not positive, or the table would have no more entries
                than nodes.
            DuplicateNodeError: ``node`` is already a member.
        """
        check_name(node)
        checked = check_weight(node, weight)
        if node in self._weights:
            raise DuplicateNodeError(f"node {node!r} is already a member")
        self._check_room(len(self._weights) + 1)
        node_hash = self._hash_name(node)
        self._weights[node] = checked
        self._node_hashes[node] = node_hash
        try:
            self._rebuild()
        except BaseException:
            del self._weights[node]
            del self._node_hashes[node]
            raise

    def remove(self, node: str) -> None:
        """Remove a node and repopulate the table.

        Runtime complexity: O(M log M).

        >>> m = Maglev(["a", "b"], table_size=7)
        >>> m.remove("a")
        >>> set(m.lookup_many(range(10)))
        {'b'}

        Raises:
            UnknownNodeError: ``node`` is not a member.
        """
        if node not in self._weights:
            raise UnknownNodeError(f"node {node!r} is not a member")
        weights = self._weights
        node_hashes = self._node_hashes
        self._weights = {k: v for k, v in weights.items() if k != node}
        self._node_hashes = {k: v for k, v in node_hashes.items() if k != node}
        try:
            self._rebuild()
        except BaseException:
            self._weights = weights
            self._node_hashes = node_hashes
            raise

    def copy(self) -> Maglev:
        """An independent copy (the table is shared until either copy changes).

        Runtime complexity: O(N).
        """
        clone = copy_slots(self, Maglev)
        clone._weights = dict(self._weights)
        clone._node_hashes = dict(self._node_hashes)
        return clone

    # -- lookups -----------------------------------------------------------------------

    def _empty(self) -> EmptyRingError:
        return EmptyRingError("Maglev has no nodes; add one before looking keys up")

    def node_for(self, key: Key) -> str:
        """The home node of ``key``: ``table[hash(key) mod M]``.

        Runtime complexity: O(1).

        >>> Maglev(["a"], table_size=7).node_for("k")
        'a'

        Raises:
            EmptyRingError: there are no nodes.
            TypeError, ValueError: ``key`` is not a valid key (see :mod:`consistent`).
        """
        hash_bytes, codes, nodes, size = self._lookup
        if not nodes:
            raise self._empty()
        # KeyHasher.hash_key inlined (str keys skip a call): this is the whole lookup.
        try:
            data = key.encode() if type(key) is str else _key_to_bytes(key)
        except UnicodeEncodeError:
            raise unencodable_key(key) from None  # type: ignore[arg-type]
        return nodes[codes[hash_bytes(data) % size]]

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """``n`` distinct nodes for ``key``: owners of the table entries from the key's onwards.

        The preference list walks the table from ``hash(key) mod M`` onwards (wrapping) and
        keeps each node the first time it appears, so the home comes first and the rest is a
        pseudo-random, key-dependent order. (Maglev does not define fail-over order; this
        one costs nothing to maintain. Every node owns at least one entry, so the walk ends
        within one pass of the table.)

        Runtime complexity: O(n log n) expected table reads for equal weights.

        >>> m = Maglev(["a", "b", "c"], table_size=13)
        >>> sorted(m.nodes_for("k", 3))
        ['a', 'b', 'c']
        >>> m.nodes_for("k", 1) == [m.node_for("k")]
        True

        Raises:
            EmptyRingError: there are no nodes.
            ValueError: ``n`` is not between 1 and the number of nodes.
        """
        _, codes, nodes, m = self._lookup
        if not nodes:
            raise self._empty()
        check_count(n, len(nodes))
        chosen: dict[str, None] = {}
        position = self._hasher.hash_key(key) % m
        while len(chosen) < n:
            chosen.setdefault(nodes[codes[position]])
            position += 1
            if position == m:
                position = 0
        return list(chosen)

    def _entries(self, keys: Keys) -> npt.NDArray[np.uint64]:
        if not self._nodes:
            raise self._empty()
        hashes = self._hasher.hash_keys(keys)
        entries: npt.NDArray[np.uint64] = hashes % self._size_u64
        return entries

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: a numpy object array of node names aligned with ``keys``.

        Runtime complexity: O(len(keys)), fully vectorised for integer arrays.

        >>> Maglev(["a"], table_size=7).lookup_many(["x", b"y", 3]).tolist()
        ['a', 'a', 'a']

        Raises:
            EmptyRingError: there are no nodes.
        """
        homes: npt.NDArray[np.object_] = self._name_array[self._code_table[self._entries(keys)]]
        return homes

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as int32 indices into :attr:`nodes`.

        Runtime complexity: O(len(keys)), fully vectorised for integer arrays.

        >>> m = Maglev(["a", "b"], table_size=7)
        >>> [m.nodes[c] for c in m.lookup_codes([1, 2])] == m.lookup_many([1, 2]).tolist()
        True

        Raises:
            EmptyRingError: there are no nodes.
        """
        codes: npt.NDArray[np.int32] = self._code_table[self._entries(keys)]
        return codes

    def ownership(self) -> dict[str, float]:
        """Each node's exact share of the key space: its share of table entries.

        Runtime complexity: O(M).

        >>> Maglev({"a": 1, "b": 3}, table_size=101).ownership()
        {'a': 0.25742574257425743, 'b': 0.7425742574257426}
        """
        counts = np.bincount(self._code_table, minlength=len(self._nodes))
        return {
            name: float(count) / self._size
            for name, count in zip(self._nodes, counts.tolist(), strict=True)
        }

    def entry_counts(self) -> dict[str, int]:
        """How many table entries each node owns.

        Runtime complexity: O(M).

        >>> Maglev(["a", "b"], table_size=7).entry_counts()
        {'a': 4, 'b': 3}
        """
        counts = np.bincount(self._code_table, minlength=len(self._nodes))
        return dict(zip(self._nodes, counts.tolist(), strict=True))

    # -- introspection -----------------------------------------------------------------

    def __getstate__(self) -> dict[str, object]:
        # ``_code_table`` views ``_codes_seq``'s memory: pickle the array once, view it again.
        return {slot: getattr(self, slot) for slot in self.__slots__ if slot != "_code_table"}

    def __setstate__(self, state: dict[str, object]) -> None:
        for slot, value in state.items():
            object.__setattr__(self, slot, value)
        self._code_table = np.frombuffer(self._codes_seq, dtype=np.int32)

    def __sizeof__(self) -> int:
        """Bytes held: the table (4 per entry), the name array, weights and name hashes."""
        table = self._codes_seq.itemsize * len(self._codes_seq)
        books = sum(
            sys.getsizeof(x)
            for x in (self._name_array, self._weights, self._node_hashes, self._nodes)
        )
        hashes = sum(
            sys.getsizeof(pair) + sys.getsizeof(pair[0]) + sys.getsizeof(pair[1])
            for pair in self._node_hashes.values()
        )
        return object.__sizeof__(self) + table + books + hashes + sys.getsizeof(self._lookup)

    def __repr__(self) -> str:
        if all(w == 1.0 for w in self._weights.values()):
            members = repr(list(self._nodes))
        else:
            members = repr({k: _plain(v) for k, v in self._weights.items()})
        hash_part = "" if self._hasher == get_hasher(None) else f", hash={self._hasher!r}"
        return f"Maglev({members}, table_size={self._size}{hash_part})"

    def _check(self) -> None:
        """Verify the structure's invariants; raises ``AssertionError`` on a violation.

        Runtime complexity: O(M + N).
        """
        n = len(self._nodes)
        assert tuple(self._weights) == self._nodes
        assert set(self._node_hashes) == set(self._weights)
        assert len(set(self._nodes)) == n
        assert all(isinstance(name, str) for name in self._nodes)
        assert all(math.isfinite(w) and w > 0 for w in self._weights.values())
        assert is_prime(self._size) and n < self._size
        assert self._name_array.shape == (n,)
        assert self._name_array.tolist() == list(self._nodes)
        assert self._lookup == (self._hasher.hash_bytes, self._codes_seq, self._nodes, self._size)
        assert self._code_table.dtype == np.int32
        assert self._code_table.tolist() == self._codes_seq.tolist()
        if n == 0:
            assert self._code_table.size == 0
            return
        # the same memory, not a copy
        assert np.shares_memory(self._code_table, np.frombuffer(self._codes_seq, np.int32))
        assert self._code_table.shape == (self._size,)
        assert int(self._code_table.min()) >= 0 and int(self._code_table.max()) < n
        counts = np.bincount(self._code_table, minlength=n)
        # Everyone takes a turn in round 1 and M > N: no node is left without an entry.
        assert int(counts.min()) >= 1
        if all(w == 1.0 for w in self._weights.values()):
            # Equal turns: every node claims floor(M/N) or ceil(M/N) entries.
            assert int(counts.max()) - int(counts.min()) <= 1


def _plain(weight: float) -> float | int:
    return int(weight) if weight.is_integer() else weight
