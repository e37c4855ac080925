"""Paper 000's quick reproduction: verdicts with margins and refuting controls, and checks of
the science against independent computations (quadrature, closed forms, SciPy)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_claims_refutable

from villani import Objective, langevin, nets
from villani import data as vdata
from villani.experiments.papers import paper_000


def test_every_verdict_as_expected(result):
    bad = [(v.outcome, v.claim, v.measured, v.control_text()) for v in result.verdicts if not v.as_expected]
    assert not bad, bad
    # counter-examples that must fail: lambda = 0 rays (3), lambda = 0 SGD, saturation
    assert sum(v.role == "counter-example" for v in result.verdicts) >= 5
    assert all(not v.holds for v in result.verdicts if v.role == "counter-example")


def test_every_claim_has_a_refuting_control_and_a_margin(result):
    claims = assert_claims_refutable(result, at_least=15)
    # sgd_sde is a control that must fail (its stationary law is not the Gibbs measure)
    assert any("sgd_sde" in v.control.case and v.control.refutes for v in claims)
    # the non-convex regime, the s-dependence, width independence and pure diffusion are measured
    text = " ".join(v.claim for v in claims)
    for needle in ("non-convex", "collapses", "width-independent", "pure diffusion", "Kolmogorov"):
        assert needle in text, needle


def test_table_is_tidy(result):
    lengths = {len(v) for v in result.table.values()}
    assert len(lengths) == 1
    assert set(np.unique(result.table["part"])) == {"a", "a_width", "b", "c", "d", "e", "e_scale", "f"}


def test_sgd_minimiser_is_not_trivial(result):
    t = result.table
    b = (t["part"] == "b") & (t["l2"] > 0)
    assert b.any() and (t["norm"][b] > 0.05).all()  # not the zero network
    # tanh and sigmoid: clearly away from it (softplus(0) != 0 keeps its minimiser small)
    big = b & np.isin(t["activation"], ["tanh", "sigmoid"])
    assert big.any() and (t["norm"][big] > 0.5).all()


def _gibbs_moments_by_quadrature(value, s, lo=-8.0, hi=8.0, n=20001):
    w = np.linspace(lo, hi, n)
    logp = -2.0 * value(w) / s
    p = np.exp(logp - logp.max())
    z = np.trapezoid(p, w)
    return np.trapezoid(w * p, w) / z, np.trapezoid(w * w * p, w) / z


def test_langevin_long_run_matches_gibbs_quadrature():
    """Independent Gibbs-expectation check on a 1-parameter non-convex case: the mean and second
    moment of villani.langevin's particles at temperature s/2 against trapezoid quadrature of
    exp(-2 L/s). Tolerance: 4 Monte-Carlo standard errors plus the Euler-Maruyama bias,
    O(dt * curvature) relative (< 1 % at dt = 0.01)."""
    s, lam, dt = 0.5, 0.2, 0.01
    ds = vdata.Dataset(jnp.array([[1.0], [-1.0]]), jnp.array([1.0, -1.0]))
    net = nets.two_layer(1, "tanh", parametrization="standard", train_outer=False, outer=(2.0,))
    obj = Objective(net, ds, "logistic", l2=lam)

    def value(w):  # the same L, written out in numpy
        return np.logaddexp(0.0, -2.0 * np.tanh(w)) + 0.5 * lam * w * w

    # not convex: L'' < 0 somewhere (so Bakry-Emery does not apply)
    w = np.linspace(-4, 4, 801)
    assert np.min(np.gradient(np.gradient(value(w), w), w)) < 0
    m1, m2 = _gibbs_moments_by_quadrature(value, s)
    n = 2000
    keys = jax.random.split(jax.random.key(7), n)
    tr = jax.vmap(lambda k: langevin(obj, {"w": jnp.array([[3.0]])}, key=k, t1=25.0, dt=dt,
                                         temperature=s / 2, saveat=2))(keys)
    x = np.asarray(tr.params["w"][:, 0, 0])
    se1, se2 = x.std() / math.sqrt(n), (x**2).std() / math.sqrt(n)
    assert abs(x.mean() - m1) <= 4 * se1 + 0.01 * abs(m1), (x.mean(), m1, se1)
    assert abs((x**2).mean() - m2) <= 4 * se2 + 0.01 * m2, ((x**2).mean(), m2, se2)
    # and the check can fail: the Gibbs law at the wrong temperature s is rejected
    _, m2_wrong = _gibbs_moments_by_quadrature(value, 2 * s)
    assert abs((x**2).mean() - m2_wrong) > 4 * se2 + 0.01 * m2_wrong


def test_generator_gap_matches_closed_forms():
    # Ornstein-Uhlenbeck: the generator of dX = -kX dt + sqrt(s) dW has gap k, for every s
    g = np.linspace(-5, 5, 501)
    for k, s in ((0.8, 0.1), (2.0, 0.5)):
        assert paper_000.generator_gap(0.5 * k * g**2, g[1] - g[0], s)[1] == pytest.approx(k, rel=2e-3)
    # 2-D anisotropic quadratic: the gap is the smaller curvature, the next eigenvalue
    # min(2 k1, k2)
    g = np.linspace(-4, 4, 121)
    W, A = np.meshgrid(g, g, indexing="ij")
    ev = paper_000.generator_gap(0.5 * (0.5 * W**2 + 1.5 * A**2), g[1] - g[0], 0.2, k=3)
    np.testing.assert_allclose(ev, [0.0, 0.5, 1.0], atol=5e-3)


def test_double_well_is_villani_but_not_convex():
    """The non-convex instance of part (e): Hessian of L at the origin has eigenvalues lambda +- 1/2
    (closed form) by jax.hessian, and lambda lies above lambda_c(s) for every s of the sweep."""
    lam = paper_000.QUICK.dw_l2
    net = nets.two_layer(1, "tanh", parametrization="standard")
    obj = Objective(net, paper_000._DW_DATA, "logistic", l2=lam)
    f = lambda th: obj.value({"w": th[:1].reshape(1, 1), "a": th[1:]})  # noqa: E731
    ev = np.linalg.eigvalsh(np.asarray(jax.hessian(f)(jnp.zeros(2))))
    np.testing.assert_allclose(ev, [lam - 0.5, lam + 0.5], atol=1e-12)
    from villani import villani_threshold

    assert all(villani_threshold("tanh", scale=s) < lam for s in paper_000.QUICK.dw_scales)
    # the numpy value used by the quadrature is the Objective's value
    w, a = 0.7, -1.3
    assert paper_000._dw_value(w, a, lam) == pytest.approx(float(f(jnp.array([w, a]))), rel=1e-12)


def test_ks_distance_matches_scipy():
    from scipy import stats

    x = np.random.default_rng(1).normal(0.3, 1.0, size=3000)
    g = np.linspace(-9, 9, 36001)
    pmf = stats.norm.cdf(g + (g[1] - g[0]) / 2) - stats.norm.cdf(g - (g[1] - g[0]) / 2)
    ref = stats.kstest(x, "norm").statistic
    assert paper_000.ks_distance(x, g, pmf) == pytest.approx(ref, abs=1e-4)
