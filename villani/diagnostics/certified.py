r"""A two-sided, rounding-aware certificate for the smallest eigenvalue of a symmetric matrix.

Krylov methods give $\lambda_{\min}$ only from above (a Ritz value is a Rayleigh
quotient) and, on the clustered bottom of a kernel or Gram spectrum, converge slowly.
:func:`certified_lambda_min` brackets it instead: an *upper* bound from a Rayleigh
quotient, a *lower* bound from a Cholesky factorisation that succeeds, with the
floating-point error of both accounted for.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from matfree import decomp

from .. import _checks
from .._types import Array, PRNGKey, is_concrete
from . import _lanczos

__all__ = ["LambdaMinBound", "certified_lambda_min"]


class LambdaMinBound(NamedTuple):
    r"""$\texttt{lower} \le \lambda_{\min}(A) \le \texttt{upper}$, both proven.

    Attributes:
        lower: a lower bound on $\lambda_{\min}(A)$, proven by a Cholesky factorisation
            of $A - \sigma I$ that ran to completion, less its rounding allowance and the
            caller's ``error``; ``-inf`` where no shift, not even $\sigma = 0$, factorised.
        upper: an upper bound: the Rayleigh quotient $\theta$ of the vector found, plus
            its rounding allowance and ``error``.
        residual: $\|A y - \theta y\|_2$ for that unit vector $y$: some eigenvalue of
            $A$ lies within it of $\theta$ (a convergence diagnostic, not needed by the
            bounds).
        rounding: the rounding allowance subtracted from the successful shift
            ($0$ where none succeeded).
        positive: ``lower > 0``: $A$ is proven positive definite.
        num_iters: Lanczos steps on $A^{-1}$.
        shifts_tried: Cholesky factorisations of $A - \sigma I$ attempted (besides $A$'s own).
    """

    lower: Array
    upper: Array
    residual: Array
    rounding: Array
    positive: Array
    num_iters: int
    shifts_tried: Array


def symmetrised(a: Array, block: int = 512) -> Array:
    """$(A + A^\top)/2$, exactly symmetric, one pair of ``block`` x ``block`` tiles at a
    time: each write is an in-place update of the loop's carried array, so under ``jit``,
    where ``a`` is not used afterwards, the result takes ``a``'s buffer instead of a second
    $n\times n$ array. Bitwise the same as ``(a + a.T) / 2`` (tiles clamped at the edge
    overlap tiles already done, whose entries are symmetric, so they are rewritten
    unchanged). Tiles are at most a quarter of $n$ wide: a tile pair as large as ``a``
    would be two more copies of it."""
    n = a.shape[0]
    b = max(1, min(block, n // 4))
    starts = [min(i * b, n - b) for i in range(-(-n // b))]
    pairs = np.array([(i, j) for k, i in enumerate(starts) for j in starts[:k + 1]], np.int32)

    def body(t, a):
        i, j = pairs_[t, 0], pairs_[t, 1]
        s = (jax.lax.dynamic_slice(a, (i, j), (b, b))
             + jax.lax.dynamic_slice(a, (j, i), (b, b)).T) / 2
        a = jax.lax.dynamic_update_slice(a, s, (i, j))
        return jax.lax.dynamic_update_slice(a, s.T, (j, i))

    pairs_ = jnp.asarray(pairs)
    return jax.lax.fori_loop(0, len(pairs), body, a)


def _gamma(k: int, u: float) -> float:
    """Higham's gamma_k = k u / (1 - k u), the relative error of a k-term dot product."""
    if k * u >= 1:
        return float("inf")
    return k * u / (1 - k * u)


def _cholesky(a: Array) -> Array:
    """The floating-point Cholesky factor of ``a``'s lower triangle (``a`` exactly symmetric:
    no symmetrising copy); all NaN where a pivot is not positive."""
    # a.T: the same matrix, and for a row-major a the column-major array LAPACK reads, so
    # no transposing copy is made
    return jax.lax.linalg.cholesky(a.T, symmetrize_input=False)


def _factorises(a: Array) -> Array:
    """True where the floating-point Cholesky of ``a`` runs to completion. Only the factor's
    diagonal is read (NaN on failure), so the factor need not be kept beside ``a``."""
    return jnp.all(jnp.isfinite(jnp.diagonal(_cholesky(a))))


def certified_lambda_min(a: Array, *, rtol: float = 1e-3, num_iters: int = 64,
                         max_shifts: int = 4, error: float = 0.0,
                         key: PRNGKey | None = None) -> LambdaMinBound:
    r"""Bracket the smallest eigenvalue of a symmetric matrix, with a proof for each end.

    The matrix certified is $A = \mathrm{fl}\big((a + a^\top)/2\big)$, exactly symmetric.

    **Upper bound.** Factor $A = R^\top R$ (Cholesky) and run ``num_iters`` Lanczos
    steps on $A^{-1}$ (two triangular solves each): $A^{-1}$'s largest eigenvalue is
    $1/\lambda_{\min}(A)$, and the bottom of a clustered spectrum is well separated
    there, so this converges where Lanczos on $A$ does not. For its Ritz vector $y$,
    $\theta = y^\top A y / y^\top y \ge \lambda_{\min}(A)$ by Courant–Fischer, whatever
    the convergence; the computed quotient is off by at most
    $\gamma_{n+2}\|A\|_F$, added to ``upper``. (Where $A$ itself does not factorise,
    the upper bound is $\min_i A_{ii}$, the quotient of a unit vector.)

    **Lower bound.** If the floating-point Cholesky factorisation of
    $\hat A = \mathrm{fl}(A - \sigma I)$ runs to completion, the computed factor satisfies
    $\hat A + \Delta = \hat R^\top \hat R \succeq 0$ with
    $|\Delta| \le \gamma_{n+1}|\hat R^\top||\hat R|$ (Demmel 1989; Higham, *Accuracy and
    Stability of Numerical Algorithms*, Thm. 10.3). Since
    $\||\hat R^\top||\hat R|\|_2 \le \|\hat R\|_F^2 = \mathrm{tr}(\hat A + \Delta)$,
    $\|\Delta\|_2 \le \frac{\gamma_{n+1}}{1-\gamma_{n+1}}\mathrm{tr}\,\hat A$, and the
    shift's own rounding is at most $u\max_i|A_{ii} - \sigma|$. So

    $$\lambda_{\min}(A) \ge \sigma
      - \tfrac{\gamma_{n+1}}{1-\gamma_{n+1}}\,\mathrm{tr}(A - \sigma I)(1 + \gamma_n)
      - u\max_i |A_{ii} - \sigma| ,$$

    the same argument as Rump's floating-point test of positive definiteness (Rump 2006).
    The shifts tried are $\sigma_k = \theta\,(1 - \min(\mathtt{rtol}\cdot 10^k, 1))$,
    $k = 0, 1, \dots$, ``max_shifts`` of them, then $\sigma = 0$ (the factorisation of
    $A$ already done): the first that factorises gives ``lower``. When Lanczos has found
    $\lambda_{\min}$ the first shift succeeds and the bracket is $\mathtt{rtol}\,\theta$
    wide; a Ritz value above a missed eigenvalue only costs tightness, never validity.
    $u$ is the unit roundoff of ``a``'s dtype and $\gamma_k = ku/(1-ku)$: in float64
    the allowance is about $n u\,\mathrm{tr}A$; in float32 it is usually larger than
    $\lambda_{\min}$ itself, and ``lower`` then says only that.

    ``error`` is the caller's bound on $\|A - A_{\rm true}\|_2$ for the matrix it meant
    (the rounding of forming it, say): by Weyl's inequality it is subtracted from
    ``lower`` and added to ``upper``. The bounds assume IEEE arithmetic and a
    conventional (not Strassen-like) Cholesky, as LAPACK's and cuSOLVER's are.

    Cost: $(1 + k)$ Cholesky factorisations ($n^3/3$ flops each; $k = 1$ when Lanczos
    converged) and ``num_iters`` pairs of triangular solves; memory a few $n\times n$
    arrays. Traceable: ``jit`` and ``vmap`` apply.

    Args:
        a: a symmetric matrix, shape ``(n, n)``, floating dtype (float64 for a useful
            lower bound at large $n$).
        rtol: relative width of the bracket aimed for, in $(0, 1)$.
        num_iters: Lanczos steps on $A^{-1}$ (capped at $n$).
        max_shifts: shifts tried before falling back to $\sigma = 0$.
        error: a bound on $\|A - A_{\rm true}\|_2$ (``0``: certify ``a`` as given).
        key: PRNG key of the Lanczos start vector (the bounds do not depend on it,
            only their tightness); ``None`` uses ``jax.random.key(0)``.

    Returns:
        A :class:`LambdaMinBound`.

    Example:
        >>> q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(0), (50, 50)))
        >>> a = (q * jnp.linspace(1e-3, 10.0, 50)) @ q.T  # lambda_min = 1e-3
        >>> b = certified_lambda_min(a)
        >>> bool(b.lower <= 1e-3 <= b.upper), bool(b.positive)
        (True, True)

    References:
        J. W. Demmel, "On floating point errors in Cholesky" (LAPACK Working Note 14,
        1989); N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.
        (SIAM 2002), ch. 10; S. M. Rump, "Verification of positive definiteness"
        (BIT 46, 2006).
    """
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        raise TypeError(f"a: expected a square array, got {type(a).__name__}")
    a = jnp.asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"a: expected a non-empty square matrix (n, n), got shape {a.shape}")
    if not jnp.issubdtype(a.dtype, jnp.floating):
        raise TypeError(f"a: expected a floating dtype, got {a.dtype}")
    if not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
        raise ValueError(f"rtol: expected a float in (0, 1), got {rtol!r}")
    max_shifts = _checks.int_at_least("max_shifts", max_shifts)
    _checks.finite_scalar("error", error)
    if is_concrete(error) and float(error) < 0:
        raise ValueError(f"error: expected a bound >= 0, got {error!r}")
    key = jax.random.key(0) if key is None else _checks.key(key)
    iters = _lanczos.check_num_iters("num_iters", num_iters, a.shape[0])
    return _certify(a, float(rtol), iters, max_shifts, error, key)


