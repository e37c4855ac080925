"""Closed-form paths of two source trees, timed interleaved: is one slower than the other?

The cases are those of ``bench_laplacian.py`` (the fast Laplacian: closed form for the
two-layer net, the exact structured path for MLPs) and ``bench_ntk.py`` (the closed-form
empirical NTK Gram matrix), in float64, plus one gradient as a control. Each round runs a
fresh worker process per tree, alternating A, B, A, B, ... so that the machine's load (it
is shared) falls on both alike; a worker compiles every case once (untimed), then times
``--calls`` calls of each (``jax.block_until_ready`` before every clock stop) and reports
their median. The table gives, per case and tree, the median over rounds of those medians
and the ratio B / A, with the 1-minute load average before and after.

    python benchmarks/compare_commits.py --a OLD_TREE --b NEW_TREE [--rounds 5] [--calls 7] [--deep]

Writes ``results/compare_commits.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def worker(calls: int, deep: bool) -> dict:
    """Time every case in this process's ``villani`` (the tree on PYTHONPATH)."""
    import jax
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    import villani
    from villani import Objective, data, nets
    from villani.diagnostics import laplacian, ntk

    def med_ms(fn, *args):
        jax.block_until_ready(fn(*args))  # compile, untimed
        ts = []
        for _ in range(calls):
            t0 = time.perf_counter_ns()
            jax.block_until_ready(fn(*args))
            ts.append((time.perf_counter_ns() - t0) * 1e-6)
        return float(np.median(ts))

    out = {"villani_file": villani.__file__}
    key = jax.random.key(0)
    lap_cases = [("laplacian two_layer tanh m=256 n=128 d=32 (closed_form)", nets.two_layer(256, "tanh"),
                  128, 32, "closed_form"),
                 ("laplacian mlp tanh (256,256) n=128 d=32 (exact)", nets.mlp((256, 256), "tanh"),
                  128, 32, "exact"),
                 ("laplacian mlp tanh (32,32,32) n=64 d=16 (exact)", nets.mlp((32, 32, 32), "tanh"),
                  64, 16, "exact")]
    if deep:  # bench_laplacian's depth-3 case: chain Jacobians, ~50x a gradient (slow on a busy CPU)
        lap_cases.insert(2, ("laplacian mlp tanh (256,256,256) n=128 d=32 (exact)",
                             nets.mlp((256, 256, 256), "tanh"), 128, 32, "exact"))
    for name, net, n, d, method in lap_cases:  # as bench_laplacian.run_case
        kd, kp, _ = jax.random.split(key, 3)
        obj = Objective(net, data.random_labels(kd, n, d), loss="logistic", l2=0.0)
        params = net.init(kp, d)
        out[name] = med_ms(jax.jit(lambda q, obj=obj, method=method: laplacian(obj, q, method)), params)
        if name.startswith("laplacian two_layer"):
            out["grad two_layer tanh m=256 n=128 d=32 (control)"] = med_ms(jax.jit(obj.grad), params)
    for what, n, m, d, widths in [("two-layer erf n=512 m=1024", 512, 1024, 32, None),
                                  ("MLP tanh n=512 widths=(256,256,256)", 512, None, 32, (256, 256, 256))]:
        net = nets.two_layer(m, "erf") if widths is None else nets.mlp(widths, "tanh")  # as bench_ntk
        kp, kx = jax.random.split(jax.random.key(0))
        params = net.init(kp, d)
        x = jax.random.normal(kx, (n, d)) / np.sqrt(d)
        fn = jax.jit(lambda p, x, net=net: ntk(net, p, x, method="closed_form"))
        out[f"ntk Gram {what} d={d} (closed_form)"] = med_ms(fn, params, x)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="source tree A (the baseline)")
    ap.add_argument("--b", required=True, help="source tree B")
    ap.add_argument("--label-a", default=None)
    ap.add_argument("--label-b", default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=7)
    ap.add_argument("--deep", action="store_true", help="also the depth-3 (256,256,256) Laplacian")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print("RESULT " + json.dumps(worker(a.calls, a.deep)))
        return
    trees = {"A": pathlib.Path(a.a).resolve(), "B": pathlib.Path(a.b).resolve()}
    labels = {"A": a.label_a or str(trees["A"]), "B": a.label_b or str(trees["B"])}
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    load_before = os.getloadavg()[0]
    for r in range(a.rounds):
        for side in ("A", "B") if r % 2 == 0 else ("B", "A"):
            env = {**os.environ, "PYTHONPATH": str(trees[side])}
            cmd = [sys.executable, str(HERE / "compare_commits.py"), "--a", a.a, "--b", a.b,
                   "--worker", "--calls", str(a.calls)] + (["--deep"] if a.deep else [])
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            res = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT "))[7:])
            res["loadavg_1min"] = os.getloadavg()[0]
            runs[side].append(res)
            print(f"round {r} {side} load {res['loadavg_1min']:.1f}", flush=True)
    load_after = os.getloadavg()[0]
    import numpy as np

    cases = [k for k in runs["A"][0] if k not in ("villani_file", "loadavg_1min")]
    rows = []
    for c in cases:
        ma = float(np.median([x[c] for x in runs["A"]]))
        mb = float(np.median([x[c] for x in runs["B"]]))
        rows.append({"case": c, "A_ms": ma, "B_ms": mb, "ratio_B_over_A": mb / ma,
                     "A_all_ms": [x[c] for x in runs["A"]], "B_all_ms": [x[c] for x in runs["B"]]})
    meta = {"A": labels["A"], "B": labels["B"], "rounds": a.rounds, "calls_per_round": a.calls,
            "loadavg_1min_before": load_before, "loadavg_1min_after": load_after,
            "cpu_count": os.cpu_count(), "files": {s: runs[s][0]["villani_file"] for s in runs}}
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "compare_commits.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"# Closed-form paths: {labels['B']} (B) against {labels['A']} (A)", "",
             f"float64, {os.cpu_count()} CPU cores shared with other jobs: 1-minute load average "
             f"{load_before:.1f} before, {load_after:.1f} after. {a.rounds} rounds, A and B "
             f"alternating in fresh processes; each entry is the median over rounds of the median "
             f"of {a.calls} calls.", "",
             "| case | A ms | B ms | B / A |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['A_ms']:.3g} | {r['B_ms']:.3g} | {r['ratio_B_over_A']:.2f} |")
    (out / "compare_commits.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
