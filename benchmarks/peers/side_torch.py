"""PyTorch peers: torch.func, BackPACK, PyHessian, curvlinops, Opacus, nngeometry.

Runs in benchmarks/peers/.envs/torch. The model computes exactly villani's function
with the same weights: a two-layer net ``f(x) = tanh(x W^T) a`` (standard
parametrisation, no biases) is ``Linear(d, m) -> Tanh -> Linear(m, 1)``; an MLP is the
same chain. villani's squared loss is ``(f - y)^2 / 2`` = ``MSELoss / 2``; its logistic
loss ``log(1 + exp(-y f))`` with ``y = ±1`` is ``BCEWithLogitsLoss`` with target
``(1 + y) / 2``. Quantities linear in the loss are multiplied by ``loss_scale``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from _common import NotRun, run_tasks, time_call, trace_study  # noqa: E402
from torch import nn  # noqa: E402

DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def sync(_out=None):
    if DEVICE == "cuda":
        torch.cuda.synchronize()


class Erf(nn.Module):
    def forward(self, z):
        return torch.special.erf(z)


def _act(name):
    if name == "tanh":
        return nn.Tanh()
    if name == "erf":
        return Erf()
    raise NotRun(f"activation {name!r} not mapped to torch")


def _tensor(a, dtype):
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=DEVICE)


def build(spec, inputs):
    """(model, param names in villani's naming, X, Y-for-torch-loss, loss module, scale, y)."""
    if spec.get("param", "standard") != "standard":
        raise NotRun("torch side maps only the standard parametrisation")
    dtype = DTYPES[spec["dtype"]]
    x = _tensor(inputs["x"], dtype)
    y = _tensor(inputs["y"], dtype)
    if spec["net"] == "two_layer":
        ws = [inputs["w"], inputs["a"][None, :]]
        names = ["w", "a"]
    else:
        ws = [inputs[f"w{i}"] for i in range(len(spec["widths"]) + 1)]
        names = [f"w{i}" for i in range(len(ws))]
    layers = []
    for i, w in enumerate(ws):
        lin = nn.Linear(w.shape[1], w.shape[0], bias=False)
        lin.weight = nn.Parameter(_tensor(w, dtype))
        layers.append(lin)
        if i < len(ws) - 1:
            layers.append(_act(spec["act"]))
    model = nn.Sequential(*layers).to(DEVICE)
    if spec["loss"] == "squared":
        lossmod, scale, target = nn.MSELoss(), 0.5, y[:, None]
    else:
        lossmod, scale, target = nn.BCEWithLogitsLoss(), 1.0, (1 + y[:, None]) / 2
    return model, names, x, target, lossmod, scale, y


def _exact_loss(spec):
    if spec["loss"] == "squared":
        return lambda f, y: 0.5 * (f - y) ** 2
    return lambda f, y: torch.nn.functional.softplus(-y * f)


def _to_named(names, tensors, n=None):
    out = {}
    for name, t in zip(names, tensors):
        a = t.detach().cpu().numpy()
        if name == "a":
            a = a.reshape(a.shape[0], -1) if n is not None else a.reshape(-1)
        out[name] = a
    return out


# ----------------------------------------------------------------------------- Laplacian
def torchfunc_hessian_trace(spec, inputs):
    model, names, x, _, _, _, y = build(spec, inputs)
    p = sum(q.numel() for q in model.parameters())
    if p > spec.get("hessian_max_p", 5000):
        raise NotRun(f"full p x p Hessian with p={p} (> {spec.get('hessian_max_p', 5000)}) "
                     "is too large to form here")
    from torch.func import functional_call, hessian

    loss = _exact_loss(spec)
    keys = [k for k, _ in model.named_parameters()]
    shapes = [q.shape for q in model.parameters()]
    theta = torch.cat([q.detach().reshape(-1) for q in model.parameters()])

    def L(t):
        parts, i = {}, 0
        for k, s in zip(keys, shapes):
            k_n = int(np.prod(s))
            parts[k] = t[i:i + k_n].reshape(s)
            i += k_n
        f = functional_call(model, parts, (x,))[:, 0]
        return loss(f, y).mean()

    _, timing = time_call(lambda: torch.trace(hessian(L)(theta)), sync, max_repeats=3)
    value = float(torch.trace(hessian(L)(theta)))
    return {"value": np.array(value)}, timing


def backpack_diag_hessian(spec, inputs):
    from backpack import backpack, extend
    from backpack.extensions import DiagHessian

    model, names, x, t, lossmod, scale, _ = build(spec, inputs)
    model = extend(model)
    lossmod = extend(lossmod)

    def run():
        model.zero_grad()
        with backpack(DiagHessian()):
            lossmod(model(x), t).backward()
        return scale * sum(q.diag_h.sum() for q in model.parameters())

    out, timing = time_call(run, sync)
    return {"value": np.array(float(out))}, timing


def _curv_hessian(model, lossmod, x, t):
    from curvlinops import HessianLinearOperator

    params = [q for q in model.parameters() if q.requires_grad]
    return HessianLinearOperator(model, lossmod, params, [(x, t)], check_deterministic=False)


def _curv_trace(fn_name):
    def impl(spec, inputs):
        import curvlinops

        model, _, x, t, lossmod, scale, _ = build(spec, inputs)
        H = _curv_hessian(model, lossmod, x, t)
        fn = getattr(curvlinops, fn_name)

        def estimate(k, seed):
            torch.manual_seed(seed)
            if fn_name == "xtrace":
                k += k % 2  # XTrace needs an even number of matrix-vector products
            if fn_name == "hutchpp_trace":
                k += -k % 3  # Hutch++ needs a multiple of 3
            return scale * float(fn(H, k))

        return trace_study(spec, estimate)

    return impl


def _pyhessian(spec, inputs):
    from pyhessian import hessian

    model, _, x, t, lossmod, scale, _ = build(spec, inputs)
    return hessian(model, lossmod, data=(x, t), cuda=DEVICE == "cuda"), scale


def pyhessian_trace(spec, inputs):
    hc, scale = _pyhessian(spec, inputs)

    def estimate(k, seed):
        torch.manual_seed(seed)
        return scale * float(np.mean(hc.trace(maxIter=k, tol=-1.0)))  # tol<0: exactly k probes

    return trace_study(spec, estimate)


# ------------------------------------------------------------------ Hessian eigenvalues
# Equal achieved error: each side is run with the least work whose lambda_max is within
# spec["target"] (relative) of the converged reference spec["reference"] (searched,
# untimed, from the same start vector); only that run is timed, with its set-up inside.
POWER_LADDER = (*range(2, 49), 56, 64, 80, 96, 128, 160, 192, 256)
EIGSH_TOLS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10,
              1e-12, 0.0)


