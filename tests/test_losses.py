import math

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from villani import Objective, data, losses, nets, strong_convexity_threshold, villani_threshold


@pytest.mark.parametrize("name", losses.LOSSES)
def test_loss_derivatives_match_autodiff(name):
    loss = losses.get_loss(name)
    f = jnp.linspace(-30, 30, 241)
    for y in (-1.0, 1.0, 0.3):
        yy = jnp.full_like(f, y)
        np.testing.assert_allclose(loss.d1(f, yy), jax.vmap(jax.grad(loss))(f, yy), atol=1e-13)
        np.testing.assert_allclose(
            loss.d2(f, yy), jax.vmap(jax.grad(jax.grad(loss)))(f, yy), atol=1e-13
        )


def test_logistic_is_stable():
    loss = losses.get_loss("logistic")
    f = jnp.array([-1e4, 0.0, 1e4])
    y = jnp.ones(3)
    np.testing.assert_allclose(loss(f, y), [1e4, math.log(2), 0.0])
    assert jnp.all(jnp.isfinite(loss.d1(f, y))) and jnp.all(jnp.isfinite(loss.d2(f, y)))


def _numpy_objective(params, x, y, loss, l2, c):
    w, a = np.asarray(params["w"]), np.asarray(params["a"])
    f = c * np.tanh(x @ w.T) @ a
    per = 0.5 * (f - y) ** 2 if loss == "squared" else np.log1p(np.exp(-y * f))
    return per, per.mean() + 0.5 * l2 * (np.sum(w**2) + np.sum(a**2))


@pytest.mark.parametrize("loss", losses.LOSSES)
def test_objective_matches_numpy(loss, key):
    kd, kp = jax.random.split(key)
    ds = data.random_labels(kd, 12, 4)
    obj = Objective(nets.two_layer(7, "tanh"), ds, loss=loss, l2=0.3)
    p = obj.net.init(kp, 4)
    per, val = _numpy_objective(p, np.asarray(ds.x), np.asarray(ds.y), loss, 0.3, 1 / np.sqrt(7))
    np.testing.assert_allclose(obj.per_sample(p), per, rtol=1e-12)
    np.testing.assert_allclose(obj.value(p), val, rtol=1e-12)
    v, g = obj.value_and_grad(p)
    np.testing.assert_allclose(v, val, rtol=1e-12)
    # gradient against central finite differences on one coordinate
    e = 1e-6
    pp = {"w": p["w"].at[0, 0].add(e), "a": p["a"]}
    pm = {"w": p["w"].at[0, 0].add(-e), "a": p["a"]}
    fd = (obj.value(pp) - obj.value(pm)) / (2 * e)
    np.testing.assert_allclose(g["w"][0, 0], fd, rtol=1e-6)
    idx = jnp.array([0, 3, 5])
    np.testing.assert_allclose(obj.minibatch(p, idx), per[[0, 3, 5]].mean()
                               + 0.5 * 0.3 * (np.sum(np.asarray(p["w"]) ** 2)
                                              + np.sum(np.asarray(p["a"]) ** 2)), rtol=1e-12)


def test_objective_is_a_pytree_and_vmaps_over_l2(key):
    ds = data.random_labels(key, 8, 3)
    net = nets.two_layer(4)
    p = net.init(key, 3)
    obj = Objective(net, ds, loss="logistic", l2=0.1)
    leaves, tree = jax.tree_util.tree_flatten(obj)
    back = jax.tree_util.tree_unflatten(tree, leaves)
    assert back.value(p) == obj.value(p)
    l2s = jnp.array([0.0, 0.1, 1.0])
    vals = jax.vmap(lambda l2: Objective(net, ds, "logistic", l2).value(p))(l2s)
    np.testing.assert_allclose(vals[1], obj.value(p), rtol=1e-14)
    assert vals[0] < vals[1] < vals[2]
    jitted = jax.jit(lambda o, q: o.value(q))
    np.testing.assert_allclose(jitted(obj, p), obj.value(p), rtol=1e-14)


def test_objective_bad_input(key):
    ds = data.random_labels(key, 8, 3)
    net = nets.two_layer(4)
    with pytest.raises(ValueError, match="l2"):
        Objective(net, ds, l2=-1.0)
    with pytest.raises(ValueError, match="loss"):
        Objective(net, ds, loss="hinge")
    with pytest.raises(TypeError, match="net"):
        Objective("tanh", ds)
    with pytest.raises(TypeError, match="data"):
        Objective(net, (ds.x, ds.y))
    obj = Objective(net, ds)
    with pytest.raises(ValueError, match="in_dim"):
        obj.check_params(net.init(key, 5))


def test_villani_threshold_formula():
    # lambda_c(s) = sqrt(s)/2 * sup|sigma'| * B_x, width-independent (standard parametrisation)
    assert villani_threshold("tanh", scale=0.04) == pytest.approx(0.1)
    assert villani_threshold("sigmoid", scale=1.0, x_bound=2.0) == pytest.approx(0.25)
    z = np.linspace(-10, 10, 200001)
    b1 = np.max(np.abs(np.asarray(nets.activation("erf").d1(jnp.asarray(z)))))
    assert villani_threshold("erf", scale=0.25) == pytest.approx(0.25 * b1, rel=1e-9)
    assert villani_threshold("tanh", scale=1.0, train_outer=False) == 0.0
    ntk = villani_threshold("tanh", scale=1.0, parametrization="ntk", width=100)
    assert ntk == pytest.approx(0.05)
    with pytest.raises(ValueError, match="scale"):
        villani_threshold("tanh", scale=0.0)
    with pytest.raises(ValueError, match="width"):
        villani_threshold("tanh", scale=1.0, parametrization="ntk")


def test_strong_convexity_threshold_bounds_the_hessian(key):
    # with outer weights fixed, the data-loss Hessian's norm is <= H (docs/papers/000.md)
    for act in ("sigmoid", "tanh"):
        H = strong_convexity_threshold(act, jnp.array([1.0]))
        assert H == pytest.approx({"sigmoid": 0.112, "tanh": 1.02}[act], abs=5e-3)
        net = nets.two_layer(3, act, parametrization="standard", train_outer=False,
                             outer=[0.6, -0.5, 0.3])
        ds = data.random_labels(key, 20, 2)
        obj = Objective(net, ds, loss="logistic")
        Hb = strong_convexity_threshold(act, jnp.array([0.6, -0.5, 0.3]))
        for k in jax.random.split(key, 5):
            p = net.init(k, 2)
            flat, unravel = jax.flatten_util.ravel_pytree(p)
            hess = jax.hessian(lambda v: obj.value(unravel(v)))(flat)
            assert np.max(np.abs(np.linalg.eigvalsh(hess))) <= Hb + 1e-12
