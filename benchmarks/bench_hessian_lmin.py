"""The loss Hessian's λ_min (and λ_max) at p ≥ 10⁶ parameters, matrix-free, certified.

A depth-3 tanh MLP of width 768 on d = 32 inputs (p = 1,204,992), n = 1,024 samples,
squared loss, float32. ``villani.hessian_spectrum`` runs Lanczos with full
reorthogonalisation on Hessian-vector products (``jax.linearize`` of the gradient);
the certificate of each end is its residual r = ‖Hy − θy‖ for the unit Ritz vector y:
some eigenvalue of H lies in [θ − r, θ + r], and the bottom Ritz value θ_min ≥ λ_min
(a Rayleigh quotient). One call, timed with its compile, with the process's peak
resident memory. Run: ``python benchmarks/bench_hessian_lmin.py [--iters 150]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np
from _timing import RESULTS, device_info

import villani
from villani import nets


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=150)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--width", type=int, default=768)
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (a.n, 32))
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    y = jax.random.normal(ky, (a.n,))
    net = nets.mlp((a.width,) * 3, "tanh")
    obj = villani.Objective(net, villani.Dataset(x, y), loss="squared")
    params = net.init(kp, 32)
    p = sum(v.size for v in jax.tree_util.tree_leaves(params))
    t0 = time.perf_counter()
    s = jax.block_until_ready(villani.hessian_spectrum(obj, params, key=jax.random.key(1),
                                                       num_iters=a.iters))
    dt = time.perf_counter() - t0
    row = {"n": a.n, "widths": [a.width] * 3, "p": p, "dtype": "float32",
           "lanczos_steps": a.iters, "hvps": a.iters + 2, "time_s_incl_compile": dt,
           "lambda_max": float(np.ravel(s.top)[0]), "residual_max": float(np.ravel(s.top_residual)[0]),
           "lambda_min": float(np.ravel(s.bottom)[0]),
           "residual_min": float(np.ravel(s.bottom_residual)[0]),
           "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
           "load_1min_start_end": f"{load0:.1f} -> {os.getloadavg()[0]:.1f}"}
    print(json.dumps(row, indent=1))
    info = device_info()
    stem = RESULTS / f"hessian_lmin-{info['platform']}"
    stem.with_suffix(".json").write_text(json.dumps({"device": info, "rows": [row]}, indent=1))
    lines = ["# Loss-Hessian λ_min at p ≥ 10⁶, matrix-free (Lanczos, residual certificate)", "",
             f"Device: {info['platform']} ({info['device']}), {info['cpu_count']} CPU cores, "
             f"jax {info['jax']}; machine shared with other jobs (load in the row).", ""]
    lines += [f"- {k}: {v:.6g}" if isinstance(v, float) else f"- {k}: {v}" for k, v in row.items()]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
