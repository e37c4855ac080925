r"""Scalar activations with analytic first and second derivatives and their bounds.

Activations carry $\sigma'$, $\sigma''$ and the bounds $B_0 = \sup|\sigma|$,
$B_1 = \sup|\sigma'|$, $B_2 = \sup|\sigma''|$ that the closed-form diagnostics and the
threshold formulas need.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from .._types import Array

__all__ = ["ACTIVATIONS", "Activation", "activation"]


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _phi(z):  # standard normal density
    return _INV_SQRT_2PI * jnp.exp(-0.5 * z * z)


def _Phi(z):  # standard normal CDF
    return 0.5 * (1.0 + jax.scipy.special.erf(z / math.sqrt(2.0)))


def _sig(z):
    return jax.nn.sigmoid(z)


# name -> (value, first derivative, second derivative); `p` is the activation's parameter
_FORMULAS = {
    "sigmoid": (
        lambda z, p: _sig(z),
        lambda z, p: _sig(z) * (1 - _sig(z)),
        lambda z, p: _sig(z) * (1 - _sig(z)) * (1 - 2 * _sig(z)),
    ),
    "tanh": (
        lambda z, p: jnp.tanh(z),
        lambda z, p: 1 - jnp.tanh(z) ** 2,
        lambda z, p: -2 * jnp.tanh(z) * (1 - jnp.tanh(z) ** 2),
    ),
    "softplus": (
        lambda z, p: jnp.logaddexp(0.0, p * z) / p,
        lambda z, p: _sig(p * z),
        lambda z, p: p * _sig(p * z) * (1 - _sig(p * z)),
    ),
    "relu": (
        lambda z, p: jnp.maximum(z, 0),
        lambda z, p: (z > 0).astype(z.dtype),
        lambda z, p: jnp.zeros_like(z),
    ),
    "erf": (
        lambda z, p: jax.scipy.special.erf(z),
        lambda z, p: (2 / math.sqrt(math.pi)) * jnp.exp(-z * z),
        lambda z, p: (-4 / math.sqrt(math.pi)) * z * jnp.exp(-z * z),
    ),
    "gelu": (  # the exact (erf) GELU, z * Phi(z)
        lambda z, p: z * _Phi(z),
        lambda z, p: _Phi(z) + z * _phi(z),
        lambda z, p: _phi(z) * (2 - z * z),
    ),
    "leaky_relu": (
        lambda z, p: jnp.where(z > 0, z, p * z),
        lambda z, p: jnp.where(z > 0, 1.0, p).astype(z.dtype),
        lambda z, p: jnp.zeros_like(z),
    ),
}

_DEFAULT_PARAM = {"softplus": 1.0, "leaky_relu": 0.01}
_SMOOTH = {"sigmoid", "tanh", "softplus", "erf", "gelu"}
ACTIVATIONS = tuple(_FORMULAS)
"""Names accepted by :func:`activation`."""


def _bounds(name: str, p: float) -> tuple[float, float, float]:
    inf = math.inf
    if name == "sigmoid":
        return 1.0, 0.25, 1.0 / (6.0 * math.sqrt(3.0))
    if name == "tanh":
        return 1.0, 1.0, 4.0 / (3.0 * math.sqrt(3.0))
    if name == "softplus":
        return inf, 1.0, p / 4.0
    if name == "relu":
        return inf, 1.0, 0.0
    if name == "erf":
        return 1.0, 2.0 / math.sqrt(math.pi), 2.0 * math.sqrt(2.0 / math.pi) * math.exp(-0.5)
    if name == "gelu":
        # sup|Phi + z phi| is reached at z = sqrt(2) (where the second derivative vanishes);
        # sup|phi (2 - z^2)| at z = 0.
        r2 = math.sqrt(2.0)
        phi_r2 = _INV_SQRT_2PI * math.exp(-1.0)
        return inf, 0.5 * (1.0 + math.erf(1.0)) + r2 * phi_r2, 2.0 * _INV_SQRT_2PI
    if name == "leaky_relu":
        return inf, max(1.0, abs(p)), 0.0
    raise AssertionError(name)


@dataclasses.dataclass(frozen=True)
class Activation:
    r"""A scalar activation $\sigma$ with analytic $\sigma'$ and $\sigma''$.

    Build one with :func:`activation`. Calling it applies $\sigma$ elementwise;
    :meth:`d1` and :meth:`d2` give $\sigma'$ and $\sigma''$ (for ``relu`` and
    ``leaky_relu`` the almost-everywhere derivatives, $\sigma'' = 0$).

    Attributes:
        name: one of :data:`ACTIVATIONS`.
        param: ``beta`` for softplus ($\log(1 + e^{\beta z})/\beta$), the negative
            slope for leaky_relu; unused otherwise.
    """

    name: str
    param: float = 0.0

    def __call__(self, z: Array) -> Array:
        return _FORMULAS[self.name][0](z, self.param)

    def d1(self, z: Array) -> Array:
        r"""$\sigma'(z)$, elementwise."""
        return _FORMULAS[self.name][1](z, self.param)

    def d2(self, z: Array) -> Array:
        r"""$\sigma''(z)$, elementwise."""
        return _FORMULAS[self.name][2](z, self.param)

    @property
    def bounds(self) -> tuple[float, float, float]:
        r"""$(\sup|\sigma|, \sup|\sigma'|, \sup|\sigma''|)$; ``inf`` where unbounded."""
        return _bounds(self.name, self.param)

    @property
    def smooth(self) -> bool:
        """Whether sigma is twice continuously differentiable everywhere."""
        return self.name in _SMOOTH


def activation(name: str | Activation, *, beta: float | None = None,
               slope: float | None = None) -> Activation:
    r"""Look up an activation by name.

    Args:
        name: ``"sigmoid"``, ``"tanh"``, ``"softplus"``, ``"relu"``, ``"erf"``,
            ``"gelu"`` (exact, $z\Phi(z)$) or ``"leaky_relu"``; an :class:`Activation`
            is returned unchanged.
        beta: softplus sharpness, $\sigma(z) = \log(1 + e^{\beta z})/\beta$ (default 1).
        slope: leaky_relu negative slope $\gamma$, $\sigma(z) = \max(z, \gamma z)$
            (default 0.01; 0 gives relu).

    Returns:
        An :class:`Activation`.

    Example:
        >>> act = activation("softplus", beta=4.0)
        >>> float(act.d1(jnp.array(0.0)))
        0.5
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name (str) or an Activation, got {name!r}")
    if name not in _FORMULAS:
        raise ValueError(
            f"activation: unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}"
        )
    if beta is not None and name != "softplus":
        raise ValueError(f"activation: beta applies to softplus only, got beta={beta} for {name!r}")
    if slope is not None and name != "leaky_relu":
        raise ValueError(
            f"activation: slope applies to leaky_relu only, got slope={slope} for {name!r}"
        )
    p = {"softplus": beta, "leaky_relu": slope}.get(name)
    p = _DEFAULT_PARAM.get(name, 0.0) if p is None else float(p)
    if name == "softplus" and not p > 0:
        raise ValueError(f"activation: softplus beta must be > 0, got {p}")
    return Activation(name, p)




