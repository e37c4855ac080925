r"""Paper 001 — Chatterjee's local PL criterion and the positive initialisation.

Sourav Chatterjee, *Convergence of gradient descent for deep neural networks*,
arXiv 2203.16462 (v5). Only the abstract and the first page could be read.

**Claim [paper].** For $f \ge 0$, $x_0$ and $r > 0$ let
$\alpha(x_0, r) = \inf\{\|\nabla f(x)\|^2/f(x) : x \in B(x_0, r), f(x) \ne 0\}$.
If $4 f(x_0) < r^2 \alpha(x_0, r)$, gradient flow and gradient descent with small steps
converge linearly to a zero of $f$ inside the ball. For the squared loss of a
feedforward net with smooth strictly increasing activations, fixed width and depth, and
linearly independent inputs ($d \ge n$), the *positive initialisation* (first layer zero,
hidden weights strictly positive, output weights large) satisfies it; the abstract adds
that it "can substantially accelerate optimization relative to standard random
initializations at the same width".

**Derivations used [derived] (villani's, not the paper's constants).**

* Gradient flow: $\tfrac{d}{dt}\sqrt f = -\|\nabla f\|^2/(2\sqrt f) \le -\tfrac12\sqrt{\alpha}\,
  \|\nabla f\|$, so the path length is at most $2\sqrt{f(x_0)/\alpha}$, which is $< r$
  exactly when the criterion holds (this is where the 4 comes from).
* Gradient descent $x_{k+1} = x_k - \eta\nabla f(x_k)$ with $L$ a bound on
  $\|\nabla^2 f\|$ along the path: the descent lemma gives
  $f_{k+1} \le f_k - \eta(1 - L\eta/2)\|\nabla f_k\|^2$, hence with
  $\|\nabla f_k\|^2 \ge \alpha f_k$
  $$f_k \le \bigl(1 - \alpha\eta(1 - L\eta/2)\bigr)^k f_0 ,$$
  and from $\sqrt{f_k} - \sqrt{f_{k+1}} \ge (f_k - f_{k+1})/(2\sqrt{f_k})$ the path length
  $\sum_k \eta\|\nabla f_k\| \le 2\sqrt{f_0/\alpha}/(1 - L\eta/2)$, which is $< r$ when
  $4 f_0 < r^2\alpha(1 - L\eta/2)^2$ (then every iterate stays in $B(x_0, r)$).
  villani checks both with $\alpha$ replaced by $\alpha_{\rm path}$, the smallest
  $\|\nabla f\|^2/f$ at the iterates (the bounds only use the ratio on the path), and
  $\hat L$ the largest $\|\nabla^2 f\|_2$ (Lanczos) at $x_0$ and at four points along the
  path.
* At $W_1 = 0$ (no biases) every input gives the same hidden states, so the vector $b$
  backpropagated to the first layer is shared, $\nabla_{W_1} f = -2\,b\,(X^\top
  \rho)^\top$ with $\rho = y - \mathrm{out}$, and by the Rayleigh quotient
  $\|\nabla f(x_0)\|^2/f(x_0) \ge 4\|b\|^2\lambda_{\min}(XX^\top)$ for
  $f = \sum_i (y_i - \mathrm{out}_i)^2$. $b$ grows linearly in the output scale $c$ while
  $f(x_0) = \|y\|^2$ stays put when $\sigma(0) = 0$ (tanh): the criterion's margin
  $r^2\alpha/(4f_0)$ grows like $c^2$.
* When $\sigma(0) \ne 0$ (softplus, $\sigma(0) = \log 2$) the output at $W_1 = 0$ is
  $c\,\mathbf 1^\top\sigma(W_2\sigma(0)\mathbf 1) \ne 0$, so $f(x_0)$ grows like $c^2$ too and
  the margin is flat in $c$: large output weights do not help. Subtracting $\sigma(0)$
  (the centred softplus $\sigma(z) - \log 2$, still smooth and strictly increasing) restores
  $\mathrm{out}(x_0) = 0$.
* The criterion is unchanged by $f \to cf$, so villani runs it on its own normalisation
  $L = \frac1{2n}\sum_i(\mathrm{out}_i - y_i)^2$ (ratio $\|\nabla L\|^2/L$).

**The estimate of $\alpha$.** $\alpha(x_0, r)$ can only be estimated:
:func:`villani.local_pl_check` minimises $\|\nabla L\|^2/L$ over the ball by projected
normalised-gradient steps (exact HVPs through autodiff) from $x_0$ and from random points of
the ball, and takes the smallest value seen. The estimate is an *upper* bound on the true
infimum, so a verdict says "criterion holds at the estimated α", never "proved".

**Step-size protocols.** Whether the positive initialisation is *faster* depends on the
step size. villani decides the speed-up under two protocols fixed independently of the
initialisation: (a) the curvature-normalised step $\eta = 0.5/\|\nabla^2 L(x_0)\|_2$ per
run; (b) one shared geometric $\eta$ grid, each initialisation's $\eta$ chosen (smallest
median number of steps to $L/L_0 \le 10^{-8}$) on the first half of the seeds and the
speed-up measured on the other half. The positive initialisation compared is the largest
$c$, the random one the best of Xavier/He/LeCun on the selection seeds; both choices are
fixed before measuring. The claim holds when the lower end of the 95% bootstrap interval of
the median paired speed-up is above 1 under *both* protocols; its control is the same
comparison at $c = 1$, where the criterion fails. The old protocol (each method's best
$\eta$ chosen on the same seeds it is scored on) is reported beside it, deciding nothing.

**Library pieces.** GD runs are :func:`villani.train` with :func:`villani.optim.gd`, vmapped
over seeds, initialisations and step sizes (one compiled call); the PL ratio along a run is
:func:`villani.pl_ratio_along` of its records; $\|\nabla^2 L\|_2$ is the larger of
$|\lambda_{\max}|$, $|\lambda_{\min}|$ from :func:`villani.hessian_spectrum` (Lanczos).

**villani's settings.** Inputs from :func:`villani.data.linearly_independent` (unit
norm, Gram condition number ``condition``), $y \sim \mathcal N(0, 1)$;
``nets.mlp((16, 16), act, parametrization="standard")`` without biases — "depth 3" read as
three weight matrices (two hidden layers). Positive init ``nets.positive(1.0, c)``:
$W_1 = 0$, $W_2 \sim U(0.5, 1.5)/16$, $W_3 = c\mathbf 1$, $c \in \{1, 3, 10, 30\}$, against
Xavier (Glorot normal), He and LeCun at the same width. Each seed draws its own data set;
all initialisations of a seed share it, so speed-ups are paired per seed.
Counter-example: $d < n$ with generic labels $y \sim \mathcal N(0, I_n)$ — the inputs are
not linearly independent, $\lambda_{\min}(XX^\top) = 0$, and near $W_1 = 0$ the network is
close to a linear model in $W_1$ that cannot interpolate $n > d$ points, so the ratio
$\|\nabla L\|^2/L$ falls towards 0 inside the ball.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ... import data as vdata
from ... import nets, optim, plots
from ...diagnostics import fit_slope, hessian_spectrum, local_pl_check, pl_ratio_along
from ...dynamics import train
from ...losses import Objective
from .._stats import bootstrap
from ..result import Paper, Result, Rule

__all__ = ["FULL", "PAPER", "QUICK", "Config", "run"]

TARGET = 1e-8  # steps to L/L0 <= TARGET
ACTS = ("tanh", "softplus", "softplus_centred")


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes of the paper-001 reproduction.

    Attributes:
        n, d: samples and input dimension of the main problem (d >= n).
        condition: Gram condition number of the inputs.
        width: hidden width (both hidden layers).
        seeds: seeds (each its own data set and initialisations); the first half selects
            the step sizes of the held-out protocol, the second half is scored.
        cs: output scales c of the positive initialisation.
        radii: ball radii r of the criterion.
        steps: GD step budget.
        lr_grid: (log10 low, log10 high, points) of the shared step-size grid.
        alpha_starts: random starts of the alpha estimate (plus x0 itself).
        alpha_iters: projected-gradient iterations per start.
        hessian_iters: Lanczos steps for the Hessian spectral norm.
        counter_n, counter_d: sizes of the counter-example (d < n, generic labels).
        counter_steps: GD budget of the counter-example.
        x_every: record the parameters of the positive-init runs every this many steps
            (for the Hessian checkpoints along the path; 1 in QUICK, larger to save memory).
    """

    n: int = 10
    d: int = 20
    condition: float = 4.0
    width: int = 16
    seeds: int = 10
    cs: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)
    radii: tuple[float, ...] = (0.25, 0.5, 1.0)
    steps: int = 600
    lr_grid: tuple[float, float, int] = (-4.0, 0.5, 10)
    alpha_starts: int = 3
    alpha_iters: int = 25
    hessian_iters: int = 40
    counter_n: int = 12
    counter_d: int = 6
    counter_steps: int = 2000
    x_every: int = 1


