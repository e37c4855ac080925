import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from tests.dyn_problems import linear_problem, quadratic_1d, tiny_net_problem
from villani import DivergenceError, gradient_flow, langevin, per_sample_grads, sgd_sde

W = {"w": lambda p: p["w"][0]}


def test_gradient_flow_matches_expm(key):
    obj, p0, H, c = linear_problem(key, n=8, d=3, l2=0.05)
    ts = np.array([0.0, 0.5, 1.0, 3.0, 6.0])
    traj = gradient_flow(obj, p0, 6.0, saveat=ts, rtol=1e-10, atol=1e-12, metrics=W)
    np.testing.assert_allclose(traj.steps, ts)
    wstar = np.linalg.solve(H, c)
    w0 = np.asarray(p0["w"][0])
    for k, t in enumerate(ts):
        w_t = wstar + scipy.linalg.expm(-t * H) @ (w0 - wstar)
        np.testing.assert_allclose(traj.metrics["w"][k], w_t, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(traj.params["w"][0], traj.metrics["w"][-1], rtol=1e-14)
    assert traj.valid.all() and not traj.diverged and traj.opt_state is None
    # loss decreases monotonically along the flow
    assert np.all(np.diff(np.asarray(traj.loss)) < 0)


def test_langevin_zero_temperature_is_the_euler_step(key):
    obj, p0, H, c = linear_problem(key, n=8, d=3)
    dt, t1 = 0.05, 1.0
    traj = langevin(obj, p0, t1, dt, 0.0, key=key, saveat=np.array([0.5, 1.0]), metrics=W)
    term = diffrax.ODETerm(lambda t, y, a: jax.tree_util.tree_map(jnp.negative, obj.grad(y)))
    y = p0
    for ta, tb in ((0.0, 0.5), (0.5, 1.0)):  # the same save intervals
        y = jax.tree_util.tree_map(lambda x: x[-1],
                                   diffrax.diffeqsolve(term, diffrax.Euler(), ta, tb, dt, y).ys)
    # equal up to the compiler's fusion choices (one ulp), and exactly key-independent:
    # at T = 0 the noise term contributes exactly nothing
    np.testing.assert_allclose(traj.params["w"], y["w"], rtol=1e-15, atol=1e-16)
    other = langevin(obj, p0, t1, dt, 0.0, key=jax.random.fold_in(key, 1),
                     saveat=np.array([0.5, 1.0]), metrics=W)
    np.testing.assert_array_equal(other.metrics["w"], traj.metrics["w"])
    w = np.asarray(p0["w"][0])
    for _ in range(20):
        w = w - dt * (H @ w - c)
    np.testing.assert_allclose(traj.metrics["w"][-1], w, rtol=1e-12)


def test_langevin_euler_steps_match_diffrax_when_dt_does_not_divide(key):
    # (t_b - t_a)/dt = 5/3 per save interval: diffrax's ConstantStepSize takes 2 steps
    # (0.3, then 0.2); the default (scan) path must take the same steps
    obj, p0, H, c = linear_problem(key, n=8, d=3)
    traj = langevin(obj, p0, 1.0, 0.3, 0.0, key=key, saveat=np.array([0.5, 1.0]))
    term = diffrax.ODETerm(lambda t, y, a: jax.tree_util.tree_map(jnp.negative, obj.grad(y)))
    y = p0
    for ta, tb in ((0.0, 0.5), (0.5, 1.0)):
        y = jax.tree_util.tree_map(lambda x: x[-1],
                                   diffrax.diffeqsolve(term, diffrax.Euler(), ta, tb, 0.3, y).ys)
    np.testing.assert_allclose(traj.params["w"], y["w"], rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize("saveat", [11, np.array([0.3, 1.0])])  # scan path; diffrax path
def test_langevin_records_are_the_objective_at_the_saved_params(key, saveat):
    # the default path records the loss and |grad L|^2 from the value_and_grad its next
    # step uses: they must be the objective's value and gradient at the saved parameters
    obj, p0 = tiny_net_problem(key)
    keep = {"w": lambda p: p["w"], "a": lambda p: p["a"]}
    traj = langevin(obj, p0, 1.0, 0.01, 0.3, key=key, saveat=saveat, metrics=keep)
    assert traj.loss.dtype == jnp.float64 and traj.valid.all()
    for k in range(len(traj.steps)):
        pk = {"w": traj.metrics["w"][k], "a": traj.metrics["a"][k]}
        g = obj.grad(pk)
        np.testing.assert_allclose(traj.loss[k], obj.value(pk), rtol=1e-13)
        np.testing.assert_allclose(traj.grad_norm2[k],
                                   sum(float(jnp.sum(x**2)) for x in jax.tree_util.tree_leaves(g)),
                                   rtol=1e-12)
    np.testing.assert_array_equal(traj.params["w"], traj.metrics["w"][-1])
    # the path moved (T > 0): the records are not all the starting point's
    assert np.ptp(np.asarray(traj.loss)) > 0


def test_langevin_reaches_gibbs_variance(key):
    curv, temp, dt = 2.0, 0.5, 0.01
    obj = quadratic_1d(curv)
    p0 = {"w": jnp.ones((1, 1))}
    keys = jax.random.split(key, 4000)
    traj = jax.vmap(lambda k: langevin(obj, p0, 4.0, dt, temp, key=k, saveat=2))(keys)
    w = np.asarray(traj.params["w"]).ravel()
    # Euler-Maruyama's stationary variance for this OU process is T/(c (1 - c dt/2)),
    # 1 % above the Gibbs value T/c; the start's memory is exp(-2 c t1) ~ 1e-7
    var_em = temp / (curv * (1 - curv * dt / 2))
    assert scipy.stats.kstest(w / np.sqrt(var_em), "norm").pvalue > 0.01
    # sample variance of 4,000 Gaussians: relative std sqrt(2/4000) = 2.2 %; allow 4 sigma
    assert abs(w.var() / (temp / curv) - 1) < 0.09
    assert traj.valid.all()


# one draw; 2 chunks of 1000; 1024 + 7 (the cap is 1024 steps at p = 1)
@pytest.mark.parametrize("n_steps", [37, 2000, 1031])
def test_langevin_chunked_noise_has_the_euler_maruyama_law(key, n_steps):
    # one save interval of n_steps steps on L = c w^2/2: Euler-Maruyama is the AR(1)
    # w <- (1 - c h) w + sqrt(2 T h) xi, whose law after N steps is Gaussian with mean
    # (1 - c h)^N w0 and variance 2 T h sum_j (1 - c h)^{2j}. Noise reused across chunks
    # (or correlated between them) would change the variance.
    curv, temp, dt = 1.0, 0.5, 0.01
    obj = quadratic_1d(curv)
    p0 = {"w": jnp.ones((1, 1))}
    keys = jax.random.split(key, 4000)
    traj = jax.vmap(lambda k: langevin(obj, p0, n_steps * dt, dt, temp, key=k,
                                       saveat=2))(keys)
    w = np.asarray(traj.params["w"]).ravel()
    r = 1 - curv * dt
    mean = r**n_steps
    var = 2 * temp * dt * (1 - r ** (2 * n_steps)) / (1 - r**2)
    assert abs(w.mean() - mean) < 4 * np.sqrt(var / len(w))
    assert abs(w.var() / var - 1) < 4 * np.sqrt(2 / len(w))  # 4 sigma of a variance estimate
    assert scipy.stats.kstest((w - mean) / np.sqrt(var), "norm").pvalue > 1e-3
    # the same key gives the same path
    again = langevin(obj, p0, n_steps * dt, dt, temp, key=keys[0], saveat=2)
    np.testing.assert_array_equal(again.params["w"], traj.params["w"][0])


def test_langevin_memory_does_not_grow_with_steps_per_save(key):
    # the noise is drawn in bounded chunks: 100,000 steps per save interval need no more
    # scratch memory than 100 plus one chunk (drawing a whole interval at once needs
    # 100,000 x p numbers, 20x this bound)
    from villani.dynamics.continuous import _NOISE_CHUNK_STEPS

    obj, p0 = tiny_net_problem(key, width=16)
    p = sum(x.size for x in jax.tree_util.tree_leaves(p0))

    def temp_bytes(n_steps):
        f = jax.jit(lambda k: langevin(obj, p0, 1.0, 1.0 / n_steps, 0.1, key=k, saveat=2))
        return f.lower(key).compile().memory_analysis().temp_size_in_bytes

    n = 100_000
    small, big = temp_bytes(100), temp_bytes(n)
    # one noise chunk, plus O(n) for the interval's step sizes (and their copy in chunks):
    # nothing of order n * p
    assert big <= small + (_NOISE_CHUNK_STEPS * p + 2 * n) * 8, (small, big, n * p * 8)


def test_sgd_sde_noise_covariance(key):
    obj, p0 = tiny_net_problem(key)
    lr, b, dt = 0.5, 2, 0.1
    keys = jax.random.split(key, 20000)
    step = jax.vmap(lambda k: sgd_sde(obj, p0, lr, b, dt, dt, key=k, saveat=2).params)(keys)
    flat = lambda t: np.concatenate([np.asarray(x).reshape(x.shape[0], -1)  # noqa: E731
                                     for x in jax.tree_util.tree_leaves(t)], 1)
    g = obj.grad(p0)
    drift = np.concatenate([np.asarray(x).ravel() for x in jax.tree_util.tree_leaves(g)])
    p0f = np.concatenate([np.asarray(x).ravel() for x in jax.tree_util.tree_leaves(p0)])
    noise = flat(step) - (p0f - dt * drift)[None]
    G = flat(per_sample_grads(obj, p0))
    sigma = np.cov(G, rowvar=False, bias=True)
    target = sigma * lr / b * dt
    emp = np.cov(noise, rowvar=False)
    assert np.abs(noise.mean(0)).max() < 5 * np.sqrt(np.diag(target).max() / len(keys))
    # entrywise, standardised by the sampling std of a covariance estimate
    se = np.sqrt((np.outer(np.diag(target), np.diag(target)) + target**2) / len(keys))
    assert np.abs(emp - target).max() < 5 * se.max()
    assert np.abs((emp - target) / np.sqrt(np.outer(np.diag(target), np.diag(target)))).max() < 0.05
    # the materialised covariance differs from the sqrt(n-1) normalisation by 1/(n-1) ~ 14 %
    sigma_unbiased = np.cov(G, rowvar=False, bias=False) * lr / b * dt
    assert np.trace(emp) == pytest.approx(np.trace(target), rel=0.03)
    assert abs(np.trace(emp) / np.trace(sigma_unbiased) - 1) > 0.06


def test_same_key_same_path_and_vmap_equals_single(key):
    obj, p0 = tiny_net_problem(key)

    def run(k):
        return sgd_sde(obj, p0, 0.2, 4, 1.0, 0.05, key=k, saveat=5)

    keys = jax.random.split(key, 3)
    batched = jax.vmap(run)(keys)
    for i in range(3):
        single = run(keys[i])
        np.testing.assert_allclose(batched.loss[i], single.loss, rtol=1e-12)
    again = run(keys[0])
    np.testing.assert_array_equal(again.loss, run(keys[0]).loss)
    assert not np.allclose(batched.loss[0, 1:], batched.loss[1, 1:])


def test_virtual_brownian_tree_option(key):
    curv, temp = 1.0, 0.3
    obj = quadratic_1d(curv)
    p0 = {"w": jnp.zeros((1, 1))}
    keys = jax.random.split(key, 400)
    traj = jax.vmap(lambda k: langevin(obj, p0, 3.0, 0.02, temp, key=k, saveat=2,
                                       brownian="virtual"))(keys)
    w = np.asarray(traj.params["w"]).ravel()
    assert abs(w.var() / (temp / curv) - 1) < 0.3  # 400 samples: 7 % std


def test_sde_divergence_is_flagged(key):
    obj = quadratic_1d(100.0)  # Euler-Maruyama is unstable for dt * curvature > 2
    p0 = {"w": jnp.ones((1, 1))}
    traj = langevin(obj, p0, 100.0, 0.05, 0.1, key=key, saveat=11)
    assert bool(traj.diverged)
    at = int(traj.diverged_at)
    assert 0 < at < 11
    np.testing.assert_array_equal(traj.valid, np.arange(11) < at)
    assert np.all(np.isnan(np.asarray(traj.loss)[at:]))
    assert np.all(np.isfinite(np.asarray(traj.params["w"])))
    t_at = float(traj.steps[at])
    msg = f"diverged at save index {at} \\(t = {t_at:.4g}\\) with dt=0.05"
    with pytest.raises(DivergenceError, match=msg):
        traj.raise_if_diverged(dt=0.05)


@pytest.mark.parametrize("fn,kw,name", [
    ("gf", dict(t1=0.0), "t1"),
    ("gf", dict(t1=-1.0), "t1"),
    ("gf", dict(saveat=np.array([0.0, 2.0])), "saveat"),
    ("lv", dict(dt=0.0), "dt"),
    ("lv", dict(temperature=-0.1), "temperature"),
    ("lv", dict(brownian="bogus"), "brownian"),
    ("sde", dict(lr=0.0), "lr"),
    ("sde", dict(batch_size=0), "batch_size"),
    ("sde", dict(batch_size=9), "batch_size"),
    ("sde", dict(t1=-1.0), "t1"),
])
def test_bad_arguments(key, fn, kw, name):
    obj, p0 = tiny_net_problem(key)
    if fn == "gf":
        args = dict(t1=1.0)
        args.update(kw)
        call = lambda: gradient_flow(obj, p0, args.pop("t1"), **args)  # noqa: E731
    elif fn == "lv":
        args = dict(t1=1.0, dt=0.1, temperature=0.1)
        args.update(kw)
        call = lambda: langevin(obj, p0, key=key, **args)  # noqa: E731
    else:
        args = dict(lr=0.1, batch_size=2, t1=1.0, dt=0.1)
        args.update(kw)
        call = lambda: sgd_sde(obj, p0, key=key, **args)  # noqa: E731
    with pytest.raises(ValueError, match=name):
        call()


def test_bad_params(key):
    obj, p0 = tiny_net_problem(key)
    with pytest.raises(ValueError, match="params"):
        langevin(obj, {"w": p0["w"]}, 1.0, 0.1, 0.1, key=key)
    with pytest.raises(ValueError, match="params"):
        gradient_flow(obj, {"w": p0["w"][:, :1], "a": p0["a"]}, 1.0)
