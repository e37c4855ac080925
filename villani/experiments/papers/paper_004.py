r"""Paper 004: Nesterov's accelerated gradient on two-layer ReLU nets (arXiv 2107.01832).

Claim [paper] (Liu, Pan et al., abstract): on an over-parameterised two-layer ReLU net,
NAG drives the training error to zero at rate $1 - \Theta(1/\sqrt\kappa)$ while GD's rate is
$1 - \Theta(1/\kappa)$, with $\kappa > 1$ set by the initialisation and architecture;
heavy-ball behaves like NAG.

Setting (villani's choice, Du et al. 2019): $f(x) = \frac1{\sqrt m}\sum_r
a_r\,\mathrm{relu}(w_r\cdot x)$ with $a_r = \pm1$ fixed and paired (``nets.ntk_symmetric``,
so $u(0) = 0$), $w_r \sim N(0, I)$, $n = d$ unit inputs, only $W$ trained. In the lazy runs
the labels are normalised then multiplied by ``label_scale`` ($10^{-5}$): the weights then
move so little that no unit's activation pattern flips, even for the nearly parallel pair
below (at $10^{-3}$ one unit whose hyperplane passes between $x_1$ and $x_n$ flipped and
$\kappa(H)$ grew 800-fold). The paper's loss is $\Phi(W) = \frac12\sum_i (f_i - y_i)^2$;
villani's :class:`~villani.Objective` is the mean $L = \Phi/n$, so every step size below is
multiplied by $n$ when applied to $\nabla L$ ($\eta_{\text{villani}} = n\,\eta$).

One knob sets $\kappa$: $x_n \leftarrow \cos\theta\,x_1 + \sin\theta\,v$ with $v \perp x_1$
a unit vector, so $\lambda_{\min}(H^\infty) \approx \theta/2\pi$; at a finite width, once no
unit separates the pair ($m\theta/\pi < 1$), $\lambda_{\min}(H(0)) \propto \theta^2$ and
$\kappa$ jumps. $\kappa$ is always the *measured* condition number of the empirical Gram
$H(0) = J J^\top$ (``villani.ntk``); $\kappa(H^\infty)$ (``villani.ntk_infinite``) and
$\kappa(H_{\text{end}})$ are reported for every run, and runs with
$\kappa_{\text{end}}/\kappa_0 > 1.2$ are flagged. Quick mode spans more than 2.5 decades of
$\kappa_0$ (about 20 to $3\cdot10^5$ at $m = 256$), full mode more than 4.

Derivation [derived] (villani's, not the paper's constants): in the lazy regime the residual
$r_t = u_t - y$ obeys $r_{t+1} \approx (I - \eta H) r_t$, so quadratic theory applies:

- GD, $\eta = 1/\lambda_{\max}$: $\rho = 1 - 1/\kappa$;
- NAG ($V_t = W_t + \beta(W_t - W_{t-1})$, $W_{t+1} = V_t - \eta\nabla\Phi(V_t)$),
  $\eta = 1/\lambda_{\max}$, $\beta = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)$: $\rho \approx 1 - 1/\sqrt\kappa$;
- heavy-ball ($W_{t+1} = W_t - \eta\nabla\Phi(W_t) + \beta(W_t - W_{t-1})$),
  $\eta = 4/(\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}})^2$,
  $\beta = ((\sqrt\kappa-1)/(\sqrt\kappa+1))^2$: $\rho = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)$.

**The prediction of each slope** is the *exact* theory's: the spectral radius $\rho_{\rm exact}$
of each method's linear iteration over all eigenvalues of $H(0)$ (``villani.quadratic_rate``)
at each problem, and the slope of $\log(1 - \rho_{\rm exact})$ on $\log\kappa_0$ over the same
problems. Finite-$\kappa$ curvature (heavy-ball's $1 - \rho = 2/(\sqrt\kappa + 1)$ bends away
from $\kappa^{-1/2}$ at small $\kappa$) is then in the prediction, not in the tolerance; the
asymptotic $-1$ and $-1/2$ are written beside it. Rule, fixed in advance: the measured
slope within $\pm 0.1$ of the exact theory's.

**The measured rate** $\rho$ is the least-squares log-slope of $\|r_t\|/\|r_0\|$
(:func:`villani.fit_slope`) from the first step where the ratio is $\le 10^{-2}$ (or the
run's second half, if that comes first: a GD run at $\kappa = 10^5$ never gets there) over
one contiguous stretch, up to the first step where it is $< 10^{-6}$: further down float64
round-off takes over (the paired units cancel in $f$ to about $10^{-15}$ absolute, against
labels of $10^{-5}$), and a run on its round-off floor bounces there (heavy-ball at
$\kappa_0 \approx 2\cdot10^4$, $\beta \approx 0.97$: between $3\cdot10^{-8}$ and
$8\cdot10^{-8}$ for 2,400 steps). An earlier rule, every step with ratio $\ge 10^{-8}$, took
that floor for decay and measured this run 5.6× slower than the exact theory: the
"anomaly" of heavy-ball was the fit window, not the dynamics. Heavy-ball's fitted $1-\rho$
sits about 7 % below the spectral radius's on every run: at the optimal $(\eta, \beta)$
each mode has a double root, so $r_t \propto t\rho^t$.

**Controls** (the same fit, the same rule): NAG's and heavy-ball's slope rules applied to
NAG and heavy-ball with a fixed $\beta = 0.5$ (GD-like slopes); GD's rule applied to NAG.
"The rates are the exact theory's (×1.5)" and "$\kappa_{\rm end}/\kappa_0 \le 1.2$" are
controlled by the narrowest net of the width sweep.

**Width sweep at realistic labels** ($\|y\| = 4 = \sqrt n$, so $|y_i| \sim 1$; $\theta = 0.3$,
$\kappa_0 \approx 20$): GD, NAG and NAG with $\beta = 0.5$ at $m = 16 \dots 1024$ (quick;
heavy-ball too at $m = 16$, the control of its exact-theory claim). Claim: acceleration
persists at every width, $(1-\rho_{\rm NAG})/(1-\rho_{\rm GD}) \ge \sqrt{\kappa_0}/3$ (lazy
theory: $\approx\sqrt\kappa$), controlled by NAG with $\beta = 0.5$ (ratio about 2). At these
sizes the activation patterns move at every width ($\kappa_{\rm end}/\kappa_0 \approx 3$ to 5
up to $m = 1024$): a weight moves by about $\|y\|/(\sqrt m\,\lambda_{\min})$, and the units
that set $\lambda_{\min}$ are the few whose hyperplanes pass between $x_1$ and $x_n$, the
ones a small move flips, so the lazy width grows like $(\|y\|/\lambda_{\min})^2$: beyond
$10^3$ here.

**The lazy onset** is therefore measured on a smaller problem whose onset lies inside the
widths: $n = d = 8$, $\theta = 1$ ($\kappa_0 \approx 4$ to 6), $\|y\| = \sqrt 8$, $m = 16, 64,
256, 1024$ (quick: lazy from $m = 64$ on, so the onset lies in 16…64). A net is *lazy*
when GD's and NAG's rates are within $\times 1.5$ of the exact theory on $H(0)$ and
$\kappa_{\rm end}/\kappa_0$ is within $\times 1.2$ of 1 (either way: a falling $\kappa$ is a
moving pattern too); in units of these tolerances, one number
$\max(|\log\text{ratio}|/\log 1.5,\ |\log\kappa_{\rm end}/\kappa_0|/\log 1.2) \le 1$. Claim
[derived]: the widest net is lazy; control: the narrowest, same rule. The onset width (the
smallest from which every wider net is lazy) is reported. Acceleration is not decided on
this problem: at $\kappa \approx 5$, $\sqrt\kappa/3 < 1$ and $\beta = 0.5$ is close to NAG's
own momentum, so no rule on it could fail.

Counter-examples: NAG with a fixed $\beta = 0.5$ does not have NAG's slope; NAG with
$\beta = 0.999$ at $\eta = 1/\lambda_{\max}$ is slower than GD; on the narrowest sweep net
the activation patterns move, $H$ drifts, and GD's rate detaches from $\kappa(H(0))$.

Runs: one :func:`villani.train` call per optimiser, vmapped over all problems (seeds x
angles) with the step sizes and momenta traced: ``optim.nesterov`` for GD (at $\beta = 0$,
where optax's Nesterov update is exactly GD's: one compilation fewer), NAG and both NAG
counter-examples (one call, an inner vmap over the four $(\eta, \beta)$ pairs),
``optim.heavy_ball`` for heavy-ball and its $\beta = 0.5$ control;
step sizes and momenta from
``optim.gd_lr``, ``optim.nag_momentum``, ``optim.heavy_ball_params`` on the measured
$H(0)$ spectrum. The residual norm is read off the recorded loss: $L = \frac1n\sum_i
\frac12 r_i^2$, so $\|r_t\| = \sqrt{2nL_t}$.

NAG iterate: optax's Nesterov iterate (the one ``train`` records the loss at) is the
paper's look-ahead point $V_t = W_t + \beta(W_t - W_{t-1})$, not $W_t$ (``optim.nesterov``
docstring). In the lazy regime both are linear images of the same two-step recursion,
$V_t - W^* = (1+\beta)(W_t - W^*) - \beta(W_{t-1} - W^*)$, so both decay like $|z|^t$ with
$|z|$ the recursion's spectral radius: the fitted rate is the same. The test
``test_nag_rate_same_on_w_iterate`` checks it against an independent scan of the paper's
$W_t$ recursion (tolerance 1e-3 on $1-\rho$). $H_{\text{end}}$ is taken at the paper's
$W_T$ (``optim.nesterov_w``).

Needs float64 (ratios down to 1e-6, round-off floors near 1e-8).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import villani
from villani import nets, optim, plots
from villani.data import Dataset, unit_sphere
from villani.experiments.result import Paper, Result, Rule, Verdict
from villani.losses import Objective

__all__ = ["Config", "FULL", "PAPER", "QUICK", "run"]

# "nag_beta0.5" and "nag_beta0.999" are the counter-examples; "nag_beta0.5" and
# "heavy_ball_beta0.5" (momentum not scaled with kappa) are also the controls of the slopes
METHODS = ("gd", "nag", "heavy_ball", "nag_beta0.5", "nag_beta0.999", "heavy_ball_beta0.5")
_KINDS = ("gd", "nag", "heavy_ball", "nag", "nag", "heavy_ball")  # quadratic_rate's names
# one vmapped ``train`` call per optimiser; the columns of METHODS each one runs
_OPTIMISERS = {"gd": lambda lr, beta: optim.gd(lr), "nesterov": optim.nesterov,
               "heavy_ball": optim.heavy_ball}
# GD runs as Nesterov with beta = 0 (optax's trace with decay 0 is exactly GD's update):
# one compiled ``train`` fewer per width
_GROUPS = (("nesterov", (0, 1, 3, 4)), ("heavy_ball", (2, 5)))
# the width sweep at unit labels runs GD and NAG (with its beta = 0.5 control)
_SWEEP_GROUPS = (("nesterov", (0, 1, 3)),)
# heavy-ball runs on the narrowest sweep net only: the control of its exact-theory claim
_NARROW_EXTRA = (("heavy_ball", (2,)),)

# Rules stated before measuring.
SLOPE_TOL = 0.1  # |slope - the exact theory's slope over the same kappa range| <= 0.1
RATE_FACTOR = 2.0  # (1 - rho_measured)/(1 - rho_derived) within [1/2, 2] (reported)
EXACT_FACTOR = 1.5  # (1 - rho_measured)/(1 - rho_exact) within [1/1.5, 1.5]
ACCEL = 1.0 / 3.0  # acceleration persists: (1 - rho_NAG)/(1 - rho_GD) >= sqrt(kappa0)/3
DRIFT_FLAG = 1.2  # kappa_end / kappa0 above this flags a run
SINGULAR = 1e-10  # lambda_min(H(0)) / lambda_max below this: H(0) singular (narrow net)


@dataclasses.dataclass(frozen=True)
class Config:
    """Knobs of the paper-004 reproduction.

    Attributes:
        n: samples (= input dimension d).
        width: hidden units m of the lazy-regime runs (even; paired init).
        thetas: the angles between x_1 and x_n (the kappa knob).
        seeds: independent data/initialisation draws per angle.
        steps: iterations of every method.
        label_scale: labels are normalised to unit norm then multiplied by this.
        window: the ratio band of the rate fit (see ``_rates``).
        sweep_n, sweep_widths, sweep_theta, sweep_label_scale, sweep_seeds, sweep_steps: the
            width sweep at realistic labels (norm sqrt(sweep_n): |y_i| of order 1), GD and NAG
            (heavy-ball too on the narrowest net).
        onset_n, onset_theta, onset_widths: the lazy-onset sweep (same labels, seeds, steps):
            a smaller problem whose onset width lies inside the widths.
    """

    n: int = 16
    width: int = 256
    thetas: tuple[float, ...] = (0.3, 0.1, 0.02, 0.005)
    seeds: int = 2
    steps: int = 2000
    label_scale: float = 1e-5
    window: tuple[float, float] = (1e-6, 1e-2)
    sweep_widths: tuple[int, ...] = (16, 64, 256, 1024)
    sweep_n: int = 16
    sweep_theta: float = 0.3
    sweep_label_scale: float = 4.0
    onset_n: int = 8
    onset_theta: float = 1.0
    onset_widths: tuple[int, ...] = (16, 64, 256, 1024)
    sweep_seeds: int = 2
    sweep_steps: int = 2000


QUICK = Config()
FULL = Config(width=4096, thetas=(0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 0.0003), seeds=8, steps=60_000,
              sweep_widths=(16, 64, 256, 1024, 4096, 16384), sweep_seeds=8, sweep_steps=20_000,
              onset_widths=(16, 64, 256, 1024, 4096, 16384))


def _problem(key, n: int, theta, label_scale: float) -> Dataset:
    """n unit inputs in R^n with x_n = cos(theta) x_1 + sin(theta) v, v ⊥ x_1; labels of norm label_scale."""
    kx, kv, ky = jax.random.split(key, 3)
    x = unit_sphere(kx, n, n)
    v = jax.random.normal(kv, (n,))
    v = v - (v @ x[0]) * x[0]
    v = v / jnp.linalg.norm(v)
    x = x.at[n - 1].set(jnp.cos(theta) * x[0] + jnp.sin(theta) * v)
    y = jax.random.normal(ky, (n,))
    return Dataset(x, label_scale * y / jnp.linalg.norm(y))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _setup(net, n, label_scale, dkeys, wkeys, thetas):
    """Problems, initial weights, and the spectra of H(0) and H^inf, in one compiled call."""
    data = jax.vmap(lambda k, th: _problem(k, n, th, label_scale))(dkeys, thetas)
    w0 = jax.vmap(lambda k: net.init(k, n))(wkeys)
    ev0 = jnp.linalg.eigvalsh(jax.vmap(lambda w, x: villani.ntk(net, w, x))(w0, data.x))
    h_inf = jax.vmap(lambda x: villani.ntk_infinite(x, activation="relu"))(data.x)
    return data, w0, ev0, jnp.linalg.eigvalsh(h_inf)


def _problems(c: Config, key, *, width=None, label_scale=None, seeds=None, thetas=None):
    """The (seed, angle) problems: net, data, W_0, spectra of H(0) and H^inf, seed and angle
    of each problem (defaults: the lazy-regime runs of ``c``)."""
    width = c.width if width is None else width
    label_scale = c.label_scale if label_scale is None else label_scale
    seeds = c.seeds if seeds is None else seeds
    thetas = np.asarray(c.thetas if thetas is None else thetas, float)
    net = nets.two_layer(width, "relu", train_outer=False, init=nets.ntk_symmetric())
    kd, kw = jax.random.split(key)
    seed_idx = np.repeat(np.arange(seeds), len(thetas))
    theta_p = np.tile(thetas, seeds)
    data, w0, ev0, ev_inf = _setup(net, c.n, label_scale, jax.random.split(kd, seeds)[seed_idx],
                                   jax.random.split(kw, seeds)[seed_idx], jnp.asarray(theta_p))
    return net, data, w0, np.asarray(ev0), np.asarray(ev_inf), seed_idx, theta_p


def _kappa(ev):
    """lambda_max / lambda_min of ascending spectra ``(..., n)``; inf where singular."""
    lmin, lmax = ev[..., 0], ev[..., -1]
    with np.errstate(divide="ignore"):
        return np.where(lmin > SINGULAR * lmax, lmax / np.where(lmin > 0, lmin, 1.0), np.inf)


def _hyper(lmin, lmax):
    """Per-problem, per-method (eta, beta) on the paper's sum loss, from the optim helpers."""
    rows = []
    for mu, lip in zip(lmin.tolist(), lmax.tolist(), strict=True):
        lr = optim.gd_lr(lip)
        rows.append([(lr, 0.0), (lr, optim.nag_momentum(mu, lip)), optim.heavy_ball_params(mu, lip),
                     (lr, 0.5), (lr, 0.999), (lr, 0.5)])
    a = np.asarray(rows)  # (P, M, 2)
    return a[..., 0], a[..., 1]


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _train(net, optimiser: str, steps: int, data, w0, lr, beta):
    r"""``villani.train`` of one optimiser on every problem (outer vmap) and every
    $(\eta, \beta)$ column of ``lr``/``beta`` ``(P, k)`` (inner vmap).

    Returns residual norms $\sqrt{2nL_t}$ ``(P, k, steps + 1)``, the divergence flags and the
    spectrum of $H$ at the last iterate (the paper's $W_T$ for NAG).
    """
    def one(ds, w, lr, beta):
        obj = Objective(net, ds, "squared")
        traj = villani.train(obj, _OPTIMISERS[optimiser](lr, beta), w, steps, key=jax.random.key(0))
        w_end = traj.params
        if optimiser == "nesterov":  # optax's iterate is the look-ahead V_T
            w_end = optim.nesterov_w(traj.params, traj.opt_state, lr, beta)
        ev_end = jnp.linalg.eigvalsh(villani.ntk(net, w_end, ds.x))
        return jnp.sqrt(2 * obj.n * traj.loss), traj.diverged, ev_end

    return jax.vmap(jax.vmap(one, in_axes=(None, None, 0, 0)))(data, w0, lr, beta)


