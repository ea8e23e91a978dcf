"""The network: one-way delay per hop, optional exponential jitter, and injected extra delay.

Every hop (client to server, server to server, and back) takes :attr:`Network.hop_delay`
seconds, plus an exponential jitter when the scenario sets one. Jitter draws come in
vectorised chunks from the run's ``network`` stream; without jitter the request path reads
:attr:`Network.hop_delay` directly and draws nothing.
"""

from __future__ import annotations

import numpy as np

from sim._config import NetworkConfig

__all__ = ["Network"]

_CHUNK = 16_384
"""Jitter draws per vectorised batch."""


class Network:
    """Hop delays of one run.

    >>> import numpy as np
    >>> from sim._config import NetworkConfig
    >>> net = Network(NetworkConfig(delay=0.001), np.random.default_rng(1))
    >>> net.hop()
    0.001
    >>> net.set_extra_delay(0.01); round(net.hop(), 6)
    0.011
    """

    __slots__ = ("_jitter_i", "_jitters", "_rng", "delay", "extra_delay", "hop_delay", "jitter")

    def __init__(self, config: NetworkConfig, rng: np.random.Generator) -> None:
        self.delay = config.delay
        self.jitter = config.jitter
        self.extra_delay = 0.0
        #: One hop's delay when there is no jitter (the common, hot case).
        self.hop_delay = self.delay
        self._rng = rng
        self._jitters: list[float] = []
        self._jitter_i = 0

    def hop(self) -> float:
        """One network hop's delay now (hot paths read :attr:`hop_delay` without jitter)."""
        delay = self.hop_delay
        if self.jitter:
            i = self._jitter_i
            if i >= len(self._jitters):
                self._jitters = self._rng.exponential(self.jitter, _CHUNK).tolist()
                i = 0
            self._jitter_i = i + 1
            delay += self._jitters[i]
        return delay

    def set_extra_delay(self, extra: float) -> None:
        """Every hop takes ``extra`` seconds longer from now on."""
        self.extra_delay = extra
        self.hop_delay = self.delay + extra
