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
from ..nets import FeedForward

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


def _structured_ok(net: Any, params: Params) -> str | None:
    """None when the layer factors give every per-sample gradient, else why not: a scalar
    :class:`~villani.nets.FeedForward` whose trained weights and biases are all of its
    params (a parameter outside the layers would be missed)."""
    if not (isinstance(net, FeedForward) and net.out_dim == 1):
        return f"a scalar-output network that exposes its layers (nets.FeedForward), got {net!r}"
    lay = net.layers(params)
    in_layers = sum(int(jnp.size(w)) for w, t in zip(lay.weights, lay.trained) if t)
    in_layers += sum(int(jnp.size(b)) for b in lay.biases if b is not None)
    total = sum(int(jnp.size(v)) for v in jax.tree_util.tree_leaves(params))
    if in_layers != total:
        return (f"every parameter in the layers, but {type(net).__name__}.layers(params) holds "
                f"{in_layers} trained entries of the params' {total}")
    return None


def _ghost_sq_norms(objective: Objective, params: Params) -> Array:
    r"""$\|\nabla_\theta\ell_i\|^2$ for every $i$ from the layers' factors (no regulariser).

    With $u_l = \partial f/\partial z_l$ from :meth:`~villani.nets.FeedForward.factors`,
    $\delta_{l,i} = \ell'(f_i)\,u_{l,i}$, so sample $i$'s squared gradient norm is
    $\ell'(f_i)^2\sum_l \|u_{l,i}\|^2\,(c_l^2\|h_{l-1,i}\|^2\,[W_l\text{ trained}]
    + [b_l\text{ present}])$.
    """
    net, x, y, loss = objective.net, objective.data.x, objective.data.y, objective.loss
    lay = net.layers(params)
    fac = net.factors(params, x)
    dl = jax.grad(lambda f: jnp.sum(loss(f, y)))(fac.output)  # l'(f_i, y_i), (n,)
    out = 0.0
    for h_in, u, c, b, trained in zip(fac.inputs, fac.grads, lay.scales, lay.biases, lay.trained):
        u2 = jnp.sum(u * u, axis=-1)
        if trained:
            out = out + (c * c) * u2 * jnp.sum(h_in * h_in, axis=-1)
        if b is not None:
            out = out + u2
    return dl * dl * out


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

    ``method="structured"`` (the default, through ``"auto"``, for every scalar network that
    exposes its layers, :class:`~villani.nets.FeedForward`: :func:`~villani.nets.two_layer`,
    :func:`~villani.nets.mlp` or your own, when its layers hold all its params): every weight's per-sample
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
        >>> from villani import data, nets
        >>> ds = data.random_labels(jax.random.key(0), 64, 4)
        >>> obj = Objective(nets.mlp((16, 16), "tanh"), ds, loss="logistic")
        >>> s = gradient_stats(obj, obj.net.init(jax.random.key(1), 4))
        >>> s.sq_norms.shape
        (64,)
        >>> bool(s.trace > 0)
        True

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
    why_not = _structured_ok(objective.net, params) if method != "chunked" else None
    if method == "structured" and why_not:
        raise ValueError(f"method: 'structured' needs {why_not}; use method='chunked'")
    structured = method == "structured" or (method == "auto" and why_not is None)
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
