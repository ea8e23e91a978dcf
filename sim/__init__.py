"""sim: a discrete-event simulator of a consistent-hashing cluster under faults.

Run a built-in scenario (or a TOML file, or a dict) and get a result object::

    >>> import sim
    >>> result = sim.run("steady", overrides=["duration=2", "workload.rate=200"])
    >>> result.summary["conservation"]["conserved"]
    True

The command line (``consistent-sim``) calls exactly these functions.
"""

from sim._config import Scenario
from sim._engine import Engine
from sim._placement import ALGORITHMS
from sim._run import RunResult, run
from sim._scenario import (
    DEFAULT_SCENARIO,
    ScenarioError,
    builtin_toml,
    list_scenarios,
    load_scenario,
    parse_scenario,
)
from sim._sweep import Comparison, Run, SweepResult, compare, sweep

__all__ = [
    # running
    "run",
    "compare",
    "RunResult",
    "Comparison",
    "sweep",
    "SweepResult",
    "Run",
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
]
