r"""The neural tangent kernel: empirical Gram matrices, their spectra and drift (the
infinite-width kernels are in :mod:`villani.diagnostics.ntk_infinite`).

The empirical NTK of a scalar network $f(\theta, x)$ on inputs $x_1..x_n$ is the Gram
matrix of its parameter gradients,

$$K = J_1 J_2^\top, \qquad (J_a)_{i\cdot} = \nabla_\theta f(\theta, x^{(a)}_i) \in \mathbb R^p .$$

For a two-layer net it has a closed form costing $O(n^2 m)$ that never forms $J$; for any
network :func:`ntk` contracts Jacobians. Gradient flow on the squared loss moves the
outputs by $\dot f = -K (f - y)/n$, so $\lambda_{\min}(K)$ bounds its linear rate
(Du et al., 2019).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks
from .._types import Array, Params, PRNGKey, all_finite, is_concrete
from ..nets import FeedForward, Network, as_network
from . import _lanczos
from ._objective import static_key, static_value
from .certified import certify_symmetric, symmetrised

__all__ = [
    "NTKSpectrum",
    "ntk",
    "ntk_drift",
    "ntk_spectrum",
]

_METHODS = ("auto", "closed_form", "generic")


# ----------------------------------------------------------------------------- helpers


def _check_x(name: str, x: Any, net: Network, params: Params) -> Array:
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(f"{name}: expected real inputs, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name}: expected shape (n, d), got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{name}: expected at least one input, got shape {x.shape}")
    if all(is_concrete(v) for v in jax.tree_util.tree_leaves(params)):
        try:
            d = net.in_dim(params)
        except (KeyError, TypeError, AttributeError, IndexError):
            d = None  # check_params says what is wrong with the params
        if d is not None and x.shape[1] != d:
            raise ValueError(
                f"{name}: feature dimension {x.shape[1]} does not match the network's in_dim {d}")
        net.check_params(params, x.shape[1])
    if all_finite(x) is False:
        raise ValueError(f"{name}: contains non-finite values")
    return x


def _check_scalar_outputs(apply: Callable, params: Params, x: Array) -> None:
    out = jax.eval_shape(apply, params, x[0])
    if out.shape != ():
        raise ValueError(
            f"net: the NTK here is for scalar outputs; apply(params, x_i) has shape {out.shape}"
        )


# ----------------------------------------------------------------------------- ntk


def _ntk_structured(net: FeedForward, params: Params, x1: Array, x2: Array | None) -> Array:
    """K from the network's own factors: sum_l (U1_l U2_l^T) o (c_l^2 H1_l H2_l^T + 1_bias).

    ``x2=None``: the symmetric Gram, with the factors of x1 computed once.
    """
    lay = net.layers(params)
    f1 = net.factors(params, x1)
    f2 = f1 if x2 is None else net.factors(params, x2)
    last = len(lay.weights) - 1
    k = 0.0
    for layer, (c, b, trained) in enumerate(zip(lay.scales, lay.biases, lay.trained)):
        if not trained and b is None:
            continue
        inner = (c * c) * (f1.inputs[layer] @ f2.inputs[layer].T) if trained else 0.0
        if b is not None:
            inner = inner + 1.0
        if layer == last:  # u_{L+1} = 1: the outer product of the grads is all ones
            k = k + inner
        else:
            k = k + (f1.grads[layer] @ f2.grads[layer].T) * inner
    return k


def _per_sample_jacobian(apply: Callable, params: Params, x: Array) -> list[Array]:
    jac = jax.vmap(jax.grad(apply), in_axes=(None, 0))(params, x)
    return [leaf.reshape(x.shape[0], -1) for leaf in jax.tree_util.tree_leaves(jac)]


def _contract(j1: list[Array], j2: list[Array]) -> Array:
    return sum(a @ b.T for a, b in zip(j1, j2))


def _ntk_generic(apply: Callable, params: Params, x1: Array, x2: Array | None,
                 chunk: int | None) -> Array:
    j1 = _per_sample_jacobian(apply, params, x1)
    if chunk is None:
        j2 = j1 if x2 is None else _per_sample_jacobian(apply, params, x2)
        return _contract(j1, j2)
    # Columns in blocks of `chunk`: the x2 Jacobian is never held whole, so memory is
    # O((n1 + chunk) p) instead of O((n1 + n2) p).
    return _in_blocks(lambda xb: _contract(j1, _per_sample_jacobian(apply, params, xb)),
                      x1 if x2 is None else x2, chunk, axis=1)


def _in_blocks(f: Callable[[Array], Array], x: Array, chunk: int, axis: int) -> Array:
    """``f`` over blocks of ``chunk`` rows of ``x`` under ``lax.map`` (one block's
    intermediates live at a time), the outputs joined along ``axis`` (0 or 1)."""
    n = x.shape[0]
    blocks = -(-n // chunk)
    pad = blocks * chunk - n
    xp = jnp.concatenate([x, jnp.broadcast_to(x[:1], (pad, x.shape[1]))]) if pad else x
    out = jax.lax.map(f, xp.reshape(blocks, chunk, -1))  # (blocks, chunk, .) or (blocks, ., chunk)
    if axis == 0:
        return out.reshape(blocks * chunk, -1)[:n]
    return jnp.moveaxis(out, 0, 1).reshape(out.shape[1], -1)[:, :n]


def ntk(net: Any, params: Params, x1: Array, x2: Array | None = None, *,
        method: str = "auto", chunk: int | None = None) -> Array:
    r"""The empirical neural tangent kernel $K = J_1 J_2^\top$.

    $K_{ij} = \langle \nabla_\theta f(\theta, x^{(1)}_i), \nabla_\theta f(\theta, x^{(2)}_j)\rangle$,
    the gradient taken over every trained parameter. For the two-layer net
    $f(x) = c\sum_r a_r\sigma(w_r\cdot x + b_r)$ (``method="closed_form"``):

    $$K = c^2\Big[(X_1X_2^\top + \mathbb 1_{\rm bias})\odot
         \big(\sigma'(Z_1)\,\mathrm{diag}(a^2)\,\sigma'(Z_2)^\top\big)
         + \mathbb 1_{\rm train\_outer}\,\sigma(Z_1)\sigma(Z_2)^\top\Big],$$

    $Z_a = X_a W^\top + b$, costing $O(n_1 n_2 (m + d))$ and never forming $J$. For an
    :func:`~villani.nets.mlp` with scalar output (any :class:`~villani.nets.FeedForward`,
    from its own :meth:`~villani.nets.FeedForward.factors`),
    $\partial f/\partial W_l = c_l\,u_l h_{l-1}^\top$ with $u_l = \partial f/\partial z_l$
    (one batched backward pass), so

    $$K = \sum_{l=1}^{L+1} (U^{(1)}_l U^{(2)\top}_l)\odot\big(c_l^2\,H^{(1)}_{l-1}H^{(2)\top}_{l-1}
         + \mathbb 1_{\rm bias}\big),$$

    $O(n\,\sum_l n_l n_{l-1} + n_1 n_2 \sum_l n_l)$, the per-layer structure of Novak et
    al.'s structured path. ``method="generic"`` works for any network: per-sample gradients (``vmap`` of
    ``grad``) contracted leaf by leaf, $O(n_1 n_2 p)$; with ``chunk`` the columns are
    computed ``chunk`` at a time under ``lax.map`` so memory is $O((n_1 + \text{chunk})p)$.

    Args:
        net: any network with scalar outputs (:func:`~villani.nets.as_network`): a villani
            net, a function ``apply(params, x)`` mapping one input ``(d,)`` to a scalar, a
            pair ``(init, apply)``, an equinox or a flax module.
        params: its parameter pytree.
        x1: inputs, shape ``(n1, d)``.
        x2: inputs, shape ``(n2, d)``; ``None`` means ``x1`` (a symmetric Gram matrix).
        method: ``"auto"`` (closed form when the network exposes its layers,
            :class:`~villani.nets.FeedForward` with scalar output, else generic),
            ``"closed_form"`` or ``"generic"``.
        chunk: block size (``None``: all at once, fastest): the generic path computes
            ``chunk`` columns of $K$ at a time, the closed form ``chunk`` rows, so that
            its per-layer $n_1\times n_2$ intermediates never coexist whole.

    Returns:
        $K$, shape ``(n1, n2)``, in the dtype of the params.

    Raises:
        ValueError: an unknown method, ``closed_form`` for a network that does not expose
            its layers, ``x`` of the wrong feature dimension, non-scalar outputs.

    Example:
        >>> net = villani.nets.two_layer(256, "erf")
        >>> params = net.init(jax.random.key(0), 3)
        >>> x = jax.random.normal(jax.random.key(1), (5, 3))
        >>> ntk(net, params, x).shape
        (5, 5)

    References:
        Jacot, Gabriel, Hongler, "Neural tangent kernel" (NeurIPS 2018);
        Novak et al., "Fast finite width neural tangent kernel" (ICML 2022), the
        structured and Jacobian-contraction implementations.
    """
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    chunk = _checks.chunk(chunk)
    net = as_network(net)
    apply = net.apply
    x1 = _check_x("x1", x1, net, params)
    if x2 is not None:
        x2 = _check_x("x2", x2, net, params)
        if x2.shape[1] != x1.shape[1]:
            raise ValueError(f"x2: feature dimension {x2.shape[1]} differs from x1's {x1.shape[1]}")
    structured = isinstance(net, FeedForward) and net.out_dim == 1
    if method == "closed_form" and not structured:
        raise ValueError(
            "method: 'closed_form' needs a scalar-output network that exposes its layers "
            f"(nets.FeedForward: nets.two_layer, nets.mlp), got {net!r}; use method='generic'"
        )
    if structured and method != "generic":
        if chunk is None:
            return _ntk_structured(net, params, x1, x2)
        # rows in blocks of `chunk`: the n1 x n2 intermediates (one per layer) become
        # chunk x n2, so memory is K plus O(chunk n2), not a few times K
        return _in_blocks(lambda xb: _ntk_structured(net, params, xb, x1 if x2 is None else x2),
                          x1, chunk, axis=0)
    _check_scalar_outputs(apply, params, x1)
    return _ntk_generic(apply, params, x1, x2, chunk)


# ----------------------------------------------------------------------------- drift


def _stack_params(params_t: Any, params_0: Params) -> tuple[Any, bool]:
    """(params_t, batched?): a list/tuple of param trees is stacked along a new axis."""
    if isinstance(params_t, (list, tuple)) and jax.tree_util.tree_structure(
        params_t) != jax.tree_util.tree_structure(params_0):
        params_t = jax.tree_util.tree_map(lambda *ls: jnp.stack(ls), *params_t)
    lt = jax.tree_util.tree_leaves(params_t)
    l0 = jax.tree_util.tree_leaves(params_0)
    if len(lt) != len(l0):
        raise ValueError("params_t: its tree does not match params_0's")
    if all(jnp.ndim(a) == jnp.ndim(b) for a, b in zip(lt, l0)):
        return params_t, False
    if all(jnp.ndim(a) == jnp.ndim(b) + 1 for a, b in zip(lt, l0)):
        if len({jnp.shape(a)[0] for a in lt}) != 1:
            raise ValueError("params_t: batched leaves disagree on the leading (time) axis")
        return params_t, True
    raise ValueError(
        "params_t: expected params_0's shapes, or the same with one leading batch axis"
    )


def ntk_drift(net: Any, params_t: Any, params_0: Params, x: Array, *,
              method: str = "auto", chunk: int | None = None) -> Array:
    r"""Relative change of the empirical NTK, $\|K_t - K_0\|_F / \|K_0\|_F$.

    In the lazy (NTK) regime this tends to 0 as the width grows, like $m^{-1/2}$;
    a drift of order one means feature learning (Chizat et al., 2019).

    Args:
        net: as for :func:`ntk`.
        params_t: a parameter tree, a tree whose leaves carry one leading batch axis
            ``(T, ...)`` (e.g. params saved along a run), or a list of trees.
        params_0: the reference parameters (usually the initial ones).
        x: inputs ``(n, d)``.
        method, chunk: passed to :func:`ntk`.

    Returns:
        A scalar, or shape ``(T,)`` for batched ``params_t``.

    Example:
        >>> net = villani.nets.two_layer(64, "tanh")
        >>> p0 = net.init(jax.random.key(0), 3)
        >>> x = jax.random.normal(jax.random.key(1), (8, 3))
        >>> float(ntk_drift(net, p0, p0, x))
        0.0

    References:
        Chizat, Oyallon, Bach, "On lazy training in differentiable programming"
        (NeurIPS 2019).
    """
    params_t, batched = _stack_params(params_t, params_0)
    k0 = ntk(net, params_0, x, method=method, chunk=chunk)
    norm0 = jnp.linalg.norm(k0)

    def drift(p):
        return jnp.linalg.norm(ntk(net, p, x, method=method, chunk=chunk) - k0) / norm0

    return jax.vmap(drift)(params_t) if batched else drift(params_t)


# ----------------------------------------------------------------------------- spectrum


class NTKSpectrum(NamedTuple):
    r"""Extreme eigenvalues of an NTK Gram matrix, with their residuals.

    Attributes:
        lambda_min: smallest eigenvalue (Lanczos: smallest Ritz value, an upper bound).
        lambda_max: largest eigenvalue (Lanczos: largest Ritz value, a lower bound).
        kappa: ``lambda_max / lambda_min``.
        residual_min: $\|K v - \lambda_{\min} v\|_2$ for the unit (Ritz) eigenvector
            $v$: some eigenvalue of $K$ lies within it of ``lambda_min``.
        residual_max: the same for ``lambda_max``.
        converged: both residuals at most ``tol`` times their eigenvalue.
        num_iters: Lanczos steps taken (the dimension $n$ for ``"dense"``).
        lambda_min_lower: ``"certified"`` only (else ``None``): a proven lower bound
            of $\lambda_{\min}(K)$, rounding included; ``lambda_min`` is then a proven
            upper bound (see :func:`~villani.diagnostics.certified_lambda_min`).
    """

    lambda_min: Array
    lambda_max: Array
    kappa: Array
    residual_min: Array
    residual_max: Array
    converged: Array
    num_iters: int
    lambda_min_lower: Array | None = None


def _ntk_matvec(apply: Callable, params: Params, x: Array) -> Callable[[Array], Array]:
    # Linearise once: each step is then one jvp and one transposed jvp (a vjp) that
    # reuse the stored forward residuals.
    _, jvp = jax.linearize(lambda p: jax.vmap(apply, in_axes=(None, 0))(p, x), params)
    vjp = jax.linear_transpose(jvp, params)
    return lambda v: jvp(vjp(v)[0])


# Both iterative paths compiled as one program each: op by op, a scan over a fresh closure
# is traced and compiled again on every call (about a second at any size). The network is
# a static argument (keyed by identity if it cannot be hashed).
@partial(jax.jit, static_argnums=(0, 4))
def _ntk_ritz(net_key: Any, params: Params, x: Array, v0: Array, iters: int):
    return _lanczos.ritz(_ntk_matvec(static_value(net_key).apply, params, x), v0, iters, 1)


# K is donated and handed back (donation reuses a buffer only for an output of its shape):
# symmetrised in place in it, it is the only copy of K, and the peak is about 3 K with the
# factorisations' two buffers, as documented in ntk_spectrum.
@partial(jax.jit, static_argnums=(3,), donate_argnums=(0,))
def _certified(k: Array, key: PRNGKey, gamma: Array, iters: int):
    # what certify_symmetric certifies; the top is taken from it too. In tiles, in place
    k = symmetrised(k)
    n = k.shape[0]
    # gamma_{p+4} tr K bounds the rounding of forming K (not jnp.trace, which builds a
    # masked n x n copy)
    formed = gamma * jnp.abs(jnp.sum(jnp.diagonal(k)))
    _, _, top, r_t = _lanczos.ritz(lambda v: k @ v, jax.random.normal(key, (n,), k.dtype), iters, 1)
    bound = certify_symmetric(k, 1e-3, iters, 4, formed, jax.random.fold_in(key, 1))
    return (bound.upper, top[0], bound.residual, r_t[0], bound.lower), k


def ntk_spectrum(net: Any, params: Params, x: Array, *, method: str = "dense",
                 key: PRNGKey | None = None, num_iters: int = 128, tol: float = 1e-6,
                 ntk_method: str = "auto", chunk: int | None = None) -> NTKSpectrum:
    r"""$\lambda_{\min}$, $\lambda_{\max}$ and $\kappa$ of the empirical NTK $K = JJ^\top$.

    ``method="dense"`` forms $K$ with :func:`ntk` and diagonalises it ($O(n^2)$ memory).
    ``method="lanczos"`` never forms $K$: Lanczos with full reorthogonalisation
    (matfree's ``tridiag_sym``) on $v \mapsto J(J^\top v)$, one vjp and one jvp per step,
    for any network; memory $O(n\,\text{num\_iters} + \text{one forward pass})$.

    Lanczos' Ritz values lie inside the spectrum, so ``lambda_max`` is a lower bound of
    $\lambda_{\max}(K)$ and ``lambda_min`` an upper bound of $\lambda_{\min}(K)$; the
    residual $r = \|Kv - \theta v\|$ of each (computed with one more matvec, not
    estimated) guarantees an eigenvalue in $[\theta - r, \theta + r]$. The top converges
    in a few dozen steps. The bottom is hard: NTK spectra have a few large eigenvalues
    and a dense cluster near $\lambda_{\min}$, and Lanczos separates the bottom of a
    cluster only after about $\sqrt{\kappa}$ times log(1/tol) steps, often close to
    $n$ (for $n \le$ a few hundred, ``num_iters = n`` gives it to rounding error).
    Read ``residual_min`` and ``converged`` before trusting ``lambda_min``.

    ``method="certified"`` brackets $\lambda_{\min}$ instead, where $K$ fits in memory
    (:func:`~villani.diagnostics.certified_lambda_min`): Lanczos on $K^{-1}$ through a
    Cholesky factor (the bottom of $K$ is the well-separated top of $K^{-1}$) gives
    ``lambda_min``, a Rayleigh quotient and so an upper bound; a Cholesky factorisation
    of $K - \sigma I$ that runs to completion proves ``lambda_min_lower``
    $= \sigma -$ its rounding allowance $\le \lambda_{\min}(K)$, the bracket $10^{-3}$
    wide once Lanczos has converged (call ``certified_lambda_min`` on :func:`ntk`'s $K$ for
    another width). Both bounds also
    allow $\gamma_{p+4}\,\mathrm{tr}K$ ($\gamma_k = ku/(1-ku)$, $u$ the unit
    roundoff) for the rounding of forming $K$: each entry is a sum of $p$ products of
    Jacobian entries, off by at most $\gamma_p\sum_k|J_{ik}J_{jk}| \le
    \gamma_p\sqrt{K_{ii}K_{jj}}$, whose Frobenius norm is $\gamma_p\,\mathrm{tr}K$
    (each Jacobian entry's own rounding, a few $u$ relative, takes the other 4).
    $\lambda_{\max}$ is Lanczos on $K$ as for ``"lanczos"``. Use float64: in float32
    the allowance, about $n u\,\mathrm{tr}K$, usually exceeds $\lambda_{\min}$. Cost
    $O(n^2 p')$ to form $K$ ($p'$: the structured path's width) plus two $n^3/3$
    factorisations, peak memory about $3n^2$ floats ($K$, symmetrised in place, the
    column-major copy LAPACK factors and the factor; $n = 65{,}536$ takes 96 GiB);
    this is what proves $\lambda_{\min} > 0$ — the hypothesis of Du et al.'s
    linear-rate theorem — rather than estimating it.

    $K$ has rank at most $p$ (the number of parameters): Lanczos takes at most
    $\min(n, p)$ steps (more would exhaust the Krylov space and break down), and for
    $n > p$ it reports the exact $\lambda_{\min} = 0$. A singular $K$ (computed
    $\lambda_{\min} \le 0$) has ``kappa = inf``.

    Args:
        net, params: as for :func:`ntk`.
        x: inputs ``(n, d)``.
        method: ``"dense"``, ``"lanczos"`` or ``"certified"``.
        key: Lanczos start vector $\sim\mathcal N(0, I_n)$; ``None`` uses
            ``jax.random.key(0)``.
        num_iters: Lanczos steps (capped at $n$; for ``"certified"``, the steps on $K$
            and, separately, on $K^{-1}$).
        tol: relative residual below which ``converged`` is true.
        ntk_method, chunk: ``method`` and ``chunk`` of :func:`ntk` for the dense and
            certified paths (``chunk`` bounds the memory of forming $K$ to about
            $K$ itself).

    Returns:
        An :class:`NTKSpectrum`.

    Example:
        >>> net = villani.nets.two_layer(128, "tanh")
        >>> params = net.init(jax.random.key(0), 4)
        >>> x = jax.random.normal(jax.random.key(1), (32, 4))
        >>> s = ntk_spectrum(net, params, x, method="lanczos", num_iters=32)
        >>> bool(s.converged)
        True

    References:
        Lanczos (1950); Krämer et al., "Gradients of functions of large matrices"
        (NeurIPS 2024) for matfree; Du et al., "Gradient descent provably optimizes
        over-parameterized neural networks" (ICLR 2019) for why $\lambda_{\min}$ matters.
    """
    if method not in ("dense", "lanczos", "certified"):
        raise ValueError(f"method: expected 'dense', 'lanczos' or 'certified', got {method!r}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol: expected a positive float, got {tol!r}")
    net = as_network(net)
    apply = net.apply
    x = _check_x("x", x, net, params)
    n = x.shape[0]
    p = sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(params))
    lower = None
    if method == "certified":
        k = ntk(net, params, x, method=ntk_method, chunk=chunk)
        u = float(np.finfo(k.dtype).eps) / 2
        gamma = (p + 4) * u / (1 - (p + 4) * u)
        key = jax.random.key(0) if key is None else key
        iters = _lanczos.check_num_iters("num_iters", num_iters, n)
        (lo, hi, r_lo, r_hi, lower), k = _certified(k, key, gamma, iters)
        del k  # the symmetrised K, in the buffer donated
    elif method == "dense":
        k = ntk(net, params, x, method=ntk_method, chunk=chunk)
        lam, vecs = jnp.linalg.eigh(k)
        ends = vecs[:, jnp.array([0, n - 1])]
        res = jnp.linalg.norm(k @ ends - ends * lam[jnp.array([0, n - 1])], axis=0)
        lo, hi, r_lo, r_hi, iters = lam[0], lam[-1], res[0], res[1], n
    else:
        _check_scalar_outputs(apply, params, x)
        # K = J J^T has rank <= p: past min(n, p) steps the Krylov space is exhausted and
        # Lanczos breaks down, so never take more steps than that.
        iters = _lanczos.check_num_iters("num_iters", num_iters, min(n, p))
        key = jax.random.key(0) if key is None else key
        dtype = jax.eval_shape(apply, params, x[0]).dtype  # K's dtype: params and x promoted
        v0 = jax.random.normal(key, (n,), dtype)
        bottom, r_b, top, r_t = _ntk_ritz(static_key(net), params, x, v0, iters)
        lo, hi, r_lo, r_hi = bottom[0], top[0], r_b[0], r_t[0]
    if n > p and method != "dense":  # rank(K) <= p < n: lambda_min = 0 exactly
        lo, r_lo = jnp.zeros_like(lo), jnp.zeros_like(r_lo)
    converged = (r_hi <= tol * jnp.abs(hi)) & (r_lo <= tol * jnp.maximum(jnp.abs(lo), jnp.abs(hi)))
    # K is positive semi-definite: a lambda_min at or below 0 (rank deficiency, n > p, or
    # rounding) means K is singular, kappa = inf, never a negative number
    kappa = jnp.where(lo > 0, hi / jnp.where(lo > 0, lo, 1.0), jnp.inf)
    # non-finite params or inputs give a NaN spectrum: kappa NaN, never inf (which reads as singular)
    kappa = jnp.where(jnp.isnan(lo) | jnp.isnan(hi), jnp.nan, kappa)
    return NTKSpectrum(lo, hi, kappa, r_lo, r_hi, converged, iters, lower)
