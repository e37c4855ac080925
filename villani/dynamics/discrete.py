r"""Discrete dynamics: GD, SGD, Nesterov and heavy ball as one jitted ``lax.scan`` over an
optax transformation, plus per-sample gradients and the gradient-noise scale.

$$\theta_{t+1} = \theta_t + \mathrm{update}_t\big(g_t\big),\qquad
g_t = \nabla\Big(\frac1{|B_t|}\sum_{i\in B_t}\ell_i + \frac\lambda2\|\theta\|^2\Big)(\theta_t),$$

with $B_t$ the full data set (GD), a minibatch drawn from the key (SGD), or a fresh batch
from a user's stream (one-pass SGD).

The one step is public, blackjax-style: :func:`stepper` returns ``(init, step)`` with
``init(params) -> TrainState`` and ``step(key, state) -> (state, StepInfo)`` (key first, as
every villani sampler); :func:`train` scans that step and adds the records and the
divergence bookkeeping. Every other public function takes ``key=`` by keyword.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

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
    eval_metrics,
    loss_ok,
    mask_records,
    sq_norm,
    tree_finite,
    tree_select,
)

__all__ = ["GradientNoise", "StepInfo", "Stepper", "TrainState", "gradient_noise", "per_sample_grads",
           "stepper", "train"]


def _batch_indices(key: PRNGKey, t: Array, n: int, batch_size: int, replace: bool) -> Array:
    """Minibatch indices for step ``t``, a pure function of ``(key, t)``.

    Without replacement the sample stream is a concatenation of independent
    permutations of ``range(n)`` (permutation ``e`` from ``fold_in(key, e)``), and
    step ``t`` takes stream positions ``[t B, (t+1) B)``: every sample appears exactly
    once in each block of ``n`` consecutive positions (an epoch). A batch may straddle
    two epochs when ``B`` does not divide ``n``.
    """
    if replace:
        return jax.random.randint(jax.random.fold_in(key, t), (batch_size,), 0, n)
    start = t * batch_size
    e0 = start // n
    pos = (start + jnp.arange(batch_size)) % n
    perm0 = jax.random.permutation(jax.random.fold_in(key, e0), n)
    if n % batch_size == 0:
        return perm0[pos]
    perm1 = jax.random.permutation(jax.random.fold_in(key, e0 + 1), n)
    in_first = (start + jnp.arange(batch_size)) // n == e0
    return jnp.where(in_first, perm0[pos], perm1[pos])


class TrainState(NamedTuple):
    """The state of a discrete run: params, optimiser state and the step counter ``t``."""

    params: Params
    opt_state: Any
    t: Array


class StepInfo(NamedTuple):
    """What one step saw: the (minibatch) loss and squared gradient norm at the old params,
    and ``descent`` = ⟨update, g⟩ (≤ 0 for a step that goes downhill to first order)."""

    loss: Array
    grad_norm2: Array
    descent: Array


class Stepper(NamedTuple):
    """A blackjax-style pair: ``init(params) -> TrainState``, ``step(key, state) -> (state, info)``."""

    init: Callable[[Params], TrainState]
    step: Callable[[PRNGKey, TrainState], tuple[TrainState, StepInfo]]


Stream = Callable[[PRNGKey], tuple[Array, Array]]


def _make_step(objective: Objective, optimizer: optax.GradientTransformation,
               batch_size: int | None, replace: bool, stream: Stream | None):
    n = objective.n

    def stream_loss(p, x, y):
        return jnp.mean(objective.loss(objective.predict(p, x), y)) + objective.regulariser(p)

    def step(key, state: TrainState):
        if stream is not None:
            x, y = stream(jax.random.fold_in(key, state.t))
            loss, g = jax.value_and_grad(stream_loss)(state.params, x, y)
        elif batch_size is None:
            loss, g = jax.value_and_grad(objective.value)(state.params)
        else:
            idx = _batch_indices(key, state.t, n, batch_size, replace)
            loss, g = jax.value_and_grad(objective.minibatch)(state.params, idx)
        updates, s_new = optimizer.update(g, state.opt_state, state.params)
        p_new = optax.apply_updates(state.params, updates)
        return TrainState(p_new, s_new, state.t + 1), StepInfo(loss, sq_norm(g), _vdot(updates, g))

    return step


def _check_stream(stream: Any) -> Stream | None:
    if stream is not None and not callable(stream):
        raise TypeError(f"stream: expected a function key -> (x, y), got {type(stream).__name__}")
    return stream


def stepper(objective: Objective, optimizer: optax.GradientTransformation, *,
            batch_size: int | None = None, replace: bool = False,
            stream: Stream | None = None) -> Stepper:
    r"""The discrete dynamics as a public ``(init, step)`` pair, blackjax-style (key first).

    ``init(params)`` gives a :class:`TrainState` ``(params, opt_state, t=0)``;
    ``step(key, state)`` takes one optimiser step on the gradient $g_t$ of

    * the full objective (``batch_size=None``, no ``stream``: GD);
    * the minibatch $B_t$ (``batch_size``): indices a pure function of ``(key, t)``, with
      replacement (``replace=True``) or from a stream of independent permutations
      (every sample once per epoch) **when the same key is passed at every step** (as
      :func:`train` does);
    * a fresh batch ``(x, y) = stream(fold_in(key, t))`` (``stream``: one-pass SGD on a
      data distribution; the objective's data are then only the evaluation set),
      $rac1{|B|}\sum_{i}\ell(y_i, f(	heta, x_i)) + rac\lambda2\|	heta\|^2$;

    and returns the new state and a :class:`StepInfo` (loss and $\|g_t\|^2$ at the old
    params). Pure: ``jit``, ``vmap`` and ``lax.scan`` it freely.

    Args:
        objective: the :class:`~villani.Objective`.
        optimizer: an optax ``GradientTransformation``.
        batch_size: minibatch size in ``[1, n]``, or ``None``.
        replace: draw minibatches with replacement.
        stream: a function ``key -> (x, y)`` giving a fresh batch, shapes ``(B, d)``, ``(B,)``.

    Returns:
        A :class:`Stepper` ``(init, step)``.

    Example:
        >>> from villani import nets, data, optim, Objective
        >>> ds = data.random_labels(jax.random.key(0), 32, 4)
        >>> obj = Objective(nets.two_layer(16), ds, loss="logistic")
        >>> init, step = stepper(obj, optim.sgd(0.5), batch_size=8)
        >>> state = init(obj.net.init(jax.random.key(1), 4))
        >>> state, info = jax.jit(step)(jax.random.key(2), state)
        >>> int(state.t)
        1
    """
    check_objective(objective)
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"optimizer: expected an optax GradientTransformation, got {optimizer!r}")
    stream = _check_stream(stream)
    if batch_size is not None:
        if stream is not None:
            raise ValueError("batch_size: a stream gives its own batches; pass batch_size or stream")
        batch_size = check_int("batch_size", batch_size, 1, objective.n, f" (n = {objective.n} samples)")
    step = _make_step(objective, optimizer, batch_size, bool(replace), stream)

    def init(params: Params) -> TrainState:
        return TrainState(params, optimizer.init(params), jnp.array(0, jnp.int32))

    return Stepper(init, step)


class _Carry(NamedTuple):
    params: Params
    opt_state: Any
    bad: Array
    bad_at: Array
    t: Array
    why: Array  # a villani.trajectory.REASONS index


@partial(jax.jit, static_argnames=("optimizer", "metrics", "steps", "every", "batch_size",
                                   "replace", "max_loss", "stream"))
def _train(objective, params, key, *, optimizer, metrics, steps, every, batch_size, replace,
           max_loss, stream):
    full_vg = jax.value_and_grad(objective.value)
    gd = batch_size is None and stream is None
    one_step = _make_step(objective, optimizer, batch_size, replace, stream)

    def flag(c: _Carry, ok: Array, at: Array, why: Array) -> _Carry:
        first = ~c.bad & ~ok
        bad_at = jnp.where(first, at, c.bad_at)
        return c._replace(bad=c.bad | ~ok, bad_at=bad_at, why=jnp.where(first, why, c.why))

    def step(c: _Carry, _):
        new, info = one_step(key, TrainState(c.params, c.opt_state, c.t))
        loss, g2 = info.loss, info.grad_norm2
        p_new, s_new = new.params, new.opt_state
        c = flag(c, loss_ok(loss, g2, max_loss), c.t, _tr.loss_reason(loss, g2))
        # a step size < 0 or NaN that was a tracer (vmap, sweep) shows as a first update
        # that points uphill or is not finite (0 is allowed here: a warm-up from 0)
        ug = info.descent
        uphill = (c.t == 0) & ~(jnp.isfinite(ug) & (ug <= 0))
        c = flag(c, ~uphill, c.t + 1, _tr.NOT_DESCENT)
        c = flag(c, tree_finite(p_new), c.t + 1, _tr.NONFINITE_PARAMS)
        # once bad, params and state stay at their last finite values
        p = tree_select(c.bad, c.params, p_new)
        s = tree_select(c.bad, c.opt_state, s_new)
        return c._replace(params=p, opt_state=s, t=c.t + 1), (loss, g2)

    def record(c: _Carry, first=None):
        if first is None:
            loss, g = full_vg(c.params)
            g2 = sq_norm(g)
        else:
            loss, g2 = first
        c = flag(c, loss_ok(loss, g2, max_loss), c.t, _tr.loss_reason(loss, g2))
        return c, (c.t, loss, g2, eval_metrics(metrics, c.params))

    def chunk(c: _Carry, length: int):
        if gd:  # the first step's full-batch loss and gradient are the record's
            c_new, (ls, g2s) = jax.lax.scan(step, c, length=length)
            _, rec = record(c, (ls[0], g2s[0]))
            return c_new, rec
        c, rec = record(c)
        c, _ = jax.lax.scan(step, c, length=length)
        return c, rec

    c = _Carry(params, optimizer.init(params), jnp.array(False),
               jnp.array(-1, jnp.int32), jnp.array(0, jnp.int32), jnp.array(0, jnp.int32))
    recs = []
    n_full, rem = divmod(steps, every)
    if n_full:
        c, r = jax.lax.scan(lambda c, _: chunk(c, every), c, length=n_full)
        recs.append(r)
    if rem:
        c, r = chunk(c, rem)
        recs.append(jax.tree_util.tree_map(lambda x: x[None], r))
    c, r = record(c)
    recs.append(jax.tree_util.tree_map(lambda x: x[None], r))
    ts, loss, g2, mets = jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs), *recs)
    # a step size of 0 (a tracer): the params never moved although the gradient was not 0
    still = jax.tree_util.tree_reduce(jnp.logical_and, jax.tree_util.tree_map(
        lambda a, b: jnp.all(a == b), c.params, params), jnp.array(True))
    flat = ~c.bad & still & (g2[0] > 0)
    c = c._replace(bad=c.bad | flat, bad_at=jnp.where(flat, 1, c.bad_at),
                   why=jnp.where(flat, _tr.NOT_DESCENT, c.why))
    valid = ~c.bad | (ts < c.bad_at)
    loss, g2, mets = mask_records(valid, loss, g2, mets)
    return Trajectory(steps=ts, loss=loss, grad_norm2=g2, metrics=mets, params=c.params,
                      opt_state=c.opt_state, valid=valid, diverged=c.bad, diverged_at=c.bad_at,
                      reason=c.why)


def _vdot(a: Any, b: Any) -> Array:
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def train(objective: Objective, optimizer: optax.GradientTransformation, params: Params,
          steps: int, *, key: PRNGKey | None = None, batch_size: int | None = None,
          stream: Stream | None = None, every: int = 1, metrics: Metrics = None,
          replace: bool = False, max_loss: float | None = None) -> Trajectory:
    r"""Run ``steps`` updates of an optax optimiser on ``objective`` in one jitted ``lax.scan``.

    The scanned step is :func:`stepper`'s, called with the same ``key`` at every step.

    $$\theta_{t+1} = \theta_t + \mathrm{update}(g_t),\qquad g_t = \nabla L_{B_t}(\theta_t),\quad
    L_B(\theta) = \frac1{|B|}\sum_{i\in B}\ell_i(\theta) + \frac\lambda2\|\theta\|^2 .$$

    ``batch_size=None`` is full-batch GD ($B_t$ = all samples). Otherwise $B_t$ is drawn
    from ``key``: with ``replace=True`` i.i.d. uniform indices; with ``replace=False`` from
    a stream of independent permutations (every sample exactly once per epoch of $n$
    draws; ``batch_size = n`` is then GD up to the summation order). With ``stream``, every
    step draws a fresh batch ``stream(fold_in(key, t))`` (one-pass SGD); the records are
    still the full-batch values on ``objective.data``, which serves as the evaluation set.

    Records are taken at steps $0, k, 2k, \dots$ (``k = every``) and at the final step:
    the full-batch $L$, $\|\nabla L\|^2$ and every ``metrics`` function, all at the
    record's params. Divergence: if at step $t$ the (minibatch) loss or gradient is
    non-finite or the loss exceeds ``max_loss`` (or the full-batch values at a record
    are), updates stop (params and optimiser state stay at their last finite values),
    ``diverged`` is set, ``diverged_at = t`` and the records from step $t$ on are invalid
    (``valid=False``, NaN). A first update that points uphill or is not finite
    ($\langle u_0, g_0\rangle > 0$ or NaN: a step size $< 0$ or NaN that arrived as a
    tracer, which the optimiser cannot check), and a run whose params never moved
    although $g_0 \ne 0$ (a step size 0), are flagged the same way at step 1.
    ``traj.reason`` says which (:data:`villani.trajectory.REASONS`). Turn it into a
    message with ``traj.raise_if_diverged(lr=...)``.

    Works under ``jax.jit`` and ``jax.vmap`` over keys, params and step sizes (build the
    optimiser inside the vmapped function from the traced step size). ``steps``,
    ``batch_size``, ``every``, ``replace`` and ``max_loss`` are static. Called outside
    ``jit``, the run is compiled once per (optimiser object, metrics functions, static
    arguments, shapes): pass the same optimiser object to reuse it.

    Args:
        objective: the :class:`~villani.Objective`.
        optimizer: an optax ``GradientTransformation`` (see :mod:`villani.optim`).
        params: initial params, a pytree matching ``objective.net``.
        steps: number of updates $\ge 1$.
        key: PRNG key for minibatches or the stream, keyword-only (unused by full-batch GD).
        batch_size: minibatch size in ``[1, n]``, or ``None`` for full batch.
        stream: a function ``key -> (x, y)`` giving a fresh batch per step (see :func:`stepper`).
        every: record every ``every`` steps ($\ge 1$).
        metrics: dict name -> ``fn(params) -> array``, evaluated at the records.
        replace: draw minibatches with replacement.
        max_loss: treat a loss above this as divergence (``None``: only non-finite).

    Returns:
        A :class:`~villani.Trajectory` with ``ceil(steps / every) + 1`` records.

    Example:
        >>> from villani import nets, data, optim, Objective
        >>> ds = data.random_labels(jax.random.key(0), 32, 4)
        >>> obj = Objective(nets.two_layer(16), ds, loss="logistic", l2=0.01)
        >>> p0 = obj.net.init(jax.random.key(1), 4)
        >>> traj = train(obj, optim.sgd(0.5), p0, 100, key=jax.random.key(2), batch_size=8, every=10)
        >>> traj.loss.shape
        (11,)
        >>> keys = jax.random.split(jax.random.key(3), 8)  # 8 seeds in one call
        >>> run = lambda k: train(obj, optim.gd(0.5), obj.net.init(k, 4), 100, every=10)
        >>> jax.vmap(run)(keys).loss.shape
        (8, 11)
    """
    check_objective(objective)
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"optimizer: expected an optax GradientTransformation, got {optimizer!r}")
    check_params(objective, params)
    n = objective.n
    if hasattr(steps, "dtype") and jax.dtypes.issubdtype(steps.dtype, jax.dtypes.prng_key):
        raise TypeError("train: the key is keyword-only (villani's key convention): "
                        "train(objective, optimizer, params, steps, key=key)")
    steps = check_int("steps", steps, 1)
    stream = _check_stream(stream)
    if stream is not None and batch_size is not None:
        raise ValueError("batch_size: a stream gives its own batches; pass batch_size or stream")
    if batch_size is not None or stream is not None:
        key = _checks.key(key)
    elif key is None:
        key = jax.random.key(0)  # unused by full-batch GD
    every = check_int("every", every, 1)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1, n, f" (n = {n} samples)")
        if steps * batch_size >= 2**31:
            raise ValueError(f"steps: steps * batch_size must stay below 2**31 (int32), got "
                             f"{steps} * {batch_size}")
    if max_loss is not None:
        if not is_concrete(max_loss):
            raise TypeError("max_loss: expected a Python float (it is static), got a tracer")
        max_loss = float(max_loss)
        if np.isnan(max_loss):
            raise ValueError("max_loss: expected a number or None, got nan")
    return _train(objective, params, key, optimizer=optimizer, metrics=check_metrics(metrics),
                  steps=steps, every=every, batch_size=batch_size, replace=bool(replace),
                  max_loss=max_loss, stream=stream)


def _sample_loss(objective: Objective) -> Callable[[Params, Array, Array], Array]:
    def one(p, xi, yi):
        return objective.loss(objective.net.apply(p, xi), yi) + objective.regulariser(p)

    return one


def per_sample_grads(objective: Objective, params: Params, idx: Array | None = None) -> Params:
    r"""Per-sample gradients $g_i = \nabla_\theta\big(\ell_i(\theta) + \frac\lambda2\|\theta\|^2\big)$.

    The regulariser is included in every sample's gradient, so that
    $\frac1n\sum_i g_i = \nabla L$ (``objective.grad``) and a minibatch mean is the
    minibatch gradient SGD uses; it shifts every $g_i$ by the same $\lambda\theta$, so
    it does not change their covariance. Computed as ``vmap(grad)``: memory $n\times p$.

    Args:
        objective: the :class:`~villani.Objective`.
        params: the params.
        idx: optional ``(b,)`` sample indices (default: all $n$).

    Returns:
        A pytree like ``params`` with a leading sample axis of length $n$ (or $b$).

    Example:
        >>> g = per_sample_grads(obj, params)  # doctest: +SKIP
        >>> g["w"].shape  # (n, m, d)  # doctest: +SKIP
    """
    x, y = objective.data.x, objective.data.y
    if idx is not None:
        x, y = x[idx], y[idx]
    return jax.vmap(jax.grad(_sample_loss(objective)), in_axes=(None, 0, 0))(params, x, y)


class GradientNoise(NamedTuple):
    r"""Gradient-noise summary at one point (see :func:`gradient_noise`).

    Attributes:
        trace: $\operatorname{tr}\Sigma$, $\Sigma$ the per-sample-gradient covariance.
        grad_norm2: $\|\nabla L\|^2$.
        noise_scale: $B_\mathrm{noise} = \operatorname{tr}\Sigma/\|\nabla L\|^2$.
    """

    trace: Array
    grad_norm2: Array
    noise_scale: Array


def gradient_noise(objective: Objective, params: Params) -> GradientNoise:
    r"""Trace of the per-sample-gradient covariance and the gradient-noise scale.

    $$\Sigma = \frac1n\sum_{i=1}^n (g_i - \bar g)(g_i - \bar g)^\top,\qquad
    \operatorname{tr}\Sigma = \frac1n\sum_i\|g_i - \bar g\|^2,\qquad
    B_\mathrm{noise} = \frac{\operatorname{tr}\Sigma}{\|\bar g\|^2},$$

    $\bar g = \nabla L$. $\Sigma$ is the covariance of one uniformly drawn sample's
    gradient, so a with-replacement minibatch gradient of size $B$ has covariance
    $\Sigma/B$ (the SDE of :func:`~villani.sgd_sde`); without replacement it is
    $\Sigma/B\cdot(n-B)/(n-1)$. $B_\mathrm{noise}$ is the batch size at which the
    minibatch noise power equals the squared gradient (McCandlish et al. 2018's simple
    noise scale). Never forms a $p\times p$ matrix (memory $n\times p$).

    Args:
        objective: the :class:`~villani.Objective`.
        params: the params.

    Returns:
        :class:`GradientNoise` ``(trace, grad_norm2, noise_scale)``, scalars.

    Example:
        >>> gradient_noise(obj, params).noise_scale  # doctest: +SKIP

    References:
        McCandlish, Kaplan, Amodei et al., arXiv 1812.06162.
    """
    check_objective(objective)
    return _gradient_noise(objective, params)


@jax.jit  # one program: op-by-op, the first call's compilations outlast the computation
def _gradient_noise(objective: Objective, params: Params) -> GradientNoise:
    g = per_sample_grads(objective, params)
    mean = jax.tree_util.tree_map(lambda x: jnp.mean(x, axis=0), g)
    tr = sum(jnp.sum((x - m[None]) ** 2) for x, m in
             zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(mean))) / objective.n
    g2 = sq_norm(mean)
    return GradientNoise(tr, g2, tr / g2)
