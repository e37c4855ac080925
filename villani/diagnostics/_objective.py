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


class _ByIdentity:
    """A static-argument key for a callable that cannot be hashed (a callable object with
    array fields, a non-frozen dataclass): equal only to itself, as a closure would be."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __hash__(self) -> int:
        return id(self.fn)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.fn is self.fn


def static_key(obj: Any) -> Any:
    """``obj`` itself as a ``jax.jit`` static argument when it can be hashed, else keyed by
    identity (:func:`static_value` gives it back)."""
    try:
        hash(obj)
    except TypeError:
        return _ByIdentity(obj)
    return obj


def static_value(key: Any) -> Any:
    """The object :func:`static_key` stood for."""
    return key.fn if isinstance(key, _ByIdentity) else key


def split_objective(objective: Any) -> tuple[Any, Any]:
    """(static callable, None) for a plain function; (None, objective) for an Objective, so
    its data travel as traced leaves (vmap over data sets, no constants baked in). The static
    part is a ``jax.jit`` static argument, so an unhashable callable is keyed by identity."""
    fn = value_fn(objective)
    if isinstance(objective, Objective):
        return None, objective
    # any other object with a .value (not a pytree jit could trace) is its bound method
    return static_key(fn), None


def join_objective(static: Any, dyn: Any) -> Callable[[Params], Array]:
    if static is None:
        return dyn.value
    return static_value(static)


def check_params(objective: Any, params: Params) -> None:
    """An Objective's params check (tree, shapes, dtypes) when the params are concrete."""
    import jax

    from .._types import is_concrete

    if isinstance(objective, Objective) and all(
            is_concrete(v) for v in jax.tree_util.tree_leaves(params)):
        objective.check_params(params)
