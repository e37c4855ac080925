"""The SGD-SDE noise sample Σ^{1/2}ξ: villani's one-VJP construction
(∇_θ Σ_i (ξ_i − ξ̄) ℓ_i / √n) against materialising the per-sample gradients G (n×p),
their covariance Σ = GᵀG/n and a Cholesky factor, and against one full gradient.

Goal (issue 3): the VJP sample (and a whole SDE step, drift + noise) <= 2x one gradient.
Run: ``python benchmarks/bench_sgd_noise.py [--quick]``.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from _timing import time_fn, write_results

from villani import Objective, data, nets, per_sample_grads


def flat(tree):
    return jnp.concatenate([x.reshape(x.shape[0], -1) for x in jax.tree_util.tree_leaves(tree)], 1)


def main(quick=False):
    rows = []
    # the small sizes are dispatch-bound (tens of microseconds); n=4096, m=256 is where
    # the arithmetic dominates and the ratios mean what the goal says
    sizes = ((128, 16, 32),) if quick else ((128, 16, 32), (256, 16, 128), (4096, 32, 256))
    for n, d, m in sizes:
        ds = data.random_labels(jax.random.key(0), n, d)
        obj = Objective(nets.two_layer(m, "tanh"), ds, loss="logistic", l2=0.01)
        p = obj.net.init(jax.random.key(1), d)
        xi = jax.random.normal(jax.random.key(2), (n,))
        psize = sum(x.size for x in jax.tree_util.tree_leaves(p))

        grad = jax.jit(obj.grad)

        @jax.jit
        def vjp_noise(p, xi):
            _, f = jax.vjp(obj.per_sample, p)
            return f((xi - xi.mean()) / jnp.sqrt(n))[0]

        @jax.jit
        def sde_step(p, xi):  # drift + noise, as the SDE's Euler step evaluates them
            g = obj.grad(p)
            z = vjp_noise(p, xi)
            return jax.tree_util.tree_map(lambda a, b: a + b, g, z)

        @jax.jit
        def materialised(p, xi, z):
            G = flat(per_sample_grads(obj, p))
            Gc = G - G.mean(0)
            sigma = Gc.T @ Gc / n
            chol = jnp.linalg.cholesky(sigma + 1e-10 * jnp.eye(psize))
            return chol @ z

        z = jax.random.normal(jax.random.key(3), (psize,))
        reps = 5 if quick else 30
        tg = time_fn(lambda: grad(p), repeats=reps)
        tv = time_fn(lambda: vjp_noise(p, xi), repeats=reps)
        ts = time_fn(lambda: sde_step(p, xi), repeats=reps)
        tm = time_fn(lambda: materialised(p, xi, z), repeats=3)
        rows.append({"n": n, "p": psize, "grad_s": tg["min_s"], "vjp_noise_s": tv["min_s"],
                     "sde_step_s": ts["min_s"], "materialised_s": tm["min_s"],
                     "vjp_over_grad": tv["min_s"] / tg["min_s"],
                     "step_over_grad": ts["min_s"] / tg["min_s"],
                     "materialised_over_vjp": tm["min_s"] / tv["min_s"]})
        print(rows[-1])
    write_results("bench_sgd_noise", rows,
                  ["n", "p", "grad_s", "vjp_noise_s", "sde_step_s", "materialised_s",
                   "vjp_over_grad", "step_over_grad", "materialised_over_vjp"],
                  meta={"problem": "two_layer(m, tanh), logistic, l2=0.01, float32",
                        "goal": "vjp_over_grad and step_over_grad <= 2"})


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
