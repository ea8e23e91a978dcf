"""The workload: Poisson arrivals, which client sends each request, and key popularity.

Arrivals are drawn in vectorised chunks (exponential gaps, client ids and key ids in one
numpy call each) and handed to the model as Python lists, which index faster than numpy
arrays one element at a time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sim._config import WorkloadConfig

__all__ = ["ArrivalChunk", "KeyPopularity", "Workload"]

ArrivalChunk = tuple[list[float], list[int], list[int]]
"""Arrival times, client indices and key ids, aligned."""


class KeyPopularity:
    """Draws key ids in ``[0, keys)`` by popularity: uniform, Zipf or a hot set.

    Zipf ranks are mapped to key ids through a fixed random permutation, so popular keys are
    spread over the key space rather than being the smallest ids.

    >>> from sim._config import WorkloadConfig
    >>> config = WorkloadConfig(keys=100, popularity="uniform")
    >>> ids = KeyPopularity(config, np.random.default_rng(1)).draw(1000)
    >>> bool(ids.min() >= 0 and ids.max() < 100)
    True
    """

    def __init__(self, config: WorkloadConfig, rng: np.random.Generator) -> None:
        self.config = config
        self._rng = rng
        self._cdf: npt.NDArray[np.float64] | None = None
        self._perm = rng.permutation(config.keys)
        if config.popularity == "zipf":
            ranks = np.arange(1, config.keys + 1, dtype=np.float64)
            weights = ranks ** -config.zipf_s
            cdf = np.cumsum(weights)
            self._cdf = cdf / cdf[-1]

    def probabilities(self) -> npt.NDArray[np.float64]:
        """Each key id's probability of being drawn (sums to 1)."""
        keys = self.config.keys
        if self.config.popularity == "uniform":
            return np.full(keys, 1.0 / keys)
        p = np.empty(keys)
        if self.config.popularity == "zipf":
            assert self._cdf is not None
            by_rank = np.diff(self._cdf, prepend=0.0)
        else:
            hot = min(self.config.hot_keys, keys)
            cold = keys - hot
            by_rank = np.empty(keys)
            f = self.config.hot_fraction if cold else 1.0
            by_rank[:hot] = f / hot
            if cold:
                by_rank[hot:] = (1.0 - f) / cold
        p[self._perm] = by_rank
        return p

    def draw(self, n: int) -> npt.NDArray[np.int64]:
        """``n`` key ids."""
        rng = self._rng
        config = self.config
        if config.popularity == "uniform":
            return rng.integers(0, config.keys, size=n)
        if config.popularity == "zipf":
            assert self._cdf is not None
            ranks = np.searchsorted(self._cdf, rng.random(n), side="right")
            np.minimum(ranks, config.keys - 1, out=ranks)
        else:
            # The same distribution as probabilities(): hot_fraction spread evenly over the
            # hot ranks, the rest evenly over the cold ones; with no cold rank (validation
            # rejects hot_keys >= keys, but a config built directly can ask) every rank is hot
            # and the draw is uniform, never a pile-up on one clipped id.
            hot = min(config.hot_keys, config.keys)
            if hot >= config.keys:
                ranks = rng.integers(0, config.keys, size=n)
            else:
                is_hot = rng.random(n) < config.hot_fraction
                cold = rng.integers(hot, config.keys, size=n)
                ranks = np.where(is_hot, rng.integers(0, hot, size=n), cold)
        return self._perm[ranks]


class Workload:
    """Poisson arrivals at ``config.rate`` spread uniformly over ``clients`` clients.

    >>> from sim._config import WorkloadConfig
    >>> w = Workload(WorkloadConfig(rate=10.0, keys=5), clients=2, rng=np.random.default_rng(0))
    >>> times, clients, keys = w.next_chunk(4)
    >>> times == sorted(times) and set(clients) <= {0, 1} and set(keys) <= set(range(5))
    True
    """

    def __init__(self, config: WorkloadConfig, clients: int, rng: np.random.Generator) -> None:
        self.config = config
        self.clients = clients
        self._rng = rng
        self.popularity = KeyPopularity(config, rng)
        self._last = 0.0

    def next_chunk(self, n: int) -> ArrivalChunk:
        """The next ``n`` arrivals, continuing from the previous chunk."""
        rng = self._rng
        times = self._last + np.cumsum(rng.exponential(1.0 / self.config.rate, size=n))
        self._last = float(times[-1])
        clients = rng.integers(0, self.clients, size=n)
        keys = self.popularity.draw(n)
        return times.tolist(), clients.tolist(), keys.tolist()
