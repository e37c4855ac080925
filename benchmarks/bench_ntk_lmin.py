"""λ_min of the empirical NTK Gram matrix K = J Jᵀ where it is not zero (p > n).

A two-layer erf net (d = 32, NTK parametrisation, trained outer layer) with p = m(d + 1)
> n parameters, so K (n x n) is non-singular and λ_min > 0.

``--method certified`` (default): villani's ``ntk_spectrum(method="certified")``: K formed
in float64 by the closed form in row blocks, Lanczos on K⁻¹ through a Cholesky factor for
λ_min from above, and a Cholesky factorisation of K − σI that runs to completion for
λ_min from below, both with their rounding allowances (see
``villani.diagnostics.certified_lambda_min``). Reports the bracket, the Lanczos steps and
shifts, time and peak memory; ``--check`` adds LAPACK's eigvalsh of the same K.

``--method lobpcg``: the matrix-free attempt kept for the record: block LOBPCG
(``jax.experimental.sparse.linalg.lobpcg_standard``) on σI − K in float32, K never
formed (v ↦ J(Jᵀv), one VJP and one JVP). The clustered bottom does not converge
(ntk_lmin-cpu.md: 22 % off after 400 iterations at n = 4,096).

Run: ``python benchmarks/bench_ntk_lmin.py [--n 16384 --m 1024] [--check]``; the issue's
size is ``--n 65536 --m 4096`` (p = 135,168; K takes 32 GiB in float64 and the path about
three times that at its peak: an accelerator's job).
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
from villani.diagnostics import ntk, ntk_spectrum

jax.config.update("jax_enable_x64", True)  # certified: float64; lobpcg: float32 (check in float64)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def problem(n, m, d=32, dtype=jnp.float32):
    kx, kp = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (n, d), jnp.float32)
    x = (x / jnp.linalg.norm(x, axis=1, keepdims=True)).astype(dtype)
    net = nets.two_layer(m, "erf")
    # drawn in float64, rounded to float32 (the LOBPCG runs' params), then cast to dtype
    params = jax.tree_util.tree_map(lambda v: v.astype(jnp.float32).astype(dtype),
                                    net.init(kp, d))
    return net, params, x


def memory_limit_bytes() -> float:
    """What the accelerator lets JAX allocate, or the machine's physical memory on a CPU."""
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"])
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def peak_memory_gib() -> float:
    """The accelerator's peak bytes in use, or the process's peak RSS on a CPU."""
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats and jax.devices()[0].platform != "cpu":
        return stats["peak_bytes_in_use"] / 2**30
    return peak_rss_gib()


def run_certified(n, m, iters, check, chunk):
    # the same draws as the float32 LOBPCG runs, cast to float64
    net, params, x = problem(n, m, dtype=jnp.float64)
    p = sum(v.size for v in jax.tree_util.tree_leaves(params))
    row = {"method": "certified", "n": n, "m": m, "d": 32, "p": p, "dtype": "float64",
           "num_iters": iters, "chunk": chunk}
    spec = jax.jit(lambda q, xx: ntk_spectrum(net, q, xx, method="certified",
                                              num_iters=iters, chunk=chunk))
    # the compiled program's footprint, before running it: a size that cannot fit is
    # reported as such instead of failing in the middle of the allocation
    mem = spec.lower(params, x).compile().memory_analysis()
    need = (mem.argument_size_in_bytes + mem.temp_size_in_bytes + mem.output_size_in_bytes
            - mem.alias_size_in_bytes)
    limit = memory_limit_bytes()
    row.update(predicted_memory_gib=need / 2**30, memory_limit_gib=limit / 2**30,
               predicted_kernels=need / (n * n * 8))
    if need > 0.97 * limit:
        row["status"] = (f"not run: the compiled program needs {need / 2**30:.1f} GiB, more than "
                         f"the {limit / 2**30:.1f} GiB this device has")
        return row
    t0 = time.perf_counter()
    s = jax.block_until_ready(spec(params, x))
    row["time_s"] = time.perf_counter() - t0  # one call, compilation included (seconds of it)
    row["peak_memory_gib"] = peak_memory_gib()
    form = jax.jit(lambda q, xx: ntk(net, q, xx, chunk=chunk))
    t1 = time.perf_counter()
    k = jax.block_until_ready(form(params, x))
    row["form_K_s"] = time.perf_counter() - t1
    lo, up = float(s.lambda_min_lower), float(s.lambda_min)
    row.update(lambda_min_lower=lo, lambda_min_upper=up, relative_width=(up - lo) / up,
               residual_min=float(s.residual_min), lambda_max=float(s.lambda_max),
               residual_max=float(s.residual_max), kappa_upper=float(s.lambda_max) / lo
               if lo > 0 else float("inf"), positive_definite_proven=bool(lo > 0),
               converged=bool(s.converged))
    if check:
        t2 = time.perf_counter()
        k = np.asarray(k)
        ev = np.linalg.eigvalsh((k + k.T) / 2)
        row.update(dense_check_s=time.perf_counter() - t2, dense_lambda_min=float(ev[0]),
                   dense_lambda_2=float(ev[1]), dense_lambda_max=float(ev[-1]),
                   dense_within_bracket=bool(lo <= ev[0] <= up))
    return row


