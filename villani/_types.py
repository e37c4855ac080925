"""Shared type aliases (one place, as in diffrax/_custom_types.py)."""

from __future__ import annotations

from typing import Any

import jax

Array = jax.Array
PRNGKey = jax.Array
Params = dict[str, Any]
"""A parameter pytree: a dict of arrays (or of lists of arrays for deep nets)."""


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds values we can inspect (not a tracer under jit/vmap)."""
    return not isinstance(x, jax.core.Tracer)
