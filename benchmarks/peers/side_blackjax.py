"""blackjax's SGLD kernel with the full-batch gradient: unadjusted Langevin.

Runs in benchmarks/peers/.envs/blackjax. blackjax's step is
``theta + h * grad log p + sqrt(2 T h) * xi``; with ``log p = -L`` this is the
Euler-Maruyama step of ``d theta = -grad L dt + sqrt(2 T) dW`` that villani.langevin
integrates. Particles are a vmap over keys, steps a lax.scan, as villani does. The same
environment also runs a hand-written Euler-Maruyama scan in plain JAX (``_scan``), the
reference with no library overhead at all.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blackjax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import run_tasks, time_call  # noqa: E402
from _jaxnets import loss_fn, params_from, to_driver  # noqa: E402


def _problem(spec, inputs):
    """The driver's problem in its dtype: (dtype, params, x, y, loss function, steps)."""
    dtype = np.dtype(spec["dtype"])
    x = jnp.asarray(inputs["x"], dtype)
    y = jnp.asarray(inputs["y"], dtype)
    return (dtype, params_from(spec, inputs, dtype), x, y, loss_fn(spec),
            int(round(spec["t1"] / spec["dt"])))


def _sgld(saves):
    """blackjax.sgld with the full-batch gradient, vmapped over particles. ``saves=0``
    records nothing; ``saves=k`` also records the full-batch loss and squared gradient
    norm at k evenly spaced save points (t = 0 included), as villani's default does: an
    outer scan over save intervals, one value_and_grad at each save point."""
    def impl(spec, inputs):
        dtype, params, x, y, L, steps = _problem(spec, inputs)
        # arrays of the problem's dtype: Python floats would promote fp32 positions to fp64
        h, temp = jnp.asarray(spec["dt"], dtype), jnp.asarray(spec["temperature"], dtype)
        sgld = blackjax.sgld(lambda p, batch: jax.grad(lambda q: -L(q, *batch))(p))
        vg = jax.value_and_grad(lambda q: L(q, x, y))

        def body(pos, k):
            return sgld.step(k, pos, (x, y), h, temp), None

        def record(pos):
            loss, g = vg(pos)
            return loss, sum(jnp.sum(v**2) for v in jax.tree_util.tree_leaves(g))

        def one(key):
            ks = jax.random.split(key, steps)
            if not saves:
                pos, _ = jax.lax.scan(body, params, ks)
                return pos
            per = steps // (saves - 1)

            def interval(pos, kk):
                pos, _ = jax.lax.scan(body, pos, kk)
                return pos, record(pos)

            pos, recs = jax.lax.scan(interval, params, ks.reshape(saves - 1, per, *ks.shape[1:]))
            return pos, record(params), recs

        def run(keys):
            out = jax.vmap(one)(keys)
            return out if not saves else out[0]

        run = jax.jit(run)
        keys = jax.random.split(jax.random.PRNGKey(spec["seed"]), spec["particles"])
        out, timing = time_call(lambda: run(keys), jax.block_until_ready)
        final_loss = jax.vmap(lambda p: L(p, x, y))(out)
        return {**to_driver(spec, out), "final_loss": np.asarray(final_loss)}, timing

    return impl


def _scan(saves):
    """A hand-written Euler-Maruyama ``lax.scan`` in plain JAX (no library): the strictest
    reference. 100 intervals of equal length, the noise of an interval drawn at once;
    ``saves=0`` records nothing (one ``grad`` per step), ``saves=101`` records the loss and
    squared gradient norm at the 101 interval ends (t = 0 included) from the
    ``value_and_grad`` each step computes anyway, as villani's default does."""
    def impl(spec, inputs):
        dtype, params, x, y, L, steps = _problem(spec, inputs)
        n_int = 100
        per = steps // n_int
        h = jnp.asarray(spec["dt"], dtype)
        c = jnp.sqrt(2 * jnp.asarray(spec["temperature"], dtype) * h)
        vg = jax.value_and_grad(lambda q: L(q, x, y))
        leaves0, tree = jax.tree_util.tree_flatten(params)

        def step(carry, z):
            p, loss, g = carry
            p = jax.tree_util.tree_map(lambda v, gv, zv: v - h * gv + c * zv, p, g, z)
            loss, g = vg(p) if saves else (loss, jax.grad(lambda q: L(q, x, y))(p))
            return (p, loss, g), None

        def interval(carry, kk):
            z = [jax.random.normal(jax.random.fold_in(kk, i), (per,) + v.shape, v.dtype)
                 for i, v in enumerate(leaves0)]
            carry, _ = jax.lax.scan(step, carry, jax.tree_util.tree_unflatten(tree, z))
            rec = (carry[1], sum(jnp.sum(v**2) for v in jax.tree_util.tree_leaves(carry[2])))
            return carry, (rec if saves else None)

        def one(key):
            loss0, g0 = vg(params)
            (p, _, _), recs = jax.lax.scan(interval, (params, loss0, g0),
                                           jax.random.split(key, n_int))
            return p, recs

        run = jax.jit(lambda keys: jax.vmap(one)(keys)[0])
        keys = jax.random.split(jax.random.PRNGKey(spec["seed"]), spec["particles"])
        out, timing = time_call(lambda: run(keys), jax.block_until_ready)
        final_loss = jax.vmap(lambda p: L(p, x, y))(out)
        return {**to_driver(spec, out), "final_loss": np.asarray(final_loss)}, timing

    return impl


REGISTRY = {"blackjax_sgld": _sgld(0), "blackjax_sgld_101": _sgld(101),
            "blackjax_env_scan": _scan(0), "blackjax_env_scan_101": _scan(101)}


def setup(tasks):
    # blackjax draws its noise in the default float type, so x64 on would turn float32
    # positions into float64 ones: switch it on only when a task asks for float64.
    if any(t["spec"]["dtype"] == "float64" for t in tasks):
        jax.config.update("jax_enable_x64", True)


if __name__ == "__main__":
    run_tasks(REGISTRY, "blackjax", ["blackjax", "jax", "jaxlib", "numpy"], setup)
