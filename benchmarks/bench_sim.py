"""Simulator throughput, and a head-to-head with the same model written in SimPy.

What is measured (wall clock, one process, one core):

1. the default scenario (``rolling-restart`` at its built-in size): events per second and
   simulated requests per second of wall time; min / median / max over repeats;
2. the reference run: 100 servers, 50 clients, 20,000 requests/s for 120 simulated seconds
   with a rolling restart (about 2.4 million requests), which should take under 60 s;
3. ``sim`` against ``benchmarks/simpy_model.py`` on the default scenario: the wall-time ratio
   (same seeds, same parameters) and whether the results agree statistically (Welch's t over
   seeds, per metric; |t| < 3 passes).

Run::

    python benchmarks/bench_sim.py            # everything (a few minutes)
    python benchmarks/bench_sim.py --quick    # a smoke test for CI (a few seconds)
    python benchmarks/bench_sim.py --skip-reference --seeds 10

simpy is in the ``bench`` extra: ``pip install 'consistent-ring[bench]'``.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
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
    "success_ratio", "latency_mean", "latency_p50", "latency_p99", "forwarded_per_attempt",
    "timeouts_per_attempt", "retried_per_request", "served_cv",
)


def sim_metrics(result: sim.RunResult) -> dict[str, float]:
    """The figures the SimPy model also reports, from a ``sim`` result."""
    s = result.summary
    req = s["requests"]
    served = np.array(list(s["load"]["served_share"].values()))
    served = served[: result.scenario.cluster.servers]
    return {
        "success_ratio": req["succeeded"] / req["issued"],
        "latency_mean": s["latency"]["mean"],
        "latency_p50": s["latency"]["p50"],
        "latency_p99": s["latency"]["p99"],
        "forwarded_per_attempt": req["forwarded"] / req["attempts"],
        "timeouts_per_attempt": req["attempt_timeouts"] / req["attempts"],
        "retried_per_request": req["retried"] / req["issued"],
        "served_cv": float(served.std() / served.mean()),
    }


def timed_runs(overrides: list[str], repeats: int, seed: int = 1) -> list[sim.RunResult]:
    """``repeats`` runs of the default scenario with ``overrides`` (the first warms up)."""
    return [sim.run(sim.DEFAULT_SCENARIO, seed=seed, overrides=overrides)
            for _ in range(repeats)]


def report_throughput(label: str, results: list[sim.RunResult]) -> None:
    wall = stats([r.performance["wall_seconds"] for r in results])
    events = results[0].performance["events"]
    requests = results[0].performance["requests"]
    print(f"{label}: {requests:,.0f} requests, {events:,.0f} events")
    print(f"  wall s      min {wall['min']:7.2f}  median {wall['median']:7.2f}  "
          f"max {wall['max']:7.2f}")
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


def compare_with_simpy(overrides: list[str], seeds: int) -> bool:
    """Time both models on the same seeds and test each metric for equality."""
    from simpy_model import run_simpy

    scenario = sim.load_scenario(sim.DEFAULT_SCENARIO, overrides)
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    our_wall: list[float] = []
    their_wall: list[float] = []
    for seed in range(1, seeds + 1):
        result, seconds = timed_call(lambda: sim.run(scenario, seed=seed))  # noqa: B023
        our_wall.append(seconds)
        ours.append(sim_metrics(result))
        simpy_result, seconds = timed_call(lambda: run_simpy(scenario, seed))  # noqa: B023
        their_wall.append(seconds)
        theirs.append(simpy_result.metrics())
    mine, other = stats(our_wall), stats(their_wall)
    ratio = other["median"] / mine["median"]
    print(f"sim vs SimPy on {scenario.name!r} ({scenario.duration:g} s simulated, "
          f"{seeds} seeds; wall time includes set-up)")
    print(f"  sim   wall s  min {mine['min']:6.2f}  median {mine['median']:6.2f}"
          f"  max {mine['max']:6.2f}")
    print(f"  SimPy wall s  min {other['min']:6.2f}  median "
          f"{other['median']:6.2f}  max {other['max']:6.2f}")
    print(f"  speed-up (median SimPy / median sim): {ratio:.2f}x")
    print(f"  {'metric':<24}{'sim mean':>12}{'SimPy mean':>12}{'t':>8}")
    equal = True
    for metric in METRICS:
        a = [r[metric] for r in ours]
        b = [r[metric] for r in theirs]
        t = welch_t(a, b)
        ok = abs(t) < 3
        equal &= ok
        print(f"  {metric:<24}{statistics.mean(a):12.5g}{statistics.mean(b):12.5g}{t:8.2f}"
              f"{'' if ok else '  DIFFERS'}")
    print(f"  statistically equal (all |t| < 3): {'yes' if equal else 'no'}")
    return equal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: a few seconds")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=8, help="seeds for the SimPy comparison")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-simpy", action="store_true")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.machine()} "
          f"({platform.processor() or platform.platform()})")
    info: dict[str, Any] = {}
    if args.quick:
        report_throughput("default scenario, 20 s", timed_runs(["duration=20"], 2))
        if not args.skip_simpy:
            compare_with_simpy(["duration=20"], seeds=3)
        return 0
    report_throughput(f"default scenario ({sim.DEFAULT_SCENARIO})",
                      timed_runs([], args.repeats))
    if not args.skip_reference:
        results = timed_runs(REFERENCE, 2)
        report_throughput("reference run (100 servers, 50 clients, 20k req/s, 120 s)", results)
        info["reference_wall"] = min(r.performance["wall_seconds"] for r in results)
        print(f"  under 60 s: {'yes' if info['reference_wall'] < 60 else 'NO'}")
    if not args.skip_simpy:
        compare_with_simpy(["duration=60"], seeds=args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
