"""Every placement algorithm of ``consistent``, side by side, on the same keys in one run.

Issue "The placement-algorithm family under one protocol": one command measures each
algorithm at each cluster size and prints a Markdown table; it also writes ``compare.csv``,
``compare.json`` and ``compare.png`` (a 2x2 figure) to ``--out``.

    python benchmarks/compare_algorithms.py                 # sizes 10..10,000, 1M keys
    python benchmarks/compare_algorithms.py --quick         # CI smoke: 10 and 100, 100k keys
    python benchmarks/compare_algorithms.py --sizes 10,100,1000 --keys 500000 --out DIR

Algorithms: every entry of ``consistent.ALGORITHMS``, built with those of the options
vnodes=160, table_size=65537 (Maglev; at 1,000+ nodes a second series with the paper's
recommended M > 100 N, the next prime), probes=21 and eps=0.25 that its class declares, all
with the default xxh3 key hash. The class's facts choose the method: how peak-to-mean is
measured (exact ownership, counted over keys, or a stateful algorithm's loads) and which
node a removal takes.
Removal takes the middle node (JumpHash: the last, the only one it can remove).

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
alone, where it would go now). Timings on a shared machine are noisy: compare medians
across runs before reading much into a difference under about 2x.
"""

from __future__ import annotations

import argparse
import copy
import csv
import gc
import json
import math
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
from consistent import ALGORITHMS, BoundedLoadRing, HashRing, Maglev, Placement

MAGLEV_TABLE = 65537
# Seconds: builds slower than this are not repeated under tracemalloc (see ``measure``).
TRACE_BUILD_LIMIT = 1.0
# The peak-to-mean panel's y axis stops here; rows above it are labelled at the edge.
P2M_PLOT_MAX = 2.0
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
    # The most integer keys a row uses at ``n`` nodes (None: all of them).
    key_cap: Callable[[int], int] | None = None


# The settings compared, per constructor option (an algorithm takes those it declares).
OPTIONS: dict[str, Any] = {"vnodes": 160, "table_size": MAGLEV_TABLE, "probes": 21, "eps": 0.25}
# Algorithms whose lookups cost O(n) per key: cap keys x nodes so 10,000 nodes stay within
# minutes.
LINEAR_PER_KEY = {"rendezvous"}


def contender(name: str) -> Contender:
    """The comparison's configuration of ``consistent.ALGORITHMS[name]``, from its facts."""
    cls = ALGORITHMS[name]
    options = {key: OPTIONS[key] for key in sorted(cls.options) if key in OPTIONS}
    label = ", ".join(f"{key}={value}" for key, value in options.items())
    label = label.replace(f"table_size={MAGLEV_TABLE}", f"M={MAGLEV_TABLE}")
    label = label.replace("probes=", "k=")

    def build(names: list[str]) -> Placement:
        placement: Placement = cls(names, **options)
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


FULL = Budget(0.25, 50_000, 2.0, 5, 200_000)
QUICK = Budget(0.05, 5_000, 0.3, 3, 50_000)


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
    return row


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
    colors = plt.get_cmap("tab10")
    markers = "osD^v<>ph*"
    for ax, (column, label, yscale) in zip(axes.flat, panels, strict=True):
        for i, name in enumerate(algorithms):
            mine = [r for r in rows if r["algorithm"] == name]
            sizes = [r["nodes"] for r in mine]
            style = {"color": colors(i), "marker": markers[i % len(markers)], "label": name}

            def value(r: dict[str, Any], key: str) -> float:
                v = r[key]
                return float(v["median"] if isinstance(v, dict) else v)

            ax.plot(sizes, [value(r, column) for r in mine], **style)
            if column == "move_join":
                ax.plot(
                    sizes,
                    [value(r, "move_remove") for r in mine],
                    color=colors(i),
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
                (r for r in rows if r["p2m_method"] == "keys"), key=lambda r: r["p2m_keys_count"]
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
            top = max(r["p2m"] for r in rows)
            if top > P2M_PLOT_MAX:
                ax.set_ylim(top=P2M_PLOT_MAX)
                for r in rows:
                    if r["p2m"] > P2M_PLOT_MAX:
                        ax.annotate(
                            f"{r['algorithm']} {r['p2m']:.2f} ({_count(r['keys'])} keys)",
                            (r["nodes"], P2M_PLOT_MAX),
                            xytext=(-4, -12),
                            textcoords="offset points",
                            ha="right",
                            fontsize="small",
                        )
            ax.set_title("peak-to-mean (exact where the algorithm gives it, else over the keys)")
        else:
            ax.set_title(label)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 8))
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


