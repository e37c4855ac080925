r"""Polyak–Łojasiewicz quantities: the PL ratio, Chatterjee's local PL criterion, proxy PL.

* :func:`pl_ratio` — $\mu(\theta) = \|\nabla L(\theta)\|^2 / (2(L(\theta) - f^*))$; gradient
  flow converges linearly at rate $2\mu$ on the loss when $\mu(\theta_t) \ge \mu$ along the path.
* :func:`local_pl_check` — the criterion $4f(x_0) < r^2\alpha(x_0, r)$ of paper 001, with
  $\alpha$ *estimated* by minimising $\|\nabla f\|^2/f$ over the ball.
* :func:`proxy_pl` — the proxy-convexity / proxy-PL bookkeeping of paper 002 along a run,
  with the two worked examples :func:`single_neuron_proxy` and
  :func:`two_layer_classifier_proxy`.

Every objective argument is either a :class:`~villani.Objective` (its ``value`` is used) or
any callable ``params -> scalar``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from .._types import Array, Params, PRNGKey, is_concrete

__all__ = [
    "LocalPLCheck",
    "PLRatio",
    "ProxyExample",
    "ProxyPL",
    "local_pl_check",
    "pl_ratio",
    "pl_ratio_along",
    "proxy_pl",
    "single_neuron_proxy",
    "two_layer_classifier_proxy",
]


def _value_fn(objective: Any) -> Callable[[Params], Array]:
    if hasattr(objective, "value") and callable(objective.value):
        return objective.value
    if callable(objective):
        return objective
    raise TypeError(f"objective: expected a villani Objective or a callable params -> scalar, "
                    f"got {type(objective).__name__}")


def _split_objective(objective: Any) -> tuple[Any, Any]:
    # (static callable, None) for a plain function; (None, objective) for an Objective, so its
    # data travel as traced leaves (vmap over data sets, no constants baked into the program)
    _value_fn(objective)
    if hasattr(objective, "value") and callable(objective.value):
        return None, objective
    return objective, None


def _join_objective(static: Any, dyn: Any) -> Callable[[Params], Array]:
    return dyn.value if static is None else static


def _sqnorm(tree: Any) -> Array:
    return sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree))


def _check_finite_scalar(name: str, v: Any, *, positive: bool = False) -> None:
    if not is_concrete(v):
        return
    arr = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(arr)) or (positive and not np.all(arr > 0)):
        want = "finite values > 0" if positive else "finite values"
        raise ValueError(f"{name}: expected {want}, got {v}")


# ----------------------------------------------------------------------------- PL ratio


class PLRatio(NamedTuple):
    r"""The PL ratio at a point and what it is made of.

    Attributes:
        ratio: $\sup\{\mu \ge 0: \|\nabla L\|^2 \ge 2\mu(L - f^*)\}$ — i.e.
            $\|\nabla L\|^2 / (2(L - f^*))$ when $L > f^*$, and ``+inf`` when $L \le f^*$
            (the PL inequality then holds for every $\mu$).
        gap: $L - f^*$.
        grad_norm2: $\|\nabla L\|^2$.
        at_or_below_f_star: ``gap <= 0``: an exact minimiser (if the gradient is 0) or a
            sign that ``f_star`` is not the infimum (if ``gap < 0``).
    """

    ratio: Array
    gap: Array
    grad_norm2: Array
    at_or_below_f_star: Array


def _ratio(gap: Array, g2: Array) -> Array:
    pos = gap > 0
    return jnp.where(pos, g2 / (2.0 * jnp.where(pos, gap, 1.0)), jnp.inf)


def pl_ratio(objective: Any, params: Params, f_star: float | Array = 0.0, *,
             full: bool = False) -> Array | PLRatio:
    r"""The Polyak–Łojasiewicz ratio $\mu(\theta) = \|\nabla L(\theta)\|^2 / (2(L(\theta) - f^*))$.

    $L$ satisfies the PL inequality with constant $\mu$ on a set when
    $\|\nabla L\|^2 \ge 2\mu(L - f^*)$ there; the ratio is the largest such $\mu$ at
    $\theta$. Along a gradient-flow path with $\mu(\theta_t) \ge \mu$,
    $L(\theta_t) - f^* \le e^{-2\mu t}(L(\theta_0) - f^*)$.

    **Safe at $L \to f^*$**: never NaN for finite inputs. When $L - f^* \le 0$ the
    inequality holds for every $\mu$, so the value is ``+inf`` — both at an exact
    minimiser (zero gradient; $0/0$ is *not* returned) and when $L < f^*$ (which means
    ``f_star`` is not the infimum; ``full=True`` flags both cases). Note that near
    $f^*$ the float gap $L - f^*$ is dominated by round-off once it is ~$10^{-16}|f^*|$.
    NaN params give NaN (divergence is the caller's to report).

    Args:
        objective: a :class:`~villani.Objective` or a callable ``params -> scalar``.
        params: a parameter pytree.
        f_star: the infimum $f^*$ (0 for interpolating squared / logistic losses).
        full: return a :class:`PLRatio` (ratio, gap, grad_norm2, flag) instead of the ratio.

    Returns:
        A scalar (or a :class:`PLRatio`). Works under ``jit`` / ``vmap``.

    Example:
        >>> pl_ratio(lambda t: 0.5 * jnp.sum(t**2), jnp.ones(3))
        Array(1., dtype=float64)
    """
    value = _value_fn(objective)
    _check_finite_scalar("f_star", f_star)
    val, g = jax.value_and_grad(value)(params)
    g2 = _sqnorm(g)
    gap = val - f_star
    r = _ratio(gap, g2)
    if full:
        return PLRatio(r, gap, g2, gap <= 0)
    return r


def pl_ratio_along(traj: Any, f_star: float | Array = 0.0) -> Array:
    r"""The PL ratio at every record of a :class:`~villani.Trajectory` (from its loss and
    squared gradient norm; no recomputation).

    Same conventions as :func:`pl_ratio` (``+inf`` where $L \le f^*$); records that are
    not valid (after a divergence) are NaN, as in the trajectory itself — mask with
    ``traj.valid``. A batch of trajectories gives a batch of ratios.

    Args:
        traj: a :class:`~villani.Trajectory` (or batch).
        f_star: the infimum $f^*$.

    Returns:
        Array shaped like ``traj.loss``.

    Example:
        >>> mu_min = jnp.min(jnp.where(traj.valid, pl_ratio_along(traj), jnp.inf))  # doctest: +SKIP
    """
    _check_finite_scalar("f_star", f_star)
    r = _ratio(traj.loss - f_star, traj.grad_norm2)
    return jnp.where(traj.valid, r, jnp.nan)


# ----------------------------------------------------------------------------- local PL (001)


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
        villani's derivation (PAPERS.md, 001).
    """
    _value_fn(objective)
    if is_concrete(n_starts) and (int(n_starts) != n_starts or n_starts < 1):
        raise ValueError(f"n_starts: expected an integer >= 1, got {n_starts}")
    if is_concrete(steps) and (int(steps) != steps or steps < 0):
        raise ValueError(f"steps: expected an integer >= 0, got {steps}")
    _check_finite_scalar("radius", radius, positive=True)
    _check_finite_scalar("f_star", f_star)
    for name, v in (("smoothness", smoothness), ("lr", lr), ("grad_bound", grad_bound)):
        if v is not None:
            _check_finite_scalar(name, v, positive=True)
    if lr is not None and smoothness is None:
        raise ValueError("lr: the GD statement also needs smoothness (L = sup ||Hessian|| on B(x0, 2r))")
    n_starts, steps = int(n_starts), int(steps)

    leaves0 = jax.tree_util.tree_leaves(params0)
    if not leaves0 or not all(jnp.issubdtype(jnp.result_type(x), jnp.floating) for x in leaves0):
        raise TypeError(f"params0: expected a pytree of floating-point arrays, got {params0!r:.200}")
    static, dyn = _split_objective(objective)
    return _local_pl_core(static, n_starts, steps, dyn, params0, radius, key, f_star, smoothness, lr,
                          grad_bound)


# one compiled program per (objective function, sizes): repeated checks do not recompile
@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _local_pl_core(static, n_starts, steps, dyn, params0, r, key, f_star, L_arg, lr_arg, gb_arg):
    value = _join_objective(static, dyn)
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


# ----------------------------------------------------------------------------- proxy PL (002)


class ProxyPL(NamedTuple):
    r"""Proxy-convexity / proxy-PL measurements along a trajectory (paper 002).

    Per-step arrays have the trajectory's length $K$ (records $w_0, \dots, w_{K-1}$).

    Attributes:
        loss: $f(w_t)$.
        grad_norm: $\|\nabla f(w_t)\|$.
        proxy: $g(w_t)$.
        convexity_gap: $\langle\nabla f(w_t), w_t - v\rangle - (g(w_t) - h(v))$ (≥ 0 at
            every step iff $f$ is $(g, h)$-proxy convex along the run at $v$); None without ``v``.
        mu_best: $\min_{t: g(w_t) > \xi}\|\nabla f(w_t)\| / (g(w_t) - \xi)^a$, the best
            constant of $\|\nabla f\| \ge \mu (g - \xi)^a$ on the run (``+inf`` if no step has $g > \xi$).
        mu: the constant checked (given, else ``mu_best``).
        fails: bool per step, $\|\nabla f(w_t)\| < \mu (g(w_t) - \xi)^a$ (up to ``rtol``).
        avg_proxy: for $T = 1..K$, $\frac1T\sum_{t<T} g(w_t)$; None without ``lr`` and ``v``.
        avg_bound: $h(v) + \|w_0 - v\|^2/(2\eta T) + \frac{\eta}{2T}\sum_{t<T}\|\nabla f(w_t)\|^2$.
        min_proxy: $\min_{t<T} g(w_t)$ for $T = 1..K$; None without ``lr``.
        min_bound: $\xi + (\sqrt{2 f(w_0)/(\eta T)}/\mu)^{1/a}$ (needs $f \ge 0$, $L$-smooth,
            $\eta \le 1/L$).
        avg_holds, min_holds: whether the measured values respect the bounds at every $T$.
    """

    loss: Array
    grad_norm: Array
    proxy: Array
    convexity_gap: Array | None
    mu_best: Array
    mu: Array
    fails: Array
    avg_proxy: Array | None = None
    avg_bound: Array | None = None
    avg_holds: Array | None = None
    min_proxy: Array | None = None
    min_bound: Array | None = None
    min_holds: Array | None = None


def _stack(params_path: Any) -> Any:
    # A Python list is a sequence of param pytrees; anything else already has the time axis.
    if isinstance(params_path, list):
        if not params_path:
            raise ValueError("params_path: got an empty list")
        return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *params_path)
    return params_path


