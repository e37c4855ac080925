"""The ``villani`` command."""

from __future__ import annotations

import argparse
import sys


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="villani",
        description="Measure the quantities convergence theorems rest on.",
        epilog="example: villani info",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="versions, devices, float64", epilog="example: villani info")
    p.set_defaults(func=_info)
    p = sub.add_parser("demo", help="a small GD run printing loss and PL ratio",
                       epilog="example: villani demo --seed 1")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
