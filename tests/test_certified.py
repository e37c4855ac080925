"""certified_lambda_min and ntk_spectrum(method="certified"): the bracket must contain the
smallest eigenvalue (float64 eigvalsh of the very matrix certified as the reference), be
tight when Lanczos converged, and refuse to prove positivity where it does not hold or
where rounding cannot resolve it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from villani import nets
from villani.diagnostics import certified_lambda_min, ntk, ntk_spectrum
from villani.diagnostics.certified import symmetrised


def _with_spectrum(key, lam, dtype=jnp.float64):
    n = lam.shape[0]
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, n), jnp.float64))
    return ((q * lam) @ q.T).astype(dtype)


_CERT = jax.jit(certified_lambda_min)


def _ref_min(a):
    """Independent reference: LAPACK's eigvalsh of the symmetrised matrix, in float64."""
    a = np.asarray(a, np.float64)
    return np.linalg.eigvalsh((a + a.T) / 2)[0]


@pytest.mark.parametrize("n", [pytest.param(1, marks=pytest.mark.slow),
                               pytest.param(7, marks=pytest.mark.slow), 60,
                               pytest.param(300, marks=pytest.mark.slow)])
def test_bracket_contains_lambda_min_and_is_tight(n):
    # a clustered bottom (lambda_2 / lambda_1 = 1.02) and kappa = 1e4: Lanczos on A would
    # need ~n steps; on A^{-1} the bottom is separated
    lam = jnp.concatenate([jnp.array([1e-3, 1.02e-3]), jnp.geomspace(1.05e-3, 10.0, 300)])[:n]
    a = _with_spectrum(jax.random.key(n), lam)
    ref = _ref_min(a)
    b = certified_lambda_min(a, rtol=1e-3)
    assert float(b.lower) <= ref <= float(b.upper)
    assert bool(b.positive) and int(b.shifts_tried) == 1
    # converged: upper within rounding of the reference, the bracket rtol wide
    assert float(b.upper) - ref <= 1e-12 * 10.0
    assert float(b.upper - b.lower) <= 1.001e-3 * ref + 2 * float(b.rounding)
    assert float(b.residual) <= 1e-10


@pytest.mark.slow
def test_rtol_sets_the_width():
    a = _with_spectrum(jax.random.key(0), jnp.geomspace(1e-2, 1.0, 40))
    wide, narrow = certified_lambda_min(a, rtol=0.1), certified_lambda_min(a, rtol=1e-6)
    ref = _ref_min(a)
    assert float(wide.lower) <= float(narrow.lower) <= ref <= float(narrow.upper)
    np.testing.assert_allclose(float(narrow.lower), ref, rtol=2e-6)
    np.testing.assert_allclose(float(wide.lower), 0.9 * ref, rtol=1e-8)


def test_an_unconverged_ritz_value_costs_tightness_not_validity():
    # one Lanczos step: theta is the Rayleigh quotient of a random vector, far above
    # lambda_min, so the first shifts do not factorise; the bracket must still hold
    lam = jnp.geomspace(1e-3, 1.0, 80)
    a = _with_spectrum(jax.random.key(1), lam)
    b = certified_lambda_min(a, num_iters=1, rtol=1e-3)
    ref = _ref_min(a)
    assert float(b.upper) > 10 * ref  # not converged ...
    assert int(b.shifts_tried) > 1  # ... so the first shift failed
    assert float(b.lower) <= ref <= float(b.upper)  # and both bounds hold


@pytest.mark.parametrize("case", ["indefinite", "singular_gram", "below_rounding"])
def test_negative_controls_are_not_certified_positive(case):
    key = jax.random.key(2)
    if case == "indefinite":  # lambda_min = -1e-3 < 0
        a = _with_spectrum(key, jnp.concatenate([jnp.array([-1e-3]), jnp.linspace(0.1, 1, 29)]))
    elif case == "singular_gram":  # J J^T with J 30 x 10: rank 10
        j = jax.random.normal(key, (30, 10), jnp.float64)
        a = j @ j.T
    else:  # lambda_min = 1e-15 * lambda_max: positive, but below what rounding resolves
        a = _with_spectrum(key, jnp.concatenate([jnp.array([1e-15]), jnp.linspace(0.5, 1, 29)]))
    b = _CERT(a)  # one compilation for the three 30 x 30 cases
    ref = _ref_min(a)
    assert not bool(b.positive)
    assert float(b.lower) <= ref <= float(b.upper) or (case == "singular_gram" and ref < 1e-12)


@pytest.mark.parametrize("seed", [pytest.param(s, marks=pytest.mark.slow) for s in range(6)])
def test_lower_bound_is_valid_where_float32_rounding_dominates(seed):
    # float32 matrices with lambda_min from 1e-6 to 1e-1 (times lambda_max): the
    # allowance must keep lower below the exact lambda_min of the float32 matrix as stored
    lmin = 10.0 ** -(1 + seed)
    a = _with_spectrum(jax.random.key(seed), jnp.geomspace(lmin, 1.0, 200), jnp.float32)
    b = certified_lambda_min(a, rtol=1e-7)  # shifts within rounding of lambda_min
    ref = _ref_min(a)
    assert b.lower.dtype == jnp.float32
    assert float(b.lower) <= ref <= float(b.upper)
    if lmin >= 1e-1:
        assert bool(b.positive)  # well above the allowance (~ n u tr A ~ 1e-3 here)