def proxy_pl(objective: Any, params_path: Any, proxy: Callable[[Params], Array], *,
             v: Params | None = None, h_v: float | Array | Callable | None = None,
             a: float = 1.0, xi: float = 0.0, mu: float | Array | None = None,
             lr: float | Array | None = None, rtol: float = 1e-10) -> ProxyPL:
    r"""Check proxy convexity and a proxy PL inequality along a trajectory (paper 002).

    $f$ is $(g, h)$-proxy convex if $\langle\nabla f(w), w - v\rangle \ge g(w) - h(v)$; a
    proxy PL inequality is $\|\nabla f(w)\| \ge \mu\,(g(w) - \xi)^a$. Along
    $w_0, \dots, w_{K-1}$ this returns $\|\nabla f\|$, $g$, the convexity gap, the best
    $\mu$ and the steps where a given $\mu$ fails. With ``lr`` $\eta$ (records must be
    *consecutive* GD iterates $w_{t+1} = w_t - \eta\nabla f(w_t)$) it also checks, for
    every $T = 1..K$, villani's derivations (PAPERS.md, 002):
    $$\frac1T\sum_{t<T} g(w_t) \le h(v) + \frac{\|w_0 - v\|^2}{2\eta T}
      + \frac{\eta}{2T}\sum_{t<T}\|\nabla f(w_t)\|^2,$$
    $$\min_{t<T} g(w_t) \le \xi + \Big(\frac{\sqrt{2f(w_0)/(\eta T)}}{\mu}\Big)^{1/a}$$
    (the second needs $f \ge 0$, $L$-smooth, $\eta \le 1/L$; $\mu$ = the given one, else
    ``mu_best``).

    Args:
        objective: :class:`~villani.Objective` or callable ``params -> scalar``.
        params_path: params with a leading time axis $K$ (e.g. a params metric of a
            :class:`~villani.Trajectory`), or a list of param pytrees.
        proxy: $g$, callable ``params -> scalar``.
        v: reference point for proxy convexity and the averaged bound.
        h_v: $h(v)$ (a number, or a callable $h$ evaluated at ``v``; default 0).
        a, xi: exponent $a > 0$ and offset $\xi$ of the proxy PL form.
        mu: a claimed constant to check (default: the measured ``mu_best``).
        lr: GD step size $\eta$ for the bounds.
        rtol: relative slack for ``fails`` (round-off at equality).

    Returns:
        A :class:`ProxyPL`. jit/vmap-able (``proxy``, ``objective`` static).

    Example:
        >>> ex = single_neuron_proxy(x, v_star, gamma=0.1)                # doctest: +SKIP
        >>> res = proxy_pl(ex.objective, path, ex.proxy, v=ex.v, h_v=ex.h_v, lr=0.1)  # doctest: +SKIP

    References:
        S. Frei, Q. Gu, "Proxy convexity: a unified framework for the analysis of neural
        networks trained by gradient descent", NeurIPS 2021, arXiv:2106.13792.
    """
    _value_fn(objective)
    if is_concrete(a) and not (math.isfinite(float(a)) and float(a) > 0):
        raise ValueError(f"a: expected a finite exponent > 0, got {a}")
    _check_finite_scalar("xi", xi)
    if lr is not None:
        _check_finite_scalar("lr", lr, positive=True)
    if mu is not None:
        _check_finite_scalar("mu", mu)
    path = _stack(params_path)
    leaves = jax.tree_util.tree_leaves(path)
    if not leaves or any(jnp.ndim(x) < 1 for x in leaves):
        raise ValueError("params_path: expected params with a leading time axis (or a list of params)")
    K = leaves[0].shape[0]
    if any(x.shape[0] != K for x in leaves):
        raise ValueError(f"params_path: leaves disagree on the time axis: {[x.shape[0] for x in leaves]}")

    hv = 0.0
    if h_v is not None:
        hv = h_v(v) if callable(h_v) else h_v
    static, dyn = _split_objective(objective)
    return _proxy_core(static, proxy, float(rtol), dyn, path, v, hv, xi, a, mu, lr)


