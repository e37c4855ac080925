"""Laplacian of the loss: closed form / exact vs reference vs Hutchinson, as ratios to one gradient.

Both sides in one run, float64, one warm-up call per function (compile time reported
apart), ``jax.block_until_ready`` before every clock stop. Hutchinson is run at the
smallest probe count (from a doubling grid) whose median relative error over 10 seeds is
<= 1 %, or reported "not reached within N probes"; that search reuses nested probe sets,
one HVP per probe, and is not timed.

    python benchmarks/bench_laplacian.py [--quick] [--flops-only]

The fast path's achieved FLOP rate is reported against the machine's matrix-multiply
peak measured in the same run (a large float64 ``jnp.dot``): FLOPs are XLA's own count
for the compiled call (``cost_analysis()``), rate = FLOPs / median time.
``--flops-only`` skips the reference and Hutchinson columns and writes
``results/bench_laplacian_flops.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import jax
import jax.flatten_util
import numpy as np
from _timing import device_info, time_fn


def timeit(fn, *args, repeats=10):
    """main's ``time_fn`` in milliseconds, without the output."""
    t = time_fn(fn, *args, repeats=repeats)
    return {"first_call_ms": 1e3 * t["first_s"], "compile_ms": 1e3 * t["compile_s"],
            "median_ms": 1e3 * t["median_s"], "min_ms": 1e3 * t["min_s"], "repeats": repeats}

jax.config.update("jax_enable_x64", True)

from villani import Objective, data, nets  # noqa: E402
from villani.diagnostics import REFERENCE_MAX_PARAMS, laplacian  # noqa: E402

SEEDS = 10
TARGET = 0.01


def xla_flops(fn, *args) -> float | None:
    """XLA's FLOP count for the compiled ``jax.jit(fn)(*args)`` (None if not reported)."""
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else {}
    f = (cost or {}).get("flops")
    return float(f) if f is not None and f > 0 else None


def matmul_peak(n: int = 2048, repeats: int = 7) -> dict:
    """Measured float64 matrix-multiply rate: the best of ``repeats`` (n x n) @ (n x n)."""
    ka, kb = jax.random.split(jax.random.key(7))
    a = jax.random.normal(ka, (n, n), jax.numpy.float64)
    b = jax.random.normal(kb, (n, n), jax.numpy.float64)
    t = time_fn(jax.jit(jax.numpy.dot), a, b, repeats=repeats)
    return {"n": n, "min_ms": 1e3 * t["min_s"], "median_ms": 1e3 * t["median_s"],
            "gflops_per_s": 2 * n**3 / t["min_s"] * 1e-9}


def _probe_errors(obj, params, exact, max_probes, key):
    """Median (over seeds) relative error of Hutchinson at k = 1, 2, 4, ..., max_probes."""
    theta, unravel = jax.flatten_util.ravel_pytree(params)
    grad_flat = lambda t: jax.flatten_util.ravel_pytree(obj.grad(unravel(t)))[0]  # noqa: E731
    _, hvp = jax.linearize(grad_flat, theta)
    quad = jax.jit(lambda v: jax.lax.map(lambda u: u @ hvp(u), v, batch_size=64))
    samples = []
    for k in jax.random.split(key, SEEDS):
        v = jax.random.rademacher(k, (max_probes, theta.shape[0]), theta.dtype)
        samples.append(np.asarray(quad(v)))
    samples = np.stack(samples)  # (seeds, probes)
    out = {}
    k = 1
    while k <= max_probes:
        est = samples[:, :k].mean(axis=1)
        out[k] = float(np.median(np.abs(est - exact) / abs(exact)))
        k *= 2
    return out


