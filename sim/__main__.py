"""``python -m sim`` is ``consistent-sim``."""

import sys

from sim.cli import main

sys.exit(main())
