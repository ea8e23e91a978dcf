"""The scenario reference, written from the configuration's own metadata so it cannot drift.

Every key a scenario may set is a field of a configuration class in :mod:`sim._config`,
whose ``metadata`` names its validation rule (``check``) and says what it means (``doc``);
every fault kind is a class there whose docstring says what happens. This module reads those
and nothing else, with the rules' types and limits from :mod:`sim._rules`:

* :func:`scenario_toml` is a scenario with every setting spelled out, each commented with
  its meaning, followed by every fault kind as a commented template
  (``consistent-sim show``). It parses back to the same scenario.
* :func:`reference_markdown` is ``docs/scenarios.md`` (``python docs/make_scenarios.py``
  writes it; a test fails when the committed file differs).

A key, default, limit or fault kind added to the configuration shows up in both at once.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import textwrap
from collections.abc import Iterator
from typing import Any

from sim._config import FAULT_KINDS, Scenario
from sim._placement import ALGORITHMS
from sim._rules import KEY_LIMITS, describe_rule
from sim._scenario import SECTIONS, TOP_LEVEL

__all__ = ["Setting", "reference_markdown", "scenario_toml", "settings", "toml_value"]


@dataclasses.dataclass(frozen=True)
class Setting:
    """One key a scenario may set: where it lives, its type, default, limits and meaning."""

    key: str
    """The dotted key (``clients.timeout``); a fault's field is ``at``, ``node``, ..."""
    type: str
    default: Any
    limits: str
    doc: str


def _fields(cls: type[Any]) -> list[dataclasses.Field[Any]]:
    """The fields a scenario sets (``kind`` is set by choosing the class, not as a value)."""
    return [f for f in dataclasses.fields(cls) if f.init and "check" in f.metadata]


def _setting(field: dataclasses.Field[Any], key: str, limit_key: str) -> Setting:
    kind, limits = describe_rule(field.metadata["check"])
    extra = KEY_LIMITS.get(limit_key, "")
    limits = "; ".join(part for part in (limits, extra) if part)
    default = field.default if field.default is not dataclasses.MISSING else None
    return Setting(key, kind, default, limits, field.metadata["doc"])


def settings(section: str | None = None) -> list[Setting]:
    """The keys of one table (``"cluster"``), or the top-level keys when ``section`` is None.

    >>> [s.key for s in settings()]
    ['name', 'description', 'duration', 'seed']
    >>> timeout = next(s for s in settings("clients") if s.key == "clients.timeout")
    >>> timeout.type, timeout.default, timeout.limits
    ('number', 0.25, '> 0')

    Raises:
        KeyError: no such table.
    """
    if section is None:
        fields = {f.name: f for f in _fields(Scenario)}
        return [_setting(fields[name], name, name) for name in TOP_LEVEL]
    return [_setting(f, f"{section}.{f.name}", f"{section}.{f.name}")
            for f in _fields(SECTIONS[section])]


def fault_settings(kind: str) -> list[Setting]:
    """The fields of one fault kind (keys are the bare field names: ``at``, ``node``).

    Raises:
        KeyError: no such fault kind.
    """
    return [_setting(f, f.name, f"faults.{f.name}") for f in _fields(FAULT_KINDS[kind])]


def toml_value(value: Any) -> str:
    """A value in TOML syntax (what the scenario file would say).

    >>> toml_value(True), toml_value("p2c"), toml_value(0.0005), toml_value(2000.0)
    ('true', '"p2c"', '0.0005', '2000.0')
    >>> toml_value(()), toml_value((("probes", 21), ("seed", 3)))
    ('{}', '{ probes = 21, seed = 3 }')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML scenario values are finite, got {value!r}")
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _assignment(name: str, value: Any, setting: Setting) -> list[str]:
    """``# meaning (type, limits)`` wrapped above ``name = value``."""
    comment = textwrap.wrap(f"{setting.doc} ({_rule(setting)})", width=_WIDTH,
                            initial_indent="# ", subsequent_indent="#   ")
    return [*comment, f"{name} = {toml_value(value)}"]


def _template(setting: Setting) -> str:
    """``# at = 10.0  # meaning (type)``: a commented-out line that is TOML once uncommented."""
    return f"# {setting.key} = {toml_value(setting.default)}  # {setting.doc} ({setting.type})"


def _rule(setting: Setting) -> str:
    return ", ".join(part for part in (setting.type, setting.limits) if part)


_WIDTH = 92
"""Comment lines of :func:`scenario_toml` wrap at this width."""


