r"""Bring your own model: :func:`as_network` turns any JAX model into a villani network.

A network is anything with ``apply(params, x)`` and a params pytree. :func:`as_network`
accepts

* a villani :class:`~villani.nets.Network` (returned unchanged);
* a function ``apply(params, x)`` for **one** input ``x`` of shape ``(d,)``, returning a
  scalar (villani vmaps it over a batch), or a pair ``(init, apply)`` with
  ``init(key, in_dim) -> params`` (key first, like every villani sampler);
* an equinox ``Module`` (its inexact arrays are the params, ``eqx.partition`` /
  ``eqx.combine``; :func:`split` returns both); pass ``init=lambda key, d: Module(...)``
  to let villani draw fresh modules;
* a flax ``linen.Module``: ``apply`` is ``module.apply(variables, x)``, ``init(key, d)``
  is ``module.init(key, jnp.zeros(d))`` (under x64 its float32 params, flax's default
  ``param_dtype``, are returned as float64).

Every diagnostic and dynamic accepts these directly (they call :func:`as_network`);
closed forms are used when the network exposes its layers
(:class:`~villani.nets.FeedForward`), generic autodiff paths otherwise.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .. import _checks
from .._types import Array, Params, PRNGKey
from ._base import Network, check_x

__all__ = ["EquinoxNetwork", "FlaxNetwork", "FunctionNetwork", "as_network", "split"]


def _per_sample(fn: Callable[[Params, Array], Array], params: Params, x: Array) -> Array:
    check_x(x, None)
    if jnp.ndim(x) == 2:
        return jax.vmap(fn, in_axes=(None, 0))(params, x)
    return fn(params, x)


@dataclasses.dataclass(frozen=True)
class FunctionNetwork(Network):
    """A network from a function ``fn(params, x)`` of one input, with an optional ``init``.

    Compared by the identity of its functions (static under ``jit``).
    """

    fn: Callable[[Params, Array], Array]
    init_fn: Callable[[PRNGKey, int], Params] | None = None

    @property
    def has_init(self) -> bool:
        return self.init_fn is not None

    def init(self, key: PRNGKey, in_dim: int) -> Params:
        if self.init_fn is None:
            return super().init(key, in_dim)
        return self.init_fn(_checks.key(key), _checks.positive_int("in_dim", in_dim))

    def apply(self, params: Params, x: Array) -> Array:
        return _per_sample(self.fn, params, x)


def _is_equinox(obj: Any) -> bool:
    eqx = sys.modules.get("equinox")
    return eqx is not None and isinstance(obj, eqx.Module)


def _is_flax(obj: Any) -> bool:
    linen = sys.modules.get("flax.linen")
    return linen is not None and isinstance(obj, linen.Module)


@dataclasses.dataclass(frozen=True)
class EquinoxNetwork(Network):
    """An equinox module as a network: the params are its inexact arrays.

    ``static`` is the rest of the module (``eqx.partition(model, eqx.is_inexact_array)[1]``);
    ``apply(params, x) = eqx.combine(params, static)(x)`` for one input. ``make(key, in_dim)``,
    if given, builds a fresh module for :meth:`init`.
    """

    static: Any
    make: Callable[[PRNGKey, int], Any] | None = None

    @property
    def has_init(self) -> bool:
        return self.make is not None

    def init(self, key: PRNGKey, in_dim: int) -> Params:
        import equinox as eqx

        if self.make is None:
            raise TypeError(
                "EquinoxNetwork has no init: take the params from your module "
                "(net, params = nets.split(model)), or pass "
                "nets.as_network(model, init=lambda key, d: MyModule(d, ..., key=key))")
        model = self.make(_checks.key(key), _checks.positive_int("in_dim", in_dim))
        params, _ = eqx.partition(model, eqx.is_inexact_array)
        return params

    def apply(self, params: Params, x: Array) -> Array:
        import equinox as eqx

        return _per_sample(lambda p, xi: eqx.combine(p, self.static)(xi), params, x)


@dataclasses.dataclass(frozen=True)
class FlaxNetwork(Network):
    """A flax ``linen.Module`` as a network: params are its variables dict."""

    module: Any

    def init(self, key: PRNGKey, in_dim: int) -> Params:
        """``module.init(key, zeros(in_dim))``; under x64, float32 leaves become float64.

        flax's layers keep ``param_dtype=float32`` when JAX's x64 mode is on, so their
        gradients, and every update built from them, would silently run in float32 while
        the rest of villani runs in float64. The values are unchanged (float32 embeds in
        float64 exactly). Params you make yourself keep their dtypes.
        """
        key = _checks.key(key)
        in_dim = _checks.positive_int("in_dim", in_dim)
        wide = jnp.result_type(float)  # float64 under x64
        variables = self.module.init(key, jnp.zeros((in_dim,), wide))
        if wide != jnp.float64:
            return variables
        return jax.tree.map(lambda a: a.astype(wide) if a.dtype == jnp.float32 else a, variables)

    def apply(self, params: Params, x: Array) -> Array:
        return _per_sample(self.module.apply, params, x)


def as_network(obj: Any, *, init: Callable[[PRNGKey, int], Any] | None = None) -> Network:
    r"""The one adapter: any JAX model as a villani :class:`~villani.nets.Network`.

    Args:
        obj: a villani ``Network``; a function ``apply(params, x)`` of one input ``(d,)``
            returning a scalar; a pair ``(init, apply)``; an equinox ``Module``; a flax
            ``linen.Module``; or any object with such an ``apply`` method.
        init: ``init(key, in_dim)`` returning params (for a function) or a fresh module
            (for equinox); not for villani networks, pairs or flax modules, which have one.

    Returns:
        A :class:`~villani.nets.Network`: ``apply(params, x)`` maps ``(d,)`` to a scalar
        and ``(n, d)`` to ``(n,)``.

    Raises:
        TypeError: ``obj`` is none of the above.

    Example:
        >>> def apply(p, x):
        ...     return jnp.tanh(x @ p["w"]) @ p["a"]
        >>> def init(key, d):
        ...     k1, k2 = jax.random.split(key)
        ...     return {"w": jax.random.normal(k1, (d, 8)), "a": jax.random.normal(k2, (8,))}
        >>> net = as_network((init, apply))
        >>> net.apply(net.init(jax.random.key(0), 3), jnp.ones((5, 3))).shape
        (5,)
    """
    if isinstance(obj, Network):
        if init is not None:
            raise TypeError("init: a villani Network has its own init; do not pass init=")
        return obj
    if _is_equinox(obj):
        import equinox as eqx

        _, static = eqx.partition(obj, eqx.is_inexact_array)
        return EquinoxNetwork(static, init)
    if _is_flax(obj):
        if init is not None:
            raise TypeError("init: a flax module has its own init; do not pass init=")
        return FlaxNetwork(obj)
    if isinstance(obj, tuple) and len(obj) == 2 and all(callable(f) for f in obj):
        if init is not None:
            raise TypeError("init: the pair (init, apply) already has one; do not pass init=")
        return FunctionNetwork(obj[1], obj[0])
    apply = getattr(obj, "apply", None)
    if callable(apply) and not isinstance(obj, type):
        return FunctionNetwork(apply, init)
    if callable(obj) and not isinstance(obj, type):
        return FunctionNetwork(obj, init)
    raise TypeError(
        f"net: expected a network: a villani Network, a function apply(params, x), a pair "
        f"(init, apply), an equinox Module or a flax Module; got {type(obj).__name__}")


def split(model: Any) -> tuple[Network, Params]:
    """``(network, params)`` from an initialised model (an equinox ``Module``).

    Example:
        >>> import equinox as eqx
        >>> model = eqx.nn.MLP(3, "scalar", 16, 2, key=jax.random.key(0))
        >>> net, params = split(model)
        >>> net.apply(params, jnp.ones((4, 3))).shape
        (4,)
    """
    if not _is_equinox(model):
        raise TypeError(f"model: split takes an equinox Module, got {type(model).__name__}; "
                        "for other models use as_network and keep your params")
    import equinox as eqx

    params, static = eqx.partition(model, eqx.is_inexact_array)
    return EquinoxNetwork(static), params
