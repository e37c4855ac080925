"""Validation and record helpers shared by the discrete and continuous dynamics."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, Params, all_finite, is_concrete
from ..losses import Objective

Metrics = Mapping[str, Callable[[Params], Array]] | None


def check_objective(objective: Any) -> None:
    if not isinstance(objective, Objective):
        raise TypeError(f"objective: expected a villani Objective, got {type(objective).__name__}")


def check_params(objective: Objective, params: Params) -> None:
    objective.check_params(params)
    if all_finite(params) is False:
        raise ValueError("params: expected finite initial parameters, found NaN/inf entries")


def check_int(name: str, v: Any, lo: int, hi: int | None = None, what: str = "") -> int:
    if isinstance(v, bool) or not isinstance(v, int | jnp.integer):
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


def check_positive(name: str, v: Any, *, allow_zero: bool = False) -> None:
    """Validate a (possibly traced) scalar: skipped for tracers."""
    if v is None or not is_concrete(v):
        return
    a = np.asarray(v)
    if a.ndim != 0:
        raise ValueError(f"{name}: expected a scalar, got shape {a.shape}")
    f = float(a)
    ok = math.isfinite(f) and (f >= 0 if allow_zero else f > 0)
    if not ok:
        raise ValueError(f"{name}: expected a finite value {'>= 0' if allow_zero else '> 0'}, got {f}")


def check_metrics(metrics: Metrics) -> tuple[tuple[str, Callable], ...]:
    if metrics is None:
        return ()
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics: expected a dict name -> fn(params), got {type(metrics).__name__}")
    out = []
    for name, fn in metrics.items():
        if not isinstance(name, str) or not callable(fn):
            raise TypeError(f"metrics: expected str -> callable entries, got {name!r}: {fn!r}")
        out.append((name, fn))
    return tuple(out)


def tree_finite(tree: Any) -> Array:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def tree_select(pred: Array, a: Any, b: Any) -> Any:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def sq_norm(tree: Any) -> Array:
    return sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(tree))


def loss_ok(loss: Array, g2: Array, max_loss: float | None) -> Array:
    ok = jnp.isfinite(loss) & jnp.isfinite(g2)
    if max_loss is not None:
        ok = ok & (loss <= max_loss)
    return ok


def eval_metrics(metrics: tuple[tuple[str, Callable], ...], params: Params) -> dict[str, Array]:
    return {name: jnp.asarray(fn(params)) for name, fn in metrics}


def mask_records(valid: Array, loss: Array, g2: Array, mets: dict[str, Array]):
    """NaN every record where ``valid`` is False (records are axis 0)."""

    def m(x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            x = x.astype(jnp.result_type(float))
        v = valid.reshape(valid.shape + (1,) * (x.ndim - 1))
        return jnp.where(v, x, jnp.nan)

    return m(loss), m(g2), {k: m(v) for k, v in mets.items()}
