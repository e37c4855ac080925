r"""Chatterjee's local PL criterion $4f(x_0) < r^2\alpha(x_0, r)$ (paper 001), with
$\alpha$ *estimated* by minimising $\|\nabla f\|^2/f$ over the ball.

Key convention: ``key=`` is keyword-only, as in every villani function that is not a sampler.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from .. import _checks
from .._types import Array, Params, PRNGKey, is_concrete
from ._objective import check_params, join_objective, split_objective, value_fn

__all__ = ["LocalPLCheck", "local_pl_check"]


class LocalPLCheck(NamedTuple):
    r"""Chatterjee's local PL criterion at an *estimated* $\alpha$ (paper 001).

    $\alpha$ is estimated by minimising $\|\nabla f\|^2/f$ over the ball; the estimate is
    an upper bound on the true infimum, so ``holds`` means **"the criterion holds at the
    estimated α"** — evidence, never a proof.

    Attributes:
        f0: $f(x_0) - f^*$.
        alpha_est: estimated $\alpha(x_0, r) = \inf_{B(x_0, r),\,f\ne0}\|\nabla f\|^2/f$.
        radius: $r$.
        holds: $4 f_0 < r^2 \alpha$ (criterion holds at the estimated α).
        margin: $r^2\alpha/(4 f_0)$ (> 1 iff ``holds``).
        certified_rate: $\alpha$: gradient flow then has $f(x_t) \le e^{-\alpha t} f(x_0)$.
        path_length_bound: $2\sqrt{f_0/\alpha}$ (< r iff ``holds``).
        witness: the point of the ball where the smallest ratio was found (params pytree).
        grad_bound: $G$: the given bound, or the largest $\|\nabla f\|$ seen on the ball
            (a *lower* estimate of $\sup_B\|\nabla f\|$).
        lr: $\eta$ used for the GD statement (given, or $\min(1/L, r/G)$); None unless
            ``smoothness`` or ``lr`` was given.
        lr_ok: $\eta \le \min(1/L, r/G)$ (None without ``smoothness``).
        gd_holds: ``lr_ok`` and $4f_0 < r^2\alpha(1 - L\eta/2)^2$ (None without ``smoothness``).
        gd_contraction: $1 - \alpha\eta(1 - L\eta/2)$: $f_k \le$ this$^k f_0$ (None
            without ``smoothness``).
    """

    f0: Array
    alpha_est: Array
    radius: Array
    holds: Array
    margin: Array
    certified_rate: Array
    path_length_bound: Array
    witness: Any
    grad_bound: Array
    lr: Array | None = None
    lr_ok: Array | None = None
    gd_holds: Array | None = None
    gd_contraction: Array | None = None

    def __str__(self) -> str:
        try:
            holds = bool(np.all(np.asarray(self.holds)))
            s = (f"LocalPLCheck: criterion {'holds' if holds else 'does not hold'} at the estimated "
                 f"alpha (an upper estimate of the true infimum; not a proof): "
                 f"f0={np.asarray(self.f0)}, alpha_est={np.asarray(self.alpha_est)}, "
                 f"r={np.asarray(self.radius)}, margin r^2 alpha/(4 f0)={np.asarray(self.margin)}")
            if self.gd_holds is not None:
                s += (f"; GD (lr={np.asarray(self.lr)}): lr_ok={np.asarray(self.lr_ok)}, "
                      f"holds={np.asarray(self.gd_holds)}, "
                      f"contraction={np.asarray(self.gd_contraction)}")
            return s
        except jax.errors.TracerArrayConversionError:  # pragma: no cover - inside jit
            return "LocalPLCheck(<traced>)"


def _ball_sample(key: PRNGKey, center: Array, radius: Array, n: int) -> Array:
    # Directions uniform on the sphere, distance fraction uniform in [0, 1] (not
    # volume-uniform: in high dimension that would put every start on the boundary).
    k1, k2 = jax.random.split(key)
    u = jax.random.normal(k1, (n, center.size), dtype=center.dtype)
    u = u / jnp.linalg.norm(u, axis=1, keepdims=True)
    s = jax.random.uniform(k2, (n, 1), dtype=center.dtype)
    return center + radius * s * u


def _project(x: Array, center: Array, radius: Array) -> Array:
    d = x - center
    nd = jnp.linalg.norm(d)
    return center + d * jnp.minimum(1.0, radius / jnp.where(nd > 0, nd, 1.0))


def local_pl_check(objective: Any, params0: Params, radius: float | Array, *, key: PRNGKey,
                   n_starts: int = 16, steps: int = 200, f_star: float | Array = 0.0,
                   smoothness: float | Array | None = None, lr: float | Array | None = None,
                   grad_bound: float | Array | None = None) -> LocalPLCheck:
    r"""Chatterjee's local PL criterion at $x_0$ on the closed ball $B(x_0, r)$, with $\alpha$ estimated.

    For $f \ge 0$ (here $f = L - f^*$),
    $$\alpha(x_0, r) = \inf_{x\in B(x_0,r),\ f(x)\ne0} \frac{\|\nabla f(x)\|^2}{f(x)} .$$
    If $4f(x_0) < r^2\alpha(x_0, r)$, gradient flow from $x_0$ stays in the ball (its path
    length is at most $2\sqrt{f(x_0)/\alpha} < r$) and converges linearly to a zero of $f$
    there: $f(x_t) \le e^{-\alpha t}f(x_0)$. For GD with $L = \sup_{B(x_0,2r)}\|\nabla^2 f\|$,
    $G = \sup_{B(x_0,r)}\|\nabla f\|$ and $\eta \le \min(1/L, r/G)$: if
    $4f(x_0) < r^2\alpha(1 - L\eta/2)^2$ then $f_k \le (1 - \alpha\eta(1 - L\eta/2))^k f(x_0)$.
    The criterion is unchanged by $f \to cf$. (The PL constant of :func:`pl_ratio` is
    $\alpha/2$ when $f^* = 0$.)

    **Estimation.** $\alpha$ cannot be computed; it is estimated by minimising the ratio
    from ``n_starts`` starts ($x_0$ itself and points of the ball drawn with ``key``) by
    ``steps`` projected, normalised gradient steps on the ratio (its gradient
    $2\nabla^2 f\,\nabla f/f - \|\nabla f\|^2\nabla f/f^2$ uses exact Hessian-vector
    products by autodiff), with step lengths decaying geometrically from $r/5$ to
    $r/5000$; the smallest ratio seen at any visited point is returned. Every visited
    point is in the ball, so the estimate is $\ge$ the true $\alpha$: the result says
    "criterion holds at the estimated α", never "proved". Points with $f = 0$ are skipped.
    $L$ (``smoothness``) is not estimated: give it (e.g. a bound on the top Hessian
    eigenvalue over $B(x_0, 2r)$) to get the GD statement.

    Args:
        objective: a :class:`~villani.Objective` or callable ``params -> scalar``; $f = $
            objective $- f^*$ must be $\ge 0$ with infimum 0.
        params0: $x_0$, a parameter pytree.
        radius: $r > 0$.
        key: PRNG key for the random starts.
        n_starts: number of starts (including $x_0$), $\ge 1$.
        steps: projected-gradient steps per start, $\ge 0$.
        f_star: subtracted from the objective.
        smoothness: $L$ for the GD statement.
        lr: $\eta$ for the GD statement (default $\min(1/L, r/G)$ when ``smoothness`` is given).
        grad_bound: $G$; default: the largest $\|\nabla f\|$ seen in the search (a lower
            estimate of the supremum — give a true bound for a rigorous step-size check).

    Returns:
        A :class:`LocalPLCheck`. The computation is jit-able and vmap-able over
        ``params0``, ``radius`` and ``key`` (``n_starts``, ``steps`` static).

    Example:
        >>> f = lambda x: 0.5 * jnp.sum(x**2)
        >>> res = local_pl_check(f, jnp.ones(3), 2.0, key=jax.random.key(0))
        >>> bool(res.holds)   # alpha = 2, 4 f0 = 6 < r^2 alpha = 8
        True

    References:
        S. Chatterjee, "Convergence of gradient descent for deep neural networks",
        arXiv:2203.16462 (criterion $4f(x_0) < r^2\alpha(x_0, r)$); the GD constants are
        villani's derivation (docs/papers/001.md).
    """
    value_fn(objective)
    if is_concrete(n_starts) and (int(n_starts) != n_starts or n_starts < 1):
        raise ValueError(f"n_starts: expected an integer >= 1, got {n_starts}")
    if is_concrete(steps) and (int(steps) != steps or steps < 0):
        raise ValueError(f"steps: expected an integer >= 0, got {steps}")
    _checks.finite_scalar("radius", radius, positive=True)
    _checks.finite_scalar("f_star", f_star)
    for name, v in (("smoothness", smoothness), ("lr", lr), ("grad_bound", grad_bound)):
        if v is not None:
            _checks.finite_scalar(name, v, positive=True)
    if lr is not None and smoothness is None:
        raise ValueError("lr: the GD statement also needs smoothness (L = sup ||Hessian|| on B(x0, 2r))")
    n_starts, steps = int(n_starts), int(steps)

    leaves0 = jax.tree_util.tree_leaves(params0)
    if not leaves0 or not all(jnp.issubdtype(jnp.result_type(x), jnp.floating) for x in leaves0):
        raise TypeError(f"params0: expected a pytree of floating-point arrays, got {params0!r:.200}")
    check_params(objective, params0)
    static, dyn = split_objective(objective)
    return _local_pl_core(static, n_starts, steps, dyn, params0, radius, key, f_star, smoothness, lr,
                          grad_bound)


# one compiled program per (objective function, sizes): repeated checks do not recompile
@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _local_pl_core(static, n_starts, steps, dyn, params0, r, key, f_star, L_arg, lr_arg, gb_arg):
    value = join_objective(static, dyn)
    x0, unravel = jax.flatten_util.ravel_pytree(params0)
    r = jnp.asarray(r, dtype=x0.dtype)

    def f(x):
        return value(unravel(x)) - f_star

    def ratio_and_gnorm(x):
        val, g = jax.value_and_grad(f)(x)
        pos = val > 0
        rat = jnp.where(pos, jnp.sum(g * g) / jnp.where(pos, val, 1.0), jnp.inf)
        return rat, jnp.linalg.norm(g)

    ratio_grad = jax.value_and_grad(ratio_and_gnorm, has_aux=True)
    lengths = r * 0.2 * jnp.logspace(0.0, -3.0, max(steps, 1), dtype=x0.dtype)

    def search(x_start):
        def body(carry, s):
            x, best, best_x, gmax = carry
            (rat, gn), d = ratio_grad(x)
            better = rat < best
            best_x = jnp.where(better, x, best_x)
            best = jnp.where(better, rat, best)
            gmax = jnp.maximum(gmax, jnp.where(jnp.isfinite(gn), gn, 0.0))
            nd = jnp.linalg.norm(d)
            ok = jnp.isfinite(nd) & (nd > 0)
            step = jnp.where(ok, d / jnp.where(ok, nd, 1.0), 0.0)
            x = _project(x - s * step, x0, r)
            return (x, best, best_x, gmax), None

        init = (x_start, jnp.asarray(jnp.inf, x0.dtype), x_start, jnp.zeros((), x0.dtype))
        (x, best, best_x, gmax), _ = jax.lax.scan(body, init, lengths[:steps])
        rat, gn = ratio_and_gnorm(x)  # the last iterate too
        better = rat < best
        return (jnp.where(better, rat, best), jnp.where(better, x, best_x),
                jnp.maximum(gmax, jnp.where(jnp.isfinite(gn), gn, 0.0)))

    starts = x0[None]
    if n_starts > 1:
        starts = jnp.concatenate([starts, _ball_sample(key, x0, r, n_starts - 1)])
    bests, best_xs, gmaxs = jax.vmap(search)(starts)
    i = jnp.argmin(bests)
    alpha = bests[i]
    witness = unravel(best_xs[i])
    f0 = f(x0)
    holds = 4.0 * f0 < r * r * alpha
    margin = jnp.where(f0 > 0, r * r * alpha / (4.0 * jnp.where(f0 > 0, f0, 1.0)), jnp.inf)
    a_pos = alpha > 0
    path = jnp.where(a_pos, 2.0 * jnp.sqrt(jnp.maximum(f0, 0.0) / jnp.where(a_pos, alpha, 1.0)),
                     jnp.inf)
    gb = jnp.max(gmaxs) if gb_arg is None else jnp.asarray(gb_arg, x0.dtype)
    out = LocalPLCheck(f0, alpha, r, holds, margin, alpha, path, witness, gb)
    if L_arg is None:
        return out
    L = jnp.asarray(L_arg, x0.dtype)
    eta_max = jnp.minimum(1.0 / L, jnp.where(gb > 0, r / jnp.where(gb > 0, gb, 1.0), jnp.inf))
    eta = eta_max if lr_arg is None else jnp.asarray(lr_arg, x0.dtype)
    lr_ok = eta <= eta_max * (1 + 1e-12)
    shrink = 1.0 - L * eta / 2.0
    gd_holds = lr_ok & (4.0 * f0 < r * r * alpha * shrink**2)
    return out._replace(lr=eta, lr_ok=lr_ok, gd_holds=gd_holds,
                        gd_contraction=1.0 - alpha * eta * shrink)


