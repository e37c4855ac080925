r"""Weight distributions for feed-forward nets, layer by layer."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .._types import Array, PRNGKey

__all__ = ["Initializer", "gaussian", "he", "lecun", "ntk_symmetric", "positive"]



@dataclasses.dataclass(frozen=True)
class Initializer:
    r"""A distribution for the weights of a feedforward net, layer by layer.

    Construct with :func:`gaussian`, :func:`lecun`, :func:`he`, :func:`ntk_symmetric`
    or :func:`positive`. ``sample(key, dims, bias)`` returns the weight matrices
    ``W_l`` of shape ``(dims[l+1], dims[l])`` and the biases ``b_l`` of shape
    ``(dims[l+1],)``; ``dims = (d, h_1, ..., h_L, out)``.
    """

    kind: str
    scale: float = 1.0
    output_scale: float = 1.0
    base: Initializer | None = None

    def sample(self, key: PRNGKey, dims: Sequence[int], bias: bool,
               dtype: Any = None) -> tuple[list[Array], list[Array]]:
        dtype = dtype or jnp.result_type(float)
        n_layers = len(dims) - 1
        if self.kind == "ntk_symmetric":
            return self._symmetric(key, dims, bias, dtype)
        keys = jax.random.split(key, 2 * n_layers)
        ws, bs = [], []
        for layer in range(n_layers):
            fan_in, fan_out = dims[layer], dims[layer + 1]
            kw, kb = keys[2 * layer], keys[2 * layer + 1]
            shape = (fan_out, fan_in)
            if self.kind == "gaussian":
                w = self.scale * jax.random.normal(kw, shape, dtype)
                b = self.scale * jax.random.normal(kb, (fan_out,), dtype)
            elif self.kind in ("lecun", "he"):
                gain = 1.0 if self.kind == "lecun" else 2.0
                w = math.sqrt(gain / fan_in) * jax.random.normal(kw, shape, dtype)
                b = jnp.zeros((fan_out,), dtype)
            elif self.kind == "positive":
                if layer == 0:
                    w = jnp.zeros(shape, dtype)
                elif layer == n_layers - 1:
                    w = jnp.full(shape, self.output_scale, dtype)
                else:
                    u = jax.random.uniform(kw, shape, dtype, minval=0.5, maxval=1.5)
                    w = self.scale * u / fan_in
                b = jnp.zeros((fan_out,), dtype)
            else:  # pragma: no cover - constructors guard kind
                raise AssertionError(self.kind)
            ws.append(w)
            bs.append(b if bias else None)
        return ws, bs

    def _symmetric(self, key, dims, bias, dtype):
        last = dims[-2]
        if len(dims) < 3 or last % 2:
            raise ValueError(
                f"ntk_symmetric: the last hidden width must be even to pair units, got {last}"
            )
        half = list(dims[:-2]) + [last // 2, dims[-1]]
        base = self.base or gaussian(1.0)
        ws, bs = base.sample(key, half, bias, dtype)
        # duplicate the last hidden layer's units and negate their outgoing weights:
        # the paired units cancel exactly, so f(theta0, x) = 0 for every x.
        ws[-2] = jnp.concatenate([ws[-2], ws[-2]], axis=0)
        ws[-1] = jnp.concatenate([ws[-1], -ws[-1]], axis=1)
        if bias:
            bs[-2] = jnp.concatenate([bs[-2], bs[-2]])
            bs[-1] = jnp.zeros_like(bs[-1])
        return ws, bs


def gaussian(scale: float = 1.0) -> Initializer:
    r"""Every weight and bias i.i.d. $\mathcal N(0, \text{scale}^2)$.

    The natural initialiser for the NTK parametrisation, where the $1/\sqrt{\text{fan-in}}$
    factor lives in the forward pass.

    Example:
        >>> net = villani.nets.two_layer(8, init=gaussian(0.5))
    """
    if not scale > 0:
        raise ValueError(f"gaussian: scale must be > 0, got {scale}")
    return Initializer("gaussian", scale=float(scale))


def lecun() -> Initializer:
    r"""Weights $\mathcal N(0, 1/\text{fan-in})$, biases zero (LeCun et al., 1998).

    Example:
        >>> net = villani.nets.mlp((16, 16), "tanh", parametrization="standard", init=lecun())
    """
    return Initializer("lecun")


def he() -> Initializer:
    r"""Weights $\mathcal N(0, 2/\text{fan-in})$, biases zero (He et al., 2015).

    Example:
        >>> net = villani.nets.mlp((16, 16), "relu", parametrization="standard", init=he())
    """
    return Initializer("he")


def ntk_symmetric(base: Initializer | None = None) -> Initializer:
    r"""Antisymmetric doubling: draw half the last hidden layer from ``base``
    (default :func:`gaussian`), duplicate those units and negate their output weights.

    The paired units cancel, so $f(\theta_0, x) = 0$ for every $x$ while the NTK at
    $\theta_0$ has the distribution of ``base``'s (Chizat et al., 2019). Needs an even
    last hidden width.

    Example:
        >>> net = villani.nets.two_layer(8, init=ntk_symmetric())
        >>> p = net.init(jax.random.key(0), 3)
        >>> bool(jnp.abs(net.apply(p, jnp.ones(3))) < 1e-12)  # zero up to round-off
        True
    """
    if base is not None and base.kind == "ntk_symmetric":
        raise ValueError("ntk_symmetric: base must not itself be ntk_symmetric")
    return Initializer("ntk_symmetric", base=base)


def positive(hidden_scale: float = 1.0, output_scale: float = 10.0) -> Initializer:
    r"""The positive initialisation of Chatterjee (arXiv 2203.16462), paper 001.

    First layer zero; hidden-to-hidden weights i.i.d.
    $\text{hidden\_scale}\cdot U(0.5, 1.5)/\text{fan-in}$ (strictly positive);
    output weights all equal to ``output_scale`` (positive and large); biases zero.
    With $\sigma' > 0$ the backpropagated vector to the first layer is then entrywise
    positive and grows linearly with ``output_scale``, which is what makes the local
    PL criterion hold (docs/papers/001.md).

    Example:
        >>> net = villani.nets.mlp((16, 16), "tanh", parametrization="standard",
        ...           init=positive(output_scale=10.0))
    """
    if not hidden_scale > 0:
        raise ValueError(f"positive: hidden_scale must be > 0, got {hidden_scale}")
    if not output_scale > 0:
        raise ValueError(f"positive: output_scale must be > 0, got {output_scale}")
    return Initializer("positive", scale=float(hidden_scale), output_scale=float(output_scale))


