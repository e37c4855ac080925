"""Empirical and infinite-width NTK: closed form vs Jacobians, Lanczos vs dense, MC checks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TOL
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from villani import nets
from villani.diagnostics import ntk, ntk_drift, ntk_infinite, ntk_lambda0, ntk_spectrum

RTOL = TOL[np.float64]  # 1e-10: closed forms against Jacobian references in float64


def _flat_jacobian(net, params, x):
    """Independent reference: jacrev of the batched outputs, flattened to (n, p)."""
    jac = jax.jacrev(lambda p: net.apply(p, x))(params)
    return jnp.concatenate([j.reshape(x.shape[0], -1) for j in jax.tree_util.tree_leaves(jac)], 1)


def _jacobian_ntk(net, params, x1, x2):
    return _flat_jacobian(net, params, x1) @ _flat_jacobian(net, params, x2).T


def _close(a, b, rtol=RTOL):
    scale = float(jnp.max(jnp.abs(b)))
    err = float(jnp.max(jnp.abs(a - b)))
    assert err <= rtol * max(scale, 1e-300), (err, scale)


# ----------------------------------------------------------------------------- ntk


_SHAPES = dict(
    act=st.sampled_from(nets.ACTIVATIONS),
    n1=st.integers(1, 7), n2=st.integers(1, 5), d=st.integers(1, 4), m=st.integers(1, 9),
    bias=st.booleans(), train_outer=st.booleans(),
    param=st.sampled_from(["ntk", "standard"]), seed=st.integers(0, 2**16),
)


@pytest.mark.parametrize("act", nets.ACTIVATIONS)
def test_closed_form_every_activation(act):
    # every activation at least once, whatever hypothesis draws
    _check_closed_form(act, 5, 4, 3, 7, True, act in ("tanh", "relu", "gelu"), "ntk", 1)


@pytest.mark.slow  # random shapes (every activation is covered above at fixed shapes)
@settings(max_examples=100, deadline=None)
@given(**_SHAPES)
def test_closed_form_equals_jacobian_many(act, n1, n2, d, m, bias, train_outer, param, seed):
    _check_closed_form(act, n1, n2, d, m, bias, train_outer, param, seed)


def _check_closed_form(act, n1, n2, d, m, bias, train_outer, param, seed):
    net = nets.two_layer(m, act, bias=bias, train_outer=train_outer, parametrization=param)
    k0, k1, k2 = jax.random.split(jax.random.key(seed), 3)
    params = net.init(k0, d)
    x1 = jax.random.normal(k1, (n1, d))
    x2 = jax.random.normal(k2, (n2, d))
    j1, j2 = _flat_jacobian(net, params, x1), _flat_jacobian(net, params, x2)
    _close(ntk(net, params, x1, x2, method="closed_form"), j1 @ j2.T)
    _close(ntk(net, params, x1, x2, method="generic"), j1 @ j2.T)
    _close(ntk(net, params, x1), j1 @ j1.T)


@pytest.mark.parametrize("chunk", [pytest.param(None, marks=pytest.mark.slow), 3])
def test_generic_mlp_and_chunks(key, chunk):
    net = nets.mlp((5, 4), "gelu", bias=True)
    k0, k1, k2 = jax.random.split(key, 3)
    params = net.init(k0, 3)
    x1 = jax.random.normal(k1, (6, 3))
    x2 = jax.random.normal(k2, (7, 3))
    got = ntk(net, params, x1, x2, method="generic", chunk=chunk)
    assert got.shape == (6, 7)
    _close(got, _jacobian_ntk(net, params, x1, x2))
    sym = ntk(net, params, x1, method="generic", chunk=chunk)
    _close(sym, sym.T)


@pytest.mark.parametrize("widths,act,bias,param", [
    ((5,), "tanh", False, "ntk"),            # one hidden layer: the two_layer closed form
    ((5, 4), "gelu", True, "ntk"),
    ((4, 6, 3), "erf", False, "standard"),
    ((3, 5, 4), "softplus", True, "standard"),
])
def test_mlp_closed_form_equals_jacobian(key, widths, act, bias, param):
    # K = sum_l c_l^2 (U_l U_l'^T) o (H_{l-1} H_{l-1}'^T) (+ bias terms) against jacrev
    net = nets.mlp(widths, act, bias=bias, parametrization=param)
    k0, k1, k2 = jax.random.split(key, 3)
    params = net.init(k0, 3)
    x1 = jax.random.normal(k1, (6, 3))
    x2 = jax.random.normal(k2, (5, 3))
    got = ntk(net, params, x1, x2, method="closed_form")
    assert got.shape == (6, 5)
    _close(got, _jacobian_ntk(net, params, x1, x2))
    _close(ntk(net, params, x1), ntk(net, params, x1, method="generic"))  # auto -> closed form
    if len(widths) == 1:
        two = nets.two_layer(widths[0], act, bias=bias, parametrization=param)
        tp = {"w": params["w"][0], "a": params["w"][1][0]}
        if not bias:  # two_layer has no output bias
            _close(ntk(two, tp, x1, x2), got)


def test_plain_function_network(key):
    def apply(p, x):
        return jnp.tanh(p["u"] @ x) * p["v"]

    params = {"u": jax.random.normal(key, (3,)), "v": jnp.array(1.5)}
    x = jax.random.normal(jax.random.key(1), (4, 3))
    jac = jax.vmap(jax.grad(apply), in_axes=(None, 0))(params, x)
    j = jnp.concatenate([jac["u"], jac["v"][:, None]], 1)
    _close(ntk(apply, params, x), j @ j.T)


def test_ntk_jit_and_vmap_over_params(key):
    net = nets.two_layer(16, "erf", bias=True)
    params = jax.vmap(lambda k: net.init(k, 3))(jax.random.split(key, 4))
    x = jax.random.normal(jax.random.key(7), (5, 3))
    batched = jax.vmap(lambda p: ntk(net, p, x))(params)
    jitted = jax.jit(lambda p: ntk(net, p, x, method="generic", chunk=2))
    for s in range(4):
        p = jax.tree_util.tree_map(lambda a: a[s], params)
        _close(batched[s], ntk(net, p, x))
        _close(jitted(p), batched[s])


def test_ntk_bad_input(key):
    net = nets.two_layer(4, "tanh")
    params = net.init(key, 3)
    with pytest.raises(ValueError, match="feature dimension 2"):
        ntk(net, params, jnp.ones((5, 2)))
    with pytest.raises(ValueError, match="x2: feature dimension"):
        ntk(net, params, jnp.ones((5, 3)), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="method"):
        ntk(net, params, jnp.ones((5, 3)), method="fast")
    with pytest.raises(ValueError, match="chunk"):
        ntk(net, params, jnp.ones((5, 3)), method="generic", chunk=0)
    with pytest.raises(ValueError, match="shape \\(n, d\\)"):
        ntk(net, params, jnp.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        ntk(net, params, jnp.full((2, 3), jnp.nan))
    multi = nets.mlp((4,), "tanh", out_dim=2)
    with pytest.raises(ValueError, match="closed_form"):
        ntk(multi, multi.init(key, 3), jnp.ones((2, 3)), method="closed_form")
    with pytest.raises(ValueError, match="closed_form"):
        ntk(lambda p, x: p @ x, jnp.ones(3), jnp.ones((2, 3)), method="closed_form")
    wide = nets.mlp((4,), "tanh", out_dim=2)
    with pytest.raises(ValueError, match="scalar outputs"):
        ntk(wide, wide.init(key, 3), jnp.ones((2, 3)))


# ----------------------------------------------------------------------------- spectrum


def _problem(key, net, n, d=4):
    k0, k1 = jax.random.split(key)
    return net.init(k0, d), jax.random.normal(k1, (n, d))


@pytest.mark.parametrize("net", [nets.two_layer(24, "tanh", bias=True), nets.mlp((6, 5), "relu")],
                         ids=["two_layer", "mlp"])
def test_spectrum_dense_and_full_lanczos(key, net):
    n = 20
    params, x = _problem(key, net, n)
    ev = np.linalg.eigvalsh(np.asarray(_jacobian_ntk(net, params, x, x)))
    dense = ntk_spectrum(net, params, x)
    # Weyl: two float64 computations of K differ by ~eps*||K||, so each eigenvalue to an
    # absolute 1e-12*lambda_max (lambda_min may be tiny: kappa ~ 1e8 for the relu MLP)
    err = 1e-12 * ev[-1]
    np.testing.assert_allclose([dense.lambda_min, dense.lambda_max], [ev[0], ev[-1]], rtol=0,
                               atol=err)
    np.testing.assert_allclose(dense.kappa, ev[-1] / ev[0], rtol=1e-9 + err / ev[0])
    # a full Krylov space (num_iters = n) gives both ends to rounding error
    lz = ntk_spectrum(net, params, x, method="lanczos", num_iters=n, key=jax.random.key(3))
    np.testing.assert_allclose([lz.lambda_min, lz.lambda_max], [ev[0], ev[-1]], rtol=1e-8)
    assert bool(lz.converged) and lz.num_iters == n
    assert float(lz.residual_max) <= 1e-10 * ev[-1]


def test_lanczos_partial_within_residual_bounds(key):
    net = nets.two_layer(64, "erf")
    params, x = _problem(key, net, 48)
    ev = np.linalg.eigvalsh(np.asarray(ntk(net, params, x)))
    s = ntk_spectrum(net, params, x, method="lanczos", num_iters=12, key=jax.random.key(1))
    lo, hi = float(s.lambda_min), float(s.lambda_max)
    eps = 1e-12 * ev[-1]
    # Ritz values lie inside the spectrum ...
    assert ev[0] - eps <= lo and hi <= ev[-1] + eps
    # ... and each has an eigenvalue within its residual
    assert np.min(np.abs(ev - hi)) <= float(s.residual_max) + eps
    assert np.min(np.abs(ev - lo)) <= float(s.residual_min) + eps
    # the top converges in few steps; the clustered bottom does not (documented)
    assert abs(hi - ev[-1]) <= 1e-8 * ev[-1]
    assert float(s.residual_min) > 0


@pytest.mark.slow  # 20-50 s CPU, compile-bound; run by make test-slow
def test_spectrum_vmap_jit_and_same_key(key):
    net = nets.two_layer(16, "tanh")
    params = jax.vmap(lambda k: net.init(k, 3))(jax.random.split(key, 3))
    x = jax.random.normal(jax.random.key(5), (10, 3))

    def top(p):
        return ntk_spectrum(net, p, x, method="lanczos", num_iters=10).lambda_max

    batched = jax.jit(jax.vmap(top))(params)
    dense = jax.vmap(lambda p: ntk_spectrum(net, p, x).lambda_max)(params)
    np.testing.assert_allclose(batched, dense, rtol=1e-9)
    p = jax.tree_util.tree_map(lambda a: a[1], params)
    assert float(top(p)) == float(top(p))  # same key, same result
    np.testing.assert_allclose(top(p), batched[1], rtol=1e-12)


def test_spectrum_bad_input(key):
    net = nets.two_layer(4, "tanh")
    params = net.init(key, 3)
    x = jnp.ones((5, 3))
    with pytest.raises(ValueError, match="method"):
        ntk_spectrum(net, params, x, method="arnoldi")
    with pytest.raises(ValueError, match="num_iters"):
        ntk_spectrum(net, params, x, method="lanczos", num_iters=0)
    with pytest.raises(ValueError, match="tol"):
        ntk_spectrum(net, params, x, tol=-1.0)
    with pytest.raises(ValueError, match="feature dimension"):
        ntk_spectrum(net, params, jnp.ones((5, 2)), method="lanczos")


# ----------------------------------------------------------------------------- drift


def test_drift(key):
    net = nets.two_layer(8, "tanh", bias=True)
    x = jax.random.normal(jax.random.key(2), (6, 3))
    p0 = net.init(key, 3)
    steps = [jax.tree_util.tree_map(lambda a, t=t: a * (1 + 0.1 * t), p0) for t in range(4)]
    k0 = ntk(net, p0, x)
    want = [float(jnp.linalg.norm(ntk(net, p, x) - k0) / jnp.linalg.norm(k0)) for p in steps]
    assert want[0] == 0.0 and want[1] > 0
    np.testing.assert_allclose(ntk_drift(net, steps, p0, x), want, rtol=1e-10, atol=1e-14)
    stacked = jax.tree_util.tree_map(lambda *ls: jnp.stack(ls), *steps)
    np.testing.assert_allclose(ntk_drift(net, stacked, p0, x), want, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ntk_drift(net, steps[2], p0, x), want[2], rtol=1e-10)
    # vmapped by the caller (e.g. over seeds), under jit, and on the generic path
    jitted = jax.jit(lambda p: ntk_drift(net, p, p0, x))
    np.testing.assert_allclose(jax.vmap(jitted)(stacked), want, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ntk_drift(net, stacked, p0, x, method="generic"), want,
                               rtol=1e-9, atol=1e-14)


def test_drift_bad_input(key):
    net = nets.two_layer(4, "tanh")
    p0 = net.init(key, 3)
    bad = jax.tree_util.tree_map(lambda a: a[None, None], p0)
    with pytest.raises(ValueError, match="leading batch axis"):
        ntk_drift(net, bad, p0, jnp.ones((2, 3)))


# ----------------------------------------------------------------------------- infinite width


def _mc_kernel(act_name, x, m, key, *, train_outer, bias, w_std):
    """Empirical NTK of a width-m net and the Monte-Carlo standard error of each entry."""
    outer = "paired" if not train_outer else "ones"
    net = nets.two_layer(m, act_name, bias=bias, train_outer=train_outer, outer=outer,
                         init=nets.gaussian(w_std))
    k0, k1 = jax.random.split(key)
    params = net.init(k0, x.shape[1])
    if train_outer:  # H^inf assumes E[a^2] = 1 whatever w_std: random signs
        params["a"] = jnp.sign(jax.random.normal(k1, (m,)))
    k = ntk(net, params, x)
    # per-unit contributions t_r(i, j): K = mean_r t_r; their spread gives the SE
    z = np.asarray(net.preactivations(params, x))
    a2 = np.asarray(net.outer_weights(params)) ** 2
    act = net.activation
    d1 = np.asarray(act.d1(jnp.asarray(z)))
    g = np.asarray(x @ x.T) + (1.0 if bias else 0.0)
    t = g[:, :, None] * (d1[:, None, :] * d1[None, :, :]) * a2
    if train_outer:
        s = np.asarray(act(jnp.asarray(z)))
        t = t + s[:, None, :] * s[None, :, :]
    se = t.std(axis=2, ddof=1) / math.sqrt(m)
    return np.asarray(k), se


@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("train_outer,bias,w_std", [(False, False, 1.0), (True, False, 1.0),
                                                    (True, True, 0.7), (False, True, 1.3)])
def test_infinite_width_matches_monte_carlo(key, act, train_outer, bias, w_std):
    # general norms (not on the sphere), so the norm dependence is checked too
    x = jax.random.normal(jax.random.key(11), (5, 3)) * jnp.array([[0.5], [1.0], [1.5], [2.0], [0.8]])
    k_mc, se = _mc_kernel(act, x, 40_000, key, train_outer=train_outer, bias=bias, w_std=w_std)
    h = np.asarray(ntk_infinite(x, activation=act, train_outer=train_outer, bias=bias, w_std=w_std))
    z = np.abs(k_mc - h) / se
    assert z.max() <= 5.0, z.max()


def test_relu_unit_sphere_is_du_et_al(key):
    x = jax.random.normal(key, (6, 4))
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    g = np.clip(np.asarray(x @ x.T), -1, 1)
    want = g * (np.pi - np.arccos(g)) / (2 * np.pi)
    # arccos has infinite slope at 1: a rounding of 1e-16 in the cosine moves the diagonal
    # by ~1e-8, so the tolerance is absolute and set by sqrt(eps)
    np.testing.assert_allclose(ntk_infinite(x), want, rtol=0, atol=1e-7)
    np.testing.assert_allclose(ntk_lambda0(x), np.linalg.eigvalsh(want)[0], atol=1e-7)
    assert float(ntk_lambda0(x)) > 0


def _gauss_hermite_expectation(f, s11, s12, s22, order=60):
    """E f(u, v) for (u, v) ~ N(0, [[s11, s12], [s12, s22]]) by tensor Gauss-Hermite."""
    z, w = np.polynomial.hermite_e.hermegauss(order)
    w = w / w.sum()
    l11 = np.sqrt(s11)
    l21 = s12 / l11
    l22 = np.sqrt(max(s22 - l21**2, 0.0))
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    return float(np.sum(np.outer(w, w) * f(l11 * z1, l21 * z1 + l22 * z2)))


def test_erf_kernels_against_quadrature():
    from scipy.special import erf

    x = np.array([[0.3, -0.2], [0.1, 0.4], [-0.25, 0.15]])
    d1 = lambda u: 2 / np.sqrt(np.pi) * np.exp(-u * u)  # noqa: E731
    h = np.asarray(ntk_infinite(jnp.asarray(x), activation="erf", train_outer=True))
    for i in range(3):
        for j in range(3):
            s11, s12, s22 = x[i] @ x[i], x[i] @ x[j], x[j] @ x[j]
            e1 = _gauss_hermite_expectation(lambda u, v: d1(u) * d1(v), s11, s12, s22)
            e0 = _gauss_hermite_expectation(lambda u, v: erf(u) * erf(v), s11, s12, s22)
            np.testing.assert_allclose(h[i, j], s12 * e1 + e0, rtol=1e-9)


def test_relu_arccos_against_angular_quadrature():
    # E[relu(u) relu(v)] = |x||x'|/pi * int max(cos p, 0) max(cos(p - t), 0) dp
    # (polar coordinates: the radial integral int r^3 e^{-r^2/2} dr / (2 pi) = 1/pi)
    x = np.array([[0.5, 0.1, 0.0], [0.2, -1.2, 0.3], [-0.7, 0.4, 1.1]])
    h = np.asarray(ntk_infinite(jnp.asarray(x), activation="relu", train_outer=True))
    for i in range(3):
        for j in range(3):
            ni, nj = np.linalg.norm(x[i]), np.linalg.norm(x[j])
            t = np.arccos(np.clip(x[i] @ x[j] / (ni * nj), -1, 1))
            # the two half-circles overlap on [t - pi/2, pi/2], where the integrand is smooth
            ang, _ = integrate.quad(lambda p, t=t: np.cos(p) * np.cos(p - t), t - np.pi / 2,
                                    np.pi / 2, epsabs=1e-14, epsrel=1e-12)
            e0 = ni * nj * ang / np.pi
            e1 = (np.pi - t) / (2 * np.pi)  # the orthant probability, by construction
            np.testing.assert_allclose(h[i, j], x[i] @ x[j] * e1 + e0, rtol=1e-9, atol=1e-12)


def test_lambda0_orthonormal_and_jit():
    assert float(ntk_lambda0(jnp.eye(3))) == pytest.approx(0.5, rel=1e-12)
    x = jnp.eye(4)[:, :3] + 0.1
    np.testing.assert_allclose(jax.jit(ntk_infinite)(x), ntk_infinite(x), rtol=1e-12)


def test_infinite_bad_input():
    with pytest.raises(ValueError, match="activation"):
        ntk_infinite(jnp.ones((2, 2)), activation="tanh")
    with pytest.raises(ValueError, match="non-zero"):
        ntk_infinite(jnp.array([[0.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="feature dimension"):
        ntk_infinite(jnp.ones((2, 2)), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="w_std"):
        ntk_infinite(jnp.ones((2, 2)), w_std=0.0)


def test_rank_deficient_ntk_spectrum_is_honest():
    # n = 50 samples but only p = 8 parameters: K has rank <= 8. Lanczos must stop at
    # min(n, p) steps (no breakdown garbage) and kappa must be inf, never negative.
    net = nets.two_layer(2, "tanh")
    params = net.init(jax.random.key(0), 3)
    x = jax.random.normal(jax.random.key(1), (50, 3))
    dense = ntk_spectrum(net, params, x, method="dense")
    lz = ntk_spectrum(net, params, x, method="lanczos", num_iters=32, key=jax.random.key(2))
    assert lz.num_iters == 8
    np.testing.assert_allclose(lz.lambda_max, dense.lambda_max, rtol=1e-8)
    assert np.isinf(dense.kappa) and np.isinf(lz.kappa)