def test_error_widens_both_ends():
    a = _with_spectrum(jax.random.key(3), jnp.geomspace(1e-2, 1.0, 30))
    b0, b1 = certified_lambda_min(a), certified_lambda_min(a, error=1e-4)
    np.testing.assert_allclose(float(b0.lower - b1.lower), 1e-4, rtol=1e-9)
    np.testing.assert_allclose(float(b1.upper - b0.upper), 1e-4, rtol=1e-9)


@pytest.mark.slow
def test_jit_and_vmap():
    a = jnp.stack([_with_spectrum(jax.random.key(i), jnp.geomspace(10.0 ** -i, 1.0, 20))
                   for i in range(1, 4)])
    b = jax.jit(jax.vmap(certified_lambda_min))(a)
    for i in range(3):
        assert float(b.lower[i]) <= _ref_min(a[i]) <= float(b.upper[i])
        one = certified_lambda_min(a[i])
        np.testing.assert_allclose(float(b.lower[i]), float(one.lower), rtol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="a: expected a non-empty square"):
        certified_lambda_min(jnp.ones((3, 4)))
    with pytest.raises(TypeError, match="a: expected a floating dtype"):
        certified_lambda_min(jnp.eye(3, dtype=jnp.int32))
    with pytest.raises(TypeError, match="a: expected a square array"):
        certified_lambda_min([[1.0]])
    with pytest.raises(ValueError, match="rtol"):
        certified_lambda_min(jnp.eye(3), rtol=1.0)
    with pytest.raises(ValueError, match="error"):
        certified_lambda_min(jnp.eye(3), error=-1.0)
    with pytest.raises(ValueError, match="max_shifts"):
        certified_lambda_min(jnp.eye(3), max_shifts=0)


# ----------------------------------------------------------------------------- the NTK


@pytest.mark.slow  # ~10 s of compilation each
def test_ntk_spectrum_certified_brackets_the_dense_lambda_min():
    # p = 40 * 5 = 200 > n = 80: K is non-singular, with a clustered bottom
    net = nets.two_layer(40, "erf")
    params = net.init(jax.random.key(0), 4)
    x = jax.random.normal(jax.random.key(1), (80, 4))
    ev = np.linalg.eigvalsh(np.asarray(ntk(net, params, x, method="generic")))
    s = ntk_spectrum(net, params, x, method="certified", num_iters=40)
    assert float(s.lambda_min_lower) <= ev[0] <= float(s.lambda_min)
    assert float(s.lambda_min_lower) > 0.99 * ev[0]  # tight: rtol 1e-3 plus allowances
    np.testing.assert_allclose(float(s.lambda_max), ev[-1], rtol=1e-10)
    assert bool(s.converged)
    # the other methods carry no lower bound
    assert ntk_spectrum(net, params, x).lambda_min_lower is None


@pytest.mark.slow  # ~10 s of compilation each
def test_ntk_spectrum_certified_refuses_a_singular_kernel():
    net = nets.two_layer(2, "tanh")  # p = 8 < n = 50: rank(K) <= 8
    params = net.init(jax.random.key(0), 3)
    x = jax.random.normal(jax.random.key(1), (50, 3))
    s = ntk_spectrum(net, params, x, method="certified", num_iters=8)
    assert float(s.lambda_min) == 0.0 and np.isinf(s.kappa)
    assert float(s.lambda_min_lower) <= 0.0


@pytest.mark.slow  # ~10 s of compilation each
def test_ntk_closed_form_in_row_chunks_equals_whole():
    # chunk = 7 does not divide n = 30: the padded last block must be cut off
    net = nets.two_layer(12, "tanh", bias=True)
    params = net.init(jax.random.key(0), 3)
    x1, x2 = jax.random.normal(jax.random.key(1), (30, 3)), jax.random.normal(jax.random.key(2), (11, 3))
    np.testing.assert_allclose(ntk(net, params, x1, x2, chunk=7), ntk(net, params, x1, x2),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ntk(net, params, x1, chunk=7), ntk(net, params, x1), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.slow
def test_ntk_mlp_closed_form_in_row_chunks_equals_jacobians():
    net = nets.mlp((12, 9), "tanh")
    params = net.init(jax.random.key(0), 3)
    x1, x2 = jax.random.normal(jax.random.key(1), (30, 3)), jax.random.normal(jax.random.key(2), (11, 3))
    ref = ntk(net, params, x1, x2, method="generic")
    np.testing.assert_allclose(ntk(net, params, x1, x2, chunk=7), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n,block", [(1, 4), (10, 4), (64, 64), (100, 512), (301, 96)])
def test_symmetrised_in_tiles_is_bitwise_the_full_average(n, block):
    # tiles clamped at the edge overlap ones already done: they must rewrite them unchanged
    a = jax.random.normal(jax.random.key(n), (n, n), jnp.float64)
    got = jax.jit(symmetrised, static_argnums=1)(a, block)
    assert np.array_equal(np.asarray(got), np.asarray((a + a.T) / 2))


def test_certified_ntk_peak_memory_is_about_three_kernels():
    # the documented footprint: K, the column-major copy LAPACK factors in place, the
    # factor for the solves (4 K of temporaries before the tiled in-place symmetrisation
    # and the diagonal-only trace; 3.28 K at this size, 3.01 K at n = 4096)
    n = 512
    net = nets.two_layer(n // 8, "erf", parametrization="standard")
    params = net.init(jax.random.key(0), 8)
    x = jax.random.normal(jax.random.key(1), (n, 8))
    fn = jax.jit(lambda p, x: ntk_spectrum(net, p, x, method="certified", num_iters=8,
                                           chunk=128).lambda_min_lower)
    temp = fn.lower(params, x).compile().memory_analysis().temp_size_in_bytes
    assert temp <= 3.5 * n * n * 8, temp / (n * n * 8)
