"""Bring your own model: a plain (init, apply) pair and an equinox MLP through every public
function, each compared against jax.hessian / jacrev references in float64 and against the
same function computed on the equal villani network."""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import villani
from villani import Objective, data, nets, optim

N, D, M = 6, 3, 4
RTOL = 1e-9


def _apply(p, x):  # one input (d,) -> scalar: the NTK two-layer net, written by hand
    return jnp.tanh(p["w"] @ x) @ p["a"] / jnp.sqrt(M)


def _init(key, d):
    k1, k2 = jax.random.split(key)
    return {"w": jax.random.normal(k1, (M, d)), "a": jax.random.normal(k2, (M,))}


def _eqx_model(key):
    return eqx.nn.MLP(D, "scalar", M, 1, activation=jnp.tanh, use_bias=False,
                      use_final_bias=False, key=key)


def _eqx_to_villani(params):  # the same function as nets.mlp((M,), "tanh", "standard")
    return {"w": [params.layers[0].weight, params.layers[1].weight]}


@pytest.fixture(scope="module")
def problem():
    key = jax.random.key(7)
    kd, kp, ke = jax.random.split(key, 3)
    ds = data.random_labels(kd, N, D)
    pair = (_init, _apply)
    p_pair = _init(kp, D)
    eqx_net, p_eqx = nets.split(_eqx_model(ke))
    return ds, pair, p_pair, eqx_net, p_eqx


def _cases(problem):
    ds, pair, p_pair, eqx_net, p_eqx = problem
    twin_pair = nets.two_layer(M, "tanh")  # same function and params layout as the pair
    twin_eqx = nets.mlp((M,), "tanh", parametrization="standard")
    return [("pair", pair, p_pair, twin_pair, p_pair),
            ("equinox", eqx_net, p_eqx, twin_eqx, _eqx_to_villani(p_eqx))]


def _flat_value(obj, params):
    theta, unravel = jax.flatten_util.ravel_pytree(params)
    return theta, lambda t: obj.value(unravel(t))


def _manual_loss(apply, params, ds, l2):
    f = jax.vmap(apply, in_axes=(None, 0))(params, ds.x)
    sq = sum(jnp.sum(v**2) for v in jax.tree_util.tree_leaves(params))
    return jnp.mean(jnp.logaddexp(0.0, -ds.y * f)) + 0.5 * l2 * sq


