"""The registry of placement algorithms a scenario can name, resolved from ``consistent``.

Most algorithms are *stateless*: a key's home depends on the membership only, so each view
precomputes every key's home. Bounded-load hashing (``bounded``, ``consistent.BoundedLoadRing``)
is *stateful*: a request's home depends on the load at the moment it is placed. Each entry
server keeps its own ``BoundedLoadRing`` over its view's members, as a load balancer in front
of the cluster would: it ``assign``-s every request it receives (capacity
``ceil((1 + eps) * m / n)`` over the ``m`` requests *it* has in flight) and ``release``-s it
when the home completes it, or when the attempt times out or is rejected. Key-space figures
(ownership, movement, availability) use the underlying ring, where keys go while no node is
full.

Algorithms are looked up in :mod:`consistent` by class name when a run starts, so an
algorithm that lands in the library later plugs in without touching the simulator; one that
is not there yet is a scenario error naming what is available.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

import consistent
from consistent import Placement
from sim._config import PlacementConfig

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "build_placement",
    "derive_placement",
    "home_codes",
    "key_movement",
]


@dataclass(frozen=True)
class Algorithm:
    """One placement algorithm as the simulator knows it."""

    name: str
    class_names: tuple[str, ...]
    description: str
    removes: bool
    options: frozenset[str] = frozenset()
    #: Homes depend on load at placement time (``assign``/``release``), not on membership only.
    stateful: bool = False
    #: What ``ownership()`` reports: "exact" shares computed from the structure (ring arcs,
    #: table entries) or "expected" shares over the hash (ideal, so key-space skew is 1 / 0).
    ownership: str = "exact"

    def resolve(self) -> type[Any] | None:
        """The class in :mod:`consistent`, or ``None`` if this version does not have it."""
        for class_name in self.class_names:
            cls = getattr(consistent, class_name, None)
            if cls is not None:
                return cls  # type: ignore[no-any-return]
        return None

    @property
    def available(self) -> bool:
        """Whether the installed :mod:`consistent` provides this algorithm."""
        return self.resolve() is not None


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("ring", ("HashRing",), "hash ring with virtual nodes", True, frozenset()),
        Algorithm("jump", ("JumpHash",), "jump consistent hash (append/pop only)", False,
                  ownership="expected"),
        Algorithm("memento", ("MementoHash", "AnchorHash"), "jump with arbitrary removals", True,
                  ownership="expected"),
        Algorithm(
            "rendezvous", ("Rendezvous", "RendezvousHash"), "weighted rendezvous (HRW)", True,
            ownership="expected",
        ),
        Algorithm("maglev", ("Maglev", "MaglevHash"), "Maglev lookup table", True,
                  frozenset({"table_size"})),
        Algorithm("multiprobe", ("MultiProbe", "MultiProbeHash"), "multi-probe hashing", True,
                  frozenset({"probes"}), ownership="expected"),
        Algorithm("bounded", ("BoundedLoadRing",),
                  "hash ring with bounded loads (each entry assigns/releases requests)", True,
                  frozenset({"eps"}), stateful=True),
    )
}


def build_placement(config: PlacementConfig, nodes: Sequence[str]) -> Placement:
    """A new placement of ``config``'s algorithm over ``nodes``.

    Raises:
        ValueError: the algorithm is unknown or not provided by the installed ``consistent``.
    """
    algorithm = ALGORITHMS.get(config.algorithm)
    if algorithm is None:
        raise ValueError(
            f"placement.algorithm must be one of {sorted(ALGORITHMS)}, got {config.algorithm!r}"
        )
    cls = algorithm.resolve()
    if cls is None:
        have = sorted(name for name, a in ALGORITHMS.items() if a.available)
        raise ValueError(
            f"placement.algorithm {config.algorithm!r} is not provided by this version of "
            f"consistent (available: {', '.join(have)})"
        )
    kwargs: dict[str, Any] = dict(config.options)
    if config.hash != "xxh3":
        kwargs["hash"] = consistent.get_hasher(config.hash)
    if config.algorithm in ("ring", "bounded"):
        kwargs.setdefault("vnodes", config.vnodes)
    placement: Placement = cls(list(nodes), **kwargs)
    return placement


def derive_placement(
    base: Placement, remove: Sequence[str], add: Sequence[str]
) -> Placement | None:
    """A copy of ``base`` with ``remove`` removed then ``add`` added, or None without ``copy``.

    Deriving (rather than building afresh from the member set) keeps the history that
    algorithms such as MementoHash depend on, so a removal moves only the removed node's keys.
    """
    copy = getattr(base, "copy", None)
    if copy is None:
        return None
    placement: Placement = copy()
    for name in remove:
        placement.remove(name)
    for name in add:
        placement.add(name)
    return placement


def home_codes(placement: Placement, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
    """Each key's home as an index into ``placement.nodes`` (batch, vectorised)."""
    lookup = getattr(placement, "lookup_codes", None)
    if lookup is not None:
        return np.asarray(lookup(keys), dtype=np.int32)
    names = placement.lookup_many(keys)
    index = {name: i for i, name in enumerate(placement.nodes)}
    return np.fromiter((index[n] for n in names), dtype=np.int32, count=len(names))


def key_movement(before: Placement, after: Placement) -> tuple[float, bool]:
    """Fraction of the key space whose home differs, and whether the figure is exact.

    Exact (arc lengths) when the placement offers ``movement_to``; sampled otherwise.
    """
    exact = getattr(before, "movement_to", None)
    if exact is not None and type(before) is type(after):
        return float(exact(after)), True
    return float(consistent.movement(before, after)), False
