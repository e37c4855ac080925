r"""Networks as pure functions over parameter pytrees.

A :class:`Network` is the stax pair ``init(key, in_dim) -> params`` and
``apply(params, x) -> outputs``. Params are plain dicts of arrays. Networks are
frozen dataclasses compared by value, so two ``two_layer(64)`` calls give equal,
hashable networks and a jitted function of an :class:`~villani.Objective` compiles
once for both.

Activations carry their analytic first and second derivatives and the bounds
$B_0 = \sup|\sigma|$, $B_1 = \sup|\sigma'|$, $B_2 = \sup|\sigma''|$ that the
closed-form diagnostics and the threshold formulas of PAPERS.md need.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._types import Array, Params, PRNGKey, check_positive_int

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Initializer",
    "MLP",
    "Network",
    "TwoLayer",
    "activation",
    "gaussian",
    "he",
    "lecun",
    "mlp",
    "ntk_symmetric",
    "positive",
    "two_layer",
]

# ----------------------------------------------------------------------------- activations

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


_activation = activation  # for builders whose argument is named `activation`


# ----------------------------------------------------------------------------- initialisers


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
        >>> net = two_layer(8, init=gaussian(0.5))
    """
    if not scale > 0:
        raise ValueError(f"gaussian: scale must be > 0, got {scale}")
    return Initializer("gaussian", scale=float(scale))


def lecun() -> Initializer:
    r"""Weights $\mathcal N(0, 1/\text{fan-in})$, biases zero (LeCun et al., 1998).

    Example:
        >>> net = mlp((16, 16), "tanh", parametrization="standard", init=lecun())
    """
    return Initializer("lecun")


def he() -> Initializer:
    r"""Weights $\mathcal N(0, 2/\text{fan-in})$, biases zero (He et al., 2015).

    Example:
        >>> net = mlp((16, 16), "relu", parametrization="standard", init=he())
    """
    return Initializer("he")


def ntk_symmetric(base: Initializer | None = None) -> Initializer:
    r"""Antisymmetric doubling: draw half the last hidden layer from ``base``
    (default :func:`gaussian`), duplicate those units and negate their output weights.

    The paired units cancel, so $f(\theta_0, x) = 0$ for every $x$ while the NTK at
    $\theta_0$ has the distribution of ``base``'s (Chizat et al., 2019). Needs an even
    last hidden width.

    Example:
        >>> net = two_layer(8, init=ntk_symmetric())
        >>> p = net.init(jax.random.key(0), 3)
        >>> float(jnp.abs(net.apply(p, jnp.ones(3))))
        0.0
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
    PL criterion hold (PAPERS.md, 001).

    Example:
        >>> net = mlp((16, 16), "tanh", parametrization="standard",
        ...           init=positive(output_scale=10.0))
    """
    if not hidden_scale > 0:
        raise ValueError(f"positive: hidden_scale must be > 0, got {hidden_scale}")
    if not output_scale > 0:
        raise ValueError(f"positive: output_scale must be > 0, got {output_scale}")
    return Initializer("positive", scale=float(hidden_scale), output_scale=float(output_scale))


# ----------------------------------------------------------------------------- networks

_PARAMETRIZATIONS = ("ntk", "standard")


def _check_parametrization(p: str) -> str:
    if p not in _PARAMETRIZATIONS:
        raise ValueError(f"parametrization: expected one of {_PARAMETRIZATIONS}, got {p!r}")
    return p


def _check_in_dim(in_dim: Any) -> int:
    return check_positive_int("in_dim", in_dim)


def _check_x(x: Array, in_dim: int) -> None:
    if x.ndim not in (1, 2):
        raise ValueError(f"x: expected shape (d,) or (n, d), got shape {x.shape}")
    if x.shape[-1] != in_dim:
        raise ValueError(
            f"x: feature dimension {x.shape[-1]} does not match the network's in_dim {in_dim}"
        )


