import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.dyn_problems import linear_problem
from villani import optim, train

STEPS = 20


def _numpy_nag(H, c, w0, lr, beta, steps):
    """Paper 004: V_t = W_t + beta (W_t - W_{t-1}), W_{t+1} = V_t - lr grad(V_t), W_{-1} = W_0."""
    W_prev, W = w0.copy(), w0.copy()
    Vs, Ws = [], [W.copy()]
    for _ in range(steps):
        V = W + beta * (W - W_prev)
        Vs.append(V)
        W_prev, W = W, V - lr * (H @ V - c)
        Ws.append(W.copy())
    V = W + beta * (W - W_prev)
    Vs.append(V)
    return np.array(Vs), np.array(Ws)


def _numpy_heavy_ball(H, c, w0, lr, beta, steps):
    """W_{t+1} = W_t - lr grad(W_t) + beta (W_t - W_{t-1}), W_{-1} = W_0."""
    W_prev, W = w0.copy(), w0.copy()
    Ws = [W.copy()]
    for _ in range(steps):
        W_prev, W = W, W - lr * (H @ W - c) + beta * (W - W_prev)
        Ws.append(W.copy())
    return np.array(Ws)


def _run(opt, key):
    obj, p0, H, c = linear_problem(key, n=8, d=4)
    traj = train(obj, opt, p0, STEPS, key=key, metrics={"w": lambda p: p["w"][0]})
    return traj, H, c, np.asarray(p0["w"][0])


def test_nesterov_matches_paper_recursion(key):
    lr, beta = 0.3, 0.7
    traj, H, c, w0 = _run(optim.nesterov(lr, beta), key)
    V, W = _numpy_nag(H, c, w0, lr, beta, STEPS)
    # optax's iterate is the look-ahead point V_t, at every step
    np.testing.assert_allclose(traj.metrics["w"], V, rtol=1e-12, atol=1e-13)
    # and W_t = theta_t + lr * beta * m_t
    w_final = optim.nesterov_w(traj.params, traj.opt_state, lr, beta)["w"][0]
    np.testing.assert_allclose(w_final, W[-1], rtol=1e-12, atol=1e-13)
    # a different recursion (heavy ball) must not match: the test can fail
    assert not np.allclose(_numpy_heavy_ball(H, c, w0, lr, beta, STEPS), V, atol=1e-6)


def test_heavy_ball_matches_polyak_recursion(key):
    lr, beta = 0.3, 0.7
    traj, H, c, w0 = _run(optim.heavy_ball(lr, beta), key)
    np.testing.assert_allclose(traj.metrics["w"], _numpy_heavy_ball(H, c, w0, lr, beta, STEPS),
                               rtol=1e-12, atol=1e-13)


def test_gd_and_sgd_are_plain_steps(key):
    for opt in (optim.gd(0.2), optim.sgd(0.2)):
        traj, H, c, w0 = _run(opt, key)
        w = w0
        for t in range(STEPS):
            w = w - 0.2 * (H @ w - c)
        np.testing.assert_allclose(traj.metrics["w"][-1], w, rtol=1e-12)


def _spectral_radius(M):
    return np.max(np.abs(np.linalg.eigvals(M)))


def test_step_size_helpers_give_the_theoretical_rates():
    mu, L = 0.01, 4.0
    kappa = L / mu
    assert optim.gd_lr(L) == pytest.approx(0.25)
    beta = optim.nag_momentum(mu, L)
    assert beta == pytest.approx((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1))
    lr_hb, beta_hb = optim.heavy_ball_params(mu, L)
    # heavy ball on a quadratic with spectrum {mu, L}: the iteration matrix on (w_t, w_{t-1})
    # has spectral radius (sqrt(kappa) - 1)/(sqrt(kappa) + 1) (Polyak)
    rho_hb = max(_spectral_radius(np.array([[1 + beta_hb - lr_hb * h, -beta_hb], [1.0, 0.0]]))
                 for h in (mu, L))
    assert rho_hb == pytest.approx((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1), rel=1e-6)
    # NAG with lr = 1/L: rate at most 1 - 1/sqrt(kappa); GD's is 1 - 1/kappa, much slower
    lr = optim.gd_lr(L)
    rho_nag = max(_spectral_radius(np.array([[(1 + beta) * (1 - lr * h), -beta * (1 - lr * h)],
                                             [1.0, 0.0]])) for h in (mu, L))
    # (at h = mu the root is double, so eigvals carries ~sqrt(eps) error)
    assert rho_nag <= 1 - 1 / np.sqrt(kappa) + 1e-6
    assert rho_nag < 1 - 1 / kappa


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_lr(bad):
    for make in (optim.gd, optim.sgd, lambda lr: optim.nesterov(lr, 0.5),
                 lambda lr: optim.heavy_ball(lr, 0.5)):
        with pytest.raises(ValueError, match="lr"):
            make(bad)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_bad_momentum(bad):
    for make in (optim.nesterov, optim.heavy_ball):
        with pytest.raises(ValueError, match="momentum"):
            make(0.1, bad)


def test_bad_constants():
    with pytest.raises(ValueError, match="L"):
        optim.gd_lr(0.0)
    with pytest.raises(ValueError, match="mu"):
        optim.nag_momentum(2.0, 1.0)
    with pytest.raises(ValueError, match="mu"):
        optim.heavy_ball_params(-1.0, 1.0)


def test_traced_lr_is_accepted():
    def step(lr):
        opt = optim.nesterov(lr, 0.5)
        p = {"w": jnp.ones(2)}
        u, _ = opt.update({"w": jnp.ones(2)}, opt.init(p), p)
        return u["w"]

    out = jax.jit(jax.vmap(step))(jnp.array([0.1, 0.2]))
    np.testing.assert_allclose(out[:, 0], [-0.15, -0.3])
