"""Validation and record helpers shared by the discrete and continuous dynamics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp

from .._checks import int_in_range as check_int  # noqa: F401 - re-exported
from .._checks import positive_scalar as check_positive  # noqa: F401 - re-exported
from .._tree import sq_norm, tree_finite, tree_select  # noqa: F401 - re-exported
from .._types import Array, Params, all_finite
from ..losses import Objective

Metrics = Mapping[str, Callable[[Params], Array]] | None


def check_objective(objective: Any) -> None:
    if not isinstance(objective, Objective):
        raise TypeError(f"objective: expected a villani Objective, got {type(objective).__name__}")


def check_params(objective: Objective, params: Params) -> None:
    objective.check_params(params)
    if all_finite(params) is False:
        raise ValueError("params: expected finite initial parameters, found NaN/inf entries")


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
