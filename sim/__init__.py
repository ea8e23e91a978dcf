"""sim: a discrete-event simulator of a consistent-hashing cluster under faults.

Run a built-in scenario (or a TOML file, or a dict) and get a result object::

    >>> import sim
    >>> result = sim.run("steady", overrides=["duration=2", "workload.rate=200"])
    >>> result.summary["conservation"]["conserved"]
    True

The command line (``consistent-sim``) calls exactly these functions. The building blocks
(fault configurations, server names, placements and key popularity) are public for
models written against the same scenario, such as ``benchmarks/simpy_model.py``.
"""

from sim._config import Crash, Restart, RollingRestart, Scenario, node_index, server_names
from sim._engine import Engine
from sim._live import run_live
from sim._placement import ALGORITHMS, build_placement, home_codes
from sim._run import RunResult, run
from sim._scenario import (
    DEFAULT_SCENARIO,
    ScenarioError,
    builtin_toml,
    list_scenarios,
    load_scenario,
    parse_scenario,
)
from sim._sweep import Comparison, compare, sweep
from sim._sweep_result import Run, SweepResult
from sim._validate import Calibration, Validation, calibrate, validate
from sim._workload import KeyPopularity

__all__ = [
    # running
    "run",
    "compare",
    "RunResult",
    "Comparison",
    "sweep",
    "SweepResult",
    "Run",
    # the live twin and validation against it
    "run_live",
    "validate",
    "calibrate",
    "Validation",
    "Calibration",
    # scenarios
    "load_scenario",
    "parse_scenario",
    "list_scenarios",
    "builtin_toml",
    "Scenario",
    "ScenarioError",
    "DEFAULT_SCENARIO",
    # building blocks
    "ALGORITHMS",
    "Engine",
    "Crash",
    "Restart",
    "RollingRestart",
    "server_names",
    "node_index",
    "build_placement",
    "home_codes",
    "KeyPopularity",
]