# module level and jitted: one compiled program per (objective, proxy); eager op-by-op
# dispatch of this bookkeeping costs seconds
@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _proxy_core(static, proxy, rtol, dyn, path, v, hv, xi, a, mu_arg, eta):
    value = _join_objective(static, dyn)
    K = jax.tree_util.tree_leaves(path)[0].shape[0]

    def one(w):
        val, g = jax.value_and_grad(value)(w)
        out = [val, jnp.sqrt(_sqnorm(g)), proxy(w)]
        if v is not None:
            inner = sum(jnp.vdot(gi, wi - vi) for gi, wi, vi in zip(
                jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(w),
                jax.tree_util.tree_leaves(v), strict=True))
            out.append(inner)
        return out

    res = jax.vmap(one)(path)
    loss, gn, gval = res[0], res[1], res[2]
    gap = None if v is None else res[3] - (gval - hv)
    excess = gval - xi
    pos = excess > 0
    powed = jnp.where(pos, jnp.where(pos, excess, 1.0) ** a, 0.0)
    ratios = jnp.where(pos, gn / jnp.where(pos, powed, 1.0), jnp.inf)
    mu_best = jnp.min(ratios)
    mu_used = mu_best if mu_arg is None else jnp.asarray(mu_arg, gn.dtype)
    fails = gn < mu_used * powed * (1 - rtol)
    out = ProxyPL(loss, gn, gval, gap, mu_best, mu_used, fails)
    if eta is None:
        return out
    eta = jnp.asarray(eta, gn.dtype)
    T = jnp.arange(1, K + 1, dtype=gn.dtype)
    min_proxy = jax.lax.cummin(gval)
    mp = jnp.where(mu_used > 0, mu_used, 1.0)
    min_bound = jnp.where(mu_used > 0,
                          xi + (jnp.sqrt(2 * jnp.maximum(loss[0], 0.0) / (eta * T)) / mp) ** (1.0 / a),
                          jnp.inf)
    out = out._replace(min_proxy=min_proxy, min_bound=min_bound,
                       min_holds=jnp.all(min_proxy <= min_bound * (1 + rtol) + rtol))
    if v is None:
        return out
    w0 = jax.tree_util.tree_map(lambda x: x[0], path)
    d0 = sum(jnp.sum((x - y) ** 2) for x, y in zip(jax.tree_util.tree_leaves(w0),
                                                  jax.tree_util.tree_leaves(v), strict=True))
    avg_proxy = jnp.cumsum(gval) / T
    avg_bound = hv + d0 / (2 * eta * T) + eta / (2 * T) * jnp.cumsum(gn**2)
    return out._replace(avg_proxy=avg_proxy, avg_bound=avg_bound,
                        avg_holds=jnp.all(avg_proxy <= avg_bound + rtol * jnp.abs(avg_bound)))


