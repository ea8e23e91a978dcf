"""Benchmark: one request through the pool (pick + start + finish), in nanoseconds.

The target: at most 2 microseconds median per request with 100 endpoints, for every strategy
(peak-EWMA included) and every preset. Each sample times a batch of requests and divides;
the harness (``benchmarks.harness.timed``) warms up, pauses the GC and repeats; the script
prints min / median / max nanoseconds per request and whether each median meets the target.

    python benchmarks/bench_pool.py            # full run
    python benchmarks/bench_pool.py --quick    # smoke run for CI (a few seconds)
    python benchmarks/bench_pool.py --cpu-time # CPU time, not wall time: on a shared machine

On a machine shared with other busy processes, wall-clock samples include the time the
process waited for a core; ``--cpu-time`` times with ``time.process_time`` instead (the
process's own CPU time), which is what the pool costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run by path (python benchmarks/bench_pool.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import stats, timed
from consistent import PRESETS, STRATEGIES, Outcome, Pool

TARGET_NS = 2000.0


def _pick_start_finish(pool: Pool, batch: int) -> Callable[[], None]:
    pick, start, finish = pool.pick, pool.start, pool.finish
    success = Outcome.SUCCESS
    clock = [0.0]

    def run() -> None:
        # Time advances (1 ms per request) so that latency-aware strategies and timed
        # detectors see a moving clock, as in production.
        now = clock[0]
        for _ in range(batch):
            finish(start(pick(now), now), success, now + 0.0005)
            now += 0.001
        clock[0] = now

    return run


def _acquire_finish(pool: Pool, batch: int) -> Callable[[], None]:
    acquire, finish = pool.acquire, pool.finish
    success = Outcome.SUCCESS

    def run() -> None:
        now = 0.0
        for _ in range(batch):
            finish(acquire(now)[1], success, now)

    return run


def _with_pending(pool: Pool, batch: int) -> Callable[[], None]:
    """Keep 50 requests in flight so p2c compares real loads; still one request per loop."""
    pick, start, finish = pool.pick, pool.start, pool.finish
    success = Outcome.SUCCESS
    in_flight = [start(pick(0.0), 0.0) for _ in range(50)]

    def run() -> None:
        now = 0.0
        for i in range(batch):
            k = i % 50
            finish(in_flight[k], success, now)
            in_flight[k] = start(pick(now), now)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run for CI")
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--cpu-time", action="store_true", help="CPU time instead of wall time")
    args = parser.parse_args(argv)
    batch, repeats = (1_000, 10) if args.quick else (10_000, 30)
    names = [f"10.0.{i // 256}.{i % 256}:8080" for i in range(args.endpoints)]

    print(
        f"Pool, {args.endpoints} endpoints, {repeats} x {batch} requests, ns per request "
        f"(Python {platform.python_version()}, {platform.machine()}, "
        f"{'CPU' if args.cpu_time else 'wall'} time, load {os.getloadavg()[0]:.1f})"
    )
    timer = partial(timed, clock=time.process_time) if args.cpu_time else timed
    print(f"{'case':<40} {'min':>8} {'median':>8} {'max':>8}  target")
    cases: list[tuple[str, Callable[[], None], bool]] = []
    for strategy in STRATEGIES:
        pool = Pool(names, rng=random.Random(1), strategy=strategy)
        cases.append((f"{strategy}: pick+start+finish", _pick_start_finish(pool, batch), True))
    for preset in PRESETS:
        pool = Pool.preset(preset, names, rng=random.Random(1))
        cases.append((f"preset {preset}: pick+start+finish", _pick_start_finish(pool, batch), True))
    pool = Pool(names, rng=random.Random(1))
    cases.append(("p2c: acquire+finish", _acquire_finish(pool, batch), False))
    pool = Pool(names, rng=random.Random(1))
    cases.append(("p2c: 50 in flight", _with_pending(pool, batch), False))
    pool = Pool(names, rng=random.Random(1), max_pending=10_000, max_pending_per_endpoint=100)
    cases.append(("p2c: with pending limits", _pick_start_finish(pool, batch), False))

    missed = []
    for label, run, targeted in cases:
        s = stats(timer(run, repeats), scale=1e9 / batch)
        verdict = ""
        if targeted:
            verdict = "meets" if s["median"] <= TARGET_NS else "MISSES"
            if s["median"] > TARGET_NS:
                missed.append(label)
        print(f"{label:<40} {s['min']:8.0f} {s['median']:8.0f} {s['max']:8.0f}  {verdict}")
    if missed:
        print(f"{len(missed)} case(s) miss the {TARGET_NS:.0f} ns median target: {missed}")
    else:
        print(f"every strategy and preset meets the {TARGET_NS:.0f} ns median target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
