"""What a noise chunk costs: a hand-written Euler–Maruyama scan drawing its noise at once
against the same scan drawing it in chunks (one more nested ``lax.scan`` level).

Why it exists: villani's ``langevin`` once drew its noise in chunks of at most 64 steps, and
at 1 particle and 2 saves (one 500-step interval: 10 chunks of 50) it took 1.42× a flat
hand-written scan. This isolates the cause without villani: the same step, the same noise
law, 500 steps, p = 288 (``bench_sde.problem``), 1 particle, float32; sides
- ``flat``: ``bench_sde.scan_langevin`` with one 500-step interval, its noise drawn at once;
- ``chunks_50``: the same with 10 intervals of 50 steps, each drawing its noise (villani's
  old chunking; no records on either side);
- ``villani``: ``langevin(..., saveat=2)`` as it is now (chunks of up to 1,024 steps).
Calls interleaved, median CPU time of 31 rounds; ratios to ``flat``.
Run: ``python benchmarks/bench_sde_chunks.py``.
"""

from __future__ import annotations

import os
import time

import jax
import numpy as np
from _timing import write_results
from bench_sde import problem, scan_langevin

from villani import langevin

T1, DT, TEMP, STEPS = 0.5, 0.001, 0.01, 500


def main(rounds=31):
    obj, p0 = problem()
    keys = jax.random.split(jax.random.key(2), 1)
    sides = {
        # bench_sde's hand-written scan without records draws each save interval's noise at
        # once: one interval of 500 steps is the flat scan, ten of 50 the chunked one
        "flat": jax.jit(jax.vmap(lambda k: scan_langevin(obj, p0, k, T1, DT, TEMP, 2, False)[0])),
        "chunks_50": jax.jit(jax.vmap(lambda k: scan_langevin(obj, p0, k, T1, DT, TEMP, 11, False)[0])),
        "villani": jax.jit(jax.vmap(lambda k: langevin(obj, p0, key=k, t1=T1, dt=DT, temperature=TEMP,
                                                       saveat=2).params)),
    }
    for f in sides.values():
        jax.block_until_ready(f(keys))
    cpu = {k: [] for k in sides}
    for _ in range(rounds):
        for name, f in sides.items():
            t0 = time.process_time()
            jax.block_until_ready(f(keys))
            cpu[name].append(time.process_time() - t0)
    med = {k: float(np.median(v)) for k, v in cpu.items()}
    rows = [{"side": k, "cpu_ms": 1e3 * v, "ratio_to_flat": v / med["flat"]} for k, v in med.items()]
    for r in rows:
        print(r)
    load = os.getloadavg()[0]
    write_results("bench_sde_chunks", rows, ["side", "cpu_ms", "ratio_to_flat"],
                  meta={"problem": "bench_sde.problem(): two_layer(32, tanh), n=64, d=8, p=288, "
                                   "float32, 1 particle",
                        "dynamics": f"Euler–Maruyama, {STEPS} steps, dt={DT}, T={TEMP}",
                        "timing": f"calls interleaved, median CPU time of {rounds} rounds",
                        "load_after": f"1-min load average {load:.1f} on {os.cpu_count()} cores"})


if __name__ == "__main__":
    main()
