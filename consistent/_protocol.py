"""The protocol every placement algorithm implements, and measurements defined on it.

A *placement* maps keys to named nodes. Whatever the algorithm (hash ring, jump, rendezvous,
Maglev, ...), it answers the same questions through the same members, so the simulator,
the benchmarks and users can swap one for another:

=====================  ==========================================================
member                 meaning
=====================  ==========================================================
``node_for(key)``      the home node of a key
``nodes_for(key, n)``  preference list: ``n`` distinct nodes, home first
``lookup_many(keys)``  batch ``node_for``: numpy object array of node names
``lookup_codes(keys)`` batch ``node_for`` as int32 indices into ``nodes``
``add(node, weight)``  join; a failed call leaves the structure unchanged
``remove(node)``       leave; a failed call leaves the structure unchanged
``nodes``              members, a tuple in insertion order
``len()``, ``in``      membership
``ownership()``        each node's exact share of the key space
=====================  ==========================================================

Algorithms that cannot do one of these (jump hash cannot remove a middle bucket) raise
:class:`~consistent.UnsupportedOperationError` saying what to use instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from consistent._errors import InvalidArgumentError
from consistent._hashing import Key, KeyHasher, Keys

__all__ = [
    "BLOCK",
    "Placement",
    "codes_by_block",
    "copy_slots",
    "movement",
    "name_array",
    "sample_keys",
    "with_room",
]

_T = TypeVar("_T")
_Item = TypeVar("_Item", bound=np.generic)

BLOCK: Final = 1 << 15
"""Keys per block of a batch lookup: small enough that a block's working arrays stay in the
CPU cache across a placement's passes, large enough to amortise numpy's per-call cost."""


@runtime_checkable
class Placement(Protocol):
    """What every placement algorithm provides (see the module docstring)."""

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member nodes, in insertion order; ``lookup_codes`` indexes this tuple."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, node: object) -> bool: ...

    def node_for(self, key: Key) -> str:
        """The home node of ``key``."""
        ...

    def nodes_for(self, key: Key, n: int) -> list[str]:
        """The first ``n`` distinct nodes of ``key``'s preference list, home first."""
        ...

    def lookup_many(self, keys: Keys) -> npt.NDArray[np.object_]:
        """Batch :meth:`node_for`: node names aligned with ``keys``."""
        ...

    def lookup_codes(self, keys: Keys) -> npt.NDArray[np.int32]:
        """Batch :meth:`node_for` as indices into :attr:`nodes`."""
        ...

    def add(self, node: str, weight: float = 1) -> None:
        """Add a node; raises and changes nothing if it cannot."""
        ...

    def remove(self, node: str) -> None:
        """Remove a node; raises and changes nothing if it cannot."""
        ...

    def ownership(self) -> dict[str, float]:
        """Each node's share of the key space (shares sum to 1)."""
        ...


# -- shared by the implementations (not public) -----------------------------------------


def name_array(nodes: Sequence[str]) -> npt.NDArray[np.object_]:
    """Node names as a numpy object array: ``name_array(nodes)[codes]`` is ``lookup_many``.

    >>> name_array(["a", "bb"])[np.array([1, 0, 1])].tolist()
    ['bb', 'a', 'bb']
    """
    names = np.empty(len(nodes), dtype=object)
    names[:] = nodes  # filled in place: np.array() would split equal-length strs
    return names


def copy_slots(source: object, cls: type[_T]) -> _T:
    """A new ``cls`` sharing every slot value of ``source`` (``cls.__slots__``).

    The caller then replaces the containers it mutates in place with copies; what is only
    ever replaced (numpy caches, tuples, numbers) stays shared.
    """
    clone: _T = object.__new__(cls)
    for slot in cls.__slots__:  # type: ignore[attr-defined]
        object.__setattr__(clone, slot, getattr(source, slot))
    return clone


def with_room(array: npt.NDArray[_Item], needed: int, fill: object) -> npt.NDArray[_Item]:
    """``array`` itself if it holds ``needed`` items, else a copy with room to spare.

    The copy's capacity at least doubles (spare items set to ``fill``), so filling a
    growing array one item at a time costs O(1) amortised per item.

    >>> with_room(np.zeros(2, dtype=np.int32), 3, -1).tolist()
    [0, 0, -1, -1, -1, -1, -1, -1]
    """
    if needed <= array.size:
        return array
    grown = np.full(max(needed, 2 * array.size, 8), fill, dtype=array.dtype)
    grown[: array.size] = array
    return grown


def codes_by_block(
    keys: Keys,
    hasher: KeyHasher,
    place: Callable[[npt.NDArray[np.uint64]], npt.NDArray[np.int32]],
) -> npt.NDArray[np.int32]:
    """Hash keys and place their hashes (``place``: hashes -> codes), block by block.

    Large integer arrays are hashed and placed one :data:`BLOCK` at a time, which keeps
    the intermediate hashes in the CPU cache and roughly doubles the throughput on
    millions of keys; other batches are hashed at once.

    Runtime complexity: O(k) hashing plus ``place``'s cost, for k keys.
    """
    if isinstance(keys, np.ndarray) and keys.ndim == 1 and keys.dtype.kind in "iu":
        if keys.size <= BLOCK:
            return place(hasher.hash_keys(keys))
        codes = np.empty(keys.size, dtype=np.int32)
        for start in range(0, keys.size, BLOCK):
            codes[start : start + BLOCK] = place(hasher.hash_keys(keys[start : start + BLOCK]))
        return codes
    return place(hasher.hash_keys(keys))


def sample_keys(n: int, seed: int = 0) -> npt.NDArray[np.uint64]:
    """``n`` distinct-ish uint64 integer keys from a seeded generator, for sampled measurements.

    >>> sample_keys(3, seed=1).dtype
    dtype('uint64')
    """
    if n < 1:
        raise InvalidArgumentError(f"n must be a positive number of keys, got {n}")
    return np.random.default_rng(seed).integers(0, 2**64, size=n, dtype=np.uint64)


def movement(before: Placement, after: Placement, keys: Keys | None = None) -> float:
    """Fraction of ``keys`` whose home differs between two placements (sampled movement).

    With ``keys=None`` a fixed sample of 200,000 integer keys is used, so two calls
    compare like with like. For hash rings the exact, arc-based figure is
    :meth:`consistent.HashRing.movement_to`.

    Runtime complexity: O(k) lookups for k keys.

    Raises:
        ValueError: ``keys`` is empty.
    """
    if keys is None:
        keys = sample_keys(200_000)
    homes_before = before.lookup_many(keys)
    if len(homes_before) == 0:
        raise InvalidArgumentError("movement needs at least one key, got an empty batch")
    homes_after = after.lookup_many(keys)
    return float(np.count_nonzero(homes_before != homes_after)) / len(homes_before)
