import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.dyn_problems import linear_problem, tiny_net_problem
from villani import (
    DivergenceError,
    gradient_noise,
    nets,
    optim,
    per_sample_grads,
    train,
)
from villani.dynamics.discrete import _batch_indices

W = {"w": lambda p: p["w"][0]}


def test_gd_matches_closed_form(key):
    obj, p0, H, c = linear_problem(key, n=10, d=4, l2=0.1)
    lr, steps = 0.4, 23
    traj = train(obj, optim.gd(lr), p0, steps, key=key, every=5, metrics=W)
    np.testing.assert_array_equal(traj.steps, [0, 5, 10, 15, 20, 23])
    wstar = np.linalg.solve(H, c)
    w0 = np.asarray(p0["w"][0])
    M = np.eye(4) - lr * H
    for k, t in enumerate(np.asarray(traj.steps)):
        w_t = wstar + np.linalg.matrix_power(M, int(t)) @ (w0 - wstar)
        np.testing.assert_allclose(traj.metrics["w"][k], w_t, rtol=1e-12, atol=1e-14)
        g = H @ w_t - c
        loss = float(obj.value({"w": jnp.asarray(w_t)[None]}))
        np.testing.assert_allclose(traj.loss[k], loss, rtol=1e-12)
        np.testing.assert_allclose(traj.grad_norm2[k], g @ g, rtol=1e-10)
    assert traj.valid.all() and not traj.diverged and int(traj.diverged_at) == -1