def run_case(name, net, n, d, key, max_probes, repeats, flops_only=False, peak=None):
    kd, kp, kh = jax.random.split(key, 3)
    obj = Objective(net, data.random_labels(kd, n, d), loss="logistic", l2=0.0)
    params = net.init(kp, d)
    p = sum(v.size for v in jax.tree_util.tree_leaves(params))
    row = {"case": name, "n": n, "d": d, "p": p}
    grad = jax.jit(obj.grad)
    row["grad"] = timeit(grad, params, repeats=repeats)
    g_ms = row["grad"]["median_ms"]
    fast_method = "closed_form" if isinstance(net, nets.TwoLayer) else "exact"
    fast = jax.jit(lambda q: laplacian(obj, q, fast_method))
    row[fast_method] = timeit(fast, params, repeats=repeats)
    exact = float(fast(params))
    row["laplacian"] = exact
    fl = xla_flops(lambda q: laplacian(obj, q, fast_method), params)
    row[fast_method]["xla_flops"] = fl
    if fl:
        rate = fl / (row[fast_method]["median_ms"] * 1e-3) * 1e-9
        row[fast_method]["gflops_per_s"] = rate
        if peak:
            row[fast_method]["fraction_of_matmul_peak"] = rate / peak["gflops_per_s"]
    gfl = xla_flops(obj.grad, params)
    row["grad"]["xla_flops"] = gfl
    if flops_only:
        row[fast_method]["ratio_to_grad"] = row[fast_method]["median_ms"] / g_ms
        return row
    if p <= REFERENCE_MAX_PARAMS:
        ref = jax.jit(lambda q: laplacian(obj, q, "reference"))
        row["reference"] = timeit(ref, params, repeats=1)
        val = float(ref(params))
        row["reference_rel_diff"] = abs(val - exact) / abs(exact)
    else:
        row["reference"] = f"refused: p = {p} > REFERENCE_MAX_PARAMS = {REFERENCE_MAX_PARAMS}"
    errs = _probe_errors(obj, params, exact, max_probes, kh)
    row["hutchinson_median_rel_err"] = errs
    reached = [k for k, e in errs.items() if e <= TARGET]
    k = reached[0] if reached else max_probes
    row["hutchinson_probes"] = k if reached else f"not reached within {max_probes} probes"
    hut = jax.jit(lambda q: laplacian(obj, q, "hutchinson", key=kh, num_probes=k))
    row["hutchinson"] = timeit(hut, params, repeats=max(1, repeats // 5))
    row["hutchinson"]["num_probes"] = k
    for m in (fast_method, "reference", "hutchinson"):
        if isinstance(row[m], dict):
            row[m]["ratio_to_grad"] = row[m]["median_ms"] / g_ms
    return row


def main(quick: bool = False, flops_only: bool = False):
    key = jax.random.key(0)
    reps = 3 if quick else 10
    peak = matmul_peak(512 if quick else 2048)
    cases = [("two_layer tanh n=128 d=32 m=256", nets.two_layer(256, "tanh"), 128, 32, 4096)]
    cases += [("mlp tanh (256,256) n=128 d=32", nets.mlp((256, 256), "tanh"), 128, 32, 256),
              ("mlp tanh (256,256,256) n=128 d=32", nets.mlp((256, 256, 256), "tanh"), 128, 32, 256),
              ("mlp tanh (32,32,32) n=64 d=16", nets.mlp((32, 32, 32), "tanh"), 64, 16, 4096)]
    if quick:
        cases = [(c[0], c[1], c[2], c[3], 256) for c in cases[:1]]
    if flops_only:
        cases = cases[1:3] if not quick else cases
    rows = [run_case(*c[:4], key, c[4], repeats=reps, flops_only=flops_only, peak=peak)
            for c in cases]
    peak_after = matmul_peak(512 if quick else 2048)
    meta = {"device": device_info(), "dtype": "float64", "loss": "logistic", "l2": 0.0,
            "matmul_peak": peak, "matmul_peak_after": peak_after,
            "seeds_for_probe_search": SEEDS,
            "target_rel_err": TARGET, "note": "shared 2-core CPU (load from other jobs)"}
    out = pathlib.Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    if flops_only:
        return _write_flops(out, meta, rows)
    (out / "bench_laplacian.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    info = meta["device"]
    lines = ["# Laplacian: ratios to one gradient (float64)", "",
             f"Device: {info['platform']} ({info['device']}), {info['cpu_count']} CPU cores, "
             f"jax {info['jax']}, 1-min load average {info['loadavg_1min']}.", "",
             "| case | p | grad ms | fast (method) x grad | reference x grad | Hutchinson probes | "
             "Hutchinson x grad |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        fm = "closed_form" if "closed_form" in r else "exact"
        ref = r["reference"]
        ref_s = f"{ref['ratio_to_grad']:.0f} (rel diff {r['reference_rel_diff']:.1e})" \
            if isinstance(ref, dict) else ref
        lines.append(f"| {r['case']} | {r['p']} | {r['grad']['median_ms']:.2f} | "
                     f"{r[fm]['ratio_to_grad']:.2f} ({fm}) | {ref_s} | {r['hutchinson_probes']} | "
                     f"{r['hutchinson']['ratio_to_grad']:.0f} |")
    lines += ["", "Compile (first-call) times are in the JSON. Hutchinson's probe count is the "
              f"smallest power of two whose median relative error over {SEEDS} seeds is <= 1 %."]
    lines += ["", _flops_table(meta, rows)]
    (out / "bench_laplacian.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return rows


def _flops_table(meta, rows) -> str:
    pk, pk2 = meta["matmul_peak"], meta["matmul_peak_after"]
    lines = [f"Fast path's FLOP rate (XLA's FLOP count / median time) against the float64 "
             f"matrix-multiply peak measured in this run: {pk['gflops_per_s']:.1f} GFLOP/s "
             f"before the cases, {pk2['gflops_per_s']:.1f} after ({pk['n']}² · {pk['n']} "
             "`jnp.dot`, best of 7).", "",
             "| case | p | method | GFLOP (XLA) | grad GFLOP | time ms | GFLOP/s | % of matmul peak |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fm = "closed_form" if "closed_form" in r else "exact"
        f = r[fm]
        gfl = r["grad"].get("xla_flops")
        lines.append(f"| {r['case']} | {r['p']} | {fm} | "
                     f"{(f.get('xla_flops') or 0) * 1e-9:.3g} | {(gfl or 0) * 1e-9:.3g} | "
                     f"{f['median_ms']:.3g} | {f.get('gflops_per_s', float('nan')):.3g} | "
                     f"{100 * f.get('fraction_of_matmul_peak', float('nan')):.0f} % |")
    return "\n".join(lines)


def _write_flops(out, meta, rows):
    (out / "bench_laplacian_flops.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                                indent=1))
    info = meta["device"]
    lines = ["# Laplacian fast path: FLOP rate against the matmul peak (float64)", "",
             f"Device: {info['platform']} ({info['device']}), {info['cpu_count']} CPU cores, "
             f"jax {info['jax']}, 1-min load average {info['loadavg_1min']} (machine shared "
             "with other jobs: the peak and the cases were measured in the same run, under "
             "the same load).", "", _flops_table(meta, rows)]
    (out / "bench_laplacian_flops.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--flops-only", action="store_true",
                    help="only the fast path's time and FLOP rate (no reference, no Hutchinson)")
    a = ap.parse_args()
    main(a.quick, a.flops_only)
