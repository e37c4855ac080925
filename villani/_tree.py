"""Pytree helpers written once: squared norms, finiteness, selection, sizes, and the
Hessian-vector product of a scalar function of params."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.flatten_util
import jax.numpy as jnp

from ._types import Array, Params

__all__ = ["flat_hvp", "num_params", "sq_norm", "tree_finite", "tree_select"]


def sq_norm(tree: Any) -> Array:
    r"""$\sum_\text{leaves}\|x\|^2$."""
    return sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree))


def tree_finite(tree: Any) -> Array:
    """Whether every entry of every leaf is finite (a traced bool)."""
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def tree_select(pred: Array, a: Any, b: Any) -> Any:
    """``a`` where ``pred`` else ``b``, leaf by leaf."""
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def num_params(tree: Any) -> int:
    """The number of entries in all leaves (static)."""
    return sum(math.prod(jnp.shape(v)) for v in jax.tree_util.tree_leaves(tree))


def flat_hvp(value: Callable[[Params], Array], params: Params):
    """``(theta, unravel, hvp)``: the flat params, their unravel, and ``v -> H v`` for the
    Hessian of ``value`` at ``params`` (the gradient linearised once, so every product
    reuses its stored forward pass)."""
    theta, unravel = jax.flatten_util.ravel_pytree(params)
    _, hvp = jax.linearize(jax.grad(lambda t: value(unravel(t))), theta)
    return theta, unravel, hvp