@functools.partial(jax.jit, static_argnums=0)
@functools.partial(jax.vmap, in_axes=(None, 0, 0, 0))
def _exact_rate(kind, eigenvalues, lr, momentum):
    """Exact linear-theory contraction of the residual over all eigenvalues of H(0)."""
    return villani.quadratic_rate(kind, eigenvalues, lr, momentum, quantity="iterate").contraction


def _derived(kappa):
    """The [derived] asymptotic rates per method (GD, NAG, HB, NAG b=0.5, NAG b=0.999)."""
    sk = np.sqrt(kappa)
    nan = np.full_like(kappa, np.nan)
    return np.stack([1 - 1 / kappa, 1 - 1 / sk, (sk - 1) / (sk + 1), nan, nan, nan], -1)


def _rates(ratio, window):
    r"""Per-step contraction $\rho$ of every run (leading axes kept) and the fit's points.

    The rule, fixed in advance: least squares of $\log(\|r_t\|/\|r_0\|)$ on $t$
    (:func:`villani.fit_slope`) over one contiguous stretch of steps, from the first step
    where the ratio is $\le$ ``window[1]`` (or the run's second half, whichever starts
    first: a slow run may never get there) up to, not including, the first later step where
    it is $<$ ``window[0]``. The stretch ends there for good: below it float64 round-off of
    the residual takes over, and a run that has reached its round-off floor bounces on it
    (heavy-ball at $\beta \approx 0.97$ sits at $3\cdot10^{-8}$ to $8\cdot10^{-8}$), so a
    later step back above ``window[0]`` is floor, not decay.
    """
    shape = ratio.shape[:-1]
    q = ratio.reshape(-1, ratio.shape[-1])
    steps = q.shape[-1] - 1
    t = np.arange(steps + 1)
    below = q <= window[1]
    first = np.where(below.any(-1), np.argmax(below, -1), steps)
    start = np.minimum(first, steps // 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        gone = (t >= start[:, None]) & ~(q >= window[0])  # below the band, or not finite
        end = np.where(gone.any(-1), np.argmax(gone, -1), steps + 1)
        mask = (t >= start[:, None]) & (t < end[:, None]) & (q > 0)
        logq = np.where(mask, np.log(np.where(q > 0, q, 1.0)), 0.0)
    n_pts = mask.sum(-1)
    ok = n_pts >= 3
    rho = np.full(q.shape[0], np.nan)
    if ok.any():
        fit = villani.fit_slope(np.broadcast_to(t, q[ok].shape).astype(float), logq[ok], mask=mask[ok])
        rho[ok] = np.exp(np.asarray(fit.slope))
    return rho.reshape(shape), n_pts.reshape(shape)


def _run_methods(c, net, data, w0, ev0, groups, steps):
    """Every method of ``groups`` on every problem: residual ratios (P, M, steps + 1),
    divergence flags, H's spectrum at the end, (eta, beta) on the paper's sum loss."""
    eta, beta = _hyper(np.maximum(ev0[:, 0], SINGULAR * ev0[:, -1]), ev0[:, -1])
    lr = c.n * eta  # villani's Objective is the mean loss Phi/n: the paper's eta is n*eta on L
    n_p = ev0.shape[0]
    r = np.full((n_p, len(METHODS), steps + 1), np.nan)
    diverged = np.zeros((n_p, len(METHODS)), bool)
    ev_end = np.full((n_p, len(METHODS), c.n), np.nan)
    for optimiser, cols in groups:
        cols = list(cols)
        out = _train(net, optimiser, steps, data, w0, jnp.asarray(lr[:, cols]), jnp.asarray(beta[:, cols]))
        r[:, cols], diverged[:, cols], ev_end[:, cols] = (np.asarray(a) for a in out)
    with np.errstate(all="ignore"):
        ratio = r / r[..., :1]
    ratio = np.where(diverged[..., None], np.nan, ratio)
    return ratio, diverged, ev_end, eta, beta


def _sweep(c, key, n, theta, widths, label_norm, narrow_hb=False):
    """GD, NAG and NAG with beta = 0.5 at each width on n = d inputs at angle theta and labels
    of norm ``label_norm`` (heavy-ball too on the narrowest net if ``narrow_hb``):
    one dict of spectra, rates and exact-theory rates per width."""
    cs = dataclasses.replace(c, n=n)
    out = []
    for m in widths:
        s_net, s_data, s_w0, s_ev0, _, s_seed, _ = _problems(
            cs, key, width=m, label_scale=label_norm, seeds=c.sweep_seeds, thetas=(theta,))
        groups = _SWEEP_GROUPS + (_NARROW_EXTRA if narrow_hb and m == min(widths) else ())
        s_ratio, s_div, s_end, s_eta, s_beta = _run_methods(cs, s_net, s_data, s_w0, s_ev0, groups,
                                                           c.sweep_steps)
        s_rho, s_pts = _rates(s_ratio, c.window)
        s_rho = np.where(s_pts >= 3, s_rho, np.nan)
        out.append(dict(experiment="width sweep" if narrow_hb else "onset sweep", width=m, theta=theta,
                        n=n, label_norm=label_norm, seed=s_seed, ev0=s_ev0, ev_end=s_end, rho=s_rho,
                        n_pts=s_pts, diverged=s_div,
                        exact=1 - _exact(s_ev0, s_eta, s_beta), eta=s_eta, beta=s_beta,
                        final_ratio=s_ratio[..., -1]))
    return out


def _exact(ev0, eta, beta):
    """1 - rho_exact per problem and method: the spectral radius of each method's linear
    iteration over all eigenvalues of H(0) (``villani.quadratic_rate``)."""
    return np.stack([np.asarray(_exact_rate(kind, jnp.asarray(ev0), jnp.asarray(eta[:, j]),
                                            jnp.asarray(beta[:, j])))
                     for j, kind in enumerate(_KINDS)], -1)


def run(config: Config = QUICK, key: jax.Array | None = None) -> Result:
    """Run the paper-004 reproduction (x64 must be on).

    Args:
        config: a :class:`Config` (``QUICK`` or ``FULL``).
        key: PRNG key (default ``jax.random.key(0)``).

    Returns:
        A :class:`~villani.experiments.result.Result` with one table row per
        (seed, angle, method) and one per narrow-net counter-example run, the figures and
        the verdicts.

    Example:
        >>> res = run(QUICK, jax.random.key(0))  # doctest: +SKIP
        >>> [v.as_expected for v in res.verdicts]  # doctest: +SKIP
    """
    if not jax.config.jax_enable_x64:
        raise RuntimeError("paper 004 needs float64 (ratios down to 1e-9): enable jax_enable_x64")
    t0 = time.perf_counter()
    key = jax.random.key(0) if key is None else key
    c = config

    t_main = time.perf_counter()
    net, data, w0, ev0, ev_inf, seed_idx, theta_p = _problems(c, key)  # ev: (P, n) ascending
    n_p = len(theta_p)
    kappa0, kappa_inf = _kappa(ev0), _kappa(ev_inf)
    if not np.all(np.isfinite(kappa0)):
        raise RuntimeError("paper 004: a problem has a singular H(0) (a sample activates no unit); "
                           "raise width")
    ratio, diverged, ev_end, eta, beta = _run_methods(c, net, data, w0, ev0, _GROUPS, c.steps)
    if diverged.any():
        p, j = np.argwhere(diverged)[0]
        raise FloatingPointError(f"paper 004: {METHODS[j]} diverged on problem theta={theta_p[p]}, "
                                 f"seed {seed_idx[p]} (eta={eta[p, j]:.3g}, beta={beta[p, j]:.3g})")
    kappa_end = _kappa(ev_end)
    drift = kappa_end / kappa0[:, None]
    rho, n_pts = _rates(ratio, c.window)
    if np.any(n_pts < 3):
        raise RuntimeError(f"paper 004: a run has < 3 points in the fit window {c.window}; raise steps")
    derived = _derived(kappa0)
    exact = 1 - _exact(ev0, eta, beta)
    t_main = time.perf_counter() - t_main

    t_sweep = time.perf_counter()
    sw = _sweep(c, jax.random.fold_in(key, 1), c.sweep_n, c.sweep_theta, c.sweep_widths, c.sweep_label_scale,
                narrow_hb=True)
    # labels of norm sqrt(n): |y_i| of order 1
    on = _sweep(c, jax.random.fold_in(key, 2), c.onset_n, c.onset_theta, c.onset_widths,
                math.sqrt(c.onset_n))
    t_sweep = time.perf_counter() - t_sweep

    n_m = len(METHODS)
    cols = ([j for _, cc in _SWEEP_GROUPS for j in cc])
    tab = {k: [] for k in ("experiment", "seed", "width", "label_norm", "theta", "method", "eta_sum_loss",
                           "beta", "kappa0", "kappa_inf", "kappa_end", "drift_flag", "rho", "rho_derived",
                           "rho_exact", "fit_points", "final_ratio")}
    for p in range(n_p):
        for j in range(n_m):
            for k, v in (("experiment", "lazy"), ("seed", seed_idx[p]), ("width", c.width),
                         ("label_norm", c.label_scale), ("theta", theta_p[p]), ("method", METHODS[j]),
                         ("eta_sum_loss", eta[p, j]), ("beta", beta[p, j]), ("kappa0", kappa0[p]),
                         ("kappa_inf", kappa_inf[p]), ("kappa_end", kappa_end[p, j]),
                         ("drift_flag", drift[p, j] > DRIFT_FLAG), ("rho", rho[p, j]),
                         ("rho_derived", derived[p, j]), ("rho_exact", 1 - exact[p, j]),
                         ("fit_points", n_pts[p, j]), ("final_ratio", ratio[p, j, -1])):
                tab[k].append(v)
    for d in sw + on:
        k0s, kes = _kappa(d["ev0"]), _kappa(d["ev_end"])
        for p in range(len(d["seed"])):
            for j in cols:
                for k, v in (("experiment", d["experiment"]), ("seed", d["seed"][p]), ("width", d["width"]),
                             ("label_norm", d["label_norm"]), ("theta", d["theta"]),
                             ("method", METHODS[j]), ("eta_sum_loss", d["eta"][p, j]),
                             ("beta", d["beta"][p, j]), ("kappa0", k0s[p]), ("kappa_inf", np.nan),
                             ("kappa_end", kes[p, j]), ("drift_flag", kes[p, j] / k0s[p] > DRIFT_FLAG),
                             ("rho", d["rho"][p, j]), ("rho_derived", _derived(k0s)[p, j]),
                             ("rho_exact", 1 - d["exact"][p, j]), ("fit_points", d["n_pts"][p, j]),
                             ("final_ratio", d["final_ratio"][p, j])):
                    tab[k].append(v)
    table = {k: np.asarray(v) for k, v in tab.items()}

    verdicts, slopes = _verdicts(kappa0, rho, derived, exact, n_pts, drift, sw, on, c)
    figures = _figures(kappa0, rho, exact, ratio, theta_p, sw, on, c)
    meta = {"config": dataclasses.asdict(c), "seconds": time.perf_counter() - t0,
            "main_seconds": t_main, "sweep_seconds": t_sweep,
            "device": jax.devices()[0].platform,
            "loss_convention": "paper: Phi = 1/2 sum (f-y)^2; villani L = Phi/n; lr = n*eta",
            "nag_iterate": "rates fitted on the look-ahead V_t (optax's iterate); same asymptotic "
                           "rate as W_t; H_end at W_T",
            "kappa_decades": float(np.log10(kappa0.max() / kappa0.min())),
            "slopes": slopes}
    return Result(paper="004", table=table, figures=figures, verdicts=verdicts, meta=meta)


def _slope_fit(kappa, one_minus_rho):
    """log(1 - rho) on log(kappa) for each column: (slope, CI) per column."""
    y = np.asarray(one_minus_rho, float).T
    ok = np.isfinite(y) & (y > 0)
    out = [(math.nan, (math.nan, math.nan))] * y.shape[0]
    rows = np.flatnonzero(ok.sum(-1) >= 3)  # a column with < 3 converging runs has no slope
    if rows.size:
        fits = villani.fit_slope(np.broadcast_to(kappa, y[rows].shape), np.where(ok[rows], y[rows], 1.0),
                                 log=True, mask=ok[rows])
        for i, j in enumerate(rows):
            out[j] = (float(fits.slope[i]), (float(fits.ci[i, 0]), float(fits.ci[i, 1])))
    return out


def _lazy_score(rho, exact):
    """max over runs of |log((1 - rho)/(1 - rho_exact))| (inf where a run diverged or stalled)."""
    with np.errstate(all="ignore"):
        q = np.abs(np.log((1 - rho) / exact))
    return float(np.max(np.where(np.isfinite(q), q, np.inf)))


def _verdicts(kappa0, rho, derived, exact, n_pts, drift, sw, on, c):
    vs: list[Verdict] = []
    meas = _slope_fit(kappa0, 1 - rho)
    theory = _slope_fit(kappa0, exact)
    slopes: dict[str, Any] = {name: {"measured": meas[j], "exact_theory": theory[j]}
                              for j, name in enumerate(METHODS)}
    span = math.log10(kappa0.max() / kappa0.min())
    detail = (f"n=d={c.n}, m={c.width}, labels × {c.label_scale:g}, {c.seeds} seeds x thetas {c.thetas}; "
              f"κ0 from {kappa0.min():.3g} to {kappa0.max():.3g} ({span:.2f} decades); rule fixed in "
              f"advance: |slope − exact theory's slope over the same κ0| ≤ {SLOPE_TOL}; 95% t-CI")

    def slope_rule(j):
        pred = theory[j][0]
        return Rule(lo=pred - SLOPE_TOL, hi=pred + SLOPE_TOL, units="slope")

    def slope_text(j):
        s, ci = meas[j]
        return f"slope {s:.3f}, CI [{ci[0]:.3f}, {ci[1]:.3f}]"

    for j, name, asym, tag, ctrl_j, ctrl_case in (
            (0, "gd", -1.0, "GD rate 1 − Θ(1/κ)", 1,
             "NAG (momentum scaled with κ) through GD's rule"),
            (1, "nag", -0.5, "NAG rate 1 − Θ(1/√κ)", 3, "NAG with a fixed β = 0.5"),
            (2, "heavy_ball", -0.5, "heavy-ball rate 1 − Θ(1/√κ)", 5, "heavy-ball with a fixed β = 0.5")):
        rule = slope_rule(j)
        vs.append(rule.verdict(
            f"[paper] {tag}: slope of log(1 − ρ) on log κ", meas[j][0],
            err=(meas[j][1][1] - meas[j][1][0]) / 2, measured=slope_text(j),
            predicted=f"{theory[j][0]:.3f} ± {SLOPE_TOL} (exact spectral-radius theory over the same κ0; "
                      f"asymptotically {asym:g})",
            control=rule.control(ctrl_case, meas[ctrl_j][0], measured=slope_text(ctrl_j)),
            detail=detail))
    # the measured rates equal the exact lazy-regime theory; control: the narrowest sweep width
    narrow = sw[0]
    rule = Rule(hi=math.log(EXACT_FACTOR), units="|log ratio|")
    cols = [0, 1]  # GD and NAG
    sweep_case = f"on the narrowest sweep net (m={narrow['width']}, ‖y‖={c.sweep_label_scale:g})"

    def exact_verdict(claim, j, runs, measured_tail, control_who, detail):
        """Measured rates of columns j against the exact theory; control: the narrowest sweep net."""
        score = _lazy_score(rho[:, j], exact[:, j])
        narrow_score = _lazy_score(narrow["rho"][:, j], narrow["exact"][:, j])
        return rule.verdict(
            claim, score,
            measured=f"max over {runs} runs of |log((1−ρ)/(1−ρ_exact))| = {score:.3g}{measured_tail}",
            predicted=f"within ×{EXACT_FACTOR} of the spectral radius over all eigenvalues of H(0)",
            control=rule.control(f"{control_who} {sweep_case}", narrow_score,
                                 measured=f"max |log ratio| {narrow_score:.3g}"),
            detail=detail)

    q = (1 - rho[:, :3]) / (1 - derived[:, :3])
    vs.append(exact_verdict(
        "[derived] lazy regime: GD's and NAG's measured rates are the exact linear theory's on H(0)",
        cols, "GD/NAG",
        f"; vs the asymptotic formulas (1−ρ)/(1−ρ_derived) in [{q.min():.3f}, {q.max():.3f}]", "GD and NAG",
        f"fit points per run: {int(n_pts[:, :3].min())}–{int(n_pts[:, :3].max())}; rate window: "
        f"from ratio {c.window[1]:g} (or the run's second half) to the first step below {c.window[0]:g}"))
    worst = int(np.nanargmax(np.abs(np.log((1 - rho[:, 2]) / exact[:, 2]))))
    vs.append(exact_verdict(
        "[derived] lazy regime: heavy-ball's measured rate is the exact linear theory's on H(0)",
        [2], "heavy-ball", f" (worst run: κ0 = {kappa0[worst]:.3g})", "heavy-ball",
        "heavy-ball at its optimal (η, β) has a double root on every mode (residual ∝ t ρ^t), "
        "so its fitted 1 − ρ sits ≈ 7 % below the spectral radius's. Earlier 'not reproduced' "
        "(one run at κ0 ≈ 2e4 5.6× slow) was the fit window: that run reaches its float64 "
        "round-off floor at ratio 3e-8…8e-8, above the old window bottom 1e-8, and the fit "
        "took ~2,400 floor steps as decay; the window is now one contiguous stretch from 1e-2 "
        "down to 1e-6, and that run's 1 − ρ is 0.0128 against the theory's 0.0138"))
    rule = Rule(hi=DRIFT_FLAG, units="κ_end/κ0")
    dmax = float(np.max(drift[:, :3]))

    def sweep_drift(d):
        with np.errstate(all="ignore"):
            v = _kappa(d["ev_end"][:, cols]) / _kappa(d["ev0"])[:, None]
        return float(np.max(np.where(np.isfinite(v), v, np.inf)))
    vs.append(rule.verdict(
        "[derived] lazy regime: H barely moves, so κ(H(0)) governs the rate", dmax,
        measured=f"max κ_end/κ0 = {dmax:.4f} over GD/NAG/HB runs", predicted=f"≤ {DRIFT_FLAG}",
        control=rule.control(f"the narrowest sweep net (m={narrow['width']}, ‖y‖={c.sweep_label_scale:g})",
                             sweep_drift(narrow), measured=f"max κ_end/κ0 = {sweep_drift(narrow):.3g}"),
        detail=f"labels normalised × {c.label_scale}; paired init, u(0) = 0"))
    # width sweep at realistic labels: where the lazy prediction starts to hold
    scores = [max(_lazy_score(d["rho"][:, cols], d["exact"][:, cols]), 0.0) for d in on]

    def abs_drift(d):  # max |log(κ_end/κ0)|: H moving either way is a moving pattern
        with np.errstate(all="ignore"):
            v = np.abs(np.log(_kappa(d["ev_end"][:, cols]) / _kappa(d["ev0"])[:, None]))
        return float(np.max(np.where(np.isfinite(v), v, np.inf)))
    abs_drifts = [abs_drift(d) for d in on]
    lazy_ok = [s_ <= math.log(EXACT_FACTOR) and d_ <= math.log(DRIFT_FLAG)
               for s_, d_ in zip(scores, abs_drifts)]
    first = next((d["width"] for i, (d, ok) in enumerate(zip(on, lazy_ok)) if ok and all(lazy_ok[i:])), None)
    sweep_txt = "; ".join(f"m={d['width']}: |log(1−ρ)/(1−ρ_exact)| ≤ {s_:.3g}, |log(κ_end/κ0)| ≤ {a_:.3g}"
                          for d, s_, a_ in zip(on, scores, abs_drifts))
    # both regimes in one number: the larger of the rate score and the drift, each in units
    # of its tolerance (<= 1: lazy, the exact theory on H(0) holds and H stays put)
    def lazy_excess(k):
        return max(scores[k] / math.log(EXACT_FACTOR), abs_drifts[k] / math.log(DRIFT_FLAG))
    rule = Rule(hi=1.0, units="× tolerance")
    vs.append(rule.verdict(
        f"[derived] at realistic labels (‖y‖ = √n) the widest net of the onset sweep "
        f"(m={on[-1]['width']}) is in the lazy regime: GD's and NAG's rates are the exact theory's on "
        f"H(0) (×{EXACT_FACTOR}) and κ_end/κ0 within ×{DRIFT_FLAG} of 1", lazy_excess(len(on) - 1),
        measured=sweep_txt + (f"; lazy from m = {first} on" if first else
                              f"; not lazy at any width up to {on[-1]['width']}"),
        predicted=f"max(|log ratio|/log {EXACT_FACTOR}, |log(κ_end/κ0)|/log {DRIFT_FLAG}) ≤ 1 once "
                  "wide enough",
        control=rule.control(f"the narrowest net of the onset sweep (m={on[0]['width']}): activation "
                             "patterns move",
                             lazy_excess(0), measured=f"{lazy_excess(0):.3g} × tolerance"),
        detail=f"n = d = {c.onset_n}, θ = {c.onset_theta}, ‖y‖ = {math.sqrt(c.onset_n):.3g}, "
               f"{c.sweep_seeds} seeds, {c.sweep_steps} steps, widths {c.onset_widths}; at n = {c.sweep_n}, "
               f"θ = {c.sweep_theta} (κ0 ≈ 20) no width ≤ {c.sweep_widths[-1]} is lazy; a weight moves by "
               "about ‖y‖/(√m λmin(H)) at these labels, so the "
               "onset width grows like (‖y‖/λmin)^2 (with n, and as θ shrinks); the onset is the "
               "smallest width from which every wider one is lazy"))
    # acceleration persists at realistic labels, at every width where both converge
    rule = Rule(lo=ACCEL, units="× √κ0")

    def accel(d, j):
        with np.errstate(all="ignore"):
            a = (1 - d["rho"][:, j]) / (1 - d["rho"][:, 0]) / np.sqrt(_kappa(d["ev0"]))
        return float(np.min(np.where(np.isfinite(a), a, -np.inf)))
    acc = [accel(d, 1) for d in sw]
    vs.append(rule.verdict(
        f"[paper] acceleration persists at realistic labels (‖y‖ = {c.sweep_label_scale:g}): "
        "(1−ρ_NAG)/(1−ρ_GD) ≥ √κ0/3 at every width", min(acc),
        measured="min over runs of (1−ρ_NAG)/((1−ρ_GD)√κ0): " + ", ".join(
            f"m={d['width']}: {a:.3g}" for d, a in zip(sw, acc)),
        predicted="(1−ρ_NAG)/(1−ρ_GD) ≈ √κ in the lazy regime; rule ≥ √κ0/3",
        control=rule.control("NAG with a fixed β = 0.5 in place of NAG", min(accel(d, 3) for d in sw),
                             measured=", ".join(f"m={d['width']}: {accel(d, 3):.3g}" for d in sw)),
        detail="κ0 of each run's own H(0); a diverged or stalled run counts as −inf"))
    # counter-example 1: fixed beta = 0.5 is not accelerated (NAG's rule, with NAG's prediction)
    rule = slope_rule(1)
    vs.append(rule.verdict(
        "[derived] counter-example: NAG with fixed β = 0.5 (not scaled with κ) has NAG's slope",
        meas[3][0], measured=slope_text(3),
        predicted=f"GD-like slope (exact theory {theory[3][0]:.3f}): β must grow with κ for acceleration",
        detail=detail, expected=False))
    # counter-example 2: beta = 0.999 at eta = 1/lambda_max is no faster than GD
    qq = (1 - rho[:, 4]) / (1 - rho[:, 0])
    rule = Rule(lo=1.0, units="× GD's 1−ρ")
    vs.append(rule.verdict(
        "[derived] counter-example: NAG with β = 0.999 at η = 1/λmax is at least as fast as GD",
        float(qq.min()), measured=f"(1-ρ_β=0.999)/(1-ρ_GD) in [{qq.min():.3f}, {qq.max():.3f}]",
        predicted="NAG's slow mode has |z| = √(β(1 − 1/κ)) ≈ 1 - 1/(2κ): about half GD's 1 - ρ",
        expected=False, detail="'at least as fast' means 1-ρ ≥ GD's on every problem"))
    # counter-example 3: the narrowest sweep net: kappa0 does not set GD's rate
    d = narrow
    with np.errstate(all="ignore"):
        qn = (1 - d["rho"][:, 0]) * _kappa(d["ev0"])
    sc = _lazy_score(d["rho"][:, :1], d["exact"][:, :1])
    rule = Rule(hi=math.log(RATE_FACTOR), units="|log ratio|")
    vs.append(rule.verdict(
        f"[derived] counter-example: on a narrow net (m={d['width']}, ‖y‖={c.sweep_label_scale:g}) "
        "κ(H(0)) still sets GD's rate: (1−ρ)κ0 within ×2 of 1 on every run", sc,
        measured=f"(1−ρ)κ0 in [{np.nanmin(qn):.3g}, {np.nanmax(qn):.3g}]; max |log((1−ρ)/(1−ρ_exact))| "
                 f"{sc:.3g}; κ_end/κ0 up to {sweep_drift(d):.3g}",
        predicted="H drifts (activation patterns move), so the rate detaches from κ0",
        expected=False, detail=f"θ={c.sweep_theta}, GD at η=1/λmax(H(0)); a diverged or stalled run "
                               "counts as outside"))
    return vs, slopes


def _figures(kappa0, rho, exact, ratio, theta_p, sw, on, c):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    names = {"gd": "GD", "nag": "NAG", "heavy_ball": "heavy-ball", "nag_beta0.5": r"NAG, $\beta=0.5$",
             "nag_beta0.999": r"NAG, $\beta=0.999$", "heavy_ball_beta0.5": r"heavy-ball, $\beta=0.5$"}
    plots.rate_vs_parameter(kappa0, {names[m]: 1 - rho[:, j] for j, m in enumerate(METHODS[:4])},
                            reference={"−1": -1.0, "−1/2": -0.5}, xlabel=r"measured $\kappa$ of $H(0)$",
                            ylabel=r"$1 - \rho$ (per-step rate)", ax=ax)
    order = np.argsort(kappa0)
    for j, m in enumerate(METHODS[:3]):
        ax.plot(kappa0[order], exact[order, j], "-", lw=0.8, color="0.5",
                label="exact spectral-radius theory" if j == 0 else None)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax.set_title("paper 004: GD vs NAG vs heavy-ball (lazy regime)", fontsize=10)
    fig.tight_layout()

    p = int(np.argmin(theta_p))  # the hardest problem of seed 0
    fig2 = plots.loss_curves(np.arange(ratio.shape[-1]),
                             {names.get(m, m): ratio[p, j] for j, m in enumerate(METHODS)},
                             ylabel=r"$\|r_t\| / \|r_0\|$", xlabel="step $t$",
                             title=fr"$\theta$ = {theta_p[p]}, $\kappa_0$ = {kappa0[p]:.3g} "
                                   "(shaded: fit band)")
    fig2.axes[0].axhspan(*c.window, color="0.9", zorder=0)
    fig2.axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig2.set_size_inches(9, 4.5)  # plots.loss_curves' figure lays itself out (constrained)

    fig3, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for sweep, ls, tag in ((sw, "o-", f"n={c.sweep_n}, θ={c.sweep_theta}"),
                           (on, "s--", f"n={c.onset_n}, θ={c.onset_theta}")):
        w = np.array([d["width"] for d in sweep])
        for j, lab in ((0, "GD"), (1, "NAG")):
            with np.errstate(all="ignore"):
                q = np.stack([np.abs(np.log((1 - d["rho"][:, j]) / d["exact"][:, j])) for d in sweep], 1)
                dr = np.stack([_kappa(d["ev_end"][:, j]) / _kappa(d["ev0"]) for d in sweep], 1)
            a1.plot(w, np.nanmax(np.where(np.isfinite(q), q, np.nan), 0), ls, ms=4, label=f"{lab}, {tag}")
            a2.plot(w, np.nanmax(np.where(np.isfinite(dr), dr, np.nan), 0), ls, ms=4, label=f"{lab}, {tag}")
    a1.axhline(math.log(EXACT_FACTOR), ls=":", color="0.3", label=f"rule: ×{EXACT_FACTOR}")
    a2.axhline(DRIFT_FLAG, ls=":", color="0.3", label=f"flag: {DRIFT_FLAG}")
    for a in (a1, a2):
        a.set_xscale("log")
        a.set_xlabel("width $m$")
        a.legend(fontsize=7)
    a1.set_ylabel(r"max $|\log\,(1-\rho)/(1-\rho_{\rm exact})|$")
    a2.set_yscale("log")
    a2.set_ylabel(r"max $\kappa_{\rm end}/\kappa_0$")
    fig3.suptitle("paper 004: width sweeps at realistic labels (‖y‖ = √n)", fontsize=10)
    fig3.tight_layout()
    return {"rate_vs_kappa": fig, "residuals": fig2, "width_sweep": fig3}


PAPER = Paper(id="004", title="Nesterov's accelerated gradient on two-layer ReLU nets",
              arxiv="2107.01832", quick=QUICK, full=FULL, run=run)
