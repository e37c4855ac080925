r"""Data sets: a :class:`Dataset` pytree and generators, each from an explicit key.

Every generator puts inputs on the unit sphere unless it says otherwise, since the
papers' constants are stated for $\|x_i\| \le B_x$ with $B_x = 1$.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._types import Array, PRNGKey, all_finite, check_positive_int, is_concrete

__all__ = [
    "Dataset",
    "breast_cancer",
    "digits",
    "gaussian_mixture",
    "linearly_independent",
    "margin_separable",
    "random_labels",
    "teacher_student",
    "unit_sphere",
]


@jax.tree_util.register_pytree_node_class
class Dataset:
    r"""Inputs ``x`` of shape ``(n, d)`` and targets ``y`` of shape ``(n,)``.

    A pytree (both arrays are leaves), so it passes through ``jit`` and ``vmap``.
    Construction validates concrete arrays: 2-D ``x`` with at least one sample, matching
    lengths, finite values.

    Example:
        >>> ds = Dataset(jnp.ones((4, 2)), jnp.zeros(4))
        >>> ds.n, ds.d
        (4, 2)
    """

    __slots__ = ("x", "y")

    def __init__(self, x: Array, y: Array):
        x = jnp.asarray(x)
        y = jnp.asarray(y)
        if x.ndim != 2:
            raise ValueError(f"x: expected shape (n, d), got shape {x.shape}")
        if y.ndim != 1:
            raise ValueError(f"y: expected shape (n,), got shape {y.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"x: expected at least one sample (n >= 1), got shape {x.shape}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"y: length {y.shape[0]} does not match the number of inputs x: {x.shape[0]}"
            )
        for name, a in (("x", x), ("y", y)):
            if all_finite(a) is False:
                bad = int(np.sum(~np.isfinite(np.asarray(a))))
                raise ValueError(f"{name}: expected finite values, found {bad} NaN/inf entries")
        self.x = x
        self.y = y

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        return int(self.x.shape[1])

    def __getitem__(self, idx: Any) -> Dataset:
        return Dataset(self.x[idx], self.y[idx])

    def __repr__(self) -> str:
        return f"Dataset(n={self.x.shape[0]}, d={self.x.shape[1]}, dtype={self.x.dtype})"

    def tree_flatten(self):
        return (self.x, self.y), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        obj.x, obj.y = children
        return obj


def unit_sphere(key: PRNGKey, n: int, d: int) -> Array:
    r"""``n`` points uniform on the unit sphere $S^{d-1}$, shape ``(n, d)``.

    Example:
        >>> x = unit_sphere(jax.random.key(0), 5, 3)
        >>> bool(jnp.allclose(jnp.linalg.norm(x, axis=1), 1.0))
        True
    """
    n, d = check_positive_int("n", n), check_positive_int("d", d)
    g = jax.random.normal(key, (n, d))
    return g / jnp.linalg.norm(g, axis=1, keepdims=True)


def linearly_independent(key: PRNGKey, n: int, d: int, condition: float = 1.0) -> Dataset:
    r"""Linearly independent unit inputs with a prescribed Gram condition number.

    $x_i = \sqrt{1-\rho}\,q_i + \sqrt{\rho}\,q_0$ with $q_0, \dots, q_n$ orthonormal,
    so $\|x_i\| = 1$ and the Gram matrix is $XX^\top = (1-\rho)I + \rho\,\mathbf 1
    \mathbf 1^\top$ with eigenvalues $1-\rho$ and $1 + (n-1)\rho$; choosing
    $\rho = (\kappa-1)/(\kappa+n-1)$ makes $\kappa(XX^\top) = $ ``condition`` exactly.
    Targets $y_i \sim \mathcal N(0, 1)$ (paper 001's setting).

    Args:
        key: PRNG key.
        n: number of samples.
        d: input dimension; ``d >= n`` (and ``d >= n + 1`` when ``condition > 1``).
        condition: $\kappa(XX^\top) \ge 1$.

    Returns:
        A :class:`Dataset` with ``x`` of shape ``(n, d)``.

    Example:
        >>> ds = linearly_independent(jax.random.key(0), 4, 8, condition=10.0)
        >>> ev = jnp.linalg.eigvalsh(ds.x @ ds.x.T)
        >>> round(float(ev[-1] / ev[0]), 6)
        10.0
    """
    n, d = check_positive_int("n", n), check_positive_int("d", d)
    if d < n:
        raise ValueError(f"d: linearly independent inputs need d >= n, got d={d} < n={n}")
    if not condition >= 1.0:
        raise ValueError(f"condition: expected a Gram condition number >= 1, got {condition}")
    if condition > 1.0 and d < n + 1:
        raise ValueError(f"d: condition > 1 needs d >= n + 1, got d={d}, n={n}")
    kq, ky = jax.random.split(key)
    k = min(d, n + 1)
    q, _ = jnp.linalg.qr(jax.random.normal(kq, (d, k)))
    q = q.T  # (k, d) orthonormal rows
    rho = (condition - 1.0) / (condition + n - 1.0)
    x = math.sqrt(1.0 - rho) * q[:n]
    if condition > 1.0:
        x = x + math.sqrt(rho) * q[n]
    y = jax.random.normal(ky, (n,))
    return Dataset(x, y)


def margin_separable(key: PRNGKey, n: int, d: int, margin: float) -> Dataset:
    r"""Unit inputs linearly separable with margin ``margin`` by the first basis vector.

    Draw $x_i$ uniform on $S^{d-1}$; with $u = e_1$ and $s_i = \langle u, x_i\rangle$,
    every sample with $|s_i| < \gamma_m$ is *pushed* to the margin: its component along
    $u$ becomes $\pm\gamma_m$ (keeping its sign) and its orthogonal part is rescaled to
    norm $\sqrt{1 - \gamma_m^2}$. Labels $y_i = \mathrm{sign}\,\langle u, x_i\rangle$, so
    $\|x_i\| = 1$ and $y_i\langle u, x_i\rangle \ge \gamma_m$ for every $i$ (fixed shapes,
    no rejection loop: jit/vmap-able). The setting of two-layer leaky-ReLU classifiers
    (paper 002; Frei, Cao, Gu 2021; Brutzkus et al. 2018).

    Args:
        key: PRNG key.
        n: number of samples.
        d: input dimension, ``d >= 2``.
        margin: $\gamma_m \in (0, 1)$.

    Returns:
        A :class:`Dataset` with ``x`` of shape ``(n, d)`` and ``y`` in $\{-1, +1\}$.

    Example:
        >>> ds = margin_separable(jax.random.key(0), 100, 5, 0.1)
        >>> bool(jnp.all(ds.y * ds.x[:, 0] >= 0.1 - 1e-12))
        True
    """
    n, d = check_positive_int("n", n), check_positive_int("d", d)
    if d < 2:
        raise ValueError(f"d: a margin needs d >= 2, got d={d}")
    if is_concrete(margin) and not 0.0 < float(margin) < 1.0:
        raise ValueError(f"margin: expected a margin in (0, 1), got {margin}")
    x = unit_sphere(key, n, d)
    s = x[:, 0]
    sign = jnp.where(s >= 0, 1.0, -1.0)
    s_new = jnp.where(jnp.abs(s) < margin, sign * margin, s)
    perp = x[:, 1:]
    perp_norm = jnp.linalg.norm(perp, axis=1, keepdims=True)
    perp = perp / jnp.where(perp_norm > 0, perp_norm, 1.0) * jnp.sqrt(1.0 - s_new**2)[:, None]
    return Dataset(jnp.concatenate([s_new[:, None], perp], axis=1), sign)


def random_labels(key: PRNGKey, n: int, d: int) -> Dataset:
    r"""Unit-sphere inputs with i.i.d. uniform $\pm 1$ labels ("arbitrary data", paper 000).

    Example:
        >>> ds = random_labels(jax.random.key(0), 8, 3)
        >>> sorted(set(ds.y.tolist())) <= [-1.0, 1.0]
        True
    """
    kx, ky = jax.random.split(key)
    x = unit_sphere(kx, n, d)
    y = jnp.where(jax.random.bernoulli(ky, 0.5, (n,)), 1.0, -1.0).astype(x.dtype)
    return Dataset(x, y)


def teacher_student(key: PRNGKey, teacher: Any, n: int, d: int, *, noise: float = 0.0,
                    teacher_params: Any = None) -> Dataset:
    r"""Unit-sphere inputs labelled by a teacher network: $y = f_\text{teacher}(x) + \epsilon$.

    Args:
        key: PRNG key (split for inputs, teacher weights and noise).
        teacher: a :class:`~villani.nets.Network` with scalar output.
        n, d: sample count and input dimension.
        noise: standard deviation of the Gaussian label noise $\epsilon$ (>= 0).
        teacher_params: the teacher's parameters; drawn with ``teacher.init`` if None.

    Example:
        >>> from villani import nets
        >>> ds = teacher_student(jax.random.key(0), nets.two_layer(4), 10, 3)
        >>> ds.y.shape
        (10,)
    """
    if not noise >= 0:
        raise ValueError(f"noise: expected a standard deviation >= 0, got {noise}")
    kx, kt, kn = jax.random.split(key, 3)
    x = unit_sphere(kx, n, d)
    if teacher_params is None:
        teacher_params = teacher.init(kt, d)
    y = teacher.apply(teacher_params, x)
    if y.shape != (n,):
        raise ValueError(f"teacher: expected a scalar-output network, got outputs {y.shape}")
    return Dataset(x, y + noise * jax.random.normal(kn, (n,), y.dtype))


def gaussian_mixture(key: PRNGKey, n: int, d: int, separation: float = 2.0) -> Dataset:
    r"""Two Gaussian classes: $y \in \{\pm1\}$ uniform, $x \sim \mathcal N(y\,\tfrac{s}{2} u, I_d/d)$
    with $u$ a random unit vector and $s$ = ``separation`` (the distance between means).

    Example:
        >>> ds = gaussian_mixture(jax.random.key(0), 100, 5, separation=4.0)
        >>> ds.x.shape
        (100, 5)
    """
    n, d = check_positive_int("n", n), check_positive_int("d", d)
    if not separation >= 0:
        raise ValueError(f"separation: expected >= 0, got {separation}")
    ku, ky, kx = jax.random.split(key, 3)
    u = unit_sphere(ku, 1, d)[0]
    y = jnp.where(jax.random.bernoulli(ky, 0.5, (n,)), 1.0, -1.0)
    x = y[:, None] * (0.5 * separation) * u + jax.random.normal(kx, (n, d)) / math.sqrt(d)
    return Dataset(x, y.astype(x.dtype))


def _sklearn(loader: str):
    try:
        from sklearn import datasets
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the real data sets need scikit-learn: pip install 'villani[data]'"
        ) from e
    return getattr(datasets, loader)()


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def breast_cancer() -> Dataset:
    r"""Wisconsin breast-cancer data (n = 569, d = 30), standardised per feature,
    labels $+1$ (benign) / $-1$ (malignant). Ships with scikit-learn (extra ``data``).

    Example:
        >>> ds = breast_cancer()  # doctest: +SKIP
    """
    b = _sklearn("load_breast_cancer")
    return Dataset(jnp.asarray(_standardise(b.data)), jnp.asarray(np.where(b.target == 1, 1.0, -1.0)))


def digits(positive: int = 0, negative: int = 1) -> Dataset:
    r"""Two classes of scikit-learn's 8x8 digits (d = 64), standardised per feature,
    labels $+1$ for ``positive`` and $-1$ for ``negative`` (extra ``data``).

    Example:
        >>> ds = digits(3, 8)  # doctest: +SKIP
    """
    for name, v in (("positive", positive), ("negative", negative)):
        if v not in range(10):
            raise ValueError(f"{name}: expected a digit 0..9, got {v!r}")
    if positive == negative:
        raise ValueError(f"negative: must differ from positive, both are {positive}")
    b = _sklearn("load_digits")
    keep = (b.target == positive) | (b.target == negative)
    x = _standardise(b.data[keep].astype(np.float64))
    y = np.where(b.target[keep] == positive, 1.0, -1.0)
    return Dataset(jnp.asarray(x), jnp.asarray(y))
