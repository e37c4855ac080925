"""blackjax's SGLD kernel with the full-batch gradient: unadjusted Langevin.

Runs in benchmarks/peers/.envs/blackjax. blackjax's step is
``theta + h * grad log p + sqrt(2 T h) * xi``; with ``log p = -L`` this is the
Euler-Maruyama step of ``d theta = -grad L dt + sqrt(2 T) dW`` that villani.langevin
integrates. Particles are a vmap over keys, steps a lax.scan, as villani does.
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


def langevin(spec, inputs):
    dtype = np.dtype(spec["dtype"])
    params = params_from(spec, inputs, dtype)
    x = jnp.asarray(inputs["x"], dtype)
    y = jnp.asarray(inputs["y"], dtype)
    L = loss_fn(spec)
    steps = int(round(spec["t1"] / spec["dt"]))
    # arrays of the problem's dtype: Python floats would promote fp32 positions to fp64
    h, temp = jnp.asarray(spec["dt"], dtype), jnp.asarray(spec["temperature"], dtype)
    sgld = blackjax.sgld(lambda p, batch: jax.grad(lambda q: -L(q, *batch))(p))

    def one(key):
        def body(pos, k):
            return sgld.step(k, pos, (x, y), h, temp), None

        pos, _ = jax.lax.scan(body, params, jax.random.split(key, steps))
        return pos

    run = jax.jit(lambda keys: jax.vmap(one)(keys))
    keys = jax.random.split(jax.random.PRNGKey(spec["seed"]), spec["particles"])
    out, timing = time_call(lambda: run(keys), jax.block_until_ready)
    final_loss = jax.vmap(lambda p: L(p, x, y))(out)
    return {**to_driver(spec, out), "final_loss": np.asarray(final_loss)}, timing


REGISTRY = {"blackjax_sgld": langevin}


def setup(tasks):
    # blackjax draws its noise in the default float type, so x64 on would turn float32
    # positions into float64 ones: switch it on only when a task asks for float64.
    if any(t["spec"]["dtype"] == "float64" for t in tasks):
        jax.config.update("jax_enable_x64", True)


if __name__ == "__main__":
    run_tasks(REGISTRY, "blackjax", ["blackjax", "jax", "jaxlib", "numpy"], setup)
