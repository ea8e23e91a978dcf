"""The registry of placement algorithms: every class declares its facts, and they are true."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import consistent
from consistent import ALGORITHMS, UnsupportedOperationError
from consistent._registry import FACTS

algorithms = pytest.mark.parametrize("name", list(ALGORITHMS))
NODES = ["a", "b", "c", "d"]
TYPES = {
    "algorithm": str,
    "summary": str,
    "removes_any_node": bool,
    "exact_ownership": bool,
    "weighted": bool,
    "stateful": bool,
    "options": frozenset,
}


def test_the_registry_holds_every_placement_class_of_the_package() -> None:
    exported = {
        getattr(consistent, name)
        for name in consistent.__all__
        if isinstance(getattr(consistent, name), type)
        and hasattr(getattr(consistent, name), "lookup_codes")
        and getattr(consistent, name) is not consistent.Placement
    }
    assert exported == set(ALGORITHMS.values())
    assert list(ALGORITHMS)[:7] == [
        "ring", "jump", "memento", "rendezvous", "maglev", "multiprobe", "bounded"
    ]


def test_the_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        ALGORITHMS["x"] = consistent.HashRing  # type: ignore[index]


@algorithms
def test_every_fact_is_declared_with_its_type(name: str) -> None:
    cls = ALGORITHMS[name]
    assert set(TYPES) == set(FACTS)
    for fact, kind in TYPES.items():
        assert isinstance(getattr(cls, fact), kind), fact
    assert cls.algorithm == name
    assert cls.summary and "\n" not in cls.summary
    assert all(isinstance(option, str) for option in cls.options)


@algorithms
def test_options_are_constructor_keywords(name: str) -> None:
    parameters = inspect.signature(ALGORITHMS[name]).parameters
    for option in ALGORITHMS[name].options:
        assert parameters[option].kind is inspect.Parameter.KEYWORD_ONLY


@algorithms
def test_removes_any_node_says_whether_a_middle_node_can_leave(name: str) -> None:
    placement = ALGORITHMS[name](NODES)
    if ALGORITHMS[name].removes_any_node:
        placement.remove("b")
        assert placement.nodes == ("a", "c", "d")
    else:
        with pytest.raises(UnsupportedOperationError):
            placement.remove("b")
        placement.remove("d")  # the last one can always leave
        assert placement.nodes == ("a", "b", "c")


@algorithms
def test_weighted_says_whether_weights_other_than_one_are_taken(name: str) -> None:
    placement = ALGORITHMS[name](NODES)
    if ALGORITHMS[name].weighted:
        placement.add("heavy", weight=3)
        shares = placement.ownership()
        assert shares["heavy"] > 2 * shares["a"]
    else:
        with pytest.raises(UnsupportedOperationError):
            placement.add("heavy", weight=3)


@algorithms
def test_expected_ownership_is_the_share_of_the_weight(name: str) -> None:
    cls = ALGORITHMS[name]
    placement: Any = cls(NODES)
    shares = placement.ownership()
    if cls.exact_ownership:
        assert len(set(shares.values())) > 1  # measured from the structure: uneven
    else:
        assert set(shares.values()) == {1 / len(NODES)}


@algorithms
def test_stateful_algorithms_assign_and_release(name: str) -> None:
    cls = ALGORITHMS[name]
    assert (hasattr(cls, "assign") and hasattr(cls, "release")) == cls.stateful


def test_the_facts_table_in_the_docs_matches_the_classes() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "algorithms.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    yes_no = {True: "yes", False: "no"}
    expected = []
    for name, cls in ALGORITHMS.items():
        options = ", ".join(f"`{o}`" for o in sorted(cls.options)) or "-"
        facts = (cls.removes_any_node, cls.exact_ownership, cls.weighted, cls.stateful)
        cells = [f"`{name}`", f"`{cls.__name__}`", *(yes_no[f] for f in facts), options]
        expected.append("| " + " | ".join(cells) + " |")
    assert rows == expected, "docs/algorithms.md's facts table should read:\n" + "\n".join(expected)
