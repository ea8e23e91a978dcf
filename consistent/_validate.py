"""Argument checks shared by the placement algorithms.

Every algorithm takes node names, weights, member lists and preference-list lengths from
its callers, and refuses bad ones with a :class:`TypeError` or :class:`ValueError` naming
the value. The checks live here, once; the wording of each message is the calling
module's (passed in), because callers and tests match on it and the algorithms grew two
house styles:

* :class:`~consistent.HashRing`, :class:`~consistent.Maglev` and
  :class:`~consistent.MultiProbe` take Python ``int``/``float`` weights and counts only,
  and a weight's type error reads ``got str '2'``;
* :class:`~consistent.JumpHash`, :class:`~consistent.MementoHash` and
  :class:`~consistent.Rendezvous` also take numpy scalars, and read ``got str: '2'``.

``numpy_scalars`` selects the family. Nothing here is on a lookup path: ``node_for`` and
the batch lookups never validate beyond hashing the key.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Final, TypeVar

import numpy as np

from consistent._errors import (
    InvalidArgumentError,
    InvalidTypeError,
    UnknownNodeError,
    UnsupportedOperationError,
)

__all__ = [
    "COUNT_OUT_OF_RANGE",
    "NODES_REFUSAL",
    "check_count",
    "check_equal_share_weight",
    "check_name",
    "check_node_name",
    "check_preference_count",
    "check_unit_weight",
    "check_weight",
    "get_member",
    "member_pairs",
]

_V = TypeVar("_V")

_NUMBERS: Final = (int, float)
_NUMBERS_OR_NUMPY: Final = (int, float, np.integer, np.floating)
_INTS_OR_NUMPY: Final = (int, np.integer)


def check_name(node: object, subject: str = "node name") -> str:
    """Check a node name is a str with a UTF-8 encoding; ``subject`` starts the type error.

    Node names are hashed as UTF-8 (ring points, seeds), so a str holding a lone surrogate
    such as ``"\\ud800"`` cannot be a node: every algorithm refuses it here, with the same
    message, before anything changes.

    >>> check_name(3)
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidTypeError: node name must be a str, got int: 3
    >>> check_name("a\\ud800")
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidArgumentError: node name 'a\\ud800' cannot be used: node names \
are hashed as UTF-8 and this one has none (surrogates not allowed at index 1)
    """
    if not isinstance(node, str):
        raise InvalidTypeError(f"{subject} must be a str, got {type(node).__name__}: {node!r}")
    try:
        node.encode()
    except UnicodeEncodeError as error:
        raise InvalidArgumentError(
            f"node name {node!r} cannot be used: node names are hashed as UTF-8 and this one "
            f"has none ({error.reason} at index {error.start})"
        ) from None
    return node


def _check_number(node: str, weight: object, expected: str, numpy_scalars: bool) -> None:
    """Refuse a weight that is not a number (``bool`` is refused although it is an int)."""
    kinds = _NUMBERS_OR_NUMPY if numpy_scalars else _NUMBERS
    if isinstance(weight, bool) or not isinstance(weight, kinds):
        colon = ":" if numpy_scalars else ""
        raise InvalidTypeError(
            f"weight must be {expected}, got {type(weight).__name__}{colon} {weight!r} "
            f"for node {node!r}"
        )


def check_weight(
    node: str,
    weight: object,
    *,
    numpy_scalars: bool = False,
    expected: str = "a positive number",
) -> float:
    """Check a weight is a positive finite number and return it as a float.

    ``expected`` names what a positive weight must be in the :class:`ValueError`.

    >>> check_weight("b", -1)
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidArgumentError: weight must be a positive number, got -1 for node 'b'
    """
    _check_number(node, weight, "a positive number", numpy_scalars)
    value = float(weight)  # type: ignore[arg-type]
    if not (value > 0 and math.isfinite(value)):
        raise InvalidArgumentError(f"weight must be {expected}, got {weight!r} for node {node!r}")
    return value


def check_unit_weight(node: str, weight: object, refusal: str, *, numpy_scalars: bool) -> None:
    """Refuse weights other than 1, for algorithms whose nodes all carry the same share.

    ``refusal`` is the :class:`~consistent.UnsupportedOperationError` message, a template
    with ``{weight!r}`` and ``{node!r}`` fields that says what to use instead.
    """
    _check_number(node, weight, "a number", numpy_scalars)
    if weight != 1:
        raise UnsupportedOperationError(refusal.format(weight=weight, node=node))


def check_count(
    n: object,
    size: int,
    *,
    numpy_scalars: bool = False,
    out_of_range: str = "n must be an int between 1 and {size} (the number of nodes), got {n}",
) -> int:
    """Check a preference-list length: an int in ``[1, size]``; returns it as an int.

    ``out_of_range`` is the :class:`ValueError` message, a template with ``{size}`` and
    ``{n}`` fields.

    >>> check_count(4, 3)
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidArgumentError: n must be an int between 1 and 3 (the number \
of nodes), got 4
    """
    kinds = _INTS_OR_NUMPY if numpy_scalars else int
    if isinstance(n, bool) or not isinstance(n, kinds):
        raise InvalidTypeError(f"n must be an int, got {type(n).__name__}: {n!r}")
    if not 1 <= n <= size:
        raise InvalidArgumentError(out_of_range.format(size=size, n=n))
    return int(n)


def member_pairs(
    nodes: Iterable[str] | Mapping[str, float],
    refusal: str,
    *,
    refuse: tuple[type, ...] = (str,),
    weights: bool = True,
) -> list[tuple[str, float]]:
    """A constructor's members as ``(name, weight)`` pairs, in the order given.

    A mapping gives its items (when the algorithm takes ``weights``; otherwise, like any
    iterable, its keys); an iterable of names gives each with weight 1. Neither names nor
    weights are checked here: each algorithm checks them in its own order.

    A lone ``str`` (or another ``refuse`` type) is an iterable of one-letter names, almost
    always a mistake, so it raises :class:`TypeError` with ``refusal``, a template with
    ``{kind}`` (the type's name) and ``{value!r}`` fields.

    >>> member_pairs({"a": 2}, "")
    [('a', 2)]
    >>> member_pairs("ab", "nodes must be names, got the {kind} {value!r}")
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidTypeError: nodes must be names, got the str 'ab'
    """
    if isinstance(nodes, refuse):
        raise InvalidTypeError(refusal.format(kind=type(nodes).__name__, value=nodes))
    if weights and isinstance(nodes, Mapping):
        return list(nodes.items())
    return [(node, 1) for node in nodes]


def get_member(table: Mapping[str, _V], node: str, missing: str = "is not a member") -> _V:
    """``table[node]``, or :class:`~consistent.UnknownNodeError` ("node 'x' {missing}").

    >>> get_member({"a": 1}, "b")
    Traceback (most recent call last):
    ...
    consistent._errors.UnknownNodeError: node 'b' is not a member
    """
    try:
        return table[node]
    except KeyError:
        raise UnknownNodeError(f"node {node!r} {missing}") from None


# -- the jump family's wording (JumpHash, MementoHash, Rendezvous) ----------------------

NODES_REFUSAL: Final = "nodes must be an iterable of node names, got the str {value!r}"
COUNT_OUT_OF_RANGE: Final = "n must be between 1 and the number of nodes ({size}), got {n}"


def check_node_name(node: object) -> str:
    """Check a node name is a str, in the jump family's wording ("node must be a str")."""
    return check_name(node, "node")


def check_equal_share_weight(node: str, weight: object, algorithm: str) -> None:
    """Refuse weights other than 1: every bucket of ``algorithm`` carries the same share.

    >>> try:
    ...     check_equal_share_weight("a", 2, "JumpHash")
    ... except ValueError as error:
    ...     print(str(error)[:48])
    JumpHash gives every node the same share, so wei
    """
    check_unit_weight(
        node,
        weight,
        f"{algorithm} gives every node the same share, so weight must be 1, got "
        "{weight!r} for node {node!r}; use Rendezvous (or HashRing) for weighted nodes",
        numpy_scalars=True,
    )


def check_preference_count(n: object, size: int) -> int:
    """Check a preference-list length ``n`` is an int in ``[1, size]``, jump family wording."""
    return check_count(n, size, numpy_scalars=True, out_of_range=COUNT_OUT_OF_RANGE)