def _close(a, b, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


@pytest.mark.slow  # 32 s of compilation; its claims also run by the slow suite in CI
def test_objective_laplacian_pl_hessian(problem):
    ds = problem[0]
    for name, net, params, twin, tparams in _cases(problem):
        obj = Objective(net, ds, loss="logistic", l2=0.1)
        apply = jax.vmap(lambda p, x: nets.as_network(net).apply(p, x), in_axes=(None, 0))
        _close(obj.value(params), _manual_loss(lambda p, x: apply(p, x[None])[0], params, ds, 0.1))
        theta, value = _flat_value(obj, params)
        hess = jax.hessian(value)(theta)
        # laplacian: generic (reference) path on the own model, exact path on the villani twin
        _close(villani.laplacian(obj, params), jnp.trace(hess))
        _close(villani.laplacian(Objective(twin, ds, "logistic", l2=0.1), tparams), jnp.trace(hess))
        with pytest.raises(ValueError, match="expose its layers"):
            villani.laplacian(obj, params, "exact")
        # pl_ratio from the gradient of the hand-written loss
        g = jax.grad(value)(theta)
        _close(villani.pl_ratio(obj, params), g @ g / (2 * value(theta)))
        spec = villani.hessian_spectrum(obj, params, key=jax.random.key(0), num_iters=theta.size)
        eig = jnp.linalg.eigvalsh(hess)
        _close(spec.top[0], eig[-1], rtol=1e-7)
        _close(spec.bottom[0], eig[0], rtol=1e-6, atol=1e-9)


def test_ntk_and_spectrum_against_jacrev(problem):
    ds = problem[0]
    x = ds.x
    for name, net, params, twin, tparams in _cases(problem):
        wrapped = nets.as_network(net)
        jac = jax.jacrev(lambda p: wrapped.apply(p, x))(params)
        j = jnp.concatenate([v.reshape(x.shape[0], -1) for v in jax.tree_util.tree_leaves(jac)], 1)
        ref = j @ j.T
        _close(villani.ntk(net, params, x), ref)
        _close(villani.ntk(twin, tparams, x), ref)  # the twin's closed form
        s = villani.ntk_spectrum(net, params, x)
        lam = jnp.linalg.eigvalsh(ref)
        _close(s.lambda_max, lam[-1], rtol=1e-8)
        _close(s.lambda_min, lam[0], rtol=1e-6, atol=1e-10)


@pytest.mark.slow  # 20-50 s CPU, compile-bound; run by make test-slow
def test_dynamics_against_manual_steps(problem):
    ds = problem[0]
    for name, net, params, twin, tparams in _cases(problem):
        obj = Objective(net, ds, loss="logistic", l2=0.01)
        theta, value = _flat_value(obj, params)
        grad = jax.jit(jax.grad(value))
        t = theta
        for _ in range(5):
            t = t - 0.3 * grad(t)
        traj = villani.train(obj, optim.gd(0.3), params, 5)
        _close(jax.flatten_util.ravel_pytree(traj.params)[0], t)
        _close(traj.loss[-1], value(t))
        # Langevin at temperature 0 with Euler steps is GD with step dt
        lv = villani.langevin(obj, params, 0.5, 0.1, 0.0, key=jax.random.key(1), saveat=2)
        _close(jax.flatten_util.ravel_pytree(lv.params)[0], _gd(theta, grad, 0.1, 5), rtol=1e-8)
        # gradient flow: a tight adaptive solve against 2000 RK4 steps
        gf = villani.gradient_flow(obj, params, 1.0, saveat=2, rtol=1e-10, atol=1e-12)
        _close(jax.flatten_util.ravel_pytree(gf.params)[0], _rk4(theta, grad, 1.0, 200), rtol=1e-7)
        # SGD SDE and minibatch SGD: the same numbers as on the equal villani network
        tobj = Objective(twin, ds, loss="logistic", l2=0.01)
        a = villani.sgd_sde(obj, params, 0.1, 2, 0.3, 0.1, key=jax.random.key(2), saveat=2)
        b = villani.sgd_sde(tobj, tparams, 0.1, 2, 0.3, 0.1, key=jax.random.key(2), saveat=2)
        _close(a.loss, b.loss)
        a = villani.train(obj, optim.sgd(0.2), params, 6, key=jax.random.key(3), batch_size=2)
        b = villani.train(tobj, optim.sgd(0.2), tparams, 6, key=jax.random.key(3), batch_size=2)
        _close(a.loss, b.loss)


def _gd(t, grad, lr, k):
    for _ in range(k):
        t = t - lr * grad(t)
    return t


def _rk4(t, grad, t1, k):
    h = t1 / k
    f = lambda y: -grad(y)  # noqa: E731
    for _ in range(k):
        k1 = f(t)
        k2 = f(t + h / 2 * k1)
        k3 = f(t + h / 2 * k2)
        k4 = f(t + h * k3)
        t = t + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return t


def test_check_villani_and_sweep(problem):
    ds, pair, p_pair, _, _ = problem
    twin = nets.two_layer(M, "tanh")
    lam = 0.5
    kw = dict(radii=(1.0, 4.0, 16.0), n_directions=4, key=jax.random.key(4), rays="random")
    own = villani.check_villani(Objective(pair, ds, "logistic", l2=lam), 0.1, **kw)
    ref = villani.check_villani(Objective(twin, ds, "logistic", l2=lam), 0.1, **kw)
    _close(own.v, ref.v)  # reference Laplacian on the pair, exact one on the twin
    assert bool(own.holds) == bool(ref.holds)

    obj = Objective(pair, ds, "logistic")

    def run(point, key):
        return villani.train(obj, optim.gd(point["lr"]), obj.net.init(key, D), 4)

    table = villani.sweep(run, {"lr": [0.1, 0.2]}, 2, key=jax.random.key(5), progress=False)
    direct = villani.train(obj, optim.gd(0.2), _init(jax.random.fold_in(jax.random.key(5), 1), D), 4)
    _close(np.asarray(table.data["loss"])[1, 1], direct.loss)


def test_flax_model_via_apply():
    flax = pytest.importorskip("flax.linen")

    class Net(flax.Module):
        @flax.compact
        def __call__(self, x):
            return flax.Dense(1, use_bias=False)(jnp.tanh(flax.Dense(M, use_bias=False)(x)))[..., 0]

    ds = data.random_labels(jax.random.key(0), N, D)
    net = nets.as_network(Net())
    params = net.init(jax.random.key(1), D)
    # flax's param_dtype is float32 even under x64: init returns float64 leaves with the same
    # values as flax's own init, so gradients do not silently drop to float32
    raw = Net().init(jax.random.key(1), jnp.zeros(D))
    assert {v.dtype for v in jax.tree.leaves(raw)} == {jnp.dtype(jnp.float32)}
    assert {v.dtype for v in jax.tree.leaves(params)} == {jnp.dtype(jnp.float64)}
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(raw)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b, np.float64))
    obj = Objective(net, ds, "logistic")
    g = jax.grad(obj.value)(params)
    assert {v.dtype for v in jax.tree.leaves(g)} == {jnp.dtype(jnp.float64)}
    theta, value = _flat_value(obj, params)
    _close(villani.laplacian(obj, params), jnp.trace(jax.hessian(value)(theta)))
    twin = nets.mlp((M,), "tanh", parametrization="standard")
    # Dense(1) is constructed first in __call__, so it is Dense_0 (the output layer)
    tp = {"w": [params["params"]["Dense_1"]["kernel"].T, params["params"]["Dense_0"]["kernel"].T]}
    _close(villani.ntk(net, params, ds.x), villani.ntk(twin, tp, ds.x))
    _close(villani.laplacian(Objective(twin, ds, "logistic"), tp), villani.laplacian(obj, params))


