"""The ``consistent-sim`` command: it parses arguments, calls :mod:`sim`, and prints.

Every error is one line on stderr, ``consistent-sim: error: ...``, and exit status 2.
The result (the summary table, or JSON with ``--json``) goes to stdout; ``--quiet`` drops
only the progress bar and the informational lines (timing, files written).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import IO, NoReturn

from sim._placement import ALGORITHMS
from sim._run import compare, run
from sim._scenario import (
    DEFAULT_SCENARIO,
    ScenarioError,
    _parse_value,
    builtin_toml,
    list_scenarios,
)

__all__ = ["ProgressBar", "main"]

PROG = "consistent-sim"


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


def _parser() -> _Parser:
    parser = _Parser(prog=PROG, description="Simulate a consistent-hashing cluster under faults.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--seed", type=int, help="run seed (default: the scenario's)")
        p.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE",
                       help="override a scenario value, e.g. workload.rate=5000")
        p.add_argument("--out", metavar="DIR", help="write summary.json, CSV and figures here")
        p.add_argument("--no-figures", action="store_true", help="with --out: skip figures")
        p.add_argument("--quiet", "-q", action="store_true",
                       help="no progress bar and no informational lines (timing, files "
                            "written); the result (table, or JSON with --json) is still "
                            "printed")

    p_run = sub.add_parser("run", help="run a scenario (a built-in name or a TOML file)")
    p_run.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                       help=f"built-in name or TOML path (default: {DEFAULT_SCENARIO})")
    common(p_run)
    p_run.add_argument("--json", action="store_true", help="print the JSON summary, not the table")

    sub.add_parser("list", help="list built-in scenarios and placement algorithms")

    p_show = sub.add_parser("show", help="print a built-in scenario's TOML to copy and edit")
    p_show.add_argument("name")

    p_cmp = sub.add_parser("compare", help="one scenario across algorithms or a parameter's values")
    p_cmp.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO)
    p_cmp.add_argument("--vary", metavar="KEY=V1,V2,...",
                       help="parameter and values (default: placement.algorithm over --algorithms)")
    p_cmp.add_argument("--algorithms", default="ring,rendezvous,maglev",
                       help="comma-separated algorithms when --vary is not given")
    common(p_cmp)
    return parser


def _cmd_run(args: argparse.Namespace, out: IO[str]) -> int:
    bar = ProgressBar() if not args.quiet else None
    try:
        result = run(args.scenario, seed=args.seed, overrides=args.overrides, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    # stdout carries the result; with --json it must stay parseable, so notes go to stderr.
    info = sys.stderr if args.json else out
    if args.json:
        out.write(result.to_json())
    else:
        out.write(result.table() + "\n")
        if not args.quiet:
            perf = result.performance
            info.write(f"({perf['events']:.0f} events in {perf['wall_seconds']:.2f} s wall: "
                       f"{perf['events_per_second']:,.0f} events/s, "
                       f"{perf['requests_per_second']:,.0f} requests/s)\n")
    if args.out:
        written = result.save(args.out, figures=not args.no_figures)
        if not args.quiet:
            info.write("wrote " + ", ".join(str(p) for p in written) + "\n")
    return 0


def _cmd_compare(args: argparse.Namespace, out: IO[str]) -> int:
    if args.vary:
        key, sep, text = args.vary.partition("=")
        if not sep or not key or not text:
            raise ScenarioError(f"--vary expects KEY=V1,V2,..., got {args.vary!r}")
        values = [_parse_value(v.strip()) for v in text.split(",")]
    else:
        key = "placement.algorithm"
        values = [v.strip() for v in args.algorithms.split(",") if v.strip()]
    bar = ProgressBar() if not args.quiet else None
    try:
        comparison = compare(args.scenario, key.strip(), values, seed=args.seed,
                             overrides=args.overrides, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    out.write(comparison.table() + "\n")
    if args.out:
        from pathlib import Path

        directory = Path(args.out)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "compare.json").write_text(comparison.to_json(), encoding="utf-8")
        if not args.no_figures:
            comparison.plot(directory)
        if not args.quiet:
            out.write(f"wrote {directory / 'compare.json'}\n")
    return 0


def _cmd_list(out: IO[str]) -> int:
    out.write("scenarios:\n")
    for name, description in list_scenarios().items():
        marker = " (default)" if name == DEFAULT_SCENARIO else ""
        out.write(f"  {name:<16} {description}{marker}\n")
    out.write("placement algorithms:\n")
    for name, algorithm in ALGORITHMS.items():
        status = "" if algorithm.available else "  [not in this version of consistent]"
        out.write(f"  {name:<16} {algorithm.description}{status}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, or 2 on any error)."""
    out = sys.stdout
    try:
        args = _parser().parse_args(argv)
        if args.command == "run":
            return _cmd_run(args, out)
        if args.command == "compare":
            return _cmd_compare(args, out)
        if args.command == "list":
            return _cmd_list(out)
        out.write(builtin_toml(args.name))
        return 0
    except (_UsageError, ScenarioError, OSError, RuntimeError) as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"{PROG}: error: {message}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: error: interrupted\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
