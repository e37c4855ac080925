"""Paper 002 (proxy convexity / proxy PL): the QUICK run's verdicts, against independent computations."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from conftest import assert_claims_refutable

from villani.data import margin_separable
from villani.experiments.papers import paper_002 as P


def test_verdicts_as_expected(result):
    bad = [v for v in result.verdicts if not v.as_expected]
    assert not bad, bad
    assert any(v.role == "counter-example" for v in result.verdicts)


def test_every_claim_has_a_refuting_control_and_a_margin(result):
    assert_claims_refutable(result, at_least=3, vacuous_decides_nothing=True)


def test_vacuous_bounds_are_not_reported_as_holding(result):
    rate = [v for v in result.verdicts if "proxy-PL rate" in v.claim]
    assert len(rate) == 2
    for v in rate:
        assert v.vacuous and v.outcome == "vacuous", v


def test_table_is_tidy(result):
    t = result.table
    c = P.QUICK
    n_rows = (len(c.gammas) + 3 * len(c.noise3) * c.seeds3 + len(c.widths) * len(c.flips) + 2)
    assert all(np.asarray(v).ndim == 1 and len(v) == n_rows for v in t.values())
    assert result.paper == "002" and set(result.figures) == {"single_neuron", "two_layer"}


def _e3_sample(c):
    """E3's test sample, v and per-seed train data and w0, rebuilt from the run's keys."""
    k3 = jax.random.split(jax.random.key(0), 4)[2]
    kv, kte, ktr, kw, _ = jax.random.split(k3, 5)
    v = jax.random.normal(kv, (c.d3,))
    v = np.asarray(0.8 * v / jnp.linalg.norm(v))
    x_te, xi_te = (np.asarray(a) for a in P._agnostic_sample(kte, c.n_test3, c.d3))
    tr = [P._agnostic_sample(k, c.n3, c.d3) for k in jax.random.split(ktr, c.seeds3)]
    w0 = np.asarray(jax.random.normal(kw, (c.seeds3, c.d3)) / math.sqrt(c.d3))
    return v, x_te, xi_te, [(np.asarray(a), np.asarray(b)) for a, b in tr], w0


def _np_risk_and_grad(w, x, y, g):
    z = x @ w
    s = np.where(z >= 0, z, g * z)
    r = s - y
    return 0.5 * np.mean(r**2), x.T @ (r * np.where(z >= 0, 1.0, g)) / len(y)


def test_opt_by_scipy_slsqp(result):
    # OPT = min over ||w|| <= 1 of the test-sample risk, by scipy's SLSQP with the constraint
    # (numpy risk and gradient; not villani, not projected GD): must match the table's OPT
    c = P.QUICK
    v, x_te, xi_te, _, _ = _e3_sample(c)
    t = result.table
    for s in c.noise3:
        y = np.where(x_te @ v >= 0, x_te @ v, c.gamma3 * (x_te @ v)) + s * xi_te
        ball = [{"type": "ineq", "fun": lambda w: 1 - w @ w, "jac": lambda w: -2 * w}]
        sol = scipy.optimize.minimize(lambda w, y=y: _np_risk_and_grad(w, x_te, y, c.gamma3), v,
                                      jac=True, method="SLSQP", constraints=ball,
                                      options={"ftol": 1e-14, "maxiter": 500})
        row = (t["experiment"] == "E3") & (t["noise"] == s) & (t["gamma"] == c.gamma3)
        want = max(sol.fun, 0.0)
        np.testing.assert_allclose(t["opt"][row], want, rtol=1e-5, atol=1e-12)


def test_gd_risk_by_hand(result):
    # GD in numpy on the empirical risk from the same w0, then its risk on the test sample:
    # must match the table's population risk of the GD output (for one noise level, both seeds)
    c = P.QUICK
    v, x_te, xi_te, tr, w0 = _e3_sample(c)
    s = c.noise3[3]
    y_te = np.where(x_te @ v >= 0, x_te @ v, c.gamma3 * (x_te @ v)) + s * xi_te
    t = result.table
    for seed, (x, xi) in enumerate(tr):
        y = np.where(x @ v >= 0, x @ v, c.gamma3 * (x @ v)) + s * xi
        w = w0[seed].copy()
        for _ in range(c.steps3):
            w = w - c.lr3 * _np_risk_and_grad(w, x, y, c.gamma3)[1]
        row = ((t["experiment"] == "E3") & (t["noise"] == s) & (t["gamma"] == c.gamma3)
               & (t["seed"] == seed) & (t["optimizer"] == "gd"))
        np.testing.assert_allclose(t["risk"][row], _np_risk_and_grad(w, x_te, y_te, c.gamma3)[0], rtol=1e-8)
        assert t["risk"][row] >= t["opt"][row] * (1 - 1e-9) or np.linalg.norm(w) > 1


def test_best_halfspace_error_is_the_flip_rate(result):
    # OPT = q: the margin halfspace u = e1 errs exactly on the flipped test labels, whose
    # fraction is Binomial(n_test, q)/n_test (rebuilt from the run's keys)
    c = P.QUICK
    k2 = jax.random.split(jax.random.key(0), 4)[1]
    x_tr, y_tr, x_te, y_te, y_clean = (np.asarray(a) for a in P._flipped(k2, c))
    ds = margin_separable(jax.random.split(k2)[0], c.n2 + c.n_test2, c.d2, c.margin)
    np.testing.assert_array_equal(np.sign(np.asarray(ds.x)[c.n2:, 0]), y_clean)
    for i, q in enumerate(c.flips):
        err_u = np.mean(y_te[i] * x_te[:, 0] <= 0)
        assert abs(err_u - q) <= 4 * math.sqrt(q * (1 - q) / c.n_test2) + 1e-12
    # and the table's test error is an error rate against those labels (>= 0, <= 1)
    t = result.table
    e4 = t["experiment"] == "E4"
    assert np.all((t["err_test"][e4] >= 0) & (t["err_test"][e4] <= 1))
    assert np.all(t["two_G_test"][e4] >= t["err_test"][e4])  # pointwise 1{z <= 0} <= 2 sigmoid(-z)


def test_counter_example_does_not_move(result):
    t = result.table
    c0 = (t["experiment"] == "counter") & (t["gamma"] == 0.0)
    assert t["loss_end"][c0] == t["loss_start"][c0]


def test_train_path_is_gd_on_the_helper_objective(key):
    # the villani net + Objective that train runs must be the worked example's F: compare
    # with GD by hand on single_neuron_proxy's objective (jax.grad of the helper's F)
    import villani

    kx, kv, kw = jax.random.split(key, 3)
    x = jax.random.normal(kx, (30, 5))
    v_star = jax.random.normal(kv, (5,))
    w0 = jax.random.normal(kw, (5,))
    gamma, lr, steps = 0.2, 0.1, 20
    path = P._neuron_path(x, v_star, w0, gamma, lr, steps)
    F = villani.diagnostics.single_neuron_proxy(x, v_star, gamma).objective
    w, ref = w0, []
    for _ in range(steps):
        ref.append(w)
        w = w - lr * jax.grad(F)(w)
    np.testing.assert_allclose(path, jnp.stack(ref), rtol=1e-12, atol=1e-14)
