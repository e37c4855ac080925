"""villani.langevin (diffrax, Euler–Maruyama + UnsafeBrownianPath) against a hand-written
``lax.scan`` Euler–Maruyama with the same steps, the same records (full-batch loss and
squared gradient norm at the save points), the same network and one key per particle.

Goal (issue 3): time ratio diffrax / scan <= 1.2 for 1, 64 and 1,024 particles.
Run: ``python benchmarks/bench_sde.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math

import jax
import jax.numpy as jnp
from _timing import time_fn, write_results

from villani import Objective, data, langevin, nets


def problem(n=64, d=8, m=32):
    ds = data.random_labels(jax.random.key(0), n, d)
    obj = Objective(nets.two_layer(m, "tanh"), ds, loss="logistic", l2=0.01)
    return obj, obj.net.init(jax.random.key(1), d)


def scan_langevin(obj, p0, key, t1, dt, temp, n_saves):
    """Hand-written EM: outer scan over save intervals, inner scan over steps."""
    n_steps = round(t1 / dt)
    per = n_steps // (n_saves - 1)
    coef = math.sqrt(2 * temp * dt)
    vg = jax.value_and_grad(obj.value)

    def step(carry, _):
        p, k = carry
        g = obj.grad(p)
        leaves, tree = jax.tree_util.tree_flatten(p)
        keys = jax.random.split(jax.random.fold_in(key, k), len(leaves))
        noise = [jax.random.normal(kk, x.shape, x.dtype) for kk, x in zip(keys, leaves)]
        noise = jax.tree_util.tree_unflatten(tree, noise)
        p = jax.tree_util.tree_map(lambda x, gx, z: x - dt * gx + coef * z, p, g, noise)
        return (p, k + 1), None

    def interval(carry, _):
        carry, _ = jax.lax.scan(step, carry, length=per)
        loss, g = vg(carry[0])
        return carry, (loss, sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(g)))

    loss0, g0 = vg(p0)
    (p, _), (loss, g2) = jax.lax.scan(interval, (p0, 0), length=n_saves - 1)
    return p, jnp.concatenate([loss0[None], loss]), g2


def main(quick=False):
    obj, p0 = problem()
    t1, dt, temp, saves = (1.0, 0.01, 0.01, 11)
    rows = []
    for n_particles in (1, 64, 1024):
        keys = jax.random.split(jax.random.key(2), n_particles)
        f_dx = jax.jit(jax.vmap(lambda k: langevin(obj, p0, t1, dt, temp, key=k, saveat=saves)))
        f_sc = jax.jit(jax.vmap(lambda k: scan_langevin(obj, p0, k, t1, dt, temp, saves)))
        reps = 3 if quick or n_particles > 64 else 15
        a = time_fn(lambda: f_dx(keys), repeats=reps)
        b = time_fn(lambda: f_sc(keys), repeats=reps)
        rows.append({"particles": n_particles, "steps": round(t1 / dt),
                     "diffrax_s": a["min_s"], "scan_s": b["min_s"],
                     "ratio": a["min_s"] / b["min_s"],
                     "diffrax_compile_s": a["compile_s"], "scan_compile_s": b["compile_s"]})
        print(rows[-1])
    write_results("bench_sde", rows, ["particles", "steps", "diffrax_s", "scan_s", "ratio",
                                      "diffrax_compile_s", "scan_compile_s"],
                  meta={"problem": "two_layer(32, tanh), n=64, d=8, logistic, l2=0.01, float32",
                        "dynamics": f"Langevin T={temp}, dt={dt}, t1={t1}, {saves} saves",
                        "goal": "ratio <= 1.2"})


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
