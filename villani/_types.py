"""Shared type aliases (one place, as in diffrax/_custom_types.py)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

Array = jax.Array
PRNGKey = jax.Array
Params = dict[str, Any]
"""A parameter pytree: a dict of arrays (or of lists of arrays for deep nets)."""


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds values we can inspect (not a tracer under jit/vmap)."""
    return not isinstance(x, jax.core.Tracer)


def all_finite(tree: Any) -> bool | None:
    """Whether every leaf of ``tree`` is finite; ``None`` if any leaf is a tracer.

    Uses NumPy on concrete leaves: inside ``jit`` even ``jnp`` operations on concrete
    (closed-over) arrays are traced, so a ``jnp`` check would fail there.
    """
    leaves = jax.tree_util.tree_leaves(tree)
    if not all(is_concrete(x) for x in leaves):
        return None
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in leaves)


def check_positive_int(name: str, v: Any) -> int:
    """``v`` as an int >= 1, else ``TypeError``/``ValueError`` naming ``name`` (villani._checks)."""
    from ._checks import positive_int

    return positive_int(name, v)
