"""Building placements from a scenario, deriving views from views, homes and key movement."""

from __future__ import annotations

import numpy as np
import pytest

import consistent
from sim._config import PlacementConfig, server_names
from sim._placement import (
    ALGORITHMS,
    build_placement,
    derive_placement,
    home_codes,
    key_movement,
    removal_capable,
)

NAMES = server_names(10)
KEYS = np.arange(3000, dtype=np.uint64) * np.uint64(2654435761)


def test_the_registry_is_the_librarys() -> None:
    assert list(ALGORITHMS) == list(consistent.ALGORITHMS)
    for name, algorithm in ALGORITHMS.items():
        cls = consistent.ALGORITHMS[name]
        assert algorithm.cls is cls and algorithm.description == cls.summary
        assert algorithm.removes == cls.removes_any_node
        assert algorithm.options == frozenset(cls.options)
        assert algorithm.ownership == ("exact" if cls.exact_ownership else "expected")
    # Multi-probe's ownership is computed from its points: exact, not "ideal" 1/n.
    assert ALGORITHMS["multiprobe"].ownership == "exact"
    assert ALGORITHMS["rendezvous"].ownership == "expected"


def test_removal_capable_lists_exactly_the_algorithms_that_remove_any_node() -> None:
    capable = removal_capable()
    assert capable == [n for n, a in ALGORITHMS.items() if a.cls.removes_any_node]
    assert "jump" not in capable and {"ring", "memento", "rendezvous"} <= set(capable)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_build_gives_every_node_and_codes_match_lookups(algorithm: str) -> None:
    placement = build_placement(PlacementConfig(algorithm=algorithm), NAMES)
    assert sorted(placement.nodes) == NAMES
    codes = home_codes(placement, KEYS)
    assert codes.dtype == np.int32 and codes.shape == KEYS.shape
    nodes = list(placement.nodes)
    assert [nodes[c] for c in codes.tolist()] == list(placement.lookup_many(KEYS))


def test_vnodes_reach_only_the_algorithms_that_take_them() -> None:
    ring = build_placement(PlacementConfig(algorithm="ring", vnodes=7), NAMES)
    assert "vnodes=7," in repr(ring)
    # placement.options wins over placement.vnodes.
    ring = build_placement(PlacementConfig(algorithm="ring", vnodes=7,
                                           options=(("vnodes", 3),)), NAMES)
    assert "vnodes=3," in repr(ring)
    # Rendezvous takes no vnodes: a vnodes setting is not passed (it would be a TypeError).
    build_placement(PlacementConfig(algorithm="rendezvous", vnodes=7), NAMES)


def test_options_and_hash_reach_the_constructor() -> None:
    probes = build_placement(PlacementConfig(algorithm="multiprobe",
                                             options=(("probes", 5),)), NAMES)
    assert "probes=5" in repr(probes)
    md5 = build_placement(PlacementConfig(algorithm="ring", hash="md5", vnodes=4), NAMES)
    xxh3 = build_placement(PlacementConfig(algorithm="ring", hash="xxh3", vnodes=4), NAMES)
    assert "md5" in repr(md5).lower() and "md5" not in repr(xxh3).lower()
    assert list(md5.lookup_many(KEYS)) != list(xxh3.lookup_many(KEYS))


def test_an_unknown_algorithm_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"placement\.algorithm must be one of"):
        build_placement(PlacementConfig(algorithm="nosuch"), NAMES)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_derive_removes_then_adds(algorithm: str) -> None:
    base = build_placement(PlacementConfig(algorithm=algorithm), NAMES)
    # An algorithm that removes only the last node added is asked for just that.
    leaving = NAMES[3] if ALGORITHMS[algorithm].removes else NAMES[-1]
    derived = derive_placement(base, [leaving], ["s010"])
    assert derived is not None
    assert sorted(derived.nodes) == sorted([*[n for n in NAMES if n != leaving], "s010"])
    assert sorted(base.nodes) == NAMES  # the base is untouched


@pytest.mark.parametrize("algorithm", ["ring", "rendezvous"])
def test_a_derived_placement_of_a_history_free_algorithm_equals_a_built_one(
    algorithm: str
) -> None:
    config = PlacementConfig(algorithm=algorithm)
    base = build_placement(config, NAMES)
    derived = derive_placement(base, [NAMES[2]], [])
    built = build_placement(config, [n for n in NAMES if n != NAMES[2]])
    assert derived is not None
    assert list(derived.lookup_many(KEYS)) == list(built.lookup_many(KEYS))


def test_deriving_keeps_history_so_memento_moves_only_the_removed_nodes_keys() -> None:
    base = build_placement(PlacementConfig(algorithm="memento"), NAMES)
    derived = derive_placement(base, [NAMES[4]], [])
    assert derived is not None
    before, after = base.lookup_many(KEYS), derived.lookup_many(KEYS)
    moved = [b for b, a in zip(before, after, strict=True) if b != a]
    assert moved and set(moved) == {NAMES[4]}


def test_derive_without_copy_is_none() -> None:
    class NoCopy:
        nodes = ("a",)

    assert derive_placement(NoCopy(), ["a"], []) is None  # type: ignore[arg-type]


def test_key_movement_is_exact_for_rings_and_sampled_otherwise() -> None:
    ring = build_placement(PlacementConfig(algorithm="ring"), NAMES)
    smaller = derive_placement(ring, [NAMES[0]], [])
    assert smaller is not None
    moved, exact = key_movement(ring, smaller)
    assert exact and moved == pytest.approx(ring.movement_to(smaller))
    assert moved == pytest.approx(ring.ownership()[NAMES[0]])
    hrw = build_placement(PlacementConfig(algorithm="rendezvous"), NAMES)
    fewer = derive_placement(hrw, [NAMES[0]], [])
    assert fewer is not None
    moved, exact = key_movement(hrw, fewer)
    assert not exact and moved == pytest.approx(0.1, abs=0.03)
    same, _ = key_movement(hrw, hrw.copy())
    assert same == 0.0
