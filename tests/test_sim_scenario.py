"""Scenario files: built-ins, validation errors naming key/value/expected, overrides."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim import ScenarioError, load_scenario, parse_scenario
from sim._scenario import MAX_REQUESTS, apply_overrides, builtin_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUILTINS = ["steady", "crash", "rolling-restart", "join", "decommission"]


def test_builtins_are_listed_and_valid() -> None:
    listed = sim.list_scenarios()
    assert sorted(listed) == sorted(BUILTINS)
    assert sim.DEFAULT_SCENARIO in listed
    for name in BUILTINS:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert listed[name] == scenario.description
        # show prints TOML that parses back to the same scenario
        assert parse_scenario(tomllib.loads(builtin_toml(name))) == scenario


def test_scenario_is_immutable() -> None:
    scenario = load_scenario("steady")
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.duration = 5.0  # type: ignore[misc]


def test_a_copied_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(builtin_toml("crash").replace("at = 20.0", "at = 7.5"))
    assert load_scenario(str(path)).faults[0].at == 7.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[workload]\nrate = -5\n", "workload.rate must be a positive number, got -5"),
        ("[workload]\nrte = 5\n", "unknown key 'workload.rte' (expected one of:"),
        ("colour = 'red'\n", "unknown key 'colour'"),
        ("[cluster]\nservers = 2\nreplication = 3\n",
         "cluster.replication must be at most cluster.servers (2), got 3"),
        ("[cluster]\nservers = 2.5\n", "cluster.servers must be an integer, got 2.5"),
        ("[clients]\nstrategy = 'fastest'\n", "clients.strategy must be one of 'p2c'"),
        ("[placement]\nalgorithm = 'magic'\n", "placement.algorithm must be one of 'ring'"),
        ("[[faults]]\nkind = 'meteor'\n", "faults[0].kind must be one of 'crash'"),
        ("[[faults]]\nkind = 'crash'\nnode = 99\n", "faults[0].node must name one of the 10"),
        ("[[faults]]\nkind = 'crash'\nwhen = 3\n", "unknown key 'faults[0].when'"),
        ("[[faults]]\nkind = 'crash'\nat = 1e6\n", "faults[0].at must be within the run"),
        ("[clients]\nretry_backoff_cap = 0.001\n",
         "clients.retry_backoff_cap must be at least clients.retry_backoff_base (0.01), got 0.001"),
        ("[workload]\nhot_fraction = 1.5\n",
         "workload.hot_fraction must be a number between 0 and 1, got 1.5"),
        ("[placement]\nalgorithm = 'jump'\n[[faults]]\nkind = 'crash'\n",
         "cannot remove arbitrary nodes"),
        ("[placement]\noptions = { probes = 3 }\n", "unknown key 'placement.options.probes'"),
    ],
)
def test_bad_values_name_the_key_value_and_expectation(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(str(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ScenarioError, match="is not valid TOML"):
        load_scenario(str(bad))
    with pytest.raises(ScenarioError, match="no built-in scenario 'stedy'"):
        load_scenario("stedy")


def test_overrides_apply_before_validation() -> None:
    scenario = load_scenario("rolling-restart", ["faults.0.downtime=2", "placement.vnodes=50",
                                                 "placement.algorithm=rendezvous"])
    assert scenario.faults[0].downtime == 2.0
    assert scenario.placement.vnodes == 50
    assert scenario.placement.algorithm == "rendezvous"
    with pytest.raises(ScenarioError, match="override expects key=value"):
        load_scenario("steady", ["workload.rate"])
    with pytest.raises(ScenarioError, match="must index one of the 1 entries"):
        load_scenario("crash", ["faults.3.at=1"])
    with pytest.raises(ScenarioError, match=r"workload\.rate must be a positive number"):
        load_scenario("steady", ["workload.rate=0"])


def test_overrides_do_not_mutate_their_input() -> None:
    data = {"workload": {"rate": 1.0}}
    apply_overrides(data, ["workload.rate=2"])
    assert data == {"workload": {"rate": 1.0}}


@given(st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                 st.text(max_size=5), st.booleans()))
def test_rate_is_accepted_exactly_when_a_positive_number(value: object) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    # A positive rate is accepted up to the expected-requests limit over the default 60 s.
    too_many = number and value * 60 > MAX_REQUESTS  # type: ignore[operator]
    good = number and not too_many
    try:
        scenario = parse_scenario({"workload": {"rate": value}})
    except ScenarioError as exc:
        assert not good
        if too_many:
            assert str(exc).startswith("workload.rate x duration must be at most")
        else:
            assert str(exc).startswith("workload.rate must be")
            assert repr(value) in str(exc)
    else:
        assert good and scenario.workload.rate == float(value)  # type: ignore[arg-type]


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_unknown_keys_are_always_rejected_by_name(key: str) -> None:
    known = {f.name for f in dataclasses.fields(sim.Scenario().clients)}
    if key in known:
        return
    with pytest.raises(ScenarioError, match=f"unknown key 'clients.{key}'"):
        parse_scenario({"clients": {key: 1}})


_CRASH_2 = {"kind": "crash", "at": 5.0, "node": 2}


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ([_CRASH_2, {"kind": "rolling-restart", "at": 10.0, "pace": 5.0, "downtime": 2.0}],
         "faults[1] (rolling-restart) would bring s002 back up at 22, but faults[0] "
         "(crash at 5) takes it down for good"),
        ([{"kind": "restart", "at": 8.0, "node": "s002", "downtime": 4.0}, _CRASH_2],
         "faults[0] (restart) would bring s002 back up at 12, but faults[1] (crash at 5)"),
        ([{"kind": "decommission", "at": 3.0, "node": 2, "drain": 1.0},
          {"kind": "restart", "at": 10.0, "node": 2}],
         "faults[1] (restart) would bring s002 back up at 15, but faults[0] "
         "(decommission at 3) takes it down for good"),
    ],
)
def test_a_restart_cannot_bring_back_a_server_that_is_gone_for_good(
    faults: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"duration": 60, "faults": faults})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_restart_that_ends_before_the_crash_is_allowed() -> None:
    scenario = parse_scenario({"duration": 60, "faults": [
        {"kind": "restart", "at": 1.0, "node": 2, "downtime": 2.0}, _CRASH_2,
        {"kind": "rolling-restart", "at": 10.0, "nodes": 2, "pace": 5.0},
    ]})
    assert [f.kind for f in scenario.faults] == ["restart", "crash", "rolling-restart"]
