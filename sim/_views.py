"""Ring views: one membership set, its placement, and every key's home by that placement.

Every server routes by its own *view*: the set of servers it believes are members, and the
placement built over that set. Views change one server at a time (:mod:`sim._membership`
decides when), so during a change views disagree, as they do in real clusters.

Most of the time most servers hold the same set, so views are *interned*: one
:class:`View` per distinct member set, shared by every server holding it. A view computes
the home of every key id once (a vectorised batch lookup) and the request path indexes that
list; nothing is looked up per request. A view nobody holds any more is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from consistent import Placement
from sim._config import PlacementConfig
from sim._placement import build_placement, derive_placement, home_codes

__all__ = ["View", "ViewCache"]


class View:
    """One membership set, its placement and (lazily) every key id's home server index."""

    __slots__ = ("_cache", "_homes", "_preferences", "holders", "members", "placement")

    def __init__(self, members: frozenset[int], placement: Placement, cache: ViewCache) -> None:
        self.members = members
        self.placement = placement
        self._cache = cache
        self._homes: list[int] | None = None
        self._preferences: dict[int, tuple[int, ...]] = {}
        #: How many servers hold this view now.
        self.holders = 0

    @property
    def homes(self) -> list[int]:
        """Home server index of every key id, by this view."""
        homes = self._homes
        if homes is None:
            homes = self._homes = self._cache.compute_homes(self.placement)
        return homes

    def preference(self, key: int) -> tuple[int, ...]:
        """The key's replicas by this view: its first ``r`` distinct nodes, home first.

        Computed on first use per key (only failed forwards ask), as server indices.
        """
        found = self._preferences.get(key)
        if found is None:
            found = self._preferences[key] = self._cache.compute_preference(self.placement, key)
        return found

    def __repr__(self) -> str:
        return f"<View of {len(self.members)} servers>"


class ViewCache:
    """Interns views by member set and derives new placements from existing ones.

    Args:
        config: the placement algorithm and its parameters.
        names: every server's name, by server index.
        keys: the key ids the workload draws, as uint64.
        replication: replicas per key (the length of a view's preference lists).
    """

    def __init__(
        self, config: PlacementConfig, names: Sequence[str], keys: npt.NDArray[np.uint64],
        replication: int = 1,
    ) -> None:
        self.config = config
        self.replication = replication
        self.names = list(names)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._keys = keys
        self._views: dict[frozenset[int], View] = {}
        #: Placements built and key-space lookups run (for profiling).
        self.built = 0
        self.lookups = 0

    def compute_homes(self, placement: Placement) -> list[int]:
        """Every key id's home, as server indices (one batch lookup); -1 means "itself"."""
        self.lookups += 1
        if len(placement) == 0:
            # A server that knows no member (the last one leaving) serves everything itself.
            return [-1] * len(self._keys)
        codes = home_codes(placement, self._keys)
        to_server = np.array([self._index[n] for n in placement.nodes], dtype=np.int32)
        result: list[int] = to_server[codes].tolist()
        return result

    def compute_preference(self, placement: Placement, key: int) -> tuple[int, ...]:
        """The first ``min(replication, len(placement))`` nodes of ``key``'s preference list."""
        count = min(self.replication, len(placement))
        if count == 0:
            return ()
        index = self._index
        return tuple(index[name] for name in placement.nodes_for(key, count))

    def view(self, members: frozenset[int], near: View | None = None) -> View:
        """The view of ``members``, derived from ``near`` (one add/remove away) if new."""
        found = self._views.get(members)
        if found is not None:
            return found
        placement = self._derive(members, near)
        view = self._views[members] = View(members, placement, self)
        return view

    def _derive(self, members: frozenset[int], near: View | None) -> Placement:
        self.built += 1
        # Start from the known view closest to the new set (``near`` wins ties), so
        # history-dependent algorithms see a short, plausible sequence of changes.
        candidates = [near] if near is not None else []
        candidates.extend(self._views.values())
        if candidates:
            base = min(candidates, key=lambda v: len(v.members ^ members))
            names = self.names
            derived = derive_placement(
                base.placement,
                [names[i] for i in sorted(base.members - members)],
                [names[i] for i in sorted(members - base.members)],
            )
            if derived is not None:
                return derived
        return build_placement(self.config, [self.names[i] for i in sorted(members)])

    def hold(self, old: View | None, new: View) -> None:
        """A server switches from ``old`` to ``new``; drop ``old`` if nobody holds it."""
        new.holders += 1
        if old is not None:
            old.holders -= 1
            if old.holders == 0 and old is not new:
                self._views.pop(old.members, None)

    def __len__(self) -> int:
        return len(self._views)

