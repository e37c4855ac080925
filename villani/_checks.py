"""Argument checks, written once: every public function validates through these, so a bad
input gives the same kind of message everywhere (``TypeError``/``ValueError`` naming the
argument, what was given and what was expected).

Checks of values that may be traced (under ``jit``/``vmap``) are skipped for tracers.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._types import is_concrete

__all__ = [
    "chunk",
    "finite_scalar",
    "float_leaves",
    "int_at_least",
    "int_in_range",
    "key",
    "positive_int",
    "positive_scalar",
    "real_scalar",
]


def positive_int(name: str, v: Any) -> int:
    """``v`` as an int >= 1 (a Python or NumPy int, not a bool), else ``TypeError``/``ValueError``."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected a positive int, got {v!r}")
    if v < 1:
        raise ValueError(f"{name}: expected a positive int, got {v}")
    return int(v)


def int_at_least(name: str, v: Any, minimum: int = 1) -> int:
    """``v`` as an int >= ``minimum``: ``TypeError`` for a non-int (a bool included)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {v!r}")
    if v < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {v}")
    return int(v)


def int_in_range(name: str, v: Any, lo: int, hi: int | None = None, what: str = "") -> int:
    """``v`` as an int in ``[lo, hi]``; integral floats are accepted (``1e3`` -> 1000)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        try:
            iv = int(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a Python int, got {v!r}") from None
        if iv != v:
            raise ValueError(f"{name}: expected an integer, got {v!r}")
        v = iv
    v = int(v)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name}: expected an integer {rng}{what}, got {v}")
    return v


def chunk(v: Any, name: str = "chunk") -> int | None:
    """A positive int or ``None`` (a block size)."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}: expected a positive int or None, got {v!r}")
    return int(v)


def real_scalar(name: str, v: Any) -> None:
    """``v`` must be a real number or a 0-d real array (a tracer passes)."""
    if isinstance(v, (str, bytes)) or v is None:
        raise TypeError(f"{name}: expected a real number, got {v!r}")
    if not is_concrete(v):
        if jnp.ndim(v) != 0:
            raise ValueError(f"{name}: expected a scalar, got shape {jnp.shape(v)}")
        return
    try:
        a = np.asarray(v)
    except Exception:  # noqa: BLE001 - anything unreadable is not a number
        raise TypeError(f"{name}: expected a real number, got {v!r}") from None
    if a.ndim != 0:
        raise ValueError(f"{name}: expected a scalar, got an array of shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)) \
            or a.dtype == np.bool_:
        raise TypeError(f"{name}: expected a real number, got {v!r} (dtype {a.dtype})")


def positive_scalar(name: str, v: Any, *, allow_zero: bool = False) -> None:
    """A finite scalar > 0 (>= 0 with ``allow_zero``); ``None`` and tracers pass."""
    if v is None or not is_concrete(v):
        return
    real_scalar(name, v)
    f = float(np.asarray(v))
    if not (math.isfinite(f) and (f >= 0 if allow_zero else f > 0)):
        raise ValueError(f"{name}: expected a finite value {'>= 0' if allow_zero else '> 0'}, got {f}")


def finite_scalar(name: str, v: Any, *, positive: bool = False) -> None:
    """Finite values (all entries, any shape), > 0 with ``positive``; tracers pass."""
    if not is_concrete(v):
        return
    arr = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(arr)) or (positive and not np.all(arr > 0)):
        want = "finite values > 0" if positive else "finite values"
        raise ValueError(f"{name}: expected {want}, got {v}")


def key(v: Any, name: str = "key") -> Any:
    """A JAX PRNG key: a typed key (``jax.random.key``) or a legacy ``uint32[2]`` key.

    An int seed is refused with a message saying how to make a key.
    """
    if v is None:
        raise TypeError(f"{name}: expected a PRNG key (jax.random.key(seed)), got None")
    if isinstance(v, (bool, int, np.integer, float)):
        raise TypeError(f"{name}: expected a PRNG key, got the number {v!r}; "
                        f"pass jax.random.key({v!r}) instead")
    dtype = getattr(v, "dtype", None)
    if dtype is None:
        raise TypeError(f"{name}: expected a PRNG key (jax.random.key(seed)), got {type(v).__name__}")
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return v
    if dtype == jnp.uint32 and jnp.shape(v)[-1:] == (2,):
        return v
    raise TypeError(f"{name}: expected a PRNG key (jax.random.key(seed)), got an array of dtype "
                    f"{dtype} and shape {jnp.shape(v)}")


def float_leaves(name: str, tree: Any) -> None:
    """Every leaf of ``tree`` must be a real floating-point array."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        dt = jnp.result_type(leaf)
        if not jnp.issubdtype(dt, jnp.floating):
            where = jax.tree_util.keystr(path) or "(root)"
            raise TypeError(f"{name}: expected floating-point arrays, got dtype {dt} at {where}; "
                            "cast with jnp.asarray(p, float)")
