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
from sim._config import FAULT_KINDS, Outage
from sim._rules import MAX_REQUESTS
from sim._scenario import apply_overrides, builtin_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUILTINS = sorted(p.stem for p in (Path(sim.__file__).parent / "scenarios").glob("*.toml"))


def test_builtins_are_listed_and_valid() -> None:
    listed = sim.list_scenarios()
    assert sorted(listed) == BUILTINS
    assert {"steady", "crash", "rolling-restart", "join", "decommission"} <= set(BUILTINS)
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
    with pytest.raises(ScenarioError, match="the scenario has no fault 3"):
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


def _outage(fault: dict[str, object], node: int = -1) -> Outage:
    """The outage ``fault`` causes by its kind's own definition (a graceful drain included)."""
    fields = {k: v for k, v in fault.items() if k != "kind"}
    outages = FAULT_KINDS[str(fault["kind"])](**fields).outages(10)
    return outages[0] if node < 0 else next(o for o in outages if o.node == node)


def _out(fault: dict[str, object], node: int = -1) -> str:
    """When ``fault`` takes a server out, as the messages say it: ``from 2 to 5``."""
    outage = _outage(fault, node)
    if outage.end == float("inf"):
        return f"for good from {outage.start:g}"
    return f"from {outage.start:g} to {outage.end:g}"


_RESTART_2_5 = {"kind": "restart", "at": 2.0, "node": 1, "downtime": 3.0}
_RESTART_3_6 = {"kind": "restart", "at": 3.0, "node": "s001", "downtime": 3.0}
_ROLLING = {"kind": "rolling-restart", "at": 10.0, "pace": 5.0, "downtime": 2.0}
_DECOMMISSION = {"kind": "decommission", "at": 3.0, "node": 2, "drain": 1.0}
_RESTART_LATE = {"kind": "restart", "at": 10.0, "node": 2}
_RESTART_AT_5 = {"kind": "restart", "at": 4.0, "node": "s002", "downtime": 4.0}
_OVERLAPS = {
    "two-crashes": ([_CRASH_2, {"kind": "crash", "at": 7.0, "node": "s002"}],
                    "faults[1] (crash) takes s002 out for good from 7, but faults[0] (crash) "
                    "already has it out for good from 5: faults on one server must not overlap"),
    "restarts": ([_RESTART_2_5, _RESTART_3_6],
                 f"faults[1] (restart) takes s001 out {_out(_RESTART_3_6)}, but faults[0] "
                 f"(restart) already has it out {_out(_RESTART_2_5)}"),
    # Listed in the other order: the outage that starts later is named first.
    "restarts-listed-backwards": (
        [_RESTART_3_6, _RESTART_2_5],
        f"faults[0] (restart) takes s001 out {_out(_RESTART_3_6)}, but faults[1] (restart) "
        f"already has it out {_out(_RESTART_2_5)}"),
    # One ending exactly when the next begins overlaps too: their order would be arbitrary.
    "touching": ([_RESTART_2_5, {"kind": "crash", "at": _outage(_RESTART_2_5).end, "node": 1}],
                 f"faults[1] (crash) takes s001 out for good from {_outage(_RESTART_2_5).end:g}, "
                 f"but faults[0] (restart) already has it out {_out(_RESTART_2_5)}"),
    # s002 is the third server of a rolling restart: out 20 s after its start.
    "rolling-restart": ([_ROLLING, {"kind": "restart", "at": 21.0, "node": 2}],
                        f"faults[1] (restart) takes s002 out {_out(_RESTART_LATE | {'at': 21.0})}"
                        f", but faults[0] (rolling-restart) already has it out "
                        f"{_out(_ROLLING, node=2)}"),
    # A restart cannot bring back a server a crash or a decommission ended for good.
    "crash-then-rolling": ([_CRASH_2, _ROLLING],
                           f"faults[1] (rolling-restart) takes s002 out {_out(_ROLLING, node=2)}"
                           f", but faults[0] (crash) already has it out for good from 5"),
    "restart-then-crash": ([_RESTART_AT_5, _CRASH_2],
                           f"faults[1] (crash) takes s002 out for good from 5, but faults[0] "
                           f"(restart) already has it out {_out(_RESTART_AT_5)}"),
    "decommission-then-restart": (
        [_DECOMMISSION, _RESTART_LATE],
        f"faults[1] (restart) takes s002 out {_out(_RESTART_LATE)}, but faults[0] "
        f"(decommission) already has it out for good from 3"),
}


