"""AnchorHash, DxHash, PowerCH and BinomialHash: lookup time, scalar and batch, at 1,000 nodes.

Beside them, jump hash and MementoHash from the same run for scale. Also the research
benchmark's incremental-removal curve for the two that remove any node: lookups as 0-90 %
of 1,000 nodes are removed in random order (AnchorHash with capacity 1,000, DxHash with its
default 1,024).

    python benchmarks/bench_research_algorithms.py            # 10**6 keys
    python benchmarks/bench_research_algorithms.py --quick    # 10**5 keys, fewer repeats

Method: the same seeded uint64 integer keys for every algorithm; one warm-up, then repeats
with the garbage collector paused, timed in process CPU time (``time.process_time``: other
processes on the shared machine disturb it far less than wall-clock time); median
(min-max). "Batch" is ``lookup_codes`` over all keys, key hashing included (ns/key);
"scalar" is ``node_for`` on a sample of the keys (ns/call, hashing included).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

if __package__ in (None, ""):  # run by path (python benchmarks/bench_research_algorithms.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import machine_line, sample_keys, stats, timed
from consistent import AnchorHash, BinomialHash, DxHash, JumpHash, MementoHash, PowerCH

NODES = [f"node-{i}" for i in range(1000)]


def fmt(summary: dict[str, float]) -> str:
    return f"{summary['median']:8.1f} ({summary['min']:.1f}-{summary['max']:.1f})"


def measure(
    placement: Any, keys: npt.NDArray[np.uint64], sample: list[int], repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    """(batch ns/key, scalar ns/call) of one placement, in CPU time."""
    cpu = time.process_time
    batch = stats(timed(lambda: placement.lookup_codes(keys), repeat, clock=cpu), 1e9 / keys.size)
    node_for = placement.node_for
    scalar = stats(
        timed(lambda: [node_for(k) for k in sample], repeat, clock=cpu), 1e9 / len(sample)
    )
    return batch, scalar


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10**5 keys, fewer repeats")
    args = parser.parse_args(argv)
    n_keys = 100_000 if args.quick else 1_000_000
    repeat = 3 if args.quick else 5
    keys = sample_keys(n_keys, seed=2024)
    sample = keys[: 2_000 if args.quick else 10_000].tolist()

    print(machine_line())
    print(f"{n_keys:,} uint64 keys, 1,000 nodes; median (min-max) of {repeat} runs\n")
    print(f"{'algorithm':<14} | {'batch ns/key':>24} | scalar ns/call")
    for placement in (
        AnchorHash(NODES),
        AnchorHash(NODES, capacity=1000),
        DxHash(NODES),
        PowerCH(NODES),
        BinomialHash(NODES),
        JumpHash(NODES),
        MementoHash(NODES),
    ):
        name = type(placement).__name__
        label = name if name != "AnchorHash" else f"Anchor a={placement.capacity}"
        batch, scalar = measure(placement, keys, sample, repeat)
        print(f"{label:<14} | {fmt(batch):>24} | {fmt(scalar)}")

    print("\n## Removing 0-90 % of 1,000 nodes in random order (batch ns/key | scalar ns/call)")
    order = np.random.default_rng(7).permutation(1000).tolist()
    for placement in (AnchorHash(NODES, capacity=1000), DxHash(NODES), MementoHash(NODES)):
        removed = 0
        for percent in (0, 10, 50, 90):
            while removed < percent * 10:
                placement.remove(NODES[order[removed]])
                removed += 1
            batch, scalar = measure(placement, keys, sample, repeat)
            print(f"{type(placement).__name__:<12} {percent:>3} % | {fmt(batch)} | {fmt(scalar)}")


if __name__ == "__main__":
    main()
