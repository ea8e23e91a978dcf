"""Golden summary of the default scenario, and byte-identical output for a seed.

The golden file is a reviewed record of what the default scenario produces. A change that
alters it must say why (a model change, a changed draw order, a library change under it).
Regenerate with::

    python tests/test_sim_golden.py --regenerate
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sim import DEFAULT_SCENARIO, run

GOLDEN = Path(__file__).parent / "golden" / "default_summary.json"
SEED = 1


def test_same_seed_gives_byte_identical_json() -> None:
    overrides = ["duration=30", "workload.rate=1000"]
    first = run("rolling-restart", seed=9, overrides=overrides).to_json()
    second = run("rolling-restart", seed=9, overrides=overrides).to_json()
    assert first == second
    assert first != run("rolling-restart", seed=10, overrides=overrides).to_json()


def test_output_does_not_depend_on_the_process() -> None:
    # Different hash seeds, separate processes: nothing may depend on the built-in hash().
    outputs = []
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-m", "sim", "run", "crash", "--json", "--set", "duration=22",
             "--set", "workload.rate=300"],
            capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]


def test_default_scenario_matches_the_golden_summary() -> None:
    produced = run(DEFAULT_SCENARIO, seed=SEED).to_json()
    expected = GOLDEN.read_text(encoding="utf-8")
    if produced != expected:
        # Name the first differing entries, which is what a reviewer needs to see.
        got, want = json.loads(produced), json.loads(expected)
        diffs = [k for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
        raise AssertionError(f"default summary differs from {GOLDEN.name} in: {diffs}")


if __name__ == "__main__":
    if "--regenerate" in sys.argv:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(run(DEFAULT_SCENARIO, seed=SEED).to_json(), encoding="utf-8")
        print(f"wrote {GOLDEN}")