QUICK = Config()
FULL = Config(n=20, d=32, seeds=64, steps=4000, lr_grid=(-4.5, 0.5, 41), alpha_starts=16,
              alpha_iters=200, hessian_iters=100, counter_n=20, counter_d=10,
              counter_steps=20000, x_every=20)

RANDOM = ("xavier", "he", "lecun")
CHECKPOINTS = 4  # Hessian norms at k = K/4, K/2, 3K/4, K along each positive-init path


# ----------------------------------------------------------------------------- pieces


@dataclasses.dataclass(frozen=True)
class _CentredSoftplus(nets.Activation):
    r"""$\sigma(z) - \sigma(0)$ for softplus: smooth, strictly increasing, $\sigma(0) = 0$."""

    name: str = "softplus"
    param: float = 1.0

    def __call__(self, z):
        return (jnp.logaddexp(0.0, self.param * z) - math.log(2.0)) / self.param


def _net(width, act):
    # one network for apply; the initialiser only matters for sampling (done apart), so every
    # method shares one compiled GD.
    a = _CentredSoftplus() if act == "softplus_centred" else act
    return nets.mlp((width, width), a, parametrization="standard")


def _sample(method, c, key, d, width):
    """Initial params of one method; Xavier = LeCun rescaled to variance 2/(fan-in+fan-out).

    The initialisers do not depend on the activation, so tanh and softplus runs share them.
    """
    if method == "positive":
        init = nets.positive(1.0, c)
    elif method == "he":
        init = nets.he()
    else:
        init = nets.lecun()
    net = nets.mlp((width, width), "tanh", parametrization="standard", init=init)
    p = net.init(key, d)
    if method == "xavier":
        ws = p["w"]
        p = {"w": [w * math.sqrt(2.0 * w.shape[1] / (w.shape[0] + w.shape[1])) for w in ws]}
    return p


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def _sample_all(methods, keys, d, width):
    """Initial params of every (method, seed), method-major: leaves (M*S, ...)."""
    P = [jax.vmap(lambda k, m=m: _sample(m[0], m[1], k, d, width))(keys) for m in methods]
    return jax.tree.map(lambda *a: jnp.concatenate(a), *P)


def _objective(net, x, y):
    """L = (1/2n) sum_i (out_i - y_i)^2 on one data set (a pytree: vmaps over x, y)."""
    return Objective(net, vdata.Dataset(x, y), loss="squared")


def _gd(net, steps):
    """fn(p0, x, y, lr) -> Trajectory of ``steps`` GD steps (records at every step)."""
    def one(p0, x, y, lr):
        # full-batch GD ignores the key; train records L and ||grad L||^2 at steps 0..steps
        return train(_objective(net, x, y), optim.gd(lr), p0, steps, key=jax.random.key(0))
    return one


def _summarise(traj, lr):
    """Steps to L/L0 <= TARGET, path length and min PL ratio up to then (NumPy, batched)."""
    vals = np.asarray(traj.loss)
    g2 = np.asarray(traj.grad_norm2)
    pl = np.asarray(pl_ratio_along(traj))  # ||grad L||^2 / (2L) at every record
    rel = vals / vals[..., :1]
    ok = np.asarray(traj.valid) & np.isfinite(rel) & (rel < 1e3)
    hit = (rel <= TARGET) & np.cumprod(ok, axis=-1).astype(bool)
    reached = hit.any(-1)
    k = np.where(reached, hit.argmax(-1), vals.shape[-1])
    idx = np.arange(vals.shape[-1])
    before = (idx < np.maximum(k, 1)[..., None]) & ok
    steps = np.where(reached, k, np.inf)
    lr = np.broadcast_to(np.asarray(lr)[..., None], g2.shape)
    path = np.where(before, lr * np.sqrt(np.where(before, g2, 0.0)), 0.0).sum(-1)
    pl = np.where(before, pl, np.inf).min(-1)
    return steps, path, pl


def _alpha(net, starts, iters):
    """fn(p0, x, y, key, r) -> villani.local_pl_check of L at p0 on B(p0, r)."""
    def one(p0, x, y, key, r):
        return local_pl_check(_objective(net, x, y), p0, r, key=key, n_starts=starts + 1,
                              steps=iters)
    return one


def _hessian_norm(net, iters):
    """fn(p0, x, y, key) -> ||Hessian of L at p0||_2 (both ends of the Lanczos spectrum)."""
    def one(p0, x, y, key):
        s = hessian_spectrum(_objective(net, x, y), p0, key=key, num_iters=iters)
        return jnp.maximum(jnp.abs(s.top[0]), jnp.abs(s.bottom[0]))
    return one


