"""The workload: key popularity (uniform, Zipf, hot set) and Poisson arrivals in chunks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim._config import WorkloadConfig
from sim._workload import KeyPopularity, Workload


@pytest.mark.parametrize("config", [
    WorkloadConfig(keys=50, popularity="uniform"),
    WorkloadConfig(keys=50, popularity="zipf", zipf_s=1.1),
    WorkloadConfig(keys=50, popularity="hotset", hot_keys=5, hot_fraction=0.7),
    WorkloadConfig(keys=50, popularity="hotset", hot_keys=49, hot_fraction=0.2),
    # Built directly (validation would reject it): every key is hot, so the draw is uniform.
    WorkloadConfig(keys=50, popularity="hotset", hot_keys=500, hot_fraction=0.5),
], ids=["uniform", "zipf", "hotset", "hotset-one-cold", "hotset-all-hot"])
def test_draw_frequencies_match_probabilities(config: WorkloadConfig) -> None:
    popularity = KeyPopularity(config, np.random.default_rng(3))
    n = 400_000
    counts = np.bincount(popularity.draw(n), minlength=config.keys)
    expected = popularity.probabilities() * n
    assert popularity.probabilities().sum() == pytest.approx(1.0)
    # Each count within 5 binomial standard deviations, and a chi-square far from its tail.
    sd = np.sqrt(expected * (1 - expected / n))
    assert np.all(np.abs(counts - expected) <= 5 * sd + 1)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < config.keys + 6 * np.sqrt(2 * config.keys)


def test_probabilities_follow_the_configuration() -> None:
    rng = np.random.default_rng(0)
    uniform = KeyPopularity(WorkloadConfig(keys=8, popularity="uniform"), rng).probabilities()
    assert np.allclose(uniform, 1 / 8)
    zipf = KeyPopularity(WorkloadConfig(keys=100, popularity="zipf", zipf_s=0.9), rng)
    by_rank = np.sort(zipf.probabilities())[::-1]
    # p(rank r) is proportional to r^-s.
    ranks = np.arange(1, 101, dtype=float)
    assert np.allclose(by_rank / by_rank[0], ranks ** -0.9)
    hot = KeyPopularity(WorkloadConfig(keys=100, popularity="hotset", hot_keys=10,
                                       hot_fraction=0.6), rng).probabilities()
    assert np.allclose(np.sort(hot)[::-1][:10], 0.06) and np.allclose(np.sort(hot)[:90], 0.4 / 90)


def test_popular_keys_are_spread_over_the_key_space() -> None:
    zipf = KeyPopularity(WorkloadConfig(keys=10_000, popularity="zipf"),
                         np.random.default_rng(1))
    top = np.argsort(zipf.probabilities())[::-1][:20]
    # Not the smallest ids: a permutation maps ranks to ids (20 of 10,000 all below 100 is
    # a chance of about 1e-40).
    assert not set(top.tolist()) <= set(range(100))
    assert len(set(top.tolist())) == 20


@settings(max_examples=40, deadline=None)
@given(keys=st.integers(1, 500), popularity=st.sampled_from(["uniform", "zipf", "hotset"]),
       seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300))
def test_draws_are_key_ids_and_deterministic_for_a_seed(
    keys: int, popularity: str, seed: int, n: int
) -> None:
    config = WorkloadConfig(keys=keys, popularity=popularity, hot_keys=max(1, keys // 3))
    first = KeyPopularity(config, np.random.default_rng(seed)).draw(n)
    again = KeyPopularity(config, np.random.default_rng(seed)).draw(n)
    assert first.shape == (n,) and first.min() >= 0 and first.max() < keys
    assert np.array_equal(first, again)


def test_arrival_chunks_continue_where_the_last_one_ended() -> None:
    workload = Workload(WorkloadConfig(rate=100.0, keys=1000), clients=3,
                        rng=np.random.default_rng(5))
    times: list[float] = []
    for size in (1, 7, 500, 2):
        chunk_times, clients, keys = workload.next_chunk(size)
        assert len(chunk_times) == len(clients) == len(keys) == size
        assert all(isinstance(t, float) for t in chunk_times)  # lists, not numpy arrays
        assert set(clients) <= {0, 1, 2} and all(0 <= k < 1000 for k in keys)
        times += chunk_times
    assert all(a < b for a, b in itertools.pairwise(times))
    assert times[0] > 0


def test_arrivals_are_poisson_at_the_rate_and_spread_over_clients() -> None:
    rate, n, clients = 2000.0, 200_000, 4
    workload = Workload(WorkloadConfig(rate=rate, keys=100), clients=clients,
                        rng=np.random.default_rng(11))
    times, senders, _ = workload.next_chunk(n)
    gaps = np.diff([0.0, *times])
    # Exponential gaps: mean 1/rate and standard deviation 1/rate.
    assert abs(gaps.mean() - 1 / rate) < 5 * (1 / rate) / np.sqrt(n)
    assert gaps.std() == pytest.approx(1 / rate, rel=0.02)
    counts = np.bincount(senders, minlength=clients)
    chi2 = float(((counts - n / clients) ** 2 / (n / clients)).sum())
    assert chi2 < 25  # 3 degrees of freedom: far in the tail