def kernel_matvec(net, params, x):
    """X (n, k) -> K X, K = J Jᵀ, by one VJP and one JVP per column (vmapped)."""
    f = lambda p: net.apply(p, x)  # noqa: E731
    _, jvp = jax.linearize(f, params)
    vjp = jax.linear_transpose(jvp, params)

    def one(v):
        (u,) = vjp(v)
        return jvp(u)

    return jax.jit(jax.vmap(one, in_axes=1, out_axes=1))


def run_lobpcg(n, m, block, iters, check, tol=None):
    net, params, x = problem(n, m)
    p = sum(v.size for v in jax.tree_util.tree_leaves(params))
    kmv = kernel_matvec(net, params, x)
    key = jax.random.key(1)
    row = {"method": "lobpcg", "n": n, "m": m, "d": 32, "p": p, "dtype": "float32", "block": block,
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
    ap.add_argument("--method", choices=("certified", "lobpcg"), default="certified")
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--m", type=int, default=256)
    ap.add_argument("--block", type=int, default=16, help="lobpcg: block size")
    ap.add_argument("--iters", type=int, default=None,
                    help="certified: Lanczos steps (default 64); lobpcg: iterations (default 400)")
    ap.add_argument("--chunk", type=int, default=2048, help="certified: rows of K formed at a time")
    ap.add_argument("--tol", type=float, default=None,
                    help="lobpcg's tol (default: its own, float32 eps, which stops early here)")
    ap.add_argument("--check", action="store_true", help="dense float64 eigvalsh of K as well")
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    if a.method == "certified":
        row = run_certified(a.n, a.m, a.iters or 64, a.check, a.chunk)
        stem_name, same = "ntk_lmin_certified", ("n", "m")
        title = ("# NTK λ_min with p > n, certified (float64 K; Lanczos on K⁻¹ from above, "
                 "a Cholesky factorisation of K − σI from below)")
    else:
        row = run_lobpcg(a.n, a.m, a.block, a.iters or 400, a.check, a.tol)
        stem_name, same = "ntk_lmin", ("n", "m", "block")
        title = "# NTK λ_min with p > n, matrix-free (block LOBPCG on σI − K)"
    info = device_info()
    load = os.getloadavg()[0]
    row["load_1min_start_end"] = f"{load0:.1f} -> {load:.1f}"
    print(json.dumps(row, indent=1, default=float))
    stem = RESULTS / f"{stem_name}-{info['platform']}"
    rows = []  # earlier sizes are kept; a rerun of the same size replaces its row
    if stem.with_suffix(".json").exists():
        rows = [r for r in json.loads(stem.with_suffix(".json").read_text())["rows"]
                if tuple(r[k] for k in same) != tuple(row[k] for k in same)]
    rows.append(row)
    stem.with_suffix(".json").write_text(json.dumps({"device": info, "rows": rows}, indent=1,
                                                    default=float))
    lines = [title, "",
             f"Device: {info['platform']} ({info['device']}, {info['cpu_model']}), "
             f"{info['cpu_count']} CPU cores, jax {info['jax']}; 1-min load average at each "
             "run's start and end in its row.", ""]
    for r in rows:
        lines += [f"## n = {r['n']}, m = {r['m']} (p = {r['p']})", ""]
        lines += [f"- {k}: {v:.6g}" if isinstance(v, float) else f"- {k}: {v}"
                  for k, v in r.items()]
        lines.append("")
    stem.with_suffix(".md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