def test_sgd_full_batch_equals_gd(key):
    obj, p0 = tiny_net_problem(key)
    a = train(obj, optim.gd(0.5), p0, 30, key=key, every=3)
    b = train(obj, optim.sgd(0.5), p0, 30, key=key, every=3, batch_size=obj.n)
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)
    for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)):
        np.testing.assert_allclose(x, y, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("n,b", [(10, 3), (12, 4), (7, 7), (9, 1)])
def test_without_replacement_visits_every_sample_once_per_epoch(key, n, b):
    steps = 4 * n  # many epochs
    stream = np.concatenate([np.asarray(_batch_indices(key, jnp.array(t), n, b, False))
                             for t in range(steps)])
    epochs = stream[: (len(stream) // n) * n].reshape(-1, n)
    for e in epochs:
        np.testing.assert_array_equal(np.sort(e), np.arange(n))
    assert len({tuple(e) for e in epochs}) > 1  # fresh permutations, not one repeated


def test_with_replacement_is_uniform(key):
    n, b, steps = 5, 4, 2000
    idx = np.concatenate([np.asarray(_batch_indices(key, jnp.array(t), n, b, True))
                          for t in range(0, steps)])
    counts = np.bincount(idx, minlength=n)
    # chi-square with 4 dof: 99.9% quantile is 18.5
    chi2 = np.sum((counts - idx.size / n) ** 2 / (idx.size / n))
    assert chi2 < 18.5
    # and repeats within one batch occur (impossible without replacement)
    assert any(len(set(idx[i:i + b])) < b for i in range(0, idx.size, b))


@pytest.mark.parametrize("replace", [False, True])
def test_train_uses_the_sampled_minibatch(key, replace):
    obj, p0 = tiny_net_problem(key)
    lr, b = 0.3, 3
    traj = train(obj, optim.sgd(lr), p0, 2, key=key, batch_size=b, replace=replace)
    p = p0
    for t in range(2):
        idx = _batch_indices(key, jnp.array(t, jnp.int32), obj.n, b, replace)
        g = jax.grad(obj.minibatch)(p, idx)
        p = jax.tree_util.tree_map(lambda x, y: x - lr * y, p, g)
    for x, y in zip(jax.tree_util.tree_leaves(traj.params), jax.tree_util.tree_leaves(p)):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_divergence_above_max_loss_at_the_right_step(key):
    obj, p0, H, c = linear_problem(key, n=10, d=4)
    lam = np.linalg.eigvalsh(H)[-1]
    lr, max_loss = 2.5 / lam, 1e3
    traj = train(obj, optim.gd(lr), p0, 200, key=key, every=10, max_loss=max_loss, metrics=W)
    w = np.asarray(p0["w"][0])
    t_bad = None
    for t in range(200):
        if float(obj.value({"w": jnp.asarray(w)[None]})) > max_loss:
            t_bad = t
            break
        w = w - lr * (H @ w - c)
    assert t_bad is not None and t_bad > 10
    assert bool(traj.diverged) and int(traj.diverged_at) == t_bad
    np.testing.assert_array_equal(traj.valid, np.asarray(traj.steps) < t_bad)
    assert np.all(np.isnan(np.asarray(traj.loss)[~np.asarray(traj.valid)]))
    assert np.all(np.isfinite(np.asarray(traj.loss)[np.asarray(traj.valid)]))
    # params stay at the iterate where the bound was crossed
    np.testing.assert_allclose(traj.params["w"][0], w, rtol=1e-10)
    with pytest.raises(DivergenceError, match=f"diverged at step {t_bad} with lr="):
        traj.raise_if_diverged(lr=lr, smoothness=lam)


def test_non_finite_divergence_keeps_finite_params(key):
    obj, p0 = tiny_net_problem(key)
    traj = train(obj, optim.gd(1e200), p0, 50, key=key, every=5)
    assert bool(traj.diverged)
    at = int(traj.diverged_at)
    assert 0 < at < 50
    assert all(np.all(np.isfinite(x)) for x in jax.tree_util.tree_leaves(traj.params))
    np.testing.assert_array_equal(traj.valid, np.asarray(traj.steps) < at)
    ok = train(obj, optim.gd(0.1), p0, 50, key=key, every=5)
    assert not bool(ok.diverged) and ok.raise_if_diverged() is ok


def test_same_key_same_trajectory_and_keys_matter(key):
    obj, p0 = tiny_net_problem(key)
    run = lambda k: train(obj, optim.sgd(0.5), p0, 40, key=k, batch_size=3, every=4)  # noqa: E731
    a, b = run(key), run(key)
    np.testing.assert_array_equal(a.loss, b.loss)
    c = run(jax.random.fold_in(key, 1))
    assert not np.allclose(a.loss[1:], c.loss[1:])


def test_vmap_over_seeds_equals_single_runs(key):
    obj, _ = tiny_net_problem(key)

    def run(k):
        return train(obj, optim.heavy_ball(0.3, 0.5), obj.net.init(k, 2), 40, key=k,
                     batch_size=3, every=8)

    keys = jax.random.split(key, 3)
    batched = jax.jit(jax.vmap(run))(keys)
    for i in range(3):
        single = run(keys[i])
        np.testing.assert_allclose(batched.loss[i], single.loss, rtol=1e-12)
        np.testing.assert_allclose(batched.params["w"][i], single.params["w"], rtol=1e-12)


def test_vmap_over_learning_rates(key):
    obj, p0 = tiny_net_problem(key)
    lrs = jnp.array([0.05, 0.2, 1e200])

    def run(lr):
        return train(obj, optim.nesterov(lr, 0.5), p0, 30, key=key, every=10)

    batched = jax.vmap(run)(lrs)
    for i, lr in enumerate([0.05, 0.2, 1e200]):
        single = run(lr)
        np.testing.assert_allclose(batched.loss[i], single.loss, rtol=1e-12)
        assert bool(batched.diverged[i]) == bool(single.diverged) == (i == 2)
        assert int(batched.diverged_at[i]) == int(single.diverged_at)


def test_jitted_train_traces_once(key):
    obj, p0 = tiny_net_problem(key)
    opt = optim.sgd(0.1)
    traces = []

    def metric(p):
        traces.append(1)  # runs only while tracing
        return jnp.sum(p["w"] ** 2)

    m = {"w2": metric}
    for i in range(3):
        t = train(obj, opt, p0, 10, key=jax.random.fold_in(key, i), batch_size=4, every=5, metrics=m)
    n_first = len(traces)
    assert n_first > 0
    train(obj, opt, p0, 10, key=jax.random.fold_in(key, 9), batch_size=4, every=5, metrics=m)
    assert len(traces) == n_first
    np.testing.assert_allclose(t.metrics["w2"][-1], jnp.sum(t.params["w"] ** 2), rtol=1e-12)


def test_per_sample_grads_mean_and_rows(key):
    obj, p0 = tiny_net_problem(key)
    g = per_sample_grads(obj, p0)
    assert g["w"].shape == (obj.n,) + p0["w"].shape
    mean = jax.tree_util.tree_map(lambda x: x.mean(0), g)
    full = obj.grad(p0)
    for a, b in zip(jax.tree_util.tree_leaves(mean), jax.tree_util.tree_leaves(full)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    idx = jnp.array([5, 2])
    gs = per_sample_grads(obj, p0, idx)
    for k, i in enumerate([5, 2]):
        ref = jax.grad(obj.minibatch)(p0, jnp.array([i]))
        np.testing.assert_allclose(gs["a"][k], ref["a"], rtol=1e-12, atol=1e-14)


def test_gradient_noise_against_materialised_covariance(key):
    obj, p0 = tiny_net_problem(key)
    g = per_sample_grads(obj, p0)
    G = np.concatenate([np.asarray(x).reshape(obj.n, -1) for x in jax.tree_util.tree_leaves(g)], 1)
    cov = np.cov(G, rowvar=False, bias=True)  # 1/n normalisation
    gbar = G.mean(0)
    out = gradient_noise(obj, p0)
    np.testing.assert_allclose(out.trace, np.trace(cov), rtol=1e-12)
    np.testing.assert_allclose(out.grad_norm2, gbar @ gbar, rtol=1e-12)
    np.testing.assert_allclose(out.noise_scale, np.trace(cov) / (gbar @ gbar), rtol=1e-12)
    jax.jit(gradient_noise)(obj, p0)


@pytest.mark.parametrize("kw,name", [
    (dict(steps=0), "steps"),
    (dict(every=0), "every"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=9), "batch_size"),
    (dict(max_loss=float("nan")), "max_loss"),
])
def test_bad_arguments(key, kw, name):
    obj, p0 = tiny_net_problem(key)
    args = dict(steps=5)
    args.update(kw)
    steps = args.pop("steps")
    with pytest.raises(ValueError, match=name):
        train(obj, optim.sgd(0.1), p0, steps, key=key, **args)


def test_bad_params_and_optimizer(key):
    obj, p0 = tiny_net_problem(key)
    with pytest.raises(ValueError, match="params"):
        train(obj, optim.gd(0.1), {"w": p0["w"]}, 5, key=key)
    other = nets.two_layer(4, "tanh").init(key, 2)
    with pytest.raises(ValueError, match="params"):
        train(obj, optim.gd(0.1), other, 5, key=key)
    with pytest.raises(ValueError, match="params"):
        train(obj, optim.gd(0.1), {**p0, "a": p0["a"] * np.nan}, 5, key=key)
    with pytest.raises(TypeError, match="optimizer"):
        train(obj, 0.1, p0, 5, key=key)
    with pytest.raises(ValueError, match="lr"):
        train(obj, optim.gd(-1.0), p0, 5, key=key)