def _opening_comment(text: str) -> list[str]:
    """The comment lines a TOML text opens with (what the scenario is for), if any.

    >>> _opening_comment(chr(10).join(["# A crash.", "# At t=20.", "name = 'x'", "# later"]))
    ['# A crash.', '# At t=20.']
    """
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def _toml_lines(scenario: Scenario, original: str) -> Iterator[str]:
    opening = _opening_comment(original)
    yield from opening
    if opening:
        yield "#"
    yield "# Every setting, with this scenario's value (docs/scenarios.md: the reference)."
    for setting in settings():
        yield from _assignment(setting.key, getattr(scenario, setting.key), setting)
    for section in SECTIONS:
        config = getattr(scenario, section)
        yield ""
        yield f"[{section}]"
        for setting in settings(section):
            name = setting.key.split(".", 1)[1]
            yield from _assignment(name, getattr(config, name), setting)
    for fault in scenario.faults:
        yield ""
        yield "[[faults]]"
        yield f"kind = {toml_value(fault.kind)}"
        for setting in fault_settings(fault.kind):
            yield from _assignment(setting.key, getattr(fault, setting.key), setting)
    yield ""
    yield "# Fault kinds: add a [[faults]] table like one of these (defaults shown)."
    for kind, cls in FAULT_KINDS.items():
        yield "#"
        yield f"# {kind}: {_doc(cls, first_line=True)}"
        yield "# [[faults]]"
        yield f"# kind = {toml_value(kind)}"
        for setting in fault_settings(kind):
            yield _template(setting)


def scenario_toml(scenario: Scenario, original: str = "") -> str:
    """The scenario as TOML with every setting, commented, then every fault kind's template.

    The comment ``original`` (the scenario's own TOML text) opens with is kept: what the
    scenario is for. The text parses back to ``scenario``.

    >>> from sim._scenario import builtin_toml, load_scenario
    >>> text = scenario_toml(load_scenario("crash"), builtin_toml("crash"))
    >>> text.splitlines()[0] == builtin_toml("crash").splitlines()[0]
    True
    >>> 'kind = "crash"' in text.splitlines()
    True
    """
    return "\n".join(_toml_lines(scenario, original)) + "\n"


def _doc(obj: object, *, first_line: bool = False) -> str:
    """A class's docstring (or its first line) on one line, with ``code`` as `code`."""
    doc = (inspect.getdoc(obj) or "").strip()
    if first_line:
        doc = doc.splitlines()[0] if doc else ""
    return " ".join(doc.split()).replace("``", "`")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(rows: list[Setting]) -> list[str]:
    out = ["| key | type | default | limits | meaning |", "|---|---|---|---|---|"]
    for s in rows:
        default = "-" if s.default is None else f"`{toml_value(s.default)}`"
        out.append(f"| `{s.key}` | {s.type} | {default} | {_cell(s.limits) or '-'} | "
                   f"{_cell(s.doc)} |")
    return out


def reference_markdown() -> str:
    """The text of ``docs/scenarios.md``: every key and fault kind, from the metadata."""
    out = [
        "# Scenario reference",
        "",
        "Generated by `python docs/make_scenarios.py` from the configuration classes in",
        "`sim/_config.py` (each field's rule and description, each fault kind's docstring);",
        "`tests/test_sim_reference.py` fails when this file is out of date.",
        "`consistent-sim show NAME` prints a built-in scenario with every one of these",
        "settings, to copy and edit.",
        "",
        "A scenario is a TOML file (or the same dict from Python). `consistent-sim run NAME`",
        "runs a built-in scenario; an argument is read as a file only when it contains a path",
        "separator or ends in `.toml` (`./crash` is the file, `crash` the built-in), so a file",
        "or directory named like a built-in never shadows it. `--set KEY=VALUE` overrides a",
        "key (TOML syntax; `faults.0.at=3` is the first fault's `at`). Every key is optional:",
        "a missing key takes the default below. An unknown key or a value outside its limits",
        "is a one-line error naming the key, the value and what was expected. Numbers are",
        "finite; a number may be written as an integer where a number is expected.",
        "",
        "## Top level",
        "",
        *_table(settings()),
    ]
    for section, cls in SECTIONS.items():
        out += ["", f"## `[{section}]`", "", _doc(cls, first_line=True), "",
                *_table(settings(section))]
        if section == "placement":
            out += ["", "Algorithms, the `placement.options` each takes, and whether it can "
                    "remove any node (faults that take a server out need one that can):", "",
                    "| algorithm | options | removes any node | summary |", "|---|---|---|---|"]
            for name, algorithm in ALGORITHMS.items():
                options = ", ".join(f"`{o}`" for o in sorted(algorithm.options)) or "-"
                removes = "yes" if algorithm.removes else "no (only the last added)"
                out.append(f"| `{name}` | {options} | {removes} | "
                           f"{_cell(algorithm.description)} |")
    out += [
        "",
        "## `[[faults]]`",
        "",
        "Each `[[faults]]` table has a `kind` and that kind's fields. Servers are named `s000`,",
        "`s001`, ... by index; a fault names one by index or by name, and servers a `join` adds",
        "get the next indices, in the order the joins are listed, and may be targeted after",
        "they start. Two faults must not take one server out at overlapping times (one ending",
        "when the next begins counts as overlapping): the scenario is rejected, naming both.",
        "Nor may two `network-delay` faults overlap: the network has one extra delay at a time.",
    ]
    for kind, cls in FAULT_KINDS.items():
        out += ["", f"### `{kind}`", "", _doc(cls), "", *_table(fault_settings(kind))]
    return "\n".join(out) + "\n"
