"""The network: a fixed one-way delay per hop, exponential jitter, injected extra delay."""

from __future__ import annotations

import numpy as np
import pytest

from sim._config import NetworkConfig
from sim._network import Network


def test_without_jitter_every_hop_takes_the_delay_and_draws_nothing() -> None:
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    net = Network(NetworkConfig(delay=0.002), rng)
    assert [net.hop() for _ in range(5)] == [0.002] * 5
    assert net.hop_delay == 0.002
    assert rng.bit_generator.state == state  # no random number was used


def test_extra_delay_adds_to_every_hop_until_it_is_cleared() -> None:
    net = Network(NetworkConfig(delay=0.001), np.random.default_rng(1))
    net.set_extra_delay(0.01)
    assert net.hop() == pytest.approx(0.011) and net.hop_delay == pytest.approx(0.011)
    assert net.extra_delay == 0.01
    net.set_extra_delay(0.0)
    assert net.hop() == 0.001


def test_jitter_is_exponential_with_the_configured_mean() -> None:
    net = Network(NetworkConfig(delay=0.001, jitter=0.004), np.random.default_rng(7))
    n = 50_000  # more than one vectorised chunk of draws
    extra = np.array([net.hop() for _ in range(n)]) - 0.001
    assert extra.min() >= 0
    # Exponential: the mean and the standard deviation are both the jitter.
    assert abs(extra.mean() - 0.004) < 5 * 0.004 / np.sqrt(n)
    assert extra.std() == pytest.approx(0.004, rel=0.03)
    # Chunks are fresh draws, not the first chunk again.
    assert not np.array_equal(extra[:1000], extra[16_384:17_384])


def test_jitter_is_deterministic_for_a_seed_and_adds_to_the_extra_delay() -> None:
    first = Network(NetworkConfig(delay=0.0, jitter=0.01), np.random.default_rng(3))
    again = Network(NetworkConfig(delay=0.0, jitter=0.01), np.random.default_rng(3))
    assert [first.hop() for _ in range(10)] == [again.hop() for _ in range(10)]
    again.set_extra_delay(1.0)
    assert all(1.0 <= again.hop() < 1.5 for _ in range(10))