NOTES = (
    "scalar: node_for on str keys; batch: lookup_many on uint64 integer keys; medians.",
    "keys: integer keys behind peak/mean (where counted) and movement, a prefix of the same "
    "keys for every row; batch ns/key uses all of them except for Rendezvous (O(n) per key, "
    f"capped at {RENDEZVOUS_PAIRS:.0e} key-node pairs). BoundedLoadRing replays assign on a "
    "prefix (one Python call per key).",
    "memory: sys.getsizeof (HashRing implements __sizeof__); † = tracemalloc, the allocation "
    "held after building (the build's peak is in the CSV); ‡ = tracemalloc of copy.deepcopy of the "
    f"structure, for builds slower than {TRACE_BUILD_LIMIT:g} s (tracing them takes ~10x "
    "longer; a deep copy shares immutable ints, so it reads low). Node-name strings not "
    "counted.",
    "p2m from: exact = ownership() of the structure (ring arcs, Maglev table, MultiProbe's "
    "closed form over its points); keys = counted over the keys (where ownership() is the "
    "expected 1/n or weight share: jump, memento, rendezvous); assign = BoundedLoadRing loads "
    "after assigning every key. floor = peak/mean a perfectly uniform placement shows on as "
    "many keys (sampling noise).",
    "move: moved / optimal (share of the node that joined or left). Removal takes the middle "
    "node, JumpHash its last bucket. exact = HashRing.movement_to; keys = counted over the "
    "keys; replay = BoundedLoadRing keys re-assigned on the changed membership.",
    f"Maglev uses M={MAGLEV_TABLE}; the paper recommends M > 100 N (a prime) for balance, "
    "shown as 'Maglev M>100N' where 65537 falls short (1,000+ nodes). Movement needs far more "
    "(its excess grows with N**2 / M, see consistent/_maglev.py).",
    "add/remove: one membership change applied to a copy; BoundedLoadRing's remove "
    "re-places the leaving node's assigned items.",
)


# -------------------------------------------------------------------------------- main


def run(
    sizes: Sequence[int],
    n_keys: int,
    budget: Budget,
    algorithms: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure every contender at every size; the rows of the table, in order."""
    int_keys = sample_keys(n_keys, seed=0)
    str_keys = [f"key-{i}" for i in range(budget.scalar_max_keys)]
    rows = []
    for contender in CONTENDERS:
        if algorithms and contender.name not in algorithms:
            continue
        for n in sizes:
            if n < contender.min_nodes:
                continue
            start = time.perf_counter()
            rows.append(measure(contender, n, int_keys, str_keys, budget))
            if progress:
                progress(f"{contender.name:>16} n={n:<6} {time.perf_counter() - start:6.1f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="sizes 10,100 and 100k keys (CI smoke, < 20 s)"
    )
    parser.add_argument("--sizes", help="comma-separated cluster sizes (default 10,100,1000,10000)")
    parser.add_argument("--keys", type=int, help="integer keys per batch (default 1,000,000)")
    parser.add_argument(
        "--algorithms",
        help="comma-separated subset of: " + ", ".join(c.name for c in CONTENDERS),
    )
    parser.add_argument("--out", default="results/compare", help="output directory")
    args = parser.parse_args(argv)

    sizes = [10, 100] if args.quick else [10, 100, 1_000, 10_000]
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
    command = "python benchmarks/compare_algorithms.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    info = machine()
    header = machine_line()
    print(f"# Placement algorithms compared\n\nmachine: {header}\ncommand: `{command.strip()}`\n")
    sys.stdout.flush()

    started = time.perf_counter()
    rows = run(
        sizes,
        n_keys,
        budget,
        algorithms,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    elapsed = time.perf_counter() - started

    print(markdown_table(rows))
    print()
    for note in NOTES:
        print(f"- {note}")
    print(f"\ntotal {elapsed:.1f} s")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "compare.csv")
    document = {
        "machine": info,
        "command": command.strip(),
        "sizes": sizes,
        "keys": n_keys,
        "seconds": elapsed,
        "notes": list(NOTES),
        "rows": rows,
    }
    (out / "compare.json").write_text(json.dumps(document, indent=2, allow_nan=True) + "\n")
    draw(rows, out / "compare.png", f"placement algorithms, {n_keys:,} keys: {header}")
    print(f"wrote {out / 'compare.csv'}, {out / 'compare.json'}, {out / 'compare.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
