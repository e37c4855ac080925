"""Laplacian and Hessian diagonal: every fast path against jax.hessian in float64."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from villani import Objective, data, nets
from villani.diagnostics import REFERENCE_MAX_PARAMS, TraceEstimate, hessian_diagonal, laplacian

RTOL = 1e-10  # float64, relative to the trace's scale
HYP = settings(max_examples=4, deadline=None, derandomize=True)  # more under -m slow below


@jax.jit
def _dense(obj, params):
    theta, unravel = jax.flatten_util.ravel_pytree(params)
    h = jax.hessian(lambda t: obj.value(unravel(t)))(theta)
    return jnp.trace(h), unravel(jnp.diag(h)), jnp.sum(jnp.abs(jnp.diag(h)))


def _assert_matches(obj, params, method):
    tr, diag, scale = _dense(obj, params)
    got, got_diag = jax.jit(lambda o, p: (laplacian(o, p, method), hessian_diagonal(o, p, method)))(
        obj, params)
    np.testing.assert_allclose(got, tr, rtol=0, atol=RTOL * (1.0 + float(scale)))
    assert jax.tree_util.tree_structure(got_diag) == jax.tree_util.tree_structure(params)
    for g, w in zip(jax.tree_util.tree_leaves(got_diag), jax.tree_util.tree_leaves(diag)):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=RTOL * (1.0 + float(scale)))
    np.testing.assert_allclose(laplacian(obj, params, method), tr, rtol=0,  # eager path too
                               atol=RTOL * (1.0 + float(scale)))


@HYP
@given(n=st.integers(1, 6), d=st.integers(1, 4), m=st.integers(1, 6),
       act=st.sampled_from(nets.ACTIVATIONS), loss=st.sampled_from(["squared", "logistic"]),
       bias=st.booleans(), train_outer=st.booleans(), par=st.sampled_from(["ntk", "standard"]),
       l2=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 2**16))
def test_closed_form_equals_hessian_trace(n, d, m, act, loss, bias, train_outer, par, l2, seed):
    kd, kp = jax.random.split(jax.random.key(seed))
    net = nets.two_layer(m, act, bias=bias, train_outer=train_outer, parametrization=par,
                         init=nets.gaussian(1.0))
    obj = Objective(net, data.random_labels(kd, n, d), loss=loss, l2=l2)
    _assert_matches(obj, net.init(kp, d), "closed_form")


@HYP
@given(n=st.integers(1, 5), d=st.integers(1, 4),
       widths=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       act=st.sampled_from(nets.ACTIVATIONS), loss=st.sampled_from(["squared", "logistic"]),
       bias=st.booleans(), par=st.sampled_from(["ntk", "standard"]), seed=st.integers(0, 2**16))
def test_exact_mlp_equals_hessian_trace(n, d, widths, act, loss, bias, par, seed):
    kd, kp = jax.random.split(jax.random.key(seed))
    net = nets.mlp(tuple(widths), act, bias=bias, parametrization=par, init=nets.gaussian(1.0))
    obj = Objective(net, data.random_labels(kd, n, d), loss=loss, l2=0.1)
    _assert_matches(obj, net.init(kp, d), "exact")


@pytest.mark.parametrize("net", [nets.two_layer(5, "erf", bias=True), nets.mlp((4, 3), "gelu", bias=True)])
def test_reference_equals_hessian(net, key):
    kd, kp = jax.random.split(key)
    obj = Objective(net, data.random_labels(kd, 7, 3), loss="logistic", l2=0.2)
    _assert_matches(obj, net.init(kp, 3), "reference")
    if isinstance(net, nets.MLP):
        p = net.init(kp, 3)
        np.testing.assert_allclose(laplacian(obj, p, "reference", chunk=5),
                                   laplacian(obj, p, "reference"), rtol=1e-12)


@pytest.mark.slow  # 20-50 s CPU, compile-bound; run by make test-slow
def test_exact_chunks_and_depth(key):
    kd, kp = jax.random.split(key)
    net = nets.mlp((6, 5, 4, 3), "tanh", bias=True)
    obj = Objective(net, data.random_labels(kd, 10, 4), loss="squared", l2=0.05)
    p = net.init(kp, 4)
    full = laplacian(obj, p, "exact")
    np.testing.assert_allclose(laplacian(obj, p, "exact", chunk=3), full, rtol=1e-12)
    np.testing.assert_allclose(hessian_diagonal(obj, p, chunk=3)["w"][0],
                               hessian_diagonal(obj, p)["w"][0], rtol=1e-12)
    assert laplacian(obj, p) == full  # auto -> exact


def test_one_hidden_mlp_equals_two_layer(key):
    kd, kp = jax.random.split(key)
    ds = data.random_labels(kd, 8, 3)
    tl, ml = nets.two_layer(5, "softplus"), nets.mlp((5,), "softplus")
    pt = tl.init(kp, 3)
    pm = {"w": [pt["w"], pt["a"][None, :]]}
    np.testing.assert_allclose(laplacian(Objective(ml, ds, "logistic"), pm),
                               laplacian(Objective(tl, ds, "logistic"), pt), rtol=1e-12)


@pytest.mark.parametrize("net", [nets.two_layer(6, "tanh"),
                                 pytest.param(nets.mlp((5, 4, 3), "sigmoid"), marks=pytest.mark.slow)])
def test_hutchinson_within_four_standard_errors(net, key):
    kd, kp, kh = jax.random.split(key, 3)
    obj = Objective(net, data.random_labels(kd, 10, 4), loss="logistic", l2=0.1)
    p = net.init(kp, 4)
    est = laplacian(obj, p, "hutchinson", key=kh, num_probes=300, chunk=64)
    assert isinstance(est, TraceEstimate) and int(est.num_probes) == 300
    exact = laplacian(obj, p)
    assert 0 < float(est.stderr) and abs(float(est.value - exact)) < 4 * float(est.stderr)
    again = laplacian(obj, p, "hutchinson", key=kh, num_probes=300, chunk=7)  # chunking: same probes
    np.testing.assert_allclose(again.value, est.value, rtol=1e-12)
    one = laplacian(obj, p, "hutchinson", key=kh, num_probes=1)
    assert np.isinf(float(one.stderr))


@pytest.mark.slow  # 20-50 s CPU, compile-bound; run by make test-slow
def test_jit_and_vmap_over_params(key):
    kd, kp = jax.random.split(key)
    for net in (nets.mlp((4, 4, 3), "tanh"),):
        obj = Objective(net, data.random_labels(kd, 6, 3), loss="logistic", l2=0.1)
        stacked = jax.vmap(lambda k: net.init(k, 3))(jax.random.split(kp, 3))
        batched = jax.jit(jax.vmap(lambda p: laplacian(obj, p)))(stacked)
        looped = [laplacian(obj, jax.tree_util.tree_map(lambda v, i=i: v[i], stacked)) for i in range(3)]
        np.testing.assert_allclose(batched, looped, rtol=1e-12)
        ref = jax.vmap(lambda p: laplacian(obj, p, "reference"))(stacked)
        np.testing.assert_allclose(batched, ref, rtol=1e-10)
        est = jax.jit(jax.vmap(lambda p, k: laplacian(obj, p, "hutchinson", key=k, num_probes=4)))(
            stacked, jax.random.split(kp, 3))
        assert est.value.shape == (3,) and est.num_probes.shape == (3,)
        diag = jax.jit(jax.vmap(lambda p: hessian_diagonal(obj, p)))(stacked)
        assert jax.tree_util.tree_structure(diag) == jax.tree_util.tree_structure(stacked)


def test_bad_input(key):
    ds = data.random_labels(key, 6, 3)
    mlp_obj = Objective(nets.mlp((4,)), ds)
    two = Objective(nets.two_layer(4), ds)
    p2 = two.net.init(key, 3)
    pm = mlp_obj.net.init(key, 3)
    # closed_form is the exact path's alias: an MLP exposes its layers, a plain function does not
    np.testing.assert_allclose(laplacian(mlp_obj, pm, "closed_form"), laplacian(mlp_obj, pm, "reference"),
                               rtol=1e-10)
    plain = Objective(lambda p, x: jnp.tanh(x @ p["w"]) @ p["a"], ds)
    pp = {"w": jnp.ones((3, 4)), "a": jnp.ones(4)}
    with pytest.raises(ValueError, match="does not expose its layers"):
        laplacian(plain, pp, "exact")
    with pytest.raises(ValueError, match="unknown method"):
        laplacian(two, p2, "newton")
    with pytest.raises(ValueError, match="num_probes"):
        laplacian(two, p2, "hutchinson", key=key, num_probes=0)
    with pytest.raises(ValueError, match="num_probes"):
        laplacian(two, p2, "hutchinson", key=key)
    with pytest.raises(ValueError, match="key"):
        laplacian(two, p2, "hutchinson", num_probes=10)
    with pytest.raises(ValueError, match="key/num_probes"):
        laplacian(two, p2, "exact", num_probes=10)
    with pytest.raises(ValueError, match="chunk"):
        laplacian(two, p2, chunk=0)
    with pytest.raises(ValueError, match="params"):
        laplacian(two, two.net.init(key, 4))  # built for the wrong d
    with pytest.raises(TypeError, match="objective"):
        laplacian(two.net, p2)
    with pytest.raises(ValueError, match="out_dim=2"):  # refused by the Objective itself
        Objective(nets.mlp((4,), out_dim=2), ds)
    big = Objective(nets.two_layer(REFERENCE_MAX_PARAMS // 4 + 1), ds)  # p = 4 m > bound (d = 3, a)
    with pytest.raises(ValueError, match="exact.*hutchinson"):
        laplacian(big, big.net.init(key, 3), "reference")
    with pytest.raises(ValueError, match="unknown method"):
        hessian_diagonal(two, p2, "hutchinson")


@pytest.mark.slow
@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(1, 6), d=st.integers(1, 4), m=st.integers(1, 6),
       act=st.sampled_from(nets.ACTIVATIONS), loss=st.sampled_from(["squared", "logistic"]),
       bias=st.booleans(), train_outer=st.booleans(), par=st.sampled_from(["ntk", "standard"]),
       seed=st.integers(0, 2**16))
def test_closed_form_many(n, d, m, act, loss, bias, train_outer, par, seed):
    test_closed_form_equals_hessian_trace.hypothesis.inner_test(
        n, d, m, act, loss, bias, train_outer, par, 0.2, seed)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(1, 5), d=st.integers(1, 4),
       widths=st.lists(st.integers(1, 5), min_size=1, max_size=5),
       act=st.sampled_from(nets.ACTIVATIONS), loss=st.sampled_from(["squared", "logistic"]),
       bias=st.booleans(), par=st.sampled_from(["ntk", "standard"]), seed=st.integers(0, 2**16))
def test_exact_many(n, d, widths, act, loss, bias, par, seed):
    test_exact_mlp_equals_hessian_trace.hypothesis.inner_test(n, d, widths, act, loss, bias, par, seed)
