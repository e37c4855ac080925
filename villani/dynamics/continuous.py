r"""Continuous dynamics with diffrax: gradient flow, overdamped Langevin and the stochastic
modified equation of SGD. Each returns a :class:`~villani.Trajectory` whose ``steps`` are
the save times, so the plots and rate fits that read :func:`~villani.train` read these.

The solve runs as a ``lax.scan`` over the intervals between save times, one
``diffeqsolve`` per interval: the records (full-batch loss, $\|\nabla L\|^2$, metrics)
are computed at the save points without storing a params pytree per save, and a
divergence (a non-finite state or a failed solve) freezes the state at its last finite
value, as :func:`~villani.train` does. ``diverged_at`` is then the first invalid save
*index*.

Langevin's default (fixed-step Euler–Maruyama, ``UnsafeBrownianPath``) skips diffrax:
:func:`_solve_em` takes the same steps as ``diffrax.Euler`` with ``ConstantStepSize``
(each save interval cut into $N = \lceil \Delta t/dt\rceil$ steps) in one scan, and
evaluates the loss together with the drift's gradient, so a save point's records reuse
the gradient the next step needs: $N_{\text{steps}} + 1$ gradients in all, against
$N_{\text{steps}}$ plus one per save point (and a per-interval solve) through diffrax.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import lineax
import numpy as np

from .. import _checks
from .. import trajectory as _tr
from .._types import Array, Params, PRNGKey, is_concrete
from ..losses import Objective
from ..trajectory import Trajectory
from ._common import (
    Metrics,
    check_int,
    check_metrics,
    check_objective,
    check_params,
    check_positive,
    eval_metrics,
    loss_ok,
    mask_records,
    sq_norm,
    tree_finite,
    tree_select,
)

__all__ = ["gradient_flow", "langevin", "sgd_sde"]

_DEFAULT_SAVES = 101


def _static_float(name: str, v: Any) -> float:
    if not is_concrete(v):
        raise TypeError(f"{name}: expected a Python number (it fixes the time grid), got a tracer")
    check_positive(name, v)
    return float(np.asarray(v))


def _save_times(saveat: Any, t1: float) -> tuple[tuple[float, ...], bool]:
    """Concrete save times and whether t = 0 is one of them.

    ``None``: 101 evenly spaced times in [0, t1]; an int k >= 2: k of them; an array:
    increasing times in [0, t1].
    """
    if saveat is None or isinstance(saveat, int | np.integer):
        k = _DEFAULT_SAVES if saveat is None else check_int("saveat", saveat, 2)
        ts = np.linspace(0.0, t1, k)
    else:
        if not is_concrete(saveat):
            raise TypeError("saveat: expected concrete save times (they fix the output shape)")
        ts = np.asarray(saveat, dtype=float)
        if ts.ndim != 1 or ts.size < 1:
            raise ValueError(f"saveat: expected a 1-D array of save times, got shape {ts.shape}")
        if not np.all(np.isfinite(ts)) or ts[0] < 0 or ts[-1] > t1 * (1 + 1e-12) \
                or np.any(np.diff(ts) <= 0):
            raise ValueError(f"saveat: expected strictly increasing times in [0, t1={t1}], got {ts}")
    has0 = bool(ts[0] == 0.0)
    grid = ts if has0 else np.concatenate([[0.0], ts])
    return tuple(float(t) for t in grid), has0


def _diag_scale_operator(scale: Array, structure: Any) -> lineax.AbstractLinearOperator:
    return lineax.FunctionLinearOperator(
        lambda w: jax.tree_util.tree_map(lambda x: scale * x, w), structure)


def _em_steps(grid: tuple[float, ...], dt: float, dtype: Any) -> np.ndarray | None:
    r"""Step sizes (intervals x steps) of fixed-step Euler over the save intervals.

    On each interval $[t_a, t_b]$: $N = \lceil (t_b - t_a)/dt \rceil$ steps, a ratio
    within $10^{-6}$ (relative) of an integer counting as that integer, ending at
    $t_a + dt$, then $t_a + (t_b - t_a) j/N$, the last at $t_b$ -- diffrax's
    ``ConstantStepSize`` sequence, computed in float64 from the save times and then cast
    to ``dtype``. (diffrax computes $N$ in the state's dtype: in float32 the rounding of
    the save times makes $(t_b - t_a)/dt$ land just above an integer on some intervals,
    and it then takes one extra, shorter step there.) ``None`` when the intervals need
    different numbers of steps (one scan needs a fixed count).
    """
    ts = np.asarray(grid, dtype=np.float64)
    counts = []
    for ta, tb in zip(ts[:-1], ts[1:]):
        r = (tb - ta) / dt
        counts.append(int(round(r)) if abs(r - round(r)) <= 1e-6 * max(r, 1.0) else math.ceil(r))
    if len(set(counts)) != 1 or counts[0] < 1:
        return None
    n = counts[0]
    rows = []
    for ta, tb in zip(ts[:-1], ts[1:]):
        t = ta + (tb - ta) * (np.arange(1, n + 1) / n)
        t[0] = ta + dt if n > 1 else tb
        t[-1] = tb
        rows.append(np.diff(np.concatenate([[ta], t])))
    return np.stack(rows).astype(dtype)


# Langevin's noise is drawn a chunk of steps at a time: at most _NOISE_CHUNK_STEPS steps
# and (beyond one step) at most _NOISE_CHUNK_ELEMS numbers per particle, so the memory
# of a call does not grow with the number of steps per save interval. Each chunk is one
# more iteration of a nested scan, a few tenths of a ms apiece on a 2-core CPU
# (benchmarks/bench_sde_chunks.py: 10 chunks of 50 steps made a 500-step, p = 288 run
# 1.22x a flat scan), so chunks are as long as the memory cap allows: the numbers cap
# binds first beyond p = 256.
_NOISE_CHUNK_STEPS = 1024
_NOISE_CHUNK_ELEMS = 2**18


def _noise_chunk(n_steps: int, n_params: int) -> int:
    """Steps per noise draw for intervals of ``n_steps`` steps of a state of ``n_params``
    numbers: the cap $C$ set above, or its largest divisor of ``n_steps`` when that is at
    least $C/4$ (then every chunk has the same length and the step is compiled once)."""
    cap = int(max(1, min(_NOISE_CHUNK_STEPS, _NOISE_CHUNK_ELEMS // max(n_params, 1))))
    if n_steps <= cap:
        return n_steps
    div = max(c for c in range(1, cap + 1) if n_steps % c == 0)
    return div if 4 * div >= cap else cap


@partial(jax.jit, static_argnames=("grid", "has0", "metrics", "max_loss"))
def _solve_em(objective, params, key, coef, steps, *, grid, has0, metrics, max_loss):
    r"""Overdamped Langevin by Euler–Maruyama in one scan (the default ``langevin``).

    ``steps`` (intervals x N) are the step sizes :func:`_em_steps` gives. The state
    carries $(\theta, L(\theta), \nabla L(\theta))$: each step is
    $\theta \leftarrow \theta + (-h\nabla L(\theta) + c\sqrt h\,\xi)$, $\xi \sim N(0, I)$,
    followed by one ``value_and_grad`` at the new point, so the records at a save point
    (loss, $\|\nabla L\|^2$) come from the gradient the next step uses.

    The noise is drawn in chunks of $C \le 1024$ steps and $C p \le 2^{18}$ numbers
    (:func:`_noise_chunk`) inside the interval's scan, so memory stays $O(C\,p)$, at most
    $2^{18}$ numbers per particle, however many steps a save interval has. With
    $k_i$ = ``fold_in(fold_in(key, k), i)`` for interval $k$, leaf $i$: an interval of
    $N \le C$ steps draws its $N$ steps from $k_i$; a longer one draws chunk $j$ ($C$ steps,
    the last one the remaining $N \bmod C$) from ``fold_in(k_i, j)``.
    """
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    leaves0, treedef = jax.tree_util.tree_flatten(params)
    vg = jax.value_and_grad(objective.value)
    n_steps = steps.shape[1]
    chunk_len = _noise_chunk(n_steps, sum(x.size for x in leaves0))

    def step(c, xs):
        y, _, g = c
        h, z = xs
        sh = jnp.sqrt(h)
        y = jax.tree_util.tree_map(lambda x, gx, zx: x + (-(h * gx) + coef * (sh * zx)), y, g, z)
        loss, g = vg(y)
        return (y, loss, g), None

    def noise(kk, j, rows):
        # leaf i of chunk j: N(0, I) of shape (rows,) + leaf shape from fold_in(kk, i),
        # further folded with j when the interval has more than one chunk
        ks = [jax.random.fold_in(kk, i) for i in range(len(leaves0))]
        if j is not None:
            ks = [jax.random.fold_in(k, j) for k in ks]
        z = [jax.random.normal(k, (rows,) + x.shape, x.dtype) for k, x in zip(ks, leaves0)]
        return jax.tree_util.tree_unflatten(treedef, z)

    def run_interval(c, kk, hs):
        if n_steps <= chunk_len:
            c, _ = jax.lax.scan(step, c, (hs, noise(kk, None, n_steps)))
            return c

        def chunk(c, xs):
            j, hs_j = xs
            c, _ = jax.lax.scan(step, c, (hs_j, noise(kk, j, chunk_len)))
            return c, None

        n_full, rem = divmod(n_steps, chunk_len)
        c, _ = jax.lax.scan(chunk, c, (jnp.arange(n_full, dtype=jnp.int32),
                                       hs[:n_full * chunk_len].reshape(n_full, chunk_len)))
        if rem:
            c, _ = jax.lax.scan(step, c, (hs[n_full * chunk_len:], noise(kk, n_full, rem)))
        return c

    def interval(c, xs):
        (y, loss, g), bad, bad_at, why = c
        k, hs = xs
        kk = jax.random.fold_in(key, k)
        new = run_interval((y, loss, g), kk, hs)
        y_new, loss_new, g_new = new
        g2 = sq_norm(g_new)
        mets = eval_metrics(metrics, y_new)
        finite = tree_finite(y_new)
        ok = finite & loss_ok(loss_new, g2, max_loss)
        first = ~bad & ~ok
        bad_at = jnp.where(first, k + 1, bad_at)
        why = jnp.where(first, jnp.where(finite, _tr.loss_reason(loss_new, g2), _tr.NONFINITE_PARAMS),
                        why)
        bad = bad | ~ok
        state = tree_select(bad, (y, loss, g), new)
        return (state, bad, bad_at, why), (loss_new, g2, mets)

    loss0, g0 = vg(params)
    g20 = sq_norm(g0)
    mets0 = eval_metrics(metrics, params)
    ok0 = loss_ok(loss0, g20, max_loss)
    c = ((params, loss0, g0), ~ok0, jnp.where(ok0, -1, 0).astype(jnp.int32),
         jnp.where(ok0, 0, _tr.loss_reason(loss0, g20)).astype(jnp.int32))
    ks = jnp.arange(steps.shape[0], dtype=jnp.int32)
    c, (loss, g2, mets) = jax.lax.scan(interval, c, (ks, jnp.asarray(steps, dtype)))
    (y, _, _), bad, bad_at, why = c
    return _finish(grid, has0, dtype, y, bad, bad_at, (loss0, g20, mets0), (loss, g2, mets), why)


def _finish(grid, has0, dtype, y, bad, bad_at, first, rest, why):
    """The Trajectory from the records at t = 0 (``first``) and at the later save times;
    ``why`` is the stop's :data:`villani.trajectory.REASONS` code."""
    (loss0, g20, mets0), (loss, g2, mets) = first, rest
    cat = lambda a, b: jnp.concatenate([jnp.asarray(a)[None], b])  # noqa: E731
    loss, g2 = cat(loss0, loss), cat(g20, g2)
    mets = {k: cat(mets0[k], v) for k, v in mets.items()}
    idx = jnp.arange(len(grid), dtype=jnp.int32)
    valid = ~bad | (idx < bad_at)
    ts = jnp.asarray(grid, dtype=dtype)
    if not has0:  # t = 0 was only the start, not a requested save
        ts, loss, g2, valid = ts[1:], loss[1:], g2[1:], valid[1:]
        mets = {k: v[1:] for k, v in mets.items()}
        bad_at = jnp.where(bad, jnp.maximum(bad_at - 1, 0), bad_at)
    loss, g2, mets = mask_records(valid, loss, g2, mets)
    return Trajectory(steps=ts, loss=loss, grad_norm2=g2, metrics=mets, params=y, opt_state=None,
                      valid=valid, diverged=bad, diverged_at=bad_at, reason=why)


