"""The benchmark networks and losses written in plain JAX, for the JAX peers.

neural-tangents runs on jax 0.4.23 and blackjax in its own environment, so neither can
import villani; these functions compute exactly villani's ``nets.two_layer`` /
``nets.mlp`` (standard or NTK parametrisation, no biases) and losses, with the same
weights the driver wrote.
"""

import math

import jax
import jax.numpy as jnp


def _act(name):
    return {"tanh": jnp.tanh, "erf": jax.scipy.special.erf}[name]


def params_from(spec, inputs, dtype):
    if spec["net"] == "two_layer":
        return {"w": jnp.asarray(inputs["w"], dtype), "a": jnp.asarray(inputs["a"], dtype)}
    return [jnp.asarray(inputs[f"w{i}"], dtype) for i in range(len(spec["widths"]) + 1)]


def apply_fn(spec):
    """``f(params, x) -> (n, 1)`` (neural-tangents wants a trailing output axis)."""
    act = _act(spec["act"])
    ntk = spec.get("param", "standard") == "ntk"
    if spec["net"] == "two_layer":
        c = 1.0 / math.sqrt(spec["m"]) if ntk else 1.0

        def f(params, x):
            return c * (act(x @ params["w"].T) @ params["a"])[..., None]

        return f

    def f(params, x):
        h = x
        for i, w in enumerate(params):
            c = 1.0 / math.sqrt(w.shape[1]) if (ntk and i > 0) else 1.0
            h = c * (h @ w.T)
            if i < len(params) - 1:
                h = act(h)
        return h

    return f


def loss_fn(spec):
    """``L(params, x, y)``: the mean loss, exactly villani's (squared: (f-y)^2/2)."""
    f = apply_fn(spec)
    if spec["loss"] == "squared":
        def ell(out, y):
            return 0.5 * (out - y) ** 2
    else:
        def ell(out, y):
            return jnp.logaddexp(0.0, -y * out)

    def L(params, x, y):
        return jnp.mean(ell(f(params, x)[:, 0], y))

    return L
