"""Benchmarks of ``consistent`` and ``sim``: scripts plus the harness they share.

Run a script from the repository root, e.g. ``python benchmarks/bench_ring.py --quick``;
import the shared pieces as ``from benchmarks.harness import stats, timed`` (the scripts
put the repository root on ``sys.path`` when run by path). Benchmarks use the public API
of ``consistent`` and ``sim`` only; they are not part of the installed package.
"""
