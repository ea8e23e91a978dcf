"""HashRing against uhashring, same process, same keys; prints ours / theirs as ratios.

Reference workload (issue "Foundation"): 100 nodes x 160 vnodes, 200,000 string keys for
scalar lookups, 1,000,000 keys for batch lookups, 1,000-node rings for build and
membership changes. Each measurement is warmed up, repeated, and reported as
min / median / max; ratios use medians.

    python benchmarks/bench_ring.py            # full run (about a minute)
    python benchmarks/bench_ring.py --quick    # smoke run for CI (a few seconds)
    python benchmarks/bench_ring.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run by path (python benchmarks/bench_ring.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import stats, timed
from consistent import HashRing

try:
    from uhashring import HashRing as UHashRing
except ImportError:  # pragma: no cover - the bench extra installs it
    UHashRing = None


def run(quick: bool) -> list[dict[str, object]]:
    nodes = [f"node-{i}" for i in range(100)]
    n_scalar = 20_000 if quick else 200_000
    n_batch = 100_000 if quick else 1_000_000
    repeat = 3 if quick else 7
    str_keys = [f"key-{i}" for i in range(max(n_scalar, n_batch))]
    int_keys = np.arange(n_batch, dtype=np.uint64)
    ours = HashRing(nodes, vnodes=160)
    theirs = UHashRing(nodes=nodes, vnodes=160) if UHashRing else None
    rows: list[dict[str, object]] = []

    def row(name: str, unit: str, mine: dict[str, float], other: dict[str, float] | None) -> None:
        ratio = other["median"] / mine["median"] if other else None
        rows.append(
            {"measure": name, "unit": unit, "ours": mine, "uhashring": other, "ratio": ratio}
        )

    scalar = str_keys[:n_scalar]
    node_for = ours.node_for
    mine = stats(timed(lambda: [node_for(k) for k in scalar], repeat), 1 / n_scalar)
    other = None
    if theirs:
        get_node = theirs.get_node
        other = stats(timed(lambda: [get_node(k) for k in scalar], repeat), 1 / n_scalar)
    row("node_for (str keys)", "s/key", mine, other)

    batch = str_keys[:n_batch]
    mine = stats(timed(lambda: ours.lookup_many(batch), repeat), 1 / n_batch)
    other = None
    if theirs:
        # uhashring has no batch API: its per-key loop is what users would write.
        sample = batch[: n_batch // 10]
        other = stats(timed(lambda: [get_node(k) for k in sample], repeat), 1 / len(sample))
    row("lookup_many (str keys)", "s/key", mine, other)

    mine = stats(timed(lambda: ours.lookup_many(int_keys), repeat), 1 / n_batch)
    other = None
    if theirs:
        sample_ints = int_keys[: n_batch // 10].tolist()
        other = stats(
            timed(lambda: [get_node(k) for k in sample_ints], repeat), 1 / len(sample_ints)
        )
    row("lookup_many (int keys)", "s/key", mine, other)

    mine = stats(timed(lambda: ours.lookup_codes(int_keys), repeat), 1 / n_batch)
    row("lookup_codes (int keys)", "s/key", mine, None)

    big = [f"node-{i}" for i in range(1000)]
    build_repeat = 3 if quick else 5
    mine = stats(timed(lambda: HashRing(big), build_repeat))
    other = stats(timed(lambda: UHashRing(nodes=big, vnodes=160), build_repeat)) if theirs else None
    row("build 1,000-node ring", "s", mine, other)

    ring = HashRing(big)
    changes = 5 if quick else 20
    for label, change in (("add", ring.add), ("remove", ring.remove)):
        single = []
        for i in range(changes):
            start = time.perf_counter()
            change(f"join-{i}")
            single.append(time.perf_counter() - start)
        row(f"{label} one node {'to' if label == 'add' else 'of'} 1,000", "s", stats(single), None)
    if theirs:
        uring = UHashRing(nodes=big, vnodes=160)
        other_add = stats(timed(lambda: (uring.add_node("x"), uring.remove_node("x")), 3))
        rows[-1]["uhashring add+remove"] = other_add
    rows.append(
        {
            "measure": "memory per point (1,000 nodes)",
            "unit": "bytes",
            "ours": sys.getsizeof(ring) / ring.points.size,
        }
    )
    return rows


def fmt(value: float, unit: str) -> str:
    if unit == "s/key" or unit == "s":
        for scale, name in ((1e-9, "ns"), (1e-6, "us"), (1e-3, "ms")):
            if value < scale * 1000:
                return f"{value / scale:.1f} {name}"
        return f"{value:.2f} s"
    return f"{value:.1f} {unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI smoke runs")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rows = run(args.quick)
    print(
        f"# HashRing vs uhashring  ({platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, quick={args.quick})"
    )
    print(f"{'measure':34} {'ours (median)':>14} {'uhashring':>12} {'ratio':>8}")
    for r in rows:
        unit = str(r["unit"])
        ours = r["ours"]
        mine = ours["median"] if isinstance(ours, dict) else ours
        other = r.get("uhashring")
        theirs = fmt(other["median"], unit) if isinstance(other, dict) else "-"
        ratio = f"{r['ratio']:.1f}x" if r.get("ratio") else "-"
        print(f"{r['measure']:34} {fmt(float(mine), unit):>14} {theirs:>12} {ratio:>8}")
        extra = r.get("uhashring add+remove")
        if isinstance(extra, dict):
            print(
                f"{'  (uhashring add+remove one node)':34} {'':>14} {fmt(extra['median'], 's'):>12}"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
