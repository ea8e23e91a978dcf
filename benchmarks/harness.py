"""The benchmark harness: timing, summary statistics, seeded keys and the machine's name.

Every benchmark script and notebook 02 measures the same way, through this module:

* :func:`timed` runs a callable once to warm up, then ``repeat`` times with the garbage
  collector paused, and returns the seconds of each run;
* :func:`timed_fresh` times ``act(prepare())`` without timing ``prepare`` (a mutation on a
  fresh copy), stopping early past a time budget;
* :func:`stats` summarises runs as min / median / max, scaled (per key, in ns, ...);
  ratios between implementations use medians.

Timings on a shared machine are noisy: compare medians across runs before reading much into
a difference under about 2x, and say which machine ran them (:func:`machine`).

>>> summary = stats(timed(lambda: sum(range(100)), repeat=3), scale=1e9)
>>> sorted(summary)
['max', 'median', 'min']
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "affordable",
    "machine",
    "machine_line",
    "sample_keys",
    "stats",
    "timed",
    "timed_call",
    "timed_fresh",
]

_T = TypeVar("_T")


def timed(
    fn: Callable[[], object],
    repeat: int,
    warmup: bool = True,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds per call of ``fn``, ``repeat`` times (after one warm-up), GC paused.

    ``clock`` is wall time by default; ``time.process_time`` measures the process's own
    CPU time instead, which on a machine shared with busy processes leaves out the time
    spent waiting for a core.
    """
    if warmup:
        fn()
    times = []
    gc.disable()
    try:
        for _ in range(repeat):
            start = clock()
            fn()
            times.append(clock() - start)
    finally:
        gc.enable()
    return times


def timed_fresh(
    prepare: Callable[[], Any], act: Callable[[Any], object], repeat: int, budget: float
) -> list[float]:
    """Time ``act(prepare())`` without timing ``prepare``; stop early past ``budget`` s."""
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat and (not times or spent < budget):
        subject = prepare()
        gc.disable()
        try:
            start = time.perf_counter()
            act(subject)
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        times.append(elapsed)
        spent += elapsed
    return times


def timed_call(fn: Callable[[], _T]) -> tuple[_T, float]:
    """``fn()``'s result and the wall seconds it took (one call, no warm-up)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def stats(times: Sequence[float], scale: float = 1.0) -> dict[str, float]:
    """``{"min", "median", "max"}`` of ``times``, each multiplied by ``scale``."""
    scaled = [t * scale for t in times]
    return {"min": min(scaled), "median": statistics.median(scaled), "max": max(scaled)}


def affordable(per_key: float, budget: float, available: int, floor: int) -> int:
    """How many keys one pass can afford within ``budget`` seconds (at least ``floor``)."""
    if per_key <= 0:
        return available
    return max(min(floor, available), min(available, int(budget / per_key)))


def sample_keys(n: int, seed: int = 0) -> npt.NDArray[np.uint64]:
    """``n`` seeded uint64 integer keys: the same keys for every benchmark and run."""
    return np.random.default_rng(seed).integers(0, 2**64, size=n, dtype=np.uint64)


def machine() -> dict[str, Any]:
    """What ran the benchmark: platform, processor, Python, numpy, CPU count."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
    }


def machine_line() -> str:
    """:func:`machine` as one line for a report's header."""
    info = machine()
    return (
        f"{info['platform']}, {info['processor']}, {info['cpu_count']} CPUs, "
        f"{info['python']}, numpy {info['numpy']}"
    )
