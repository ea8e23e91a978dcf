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

Facts about each algorithm (whether it removes any node, whether ``ownership()`` is exact,
whether it is stateful, which ``placement.options`` it takes) are the classes' own, read from
:data:`consistent.ALGORITHMS`; an algorithm registered there is available here too.
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
    "removal_capable",
]


@dataclass(frozen=True)
class Algorithm:
    """One placement algorithm as the simulator sees it: a view of its class's facts."""

    name: str
    cls: type[Any]

    @property
    def description(self) -> str:
        """One line saying what the algorithm is (the class's ``summary``)."""
        return str(self.cls.summary)

    @property
    def removes(self) -> bool:
        """Whether any node can leave (``False``: only the last one added, as jump hash)."""
        return bool(self.cls.removes_any_node)

    @property
    def options(self) -> frozenset[str]:
        """The ``placement.options`` keys a scenario may set (constructor keywords)."""
        return frozenset(self.cls.options)

    @property
    def stateful(self) -> bool:
        """Homes depend on load at placement time (``assign``/``release``), not membership."""
        return bool(self.cls.stateful)

    @property
    def ownership(self) -> str:
        """What ``ownership()`` reports: "exact" shares computed from the structure (ring
        arcs, table entries, multi-probe's closed form over the points) or "expected" shares
        over the hash (1/n or w/sum(w), so key-space skew is ideal: 1 / 0)."""
        return "exact" if self.cls.exact_ownership else "expected"


ALGORITHMS: dict[str, Algorithm] = {
    name: Algorithm(name, cls) for name, cls in consistent.ALGORITHMS.items()
}


def removal_capable() -> list[str]:
    """The names of the algorithms that can remove any node, in registry order."""
    return [name for name, algorithm in ALGORITHMS.items() if algorithm.removes]


def build_placement(config: PlacementConfig, nodes: Sequence[str]) -> Placement:
    """A new placement of ``config``'s algorithm over ``nodes``.

    ``placement.vnodes`` is passed to algorithms whose options include ``vnodes`` (unless
    ``placement.options`` sets it).

    Raises:
        ValueError: the algorithm is unknown.
    """
    algorithm = ALGORITHMS.get(config.algorithm)
    if algorithm is None:
        raise ValueError(
            f"placement.algorithm must be one of {sorted(ALGORITHMS)}, got {config.algorithm!r}"
        )
    kwargs: dict[str, Any] = dict(config.options)
    if config.hash != "xxh3":
        kwargs["hash"] = consistent.get_hasher(config.hash)
    if "vnodes" in algorithm.options:
        kwargs.setdefault("vnodes", config.vnodes)
    placement: Placement = algorithm.cls(list(nodes), **kwargs)
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
