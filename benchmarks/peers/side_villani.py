"""villani's side: runs in the project's own environment (.venv) on the current source tree.

Each implementation calls villani's public API only. A name that has not landed yet is
reported as "not run: not yet implemented", so the table fills in as the library grows.
"""

from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the repository root

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import NotRun, peak_rss_bytes, run_tasks, time_call, trace_study  # noqa: E402

import villani  # noqa: E402
from villani import nets  # noqa: E402


def _need(name):
    fn = getattr(villani, name, None)
    if fn is None:
        raise NotRun(f"villani.{name}: not yet implemented")
    return fn


def build(spec, inputs):
    dtype = np.dtype(spec["dtype"])
    param = spec.get("param", "standard")
    if spec["net"] == "two_layer":
        net = nets.two_layer(spec["m"], spec["act"], parametrization=param)
        params = {"w": jnp.asarray(inputs["w"], dtype), "a": jnp.asarray(inputs["a"], dtype)}
    else:
        net = nets.mlp(tuple(spec["widths"]), spec["act"], parametrization=param)
        params = {"w": [jnp.asarray(inputs[f"w{i}"], dtype)
                        for i in range(len(spec["widths"]) + 1)]}
    x = jnp.asarray(inputs["x"], dtype)
    y = jnp.asarray(inputs["y"], dtype)
    obj = villani.Objective(net, villani.Dataset(x, y), loss=spec["loss"])
    return net, params, obj, x


def _named(params_like):
    """villani's pytree -> the flat names the driver compares ("w", "a" or "w0".."wL")."""
    if isinstance(params_like.get("w"), (list, tuple)):
        return {f"w{i}": np.asarray(w) for i, w in enumerate(params_like["w"])}
    return {k: np.asarray(v) for k, v in params_like.items()}


def _field(obj, *names):
    """First attribute / key of ``obj`` among ``names`` (result types are still settling)."""
    for n in names:
        if isinstance(obj, dict) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    raise NotRun(f"result {type(obj).__name__} has none of the fields {names}")


def _value(out):
    return out.value if hasattr(out, "value") else out


# ----------------------------------------------------------------------------- Laplacian
def _laplacian(method):
    def impl(spec, inputs):
        lap = _need("laplacian")
        _, params, obj, _ = build(spec, inputs)
        fn = jax.jit(lambda o, p: _value(lap(o, p, method=method)))
        out, timing = time_call(lambda: fn(obj, params), jax.block_until_ready)
        return {"value": np.asarray(out)}, timing

    return impl


def hutchinson_study(spec, inputs):
    lap = _need("laplacian")
    _, params, obj, _ = build(spec, inputs)
    fns = {}

    def estimate(k, seed):
        if k not in fns:  # num_probes is static: one compilation per probe count
            fns[k] = jax.jit(lambda o, p, key: _value(
                lap(o, p, method="hutchinson", key=key, num_probes=k)))
        return jax.block_until_ready(fns[k](obj, params, jax.random.key(seed)))

    return trace_study(spec, estimate)


# ------------------------------------------------------------------ Hessian eigenvalues
# The ladder of Lanczos step counts searched (untimed) for the first one that reaches the
# target error; every count up to 48, then coarser.
EIG_LADDER = (*range(2, 49), 56, 64, 80, 96, 128, 160, 192, 256)


def hessian_ref(spec, inputs):
    """The converged reference for lambda_max: float64 Lanczos, long, with its residual.

    The inputs are cast to float64 (exact for float32 inputs), so one reference serves the
    float32 and float64 runs of a problem; ``ref_iters`` steps (capped at p).
    """
    hs = _need("hessian_spectrum")
    _, params, obj, _ = build(dict(spec, dtype="float64"), inputs)
    fn = jax.jit(lambda o, p, k: hs(o, p, key=k, num_iters=spec.get("ref_iters", 300),
                                    which="top"))
    # one call (compile included): the reference is not a timed side of the comparison
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(obj, params, jax.random.key(12345)))
    timing = {"time_s": time.perf_counter() - t0, "compile_s": 0.0, "repeats": 1}
    return {"lmax": np.ravel(out.top)[0], "residual": np.ravel(out.top_residual)[0],
            "num_iters": np.asarray(out.num_iters)}, timing


