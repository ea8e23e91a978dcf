"""Every placement algorithm of ``consistent``, side by side, on the same keys in one run.

One command measures each algorithm at each cluster size, as the research benchmark
(java-consistent-hashing-algorithms) does: memory, build time, resize time (one join, one
removal), lookup time (scalar and batch), balance (peak-to-mean and CV), resize balance,
monotonicity, and the incremental-removal curves (lookups and memory as 0-90 % of 1,000
nodes leave). It prints Markdown tables and writes ``compare.csv``, ``compare.json``,
``compare.png`` and ``compare-research.png`` (2x2 figures) to ``--out``; ``--docs`` also
replaces the generated section of ``docs/algorithms.md`` and its figures. It exits 1 if an
algorithm that promises minimal movement moved a key between surviving nodes.

    python benchmarks/compare_algorithms.py --docs --max-minutes 35   # the docs' run
    python benchmarks/compare_algorithms.py                 # sizes 10..10**6, 1M keys
    python benchmarks/compare_algorithms.py --quick         # CI smoke: 10 and 100, 100k keys
    python benchmarks/compare_algorithms.py --sizes 10,100,1000 --keys 500000 --out DIR
    python benchmarks/compare_algorithms.py --from-json results/compare/compare.json --docs

Sizes run smallest first for every algorithm; a size is skipped (and listed) where the
structure refuses it (``LimitExceededError``: HashRing's 10**7 points, Maglev's 2**22
table), where the algorithm's previous size took longer than the budget's ``row_seconds``,
or past ``--max-minutes``. The research measures (resize balance, monotonicity) apply
many membership changes one by one and are skipped where the measured change time says
they would exceed ``resize_seconds``.

Algorithms: every entry of ``consistent.ALGORITHMS``, built with those of the options
vnodes=160, table_size=65537 (Maglev; at 1,000+ nodes a second series with the paper's
recommended M > 100 N, the next prime), probes=21 and eps=0.25 that its class declares
(AnchorHash: capacity 2 n), all with the default xxh3 key hash. The class's facts choose
the method: how peak-to-mean is measured (exact ownership, counted over keys, or a
stateful algorithm's loads) and which node a removal takes.
Removal takes the middle node (an append-only algorithm, ``removes_any_node = False``:
the last, the only one it can remove).

Method (every row uses the same seeded keys; a row that uses fewer says so in ``keys``):

* **scalar ns/key**: ``node_for`` on str keys ``"key-0"``, ``"key-1"``, ... (a sample sized
  to a time budget, see ``scalar keys`` in the CSV); one warm-up, then repeats; median.
* **batch ns/key**: ``lookup_many`` on ``--keys`` seeded uint64 integer keys; one warm-up,
  then repeats; median (min and max are in the CSV/JSON). Rendezvous is O(n) per key, so
  its rows use at most ``RENDEZVOUS_PAIRS / n`` keys (a prefix of the same keys: 500k at
  1,000 nodes, 50k at 10,000), and every key-based measurement of the row uses that prefix.
  BoundedLoadRing's loads and replays use the first 200,000 keys (50,000 in ``--quick``).
  The ``keys`` column says how many keys a row's peak-to-mean and movement used.
* **build ms**: constructing the structure from the node names; median of repeats.
* **memory**: ``sys.getsizeof`` where the class implements ``__sizeof__`` (HashRing);
  otherwise the allocation still held after building it, measured with :mod:`tracemalloc`
  (numpy arrays report to tracemalloc); the build's peak is in the CSV. Builds slower than
  ``TRACE_BUILD_LIMIT`` run about ten times slower traced, so for them a ``copy.deepcopy`` of
  the structure is traced instead (marked; it reads low, as copies share immutable ints).
  Node-name strings are built beforehand and not counted by any method.
* **peak-to-mean** of per-node load: from ``ownership()`` where it is a measurement of the
  structure (ring arcs, Maglev table entries, multi-probe's closed form under the paper's
  model); for jump, memento and rendezvous ``ownership()`` is ``1/n`` by construction, so
  the figure is counted over the keys; for BoundedLoadRing it is the loads after
  ``assign`` of every key in order. ``p2m keys`` (CSV) is always counted over the keys, and
  ``p2m floor`` is what a perfectly uniform placement shows on that many keys (sampling
  noise: read sampled figures against it).
* **movement ratio** = moved / optimal for one join (a new node) and one removal (the
  middle node; for JumpHash the last bucket, the only one it can remove), optimal being
  the share of the node that joined or left. HashRing: exact (``movement_to`` and arc
  ownership). Others: counted over the keys, the optimum being the node's share of those
  keys, so 1.00 means only the keys of the node concerned moved. BoundedLoadRing: the keys
  are replayed through ``assign`` on the changed membership and compared with the original
  assignment (its own ``add`` moves nothing and ``remove`` re-places only the leaving
  node's items, so replaying is what shows how stable the placement is).
* **add / remove ms**: applying one membership change to a copy (copying is not timed);
  median of repeats. BoundedLoadRing's remove re-places the leaving node's assigned items.

BoundedLoadRing's scalar and batch lookups run with no item assigned (each key judged
alone, where it would go now). The research benchmark's measures are defined in ``NOTES``
(printed under the tables). Timings on a shared machine are noisy: compare medians
across runs before reading much into a difference under about 2x.
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import gc
import json
import math
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

if __package__ in (None, ""):  # run by path (python benchmarks/compare_algorithms.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (
    affordable,
    machine,
    machine_line,
    sample_keys,
    stats,
    timed,
    timed_fresh,
)
from consistent import (
    ALGORITHMS,
    BoundedLoadRing,
    HashRing,
    InvalidArgumentError,
    LimitExceededError,
    Maglev,
    Placement,
)

MAGLEV_TABLE = 65537
# Seconds: builds slower than this are not repeated under tracemalloc (see ``measure``).
TRACE_BUILD_LIMIT = 1.0
# The peak-to-mean panel's y axis stops here; rows above it are labelled at the edge.
P2M_PLOT_MAX = 2.0
# ... and leaves out peak-to-mean counted over fewer keys a node than this (sampling noise).
P2M_MIN_KEYS_PER_NODE = 50
# Rendezvous scores every node for every key: rows use at most this many (key, node) pairs.
RENDEZVOUS_PAIRS = 500_000_000
JOINER = "joiner"


def next_prime(n: int) -> int:
    """The smallest prime >= ``n`` (trial division: table sizes are below a few million)."""
    candidate = max(2, n)
    while any(candidate % d == 0 for d in range(2, math.isqrt(candidate) + 1)):
        candidate += 1
    return candidate


@dataclass(frozen=True)
class Contender:
    """One algorithm as configured for the comparison."""

    name: str
    build: Callable[[list[str]], Placement]
    params: Callable[[int], str]
    # How peak-to-mean is obtained: "ownership" (a measurement of the structure),
    # "keys" (counted over the keys) or "assign" (a stateful algorithm's loads).
    balance: str
    remove_last: bool = False
    min_nodes: int = 0
    # Whether a membership change must move only the keys of the node concerned.
    minimal: bool = True
    # The most integer keys a row uses at ``n`` nodes (None: all of them).
    key_cap: Callable[[int], int] | None = None


# The settings compared, per constructor option (an algorithm takes those it declares).
OPTIONS: dict[str, Any] = {"vnodes": 160, "table_size": MAGLEV_TABLE, "probes": 21, "eps": 0.25}
# Algorithms whose lookups cost O(n) per key: cap keys x nodes so 10,000 nodes stay within
# minutes.
LINEAR_PER_KEY = {"rendezvous"}
# Algorithms that do not promise minimal movement although stateless (as in the tests:
# tests/test_placement_stateful.py NOT_MINIMAL); stateful ones never promise it.
NOT_MINIMAL = {"maglev"}


# Options that depend on the cluster size n: AnchorHash's fixed capacity leaves room for the
# research benchmark's growth to 1.5 n and the one join (the benchmark itself uses 10 n).
SIZED_OPTIONS: dict[str, dict[str, Callable[[int], int]]] = {
    "anchor": {"capacity": lambda n: 2 * n}
}


def contender(name: str) -> Contender:
    """The comparison's configuration of ``consistent.ALGORITHMS[name]``, from its facts."""
    cls = ALGORITHMS[name]
    options = {key: OPTIONS[key] for key in sorted(cls.options) if key in OPTIONS}
    sized = SIZED_OPTIONS.get(name, {})
    label = ", ".join(
        [f"{key}={value}" for key, value in options.items()] + [f"{key}=2n" for key in sized]
    )
    label = label.replace(f"table_size={MAGLEV_TABLE}", f"M={MAGLEV_TABLE}")
    label = label.replace("probes=", "k=")

    def build(names: list[str]) -> Placement:
        per_size = {key: size(len(names)) for key, size in sized.items()}
        placement: Placement = cls(names, **options, **per_size)
        return placement

    if cls.stateful:
        balance = "assign"
    elif cls.exact_ownership:
        balance = "ownership"
    else:
        balance = "keys"
    key_cap = (lambda n: max(10_000, RENDEZVOUS_PAIRS // n)) if name in LINEAR_PER_KEY else None
    return Contender(
        cls.__name__,
        build,
        lambda _: label,
        balance,
        remove_last=not cls.removes_any_node,
        key_cap=key_cap,
        minimal=not cls.stateful and name not in NOT_MINIMAL,
    )


def _maglev_large(names: list[str]) -> Maglev:
    return Maglev(names, table_size=next_prime(100 * len(names)))


def _contenders() -> tuple[Contender, ...]:
    """Every registered algorithm, and Maglev's second series right after Maglev."""
    contenders = []
    for name in ALGORITHMS:
        contenders.append(contender(name))
        if name == "maglev":
            # The paper recommends M > 100 N; a second series shows it where 65537 falls short.
            contenders.append(
                Contender(
                    "Maglev M>100N",
                    _maglev_large,
                    lambda n: f"M={next_prime(100 * n)}",
                    "ownership",
                    min_nodes=MAGLEV_TABLE // 100 + 1,
                    minimal=False,
                )
            )
    return tuple(contenders)


CONTENDERS: tuple[Contender, ...] = _contenders()


@dataclass(frozen=True)
class Budget:
    """Time budgets (seconds) that size timing samples and repeats, and the assign cap."""

    scalar_pass: float
    scalar_max_keys: int
    build: float
    repeats: int
    # BoundedLoadRing.assign is one Python call per key; the replays use this many keys.
    assign_keys: int
    # Monotonicity and resize balance apply many membership changes one by one: skipped
    # where their estimated time (changes x measured add/remove time) exceeds this.
    resize_seconds: float = 60.0
    # The incremental-removal curve: this many nodes, batch lookups on this many keys.
    curve_nodes: int = 1_000
    curve_keys: int = 200_000
    # A contender's next (10x larger) size is skipped when its row at this size took
    # more than this many seconds (the next one would take ten times as long or more).
    row_seconds: float = 30.0


FULL = Budget(0.25, 50_000, 2.0, 5, 200_000)
QUICK = Budget(0.05, 5_000, 0.3, 3, 50_000, 2.0, 100, 20_000, 5.0)
# Monotonicity: the share of nodes removed (then restored in reverse order), as the research
# benchmark's smallest fraction.
MONO_FRACTION = 0.1


# ------------------------------------------------------------------------ measurements


def build_memory(build: Callable[[list[str]], Placement], names: list[str]) -> tuple[int, int]:
    """(retained, peak) bytes allocated while building, traced by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        placement = build(names)
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del placement
    return retained, peak


def has_own_sizeof(obj: object) -> bool:
    return type(obj).__sizeof__ is not object.__sizeof__


def peak_to_mean(loads: Sequence[float] | npt.NDArray[Any]) -> float:
    values = np.asarray(loads, dtype=np.float64)
    return float(values.max() / values.mean())


def coefficient_of_variation(loads: Sequence[float] | npt.NDArray[Any]) -> float:
    """Standard deviation of the per-node loads over their mean (the research benchmark's CV)."""
    values = np.asarray(loads, dtype=np.float64)
    return float(values.std() / values.mean())


def held_memory(placement: Placement) -> tuple[int, str]:
    """(bytes, method) a structure holds now: ``sys.getsizeof`` where it implements it,
    else the allocation of a ``copy.deepcopy`` of it traced by tracemalloc."""
    if has_own_sizeof(placement):
        return sys.getsizeof(placement), "getsizeof"
    gc.collect()
    tracemalloc.start()
    try:
        clone = copy.deepcopy(placement)
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del clone
    return retained, "tracemalloc (deepcopy)"


def uniform_floor(keys: int, nodes: int, seed: int = 1, trials: int = 5) -> float:
    """Median peak-to-mean that a perfectly uniform placement shows on ``keys`` keys."""
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(keys, np.full(nodes, 1.0 / nodes), size=trials)
    return float(np.median(draws.max(axis=1) / (keys / nodes)))


def homes(placement: Placement, keys: npt.NDArray[np.uint64], universe: dict[str, int]) -> Any:
    """Home of every key as an index into ``universe`` (names shared across placements)."""
    to_universe = np.array([universe[name] for name in placement.nodes], dtype=np.int32)
    return to_universe[placement.lookup_codes(keys)]


def assigned_homes(
    ring: BoundedLoadRing, keys: list[int], universe: dict[str, int]
) -> npt.NDArray[np.int32]:
    """Assign every key in order (the loads stay on ``ring``); each key's node index."""
    assign = ring.assign
    return np.fromiter((universe[assign(k)] for k in keys), dtype=np.int32, count=len(keys))


def measure(
    contender: Contender,
    n: int,
    int_keys: npt.NDArray[np.uint64],
    str_keys: list[str],
    budget: Budget,
) -> dict[str, Any]:
    """All columns of one (algorithm, cluster size) row."""
    names = [f"node-{i}" for i in range(n)]
    victim = names[-1] if contender.remove_last else names[n // 2]
    universe = {name: i for i, name in enumerate([*names, JOINER])}
    row: dict[str, Any] = {
        "algorithm": contender.name,
        "params": contender.params(n),
        "nodes": n,
        "minimal": contender.minimal,
    }

    # Build: repeat within the budget; the first build is the structure measured below.
    start = time.perf_counter()
    base = contender.build(names)
    first = time.perf_counter() - start
    build_times = [first]
    if first < budget.build:
        build_times += timed(
            lambda: contender.build(names),
            max(1, min(budget.repeats - 1, int(budget.build / max(first, 1e-9)))),
            warmup=False,
        )
    row["build_ms"] = stats(build_times, 1e3)

    # Tracing slows allocation-heavy builds about tenfold (rendezvous and memento build
    # one node at a time, quadratically): past the limit, trace a deep copy instead.
    traced_method = "tracemalloc"
    if first < TRACE_BUILD_LIMIT:
        retained, peak = build_memory(contender.build, names)
    else:
        retained, peak = build_memory(lambda _: copy.deepcopy(base), names)
        traced_method = "tracemalloc (deepcopy)"
    if has_own_sizeof(base):
        row["memory_bytes"] = sys.getsizeof(base)
        row["memory_method"] = "getsizeof"
    else:
        row["memory_bytes"] = retained
        row["memory_method"] = traced_method
    row["memory_traced_bytes"] = retained
    row["memory_peak_bytes"] = peak

    # Scalar lookups on str keys: a sample sized to the time budget.
    probe = str_keys[:100]
    node_for = base.node_for
    per_key = min(timed(lambda: [node_for(k) for k in probe], 1)) / len(probe)
    count = affordable(per_key, budget.scalar_pass, budget.scalar_max_keys, 100)
    scalar = str_keys[:count]
    scalar_times = timed(lambda: [node_for(k) for k in scalar], budget.repeats)
    row["scalar_ns"] = stats(scalar_times, 1e9 / count)
    row["scalar_keys"] = count

    # Batch lookups on integer keys: all of them, or the contender's cap (a prefix).
    count = len(int_keys) if contender.key_cap is None else contender.key_cap(n)
    count = min(len(int_keys), count)
    keys = int_keys[:count]
    start = time.perf_counter()
    base.lookup_many(keys)  # warm-up, and it decides how many repeats are affordable
    warm = time.perf_counter() - start
    # Cheap passes are repeated more: on a shared machine single passes are noisy.
    repeat = budget.repeats if warm < 0.25 else 3 if warm < 1.0 else 1
    batch_times = timed(lambda: base.lookup_many(keys), repeat, warmup=False)
    row["batch_ns"] = stats(batch_times, 1e9 / count)
    row["batch_keys"] = row["keys"] = count

    if contender.balance == "assign":
        _bounded_rows(row, base, victim, keys, universe, budget)
    else:
        _stateless_rows(row, contender, base, victim, keys, universe, budget)
    row["p2m_floor"] = uniform_floor(row["p2m_keys_count"], n)
    row["cv_floor"] = math.sqrt((n - 1) / row["p2m_keys_count"])
    _monotonicity_rows(row, contender, base, names, keys, budget)
    _resize_balance_rows(row, contender, base, names, keys, budget)
    return row


def _change_seconds(row: dict[str, Any]) -> float:
    """Seconds one membership change took (the slower of add and remove, medians)."""
    return max(row["add_ms"]["median"], row["remove_ms"]["median"]) / 1e3


def _monotonicity_rows(
    row: dict[str, Any],
    contender: Contender,
    base: Placement,
    names: list[str],
    keys: npt.NDArray[np.uint64],
    budget: Budget,
) -> None:
    """The research benchmark's monotonicity: remove a share of the nodes, restore them.

    Nodes leave one by one (in random order where any node can leave, else the last ones,
    last first) and come back in reverse order. Counted over the row's keys, as shares of
    all keys: ``mono_remove`` moved between surviving nodes by the removals,
    ``mono_restore`` moved by the restores onto nodes other than the restored ones,
    ``mono_relocated`` not home again once every node is back. Minimal algorithms promise
    the first two are zero (lookups with nothing assigned, for a stateful algorithm).
    """
    n = len(names)
    count = min(n - 1, max(1, int(n * MONO_FRACTION)))
    row["mono_nodes"] = count
    estimate = 2 * count * _change_seconds(row)
    row["mono_estimate_s"] = estimate
    if count < 1 or estimate > budget.resize_seconds:
        for key in ("mono_remove", "mono_restore", "mono_relocated"):
            row[key] = math.nan
        row["mono_violation"] = False
        return
    if contender.remove_last:
        leaving = names[::-1][:count]
    else:
        leaving = random.Random(n).sample(names, count)
    universe = {name: i for i, name in enumerate(names)}
    gone = np.array([universe[name] for name in leaving], dtype=np.int32)
    before = homes(base, keys, universe)
    changed = base.copy()  # type: ignore[attr-defined]
    for name in leaving:
        changed.remove(name)
    after_remove = homes(changed, keys, universe)
    for name in reversed(leaving):
        changed.add(name)
    after_restore = homes(changed, keys, universe)
    survivor_before = ~np.isin(before, gone)
    moved = before != after_remove
    row["mono_remove"] = np.count_nonzero(moved & survivor_before) / len(keys)
    to_others = (after_remove != after_restore) & ~np.isin(after_restore, gone)
    row["mono_restore"] = np.count_nonzero(to_others) / len(keys)
    row["mono_relocated"] = np.count_nonzero(before != after_restore) / len(keys)
    row["mono_violation"] = bool(contender.minimal and (row["mono_remove"] or row["mono_restore"]))


def _resize_balance_rows(
    row: dict[str, Any],
    contender: Contender,
    base: Placement,
    names: list[str],
    keys: npt.NDArray[np.uint64],
    budget: Budget,
) -> None:
    """The research benchmark's resize balance: balance after four random grow/shrink rounds.

    Each round adds a random number of nodes (up to 1.5 n in all, drawn from n spare names)
    and then removes a random number (down to n / 2): random members where any node can
    leave, else the last ones. Peak-to-mean and CV of the final members' key counts.
    """
    n = len(names)
    estimate = 2 * n * _change_seconds(row)
    row["resize_estimate_s"] = estimate
    if estimate > budget.resize_seconds:
        row["resize_p2m"] = row["resize_cv"] = row["resize_floor"] = math.nan
        row["resize_nodes"] = 0
        return
    rng = random.Random(n + 1)
    placement = base.copy()  # type: ignore[attr-defined]
    active = list(names)
    spare = [f"spare-{i}" for i in range(n)]
    for _ in range(4):
        addable = (3 * n) // 2 - len(active)
        for _ in range(rng.randint(1, addable) if addable > 0 else 0):
            node = spare.pop(0 if contender.remove_last else rng.randrange(len(spare)))
            try:
                placement.add(node)
            except LimitExceededError:  # a fixed capacity (AnchorHash) is full: stop growing
                spare.append(node)
                row["resize_capped"] = True
                break
            active.append(node)
        removable = len(active) - max(1, n // 2)
        for _ in range(rng.randint(1, removable) if removable > 0 else 0):
            node = active.pop(-1 if contender.remove_last else rng.randrange(len(active)))
            placement.remove(node)
            spare.append(node)
    counts = np.bincount(placement.lookup_codes(keys), minlength=len(placement))
    row["resize_p2m"] = peak_to_mean(counts)
    row["resize_cv"] = coefficient_of_variation(counts)
    row["resize_nodes"] = len(placement)
    row["resize_floor"] = uniform_floor(len(keys), len(placement))


def removal_curve(
    contender: Contender,
    int_keys: npt.NDArray[np.uint64],
    str_keys: list[str],
    budget: Budget,
    percents: Sequence[int] = tuple(range(0, 100, 10)),
) -> list[dict[str, Any]]:
    """The research benchmark's incremental removal: lookups and memory as nodes leave.

    ``budget.curve_nodes`` nodes; 0-90 % of them removed one by one, in random order where
    any node can leave, else the last first (which leaves a smaller instance of the same
    structure). At each step: batch ns/key (``lookup_many`` on ``budget.curve_keys`` keys,
    capped like the main rows), scalar ns/key (``node_for`` on str keys) and memory held.
    """
    n = budget.curve_nodes
    names = [f"node-{i}" for i in range(n)]
    placement = contender.build(names)
    order = names[::-1] if contender.remove_last else random.Random(7).sample(names, n)
    count = min(len(int_keys), budget.curve_keys)
    if contender.key_cap is not None:
        count = min(count, contender.key_cap(n) // 10)
    keys = int_keys[:count]
    scalar = str_keys[: min(len(str_keys), 2_000)]
    points = []
    removed = 0
    for percent in percents:
        start = time.perf_counter()
        while removed < n * percent // 100:
            placement.remove(order[removed])
            removed += 1
        remove_s = time.perf_counter() - start
        node_for = placement.node_for
        memory, method = held_memory(placement)
        points.append(
            {
                "algorithm": contender.name,
                "params": contender.params(n),
                "nodes": n,
                "percent": percent,
                "removed": removed,
                "keys": count,
                "batch_ns": stats(
                    timed(lambda: placement.lookup_many(keys), budget.repeats), 1e9 / count
                ),
                "scalar_ns": stats(
                    timed(lambda f=node_for: [f(k) for k in scalar], budget.repeats),
                    1e9 / len(scalar),
                ),
                "memory_bytes": memory,
                "memory_method": method,
                "removal_s": remove_s,
            }
        )
    return points


def _membership_times(
    row: dict[str, Any],
    prepare: Callable[[], Placement],
    victim: str,
    budget: Budget,
) -> None:
    repeat = budget.repeats
    row["add_ms"] = stats(timed_fresh(prepare, lambda p: p.add(JOINER), repeat, budget.build), 1e3)
    row["remove_ms"] = stats(
        timed_fresh(prepare, lambda p: p.remove(victim), repeat, budget.build), 1e3
    )


def _stateless_rows(
    row: dict[str, Any],
    contender: Contender,
    base: Placement,
    victim: str,
    keys: npt.NDArray[np.uint64],
    universe: dict[str, int],
    budget: Budget,
) -> None:
    n = len(base)
    joined = base.copy()  # type: ignore[attr-defined]
    joined.add(JOINER)
    shrunk = base.copy()  # type: ignore[attr-defined]
    shrunk.remove(victim)

    before = homes(base, keys, universe)
    counts = np.bincount(before, minlength=n + 1)[:n]
    row["p2m_keys"] = peak_to_mean(counts)
    row["cv"] = coefficient_of_variation(counts)
    row["p2m_keys_count"] = len(keys)
    if contender.balance == "ownership":
        row["p2m"] = peak_to_mean(list(base.ownership().values()))
        row["p2m_method"] = "exact"
    else:
        row["p2m"] = row["p2m_keys"]
        row["p2m_method"] = "keys"

    after_join = homes(joined, keys, universe)
    after_remove = homes(shrunk, keys, universe)
    sampled_join = _ratio(
        np.count_nonzero(before != after_join), np.count_nonzero(after_join == universe[JOINER])
    )
    sampled_remove = _ratio(
        np.count_nonzero(before != after_remove), np.count_nonzero(before == universe[victim])
    )
    row["move_join_keys"], row["move_remove_keys"] = sampled_join, sampled_remove
    if isinstance(base, HashRing):
        assert isinstance(joined, HashRing) and isinstance(shrunk, HashRing)
        row["move_join"] = _ratio(base.movement_to(joined), joined.ownership()[JOINER])
        row["move_remove"] = _ratio(base.movement_to(shrunk), base.ownership()[victim])
        row["move_method"] = "exact"
    else:
        row["move_join"], row["move_remove"] = sampled_join, sampled_remove
        row["move_method"] = "keys (last bucket)" if contender.remove_last else "keys"
    _membership_times(row, base.copy, victim, budget)  # type: ignore[attr-defined]


def _bounded_rows(
    row: dict[str, Any],
    base: Placement,
    victim: str,
    keys: npt.NDArray[np.uint64],
    universe: dict[str, int],
    budget: Budget,
) -> None:
    assert isinstance(base, BoundedLoadRing)
    # assign is one Python call per key: the replays use a prefix of the keys.
    count = min(len(keys), budget.assign_keys)
    replay = keys[:count].tolist()
    row["keys"] = count

    loaded = base.copy()
    before = assigned_homes(loaded, replay, universe)
    loads = list(loaded.loads().values())
    row["p2m"] = row["p2m_keys"] = peak_to_mean(loads)
    row["cv"] = coefficient_of_variation(loads)
    row["p2m_keys_count"] = count
    row["p2m_method"] = "assign"

    joined = base.copy()
    joined.add(JOINER)
    after_join = assigned_homes(joined, replay, universe)
    shrunk = base.copy()
    shrunk.remove(victim)
    after_remove = assigned_homes(shrunk, replay, universe)
    row["move_join"] = row["move_join_keys"] = _ratio(
        np.count_nonzero(before != after_join), np.count_nonzero(after_join == universe[JOINER])
    )
    row["move_remove"] = row["move_remove_keys"] = _ratio(
        np.count_nonzero(before != after_remove), np.count_nonzero(before == universe[victim])
    )
    row["move_method"] = "replay"
    _membership_times(row, loaded.copy, victim, budget)


def _ratio(moved: float, optimal: float) -> float:
    return float(moved) / float(optimal) if optimal else math.nan


# ------------------------------------------------------------------------------ output


def _bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def _num(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _count(value: int) -> str:
    if value >= 1_000_000 and value % 1_000_000 == 0:
        return f"{value // 1_000_000}M"
    if value >= 1_000:
        return f"{value / 1000:.0f}k"
    return str(value)


TABLE_COLUMNS = (
    "algorithm",
    "nodes",
    "scalar ns/key",
    "batch ns/key",
    "keys",
    "build ms",
    "memory",
    "peak/mean",
    "p2m from",
    "move join",
    "move remove",
    "move from",
    "add ms",
    "remove ms",
)


def table_cells(row: dict[str, Any]) -> list[str]:
    algorithm = row["algorithm"] + (f" ({row['params']})" if row["params"] else "")
    memory = _bytes(row["memory_bytes"])
    if row["memory_method"] == "tracemalloc":
        memory += " †"
    elif row["memory_method"] == "tracemalloc (deepcopy)":
        memory += " ‡"
    p2m_from = row["p2m_method"]
    if p2m_from in ("keys", "assign"):
        p2m_from += f" (floor {row['p2m_floor']:.2f})"
    return [
        algorithm,
        f"{row['nodes']:,}",
        _num(row["scalar_ns"]["median"], 0),
        _num(row["batch_ns"]["median"]),
        _count(row["keys"]),
        _num(row["build_ms"]["median"], 2),
        memory,
        f"{row['p2m']:.3f}",
        p2m_from,
        _num(row["move_join"], 2),
        _num(row["move_remove"], 2),
        row["move_method"],
        _num(row["add_ms"]["median"], 2),
        _num(row["remove_ms"]["median"], 2),
    ]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(TABLE_COLUMNS) + " |",
        "|"
        + "|".join("---" if i in (0, 8, 11) else "---:" for i in range(len(TABLE_COLUMNS)))
        + "|",
    ]
    lines += ["| " + " | ".join(table_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


RESEARCH_COLUMNS = (
    "algorithm",
    "nodes",
    "CV",
    "CV floor",
    "resize peak/mean",
    "resize CV",
    "nodes after resize",
    f"moved between survivors, {MONO_FRACTION:.0%} removed",
    "moved to others on restore",
    "not home after restore",
    "minimal promised",
)


def _share(value: float) -> str:
    if math.isnan(value):
        return "skipped"
    return "0" if value == 0 else f"{value:.3%}"


def research_cells(row: dict[str, Any]) -> list[str]:
    algorithm = row["algorithm"] + (f" ({row['params']})" if row["params"] else "")
    resized = not math.isnan(row["resize_p2m"])
    mono = [_share(row[k]) for k in ("mono_remove", "mono_restore", "mono_relocated")]
    if row["mono_violation"]:
        mono[0] = f"**{mono[0]}** (promised 0)"
    return [
        algorithm,
        f"{row['nodes']:,}",
        f"{row['cv']:.3f}",
        f"{row['cv_floor']:.3f}",
        f"{row['resize_p2m']:.3f}" if resized else "skipped",
        f"{row['resize_cv']:.3f}" if resized else "skipped",
        f"{row['resize_nodes']:,}" if resized else "-",
        *mono,
        "yes" if row["minimal"] else "no",
    ]


def research_table(rows: list[dict[str, Any]]) -> str:
    """The research benchmark's balance, resize balance and monotonicity, one row each."""
    lines = [
        "| " + " | ".join(RESEARCH_COLUMNS) + " |",
        "|"
        + "|".join("---" if i in (0, 10) else "---:" for i in range(len(RESEARCH_COLUMNS)))
        + "|",
    ]
    lines += ["| " + " | ".join(research_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def curve_table(points: list[dict[str, Any]], column: str) -> str:
    """One line per algorithm, one column per share of nodes removed."""
    percents = sorted({p["percent"] for p in points})
    lines = [
        "| algorithm | " + " | ".join(f"{q} %" for q in percents) + " |",
        "|---|" + "---:|" * len(percents),
    ]
    for name in dict.fromkeys(p["algorithm"] for p in points):
        mine = {p["percent"]: p for p in points if p["algorithm"] == name}
        cells = []
        for q in percents:
            value = mine[q][column] if q in mine else None
            if value is None:
                cells.append("-")
            elif column == "memory_bytes":
                cells.append(_bytes(value))
            else:
                cells.append(_num(value["median"], 1))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """One CSV record: timing summaries become ``<name>_min/_median/_max`` columns."""
    record: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            for stat, number in value.items():
                record[f"{key}_{stat}"] = number
        else:
            record[key] = value
    return record


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    records = [flat(r) for r in rows]
    fields = list(dict.fromkeys(k for record in records for k in record))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)


def _p2m_plotted(row: dict[str, Any]) -> bool:
    """Whether the peak-to-mean panel shows a row (exact, or counted over enough keys)."""
    exact = row["p2m_method"] == "exact"
    return exact or row["p2m_keys_count"] >= P2M_MIN_KEYS_PER_NODE * row["nodes"]


def draw(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    panels = (
        ("batch_ns", "batch lookup (ns/key, lookup_many)", "log"),
        ("scalar_ns", "scalar lookup (ns/key, node_for)", "log"),
        ("p2m", "peak-to-mean load", "linear"),
        ("move_join", "movement ratio (moved / optimal)", "log"),
    )
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5), constrained_layout=True)
    algorithms = list(dict.fromkeys(r["algorithm"] for r in rows))
    colors = plt.get_cmap("tab20")
    markers = "osD^v<>ph*XPd8H"
    for ax, (column, label, yscale) in zip(axes.flat, panels, strict=True):
        for i, name in enumerate(algorithms):
            mine = [r for r in rows if r["algorithm"] == name]
            sizes = [r["nodes"] for r in mine]
            style = {"color": colors(i % 20), "marker": markers[i % len(markers)], "label": name}

            def value(r: dict[str, Any], key: str) -> float:
                v = r[key]
                return float(v["median"] if isinstance(v, dict) else v)

            if column == "p2m":
                # Counted over fewer than P2M_MIN_KEYS_PER_NODE keys a node, peak-to-mean is
                # sampling noise (10 and 1 keys a node at 10**5 and 10**6): left out.
                mine = [r for r in mine if _p2m_plotted(r)]
                sizes = [r["nodes"] for r in mine]
            ax.plot(sizes, [value(r, column) for r in mine], **style)
            if column == "move_join":
                ax.plot(
                    sizes,
                    [value(r, "move_remove") for r in mine],
                    color=colors(i % 20),
                    marker=markers[i % len(markers)],
                    linestyle="--",
                    markerfacecolor="none",
                )
        if column == "move_join":
            ratios = [r[k] for r in rows for k in ("move_join", "move_remove")]
            finite = [v for v in ratios if math.isfinite(v) and v > 0]
            # Minimal algorithms sit at 1.0; a log axis only where some row is far above it.
            yscale = "log" if finite and max(finite) > 5 else "linear"
        ax.set_xscale("log")
        ax.set_yscale(yscale)
        ax.set_xlabel("cluster size (nodes)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        if yscale == "log":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: ""))
        if column == "move_join":
            ax.axhline(1.0, color="grey", linewidth=0.8)
            ax.set_title("movement ratio: solid = one join, dashed = one removal")
        elif column == "p2m":
            # The floor of the rows that counted the most keys (the full batch).
            counted = sorted(
                (r for r in rows if r["p2m_method"] == "keys" and _p2m_plotted(r)),
                key=lambda r: r["p2m_keys_count"],
            )
            floor = {r["nodes"]: r["p2m_floor"] for r in counted}
            if floor:
                sizes = sorted(floor)
                (floor_line,) = ax.plot(
                    sizes,
                    [floor[s] for s in sizes],
                    color="grey",
                    linestyle=":",
                    label="uniform placement, same keys (sampling floor)",
                )
                ax.legend(handles=[floor_line], loc="upper left", fontsize="small")
            # A row counted over few keys (rendezvous at 10,000 nodes) is mostly sampling
            # noise: clip it at the top edge and print its value, so it cannot squash the rest.
            plotted = [r for r in rows if _p2m_plotted(r)]
            top = max((r["p2m"] for r in plotted), default=1.0)
            if top > P2M_PLOT_MAX:
                ax.set_ylim(top=P2M_PLOT_MAX)
                for r in plotted:
                    if r["p2m"] > P2M_PLOT_MAX:
                        ax.annotate(
                            f"{r['algorithm']} {r['p2m']:.2f} ({_count(r['keys'])} keys)",
                            (r["nodes"], P2M_PLOT_MAX),
                            xytext=(-4, -12),
                            textcoords="offset points",
                            ha="right",
                            fontsize="small",
                        )
            ax.set_title(
                "peak-to-mean (exact where the algorithm gives it, else over the keys;\n"
                f"counted rows with at least {P2M_MIN_KEYS_PER_NODE} keys a node)"
            )
        else:
            ax.set_title(label)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 7))
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_research(
    rows: list[dict[str, Any]], points: list[dict[str, Any]], path: Path, title: str
) -> None:
    """2x2: CV and resize peak-to-mean against size; removal curves (lookups, memory)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5), constrained_layout=True)
    names = list(dict.fromkeys(r["algorithm"] for r in [*rows, *points]))
    colors = plt.get_cmap("tab20")
    markers = "osD^v<>ph*XPd8H"

    def style(name: str) -> dict[str, Any]:
        i = names.index(name)
        return {"color": colors(i % 20), "marker": markers[i % len(markers)], "label": name}

    ax_cv, ax_resize, ax_lookup, ax_memory = axes.flat
    for name in names:
        mine = [r for r in rows if r["algorithm"] == name]
        if mine:
            ax_cv.plot([r["nodes"] for r in mine], [r["cv"] for r in mine], **style(name))
            resized = [r for r in mine if not math.isnan(r["resize_p2m"])]
            ax_resize.plot(
                [r["nodes"] for r in resized], [r["resize_p2m"] for r in resized], **style(name)
            )
        curve = [p for p in points if p["algorithm"] == name]
        if curve:
            percents = [p["percent"] for p in curve]
            ax_lookup.plot(percents, [p["batch_ns"]["median"] for p in curve], **style(name))
            ax_memory.plot(percents, [p["memory_bytes"] for p in curve], **style(name))
    floor = {r["nodes"]: r["cv_floor"] for r in rows}
    if floor:
        ax_cv.plot(
            sorted(floor),
            [floor[k] for k in sorted(floor)],
            color="grey",
            ls=":",
            label="uniform placement, same keys",
        )
    for ax in (ax_cv, ax_resize):
        ax.set_xscale("log")
        ax.set_xlabel("cluster size (nodes)")
        ax.grid(True, which="both", alpha=0.3)
    ax_cv.set_yscale("log")
    ax_cv.set_ylabel("CV of keys per node (std / mean)")
    ax_cv.set_title("balance: coefficient of variation over the keys")
    ax_resize.set_ylabel("peak-to-mean after 4 random grow/shrink rounds")
    ax_resize.set_title("resize balance (research benchmark's procedure)")
    top = max((r["resize_p2m"] for r in rows if not math.isnan(r["resize_p2m"])), default=2.0)
    ax_resize.set_ylim(bottom=0.95, top=min(top * 1.05, P2M_PLOT_MAX * 1.5))
    nodes = points[0]["nodes"] if points else 0
    for ax in (ax_lookup, ax_memory):
        ax.set_xlabel(f"% of {nodes:,} nodes removed (one by one)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    ax_lookup.set_ylabel("batch lookup (ns/key, lookup_many)")
    ax_lookup.set_title("incremental removal: lookup cost")
    ax_memory.set_ylabel("memory held (bytes)")
    ax_memory.set_title("incremental removal: memory")
    handles, labels = ax_lookup.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 7))
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


NOTES = (
    "scalar: node_for on str keys; batch: lookup_many on uint64 integer keys; medians.",
    "keys: integer keys behind peak/mean (where counted) and movement, a prefix of the same "
    "keys for every row; batch ns/key uses all of them except for Rendezvous (O(n) per key, "
    f"capped at {RENDEZVOUS_PAIRS:.0e} key-node pairs). BoundedLoadRing replays assign on a "
    "prefix (one Python call per key).",
    "memory: sys.getsizeof (HashRing, Maglev implement __sizeof__); † = tracemalloc, the "
    "allocation held after building (the build's peak is in the CSV); ‡ = tracemalloc of "
    "copy.deepcopy of the "
    f"structure, for builds slower than {TRACE_BUILD_LIMIT:g} s (tracing them takes ~10x "
    "longer; a deep copy shares immutable ints, so it reads low). Node-name strings not "
    "counted.",
    "p2m from: exact = ownership() of the structure (ring arcs, Maglev table, MultiProbe's "
    "closed form over its points); keys = counted over the keys (where ownership() is the "
    "expected 1/n or weight share: jump, memento, rendezvous); assign = BoundedLoadRing loads "
    "after assigning every key. floor = peak/mean a perfectly uniform placement shows on as "
    "many keys (sampling noise).",
    "move: moved / optimal (share of the node that joined or left). Removal takes the middle "
    "node; the append-only algorithms (JumpHash, FlipHash, JumpBackHash, PowerCH, "
    "BinomialHash) their last. exact = HashRing.movement_to; keys = counted over the "
    "keys; replay = BoundedLoadRing keys re-assigned on the changed membership.",
    f"Maglev uses M={MAGLEV_TABLE}; the paper recommends M > 100 N (a prime) for balance, "
    "shown as 'Maglev M>100N' where 65537 falls short (1,000+ nodes). Movement needs far more "
    "(its excess grows with N**2 / M, see consistent/_maglev.py).",
    "add/remove: one membership change applied to a copy; BoundedLoadRing's remove "
    "re-places the leaving node's assigned items.",
    "CV: standard deviation of the keys per node over their mean, counted over the row's keys "
    "(BoundedLoadRing: its loads after assign); CV floor = sqrt((n - 1) / keys), what a "
    "perfectly uniform placement shows on as many keys.",
    "resize peak/mean, resize CV: the research benchmark's resize balance. Four rounds, each "
    "adding a random number of nodes (up to 1.5 n in all) and removing a random number (down "
    "to n / 2), random members where any node can leave, else the last ones; then counted "
    "over the row's keys on the final members. Skipped where the changes would take more "
    "than the budget (about 2 n changes at the measured add/remove time).",
    f"monotonicity: {MONO_FRACTION:.0%} of the nodes leave one by one (a random sample where "
    "any node can leave, else the last ones), then return in reverse order; shares of all "
    "the row's keys that moved between surviving nodes on removal, moved onto nodes other "
    "than the returning ones on restore, and are not home again at the end. 'minimal "
    "promised' = the algorithm promises the first two are 0 (all but Maglev and the stateful "
    "BoundedLoadRing, whose column is its lookups with nothing assigned); the run fails if "
    "a promise is broken.",
    "removal curve: the research benchmark's incremental removal. 0-90 % of the nodes leave "
    "one by one (random order where any node can leave, else the last first, leaving a "
    "smaller instance); lookup_many over a prefix of the keys, and the memory the structure "
    "holds (sys.getsizeof where implemented, else tracemalloc of a deep copy), at each step.",
)


# -------------------------------------------------------------------------------- main


def run(
    sizes: Sequence[int],
    n_keys: int,
    budget: Budget,
    algorithms: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    skipped: list[dict[str, Any]] | None = None,
    deadline: float | None = None,
) -> list[dict[str, Any]]:
    """Measure every contender at every size; the rows of the table, in order.

    Sizes run smallest first for every contender, so a cut-off leaves the same sizes for
    all. A (contender, size) is skipped, with the reason appended to ``skipped``, when the
    structure refuses that size (a ``LimitExceededError``: too large for memory), when the
    contender's row at the previous size took more than ``budget.row_seconds``, or when
    ``deadline`` (seconds since the start) has passed.
    """
    int_keys = sample_keys(n_keys, seed=0)
    str_keys = [f"key-{i}" for i in range(budget.scalar_max_keys)]
    chosen = [c for c in CONTENDERS if not algorithms or c.name in algorithms]
    rows: list[dict[str, Any]] = []
    slow: dict[str, str] = {}
    began = time.perf_counter()

    def skip(contender: Contender, n: int, reason: str) -> None:
        if skipped is not None:
            skipped.append({"algorithm": contender.name, "nodes": n, "reason": reason})
        if progress:
            progress(f"{contender.name:>16} n={n:<7} skipped: {reason}")

    for n in sorted(sizes):
        for contender in chosen:
            if n < contender.min_nodes:
                continue
            if contender.name in slow:
                skip(contender, n, slow[contender.name])
                continue
            if deadline is not None and time.perf_counter() - began > deadline:
                skip(contender, n, f"the run's time limit ({deadline:.0f} s) had passed")
                continue
            start = time.perf_counter()
            try:
                row = measure(contender, n, int_keys, str_keys, budget)
            except (InvalidArgumentError, MemoryError) as error:
                skip(contender, n, f"{type(error).__name__}: {error}")
                slow[contender.name] = f"refused {n:,} nodes"
                continue
            elapsed = time.perf_counter() - start
            row["row_seconds"] = elapsed
            rows.append(row)
            if elapsed > budget.row_seconds:
                slow[contender.name] = (
                    f"{n:,} nodes took {elapsed:.0f} s (limit {budget.row_seconds:g} s)"
                )
            if progress:
                progress(f"{contender.name:>16} n={n:<7} {elapsed:6.1f} s")
    order = {c.name: i for i, c in enumerate(CONTENDERS)}
    rows.sort(key=lambda r: (order[r["algorithm"]], r["nodes"]))
    return rows


def removal_curves(
    budget: Budget,
    algorithms: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    n_keys: int | None = None,
) -> list[dict[str, Any]]:
    """:func:`removal_curve` of every registered contender (not Maglev's second series)."""
    int_keys = sample_keys(n_keys or budget.curve_keys, seed=0)
    str_keys = [f"key-{i}" for i in range(budget.scalar_max_keys)]
    points: list[dict[str, Any]] = []
    for contender in CONTENDERS:
        if contender.min_nodes or (algorithms and contender.name not in algorithms):
            continue
        start = time.perf_counter()
        points += removal_curve(contender, int_keys, str_keys, budget)
        if progress:
            progress(f"{contender.name:>16} removal curve {time.perf_counter() - start:6.1f} s")
    return points


DOCS_BEGIN = "<!-- compare_algorithms.py --docs: generated from here -->"
DOCS_END = "<!-- compare_algorithms.py --docs: generated up to here -->"


def report(document: dict[str, Any], figures: tuple[str, str]) -> str:
    """The Markdown report of a run (what ``--docs`` writes into docs/algorithms.md)."""
    rows, points = document["rows"], document["curves"]
    lines = [
        f"machine: {document['machine_line']}  ",
        f"command: `{document['command']}`  ",
        f"sizes: {', '.join(f'{n:,}' for n in document['sizes'])} nodes; "
        f"{document['keys']:,} integer keys; {document['seconds'] / 60:.1f} minutes",
        "",
        "### Lookups, build, memory, balance and one join / one removal",
        "",
        markdown_table(rows),
        "",
        f"![placement algorithms compared]({figures[0]})",
        "",
        "### The research benchmark's balance, resize balance and monotonicity",
        "",
        research_table(rows),
        "",
    ]
    if points:
        nodes = points[0]["nodes"]
        lines += [
            f"### Incremental removal: 0-90 % of {nodes:,} nodes removed one by one",
            "",
            f"Batch lookups, ns/key (`lookup_many` on {_count(points[0]['keys'])} keys; "
            "Rendezvous on fewer, see the JSON):",
            "",
            curve_table(points, "batch_ns"),
            "",
            "Scalar lookups, ns/key (`node_for` on str keys):",
            "",
            curve_table(points, "scalar_ns"),
            "",
            "Memory held:",
            "",
            curve_table(points, "memory_bytes"),
            "",
            f"![balance, resize balance and the removal curves]({figures[1]})",
            "",
        ]
    if document["skipped"]:
        lines += ["Not measured:", ""]
        lines += [
            f"- {s['algorithm']} at {s['nodes']:,} nodes: {s['reason']}"
            for s in document["skipped"]
        ]
        lines.append("")
    lines += ["How each column is measured:", ""]
    lines += [f"- {note}" for note in document["notes"]]
    return "\n".join(lines)


def write_docs(document: dict[str, Any], docs: Path, out: Path) -> None:
    """Replace the generated section of ``docs/algorithms.md`` and copy the figures there."""
    import shutil

    figures = ("algorithms.png", "algorithms-research.png")
    shutil.copyfile(out / "compare.png", docs / figures[0])
    if document["curves"]:
        shutil.copyfile(out / "compare-research.png", docs / figures[1])
    page = docs / "algorithms.md"
    text = page.read_text()
    if DOCS_BEGIN not in text or DOCS_END not in text:
        raise SystemExit(f"{page} has no generated section ({DOCS_BEGIN!r} ... {DOCS_END!r})")
    head, rest = text.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    page.write_text(f"{head}{DOCS_BEGIN}\n{report(document, figures)}\n{DOCS_END}{tail}")


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One document from several runs: rows of later runs replace the same (algorithm, size)."""
    merged = dict(documents[0])
    rows = {(r["algorithm"], r["nodes"]): r for r in merged["rows"]}
    for document in documents[1:]:
        rows.update({(r["algorithm"], r["nodes"]): r for r in document["rows"]})
        merged["curves"] = merged["curves"] or document["curves"]
        merged["command"] += f"`, then `{document['command']}"
        merged["seconds"] += document["seconds"]
        merged["sizes"] = sorted(set(merged["sizes"]) | set(document["sizes"]))
    order = {c.name: i for i, c in enumerate(CONTENDERS)}
    merged["rows"] = sorted(rows.values(), key=lambda r: (order[r["algorithm"]], r["nodes"]))
    # The latest reason for each (algorithm, size) still not measured, in the table's order.
    skipped = {(s["algorithm"], s["nodes"]): s for d in documents for s in d["skipped"]}
    merged["skipped"] = sorted(
        (s for key, s in skipped.items() if key not in rows),
        key=lambda s: (order[s["algorithm"]], s["nodes"]),
    )
    return merged


def render(document: dict[str, Any], out: Path) -> None:
    """Write compare.csv, compare.json and the figures of a run to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(document["rows"], out / "compare.csv")
    (out / "compare.json").write_text(json.dumps(document, indent=2, allow_nan=True) + "\n")
    title = f"placement algorithms, {document['keys']:,} keys: {document['machine_line']}"
    draw(document["rows"], out / "compare.png", title)
    if document["curves"]:
        draw_research(document["rows"], document["curves"], out / "compare-research.png", title)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes 10,100, 100k keys, a 100-node removal curve (CI smoke, < 1 min)",
    )
    parser.add_argument(
        "--sizes", help="comma-separated cluster sizes (default 10,100,...,1000000)"
    )
    parser.add_argument("--keys", type=int, help="integer keys per batch (default 1,000,000)")
    parser.add_argument(
        "--algorithms",
        help="comma-separated subset of: " + ", ".join(c.name for c in CONTENDERS),
    )
    parser.add_argument(
        "--out",
        help="output directory (default results/compare; with --from-json "
        "results/compare-merged, so the inputs are never overwritten)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="start no new row after this many minutes (the rest is listed as not measured)",
    )
    parser.add_argument(
        "--row-seconds",
        type=float,
        help="skip an algorithm's larger sizes once a row took longer than this (default 30)",
    )
    parser.add_argument("--no-curves", action="store_true", help="skip the removal curves")
    parser.add_argument(
        "--docs",
        action="store_true",
        help="also write the report into docs/algorithms.md and its figures into docs/",
    )
    parser.add_argument(
        "--from-json",
        help="render (and with --docs, document) saved compare.json files instead of "
        "measuring; several (comma-separated) are merged, later rows replacing earlier ones",
    )
    args = parser.parse_args(argv)
    out = Path(args.out or ("results/compare-merged" if args.from_json else "results/compare"))
    docs = Path(__file__).resolve().parent.parent / "docs"
    if args.from_json:
        document = merge([json.loads(Path(f).read_text()) for f in args.from_json.split(",")])
        document["notes"] = list(NOTES)  # the harness's current wording of its method
        render(document, out)
        if args.docs:
            write_docs(document, docs, out)
        print(report(document, ("compare.png", "compare-research.png")))
        return 0

    sizes = [10, 100] if args.quick else [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    if args.sizes:
        try:
            sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
        except ValueError:
            parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
        if any(s < 2 for s in sizes):
            parser.error(f"--sizes must be at least 2 nodes each, got {args.sizes!r}")
    n_keys = args.keys or (100_000 if args.quick else 1_000_000)
    if n_keys < 10_000:
        parser.error(f"--keys must be at least 10000, got {n_keys}")
    algorithms = args.algorithms.split(",") if args.algorithms else None
    known = {c.name for c in CONTENDERS}
    if algorithms and not set(algorithms) <= known:
        parser.error(
            f"unknown algorithm(s) {sorted(set(algorithms) - known)}; known: {sorted(known)}"
        )
    budget = QUICK if args.quick else FULL
    if args.row_seconds is not None:
        budget = dataclasses.replace(budget, row_seconds=args.row_seconds)
    command = "python benchmarks/compare_algorithms.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    header = machine_line()
    print("# Placement algorithms compared\n")
    sys.stdout.flush()

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    curves = [] if args.no_curves else removal_curves(budget, algorithms, progress)
    skipped: list[dict[str, Any]] = []
    deadline = None
    if args.max_minutes is not None:
        deadline = args.max_minutes * 60 - (time.perf_counter() - started)
    rows = run(sizes, n_keys, budget, algorithms, progress, skipped, deadline)
    elapsed = time.perf_counter() - started

    document = {
        "machine": machine(),
        "machine_line": header,
        "command": command.strip(),
        "sizes": sizes,
        "keys": n_keys,
        "seconds": elapsed,
        "notes": list(NOTES),
        "rows": rows,
        "curves": curves,
        "skipped": skipped,
    }
    render(document, out)
    if args.docs:
        write_docs(document, docs, out)
    print(report(document, ("compare.png", "compare-research.png")))
    print(f"\nwrote {out / 'compare.csv'}, {out / 'compare.json'} and the figures")
    broken = [r for r in rows if r["mono_violation"]]
    for r in broken:
        print(
            f"MONOTONICITY BROKEN: {r['algorithm']} at {r['nodes']:,} nodes moved "
            f"{r['mono_remove']:.3%} / {r['mono_restore']:.3%} of the keys between survivors",
            file=sys.stderr,
        )
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