@partial(jax.jit, static_argnames=("grid", "has0", "kind", "solver", "controller", "dt",
                                   "max_steps", "metrics", "brownian", "max_loss"))
def _solve(objective, params, key, coef, *, grid, has0, kind, solver, controller, dt,
           max_steps, metrics, brownian, max_loss):
    """One ``diffeqsolve`` per save interval inside a ``lax.scan``; see module docstring.

    ``coef`` is the diffusion coefficient: $\\sqrt{2T}$ (langevin), $\\sqrt{\\eta/B}/\\sqrt n$
    (sgd_sde), unused for the gradient flow. Langevin with fixed-step Euler–Maruyama
    and ``brownian="unsafe"`` (its default) goes to :func:`_solve_em`.
    """
    if kind == "langevin" and brownian == "unsafe" and type(solver) is diffrax.Euler \
            and type(controller) is diffrax.ConstantStepSize:
        dtype = np.dtype(jax.tree_util.tree_leaves(params)[0].dtype)
        steps = _em_steps(grid, dt, dtype)
        if steps is not None:
            return _solve_em(objective, params, key, coef, steps, grid=grid, has0=has0,
                             metrics=metrics, max_loss=max_loss)
    t_end = grid[-1]
    structure = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    drift = diffrax.ODETerm(lambda t, y, args: jax.tree_util.tree_map(jnp.negative,
                                                                      objective.grad(y)))
    if kind == "flow":
        terms = drift
    else:
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        if kind == "langevin":
            bshape = structure

            def diffusion(t, y, args):
                return _diag_scale_operator(coef, structure)
        else:  # sgd_sde: sigma dW = c * G^T xi = c * d/dtheta sum_i (xi_i - mean xi) l_i
            bshape = jax.ShapeDtypeStruct((objective.n,), dtype)

            def diffusion(t, y, args):
                _, vjp = jax.vjp(objective.per_sample, y)

                def mv(xi):
                    (g,) = vjp(xi - jnp.mean(xi))
                    return jax.tree_util.tree_map(lambda x: coef * x, g)

                return lineax.FunctionLinearOperator(mv, bshape)
        if brownian == "unsafe":
            path = diffrax.UnsafeBrownianPath(shape=bshape, key=key)
        else:
            path = diffrax.VirtualBrownianTree(0.0, t_end, tol=dt / 8, shape=bshape, key=key)
        terms = diffrax.MultiTerm(drift, diffrax.ControlTerm(diffusion, path))

    # UnsafeBrownianPath cannot be reverse-differentiated; forward mode is what it allows
    adjoint = diffrax.ForwardMode() if kind != "flow" and brownian == "unsafe" \
        else diffrax.RecursiveCheckpointAdjoint()

    def record(y):
        loss, g = jax.value_and_grad(objective.value)(y)
        g2 = sq_norm(g)
        return loss, g2, eval_metrics(metrics, y)

    def body(c, k):
        y, bad, bad_at, why = c
        ta, tb = grid_arr[k], grid_arr[k + 1]
        sol = diffrax.diffeqsolve(terms, solver, ta, tb, dt, y, stepsize_controller=controller,
                                  max_steps=max_steps, throw=False, adjoint=adjoint,
                                  saveat=diffrax.SaveAt(t1=True))
        y_new = jax.tree_util.tree_map(lambda x: x[-1], sol.ys)
        loss, g2, mets = record(y_new)
        ok = (sol.result == diffrax.RESULTS.successful) & tree_finite(y_new) \
            & loss_ok(loss, g2, max_loss)
        # an exhausted max_steps is reported as such, not as a divergence
        code = jnp.where(sol.result == diffrax.RESULTS.max_steps_reached, _tr.MAX_STEPS,
                         jnp.where(sol.result != diffrax.RESULTS.successful, _tr.SOLVER_FAILED,
                                   jnp.where(tree_finite(y_new), _tr.loss_reason(loss, g2),
                                             _tr.NONFINITE_PARAMS)))
        why = jnp.where(~bad & ~ok, code, why)
        bad_at = jnp.where(~bad & ~ok, k + 1, bad_at)
        bad = bad | ~ok
        y = tree_select(bad, y, y_new)
        return (y, bad, bad_at, why), (loss, g2, mets)

    grid_arr = jnp.asarray(grid, dtype=jax.tree_util.tree_leaves(params)[0].dtype)
    loss0, g20, mets0 = record(params)
    ok0 = loss_ok(loss0, g20, max_loss)
    c = (params, ~ok0, jnp.where(ok0, -1, 0).astype(jnp.int32),
         jnp.where(ok0, 0, _tr.loss_reason(loss0, g20)).astype(jnp.int32))
    c, (loss, g2, mets) = jax.lax.scan(body, c, jnp.arange(len(grid) - 1, dtype=jnp.int32))
    y, bad, bad_at, why = c
    return _finish(grid, has0, grid_arr.dtype, y, bad, bad_at, (loss0, g20, mets0),
                   (loss, g2, mets), why)


