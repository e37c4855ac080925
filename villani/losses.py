r"""Per-sample losses and the :class:`Objective` (empirical risk + Frobenius regulariser).

$$L(\theta) = \frac1n\sum_{i=1}^n \ell\big(y_i, f(\theta, x_i)\big)
  + \frac{\lambda}{2}\|\theta\|_F^2 .$$

Each loss carries $\ell' = \partial_f\ell$ and $\ell'' = \partial_f^2\ell$ in closed form,
which the exact Laplacian and NTK diagnostics use.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from . import _checks
from ._tree import sq_norm
from ._types import Array, Params, is_concrete
from .data import Dataset
from .nets import Activation, Network, as_network
from .nets import activation as _activation

__all__ = [
    "LOSSES",
    "Loss",
    "Objective",
    "get_loss",
    "strong_convexity_threshold",
    "villani_threshold",
]


def _sq(f, y):
    return 0.5 * (f - y) ** 2


def _logistic(f, y):
    return jnp.logaddexp(0.0, -y * f)  # log(1 + exp(-y f)) without overflow


_LOSSES = {
    "squared": (_sq, lambda f, y: f - y, lambda f, y: jnp.ones_like(f * y)),
    "logistic": (
        _logistic,
        lambda f, y: -y * jax.nn.sigmoid(-y * f),
        lambda f, y: y * y * jax.nn.sigmoid(y * f) * jax.nn.sigmoid(-y * f),
    ),
}
LOSSES = tuple(_LOSSES)
"""Names accepted by :func:`get_loss`."""


@dataclasses.dataclass(frozen=True)
class Loss:
    r"""A per-sample loss $\ell(y, f)$ with $\partial_f\ell$ and $\partial_f^2\ell$.

    ``squared``: $\ell = (f-y)^2/2$, $\ell' = f - y$, $\ell'' = 1$.
    ``logistic``: $\ell = \log(1 + e^{-yf})$, $\ell' = -y\,s(-yf)$,
    $\ell'' = y^2 s(yf)s(-yf)$ with $s$ the sigmoid; so $|\ell'| \le 1$ and
    $0 < \ell'' \le 1/4$ for $y = \pm1$.
    """

    name: str

    def __call__(self, f: Array, y: Array) -> Array:
        return _LOSSES[self.name][0](f, y)

    def d1(self, f: Array, y: Array) -> Array:
        r"""$\partial_f \ell(y, f)$."""
        return _LOSSES[self.name][1](f, y)

    def d2(self, f: Array, y: Array) -> Array:
        r"""$\partial_f^2 \ell(y, f)$."""
        return _LOSSES[self.name][2](f, y)


def get_loss(name: str | Loss) -> Loss:
    """The :class:`Loss` called ``name`` (``"squared"`` or ``"logistic"``).

    Example:
        >>> float(get_loss("squared")(jnp.array(3.0), jnp.array(1.0)))
        2.0
    """
    if isinstance(name, Loss):
        return name
    if name not in _LOSSES:
        raise ValueError(f"loss: unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    return Loss(name)


def check_labels(loss: Loss, y: Array) -> None:
    r"""Raise ``ValueError`` if the logistic loss meets concrete labels other than $\pm1$.

    $\log(1 + e^{-yf})$ with $y \in \{0, 1\}$ would silently add the constant $\log 2$
    and no gradient for every $y = 0$ row. Traced labels (under ``jit``/``vmap``) pass.
    """
    if loss.name != "logistic" or not is_concrete(y):
        return
    import numpy as np

    a = np.asarray(y)
    bad = ~((a == 1) | (a == -1))
    if bad.any():
        raise ValueError(
            f"y: the logistic loss log(1 + exp(-y f)) needs labels in {{-1, +1}}, got "
            f"{int(bad.sum())} other label(s) (e.g. {a[bad][0].item()!r}); labels in {{0, 1}} map to "
            "{-1, +1} with y = 2 * y - 1")


@jax.tree_util.register_pytree_node_class
class Objective:
    r"""Regularised empirical risk of a network on a data set.

    $$L(\theta) = \frac1n\sum_{i=1}^n \ell(y_i, f(\theta, x_i)) + \frac{\lambda}{2}\|\theta\|_F^2,$$

    the norm taken over every *trained* parameter (fixed outer weights are not
    parameters). A pytree: the data and $\lambda$ are leaves (so ``vmap`` can run over
    regularisation strengths), the network and loss are static.

    Args:
        net: any network (see :func:`~villani.nets.as_network`): a villani net, a function
            ``apply(params, x)`` of one input returning a scalar, a pair ``(init, apply)``,
            an equinox or a flax module.
        data: a :class:`~villani.data.Dataset`.
        loss: ``"squared"``, ``"logistic"`` or a :class:`Loss`.
        l2: $\lambda \ge 0$.

    Example:
        >>> from villani import nets, data
        >>> ds = data.random_labels(jax.random.key(0), 16, 3)
        >>> obj = Objective(nets.two_layer(8), ds, loss="logistic", l2=0.1)
        >>> params = obj.net.init(jax.random.key(1), 3)
        >>> obj.value(params).shape
        ()
    """

    def __init__(self, net: Network, data: Dataset, loss: str | Loss = "squared",
                 l2: float | Array = 0.0):
        net = as_network(net)
        if not isinstance(data, Dataset):
            raise TypeError(f"data: expected a villani Dataset, got {type(data).__name__}")
        if jnp.issubdtype(jnp.result_type(data.x), jnp.complexfloating):
            raise TypeError(f"data: expected real inputs x, got dtype {jnp.result_type(data.x)}")
        if getattr(net, "out_dim", 1) != 1:
            raise ValueError(
                f"net: an Objective needs scalar outputs (one per sample, compared with y), but the "
                f"network has out_dim={net.out_dim}; build it with out_dim=1")
        _checks.real_scalar("l2", l2)
        if is_concrete(l2):
            l2v = float(l2)
            if not (math.isfinite(l2v) and l2v >= 0):
                raise ValueError(f"l2: expected a finite regularisation strength >= 0, got {l2}")
        self.net: Network = net
        self.data = data
        self.loss = get_loss(loss)
        self.l2 = l2
        check_labels(self.loss, data.y)

    def tree_flatten(self):
        return (self.data, self.l2), (self.net, self.loss)

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        obj.data, obj.l2 = children
        obj.net, obj.loss = aux
        return obj

    def __repr__(self) -> str:
        return f"Objective(net={self.net!r}, data={self.data!r}, loss={self.loss.name!r}, l2={self.l2})"

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.data.n

    def check_params(self, params: Params) -> None:
        """Raise ``ValueError``/``TypeError`` unless ``params`` fit the network, the data's
        dimension, and give one scalar output per sample."""
        self.net.check_params(params, in_dim=self.data.d)
        shape = self.net.output_shape(params, self.data.d)
        if shape not in ((), (1,)):
            raise ValueError(f"net: an Objective needs a scalar output per sample; apply(params, x_i) "
                             f"has shape {shape}")

    def predict(self, params: Params, x: Array | None = None) -> Array:
        r"""Network outputs $f(\theta, x_i)$ on the data (or on ``x``), shape ``(n,)``.

        An output of shape ``(1,)`` per sample (e.g. equinox's ``out_size=1``) is squeezed.
        """
        x = self.data.x if x is None else x
        f = self.net.apply(params, x)
        if jnp.ndim(f) == jnp.ndim(x) and jnp.shape(f)[-1] == 1:
            f = f[..., 0]
        return f

    def per_sample(self, params: Params) -> Array:
        r"""Per-sample data losses $\ell(y_i, f(\theta, x_i))$, shape ``(n,)`` (no regulariser)."""
        return self.loss(self.predict(params), self.data.y)

    def regulariser(self, params: Params) -> Array:
        r"""$\frac{\lambda}{2}\|\theta\|_F^2$."""
        return 0.5 * self.l2 * sq_norm(params)

    def data_value(self, params: Params) -> Array:
        r"""$\frac1n\sum_i \ell_i$, the risk without the regulariser."""
        return jnp.mean(self.per_sample(params))

    def value(self, params: Params) -> Array:
        r"""$L(\theta)$, a scalar."""
        return self.data_value(params) + self.regulariser(params)

    def grad(self, params: Params) -> Params:
        r"""$\nabla L(\theta)$, a pytree like ``params``."""
        return jax.grad(self.value)(params)

    def value_and_grad(self, params: Params) -> tuple[Array, Params]:
        r"""$(L(\theta), \nabla L(\theta))$."""
        return jax.value_and_grad(self.value)(params)

    def minibatch(self, params: Params, idx: Array) -> Array:
        r"""$\frac1{|B|}\sum_{i\in B}\ell_i + \frac\lambda2\|\theta\|^2$ for the indices ``idx``."""
        f = self.predict(params, self.data.x[idx])
        return jnp.mean(self.loss(f, self.data.y[idx])) + self.regulariser(params)

    def with_data(self, data: Dataset) -> Objective:
        """The same objective on other data (e.g. a test set)."""
        return Objective(self.net, data, self.loss, self.l2)


def _check_pos(name: str, v: Any) -> float:
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}: expected a finite value > 0, got {v}")
    return v


def villani_threshold(activation: str | Activation, *, scale: float, x_bound: float = 1.0,
                      train_outer: bool = True, parametrization: str = "standard",
                      width: int | None = None) -> float:
    r"""A sufficient regularisation level for the regularised logistic loss of a
    two-layer net to be a Villani function at SGD scale $s$ (paper 000).

    **villani's derivation, not the paper's constant** (the paper's formula could not
    be read; docs/papers/000.md). For $f(x) = c\sum_j a_j\sigma(w_j\cdot x)$, logistic loss
    ($|\ell'| \le 1$, $0 < \ell'' \le 1/4$), $\|x_i\| \le B_x$, $B_1 = \sup|\sigma'|$:

    * both layers trained: along $\|a\| \to \infty$ the Laplacian can grow like
      $c^2\|a\|^2 B_1^2B_x^2/4$ while $\|\nabla\tilde L\|^2/s$ grows like
      $\lambda^2\|a\|^2/s$, so $V_s = \|\nabla \tilde L\|^2/s - \Delta\tilde L \to \infty$
      once $\lambda > \lambda_c(s) = c\,\tfrac{\sqrt s}{2} B_1 B_x$ — independent of the
      width for the standard parametrisation ($c = 1$), as the paper says of its own
      threshold; $c = 1/\sqrt m$ under the NTK one.
    * outer weights fixed: gradient and Laplacian of the data term are bounded, so
      every $\lambda > 0$ works and the threshold is 0.

    Sufficient, not necessary: the measured threshold must lie at or below it.

    Args:
        activation: the hidden activation (name or :class:`~villani.nets.Activation`).
        scale: the SGD scale $s > 0$ (the learning rate in Shi–Su–Jordan's SDE).
        x_bound: $B_x \ge \max_i\|x_i\|$.
        train_outer: whether the outer layer is trained.
        parametrization: ``"standard"`` ($c = 1$) or ``"ntk"`` ($c = 1/\sqrt m$).
        width: $m$, needed for ``"ntk"``.

    Returns:
        $\lambda_c(s)$ as a float.

    Example:
        >>> villani_threshold("tanh", scale=0.04)
        0.1
    """
    act = _activation(activation)
    s = _check_pos("scale", scale)
    bx = _check_pos("x_bound", x_bound)
    if not train_outer:
        return 0.0
    c = 1.0
    if parametrization == "ntk":
        if width is None:
            raise ValueError("width: the NTK parametrisation's threshold needs the width m")
        c = 1.0 / math.sqrt(width)
    elif parametrization != "standard":
        raise ValueError(f"parametrization: expected 'standard' or 'ntk', got {parametrization!r}")
    return round(c * 0.5 * math.sqrt(s) * act.bounds[1] * bx, 15)


def strong_convexity_threshold(activation: str | Activation, outer: Array, *,
                               x_bound: float = 1.0, scale: float = 1.0) -> float:
    r"""$H$ such that, with the outer weights fixed, the regularised logistic loss is
    $(\lambda - H)$-strongly convex in $W$ for every $\lambda > H$ (paper 000).

    **villani's derivation**: the data-loss Hessian in $W$ has operator norm at most
    $H = c^2B_x^2\big(\tfrac14 B_1^2\|a\|^2 + \|a\|_\infty B_2 / c\big)$ — from
    $\ell'' \le 1/4$, $|\ell'| \le 1$ — i.e. $B_x^2(\tfrac14B_1^2\|a\|^2 + \|a\|_\infty B_2)$
    for $c = 1$. Above it the SDE's spectral gap is $\ge \lambda - H$ (Bakry–Émery).

    Args:
        activation: the hidden activation.
        outer: the fixed outer weights $a$, shape ``(m,)``.
        x_bound: $B_x$.
        scale: the output factor $c$ (1 standard, $1/\sqrt m$ NTK).

    Example:
        >>> round(strong_convexity_threshold("sigmoid", jnp.array([1.0])), 3)
        0.112
    """
    act = _activation(activation)
    _, b1, b2 = act.bounds
    a = jnp.asarray(outer)
    bx = _check_pos("x_bound", x_bound)
    c = _check_pos("scale", scale)
    na2 = float(jnp.sum(a**2))
    namax = float(jnp.max(jnp.abs(a)))
    return bx**2 * (0.25 * b1**2 * na2 * c**2 + namax * b2 * c)
