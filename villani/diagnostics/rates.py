r"""Linear-rate fits with confidence intervals, and the rates theory predicts.

* :func:`fit_rate` — least-squares fit of $\log(L_t - f^*) \approx c - \rho t$ over the linear
  phase of a run (or a batch of runs), with a $t$-interval on $\rho$.
* :func:`fit_slope` — the same least-squares machinery for any $(x, y)$, e.g. the log–log
  regression of $\log(1 - q)$ on $\log\kappa$ (docs/papers/004.md).
* :func:`predicted_rate` — textbook rates of GD, NAG, heavy-ball and gradient flow from
  $(\mu, L)$ at their standard tunings; :func:`quadratic_rate` — the exact asymptotic rate
  (spectral radius of the iteration) on a quadratic with given Hessian eigenvalues.

Conventions: a *rate* $\rho$ is per unit of the x-axis (per step for discrete runs, per
time unit for continuous ones) on the natural-log scale, $Q_t \approx Q_0 e^{-\rho t}$; the
*contraction* is $e^{-\rho}$, the factor per unit. For a loss that behaves like the squared
distance to the optimum, the loss rate is twice the iterate rate.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, PRNGKey, is_concrete

__all__ = [
    "METHODS",
    "PredictedRate",
    "RateFit",
    "SlopeFit",
    "fit_rate",
    "fit_slope",
    "predicted_rate",
    "quadratic_rate",
    "t_quantile",
]

METHODS = ("gd", "nag", "heavy_ball", "gradient_flow")
"""Method names accepted by :func:`predicted_rate` (:func:`quadratic_rate`: the first three)."""

_AUTO_BOUNDS = (1e-9, 1e-2)


# ----------------------------------------------------------------------------- t quantile


def _t_cdf_upper(t: Array, df: Array) -> Array:
    # P(T > t) for t >= 0: 0.5 * I_{df/(df+t^2)}(df/2, 1/2)
    return 0.5 * jax.scipy.special.betainc(df / 2.0, 0.5, df / (df + t * t))


@jax.jit
def t_quantile(p: float | Array, df: float | Array) -> Array:
    r"""Quantile of Student's $t$ distribution (jit/vmap-able; no SciPy needed).

    Solves $P(T \le t) = p$ by bisection on the regularised incomplete beta function,
    $P(T > t) = \tfrac12 I_{\nu/(\nu + t^2)}(\nu/2, 1/2)$ for $t \ge 0$, to float precision.

    Args:
        p: probability in $(0, 1)$.
        df: degrees of freedom $\nu > 0$.

    Returns:
        $t_{p,\nu}$ (NaN where $\nu \le 0$ or $p \notin (0, 1)$).

    Example:
        >>> round(float(t_quantile(0.975, 10)), 4)
        2.2281
    """
    p = jnp.asarray(p, dtype=float)
    df = jnp.asarray(df, dtype=float)
    p, df = jnp.broadcast_arrays(p, df)
    upper = jnp.where(p >= 0.5, 1.0 - p, p)  # the tail mass beyond |t|
    # bisection on s = t / (1 + t) in [0, 1): monotone, covers t in [0, inf)
    lo, hi = jnp.zeros_like(p), jnp.ones_like(p)

    def body(_, lh):
        lo, hi = lh
        mid = 0.5 * (lo + hi)
        t = mid / (1.0 - mid)
        too_small = _t_cdf_upper(t, df) > upper  # tail beyond t still too heavy: go right
        return jnp.where(too_small, mid, lo), jnp.where(too_small, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 64, body, (lo, hi))
    mid = 0.5 * (lo + hi)
    t = mid / (1.0 - mid)
    t = jnp.where(p >= 0.5, t, -t)
    return jnp.where((df > 0) & (p > 0) & (p < 1), t, jnp.nan)


# ----------------------------------------------------------------------------- least squares


class SlopeFit(NamedTuple):
    r"""A least-squares line $y \approx c + s x$ with a $t$-interval on $s$.

    Attributes:
        slope: $s$.
        intercept: $c$.
        stderr: standard error of $s$, $\sqrt{\hat\sigma^2/S_{xx}}$ with
            $\hat\sigma^2$ the residual sum of squares over $n - 2$.
        ci: ``(..., 2)`` the interval $s \pm t_{(1+\text{level})/2,\,n-2}\cdot$stderr.
        n_points: points in the fit.
        level: the confidence level.
    """

    slope: Array
    intercept: Array
    stderr: Array
    ci: Array
    n_points: Array
    level: float


def _masked_linfit(x: Array, y: Array, w: Array, level: float) -> SlopeFit:
    # x, y, w: (k,); w in {0, 1}. NaN results where fewer than 3 points (callers refuse first).
    w = w.astype(x.dtype)
    xs = jnp.where(w > 0, x, 0.0)
    ys = jnp.where(w > 0, y, 0.0)
    n = jnp.sum(w)
    nn = jnp.maximum(n, 1.0)
    xm, ym = jnp.sum(w * xs) / nn, jnp.sum(w * ys) / nn
    dx, dy = w * (xs - xm), w * (ys - ym)
    sxx = jnp.sum(dx * dx)
    sxx_safe = jnp.where(sxx > 0, sxx, 1.0)
    slope = jnp.sum(dx * dy) / sxx_safe
    intercept = ym - slope * xm
    resid = w * (ys - intercept - slope * xs)
    dof = n - 2.0
    s2 = jnp.sum(resid * resid) / jnp.where(dof > 0, dof, 1.0)
    se = jnp.sqrt(s2 / sxx_safe)
    ok = (n >= 3) & (sxx > 0)
    slope, intercept, se = (jnp.where(ok, v, jnp.nan) for v in (slope, intercept, se))
    tq = t_quantile(0.5 + level / 2.0, jnp.where(ok, dof, 1.0))
    ci = jnp.stack([slope - tq * se, slope + tq * se], axis=-1)
    return SlopeFit(slope, intercept, se, ci, n.astype(jnp.int32), level)


def _check_level(level: Any) -> float:
    lv = float(level)
    if not (0.0 < lv < 1.0):
        raise ValueError(f"level: expected a confidence level in (0, 1), got {level}")
    return lv


def fit_slope(x: Array, y: Array, *, log: bool = False, level: float = 0.95,
              mask: Array | None = None) -> SlopeFit:
    r"""Least-squares slope of $y$ on $x$ (or of $\log y$ on $\log x$) with a $t$ confidence interval.

    $$\hat s = \frac{\sum (x_i - \bar x)(y_i - \bar y)}{\sum (x_i - \bar x)^2},\qquad
      \mathrm{se}(\hat s) = \sqrt{\frac{\sum r_i^2/(n-2)}{\sum (x_i - \bar x)^2}},$$
    interval $\hat s \pm t_{(1+\text{level})/2,\,n-2}\,\mathrm{se}$. The same routine
    :func:`fit_rate` uses. E.g. ``fit_slope(kappa, 1 - q, log=True)`` for the
    "$\log(1 - q)$ vs $\log\kappa$" regression of paper 004 (slope ≈ −1 for GD, −1/2 for NAG).

    Args:
        x: ``(..., k)`` abscissae (a leading batch gives one fit per row).
        y: ``(..., k)`` ordinates.
        log: regress $\log y$ on $\log x$ (both must be > 0 where used).
        level: confidence level in (0, 1).
        mask: ``(..., k)`` bool, points to use (default: all finite points).

    Returns:
        A :class:`SlopeFit`.

    Raises:
        ValueError: fewer than 3 usable points (concrete inputs), or non-positive
            values with ``log=True``, or mismatched shapes.

    Example:
        >>> fit_slope(jnp.array([1., 2., 4., 8.]), jnp.array([3., 6., 12., 24.]), log=True).slope
        Array(1., dtype=float64)
    """
    level = _check_level(level)
    x, y = jnp.asarray(x, dtype=float), jnp.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim < 1:
        raise ValueError(f"x, y: expected equal shapes (..., k), got {x.shape} and {y.shape}")
    m = jnp.ones(x.shape, bool) if mask is None else jnp.broadcast_to(jnp.asarray(mask, bool), x.shape)
    if log:
        if is_concrete(x) and is_concrete(y) and bool(jnp.any(m & ((x <= 0) | (y <= 0)))):
            raise ValueError("x, y: log=True needs x > 0 and y > 0 at every used point")
        x, y = jnp.log(jnp.where(m, x, 1.0)), jnp.log(jnp.where(m, y, 1.0))
    m = m & jnp.isfinite(x) & jnp.isfinite(y)
    if is_concrete(m):
        n = np.asarray(m).sum(axis=-1)
        if np.any(n < 3):
            raise ValueError(f"x, y: a line fit with a confidence interval needs at least 3 usable "
                             f"points, got {n.min()}")
    return SlopeFit(*_linfit_batch(x, y, m, level), level)


@functools.partial(jax.jit, static_argnums=3)
def _linfit_batch(x, y, m, level):
    return jnp.vectorize(lambda a, b, c: tuple(_masked_linfit(a, b, c, level)[:5]),
                         signature="(k),(k),(k)->(),(),(),(2),()")(x, y, m)


# ----------------------------------------------------------------------------- rate fits


class RateFit(NamedTuple):
    r"""A fitted linear rate $Q_t \approx e^{c - \rho t}$, $Q = L - f^*$ (or a metric).

    Per-seed fields have the batch shape (``()`` for one run).

    Attributes:
        rate: $\rho$, per unit of ``steps``.
        stderr: standard error of $\rho$.
        ci: ``(..., 2)`` confidence interval on $\rho$ at ``level`` ($t$ quantile, $n-2$ dof).
        contraction: $e^{-\rho}$, the fitted factor per unit of ``steps``.
        intercept: $c$.
        window: ``(..., 2)`` first and last ``steps`` value of the fitted window.
        n_points: points in the fit.
        level: confidence level.
        mean: mean of ``rate`` over the leading seed axis (None for a single run).
        mean_ci: ``(2,)`` interval for the mean: $t$ with $S - 1$ dof, or a percentile
            bootstrap over seeds (None for a single run).
    """

    rate: Array
    stderr: Array
    ci: Array
    contraction: Array
    intercept: Array
    window: Array
    n_points: Array
    level: float
    mean: Array | None = None
    mean_ci: Array | None = None


def _window_mask(steps: Array, gap: Array, valid: Array, window: Any,
                 bounds: tuple[float, float]) -> Array:
    use = valid & (gap > 0) & jnp.isfinite(gap)
    if window is None:
        return use
    if isinstance(window, str):
        # contiguous index range: from the first record with rel <= hi to the last with rel >= lo
        first = jnp.argmax(use)
        g0 = gap[first]
        rel = gap / jnp.where(g0 > 0, g0, 1.0)
        idx = jnp.arange(gap.shape[0])
        below_hi = use & (rel <= bounds[1])
        above_lo = use & (rel >= bounds[0])
        start = jnp.where(jnp.any(below_hi), jnp.argmax(below_hi), gap.shape[0])
        stop = jnp.where(jnp.any(above_lo), gap.shape[0] - 1 - jnp.argmax(above_lo[::-1]), -1)
        return use & (idx >= start) & (idx <= stop)
    lo, hi = window
    return use & (steps >= lo) & (steps <= hi)


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def _fit_rate_core(st, gap, vd, lohi, kind, level, bounds):
    window = lohi if kind == "range" else kind

    def one(s, g, v):
        m = _window_mask(s, g, v, window, bounds)
        fit = _masked_linfit(s, jnp.log(jnp.where(m, g, 1.0)), m, level)
        big = jnp.where(m, s, -jnp.inf).max()
        small = jnp.where(m, s, jnp.inf).min()
        return fit.slope, fit.intercept, fit.stderr, fit.ci, fit.n_points, jnp.stack([small, big])

    return jnp.vectorize(one, signature="(k),(k),(k)->(),(),(),(2),(),(2)")(st, gap, vd)


def _divergence_note(traj: Any) -> str | None:
    """"diverged at step 12 (...): reason" for a concrete diverged trajectory, else None."""
    from ..trajectory import divergence_message

    d = getattr(traj, "diverged", None)
    if d is None or not is_concrete(d) or not np.any(np.asarray(d)):
        return None
    if getattr(traj, "reason", None) is not None and not is_concrete(traj.reason):
        return None
    return divergence_message(traj)


def fit_rate(trajectory_or_values: Any, *, steps: Array | None = None, f_star: float | Array = 0.0,
             window: Any = "auto", metric: str | None = None, valid: Array | None = None,
             level: float = 0.95, auto_bounds: tuple[float, float] = _AUTO_BOUNDS,
             bootstrap: int | None = None, key: PRNGKey | None = None) -> RateFit:
    r"""Fit the linear rate of a run: $\log(Q_t - f^*) \approx c - \rho t$ by least squares.

    $Q$ is the loss (default) or ``traj.metrics[metric]`` (e.g. a residual norm). The
    window of the fit:

    * ``"auto"`` (default): the linear phase, from the first record where the relative gap
      $(Q_t - f^*)/(Q_{t_0} - f^*)$ ($t_0$ the first usable record) is $\le$
      ``auto_bounds[1]`` $= 10^{-2}$ to the last where it is $\ge$ ``auto_bounds[0]``
      $= 10^{-9}$ (docs/papers/004.md) — past the transient, before the round-off floor;
    * ``(lo, hi)``: records with $lo \le$ ``steps`` $\le hi$;
    * ``None``: every usable record.

    Usable records are valid (``traj.valid``: records after a divergence never enter) with
    a finite, positive gap. The interval is $\hat\rho \pm t_{(1+\text{level})/2,\,n-2}\,
    \mathrm{se}$ (default level 95 %); it assumes independent residuals, which
    oscillating methods (NAG, heavy-ball) violate — read it as a fit uncertainty.

    A leading seed axis (a vmapped batch of trajectories, or 2-D values) gives per-seed
    fits plus ``mean`` and ``mean_ci`` across seeds ($t$ interval with $S-1$ dof, or a
    percentile bootstrap over seeds with ``bootstrap`` resamples and ``key``).

    Args:
        trajectory_or_values: a :class:`~villani.Trajectory` (uses ``steps``, ``loss`` or
            the metric, ``valid``) or an array ``(..., k)`` of values.
        steps: ``(k,)`` or ``(..., k)`` x-axis for arrays (default ``0..k-1``).
        f_star: subtracted before the log.
        window: ``"auto"``, ``(lo, hi)`` in units of ``steps``, or ``None``.
        metric: name of a trajectory metric to fit instead of the loss.
        valid: ``(..., k)`` bool mask for arrays (default: all).
        level: confidence level in (0, 1).
        auto_bounds: the relative-gap band of ``"auto"``.
        bootstrap: number of bootstrap resamples for ``mean_ci`` (needs ``key``).
        key: PRNG key for the bootstrap.

    Returns:
        A :class:`RateFit`.

    Raises:
        ValueError: fewer than 3 usable points in the window of some run (concrete
            inputs; the message says so when the trajectory diverged, at which step and
            why), bad ``window`` / ``level`` / shapes, a metric that does not exist.

    Warns:
        RuntimeWarning: the trajectory diverged (step and reason named); the fit uses
            only its records before the divergence.

    Example:
        >>> t = jnp.arange(50.0)
        >>> fit = fit_rate(jnp.exp(-0.3 * t), window=None)
        >>> round(float(fit.rate), 6)
        0.3
    """
    level = _check_level(level)
    lo_b, hi_b = (float(b) for b in auto_bounds)
    if not (0 < lo_b < hi_b):
        raise ValueError(f"auto_bounds: expected 0 < lo < hi, got {auto_bounds}")
    if isinstance(window, str) and window != "auto":
        raise ValueError(f"window: expected 'auto', None or (lo, hi), got {window!r}")
    if window is not None and not isinstance(window, str):
        if len(window) != 2 or (is_concrete(window[0]) and is_concrete(window[1])
                                and not float(window[0]) < float(window[1])):
            raise ValueError(f"window: expected (lo, hi) with lo < hi, got {window!r}")
    traj_given = hasattr(trajectory_or_values, "loss") and hasattr(trajectory_or_values, "valid")
    if traj_given:
        traj = trajectory_or_values
        if metric is None:
            vals = traj.loss
        elif metric not in traj.metrics:
            raise ValueError(f"metric: {metric!r} is not a metric of this trajectory "
                             f"(has {sorted(traj.metrics)})")
        else:
            vals = traj.metrics[metric]
        st, vd = traj.steps, traj.valid
        if steps is not None or valid is not None:
            raise ValueError("steps, valid: taken from the trajectory; pass them only with arrays")
    else:
        if metric is not None:
            raise ValueError("metric: only for a Trajectory")
        vals = trajectory_or_values
        st, vd = steps, valid
    vals = jnp.asarray(vals, dtype=float)
    if vals.ndim < 1:
        raise ValueError(f"trajectory_or_values: expected values with a time axis, got shape {vals.shape}")
    k = vals.shape[-1]
    st = jnp.arange(k, dtype=vals.dtype) if st is None else jnp.asarray(st, dtype=vals.dtype)
    vd = jnp.ones(vals.shape, bool) if vd is None else jnp.asarray(vd, bool)
    try:
        st = jnp.broadcast_to(st, vals.shape)
        vd = jnp.broadcast_to(vd, vals.shape)
    except ValueError:
        raise ValueError(f"steps, valid: expected shapes broadcastable to the values' {vals.shape}, "
                         f"got {st.shape} and {vd.shape}") from None
    gap = vals - f_star

    kind = window if window is None or isinstance(window, str) else "range"
    lohi = None if kind != "range" else (window[0], window[1])
    slope, intercept, se, ci, npts, win = _fit_rate_core(st, gap, vd, lohi, kind, level, (lo_b, hi_b))
    diverged = _divergence_note(trajectory_or_values) if traj_given else None
    if is_concrete(npts) and np.any(np.asarray(npts) < 3):
        bad = np.argwhere(np.asarray(npts) < 3)
        where = f" (run {tuple(int(i) for i in bad[0])})" if np.ndim(npts) else ""
        raise ValueError(f"window: fewer than 3 usable points in the fit window{where} "
                         f"(got {int(np.asarray(npts).min())}; window={window!r}); "
                         + (f"the trajectory {diverged}, and its records from there on are invalid"
                            if diverged else
                            f"for 'auto' the relative gap must cross the band {auto_bounds} — run "
                            "longer or pass window=(lo, hi) or None"))
    if diverged:
        warnings.warn(f"fit_rate: the trajectory {diverged}; the rate is fitted to its records "
                      "before that only", RuntimeWarning, stacklevel=2)
    rate = -slope
    ci = -ci[..., ::-1]
    out = RateFit(rate, se, ci, jnp.exp(-rate), intercept, win, npts, level)
    if rate.ndim == 0:
        return out
    if bootstrap is not None and (key is None or int(bootstrap) < 1):
        raise ValueError(f"bootstrap: expected an integer >= 1 with a key, got {bootstrap} (key={key})")
    flat = rate.reshape(rate.shape[0], -1)
    S = flat.shape[0]
    mean = jnp.mean(flat, axis=0)
    if bootstrap is None:
        if is_concrete(S) and S < 2:
            mean_ci = jnp.stack([mean, mean], axis=-1) * jnp.nan
        else:
            sd = jnp.std(flat, axis=0, ddof=1)
            tq = t_quantile(0.5 + level / 2.0, S - 1)
            mean_ci = jnp.stack([mean - tq * sd / math.sqrt(S), mean + tq * sd / math.sqrt(S)], axis=-1)
    else:
        idx = jax.random.randint(key, (int(bootstrap), S), 0, S)
        means = jnp.mean(flat[idx], axis=1)
        q = jnp.quantile(means, jnp.array([0.5 - level / 2.0, 0.5 + level / 2.0]), axis=0)
        mean_ci = jnp.moveaxis(q, 0, -1)
    rest = rate.shape[1:]
    return out._replace(mean=mean.reshape(rest), mean_ci=mean_ci.reshape(rest + (2,)))


# ----------------------------------------------------------------------------- theory


class PredictedRate(NamedTuple):
    r"""A predicted linear rate.

    Attributes:
        rate: $\rho$ (per step, or per time unit for gradient flow) of ``quantity``.
        contraction: $e^{-\rho}$, the factor per step (time unit).
        lr: the step size the prediction assumes ($\eta$; NaN for gradient flow).
        momentum: the momentum it assumes ($\beta$; 0 for GD / gradient flow).
        quantity: ``"loss"`` or ``"iterate"`` (distance to the minimiser).
    """

    rate: Array
    contraction: Array
    lr: Array
    momentum: Array
    quantity: str


def _check_method(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise ValueError(f"method: expected one of {', '.join(allowed)}, got {method!r}")


def _check_quantity(q: str) -> int:
    if q not in ("loss", "iterate"):
        raise ValueError(f"quantity: expected 'loss' or 'iterate', got {q!r}")
    return 2 if q == "loss" else 1


def predicted_rate(method: str, mu: float | Array, L: float | Array, *,
                   quantity: str = "loss") -> PredictedRate:
    r"""Textbook linear rate of a method on a $\mu$-strongly convex, $L$-smooth quadratic.

    With $\kappa = L/\mu$, per step for the iterate error (spectral radius of the
    iteration at the standard tuning; :func:`quadratic_rate` gives these exactly at the
    extreme eigenvalues):

    ================ =========================================== ==================================
    method           tuning                                      iterate contraction
    ================ =========================================== ==================================
    ``gd``           $\eta = 1/L$                                $1 - \mu/L$
    ``nag``          $\eta = 1/L$, $\beta = (\sqrt\kappa-1)/(\sqrt\kappa+1)$ $1 - \sqrt{\mu/L}$
    ``heavy_ball``   $\eta = 4/(\sqrt L+\sqrt\mu)^2$, $\beta = ((\sqrt\kappa-1)/(\sqrt\kappa+1))^2$
                                                                 $(\sqrt\kappa-1)/(\sqrt\kappa+1)$
    ``gradient_flow`` —                                          $e^{-\mu}$ per time unit
    ================ =========================================== ==================================

    The loss gap behaves like the squared error, so with ``quantity="loss"`` (default, what
    :func:`fit_rate` fits on a loss) the rate doubles: gradient flow's $L_t - f^* \le
    e^{-2\mu t}(L_0 - f^*)$ (rate $2\mu$, also the PL statement). NAG's root at $\mu$ is
    double (a Jordan block), so its measured rate approaches the prediction slowly.

    Args:
        method: one of :data:`METHODS`.
        mu: $\mu > 0$ (smallest Hessian eigenvalue or PL constant).
        L: $L \ge \mu$ (largest Hessian eigenvalue).
        quantity: ``"loss"`` or ``"iterate"``.

    Returns:
        A :class:`PredictedRate` (jit/vmap-able in ``mu``, ``L``).

    Example:
        >>> float(predicted_rate("gd", 1.0, 10.0, quantity="iterate").contraction)
        0.9

    References:
        Polyak (1964) for heavy-ball; Nesterov, *Lectures on Convex Optimization* (2018),
        §2.2 for NAG; docs/papers/004.md for the tunings.
    """
    _check_method(method, METHODS)
    power = _check_quantity(quantity)
    if is_concrete(mu) and is_concrete(L):
        m_, l_ = np.asarray(mu, float), np.asarray(L, float)
        if not (np.all(np.isfinite(m_)) and np.all(m_ > 0) and np.all(l_ >= m_) and np.all(np.isfinite(l_))):
            raise ValueError(f"mu, L: expected finite 0 < mu <= L, got mu={mu}, L={L}")
    mu, L = jnp.asarray(mu, dtype=float), jnp.asarray(L, dtype=float)
    sk = jnp.sqrt(L / mu)
    beta_n = (sk - 1) / (sk + 1)
    nan = jnp.full_like(mu, jnp.nan)
    zero = jnp.zeros_like(mu)
    if method == "gd":
        q, lr, mom = 1 - mu / L, 1 / L, zero
    elif method == "nag":
        q, lr, mom = 1 - jnp.sqrt(mu / L), 1 / L, beta_n
    elif method == "heavy_ball":
        q, lr, mom = beta_n, 4 / (jnp.sqrt(L) + jnp.sqrt(mu)) ** 2, beta_n**2
    else:
        rate = power * mu
        return PredictedRate(rate, jnp.exp(-rate), nan, zero, quantity)
    rate = -power * jnp.log(q)
    return PredictedRate(rate, jnp.exp(-rate), lr, mom, quantity)


def quadratic_rate(method: str, eigenvalues: Array, lr: float | Array, momentum: float | Array = 0.0,
                   *, quantity: str = "loss") -> PredictedRate:
    r"""Exact asymptotic linear rate of GD / heavy-ball / NAG on a quadratic.

    On $L(\theta) = \frac12(\theta - \theta^*)^\top H(\theta - \theta^*)$ each eigen-direction
    $\lambda$ of $H$ evolves by a linear recursion; the asymptotic contraction of the
    iterate error is the largest spectral radius of its $2\times2$ companion matrix:

    * ``gd``: $\theta_{k+1} = \theta_k - \eta\nabla L(\theta_k)$: radius $|1 - \eta\lambda|$;
    * ``heavy_ball``: $\theta_{k+1} = \theta_k - \eta\nabla L(\theta_k) + \beta(\theta_k - \theta_{k-1})$:
      roots of $z^2 - (1 + \beta - \eta\lambda)z + \beta$;
    * ``nag``: $v_k = \theta_k + \beta(\theta_k - \theta_{k-1})$,
      $\theta_{k+1} = v_k - \eta\nabla L(v_k)$: roots of
      $z^2 - (1+\beta)(1-\eta\lambda)z + \beta(1-\eta\lambda)$.

    Returns rate $= -p\log\max_\lambda|z|$ ($p = 2$ for the loss, 1 for the iterate):
    ``+inf`` if every radius is 0, $\le 0$ if the iteration does not converge (radius
    $\ge 1$, e.g. a zero eigenvalue or too large a step). Eigenvalue 0 directions that
    carry no error should be dropped by the caller.

    Args:
        method: ``"gd"``, ``"heavy_ball"`` or ``"nag"``.
        eigenvalues: ``(n,)`` Hessian eigenvalues.
        lr: $\eta > 0$.
        momentum: $\beta \ge 0$ (ignored for GD).
        quantity: ``"loss"`` or ``"iterate"``.

    Returns:
        A :class:`PredictedRate` (jit/vmap-able).

    Example:
        >>> float(quadratic_rate("gd", jnp.array([1.0, 10.0]), 0.1, quantity="iterate").contraction)
        0.9
    """
    _check_method(method, METHODS[:3])
    power = _check_quantity(quantity)
    if is_concrete(lr) and not (np.all(np.isfinite(np.asarray(lr, float))) and np.all(np.asarray(lr) > 0)):
        raise ValueError(f"lr: expected a finite step size > 0, got {lr}")
    if is_concrete(momentum) and not np.all(np.asarray(momentum, float) >= 0):
        raise ValueError(f"momentum: expected beta >= 0, got {momentum}")
    lam = jnp.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.shape[0] < 1:
        raise ValueError(f"eigenvalues: expected a non-empty 1-D array, got shape {lam.shape}")
    eta = jnp.asarray(lr, dtype=float)
    beta = jnp.asarray(momentum, dtype=float)
    if method == "gd":
        radius = jnp.abs(1 - eta * lam)
        beta = jnp.zeros_like(beta)
    else:
        if method == "heavy_ball":
            b, c = 1 + beta - eta * lam, beta * jnp.ones_like(lam)
        else:
            b, c = (1 + beta) * (1 - eta * lam), beta * (1 - eta * lam)
        disc = jnp.sqrt((b * b - 4 * c).astype(complex))
        radius = jnp.maximum(jnp.abs((b + disc) / 2), jnp.abs((b - disc) / 2))
    rmax = jnp.max(radius)
    rate = jnp.where(rmax > 0, -power * jnp.log(jnp.where(rmax > 0, rmax, 1.0)), jnp.inf)
    return PredictedRate(rate, jnp.exp(-rate), eta, beta, quantity)


