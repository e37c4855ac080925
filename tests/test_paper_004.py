"""Paper 004 (NAG vs GD vs heavy-ball on two-layer ReLU nets): the QUICK run's verdicts."""

import jax
import jax.numpy as jnp
import numpy as np

from villani.experiments.papers import paper_004 as P


def test_verdicts_as_expected(result):
    bad = [v for v in result.verdicts if not v.as_expected]
    assert not bad, bad
    assert any(not v.expected for v in result.verdicts)  # the counter-examples are there


def test_table_is_tidy(result):
    cols = result.table
    n_rows = P.QUICK.seeds * len(P.QUICK.thetas) * len(P.METHODS) + P.QUICK.narrow_seeds
    assert {"theta", "width", "method", "kappa0", "kappa_inf", "kappa_end", "rho", "rho_exact"} <= set(cols)
    assert all(np.asarray(v).ndim == 1 and len(v) == n_rows for v in cols.values())
    assert result.paper == "004" and set(result.figures) == {"rate_vs_kappa", "residuals"}


def test_gd_rate_equals_linear_theory(result):
    # independent check: GD at eta = 1/lambda_max contracts the slowest mode by 1 - 1/kappa0;
    # in the lazy regime the fitted rate must sit between that and the exact spectral radius
    t = result.table
    gd = (t["method"] == "gd") & (t["width"] == P.QUICK.width)
    one_minus = 1 - t["rho"][gd]
    np.testing.assert_allclose(t["rho_exact"][gd], 1 - 1 / t["kappa0"][gd], rtol=1e-10)
    assert np.all(one_minus >= (1 / t["kappa0"][gd]) * (1 - 1e-3))


def test_kappa_grows_as_theta_shrinks(result):
    t = result.table
    gd = (t["method"] == "gd") & (t["width"] == P.QUICK.width)
    for s in np.unique(t["seed"]):
        rows = gd & (t["seed"] == s)
        order = np.argsort(-t["theta"][rows])
        assert np.all(np.diff(t["kappa0"][rows][order]) > 0)
        assert np.all(np.diff(t["kappa_inf"][rows][order]) > 0)


def test_narrow_net_drifts(result):
    # the narrow-net counter-example: H moves (some run flagged), while no wide run is
    t = result.table
    narrow = t["width"] == P.QUICK.narrow_width
    assert narrow.sum() == P.QUICK.narrow_seeds
    drift = t["kappa_end"] / t["kappa0"]
    np.testing.assert_array_equal(t["drift_flag"], drift > P.DRIFT_FLAG)
    assert t["drift_flag"][narrow].any() and not t["drift_flag"][~narrow].any()


def test_nag_rate_same_on_w_iterate(result):
    # optax's Nesterov iterate is the look-ahead V_t; an independent scan of the paper's
    # recursion on W_t (V_t = W_t + beta (W_t - W_{t-1}), W_{t+1} = V_t - eta grad Phi(V_t))
    # must give the same fitted rate on the hardest problem of seed 0
    c = P.QUICK
    net, data, w0, ev0, _, _, theta_p = P._problems(c, jax.random.key(0))
    p = int(np.argmin(theta_p))
    x, y, w = data.x[p], data.y[p], w0["w"][p]
    a = net.fixed_outer(w.dtype)
    eta, beta = (float(v[p, 1]) for v in P._hyper(ev0[:, 0], ev0[:, -1]))

    def resid(W):  # u - y for f(x) = (1/sqrt m) sum_r a_r relu(w_r . x)
        return jax.nn.relu(x @ W.T) @ a / np.sqrt(c.width) - y

    grad_phi = jax.grad(lambda W: 0.5 * jnp.sum(resid(W) ** 2))

    def step(carry, _):
        W, W_prev = carry
        V = W + beta * (W - W_prev)
        return (V - eta * grad_phi(V), W), jnp.linalg.norm(resid(W))

    r = np.asarray(jax.lax.scan(step, (w, w), None, length=c.steps)[1])
    ratio = r / r[0]
    lo = np.argmax(ratio <= c.window[1])
    hi = len(ratio) - 1 - np.argmax(ratio[::-1] >= c.window[0])
    t = np.arange(lo, hi + 1)
    rho_w = np.exp(np.polyfit(t, np.log(ratio[lo:hi + 1]), 1)[0])
    tab = result.table
    row = ((tab["method"] == "nag") & (tab["theta"] == theta_p[p]) & (tab["seed"] == 0)
           & (tab["width"] == c.width))
    np.testing.assert_allclose(1 - tab["rho"][row], 1 - rho_w, rtol=1e-3)
