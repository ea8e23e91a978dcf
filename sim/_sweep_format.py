"""How a sweep's numbers are written: units, significant digits, cells, intervals, columns.

Shared by a sweep's result (:mod:`sim._sweep_result`) and a replicated comparison
(:class:`sim.Comparison`), so that both print and record a figure the same way: floats in
files to :data:`SIGNIFICANT` significant digits (as a run's ``summary.json``), missing values
as empty CSV cells or JSON nulls, table cells as ``mean ± half-width`` in the metric's unit
(:func:`metric_unit`), and a configuration's assignments as the ``key=value`` overrides that
make it (:func:`as_override`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "SIGNIFICANT",
    "aligned",
    "as_override",
    "csv_text",
    "label",
    "metric_unit",
    "plain",
    "rounded",
    "with_interval",
]

SIGNIFICANT = 6
"""Significant digits of floats in the files written (as in a run's summary.json)."""


def metric_unit(name: str) -> str:
    """The unit a metric prints in: ``"s"``, ``"%"`` (a share) or ``""``.

    >>> metric_unit("latency.p99"), metric_unit("requests.success_ratio"), metric_unit("x.y")
    ('s', '%', '')
    """
    last = name.rsplit(".", 1)[-1]
    if last == "count":
        return ""
    if name.startswith(("latency.", "recovery.", "availability.time_with_")):
        return "s"
    if last in {"success_ratio", "max_unavailable"}:
        return "%"
    return ""


def rounded(value: Any) -> Any:
    """Floats to :data:`SIGNIFICANT` significant digits, NaN/inf to None, recursively.

    >>> rounded({"mean": 0.123456789, "sd": float("nan"), "runs": [1, 2.0000001]})
    {'mean': 0.123457, 'sd': None, 'runs': [1, 2.0]}
    """
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT}g}") if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def _cell(value: Any) -> str:
    """A CSV cell: strings as they are, numbers in shortest form, missing values empty."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(rounded(value))
    return json.dumps(value)


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """``rows`` as CSV with a header of ``columns`` (a missing key: an empty cell).

    >>> print(csv_text([{"a": "x", "b": 0.1234567}, {"a": "y"}], ["a", "b"]), end="")
    a,b
    x,0.123457
    y,
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def as_override(key: str, value: Any) -> str:
    """``key=value`` as an override (JSON gives TOML syntax for strings, numbers, booleans).

    >>> as_override("placement.algorithm", "ring"), as_override("cluster.servers", 4)
    ('placement.algorithm="ring"', 'cluster.servers=4')
    """
    return f"{key}={json.dumps(value)}"


def label(config: Mapping[str, Any]) -> str:
    """``k=v k=v`` for messages (``(base)`` for the empty configuration)."""
    return " ".join(as_override(k, v) for k, v in config.items()) or "(base)"


def plain(value: Any) -> str:
    """A varied value as a table shows it: strings bare, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def with_interval(mean: float, half_width: float, unit: str, *, signed: bool = False) -> str:
    """``mean ± half-width`` for a table cell (the mean alone when there is no interval).

    >>> with_interval(0.0123, 0.0004, "s"), with_interval(1.5, float("nan"), "")
    ('12.3 ms ± 0.4 ms', '1.5')
    """
    from sim.report import format_value

    if math.isnan(mean):
        return "-"
    text = format_value(float(mean), unit)
    if signed and mean >= 0:
        text = "+" + text
    if math.isnan(half_width):
        return text
    return f"{text} ± {format_value(float(half_width), unit)}"


def aligned(rows: list[list[str]]) -> list[str]:
    """Rows of cells as text lines: the first column left-aligned, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]
