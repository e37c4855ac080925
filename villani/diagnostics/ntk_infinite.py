r"""Infinite-width kernels of villani's networks: the NNGP kernel and the NTK.

As the hidden widths of an :func:`~villani.nets.mlp` grow, its output at initialisation
tends to a Gaussian process with covariance $\Sigma$ (the NNGP kernel; Neal, 1996;
Lee et al., 2018) and its empirical NTK tends to a deterministic kernel $\Theta$ (Jacot
et al., 2018). Both follow from one layer-by-layer recursion over the $2\times2$
covariance of a pair of pre-activations, whose only non-linear ingredients are the two
Gaussian expectations

$$\mathcal E_\phi(\Sigma) = E[\phi(u)\phi(v)], \qquad
  \mathcal E_{\phi'}(\Sigma) = E[\phi'(u)\phi'(v)], \qquad
  (u, v) \sim \mathcal N\Big(0, \begin{pmatrix}\Sigma(x,x) & \Sigma(x,x')\\
  \Sigma(x,x') & \Sigma(x',x')\end{pmatrix}\Big).$$

These are in closed form for ``relu`` and ``leaky_relu`` (arc-cosine kernels) and ``erf``
(Williams' arcsin kernel), and by tensor Gauss-Hermite quadrature for the other
activations villani ships (``tanh``, ``sigmoid``, ``softplus``, ``gelu``).

The network owns its rule: :func:`mlp_kernels` and :func:`two_layer_kernels` take the
arguments of :func:`~villani.nets.mlp` and :func:`~villani.nets.two_layer`, and
:func:`ntk_infinite` reads them off a network (through its ``infinite_kernels`` method,
which villani's networks define; a network without one has no infinite-width kernel here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, all_finite, check_positive_int, is_concrete
from ..nets import Activation, Initializer, Network, gaussian, lecun
from ..nets import activation as _lookup_activation

__all__ = [
    "CLOSED_FORM_ACTIVATIONS",
    "QUADRATURE_ORDER",
    "InfiniteKernels",
    "mlp_kernels",
    "ntk_infinite",
    "ntk_lambda0",
    "two_layer_kernels",
]

CLOSED_FORM_ACTIVATIONS = ("relu", "leaky_relu", "erf")
"""Activations whose Gaussian expectations are in closed form; the others use quadrature."""

QUADRATURE_ORDER = 64
r"""Default Gauss-Hermite order $Q$ per dimension ($Q^2$ nodes per pair of inputs).

The error grows with the pre-activation variance $v$ (the activation saturates within
fewer nodes) and is largest for parallel inputs ($\rho = 1$, the diagonal). Measured for
erf against its closed form at $\rho = 1$, $E[\phi'\phi']$ (the worse of the two):
$Q = 64$ gives $5\cdot10^{-12}$ at $v = 1$, $5\cdot10^{-7}$ at $v = 2$, $3\cdot10^{-5}$ at
$v = 3$, $3\cdot10^{-4}$ at $v = 4$; $Q = 128$ gives $3\cdot10^{-13}$, $2\cdot10^{-9}$ and
$2\cdot10^{-7}$ at $v = 2, 3, 4$. Inputs of norm about 1 keep $v \le 2$ under villani's
default initialisers; for larger inputs raise ``order`` (the cost is $O(n_1 n_2 Q^2)$ per
layer). For the kinked relu the error decays only algebraically ($\sim 10^{-2}$ at
$Q = 64$), which is why relu and leaky_relu use their closed forms.
"""

_METHODS = ("auto", "closed_form", "quadrature")
_KERNELS = ("ntk", "nngp")
_LEGACY_ACTIVATIONS = ("relu", "erf")


class InfiniteKernels(NamedTuple):
    """The infinite-width kernels of a network on inputs ``x1`` x ``x2``.

    Attributes:
        nngp: $\\Sigma$, the covariance of the outputs at initialisation, ``(n1, n2)``.
        ntk: $\\Theta$, the limit of the empirical NTK at initialisation, ``(n1, n2)``.
    """

    nngp: Array
    ntk: Array


class _Layer(NamedTuple):
    """Constants of layer l in the recursion (see :func:`mlp_kernels`)."""

    gain: float  # A_l = c_l^2 omega_l^2 N_{l-1}: forward and backward gain of layer l
    bias_var: float  # beta_l^2, the variance of b_l at initialisation (0 without bias)
    grad_gain: float  # G_l = c_l^2 N_{l-1} if W_l is trained, else 0
    grad_bias: float  # 1 if b_l is trained, else 0
    nngp_gain: float  # the gain in Sigma_l; differs from `gain` only for ntk_symmetric outputs
    propagate: bool = True  # False: gradients below this layer vanish (ntk_symmetric)


# ----------------------------------------------------------------------------- Gaussian expectations


def _closed_form(act: Activation, var1: Array, var2: Array, cov: Array) -> tuple[Array, Array]:
    """(E[phi(u)phi(v)], E[phi'(u)phi'(v)]) in closed form, elementwise over broadcast args."""
    if act.name == "erf":
        a = (1.0 + 2.0 * var1) * (1.0 + 2.0 * var2)
        e0 = (2.0 / math.pi) * jnp.arcsin(jnp.clip(2.0 * cov / jnp.sqrt(a), -1.0, 1.0))
        e1 = (4.0 / math.pi) / jnp.sqrt(a - 4.0 * cov**2)
        return e0, e1
    # relu and leaky_relu (relu is slope 0): phi(z) = g z + (1 - g) relu(z)
    s = jnp.sqrt(var1 * var2)
    pos = s > 0
    cos = jnp.clip(jnp.where(pos, cov / jnp.where(pos, s, 1.0), 0.0), -1.0, 1.0)
    theta = jnp.arccos(cos)
    r0 = s * (jnp.sin(theta) + (math.pi - theta) * cos) / (2 * math.pi)
    # a zero-variance pre-activation is identically 0, where relu' is 0 (villani's convention)
    r1 = jnp.where(pos, (math.pi - theta) / (2 * math.pi), 0.0)
    g = act.param if act.name == "leaky_relu" else 0.0
    if g == 0.0:
        return r0, r1
    return g * cov + (1 - g) ** 2 * r0, g + (1 - g) ** 2 * r1


def _hermite(order: int, dtype: Any) -> tuple[Array, Array]:
    """Probabilists' Gauss-Hermite nodes and weights, normalised to sum to one."""
    z, w = np.polynomial.hermite_e.hermegauss(order)
    return jnp.asarray(z, dtype), jnp.asarray(w / w.sum(), dtype)


