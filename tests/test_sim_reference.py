"""The scenario reference: `show`'s TOML and docs/scenarios.md, both from the configuration."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

import sim
from sim._config import FAULT_KINDS, Scenario
from sim._placement import ALGORITHMS
from sim._reference import fault_settings, reference_markdown, scenario_toml, settings, toml_value
from sim._rules import KEY_LIMITS, describe_rule
from sim._scenario import SECTIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _every_key() -> list[str]:
    keys = [s.key for s in settings()]
    for section in SECTIONS:
        keys += [s.key for s in settings(section)]
    return keys


def test_docs_scenarios_md_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("make_scenarios",
                                                  ROOT / "docs" / "make_scenarios.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), "run: python docs/make_scenarios.py"
    assert module.main(["--check"]) == 0


def test_the_reference_names_every_key_default_and_fault_kind() -> None:
    text = reference_markdown()
    for key in _every_key():
        assert f"| `{key}` |" in text, key
    for kind, cls in FAULT_KINDS.items():
        assert f"### `{kind}`" in text
        for field in dataclasses.fields(cls):
            if field.init:
                assert f"| `{field.name}` |" in text
    for name in ALGORITHMS:
        assert f"| `{name}` |" in text
    # Cross-value limits are stated beside their key.
    assert "at most `cluster.servers`" in text and "10,000,000" in text
    assert "| `clients.health_check_jitter` | string | `\"full\"` |" in text


@pytest.mark.parametrize("name", sorted(sim.list_scenarios()))
def test_show_text_parses_back_to_the_same_scenario(name: str) -> None:
    scenario = sim.load_scenario(name)
    text = scenario_toml(scenario, sim.builtin_toml(name))
    assert sim.parse_scenario(tomllib.loads(text)) == scenario
    # The built-in's own opening comment (what it is for) comes first.
    assert text.splitlines()[0] == sim.builtin_toml(name).splitlines()[0]
    assert text.splitlines()[0].startswith("# ")
    # Without the original text there is nothing to keep: the settings come first.
    assert scenario_toml(scenario).startswith("# Every setting")


def test_show_text_sets_every_key_explicitly() -> None:
    text = scenario_toml(sim.load_scenario("crash"))
    data = tomllib.loads(text)
    for key in _every_key():
        table: Any = data
        for part in key.split("."):
            assert part in table, key
            table = table[part]
    assert data["placement"]["options"] == {}
    assert data["clients"]["health_check_jitter"] == "full"


def test_show_text_has_a_template_of_every_fault_kind_that_parses() -> None:
    text = scenario_toml(sim.load_scenario("steady"))
    for kind in FAULT_KINDS:
        marker = f"# kind = \"{kind}\"\n"
        assert marker in text, kind
        # Uncommenting a template gives a fault that validates, with the defaults shown.
        block = text.split(marker)[1].split("\n#\n")[0].split("\n\n")[0]
        lines = [line[2:] for line in block.splitlines() if line.startswith("# ")
                 and "=" in line.split("#")[1]]
        fault = tomllib.loads(f'kind = "{kind}"\n' + "\n".join(lines))
        defaults = {f.name: f.default for f in dataclasses.fields(FAULT_KINDS[kind]) if f.init}
        assert {k: v for k, v in fault.items() if k != "kind"} == defaults
        kind_class = FAULT_KINDS[kind]
        assert kind_class(**{k: v for k, v in fault.items() if k != "kind"}) == kind_class()


def test_a_scenario_with_options_shows_them_as_an_inline_table() -> None:
    scenario = sim.load_scenario("steady", ["placement.algorithm=multiprobe",
                                            "placement.options.probes=5"])
    text = scenario_toml(scenario)
    assert "options = { probes = 5 }" in text
    assert sim.parse_scenario(tomllib.loads(text)) == scenario


def test_every_rule_used_in_the_configuration_is_described() -> None:
    classes: list[type[Any]] = [Scenario, *SECTIONS.values(), *FAULT_KINDS.values()]
    for cls in classes:
        for field in dataclasses.fields(cls):
            if "check" in field.metadata:
                kind, _ = describe_rule(field.metadata["check"])
                assert kind and field.metadata["doc"], (cls.__name__, field.name)


def test_every_cross_value_limit_names_a_real_key() -> None:
    keys = set(_every_key())
    fault_fields = {s.key for kind in FAULT_KINDS for s in fault_settings(kind)}
    for key in KEY_LIMITS:
        if key.startswith("faults."):
            assert key.removeprefix("faults.") in fault_fields, key
        else:
            assert key in keys, key


def test_toml_values() -> None:
    assert [toml_value(v) for v in (False, 3, 1e-05, "a\"b", (1, 2))] == [
        "false", "3", "1e-05", '"a\\"b"', "[1, 2]"]
    with pytest.raises(ValueError, match="finite"):
        toml_value(float("nan"))
    with pytest.raises(TypeError):
        toml_value(object())
