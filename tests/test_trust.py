"""Silent wrong results made loud: logistic labels, traced step sizes <= 0 or NaN, fit_rate
on a diverged run, and an ODE solver out of max_steps (issue 17)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.dyn_problems import linear_problem, quadratic_1d
from villani import DivergenceError, Objective, data, gradient_flow, nets, optim, train
from villani.diagnostics import fit_rate
from villani.experiments.sweep import sweep
from villani.trajectory import REASONS


def test_logistic_loss_refuses_labels_other_than_plus_minus_one(key):
    x = data.unit_sphere(key, 6, 3)
    net = nets.two_layer(4, "tanh")
    y01 = jnp.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"y: the logistic loss .* labels in \{-1, \+1\}, got 3 other "
                                         r"label\(s\) \(e\.g\. 0\.0\).*y = 2 \* y - 1"):
        Objective(net, data.Dataset(x, y01), loss="logistic")
    with pytest.raises(ValueError, match="labels in"):  # real-valued targets too
        Objective(net, data.Dataset(x, jnp.linspace(-1, 1, 6)), loss="logistic")
    obj = Objective(net, data.Dataset(x, 2 * y01 - 1), loss="logistic")  # the mapping the message gives
    p = net.init(key, 3)
    f = np.asarray(obj.predict(p))
    np.testing.assert_allclose(obj.value(p), np.mean(np.log1p(np.exp(-(2 * y01 - 1) * f))), rtol=1e-12)
    Objective(net, data.Dataset(x, y01), loss="squared")  # any real target for the squared loss
    # traced labels (inside jit) cannot be checked and pass
    jax.jit(lambda y: Objective(net, data.Dataset(x, y), loss="logistic").value(p))(2 * y01 - 1)


def _problem(key):
    obj, p0, H, c = linear_problem(key, n=8, d=3)
    return obj, p0, H, c


@pytest.mark.parametrize("make", [optim.gd, lambda lr: optim.heavy_ball(lr, 0.5),
                                  lambda lr: optim.nesterov(lr, 0.5)])
def test_traced_step_size_not_positive_is_flagged_with_its_reason(make, key):
    obj, p0, H, c = _problem(key)
    lrs = jnp.array([0.1, 0.0, -0.1, jnp.nan])
    run = jax.vmap(lambda lr: train(obj, make(lr), p0, 10, key=key, every=5))
    t = run(lrs)
    np.testing.assert_array_equal(t.diverged, [False, True, True, True])
    np.testing.assert_array_equal(t.diverged_at, [-1, 1, 1, 1])
    np.testing.assert_array_equal(t.reason, [0, 4, 4, 4])
    np.testing.assert_array_equal(t.valid[1:], [[True, False, False]] * 3)  # the initial record stands
    assert "not a descent direction" in REASONS[4]
    with pytest.raises(DivergenceError, match=r"trajectory \(1,\) of 4, 3 diverged.*not a descent direction"):
        t.raise_if_diverged()
    # the lr > 0 run is untouched: the same numbers as a run with a concrete lr
    ref = train(obj, make(0.1), p0, 10, key=key, every=5)
    np.testing.assert_allclose(t.loss[0], ref.loss, rtol=1e-12)
    # GD by hand on the quadratic: grad L = H w - c
    if make is optim.gd:
        w = np.asarray(p0["w"][0])
        for _ in range(10):
            w = w - 0.1 * (H @ w - c)
        np.testing.assert_allclose(t.params["w"][0, 0], w, rtol=1e-10)


def test_a_stationary_start_is_not_flagged(key):
    # at the minimiser w = 0 of L = 2 w^2 / 2 the gradient is exactly 0: the update is 0 and
    # points nowhere, which must not read as "not a descent direction"
    obj = quadratic_1d(2.0)
    t = train(obj, optim.gd(0.5), {"w": jnp.zeros((1, 1))}, 4, key=key)
    assert float(t.grad_norm2[0]) == 0.0
    assert not bool(t.diverged) and int(t.reason) == 0


def test_a_warm_up_from_zero_is_not_flagged(key):
    # optax's linear warm-up makes the first update exactly 0; later ones move the params
    obj, p0, H, c = _problem(key)
    t = train(obj, optax.sgd(optax.linear_schedule(0.0, 0.2, 4)), p0, 6, key=key)
    assert not bool(t.diverged) and int(t.reason) == 0
    w = np.asarray(p0["w"][0])
    for k in range(6):  # the schedule by hand: lr_k = 0.2 min(k, 4) / 4
        w = w - 0.2 * min(k, 4) / 4 * (H @ w - c)
    # optax evaluates the schedule in float32 (relative error ~1e-8 per step size)
    np.testing.assert_allclose(t.params["w"][0], w, rtol=1e-6)


def test_sweep_over_step_sizes_reports_the_reason(key):
    obj, p0, _, _ = _problem(key)

    def run(config, key):
        return train(obj, optim.gd(config["lr"]), p0, 6, key=key, every=3)

    table = sweep(run, {"lr": [0.2, -0.2]}, seeds=2, key=key, progress=False)
    np.testing.assert_array_equal(table.data["diverged"][..., -1], [[False, False], [True, True]])
    np.testing.assert_array_equal(table.data["reason"][..., -1], [[0, 0], [4, 4]])


def test_fit_rate_says_the_run_diverged(key):
    obj, p0, H, _ = _problem(key)
    lam = np.linalg.eigvalsh(H)[-1]
    early = train(obj, optim.gd(3.0 / lam), p0, 200, key=key, every=1, max_loss=10.0)
    assert bool(early.diverged) and 0 < int(early.diverged_at) < 40
    with pytest.raises(ValueError, match=r"fewer than 3 usable points.*diverged at step "
                                         rf"{int(early.diverged_at)}: loss above max_loss"):
        fit_rate(early)
    # a run that diverged after enough records: fitted on those, with a warning that says so
    good = train(obj, optim.gd(0.5 / lam), p0, 40, key=key, every=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for a run that did not diverge
        fit_rate(good, window=None)
    cut = good._replace(valid=good.valid.at[30:].set(False), loss=good.loss.at[30:].set(jnp.nan),
                        diverged=jnp.array(True), diverged_at=jnp.array(30),
                        reason=jnp.array(2, jnp.int32))
    with pytest.warns(RuntimeWarning, match=r"diverged at step 30: loss above max_loss; the rate is "
                                            "fitted to its records before that only"):
        fit = fit_rate(cut, window=None)
    ref = fit_rate(good.loss[:30], steps=good.steps[:30], window=None)
    np.testing.assert_allclose(fit.rate, ref.rate, rtol=1e-12)


def test_gradient_flow_out_of_max_steps_is_not_called_a_divergence(key):
    obj, p0, _, _ = _problem(key)
    t = gradient_flow(obj, p0, 10.0, saveat=5, max_steps=2)
    assert bool(t.diverged) and int(t.reason) == 5 and int(t.diverged_at) == 1
    with pytest.raises(DivergenceError) as e:
        t.raise_if_diverged()
    msg = str(e.value)
    assert msg.startswith("stopped at save index 1") and "not a divergence" in msg and "max_steps" in msg
    assert "diverged" not in msg
    full = gradient_flow(obj, p0, 10.0, saveat=5)
    assert not bool(full.diverged) and int(full.reason) == 0