def _max_loss(max_loss: Any) -> float | None:
    if max_loss is None:
        return None
    if not is_concrete(max_loss):
        raise TypeError("max_loss: expected a Python float (it is static), got a tracer")
    v = float(max_loss)
    if math.isnan(v):
        raise ValueError("max_loss: expected a number or None, got nan")
    return v


def gradient_flow(objective: Objective, params: Params, t1: float, *, saveat: Any = None,
                  rtol: float = 1e-6, atol: float = 1e-9, solver: Any = None,
                  max_steps: int = 4096, metrics: Metrics = None,
                  max_loss: float | None = None) -> Trajectory:
    r"""Gradient flow $\dot\theta = -\nabla L(\theta)$ on $[0, t_1]$ with an adaptive solver.

    Tsit5 with a PID step-size controller by default (diffrax). Records the full-batch
    $L$, $\|\nabla L\|^2$ and ``metrics`` at the save times. A failed solve or a
    non-finite state marks the run diverged (see :func:`~villani.train`); a save interval
    that needs more than ``max_steps`` solver steps stops the run the same way but with
    ``reason = 5``, which the divergence message reports as "not a divergence".

    Args:
        objective: the :class:`~villani.Objective`.
        params: $\theta(0)$, a pytree matching ``objective.net``.
        t1: final time $> 0$ (a Python number).
        saveat: save times: ``None`` (101 evenly spaced in $[0, t_1]$), an int $k \ge 2$
            ($k$ evenly spaced), or an increasing array in $[0, t_1]$.
        rtol, atol: tolerances of the PID controller.
        solver: a diffrax ODE solver (default ``diffrax.Tsit5()``).
        max_steps: solver steps allowed per save interval.
        metrics: dict name -> ``fn(params) -> array`` evaluated at the save times.
        max_loss: treat a loss above this as divergence.

    Returns:
        A :class:`~villani.Trajectory` with ``steps`` = save times, ``opt_state=None``.

    Example:
        >>> traj = gradient_flow(obj, params, 10.0, saveat=11)  # doctest: +SKIP
        >>> traj.steps.shape  # doctest: +SKIP
        (11,)
    """
    check_objective(objective)
    check_params(objective, params)
    t1 = _static_float("t1", t1)
    rtol = _static_float("rtol", rtol)
    atol = _static_float("atol", atol)
    max_steps = check_int("max_steps", max_steps, 1)
    grid, has0 = _save_times(saveat, t1)
    solver = diffrax.Tsit5() if solver is None else solver
    controller = diffrax.PIDController(rtol=rtol, atol=atol)
    return _solve(objective, params, jax.random.key(0), 0.0, grid=grid, has0=has0, kind="flow",
                  solver=solver, controller=controller, dt=None, max_steps=max_steps,
                  metrics=check_metrics(metrics), brownian="unsafe", max_loss=_max_loss(max_loss))