def _backprop_bound(net, p0, x, y):
    r"""(||grad f||^2/f, 4 ||b||^2 lambda_min(XX^T)) at W1 = 0, f = sum_i (y_i - out_i)^2."""
    def f(p):
        return jnp.sum((y - net.apply(p, x)) ** 2)
    val, g = jax.value_and_grad(f)(p0)
    fg, _ = ravel_pytree(g)
    # b = d out / d z_1, the same for every input since W1 = 0: grad_{W1} out(x) = b x^T
    g1 = jax.grad(lambda p: net.apply(p, x[0]))(p0)["w"][0]
    b = g1 @ x[0] / (x[0] @ x[0])
    lam = jnp.linalg.eigvalsh(x @ x.T)[0]
    return (fg @ fg) / val, 4.0 * (b @ b) * lam


def _bootstrap_median_ci(v, key_seed=0, reps=2000):
    v = np.asarray(v)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    b = bootstrap(lambda r: np.median(r, axis=1), v, key=jax.random.key(key_seed), reps=reps)
    return float(b.estimate), float(b.lo), float(b.hi)




def _gd_x(net, steps, every):
    """Like :func:`_gd`, recording only the flat parameter vector, every ``every`` steps."""
    def one(p0, x, y, lr):
        return train(_objective(net, x, y), optim.gd(lr), p0, steps, key=jax.random.key(0),
                     every=every, metrics={"x": lambda p: ravel_pytree(p)[0]})
    return one


def _gd_dist(net, steps):
    """Like :func:`_gd`, also recording ||x_k - x_0|| at every step."""
    def one(p0, x, y, lr):
        x0 = ravel_pytree(p0)[0]
        return train(_objective(net, x, y), optim.gd(lr), p0, steps, key=jax.random.key(0),
                     metrics={"dist": lambda p: jnp.linalg.norm(ravel_pytree(p)[0] - x0)})
    return one


def _alpha_with_path(crit, loss, g2, dist, valid, radii):
    r"""Lower the search's $\hatlpha(r)$ to the smallest $\|
abla L\|^2/L$ at GD iterates in $B(x_0, r)$.

    Every such iterate is a point of the ball, so the result is still an upper bound on the
    true $lpha(x_0, r)$. Records below $L/L_0 = $ ``TARGET`` are left out (round-off).
    Updates ``crit`` (a dict with f0, alpha, holds, best; rows = runs) in place.
    """
    R = loss.shape[0]
    ratio = np.where(valid & (loss / loss[:, :1] >= TARGET), g2 / np.where(loss > 0, loss, 1.0), np.inf)
    r = np.asarray(radii)
    inside = dist[:R, :, None] <= r[None, None, :]
    a_path = np.where(inside, ratio[:, :, None], np.inf).min(axis=1)  # (R, radii)
    alpha = crit["alpha"].copy()
    alpha[:R] = np.minimum(alpha[:R], a_path)
    crit["alpha_search"] = crit["alpha"]
    crit["alpha"] = alpha
    crit["holds"] = 4.0 * crit["f0"][:, None] < r[None] ** 2 * alpha
    crit["best"] = _best_margin(alpha, crit["f0"], radii)


def _censor(steps, budget):
    """Steps to target with 'not reached' counted as budget + 1 (a conservative speed-up)."""
    return np.where(np.isfinite(steps), steps, budget + 1.0)


def _speedup(steps_rand, steps_pos, budget, seed=0):
    """Median paired speed-up steps(random)/steps(positive) and its 95% bootstrap CI."""
    s = _censor(steps_rand, budget) / _censor(steps_pos, budget)
    return (*_bootstrap_median_ci(s, key_seed=seed), s)


def _best_margin(alpha, f0, radii):
    """max over r of r^2 alpha_hat(r) / (4 f0): > 1 iff the criterion holds at some r."""
    r2 = np.asarray(radii)[None, :] ** 2
    return np.max(r2 * alpha / (4.0 * f0[:, None]), axis=1)


