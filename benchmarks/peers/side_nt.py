"""neural-tangents 0.6.5 (jax 0.4.23): ``empirical_ntk_fn`` in its three implementations.

Runs in benchmarks/peers/.envs/nt. 1 = Jacobian contraction (its default), 2 = NTK-vector
products, 3 = structured derivatives.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402
from _common import run_tasks, time_call  # noqa: E402
from _jaxnets import apply_fn, params_from  # noqa: E402


def _ntk(implementation):
    def impl(spec, inputs):
        dtype = np.dtype(spec["dtype"])
        params = params_from(spec, inputs, dtype)
        x = jax.numpy.asarray(inputs["x"], dtype)
        kfn = jax.jit(nt.empirical_ntk_fn(apply_fn(spec), vmap_axes=0,
                                          implementation=implementation))
        out, timing = time_call(lambda: kfn(x, None, params), jax.block_until_ready)
        return {"K": np.asarray(out)}, timing

    return impl


REGISTRY = {f"nt_ntk_{i}": _ntk(i) for i in (1, 2, 3)}

if __name__ == "__main__":
    run_tasks(REGISTRY, "neural-tangents", ["neural-tangents", "jax", "jaxlib", "numpy",
                                            "scipy", "tf2jax"])
