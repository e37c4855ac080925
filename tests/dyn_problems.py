"""Small problems with closed-form dynamics, shared by the dynamics tests."""

import jax
import jax.numpy as jnp
import numpy as np

from villani import Objective, data, nets


def linear_net():
    """f(x) = w . x: width 1, identity activation (leaky_relu with slope 1), fixed a = 1."""
    return nets.two_layer(1, nets.activation("leaky_relu", slope=1.0),
                          parametrization="standard", train_outer=False, outer="ones")


def linear_problem(key, n=6, d=3, l2=0.0):
    """Squared loss of a linear model: L(w) = |Xw - y|^2/(2n) + l2/2 |w|^2.

    Returns (objective, w0 params, H, c) with grad L = H w - c, H = X^T X/n + l2 I.
    """
    kx, ky, kw = jax.random.split(key, 3)
    x = jax.random.normal(kx, (n, d))
    y = jax.random.normal(ky, (n,))
    obj = Objective(linear_net(), data.Dataset(x, y), loss="squared", l2=l2)
    p0 = {"w": jax.random.normal(kw, (1, d))}
    X, Y = np.asarray(x), np.asarray(y)
    H = X.T @ X / n + l2 * np.eye(d)
    c = X.T @ Y / n
    return obj, p0, H, c


def quadratic_1d(curvature):
    """L(w) = curvature * w^2 / 2 as an Objective (one sample x = sqrt(curvature), y = 0)."""
    x = jnp.array([[np.sqrt(curvature)]])
    return Objective(linear_net(), data.Dataset(x, jnp.zeros(1)), loss="squared")


def tiny_net_problem(key, n=8, d=2, width=3):
    """A two-layer tanh net (p = width*(d+1)) on random labels, logistic loss, l2 = 0.05."""
    kd, kp = jax.random.split(key)
    ds = data.random_labels(kd, n, d)
    obj = Objective(nets.two_layer(width, "tanh"), ds, loss="logistic", l2=0.05)
    return obj, obj.net.init(kp, d)
