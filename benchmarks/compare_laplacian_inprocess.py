"""The fast Laplacian of this tree against ccf9e67's (before the own-model redesign), in ONE process.

The old module (``OLD_TREE/villani/diagnostics/laplacian.py``; its two-layer closed form and
MLP exact path read only attributes today's nets still have) is loaded beside today's, both
jitted on the same objective, and called alternately 40 times: finer interleaving than
``compare_commits.py`` on a shared, loaded machine. Prints medians and minima (ms).

    PYTHONPATH=. python benchmarks/compare_laplacian_inprocess.py [OLD_TREE]
"""

import importlib.util
import sys
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from villani import Objective, data, nets  # noqa: E402
from villani.diagnostics import laplacian  # noqa: E402

OLD = sys.argv[1] if len(sys.argv) > 1 else "/work/wt/own2-old"
spec = importlib.util.spec_from_file_location("villani.diagnostics._old_lap",
                                              OLD + "/villani/diagnostics/laplacian.py")
old = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = old
spec.loader.exec_module(old)
CASES = [("mlp (256,256)", nets.mlp((256, 256), "tanh"), 128, 32),
         ("two_layer 256", nets.two_layer(256, "tanh"), 128, 32)]
for name, net, n, d in CASES:
    kd, kp, _ = jax.random.split(jax.random.key(0), 3)
    obj = Objective(net, data.random_labels(kd, n, d), loss="logistic", l2=0.0)
    p = net.init(kp, d)
    fn_new = jax.jit(lambda q, obj=obj: laplacian(obj, q, "exact"))
    if "mlp" in name:
        fn_old = jax.jit(lambda q, obj=obj: old._mlp_laplacian(obj, q, None))
    else:
        fn_old = jax.jit(lambda q, obj=obj: old._two_layer_laplacian(obj, q))
    print(name, "values", float(fn_new(p)), float(fn_old(p)))
    tn, to = [], []
    for _ in range(40):
        for fn, ts in ((fn_new, tn), (fn_old, to)):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(p))
            ts.append(time.perf_counter() - t0)
    print(f"{name}: new {1e3 * np.median(tn):.3f} ms, old {1e3 * np.median(to):.3f} ms "
          f"(median ratio {np.median(tn) / np.median(to):.2f}); "
          f"min new {1e3 * min(tn):.3f}, old {1e3 * min(to):.3f} (ratio {min(tn) / min(to):.2f})")