class ProxyExample(NamedTuple):
    r"""A worked proxy-PL example: everything :func:`proxy_pl` needs, plus the derived bound.

    Attributes:
        objective: $f$, ``params -> scalar``.
        proxy: $g$, ``params -> scalar``.
        v: the reference point (None if the example has none).
        h_v: $h(v)$.
        a, xi, mu: the proxy PL form $\|\nabla f\| \ge \mu (g - \xi)^a$ (``mu`` None when
            it depends on the point; see ``grad_lower_bound``).
        grad_lower_bound: ``params -> scalar``, the derived lower bound on $\|\nabla f\|$.
    """

    objective: Callable[[Params], Array]
    proxy: Callable[[Params], Array]
    v: Params | None
    h_v: float
    a: float
    xi: float
    mu: float | None
    grad_lower_bound: Callable[[Params], Array]


def _leaky(z, gamma):
    return jnp.where(z >= 0, z, gamma * z)


def _check_gamma(name: str, g: Any) -> None:
    if is_concrete(g) and not (0.0 <= float(g) <= 1.0):
        raise ValueError(f"{name}: expected a leaky-ReLU slope in [0, 1], got {g}")


def single_neuron_proxy(x: Array, v_star: Array, gamma: float) -> ProxyExample:
    r"""Single leaky-ReLU neuron with realisable labels: $(2\gamma F, 0)$-proxy convex at $v^*$.

    $F(w) = \frac1n\sum_i \frac12(\sigma(w\cdot x_i) - y_i)^2$, $y_i = \sigma(v^*\cdot x_i)$,
    $\sigma(z) = \max(z, \gamma z)$, $0 \le \gamma \le 1$. Since $\sigma$ is monotone with
    slopes in $[\gamma, 1]$, sample by sample
    $\sigma'(w\cdot x)(\sigma(w\cdot x) - \sigma(v^*\cdot x))(w - v^*)\cdot x \ge
    \gamma(\sigma(w\cdot x) - \sigma(v^*\cdot x))^2$, so
    $\langle\nabla F(w), w - v^*\rangle \ge 2\gamma F(w)$ and, by Cauchy–Schwarz,
    $\|\nabla F(w)\| \ge 2\gamma F(w)/\|w - v^*\|$ (villani's derivation, PAPERS.md 002).
    Along GD $\|w_t - v^*\|$ does not increase, so on the run the proxy PL form holds with
    $g = 2\gamma F$, $a = 1$, $\xi = 0$, $\mu = 1/\|w_0 - v^*\|$.

    Args:
        x: ``(n, d)`` inputs.
        v_star: ``(d,)`` teacher weights.
        gamma: leaky slope $\gamma \in [0, 1]$.

    Returns:
        A :class:`ProxyExample` with params $w$ of shape ``(d,)``.

    Example:
        >>> ex = single_neuron_proxy(x, v_star, 0.1)             # doctest: +SKIP
        >>> ex.grad_lower_bound(w) <= jnp.linalg.norm(jax.grad(ex.objective)(w))  # doctest: +SKIP
    """
    _check_gamma("gamma", gamma)
    x = jnp.asarray(x)
    v_star = jnp.asarray(v_star)
    if x.ndim != 2 or v_star.shape != (x.shape[1],):
        raise ValueError(f"x, v_star: expected shapes (n, d) and (d,), got {x.shape} and {v_star.shape}")
    y = _leaky(x @ v_star, gamma)

    def F(w):
        return 0.5 * jnp.mean((_leaky(x @ w, gamma) - y) ** 2)

    def g(w):
        return 2.0 * gamma * F(w)

    def lower(w):
        dist = jnp.linalg.norm(w - v_star)
        return jnp.where(dist > 0, g(w) / jnp.where(dist > 0, dist, 1.0), 0.0)

    return ProxyExample(F, g, v_star, 0.0, 1.0, 0.0, None, lower)


