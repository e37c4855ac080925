"""Infinite-width NNGP and NTK kernels: closed forms vs quadrature vs independent integrals,
and against the empirical kernels of wide networks averaged over seeds (float64)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import villani
from villani import nets
from villani.diagnostics import InfiniteKernels, mlp_kernels, ntk, ntk_infinite, two_layer_kernels

# Quadrature of erf at QUADRATURE_ORDER = 64 with pre-activation variances <= 1.7 (inputs of
# norm 0.8, biases of variance 1): measured <= 3e-9 in every entry, so 1e-7 leaves room.
ERF_QUAD_TOL = 1e-7
# Gauss-Hermite on relu's kink converges only algebraically: measured max error 4e-2 of
# max|Theta| (depth 1-3) at order 64; the tolerance checks agreement, not accuracy.
RELU_QUAD_RTOL = 6e-2
# Independent integrals (scipy dblquad at 1e-9) against quadrature at order 64 for the
# smooth activations, variances <= 1.7: measured <= 2e-9.
DBLQUAD_TOL = 1e-7
# Empirical checks: the seed mean of S kernels of width n differs from the limit by a
# fluctuation of standard error s/sqrt(S) (s the across-seed std, O(n^{-1/2})) plus a
# finite-width bias O(L/n). Tolerance rule: Z_MAX standard errors (measured from the seeds)
# plus BIAS_PER_LAYER * (L + 1) / n * max|kernel|. Measured over every case below (8 seeds,
# widths 256-2048; 4000 seeds for the output covariance): max |z| = 2.35, max relative error
# 3.6e-2 at width 256 and 1.5e-2 at 2048; a bias of 1.9e-2 = 4.9/n at width 256, depth 3
# (32 seeds). The kernel without biases, tested against nets with biases, gives |z| = 130.
Z_MAX = 6.0
BIAS_PER_LAYER = 2.0


def _inputs(n=4, d=3, norm=0.8, seed=0):
    x = jax.random.normal(jax.random.key(seed), (n, d))
    return norm * x / jnp.linalg.norm(x, axis=1, keepdims=True)


def _max_err(a, b):
    return float(jnp.max(jnp.abs(jnp.asarray(a) - jnp.asarray(b))))


# ----------------------------------------------------------------------------- closed forms vs quadrature


@pytest.mark.parametrize("depth,parametrization,bias", [(1, "ntk", True), (2, "ntk", False),
                                                        (3, "standard", True), (3, "ntk", True)])
def test_erf_closed_form_equals_quadrature(depth, parametrization, bias):
    x = _inputs(5)
    kw = dict(widths=(64,) * depth, activation="erf", parametrization=parametrization, bias=bias)
    if parametrization == "standard":
        kw["init"] = nets.gaussian(0.2)  # standard + gaussian: variances ~ width * 0.04
    closed = mlp_kernels(x, method="closed_form", **kw)
    quad = mlp_kernels(x, method="quadrature", **kw)
    scale = float(jnp.max(jnp.abs(closed.ntk)))
    assert _max_err(closed.ntk, quad.ntk) <= ERF_QUAD_TOL * max(scale, 1.0)
    assert _max_err(closed.nngp, quad.nngp) <= ERF_QUAD_TOL * max(float(jnp.max(closed.nngp)), 1.0)


@pytest.mark.parametrize("act,depth", [("relu", 3), ("leaky_relu", 2)])
def test_relu_closed_form_agrees_with_quadrature(act, depth):
    x = _inputs(5)
    kw = dict(widths=(64,) * depth, activation=act, bias=True)
    closed = mlp_kernels(x, **kw)
    quad = mlp_kernels(x, method="quadrature", **kw)
    for k in ("ntk", "nngp"):
        a, b = getattr(closed, k), getattr(quad, k)
        assert _max_err(a, b) <= RELU_QUAD_RTOL * float(jnp.max(jnp.abs(a))), k


@pytest.mark.slow
def test_quadrature_order_converges_for_erf():
    # a larger variance (inputs of norm 1.5) where order 64 is visibly inexact: the error
    # must fall by orders of magnitude from 32 to 64 to 128 nodes
    x = _inputs(4, norm=1.5)
    exact = mlp_kernels(x, widths=(8, 8), activation="erf", bias=True).ntk
    errs = [_max_err(mlp_kernels(x, widths=(8, 8), activation="erf", bias=True,
                                 method="quadrature", order=q).ntk, exact) for q in (32, 64, 128)]
    assert errs[0] > 10 * errs[1] > 100 * errs[2], errs
    assert errs[2] < 1e-7, errs  # measured 1.0e-8 (variances up to 3.3)


def _bivariate(f, a, b, c):
    """E f(u, v), (u, v) ~ N(0, [[a, c], [c, b]]), by scipy dblquad (independent reference)."""
    l11, l21 = math.sqrt(a), c / math.sqrt(a)
    l22 = math.sqrt(max(b - l21**2, 0.0))

    def g(z2, z1):
        return f(l11 * z1, l21 * z1 + l22 * z2) * math.exp(-0.5 * (z1 * z1 + z2 * z2)) / (2 * math.pi)

    val, _ = integrate.dblquad(g, -8, 8, -8, 8, epsabs=1e-9, epsrel=1e-9)
    return val


def _np_sigmoid(z):
    return 0.5 * (1.0 + math.tanh(0.5 * z))


# the activations and derivatives written out independently of villani.nets
_SMOOTH = {
    "tanh": (math.tanh, lambda z: 1.0 - math.tanh(z) ** 2),
    "sigmoid": (_np_sigmoid, lambda z: _np_sigmoid(z) * (1.0 - _np_sigmoid(z))),
    "softplus": (lambda z: max(z, 0.0) + math.log1p(math.exp(-abs(z))), _np_sigmoid),
    "gelu": (lambda z: z * 0.5 * math.erfc(-z / math.sqrt(2.0)),
             lambda z: 0.5 * math.erfc(-z / math.sqrt(2.0)) + z * math.exp(-0.5 * z * z)
             / math.sqrt(2 * math.pi)),
}


@pytest.mark.parametrize("name", ["sigmoid", "tanh", pytest.param("softplus", marks=pytest.mark.slow),
                                  pytest.param("gelu", marks=pytest.mark.slow)])
def test_two_layer_quadrature_against_dblquad(name):
    # depth 1: Theta = (x.x' + 1) E[phi' phi'] + E[phi phi], Sigma = E[phi phi],
    # (u, v) with covariance x.x' + 1 (gaussian(1) init, biases)
    phi, dphi = _SMOOTH[name]
    x = np.asarray(_inputs(2, seed=3))
    k = two_layer_kernels(jnp.asarray(x), width=100, activation=name, bias=True)
    s = x @ x.T + 1.0
    a, b, c = s[0, 0], s[1, 1], s[0, 1]
    e0 = _bivariate(lambda u, v: phi(u) * phi(v), a, b, c)
    e1 = _bivariate(lambda u, v: dphi(u) * dphi(v), a, b, c)
    assert abs(float(k.nngp[0, 1]) - e0) <= DBLQUAD_TOL
    assert abs(float(k.ntk[0, 1]) - (c * e1 + e0)) <= DBLQUAD_TOL


# ----------------------------------------------------------------------------- depth one


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_depth_one_is_the_two_layer_closed_form(act):
    x = _inputs(5)
    old = lambda **kw: ntk_infinite(x, activation=act, train_outer=True, **kw)  # noqa: E731
    # two_layer: hidden biases only; gaussian(1) init gives E a^2 = 1 as the old form assumes
    tl = two_layer_kernels(x, width=50, activation=act, bias=True)
    np.testing.assert_allclose(tl.ntk, old(bias=True), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tl.nngp, ntk_infinite(x, activation=act, bias=True, kernel="nngp"),
                               rtol=1e-12, atol=1e-14)
    # mlp without biases = two_layer; with biases it adds the trained readout bias:
    # +1 to Theta and its init variance s^2 = 1 to Sigma
    no_b = mlp_kernels(x, widths=50, activation=act)
    # relu's arccos has infinite slope at cos = 1: a rounding of 1e-16 in x.x vs |x|^2 moves
    # the diagonal by ~1e-9, so there the tolerance is set by sqrt(eps)
    np.testing.assert_allclose(no_b.ntk, old(), rtol=1e-12, atol=1e-7 if act == "relu" else 1e-14)
    with_b = mlp_kernels(x, widths=50, activation=act, bias=True)
    np.testing.assert_allclose(with_b.ntk, tl.ntk + 1.0, rtol=1e-12)
    np.testing.assert_allclose(with_b.nngp, tl.nngp + 1.0, rtol=1e-12)
    # fixed readout (train_outer=False): no readout term
    fixed = two_layer_kernels(x, width=50, activation=act, train_outer=False)
    np.testing.assert_allclose(fixed.ntk, ntk_infinite(x, activation=act), rtol=1e-12,
                               atol=1e-7 if act == "relu" else 1e-14)
    # the network form reads the same configuration off the net
    net = nets.two_layer(50, act, bias=True)
    np.testing.assert_allclose(ntk_infinite(net, x), tl.ntk, rtol=1e-14)
    np.testing.assert_allclose(ntk_infinite(net, x, kernel="nngp"), tl.nngp, rtol=1e-14)


# ----------------------------------------------------------------------------- wide networks


def _seed_kernels(net, x, seeds, fn):
    f = jax.jit(lambda k: fn(net, net.init(k, x.shape[1]), x))
    return np.stack([np.asarray(f(jax.random.key(1000 + s))) for s in range(seeds)])


def _assert_seed_mean_matches(samples, limit, depth, width):
    """The tolerance rule stated at the top of this file."""
    s = samples.shape[0]
    mean, se = samples.mean(0), samples.std(0, ddof=1) / math.sqrt(s)
    scale = float(np.max(np.abs(limit)))
    tol = Z_MAX * se + BIAS_PER_LAYER * (depth + 1) / width * scale
    err = np.abs(mean - np.asarray(limit))
    print(f"seed mean vs limit: max |z| {np.max(err / se):.2f}, max rel err {np.max(err) / scale:.2e}")
    assert np.all(err <= tol), (err / scale, tol / scale)
    return float(np.max(err) / scale)


_WIDE = [  # (depth, activation, parametrization, init, bias)
    pytest.param(2, "relu", "ntk", None, True, marks=pytest.mark.slow),
    (2, "tanh", "ntk", None, True),
    (2, "erf", "standard", None, True),  # lecun: Theta grows ~ width; Sigma does not
    (2, "erf", "ntk", nets.ntk_symmetric(), True),  # only the last two layers in Theta
]


@pytest.mark.parametrize("depth,act,par,init,bias", _WIDE)
def test_ntk_matches_wide_networks(depth, act, par, init, bias):
    width, seeds = 256, 8
    x = _inputs(4)
    net = nets.mlp((width,) * depth, act, parametrization=par, bias=bias, init=init)
    samples = _seed_kernels(net, x, seeds, ntk)
    _assert_seed_mean_matches(samples, ntk_infinite(net, x), depth, width)
    if act == "tanh":  # the same check rejects a neighbouring configuration (no biases)
        wrong = mlp_kernels(x, widths=(width,) * depth, activation=act, bias=False).ntk
        with pytest.raises(AssertionError):
            _assert_seed_mean_matches(samples, wrong, depth, width)


@pytest.mark.slow
@pytest.mark.parametrize("depth,act,par,init,bias", [
    (3, "tanh", "ntk", None, True),
    (3, "relu", "ntk", None, False),
    (3, "softplus", "standard", nets.he(), True),
    (3, "sigmoid", "ntk", nets.gaussian(1.5), True),
    (3, "gelu", "ntk", nets.ntk_symmetric(), True),
    (2, "leaky_relu", "standard", None, False),
])
def test_ntk_matches_very_wide_networks(depth, act, par, init, bias):
    width, seeds = 2048, 8
    x = _inputs(4)
    net = nets.mlp((width,) * depth, act, parametrization=par, bias=bias, init=init)
    samples = _seed_kernels(net, x, seeds, ntk)
    _assert_seed_mean_matches(samples, ntk_infinite(net, x), depth, width)


@pytest.mark.parametrize("act,par,init", [
    ("tanh", "ntk", None),
    pytest.param("relu", "standard", None, marks=pytest.mark.slow),
    pytest.param("softplus", "ntk", nets.gaussian(0.8), marks=pytest.mark.slow),
])
def test_nngp_matches_readout_feature_covariance(act, par, init):
    # given the hidden layers, Cov(f(x), f(x')) = c^2 omega^2 h_L(x).h_L(x') + beta^2:
    # one width-n feature Gram per seed, converging to Sigma with O(n^{-1/2}) fluctuations
    width, depth, seeds = 256, 2, 8
    x = _inputs(4)
    net = nets.mlp((width,) * depth, act, parametrization=par, bias=True, init=init)
    init_ = net.init_dist
    w2 = init_.scale**2 if init_.kind == "gaussian" else 1.0 / width  # readout weight variance
    b2 = init_.scale**2 if init_.kind == "gaussian" else 0.0
    c2 = 1.0 / width if par == "ntk" else 1.0

    def feature_cov(net, params, x):
        h = net.activation(net.preactivations(params, x)[-2])
        return c2 * w2 * (h @ h.T) + b2

    samples = _seed_kernels(net, x, seeds, feature_cov)
    _assert_seed_mean_matches(samples, ntk_infinite(net, x, kernel="nngp"), depth, width)


@pytest.mark.slow
def test_nngp_matches_output_covariance_over_seeds():
    # the outputs themselves: 4000 independent networks of width 128, depth 2
    width, depth, seeds = 128, 2, 4000
    x = _inputs(3)
    net = nets.mlp((width,) * depth, "erf", bias=True, init=nets.gaussian(1.2))
    keys = jax.random.split(jax.random.key(7), seeds)
    f = np.asarray(jax.lax.map(lambda k: net.apply(net.init(k, 3), x), keys, batch_size=500))
    prods = f[:, :, None] * f[:, None, :]  # E f = 0, so E[f f'] is the covariance
    _assert_seed_mean_matches(prods, ntk_infinite(net, x, kernel="nngp"), depth, width)


def test_two_layer_standard_grows_with_width():
    # standard parametrisation: the readout term of Theta is m E[phi phi]; the ratio to the
    # empirical NTK of a width-m net tends to one
    x = _inputs(4)
    net = nets.two_layer(512, "tanh", parametrization="standard", bias=True)
    _assert_seed_mean_matches(_seed_kernels(net, x, 8, ntk), ntk_infinite(net, x), 1, 512)
    small = ntk_infinite(nets.two_layer(256, "tanh", parametrization="standard"), x)
    big = ntk_infinite(nets.two_layer(1024, "tanh", parametrization="standard"), x)
    nngp = ntk_infinite(nets.two_layer(256, "tanh", parametrization="standard"), x, kernel="nngp")
    # Theta(m) = P (x.x') + m E[phi phi] with E[phi phi] = Sigma (lecun readout variance 1/m)
    np.testing.assert_allclose(big - small, (1024 - 256) * nngp, rtol=1e-12)


# ----------------------------------------------------------------------------- structure


def test_symmetric_and_positive_semidefinite():
    x = _inputs(8, norm=1.0, seed=5)
    for name in nets.ACTIVATIONS:
        for par in ("ntk", "standard"):  # one compiled program per activation: constants are data
            net = nets.mlp((100, 100, 100), name, parametrization=par, bias=True)
            for kernel in ("ntk", "nngp"):
                k = np.asarray(ntk_infinite(net, x, kernel=kernel))
                assert np.array_equal(k, k.T), (name, par, kernel)
                lam = np.linalg.eigvalsh(k)
                assert lam[0] >= -1e-10 * lam[-1], (name, par, kernel, lam[0], lam[-1])
    # the cross kernel (x1, x2) is the transpose of (x2, x1), and a block of the full kernel
    net = nets.mlp((100, 100, 100), "tanh", bias=True)
    x1, x2 = x[:4], x[4:]
    k12 = np.asarray(ntk_infinite(net, x1, x2))
    np.testing.assert_allclose(k12, np.asarray(ntk_infinite(net, x2, x1)).T, rtol=1e-12)
    np.testing.assert_allclose(k12, np.asarray(ntk_infinite(net, x))[:4, 4:], rtol=1e-10)


def test_network_hook_and_jit():
    x = _inputs(4)
    calls = []

    class Custom:
        def infinite_kernels(self, x1, x2=None, **kw):
            calls.append(kw)
            return mlp_kernels(x1, x2, widths=(8, 8), activation="erf", **kw)

    k = ntk_infinite(Custom(), x, kernel="nngp", order=16)
    assert calls == [{"method": "auto", "order": 16}]
    np.testing.assert_allclose(k, mlp_kernels(x, widths=(8, 8), activation="erf").nngp, rtol=1e-14)
    net = nets.mlp((64, 64), "erf")
    np.testing.assert_allclose(jax.jit(lambda x: ntk_infinite(net, x))(x), ntk_infinite(net, x),
                               rtol=1e-12)
    assert isinstance(villani.mlp_kernels(x, widths=4, activation="relu"), InfiniteKernels)
    assert villani.ntk_infinite is ntk_infinite


def test_bad_configuration():
    x = _inputs(3)
    with pytest.raises(ValueError, match="widths: expected at least one"):
        mlp_kernels(x, widths=(), activation="relu")
    with pytest.raises(ValueError, match="widths"):
        mlp_kernels(x, widths=(4, 0), activation="relu")
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mlp_kernels(x, widths=(4,), activation="swish")
    with pytest.raises(ValueError, match="method: 'closed_form' covers relu"):
        mlp_kernels(x, widths=(4,), activation="tanh", method="closed_form")
    with pytest.raises(ValueError, match="method"):
        mlp_kernels(x, widths=(4,), activation="tanh", method="exact")
    with pytest.raises(ValueError, match="parametrization"):
        mlp_kernels(x, widths=(4,), activation="tanh", parametrization="mup")
    with pytest.raises(ValueError, match="order"):
        mlp_kernels(x, widths=(4,), activation="tanh", order=1)
    with pytest.raises(ValueError, match="positive initialiser"):
        ntk_infinite(nets.mlp((4, 4), "tanh", parametrization="standard", init=nets.positive()), x)
    with pytest.raises(ValueError, match="odd"):
        mlp_kernels(x, widths=(4, 5), activation="tanh", init=nets.ntk_symmetric())
    with pytest.raises(ValueError, match="kernel"):
        ntk_infinite(nets.mlp(4), x, kernel="cntk")
    with pytest.raises(ValueError, match="feature dimension"):
        ntk_infinite(nets.mlp(4), x, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"x1: expected shape \(n, d\)"):
        ntk_infinite(nets.mlp(4), x[0])
    with pytest.raises(TypeError, match="no infinite-width kernel rule"):
        ntk_infinite(lambda p, x: x, x)
    with pytest.raises(TypeError, match="convenience form"):
        ntk_infinite(nets.mlp(4), x, activation="relu")
    # the two-layer convenience form stays closed-form only, and says where to go
    with pytest.raises(ValueError, match="pass a network"):
        ntk_infinite(x, activation="tanh")


# ----------------------------------------------------------------------------- the network's hook


@pytest.mark.parametrize("widths,act,par,bias,init", [
    ((16,), "relu", "ntk", True, None),
    ((16, 8), "erf", "standard", False, None),
    ((16, 8, 4), "tanh", "ntk", True, nets.gaussian(0.7)),
    ((16, 8, 4), "leaky_relu", "standard", True, nets.he()),
])
def test_mlp_hook_equals_mlp_kernels(widths, act, par, bias, init):
    """net.infinite_kernels is mlp_kernels with the net's own settings, and ntk_infinite uses it."""
    x1, x2 = _inputs(4, seed=1), _inputs(3, seed=2)
    net = nets.mlp(widths, act, parametrization=par, bias=bias, init=init)
    ref = mlp_kernels(x1, x2, widths=widths, activation=act, parametrization=par, bias=bias,
                      init=net.init_dist)
    own = net.infinite_kernels(x1, x2)
    assert isinstance(own, InfiniteKernels)
    np.testing.assert_array_equal(own.ntk, ref.ntk)
    np.testing.assert_array_equal(own.nngp, ref.nngp)
    np.testing.assert_array_equal(ntk_infinite(net, x1, x2), ref.ntk)
    np.testing.assert_array_equal(ntk_infinite(net, x1, x2, kernel="nngp"), ref.nngp)
    quad = net.infinite_kernels(x1, method="quadrature", order=32)  # method/order forwarded
    np.testing.assert_array_equal(quad.ntk, mlp_kernels(
        x1, widths=widths, activation=act, parametrization=par, bias=bias, init=net.init_dist,
        method="quadrature", order=32).ntk)


