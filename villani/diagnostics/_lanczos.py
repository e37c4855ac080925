"""Extreme eigenvalues of a symmetric operator by Lanczos (matfree), with Ritz residuals.

Shared by :func:`villani.diagnostics.ntk_spectrum` (v -> J J^T v) and
:func:`villani.diagnostics.hessian_spectrum` (Hessian-vector products). Private: the
public functions document the maths.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from matfree import decomp

from .._checks import int_at_least
from .._types import Array


def check_num_iters(name: str, num_iters, dim: int, minimum: int = 1) -> int:
    num_iters = int_at_least(name, num_iters, minimum)
    return min(num_iters, dim)  # the Krylov space cannot be larger than the dimension


def ritz(matvec: Callable[[Array], Array], v0: Array, num_iters: int, k: int):
    r"""Run ``num_iters`` Lanczos steps (full reorthogonalisation) from ``v0``.

    Returns ``(bottom, bottom_res, top, top_res)``: the ``k`` smallest Ritz values
    (ascending) and the ``k`` largest (descending), each with its true residual
    $\|A y - \theta y\|_2$ for the unit Ritz vector $y$, evaluated with one more
    matvec per vector (not the Lanczos estimate $\beta_k |s_k|$, which rounding can
    make optimistic).
    """
    tridiag = decomp.tridiag_sym(num_iters, materialize=True, reortho="full", custom_vjp=False)
    q, t, *_ = tridiag(matvec, v0)  # q: (num_iters, dim) rows are Lanczos vectors
    theta, s = jnp.linalg.eigh(t)  # ascending
    y = s.T @ q  # (num_iters, dim) Ritz vectors, rows
    y = y / jnp.linalg.norm(y, axis=1, keepdims=True)
    k = min(k, num_iters)
    idx_bottom = jnp.arange(k)
    idx_top = num_iters - 1 - jnp.arange(k)
    idx = jnp.concatenate([idx_bottom, idx_top])
    ay = jax.vmap(matvec)(y[idx])
    res = jnp.linalg.norm(ay - theta[idx][:, None] * y[idx], axis=1)
    return theta[idx_bottom], res[:k], theta[idx_top], res[k:]
