"""The percentile bootstrap of villani.experiments._stats against a hand-rolled numpy loop."""

import jax
import numpy as np
import pytest

from villani.experiments._stats import bootstrap, resample_indices


def _reference(stat_one, rows, key, reps, level):
    """One resample at a time: the same index draws, np.percentile by hand."""
    n = rows.shape[0]
    draws = np.asarray(jax.random.randint(key, (reps, n), 0, n))
    reps_values = np.array([stat_one(rows[d]) for d in draws])
    q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
    lo, hi = np.percentile(reps_values, q, axis=0)
    return stat_one(rows), lo, hi


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_matches_a_numpy_loop(level):
    rows = np.random.default_rng(0).standard_normal((37, 3)) ** 2  # skewed rows, 3 columns
    key = jax.random.key(4)
    b = bootstrap(lambda r: np.median(r, axis=1), rows, key=key, reps=300, level=level)
    est, lo, hi = _reference(lambda r: np.median(r, axis=0), rows, key, 300, level)
    np.testing.assert_allclose(b.estimate, est, rtol=1e-15)
    np.testing.assert_allclose(b.lo, lo, rtol=1e-15)
    np.testing.assert_allclose(b.hi, hi, rtol=1e-15)
    assert b.values.shape == (301, 3) and np.all(b.lo <= b.hi)


def test_interval_of_a_mean_has_the_normal_width():
    """For the mean of n normal rows the 95% interval is about 2 * 1.96 * sigma / sqrt(n)."""
    n, sigma = 400, 2.0
    x = sigma * np.random.default_rng(1).standard_normal(n)
    b = bootstrap(lambda r: r.mean(1), x, key=jax.random.key(0), reps=4000)
    width = 2 * 1.96 * x.std() / np.sqrt(n)
    assert abs((b.hi - b.lo) / width - 1) < 0.08
    assert b.lo < x.mean() < b.hi


def test_indices_and_bad_input():
    idx = resample_indices(jax.random.key(1), 6, 50)
    assert idx.shape == (51, 6) and idx[0].tolist() == list(range(6))
    assert idx.min() >= 0 and idx.max() <= 5 and len(np.unique(idx[1:])) == 6
    with pytest.raises(TypeError, match="key"):
        bootstrap(lambda r: r.mean(1), np.ones(3), key=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap(lambda r: r.mean(1), np.ones(3), key=jax.random.key(0), level=95)
    with pytest.raises(ValueError, match="stat: expected one value per resample"):
        bootstrap(lambda r: r.mean(), np.ones(3), key=jax.random.key(0), reps=5)
    with pytest.raises(ValueError, match="reps"):
        bootstrap(lambda r: r.mean(1), np.ones(3), key=jax.random.key(0), reps=0)