def _predict_steps(obj, params, key, ref, target, max_steps):
    """First Lanczos step count whose top Ritz value is within target of ref (prediction)."""
    from jax.flatten_util import ravel_pytree
    from matfree import decomp

    flat, unravel = ravel_pytree(params)
    _, hvp = jax.linearize(jax.grad(lambda f: obj.value(unravel(f))), flat)
    steps = min(max_steps, flat.shape[0])
    tridiag = decomp.tridiag_sym(steps, materialize=True, reortho="full", custom_vjp=False)
    _, t, *_ = jax.jit(lambda v: tridiag(hvp, v))(jax.random.normal(key, flat.shape, flat.dtype))
    t = np.asarray(t, np.float64)
    for k in range(1, steps + 1):
        if abs(np.linalg.eigvalsh(t[:k, :k])[-1] - ref) <= target * abs(ref):
            return k
    return steps


def hessian_eig(spec, inputs):
    hs = _need("hessian_spectrum")
    _, params, obj, _ = build(spec, inputs)
    kw = dict(spec.get("villani_kwargs", {}))
    key = jax.random.key(0)
    ref, target = spec.get("reference"), spec.get("target")
    if ref is not None and "num_iters" not in kw:
        # equal achieved error: the fewest Lanczos steps (from the same start vector) whose
        # lambda_max is within `target` (relative) of the converged reference. Searched
        # untimed: one long Lanczos run of the same Hessian from villani's start vector
        # predicts the count (k steps give the leading k x k block of the tridiagonal
        # matrix), then villani's own calls confirm it is the first count that hits.
        kw["which"] = "top"
        iters = _predict_steps(obj, params, key, ref, target, 128)
        calls = {}

        def hits(k):
            if k not in calls:
                out = jax.jit(lambda o, p, kk: hs(o, p, key=kk, num_iters=k, which="top"))(
                    obj, params, key)
                calls[k] = abs(float(out.top[0]) - ref) <= target * abs(ref)
            return calls[k]

        while not hits(iters) and iters < 400:
            iters += 1
        while iters > 1 and hits(iters - 1):
            iters -= 1
        kw["num_iters"] = iters
    fn = jax.jit(lambda o, p, k: hs(o, p, key=k, **kw))
    out, timing = time_call(lambda: fn(obj, params, key), jax.block_until_ready)
    # top is descending and bottom ascending: the first entry of each is the extreme one
    res = {"lmax": np.ravel(_field(out, "lambda_max", "top"))[0]}
    if "num_iters" in kw:  # Lanczos steps + the residual HVPs of both ends (_lanczos.ritz)
        res["num_hvp"] = np.asarray(int(out.num_iters) + 2)
    if getattr(out, "bottom", None) is not None:
        res["lmin"] = np.ravel(out.bottom)[0]
    for name in ("top_residual", "bottom_residual"):
        if getattr(out, name, None) is not None:
            res[name] = np.ravel(getattr(out, name))[0]
    if spec.get("memory"):
        timing["peak_rss_bytes_after"] = peak_rss_bytes()
    return res, timing


def density(spec, inputs):
    sd = _need("spectral_density")
    _, params, obj, _ = build(spec, inputs)
    kw = dict(spec.get("villani_kwargs", {}))
    key = jax.random.key(0)
    fn = jax.jit(lambda o, p, k: sd(o, p, key=k, **kw))
    out, timing = time_call(lambda: fn(obj, params, key), jax.block_until_ready)
    nodes = np.asarray(_field(out, "nodes", "eigenvalues", "grid"))
    res = {"nodes": nodes, "lmax": np.max(nodes)}
    try:
        res["weights"] = np.asarray(_field(out, "weights", "density"))
    except NotRun:
        pass
    return res, timing


# ---------------------------------------------------------------- per-sample gradients
def per_sample_grads(spec, inputs):
    psg = _need("per_sample_grads")
    _, params, obj, _ = build(spec, inputs)
    fn = jax.jit(lambda o, p: psg(o, p))
    out, timing = time_call(lambda: fn(obj, params), jax.block_until_ready)
    return _named(out), timing


# ---------------------------------------------------------------- gradient statistics
def _stats_out(sq, trace, noise_scale):
    return {"sq_norms": np.asarray(sq), "trace": np.asarray(trace),
            "noise_scale": np.asarray(noise_scale)}


def grad_stats(spec, inputs):
    """villani.gradient_stats: per-sample norms, tr Sigma, noise scale, no n x p array."""
    gs = _need("gradient_stats")
    _, params, obj, _ = build(spec, inputs)
    fn = jax.jit(lambda o, p: gs(o, p))
    out, timing = time_call(lambda: fn(obj, params), jax.block_until_ready)
    timing["peak_rss_bytes_after"] = peak_rss_bytes()
    return _stats_out(out.sq_norms, out.trace, out.noise_scale), timing