class Network:
    """Base class: a pure ``(init, apply)`` pair. See :func:`two_layer`, :func:`mlp`."""

    kind: str = "network"

    def init(self, key: PRNGKey, in_dim: int) -> Params:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, params: Params, x: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def in_dim(self, params: Params) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_params(self, params: Params, in_dim: int | None = None) -> None:
        """Raise ``ValueError`` if ``params`` is not a parameter tree of this network."""
        try:
            ref = jax.eval_shape(lambda k: self.init(k, self.in_dim(params)), jax.random.key(0))
        except (KeyError, TypeError, AttributeError, IndexError) as e:
            raise ValueError(f"params: not a parameter tree of {self!r}: {e}") from None
        got = jax.tree_util.tree_structure(params)
        want = jax.tree_util.tree_structure(ref)
        if got != want:
            raise ValueError(f"params: tree {got} does not match the network's tree {want}")
        for g, w in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(ref)):
            if jnp.shape(g) != w.shape:
                raise ValueError(
                    f"params: a leaf has shape {jnp.shape(g)}, the network expects {w.shape}"
                )
        if in_dim is not None and self.in_dim(params) != in_dim:
            raise ValueError(
                f"params: built for in_dim={self.in_dim(params)}, but the data has d={in_dim}"
            )


@dataclasses.dataclass(frozen=True)
class TwoLayer(Network):
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

    kind = "two_layer"

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

    def init(self, key: PRNGKey, in_dim: int) -> Params:
        in_dim = _check_in_dim(in_dim)
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
        _check_x(x, self.in_dim(params))
        h = self.activation(self.preactivations(params, x))
        return self.scale * (h @ self.outer_weights(params))


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
    width = check_positive_int("width", width)
    act = _activation(activation)
    _check_parametrization(parametrization)
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


@dataclasses.dataclass(frozen=True)
class MLP(Network):
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

    kind = "mlp"

    def layer_scales(self, in_dim: int) -> tuple[float, ...]:
        """The factors c_1, ..., c_{L+1}."""
        if self.parametrization == "standard":
            return (1.0,) * (len(self.widths) + 1)
        return (1.0,) + tuple(1.0 / math.sqrt(n) for n in self.widths)

    def in_dim(self, params: Params) -> int:
        return int(params["w"][0].shape[-1])

    def init(self, key: PRNGKey, in_dim: int) -> Params:
        in_dim = _check_in_dim(in_dim)
        dims = (in_dim, *self.widths, self.out_dim)
        ws, bs = self.init_dist.sample(key, dims, self.bias)
        params = {"w": list(ws)}
        if self.bias:
            params["b"] = list(bs)
        return params

    def preactivations(self, params: Params, x: Array) -> list[Array]:
        """The pre-activations ``z_1, ..., z_{L+1}`` (the last is the output, unsqueezed)."""
        ws = params["w"]
        bs = params.get("b", [None] * len(ws))
        scales = self.layer_scales(self.in_dim(params))
        zs, h = [], x
        for layer, (w, b, c) in enumerate(zip(ws, bs, scales)):
            z = c * (h @ w.T)
            if b is not None:
                z = z + b
            zs.append(z)
            if layer < len(ws) - 1:
                h = self.activation(z)
        return zs

    def apply(self, params: Params, x: Array) -> Array:
        _check_x(x, self.in_dim(params))
        out = self.preactivations(params, x)[-1]
        return out[..., 0] if self.out_dim == 1 else out


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
    widths = tuple(check_positive_int("widths", w) for w in widths)
    if not widths:
        raise ValueError("widths: expected at least one hidden width, got ()")
    act = _activation(activation)
    _check_parametrization(parametrization)
    out_dim = check_positive_int("out_dim", out_dim)
    if init is None:
        init = gaussian(1.0) if parametrization == "ntk" else lecun()
    if not isinstance(init, Initializer):
        raise TypeError(f"init: expected an Initializer (e.g. nets.gaussian()), got {init!r}")
    return MLP(widths, act, parametrization, bool(bias), out_dim, init)
