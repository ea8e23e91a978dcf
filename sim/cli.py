"""The ``consistent-sim`` command: it parses arguments, calls :mod:`sim`, and prints.

Every error is one line on stderr, ``consistent-sim: error: ...``, and exit status 2
(a scenario too big to fit in memory included). The result (the summary table, or JSON with
``--json``) goes to stdout, and nothing else does, so two runs' stdout diff clean;
informational lines (wall-clock timing, files written) and the progress bar go to stderr,
and ``--quiet`` drops them.

A scenario argument is a built-in name unless it contains a path separator or ends in
``.toml`` (``./crash`` is the file, ``crash`` the built-in): a file or directory in the working
directory never shadows a built-in.

``run --out DIR`` is checked before the run starts (an existing non-directory, or a parent
that is not a writable directory, fails at once; so does a missing matplotlib when figures
are asked for) and created only once the run has finished, so a scenario that fails to
validate or to start, or a run stopped by Ctrl-C, leaves no empty directory behind.

Ctrl-C stops a command with status 130 (128 + SIGINT), the shell convention.

When stdout is closed early (``consistent-sim list | head -1``) the command stops quietly,
without an error message, and exits with status 141 (128 + SIGPIPE), as a command killed by
SIGPIPE would: ``set -o pipefail`` still sees the output was cut short.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from sim import report
from sim._placement import ALGORITHMS
from sim._reference import scenario_toml
from sim._run import run
from sim._scenario import (
    DEFAULT_SCENARIO,
    ScenarioError,
    list_scenarios,
    load_scenario,
    parse_value,
    read_scenario_text,
)
from sim._sweep import DEFAULT_METRICS, DEFAULT_REPLICATIONS, EXECUTORS, compare, sweep

__all__ = ["ProgressBar", "RunsProgressBar", "main"]

PROG = "consistent-sim"

EXIT_BROKEN_PIPE = 141
"""Exit status when stdout's reader goes away (128 + SIGPIPE, like a command it killed)."""

EXIT_RUN_FAILED = 1
"""Exit status of a sweep in which some run raised (the others' results are still out)."""

EXIT_DISAGREE = 1
"""Exit status of a validation in which some metric disagrees beyond its tolerance."""

EXIT_INTERRUPTED = 130
"""Exit status of a command stopped by Ctrl-C (128 + SIGINT); a sweep first writes what
finished."""

DEFAULT_ALGORITHMS = "ring,rendezvous,maglev"


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other error."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


class _UsageError(Exception):
    pass


class ProgressBar:
    """A one-line progress bar on a terminal stream; silent when the stream is not a TTY.

    >>> import io
    >>> bar = ProgressBar(io.StringIO())
    >>> bar(5.0, 10.0); bar.close()
    """

    def __init__(self, stream: IO[str] | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._drawn = False
        self._last_draw = -1.0

    def __call__(self, now: float, end: float) -> None:
        if not self.enabled:
            return
        wall = time.monotonic()
        if wall - self._last_draw < 0.1 and now < end:
            return  # redraw at most ten times a second
        self._last_draw = wall
        share = 0.0 if end <= 0 else min(1.0, now / end)
        filled = int(share * self.width)
        elapsed = time.monotonic() - self._started
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {share * 100:5.1f}%  {now:.0f}/{end:.0f} s sim"
                          f"  {elapsed:.1f} s")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Clear the bar's line."""
        if self._drawn:
            self.stream.write("\r" + " " * (self.width + 40) + "\r")
            self.stream.flush()
            self._drawn = False


class RunsProgressBar(ProgressBar):
    """Runs done of runs planned, elapsed time and an ETA, on one terminal line.

    Silent when the stream is not a TTY, like :class:`ProgressBar`.

    >>> import io
    >>> bar = RunsProgressBar(io.StringIO())
    >>> bar(3, 10); bar.close()
    >>> RunsProgressBar.line(3, 10, 6.0, width=10)
    '[###-------]  3/10 runs  6 s elapsed  ETA 14 s'
    """

    def __call__(self, done: float, total: float) -> None:
        if not self.enabled:
            return
        wall = time.monotonic()
        if wall - self._last_draw < 0.1 and done < total:
            return  # redraw at most ten times a second
        self._last_draw = wall
        self.stream.write("\r" + self.line(int(done), int(total), wall - self._started,
                                           self.width))
        self.stream.flush()
        self._drawn = True

    @staticmethod
    def line(done: int, total: int, elapsed: float, width: int) -> str:
        """The bar's text: the ETA assumes the runs left take as long as those done."""
        share = 1.0 if total <= 0 else min(1.0, done / total)
        filled = int(share * width)
        eta = f"{elapsed / done * (total - done):.0f} s" if done else "?"
        count = f"{done:>{len(str(total))}}/{total}"
        return (f"[{'#' * filled}{'-' * (width - filled)}] {count} runs  "
                f"{elapsed:.0f} s elapsed  ETA {eta}")


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("consistent-ring")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        import consistent

        return str(getattr(consistent, "__version__", "unknown"))


