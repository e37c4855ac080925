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
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, Params, PRNGKey, all_finite
from ..nets import Network
from . import _lanczos

__all__ = [
    "NTKSpectrum",
    "ntk",
    "ntk_drift",
    "ntk_spectrum",
]

_METHODS = ("auto", "closed_form", "generic")


# ----------------------------------------------------------------------------- helpers


def _apply_fn(net: Any) -> Callable[[Params, Array], Array]:
    if isinstance(net, Network) or hasattr(net, "apply"):
        return net.apply
    if callable(net):
        return net
    raise TypeError(f"net: expected a villani Network or a function apply(params, x), got {net!r}")


def _check_x(name: str, x: Any, net: Any, params: Params) -> Array:
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected shape (n, d), got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{name}: expected at least one input, got shape {x.shape}")
    if isinstance(net, Network):
        d = net.in_dim(params)
        if x.shape[1] != d:
            raise ValueError(
                f"{name}: feature dimension {x.shape[1]} does not match the network's in_dim {d}"
            )
        net.check_params(params, d)
    if all_finite(x) is False:
        raise ValueError(f"{name}: contains non-finite values")
    return x


def _check_scalar_outputs(apply: Callable, params: Params, x: Array) -> None:
    out = jax.eval_shape(apply, params, x[0])
    if out.shape != ():
        raise ValueError(
            f"net: the NTK here is for scalar outputs; apply(params, x_i) has shape {out.shape}"
        )


def _check_chunk(chunk: Any) -> int | None:
    if chunk is None:
        return None
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk: expected a positive int or None, got {chunk!r}")
    return int(chunk)


# ----------------------------------------------------------------------------- ntk


def _ntk_two_layer(net: Any, params: Params, x1: Array, x2: Array | None) -> Array:
    # x2=None: the symmetric Gram, with the activations of x1 evaluated once
    a = net.outer_weights(params)
    act = net.activation
    sym = x2 is None
    z1 = net.preactivations(params, x1)
    z2 = z1 if sym else net.preactivations(params, x2)
    s1 = act.d1(z1)
    s2 = s1 if sym else act.d1(z2)
    gram = x1 @ (x1 if sym else x2).T
    if net.bias:
        gram = gram + 1.0
    k = gram * ((s1 * (a * a)) @ s2.T)
    if net.train_outer:
        h1 = act(z1)
        k = k + h1 @ (h1 if sym else act(z2)).T
    return (net.scale**2) * k


def _mlp_factors(net: Any, params: Params, x: Array) -> tuple[list[Array], list[Array], list[Array]]:
    """Per-sample layer inputs h_{l-1}, weight factors c_l * df/dz_l and bias factors
    df/dz_l, layer by layer (each ``(n, width)``).

    df/dW_l = c_l (df/dz_l) h_{l-1}^T for each sample, so the factors of every layer's
    per-sample gradient come from one batched forward and one batched backward pass.
    """
    ws = params["w"]
    cs = net.layer_scales(net.in_dim(params))
    act = net.activation
    zs = net.preactivations(params, x)
    hs = [x] + [act(z) for z in zs[:-1]]
    us = [jnp.ones((x.shape[0], 1), zs[-1].dtype)]  # df/dz_{L+1}: the output itself
    for layer in range(len(ws) - 1, 0, -1):  # df/dz_l = (df/dz_{l+1} c_{l+1} W_{l+1}) o sigma'(z_l)
        us.insert(0, (us[0] @ (cs[layer] * ws[layer])) * act.d1(zs[layer - 1]))
    return hs, [c * u for c, u in zip(cs, us)], us


