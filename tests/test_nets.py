import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from villani import nets

GRID = np.linspace(-4.0, 4.0, 161) + 1e-3  # avoid the kinks of relu/leaky_relu at 0


@pytest.mark.parametrize("name", nets.ACTIVATIONS)
def test_activation_derivatives_match_autodiff(name):
    act = nets.activation(name)
    z = jnp.asarray(GRID)
    d1 = jax.vmap(jax.grad(act))(z)
    d2 = jax.vmap(jax.grad(jax.grad(act)))(z)
    np.testing.assert_allclose(act.d1(z), d1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(act.d2(z), d2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,kw", [("softplus", {"beta": 4.0}), ("leaky_relu", {"slope": 0.3})])
def test_parametrised_activation_derivatives(name, kw):
    act = nets.activation(name, **kw)
    z = jnp.asarray(GRID)
    np.testing.assert_allclose(act.d1(z), jax.vmap(jax.grad(act))(z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(act.d2(z), jax.vmap(jax.grad(jax.grad(act)))(z), atol=1e-12)


@pytest.mark.parametrize("name", nets.ACTIVATIONS)
def test_activation_bounds_are_the_suprema(name):
    act = nets.activation(name)
    z = jnp.linspace(-12, 12, 480_001)
    for k, f in enumerate((act, act.d1, act.d2)):
        sup = float(jnp.max(jnp.abs(f(z))))
        bound = act.bounds[k]
        if np.isinf(bound):
            assert sup > 10  # grows without bound on the grid
        else:
            assert sup <= bound + 1e-12
            assert sup >= bound - 1e-4  # attained, or approached as |z| -> inf


def test_softplus_is_stable_for_large_inputs():
    act = nets.activation("softplus", beta=4.0)
    z = jnp.array([-1e4, 1e4])
    np.testing.assert_allclose(act(z), [0.0, 1e4])


@pytest.mark.parametrize("bad,err", [("swish", ValueError), (3, TypeError)])
def test_unknown_activation(bad, err):
    with pytest.raises(err, match="activation"):
        nets.two_layer(4, bad)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="width"):
        nets.two_layer(0)
    with pytest.raises(TypeError, match="width"):
        nets.two_layer(2.5)
    with pytest.raises(ValueError, match="widths"):
        nets.mlp((4, 0))
    with pytest.raises(ValueError, match="parametrization"):
        nets.two_layer(4, parametrization="mup")
    with pytest.raises(ValueError, match="beta"):
        nets.activation("tanh", beta=2.0)
    with pytest.raises(ValueError, match="outer"):
        nets.two_layer(4, train_outer=False, outer=[1.0, 2.0])
    with pytest.raises(ValueError, match="in_dim"):
        nets.two_layer(4).init(jax.random.key(0), 0)
    with pytest.raises(ValueError, match="scale"):
        nets.gaussian(-1.0)
    with pytest.raises(ValueError, match="even"):
        nets.two_layer(5, init=nets.ntk_symmetric()).init(jax.random.key(0), 3)


def test_apply_rejects_wrong_feature_dimension():
    net = nets.two_layer(4)
    p = net.init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="feature dimension 5"):
        net.apply(p, jnp.ones((2, 5)))


def test_two_layer_matches_numpy(key):
    kp, kx = jax.random.split(key)
    for param, c in (("ntk", 1 / np.sqrt(6)), ("standard", 1.0)):
        net = nets.two_layer(6, "tanh", parametrization=param, bias=True)
        p = net.init(kp, 3)
        x = np.asarray(jax.random.normal(kx, (5, 3)))
        w, a, b = (np.asarray(p[k]) for k in "wab")
        ref = c * np.tanh(x @ w.T + b) @ a
        np.testing.assert_allclose(net.apply(p, x), ref, rtol=1e-12)
        np.testing.assert_allclose(net.apply(p, x[0]), ref[0], rtol=1e-12)


def test_fixed_outer_is_not_a_parameter(key):
    net = nets.two_layer(6, train_outer=False)
    p = net.init(key, 3)
    assert set(p) == {"w"}
    np.testing.assert_array_equal(net.outer_weights(p), [1, 1, 1, -1, -1, -1])
    x = jnp.ones((2, 3))
    ref = np.tanh(np.asarray(x) @ np.asarray(p["w"]).T) @ np.array([1, 1, 1, -1, -1, -1]) / np.sqrt(6)
    np.testing.assert_allclose(net.apply(p, x), ref, rtol=1e-12)


def test_one_hidden_layer_mlp_equals_two_layer(key):
    tl = nets.two_layer(8, "erf")
    m = nets.mlp((8,), "erf")
    p = tl.init(key, 4)
    pm = {"w": [p["w"], p["a"][None, :]]}
    x = jax.random.normal(key, (7, 4))
    np.testing.assert_allclose(m.apply(pm, x), tl.apply(p, x), rtol=1e-12)


def test_mlp_matches_numpy(key):
    net = nets.mlp((5, 4), "sigmoid", parametrization="ntk", bias=True)
    p = net.init(key, 3)
    x = np.asarray(jax.random.normal(key, (6, 3)))
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    w = [np.asarray(v) for v in p["w"]]
    b = [np.asarray(v) for v in p["b"]]
    h1 = sig(x @ w[0].T + b[0])
    h2 = sig(h1 @ w[1].T / np.sqrt(5) + b[1])
    out = h2 @ w[2].T / np.sqrt(4) + b[2]
    np.testing.assert_allclose(net.apply(p, x), out[:, 0], rtol=1e-12)


@pytest.mark.parametrize(
    "net",
    [nets.two_layer(6, "tanh", init=nets.ntk_symmetric()),
     nets.two_layer(6, "relu", train_outer=False, bias=True, init=nets.ntk_symmetric()),
     nets.mlp((5, 6), "softplus", bias=True, init=nets.ntk_symmetric())],
)
def test_ntk_symmetric_init_outputs_zero(net, key):
    p = net.init(key, 4)
    x = jax.random.normal(key, (10, 4))
    # the paired terms cancel; only the matmul's summation order leaves rounding
    np.testing.assert_allclose(net.apply(p, x), 0.0, atol=1e-14)
    assert jnp.max(jnp.abs(nets.two_layer(6, "tanh", init=nets.lecun()).init(key, 4)["a"])) > 0


def test_positive_init_conditions(key):
    net = nets.mlp((16, 16), "tanh", parametrization="standard",
                   init=nets.positive(hidden_scale=1.0, output_scale=30.0))
    p = net.init(key, 20)
    w1, w2, w3 = p["w"]
    assert jnp.all(w1 == 0.0)
    assert jnp.all(w2 > 0) and jnp.all(w2 >= 0.5 / 16) and jnp.all(w2 <= 1.5 / 16)
    assert jnp.all(w3 == 30.0)
    tl = nets.two_layer(8, "tanh", init=nets.positive(output_scale=3.0)).init(key, 5)
    assert jnp.all(tl["w"] == 0) and jnp.all(tl["a"] == 3.0)


def test_initialiser_distributions(key):
    for init, var in ((nets.lecun(), 1 / 200), (nets.he(), 2 / 200), (nets.gaussian(0.3), 0.09)):
        w = nets.mlp((400,), "tanh", init=init).init(key, 200)["w"][0]
        assert abs(float(jnp.var(w)) / var - 1) < 0.02


def test_same_key_same_params_and_hashable_networks(key):
    a, b = nets.two_layer(8, "tanh"), nets.two_layer(8, "tanh")
    assert a == b and hash(a) == hash(b)
    chex.assert_trees_all_equal(a.init(key, 3), b.init(key, 3))


def test_check_params():
    net = nets.two_layer(4)
    p = net.init(jax.random.key(0), 3)
    net.check_params(p, in_dim=3)
    with pytest.raises(ValueError, match="in_dim=3"):
        net.check_params(p, in_dim=5)
    with pytest.raises(ValueError, match="tree"):
        net.check_params({"w": p["w"]})
    with pytest.raises(ValueError, match="shape"):
        nets.two_layer(5).check_params(p)


@pytest.mark.parametrize("jit", [False, True])
def test_apply_shapes_under_jit_and_vmap(key, jit):
    net = nets.mlp((8, 8), "gelu")
    apply = jax.vmap(net.apply, in_axes=(0, None))
    apply = jax.jit(apply) if jit else apply
    params = jax.vmap(lambda k: net.init(k, 3))(jax.random.split(key, 5))
    chex.assert_shape(apply(params, jnp.ones((7, 3))), (5, 7))


@settings(max_examples=8, deadline=None)
@given(width=st.integers(1, 12), d=st.integers(1, 6), n=st.integers(1, 5),
       act=st.sampled_from(nets.ACTIVATIONS), bias=st.booleans(), outer=st.booleans())
def test_two_layer_shapes_property(width, d, n, act, bias, outer):
    net = nets.two_layer(width, act, bias=bias, train_outer=outer)
    p = net.init(jax.random.key(width), d)
    assert net.apply(p, jnp.ones((n, d))).shape == (n,)
    assert net.apply(p, jnp.ones(d)).shape == ()
