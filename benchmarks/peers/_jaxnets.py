"""The benchmark networks and losses written in plain JAX, for the JAX peers.

neural-tangents runs on jax 0.4.23 and blackjax in its own environment, so neither can
import villani; these functions compute exactly villani's ``nets.two_layer`` /
``nets.mlp`` (standard or NTK parametrisation, no biases) and losses, with the same
weights the driver wrote.

The weights are stored the way a JAX user writes a dense layer, ``x @ w`` with ``w`` of
shape (fan_in, fan_out) -- the layout of ``jax.example_libraries.stax.Dense`` and
neural-tangents' ``stax.Dense``. That matters: neural-tangents' structured-derivatives
NTK (``implementation=3``) has its structured rule for this ``dot_general``; a layer
written ``x @ w.T`` (the driver's (fan_out, fan_in) layout, torch's) puts a transpose
between the parameter and the product, and implementation 3 then falls back to the cost
of a Jacobian contraction. :func:`params_from` transposes the driver's arrays once, and
:func:`to_driver` transposes results back for comparison.
"""

import math

import jax
import jax.numpy as jnp


def _act(name):
    return {"tanh": jnp.tanh, "erf": jax.scipy.special.erf}[name]


def params_from(spec, inputs, dtype):
    """The driver's weights (villani's (fan_out, fan_in) layout) as (fan_in, fan_out) arrays."""
    if spec["net"] == "two_layer":
        return {"w": jnp.asarray(inputs["w"].T, dtype), "a": jnp.asarray(inputs["a"], dtype)}
    return [jnp.asarray(inputs[f"w{i}"].T, dtype) for i in range(len(spec["widths"]) + 1)]


def to_driver(spec, params):
    """Inverse of :func:`params_from`: NumPy arrays named and laid out as the driver's."""
    import numpy as np

    if spec["net"] == "two_layer":
        return {"w": np.asarray(params["w"]).swapaxes(-1, -2), "a": np.asarray(params["a"])}
    return {f"w{i}": np.asarray(w).swapaxes(-1, -2) for i, w in enumerate(params)}


def apply_fn(spec):
    """``f(params, x) -> (n, 1)`` (neural-tangents wants a trailing output axis)."""
    act = _act(spec["act"])
    ntk = spec.get("param", "standard") == "ntk"
    if spec["net"] == "two_layer":
        c = 1.0 / math.sqrt(spec["m"]) if ntk else 1.0

        def f(params, x):
            return c * (act(x @ params["w"]) @ params["a"])[..., None]

        return f

    def f(params, x):
        h = x
        for i, w in enumerate(params):
            c = 1.0 / math.sqrt(w.shape[0]) if (ntk and i > 0) else 1.0
            h = c * (h @ w)
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