def _sde_setup(objective, params, t1, dt, saveat, solver, brownian, stepsize_controller):
    check_objective(objective)
    check_params(objective, params)
    t1 = _static_float("t1", t1)
    dt = _static_float("dt", dt)
    if dt > t1:
        raise ValueError(f"dt: expected a step dt <= t1 = {t1}, got {dt}")
    if brownian not in ("unsafe", "virtual"):
        raise ValueError(f"brownian: expected 'unsafe' or 'virtual', got {brownian!r}")
    grid, has0 = _save_times(saveat, t1)
    solver = diffrax.Euler() if solver is None else solver
    controller = diffrax.ConstantStepSize() if stepsize_controller is None else stepsize_controller
    if brownian == "unsafe" and not isinstance(controller, diffrax.ConstantStepSize):
        raise ValueError("brownian: an adaptive step-size controller needs brownian='virtual'")
    longest = max(b - a for a, b in zip(grid[:-1], grid[1:]))
    max_steps = int(math.ceil(longest / dt * (1 + 1e-9))) + 1
    if not isinstance(controller, diffrax.ConstantStepSize):
        max_steps = 16 * max_steps
    return dict(grid=grid, has0=has0, solver=solver, controller=controller, dt=dt,
                max_steps=max_steps, brownian=brownian)


