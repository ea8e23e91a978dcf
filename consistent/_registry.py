"""The registry of placement algorithms: short name -> class, built from the classes' own facts.

Every placement class states what kind of algorithm it is in class attributes (the facts
live on the thing they describe), and :data:`ALGORITHMS` maps each class's short name to
the class. The simulator (``placement.algorithm = "ring"``), the benchmarks and the tests
all read this one registry, so they cannot disagree about an algorithm.

=====================  =================================================================
fact (``ClassVar``)    meaning
=====================  =================================================================
``algorithm``          short registry name (``"ring"``, ``"jump"``, ...); unique
``summary``            one line saying what the algorithm is
``removes_any_node``   ``remove`` takes any member (``False``: only the last one added,
                       as jump hash)
``exact_ownership``    ``ownership()`` is computed from the structure (ring arcs, table
                       entries, closed forms over the points); ``False``: it is the expected
                       share over the hash function (``1/n`` or ``w_i / sum(w)``)
``weighted``           ``add(node, weight)`` takes weights other than 1
``stateful``           homes depend on load (``assign``/``release``), not on membership only
``options``            constructor keywords a configuration may set (e.g. ``{"vnodes"}``)
=====================  =================================================================

How to add an algorithm
-----------------------
1. Implement :class:`~consistent.Placement` in its own module ``consistent/_name.py``,
   with ``copy()``, ``_check()`` (its O(n) invariants) and a ``repr`` that rebuilds it.
2. Declare the seven facts above on the class as ``ClassVar`` s.
3. Import the class here and append it to ``_CLASSES``; export it from
   ``consistent/__init__.py`` (and regenerate ``docs/api.md``).

Nothing else: the protocol suite (``tests/test_protocol.py``), the stateful model test
(``tests/test_placement_stateful.py``), ``consistent-sim list`` and the benchmarks pick it
up from :data:`ALGORITHMS`. ``tests/test_registry.py`` checks the facts are declared and
true, and that the facts table of ``docs/algorithms.md`` lists the class (a failing run
prints the rows it expects).

>>> ALGORITHMS["ring"].__name__, ALGORITHMS["jump"].removes_any_node
('HashRing', False)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from consistent._anchor import AnchorHash
from consistent._binomial import BinomialHash
from consistent._bounded import BoundedLoadRing
from consistent._dxhash import DxHash
from consistent._fliphash import FlipHash
from consistent._jump import JumpHash
from consistent._jumpback import JumpBackHash
from consistent._jumpbackanchor import JumpBackAnchor
from consistent._maglev import Maglev
from consistent._memento import MementoHash
from consistent._multiprobe import MultiProbe
from consistent._powerch import PowerCH
from consistent._rendezvous import Rendezvous
from consistent._ring import HashRing

__all__ = ["ALGORITHMS", "FACTS"]

FACTS: Final = (
    "algorithm",
    "summary",
    "removes_any_node",
    "exact_ownership",
    "weighted",
    "stateful",
    "options",
)
"""The class attributes every registered placement class declares."""

_CLASSES: Final[tuple[type[Any], ...]] = (
    HashRing,
    JumpHash,
    MementoHash,
    Rendezvous,
    Maglev,
    MultiProbe,
    BoundedLoadRing,
    FlipHash,
    JumpBackHash,
    JumpBackAnchor,
    AnchorHash,
    DxHash,
    PowerCH,
    BinomialHash,
)


def _registry(classes: tuple[type[Any], ...]) -> Mapping[str, type[Any]]:
    """``{cls.algorithm: cls}`` in the order given; refuses a missing fact or a repeated name."""
    table: dict[str, type[Any]] = {}
    for cls in classes:
        missing = [fact for fact in FACTS if not hasattr(cls, fact)]
        if missing:  # pragma: no cover - a programming error caught at import
            raise TypeError(f"{cls.__name__} does not declare {', '.join(missing)}")
        name = cls.algorithm
        if name in table:  # pragma: no cover - a programming error caught at import
            raise ValueError(f"{cls.__name__} and {table[name].__name__} are both {name!r}")
        table[name] = cls
    return MappingProxyType(table)


ALGORITHMS: Final[Mapping[str, type[Any]]] = _registry(_CLASSES)
"""Every placement algorithm of :mod:`consistent` by short name, e.g. ``ALGORITHMS["ring"]``.

Read-only. Each class carries its facts (``removes_any_node``, ``exact_ownership``,
``weighted``, ``stateful``, ``options``, ``summary``); see :mod:`consistent._registry`.
"""
