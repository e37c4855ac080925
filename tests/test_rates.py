"""Rate fits (least squares + t intervals) and predicted / exact quadratic rates (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import villani
from villani.diagnostics import fit_rate, fit_slope, predicted_rate, quadratic_rate, t_quantile

RTOL = 1e-10


def test_t_quantile_matches_scipy():
    ps = np.array([0.6, 0.9, 0.975, 0.995, 0.025, 0.3])
    for df in (1.0, 2.5, 7.0, 30.0, 400.0):
        np.testing.assert_allclose(t_quantile(ps, df), stats.t.ppf(ps, df), rtol=1e-10)
    assert np.isnan(float(t_quantile(0.975, 0.0)))


def test_fit_slope_matches_scipy_linregress(key):
    x = jnp.linspace(0.0, 3.0, 25)
    y = 1.5 - 0.7 * x + 0.1 * jax.random.normal(key, (25,))
    fit = fit_slope(x, y)
    ref = stats.linregress(np.asarray(x), np.asarray(y))
    np.testing.assert_allclose(fit.slope, ref.slope, rtol=RTOL)
    np.testing.assert_allclose(fit.intercept, ref.intercept, rtol=RTOL)
    np.testing.assert_allclose(fit.stderr, ref.stderr, rtol=1e-9)
    tq = stats.t.ppf(0.975, 23)
    np.testing.assert_allclose(fit.ci, [ref.slope - tq * ref.stderr, ref.slope + tq * ref.stderr], rtol=1e-9)
    # log-log: y = 3 x^-0.5 exactly
    xs = jnp.geomspace(1.0, 1e3, 9)
    np.testing.assert_allclose(fit_slope(xs, 3 * xs**-0.5, log=True).slope, -0.5, rtol=1e-12)
    with pytest.raises(ValueError, match="at least 3"):
        fit_slope(x[:2], y[:2])
    with pytest.raises(ValueError, match="log=True"):
        fit_slope(x, y, log=True)  # x[0] = 0


def _synthetic(key, rho, seeds, k=60, sigma=0.05):
    t = jnp.arange(k, dtype=float)
    noise = sigma * jax.random.normal(key, (seeds, k))
    return t, jnp.exp(2.0 - rho * t + noise)


def test_fit_rate_recovers_rate_and_ci_coverage(key):
    rho = 0.17
    t, vals = _synthetic(key, rho, 1000)
    fit = fit_rate(vals, steps=t, window=None)
    assert fit.rate.shape == (1000,) and fit.ci.shape == (1000, 2)
    assert np.all(np.asarray(fit.n_points) == 60)
    covered = (np.asarray(fit.ci[:, 0]) <= rho) & (rho <= np.asarray(fit.ci[:, 1]))
    # nominal 95 %; binomial sd over 1000 seeds ~ 0.7 %
    assert 0.93 <= covered.mean() <= 0.97, covered.mean()
    np.testing.assert_allclose(np.asarray(fit.contraction), np.exp(-np.asarray(fit.rate)), rtol=RTOL)
    assert abs(float(fit.mean) - rho) < 5e-4
    lo, hi = np.asarray(fit.mean_ci)
    assert lo <= rho <= hi
    # 90 % intervals are narrower and cover less
    fit90 = fit_rate(vals, steps=t, window=None, level=0.9)
    cov90 = ((np.asarray(fit90.ci[:, 0]) <= rho) & (rho <= np.asarray(fit90.ci[:, 1]))).mean()
    assert 0.875 <= cov90 <= 0.925, cov90


def test_fit_rate_bootstrap_and_batch_shapes(key):
    t, vals = _synthetic(key, 0.2, 12)
    vals = vals.reshape(3, 4, -1)
    fit = fit_rate(vals, steps=t, window=None)
    assert fit.rate.shape == (3, 4) and fit.ci.shape == (3, 4, 2) and fit.window.shape == (3, 4, 2)
    assert fit.mean.shape == (4,) and fit.mean_ci.shape == (4, 2)
    np.testing.assert_allclose(fit.mean, np.asarray(fit.rate).mean(axis=0), rtol=RTOL)
    boot = fit_rate(vals, steps=t, window=None, bootstrap=400, key=jax.random.key(1))
    b2 = fit_rate(vals, steps=t, window=None, bootstrap=400, key=jax.random.key(1))
    np.testing.assert_array_equal(boot.mean_ci, b2.mean_ci)  # same key, same interval
    assert np.all(np.asarray(boot.mean_ci[:, 0]) <= np.asarray(boot.mean))
    assert np.all(np.asarray(boot.mean) <= np.asarray(boot.mean_ci[:, 1]))
    with pytest.raises(ValueError, match="bootstrap"):
        fit_rate(vals, steps=t, window=None, bootstrap=10)
    # jit and vmap
    rates = jax.jit(lambda v: fit_rate(v, steps=t, window=None).rate)(vals)
    np.testing.assert_allclose(rates, fit.rate, rtol=1e-12)


def test_fit_rate_auto_window_skips_transient_and_floor():
    # fast transient (rate 1) to 1e-1, then the linear phase (rate 0.05), then a floor at 1e-13
    t = jnp.arange(600.0)
    vals = 0.9 * jnp.exp(-t) + 0.1 * jnp.exp(-0.05 * t) + 1e-13
    fit = fit_rate(vals, steps=t)
    assert abs(float(fit.rate) - 0.05) < 1e-3
    lo, hi = np.asarray(fit.window)
    rel = np.asarray(vals) / float(vals[0])
    assert rel[int(lo)] <= 1e-2 and rel[int(lo) - 1] > 1e-2
    assert rel[int(hi)] >= 1e-9 and rel[int(hi) + 1] < 1e-9
    # an explicit window in units of steps
    fw = fit_rate(vals, steps=t, window=(100.0, 200.0))
    np.testing.assert_allclose(fw.window, [100.0, 200.0])
    assert int(fw.n_points) == 101
    np.testing.assert_allclose(fw.rate, 0.05, rtol=1e-6)


def test_fit_rate_continuous_time_units():
    # gradient flow on a diagonal quadratic: L(t) = sum lam_i theta_i^2 exp(-2 lam_i t) / 2;
    # the late rate is 2 lam_min per time unit, whatever the save spacing
    lam = np.array([0.5, 2.0, 7.0])
    ts = np.linspace(0.0, 40.0, 81)
    loss = 0.5 * (lam * np.exp(-2 * np.outer(ts, lam))).sum(axis=1)
    fit = fit_rate(loss, steps=ts, window=(15.0, 40.0))
    np.testing.assert_allclose(fit.rate, 2 * lam[0], rtol=1e-6)
    np.testing.assert_allclose(fit.rate, predicted_rate("gradient_flow", lam[0], lam[-1]).rate, rtol=1e-6)


def test_fit_rate_trajectory_invalid_records_never_enter():
    t = jnp.arange(40.0)
    loss = jnp.exp(-0.3 * t)
    valid = t < 30
    loss_nan = jnp.where(valid, loss, jnp.nan)
    traj = villani.Trajectory(t, loss_nan, loss, {"res": jnp.sqrt(2 * loss_nan)}, None, None, valid,
                              jnp.array(True), jnp.array(30))
    # the divergence is said, with where it happened
    with pytest.warns(RuntimeWarning, match=r"diverged at save index 30 \(t = 30\)"):
        fit = fit_rate(traj, window=None)
    assert int(fit.n_points) == 30 and float(fit.window[1]) == 29.0
    np.testing.assert_allclose(fit.rate, 0.3, rtol=1e-10)
    # a metric: the residual norm decays at half the loss rate
    with pytest.warns(RuntimeWarning, match="diverged"):
        res_fit = fit_rate(traj, window=None, metric="res")
    np.testing.assert_allclose(res_fit.rate, 0.15, rtol=1e-10)
    # a batch of trajectories (vmapped dynamics): leading seed axis on every field
    batch = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), traj)
    with pytest.warns(RuntimeWarning, match=r"2 of 2 diverged|of 2, 2 diverged"):
        fb = fit_rate(batch, window=None)
    assert fb.rate.shape == (2,) and fb.mean.shape == ()
    with pytest.raises(ValueError, match="metric"):
        fit_rate(traj, metric="nope")


def test_fit_rate_refuses_too_few_points():
    vals = jnp.exp(-0.1 * jnp.arange(10.0))
    with pytest.raises(ValueError, match="fewer than 3"):
        fit_rate(vals)  # never reaches 1e-2 of the start: empty auto window
    with pytest.raises(ValueError, match="fewer than 3"):
        fit_rate(vals, window=(0.0, 1.0))
    with pytest.raises(ValueError, match="fewer than 3"):
        fit_rate(vals, valid=jnp.arange(10) < 2, window=None)
    with pytest.raises(ValueError, match="window"):
        fit_rate(vals, window="linear")
    with pytest.raises(ValueError, match="level"):
        fit_rate(vals, window=None, level=1.5)


# ----------------------------------------------------------------------------- theory


def _iterate(method, lam, lr, beta, k, theta0):
    """NumPy reference: the actual recursions on L = 1/2 sum lam_i theta_i^2; returns losses."""
    prev, th = theta0.copy(), theta0.copy()
    out = []
    for _ in range(k):
        out.append(0.5 * np.sum(lam * th**2))
        if method == "gd":
            new = th - lr * lam * th
        elif method == "heavy_ball":
            new = th - lr * lam * th + beta * (th - prev)
        else:  # nag: v = th + beta (th - prev); th' = v - lr grad(v)
            v = th + beta * (th - prev)
            new = v - lr * lam * v
        prev, th = th, new
    return np.array(out)


@pytest.mark.parametrize("method,lr,beta", [("gd", 0.15, 0.0), ("gd", 0.28, 0.0),
                                            ("heavy_ball", 0.1, 0.5), ("nag", 0.1, 0.6)])
def test_quadratic_rate_matches_the_iteration(method, lr, beta):
    lam = np.array([0.05, 0.3, 1.0, 3.0, 7.0])
    theta0 = np.ones_like(lam)
    loss = _iterate(method, lam, lr, beta, 700, theta0)
    measured = fit_rate(loss, window=(350.0, 699.0))
    exact = quadratic_rate(method, jnp.asarray(lam), lr, beta)
    np.testing.assert_allclose(measured.rate, exact.rate, rtol=2e-2)
    it = quadratic_rate(method, jnp.asarray(lam), lr, beta, quantity="iterate")
    np.testing.assert_allclose(exact.rate, 2 * it.rate, rtol=RTOL)
    np.testing.assert_allclose(it.contraction, np.exp(-it.rate), rtol=RTOL)


def test_quadratic_rate_flags_divergence():
    lam = jnp.array([1.0, 10.0])
    assert float(quadratic_rate("gd", lam, 0.25).rate) < 0  # |1 - 2.5| > 1
    assert float(quadratic_rate("gd", jnp.array([0.0, 1.0]), 0.5).rate) == 0.0  # flat direction
    assert float(quadratic_rate("heavy_ball", lam, 0.1, 1.2).rate) < 0


@pytest.mark.parametrize("method", ["gd", "nag", "heavy_ball"])
@pytest.mark.parametrize("kappa", [4.0, 100.0, 1e4])
def test_predicted_rate_equals_quadratic_rate_at_the_tuning(method, kappa):
    mu, L = 0.3, 0.3 * kappa
    pred = predicted_rate(method, mu, L, quantity="iterate")
    lam = jnp.array([mu, np.sqrt(mu * L), L])  # the extremes and an interior eigenvalue
    exact = quadratic_rate(method, lam, pred.lr, pred.momentum, quantity="iterate")
    # double roots (NAG at mu, heavy-ball everywhere) lose half the digits to the square root
    np.testing.assert_allclose(exact.contraction, pred.contraction, rtol=1e-6)
    loss = predicted_rate(method, mu, L)
    np.testing.assert_allclose(loss.rate, 2 * pred.rate, rtol=RTOL)
    sk = np.sqrt(kappa)
    expect = {"gd": 1 - 1 / kappa, "nag": 1 - 1 / sk, "heavy_ball": (sk - 1) / (sk + 1)}[method]
    np.testing.assert_allclose(pred.contraction, expect, rtol=1e-12)


def test_predicted_rate_vmap_and_bad_input():
    mus = jnp.array([0.1, 0.2, 0.5])
    r = jax.vmap(lambda m: predicted_rate("nag", m, 1.0).rate)(mus)
    np.testing.assert_allclose(r, -2 * np.log(1 - np.sqrt(np.asarray(mus))), rtol=1e-12)
    with pytest.raises(ValueError, match="method"):
        predicted_rate("adam", 1.0, 2.0)
    with pytest.raises(ValueError, match="mu, L"):
        predicted_rate("gd", 2.0, 1.0)
    with pytest.raises(ValueError, match="quantity"):
        predicted_rate("gd", 1.0, 2.0, quantity="params")
    with pytest.raises(ValueError, match="lr"):
        quadratic_rate("gd", jnp.ones(2), 0.0)
    with pytest.raises(ValueError, match="method"):
        quadratic_rate("gradient_flow", jnp.ones(2), 0.1)