@pytest.mark.parametrize("kw", [
    dict(activation="relu"),
    dict(activation="erf", parametrization="standard", bias=True),
    dict(activation="tanh", train_outer=False, outer="ones"),
    dict(activation="relu", train_outer=False, outer=(1.0, -2.0, 0.5, 3.0, -1.0, 1.0),
         init=nets.ntk_symmetric()),
])
def test_two_layer_hook_equals_two_layer_kernels(kw):
    x = _inputs(5, seed=3)
    net = nets.two_layer(6, **kw)
    ref = two_layer_kernels(x, width=6, **{**kw, "init": net.init_dist})
    own = net.infinite_kernels(x)
    np.testing.assert_array_equal(own.ntk, ref.ntk)
    np.testing.assert_array_equal(own.nngp, ref.nngp)
    np.testing.assert_array_equal(ntk_infinite(net, x), ref.ntk)
    if kw == dict(activation="relu"):  # an independent check at orthonormal inputs:
        # Theta = E[relu' relu'] x.x' + E[relu relu]: 1/2 + 1/2 on the diagonal, 0 + 1/(2 pi) off it
        k = net.infinite_kernels(jnp.eye(3)).ntk
        want = np.full((3, 3), 1 / (2 * math.pi)) + (1 - 1 / (2 * math.pi)) * np.eye(3)
        np.testing.assert_allclose(k, want, rtol=1e-14, atol=1e-15)


def test_networks_without_the_hook_are_told_what_to_do():
    x = _inputs(3)

    def init(key, d):
        return {"w": jax.random.normal(key, (d,))}

    def apply(p, x):
        return jnp.tanh(x @ p["w"])

    for net in ((init, apply), apply, nets.as_network((init, apply))):
        for kernel in ("ntk", "nngp"):
            with pytest.raises(TypeError, match=r"no infinite-width kernel rule: ntk_infinite calls "
                                                r"the network's method infinite_kernels\(x1, x2=None"):
                ntk_infinite(net, x, kernel=kernel)
    with pytest.raises(TypeError, match="infinite_kernels"):
        villani.diagnostics.ntk_lambda0((init, apply), x)
