"""villani.langevin's default call against hand-written ``lax.scan`` Euler–Maruyama.

The issue's configuration: 500 steps, 101 save points (villani's default ``saveat``),
16 particles (also 1 and 64), one key per particle, the same network and loss; and the
same 500 steps with 2 save points (one interval of 500 steps: both villani, whose noise
chunks hold up to 1,024 steps, and the hand-written scans draw all 500 at once). Sides:

- ``villani``: ``langevin(obj, p0, key=k, t1, dt, T)``, the default call (fixed-step
  Euler–Maruyama in one scan, records from the gradient each step computes anyway);
- ``villani_diffrax``: the same call forced through diffrax (one ``diffeqsolve`` per save
  interval and a ``value_and_grad`` per save point: the path every call took before);
- ``scan``: a hand-written scan that records nothing (the strictest reference);
- ``scan_rec``: a hand-written scan recording the loss and squared gradient norm at the
  same save points from the ``value_and_grad`` each step computes.

The calls are interleaved (A, B, C, D, A, B, ...) and each time is the median of its
calls, so machine load hits every side alike. Each call is timed twice: wall clock, and
the process's CPU time (``time.process_time``, all threads), which other jobs on a
shared machine disturb far less; the ratios are given for both. Goal (issue 19):
villani / scan <= 1.2.
Run: ``python benchmarks/bench_sde.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from _timing import write_results

from villani import Objective, data, langevin, nets


class _DiffraxEuler(diffrax.Euler):
    """diffrax.Euler under another type: langevin then takes its diffrax path."""


def problem(n=64, d=8, m=32):
    ds = data.random_labels(jax.random.key(0), n, d)
    obj = Objective(nets.two_layer(m, "tanh"), ds, loss="logistic", l2=0.01)
    return obj, obj.net.init(jax.random.key(1), d)


def scan_langevin(obj, p0, key, t1, dt, temp, n_saves, record):
    """Hand-written EM: outer scan over save intervals, inner scan over steps."""
    n_steps = round(t1 / dt)
    per = n_steps // (n_saves - 1)
    coef = math.sqrt(2 * temp * dt)
    vg = jax.value_and_grad(obj.value)
    leaves0, tree = jax.tree_util.tree_flatten(p0)

    def step(c, z):
        p, loss, g = c
        p = jax.tree_util.tree_map(lambda x, gx, zx: x - dt * gx + coef * zx, p, g, z)
        loss, g = vg(p) if record else (loss, obj.grad(p))
        return (p, loss, g), None

    def interval(c, k):
        kk = jax.random.fold_in(key, k)
        z = [jax.random.normal(jax.random.fold_in(kk, i), (per,) + x.shape, x.dtype)
             for i, x in enumerate(leaves0)]
        c, _ = jax.lax.scan(step, c, jax.tree_util.tree_unflatten(tree, z))
        rec = (c[1], sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(c[2]))) if record \
            else None
        return c, rec

    loss0, g0 = vg(p0)
    (p, _, _), recs = jax.lax.scan(interval, (p0, loss0, g0), jnp.arange(n_saves - 1))
    return p, recs


def main(quick=False, particles=None, save_counts=(101,)):
    obj, p0 = problem()
    t1, dt, temp = 0.5, 0.001, 0.01
    rows = []
    for n_particles, saves in [(n, s) for s in save_counts
                               for n in particles or ((1, 16) if quick else (1, 16, 64))]:
        keys = jax.random.split(jax.random.key(2), n_particles)
        sides = {
            "villani": jax.jit(jax.vmap(lambda k: langevin(obj, p0, key=k, t1=t1, dt=dt,
                                                           temperature=temp, saveat=saves))),
            "villani_diffrax": jax.jit(jax.vmap(lambda k: langevin(
                obj, p0, key=k, t1=t1, dt=dt, temperature=temp, solver=_DiffraxEuler(),
                saveat=saves))),
            "scan": jax.jit(jax.vmap(lambda k: scan_langevin(obj, p0, k, t1, dt, temp, saves,
                                                             False))),
            "scan_rec": jax.jit(jax.vmap(lambda k: scan_langevin(obj, p0, k, t1, dt, temp,
                                                                 saves, True))),
        }
        compile_s, times, cpu = {}, {k: [] for k in sides}, {k: [] for k in sides}
        for name, f in sides.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(keys))
            compile_s[name] = time.perf_counter() - t0
        for _ in range(3 if quick else 21):
            for name, f in sides.items():
                c0, t0 = time.process_time(), time.perf_counter_ns()
                jax.block_until_ready(f(keys))
                times[name].append((time.perf_counter_ns() - t0) * 1e-9)
                cpu[name].append(time.process_time() - c0)
        med = {k: float(np.median(v)) for k, v in times.items()}
        cmed = {k: float(np.median(v)) for k, v in cpu.items()}
        rows.append({"particles": n_particles, "steps": round(t1 / dt), "saves": saves,
                     **{f"{k}_s": v for k, v in med.items()},
                     "villani / scan": med["villani"] / med["scan"],
                     "villani / scan_rec": med["villani"] / med["scan_rec"],
                     "diffrax / scan": med["villani_diffrax"] / med["scan"],
                     "cpu: villani / scan": cmed["villani"] / cmed["scan"],
                     "cpu: villani / scan_rec": cmed["villani"] / cmed["scan_rec"],
                     "cpu: diffrax / scan": cmed["villani_diffrax"] / cmed["scan"],
                     **{f"cpu {k}_s": v for k, v in cmed.items()},
                     "villani_compile_s": compile_s["villani"]})
        print(rows[-1], flush=True)
    load = os.getloadavg()[0]
    write_results("bench_sde", rows, list(rows[0]),
                  meta={"problem": "two_layer(32, tanh), n=64, d=8, logistic, l2=0.01, float32",
                        "dynamics": f"Langevin T={temp}, dt={dt}, t1={t1} ({round(t1 / dt)} steps); "
                                    "101 saves is villani's default (5 steps per save, the "
                                    "noise of an interval drawn at once); with 2 saves the "
                                    "500 steps of the one interval draw their noise at once "
                                    "on every side (villani's chunks hold up to 1,024 steps "
                                    "and 2^18 numbers per particle)",
                        "timing": "calls interleaved across the sides, median of each side's",
                        "load_after": f"1-min load average {load:.1f} on "
                                      f"{os.cpu_count()} cores (machine shared)",
                        "goal": "villani / scan <= 1.2 (issue 19)"})


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--particles", type=int, nargs="*", default=None)
    ap.add_argument("--saves", type=int, nargs="*", default=[101, 2],
                    help="save-point counts (101: villani's default; 2: one 500-step interval)")
    a = ap.parse_args()
    main(a.quick, a.particles, tuple(a.saves))
