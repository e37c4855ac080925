"""Issue 17's unclear errors and silent wrong results in the networks, the Objective and the
PL / NTK diagnostics: each is a clear TypeError/ValueError naming the argument, or NaN."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import villani
from villani import Objective, data, nets, optim


@pytest.fixture(scope="module")
def setup():
    ds = data.random_labels(jax.random.key(0), 5, 3)
    net = nets.two_layer(4, "tanh")
    return ds, net, net.init(jax.random.key(1), 3)


def test_mlp_widths_string():
    with pytest.raises(TypeError, match="widths.*'64'"):
        nets.mlp("64")


def test_int_key():
    with pytest.raises(TypeError, match=r"jax\.random\.key\(0\)"):
        nets.two_layer(4).init(0, 3)
    with pytest.raises(TypeError, match=r"jax\.random\.key"):
        nets.mlp((4,)).init(np.int64(3), 3)


def test_l2_string_or_array(setup):
    ds, net, _ = setup
    with pytest.raises(TypeError, match="l2"):
        Objective(net, ds, l2="0.1")
    with pytest.raises(ValueError, match="l2.*shape"):
        Objective(net, ds, l2=jnp.ones(3))
    Objective(net, ds, l2=jnp.asarray(0.1))  # a 0-d array is a number


def test_mlp_out_dim_in_objective(setup):
    ds = setup[0]
    with pytest.raises(ValueError, match="out_dim=2"):
        Objective(nets.mlp((4,), out_dim=2), ds)
    # an own model with vector outputs: refused when its params are checked
    obj = Objective(lambda p, x: p @ x, ds)
    with pytest.raises(ValueError, match="scalar output"):
        villani.train(obj, optim.gd(0.1), jnp.ones((2, 3)), 2)


def test_int32_params(setup):
    ds, net, params = setup
    bad = {k: v.astype(jnp.int32) for k, v in params.items()}
    with pytest.raises(TypeError, match="floating-point.*int32"):
        Objective(net, ds).check_params(bad)
    with pytest.raises(TypeError, match="floating-point"):
        villani.laplacian(Objective(net, ds), bad)


def test_complex_x(setup):
    _, net, params = setup
    with pytest.raises(TypeError, match="real"):
        net.apply(params, jnp.ones((2, 3), jnp.complex128))
    with pytest.raises(TypeError, match="real"):
        villani.ntk(net, params, jnp.ones((2, 3), jnp.complex128))


def test_pl_ratio_checks_params_and_nan(setup):
    ds, net, params = setup
    obj = Objective(net, ds, "logistic")
    with pytest.raises(ValueError, match="shape"):
        villani.pl_ratio(obj, {**params, "a": jnp.ones(5)})
    nan = {k: v * jnp.nan for k, v in params.items()}
    assert np.isnan(float(villani.pl_ratio(obj, nan)))
    assert np.isnan(float(villani.pl_ratio(lambda t: jnp.sum(t**2), jnp.array([jnp.nan]))))
    # the exact-minimiser convention stays: +inf, not NaN
    assert float(villani.pl_ratio(lambda t: jnp.sum(t**2), jnp.zeros(2))) == np.inf


def test_ntk_spectrum_nan_params(setup):
    ds, net, params = setup
    nan = {k: v * jnp.nan for k, v in params.items()}
    for method in ("dense", "lanczos"):
        s = villani.ntk_spectrum(net, nan, ds.x, method=method, num_iters=4)
        assert np.isnan(float(s.kappa)), method
    # a genuinely singular K (identical inputs) still reads as singular, not NaN
    s = villani.ntk_spectrum(net, params, jnp.ones((3, 3)))
    assert float(s.kappa) > 1e10


def test_key_is_keyword(setup):
    ds, net, params = setup
    obj = Objective(net, ds)
    with pytest.raises(TypeError, match="keyword"):
        villani.train(obj, optim.gd(0.1), params, jax.random.key(0))
    with pytest.raises(TypeError, match="key"):
        villani.train(obj, optim.sgd(0.1), params, 3, batch_size=2)  # SGD needs key=
    with pytest.raises(TypeError, match=r"jax\.random\.key\(3\)"):
        villani.langevin(obj, params, 1.0, 0.1, 0.1, key=3)