def _hits(val, spec):
    ref = spec["reference"]
    return abs(val - ref) <= spec["target"] * abs(ref)


def pyhessian_eig(spec, inputs):
    """PyHessian's power iteration, run for exactly ``maxIter`` steps (``tol=0``: its own
    stopping rule, a relative change between iterates, is no error bound). The timed
    call builds its ``hessian`` object too (one forward and a create_graph backward):
    villani's timed call includes its own gradient set-up."""
    from pyhessian import hessian

    model, _, x, t, lossmod, scale, _ = build(spec, inputs)

    def run(iters):
        model.zero_grad(set_to_none=True)  # the constructor's backward accumulates .grad
        hc = hessian(model, lossmod, data=(x, t), cuda=DEVICE == "cuda")
        torch.manual_seed(0)
        ev, _ = hc.eigenvalues(maxIter=iters, tol=0.0, top_n=1)
        return scale * ev[0]

    if spec.get("reference") is None:
        raise NotRun("no converged reference to stop at")
    for iters in POWER_LADDER:
        if _hits(run(iters), spec):
            break
    out, timing = time_call(lambda: run(iters), sync, max_repeats=3)
    return {"lmax": np.array(out), "num_hvp": np.array(iters)}, timing


def curvlinops_eig(spec, inputs):
    """curvlinops' HessianLinearOperator through SciPy's ARPACK (eigsh, which='LA'), at the
    loosest ``tol`` whose result reaches the target error; the timed call builds the
    operator too. HVPs are counted by wrapping the operator's matvec."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    model, _, x, t, lossmod, scale, _ = build(spec, inputs)
    v0 = None
    count = [0]

    def run(tol):
        nonlocal v0
        H = _curv_hessian(model, lossmod, x, t).to_scipy()
        if v0 is None:
            v0 = np.random.default_rng(0).standard_normal(H.shape[0]).astype(H.dtype)

        def mv(v):
            count[0] += 1
            return H @ v

        op = LinearOperator(H.shape, matvec=mv, dtype=H.dtype)
        return scale * eigsh(op, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False)[0]

    if spec.get("reference") is None:
        raise NotRun("no converged reference to stop at")
    for tol in EIGSH_TOLS:
        count[0] = 0
        if _hits(run(tol), spec):
            break
    hvps = count[0]
    out, timing = time_call(lambda: run(tol), sync, max_repeats=3)
    return {"lmax": np.array(out), "num_hvp": np.array(hvps), "eigsh_tol": np.array(tol)}, timing


def pyhessian_density(spec, inputs):
    hc, scale = _pyhessian(spec, inputs)

    def run():
        torch.manual_seed(0)
        return hc.density(iter=spec["ncv"], n_v=2)

    (nodes, weights), timing = time_call(run, sync, max_repeats=3)
    return {"nodes": scale * np.asarray(nodes[0]), "weights": np.asarray(weights[0]),
            "lmax": np.array(scale * max(nodes[0]))}, timing


def curvlinops_density(spec, inputs):
    from curvlinops import lanczos_approximate_spectrum

    model, _, x, t, lossmod, scale, _ = build(spec, inputs)
    H = _curv_hessian(model, lossmod, x, t)

    def run():
        torch.manual_seed(0)
        return lanczos_approximate_spectrum(H, spec["ncv"], num_repeats=2)

    (grid, dens), timing = time_call(run, sync, max_repeats=3)
    return {"grid": scale * np.asarray(grid), "density": np.asarray(dens)}, timing


# ---------------------------------------------------------------- per-sample gradients
def _torchfunc_per_sample(spec, inputs):
    """torch.func's documented per-sample gradients: ``vmap(grad(loss_i))`` over samples.
    Returns (fn, params, x, y, names) with ``fn(params, x, y)`` -> name -> (n, ...) grads."""
    from torch.func import functional_call, grad, vmap

    model, names, x, _, _, _, y = build(spec, inputs)
    loss = _exact_loss(spec)
    params = {k: q.detach() for k, q in model.named_parameters()}

    def li(p, xi, yi):
        return loss(functional_call(model, p, (xi[None],))[0, 0], yi)

    return vmap(grad(li), in_dims=(None, 0, 0)), params, x, y, names


def torchfunc_psg(spec, inputs):
    fn, params, x, y, names = _torchfunc_per_sample(spec, inputs)
    out, timing = time_call(lambda: fn(params, x, y), sync)
    return _to_named(names, list(out.values()), n=x.shape[0]), timing


def backpack_psg(spec, inputs):
    from backpack import backpack, extend
    from backpack.extensions import BatchGrad

    model, names, x, t, lossmod, scale, _ = build(spec, inputs)
    model, lossmod = extend(model), extend(lossmod)
    n = x.shape[0]

    def run():
        model.zero_grad()
        with backpack(BatchGrad()):
            lossmod(model(x), t).backward()
        return [q.grad_batch for q in model.parameters()]

    out, timing = time_call(run, sync)
    # BatchGrad gives the per-sample terms of the mean: grad(l_i)/n
    return _to_named(names, [g * (n * scale) for g in out], n=n), timing


def opacus_psg(spec, inputs):
    from opacus import GradSampleModule

    model, names, x, t, lossmod, scale, _ = build(spec, inputs)
    gsm = GradSampleModule(model, loss_reduction="mean")

    def run():
        gsm.zero_grad(set_to_none=True)
        for q in gsm.parameters():
            q.grad_sample = None
        lossmod(gsm(x), t).backward()
        return [q.grad_sample for q in gsm.parameters()]

    out, timing = time_call(run, sync)
    return _to_named(names, [g * scale for g in out], n=x.shape[0]), timing


# ---------------------------------------------------------------- gradient statistics
def _stats(sq, g2):
    tr = sq.mean() - g2
    return {"sq_norms": sq.detach().cpu().numpy(), "trace": np.array(float(tr)),
            "noise_scale": np.array(float(tr / g2))}


def torchfunc_grad_stats(spec, inputs):
    """Per-sample gradients by torch.func vmap(grad) (the n x p array), then the statistics."""
    fn, params, x, y, _ = _torchfunc_per_sample(spec, inputs)

    def run():
        g = fn(params, x, y)
        flat = [v.reshape(v.shape[0], -1) for v in g.values()]
        sq = sum((v**2).sum(1) for v in flat)
        g2 = sum((v.mean(0) ** 2).sum() for v in flat)
        return sq, g2

    (sq, g2), timing = time_call(run, sync)
    return _stats(sq, g2), timing


def opacus_ghost_norms(spec, inputs):
    """Opacus' ghost-clipping norms (GradSampleModuleFastGradientClipping,
    ``use_ghost_clipping=True``): per-sample gradient norms of every Linear layer from its
    activations and backprops, read from ``per_sample_gradient_norms`` after
    ``loss.backward()`` (Opacus' documented use); the mean gradient is the ``.grad`` the
    same backward leaves."""
    from opacus.grad_sample import GradSampleModuleFastGradientClipping

    model, names, x, t, lossmod, scale, _ = build(spec, inputs)
    gsm = GradSampleModuleFastGradientClipping(model, loss_reduction="mean",
                                               use_ghost_clipping=True)

    def run():
        gsm.zero_grad(set_to_none=True)
        (scale * lossmod(gsm(x), t)).backward()
        norms = gsm.get_norm_sample()
        g2 = sum((q.grad**2).sum() for q in model.parameters())
        return norms**2, g2

    (sq, g2), timing = time_call(run, sync)
    return _stats(sq, g2), timing


# ------------------------------------------------------------------------------- NTK
def torchfunc_ntk(spec, inputs):
    """The torch.func tutorial's NTK: per-sample Jacobians by vmap(jacrev), then J J^T."""
    from torch.func import functional_call, jacrev, vmap

    model, _, x, _, _, _, _ = build(spec, inputs)
    params = {k: q.detach() for k, q in model.named_parameters()}

    def fi(p, xi):
        return functional_call(model, p, (xi[None],))[0, 0]

    def run():
        jac = vmap(jacrev(fi), (None, 0))(params, x)
        flat = torch.cat([j.reshape(x.shape[0], -1) for j in jac.values()], dim=1)
        return flat @ flat.T

    out, timing = time_call(run, sync)
    return {"K": out.cpu().numpy()}, timing


def nngeometry_ntk(spec, inputs):
    from nngeometry import GramMatrix
    from torch.utils.data import DataLoader, TensorDataset

    model, _, x, _, _, _, _ = build(spec, inputs)
    n = x.shape[0]
    loader = DataLoader(TensorDataset(x), batch_size=min(n, 1024), shuffle=False)

    def run():
        return GramMatrix(model, loader, function=lambda *d: model(d[0])).data

    out, timing = time_call(run, sync)
    return {"K": out.reshape(n, n).cpu().numpy()}, timing


REGISTRY = {
    "torchfunc_hessian": torchfunc_hessian_trace,
    "backpack_diag_hessian": backpack_diag_hessian,
    "curvlinops_hutchinson": _curv_trace("hutchinson_trace"),
    "curvlinops_hutchpp": _curv_trace("hutchpp_trace"),
    "curvlinops_xtrace": _curv_trace("xtrace"),
    "pyhessian_trace": pyhessian_trace,
    "pyhessian_eig": pyhessian_eig,
    "curvlinops_eig": curvlinops_eig,
    "pyhessian_density": pyhessian_density,
    "curvlinops_density": curvlinops_density,
    "torchfunc_psg": torchfunc_psg,
    "backpack_psg": backpack_psg,
    "opacus_psg": opacus_psg,
    "torchfunc_grad_stats": torchfunc_grad_stats,
    "opacus_ghost_norms": opacus_ghost_norms,
    "torchfunc_ntk": torchfunc_ntk,
    "nngeometry_ntk": nngeometry_ntk,
}


def setup(tasks):
    threads = os.environ.get("PEERS_THREADS")
    if threads:
        torch.set_num_threads(int(threads))


if __name__ == "__main__":
    run_tasks(REGISTRY, "torch", ["torch", "backpack-for-pytorch", "pyhessian", "opacus",
                                  "curvlinops-for-pytorch", "nngeometry", "numpy", "scipy"],
              setup)