def test_adapter_errors():
    with pytest.raises(TypeError, match="expected a network"):
        nets.as_network(3)
    net = nets.as_network(_apply)  # no init
    with pytest.raises(TypeError, match="has no init"):
        net.init(jax.random.key(0), 3)
    with pytest.raises(TypeError, match="no init"):
        nets.split(_eqx_model(jax.random.key(0)))[0].init(jax.random.key(0), 3)

    class Bare(nets.Network):
        pass

    with pytest.raises(NotImplementedError, match="must implement"):
        Bare().apply({}, jnp.ones(3))
    ds = data.random_labels(jax.random.key(0), N, D)
    obj = Objective(_apply, ds)
    with pytest.raises(ValueError, match="apply\\(params, x\\) fails"):
        villani.laplacian(obj, {"w": jnp.ones((M, D + 1)), "a": jnp.ones(M)})
    # a Network subclass without in_dim works (in_dim is optional, documented)
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Linear(nets.Network):
        def init(self, key, in_dim):
            return {"w": jax.random.normal(key, (in_dim,))}

        def apply(self, params, x):
            return x @ params["w"]

    lin = Objective(Linear(), ds, "squared")
    p = Linear().init(jax.random.key(1), D)
    theta, value = _flat_value(lin, p)
    _close(villani.laplacian(lin, p), jnp.trace(jax.hessian(value)(theta)))
    with pytest.raises(ValueError, match="shape"):
        villani.laplacian(lin, {"w": jnp.ones(D + 2)})
