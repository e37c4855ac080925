r"""Optimisers the papers use, as thin validated wrappers over :func:`optax.sgd`.

Every constructor returns an optax ``GradientTransformation``; nothing is
re-implemented. With $g_t = \nabla L(\theta_t)$ (or a minibatch gradient) and the
momentum buffer $m_0 = 0$, optax's ``trace`` accumulator does

$$m_{t+1} = g_t + \beta m_t,\qquad
\theta_{t+1} = \theta_t - \eta\,m_{t+1}\quad\text{(heavy ball)},\qquad
\theta_{t+1} = \theta_t - \eta\,(g_t + \beta m_{t+1})\quad\text{(Nesterov)}.$$

**Heavy ball.** Eliminating $m$ gives Polyak's recursion
$\theta_{t+1} = \theta_t - \eta\nabla L(\theta_t) + \beta(\theta_t - \theta_{t-1})$,
$\theta_{-1} = \theta_0$: optax's iterate *is* the paper's $W_t$.

**Nesterov.** Paper 004 writes NAG as $V_t = W_t + \beta(W_t - W_{t-1})$,
$W_{t+1} = V_t - \eta\nabla L(V_t)$, $W_{-1} = W_0$. Putting $d_t = W_{t+1} - W_t
= -\eta m_{t+1}$ one finds $V_{t+1} = V_t - \eta(\nabla L(V_t) + \beta m_{t+1})$,
which is optax's update. So **optax's iterate $\theta_t$ is the paper's look-ahead point
$V_t$** (gradients are taken there), and the paper's $W_t = \theta_t + \eta\beta m_t$
(:func:`nesterov_w`); $V_0 = W_0$. Both sequences converge at the same linear rate.
Tested against a NumPy implementation of both recursions (``tests/test_optim.py``).

The step-size helpers take a smoothness constant $L$ (largest Hessian or NTK
eigenvalue) and a PL / NTK constant $\mu$ (smallest one), $\kappa = L/\mu$.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
import optax

from ._types import Params, is_concrete

__all__ = [
    "gd",
    "gd_lr",
    "heavy_ball",
    "heavy_ball_params",
    "nag_momentum",
    "nesterov",
    "nesterov_w",
    "sgd",
]


def _check_scalar(name: str, v: Any, ok, expected: str) -> None:
    """Validate a concrete scalar hyperparameter; tracers (vmapped values) pass."""
    if is_concrete(v):
        a = np.asarray(v)
        if a.ndim != 0:
            raise ValueError(f"{name}: expected a scalar, got shape {a.shape}")
        if not (math.isfinite(float(a)) and ok(float(a))):
            raise ValueError(f"{name}: expected {expected}, got {float(a)}")


def _check_lr(lr: Any) -> None:
    _check_scalar("lr", lr, lambda v: v > 0, "a finite learning rate > 0")


def _check_momentum(momentum: Any) -> None:
    _check_scalar("momentum", momentum, lambda v: 0.0 <= v < 1.0, "0 <= momentum < 1")


def gd(lr: float) -> optax.GradientTransformation:
    r"""Gradient descent, $\theta_{t+1} = \theta_t - \eta\nabla L(\theta_t)$.

    Full-batch or minibatch is decided by :func:`villani.train`'s ``batch_size``;
    :func:`sgd` is the same transformation under another name.

    Args:
        lr: step size $\eta > 0$ (may be a tracer, e.g. under ``vmap`` over step sizes;
            only concrete values are validated).

    Returns:
        An optax ``GradientTransformation`` (``optax.sgd(lr)``).

    Example:
        >>> opt = gd(0.1)
        >>> state = opt.init({"w": jnp.ones(2)})
    """
    _check_lr(lr)
    return optax.sgd(lr)


def sgd(lr: float) -> optax.GradientTransformation:
    r"""Stochastic gradient descent, $\theta_{t+1} = \theta_t - \eta\,g_t$ with $g_t$ a
    minibatch gradient (set ``batch_size`` in :func:`villani.train`).

    Args:
        lr: step size $\eta > 0$.

    Returns:
        ``optax.sgd(lr)``.

    Example:
        >>> opt = sgd(0.05)
    """
    _check_lr(lr)
    return optax.sgd(lr)


def nesterov(lr: float, momentum: float) -> optax.GradientTransformation:
    r"""Nesterov's accelerated gradient (NAG), ``optax.sgd(lr, momentum, nesterov=True)``.

    $$m_{t+1} = g_t + \beta m_t,\qquad \theta_{t+1} = \theta_t - \eta(g_t + \beta m_{t+1}),$$

    which is paper 004's $V_t = W_t + \beta(W_t - W_{t-1})$,
    $W_{t+1} = V_t - \eta\nabla L(V_t)$ with $\theta_t = V_t$; recover $W_t$ with
    :func:`nesterov_w`. For a $\mu$-PL, $L$-smooth problem use
    $\eta = 1/L$ (:func:`gd_lr`) and $\beta$ = :func:`nag_momentum`.

    Args:
        lr: step size $\eta > 0$.
        momentum: $0 \le \beta < 1$.

    Returns:
        An optax ``GradientTransformation``; its state's first entry holds $m_t$.

    Example:
        >>> opt = nesterov(gd_lr(4.0), nag_momentum(0.01, 4.0))

    References:
        Liu, Pan et al., arXiv 2107.01832 (docs/papers/004.md); Sutskever et al. (2013).
    """
    _check_lr(lr)
    _check_momentum(momentum)
    return optax.sgd(lr, momentum, nesterov=True)


def heavy_ball(lr: float, momentum: float) -> optax.GradientTransformation:
    r"""Polyak's heavy ball, ``optax.sgd(lr, momentum)``:
    $\theta_{t+1} = \theta_t - \eta\nabla L(\theta_t) + \beta(\theta_t - \theta_{t-1})$.

    Args:
        lr: step size $\eta > 0$.
        momentum: $0 \le \beta < 1$.

    Returns:
        An optax ``GradientTransformation``.

    Example:
        >>> opt = heavy_ball(*heavy_ball_params(0.01, 4.0))

    References:
        Polyak (1964); docs/papers/004.md.
    """
    _check_lr(lr)
    _check_momentum(momentum)
    return optax.sgd(lr, momentum, nesterov=False)


def nesterov_w(params: Params, opt_state: Any, lr: float, momentum: float) -> Params:
    r"""Paper 004's NAG iterate $W_t = \theta_t + \eta\beta m_t$ from optax's look-ahead
    iterate $\theta_t = V_t$ and its momentum buffer $m_t$.

    Args:
        params: optax's iterate $\theta_t$ (e.g. ``Trajectory.params``).
        opt_state: the state of :func:`nesterov` after $t$ updates.
        lr: $\eta$. momentum: $\beta$.

    Returns:
        $W_t$, a pytree like ``params``.

    Example:
        >>> w = nesterov_w(traj.params, traj.opt_state, 0.1, 0.9)  # doctest: +SKIP
    """
    trace = opt_state[0].trace
    return jax.tree_util.tree_map(lambda p, m: p + lr * momentum * m, params, trace)


def _check_const(name: str, v: Any) -> float:
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}: expected a finite value > 0, got {v}")
    return v


def _check_pair(mu: Any, L: Any) -> tuple[float, float]:
    mu = _check_const("mu", mu)
    L = _check_const("L", L)
    if mu > L:
        raise ValueError(f"mu: expected mu <= L (a PL constant below the smoothness), got mu={mu}, L={L}")
    return mu, L


def gd_lr(L: float) -> float:
    r"""The step $\eta = 1/L$ for an $L$-smooth loss (GD's rate is then $1 - \mu/L$).

    Args:
        L: smoothness constant $> 0$ (largest Hessian / NTK eigenvalue).

    Returns:
        $1/L$.

    Example:
        >>> gd_lr(4.0)
        0.25
    """
    return 1.0 / _check_const("L", L)


def nag_momentum(mu: float, L: float) -> float:
    r"""NAG's momentum for a $\mu$-PL (strongly convex), $L$-smooth problem,
    $\beta = \frac{1 - \sqrt{\mu/L}}{1 + \sqrt{\mu/L}} = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}$
    (with $\eta = 1/L$; rate about $1 - 1/\sqrt\kappa$).

    Args:
        mu: PL / NTK constant $0 < \mu \le L$.
        L: smoothness constant.

    Returns:
        $\beta \in [0, 1)$.

    Example:
        >>> round(nag_momentum(1.0, 100.0), 6)
        0.818182

    References:
        Nesterov (2004), Thm 2.2.3; docs/papers/004.md.
    """
    mu, L = _check_pair(mu, L)
    r = math.sqrt(mu / L)
    return (1.0 - r) / (1.0 + r)


def heavy_ball_params(mu: float, L: float) -> tuple[float, float]:
    r"""Polyak's optimal heavy-ball parameters for a quadratic with spectrum in $[\mu, L]$:
    $\eta = 4/(\sqrt L + \sqrt\mu)^2$, $\beta = \big((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\big)^2$,
    rate $(\sqrt\kappa - 1)/(\sqrt\kappa + 1)$.

    Args:
        mu: PL / NTK constant $0 < \mu \le L$.
        L: smoothness constant.

    Returns:
        ``(lr, momentum)``.

    Example:
        >>> heavy_ball_params(1.0, 9.0)
        (0.25, 0.25)

    References:
        Polyak (1964); docs/papers/004.md.
    """
    mu, L = _check_pair(mu, L)
    sk = math.sqrt(L / mu)
    return 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2, ((sk - 1.0) / (sk + 1.0)) ** 2
