"""Sweep executors: local processes against serial, and the per-run overhead of Dask.

What is measured (wall clock):

1. a 16-run grid (2 algorithms x 2 vnode counts x 4 replications of ``steady``, each run
   about a second) on the ``serial`` executor and on ``processes`` with one worker per core,
   alternating the two; min / median / max over repeats and the speed-up of the medians (the
   issue asks for at least 1.8x on a 2-core machine). Pool start-up is inside the processes
   timing: it is what a user waits for. The two executors' files are checked byte-identical.
   A speed-up needs idle cores: the load average is printed before and after. (On Linux with
   autogroup scheduling, ``/proc/sys/kernel/sched_autogroup_enabled``, CPU is shared between
   sessions rather than processes: while other sessions keep the cores busy, a sweep's
   workers share one session's share and the speed-up tends to 1.);
2. the per-run overhead of each executor on tiny runs: ``(wall - sum of run times / workers)
   / runs``, i.e. what an executor adds to each run beyond the simulation itself, for
   ``processes`` and for ``dask`` on a local cluster of the same size (the cluster is started
   once, outside the timing; its start-up is reported apart).

Run::

    python benchmarks/bench_sweep.py            # the full measurement (about two minutes)
    python benchmarks/bench_sweep.py --quick    # a smoke test for CI (seconds)

dask is in the ``dask`` extra (and ``dev``): ``pip install 'consistent-ring[dask]'``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run by path (python benchmarks/bench_sweep.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sim
from benchmarks.harness import stats, timed_call

GRID = {"placement.algorithm": ["ring", "rendezvous"], "placement.vnodes": [40, 160]}


def cores() -> int:
    """Cores this process may run on: the workers a processes sweep starts by default."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def speedup(duration: float, repeat: int, workers: int) -> dict[str, Any]:
    overrides = [f"duration={duration:g}"]
    replications = 4

    def serial() -> sim.SweepResult:
        return sim.sweep("steady", GRID, replications=replications, overrides=overrides,
                         executor="serial")

    def processes() -> sim.SweepResult:
        return sim.sweep("steady", GRID, replications=replications, overrides=overrides,
                         executor="processes", workers=workers)

    sim.run("steady", overrides=["duration=1"])  # warm imports and caches in this process
    serial_times: list[float] = []
    process_times: list[float] = []
    for _ in range(repeat):  # alternated, so a change in the machine's load hits both alike
        # One call each, no warm-up: the first call is real work (timed_call, the harness's).
        serial_result, seconds = timed_call(serial)
        serial_times.append(seconds)
        process_result, seconds = timed_call(processes)
        process_times.append(seconds)
    identical = (serial_result.runs_csv() == process_result.runs_csv()
                 and serial_result.to_json() == process_result.to_json())
    runs = len(serial_result.runs)
    per_run = statistics.median(r.wall_seconds for r in serial_result.runs)
    # Runs in progress at once, on average, and how much slower each ran than serially: two
    # workers busy (concurrency ~2) with each run twice as slow means the cores were not free.
    busy = sum(r.wall_seconds for r in process_result.runs)
    return {"runs": runs, "run_seconds": per_run, "serial": stats(serial_times),
            "processes": stats(process_times), "identical": identical,
            "concurrency": busy / process_result.wall_seconds,
            "slowdown": statistics.median(r.wall_seconds for r in process_result.runs) / per_run,
            "speedup": statistics.median(serial_times) / statistics.median(process_times)}


def overhead(executor: str, runs: int, workers: int, scheduler: Any = None) -> float:
    """Seconds an executor adds per run beyond the runs' own time (tiny runs)."""
    vary = {"cluster.servers": list(range(3, 3 + runs))}
    result = sim.sweep("steady", vary, replications=1, executor=executor, workers=workers,
                       scheduler=scheduler, overrides=["duration=0.2", "workload.rate=50"])
    assert not result.failed, result.failed
    busy = sum(r.wall_seconds for r in result.runs) / workers
    return max(0.0, (result.wall_seconds - busy) / runs)


def dask_overheads(runs: int, workers: int, repeat: int) -> dict[str, Any] | None:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        return None
    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster, set_as_default=False) as client:
        startup = time.perf_counter() - start
        overhead("dask", runs, workers, client)  # first use: workers import sim
        per_run = [overhead("dask", runs, workers, client) for _ in range(repeat)]
    return {"startup": startup, "per_run": stats(per_run)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny runs, once")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of each timing")
    parser.add_argument("--duration", type=float, default=120.0,
                        help="simulated seconds of each run of the 16-run grid")
    parser.add_argument("--workers", type=int, default=cores(),
                        help="workers (default: one per core)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.duration = 1, 1.0
    overhead_runs = 8 if args.quick else 40

    command = "python benchmarks/bench_sweep.py " + " ".join(sys.argv[1:] if argv is None
                                                             else argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# Sweep executors\n\nmachine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {load:.1f} at start\ncommand: `{command.strip()}`\n")

    result = speedup(args.duration, args.repeat, args.workers)
    print(f"## {result['runs']}-run grid (each run {result['run_seconds']:.2f} s), "
          f"{args.workers} workers, {args.repeat} repeats\n")
    print("| executor | min s | median s | max s |\n|---|---|---|---|")
    for name in ("serial", "processes"):
        s = result[name]
        print(f"| {name} | {s['min']:.2f} | {s['median']:.2f} | {s['max']:.2f} |")
    verdict = "meets" if result["speedup"] >= 1.8 else "misses"
    print(f"\nspeed-up (median / median): {result['speedup']:.2f}x ({verdict} 1.8x); files "
          f"byte-identical: {'yes' if result['identical'] else 'NO'}")
    print(f"processes, last repeat: {result['concurrency']:.2f} runs in progress on average, "
          f"each run {result['slowdown']:.2f}x as long as serially\n")

    print(f"## Per-run overhead, {overhead_runs} tiny runs, {args.workers} workers\n")
    print("| executor | min ms | median ms | max ms |\n|---|---|---|---|")
    local = [overhead("processes", overhead_runs, args.workers) for _ in range(args.repeat)]
    s = stats(local)
    print(f"| processes (pool start-up included) | {s['min'] * 1e3:.1f} | "
          f"{s['median'] * 1e3:.1f} | {s['max'] * 1e3:.1f} |")
    dask = dask_overheads(overhead_runs, args.workers, args.repeat)
    if dask is None:
        print("\ndask: not installed (pip install 'consistent-ring[dask]')")
    else:
        s = dask["per_run"]
        print(f"| dask, local cluster | {s['min'] * 1e3:.1f} | {s['median'] * 1e3:.1f} | "
              f"{s['max'] * 1e3:.1f} |")
        print(f"\nlocal Dask cluster start-up ({args.workers} worker processes): "
              f"{dask['startup']:.2f} s")
    if hasattr(os, "getloadavg"):
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (other processes share "
              f"the cores: a speed-up needs idle ones)")
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as handle:
            if handle.read().strip() == "1":
                print("autogroup scheduling is on: busy sessions elsewhere cap this one's "
                      "share, whatever its number of workers")
    except OSError:
        pass
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
