"""FlipHash and JumpBackHash against jump hash: scalar, batch, and cost against bucket count.

Issue 15's speed targets: batch lookups over 10**6 integer keys at 1,000 buckets within
20 ns/key (``flip_hash_many``) and 30 ns/key (``jump_back_hash_many``), scalar pure-Python
lookups within 1 us, and lookup cost flat in the number of buckets (jump hash's grows with
its logarithm). Also JumpBackAnchor's batch lookups as 0-90 % of 1,000 buckets are removed.

    python benchmarks/bench_range_hashes.py            # 10**6 keys, sizes 10 .. 10**6
    python benchmarks/bench_range_hashes.py --quick    # 10**5 keys, fewer sizes and repeats

Method: the same seeded uint64 keys for every function; one warm-up call, then repeats
with the garbage collector paused; min / median / max per key. Times are the process's
CPU time (``time.process_time``; every function timed is single-threaded), which other
processes on a shared machine disturb far less than wall-clock time. Scalar timings call the
public function (argument checks included) on a sample of the keys. The C extension
``jump-consistent-hash`` (module ``jump``) is timed as a scalar reference when installed.
Timings on a shared machine are noisy: compare medians, and ratios within one run.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

import consistent
from consistent import (
    FlipHash,
    JumpBackAnchor,
    JumpBackAnchorBuckets,
    JumpBackHash,
    JumpHash,
    flip_hash,
    flip_hash_many,
    jump_back_hash,
    jump_back_hash_many,
    jump_hash,
    jump_hash_many,
)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """CPU seconds per call of ``fn``, ``repeat`` times after one warm-up, GC paused."""
    fn()
    times = []
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
    finally:
        gc.enable()
    return times


def summary(times: Sequence[float], per: int) -> tuple[float, float, float]:
    """(min, median, max) in ns per item."""
    scaled = [t / per * 1e9 for t in times]
    return min(scaled), statistics.median(scaled), max(scaled)


def fmt(stats: tuple[float, float, float]) -> str:
    return f"{stats[1]:8.1f} ({stats[0]:.1f}-{stats[2]:.1f})"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer keys, sizes and repeats")
    parser.add_argument("--keys", type=int, default=None, help="batch keys (default 10**6)")
    args = parser.parse_args(argv)
    n_keys = args.keys or (100_000 if args.quick else 1_000_000)
    repeat = 3 if args.quick else 7
    sizes = [10, 1000, 100_000] if args.quick else [10, 100, 1000, 10_000, 100_000, 1_000_000]
    keys = np.random.default_rng(2024).integers(0, 2**64, size=n_keys, dtype=np.uint64)
    sample = keys[: 2_000 if args.quick else 20_000].tolist()

    print(
        f"consistent {consistent.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    print(f"{n_keys:,} uint64 keys; ns/key as median (min-max) of {repeat} runs\n")

    print("## Batch, ns/key, against the number of buckets")
    header = f"{'buckets':>9} | {'flip_hash_many':>24} | {'jump_back_hash_many':>24} | "
    print(header + f"{'jump_hash_many':>24} | jump/flip | jump/jumpback")
    for n in sizes:
        flip = summary(timed(lambda n=n: flip_hash_many(keys, n), repeat), n_keys)
        back = summary(timed(lambda n=n: jump_back_hash_many(keys, n), repeat), n_keys)
        jump = summary(timed(lambda n=n: jump_hash_many(keys, n), repeat), n_keys)
        print(
            f"{n:>9,} | {fmt(flip):>24} | {fmt(back):>24} | {fmt(jump):>24} | "
            f"{jump[1] / flip[1]:9.2f} | {jump[1] / back[1]:13.2f}"
        )

    print("\n## Batch worst cases (n just above a power of two: most re-draws)")
    for n in (513, 1025):
        flip = summary(timed(lambda n=n: flip_hash_many(keys, n), repeat), n_keys)
        back = summary(timed(lambda n=n: jump_back_hash_many(keys, n), repeat), n_keys)
        print(f"{n:>9,} | flip {fmt(flip)} | jumpback {fmt(back)}")

    print("\n## Scalar (pure Python, argument checks included), ns/call")
    try:
        import jump as jump_c  # the C extension jump-consistent-hash, if installed
    except ImportError:
        jump_c = None
    for n in (10, 1000, 1_000_000):
        row = [f"{n:>9,}"]
        for label, fn in (
            ("flip_hash", flip_hash),
            ("jump_back_hash", jump_back_hash),
            ("jump_hash", jump_hash),
        ):
            stats = summary(
                timed(lambda fn=fn, n=n: [fn(k, n) for k in sample], repeat), len(sample)
            )
            row.append(f"{label} {fmt(stats)}")
        if jump_c is not None:
            stats = summary(
                timed(lambda n=n: [jump_c.hash(k, n) for k in sample], repeat), len(sample)
            )
            row.append(f"jump (C ext) {fmt(stats)}")
        print(" | ".join(row))
    if jump_c is None:
        print("(jump-consistent-hash not installed: no C reference point)")

    print("\n## Placement classes at 1,000 nodes: lookup_codes on integer keys (xxh3 included)")
    nodes = [f"node-{i}" for i in range(1000)]
    str_keys = [f"key-{i}" for i in range(len(sample))]
    for cls in (FlipHash, JumpBackHash, JumpBackAnchor, JumpHash):
        placement = cls(nodes)
        batch = summary(timed(lambda p=placement: p.lookup_codes(keys), repeat), n_keys)
        one = summary(
            timed(lambda p=placement: [p.node_for(k) for k in str_keys], repeat), len(str_keys)
        )
        print(f"{cls.__name__:>14} | lookup_codes {fmt(batch)} | node_for (str) {fmt(one)}")

    print("\n## JumpBackAnchor batch, ns/key, 1,000 buckets, removed in random order")
    order = np.random.default_rng(7).permutation(1000).tolist()
    engine = JumpBackAnchorBuckets.with_buckets(1000)
    removed = 0
    for percent in (0, 10, 50, 90):
        while removed < percent * 10:
            engine.remove_bucket(order[removed])
            removed += 1
        stats = summary(timed(lambda: engine.buckets_many(keys), repeat), n_keys)
        one = summary(timed(lambda: [engine.bucket(k) for k in sample], repeat), len(sample))
        print(
            f"{percent:>3} % removed | batch {fmt(stats)} | scalar {fmt(one)} | "
            f"state {len(engine.get_state()):,} bytes"
        )


if __name__ == "__main__":
    main()
