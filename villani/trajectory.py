r"""The :class:`Trajectory` pytree every dynamics returns and every diagnostic reads.

Discrete runs (``train``) record at step indices; continuous ones (``gradient_flow``,
``langevin``, ``sgd_sde``) at save times. Either way ``steps[k]`` is the x-axis of
record ``k``. A run that diverges keeps its params at the last finite value and marks
every record from the first bad one on as invalid (``valid[k] = False``, value NaN):
use :meth:`Trajectory.raise_if_diverged` or :func:`divergence_message` rather than
reading NaNs as data.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from ._types import Array, Params

__all__ = ["DivergenceError", "REASONS", "Trajectory", "divergence_message"]

# Why a run stopped being valid: ``Trajectory.reason`` holds an index into REASONS.
NONE, NONFINITE, ABOVE_MAX_LOSS, NONFINITE_PARAMS, NOT_DESCENT, MAX_STEPS, SOLVER_FAILED = range(7)
REASONS = (
    "none",
    "non-finite loss or gradient",
    "loss above max_loss",
    "non-finite parameters after an update",
    "the step size looks <= 0 or NaN, not a descent direction: the first update points uphill or "
    "is not finite, or the params never moved although the gradient was not 0 (a traced step "
    "size under vmap or sweep, which the optimiser could not check)",
    "not a divergence: the ODE solver used up max_steps in one save interval (raise max_steps, "
    "loosen rtol/atol, or save more often)",
    "the solver failed",
)
"""Reason texts, indexed by :attr:`Trajectory.reason`."""


def loss_reason(loss: Any, g2: Any) -> Any:
    """The reason code of a record whose loss or gradient failed its check."""
    return jnp.where(jnp.isfinite(loss) & jnp.isfinite(g2), ABOVE_MAX_LOSS, NONFINITE).astype(jnp.int32)


class DivergenceError(RuntimeError):
    """A run diverged; the message says at which step and with which settings."""


class Trajectory(NamedTuple):
    r"""A recorded run. A pytree, so a ``vmap`` over seeds gives a batch of them
    (every field gains a leading seed axis).

    Attributes:
        steps: ``(k,)`` step indices (discrete) or times (continuous) of the records.
        loss: ``(k,)`` full-batch $L(\theta)$ at the records (NaN where invalid).
        grad_norm2: ``(k,)`` full-batch $\|\nabla L(\theta)\|^2$ at the records.
        metrics: dict name -> ``(k, ...)`` array, user metrics of the params.
        params: the final params (the last finite ones if the run diverged).
        opt_state: the final optimiser state (``None`` for continuous dynamics).
        valid: ``(k,)`` bool, False from the first invalid record on.
        diverged: ``()`` bool.
        diverged_at: ``()`` int, the first step (or save index for continuous
            dynamics) whose loss or gradient was non-finite or above the bound;
            -1 if none.
        reason: ``()`` int32, why the run stopped being valid: an index into
            :data:`REASONS` (0 none, 1 non-finite loss or gradient, 2 loss above
            ``max_loss``, 3 non-finite params, 4 not a descent direction (step size
            <= 0 or NaN), 5 ODE solver out of ``max_steps`` — not a
            divergence —, 6 solver failure); ``None`` where the dynamics do not say.
    """

    steps: Array
    loss: Array
    grad_norm2: Array
    metrics: dict[str, Array]
    params: Params
    opt_state: Any
    valid: Array
    diverged: Array
    diverged_at: Array
    reason: Array | None = None

    def raise_if_diverged(self, **context: Any) -> Trajectory:
        """Return ``self``, or raise :class:`DivergenceError` with a clear message.

        ``context`` (e.g. ``lr=2.0, smoothness=...``) is added to the message.
        Works on a single trajectory or a batch (it reports the first diverged one).
        """
        msg = divergence_message(self, **context)
        if msg is not None:
            raise DivergenceError(msg)
        return self

    def final_loss(self) -> Array:
        """The last valid recorded loss (per trajectory for batches)."""
        loss = jnp.where(self.valid, self.loss, jnp.nan)
        idx = jnp.sum(self.valid, axis=-1) - 1
        return jnp.take_along_axis(loss, jnp.maximum(idx, 0)[..., None], axis=-1)[..., 0]


def divergence_message(traj: Trajectory, **context: Any) -> str | None:
    r"""A human-readable divergence report, or ``None`` if no trajectory diverged.

    With ``lr`` and ``smoothness`` ($L$, e.g. the top Hessian eigenvalue) in
    ``context`` it adds the largest stable step for GD on an $L$-smooth function,
    $2/L$.

    Example:
        >>> msg = divergence_message(traj, lr=2.0)  # doctest: +SKIP
        'diverged at step 412 with lr=2.0'
    """
    diverged = np.asarray(traj.diverged)
    if not diverged.any():
        return None
    at = np.asarray(traj.diverged_at)
    where = ""
    if diverged.ndim:
        first = np.argwhere(diverged)[0]
        where = f" (trajectory {tuple(int(i) for i in first)} of {diverged.size}, " \
                f"{int(diverged.sum())} diverged)"
        at = at[tuple(first)]
    why = None
    if getattr(traj, "reason", None) is not None:
        code = np.asarray(traj.reason)
        code = int(code[tuple(first)] if diverged.ndim else code)
        why = REASONS[code] if 0 < code < len(REASONS) else None
    ctx = dict(context)
    smooth = ctx.pop("smoothness", None)
    parts = ", ".join(f"{k}={v}" for k, v in ctx.items())
    steps = np.asarray(traj.steps)
    if np.issubdtype(steps.dtype, np.floating):  # continuous dynamics: a save index
        sidx = tuple(first) if diverged.ndim else ()
        row = steps[sidx] if steps.ndim > 1 else steps
        t = f" (t = {float(row[int(at)]):.4g})" if 0 <= int(at) < row.shape[-1] else ""
        head = f"diverged at save index {int(at)}{t}"
    else:
        head = f"diverged at step {int(at)}"
    if why is not None and why.startswith("not a divergence"):
        head = head.replace("diverged at", "stopped at")
    msg = head + where + (f" with {parts}" if parts else "") + (f": {why}" if why else "")
    if smooth is not None and float(smooth) > 0:
        msg += (f"; the largest stable lr for this smoothness estimate (L={float(smooth):.4g}) "
                f"is about 2/L = {2.0 / float(smooth):.4g}")
    return msg
