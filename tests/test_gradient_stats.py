"""gradient_stats against materialised per-sample gradients (float64).

The reference is the Jacobian of the per-sample losses (jax.jacrev of
Objective.per_sample, an n x p array) plus the regulariser's lambda*theta in every row:
its row norms, its population covariance's trace and that over ||grad L||^2.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from villani import GradientStats, Objective, data, gradient_noise, gradient_stats, nets

N = 10  # not a multiple of the chunk size below


def _reference(obj, params):
    jac = jax.jacrev(obj.per_sample)(params)
    rows = np.concatenate([np.asarray(j).reshape(N, -1) for j in jax.tree_util.tree_leaves(jac)],
                          axis=1)
    theta = np.concatenate([np.asarray(v).ravel() for v in jax.tree_util.tree_leaves(params)])
    g = rows + float(obj.l2) * theta[None]
    mean = g.mean(0)
    trace = np.mean(np.sum((g - mean) ** 2, axis=1))
    return np.sum(g**2, axis=1), trace, np.sum(mean**2)


@dataclasses.dataclass(frozen=True)
class UserNet(nets.FeedForward):
    """A user's own feed-forward net: flax's (in, out) kernel layout, a fixed random middle
    layer (not a parameter), a bias on the first layer only, its own scales; with ``extra``
    a learned output offset that lies outside the layers."""

    width: int = 5
    extra: bool = False

    def init(self, key, in_dim):
        k1, k2 = jax.random.split(key)
        p = {"first": {"kernel": jax.random.normal(k1, (in_dim, self.width)),
                       "bias": jnp.linspace(-0.5, 0.5, self.width)},
             "out": {"kernel": jax.random.normal(k2, (self.width, 1))}}
        return {**p, "offset": jnp.asarray(0.3)} if self.extra else p

    def in_dim(self, params):
        return params["first"]["kernel"].shape[0]

    def _middle(self, dtype):
        return jax.random.normal(jax.random.key(42), (self.width, self.width), dtype)

    def layers(self, params):
        k1, k2 = params["first"]["kernel"], params["out"]["kernel"]
        return nets.Layers((k1.T, self._middle(k1.dtype), k2.T),
                           (params["first"]["bias"], None, None), (0.7, 0.5, 0.4),
                           (True, False, True), nets.activation("tanh"))

    def layer_params(self, weights, biases):
        return {"first": {"kernel": weights[0].T, "bias": biases[0]},
                "out": {"kernel": weights[-1].T}}

    def apply(self, params, x):
        f = self.forward(params, x)[-1][..., 0]
        return f + params["offset"] if self.extra else f


def _plain_init(key, d):
    k1, k2 = jax.random.split(key)
    return {"w": jax.random.normal(k1, (6, d)), "a": jax.random.normal(k2, (6,)) / 4}


def _plain_apply(p, x):
    return jnp.tanh(p["w"] @ x) @ p["a"]


NETS = {
    "two_layer ntk, a trained, l2": (lambda: nets.two_layer(6, "tanh"), "logistic", 0.1),
    "two_layer standard, bias, a fixed": (
        lambda: nets.two_layer(6, "erf", parametrization="standard", bias=True,
                               train_outer=False), "squared", 0.0),
    "mlp ntk, bias, l2": (lambda: nets.mlp((5, 7, 4), "tanh", bias=True), "squared", 0.05),
    "mlp standard": (lambda: nets.mlp((6, 6), "tanh", parametrization="standard"), "logistic",
                     0.0),
    # the structure comes from the network's own layers(): no villani net needed
    "user FeedForward, fixed middle, l2": (lambda: UserNet(), "logistic", 0.1),
    # a parameter outside the layers: auto takes the per-sample path
    "user FeedForward, extra param": (lambda: UserNet(extra=True), "squared", 0.0),
    # a plain (init, apply) pair: no layers at all, the per-sample path
    "plain (init, apply)": (lambda: nets.as_network((_plain_init, _plain_apply)), "logistic", 0.01),
}


@pytest.mark.parametrize("name,method", [
    # auto: structured on these nets; the 30 s MLP case runs with -m slow
    pytest.param(n, m, marks=pytest.mark.slow) if (n, m) == ("mlp ntk, bias, l2", "auto")
    else (n, m) for m in ("auto", "chunked") for n in NETS])
def test_matches_materialised_per_sample_gradients(key, name, method):
    make, loss, l2 = NETS[name]
    kd, kp = jax.random.split(key)
    ds = data.random_labels(kd, N, 3)
    obj = Objective(make(), ds, loss=loss, l2=l2)
    params = obj.net.init(kp, 3)
    s = gradient_stats(obj, params, method=method, chunk_size=4)
    assert isinstance(s, GradientStats) and s.sq_norms.shape == (N,)
    assert s.sq_norms.dtype == jnp.float64
    sq, trace, g2 = _reference(obj, params)
    np.testing.assert_allclose(s.sq_norms, sq, rtol=1e-12)
    np.testing.assert_allclose(s.grad_norm2, g2, rtol=1e-12)
    np.testing.assert_allclose(s.trace, trace, rtol=1e-10)
    np.testing.assert_allclose(s.noise_scale, trace / g2, rtol=1e-10)
    # the same covariance as the materialised gradient_noise
    gn = gradient_noise(obj, params)
    np.testing.assert_allclose(s.trace, gn.trace, rtol=1e-10)
    np.testing.assert_allclose(s.noise_scale, gn.noise_scale, rtol=1e-10)


def test_under_jit_with_traced_l2(key):
    kd, kp = jax.random.split(key)
    obj = Objective(nets.mlp((4, 4), "tanh"), data.random_labels(kd, N, 3), loss="logistic",
                    l2=0.2)
    params = obj.net.init(kp, 3)
    got = jax.jit(lambda o, p: gradient_stats(o, p))(obj, params)  # l2 is a tracer here
    sq, trace, _ = _reference(obj, params)
    np.testing.assert_allclose(got.sq_norms, sq, rtol=1e-12)
    np.testing.assert_allclose(got.trace, trace, rtol=1e-10)


def test_bad_arguments(key):
    obj = Objective(nets.two_layer(3), data.random_labels(key, N, 2))
    params = obj.net.init(key, 2)
    with pytest.raises(ValueError, match="method"):
        gradient_stats(obj, params, method="ghost")
    with pytest.raises(ValueError, match="chunk_size"):
        gradient_stats(obj, params, method="chunked", chunk_size=0)
    with pytest.raises(TypeError, match="objective"):
        gradient_stats(lambda p: 0.0, params)
    with pytest.raises(ValueError, match="params"):
        gradient_stats(obj, {"w": params["w"][:, :1], "a": params["a"]})
    # structured where the layers do not hold every parameter: refused, saying why
    ds = data.random_labels(key, N, 3)
    user = Objective(UserNet(extra=True), ds)
    with pytest.raises(ValueError, match=r"structured.*holds 25 trained entries of the params' 26"):
        gradient_stats(user, user.net.init(key, 3), method="structured")
    with pytest.raises(ValueError, match="structured.*FeedForward"):
        gradient_stats(Objective(lambda p, x: jnp.tanh(x @ p), ds), jnp.ones(3),
                       method="structured")
    # a multi-output net never reaches gradient_stats: the Objective refuses it
    with pytest.raises(ValueError, match="scalar outputs"):
        Objective(nets.mlp((3,), "tanh", out_dim=2), data.random_labels(key, N, 2))
