"""Regenerate the results of docs/validation.md: every built-in validation scenario, for real.

    python docs/make_validation.py                 # all five (about 12 minutes)
    python docs/make_validation.py validate-crash  # one
    python docs/make_validation.py --runs 3 --seeds 10

For each scenario it runs ``sim.validate`` (the same function as ``consistent-sim validate``),
writes ``docs/validation-<scenario>.png`` (simulated and live timelines overlaid) and
``docs/validation-<scenario>.json``, and rewrites the part of docs/validation.md between the
``results`` markers: the machine's load, then each scenario's side-by-side table. The prose
around the markers is written by hand; scenarios not named keep their last section. Exit
status 0 when every scenario agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim._validate import Validation, validate  # noqa: E402

DOCS = Path(__file__).resolve().parent
PAGE = DOCS / "validation.md"
BEGIN = "<!-- results: begin (python docs/make_validation.py) -->"
END = "<!-- results: end -->"
MARK = "<!-- scenario: "
SCENARIOS = ("validate-steady", "validate-crash", "validate-hang", "validate-rolling-restart",
             "validate-join")


def _section(name: str, result: Validation, wall: float, load: tuple[float, ...]) -> str:
    lines = [f"{MARK}{name} -->", f"### `{name}`", "",
             f"{result.scenario.description}. Load average before: "
             f"{load[0]:.1f}; {wall:.0f} s wall; {len(result.live)} valid live runs"
             + (f" ({result.invalid_runs} invalid: the generator fell behind)"
                if result.invalid_runs else "") + ".", "",
             f"Calibrated: {result.calibration.describe()}.", "",
             "| metric | simulated | live | tolerance | verdict |", "|---|---|---|---|---|"]
    lines.extend("| " + " | ".join(cells) + " |" for cells in result.rows())
    lines += ["", f"**{'AGREE' if result.agrees else 'DISAGREE'}**"
              + ("" if result.agrees else ": " + ", ".join(
                  v.metric.label for v in result.verdicts if v.agrees is False)), "",
              f"![{name}: simulated and live timelines](validation-{name}.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    sections = []
    verdicts = {}
    for name in args.scenarios:
        load = os.getloadavg()
        started = time.monotonic()
        result = validate(name, runs=args.runs, seeds=args.seeds)
        wall = time.monotonic() - started
        result.plot(DOCS / f"validation-{name}.png")
        (DOCS / f"validation-{name}.json").write_text(result.to_json(), encoding="utf-8")
        sections.append(_section(name, result, wall, load))
        verdicts[name] = result.agrees
        sys.stderr.write(f"{name}: {'agree' if result.agrees else 'DISAGREE'} "
                         f"({wall:.0f} s)\n{result.table()}\n\n")
    page = PAGE.read_text(encoding="utf-8")
    head, _, rest = page.partition(BEGIN)
    block, _, tail = rest.partition(END)
    # Scenarios not run this time keep their last section and verdict.
    kept = {}
    for chunk in block.split(MARK)[1:]:
        kept[chunk.split(" -->", 1)[0]] = MARK + chunk.rstrip() + "\n"
    kept.update(dict(zip(args.scenarios, sections, strict=True)))
    summary_path = DOCS / "validation-summary.json"
    old = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    verdicts = {**old, **verdicts}
    order = [n for n in SCENARIOS if n in kept] + [n for n in kept if n not in SCENARIOS]
    header = (f"Last generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
              f"`python docs/make_validation.py --runs {args.runs} --seeds {args.seeds}` on "
              f"{os.cpu_count()} cores shared with other work (each section gives the load "
              f"average before it ran). Summary: " + ", ".join(
                  f"`{n}` {'agrees' if verdicts.get(n) else 'DISAGREES'}" for n in order)
              + ".\n")
    PAGE.write_text(f"{head}{BEGIN}\n{header}\n" + "\n".join(kept[n] for n in order)
                    + f"{END}{tail}", encoding="utf-8")
    summary_path.write_text(json.dumps({n: verdicts.get(n) for n in order}, indent=2) + "\n",
                            encoding="utf-8")
    return 0 if all(verdicts.get(n) for n in order) else 1


if __name__ == "__main__":
    sys.exit(main())
