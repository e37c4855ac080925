r"""The two-layer network $f(x) = c\sum_{j=1}^m a_j\,\sigma(w_j\cdot x + b_j)$."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from .. import _checks
from .._types import Array, Params, PRNGKey
from ._activations import Activation
from ._activations import activation as _as_activation
from ._base import FeedForward, Layers, check_x
from ._initializers import Initializer, gaussian, lecun

if TYPE_CHECKING:  # the kernels live with the diagnostics, which import the nets
    from ..diagnostics.ntk_infinite import InfiniteKernels

__all__ = ["TwoLayer", "two_layer"]

_PARAMETRIZATIONS = ("ntk", "standard")


def check_parametrization(p: str) -> str:
    if p not in _PARAMETRIZATIONS:
        raise ValueError(f"parametrization: expected one of {_PARAMETRIZATIONS}, got {p!r}")
    return p


@dataclasses.dataclass(frozen=True)
class TwoLayer(FeedForward):
    r"""Two-layer net $f(x) = c \sum_{j=1}^m a_j\,\sigma(w_j\cdot x + b_j)$.

    $c = 1/\sqrt m$ under the NTK parametrisation and $c = 1$ under the standard one.
    Params: ``{"w": (m, d)}``, plus ``"a": (m,)`` when the outer layer is trained and
    ``"b": (m,)`` with biases. With ``train_outer=False`` the outer weights are the
    fixed constants :meth:`outer_weights` (``outer="paired"``: $+1$ on the first half of
    the units, $-1$ on the second, so :func:`ntk_symmetric` gives $f(\theta_0)=0$;
    ``"ones"``; or an explicit tuple). Build with :func:`two_layer`.
    """

    width: int
    activation: Activation
    parametrization: str = "ntk"
    train_outer: bool = True
    bias: bool = False
    init_dist: Initializer = dataclasses.field(default_factory=gaussian)
    outer: str | tuple[float, ...] = "paired"

    @property
    def scale(self) -> float:
        """The output factor c: 1/sqrt(m) (NTK) or 1 (standard)."""
        return 1.0 / math.sqrt(self.width) if self.parametrization == "ntk" else 1.0

    def fixed_outer(self, dtype: Any = None) -> Array:
        """The constant outer weights used when ``train_outer=False``."""
        dtype = dtype or jnp.result_type(float)
        m = self.width
        if self.outer == "paired":
            half = (m + 1) // 2
            return jnp.concatenate([jnp.ones(half, dtype), -jnp.ones(m - half, dtype)])
        if self.outer == "ones":
            return jnp.ones(m, dtype)
        return jnp.asarray(self.outer, dtype)

    def outer_weights(self, params: Params) -> Array:
        r"""The outer weights $a$: ``params["a"]`` if trained, else the fixed constants."""
        return params["a"] if self.train_outer else self.fixed_outer(params["w"].dtype)

    def in_dim(self, params: Params) -> int:
        return int(params["w"].shape[-1])

    def layers(self, params: Params) -> Layers:
        r"""Two layers: $W$ (``(m, d)``, scale 1, bias $b$) and the outer row $a$ (scale $c$)."""
        a = self.outer_weights(params)
        return Layers((params["w"], a[None, :]), (params.get("b") if self.bias else None, None),
                      (1.0, self.scale), (True, self.train_outer), self.activation)

    def layer_params(self, weights: list[Array], biases: list[Array | None]) -> Params:
        out = {"w": weights[0]}
        if self.train_outer:
            out["a"] = weights[1][0]
        if self.bias:
            out["b"] = biases[0]
        return out

    def init(self, key: PRNGKey, in_dim: int) -> Params:
        key = _checks.key(key)
        in_dim = _checks.positive_int("in_dim", in_dim)
        ws, bs = self.init_dist.sample(key, (in_dim, self.width, 1), self.bias)
        params = {"w": ws[0]}
        if self.train_outer:
            params["a"] = ws[1][0]
        if self.bias:
            params["b"] = bs[0]
        return params

    def preactivations(self, params: Params, x: Array) -> Array:
        r"""$z_{ij} = w_j\cdot x_i + b_j$, shape ``x.shape[:-1] + (m,)``."""
        z = x @ params["w"].T
        return z + params["b"] if self.bias else z

    def apply(self, params: Params, x: Array) -> Array:
        check_x(x, self.in_dim(params))
        h = self.activation(self.preactivations(params, x))
        return self.scale * (h @ self.outer_weights(params))

    def infinite_kernels(self, x1: Array, x2: Array | None = None, **kw: Any) -> InfiniteKernels:
        r"""This network's NNGP kernel $\Sigma$ and NTK $\Theta$ at infinite width.

        :func:`~villani.diagnostics.ntk_infinite.two_layer_kernels` with this net's width,
        activation, parametrisation, biases, initialiser and readout (trained, or the
        fixed ``outer`` weights): with $\Sigma_1 = \omega^2 x\cdot x' + \beta^2$,
        $\alpha^2 = E a_j^2$ and $c$ the output scale,
        $\Sigma = c^2 m\,\alpha^2 E[\sigma(u)\sigma(v)]$ and
        $\Theta = c^2 m\,[\alpha^2 E[\sigma'(u)\sigma'(v)](x\cdot x' + \mathbb 1_{\rm bias})
        + \mathbb 1_{\rm train\_outer} E[\sigma(u)\sigma(v)]]$,
        $(u, v)\sim\mathcal N(0, \Sigma_1)$. This is the hook :func:`~villani.ntk_infinite`
        calls.

        Args:
            x1: inputs ``(n1, d)``.
            x2: inputs ``(n2, d)``; ``None`` means ``x1`` (symmetric kernels).
            **kw: ``method`` and ``order``, as for ``mlp_kernels``.

        Returns:
            :class:`~villani.diagnostics.ntk_infinite.InfiniteKernels` ``(nngp, ntk)``,
            each ``(n1, n2)``.

        Example:
            >>> x = jnp.eye(3)  # orthonormal inputs: relu's H = I/2 (Du et al.)
            >>> k = two_layer(64, "relu", train_outer=False).infinite_kernels(x)
            >>> [round(float(v), 6) for v in jnp.diag(k.ntk)]
            [0.5, 0.5, 0.5]
        """
        from ..diagnostics.ntk_infinite import two_layer_kernels

        return two_layer_kernels(x1, x2, width=self.width, activation=self.activation,
                                 parametrization=self.parametrization,
                                 train_outer=self.train_outer, bias=self.bias, init=self.init_dist,
                                 outer=self.outer, **kw)


def two_layer(width: int, activation: str | Activation = "tanh", *,
              parametrization: str = "ntk", train_outer: bool = True, bias: bool = False,
              init: Initializer | None = None,
              outer: str | Sequence[float] = "paired") -> TwoLayer:
    r"""A two-layer network $f(x) = c\sum_{j=1}^m a_j\,\sigma(w_j\cdot x + b_j)$.

    $c = 1/\sqrt m$ for ``parametrization="ntk"``, $c = 1$ for ``"standard"``.

    Args:
        width: number of hidden units $m \ge 1$.
        activation: a name from :data:`ACTIVATIONS` or an :class:`Activation`.
        parametrization: ``"ntk"`` or ``"standard"``.
        train_outer: whether $a$ is a parameter; if ``False`` it is the fixed ``outer``.
        bias: whether the hidden units have a trained bias $b_j$.
        init: the :class:`Initializer` (default :func:`gaussian` for NTK, :func:`lecun`
            for standard).
        outer: fixed outer weights when ``train_outer=False``: ``"paired"`` ($\pm1$,
            first half $+1$), ``"ones"``, or a sequence of $m$ floats.

    Returns:
        A :class:`TwoLayer`; ``init(key, d)`` gives ``{"w": (m, d), ["a": (m,)],
        ["b": (m,)]}``, ``apply(params, x)`` maps ``(d,) -> ()`` and ``(n, d) -> (n,)``.

    Example:
        >>> net = two_layer(64, "tanh")
        >>> params = net.init(jax.random.key(0), 3)
        >>> net.apply(params, jnp.ones((5, 3))).shape
        (5,)
    """
    width = _checks.positive_int("width", width)
    act = _as_activation(activation)
    check_parametrization(parametrization)
    if init is None:
        init = gaussian(1.0) if parametrization == "ntk" else lecun()
    if not isinstance(init, Initializer):
        raise TypeError(f"init: expected an Initializer (e.g. nets.gaussian()), got {init!r}")
    if isinstance(outer, str):
        if outer not in ("paired", "ones"):
            raise ValueError(f"outer: expected 'paired', 'ones' or {width} floats, got {outer!r}")
    else:
        outer = tuple(float(v) for v in np.asarray(outer).ravel())
        if len(outer) != width:
            raise ValueError(f"outer: expected {width} values (one per unit), got {len(outer)}")
    return TwoLayer(width, act, parametrization, bool(train_outer), bool(bias), init, outer)


