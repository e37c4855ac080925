"""λ_min of the empirical NTK Gram matrix K = J Jᵀ where it is not zero (p > n), matrix-free.

A two-layer erf net (d = 32, NTK parametrisation, trained outer layer) with p = m(d + 1)
> n parameters, so K (n x n) is non-singular and λ_min > 0. K is never formed:
v ↦ J(Jᵀv) is one VJP and one JVP of the network outputs (``jax.linearize``). The
smallest end of the spectrum converges slowly under plain Lanczos; this script uses
block LOBPCG (``jax.experimental.sparse.linalg.lobpcg_standard``) on the shifted operator
σI - K, σ = 1.01 · λ_max (λ_max from LOBPCG on K, which converges fast), whose top
eigenvalues are σ minus K's bottom ones.

Certificate: for the returned unit Ritz vector y with Ritz value θ = yᵀKy, the residual
r = ‖Ky - θy‖ is evaluated with one more product; some eigenvalue of K lies in
[θ - r, θ + r], and θ ≥ λ_min (a Rayleigh quotient). That the eigenvalue found is the
smallest is checked here against a dense float64 eigvalsh of K formed from J, at sizes
where that fits (``--check``).

Run: ``python benchmarks/bench_ntk_lmin.py [--n 4096 --m 256] [--check]``; the issue's
size is ``--n 65536 --m 4096`` (p ≈ 139k; K would take 17 GB in float32).
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
from jax.experimental.sparse.linalg import lobpcg_standard

from villani import nets

jax.config.update("jax_enable_x64", True)  # for the dense float64 check; the run is float32


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def problem(n, m, d=32, dtype=jnp.float32):
    kx, kp = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (n, d), dtype)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    net = nets.two_layer(m, "erf")
    params = jax.tree_util.tree_map(lambda v: v.astype(dtype), net.init(kp, d))
    return net, params, x


def kernel_matvec(net, params, x):
    """X (n, k) -> K X, K = J Jᵀ, by one VJP and one JVP per column (vmapped)."""
    f = lambda p: net.apply(p, x)  # noqa: E731
    _, jvp = jax.linearize(f, params)
    vjp = jax.linear_transpose(jvp, params)

    def one(v):
        (u,) = vjp(v)
        return jvp(u)

    return jax.jit(jax.vmap(one, in_axes=1, out_axes=1))


def run(n, m, block, iters, check, tol=None):
    net, params, x = problem(n, m)
    p = sum(v.size for v in jax.tree_util.tree_leaves(params))
    kmv = kernel_matvec(net, params, x)
    key = jax.random.key(1)
    row = {"n": n, "m": m, "d": 32, "p": p, "dtype": "float32", "block": block,
           "max_iters": iters, "lobpcg_tol": tol}

    t0 = time.perf_counter()
    x0 = jax.random.normal(key, (n, block), jnp.float32)
    theta_top, _, it_top = jax.block_until_ready(lobpcg_standard(kmv, x0, m=200))
    lmax = float(theta_top[0])
    sigma = 1.01 * lmax
    shifted = jax.jit(lambda v: sigma * v - kmv(v))
    x1 = jax.random.normal(jax.random.fold_in(key, 1), (n, block), jnp.float32)
    theta_s, u, it = jax.block_until_ready(lobpcg_standard(shifted, x1, m=iters, tol=tol))
    y = u[:, :1] / jnp.linalg.norm(u[:, 0])
    ky = kmv(y)
    theta = float(y[:, 0] @ ky[:, 0])
    resid = float(jnp.linalg.norm(ky[:, 0] - theta * y[:, 0]))
    row.update(time_s=time.perf_counter() - t0, lobpcg_iters_top=int(it_top),
               lobpcg_iters_bottom=int(it), lambda_max=lmax, sigma=sigma,
               lambda_min_ritz=theta, lambda_min_from_shift=float(sigma - theta_s[0]),
               residual=resid, kappa_estimate=lmax / theta if theta > 0 else float("inf"),
               peak_rss_gib_matrix_free=peak_rss_gib())
    if check:
        t1 = time.perf_counter()
        p64 = jax.tree_util.tree_map(lambda v: v.astype(jnp.float64), params)
        # J in blocks of rows: jacrev of all n outputs at once materialises an n x n x m
        # intermediate (34 GB at n = 4,096, m = 256)
        jrows = jax.jit(lambda xb: jax.jacrev(lambda q: net.apply(q, xb))(p64))
        x64 = x.astype(jnp.float64)
        J = jnp.concatenate([
            jnp.concatenate([v.reshape(v.shape[0], -1)
                             for v in jax.tree_util.tree_leaves(jrows(x64[i:i + 256]))], axis=1)
            for i in range(0, n, 256)], axis=0)
        ev = np.linalg.eigvalsh(np.asarray(J @ J.T))
        row.update(dense_check_s=time.perf_counter() - t1, dense_lambda_min=float(ev[0]),
                   dense_lambda_2=float(ev[1]), dense_lambda_max=float(ev[-1]),
                   rel_error_lambda_min=abs(theta - ev[0]) / ev[0],
                   within_residual_bound=bool(abs(theta - ev[0]) <= resid))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--m", type=int, default=256)
    ap.add_argument("--block", type=int, default=16)
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--tol", type=float, default=None,
                    help="LOBPCG's tol (default: its own, float32 eps, which stops early here)")
    ap.add_argument("--check", action="store_true", help="dense float64 eigvalsh of K as well")
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    row = run(a.n, a.m, a.block, a.iters, a.check, a.tol)
    info = device_info()
    load = os.getloadavg()[0]
    row["load_1min_start_end"] = f"{load0:.1f} -> {load:.1f}"
    print(json.dumps(row, indent=1, default=float))
    stem = RESULTS / f"ntk_lmin-{info['platform']}"
    rows = []  # earlier sizes are kept; a rerun of the same (n, m, block) replaces its row
    if stem.with_suffix(".json").exists():
        rows = [r for r in json.loads(stem.with_suffix(".json").read_text())["rows"]
                if (r["n"], r["m"], r["block"]) != (row["n"], row["m"], row["block"])]
    rows.append(row)
    stem.with_suffix(".json").write_text(json.dumps({"device": info, "rows": rows}, indent=1,
                                                    default=float))
    lines = ["# NTK λ_min with p > n, matrix-free (block LOBPCG on σI − K)", "",
             f"Device: {info['platform']} ({info['device']}), {info['cpu_count']} CPU cores, "
             f"jax {info['jax']}; the machine was shared with other jobs (1-min load average "
             "at each run's start and end in its row).", ""]
    for r in rows:
        lines += [f"## n = {r['n']}, m = {r['m']} (p = {r['p']})", ""]
        lines += [f"- {k}: {v:.6g}" if isinstance(v, float) else f"- {k}: {v}"
                  for k, v in r.items()]
        lines.append("")
    stem.with_suffix(".md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
