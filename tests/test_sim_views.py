"""Ring views: interned by member set, homes computed once per view, dropped when unheld."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim._config import PlacementConfig, server_names
from sim._placement import build_placement
from sim._views import ViewCache

NAMES = server_names(8)
KEYS = np.arange(500, dtype=np.uint64) * np.uint64(40503)


def _cache(algorithm: str = "ring") -> ViewCache:
    return ViewCache(PlacementConfig(algorithm=algorithm, vnodes=40), NAMES, KEYS)


def test_one_view_per_member_set() -> None:
    cache = _cache()
    everyone = frozenset(range(8))
    first = cache.view(everyone)
    assert cache.view(frozenset(range(8))) is first
    assert len(cache) == 1 and cache.built == 1
    fewer = cache.view(everyone - {3}, near=first)
    assert fewer is not first and fewer.members == everyone - {3}
    assert cache.view(everyone - {3}) is fewer
    assert len(cache) == 2 and cache.built == 2


@pytest.mark.parametrize("algorithm", ["ring", "rendezvous", "maglev", "memento"])
def test_homes_are_each_keys_home_by_the_views_placement(algorithm: str) -> None:
    cache = _cache(algorithm)
    view = cache.view(frozenset(range(8)))
    derived = cache.view(frozenset(range(8)) - {2}, near=view)
    for v in (view, derived):
        homes = v.homes
        assert len(homes) == len(KEYS)
        expected = [NAMES.index(n) for n in v.placement.lookup_many(KEYS)]
        assert homes == expected
        assert set(homes) <= v.members
    assert 2 not in set(derived.homes)


def test_homes_are_computed_once_and_only_when_asked() -> None:
    cache = _cache()
    view = cache.view(frozenset(range(8)))
    assert cache.lookups == 0
    homes = view.homes
    assert view.homes is homes and cache.lookups == 1


def test_a_view_of_nobody_sends_every_key_to_the_server_itself() -> None:
    cache = _cache()
    empty = cache.view(frozenset(), near=cache.view(frozenset({1})))
    assert empty.homes == [-1] * len(KEYS)


def test_a_view_nobody_holds_is_dropped() -> None:
    cache = _cache()
    old = cache.view(frozenset(range(8)))
    cache.hold(None, old)
    cache.hold(None, old)
    assert old.holders == 2
    new = cache.view(frozenset(range(7)), near=old)
    cache.hold(old, new)
    assert len(cache) == 2 and old.holders == 1  # one server still routes by it
    cache.hold(old, new)
    assert old.holders == 0 and new.holders == 2 and len(cache) == 1
    # Asked for again, the member set gets a fresh view.
    assert cache.view(frozenset(range(8))) is not old


@settings(max_examples=25, deadline=None)
@given(st.lists(st.frozensets(st.integers(0, 7), min_size=1), min_size=1, max_size=8))
def test_any_sequence_of_views_agrees_with_a_fresh_build(
    member_sets: list[frozenset[int]]
) -> None:
    cache = _cache()
    near = None
    for members in member_sets:
        view = cache.view(members, near=near)
        built = build_placement(cache.config, [NAMES[i] for i in sorted(members)])
        assert view.members == members
        assert view.homes == [NAMES.index(n) for n in built.lookup_many(KEYS)]
        near = view
