r"""Villani conditions of a loss, checked along rays, and the fixed-outer-layer radius bound.

A smooth $f$ is a *Villani function* at scale $s > 0$ (Shi, Su, Jordan, arXiv 2004.06977) if
$f(\theta) \to \infty$ as $\|\theta\| \to \infty$, $\int e^{-2f/s} < \infty$, and

$$V_s(\theta) := \frac{\|\nabla f(\theta)\|^2}{s} - \Delta f(\theta) \to +\infty
  \quad (\|\theta\| \to \infty).$$

Then the law of $d\theta = -\nabla f\,dt + \sqrt s\,dW$ (SGD with learning rate $s$)
converges exponentially fast to the Gibbs measure $\propto e^{-2f/s}$.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from .. import _checks
from .._types import Array, PRNGKey, is_concrete
from ..losses import Objective
from ..nets import FeedForward, Layers, TwoLayer
from .laplacian import laplacian

__all__ = ["VillaniCheck", "check_villani", "villani_radius"]

_RAYS = ("auto", "random", "bounded", "both")
_INCREASE_RTOL = 1e-6  # a step counts as an increase only above this relative amount
_LOG_MARGIN = 0.1  # integrability needs L to outgrow (1 + margin) (p s / 2) log r


class VillaniCheck(NamedTuple):
    r"""Evidence from :func:`check_villani` (a pytree of arrays, so it ``vmap``s).

    Attributes:
        radii: the radii $r_1 < \dots < r_R$, shape ``(R,)``.
        loss: $L(r u_k)$, shape ``(D, R)`` (one row per direction).
        v: $V_s(r u_k) = \|\nabla L\|^2/s - \Delta L$, shape ``(D, R)``.
        min_loss: $\min_k L(r u_k)$ per radius, shape ``(R,)``.
        min_v: $\min_k V_s(r u_k)$ per radius, shape ``(R,)``.
        bounded: which rows are bounded-output ("worst-case") rays, shape ``(D,)``.
        loss_grows: decision for $L \to \infty$.
        v_grows: decision for $V_s \to \infty$.
        integrable: decision for $\int e^{-2L/s} < \infty$.
        holds: ``loss_grows & v_grows & integrable``.
    """

    radii: Array
    loss: Array
    v: Array
    min_loss: Array
    min_v: Array
    bounded: Array
    loss_grows: Array
    v_grows: Array
    integrable: Array
    holds: Array

    def summary(self) -> str:
        """A few lines for a report (needs concrete values)."""
        rows = [f"{'r':>10} {'min L':>12} {'min V_s':>12}"]
        for r, lo, v in zip(np.asarray(self.radii), np.asarray(self.min_loss), np.asarray(self.min_v)):
            rows.append(f"{r:10.4g} {lo:12.5g} {v:12.5g}")
        rows.append(f"L grows: {bool(self.loss_grows)}, V_s grows: {bool(self.v_grows)}, "
                    f"Gibbs integrable: {bool(self.integrable)} -> holds: {bool(self.holds)}")
        return "\n".join(rows)


def _check_scale(scale: Any) -> None:
    if is_concrete(scale):
        s = float(scale)
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"scale: expected the SGD scale s > 0 (finite), got {scale}")


def _check_radii(radii: Any) -> Array:
    r = jnp.asarray(radii, dtype=float)
    if r.ndim != 1 or r.shape[0] < 2:
        raise ValueError(f"radii: expected a 1-D sequence of at least 2 radii, got shape {r.shape}")
    if is_concrete(r):
        rn = np.asarray(r)
        if not (np.all(np.isfinite(rn)) and np.all(rn > 0) and np.all(np.diff(rn) > 0)):
            raise ValueError(f"radii: expected finite, positive, strictly increasing radii, got {rn}")
    return r


def _feed_forward_layers(objective: Objective, template: dict) -> Layers | None:
    """The layers of a scalar feed-forward net (any depth), else None."""
    net = objective.net
    if not (isinstance(net, FeedForward) and net.out_dim == 1):
        return None
    lay = net.layers(template)
    return lay if len(lay.weights) >= 2 else None


def _last_layer_moves(lay: Layers) -> bool:
    """Whether the last layer has a trained direction orthogonal to the constant feature."""
    return bool(lay.trained[-1]) and lay.weights[-1].shape[1] >= 2


def _has_bounded_rays(objective: Objective, template: dict) -> bool:
    lay = _feed_forward_layers(objective, template)
    if lay is None:
        return False
    if _last_layer_moves(lay):
        return True
    x = objective.data.x
    if not is_concrete(x):
        return x.shape[1] > x.shape[0]
    return int(np.linalg.matrix_rank(np.asarray(x))) < x.shape[1]


def _bounded_direction(objective: Objective, template: dict, key: PRNGKey) -> dict:
    r"""A unit direction along which a feed-forward net's outputs stay fixed, any depth.

    Along $\theta = r u$ every weight and bias is $r$ times its part of $u$. The direction has
    all biases zero, first-layer weights $W_1$ with rows in the orthogonal complement of the
    data span (so $z_1 = c_1 W_1 x_i = 0$ for every input, at every $r$: nonzero only when
    $\operatorname{rank} X < d$), the hidden layers between zero, and last-layer weights
    orthogonal to $\mathbf 1$. Then $h_1 = \sigma(0)\mathbf 1$ and, the layers above having
    zero weights and biases, $h_L = \sigma(0)\mathbf 1$ for every input: the span of the last
    hidden features is $\mathbf 1$ (or 0), and $f = c_{L+1}\sigma(0)\sum_j a_j = 0$ at every
    radius, whatever the depth. The first- and last-layer parts are mixed at a random angle.
    Built from the network's own layer description and mapped back with ``layer_params``;
    for one hidden layer this is the construction of paper 000.
    """
    net, x = objective.net, objective.data.x
    lay = net.layers(template)
    kw, ka, kt = jax.random.split(key, 3)
    _, sv, vt = jnp.linalg.svd(x, full_matrices=True)
    tol = jnp.max(sv) * max(x.shape) * jnp.finfo(x.dtype).eps
    rank_mask = jnp.zeros(x.shape[1], x.dtype).at[: sv.shape[0]].set((sv > tol).astype(x.dtype))
    proj = jnp.eye(x.shape[1], dtype=x.dtype) - (vt.T * rank_mask) @ vt  # onto span(X)^perp
    w = jax.random.normal(kw, lay.weights[0].shape, x.dtype) @ proj
    w_norm = jnp.linalg.norm(w)
    w = jnp.where(w_norm > 1e-12, w / jnp.maximum(w_norm, 1e-300), 0.0)
    outer = jnp.zeros_like(lay.weights[-1])
    if _last_layer_moves(lay):
        a = jax.random.normal(ka, lay.weights[-1].shape, x.dtype)
        a = a - jnp.mean(a)
        a = a / jnp.linalg.norm(a)
        angle = jax.random.uniform(kt, (), x.dtype, 0.0, 0.5 * math.pi)
        outer = jnp.sin(angle) * a
        w = jnp.cos(angle) * w
    middle = [jnp.zeros_like(v) for v in lay.weights[1:-1]]
    biases = [None if b is None else jnp.zeros_like(b) for b in lay.biases]
    out = net.layer_params([w, *middle, outer], biases)
    flat, unravel = jax.flatten_util.ravel_pytree(out)
    return unravel(flat / jnp.linalg.norm(flat))


def _increasing(m: Array, tail: int) -> Array:
    t = m[-tail:]
    steps = jnp.diff(t) > _INCREASE_RTOL * (1.0 + jnp.abs(t[:-1]))
    return jnp.all(steps)


def check_villani(objective: Objective, scale: float | Array, radii: Any,
                  n_directions: int = 16, *, key: PRNGKey, rays: str = "auto", method: str = "auto",
                  tail: int | None = None, loss_level: float | Array | None = None,
                  v_level: float | Array = 0.0) -> VillaniCheck:
    r"""Check the three Villani conditions of $L$ at scale $s$ along rays $\theta = r u$.

    For each direction $u_k$ ($\|u_k\| = 1$ in the flattened parameter space) and radius
    $r$ it evaluates $L(ru_k)$ and $V_s(ru_k) = \|\nabla L\|^2/s - \Delta L$ (the Laplacian
    by the fast exact path of :func:`~villani.diagnostics.laplacian`), and reports
    per radius the minimum over directions. Directions:

    * ``"random"``: uniform on the unit sphere;
    * ``"bounded"`` (scalar feed-forward nets of any depth that expose their layers:
      :func:`~villani.nets.two_layer`, :func:`~villani.nets.mlp`): worst-case rays along
      which every output stays fixed, so the logistic $\ell''$ does not decay while
      $\|\nabla f\|^2$ grows — first-layer weights orthogonal to the data span, the
      hidden layers between and all biases zero, last-layer weights orthogonal to
      $\mathbf 1$ (paper 000 for one hidden layer; every pre-activation stays 0 along the
      ray). For one hidden layer $V_s \approx r^2(\lambda^2/s -
      c^2\sigma'(0)^2\overline{\|x\|^2}/4 + \dots)$, so the derived threshold is nearly tight;
    * ``"both"``: half of each; ``"auto"``: ``"both"`` where bounded rays exist, else random.

    **Decision rule** (a finite set of radii cannot prove divergence; this is the
    evidence villani accepts). With $m_j$ the minima at the last ``tail`` radii:

    * $L \to \infty$: $m_j$ strictly increasing (each step by more than $10^{-6}(1+|m|)$)
      and the last above ``loss_level`` (default: $L(0)$, the loss at the origin);
    * $V_s \to \infty$: the same for the minima of $V_s$, the last above ``v_level``
      (default 0);
    * $\int e^{-2L/s} < \infty$: for $\lambda > 0$ certified analytically, since both
      losses are $\ge 0$ so $L \ge \frac\lambda2\|\theta\|^2$; for $\lambda = 0$ the minima
      of $L$ must outgrow $(1 + 0.1)\,\frac{ps}{2}\log r$ across the tail radii, the rate
      beyond which $\int r^{p-1}e^{-2L/s}dr$ converges;
    * ``holds`` = all three.

    Args:
        objective: the :class:`~villani.Objective`.
        scale: the SGD scale $s > 0$ (learning rate); check a range by calling per $s$.
        radii: strictly increasing positive radii, shape ``(R,)``, $R \ge 2$.
        n_directions: number of directions $D$ (static).
        key: PRNG key for the directions (keyword-only).
        rays: ``"auto"``, ``"random"``, ``"bounded"`` or ``"both"`` (static).
        method: Laplacian method (``"auto"``, ``"closed_form"``, ``"exact"``, ``"reference"``).
        tail: how many of the largest radii the growth rule looks at ($2 \le$ tail $\le R$;
            default $\min(3, R)$).
        loss_level: the level the last minimum of $L$ must exceed.
        v_level: the level the last minimum of $V_s$ must exceed.

    Returns:
        A :class:`VillaniCheck` with the evidence and the decisions.

    Example:
        >>> from villani import Objective, data, nets, villani_threshold
        >>> ds = data.random_labels(jax.random.key(0), 12, 16)
        >>> net = nets.two_layer(8, "tanh", parametrization="standard")
        >>> lam = 3 * villani_threshold("tanh", scale=0.04)
        >>> res = check_villani(Objective(net, ds, "logistic", l2=lam), 0.04,
        ...                     radii=[2, 4, 8, 16, 32], key=jax.random.key(1))
        >>> bool(res.holds)
        True

    References:
        Shi, Su, Jordan, "On learning rates and Schrödinger operators", arXiv 2004.06977;
        Gopalani, Jha, Mukherjee, arXiv 2309.09258 (paper 000).
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"objective: expected a villani Objective, got {type(objective).__name__}")
    _check_scale(scale)
    key = _checks.key(key)
    r = _check_radii(radii)
    if isinstance(n_directions, bool) or not isinstance(n_directions, int) or n_directions < 1:
        raise ValueError(f"n_directions: expected an int >= 1, got {n_directions!r}")
    if rays not in _RAYS:
        raise ValueError(f"rays: expected one of {', '.join(_RAYS)}, got {rays!r}")
    if method == "hutchinson":
        raise ValueError("method: check_villani needs an exact Laplacian, got 'hutchinson'")
    if tail is None:
        tail = min(3, r.shape[0])
    if isinstance(tail, bool) or not isinstance(tail, int) or not 2 <= tail <= r.shape[0]:
        raise ValueError(f"tail: expected an int in [2, len(radii)={r.shape[0]}], got {tail!r}")
    template = jax.eval_shape(lambda k: objective.net.init(k, objective.data.d), jax.random.key(0))
    template = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, objective.data.x.dtype), template)
    bounded_ok = _has_bounded_rays(objective, template)
    if rays == "bounded" and not bounded_ok:
        raise ValueError(
            "rays: 'bounded' needs a scalar feed-forward net that exposes its layers "
            "(nets.FeedForward: nets.two_layer, nets.mlp or your own) with a trained last layer "
            f"of width >= 2 or data that do not span R^d; got {objective.net!r} on data of shape "
            f"{objective.data.x.shape}"
        )
    if rays == "auto":
        rays = "both" if bounded_ok else "random"
    n_bounded = {"random": 0, "bounded": n_directions, "both": n_directions // 2}[rays]
    if rays == "both" and n_directions < 2:
        raise ValueError(f"n_directions: rays='both' needs at least 2 directions, got {n_directions}")

    return _check_villani_core(objective, template, scale, r, key, loss_level, v_level,
                               n_directions, n_bounded, method, tail)


# one compiled program per (objective structure, sizes): op by op, the map over the ray
# points is traced and compiled again on every call
@functools.partial(jax.jit, static_argnums=(7, 8, 9, 10))
def _check_villani_core(objective, template, scale, r, key, loss_level, v_level, n_directions,
                        n_bounded, method, tail):
    theta0, unravel = jax.flatten_util.ravel_pytree(template)
    p = theta0.shape[0]
    k_rand, k_bound = jax.random.split(key)
    n_random = n_directions - n_bounded
    dirs = []
    if n_random:
        g = jax.random.normal(k_rand, (n_random, p), theta0.dtype)
        dirs.append(g / jnp.linalg.norm(g, axis=1, keepdims=True))
    if n_bounded:
        keys = jax.random.split(k_bound, n_bounded)
        dirs.append(jax.vmap(lambda k: jax.flatten_util.ravel_pytree(
            _bounded_direction(objective, template, k))[0])(keys))
    u = jnp.concatenate(dirs, axis=0)  # (D, p)
    bounded = jnp.arange(n_directions) >= n_random

    def point(theta):
        params = unravel(theta)
        value, grad = objective.value_and_grad(params)
        gsq = jnp.sum(jax.flatten_util.ravel_pytree(grad)[0] ** 2)
        return value, gsq / scale - laplacian(objective, params, method)

    thetas = (u[:, None, :] * r[None, :, None]).reshape(-1, p)
    loss, v = jax.lax.map(point, thetas, batch_size=min(64, thetas.shape[0]))
    loss = loss.reshape(n_directions, -1)
    v = v.reshape(n_directions, -1)
    min_loss, min_v = jnp.min(loss, axis=0), jnp.min(v, axis=0)

    if loss_level is None:
        loss_level = objective.value(template)
    loss_grows = _increasing(min_loss, tail) & (min_loss[-1] > loss_level)
    v_grows = _increasing(min_v, tail) & (min_v[-1] > v_level)
    log_rate = (1.0 + _LOG_MARGIN) * 0.5 * p * scale * (jnp.log(r[-1]) - jnp.log(r[-tail]))
    empirical = _increasing(min_loss, tail) & (min_loss[-1] - min_loss[-tail] > log_rate)
    integrable = jnp.where(jnp.asarray(objective.l2) > 0, True, empirical)
    holds = loss_grows & v_grows & integrable
    return VillaniCheck(r, loss, v, min_loss, min_v, bounded, loss_grows, v_grows, integrable, holds)


def villani_radius(objective: Objective, scale: float, level: float = 0.0, *,
                   x_bound: float | None = None) -> float:
    r"""Radius beyond which $V_s > M$ for a two-layer net with fixed outer weights (paper 000).

    **villani's derivation, not the paper's constant** (docs/papers/000.md). For
    $f = c\sum_j a_j\sigma(w_j\cdot x)$ with $a$ fixed, the logistic loss ($|\ell'| \le 1$,
    $\ell'' \le 1/4$), $\|x_i\| \le B_x$ and $B_1 = \sup|\sigma'|$, $B_2 = \sup|\sigma''|$:
    the data term has $\|\nabla_W\| \le G := c\|a\|B_1B_x$ and
    $\Delta_W \le D := c^2\|a\|^2B_1^2B_x^2/4 + c\|a\|_1B_2B_x^2$, so with $p$ trained
    parameters $V_s \ge (\lambda\|\theta\| - G)^2/s - D - \lambda p$ and

    $$V_s(\theta) > M \quad\text{whenever}\quad
      \|\theta\| > R(M) = \frac{G + \sqrt{s\,(M + D + \lambda p)}}{\lambda}$$

    ($p = md$; with biases $x$ is read as $(x, 1)$, so $B_x \to \sqrt{B_x^2 + 1}$ and
    $p = m(d+1)$). This holds for every $\lambda > 0$.

    Args:
        objective: logistic :class:`~villani.Objective` of a ``two_layer(...,
            train_outer=False)`` net with a smooth activation and ``l2`` $= \lambda > 0$.
        scale: the SGD scale $s > 0$.
        level: $M$.
        x_bound: $B_x$ (default: $\max_i\|x_i\|$ of the data).

    Returns:
        $R(M)$ as a float.

    Example:
        >>> from villani import Objective, data, nets
        >>> ds = data.random_labels(jax.random.key(0), 12, 4)
        >>> net = nets.two_layer(8, "sigmoid", train_outer=False)
        >>> R = villani_radius(Objective(net, ds, "logistic", l2=0.1), scale=0.04, level=10.0)
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"objective: expected a villani Objective, got {type(objective).__name__}")
    net = objective.net
    if not isinstance(net, TwoLayer) or net.train_outer:
        raise ValueError(f"objective: villani_radius needs two_layer(..., train_outer=False), got {net!r}")
    if objective.loss.name != "logistic":
        raise ValueError(f"objective: villani_radius needs the logistic loss, got {objective.loss.name!r}")
    if not net.activation.smooth:
        raise ValueError(f"objective: villani_radius needs a smooth activation, got {net.activation.name!r}")
    _check_scale(scale)
    lam = float(objective.l2)
    if not lam > 0:
        raise ValueError(f"objective: villani_radius needs l2 > 0 (no bound exists at l2 = 0), got {lam}")
    bx = float(jnp.max(jnp.linalg.norm(objective.data.x, axis=1))) if x_bound is None else float(x_bound)
    if not (math.isfinite(bx) and bx > 0):
        raise ValueError(f"x_bound: expected a finite bound > 0, got {x_bound}")
    m, d = net.width, objective.data.d
    p = m * d
    if net.bias:
        bx, p = math.sqrt(bx * bx + 1.0), p + m
    a = np.asarray(net.fixed_outer())
    c = net.scale
    _, b1, b2 = net.activation.bounds
    g = c * np.linalg.norm(a) * b1 * bx
    dd = c * c * np.sum(a * a) * b1 * b1 * bx * bx / 4 + c * np.sum(np.abs(a)) * b2 * bx * bx
    inner = float(level) + dd + lam * p
    return float((g + math.sqrt(float(scale) * max(inner, 0.0))) / lam)
