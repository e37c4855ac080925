"""Paper 002 (proxy convexity / proxy PL): the QUICK run's verdicts."""

import jax
import jax.numpy as jnp
import numpy as np

from villani.experiments.papers import paper_002 as P


def test_verdicts_as_expected(result):
    bad = [v for v in result.verdicts if not v.as_expected]
    assert not bad, bad
    assert any(not v.expected for v in result.verdicts)


def test_table_is_tidy(result):
    t = result.table
    n_rows = len(P.QUICK.gammas) + len(P.QUICK.widths) + 2
    assert all(np.asarray(v).ndim == 1 and len(v) == n_rows for v in t.values())
    assert result.paper == "002" and set(result.figures) == {"single_neuron", "two_layer"}


def test_sanity_against_closed_forms(result):
    t = result.table
    e1 = t["experiment"] == "E1"
    # F(w0) = mean 1/2 (sigma(w0.x) - sigma(v*.x))^2 > 0 and GD drives it to ~0 for every gamma
    assert np.all(t["loss_start"][e1] > 0) and np.all(t["loss_end"][e1] < 1e-8 * t["loss_start"][e1])
    # E2 starts near f = 0: logistic loss log 2
    e2 = t["experiment"] == "E2"
    np.testing.assert_allclose(t["loss_start"][e2], np.log(2.0), atol=0.02)
    # counter-example: the ReLU run does not move at all
    c0 = (t["experiment"] == "counter") & (t["gamma"] == 0.0)
    assert t["loss_end"][c0] == t["loss_start"][c0]


def test_train_path_is_gd_on_the_helper_objective(key):
    # the villani net + Objective that train runs must be the worked example's F: compare
    # with GD by hand on single_neuron_proxy's objective (jax.grad of the helper's F)
    import villani

    kx, kv, kw = jax.random.split(key, 3)
    x = jax.random.normal(kx, (30, 5))
    v_star = jax.random.normal(kv, (5,))
    w0 = jax.random.normal(kw, (5,))
    gamma, lr, steps = 0.2, 0.1, 20
    path = P._neuron_path(x, v_star, w0, gamma, lr, steps)
    F = villani.diagnostics.single_neuron_proxy(x, v_star, gamma).objective
    w, ref = w0, []
    for _ in range(steps):
        ref.append(w)
        w = w - lr * jax.grad(F)(w)
    np.testing.assert_allclose(path, jnp.stack(ref), rtol=1e-12, atol=1e-14)
