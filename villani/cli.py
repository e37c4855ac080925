"""The ``villani`` command."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import warnings


def _info(args: argparse.Namespace) -> int:
    import importlib.metadata as md

    import jax

    for pkg in ("villani", "jax", "jaxlib", "optax", "chex", "diffrax", "matfree"):
        try:
            v = md.version(pkg)
        except md.PackageNotFoundError:
            v = "not installed"
        print(f"{pkg:10s} {v}")
    print(f"{'devices':10s} {', '.join(str(d) for d in jax.devices())}")
    print(f"{'float64':10s} {'on' if jax.config.jax_enable_x64 else 'off'}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    """Train a two-layer tanh net with GD on a teacher-student set; print loss and PL ratio."""
    import jax
    import jax.numpy as jnp

    from . import data, nets
    from .losses import Objective

    kd, kt, kp = jax.random.split(jax.random.key(args.seed), 3)
    ds = data.teacher_student(kd, nets.two_layer(4, "tanh"), n=64, d=8)
    obj = Objective(nets.two_layer(256, "tanh"), ds, loss="squared")
    params = obj.net.init(kp, ds.d)
    lr = 1.0

    @jax.jit
    def step(p):
        v, g = obj.value_and_grad(p)
        g2 = sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(g))
        return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), v, g2 / (2 * v)

    print(f"GD, lr={lr}, two-layer tanh net m=256 on a teacher-student set (n=64, d=8)")
    print(f"{'step':>6} {'loss':>12} {'PL ratio':>10}")
    for t in range(201):
        new, v, mu = step(params)
        if t % 25 == 0:
            print(f"{t:6d} {float(v):12.4e} {float(mu):10.4f}")
        params = new
    return 0


def _run(args: argparse.Namespace) -> int:
    """Run the sweep a TOML config describes; print a summary per grid point."""
    import numpy as np

    from .experiments._config import ConfigError, load_config, run_config

    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"villani run: error: {e}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else cfg["out"]
    try:
        # out/ is created and locked before anything is computed: an unwritable one fails fast
        table = run_config(cfg, out=out, progress=False if args.no_progress else None)
    except (ValueError, TypeError) as e:  # invalid values only the library can check (batch_size > n)
        print(f"villani run: error: {e}", file=sys.stderr)
        return 2
    loss, valid = table.data["loss"], table.data["valid"]
    last = np.where(valid, loss, np.nan)[..., -1]
    diverged = table.data["diverged"][..., -1]
    axes = list(table.axes)
    print(f"{len(table.seeds)} seeds; final loss (median [q25, q75] over seeds), diverged runs")
    header = "".join(f"{a:>14}" for a in axes) + f"{'median':>12}{'q25':>12}{'q75':>12}{'diverged':>10}"
    print(header)
    for idx in np.ndindex(*last.shape[:-1]):
        vals = last[idx]
        with np.errstate(all="ignore"):
            q = np.nanquantile(vals, [0.5, 0.25, 0.75]) if np.isfinite(vals).any() else [np.nan] * 3
        cells = "".join(f"{str(table.axes[a][i]):>14}" for a, i in zip(axes, idx))
        print(f"{cells}{q[0]:12.4e}{q[1]:12.4e}{q[2]:12.4e}{int(diverged[idx].sum()):10d}")
    if "reason" in table.data:  # why runs stopped (a step size <= 0, a loss above max_loss, ...)
        from .trajectory import REASONS

        codes = table.data["reason"][..., -1][diverged]
        for code, count in zip(*np.unique(codes, return_counts=True)):
            if 0 < code < len(REASONS):
                print(f"{count} run(s) stopped: {REASONS[code]}")
    if out is not None:
        print(f"results: {out}/ (sweep.json, cells/*.npz, table.npz)")
        try:
            from . import plots
            from .experiments._store import device_label
        except ImportError:  # pragma: no cover
            return 0
        try:
            curves = {", ".join(f"{a}={table.axes[a][i]}" for a, i in zip(axes, idx)) or "all":
                      loss[idx].reshape(-1, loss.shape[-1]) for idx in np.ndindex(*loss.shape[:len(axes)])}
            plots.loss_curves(table.data["step"].reshape(-1, loss.shape[-1])[0], curves,
                              device=device_label(table.meta["environment"]),
                              path=f"{out}/loss.png", title=args.config)
            print(f"figure:  {out}/loss.png")
        except ImportError:
            pass
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    """Run the paper reproductions, write the report, exit 1 if a verdict is unexpected."""
    from .experiments import papers
    from .report import reproduce

    try:
        papers.get(args.papers or None)
        if not papers.PAPERS:
            raise ValueError("no paper reproductions are registered yet "
                             "(villani.experiments.papers.PAPERS is empty)")
    except ValueError as e:
        print(f"villani reproduce: error: {e}", file=sys.stderr)
        return 2
    if not _writable_dir(args.out, "villani reproduce", "--out"):
        return 2
    import jax

    # the reproductions' exactness claims (1e-10 agreements, 1e-9 rate windows) need float64
    jax.config.update("jax_enable_x64", True)
    _, results = reproduce(args.papers or None, mode=args.mode, out=args.out, seed=args.seed)
    return 0 if all(v.as_expected for r in results for v in r.verdicts) else 1


def _writable_dir(path: str, prog: str, option: str) -> bool:
    """Create ``path`` if needed and write a temporary file in it; print an error and
    return False if that fails (checked before hours of computing, not after)."""
    import tempfile

    try:
        pathlib.Path(path).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        print(f"{prog}: error: {option} {path!r} is not a writable directory: {e.strerror or e}",
              file=sys.stderr)
        return False
    return True


def _find_benchmarks(start: str) -> pathlib.Path | None:
    here = pathlib.Path(start).resolve()
    for d in (here, *here.parents):
        if (d / "benchmarks").is_dir() and any((d / "benchmarks").glob("bench_*.py")):
            return d / "benchmarks"
    return None


def _bench_out_default() -> pathlib.Path:
    """``$XDG_CACHE_HOME/villani/bench/<UTC timestamp>`` (``~/.cache/...``): outside any checkout."""
    import datetime

    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return cache / "villani" / "bench" / stamp


def _bench(args: argparse.Namespace) -> int:
    """Run benchmark scripts (a source checkout's benchmarks/bench_NAME.py) from a copy in
    the output directory, so their results land there and the checkout stays untouched."""
    import shutil
    import subprocess
    import time

    if args.benchmarks is not None:
        bench = pathlib.Path(args.benchmarks).resolve()
        if not any(bench.glob("bench_*.py")):
            print(f"villani bench: error: --benchmarks {args.benchmarks}: no bench_*.py scripts there",
                  file=sys.stderr)
            return 2
    else:
        bench = _find_benchmarks(os.getcwd())
    if bench is None:
        print("villani bench: error: the benchmark scripts are not part of the installed package; "
              "they live in the benchmarks/ directory of a villani source checkout. Run "
              "`villani bench` inside a source checkout (it looks in "
              f"{os.getcwd()} and its parents), or pass --benchmarks PATH/TO/benchmarks",
              file=sys.stderr)
        return 2
    available = sorted(p.stem[len("bench_"):] for p in bench.glob("bench_*.py"))
    if args.list:
        print("\n".join(available))
        return 0
    names = args.names or available
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"villani bench: error: unknown benchmark(s) {', '.join(unknown)}; "
              f"available in {bench}: {', '.join(available)}", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out) if args.out is not None else _bench_out_default()
    work = out.resolve() / "benchmarks"
    if work.resolve() == bench.resolve():
        print(f"villani bench: error: --out {args.out} is the checkout itself; choose another directory",
              file=sys.stderr)
        return 2
    # a copy of the scripts (and their helper modules) whose results/ is under --out
    (work / "results").mkdir(parents=True, exist_ok=True)
    for f in bench.glob("*.py"):
        shutil.copy2(f, work / f.name)
    failed = []
    for name in names:
        script = work / f"bench_{name}.py"
        print(f"## bench_{name}", flush=True)
        start = time.time()
        proc = subprocess.Popen([sys.executable, str(script)], cwd=work.parent, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in proc.stdout:
            print(line, end="", flush=True)
        if proc.wait() != 0:
            failed.append(name)
            print(f"bench_{name}: exited with status {proc.returncode}", file=sys.stderr)
            continue
        for md in sorted((work / "results").glob("*.md")):
            if md.stat().st_mtime >= start - 1 and (md.stem == name or md.stem.startswith(
                    (f"{name}_", f"{name}-", f"bench_{name}"))):
                print(f"\n### {md}\n")
                print(md.read_text().rstrip())
        print()
    print(f"results: {work / 'results'}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """The ``villani`` command; ``argv`` defaults to ``sys.argv[1:]``. Returns the exit status."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="villani", formatter_class=fmt,
        description="Measure the quantities convergence theorems rest on.",
        epilog="examples:\n  villani info\n  villani run examples/sweep.toml\n"
               "  villani reproduce --quick\n  villani bench laplacian\n\n"
               "exit status: 0 done (every verdict as expected); 1 a verdict not as expected\n"
               "(reproduce) or a benchmark failed (bench); 2 a usage, input or I/O error.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="versions, devices, float64", epilog="example: villani info")
    p.set_defaults(func=_info)
    p = sub.add_parser("demo", help="a small GD run printing loss and PL ratio",
                       epilog="example: villani demo --seed 1")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)

    p = sub.add_parser(
        "run", help="run a sweep described in a TOML file", formatter_class=fmt,
        description="Run a sweep (network, data, loss, dynamics, grid, seeds, out) from a TOML "
                    "file; float axes (lr, momentum, l2) and seeds are vmapped, the rest looped. "
                    "Re-running with the same out directory resumes it.",
        epilog="example:\n  villani run examples/sweep.toml --out sweeps/lr-width\n\n"
               "minimal config:\n  seeds = 16\n  [network]\n  width = 64\n"
               "  [dynamics]\n  lr = 0.5\n  steps = 200\n  [grid]\n  lr = [0.1, 0.5]")
    p.add_argument("config", help="the TOML file")
    p.add_argument("--out", default=None, help="results directory (overrides `out` in the file)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)

    p = sub.add_parser(
        "reproduce", help="re-run the source papers' claims and write a verdict report",
        formatter_class=fmt,
        description="Run the registered paper reproductions, write reports/<timestamp>/index.md "
                    "and index.html (verdict table, figures, tables), print the verdict table, and "
                    "exit 1 if any verdict did not come out as expected.",
        epilog="examples:\n  villani reproduce --quick\n  villani reproduce 000 004 --full --out reports")
    p.add_argument("papers", nargs="*", metavar="PAPER", help="paper ids (default: all)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="the quick configurations (default; minutes on a CPU)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the full configurations (for a GPU)")
    p.set_defaults(mode="quick")
    p.add_argument("--out", default="reports", help="parent directory of the report (default: reports)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    p.set_defaults(func=_reproduce)

    p = sub.add_parser(
        "bench", help="run benchmarks/bench_NAME.py and print their tables", formatter_class=fmt,
        description="Run the benchmark scripts of a villani source checkout (found from the "
                    "current directory upwards, or --benchmarks) and print their Markdown result "
                    "tables. The scripts run from a copy under --out, where their results go; the "
                    "checkout is not modified. The scripts are not part of the installed package.",
        epilog="examples:\n  villani bench --list\n  villani bench laplacian ntk --out /tmp/bench")
    p.add_argument("names", nargs="*", metavar="NAME", help="benchmark names (default: all)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--out", default=None,
                   help="output directory (default: ~/.cache/villani/bench/<timestamp>)")
    p.add_argument("--benchmarks", default=None, metavar="DIR",
                   help="the benchmarks/ directory (default: found from the current directory up)")
    p.set_defaults(func=_bench)

    args = parser.parse_args(argv)
    prog = f"villani {args.command}"

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show  # one line per warning, no source excerpt
        try:
            return args.func(args)
        except OSError as e:  # a read-only or full disk, a vanished file: no traceback
            print(f"{prog}: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