@pytest.mark.parametrize("case", sorted(_OVERLAPS))
def test_overlapping_faults_on_one_server_are_rejected_naming_both(case: str) -> None:
    faults, message = _OVERLAPS[case]
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"duration": 60, "faults": faults})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_faults_that_do_not_overlap_are_allowed() -> None:
    scenario = parse_scenario({"duration": 60, "faults": [
        {"kind": "restart", "at": 1.0, "node": 2, "downtime": 2.0},
        {"kind": "crash", "at": 20.0, "node": 2},
        {"kind": "rolling-restart", "at": 10.0, "nodes": 2, "pace": 5.0},
        {"kind": "restart", "at": 2.0, "node": 3, "downtime": 30.0},
        {"kind": "network-delay", "at": 2.0, "duration": 50.0},
        {"kind": "restart", "at": 40.0, "node": 0, "downtime": 1.0},
    ]})
    assert [f.kind for f in scenario.faults] == [
        "restart", "crash", "rolling-restart", "restart", "network-delay", "restart"]


def test_every_fault_kind_says_which_servers_it_takes_out_and_when() -> None:
    inf = float("inf")
    for kind, cls in FAULT_KINDS.items():
        fault = cls()
        outages = cls().outages(4)
        assert all(isinstance(o, Outage) and o.start >= fault.at and o.end > o.start
                   for o in outages), kind
        if hasattr(fault, "node"):  # a fault on one server takes out that server only
            assert [o.node for o in outages] == [0] and outages[0].start == fault.at, kind
    assert FAULT_KINDS["crash"]().outages(4) == (Outage(0, 10.0, inf),)
    assert FAULT_KINDS["decommission"]().outages(4) == (Outage(0, 10.0, inf),)
    assert FAULT_KINDS["join"]().outages(4) == FAULT_KINDS["network-delay"]().outages(4) == ()
    restart = FAULT_KINDS["restart"]()
    (outage,) = restart.outages(4)
    assert outage.end >= restart.at + restart.downtime
    rolling = FAULT_KINDS["rolling-restart"]()
    assert [(o.node, o.start) for o in rolling.outages(4)] == [
        (k, 10.0 + 10 * k) for k in range(4)]
    assert len(FAULT_KINDS["rolling-restart"](nodes=2).outages(4)) == 2


def test_servers_a_join_adds_can_be_targeted_after_they_start() -> None:
    faults = [{"kind": "join", "at": 5.0, "count": 2},
              {"kind": "restart", "at": 6.0, "node": 10, "downtime": 2.0},
              {"kind": "crash", "at": 9.0, "node": "s011"}]
    scenario = parse_scenario({"duration": 15, "workload": {"rate": 300}, "faults": faults})
    result = sim.run(scenario)
    downs = [(f["node"], f["kind"], f["down_at"], f["up_at"])
             for f in result.summary["recovery"]["faults"] if f["kind"] != "join"]
    assert downs == [("s010", "restart", 6.0, 8.0), ("s011", "crash", 9.0, None)]


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ([{"kind": "crash", "at": 3.0, "node": "s010"}, {"kind": "join", "at": 5.0, "count": 2}],
         "faults[0] (crash) takes s010 out at 3, but it starts only at 5 (added by faults[1], "
         "a join): a fault on it must come after that"),
        ([{"kind": "join", "at": 5.0}, {"kind": "restart", "at": 5.0, "node": 10}],
         "faults[1] (restart) takes s010 out at 5, but it starts only at 5"),
        ([{"kind": "join", "at": 5.0, "count": 2}, {"kind": "crash", "at": 7.0, "node": 12}],
         "faults[1].node must name one of the 12 servers (0..11 or 's000'..'s011'; 10 at the "
         "start and 2 that join faults add), got 12"),
        ([{"kind": "crash", "at": 7.0, "node": "s010"}],
         "faults[0].node must name one of the 10 servers (0..9 or 's000'..'s009'), got 's010'"),
    ],
    ids=["before-the-join", "at-the-join", "beyond-the-joined", "no-join"],
)
def test_a_fault_must_name_a_server_that_exists_by_then(
    faults: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"duration": 60, "faults": faults})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("scenario", "override", "message"),
    [
        ("steady", "faults.0.at=3",
         "override faults.0.at: the scenario has no fault 0 (it has no faults)"),
        ("crash", "faults.3.at=1",
         "override faults.3.at: the scenario has no fault 3 (it has 1: faults.0)"),
        ("crash", "faults.first.at=1",
         "override faults.first.at: faults are indexed by number from 0, got 'first' "
         "(the scenario has 1: faults.0)"),
    ],
)
def test_an_override_of_a_missing_fault_says_so(
    scenario: str, override: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario, [override])
    assert str(caught.value).endswith(message)
    assert "{" not in str(caught.value)  # no internal representation


