"""Simulator throughput, and a head-to-head with the same model written in SimPy.

What is measured (wall clock, one process, one core):

1. the default scenario (``rolling-restart`` at its built-in size): events per second and
   simulated requests per second of wall time; min / median / max over repeats;
2. the reference run: 100 servers, 50 clients, 20,000 requests/s for 120 simulated seconds
   with a rolling restart (about 2.4 million requests), which should take under 60 s;
3. ``sim`` against ``benchmarks/simpy_model.py`` on the default scenario (a graceful rolling
   restart) and on the same rolling restart done as crashes (``graceful = false``, in
   ``mode`` refuse and blackhole): the wall-time ratio (same seeds, same parameters) and
   whether the results agree statistically (Welch's t over seeds, per metric; |t| < 3
   passes).

Wall time is what the targets are stated in; CPU time (``time.process_time``) is printed
beside it, since on a machine shared with other busy processes it moves much less.

Run::

    python benchmarks/bench_sim.py            # everything (a few minutes)
    python benchmarks/bench_sim.py --quick    # a smoke test for CI (a few seconds)
    python benchmarks/bench_sim.py --skip-reference --seeds 10
    python benchmarks/bench_sim.py --skip-reference --variant blackhole
    python benchmarks/bench_sim.py --skip-reference --set cluster.replication=1

simpy is in the ``bench`` extra: ``pip install 'consistent-ring[bench]'``.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run by path (python benchmarks/bench_sim.py)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # simpy_model, a sibling script

import sim
from benchmarks.harness import stats, timed_call

REFERENCE = [
    "cluster.servers=100",
    "clients.count=50",
    "workload.rate=20000",
    "duration=120",
    # 100 servers in 120 s: one goes down every second, each for 3 s (up to 3 down at once).
    "faults.0.pace=1.0",
    "faults.0.downtime=3.0",
]

METRICS = (
    "success_ratio", "failed", "latency_mean", "latency_p50", "latency_p99",
    "forwarded_per_attempt", "fill_ins_per_attempt", "timeouts_per_attempt",
    "refused_per_attempt", "upstream_per_attempt", "retried_per_request", "served_cv",
)

#: The comparisons with SimPy: the default scenario, and its rolling restart as crashes.
VARIANTS: dict[str, list[str]] = {
    "graceful": [],
    "refuse": ["faults.0.graceful=false", 'faults.0.mode="refuse"'],
    "blackhole": ["faults.0.graceful=false", 'faults.0.mode="blackhole"'],
}


def sim_metrics(result: sim.RunResult) -> dict[str, float]:
    """The figures the SimPy model also reports, from a ``sim`` result."""
    s = result.summary
    req = s["requests"]
    causes = req["attempt_failures_by_cause"]
    attempts = req["attempts"]
    served = np.array(list(s["load"]["served_share"].values()))
    served = served[: result.scenario.cluster.servers]
    return {
        "success_ratio": req["succeeded"] / req["issued"],
        "failed": float(req["failed"]),
        "latency_mean": s["latency"]["mean"],
        "latency_p50": s["latency"]["p50"],
        "latency_p99": s["latency"]["p99"],
        "forwarded_per_attempt": req["forwarded"] / attempts,
        "fill_ins_per_attempt": req["fill_ins"] / attempts,
        "timeouts_per_attempt": req["attempt_timeouts"] / attempts,
        "refused_per_attempt": causes["refused"] / attempts,
        "upstream_per_attempt": causes["upstream"] / attempts,
        "retried_per_request": req["retried"] / req["issued"],
        "served_cv": float(served.std() / served.mean()),
    }


def timed_cpu(fn: Any) -> tuple[Any, float, float]:
    """``fn()``'s result, its wall seconds (the harness's clock) and its CPU seconds."""
    cpu = time.process_time()
    result, wall = timed_call(fn)
    return result, wall, time.process_time() - cpu


def timed_runs(overrides: list[str], repeats: int, seed: int = 1
               ) -> tuple[list[sim.RunResult], list[float]]:
    """``repeats`` runs of the default scenario with ``overrides``, and each one's CPU s."""
    results, cpu = [], []
    for _ in range(repeats):
        result, _, seconds = timed_cpu(
            lambda: sim.run(sim.DEFAULT_SCENARIO, seed=seed, overrides=overrides))
        results.append(result)
        cpu.append(seconds)
    return results, cpu


def report_throughput(label: str, runs: tuple[list[sim.RunResult], list[float]]) -> None:
    results, cpu_seconds = runs
    wall = stats([r.performance["wall_seconds"] for r in results])
    cpu = stats(cpu_seconds)
    events = results[0].performance["events"]
    requests = results[0].performance["requests"]
    print(f"{label}: {requests:,.0f} requests, {events:,.0f} events")
    print(f"  wall s      min {wall['min']:7.2f}  median {wall['median']:7.2f}  "
          f"max {wall['max']:7.2f}")
    print(f"  CPU s       min {cpu['min']:7.2f}  median {cpu['median']:7.2f}  "
          f"max {cpu['max']:7.2f}  (run and summary)")
    best = wall["min"]
    print(f"  events/s    best {events / best:12,.0f}   median "
          f"{events / wall['median']:12,.0f}")
    print(f"  requests/s  best {requests / best:12,.0f}   median "
          f"{requests / wall['median']:12,.0f}")


