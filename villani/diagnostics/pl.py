r"""The Polyak–Łojasiewicz ratio $\mu(\theta) = \|\nabla L(\theta)\|^2 / (2(L(\theta) - f^*))$.

Gradient flow converges linearly at rate $2\mu$ on the loss when $\mu(\theta_t) \ge \mu$
along the path. The other PL diagnostics live beside it, one concept per module:
:mod:`~villani.diagnostics.chatterjee` (paper 001's local PL criterion,
:func:`local_pl_check`) and :mod:`~villani.diagnostics.proxy` (paper 002's proxy PL,
:func:`proxy_pl`); their names are re-exported here.

Every objective argument is either a :class:`~villani.Objective` (its ``value`` is used) or
any callable ``params -> scalar``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .. import _checks
from .._tree import sq_norm
from .._types import Array, Params
from ._objective import check_params, value_fn
from .chatterjee import LocalPLCheck as LocalPLCheck
from .chatterjee import local_pl_check as local_pl_check
from .proxy import ProxyExample as ProxyExample
from .proxy import ProxyPL as ProxyPL
from .proxy import proxy_pl as proxy_pl
from .proxy import single_neuron_proxy as single_neuron_proxy
from .proxy import two_layer_classifier_proxy as two_layer_classifier_proxy

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
    r = jnp.where(pos, g2 / (2.0 * jnp.where(pos, gap, 1.0)), jnp.inf)
    return jnp.where(jnp.isnan(gap) | jnp.isnan(g2), jnp.nan, r)  # NaN in, NaN out


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
    value = value_fn(objective)
    _checks.finite_scalar("f_star", f_star)
    check_params(objective, params)
    val, g = jax.value_and_grad(value)(params)
    g2 = sq_norm(g)
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
    _checks.finite_scalar("f_star", f_star)
    r = _ratio(traj.loss - f_star, traj.grad_norm2)
    return jnp.where(traj.valid, r, jnp.nan)


