"""Statistics over replications: mean, standard deviation, 95 % t-intervals, paired differences.

A number from one simulation run is an anecdote; these are the figures a sweep reports for
each configuration and metric. The critical value of Student's t comes from
:mod:`scipy.stats` when it is installed (it is part of the ``sim`` extra); without scipy a
table (1 to 30 degrees of freedom, from scipy) and the Cornish-Fisher expansion beyond it give
the same value to better than 2e-8, relative.

Sums use :func:`math.fsum`, so a statistic depends on its values alone, never on the order
in which runs finished.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CONFIDENCE", "Difference", "Estimate", "estimate", "paired_difference", "t_critical"]

CONFIDENCE = 0.95
"""Two-sided confidence level of every interval a sweep reports."""

_T_TABLE = (
    12.7062047362, 4.30265272975, 3.18244630528, 2.7764451052, 2.57058183564,
    2.44691185114, 2.36462425159, 2.3060041352, 2.2621571628, 2.22813885199,
    2.20098516009, 2.17881282967, 2.16036865646, 2.14478668792, 2.13144954556,
    2.11990529922, 2.10981557783, 2.10092204024, 2.09302405441, 2.08596344727,
    2.07961384473, 2.0738730679, 2.06865761042, 2.06389856163, 2.05953855275,
    2.05552943864, 2.05183051648, 2.0484071418, 2.04522964213, 2.0422724563,
)
"""97.5 % quantiles of Student's t with 1, 2, ..., 30 degrees of freedom (scipy, 12 digits)."""

_Z = 1.959963984540054
"""97.5 % quantile of the standard normal distribution."""


def _t_expansion(df: int) -> float:
    """Cornish-Fisher expansion of the 97.5 % t quantile (Abramowitz & Stegun 26.7.5)."""
    z = _Z
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def t_critical(df: int) -> float:
    """The two-sided 95 % critical value of Student's t with ``df`` degrees of freedom.

    Runtime complexity: O(1).

    >>> round(t_critical(9), 4), round(t_critical(1000), 4)
    (2.2622, 1.9623)

    Args:
        df: degrees of freedom, at least 1.

    Returns:
        The 97.5 % quantile of t with ``df`` degrees of freedom.

    Raises:
        ValueError: ``df`` is not a positive integer.
    """
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"degrees of freedom must be a positive integer, got {df!r}")
    try:
        from scipy import stats
    except ImportError:
        return _T_TABLE[df - 1] if df <= len(_T_TABLE) else _t_expansion(df)
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _variance(values: Sequence[float], mean: float) -> float:
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


@dataclass(frozen=True)
class Estimate:
    """Mean, standard deviation and 95 % t-interval half-width of one metric over runs.

    Undefined figures are NaN: everything with no value, the deviation and the interval
    with one value.
    """

    n: int
    mean: float
    sd: float
    half_width: float
    min: float
    max: float

    @property
    def relative_half_width(self) -> float:
        """``half_width / |mean|``: 0 when both are 0, infinite when only the mean is.

        >>> estimate([9.0, 10.0, 11.0]).relative_half_width < 0.3
        True
        """
        if self.mean == 0:
            return 0.0 if self.half_width == 0 else math.inf
        return self.half_width / abs(self.mean)

    def as_dict(self) -> dict[str, float]:
        """The figures by name (``n``, ``mean``, ``sd``, ``half_width``, ``min``, ``max``)."""
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "half_width": self.half_width,
                "min": self.min, "max": self.max}


def estimate(values: Sequence[float]) -> Estimate:
    """Mean, standard deviation, 95 % t half-width, min and max of ``values``.

    Runtime complexity: O(n).

    >>> e = estimate([1.0, 2.0, 3.0])
    >>> e.mean, e.sd, round(e.half_width, 4), e.min, e.max
    (2.0, 1.0, 2.4841, 1.0, 3.0)

    Args:
        values: one metric's value in each run (None and NaN are not allowed: filter first).

    Returns:
        An :class:`Estimate`; its ``sd`` and ``half_width`` are NaN for fewer than two values.
    """
    n = len(values)
    if n == 0:
        return Estimate(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    mean = _mean(values)
    if n == 1:
        return Estimate(1, mean, math.nan, math.nan, values[0], values[0])
    sd = math.sqrt(_variance(values, mean))
    return Estimate(n, mean, sd, t_critical(n - 1) * sd / math.sqrt(n), min(values),
                    max(values))


@dataclass(frozen=True)
class Difference:
    """A configuration minus its baseline, paired replication by replication.

    ``half_width`` is the paired 95 % t-interval half-width; ``unpaired_half_width`` is
    Welch's interval for the same two samples treated as independent, the width common
    random numbers save.
    """

    n: int
    mean: float
    sd: float
    half_width: float
    unpaired_half_width: float

    def as_dict(self) -> dict[str, float]:
        """The figures by name."""
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "half_width": self.half_width,
                "unpaired_half_width": self.unpaired_half_width}


def _welch_half_width(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Welch's 95 % half-width for mean(xs) - mean(ys); degrees of freedom rounded down."""
    if len(xs) < 2 or len(ys) < 2:
        return math.nan
    vx = _variance(xs, _mean(xs)) / len(xs)
    vy = _variance(ys, _mean(ys)) / len(ys)
    se2 = vx + vy
    if se2 == 0:
        return 0.0
    # Welch-Satterthwaite, written with the variance shares so it cannot underflow: tiny
    # variances (1e-112 squared is 0.0 in floats) would otherwise divide by zero.
    share_x, share_y = vx / se2, vy / se2
    df = 1.0 / (share_x**2 / (len(xs) - 1) + share_y**2 / (len(ys) - 1))
    return t_critical(max(1, math.floor(df))) * math.sqrt(se2)


def paired_difference(values: Sequence[float | None],
                      baseline: Sequence[float | None]) -> Difference:
    """``values - baseline`` over the replications where both have a value.

    Runtime complexity: O(n).

    >>> d = paired_difference([2.0, 3.0, 5.0], [1.0, 2.0, 3.5])
    >>> d.n, round(d.mean, 4), d.half_width < d.unpaired_half_width
    (3, 1.1667, True)

    Args:
        values: the metric in replication 0, 1, ... of a configuration (None: no value).
        baseline: the same metric in the same replications of the baseline configuration.

    Returns:
        A :class:`Difference`: mean, sd and paired half-width of the differences, and the
        unpaired (Welch) half-width of the same pairs.

    Raises:
        ValueError: the two sequences differ in length.
    """
    if len(values) != len(baseline):
        raise ValueError(f"paired samples must have one value per replication each, got "
                         f"{len(values)} and {len(baseline)}")
    pairs = [(v, b) for v, b in zip(values, baseline, strict=True)
             if v is not None and b is not None]
    diffs = [v - b for v, b in pairs]
    paired = estimate(diffs)
    unpaired = _welch_half_width([v for v, _ in pairs], [b for _, b in pairs])
    return Difference(paired.n, paired.mean, paired.sd, paired.half_width, unpaired)
