r"""Deep feed-forward networks $h_l = \sigma(c_l W_l h_{l-1} + b_l)$."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _checks
from .._types import Array, Params, PRNGKey
from ._activations import Activation
from ._activations import activation as _as_activation
from ._base import FeedForward, Layers, check_x
from ._initializers import Initializer, gaussian, lecun
from .two_layer import check_parametrization

if TYPE_CHECKING:  # the kernels live with the diagnostics, which import the nets
    from ..diagnostics.ntk_infinite import InfiniteKernels

__all__ = ["MLP", "mlp"]


@dataclasses.dataclass(frozen=True)
class MLP(FeedForward):
    r"""Deep feedforward net $h_0 = x$, $h_l = \sigma(c_l W_l h_{l-1} + b_l)$,
    $f = c_{L+1} W_{L+1} h_L (+ b_{L+1})$.

    Under ``"ntk"``: $c_1 = 1$ and $c_l = 1/\sqrt{n_{l-1}}$ for $l \ge 2$ (so a one-hidden-
    layer MLP equals :func:`two_layer`); under ``"standard"`` every $c_l = 1$. Params:
    ``{"w": [W_1, ..., W_{L+1}]}`` with ``W_l`` of shape ``(n_l, n_{l-1})`` and, with
    biases, ``"b": [b_1, ..., b_{L+1}]``. Build with :func:`mlp`.
    """

    widths: tuple[int, ...]
    activation: Activation
    parametrization: str = "ntk"
    bias: bool = False
    out_dim: int = 1
    init_dist: Initializer = dataclasses.field(default_factory=gaussian)

    def layer_scales(self, in_dim: int) -> tuple[float, ...]:
        """The factors c_1, ..., c_{L+1}."""
        if self.parametrization == "standard":
            return (1.0,) * (len(self.widths) + 1)
        return (1.0,) + tuple(1.0 / math.sqrt(n) for n in self.widths)

    def in_dim(self, params: Params) -> int:
        return int(params["w"][0].shape[-1])

    def init(self, key: PRNGKey, in_dim: int) -> Params:
        key = _checks.key(key)
        in_dim = _checks.positive_int("in_dim", in_dim)
        dims = (in_dim, *self.widths, self.out_dim)
        ws, bs = self.init_dist.sample(key, dims, self.bias)
        params = {"w": list(ws)}
        if self.bias:
            params["b"] = list(bs)
        return params

    def layers(self, params: Params) -> Layers:
        r"""The layers $W_1..W_{L+1}$ with their scales $c_l$ and biases, all trained."""
        ws = tuple(params["w"])
        bs = tuple(params["b"]) if self.bias else (None,) * len(ws)
        return Layers(ws, bs, self.layer_scales(self.in_dim(params)), (True,) * len(ws),
                      self.activation)

    def layer_params(self, weights: list[Array], biases: list[Array | None]) -> Params:
        out = {"w": list(weights)}
        if self.bias:
            out["b"] = list(biases)
        return out

    def preactivations(self, params: Params, x: Array) -> list[Array]:
        """The pre-activations ``z_1, ..., z_{L+1}`` (the last is the output, unsqueezed)."""
        return self.forward(params, x)

    def apply(self, params: Params, x: Array) -> Array:
        check_x(x, self.in_dim(params))
        out = self.forward(params, x)[-1]
        return out[..., 0] if self.out_dim == 1 else out

    def infinite_kernels(self, x1: Array, x2: Array | None = None, **kw: Any) -> InfiniteKernels:
        r"""This network's NNGP kernel $\Sigma$ and NTK $\Theta$ at infinite width.

        The layer recursion of :func:`~villani.diagnostics.ntk_infinite.mlp_kernels` with
        this net's widths, activation, parametrisation, biases and initialiser:
        $\Sigma_{l+1} = A_{l+1}\,E[\sigma(u)\sigma(v)] + \beta_{l+1}^2$ and
        $\Theta_{l+1} = G_{l+1}\,E[\sigma(u)\sigma(v)] + \mathbb 1_{\rm bias}
        + A_{l+1}\,E[\sigma'(u)\sigma'(v)]\,\Theta_l$, $(u, v)\sim\mathcal N(0, \Sigma_l)$.
        Every output of a multi-output net has these kernels. This is the hook
        :func:`~villani.ntk_infinite` calls.

        Args:
            x1: inputs ``(n1, d)``.
            x2: inputs ``(n2, d)``; ``None`` means ``x1`` (symmetric kernels).
            **kw: ``method`` (``"auto"``, ``"closed_form"``, ``"quadrature"``) and
                ``order`` (Gauss-Hermite nodes per dimension), as for ``mlp_kernels``.

        Returns:
            :class:`~villani.diagnostics.ntk_infinite.InfiniteKernels` ``(nngp, ntk)``,
            each ``(n1, n2)``.

        Example:
            >>> x = jnp.eye(3)
            >>> k = mlp((64, 64, 64), "relu", bias=True).infinite_kernels(x)
            >>> k.ntk.shape, bool(jnp.allclose(k.ntk, k.ntk.T))
            ((3, 3), True)
        """
        from ..diagnostics.ntk_infinite import mlp_kernels

        return mlp_kernels(x1, x2, widths=self.widths, activation=self.activation,
                           parametrization=self.parametrization, bias=self.bias,
                           init=self.init_dist, **kw)


def mlp(widths: Sequence[int], activation: str | Activation = "tanh", *,
        parametrization: str = "ntk", bias: bool = False, out_dim: int = 1,
        init: Initializer | None = None) -> MLP:
    r"""A deep feedforward network with hidden widths ``widths``.

    $h_0 = x$, $h_l = \sigma(c_l W_l h_{l-1} + b_l)$ for $l = 1..L$, output
    $f(x) = c_{L+1} W_{L+1} h_L + b_{L+1}$; $c_l$ as in :class:`MLP`.

    Args:
        widths: hidden widths $(n_1, ..., n_L)$, each $\ge 1$, $L \ge 1$.
        activation: a name from :data:`ACTIVATIONS` or an :class:`Activation`.
        parametrization: ``"ntk"`` or ``"standard"``.
        bias: whether every layer has a bias.
        out_dim: output dimension; 1 gives scalar outputs (``(n, d) -> (n,)``).
        init: an :class:`Initializer` (default :func:`gaussian` for NTK, :func:`lecun`
            for standard).

    Returns:
        An :class:`MLP`.

    Example:
        >>> net = mlp((16, 16), "tanh")
        >>> params = net.init(jax.random.key(0), 4)
        >>> [w.shape for w in params["w"]]
        [(16, 4), (16, 16), (1, 16)]
    """
    if isinstance(widths, (int, np.integer)):
        widths = (widths,)
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"widths: expected a sequence of ints such as (64, 64), got {widths!r}")
    widths = tuple(_checks.positive_int("widths", w) for w in widths)
    if not widths:
        raise ValueError("widths: expected at least one hidden width, got ()")
    act = _as_activation(activation)
    check_parametrization(parametrization)
    out_dim = _checks.positive_int("out_dim", out_dim)
    if init is None:
        init = gaussian(1.0) if parametrization == "ntk" else lecun()
    if not isinstance(init, Initializer):
        raise TypeError(f"init: expected an Initializer (e.g. nets.gaussian()), got {init!r}")
    return MLP(widths, act, parametrization, bool(bias), out_dim, init)