_SET_HELP = (
    "override a scenario value (repeatable), e.g. workload.rate=5000; values use TOML "
    "syntax; faults are indexed from 0, e.g. faults.0.pace=5 sets the first fault's pace"
)


def _parser() -> _Parser:
    parser = _Parser(prog=PROG, description="Simulate a consistent-hashing cluster under faults.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser, out_help: str, quiet_help: str) -> None:
        p.add_argument("--seed", type=int, help="run seed (default: the scenario's)")
        p.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help=_SET_HELP)
        p.add_argument("--out", metavar="DIR", help=out_help)
        p.add_argument("--no-figures", action="store_true", help="with --out: skip figures")
        p.add_argument("--quiet", "-q", action="store_true", help=quiet_help)

    p_run = sub.add_parser("run", help="run a scenario (a built-in name or a TOML file)")
    p_run.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                       help="built-in name or TOML path; a path contains a '/' or ends in "
                            f".toml, e.g. ./crash (default: {DEFAULT_SCENARIO})")
    common(p_run,
           "write summary.json, timeseries.csv, timeseries_served.csv and timeseries.png "
           "here (checked before the run, created after it)",
           "no progress bar and no informational lines (timing, files written); the result "
           "(table, or JSON with --json) is still printed")
    p_run.add_argument("--json", action="store_true", help="print the JSON summary, not the table")
    p_run.add_argument("--live", action="store_true",
                       help="run the scenario for real: one process per server on 127.0.0.1, "
                            "real HTTP, real signals (see README, 'The live cluster')")

    p_val = sub.add_parser(
        "validate", help="the simulator against the live cluster, metric by metric",
        description="Calibrate the model from a short no-fault live run and each live run's "
                    "stretch before its first fault (per-hop overhead and service-time "
                    "shape), run the scenario simulated over --seeds seeds and "
                    "live --runs times, and print per metric: simulated mean ± 95 % CI, live "
                    "mean ± CI, the tolerance and a verdict (docs/validation.md). Exit status: "
                    "0 when every metric agrees; 1 when one does not; 2 on a usage or "
                    "scenario error.")
    p_val.add_argument("scenario", help="built-in name (e.g. validate-crash) or TOML path")
    p_val.add_argument("--runs", type=int, default=3, metavar="N",
                       help="live runs (default: 3)")
    p_val.add_argument("--seeds", type=int, default=10, metavar="M",
                       help="simulated seeds (default: 10)")
    common(p_val, "write validation.json and validation.png here (created if missing)",
           "no progress bar and no informational lines; the table is still printed")
    p_val.add_argument("--json", action="store_true", help="print validation.json, not the table")

    sub.add_parser("list", help="list built-in scenarios and placement algorithms")

    p_show = sub.add_parser(
        "show", help="print a scenario with every setting, commented, to copy and edit",
        description="Print a scenario as TOML with every setting (its value, meaning, type "
                    "and limits) and a commented template of every fault kind; the full "
                    "reference is docs/scenarios.md.")
    p_show.add_argument("name", help="built-in scenario name (see `consistent-sim list`), or "
                                     "a TOML path (with a '/' or ending in .toml)")

    p_cmp = sub.add_parser("compare", help="one scenario across algorithms or a parameter's values")
    p_cmp.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                       help=f"built-in name or TOML path (default: {DEFAULT_SCENARIO})")
    p_cmp.add_argument("--vary", metavar="KEY=V1,V2,...",
                       help="parameter and its values, e.g. cluster.replication=1,2,3 "
                            "(cannot be combined with --algorithms)")
    p_cmp.add_argument("--algorithms", metavar="A1,A2,...",
                       help="comma-separated placement algorithms to compare "
                            f"(default: {DEFAULT_ALGORITHMS}; cannot be combined with --vary)")
    p_cmp.add_argument("--replications", type=int, default=1, metavar="N",
                       help="runs per value, seeds SEED, SEED+1, ... (default: 1); above 1 the "
                            "table shows mean ± 95%% t half-width, and runs go to local "
                            "processes")
    common(p_cmp, "write compare.json and compare.png here (created if missing); with "
                  "--replications above 1 also runs.csv, summary.csv, summary.json and sweep.png",
           "no progress bar and no informational lines (files written); the comparison "
           "table is still printed")

    p_sweep = sub.add_parser(
        "sweep", help="a grid of configurations x replications, with confidence intervals",
        description="Run a scenario over every combination of the --vary values, each "
                    "configuration --replications times (replication i with seed SEED+i in "
                    "every configuration: common random numbers), and print mean ± 95% "
                    "t half-width per configuration, then paired differences from the "
                    "baseline. Exit status: 0; 1 when a run raised (the others are still "
                    "reported; failures are listed on stderr); 2 on a usage or scenario "
                    "error; 130 when interrupted (what finished is still printed and written).")
    p_sweep.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                         help=f"built-in name or TOML path (default: {DEFAULT_SCENARIO})")
    p_sweep.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2,...",
                         help="a parameter and its values (repeatable: the grid is every "
                              "combination), e.g. placement.algorithm=ring,maglev or "
                              "placement.vnodes=10,100; values use TOML syntax")
    p_sweep.add_argument("--replications", type=int, default=DEFAULT_REPLICATIONS,
                         metavar="N", help="runs per configuration (default: "
                                           f"{DEFAULT_REPLICATIONS}); with --until, the most")
    p_sweep.add_argument("--executor", choices=EXECUTORS,
                         help="where runs execute (default: processes; dask with --scheduler)")
    p_sweep.add_argument("--workers", type=int, metavar="N",
                         help="worker processes, local or of a local Dask cluster "
                              "(default: one per core)")
    p_sweep.add_argument("--scheduler", metavar="ADDRESS",
                         help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (without it "
                              "--executor dask starts a local cluster)")
    p_sweep.add_argument("--baseline", action="append", default=[], metavar="KEY=V",
                         help="the baseline of paired differences (repeatable; default: each "
                              "varied key's first value)")
    p_sweep.add_argument("--until", metavar="METRIC:REL",
                         help="add replications until every configuration's 95%% half-width "
                              "of METRIC is at most REL of its mean, e.g. latency.p99:0.05")
    p_sweep.add_argument("--metric", action="append", metavar="NAME",
                         help="a summary metric for the table and figures (repeatable; "
                              f"default: {', '.join(DEFAULT_METRICS)}); every metric goes to "
                              "the CSV files")
    common(p_sweep, "write runs.csv, summary.csv, summary.json and sweep.png here (created "
                    "if missing)",
           "no progress bar and no informational lines (timing, files written); the table "
           "(or JSON) and the failed runs are still printed")
    p_sweep.add_argument("--json", action="store_true",
                         help="print summary.json, not the table")
    return parser


def _check_out(directory: str | None) -> Path | None:
    """Check ``--out`` without creating anything: it, or the nearest part of it that exists,
    must be a writable directory. A bad path fails before the run, not after it."""
    if directory is None:
        return None
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise _UsageError(f"--out {directory!r} exists and is not a directory")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.exists():  # pragma: no cover - only on a vanished root
        existing = Path.cwd()
    if not existing.is_dir():
        raise _UsageError(f"--out {directory!r}: cannot create directory: "
                          f"{os.strerror(errno.ENOTDIR)}: {str(existing)!r}")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == path else f"cannot be created in {str(existing)!r}"
        raise _UsageError(f"--out {directory!r} {what}")
    return path


def _make_out(path: Path) -> Path:
    """Create ``--out`` (checked by :func:`_check_out`) now that there is something to write."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"--out {str(path)!r}: cannot create directory: "
                          f"{exc.strerror or exc}") from None
    return path


def _check_figures(args: argparse.Namespace) -> None:
    """Figures are asked for (``--out`` without ``--no-figures``): fail now without matplotlib.

    Failing before the run, rather than writing the other files and skipping the figures, is
    the better deal: the user learns it in a second instead of after a long run, gets no
    directory silently missing what they asked for, and chooses: install the extra, or say
    ``--no-figures``.
    """
    if args.out is not None and not args.no_figures and not report.figures_available():
        raise _UsageError("figures need matplotlib, which is not installed: pip install "
                          "'consistent-ring[sim]', or pass --no-figures to write the other "
                          "files only")


def _check_overrides(overrides: list[str]) -> None:
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise _UsageError(f"--set expects KEY=VALUE, got {item!r}")


def _cmd_run(args: argparse.Namespace, out: IO[str]) -> int:
    _check_overrides(args.overrides)
    directory = _check_out(args.out)
    _check_figures(args)
    scenario = load_scenario(args.scenario, args.overrides)
    bar = ProgressBar() if not args.quiet else None
    try:
        if args.live:
            from sim._live import run_live  # the live twin needs the `live` extra

            result = run_live(scenario, seed=args.seed, progress=bar)
        else:
            result = run(scenario, seed=args.seed, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if args.live and not result.summary["live"]["valid"]:
        sys.stderr.write(_live_invalid(result.summary["live"]) + "\n")
    # stdout carries the result only; notes go to stderr so stdout stays parseable/diffable.
    info = sys.stderr
    if args.json:
        out.write(result.to_json())
    else:
        out.write(result.table() + "\n")
    out.flush()
    if not args.quiet:
        perf = result.performance
        info.write(f"({perf['events']:.0f} events in {perf['wall_seconds']:.2f} s wall: "
                   f"{perf['events_per_second']:,.0f} events/s, "
                   f"{perf['requests_per_second']:,.0f} requests/s)\n")
    if directory is not None:
        written = result.save(_make_out(directory), figures=not args.no_figures)
        if not args.quiet:
            info.write("wrote " + ", ".join(str(p) for p in written) + "\n")
    return 0


def _live_invalid(live: dict[str, Any]) -> str:
    """The line saying why a live run is not a result."""
    lag = live["generator_lag"]
    reasons = [*live["errors"]]
    if lag["p99"] > lag["bound_p99"]:
        reasons.append(f"the load generator fell behind: p99 lag {lag['p99'] * 1000:.1f} ms "
                       f"> {lag['bound_p99'] * 1000:.0f} ms")
    return "INVALID live run (not a result): " + "; ".join(reasons)


def _cmd_show(args: argparse.Namespace, out: IO[str]) -> int:
    original, _ = read_scenario_text(args.name)
    out.write(scenario_toml(load_scenario(args.name), original))
    return 0


def _cmd_compare(args: argparse.Namespace, out: IO[str]) -> int:
    if args.vary and args.algorithms is not None:
        raise _UsageError("--vary and --algorithms cannot be combined (to compare algorithms, "
                          "use --algorithms, or --vary placement.algorithm=A1,A2)")
    if args.vary:
        key, sep, text = args.vary.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise _UsageError(f"--vary expects KEY=V1,V2,..., got {args.vary!r}")
        values = [parse_value(v.strip()) for v in text.split(",")]
    else:
        key = "placement.algorithm"
        text = args.algorithms if args.algorithms is not None else DEFAULT_ALGORITHMS
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            raise _UsageError(f"--algorithms expects A1,A2,..., got {args.algorithms!r}")
    _check_overrides(args.overrides)
    # Checked now, created only once there is something to write (a failed or refused
    # comparison or sweep leaves nothing behind).
    directory = _check_out(args.out)
    _check_figures(args)
    bar = RunsProgressBar() if not args.quiet else None
    try:
        comparison = compare(args.scenario, key.strip(), values, seed=args.seed,
                             overrides=args.overrides, progress=bar,
                             replications=args.replications)
    finally:
        if bar is not None:
            bar.close()
    out.write(comparison.table() + "\n")
    out.flush()
    if directory is not None:
        directory = _make_out(directory)
        written = [directory / "compare.json"]
        written[0].write_text(comparison.to_json(), encoding="utf-8")
        if not args.no_figures:
            written.extend(comparison.plot(directory))
        if comparison.sweep is not None and comparison.replications > 1:
            written.extend(comparison.sweep.save(directory, figures=not args.no_figures))
        if not args.quiet:
            sys.stderr.write("wrote " + ", ".join(str(p) for p in written) + "\n")
    return 0


def _parse_assignments(items: list[str], option: str, example: str) -> dict[str, list[Any]]:
    """``KEY=V1,V2`` items as ``{key: [values]}`` (TOML values), each key once."""
    parsed: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        cells = [cell.strip() for cell in text.split(",")]
        if not sep or not key or not all(cells):
            raise _UsageError(f"{option} expects {example}, got {item!r}")
        if key in parsed:
            raise _UsageError(f"{option} {key} is given twice")
        parsed[key] = [parse_value(cell) for cell in cells]
    return parsed


def _cmd_sweep(args: argparse.Namespace, out: IO[str]) -> int:
    vary = _parse_assignments(args.vary, "--vary", "KEY=V1,V2,...")
    baseline = {}
    for key, values in _parse_assignments(args.baseline, "--baseline", "KEY=VALUE").items():
        if len(values) != 1:
            raise _UsageError(f"--baseline expects one value for {key}, got {len(values)}")
        baseline[key] = values[0]
    executor = args.executor or ("dask" if args.scheduler else "processes")
    if args.scheduler and executor != "dask":
        raise _UsageError(f"--scheduler needs --executor dask, got --executor {executor}")
    _check_overrides(args.overrides)
    # Checked now, created only once there is something to write (a failed or refused
    # comparison or sweep leaves nothing behind).
    directory = _check_out(args.out)
    _check_figures(args)
    bar = RunsProgressBar() if not args.quiet else None
    try:
        result = sweep(args.scenario, vary, replications=args.replications, seed=args.seed,
                       overrides=args.overrides, executor=executor, workers=args.workers,
                       scheduler=args.scheduler, baseline=baseline or None, until=args.until,
                       metrics=args.metric, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    info = sys.stderr
    out.write(result.to_json() if args.json else result.table() + "\n")
    out.flush()
    if not args.quiet:
        info.write(f"({len(result.runs)} runs in {result.wall_seconds:.1f} s wall, "
                   f"executor {executor})\n")
    if directory is not None:
        written = result.save(_make_out(directory), figures=not args.no_figures)
        if not args.quiet:
            info.write("wrote " + ", ".join(str(p) for p in written) + "\n")
    status = 0
    if result.failed:
        info.write(f"{PROG}: {len(result.failed)} of {len(result.runs)} runs failed:\n")
        for failed in result.failed:
            info.write(f"  {failed.describe()}: {failed.error}\n")
        status = EXIT_RUN_FAILED
    if result.interrupted:
        planned = len(result.configurations) * result.replications
        info.write(f"{PROG}: interrupted: {len(result.runs)} of {planned} runs finished "
                   f"(reported above{' and written' if directory is not None else ''})\n")
        status = EXIT_INTERRUPTED
    return status


def _cmd_validate(args: argparse.Namespace, out: IO[str]) -> int:
    from sim._validate import validate  # the live twin needs the `live` extra

    if args.runs < 1:
        raise _UsageError(f"--runs must be at least 1, got {args.runs}")
    if args.seeds < 2:
        raise _UsageError(f"--seeds must be at least 2, got {args.seeds}")
    _check_overrides(args.overrides)
    directory = _check_out(args.out)
    _check_figures(args)
    load_scenario(args.scenario, args.overrides)  # a bad scenario fails before any run
    bar = RunsProgressBar() if not args.quiet else None
    started = time.monotonic()
    try:
        result = validate(args.scenario, runs=args.runs, seeds=args.seeds, seed=args.seed,
                          overrides=args.overrides, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    out.write(result.to_json() if args.json else result.table() + "\n")
    out.flush()
    if not args.quiet:
        sys.stderr.write(f"({time.monotonic() - started:.0f} s wall)\n")
    if directory is not None:
        written = result.save(_make_out(directory), figures=not args.no_figures)
        if not args.quiet:
            sys.stderr.write("wrote " + ", ".join(str(p) for p in written) + "\n")
    return 0 if result.agrees else EXIT_DISAGREE


def _cmd_list(out: IO[str]) -> int:
    scenarios = list_scenarios()
    width = max(16, *(len(name) for name in scenarios), *(len(name) for name in ALGORITHMS))
    out.write("scenarios:\n")
    for name, description in scenarios.items():
        marker = " (default)" if name == DEFAULT_SCENARIO else ""
        out.write(f"  {name:<{width}} {description}{marker}\n")
    out.write("placement algorithms:\n")
    for name, algorithm in ALGORITHMS.items():
        out.write(f"  {name:<{width}} {algorithm.description}\n")
    return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout has no file descriptor (tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0; 1 when a sweep's run raised or a validation disagrees; 2 on any error; 130 when
    interrupted by Ctrl-C (a sweep prints and writes what finished first); 141 on a closed
    pipe.
    """
    out = sys.stdout
    try:
        args = _parser().parse_args(argv)
        if args.command == "run":
            status = _cmd_run(args, out)
        elif args.command == "compare":
            status = _cmd_compare(args, out)
        elif args.command == "sweep":
            status = _cmd_sweep(args, out)
        elif args.command == "validate":
            status = _cmd_validate(args, out)
        elif args.command == "list":
            status = _cmd_list(out)
        else:
            status = _cmd_show(args, out)
        out.flush()
        return status
    except BrokenPipeError:
        # The reader closed the pipe (`| head`): not an error, nothing more to say.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (_UsageError, ScenarioError, OSError, RuntimeError) as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"{PROG}: error: {message}\n")
        return 2
    except MemoryError:
        sys.stderr.write(f"{PROG}: error: out of memory: the scenario is too big for this "
                         f"machine (lower workload.keys, workload.rate or duration)\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