# one compiled program (op by op, the Lanczos scan over a fresh closure would be traced and
# compiled again on every call)
@partial(jax.jit, static_argnums=(1, 2, 3))
def _certify(a: Array, rtol: float, iters: int, max_shifts: int, error, key: PRNGKey):
    # exactly symmetric: the addition commutes
    return certify_symmetric(symmetrised(a), rtol, iters, max_shifts, error, key)


def certify_symmetric(a: Array, rtol: float, iters: int, max_shifts: int, error,
                      key: PRNGKey) -> LambdaMinBound:
    """:func:`certified_lambda_min` of an exactly symmetric ``a``, arguments checked
    (for callers that symmetrised ``a`` already)."""
    n = a.shape[0]
    u = float(np.finfo(a.dtype).eps) / 2
    g_chol, g_dot = _gamma(n + 1, u), _gamma(n + 2, u)
    dtype = a.dtype
    diag = jnp.diagonal(a)

    def rounding(sigma):
        tr = jnp.abs(jnp.sum(diag - sigma)) * (1 + _gamma(n, u))
        return g_chol / (1 - g_chol) * tr + u * jnp.max(jnp.abs(diag - sigma))

    # Lanczos on A^{-1} from A's own factor, taken as R = L^T (A = R^T R): for the row-major
    # L jax returns, R is the column-major array the triangular solves read (no copy)
    chol = _cholesky(a).T
    ok0 = jnp.all(jnp.isfinite(jnp.diagonal(chol)))  # else the solves give NaNs, discarded below
    tridiag = decomp.tridiag_sym(iters, materialize=True, reortho="full", custom_vjp=False)
    v0 = jax.random.normal(key, (n,), dtype)
    q, t, *_ = tridiag(lambda v: jsl.cho_solve((chol, False), v), v0)
    _, s = jnp.linalg.eigh(t)
    y = s[:, -1] @ q
    y = y / jnp.linalg.norm(y)
    ay = a @ y
    theta = y @ ay / (y @ y)
    residual = jnp.linalg.norm(ay - theta * y)
    rq_err = g_dot * jnp.sqrt(jnp.sum(a * a))
    # where A does not factorise: the unit vector e_i of its smallest diagonal entry
    i = jnp.argmin(diag)
    col = a[:, i].at[i].set(0.0)
    residual = jnp.where(ok0, residual, jnp.linalg.norm(col))
    upper = jnp.where(ok0, theta + rq_err, diag[i] + u * jnp.abs(diag[i])) + error
    theta = jnp.where(ok0, theta, diag[i])

    def sigma_at(k):
        return theta * (1 - jnp.minimum(rtol * 10.0 ** k.astype(dtype), 1.0))

    def cond(state):
        k, ok = state
        return (~ok) & (k < max_shifts) & ok0

    def body(state):
        k, _ = state
        # a - sigma I as one elementwise pass (a scatter would carry an n x n index mask)
        return k + 1, _factorises(a - sigma_at(k) * jnp.eye(n, dtype=dtype))

    tried, ok = jax.lax.while_loop(cond, body, (jnp.asarray(0), jnp.asarray(False)))
    sigma = jnp.where(ok, sigma_at(tried - 1), 0.0)
    found = ok | ok0
    rnd = jnp.where(found, rounding(sigma), 0.0)
    lower = jnp.where(found, sigma - rnd - error, -jnp.inf)
    return LambdaMinBound(lower, upper, residual, rnd, lower > 0, iters, tried)
