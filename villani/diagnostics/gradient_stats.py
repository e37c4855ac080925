r"""Per-sample gradient statistics without the $n\times p$ array of per-sample gradients.

For a dense layer $z_i = c\,W h_i + b$ the gradient of sample $i$'s loss with respect
to $W$ is the outer product $c\,\delta_i h_i^\top$, $\delta_i = \partial\ell_i/\partial z_i$,
so its squared Frobenius norm is $c^2\|\delta_i\|^2\|h_i\|^2$ ("ghost norms", Goodfellow
2015; Li et al. 2022). One forward pass and one backward pass to the pre-activations
give every sample's gradient norm, at the cost and memory of a gradient.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .._types import Array, Params, is_concrete
from ..losses import Objective
from ..nets import MLP, TwoLayer

__all__ = ["GradientStats", "gradient_stats"]

_METHODS = ("auto", "structured", "chunked")


class GradientStats(NamedTuple):
    r"""Per-sample gradient statistics at one point (see :func:`gradient_stats`).

    Attributes:
        sq_norms: ``(n,)``, $\|g_i\|^2$ for $g_i = \nabla_\theta(\ell_i + \frac\lambda2\|\theta\|^2)$.
        trace: $\operatorname{tr}\Sigma = \frac1n\sum_i\|g_i\|^2 - \|\bar g\|^2$.
        grad_norm2: $\|\bar g\|^2 = \|\nabla L\|^2$.
        noise_scale: $B_\mathrm{noise} = \operatorname{tr}\Sigma/\|\nabla L\|^2$.
    """

    sq_norms: Array
    trace: Array
    grad_norm2: Array
    noise_scale: Array


def _structured_ok(net: Any) -> bool:
    return isinstance(net, TwoLayer) or (isinstance(net, MLP) and net.out_dim == 1)


def _ghost_sq_norms(objective: Objective, params: Params) -> Array:
    r"""$\|\nabla_\theta\ell_i\|^2$ for every $i$ from the layers' factors (no regulariser).

    The forward pass takes an added zero perturbation $e_l$ on every pre-activation
    (and on the output); the gradient of $\sum_i\ell_i$ with respect to the $e_l$ is
    $\delta_{l,i} = \partial\ell_i/\partial z_{l,i}$, since $z_{l,i}$ feeds only sample $i$.
    """
    net, x, y = objective.net, objective.data.x, objective.data.y
    loss = objective.loss
    sq = lambda a: jnp.sum(a**2, axis=-1)  # noqa: E731

    if isinstance(net, TwoLayer):
        z0 = net.preactivations(params, x)
        a = net.outer_weights(params)
        h = net.activation(z0)

        def total(es):
            e_z, e_f = es
            f = net.scale * (net.activation(z0 + e_z) @ a) + e_f
            return jnp.sum(loss(f, y))

        n = x.shape[0]
        d_z, d_f = jax.grad(total)((jnp.zeros_like(z0), jnp.zeros((n,), z0.dtype)))
        out = sq(d_z) * sq(x)  # w
        if net.train_outer:
            out = out + d_f**2 * net.scale**2 * sq(h)  # a
        if net.bias:
            out = out + sq(d_z)  # b
        return out

    ws = params["w"]
    bs = params.get("b", [None] * len(ws))
    scales = net.layer_scales(net.in_dim(params))

    def total(es):  # the forward pass with e_l added to z_l; keeps each layer's input
        hs, h = [], x
        for layer, (w, b, c, e) in enumerate(zip(ws, bs, scales, es)):
            hs.append(h)
            z = c * (h @ w.T) + e
            if b is not None:
                z = z + b
            if layer < len(ws) - 1:
                h = net.activation(z)
        return jnp.sum(loss(z[..., 0], y)), hs

    n = x.shape[0]
    zeros = [jnp.zeros((n, w.shape[0]), x.dtype) for w in ws]
    deltas, hs = jax.grad(total, has_aux=True)(zeros)
    out = 0.0
    for h_in, dz, b, c in zip(hs, deltas, bs, scales):
        out = out + c**2 * sq(dz) * sq(h_in)
        if b is not None:
            out = out + sq(dz)
    return out


def _chunked_sq_norms(objective: Objective, params: Params, chunk_size: int) -> Array:
    """$\\|\\nabla_\\theta\\ell_i\\|^2$ by per-sample gradients, ``chunk_size`` at a time."""
    net, loss = objective.net, objective.loss

    def one(xy):
        xi, yi = xy
        g = jax.grad(lambda p: loss(net.apply(p, xi[None])[0], yi))(params)
        return sum(jnp.sum(v**2) for v in jax.tree_util.tree_leaves(g))

    return jax.lax.map(one, (objective.data.x, objective.data.y), batch_size=chunk_size)


def gradient_stats(objective: Objective, params: Params, *, method: str = "auto",
                   chunk_size: int = 256) -> GradientStats:
    r"""Per-sample gradient norms, $\operatorname{tr}\Sigma$ and the gradient-noise scale,
    without forming the $n\times p$ per-sample gradients.

    With $g_i = \nabla_\theta\big(\ell_i + \frac\lambda2\|\theta\|^2\big)$ (as
    :func:`~villani.per_sample_grads`), $u_i = \nabla_\theta\ell_i$ and
    $\bar g = \frac1n\sum_i g_i = \nabla L$:

    $$\|g_i\|^2 = \|u_i\|^2 + 2\lambda\langle u_i, \theta\rangle + \lambda^2\|\theta\|^2,\qquad
    \operatorname{tr}\Sigma = \frac1n\sum_i\|g_i\|^2 - \|\bar g\|^2,\qquad
    B_\mathrm{noise} = \frac{\operatorname{tr}\Sigma}{\|\bar g\|^2},$$

    the same $\Sigma$ (population covariance) as :func:`~villani.gradient_noise`.
    $\langle u_i, \theta\rangle$ for all $i$ is one forward-mode product (``jvp`` of the
    per-sample losses along $\theta$), computed only when $\lambda \ne 0$.

    ``method="structured"`` (the default for :func:`~villani.nets.two_layer` and scalar
    :func:`~villani.nets.mlp` nets, through ``"auto"``): every weight's per-sample
    gradient is an outer product $c_l\,\delta_{l,i}h_{l-1,i}^\top$, so
    $\|u_i\|^2 = \sum_l c_l^2\|\delta_{l,i}\|^2\|h_{l-1,i}\|^2$ (plus $\|\delta_{l,i}\|^2$ per
    bias), with $\delta_{l,i} = \partial\ell_i/\partial z_{l,i}$ from one backward pass to
    the pre-activations: time and memory of about two gradients, $O(n\sum_l n_l)$ extra
    memory. ``method="chunked"`` (any network): per-sample gradients ``chunk_size`` at a
    time (``lax.map``), memory $O(\text{chunk\_size}\cdot p)$.

    $\operatorname{tr}\Sigma$ is a difference of two positive numbers: its relative
    rounding error is about $\epsilon\,\frac1n\sum_i\|g_i\|^2/\operatorname{tr}\Sigma$.

    Args:
        objective: the :class:`~villani.Objective` (scalar-output network).
        params: the point $\theta$.
        method: ``"auto"``, ``"structured"`` or ``"chunked"``.
        chunk_size: samples per chunk of the ``"chunked"`` path (int >= 1).

    Returns:
        :class:`GradientStats` ``(sq_norms (n,), trace, grad_norm2, noise_scale)``.

    Example:
        >>> ds = data.random_labels(jax.random.key(0), 64, 4)  # doctest: +SKIP
        >>> obj = Objective(nets.mlp((16, 16), "tanh"), ds, loss="logistic")  # doctest: +SKIP
        >>> s = gradient_stats(obj, obj.net.init(jax.random.key(1), 4))  # doctest: +SKIP
        >>> s.sq_norms.shape  # doctest: +SKIP
        (64,)

    References:
        Goodfellow, "Efficient per-example gradient computations", arXiv 1510.01799;
        Li, Tramèr, Liang, Hashimoto, "Large language models can be strong differentially
        private learners" (ghost clipping), arXiv 2110.05679; McCandlish, Kaplan, Amodei
        et al., "An empirical model of large-batch training", arXiv 1812.06162.
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"objective: expected a villani Objective, got {type(objective).__name__}")
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size: expected an int >= 1, got {chunk_size!r}")
    objective.check_params(params)
    if method == "structured" and not _structured_ok(objective.net):
        raise ValueError(f"method: 'structured' needs a two_layer or scalar-output mlp net, got "
                         f"{type(objective.net).__name__}; use method='chunked'")
    structured = method == "structured" or (method == "auto" and _structured_ok(objective.net))
    l2_zero = is_concrete(objective.l2) and float(objective.l2) == 0.0
    return _stats(objective, params, structured, chunk_size, l2_zero)


@partial(jax.jit, static_argnums=(2, 3, 4))
def _stats(objective: Objective, params: Params, structured: bool, chunk_size: int,
           l2_zero: bool) -> GradientStats:
    # one compiled program: op-by-op dispatch of the same steps costs seconds of first-call
    # compilation, more than the computation itself at the sizes of a notebook
    if structured:
        u2 = _ghost_sq_norms(objective, params)
    else:
        u2 = _chunked_sq_norms(objective, params, chunk_size)
    l2 = objective.l2
    if l2_zero:
        sq_norms = u2
    else:
        theta2 = sum(jnp.sum(v**2) for v in jax.tree_util.tree_leaves(params))
        _, u_theta = jax.jvp(objective.per_sample, (params,), (params,))
        sq_norms = u2 + l2 * (2.0 * u_theta + l2 * theta2)
    g = objective.grad(params)
    g2 = sum(jnp.sum(v**2) for v in jax.tree_util.tree_leaves(g))
    trace = jnp.mean(sq_norms) - g2
    return GradientStats(sq_norms, trace, g2, trace / g2)