def two_layer_classifier_proxy(x: Array, y: Array, outer: Array, gamma: float,
                               margin: float) -> ProxyExample:
    r"""Two-layer leaky-ReLU classifier, logistic loss: $\|\nabla L(W)\|_F \ge \gamma_l\gamma_m G(W)$.

    $f_i = \sum_j a_j\phi(w_j\cdot x_i)$ with fixed $a_j = \pm1/\sqrt m$, $\phi$ leaky ReLU of
    slope $\gamma_l$, $L(W) = \frac1n\sum_i\ell(y_if_i)$, $\ell(z) = \log(1 + e^{-z})$, and
    $G(W) = \frac1n\sum_i -\ell'(y_if_i)$. If the data have margin $\gamma_m$
    ($y_i\langle u, x_i\rangle \ge \gamma_m$ for a unit $u$), the unit direction
    $V_j = \mathrm{sign}(a_j)u/\sqrt m$ gives $\langle-\nabla L, V\rangle \ge \gamma_l\gamma_m G(W)$,
    hence the bound at *every* $W$ (villani's derivation, PAPERS.md 002); also
    0-1 error $\le 2G(W)$. Proxy PL form: $g = G$, $a = 1$, $\xi = 0$, $\mu = \gamma_l\gamma_m$.

    Args:
        x: ``(n, d)`` inputs.
        y: ``(n,)`` labels in $\{-1, +1\}$.
        outer: ``(m,)`` fixed outer weights $a_j$ ($\pm 1/\sqrt m$).
        gamma: leaky slope $\gamma_l \in [0, 1]$.
        margin: $\gamma_m > 0$, a margin the data attain (the caller's claim; not checked).

    Returns:
        A :class:`ProxyExample` with params $W$ of shape ``(m, d)``.

    Example:
        >>> ex = two_layer_classifier_proxy(x, y, a, 0.1, 0.05)          # doctest: +SKIP
        >>> res = proxy_pl(ex.objective, path, ex.proxy, a=ex.a, mu=ex.mu)  # doctest: +SKIP
    """
    _check_gamma("gamma", gamma)
    _check_finite_scalar("margin", margin, positive=True)
    x, y, outer = jnp.asarray(x), jnp.asarray(y), jnp.asarray(outer)
    if x.ndim != 2 or y.shape != (x.shape[0],) or outer.ndim != 1:
        raise ValueError(f"x, y, outer: expected shapes (n, d), (n,), (m,), got {x.shape}, {y.shape}, "
                         f"{outer.shape}")

    def margins(W):
        return y * (_leaky(x @ W.T, gamma) @ outer)

    def L(W):
        return jnp.mean(jnp.logaddexp(0.0, -margins(W)))

    def G(W):
        return jnp.mean(jax.nn.sigmoid(-margins(W)))

    mu = gamma * margin
    return ProxyExample(L, G, None, 0.0, 1.0, 0.0, mu, lambda W: mu * G(W))