def langevin(objective: Objective, params: Params, t1: float, dt: float,
             temperature: float, *, key: PRNGKey, saveat: Any = None, solver: Any = None,
             brownian: str = "unsafe", stepsize_controller: Any = None,
             metrics: Metrics = None, max_loss: float | None = None) -> Trajectory:
    r"""Overdamped Langevin dynamics $d\theta = -\nabla L(\theta)\,dt + \sqrt{2T}\,dW_t$.

    Its stationary law (when $e^{-L/T}$ is integrable) is the Gibbs measure
    $\propto \exp(-L(\theta)/T)$; on a quadratic with Hessian $H$ it is
    $N(\theta^*, T H^{-1})$. Fixed-step Euler–Maruyama with ``diffrax.UnsafeBrownianPath``
    by default (as fast as a hand-written scan: benchmarks/README.md); ``brownian="virtual"`` uses a
    ``VirtualBrownianTree`` (tolerance ``dt/8``), needed for adaptive steps (pass a
    ``stepsize_controller``) or for refining ``dt`` on the same Brownian path. With
    $T = 0$ the Euler–Maruyama step is exactly the deterministic Euler step.

    Vmap over keys for particles: ``jax.vmap(lambda k: langevin(obj, p0, ..., key=k))(keys)``.

    Args:
        objective: the :class:`~villani.Objective`.
        params: $\theta(0)$.
        t1: final time $> 0$. dt: step $0 < dt \le t_1$ (Python numbers).
        temperature: $T \ge 0$ (may be traced, e.g. vmapped).
        key: PRNG key of the Brownian path (keyword-only).
        saveat: save times, as in :func:`gradient_flow`.
        solver: a diffrax SDE solver (default ``diffrax.Euler()``, i.e. Euler–Maruyama).
        brownian: ``"unsafe"`` or ``"virtual"``.
        stepsize_controller: a diffrax controller (default constant steps of ``dt``).
        metrics: dict name -> ``fn(params) -> array`` at the save times.
        max_loss: treat a loss above this as divergence.

    Returns:
        A :class:`~villani.Trajectory` (``steps`` = save times, ``opt_state=None``).

    Example:
        >>> keys = jax.random.split(jax.random.key(0), 1000)  # doctest: +SKIP
        >>> run = lambda k: langevin(obj, p0, 5.0, 0.01, 0.1, key=k, saveat=11)  # doctest: +SKIP
        >>> jax.vmap(run)(keys).loss.shape  # doctest: +SKIP
        (1000, 11)

    References:
        Shi, Su, Jordan, arXiv 2004.06977 (docs/papers/000.md).
    """
    cfg = _sde_setup(objective, params, t1, dt, saveat, solver, brownian, stepsize_controller)
    key = _checks.key(key)
    check_positive("temperature", temperature, allow_zero=True)
    coef = jnp.sqrt(2.0 * jnp.asarray(temperature, jax.tree_util.tree_leaves(params)[0].dtype))
    return _solve(objective, params, key, coef, kind="langevin", metrics=check_metrics(metrics),
                  max_loss=_max_loss(max_loss), **cfg)