def grad_stats_materialised(spec, inputs):
    """The same statistics from villani.per_sample_grads (vmap(grad), the n x p array)."""
    psg = _need("per_sample_grads")
    _, params, obj, _ = build(spec, inputs)

    def stats(o, p):
        g = psg(o, p)
        leaves = [x.reshape(x.shape[0], -1) for x in jax.tree_util.tree_leaves(g)]
        sq = sum(jnp.sum(x**2, axis=1) for x in leaves)
        g2 = sum(jnp.sum(jnp.mean(x, axis=0) ** 2) for x in leaves)
        tr = jnp.mean(sq) - g2
        return sq, tr, tr / g2

    fn = jax.jit(stats)
    out, timing = time_call(lambda: fn(obj, params), jax.block_until_ready)
    return _stats_out(*out), timing


# ------------------------------------------------------------------------------- NTK
def _ntk(method):
    def impl(spec, inputs):
        ntk = _need("ntk")
        net, params, _, x = build(spec, inputs)
        fn = jax.jit(lambda p, x: ntk(net, p, x, method=method))
        out, timing = time_call(lambda: fn(params, x), jax.block_until_ready)
        return {"K": np.asarray(out)}, timing

    return impl


def ntk_certified(spec, inputs):
    """ntk_spectrum(method="certified"): a proven bracket of lambda_min(K) (float64 K)."""
    ns = _need("ntk_spectrum")
    net, params, _, x = build(spec, inputs)
    kw = dict(spec.get("villani_kwargs", {}))
    fn = jax.jit(lambda p, x: ns(net, p, x, method="certified", key=jax.random.key(0), **kw))
    # one timed call after the warm-up: each takes tens of seconds at these sizes
    out, timing = time_call(lambda: fn(params, x), jax.block_until_ready, max_repeats=1)
    lo, up = float(out.lambda_min_lower), float(out.lambda_min)
    p = sum(np.size(v) for v in jax.tree_util.tree_leaves(params))
    res = {"p": p, "lmin_lower": lo, "lmin_upper": up, "relative_width": (up - lo) / up,
           "lmax": float(out.lambda_max), "kappa_upper": float(out.lambda_max) / lo
           if lo > 0 else float("inf"), "proven_positive": float(lo > 0),
           "num_iters": int(out.num_iters)}
    return res, timing


# ------------------------------------------------------------------------- Langevin
def _langevin(saveat):
    """villani.langevin, vmapped over particles; ``saveat=2`` records only the start and the
    end (the by-products of the first and last step's value_and_grad), ``None`` its default
    101 save points (loss and squared gradient norm at each)."""
    def impl(spec, inputs):
        lv = _need("langevin")
        _, params, obj, _ = build(spec, inputs)
        keys = jax.random.split(jax.random.key(spec["seed"]), spec["particles"])

        def one(key):
            traj = lv(obj, params, key=key, t1=spec["t1"], dt=spec["dt"],
                      temperature=spec["temperature"], saveat=saveat)
            return traj.params if hasattr(traj, "params") else traj

        run = jax.jit(jax.vmap(one))
        out, timing = time_call(lambda: run(keys), jax.block_until_ready)
        final_loss = jax.vmap(obj.value)(out)
        res = _named(out)
        res["final_loss"] = np.asarray(final_loss)
        return res, timing

    return impl


REGISTRY = {
    "villani_closed_form": _laplacian("closed_form"),
    "villani_exact": _laplacian("exact"),
    "villani_hutchinson": hutchinson_study,
    "villani_hessian_eig": hessian_eig,
    "villani_hessian_ref": hessian_ref,
    "villani_density": density,
    "villani_psg": per_sample_grads,
    "villani_grad_stats": grad_stats,
    "villani_grad_stats_materialised": grad_stats_materialised,
    "villani_ntk_closed_form": _ntk("closed_form"),
    "villani_ntk_generic": _ntk("generic"),
    "villani_ntk_certified": ntk_certified,
    "villani_langevin": _langevin(2),
    "villani_langevin_101": _langevin(None),
}

if __name__ == "__main__":
    run_tasks(REGISTRY, "villani", ["villani", "jax", "jaxlib", "matfree", "numpy"])