def test_a_built_in_name_is_never_shadowed_by_a_file_or_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim._scenario import is_scenario_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "crash").mkdir()
    (tmp_path / "steady").write_text("duration = 3\n")
    assert load_scenario("crash") == load_scenario(Path(sim.__file__).parent / "scenarios"
                                                   / "crash.toml")
    assert load_scenario("steady").duration == 60.0  # the built-in, not the file
    # Asking for the file: a path separator, a .toml suffix or a Path.
    assert load_scenario("./steady").duration == 3.0
    assert load_scenario(Path("steady")).duration == 3.0
    with pytest.raises(ScenarioError, match=r"cannot read scenario file '\./crash'"):
        load_scenario("./crash")
    # A name that is no built-in but a file says how to run the file.
    (tmp_path / "mine").write_text("duration = 4\n")
    with pytest.raises(ScenarioError, match=r"no built-in scenario 'mine'.*write '\./mine'"):
        load_scenario("mine")
    assert [is_scenario_path(s) for s in ("crash", "a/b", "x.toml", Path("crash"))] == [
        False, True, True, True]


def test_hot_keys_must_be_fewer_than_keys_with_the_hot_set_only() -> None:
    with pytest.raises(ScenarioError, match=r"workload\.hot_keys must be less than "
                                            r"workload\.keys \(1,000\).*got 1,000$"):
        parse_scenario({"workload": {"popularity": "hotset", "keys": 1000, "hot_keys": 1000}})
    # Only the hot-set popularity uses hot_keys.
    assert parse_scenario({"workload": {"popularity": "zipf", "keys": 5,
                                        "hot_keys": 10}}).workload.hot_keys == 10


def test_overlapping_network_delays_are_rejected_naming_both() -> None:
    delays = [{"kind": "network-delay", "at": 10.0, "duration": 5.0, "extra": 0.01},
              {"kind": "network-delay", "at": 12.0, "duration": 8.0, "extra": 0.02}]
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"duration": 60, "faults": delays})
    assert str(caught.value).startswith(
        "faults[1] (network-delay) from 12 to 20 overlaps faults[0] (network-delay) from 10 "
        "to 15: network delays must not overlap")
    # One after the other is fine.
    delays[1]["at"] = 15.5
    assert len(parse_scenario({"duration": 60, "faults": delays}).faults) == 2


_FAULT_STRATEGY = st.one_of(
    st.fixed_dictionaries({"kind": st.just("crash"), "at": st.integers(0, 30),
                           "node": st.integers(0, 4)}),
    st.fixed_dictionaries({"kind": st.just("restart"), "at": st.integers(0, 30),
                           "node": st.integers(0, 4), "downtime": st.integers(1, 6)}),
    st.fixed_dictionaries({"kind": st.just("hang"), "at": st.integers(0, 30),
                           "node": st.integers(0, 4), "duration": st.integers(1, 6)}),
    st.fixed_dictionaries({"kind": st.just("rolling-restart"), "at": st.integers(0, 30),
                           "pace": st.integers(1, 8), "downtime": st.integers(1, 6),
                           "nodes": st.integers(1, 5)}),
)


@given(st.lists(_FAULT_STRATEGY, max_size=5))
def test_overlap_check_agrees_with_a_naive_pairwise_check(
    faults: list[dict[str, object]]
) -> None:
    # The naive model: every pair of outages of every pair of faults, on the same server,
    # as closed intervals.
    outages = [(i, o) for i, f in enumerate(faults)
               for o in FAULT_KINDS[str(f["kind"])](
                   **{k: v for k, v in f.items() if k != "kind"}).outages(5)]
    overlapping = any(a.node == b.node and a.start <= b.end and b.start <= a.end
                      for n, (i, a) in enumerate(outages) for j, b in outages[n + 1:]
                      if (i, a) != (j, b))
    try:
        parse_scenario({"duration": 80, "cluster": {"servers": 5}, "faults": faults})
    except ScenarioError as exc:
        assert overlapping, str(exc)
        assert "must not overlap" in str(exc)
    else:
        assert not overlapping