def _gd_rate_checks(loss, g2, lr, L_hat, K, alpha):
    r"""Per run: min over 1 <= k <= K of k log10(rho) - log10(f_k/f_0), rho = 1 - alpha eta (1 - L eta/2).

    Also the ratio of the measured mean rate -log10(f_K/f_0)/K to the bound's -log10(rho).
    ``loss``, ``g2``: (R, steps+1) records; ``lr``, ``L_hat``, ``K``, ``alpha``: (R,).
    """
    R, T = loss.shape
    k = np.arange(T)[None, :]
    rho = 1.0 - alpha * lr * (1.0 - L_hat * lr / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lrho = np.log10(np.where(rho > 0, rho, np.nan))
        rel = np.log10(loss / loss[:, :1])
    live = (k >= 1) & (k <= K[:, None])
    m = np.where(live, k * lrho[:, None] - rel, np.inf).min(axis=1)
    Ki = np.minimum(K, T - 1).astype(int)
    tight = (-rel[np.arange(R), Ki] / np.maximum(Ki, 1)) / (-lrho)
    return m, tight, rho


# ----------------------------------------------------------------------------- run


def run(config: Config, key: jax.Array) -> Result:
    """Run the paper-001 reproduction (assumes x64 is on, as ``villani reproduce`` sets).

    Args:
        config: a :class:`Config` (``QUICK`` or ``FULL``).
        key: PRNG key; the same key gives the same result.

    Returns:
        A :class:`~villani.experiments.result.Result` with one table row per
        (setting, activation, method, c, seed), figures and verdicts.

    Raises:
        ValueError: fewer than 4 seeds (the held-out protocol needs two halves).

    Example:
        >>> res = run(QUICK, jax.random.key(0))  # doctest: +SKIP
    """
    t_start = time.perf_counter()
    cfg = config
    S = int(cfg.seeds)
    if S < 4:
        raise ValueError(f"config.seeds: expected >= 4 (half select the step size, half are "
                         f"scored), got {cfg.seeds}")
    k_data, k_init, k_alpha, k_pow, k_counter = jax.random.split(key, 5)
    seed_keys = jax.random.split(k_data, S)
    datasets = [vdata.linearly_independent(k, cfg.n, cfg.d, cfg.condition) for k in seed_keys]
    X = jnp.stack([ds.x for ds in datasets])
    Y = jnp.stack([ds.y for ds in datasets])
    lrs = np.logspace(*cfg.lr_grid[:2], int(cfg.lr_grid[2]))
    radii = jnp.asarray(cfg.radii)
    sel = np.arange(S) < S // 2  # selection seeds of the held-out protocol; ~sel are scored

    methods = [("positive", c) for c in cfg.cs] + [(m, math.nan) for m in RANDOM]
    M, npos = len(methods), len(cfg.cs)
    P_all = _sample_all(tuple(methods), jax.random.split(k_init, S), cfg.d, cfg.width)
    Xb, Yb = jnp.tile(X, (M, 1, 1)), jnp.tile(Y, (M, 1))

    def check_all(net, P, Xr, Yr, keys):
        """local_pl_check for every run (rows) and radius (columns), one compiled call."""
        one = _alpha(net, cfg.alpha_starts, cfg.alpha_iters)
        return jax.jit(jax.vmap(jax.vmap(one, (None, None, None, None, 0)),
                                (0, 0, 0, 0, None)))(P, Xr, Yr, keys, radii)

    def hess_norm(net, P, Xr, Yr, keys):
        return np.asarray(jax.jit(jax.vmap(_hessian_norm(net, cfg.hessian_iters)))(P, Xr, Yr, keys))

    # ------------------------------------------------ the criterion, per activation
    crit = {}
    for a_i, act in enumerate(ACTS):
        net = _net(cfg.width, act)
        R = M * S if act == "tanh" else npos * S  # softplus variants: positive inits only
        P = jax.tree.map(lambda a, R=R: a[:R], P_all)
        chk = check_all(net, P, Xb[:R], Yb[:R], jax.random.split(jax.random.fold_in(k_alpha, a_i), R))
        Pp = jax.tree.map(lambda a: a[: npos * S], P_all)
        gr, bb = jax.jit(jax.vmap(lambda p, x, y, net=net: _backprop_bound(net, p, x, y)))(
            Pp, Xb[: npos * S], Yb[: npos * S])
        f0 = np.asarray(chk.f0[:, 0])
        alpha = np.asarray(chk.alpha_est)
        crit[act] = dict(f0=f0, alpha=alpha, holds=np.asarray(chk.holds),
                         best=_best_margin(alpha, f0, cfg.radii),
                         grad_ratio=np.concatenate([np.asarray(gr), np.full(R - npos * S, np.nan)]),
                         backprop=np.concatenate([np.asarray(bb), np.full(R - npos * S, np.nan)]))

    # ------------------------------------------------ GD (tanh): shared grid and eta = 0.5/||H(x0)||
    net = _net(cfg.width, "tanh")
    gd_grid = jax.jit(jax.vmap(jax.vmap(_gd(net, cfg.steps), (None, None, None, 0)),
                               (0, 0, 0, None)))
    traj = gd_grid(P_all, Xb, Yb, jnp.asarray(lrs))  # records (M*S, G, steps + 1)
    steps_grid, _, _ = _summarise(traj, lrs[None, :])
    steps_grid = steps_grid.reshape(M, S, -1)
    loss_grid = np.asarray(traj.loss).reshape(M, S, len(lrs), -1)
    del traj
    # old protocol (descriptive): best eta per method on all seeds
    best_all = np.argmin(np.median(steps_grid, axis=1), axis=1)
    # held-out protocol: best eta per method on the selection seeds only
    best_sel = np.argmin(np.median(steps_grid[:, sel], axis=1), axis=1)
    steps_tuned = np.take_along_axis(steps_grid, best_all[:, None, None], 2)[..., 0]  # (M, S)
    steps_ho = np.take_along_axis(steps_grid, best_sel[:, None, None], 2)[..., 0]
    loss_ho = loss_grid[np.arange(M), :, best_sel]  # (M, S, steps + 1)

    h0 = hess_norm(net, P_all, Xb, Yb, jax.random.split(k_pow, M * S))
    lr_c = 0.5 / h0
    tc = jax.jit(jax.vmap(_gd_dist(net, cfg.steps)))(P_all, Xb, Yb, jnp.asarray(lr_c))
    sc, path_c, pl_c = _summarise(tc, lr_c)
    loss_c, g2_c = np.asarray(tc.loss), np.asarray(tc.grad_norm2)
    ok_c = np.asarray(tc.valid)
    dist_c = np.asarray(tc.metrics["dist"])
    dist_max = np.where(ok_c, dist_c, 0.0).max(axis=1)
    _alpha_with_path(crit["tanh"], loss_c, g2_c, dist_c, ok_c, cfg.radii)
    alpha_path = 2.0 * pl_c  # min ||grad L||^2 / L before the target
    alpha_x0 = g2_c[:, 0] / loss_c[:, 0]

    # curvature along the positive-init paths: ||H|| at K/4, K/2, 3K/4, K (K: steps to target)
    Rp = npos * S
    K = np.where(np.isfinite(sc[:Rp]), sc[:Rp], cfg.steps).astype(int)
    # the same runs again (positive inits only), recording the parameters every x_every steps
    P_pos = jax.tree.map(lambda a: a[:Rp], P_all)
    xs = np.asarray(jax.jit(jax.vmap(_gd_x(net, cfg.steps, cfg.x_every)))(
        P_pos, Xb[:Rp], Yb[:Rp], jnp.asarray(lr_c[:Rp])).metrics["x"])  # (Rp, records, P)
    idx = np.clip(np.rint(K[:, None] * np.arange(1, CHECKPOINTS + 1)[None] / CHECKPOINTS / cfg.x_every),
                  0, xs.shape[1] - 1).astype(int)
    xck = xs[np.arange(Rp)[:, None], idx].reshape(Rp * CHECKPOINTS, -1)
    del xs
    unravel = ravel_pytree(jax.tree.map(lambda a: a[0], P_all))[1]
    Pck = jax.vmap(unravel)(jnp.asarray(xck))
    hck = hess_norm(net, Pck, jnp.repeat(Xb[:Rp], CHECKPOINTS, 0), jnp.repeat(Yb[:Rp], CHECKPOINTS, 0),
                    jax.random.split(jax.random.fold_in(k_pow, 1), Rp * CHECKPOINTS))
    L_hat = np.maximum(h0[:Rp], hck.reshape(Rp, CHECKPOINTS).max(axis=1))
    eta = lr_c[:Rp]
    shrink = 1.0 - L_hat * eta / 2.0
    rate_m, rate_tight, rho = _gd_rate_checks(loss_c[:Rp], g2_c[:Rp], eta, L_hat, K, alpha_path[:Rp])
    rate_m_ctrl, _, _ = _gd_rate_checks(loss_c[:Rp], g2_c[:Rp], eta, L_hat, K, alpha_x0[:Rp])
    path_bound_gd = 2.0 * np.sqrt(crit["tanh"]["f0"][:Rp] / alpha_path[:Rp]) / shrink
    path_bound_ctrl = 2.0 * np.sqrt(crit["tanh"]["f0"][:Rp] / alpha_x0[:Rp]) / shrink
    # the GD form of the criterion at each radius: 4 f0 < r^2 alpha_hat(r) (1 - L eta/2)^2
    f0t = crit["tanh"]["f0"]
    gd_crit = 4.0 * f0t[:Rp, None] < (np.asarray(cfg.radii)[None] ** 2 * crit["tanh"]["alpha"][:Rp]
                                      * shrink[:, None] ** 2)
    r_min = np.where(gd_crit.any(1), np.asarray(cfg.radii)[np.argmax(gd_crit, axis=1)], np.nan)

    # ------------------------------------------------ counter-example: d < n, generic labels
    kc = jax.random.split(k_counter, 4)
    xc = vdata.unit_sphere(kc[0], cfg.counter_n, cfg.counter_d)
    yc = jax.random.normal(kc[1], (cfg.counter_n,), xc.dtype)
    cmeths = [("positive", max(cfg.cs))] + [(m, math.nan) for m in RANDOM]
    Mc = len(cmeths)
    Pc = _sample_all(tuple(cmeths), jax.random.split(kc[2], S), cfg.counter_d, cfg.width)
    Xc = jnp.broadcast_to(xc, (Mc * S,) + xc.shape)
    Yc = jnp.broadcast_to(yc, (Mc * S,) + yc.shape)
    chk_c = check_all(net, jax.tree.map(lambda a: a[:S], Pc), Xc[:S], Yc[:S],
                      jax.random.split(kc[3], S))
    lr_cc = 0.5 / hess_norm(net, Pc, Xc, Yc, jax.random.split(jax.random.fold_in(kc[3], 1), Mc * S))
    tcc = jax.jit(jax.vmap(_gd_dist(net, cfg.counter_steps)))(Pc, Xc, Yc, jnp.asarray(lr_cc))
    vcc = np.asarray(tcc.loss)
    f0_cc = np.asarray(chk_c.f0[:, 0])
    crit_c = dict(f0=f0_cc, alpha=np.asarray(chk_c.alpha_est))
    _alpha_with_path(crit_c, vcc[:S], np.asarray(tcc.grad_norm2)[:S],
                     np.asarray(tcc.metrics["dist"])[:S], np.asarray(tcc.valid)[:S], cfg.radii)
    best_c = crit_c["best"]
    best_c_search = _best_margin(crit_c["alpha_search"], f0_cc, cfg.radii)
    rel_cc = vcc / vcc[:, :1]
    sc_c, path_cc, pl_cc = _summarise(tcc, lr_cc)
    lam_c = float(np.linalg.eigvalsh(np.asarray(xc @ xc.T))[0])

    # ------------------------------------------------ table
    rows: dict[str, list] = {k: [] for k in (
        "setting", "activation", "method", "c", "seed", "selection", "f0", "alpha_r0", "alpha_r1",
        "alpha_r2", "criterion_r0", "criterion_r1", "criterion_r2", "criterion_margin",
        "lr_tuned", "steps_tuned", "lr_heldout", "steps_heldout", "lr_curv", "steps_curv",
        "path_length", "path_bound_gd", "min_pl_ratio", "dist_max", "r_min_gd", "hessian_path",
        "rate_margin", "grad_ratio_x0", "backprop_bound", "rel_loss_at_budget", "final_rel_loss")}

    def add(**kw):
        for k_ in rows:
            rows[k_].append(kw.get(k_, math.nan))

    for act in ACTS:
        c_ = crit[act]
        meths = methods if act == "tanh" else methods[:npos]
        for i, m in enumerate(meths):
            for s in range(S):
                j = i * S + s
                row = dict(setting="main", activation=act, method=m[0], c=m[1], seed=s,
                           selection=bool(sel[s]), f0=float(c_["f0"][j]),
                           criterion_margin=float(c_["best"][j]),
                           grad_ratio_x0=float(c_["grad_ratio"][j]),
                           backprop_bound=float(c_["backprop"][j]))
                for q in range(3):
                    row[f"alpha_r{q}"] = float(c_["alpha"][j, q])
                    row[f"criterion_r{q}"] = bool(c_["holds"][j, q])
                if act == "tanh":
                    row.update(lr_tuned=float(lrs[best_all[i]]), steps_tuned=float(steps_tuned[i, s]),
                               lr_heldout=float(lrs[best_sel[i]]), steps_heldout=float(steps_ho[i, s]),
                               lr_curv=float(lr_c[j]), steps_curv=float(sc[j]),
                               path_length=float(path_c[j]), min_pl_ratio=float(pl_c[j]),
                               dist_max=float(dist_max[j]),
                               rel_loss_at_budget=float(loss_c[j, -1] / loss_c[j, 0]),
                               final_rel_loss=float(loss_c[j, -1] / loss_c[j, 0]))
                    if j < Rp:
                        row.update(path_bound_gd=float(path_bound_gd[j]), r_min_gd=float(r_min[j]),
                                   hessian_path=float(L_hat[j]), rate_margin=float(rate_m[j]))
                add(**row)
    kb = min(cfg.steps, cfg.counter_steps)
    for i, m in enumerate(cmeths):
        for s in range(S):
            j = i * S + s
            row = dict(setting="counter", activation="tanh", method=m[0], c=m[1], seed=s,
                       selection=bool(sel[s]), f0=float(vcc[j, 0]), lr_curv=float(lr_cc[j]),
                       steps_curv=float(sc_c[j]), path_length=float(path_cc[j]),
                       min_pl_ratio=float(pl_cc[j]), rel_loss_at_budget=float(rel_cc[j, kb]),
                       final_rel_loss=float(rel_cc[j, -1]))
            if i == 0:
                row["criterion_margin"] = float(best_c[s])
                for q in range(3):
                    row[f"alpha_r{q}"] = float(crit_c["alpha"][s, q])
                    row[f"criterion_r{q}"] = bool(crit_c["holds"][s, q])
            add(**row)
    table = {k: np.asarray(v) for k, v in rows.items()}

    meas = dict(sel=sel, steps_ho=steps_ho, steps_curv=sc[: M * S].reshape(M, S),
                steps_tuned=steps_tuned, lr_ho=lrs[best_sel], lr_all=lrs[best_all], crit=crit,
                rate_m=rate_m, rate_m_ctrl=rate_m_ctrl, rate_tight=rate_tight, rho=rho,
                path_ratio=path_c[:Rp] / path_bound_gd, path_ratio_ctrl=path_c[:Rp] / path_bound_ctrl,
                r_min=r_min, dist_max=dist_max, L_hat=L_hat, h0=h0, eta=eta, K=K,
                best_c=best_c, best_c_search=best_c_search, rel_cc=rel_cc, kb=kb, lam_c=lam_c,
                rel_c_budget=loss_c[:, -1] / loss_c[:, 0])
    verdicts = _verdicts(cfg, methods, meas)
    device = jax.devices()[0].platform
    curves = {"curv": loss_c.reshape(M, S, -1), "heldout": loss_ho}
    figures = _figures(cfg, table, methods, curves, meas, device)
    meta = dict(config=dataclasses.asdict(cfg), seconds=time.perf_counter() - t_start,
                target=TARGET, radii=cfg.radii, device=device,
                depth=f"3 weight matrices (two hidden layers of width {cfg.width})",
                selection_seeds=[int(s) for s in np.flatnonzero(sel)])
    return Result(paper="001", table=table, figures=figures, verdicts=verdicts, meta=meta)


def _name(m):
    return m[0] if m[0] != "positive" else f"positive c={m[1]:g}"


def _verdicts(cfg, methods, q):
    S = cfg.seeds
    npos = len(cfg.cs)
    cmax, cmin = max(cfg.cs), min(cfg.cs)
    i_max, i_min = list(cfg.cs).index(cmax), list(cfg.cs).index(cmin)
    rs = ", ".join(f"{r:g}" for r in cfg.radii)
    sel, ev = q["sel"], ~q["sel"]
    out = []
    crit_rule = Rule(lo=1.0, units="× (r²α̂/4f0)")  # best margin over r; > 1: criterion holds
    alpha_detail = (f"α estimated by villani.local_pl_check (projected normalised-gradient descent "
                    f"on ‖∇L‖²/L over the ball from x0 and {cfg.alpha_starts} random starts, "
                    f"{cfg.alpha_iters} steps each), lowered to the smallest ratio at the GD iterates "
                    "inside the ball where a GD run exists (tanh); every point used is in the ball, "
                    "so the estimate bounds the true α from above: 'criterion holds at the "
                    "estimated α', not a proof")

    def by_c(act, i):
        return q["crit"][act]["best"][i * S:(i + 1) * S]

    # (1) criterion at the positive init, largest c; control c = min(cs)
    t = q["crit"]["tanh"]
    rand_frac = float(np.mean(t["holds"][npos * S:].any(1)))
    v = by_c("tanh", i_max).min()
    out.append(crit_rule.verdict(
        "[paper] the positive initialisation (large output weights) satisfies the local PL "
        "criterion 4 f(x0) < r² α(x0, r) (tanh)", v,
        measured=f"min over {S} seeds of max_r r²α̂/(4f0) = {v:.3g} at c = {cmax:g} (medians by c: "
                 + ", ".join(f"{c:g}: {np.median(by_c('tanh', i)):.3g}" for i, c in enumerate(cfg.cs))
                 + f"); random inits (Xavier/He/LeCun) meet it for {rand_frac:.0%} of runs",
        predicted=f"> 1 for every seed at c = {cmax:g}, some r in {{{rs}}}",
        control=crit_rule.control(f"output scale c = {cmin:g} (too small)", by_c("tanh", i_min).min(),
                                  measured=f"min margin {by_c('tanh', i_min).min():.3g}"),
        detail=alpha_detail + "; tanh, no biases, depth 3"))

    # (2) linear convergence to a zero, eta = 0.5/||H(x0)||, runs meeting the criterion
    ok = t["holds"][:npos * S].any(1)
    rel = q["rel_c_budget"][:npos * S][ok]
    conv_rule = Rule(hi=math.log10(TARGET), units="decades")
    worst = float(np.log10(np.max(rel)))
    ctrl_rel = q["rel_cc"][:S, q["kb"]]
    out.append(conv_rule.verdict(
        "[paper] GD from a positive initialisation meeting the criterion converges linearly to a "
        "zero of f", worst,
        measured=f"worst log10(L/L0) after {cfg.steps} steps = {worst:.1f} over {ok.sum()} runs "
                 f"(η = 0.5/‖∇²L(x0)‖; median steps to {TARGET:g}: "
                 f"{np.median(q['steps_curv'][:npos].reshape(-1)[ok]):.0f})",
        predicted=f"≤ log10({TARGET:g}) = {math.log10(TARGET):g} within the budget",
        control=conv_rule.control(
            f"d < n (n = {cfg.counter_n}, d = {cfg.counter_d}), generic labels: the criterion's "
            f"linear independence fails; positive c = {cmax:g}, same η rule and budget",
            float(np.log10(np.min(ctrl_rel))),
            measured=f"best log10(L/L0) after {q['kb']} steps = {np.log10(np.min(ctrl_rel)):.2f}"),
        detail="runs: positive inits (every c) whose criterion holds at some r at the estimated α"))

    # (3) the GD rate bound with alpha along the path, GD factor
    rm = q["rate_m"][ok]
    rate_rule = Rule(lo=0.0, units="decades")
    lh = q["L_hat"][ok] * q["eta"][ok]
    out.append(rate_rule.verdict(
        "[derived] f_k ≤ (1 − αη(1 − Lη/2))^k f0 along GD, α = min ‖∇L‖²/L on the path, "
        "L = max ‖∇²L‖ at x0 and along the path", float(rm.min()),
        measured=f"min over runs and 1 ≤ k ≤ K of log10(bound/f_k) = {rm.min():.3g} decades; "
                 f"Lη ∈ [{lh.min():.2f}, {lh.max():.2f}]; measured mean rate / bound rate: median "
                 f"{np.median(q['rate_tight'][ok]):.2f} (range {q['rate_tight'][ok].min():.2f}–"
                 f"{q['rate_tight'][ok].max():.2f})",
        predicted="≥ 0 at every k (the bound holds)",
        control=rate_rule.control(
            "α = ‖∇L(x0)‖²/L(x0), the ratio at the start instead of its minimum on the path",
            float(q["rate_m_ctrl"][ok].min()),
            measured=f"min log10(bound/f_k) = {q['rate_m_ctrl'][ok].min():.3g}"),
        detail=f"K = steps to L/L0 ≤ {TARGET:g}; ‖∇²L‖ by Lanczos ({cfg.hessian_iters} steps) at x0 "
               f"and at k = K/4, K/2, 3K/4, K (an estimate of the sup along the path); same runs as (2)"))

    # (4) iterates stay in B(x0, r) when the GD criterion holds
    has_r = np.isfinite(q["r_min"])
    dm = q["dist_max"][: npos * S]
    ball = dm[has_r] / q["r_min"][has_r]
    ball_rule = Rule(hi=1.0, units="× r")
    rmax = max(cfg.radii)
    ctrl_d = q["dist_max"][npos * S:] / rmax
    out.append(ball_rule.verdict(
        "[paper] GD iterates stay in B(x0, r) when 4 f(x0) < r² α (1 − Lη/2)²", float(ball.max()),
        measured=f"max_k ‖x_k − x0‖ / r = {ball.max():.3g} (median {np.median(ball):.3g}) over "
                 f"{has_r.sum()} positive-init runs, r the smallest radius meeting the GD criterion",
        predicted="≤ 1",
        control=ball_rule.control(
            f"random inits (Xavier/He/LeCun; criterion fails at every r), r = {rmax:g}",
            float(ctrl_d.max()), measured=f"max_k ‖x_k − x0‖ / r: median {np.median(ctrl_d):.3g}, "
                                          f"max {ctrl_d.max():.3g}"),
        detail="all records of the η = 0.5/‖∇²L(x0)‖ run (not only until the target); α̂ from "
               "local_pl_check at each r, L = the path's Hessian estimate"))

    # (5) path length with the GD factor
    pr = q["path_ratio"][ok]
    path_rule = Rule(hi=1.0, units="× bound", vacuous_ratio=10.0)
    out.append(path_rule.verdict(
        "[derived] GD path length ≤ 2√(f0/α)/(1 − Lη/2), α = min ‖∇L‖²/L on the path",
        float(pr.max()),
        measured=f"max path/bound = {pr.max():.3f} (median {np.median(pr):.3f}, bound/path ≥ "
                 f"{1 / pr.max():.2f}) over {pr.size} runs",
        predicted="≤ 1; vacuous if the bound is > 10× the path",
        control=path_rule.control(
            "α = ‖∇L(x0)‖²/L(x0), the ratio at the start instead of its minimum on the path",
            float(q["path_ratio_ctrl"][ok].max()),
            measured=f"max path/bound {q['path_ratio_ctrl'][ok].max():.3f}"),
        detail=f"path = Σ η‖∇L(x_k)‖ until L/L0 ≤ {TARGET:g}; same runs as (2)"))

    # (6) the speed-up under init-independent step-size protocols
    h0 = q["h0"].reshape(len(methods), S)
    ir = npos + int(np.argmin([np.median(q["steps_curv"][npos + i][sel]) for i in range(len(RANDOM))]))
    ir_h = npos + int(np.argmin([np.median(q["steps_ho"][npos + i][sel]) for i in range(len(RANDOM))]))
    sp_c = _speedup(q["steps_curv"][ir][ev], q["steps_curv"][i_max][ev], cfg.steps)
    sp_h = _speedup(q["steps_ho"][ir_h][ev], q["steps_ho"][i_max][ev], cfg.steps)
    sp_c0 = _speedup(q["steps_curv"][ir][ev], q["steps_curv"][i_min][ev], cfg.steps)
    sp_h0 = _speedup(q["steps_ho"][ir_h][ev], q["steps_ho"][i_min][ev], cfg.steps)
    sp_rule = Rule(lo=1.0, units="× speed-up (CI low end)")
    nc, nh = _name(methods[ir]), _name(methods[ir_h])
    fails_c = not sp_c[1] > 1.0
    out.append(sp_rule.verdict(
        "[paper] the positive initialisation accelerates GD relative to standard random "
        "initialisations (step size fixed independently of the init)", min(sp_c[1], sp_h[1]),
        measured=(f"η = 0.5/‖∇²L(x0)‖: steps({nc}) / steps(positive c={cmax:g}) = {sp_c[0]:.2f} "
                  f"(95% CI {sp_c[1]:.2f}–{sp_c[2]:.2f}); held-out η (grid, chosen on seeds "
                  f"{np.flatnonzero(sel).tolist()}): {nh} (η={q['lr_ho'][ir_h]:.3g}) / positive "
                  f"(η={q['lr_ho'][i_max]:.3g}) = {sp_h[0]:.2f} (CI {sp_h[1]:.2f}–{sp_h[2]:.2f})"
                  + ("; not reproduced under η ∝ 1/curvature" if fails_c else "")
                  + f"; criterion margin beside it (min over seeds of max_r r²α̂/4f0): c = {cmax:g}: "
                  f"{by_c('tanh', i_max).min():.3g}, c = {cmin:g}: {by_c('tanh', i_min).min():.3g}"),
        predicted="speed-up > 1 (CI low end) under both protocols",
        # measured not to reproduce (0.55x under the curvature step, quick and longer runs): kept,
        # failing, as "not reproduced"; should it ever hold, the report says "HOLDS NOW"
        expected=False, role="not-reproduced",
        control=sp_rule.control(
            f"positive c = {cmin:g} (criterion fails), same protocols", min(sp_c0[1], sp_h0[1]),
            measured=f"curvature η {sp_c0[0]:.2f} (CI {sp_c0[1]:.2f}–{sp_c0[2]:.2f}); held-out η "
                     f"{sp_h0[0]:.2f} (CI {sp_h0[1]:.2f}–{sp_h0[2]:.2f})"),
        detail=f"paired per seed on the {int(ev.sum())} scoring seeds; the random init compared is "
               "the one fastest on the selection seeds; 'not reached' counted as budget + 1. Under "
               "η = 0.5/‖∇²L(x0)‖ the positive init takes steps ∝ the conditioning of its own "
               "Hessian, which large c makes worse (median ‖∇²L(x0)‖: "
               + ", ".join(f"c = {c:g}: {np.median(h0[i]):.3g}" for i, c in enumerate(cfg.cs))
               + f"; random inits {np.median(h0[npos:]):.3g}); a speed-up seen only with a "
               "step tuned per init is a step-size effect"))
    # (6b) the old protocol, descriptive
    tuned = [np.median(q["steps_tuned"][i]) for i in range(len(methods))]
    br = npos + int(np.argmin(tuned[npos:]))
    bp = int(np.argmin(tuned[:npos]))
    sp_t = _speedup(q["steps_tuned"][br], q["steps_tuned"][bp], cfg.steps)
    out.append(sp_rule.verdict(
        "[paper] speed-up at each method's best η chosen on the same seeds it is scored on "
        "(the tuned protocol, for comparison)", sp_t[1],
        measured=f"{_name(methods[br])} / {_name(methods[bp])} = {sp_t[0]:.2f} (CI {sp_t[1]:.2f}–"
                 f"{sp_t[2]:.2f}); medians by method: "
                 + ", ".join(f"{_name(m)}: {t_:.0f}" for m, t_ in zip(methods, tuned, strict=True)),
        role="descriptive",
        detail="selection and scoring on the same seeds and the best positive c chosen after "
               "measuring: reported, deciding nothing (see the init-independent verdict)"))

    # (7) softplus: sigma(0) != 0 -> f0 ~ c^2, margin flat in c; control tanh
    logc = np.log(np.asarray(cfg.cs, float))

    def slope(act):
        m = np.stack([by_c(act, i) for i in range(npos)], axis=1)  # (S, C)
        fit = fit_slope(jnp.broadcast_to(jnp.asarray(cfg.cs, float), m.shape), jnp.asarray(m),
                        log=True)
        return float(np.median(np.asarray(fit.slope)))
    sl_sp, sl_th = slope("softplus"), slope("tanh")
    f0s = np.stack([q["crit"]["softplus"]["f0"][i * S:(i + 1) * S] for i in range(npos)], 1)
    f0_slope = float(np.polyfit(logc[-2:], np.log(np.median(f0s, 0))[-2:], 1)[0])
    flat_rule = Rule(lo=-0.5, hi=0.5, units="(d log margin / d log c)")
    out.append(flat_rule.verdict(
        "[derived] with σ(0) ≠ 0 (softplus) f(x0) grows like c², so the criterion's margin is "
        "flat in c", sl_sp,
        measured=f"slope of log(max_r r²α̂/4f0) on log c: {sl_sp:.2f} (median over seeds); "
                 f"d log f0 / d log c between c = {cfg.cs[-2]:g} and {cfg.cs[-1]:g}: {f0_slope:.2f}",
        predicted="|slope| ≤ 0.5 (flat); f0 slope → 2",
        control=flat_rule.control("tanh (σ(0) = 0: f0 independent of c)", sl_th,
                                  measured=f"slope {sl_th:.2f}"),
        detail="least-squares slope over c ∈ {" + ", ".join(f"{c:g}" for c in cfg.cs) + "}"))
    v_sp = float(by_c("softplus", i_max).max())
    out.append(crit_rule.verdict(
        "[paper, as read] large output weights make the positive init meet the criterion, "
        "for softplus (σ(0) = log 2 ≠ 0, smooth and strictly increasing)", v_sp,
        measured=f"best seed's max_r r²α̂/(4f0) = {v_sp:.3g} at c = {cmax:g} (medians by c: "
                 + ", ".join(f"{c:g}: {np.median(by_c('softplus', i)):.3g}" for i, c in enumerate(cfg.cs))
                 + ")",
        predicted="fails (a counter-example to 'large c suffices' when σ(0) ≠ 0)", expected=False,
        detail=alpha_detail + "; the abstract's construction presumably handles σ(0) ≠ 0 otherwise "
               "(not readable); the centred softplus below restores it"))
    # (8) centred softplus
    v_cs = float(by_c("softplus_centred", i_max).min())
    out.append(crit_rule.verdict(
        "[derived] the centred softplus σ(z) − log 2 (σ(0) = 0) meets the criterion at large c",
        v_cs,
        measured=f"min over seeds of max_r r²α̂/(4f0) = {v_cs:.3g} at c = {cmax:g} (medians by c: "
                 + ", ".join(f"{c:g}: {np.median(by_c('softplus_centred', i)):.3g}"
                             for i, c in enumerate(cfg.cs)) + ")",
        predicted=f"> 1 for every seed at c = {cmax:g}",
        control=crit_rule.control(f"c = {cmin:g}", float(by_c("softplus_centred", i_min).min()),
                                  measured=f"min margin {by_c('softplus_centred', i_min).min():.3g}"),
        detail=alpha_detail))

    # (9) backprop bound: a check of the gradient computation (descriptive)
    qs = []
    for act in ACTS:
        r_ = q["crit"][act]["grad_ratio"][: npos * S] / q["crit"][act]["backprop"][: npos * S]
        qs.append(r_)
    qs = np.concatenate(qs)
    out.append(Rule(lo=1.0, units="× bound").verdict(
        "[derived] at W1 = 0: ‖∇f(x0)‖²/f(x0) ≥ 4‖b‖²λ_min(XXᵀ), f = Σ(y − out)²", float(qs.min()),
        measured=f"min ratio/bound = {qs.min():.6f} over {qs.size} runs (tanh, softplus, centred)",
        role="descriptive",
        detail="a Rayleigh-quotient identity, so it checks the autodiff gradient and b, it cannot "
               "test the paper; b = ∂out/∂z1 by autodiff, λ_min by eigvalsh"))

    # (10) counter-example: d < n, generic labels
    bc = float(q["best_c"].max())
    out.append(crit_rule.verdict(
        "[paper] the positive initialisation satisfies the criterion (counter-example: d < n, "
        "generic labels)", bc,
        measured=f"largest max_r r²α̂/(4f0) over seeds = {bc:.3g} (c = {cmax:g}; the ball search "
                 f"alone gave {q['best_c_search'].max():.3g}: the low-ratio region is found by GD, "
                 f"not by the search); λ_min(XXᵀ) = "
                 f"{q['lam_c']:.1e}; GD from it (η = 0.5/‖∇²L(x0)‖): L_T/L0 median "
                 f"{np.median(q['rel_cc'][:S, -1]):.3g} after {cfg.counter_steps} steps",
        predicted="fails: inputs not linearly independent; near W1 = 0 the net is nearly linear "
                  "in W1 and cannot interpolate n > d points, so ‖∇L‖²/L → 0 in the ball",
        expected=False,
        detail=f"n = {cfg.counter_n}, d = {cfg.counter_d}, unit inputs, y ~ N(0, I) (generic); "
               + alpha_detail))
    fr = q["rel_cc"][S:, -1]
    out.append(Rule(hi=1e-3, units="L_T/L0").verdict(
        "[paper] random initialisations interpolate the same d < n data", float(np.median(fr)),
        measured=f"L_T/L0 after {cfg.counter_steps} steps: median {np.median(fr):.1e}, worst "
                 f"{fr.max():.1e} over {fr.size} random-init runs",
        role="descriptive",
        detail="Xavier/He/LeCun, η = 0.5/‖∇²L(x0)‖; width 16 has more parameters than n, so "
               "interpolation is possible away from W1 = 0"))
    return out


def _figures(cfg, t, methods, curves, q, device):
    import matplotlib.pyplot as plt

    figs = {}
    npos = len(cfg.cs)
    cmax, cmin = max(cfg.cs), min(cfg.cs)
    show = [list(cfg.cs).index(cmax), list(cfg.cs).index(cmin)] + list(range(npos, len(methods)))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, (name, arr, steps, title) in zip(axes, (
            ("curv", curves["curv"], q["steps_curv"], r"$\eta = 0.5/\|\nabla^2 L(x_0)\|$"),
            ("heldout", curves["heldout"], q["steps_ho"], r"held-out $\eta$ from the shared grid")),
            strict=True):
        kmax = 0
        data = {}
        for i in show:
            data[_name(methods[i])] = arr[i]
            med = np.median(_censor(steps[i], cfg.steps))
            kmax = max(kmax, med)
        kmax = int(min(cfg.steps, 1.2 * kmax + 5))
        x = np.arange(arr.shape[-1])
        plots.loss_curves(x[: kmax + 1], {k: v[:, : kmax + 1] for k, v in data.items()}, ax=ax,
                          ylabel=r"$L/L_0$", xlabel="GD step $k$", title=f"001: {title}")
        ax.axhline(TARGET, color="k", lw=0.5)
        ax.set_ylim(TARGET / 100, 3.0)
        ax.set_xlim(0, kmax)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    if device:
        fig.text(0.99, 0.01, f"device: {device}", ha="right", va="bottom", fontsize=6, color="0.4")
    figs["loss_curves"] = fig

    margins = {}
    for act, label in (("tanh", "tanh"), ("softplus", "softplus"),
                       ("softplus_centred", r"softplus $-\log 2$")):
        sel = (t["setting"] == "main") & (t["activation"] == act) & (t["method"] == "positive")
        margins[label] = np.stack([t["criterion_margin"][sel & (t["c"] == c)] for c in cfg.cs], 1)
    fig = plots.rate_vs_parameter(np.asarray(cfg.cs), margins, xlabel="output scale $c$",
                                  ylabel=r"$\max_r\, r^2\hat\alpha/(4 f(x_0))$",
                                  title="001: criterion margin (> 1: holds at the estimated α)",
                                  device=device)
    fig.axes[0].axhline(1.0, color="k", lw=0.5)
    figs["criterion_margin"] = fig
    return figs


PAPER = Paper(id="001", title="A local PL criterion; positive initialisation (Chatterjee)",
              arxiv="2203.16462", quick=QUICK, full=FULL, run=run)
