r"""The network protocol, and the layer structure feed-forward nets expose.

**The protocol.** A network is anything with ``apply(params, x)`` and a params pytree:
``apply`` maps one input ``x`` of shape ``(d,)`` to a scalar output (and a batch
``(n, d)`` to ``(n,)``). :class:`Network` is the base class; :func:`~villani.nets.as_network`
turns a plain function, an ``(init, apply)`` pair, an equinox module or a flax model into
one. ``init(key, in_dim)`` (key first, as every villani sampler) is optional: a network
without it is used with params you made yourself.

**Structure, owned by the network.** A feed-forward net
$h_0 = x$, $z_l = c_l W_l h_{l-1} + b_l$, $h_l = \sigma(z_l)$ ($l \le L$), $f = z_{L+1}$
describes itself with :meth:`FeedForward.layers` (the $W_l$, $b_l$, $c_l$, which are
trained, $\sigma$). From that one description :meth:`FeedForward.factors` computes the
forward and backward factors every closed-form diagnostic needs — layer inputs
$h_{l-1}$, $u_l = \partial f/\partial z_l$, $v_l = \partial f/\partial h_l$,
$\sigma'(z_l)$, $\sigma''(z_l)$ — so the gradient of the output in $W_l$ is
$c_l\,u_l h_{l-1}^\top$. The diagnostics (:func:`~villani.laplacian`,
:func:`~villani.ntk`, :func:`~villani.check_villani`) ask a network for its structure
and fall back to generic autodiff paths when it has none; they never look at a name.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from .. import _checks
from .._types import Array, Params, PRNGKey
from ._activations import Activation

__all__ = ["Factors", "FeedForward", "Layers", "Network", "check_x"]


def check_x(x: Array, in_dim: int | None) -> None:
    """``x`` must be a real array of shape ``(d,)`` or ``(n, d)`` with ``d = in_dim``."""
    if jnp.issubdtype(jnp.result_type(x), jnp.complexfloating):
        raise TypeError(f"x: expected real inputs, got dtype {jnp.result_type(x)}")
    if jnp.ndim(x) not in (1, 2):
        raise ValueError(f"x: expected shape (d,) or (n, d), got shape {jnp.shape(x)}")
    if in_dim is not None and jnp.shape(x)[-1] != in_dim:
        raise ValueError(
            f"x: feature dimension {jnp.shape(x)[-1]} does not match the network's in_dim {in_dim}"
        )


class Network:
    """A network: ``apply(params, x)`` over a params pytree, with an optional ``init``.

    Subclass it and define ``apply(params, x)`` (one input ``(d,)`` to a scalar, a batch
    ``(n, d)`` to ``(n,)``); define ``init(key, in_dim) -> params`` to let villani draw
    parameters. Everything else has a default: :meth:`check_params` evaluates ``apply``
    abstractly (no FLOPs) on an input of the data's dimension, :meth:`in_dim` returns
    ``None`` (unknown from the params alone). Instances must be hashable (they are static
    under ``jit``): frozen dataclasses compared by value are the natural choice.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass(frozen=True)
        ... class Linear(Network):
        ...     def init(self, key, in_dim):
        ...         return {"w": jax.random.normal(key, (in_dim,))}
        ...     def apply(self, params, x):
        ...         return x @ params["w"]
        >>> Linear().apply(Linear().init(jax.random.key(0), 3), jnp.ones((5, 3))).shape
        (5,)
    """

    def init(self, key: PRNGKey, in_dim: int) -> Params:
        raise TypeError(
            f"{type(self).__name__} has no init(key, in_dim): make the params yourself and pass "
            "them, or define init (for a plain function: nets.as_network((init, apply)))"
        )

    def apply(self, params: Params, x: Array) -> Array:
        raise NotImplementedError(
            f"{type(self).__name__}.apply is not defined: a Network must implement "
            "apply(params, x) (one input (d,) -> a scalar; a batch (n, d) -> (n,))"
        )

    def in_dim(self, params: Params) -> int | None:
        """The input dimension the params are built for, ``None`` when they do not say."""
        return None

    @property
    def has_init(self) -> bool:
        """Whether :meth:`init` is defined."""
        return type(self).init is not Network.init

    def output_shape(self, params: Params, in_dim: int) -> tuple[int, ...]:
        """The shape of ``apply(params, x)`` for one input of dimension ``in_dim`` (abstract)."""
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(params)) if jax.tree_util.tree_leaves(
            params) else jnp.result_type(float)
        x = jax.ShapeDtypeStruct((in_dim,), dtype)
        return tuple(jax.eval_shape(self.apply, params, x).shape)

    def check_params(self, params: Params, in_dim: int | None = None) -> None:
        """Raise ``TypeError``/``ValueError`` unless ``params`` fit this network (and ``in_dim``).

        Leaves must be floating-point arrays. With ``init`` the tree and every leaf shape
        must match ``init``'s; without it, ``apply`` must run (abstractly) on an input of
        dimension ``in_dim``.
        """
        _checks.float_leaves("params", params)
        try:
            own = self.in_dim(params)
        except (KeyError, TypeError, AttributeError, IndexError) as e:
            raise ValueError(f"params: not a parameter tree of {self!r}: {e!r}") from None
        if in_dim is not None and own is not None and own != in_dim:
            raise ValueError(f"params: built for in_dim={own}, but the data has d={in_dim}")
        d = own if own is not None else in_dim
        if self.has_init and d is not None:
            try:
                ref = jax.eval_shape(lambda k: self.init(k, d), jax.random.key(0))
            except (KeyError, TypeError, AttributeError, IndexError) as e:
                raise ValueError(f"params: not a parameter tree of {self!r}: {e}") from None
            got = jax.tree_util.tree_structure(params)
            want = jax.tree_util.tree_structure(ref)
            if got != want:
                raise ValueError(f"params: tree {got} does not match the network's tree {want}")
            for (path, g), w in zip(jax.tree_util.tree_leaves_with_path(params),
                                    jax.tree_util.tree_leaves(ref)):
                if jnp.shape(g) != w.shape:
                    raise ValueError(f"params: leaf {jax.tree_util.keystr(path)} has shape "
                                     f"{jnp.shape(g)}, the network expects {w.shape}")
        elif d is not None:
            try:
                self.output_shape(params, d)
            except Exception as e:  # noqa: BLE001 - any failure of apply is the params' fault
                raise ValueError(
                    f"params: apply(params, x) fails on an input of dimension {d}: "
                    f"{type(e).__name__}: {str(e)[:300]}") from None


class Layers(NamedTuple):
    r"""A feed-forward net's layers: $z_l = c_l W_l h_{l-1} + b_l$.

    Attributes:
        weights: the $W_l$, shape ``(n_l, n_{l-1})`` (fixed ones included), $l = 1..L+1$.
        biases: the $b_l$ (``None`` where a layer has none); a present bias is trained.
        scales: the constants $c_l$ (Python floats).
        trained: whether each $W_l$ is a parameter (Python bools).
        activation: $\sigma$, applied after every layer but the last.
    """

    weights: tuple[Array, ...]
    biases: tuple[Array | None, ...]
    scales: tuple[float, ...]
    trained: tuple[bool, ...]
    activation: Activation


class Factors(NamedTuple):
    r"""Forward and backward factors of a scalar feed-forward net on a batch ``(n, d)``.

    Attributes:
        inputs: $h_{l-1}$, ``(n, n_{l-1})``, for every layer $l = 1..L+1$.
        grads: $u_l = \partial f/\partial z_l$, ``(n, n_l)``, for every layer (the last is 1).
        back: $v_l = \partial f/\partial h_l$, ``(n, n_l)``, hidden layers $l = 1..L$.
        d1: $\sigma'(z_l)$, hidden layers.
        d2: $\sigma''(z_l)$, hidden layers (``None`` unless asked for).
        output: $f$, ``(n,)``.
    """

    inputs: tuple[Array, ...]
    grads: tuple[Array, ...]
    back: tuple[Array, ...]
    d1: tuple[Array, ...]
    d2: tuple[Array, ...] | None
    output: Array


class FeedForward(Network):
    r"""A :class:`Network` that exposes its layers, and so its forward and backward factors.

    Subclasses define :meth:`layers` and :meth:`layer_params`; :meth:`factors` (one batched
    forward and one backward pass) is written once here, for every feed-forward net.
    """

    out_dim: int = 1

    def layers(self, params: Params) -> Layers:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.layers(params) is not defined")

    def layer_params(self, weights: list[Array], biases: list[Array | None]) -> Params:
        """Map per-layer arrays shaped like the $W_l$ and $b_l$ to a tree like the params
        (untrained layers dropped)."""
        raise NotImplementedError(  # pragma: no cover - abstract
            f"{type(self).__name__}.layer_params is not defined")

    def forward(self, params: Params, x: Array) -> list[Array]:
        """The pre-activations $z_1, ..., z_{L+1}$ for ``x`` of shape ``(d,)`` or ``(n, d)``."""
        lay = self.layers(params)
        zs, h = [], x
        last = len(lay.weights) - 1
        for layer, (w, b, c) in enumerate(zip(lay.weights, lay.biases, lay.scales)):
            z = h @ w.T
            if c != 1.0:
                z = c * z
            if b is not None:
                z = z + b
            zs.append(z)
            if layer < last:
                h = lay.activation(z)
        return zs

    def factors(self, params: Params, x: Array, *, second: bool = False) -> Factors:
        r"""Forward and backward factors on a batch ``x`` of shape ``(n, d)`` (see :class:`Factors`).

        $u_{L+1} = 1$, $v_l = c_{l+1}u_{l+1}W_{l+1}$, $u_l = v_l\circ\sigma'(z_l)$: one batched
        backward pass. ``second=True`` also returns $\sigma''(z_l)$.
        """
        if self.out_dim != 1:
            raise ValueError(f"network: layer factors are for scalar outputs, got out_dim={self.out_dim}")
        lay = self.layers(params)
        act = lay.activation
        zs = self.forward(params, x)
        hidden = zs[:-1]
        hs = [x] + [act(z) for z in hidden]
        d1 = [act.d1(z) for z in hidden]
        d2 = [act.d2(z) for z in hidden] if second else None
        n_layers = len(lay.weights)
        us = [None] * n_layers
        vs = [None] * (n_layers - 1)
        us[-1] = jnp.ones(zs[-1].shape, zs[-1].dtype)
        for layer in range(n_layers - 2, -1, -1):
            w, c = lay.weights[layer + 1], lay.scales[layer + 1]
            if layer == n_layers - 2:  # u_{L+1} = 1: v_L is the output row, broadcast
                v = jnp.broadcast_to(c * w[0], hidden[layer].shape)
            else:
                v = us[layer + 1] @ (c * w)
            vs[layer] = v
            us[layer] = v * d1[layer]
        return Factors(tuple(hs), tuple(us), tuple(vs), tuple(d1),
                       None if d2 is None else tuple(d2), zs[-1][..., 0])
