"""Paper 004 (NAG vs GD vs heavy-ball on two-layer ReLU nets): the QUICK run's verdicts."""

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_claims_refutable

from villani.experiments.papers import paper_004 as P


def test_verdicts_as_expected(result):
    bad = [v for v in result.verdicts if not v.as_expected]
    assert not bad, bad
    assert any(not v.expected for v in result.verdicts)  # the counter-examples are there


def test_claims_have_refuting_controls_and_margins(result):
    assert_claims_refutable(result, at_least=6)


def test_table_is_tidy(result):
    cols = result.table
    c = P.QUICK
    n_rows = (c.seeds * len(c.thetas) * len(P.METHODS)
              + (len(c.sweep_widths) + len(c.onset_widths)) * c.sweep_seeds
              * sum(len(j) for _, j in P._SWEEP_GROUPS))
    assert {"experiment", "theta", "width", "method", "kappa0", "kappa_inf", "kappa_end", "rho",
            "rho_exact"} <= set(cols)
    assert all(np.asarray(v).ndim == 1 and len(v) == n_rows for v in cols.values())
    assert result.paper == "004" and set(result.figures) == {"rate_vs_kappa", "residuals", "width_sweep"}
    lazy = cols["experiment"] == "lazy"
    assert np.log10(cols["kappa0"][lazy].max() / cols["kappa0"][lazy].min()) >= 2.5


def test_gd_rate_equals_linear_theory(result):
    # independent check: GD at eta = 1/lambda_max contracts the slowest mode by 1 - 1/kappa0;
    # in the lazy regime the fitted rate must sit between that and the exact spectral radius
    t = result.table
    gd = (t["method"] == "gd") & (t["experiment"] == "lazy")
    one_minus = 1 - t["rho"][gd]
    np.testing.assert_allclose(1 - t["rho_exact"][gd], 1 / t["kappa0"][gd], rtol=1e-10)
    np.testing.assert_allclose(one_minus, 1 / t["kappa0"][gd], rtol=0.05)


def test_kappa_grows_as_theta_shrinks(result):
    t = result.table
    gd = (t["method"] == "gd") & (t["experiment"] == "lazy")
    for s in np.unique(t["seed"][gd]):
        rows = gd & (t["seed"] == s)
        order = np.argsort(-t["theta"][rows])
        assert np.all(np.diff(t["kappa0"][rows][order]) > 0)
        assert np.all(np.diff(t["kappa_inf"][rows][order]) > 0)


def test_narrow_net_drifts(result):
    # the width sweep at unit labels: the narrowest net's H moves (flagged), no lazy run does
    t = result.table
    narrow = (t["experiment"] == "width sweep") & (t["width"] == min(P.QUICK.sweep_widths))
    drift = t["kappa_end"] / t["kappa0"]
    np.testing.assert_array_equal(t["drift_flag"], drift > P.DRIFT_FLAG)
    assert t["drift_flag"][narrow].any() and not t["drift_flag"][t["experiment"] == "lazy"].any()


def test_exact_theory_slopes_against_closed_form():
    # kappa -> infinity on the two-point spectrum {1/kappa, 1}: GD's 1 - rho is 1/kappa,
    # heavy-ball's rho is (sqrt k - 1)/(sqrt k + 1) exactly, NAG's 1 - rho -> 1/sqrt(kappa);
    # the exact theory's log-log slopes over kappa in [1e6, 1e9] are then -1, -1/2, -1/2
    kappa = np.geomspace(1e6, 1e9, 4)
    ev = np.stack([1 / kappa, np.ones_like(kappa)], -1)
    eta, beta = P._hyper(ev[:, 0], ev[:, -1])
    one_minus = 1 - P._exact(ev, eta, beta)
    sk = np.sqrt(kappa)
    np.testing.assert_allclose(one_minus[:, 0], 1 / kappa, rtol=1e-6)
    # heavy-ball's optimal parameters make every mode's roots a double root: the square root
    # of a ~0 discriminant keeps half of float64's digits, ~1e-8 in rho, ~1e-4 of 1 - rho here
    np.testing.assert_allclose(one_minus[:, 2], 1 - (sk - 1) / (sk + 1), rtol=1e-3)
    np.testing.assert_allclose(one_minus[:, 1] * sk, 1.0, rtol=2e-3)
    fits = P._slope_fit(kappa, one_minus[:, :3])
    np.testing.assert_allclose([f[0] for f in fits], [-1.0, -0.5, -0.5], atol=2e-3)


def test_rate_window_rule_against_polyfit():
    # the fitted rate is the least-squares log-slope over the stated window (numpy polyfit
    # as the reference): a fast run uses ratio 1e-2 ... 1e-10, a slow one its second half
    steps = 400
    t = np.arange(steps + 1)
    fast = 0.5 * 0.9**t * (1 + 0.01 * np.cos(t))
    slow = 0.3 * 0.999**t + 0.2 * 0.5**t
    # a run that reaches a round-off floor bouncing around the window's bottom: the fit
    # stops for good at the first step below it (the floor is not decay)
    floor = 0.5 * 0.8**t + 1e-10 * (1 + 0.9 * np.sin(t))
    rho, n_pts = P._rates(np.stack([fast, slow, floor]), (1e-10, 1e-2))
    m = (t >= np.argmax(fast <= 1e-2)) & (fast >= 1e-10)
    want_fast = np.exp(np.polyfit(t[m], np.log(fast[m]), 1)[0])
    want_slow = np.exp(np.polyfit(t[steps // 2:], np.log(slow[steps // 2:]), 1)[0])
    lo, hi = np.argmax(floor <= 1e-2), np.argmax(floor < 1e-10)
    assert (floor[hi:] >= 1e-10).any()  # the floor does come back above the bottom
    want_floor = np.exp(np.polyfit(t[lo:hi], np.log(floor[lo:hi]), 1)[0])
    np.testing.assert_allclose(rho, [want_fast, want_slow, want_floor], rtol=1e-10)
    assert n_pts[0] == m.sum() and n_pts[1] == steps - steps // 2 + 1 and n_pts[2] == hi - lo
    assert abs(want_floor - 0.8) < 0.02


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
    t = np.arange(len(ratio))
    lo = min(np.argmax(ratio <= c.window[1]) if (ratio <= c.window[1]).any() else c.steps, c.steps // 2)
    gone = (t >= lo) & (ratio < c.window[0])
    m = (t >= lo) & (t < (np.argmax(gone) if gone.any() else len(t)))
    rho_w = np.exp(np.polyfit(t[m], np.log(ratio[m]), 1)[0])
    tab = result.table
    row = ((tab["method"] == "nag") & (tab["theta"] == theta_p[p]) & (tab["seed"] == 0)
           & (tab["experiment"] == "lazy"))
    np.testing.assert_allclose(1 - tab["rho"][row], 1 - rho_w, rtol=1e-3)
