"""Benchmark: one request through the pool (pick + start + finish), in nanoseconds.

The issue's target: at most 2 microseconds median per request with 100 endpoints (p2c).
Each sample times a batch of requests and divides; the script warms up, repeats, and prints
min / median / max nanoseconds per request for each strategy and for ``acquire`` + ``finish``.

    python benchmarks/bench_pool.py            # full run
    python benchmarks/bench_pool.py --quick    # smoke run for CI (a couple of seconds)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from consistent import Outcome, Pool

TARGET_NS = 2000.0


def _pick_start_finish(pool: Pool, batch: int) -> Callable[[], None]:
    pick, start, finish = pool.pick, pool.start, pool.finish
    success = Outcome.SUCCESS

    def run() -> None:
        now = 0.0
        for _ in range(batch):
            finish(start(pick(now), now), success, now)

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


def measure(run: Callable[[], None], batch: int, repeats: int) -> tuple[float, float, float]:
    """Warm up, then time ``repeats`` batches; (min, median, max) ns per request."""
    run()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - t0) / batch)
    return min(samples), statistics.median(samples), max(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run for CI")
    parser.add_argument("--endpoints", type=int, default=100)
    args = parser.parse_args(argv)
    batch, repeats = (1_000, 20) if args.quick else (10_000, 50)
    names = [f"10.0.{i // 256}.{i % 256}:8080" for i in range(args.endpoints)]

    print(f"Pool, {args.endpoints} endpoints, {repeats} x {batch} requests, ns per request")
    print(f"{'case':<36} {'min':>8} {'median':>8} {'max':>8}")
    cases = []
    for strategy in ("p2c", "random", "round_robin", "first_idle"):
        pool = Pool(names, rng=random.Random(1), strategy=strategy)
        cases.append((f"{strategy}: pick+start+finish", _pick_start_finish(pool, batch)))
    pool = Pool(names, rng=random.Random(1))
    cases.append(("p2c: acquire+finish", _acquire_finish(pool, batch)))
    pool = Pool(names, rng=random.Random(1))
    cases.append(("p2c: 50 in flight", _with_pending(pool, batch)))
    pool = Pool(names, rng=random.Random(1), max_pending=10_000, max_pending_per_endpoint=100)
    cases.append(("p2c: with pending limits", _pick_start_finish(pool, batch)))

    headline = None
    for label, run in cases:
        lo, med, hi = measure(run, batch, repeats)
        headline = med if headline is None else headline
        print(f"{label:<36} {lo:8.0f} {med:8.0f} {hi:8.0f}")
    assert headline is not None
    verdict = "meets" if headline <= TARGET_NS else "MISSES"
    print(f"p2c pick+start+finish median {headline:.0f} ns {verdict} the {TARGET_NS:.0f} ns target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
