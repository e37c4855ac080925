"""NTK benchmarks: the two-layer and MLP closed forms against the generic Jacobian contraction,
and matrix-free Lanczos against the dense eigendecomposition for lambda_max / lambda_min.

Run: ``python benchmarks/bench_ntk.py`` (``--quick`` for small sizes, ``--large`` adds the
n = 65,536 Lanczos run of issue 10, where K alone would need 17 GB in float32).
Writes ``benchmarks/results/ntk-<device>.{json,md}``. One warm-up call per side, reported
as compile time; ``jax.block_until_ready`` before the clock stops.
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import time_fn, write  # noqa: E402

from villani import nets  # noqa: E402
from villani.diagnostics import ntk, ntk_spectrum  # noqa: E402

SEED = 0


def _setup(n, m, d, dtype, act="erf", widths=None):
    net = nets.two_layer(m, act) if widths is None else nets.mlp(widths, act)
    kp, kx = jax.random.split(jax.random.key(SEED))
    params = jax.tree_util.tree_map(lambda a: a.astype(dtype), net.init(kp, d))
    x = (jax.random.normal(kx, (n, d)) / np.sqrt(d)).astype(dtype)
    return net, params, x


def gram(n, m, d, dtype, repeats, widths=None):
    # widths=None: two-layer erf of width m; else a tanh MLP with these hidden widths
    act = "erf" if widths is None else "tanh"
    net, params, x = _setup(n, m, d, dtype, act, widths)
    what = f"two-layer erf, n={n} m={m}" if widths is None else f"MLP tanh, n={n} widths={widths}"
    closed = jax.jit(lambda p, x: ntk(net, p, x, method="closed_form"))
    generic = jax.jit(lambda p, x: ntk(net, p, x, method="generic"))
    tc = time_fn(closed, params, x, repeats=repeats)
    tg = time_fn(generic, params, x, repeats=repeats)
    kc, kg = np.asarray(tc.pop("out"), np.float64), np.asarray(tg.pop("out"), np.float64)
    diff = float(np.abs(kc - kg).max() / np.abs(kg).max())
    return {
        "problem": f"Gram K, {what} d={d}", "dtype": np.dtype(dtype).name,
        "fast": "closed_form", "fast_s": tc["run_s"], "fast_compile_s": tc["compile_s"],
        "slow": "generic (vmap grad + contraction)", "slow_s": tg["run_s"],
        "slow_compile_s": tg["compile_s"], "ratio": tg["run_s"] / tc["run_s"],
        "max_rel_diff": diff,
    }


def spectrum(n, m, d, dtype, num_iters, repeats, dense=True):
    net, params, x = _setup(n, m, d, dtype)
    lz = jax.jit(lambda p, x: ntk_spectrum(net, p, x, method="lanczos", num_iters=num_iters))
    tl = time_fn(lz, params, x, repeats=repeats)
    s = tl.pop("out")
    row = {
        "problem": f"lambda_max/min of K, two-layer erf, n={n} m={m} d={d}",
        "dtype": np.dtype(dtype).name, "fast": f"lanczos ({num_iters} steps)",
        "fast_s": tl["run_s"], "fast_compile_s": tl["compile_s"],
        "lambda_max": float(s.lambda_max), "residual_max": float(s.residual_max),
        "lambda_min": float(s.lambda_min), "residual_min": float(s.residual_min),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    if dense:
        dn = jax.jit(lambda p, x: ntk_spectrum(net, p, x, method="dense"))
        td = time_fn(dn, params, x, repeats=repeats)
        e = td.pop("out")
        row.update({
            "slow": "dense (closed-form K + eigh)", "slow_s": td["run_s"],
            "slow_compile_s": td["compile_s"], "ratio": td["run_s"] / tl["run_s"],
            "dense_lambda_max": float(e.lambda_max), "dense_lambda_min": float(e.lambda_min),
            "max_rel_diff": abs(float(s.lambda_max) / float(e.lambda_max) - 1),
            "lambda_min_rel_err": abs(float(s.lambda_min) / float(e.lambda_min) - 1),
        })
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--large", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    if args.quick:
        sizes, spec, reps = (128, 256, 32), (256, 128, 32, 64), 2
    else:
        sizes, spec, reps = (512, 1024, 32), (2048, 512, 32, 200), 3
    for dtype in (jnp.float32, jnp.float64):
        rows.append(gram(*sizes, dtype, reps))
        print(rows[-1], flush=True)
    deep = (64,) * 3 if args.quick else (256,) * 3
    for dtype in (jnp.float32, jnp.float64):
        rows.append(gram(sizes[0], None, sizes[2], dtype, reps, widths=deep))
        print(rows[-1], flush=True)
    for dtype in (jnp.float32, jnp.float64):
        n, m, d, it = spec
        rows.append(spectrum(n, m, d, dtype, it, reps))
        rows.append(spectrum(n, m, d, dtype, n if args.quick else 2 * it, reps))
        print(rows[-2], rows[-1], sep="\n", flush=True)
    if args.large:
        rows.append(spectrum(65_536, 1024, 32, jnp.float32, 100, 1, dense=False))
        print(rows[-1], flush=True)
    cols = ["problem", "dtype", "fast", "fast_s", "slow", "slow_s", "ratio", "max_rel_diff",
            "lambda_max", "residual_max", "lambda_min", "residual_min", "lambda_min_rel_err",
            "fast_compile_s", "slow_compile_s"]
    meta = {"seed": SEED, "quick": args.quick}
    print(write("ntk", rows, cols, meta))


if __name__ == "__main__":
    main()
