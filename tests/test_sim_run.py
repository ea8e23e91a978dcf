"""One run: sim.run's arguments, deterministic results and the files a result writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import ScenarioError, load_scenario, run

SMALL = ["duration=5", "workload.rate=300"]


def test_seed_argument_and_seed_override_are_the_same_run() -> None:
    by_argument = run("steady", seed=2, overrides=SMALL)
    by_override = run("steady", overrides=[*SMALL, "seed=2"])
    assert by_argument.to_json() == by_override.to_json()
    summary = json.loads(by_argument.to_json())
    assert summary["seed"] == summary["scenario"]["seed"] == 2
    assert by_argument.scenario.seed == 2
    assert run("steady", seed=3, overrides=SMALL).to_json() != by_argument.to_json()


@pytest.mark.parametrize("seed", [-1, 1.5, True, "2"])
def test_a_bad_seed_is_a_scenario_error(seed: object) -> None:
    with pytest.raises(ScenarioError, match="seed must be a non-negative integer"):
        run("steady", seed=seed, overrides=SMALL)  # type: ignore[arg-type]


def test_the_same_scenario_and_seed_give_byte_identical_json() -> None:
    scenario = load_scenario("crash", [*SMALL, "faults.0.at=2"])
    assert run(scenario).to_json() == run("crash", overrides=[*SMALL, "faults.0.at=2"]).to_json()


def test_a_single_override_string_is_one_override() -> None:
    result = run("steady", overrides="duration=2")
    assert result.scenario.duration == 2.0
    assert load_scenario("steady", "workload.rate=5").workload.rate == 5.0
    with pytest.raises(TypeError, match="int"):
        run("steady", overrides=5)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError) as excinfo:
        run("steady", overrides="w")
    # The library speaks of overrides, not of the command line's --set.
    assert "--set" not in str(excinfo.value) and "'w'" in str(excinfo.value)
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario("crash", ["faults.7.at=1"])
    assert "--set" not in str(excinfo.value)


def test_a_scenario_object_takes_no_overrides() -> None:
    scenario = load_scenario("steady", SMALL)
    assert run(scenario).scenario == scenario
    with pytest.raises(ScenarioError, match="overrides need a scenario name"):
        run(scenario, overrides=["seed=2"])


def test_a_bad_placement_option_is_named_by_its_key() -> None:
    with pytest.raises(ScenarioError) as excinfo:
        run("steady", overrides=[*SMALL, "placement.algorithm=multiprobe",
                                 "placement.options.probes=0"])
    message = str(excinfo.value)
    assert message.startswith("scenario 'steady' cannot start: placement.options.probes")


def test_save_writes_the_summary_and_time_series(tmp_path: Path) -> None:
    result = run("crash", seed=3, overrides=[*SMALL, "faults.0.at=2"])
    written = result.save(tmp_path / "out", figures=False)
    assert [p.name for p in written] == ["summary.json", "timeseries.csv",
                                         "timeseries_served.csv"]
    assert (tmp_path / "out" / "summary.json").read_text() == result.to_json()
    header, *rows = (tmp_path / "out" / "timeseries.csv").read_text().splitlines()
    assert header.startswith("time,issued,succeeded") and len(rows) == len(
        result.timeseries["time"])
    served_header = (tmp_path / "out" / "timeseries_served.csv").read_text().splitlines()[0]
    assert served_header.split(",") == ["time", *result.server_names]
