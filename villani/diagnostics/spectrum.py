r"""The spectrum of the loss Hessian by Lanczos on Hessian-vector products.

Two views of $H = \nabla^2 L(\theta)$, $p\times p$, never formed:

- its extreme eigenvalues (:func:`hessian_spectrum`): the sharpness $\lambda_{\max}$
  that caps stable GD step sizes ($\eta < 2/\lambda_{\max}$) and the most negative
  curvature $\lambda_{\min}$;
- its spectral density $\rho(\lambda) = \frac1p\sum_i \delta(\lambda - \lambda_i)$
  (:func:`spectral_density`) by stochastic Lanczos quadrature.

Each Lanczos step costs one Hessian-vector product (a jvp of the gradient, linearised
once). The Lanczos iteration, its full reorthogonalisation and the probe samplers are
matfree's.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from matfree import decomp, stochtrace

from .. import _checks
from .._tree import flat_hvp
from .._types import Array, Params, PRNGKey, is_concrete
from . import _lanczos
from ._objective import check_params, join_objective, split_objective, value_fn

__all__ = ["HessianSpectrum", "SpectralDensity", "hessian_spectrum", "spectral_density"]


def _checked_flat(objective: Any, params: Params) -> Array:
    """The flat params, after checking that ``objective`` maps them to a scalar."""
    value = value_fn(objective)
    check_params(objective, params)
    out = jax.eval_shape(value, params)
    if out.shape != ():
        raise ValueError(f"objective: must return a scalar, got shape {out.shape}")
    return ravel_pytree(params)[0]


class HessianSpectrum(NamedTuple):
    r"""Extreme eigenvalues of a Hessian with their Ritz residuals.

    Attributes:
        top: the ``k`` largest Ritz values, descending (``None`` for ``which="bottom"``).
        bottom: the ``k`` smallest, ascending (``None`` for ``which="top"``).
        top_residual: $\|Hy - \theta y\|_2$ for each unit Ritz vector $y$ of ``top``:
            an eigenvalue of $H$ lies within it of $\theta$.
        bottom_residual: the same for ``bottom``.
        num_iters: Lanczos steps taken.
    """

    top: Array | None
    bottom: Array | None
    top_residual: Array | None
    bottom_residual: Array | None
    num_iters: int


def hessian_spectrum(objective: Any, params: Params, *, k: int = 1, which: str = "both",
                     key: PRNGKey, num_iters: int = 64) -> HessianSpectrum:
    r"""Top-``k`` and bottom-``k`` eigenvalues of $\nabla^2 L(\theta)$ by Lanczos.

    ``num_iters`` steps of Lanczos with full reorthogonalisation (matfree
    ``tridiag_sym``) from a Gaussian start vector build the tridiagonal
    $T = Q^\top H Q$; the eigenvalues $\theta_j$ of $T$ (Ritz values) interlace those of
    $H$, so the largest is a lower bound of $\lambda_{\max}(H)$ and the smallest an upper
    bound of $\lambda_{\min}(H)$, and both ends converge first. For each reported
    $\theta$ with unit Ritz vector $y = Q s$ the residual $r = \|Hy - \theta y\|$ is
    computed with one more Hessian-vector product; some eigenvalue of $H$ lies in
    $[\theta - r, \theta + r]$. Both ends come from the same Krylov space: ``which``
    only selects what is returned. Cost: ``num_iters + 2k`` Hessian-vector products,
    memory $O(p\cdot\text{num\_iters})$.

    Args:
        objective: an :class:`~villani.Objective` (its ``value``) or any function
            ``params -> scalar``.
        params: the point $\theta$ (a pytree with $p$ entries in all).
        k: how many eigenvalues at each end.
        which: ``"both"``, ``"top"`` or ``"bottom"``.
        key: PRNG key for the start vector.
        num_iters: Lanczos steps (capped at $p$; at least ``k``).

    Returns:
        A :class:`HessianSpectrum`.

    Example:
        >>> obj = lambda p: 0.5 * jnp.sum(jnp.arange(1.0, 6.0) * p["x"] ** 2)
        >>> s = hessian_spectrum(obj, {"x": jnp.ones(5)}, key=jax.random.key(0), num_iters=5)
        >>> [round(float(v), 6) for v in (s.top[0], s.bottom[0])]
        [5.0, 1.0]

    References:
        Lanczos (1950); Ghorbani, Krishnan, Xiao, "An investigation into neural net
        optimization via Hessian eigenvalue density" (ICML 2019).
    """
    if which not in ("both", "top", "bottom"):
        raise ValueError(f"which: expected 'both', 'top' or 'bottom', got {which!r}")
    k = _checks.int_at_least("k", k)
    key = _checks.key(key)
    flat = _checked_flat(objective, params)
    p = flat.shape[0]
    if k > p:
        raise ValueError(f"k: asks for {k} eigenvalues at each end of a {p} x {p} Hessian")
    iters = _lanczos.check_num_iters("num_iters", num_iters, p, minimum=k)
    v0 = jax.random.normal(key, (p,), flat.dtype)
    bottom, r_b, top, r_t = _ritz(*split_objective(objective), params, v0, iters, k)
    keep_top, keep_bottom = which in ("both", "top"), which in ("both", "bottom")
    return HessianSpectrum(
        top if keep_top else None,
        bottom if keep_bottom else None,
        r_t if keep_top else None,
        r_b if keep_bottom else None,
        iters,
    )


class SpectralDensity(NamedTuple):
    r"""A smoothed spectral density on a grid, estimated by stochastic Lanczos quadrature.

    Attributes:
        grid: the points $\lambda$, shape ``(g,)``.
        density: $\hat\rho(\lambda)$ averaged over probes, shape ``(g,)``; integrates
            to 1 when the grid covers the spectrum.
        stderr: its standard error across probes, shape ``(g,)``.
        mean: $\int\lambda\hat\rho$ (equal to $\frac1p\operatorname{tr}H$ in expectation).
        mean_stderr: its standard error across probes.
        nodes: Ritz values per probe, ``(num_probes, num_iters)``.
        weights: their quadrature weights, ``(num_probes, num_iters)``, rows sum to 1.
        sigma: the Gaussian smoothing width.
    """

    grid: Array
    density: Array
    stderr: Array
    mean: Array
    mean_stderr: Array
    nodes: Array
    weights: Array
    sigma: Array


def spectral_density(objective: Any, params: Params, *, key: PRNGKey, num_probes: int = 8,
                     num_iters: int = 32, grid: Array | None = None, bins: int = 256,
                     sigma: float | None = None) -> SpectralDensity:
    r"""The spectral density of $\nabla^2 L(\theta)$ by stochastic Lanczos quadrature.

    For a probe $v$ with $E[vv^\top] = I$ (Rademacher signs, matfree's
    ``sampler_signs``), $\frac1p\operatorname{tr} g(H) = E\big[v^\top g(H) v\big]/p$,
    and $m$ Lanczos steps from $v/\|v\|$ give the Gauss quadrature
    $v^\top g(H) v/\|v\|^2 \approx \sum_j \tau_j\, g(\theta_j)$ with nodes the Ritz values
    $\theta_j$ and weights $\tau_j = (e_1^\top s_j)^2$ (exact for polynomials of degree
    $< 2m$). Taking $g$ a Gaussian of width $\sigma$ centred at each grid point gives
    the smoothed density

    $$\hat\rho(\lambda) = \frac1{N}\sum_{\ell=1}^{N}\sum_j \tau^{(\ell)}_j
      \,\mathcal N(\lambda;\ \theta^{(\ell)}_j, \sigma^2),$$

    whose standard error is the across-probe standard deviation over $\sqrt N$. Each
    probe's density integrates to $\sum_j\tau_j = 1$ and has mean
    $\sum_j\tau_j\theta_j = v^\top Hv/\|v\|^2$, an unbiased estimate of $\operatorname{tr}H/p$
    for Rademacher $v$.

    Args:
        objective: an :class:`~villani.Objective` or a function ``params -> scalar``.
        params: the point $\theta$.
        key: PRNG key for the probes (keyword-only).
        num_probes: $N$, the number of probe vectors (>= 2 for a standard error).
        num_iters: Lanczos steps per probe (capped at $p$).
        grid: points at which to evaluate $\hat\rho$; ``None``: ``bins`` points spanning
            the Ritz values padded by $5\sigma$.
        bins: grid size when ``grid`` is ``None``.
        sigma: smoothing width; ``None``: 1 % of the span of the Ritz values.

    Returns:
        A :class:`SpectralDensity`.

    Example:
        >>> obj = lambda p: 0.5 * jnp.sum(jnp.linspace(-1.0, 2.0, 50) * p ** 2)
        >>> d = spectral_density(obj, jnp.zeros(50), key=jax.random.key(0), num_probes=4)
        >>> round(float(jnp.trapezoid(d.density, d.grid)), 3)
        1.0

    References:
        Ubaru, Chen, Saad, "Fast estimation of tr(f(A)) via stochastic Lanczos
        quadrature" (SIMAX 2017); Ghorbani et al. (ICML 2019); Yao et al., "PyHessian"
        (2020).
    """
    num_probes = _checks.int_at_least("num_probes", num_probes, minimum=2)
    bins = _checks.int_at_least("bins", bins, minimum=2)
    key = _checks.key(key)
    if sigma is not None and not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ValueError(f"sigma: expected a positive float or None, got {sigma!r}")
    flat = _checked_flat(objective, params)
    p = flat.shape[0]
    iters = _lanczos.check_num_iters("num_iters", num_iters, p)
    probes = stochtrace.sampler_signs(flat, num=num_probes)(key)  # (N, p), Rademacher
    nodes, weights = _quadrature(*split_objective(objective), params, probes, iters)
    span = jnp.max(nodes) - jnp.min(nodes)
    if sigma is None:
        # a zero span (H = c I) still needs a positive width
        sig = 0.01 * jnp.where(span > 0, span, jnp.maximum(jnp.abs(jnp.max(nodes)), 1.0))
    else:
        sig = jnp.asarray(sigma, flat.dtype)
    if grid is None:
        grid = jnp.linspace(jnp.min(nodes) - 5 * sig, jnp.max(nodes) + 5 * sig, bins)
    else:
        grid = jnp.asarray(grid, flat.dtype)
        if grid.ndim != 1:
            raise ValueError(f"grid: expected a 1-d array of points, got shape {grid.shape}")
        if is_concrete(grid) and grid.shape[0] < 2:
            raise ValueError(f"grid: expected at least 2 points, got {grid.shape[0]}")

    def density(theta, tau):
        z = (grid[:, None] - theta[None, :]) / sig
        return (jnp.exp(-0.5 * z * z) / (sig * math.sqrt(2 * math.pi))) @ tau

    per_probe = jax.vmap(density)(nodes, weights)  # (N, g)
    means = jnp.sum(nodes * weights, axis=1)
    root_n = math.sqrt(num_probes)
    return SpectralDensity(
        grid=grid,
        density=jnp.mean(per_probe, axis=0),
        stderr=jnp.std(per_probe, axis=0, ddof=1) / root_n,
        mean=jnp.mean(means),
        mean_stderr=jnp.std(means, ddof=1) / root_n,
        nodes=nodes,
        weights=weights,
        sigma=sig,
    )


# The Lanczos runs compiled as one program each (op-by-op, the first call's compilations
# take longer than the computation at notebook sizes). A plain function is a static
# argument; an Objective travels as a pytree, its data traced (no constants baked in).


@partial(jax.jit, static_argnums=(0, 4, 5))
def _ritz(static: Any, dyn: Any, params: Params, v0: Array, iters: int, k: int):
    _, _, hvp = flat_hvp(join_objective(static, dyn), params)
    return _lanczos.ritz(hvp, v0, iters, k)


@partial(jax.jit, static_argnums=(0, 4))
def _quadrature(static: Any, dyn: Any, params: Params, probes: Array, iters: int):
    """Gauss-quadrature nodes (Ritz values) and weights per probe, ``(N, iters)`` each."""
    _, _, hvp = flat_hvp(join_objective(static, dyn), params)
    tridiag = decomp.tridiag_sym(iters, materialize=True, reortho="full", custom_vjp=False)

    def one(v):
        _, t, *_ = tridiag(hvp, v / jnp.linalg.norm(v))
        theta, s = jnp.linalg.eigh(t)
        return theta, s[0] ** 2

    # probes one after another on a CPU (the batched full reorthogonalisation is ~35 %
    # slower there), all at once on an accelerator
    if jax.default_backend() == "cpu":
        return jax.lax.map(one, probes)
    return jax.vmap(one)(probes)