def welch_t(a: list[float], b: list[float]) -> float:
    """Welch's t statistic of two samples (0 when both are constant and equal)."""
    va, vb = statistics.variance(a), statistics.variance(b)
    se = math.sqrt(va / len(a) + vb / len(b))
    diff = statistics.mean(a) - statistics.mean(b)
    if se == 0:
        return 0.0 if diff == 0 else math.inf
    return diff / se


def paired_t(a: list[float], b: list[float]) -> float:
    """The t statistic of the per-seed differences ``a[i] - b[i]`` (0 when all are 0)."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean = statistics.mean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    if se == 0:
        return 0.0 if mean == 0 else math.inf
    return mean / se


def compare_with_simpy(overrides: list[str], seeds: int, variant: str = "graceful") -> bool:
    """Time both models on the same seeds and test each metric for equality."""
    from simpy_model import run_simpy

    scenario = sim.load_scenario(sim.DEFAULT_SCENARIO, [*overrides, *VARIANTS[variant]])
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    our_wall: list[float] = []
    their_wall: list[float] = []
    our_cpu: list[float] = []
    their_cpu: list[float] = []
    for seed in range(1, seeds + 1):
        result, wall, cpu = timed_cpu(lambda: sim.run(scenario, seed=seed))  # noqa: B023
        our_wall.append(wall)
        our_cpu.append(cpu)
        ours.append(sim_metrics(result))
        simpy_result, wall, cpu = timed_cpu(lambda: run_simpy(scenario, seed))  # noqa: B023
        their_wall.append(wall)
        their_cpu.append(cpu)
        theirs.append(simpy_result.metrics())
    fault = scenario.faults[0]
    how = "graceful" if fault.graceful else f"crash, mode {fault.mode}"
    print(f"sim vs SimPy on {scenario.name!r} ({how}; {scenario.duration:g} s simulated, "
          f"{seeds} seeds; times include set-up)")
    for label, mine_s, other_s in (("wall", our_wall, their_wall), ("CPU", our_cpu, their_cpu)):
        mine, other = stats(mine_s), stats(other_s)
        print(f"  sim   {label:<4} s  min {mine['min']:6.2f}  median {mine['median']:6.2f}"
              f"  max {mine['max']:6.2f}")
        print(f"  SimPy {label:<4} s  min {other['min']:6.2f}  median {other['median']:6.2f}"
              f"  max {other['max']:6.2f}")
        print(f"  speed-up, {label} (median SimPy / median sim): "
              f"{other['median'] / mine['median']:.2f}x")
    # Both models take the seed's key popularity from the same stream, so seeds pair up;
    # the verdict is Welch's t (unpaired, conservative), the paired t is the sharper look.
    print(f"  {'metric':<24}{'sim mean':>12}{'SimPy mean':>12}{'t':>8}{'paired t':>10}")
    equal = True
    for metric in METRICS:
        a = [r[metric] for r in ours]
        b = [r[metric] for r in theirs]
        t = welch_t(a, b)
        ok = abs(t) < 3
        equal &= ok
        print(f"  {metric:<24}{statistics.mean(a):12.5g}{statistics.mean(b):12.5g}{t:8.2f}"
              f"{paired_t(a, b):10.2f}{'' if ok else '  DIFFERS'}")
    print(f"  statistically equal (all |t| < 3): {'yes' if equal else 'no'}"
          f"{'' if seeds >= 8 else f' ({seeds} seeds: a smoke test, too few for a verdict)'}")
    return equal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: a few seconds")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=8, help="seeds for the SimPy comparison")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS),
                        help="rolling restart compared with SimPy: graceful (the default "
                             "scenario), refuse or blackhole (crashes); repeatable; "
                             "default: all three")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a scenario override for the SimPy comparisons (repeatable), "
                             "e.g. cluster.replication=1")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-simpy", action="store_true")
    args = parser.parse_args(argv)
    variants = args.variant or list(VARIANTS)
    print(f"python {platform.python_version()} on {platform.machine()} "
          f"({platform.processor() or platform.platform()})")
    info: dict[str, Any] = {}
    if args.quick:
        report_throughput("default scenario, 20 s", timed_runs(["duration=20"], 2))
        if not args.skip_simpy:
            for variant in args.variant or ["graceful"]:
                compare_with_simpy(["duration=20", *args.set], seeds=3, variant=variant)
        return 0
    report_throughput(f"default scenario ({sim.DEFAULT_SCENARIO})",
                      timed_runs([], args.repeats))
    if not args.skip_reference:
        results = timed_runs(REFERENCE, 2)
        report_throughput("reference run (100 servers, 50 clients, 20k req/s, 120 s)", results)
        info["reference_wall"] = min(r.performance["wall_seconds"] for r in results[0])
        print(f"  under 60 s: {'yes' if info['reference_wall'] < 60 else 'NO'}")
    if not args.skip_simpy:
        for variant in variants:
            compare_with_simpy(["duration=60", *args.set], seeds=args.seeds, variant=variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
