"""Generate docs/scenarios.md, the scenario reference, from the configuration's own metadata.

    python docs/make_scenarios.py          # rewrite docs/scenarios.md
    python docs/make_scenarios.py --check  # exit 1 if docs/scenarios.md is out of date

Every key, type, default, limit and fault kind comes from ``sim/_config.py`` (field metadata
and class docstrings) through :func:`sim._reference.reference_markdown`;
``tests/test_sim_reference.py`` runs the check, so the reference cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim._reference import reference_markdown

REFERENCE_FILE = Path(__file__).with_name("scenarios.md")


def main(argv: list[str]) -> int:
    text = reference_markdown()
    if "--check" in argv:
        if REFERENCE_FILE.read_text(encoding="utf-8") != text:
            sys.stderr.write("docs/scenarios.md is out of date: "
                             "run python docs/make_scenarios.py\n")
            return 1
        return 0
    REFERENCE_FILE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