def _ntk_mlp(net: Any, params: Params, x1: Array, x2: Array | None) -> Array:
    h1, g1, u1 = _mlp_factors(net, params, x1)
    h2, g2, u2 = (h1, g1, u1) if x2 is None else _mlp_factors(net, params, x2)
    k = sum((a @ b.T) * (c @ e.T) for a, b, c, e in zip(g1, g2, h1, h2))
    if net.bias:
        k = k + sum(a @ b.T for a, b in zip(u1, u2))
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
    x2 = x1 if x2 is None else x2
    n2 = x2.shape[0]
    blocks = -(-n2 // chunk)
    pad = blocks * chunk - n2
    x2p = jnp.concatenate([x2, jnp.broadcast_to(x2[:1], (pad, x2.shape[1]))]) if pad else x2
    cols = jax.lax.map(lambda xb: _contract(j1, _per_sample_jacobian(apply, params, xb)),
                       x2p.reshape(blocks, chunk, -1))  # (blocks, n1, chunk)
    return jnp.moveaxis(cols, 0, 1).reshape(x1.shape[0], -1)[:, :n2]


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
    :func:`~villani.nets.mlp` with scalar output, $\partial f/\partial W_l = c_l\,u_l
    h_{l-1}^\top$ with $u_l = \partial f/\partial z_l$ (one batched backward pass), so

    $$K = \sum_{l=1}^{L+1} c_l^2\,(U^{(1)}_l U^{(2)\top}_l)\odot(H^{(1)}_{l-1}H^{(2)\top}_{l-1})
         + \mathbb 1_{\rm bias}\sum_l U^{(1)}_l U^{(2)\top}_l,$$

    $O(n\,\sum_l n_l n_{l-1} + n_1 n_2 \sum_l n_l)$, the per-layer structure of Novak et
    al.'s structured path. ``method="generic"`` works for any network: per-sample gradients (``vmap`` of
    ``grad``) contracted leaf by leaf, $O(n_1 n_2 p)$; with ``chunk`` the columns are
    computed ``chunk`` at a time under ``lax.map`` so memory is $O((n_1 + \text{chunk})p)$.

    Args:
        net: a :class:`~villani.nets.Network` with scalar outputs, or any function
            ``apply(params, x)`` mapping one input ``(d,)`` to a scalar.
        params: its parameter pytree.
        x1: inputs, shape ``(n1, d)``.
        x2: inputs, shape ``(n2, d)``; ``None`` means ``x1`` (a symmetric Gram matrix).
        method: ``"auto"`` (closed form for ``two_layer`` and scalar-output ``mlp``,
            else generic),
            ``"closed_form"`` or ``"generic"``.
        chunk: generic path only: block size over the columns of $K$ (``None``: all at
            once, fastest).

    Returns:
        $K$, shape ``(n1, n2)``, in the dtype of the params.

    Raises:
        ValueError: an unknown method, ``closed_form`` for a network that is neither
            ``two_layer`` nor a scalar-output ``mlp``, ``x`` of the wrong feature dimension,
            non-scalar outputs.

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
    chunk = _check_chunk(chunk)
    apply = _apply_fn(net)
    x1 = _check_x("x1", x1, net, params)
    if x2 is not None:
        x2 = _check_x("x2", x2, net, params)
        if x2.shape[1] != x1.shape[1]:
            raise ValueError(f"x2: feature dimension {x2.shape[1]} differs from x1's {x1.shape[1]}")
    kind = getattr(net, "kind", None) if isinstance(net, Network) else None
    structured = kind == "two_layer" or (kind == "mlp" and net.out_dim == 1)
    if method == "closed_form" and not structured:
        raise ValueError(
            "method: 'closed_form' needs a two_layer or a scalar-output mlp network, got "
            f"{net!r}; use method='generic'"
        )
    if structured and method != "generic":
        closed = _ntk_two_layer if kind == "two_layer" else _ntk_mlp
        return closed(net, params, x1, x2)
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
    """

    lambda_min: Array
    lambda_max: Array
    kappa: Array
    residual_min: Array
    residual_max: Array
    converged: Array
    num_iters: int


def _ntk_matvec(apply: Callable, params: Params, x: Array) -> Callable[[Array], Array]:
    # Linearise once: each step is then one jvp and one transposed jvp (a vjp) that
    # reuse the stored forward residuals.
    _, jvp = jax.linearize(lambda p: jax.vmap(apply, in_axes=(None, 0))(p, x), params)
    vjp = jax.linear_transpose(jvp, params)
    return lambda v: jvp(vjp(v)[0])


def ntk_spectrum(net: Any, params: Params, x: Array, *, method: str = "dense",
                 key: PRNGKey | None = None, num_iters: int = 128, tol: float = 1e-6,
                 ntk_method: str = "auto") -> NTKSpectrum:
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

    $K$ has rank at most $p$ (the number of parameters): Lanczos takes at most
    $\min(n, p)$ steps (more would exhaust the Krylov space and break down), and for
    $n > p$ it reports the exact $\lambda_{\min} = 0$. A singular $K$ (computed
    $\lambda_{\min} \le 0$) has ``kappa = inf``.

    Args:
        net, params: as for :func:`ntk`.
        x: inputs ``(n, d)``.
        method: ``"dense"`` or ``"lanczos"``.
        key: Lanczos start vector $\sim\mathcal N(0, I_n)$; ``None`` uses
            ``jax.random.key(0)``.
        num_iters: Lanczos steps (capped at $n$).
        tol: relative residual below which ``converged`` is true.
        ntk_method: ``method`` of :func:`ntk` for the dense path.

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
    if method not in ("dense", "lanczos"):
        raise ValueError(f"method: expected 'dense' or 'lanczos', got {method!r}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol: expected a positive float, got {tol!r}")
    apply = _apply_fn(net)
    x = _check_x("x", x, net, params)
    n = x.shape[0]
    if method == "dense":
        k = ntk(net, params, x, method=ntk_method)
        lam, vecs = jnp.linalg.eigh(k)
        ends = vecs[:, jnp.array([0, n - 1])]
        res = jnp.linalg.norm(k @ ends - ends * lam[jnp.array([0, n - 1])], axis=0)
        lo, hi, r_lo, r_hi, iters = lam[0], lam[-1], res[0], res[1], n
    else:
        _check_scalar_outputs(apply, params, x)
        # K = J J^T has rank <= p: past min(n, p) steps the Krylov space is exhausted and
        # Lanczos breaks down, so never take more steps than that.
        p = sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(params))
        iters = _lanczos.check_num_iters("num_iters", num_iters, min(n, p))
        key = jax.random.key(0) if key is None else key
        dtype = jax.eval_shape(apply, params, x[0]).dtype  # K's dtype: params and x promoted
        v0 = jax.random.normal(key, (n,), dtype)
        bottom, r_b, top, r_t = _lanczos.ritz(_ntk_matvec(apply, params, x), v0, iters, 1)
        lo, hi, r_lo, r_hi = bottom[0], top[0], r_b[0], r_t[0]
        if n > p:  # rank(K) <= p < n: lambda_min = 0 exactly, whatever the Ritz values say
            lo, r_lo = jnp.zeros_like(lo), jnp.zeros_like(r_lo)
    converged = (r_hi <= tol * jnp.abs(hi)) & (r_lo <= tol * jnp.maximum(jnp.abs(lo), jnp.abs(hi)))
    # K is positive semi-definite: a lambda_min at or below 0 (rank deficiency, n > p, or
    # rounding) means K is singular, kappa = inf, never a negative number
    kappa = jnp.where(lo > 0, hi / jnp.where(lo > 0, lo, 1.0), jnp.inf)
    return NTKSpectrum(lo, hi, kappa, r_lo, r_hi, converged, iters)