def _quadrature(act: Activation, var1: Array, var2: Array, cov: Array,
                order: int) -> tuple[Array, Array]:
    """Cross expectations (n1, n2) by tensor Gauss-Hermite: u = s1 z, v = s2 (rho z + r z')."""
    z, w = _hermite(order, cov.dtype)
    s1, s2 = jnp.sqrt(var1), jnp.sqrt(var2)
    u = s1[:, None] * z  # (n1, Q)
    fu, du = act(u) * w, act.d1(u) * w

    def rows(fu_i, du_i, s1_i, cov_i):  # a block of rows: (b, Q), (b, Q), (b,), (b, n2)
        den = s1_i[:, None] * s2
        rho = jnp.where(den > 0, cov_i / jnp.where(den > 0, den, 1.0), 0.0)
        rho = jnp.clip(rho, -1.0, 1.0)[..., None, None]
        v = s2[:, None, None] * (rho * z[:, None] + jnp.sqrt(1.0 - rho**2) * z[None, :])
        e0 = jnp.einsum("ijkl,l,ik->ij", act(v), w, fu_i)
        e1 = jnp.einsum("ijkl,l,ik->ij", act.d1(v), w, du_i)
        return e0, e1

    n1, n2 = cov.shape
    block = max(1, 2**21 // max(1, n2 * order * order))  # rows per block: <= 2^21 nodes held
    if block >= n1:  # small problems in one vectorised pass: much less to compile than a loop
        return rows(fu, du, s1, cov)
    nb = -(-n1 // block)
    pad = nb * block - n1

    def padded(a):
        a = jnp.concatenate([a, jnp.broadcast_to(a[:1], (pad, *a.shape[1:]))]) if pad else a
        return a.reshape(nb, block, *a.shape[1:])

    e0, e1 = jax.lax.map(lambda a: rows(*a), tuple(padded(a) for a in (fu, du, s1, cov)))
    return e0.reshape(-1, n2)[:n1], e1.reshape(-1, n2)[:n1]


def _quadrature_diag(act: Activation, var: Array, order: int) -> Array:
    z, w = _hermite(order, var.dtype)
    return act(jnp.sqrt(var)[:, None] * z) ** 2 @ w


# ----------------------------------------------------------------------------- the recursion


def _recursion(layers: Sequence[_Layer], act: Activation, x1: Array, x2: Array | None,
               method: str, order: int) -> InfiniteKernels:
    closed = method == "closed_form" or (method == "auto" and act.name in CLOSED_FORM_ACTIVATIONS)
    consts = jnp.asarray([[*lay[:5], float(lay.propagate)] for lay in layers], x1.dtype)
    return _recursion_jit(act, closed, order, consts, x1, x2)


@jax.jit(static_argnums=(0, 1, 2))
def _recursion_jit(act: Activation, closed: bool, order: int, consts: Array, x1: Array,
                   x2: Array | None) -> InfiniteKernels:
    # The layers' constants are data and the hidden layers one lax.scan body: one compiled
    # program per (activation, method, order, depth-independent shapes).
    sym = x2 is None
    x2_ = x1 if sym else x2
    k = x1 @ x2_.T  # K_0 = x . x': the first layer sums over the d inputs exactly
    k1 = jnp.sum(x1 * x1, axis=1)
    k2 = k1 if sym else jnp.sum(x2_ * x2_, axis=1)
    gain, bias_var, grad_gain, grad_bias, nngp_gain, _ = consts[0]
    sig = nngp_gain * k + bias_var
    v1, v2 = gain * k1 + bias_var, gain * k2 + bias_var
    theta = grad_gain * k + grad_bias

    def layer(carry, c):
        sig, v1, v2, theta = carry
        gain, bias_var, grad_gain, grad_bias, nngp_gain, propagate = c
        if closed:
            e0, e1 = _closed_form(act, v1[:, None], v2[None, :], sig)
            f1 = _closed_form(act, v1, v1, v1)[0]
            f2 = f1 if sym else _closed_form(act, v2, v2, v2)[0]
        else:
            e0, e1 = _quadrature(act, v1, v2, sig, order)
            f1 = _quadrature_diag(act, v1, order)
            f2 = f1 if sym else _quadrature_diag(act, v2, order)
        theta = grad_gain * e0 + grad_bias + propagate * gain * e1 * theta
        sig = nngp_gain * e0 + bias_var
        return (sig, gain * f1 + bias_var, gain * f2 + bias_var, theta), None

    (sig, _, _, theta), _ = jax.lax.scan(layer, (sig, v1, v2, theta), consts[1:])
    if sym:  # exact symmetry (quadrature and matmul rounding are not symmetric)
        sig, theta = 0.5 * (sig + sig.T), 0.5 * (theta + theta.T)
    return InfiniteKernels(sig, theta)


def _init_variances(init: Initializer, fan_in: int) -> tuple[float, float]:
    """(omega^2, beta^2): the variances of one weight and one bias of a layer at init."""
    if init.kind == "gaussian":
        return init.scale**2, init.scale**2
    if init.kind in ("lecun", "he"):
        return (1.0 if init.kind == "lecun" else 2.0) / fan_in, 0.0
    if init.kind == "positive":
        raise ValueError(
            "init: the positive initialiser (zero first layer, positive uniform hidden weights) "
            "has no Gaussian infinite-width limit; expected gaussian, lecun, he or ntk_symmetric"
        )
    raise ValueError(
        f"init: no infinite-width kernel for initialiser kind {init.kind!r}; expected gaussian, "
        "lecun, he or ntk_symmetric"
    )


def _layers(dims: Sequence[int], parametrization: str, bias: bool, init: Initializer,
            out_bias: bool, train_out: bool = True,
            fixed_out: np.ndarray | None = None) -> list[_Layer]:
    """Layer constants for dims = (d, n_1, ..., n_L, 1); see :func:`mlp_kernels`."""
    n_layers = len(dims) - 1
    sym = init.kind == "ntk_symmetric"
    base = (init.base or gaussian(1.0)) if sym else init
    if sym and dims[-2] % 2:
        raise ValueError(
            f"init: ntk_symmetric pairs the last hidden layer's units; its width {dims[-2]} is odd"
        )
    layers = []
    for i in range(n_layers):
        fan_in = dims[i]
        out = i == n_layers - 1
        c2 = 1.0 if parametrization == "standard" or i == 0 else 1.0 / fan_in
        big_n = 1.0 if i == 0 else float(fan_in)
        # ntk_symmetric draws the output layer for half the last hidden units (fan-in n_L/2)
        w2, b2 = _init_variances(base, fan_in // 2 if (sym and out) else fan_in)
        has_bias = out_bias if out else bias
        b2 = b2 if has_bias and not (sym and out) else 0.0  # ntk_symmetric zeroes b_{L+1}
        gain = c2 * w2 * big_n
        grad_gain = c2 * big_n
        nngp_gain = gain
        if out and fixed_out is not None:  # two_layer with fixed outer weights a
            gain = c2 * big_n * float(np.mean(fixed_out**2))
            grad_gain = 0.0
            nngp_gain = gain
            if sym:  # units j and j + m/2 are copies: f = c sum_{j < m/2} (a_j + a_{j+m/2}) phi(z_j)
                h = len(fixed_out) // 2
                nngp_gain = c2 * float(np.sum((fixed_out[:h] + fixed_out[h:]) ** 2))
        elif out and sym:
            nngp_gain = 0.0  # outgoing weights (W, -W): f(theta_0) = 0 exactly
        if out and not train_out and fixed_out is None:  # pragma: no cover - callers pass fixed_out
            raise AssertionError("fixed outer weights needed")
        # with ntk_symmetric the paired units cancel in df/dh_{L-1}: only layers L, L+1 are seen
        propagate = not (sym and i == n_layers - 2)
        layers.append(_Layer(gain, b2, grad_gain, 1.0 if has_bias else 0.0, nngp_gain, propagate))
    return layers


# ----------------------------------------------------------------------------- checks


def _check_inputs(x1: Any, x2: Any) -> tuple[Array, Array | None]:
    x1 = jnp.asarray(x1)
    x2 = None if x2 is None else jnp.asarray(x2)
    for name, x in (("x1", x1), ("x2", x2)):
        if x is None:
            continue
        if x.ndim != 2:
            raise ValueError(f"{name}: expected shape (n, d), got shape {x.shape}")
        if x.shape[0] < 1:
            raise ValueError(f"{name}: expected at least one input, got shape {x.shape}")
        if all_finite(x) is False:
            raise ValueError(f"{name}: contains non-finite values")
    if x2 is not None and x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x2: feature dimension {x2.shape[1]} differs from x1's {x1.shape[1]}")
    dtype = jnp.result_type(float) if not jnp.issubdtype(x1.dtype, jnp.floating) else x1.dtype
    if x2 is not None:
        dtype = jnp.promote_types(dtype, x2.dtype) if jnp.issubdtype(x2.dtype, jnp.floating) else dtype
    return x1.astype(dtype), None if x2 is None else x2.astype(dtype)


def _check_method(method: Any, order: Any, act: Activation) -> tuple[str, int]:
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    if method == "closed_form" and act.name not in CLOSED_FORM_ACTIVATIONS:
        raise ValueError(
            f"method: 'closed_form' covers {', '.join(CLOSED_FORM_ACTIVATIONS)}, not "
            f"{act.name!r}; use method='quadrature' or 'auto'"
        )
    order = check_positive_int("order", order)
    if order < 2:
        raise ValueError(f"order: expected at least 2 Gauss-Hermite nodes, got {order}")
    return method, order


def _check_config(activation: Any, parametrization: Any, init: Any) -> tuple[Activation, Initializer]:
    act = _lookup_activation(activation)
    if parametrization not in ("ntk", "standard"):
        raise ValueError(f"parametrization: expected 'ntk' or 'standard', got {parametrization!r}")
    if init is None:
        init = gaussian(1.0) if parametrization == "ntk" else lecun()
    if not isinstance(init, Initializer):
        raise TypeError(f"init: expected an Initializer (e.g. nets.gaussian()), got {init!r}")
    return act, init


# ----------------------------------------------------------------------------- public


def mlp_kernels(x1: Array, x2: Array | None = None, *, widths: int | Sequence[int],
                activation: str | Activation = "tanh", parametrization: str = "ntk",
                bias: bool = False, init: Initializer | None = None, method: str = "auto",
                order: int = QUADRATURE_ORDER) -> InfiniteKernels:
    r"""The NNGP kernel and the NTK of :func:`~villani.nets.mlp` at infinite width.

    The network is $z_l = c_l W_l h_{l-1} + b_l$, $h_l = \phi(z_l)$, $h_0 = x$,
    $f = z_{L+1}$, with $W_l$ entries of variance $\omega_l^2$ and $b_l$ of variance
    $\beta_l^2$ at initialisation (``init``; zero for :func:`~villani.nets.lecun` and
    :func:`~villani.nets.he` biases). With $n_0 = d$, set for every layer

    $$A_l = c_l^2\,\omega_l^2\,N_{l-1}, \qquad G_l = c_l^2\,N_{l-1}, \qquad
      N_0 = 1,\ N_{l-1} = n_{l-1}\ (l \ge 2),$$

    and $K_0(x, x') = x\cdot x'$. Replacing every average over a hidden layer's units by its
    expectation (exact as the widths grow; the gradient-independence of Yang, 2020),

    $$\Sigma_1 = A_1 K_0 + \beta_1^2, \qquad \Theta_1 = G_1 K_0 + \mathbb 1_{\rm bias},$$
    $$\Sigma_{l+1} = A_{l+1}\,\mathcal E_\phi(\Sigma_l) + \beta_{l+1}^2, \qquad
      \Theta_{l+1} = G_{l+1}\,\mathcal E_\phi(\Sigma_l) + \mathbb 1_{\rm bias}
      + A_{l+1}\,\mathcal E_{\phi'}(\Sigma_l)\,\Theta_l ,$$

    and the output kernels are $\Sigma = \Sigma_{L+1}$, $\Theta = \Theta_{L+1}$ (each output
    of a multi-output net has these; distinct outputs are uncorrelated).

    **NTK parametrisation** (villani's default: $c_1 = 1$, $c_l = n_{l-1}^{-1/2}$,
    :func:`~villani.nets.gaussian` init of scale $s$): $A_l = s^2$, $G_l = 1$,
    $\beta_l^2 = s^2$, so the widths drop out and this is the true limit; with $s = 1$ it
    is Jacot's recursion $\Theta_{l+1} = \Sigma_{l+1} + \mathcal E_{\phi'}(\Sigma_l)\Theta_l$.

    **Standard parametrisation** ($c_l = 1$, default :func:`~villani.nets.lecun` init,
    $\omega_l^2 = 1/n_{l-1}$, zero biases at init): $A_1 = 1/d$, $A_l = 1$ ($l\ge2$),
    $\beta_l = 0$, so $\Sigma$ has a width-independent limit (the NTK-parametrised one
    with $\Sigma_1 = x\cdot x'/d$). But $G_l = n_{l-1}$ for $l \ge 2$: the gradient of the
    readout and every hidden layer above the first carries a factor $\sqrt{n_{l-1}}$, and
    the NTK grows linearly with the widths, $\Theta = P_1(x\cdot x' + \mathbb 1_{\rm bias})
    + \sum_{l=2}^{L+1} P_l\,(n_{l-1}\mathcal E_\phi(\Sigma_{l-1}) + \mathbb 1_{\rm bias})$
    with $P_l = \prod_{k=l}^{L} A_{k+1}\mathcal E_{\phi'}(\Sigma_k)$ width-independent.
    It has no finite limit; what is returned is this deterministic equivalent at the
    given ``widths``, to which the empirical NTK is close in ratio
    ($\Theta_{\rm emp}/\Theta \to 1$ as the widths grow in fixed proportion, with
    $O(n^{-1/2})$ fluctuations). The same holds for any initialiser: with ``gaussian``
    under the standard parametrisation even $\Sigma$ grows with the widths.

    :func:`~villani.nets.ntk_symmetric` (copies of the last hidden layer's units with
    opposite readout weights) gives $\Sigma = 0$ (the outputs vanish at init) and, for
    $L \ge 2$, only the last two layers in $\Theta$: the paired units cancel in
    $\partial f/\partial h_{L-1}$, so the term $A_L\mathcal E_{\phi'}\Theta_{L-1}$ is
    dropped; its readout fan-in is $n_L/2$.

    The Gaussian expectations are closed forms for ``relu``, ``leaky_relu`` and ``erf`` (see
    :func:`ntk_infinite`) and tensor Gauss-Hermite quadrature of order ``order`` per
    dimension otherwise (:data:`QUADRATURE_ORDER`), writing
    $u = \sqrt{\Sigma_{11}}\,z$, $v = \sqrt{\Sigma_{22}}\,(\rho z + \sqrt{1-\rho^2}\,z')$.

    Args:
        x1: inputs ``(n1, d)``.
        x2: inputs ``(n2, d)``; ``None`` means ``x1`` (symmetric kernels).
        widths: the hidden widths $(n_1, \dots, n_L)$ as for :func:`~villani.nets.mlp`
            ($L \ge 1$; an int means one hidden layer).
        activation: a name from :data:`villani.nets.ACTIVATIONS` or an Activation.
        parametrization: ``"ntk"`` or ``"standard"``.
        bias: whether every layer has a (trained) bias.
        init: the :class:`~villani.nets.Initializer` (default as :func:`~villani.nets.mlp`:
            ``gaussian(1)`` for NTK, ``lecun()`` for standard); ``positive`` is refused.
        method: ``"auto"`` (closed form where there is one), ``"closed_form"`` or
            ``"quadrature"``.
        order: Gauss-Hermite nodes per dimension for the quadrature.

    Returns:
        :class:`InfiniteKernels` ``(nngp, ntk)``, each ``(n1, n2)``.

    Raises:
        ValueError: an empty or non-positive ``widths``, an unknown activation,
            parametrisation or method, ``closed_form`` for an activation without one,
            ``positive`` init, malformed inputs.

    Example:
        >>> x = villani.data.unit_sphere(jax.random.key(0), 5, 3)
        >>> k = mlp_kernels(x, widths=(512, 512, 512), activation="relu", bias=True)
        >>> k.ntk.shape, k.nngp.shape
        ((5, 5), (5, 5))

    References:
        Jacot, Gabriel, Hongler, "Neural tangent kernel" (NeurIPS 2018), Theorem 1;
        Lee et al., "Deep neural networks as Gaussian processes" (ICLR 2018), eq. (4);
        Arora et al., "On exact computation with an infinitely wide neural net"
        (NeurIPS 2019), eqs. (8)-(10); Yang, "Tensor programs II" (arXiv 2006.14548).
    """
    if isinstance(widths, (int, np.integer)):
        widths = (widths,)
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"widths: expected a sequence of positive ints, got {widths!r}")
    widths = tuple(check_positive_int("widths", w) for w in widths)
    if not widths:
        raise ValueError("widths: expected at least one hidden width (depth >= 1), got ()")
    act, init = _check_config(activation, parametrization, init)
    method, order = _check_method(method, order, act)
    x1, x2 = _check_inputs(x1, x2)
    dims = (x1.shape[1], *widths, 1)
    layers = _layers(dims, parametrization, bool(bias), init, out_bias=bool(bias))
    return _recursion(layers, act, x1, x2, method, order)


def two_layer_kernels(x1: Array, x2: Array | None = None, *, width: int,
                      activation: str | Activation = "tanh", parametrization: str = "ntk",
                      train_outer: bool = True, bias: bool = False,
                      init: Initializer | None = None,
                      outer: str | Sequence[float] = "paired", method: str = "auto",
                      order: int = QUADRATURE_ORDER) -> InfiniteKernels:
    r"""The NNGP kernel and the NTK of :func:`~villani.nets.two_layer` at infinite width.

    For $f(x) = c\sum_{j=1}^m a_j\phi(w_j\cdot x + b_j)$ this is :func:`mlp_kernels` with
    one hidden layer and no readout bias: with $\omega^2$, $\beta^2$ the variances of
    $w_{jk}$ and $b_j$ and $\alpha^2 = E a_j^2$ (the readout's init variance, or the mean of
    $a_j^2$ over the fixed ``outer`` weights when ``train_outer=False``),

    $$\Sigma = c^2 m\,\alpha^2\,\mathcal E_\phi(\Sigma_1), \qquad
      \Theta = c^2 m\,\big[\alpha^2\,\mathcal E_{\phi'}(\Sigma_1)\,(x\cdot x' +
      \mathbb 1_{\rm bias}) + \mathbb 1_{\rm train\_outer}\,\mathcal E_\phi(\Sigma_1)\big],$$

    $\Sigma_1 = \omega^2 x\cdot x' + \beta^2$, and $c^2 m = 1$ under the NTK
    parametrisation ($c = m^{-1/2}$), $c^2 m = m$ under the standard one: then the
    readout term grows linearly with $m$ and the returned $\Theta$ is the deterministic
    equivalent at this width (see :func:`mlp_kernels`). With
    :func:`~villani.nets.ntk_symmetric`, units $j$ and $j + m/2$ are copies and
    $\Sigma = c^2\sum_{j<m/2}(a_j + a_{j+m/2})^2\,\mathcal E_\phi(\Sigma_1)$: zero for trained
    or ``"paired"`` readouts.

    Args:
        x1: inputs ``(n1, d)``.
        x2: inputs ``(n2, d)``; ``None`` means ``x1``.
        width, activation, parametrization, train_outer, bias, init, outer: as for
            :func:`~villani.nets.two_layer`.
        method, order: as for :func:`mlp_kernels`.

    Returns:
        :class:`InfiniteKernels` ``(nngp, ntk)``, each ``(n1, n2)``.

    Example:
        >>> x = villani.data.unit_sphere(jax.random.key(0), 4, 3)
        >>> k = two_layer_kernels(x, width=1024, activation="tanh")
        >>> bool(jnp.all(jnp.linalg.eigvalsh(k.ntk) > 0))
        True
    """
    width = check_positive_int("width", width)
    act, init = _check_config(activation, parametrization, init)
    method, order = _check_method(method, order, act)
    x1, x2 = _check_inputs(x1, x2)
    fixed = None
    if not train_outer:
        if isinstance(outer, str):
            if outer == "paired":
                half = (width + 1) // 2
                fixed = np.concatenate([np.ones(half), -np.ones(width - half)])
            elif outer == "ones":
                fixed = np.ones(width)
            else:
                raise ValueError(f"outer: expected 'paired', 'ones' or {width} floats, got {outer!r}")
        else:
            fixed = np.asarray(outer, dtype=float).ravel()
            if fixed.size != width:
                raise ValueError(f"outer: expected {width} values (one per unit), got {fixed.size}")
    dims = (x1.shape[1], width, 1)
    layers = _layers(dims, parametrization, bool(bias), init, out_bias=False,
                     train_out=bool(train_outer), fixed_out=fixed)
    return _recursion(layers, act, x1, x2, method, order)


_HOOK = "infinite_kernels"
"""The method a network defines to have infinite-width kernels (see :func:`ntk_infinite`)."""


def _network_kernels(net: Any, x1: Array, x2: Array | None, method: str,
                     order: int) -> InfiniteKernels:
    hook = getattr(net, _HOOK, None)
    if callable(hook):
        return hook(x1, x2, method=method, order=order)
    raise TypeError(
        f"net: {type(net).__name__} has no infinite-width kernel rule: ntk_infinite calls the "
        f"network's method {_HOOK}(x1, x2=None, *, method, order) -> InfiniteKernels, which "
        "villani's nets.mlp and nets.two_layer define. For your own architecture, define that "
        "method (e.g. returning villani.mlp_kernels(x1, x2, widths=..., activation=...)), or "
        "measure the empirical NTK of a wide instance with villani.ntk(net, params, x)"
    )


def _is_network(obj: Any) -> bool:
    pair = isinstance(obj, tuple) and len(obj) == 2 and all(callable(f) for f in obj)
    return (isinstance(obj, Network) or hasattr(obj, _HOOK) or hasattr(obj, "apply")
            or callable(obj) or pair)


def _legacy(x1: Array, x2: Array | None, kernel: str, activation: str = "relu",
            train_outer: bool = False, bias: bool = False, w_std: float = 1.0) -> Array:
    if activation not in _LEGACY_ACTIVATIONS:
        raise ValueError(
            f"activation: expected one of {_LEGACY_ACTIVATIONS}, got {activation!r} (the "
            "keyword form is the two-layer closed form; pass a network, e.g. "
            "ntk_infinite(nets.two_layer(m, 'tanh'), x), for the other activations)"
        )
    if not (isinstance(w_std, (int, float)) and w_std > 0):
        raise ValueError(f"w_std: expected a positive float, got {w_std!r}")
    x1 = jnp.asarray(x1)
    x2 = x1 if x2 is None else jnp.asarray(x2)
    for name, x in (("x1", x1), ("x2", x2)):
        if x.ndim != 2:
            raise ValueError(f"{name}: expected shape (n, d), got shape {x.shape}")
        if all_finite(x) is False:
            raise ValueError(f"{name}: contains non-finite values")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x2: feature dimension {x2.shape[1]} differs from x1's {x1.shape[1]}")
    if not jnp.issubdtype(x1.dtype, jnp.floating):
        x1, x2 = x1.astype(float), x2.astype(float)
    gram = x1 @ x2.T
    if bias:
        gram = gram + 1.0
    sq1 = (jnp.sum(x1 * x1, axis=1) + (1.0 if bias else 0.0))[:, None]
    sq2 = (jnp.sum(x2 * x2, axis=1) + (1.0 if bias else 0.0))[None, :]
    if activation == "relu" and not bias and is_concrete(x1) and is_concrete(x2) and (
            np.any(np.all(np.asarray(x1) == 0, axis=1)) or np.any(np.all(np.asarray(x2) == 0, axis=1))):
        raise ValueError("x: relu's kernel needs non-zero inputs (the angle is undefined at 0)")
    s2 = w_std**2
    k0, k1 = _closed_form(_lookup_activation(activation), s2 * sq1, s2 * sq2, s2 * gram)
    if kernel == "nngp":
        return k0
    h = gram * k1
    return h + k0 if train_outer else h


def ntk_infinite(net: Any, x1: Array | None = None, x2: Array | None = None, *,
                 kernel: str = "ntk", method: str = "auto", order: int = QUADRATURE_ORDER,
                 **legacy: Any) -> Array:
    r"""The infinite-width NTK $\Theta$ (or NNGP kernel $\Sigma$) of a network.

    ``ntk_infinite(net, x1, x2=None)`` takes a villani :func:`~villani.nets.mlp` of any
    depth or :func:`~villani.nets.two_layer`, in either parametrisation, with or without
    biases, and returns ``kernel="ntk"`` ($\Theta$) or ``"nngp"`` ($\Sigma$) from the
    recursion of :func:`mlp_kernels` (which states the formulas, the standard
    parametrisation's width-dependent NTK, and :data:`QUADRATURE_ORDER`'s accuracy). A
    network supplies its rule through its ``infinite_kernels(x1, x2, *, method, order)``
    method returning :class:`InfiniteKernels` (:meth:`villani.nets.MLP.infinite_kernels`,
    :meth:`villani.nets.TwoLayer.infinite_kernels`), and ``ntk_infinite`` only calls that
    hook; a network without it (a plain function or ``(init, apply)`` pair, an equinox or
    flax model) is a ``TypeError`` that names the hook.

    Closed forms, for $(u, v)$ centred Gaussian with variances $a, b$, covariance $c$
    and $\cos\theta = c/\sqrt{ab}$:

    - relu: $E[\phi'\phi'] = (\pi - \theta)/(2\pi)$ (scale-free, so on the unit sphere
      a two-layer net has $H^\infty_{ij} = x_i\cdot x_j(\pi - \arccos x_i\cdot x_j)/(2\pi)$,
      Du et al.); $E[\phi\phi] = \sqrt{ab}\,(\sin\theta + (\pi-\theta)\cos\theta)/(2\pi)$,
      the arc-cosine kernel of order 1 (Cho & Saul, 2009).
    - leaky_relu of slope $\gamma$, $\phi = \gamma z + (1-\gamma)\mathrm{relu}(z)$:
      $E[\phi\phi] = \gamma c + (1-\gamma)^2 E[\mathrm{relu}\,\mathrm{relu}]$ and
      $E[\phi'\phi'] = \gamma + (1-\gamma)^2(\pi-\theta)/(2\pi)$ (from $E[u\,\mathrm{relu}(v)]
      = c/2$ and $P(v > 0) = 1/2$).
    - erf: $E[\phi'\phi'] = \frac4\pi\big((1+2a)(1+2b) - 4c^2\big)^{-1/2}$ and
      $E[\phi\phi] = \frac2\pi\arcsin\frac{2c}{\sqrt{(1+2a)(1+2b)}}$ (Williams, 1997).

    ``tanh``, ``sigmoid``, ``softplus`` and ``gelu`` use Gauss-Hermite quadrature.

    **Two-layer convenience form** (kept from earlier releases): ``ntk_infinite(x1, x2=None,
    activation="relu", train_outer=False, bias=False, w_std=1.0)`` is the closed-form
    $H^\infty$ of $f(x) = \frac1{\sqrt m}\sum_r a_r\sigma(w_r\cdot x + b_r)$ with
    $w_r \sim \mathcal N(0, s^2 I)$, $b_r\sim\mathcal N(0, s^2)$ and $E a_r^2 = 1$
    whatever $s$ = ``w_std``,

    $$H^\infty(x, x') = (x\cdot x' + \mathbb 1_{\rm bias})\,E[\sigma'(u)\sigma'(v)]
      + \mathbb 1_{\rm train\_outer}\,E[\sigma(u)\sigma(v)],$$

    $(u, v)$ with covariance $s^2\tilde x\cdot\tilde x'$, $\tilde x = (x, 1)$ with a bias;
    relu and erf only. (The gradient w.r.t. $w_r$ carries $x$, not $s\,x$, so the first
    term has $x\cdot x'$ whatever $s$.)

    Args:
        net: a network with an ``infinite_kernels`` method (villani's ``mlp`` and
            ``two_layer``, or your own); in the convenience form, the inputs ``x1``.
        x1: inputs ``(n1, d)``; in the convenience form, ``x2``.
        x2: inputs ``(n2, d)``; ``None`` means ``x1``.
        kernel: ``"ntk"`` or ``"nngp"``.
        method: ``"auto"``, ``"closed_form"`` or ``"quadrature"`` (network form).
        order: Gauss-Hermite order (network form).
        **legacy: ``activation``, ``train_outer``, ``bias``, ``w_std`` of the convenience
            form.

    Returns:
        The kernel, shape ``(n1, n2)``.

    Raises:
        ValueError: an unknown ``kernel``, activation or method; malformed inputs; relu
            with a zero input in the convenience form. TypeError: a network without a
            kernel rule, or convenience keywords passed with a network.

    Example:
        >>> x = villani.data.unit_sphere(jax.random.key(0), 6, 3)
        >>> net = villani.nets.mlp((512, 512, 512), "tanh", bias=True)
        >>> ntk_infinite(net, x).shape
        (6, 6)
        >>> ntk_infinite(x, activation="erf", train_outer=True).shape  # two-layer form
        (6, 6)

    References:
        Du, Zhai, Poczos, Singh, "Gradient descent provably optimizes
        over-parameterized neural networks" (ICLR 2019), $H^\infty$ and $\lambda_0$;
        Cho & Saul, "Kernel methods for deep learning" (NeurIPS 2009);
        Williams, "Computing with infinite networks" (NeurIPS 1997);
        Jacot, Gabriel, Hongler (NeurIPS 2018).
    """
    if kernel not in _KERNELS:
        raise ValueError(f"kernel: expected one of {_KERNELS}, got {kernel!r}")
    if not _is_network(net):  # the two-layer convenience form: (x1, x2, activation=...)
        unknown = set(legacy) - {"activation", "train_outer", "bias", "w_std"}
        if unknown:
            raise TypeError(f"ntk_infinite: unexpected keyword arguments {sorted(unknown)}")
        if x2 is not None:
            raise TypeError("ntk_infinite(x1, x2, ...): a third positional argument needs a network first")
        return _legacy(net, x1, kernel, **legacy)
    if legacy:
        raise TypeError(
            f"ntk_infinite: {sorted(legacy)} belong to the two-layer convenience form "
            "ntk_infinite(x1, ...); a network carries its own activation and biases"
        )
    if x1 is None:
        raise TypeError("ntk_infinite(net, x1, x2=None): x1 is missing")
    k = _network_kernels(net, x1, x2, method, order)
    return k.ntk if kernel == "ntk" else k.nngp


def ntk_lambda0(*args: Any, **kwargs: Any) -> Array:
    r"""$\lambda_0 = \lambda_{\min}(H^\infty)$, the smallest eigenvalue of :func:`ntk_infinite`.

    Du et al. show $\lambda_0 > 0$ when no two inputs are parallel, and gradient descent
    on a width-$m = \Omega(n^6/(\lambda_0^4\delta^3))$ net converges at the linear rate
    $(1 - \eta\lambda_0/2)^k$.

    Args:
        *args: ``(x,)`` for the two-layer convenience form, or ``(net, x)``.
        **kwargs: the keywords of :func:`ntk_infinite` (``activation``, ``train_outer``,
            ``bias``, ``w_std``; or ``kernel``, ``method``, ``order`` with a network).

    Returns:
        A scalar.

    Example:
        >>> x = jnp.eye(3)
        >>> float(ntk_lambda0(x, activation="relu"))  # H = I/2 for orthonormal inputs
        0.5

    References:
        Du et al. (ICLR 2019), Assumption 3.1 and Theorem 3.2.
    """
    if len(args) > 2 or (len(args) == 2 and not _is_network(args[0])):
        raise TypeError("ntk_lambda0: expected (x) or (net, x)")
    return jnp.linalg.eigvalsh(ntk_infinite(*args, **kwargs))[0]
