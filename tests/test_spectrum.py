"""Hessian spectrum by Lanczos and spectral density by SLQ, against eigvalsh(jax.hessian)."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from villani import Objective, data, nets
from villani.diagnostics import hessian_spectrum, spectral_density


def _objective(key, loss="squared", l2=0.0, net=None):
    net = net or nets.two_layer(6, "tanh", bias=True)
    kx, kp = jax.random.split(key)
    x = jax.random.normal(kx, (16, 3))
    y = jnp.sign(jnp.sin(2 * x[:, 0])) if loss == "logistic" else jnp.sin(2 * x[:, 0])
    obj = Objective(net, data.Dataset(x, y), loss, l2=l2)
    return obj, net.init(kp, 3)


def _hessian_eigs(obj, params):
    flat, unravel = ravel_pytree(params)
    h = jax.jit(jax.hessian(lambda f: obj.value(unravel(f))))(flat)
    return np.linalg.eigvalsh(np.asarray(h)), np.asarray(h)


@pytest.mark.parametrize("loss,l2,net", [
    pytest.param("squared", 0.0, None, marks=pytest.mark.slow),  # 24 s; logistic-l2 stays
    ("logistic", 0.01, None),
    pytest.param("squared", 0.0, nets.mlp((4, 3), "gelu"), marks=pytest.mark.slow),
], ids=["sq-two_layer", "logistic-l2", "sq-mlp"])
def test_full_lanczos_equals_eigvalsh(key, loss, l2, net):
    obj, params = _objective(key, loss, l2, net)
    ev, _ = _hessian_eigs(obj, params)
    p = ev.size
    s = hessian_spectrum(obj, params, k=3, key=jax.random.key(1), num_iters=p)
    scale = np.abs(ev).max()
    np.testing.assert_allclose(s.top, ev[::-1][:3], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(s.bottom, ev[:3], rtol=0, atol=1e-9 * scale)
    assert np.all(np.asarray(s.top_residual) <= 1e-9 * scale)
    assert np.all(np.asarray(s.bottom_residual) <= 1e-9 * scale)
    assert s.num_iters == p


def test_partial_lanczos_residual_bounds(key):
    obj, params = _objective(key, net=nets.two_layer(12, "tanh"))
    ev, _ = _hessian_eigs(obj, params)
    s = hessian_spectrum(obj, params, k=2, key=jax.random.key(4), num_iters=16)
    eps = 1e-12 * np.abs(ev).max()
    top, bottom = np.asarray(s.top), np.asarray(s.bottom)
    # interlacing: Ritz values lie inside the spectrum
    assert top[0] <= ev[-1] + eps and bottom[0] >= ev[0] - eps
    # each Ritz value has an eigenvalue within its residual
    for theta, r in zip(np.r_[top, bottom], np.r_[s.top_residual, s.bottom_residual]):
        assert np.min(np.abs(ev - theta)) <= r + eps
    # the sharpness converges within few steps
    np.testing.assert_allclose(top[0], ev[-1], rtol=1e-6)


@pytest.mark.slow  # 20-50 s CPU, compile-bound; run by make test-slow
def test_which_jit_vmap_same_key(key):
    obj, params = _objective(key)
    top = hessian_spectrum(obj, params, which="top", key=key, num_iters=8)
    assert top.bottom is None and top.bottom_residual is None
    bottom = hessian_spectrum(obj, params, which="bottom", key=key, num_iters=8)
    assert bottom.top is None
    both = hessian_spectrum(obj, params, key=key, num_iters=8)
    assert float(top.top[0]) == float(both.top[0]) and float(bottom.bottom[0]) == float(both.bottom[0])

    def sharp(p):
        return hessian_spectrum(obj, p, key=jax.random.key(0), num_iters=20).top[0]

    seeds = jax.vmap(lambda k: obj.net.init(k, 3))(jax.random.split(key, 3))
    batched = jax.jit(jax.vmap(sharp))(seeds)
    for i in range(3):
        ev, _ = _hessian_eigs(obj, jax.tree_util.tree_map(lambda a, i=i: a[i], seeds))
        np.testing.assert_allclose(batched[i], ev[-1], rtol=1e-8)


def test_plain_function_quadratic():
    diag = jnp.arange(1.0, 9.0)

    def obj(p):
        return 0.5 * jnp.sum(diag * p["x"] ** 2) + 0.5 * jnp.sum(p["y"] ** 2)

    s = hessian_spectrum(obj, {"x": jnp.ones(8), "y": jnp.zeros(2)}, k=2, key=jax.random.key(0),
                         num_iters=10)
    np.testing.assert_allclose(s.top, [8.0, 7.0], rtol=1e-10)
    np.testing.assert_allclose(s.bottom, [1.0, 1.0], rtol=1e-10)


def test_unhashable_callable_object():
    # the Lanczos runs are compiled with the function as a static argument: a callable
    # object that cannot be hashed (array fields, eq without hash) must still work, and two
    # such objects with different arrays must not share a compiled program
    @dataclasses.dataclass
    class Quadratic:
        diag: jax.Array

        def __call__(self, p):
            return 0.5 * jnp.sum(self.diag * p**2)

    @dataclasses.dataclass
    class WithValue:  # an objective-like object, not a villani Objective (not a pytree)
        q: Quadratic

        def value(self, p):
            return self.q(p)

    for top, wrap in ((5.0, False), (7.0, False), (6.0, True)):
        f = Quadratic(jnp.linspace(1.0, top, 5))
        f = WithValue(f) if wrap else f
        s = hessian_spectrum(f, jnp.ones(5), key=jax.random.key(0), num_iters=5)
        np.testing.assert_allclose([s.top[0], s.bottom[0]], [top, 1.0], rtol=1e-10)
        d = spectral_density(f, jnp.ones(5), key=jax.random.key(0), num_probes=2, num_iters=5)
        np.testing.assert_allclose(d.nodes[0], jnp.linspace(1.0, top, 5), rtol=1e-8)


def test_bad_input(key):
    obj, params = _objective(key)
    with pytest.raises(ValueError, match="which"):
        hessian_spectrum(obj, params, which="middle", key=key)
    with pytest.raises(ValueError, match="k"):
        hessian_spectrum(obj, params, k=0, key=key)
    with pytest.raises(ValueError, match="eigenvalues at each end"):
        hessian_spectrum(obj, params, k=1000, key=key)
    with pytest.raises(ValueError, match="num_iters"):
        hessian_spectrum(obj, params, k=3, num_iters=2, key=key)
    with pytest.raises(ValueError, match="scalar"):
        hessian_spectrum(lambda p: p["w"], params, key=key)
    with pytest.raises(ValueError, match="num_probes"):
        spectral_density(obj, params, key=key, num_probes=1)
    with pytest.raises(ValueError, match="sigma"):
        spectral_density(obj, params, key=key, sigma=-1.0)
    with pytest.raises(ValueError, match="grid"):
        spectral_density(obj, params, key=key, grid=jnp.ones((2, 2)))


# ----------------------------------------------------------------------------- SLQ


def test_density_integral_mean_and_exact_density(key):
    obj, params = _objective(key, net=nets.two_layer(8, "tanh", bias=True))
    ev, h = _hessian_eigs(obj, params)
    p = ev.size
    n_probes = 40
    d = spectral_density(obj, params, key=jax.random.key(2), num_probes=n_probes, num_iters=p)
    grid, dens = np.asarray(d.grid), np.asarray(d.density)
    # a density: non-negative, integrates to 1 (the grid covers the Ritz values +- 5 sigma)
    assert np.all(dens >= 0)
    np.testing.assert_allclose(np.trapezoid(dens, grid), 1.0, atol=1e-5)
    # its mean is unbiased for tr(H)/p: within 4 standard errors
    assert abs(float(d.mean) - np.trace(h) / p) <= 4 * float(d.mean_stderr)
    np.testing.assert_allclose(np.trapezoid(grid * dens, grid), d.mean, rtol=1e-4,
                               atol=1e-6 * np.abs(ev).max())
    # with a full Krylov space each probe's quadrature is exact, so the estimate is unbiased
    # for the smoothed exact density; most grid points lie within 4 standard errors
    sig = float(d.sigma)
    exact = np.exp(-0.5 * ((grid[:, None] - ev[None, :]) / sig) ** 2).sum(1) / (
        p * sig * math.sqrt(2 * math.pi))
    within = np.abs(dens - exact) <= 4 * np.asarray(d.stderr) + 1e-10 * exact.max()
    assert within.mean() >= 0.95, within.mean()


def test_density_user_grid_and_jit(key):
    obj, params = _objective(key)
    grid = jnp.linspace(-2.0, 3.0, 64)

    def run(p):
        return spectral_density(obj, p, key=jax.random.key(0), num_probes=4, num_iters=8, grid=grid,
                                sigma=0.1)

    eager, jitted = run(params), jax.jit(run)(params)
    np.testing.assert_array_equal(eager.grid, grid)
    np.testing.assert_allclose(jitted.density, eager.density, rtol=1e-10, atol=1e-12)
    assert eager.nodes.shape == (4, 8) and eager.weights.shape == (4, 8)
    np.testing.assert_allclose(eager.weights.sum(1), 1.0, rtol=1e-10)
