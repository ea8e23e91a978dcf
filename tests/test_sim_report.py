"""Reports: table cells, the summary and comparison tables, and the figures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from sim import compare, run
from sim.report import format_value, plot_comparison, plot_run, summary_rows

plt = pytest.importorskip("matplotlib.pyplot")

SMALL = ["duration=5", "workload.rate=300"]
ALL_DOWN = {"duration": 8, "cluster": {"servers": 2}, "workload": {"rate": 200},
            "faults": [{"kind": "crash", "at": 3.0, "node": 0},
                       {"kind": "crash", "at": 3.0, "node": 1}]}


@pytest.fixture
def figures() -> Iterator[list[Any]]:
    """Figures a test draws, closed afterwards."""
    drawn: list[Any] = []
    yield drawn
    for fig in drawn:
        plt.close(fig)


# -- cells and tables ------------------------------------------------------------------------


def test_format_value() -> None:
    assert format_value(0.0123, "s") == "12.3 ms" and format_value(2.5, "s") == "2.5 s"
    assert format_value(None) == "-" and format_value(float("nan"), "s") == "-"
    assert format_value(True) == "yes" and format_value(12345) == "12345"
    assert format_value(0.5, "%") == "50.0%" and format_value(1.23456) == "1.235"


def test_format_value_prints_rounding_noise_as_zero() -> None:
    assert format_value(1.6e-16) == "0"
    assert format_value(-2e-10) == "0"
    assert format_value(1e-16, "%") == "0.0%"
    assert format_value(-3e-12, "s") == "0 ms"
    assert format_value(2e-9) == "2e-09"


def test_summary_rows_list_a_failure_cause_only_where_it_occurred() -> None:
    result = run("crash", overrides=[*SMALL, "faults.0.at=2"])
    rows = {f"{sec}: {name.strip()}": value for sec, name, value in summary_rows(result.summary)}
    causes = {cause: n for cause, n in result.summary["requests"]["failed_by_cause"].items()}
    for cause, n in causes.items():
        assert (f"requests: failed: {cause}" in rows) == (n > 0), cause
    assert rows["requests: issued"] == str(result.summary["requests"]["issued"])
    assert rows["checks: requests conserved"] == "yes"


def test_table_says_how_each_figure_was_measured() -> None:
    table = run("crash", overrides=[*SMALL, "faults.0.at=2"]).table()
    assert "measured (exact/sampled)" in table and "key-space shares (exact/ideal)" in table
    assert "unavailable key-space-seconds (share x s)" in table


def test_one_server_is_singular() -> None:
    result = run("steady", overrides=["duration=2", "workload.rate=50", "cluster.servers=1",
                                      "cluster.replication=1", "clients.count=1"])
    header = result.table().splitlines()[0]
    assert "1 server " in header and "1 client " in header
    header = run("steady", overrides=SMALL).table().splitlines()[0]
    assert "20 servers " in header and "10 clients " in header


def test_compare_rows_align_when_runs_differ_in_rows() -> None:
    # Only the run with a queue limit fails requests for it: it has a row the other lacks.
    comparison = compare("steady", "cluster.queue_limit", [0, 1], overrides=[
        "duration=3", "workload.rate=3000", "cluster.concurrency=1"])
    per_run = [{f"{sec}: {name.strip()}": value for sec, name, value in summary_rows(r.summary)}
               for r in comparison.results]
    only_second = [name for name in per_run[1] if name.startswith("requests: failed: ")
                   and name not in per_run[0]]
    assert len(only_second) == 1
    rows = comparison.rows()
    for name, cells in rows:
        for run_rows, cell in zip(per_run, cells, strict=True):
            # A failure cause one run never saw is 0 there, not unknown.
            assert cell == run_rows.get(name, "0"), (name, cells)
    names = [name for name, _ in rows]
    assert names.index(only_second[0]) == names.index("requests: failed") + 1


# -- figures ---------------------------------------------------------------------------------


def _legend_labels(ax: Any) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_run_figure_axes_and_legends(figures: list[Any]) -> None:
    result = run("steady", overrides=SMALL)
    (fig,) = plot_run(result)
    figures.append(fig)
    twin = [ax for ax in fig.axes if ax.get_ylabel() == "keys unavailable (%)"]
    assert len(twin) == 1
    bottom, top = twin[0].get_ylim()
    assert bottom < 0 < 1 <= top  # a line at 0 % is drawn inside the frame
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:  # outside the axes, to the right
            assert legend.get_bbox_to_anchor().bounds[0] > ax.get_window_extent().x1
    # Without faults there is nothing shaded, and the legend does not pretend otherwise.
    assert "server down" not in _legend_labels(fig.axes[0])


def test_shaded_down_periods_have_a_legend_entry(figures: list[Any]) -> None:
    result = run("crash", overrides=["duration=8", "workload.rate=300", "faults.0.at=2"])
    (fig,) = plot_run(result)
    figures.append(fig)
    labels = _legend_labels(fig.axes[0])
    assert labels[:2] == ["server down", "membership change"]
    assert "succeeded/s" in labels
    # Each panel is shaded; only the first names the shading (one entry, not four).
    assert sum("server down" in _legend_labels(ax) for ax in fig.axes) == 1
    spans = [p for p in fig.axes[2].patches if p.get_alpha() is not None]
    assert spans, "every panel shades the down-period"


def test_with_every_server_down_lines_stay_inside_the_frame(figures: list[Any]) -> None:
    result = run(ALL_DOWN)
    assert float(result.timeseries["unavailable_keys"].max()) == 1.0
    (fig,) = plot_run(result)
    figures.append(fig)
    twin = next(ax for ax in fig.axes if ax.get_ylabel() == "keys unavailable (%)")
    bottom, top = twin.get_ylim()
    assert bottom < 0 and top > 100  # 0 % and 100 % are both off the frame
    stale = next(ax for ax in fig.axes if ax.get_ylabel() == "stale views")
    assert stale.get_ylim()[0] < 0


def _tick_labels(fig: Any, ax: Any) -> list[str]:
    fig.canvas.draw()
    low, high = ax.get_ylim()
    return [t.get_text() for t in ax.get_yticklabels()
            if t.get_text() and low <= t.get_position()[1] <= high]


def test_latency_axis_keeps_labelled_ticks(figures: list[Any]) -> None:
    (fig,) = plot_run(run(ALL_DOWN))
    figures.append(fig)
    latency = next(ax for ax in fig.axes if ax.get_ylabel() == "latency (ms)")
    assert latency.get_yscale() == "log"
    assert len(_tick_labels(fig, latency)) >= 2


def test_latency_axis_is_labelled_when_every_latency_is_nearly_equal(
    figures: list[Any]
) -> None:
    # Constant service and no network delay: every latency within a hair of 3 ms, far from
    # any power of ten, where a plain log axis has no labelled tick at all.
    result = run("steady", overrides=[*SMALL, "cluster.service=\"constant\"",
                                      "cluster.service_mean=0.003", "network.delay=0",
                                      "workload.rate=50", "cluster.concurrency=64"])
    p99 = result.timeseries["latency_p99"] * 1000
    finite = p99[np.isfinite(p99)]
    assert finite.max() / finite.min() < 1.5
    (fig,) = plot_run(result)
    figures.append(fig)
    latency = next(ax for ax in fig.axes if ax.get_ylabel() == "latency (ms)")
    assert _tick_labels(fig, latency)


def test_latency_axis_says_when_no_request_completed(figures: list[Any]) -> None:
    every_crash_at_0 = {**ALL_DOWN, "faults": [{**f, "at": 0.0} for f in ALL_DOWN["faults"]]}
    result = run(every_crash_at_0)
    assert result.summary["requests"]["succeeded"] == 0
    (fig,) = plot_run(result)
    figures.append(fig)
    latency = next(ax for ax in fig.axes if ax.get_ylabel() == "latency (ms)")
    assert [t.get_text() for t in latency.texts] == ["no request completed"]
    assert len(_tick_labels(fig, latency)) >= 2


def test_comparison_figure_titles_and_legend(figures: list[Any]) -> None:
    comparison = compare("steady", "placement.algorithm", ["ring", "rendezvous"],
                         overrides=["duration=3", "workload.rate=200"])
    (fig,) = plot_comparison(comparison)
    figures.append(fig)
    assert fig._suptitle is not None
    title = fig._suptitle.get_text()
    assert "steady" in title and "seed 1" in title
    assert _legend_labels(fig.axes[0]) == ["ring", "rendezvous"]
    assert _tick_labels(fig, fig.axes[1])  # p99 latency, log scale, labelled


def test_figures_are_written_as_png(tmp_path: Any) -> None:
    written = plot_run(run("steady", overrides=SMALL), tmp_path)
    assert [p.name for p in written] == ["timeseries.png"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
