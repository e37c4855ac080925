r"""Proxy convexity and proxy PL along a trajectory (paper 002), with the two worked
examples :func:`single_neuron_proxy` and :func:`two_layer_classifier_proxy`."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .. import _checks
from .._tree import sq_norm
from .._types import Array, Params, is_concrete
from ._objective import join_objective, split_objective, value_fn

__all__ = ["ProxyExample", "ProxyPL", "proxy_pl", "single_neuron_proxy", "two_layer_classifier_proxy"]


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
    every $T = 1..K$, villani's derivations (docs/papers/002.md):
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
    value_fn(objective)
    if is_concrete(a) and not (math.isfinite(float(a)) and float(a) > 0):
        raise ValueError(f"a: expected a finite exponent > 0, got {a}")
    _checks.finite_scalar("xi", xi)
    if lr is not None:
        _checks.finite_scalar("lr", lr, positive=True)
    if mu is not None:
        _checks.finite_scalar("mu", mu)
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
    static, dyn = split_objective(objective)
    return _proxy_core(static, proxy, float(rtol), dyn, path, v, hv, xi, a, mu, lr)


# module level and jitted: one compiled program per (objective, proxy); eager op-by-op
# dispatch of this bookkeeping costs seconds
@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _proxy_core(static, proxy, rtol, dyn, path, v, hv, xi, a, mu_arg, eta):
    value = join_objective(static, dyn)
    K = jax.tree_util.tree_leaves(path)[0].shape[0]

    def one(w):
        val, g = jax.value_and_grad(value)(w)
        out = [val, jnp.sqrt(sq_norm(g)), proxy(w)]
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
    $\|\nabla F(w)\| \ge 2\gamma F(w)/\|w - v^*\|$ (villani's derivation, docs/papers/002.md).
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
    hence the bound at *every* $W$ (villani's derivation, docs/papers/002.md); also
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
    _checks.finite_scalar("margin", margin, positive=True)
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


