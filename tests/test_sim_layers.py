"""The simulator's layers: each module imports (at run time) only modules listed before it.

The order below is the one the README's layout section describes. Imports made only for type
checking (under ``if TYPE_CHECKING:``) may point anywhere: they create no dependency when the
code runs. A new module of ``sim`` must be added here, at the place its imports allow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

LAYERS: tuple[str, ...] = (
    # configuration: values, names, node references; the scenario reader
    "_config", "_placement", "_rules", "_scenario", "_reference",
    # engine, workload, hot-path counters, network, the observer interface
    "_engine", "_workload", "_counters", "_network", "_observer",
    # membership and cluster
    "_views", "_server", "_membership", "_cluster",
    # clients and the request path, wired together by the model
    "_clients", "_requests", "_model",
    # faults and metrics
    "_faults", "_metrics",
    # presentation, one run, statistics; many runs: where they execute, how their numbers
    # are written, their result, the sweep itself
    "report", "_run", "_stats", "_executors", "_sweep_format", "_sweep_result", "_sweep",
    # the live twin: a server process, a client process, the runner that merges their logs
    "_live_server", "_live_client", "_live_logs", "_live",
    # validation: calibrate from a live run, compare simulated and live runs metric by metric
    "_validate",
    # the command line
    "cli", "__main__",
)


def _runtime_imports(path: Path) -> set[str]:
    """The ``sim`` modules ``path`` imports outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                type_only.add(id(inner))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module.startswith("sim."):
                found.add(node.module.split(".")[1])
            elif node.module == "sim":
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sim."):
                    found.add(alias.name.split(".")[1])
    return found


def _modules() -> list[str]:
    return sorted(p.stem for p in SIM.glob("*.py") if p.stem != "__init__")


def test_every_module_has_a_layer() -> None:
    missing = [m for m in _modules() if m not in LAYERS]
    assert not missing, f"add {missing} to LAYERS in {__file__} where their imports allow"


@pytest.mark.parametrize("module", _modules())
def test_imports_only_lower_layers(module: str) -> None:
    if module not in LAYERS:
        pytest.skip("no layer yet (test_every_module_has_a_layer fails)")
    rank = LAYERS.index(module)
    imported = _runtime_imports(SIM / f"{module}.py") & set(LAYERS)
    upward = sorted(m for m in imported if LAYERS.index(m) >= rank)
    assert not upward, f"sim/{module}.py imports {upward}, which are not below it"


def test_no_module_reaches_for_another_modules_private_names() -> None:
    for module in _modules():
        tree = ast.parse((SIM / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sim"):
                private = [a.name for a in node.names if a.name.startswith("_")
                           and not a.name.startswith("__") and node.module != "sim"]
                assert not private, f"sim/{module}.py imports private {private} from {node.module}"
