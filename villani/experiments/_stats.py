r"""Percentile bootstrap over rows, written once for the papers' confidence intervals.

Given $n$ independent rows (runs, seeds, particles) and a statistic $T$, a percentile
bootstrap draws $B$ resamples of $n$ row indices uniformly with replacement (from an
explicit PRNG key), evaluates $T$ on each, and reports the $(1-\alpha)/2$ and $(1+\alpha)/2$
empirical quantiles of $T^*_1, \dots, T^*_B$ as the interval at level $\alpha$.
Resample 0 is the data itself, so one vectorised call of $T$ gives the estimate and every
replicate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from .. import _checks

__all__ = ["Bootstrap", "bootstrap", "resample_indices"]


class Bootstrap(NamedTuple):
    """A statistic, its percentile interval and the replicates (see :func:`bootstrap`).

    Attributes:
        estimate: $T$ on the data, shape ``S`` (the statistic's shape).
        lo: the lower percentile end, shape ``S``.
        hi: the upper percentile end, shape ``S``.
        values: $T$ on the data (row 0) and on each resample, ``(1 + reps, *S)``.
    """

    estimate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    values: np.ndarray


def resample_indices(key: Any, n: int, reps: int) -> np.ndarray:
    """Row 0 ``arange(n)`` (the data), rows ``1..reps`` uniform draws with replacement.

    Args:
        key: a PRNG key; the resamples are ``jax.random.randint(key, (reps, n), 0, n)``.
        n: number of rows $\\ge 1$.
        reps: number of resamples $B \\ge 1$.

    Returns:
        An int array ``(1 + reps, n)``.

    Example:
        >>> idx = resample_indices(jax.random.key(0), 5, 3)
        >>> idx.shape, idx[0].tolist()
        ((4, 5), [0, 1, 2, 3, 4])
    """
    key = _checks.key(key)
    n = _checks.positive_int("n", n)
    reps = _checks.positive_int("reps", reps)
    draws = np.asarray(jax.random.randint(key, (reps, n), 0, n))
    return np.concatenate([np.arange(n)[None], draws])


def bootstrap(stat: Callable[[np.ndarray], Any], rows: Any, *, key: Any, reps: int = 1000,
              level: float = 0.95) -> Bootstrap:
    r"""Percentile bootstrap of a statistic over the rows of ``rows``, in one vectorised call.

    With $I_0 = (0, \dots, n-1)$ and $I_1, \dots, I_B$ drawn by :func:`resample_indices`,
    computes $T_b = $ ``stat(rows[I_b])`` for all $b$ at once and returns $T_0$ with the
    interval $[q_{(1-\alpha)/2}, q_{(1+\alpha)/2}]$ of $T_1, \dots, T_B$ (``np.quantile``,
    linear interpolation).

    Args:
        stat: maps a stack of resamples ``(1 + reps, n, ...)`` to ``(1 + reps, *S)``: the
            statistic, vectorised over the leading axis (e.g. ``lambda r: r.mean(1)``).
        rows: the data, ``(n, ...)``: one independent unit per row.
        key: a PRNG key (keyword-only).
        reps: number of resamples $B$.
        level: the interval's coverage $\alpha \in (0, 1)$.

    Returns:
        A :class:`Bootstrap` ``(estimate, lo, hi, values)``.

    Example:
        >>> x = np.arange(10.0)
        >>> b = bootstrap(lambda r: np.median(r, axis=1), x, key=jax.random.key(0), reps=500)
        >>> float(b.estimate), bool(b.lo <= 4.5 <= b.hi)
        (4.5, True)
    """
    rows = np.asarray(rows)
    if rows.ndim < 1 or rows.shape[0] < 1:
        raise ValueError(f"rows: expected an array with at least one row, got shape {rows.shape}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level: expected a coverage in (0, 1), got {level!r}")
    idx = resample_indices(key, rows.shape[0], reps)
    values = np.asarray(stat(rows[idx]))
    if values.ndim < 1 or values.shape[0] != idx.shape[0]:
        raise ValueError(f"stat: expected one value per resample, shape ({idx.shape[0]}, ...), "
                         f"got shape {values.shape}")
    lo, hi = np.quantile(values[1:], [(1 - level) / 2, (1 + level) / 2], axis=0)
    return Bootstrap(values[0], lo, hi, values)
