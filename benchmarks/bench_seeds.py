"""N seeds of ``villani.train`` vmapped in one compiled call against a Python loop over a
jitted single-seed run, N in {1, 16, 256, 1024}: seeds per second and the ratio.

On the 2-core CPU the vmapped call is not expected to win by much (benchmarks/README.md: the CPU is
already busy); the seed axis pays off on an accelerator — run this there when one is
available (the script is device-agnostic) and commit the JSON with the device name.
Run: ``python benchmarks/bench_seeds.py [--quick]``.
"""

from __future__ import annotations

import argparse

import jax
from _timing import time_fn, write, write_results

from villani import Objective, data, nets, optim, train


def main(quick=False):
    n, d, m, steps = 64, 8, 32, 100
    ds = data.random_labels(jax.random.key(0), n, d)
    obj = Objective(nets.two_layer(m, "tanh"), ds, loss="logistic", l2=0.01)
    opt = optim.sgd(0.5)

    def run(k):
        return train(obj, opt, obj.net.init(k, d), steps, key=k, batch_size=8, every=10).loss

    one = jax.jit(run)
    many = jax.jit(jax.vmap(run))
    rows = []
    for N in (1, 16, 256) if quick else (1, 16, 256, 1024):
        keys = jax.random.split(jax.random.key(1), N)
        a = time_fn(lambda: many(keys), repeats=3)
        b = time_fn(lambda: [one(k) for k in keys], repeats=1 if N >= 256 else 3)
        rows.append({"seeds": N, "vmap_s": a["min_s"], "loop_s": b["min_s"],
                     "vmap_seeds_per_s": N / a["min_s"], "loop_seeds_per_s": N / b["min_s"],
                     "speedup": b["min_s"] / a["min_s"], "vmap_compile_s": a["compile_s"]})
        print(rows[-1])
    columns = ["seeds", "vmap_s", "loop_s", "vmap_seeds_per_s", "loop_seeds_per_s", "speedup",
               "vmap_compile_s"]
    meta = {"problem": f"two_layer({m}, tanh), n={n}, d={d}, logistic, SGD batch 8, {steps} "
                       "steps, float32"}
    if jax.devices()[0].platform == "cpu":
        write_results("bench_seeds", rows, columns, meta=meta)
    else:  # results/bench_seeds-<accelerator>.{json,md}, beside the CPU's
        write("bench_seeds", rows, columns, meta=meta)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
