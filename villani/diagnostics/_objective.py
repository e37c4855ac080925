"""How the PL diagnostics read an objective: a villani :class:`~villani.Objective` (its
``value``; its data travel as traced leaves) or any callable ``params -> scalar``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._types import Array, Params
from ..losses import Objective

__all__ = ["check_params", "join_objective", "split_objective", "value_fn"]


def value_fn(objective: Any) -> Callable[[Params], Array]:
    if hasattr(objective, "value") and callable(objective.value):
        return objective.value
    if callable(objective):
        return objective
    raise TypeError(f"objective: expected a villani Objective or a callable params -> scalar, "
                    f"got {type(objective).__name__}")


def split_objective(objective: Any) -> tuple[Any, Any]:
    """(static callable, None) for a plain function; (None, objective) for an Objective, so
    its data travel as traced leaves (vmap over data sets, no constants baked in)."""
    value_fn(objective)
    if hasattr(objective, "value") and callable(objective.value):
        return None, objective
    return objective, None


def join_objective(static: Any, dyn: Any) -> Callable[[Params], Array]:
    return dyn.value if static is None else static


def check_params(objective: Any, params: Params) -> None:
    """An Objective's params check (tree, shapes, dtypes) when the params are concrete."""
    import jax

    from .._types import is_concrete

    if isinstance(objective, Objective) and all(
            is_concrete(v) for v in jax.tree_util.tree_leaves(params)):
        objective.check_params(params)