def sgd_sde(objective: Objective, params: Params, lr: float, batch_size: int,
            t1: float, dt: float, *, key: PRNGKey, saveat: Any = None, solver: Any = None,
            brownian: str = "unsafe", stepsize_controller: Any = None,
            metrics: Metrics = None, max_loss: float | None = None) -> Trajectory:
    r"""The stochastic modified equation of SGD,
    $d\theta = -\nabla L(\theta)\,dt + \sqrt{\eta/B}\;\Sigma(\theta)^{1/2}\,dW_t$.

    $\Sigma = \frac1n\sum_i (g_i - \bar g)(g_i - \bar g)^\top$ is the per-sample-gradient
    covariance (:func:`~villani.gradient_noise`; with-replacement minibatches of size $B$
    have gradient covariance $\Sigma/B$). It is never formed: with $G$ the $n\times p$
    matrix of centred per-sample gradients, $\Sigma = G^\top G/n$, so for an
    $n$-dimensional Brownian increment $\xi$ the increment $G^\top\xi/\sqrt n$ has
    covariance $\Sigma\,dt$ — hence the $\sqrt n$ (not $\sqrt{n-1}$) normalisation, which
    matches this (population) $\Sigma$. And
    $G^\top\xi = \nabla_\theta\sum_i(\xi_i - \bar\xi)\,\ell_i(\theta)$ is one VJP of the
    per-sample losses (the regulariser cancels in the centring): the diffusion is a
    ``diffrax.ControlTerm`` whose vector field returns a ``lineax.FunctionLinearOperator``,
    so each step costs one gradient (drift) plus one VJP.
    Time is measured so that SGD step $k$ sits at $t = k\eta$.

    Args:
        objective: the :class:`~villani.Objective`.
        params: $\theta(0)$.
        lr: SGD step size $\eta > 0$ (may be traced).
        batch_size: $B$ in $[1, n]$ (may be traced).
        t1: final time $> 0$. dt: step $0 < dt \le t_1$ (Python numbers).
        key: PRNG key of the $n$-dimensional Brownian path (keyword-only).
        saveat, solver, brownian, stepsize_controller, metrics, max_loss: as in
            :func:`langevin`.

    Returns:
        A :class:`~villani.Trajectory` (``steps`` = save times, ``opt_state=None``).

    Example:
        >>> traj = sgd_sde(obj, p0, 0.1, 8, 5.0, 0.01, key=jax.random.key(0))  # doctest: +SKIP

    References:
        Li, Tai, E, "Stochastic modified equations", arXiv 1511.06251; docs/papers/000.md.
    """
    cfg = _sde_setup(objective, params, t1, dt, saveat, solver, brownian, stepsize_controller)
    key = _checks.key(key)
    check_positive("lr", lr)
    if is_concrete(batch_size):
        check_int("batch_size", batch_size, 1, objective.n, f" (n = {objective.n} samples)")
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    coef = jnp.sqrt(jnp.asarray(lr, dtype) / jnp.asarray(batch_size, dtype) / objective.n)
    return _solve(objective, params, key, coef, kind="sgd_sde", metrics=check_metrics(metrics),
                  max_loss=_max_loss(max_loss), **cfg)
