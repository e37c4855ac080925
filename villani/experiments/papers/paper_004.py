r"""Paper 004: Nesterov's accelerated gradient on two-layer ReLU nets (arXiv 2107.01832).

Claim [paper] (Liu, Pan et al., abstract): on an over-parameterised two-layer ReLU net,
NAG drives the training error to zero at rate $1 - \Theta(1/\sqrt\kappa)$ while GD's rate is
$1 - \Theta(1/\kappa)$, with $\kappa > 1$ set by the initialisation and architecture;
heavy-ball behaves like NAG.

Setting (villani's choice, Du et al. 2019; PAPERS.md 004): $f(x) = \frac1{\sqrt m}\sum_r
a_r\,\mathrm{relu}(w_r\cdot x)$ with $a_r = \pm1$ fixed and paired (``nets.ntk_symmetric``,
so $u(0) = 0$), $w_r \sim N(0, I)$, $n = d$ unit inputs, only $W$ trained, labels normalised
then multiplied by ``label_scale`` (1e-3) so the activation patterns barely move. The
paper's loss is $\Phi(W) = \frac12\sum_i (f_i - y_i)^2$; villani's :class:`~villani.Objective`
is the mean $L = \Phi/n$, so every step size below is multiplied by $n$ when applied to
$\nabla L$ ($\eta_{\text{villani}} = n\,\eta$).

One knob sets $\kappa$: $x_n \leftarrow \cos\theta\,x_1 + \sin\theta\,v$ with $v \perp x_1$
a unit vector, so $\lambda_{\min}(H) \approx \theta/2\pi$. $\kappa$ is always the *measured*
condition number of the empirical Gram $H(0) = J J^\top$ (``villani.ntk``); $\kappa(H^\infty)$
(``villani.ntk_infinite``) and $\kappa(H_{\text{end}})$ are reported for every run, and runs
with $\kappa_{\text{end}}/\kappa_0 > 1.2$ are flagged.

Derivation [derived] (villani's, not the paper's constants): in the lazy regime the residual
$r_t = u_t - y$ obeys $r_{t+1} \approx (I - \eta H) r_t$, so quadratic theory applies:

- GD, $\eta = 1/\lambda_{\max}$: $\rho = 1 - 1/\kappa$;
- NAG ($V_t = W_t + \beta(W_t - W_{t-1})$, $W_{t+1} = V_t - \eta\nabla\Phi(V_t)$),
  $\eta = 1/\lambda_{\max}$, $\beta = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)$: $\rho \approx 1 - 1/\sqrt\kappa$;
- heavy-ball ($W_{t+1} = W_t - \eta\nabla\Phi(W_t) + \beta(W_t - W_{t-1})$),
  $\eta = 4/(\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}})^2$,
  $\beta = ((\sqrt\kappa-1)/(\sqrt\kappa+1))^2$: $\rho = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)$.

The exact linear-theory rate (spectral radius of the iteration over all eigenvalues of
$H(0)$, ``villani.quadratic_rate``) is reported beside each. The measured per-step rate
$\rho$ is the least-squares log-slope of $\|r_t\|/\|r_0\|$ over $10^{-9} < $ ratio $< 10^{-2}$
(``villani.fit_rate``); $\log(1-\rho)$ is regressed on $\log\kappa$ (``villani.fit_slope``):
slope $\approx -1$ for GD and $\approx -1/2$ for NAG and heavy-ball.

Counter-examples: NAG with a fixed $\beta = 0.5$ (not scaled with $\kappa$) has a GD-like
slope, so its "accelerated" verdict must come out False; NAG with $\beta = 0.999$ at
$\eta = 1/\lambda_{\max}$ is slower than GD; a *narrow* net ($m = 16$, labels $\|y\| = 10$)
where the activation patterns move, $H$ drifts, and GD's rate detaches from $\kappa(H(0))$
(it follows $\lambda_{\min}(H_{\text{end}})$ instead), so "$(1-\rho)\kappa_0 \approx 1$"
must come out False there.

Runs: one :func:`villani.train` call per optimiser, vmapped over all problems (seeds x
angles) with the step sizes and momenta traced: ``optim.gd`` for GD, ``optim.nesterov``
for NAG and both NAG counter-examples (one call, an inner vmap over the three
$(\eta, \beta)$ pairs), ``optim.heavy_ball``; step sizes and momenta from
``optim.gd_lr``, ``optim.nag_momentum``, ``optim.heavy_ball_params`` on the measured
$H(0)$ spectrum. The residual norm is read off the recorded loss: $L = \frac1n\sum_i
\frac12 r_i^2$, so $\|r_t\| = \sqrt{2nL_t}$.

NAG iterate: optax's Nesterov iterate (the one ``train`` records the loss at) is the
paper's look-ahead point $V_t = W_t + \beta(W_t - W_{t-1})$, not $W_t$ (``optim.nesterov``
docstring). In the lazy regime both are linear images of the same two-step recursion,
$V_t - W^* = (1+\beta)(W_t - W^*) - \beta(W_{t-1} - W^*)$, so both decay like $|z|^t$ with
$|z|$ the recursion's spectral radius: the fitted rate is the same. The test
``test_nag_rate_same_on_w_iterate`` checks it against an independent scan of the paper's
$W_t$ recursion (on the hardest QUICK problem $1-\rho$ agrees to 4e-6 relative; tolerance
1e-3). $H_{\text{end}}$ is taken at the paper's $W_T$ (``optim.nesterov_w``).

Needs float64 (ratios down to 1e-9).
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
from villani.experiments.result import Paper, Result, Verdict
from villani.losses import Objective

__all__ = ["Config", "FULL", "PAPER", "QUICK", "run"]

# "nag_beta0.5" and "nag_beta0.999" are the counter-examples.
METHODS = ("gd", "nag", "heavy_ball", "nag_beta0.5", "nag_beta0.999")
_KINDS = ("gd", "nag", "heavy_ball", "nag", "nag")  # quadratic_rate's name for each method
# one vmapped ``train`` call per optimiser; the columns of METHODS each one runs
_OPTIMISERS = {"gd": lambda lr, beta: optim.gd(lr), "nesterov": optim.nesterov,
               "heavy_ball": optim.heavy_ball}
_GROUPS = (("gd", (0,)), ("nesterov", (1, 3, 4)), ("heavy_ball", (2,)))

# Tolerances stated before measuring (PAPERS.md 004 asks for "a stated factor").
SLOPE_TOL = 0.2  # |slope - predicted| <= 0.2 counts as "≈"
RATE_FACTOR = 2.0  # (1 - rho_measured)/(1 - rho_derived) within [1/2, 2]
# against the exact spectral radius over all eigenvalues of H(0); looser than it looks
# needed because inside a finite window the slowest mode may carry little of r_0
EXACT_FACTOR = 1.5
DRIFT_FLAG = 1.2  # kappa_end / kappa0 above this flags a run
SINGULAR = 1e-10  # lambda_min(H(0)) / lambda_max below this: H(0) singular (narrow net)


@dataclasses.dataclass(frozen=True)
class Config:
    """Knobs of the paper-004 reproduction.

    Attributes:
        n: samples (= input dimension d).
        width: hidden units m (even; paired init).
        thetas: the angles between x_1 and x_n (the kappa knob).
        seeds: independent data/initialisation draws per angle.
        steps: iterations of every method.
        label_scale: labels are normalised to unit norm then multiplied by this.
        window: the ratio window of the rate fit.
        narrow_width, narrow_label_scale, narrow_seeds, narrow_theta: the narrow-net
            counter-example (GD only, one angle).
    """

    n: int = 16
    width: int = 1024
    thetas: tuple[float, ...] = (0.3, 0.1, 0.03)
    seeds: int = 2
    steps: int = 2500
    label_scale: float = 1e-3
    window: tuple[float, float] = (1e-9, 1e-2)
    narrow_width: int = 16
    narrow_label_scale: float = 10.0
    narrow_seeds: int = 8
    narrow_theta: float = 0.3


QUICK = Config()
FULL = Config(width=16384, thetas=(0.3, 0.1, 0.03, 0.01, 0.003), seeds=8, steps=60_000,
              narrow_seeds=32)


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


def _problems(c: Config, key, *, narrow: bool = False):
    """The (seed, angle) problems of ``run``: net, data, W_0, spectra of H(0) and H^inf.

    ``narrow=True`` gives the narrow-net counter-example's problems instead.
    """
    if narrow:
        width, label_scale, seeds, thetas = c.narrow_width, c.narrow_label_scale, c.narrow_seeds, \
            np.array([c.narrow_theta])
        key = jax.random.fold_in(key, 1)
    else:
        width, label_scale, seeds, thetas = c.width, c.label_scale, c.seeds, np.asarray(c.thetas, float)
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
                     (lr, 0.5), (lr, 0.999)])
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
    return np.stack([1 - 1 / kappa, 1 - 1 / sk, (sk - 1) / (sk + 1),
                     np.full_like(kappa, np.nan), np.full_like(kappa, np.nan)], -1)


@functools.partial(jax.jit, static_argnums=1)
def _fit(ratio, window):
    return villani.fit_rate(ratio, steps=jnp.arange(ratio.shape[-1]), window="auto",
                            auto_bounds=window)


def _rates(ratio, window):
    """Fitted per-step contraction rho and fit points of every run (leading axes kept)."""
    fit = _fit(jnp.asarray(ratio.reshape(-1, ratio.shape[-1])), window)
    shape = ratio.shape[:-1]
    return np.asarray(fit.contraction).reshape(shape), np.asarray(fit.n_points).reshape(shape)


def _narrow(c: Config, key):
    """The narrow-net counter-example: GD at eta = 1/lambda_max(H(0)) on m = narrow_width."""
    net, data, w0, ev0, _, seed_idx, _ = _problems(c, key, narrow=True)
    lmax = ev0[:, -1]
    lr = c.n * np.array([[optim.gd_lr(v)] for v in lmax.tolist()])
    r, diverged, ev_end = (np.asarray(a)[:, 0] for a in _train(
        net, "gd", c.steps, data, w0, jnp.asarray(lr), jnp.zeros_like(jnp.asarray(lr))))
    ratio = r / r[:, :1]
    rho, n_pts = _rates(ratio, c.window)
    rho = np.where((n_pts >= 3) & ~diverged, rho, np.nan)
    exact = np.asarray(_exact_rate("gd", jnp.asarray(ev0), jnp.asarray(lr[:, 0] / c.n),
                                   jnp.zeros(len(lmax))))
    return {"seed": seed_idx, "ev0": ev0, "ev_end": ev_end, "rho": rho, "n_pts": n_pts,
            "eta": lr[:, 0] / c.n, "exact": exact, "final_ratio": ratio[:, -1]}


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

    t_setup = time.perf_counter()
    net, data, w0, ev0, ev_inf, seed_idx, theta_p = _problems(c, key)  # ev: (P, n) ascending
    n_p = len(theta_p)
    lmin, lmax = ev0[:, 0], ev0[:, -1]
    kappa0, kappa_inf = _kappa(ev0), _kappa(ev_inf)
    if not np.all(np.isfinite(kappa0)):
        raise RuntimeError("paper 004: a problem has a singular H(0) (a sample activates no unit); "
                           "raise width")
    eta, beta = _hyper(lmin, lmax)
    # villani's Objective is the mean loss Phi/n: its gradient is grad(Phi)/n, so the
    # paper's step eta on Phi is the step n*eta on L.
    lr = c.n * eta
    t_setup = time.perf_counter() - t_setup

    t_train = time.perf_counter()
    n_m = len(METHODS)
    r = np.empty((n_p, n_m, c.steps + 1))
    diverged = np.empty((n_p, n_m), bool)
    ev_end = np.empty((n_p, n_m, c.n))
    for optimiser, cols in _GROUPS:
        cols = list(cols)
        out = _train(net, optimiser, c.steps, data, w0, jnp.asarray(lr[:, cols]),
                     jnp.asarray(beta[:, cols]))
        r[:, cols], diverged[:, cols], ev_end[:, cols] = (np.asarray(a) for a in out)
    t_train = time.perf_counter() - t_train
    if diverged.any():
        p, j = np.argwhere(diverged)[0]
        raise FloatingPointError(f"paper 004: {METHODS[j]} diverged on problem theta={theta_p[p]}, "
                                 f"seed {seed_idx[p]} (eta={eta[p, j]:.3g}, beta={beta[p, j]:.3g})")
    ratio = r / r[..., :1]
    kappa_end = _kappa(ev_end)
    drift = kappa_end / kappa0[:, None]

    rho, n_pts = _rates(ratio, c.window)
    if np.any(n_pts < 3):
        raise RuntimeError(f"paper 004: a run has < 3 points in the fit window {c.window}; raise steps")
    derived = _derived(kappa0)
    exact = np.stack([np.asarray(_exact_rate(kind, jnp.asarray(ev0), jnp.asarray(eta[:, j]),
                                             jnp.asarray(beta[:, j])))
                      for j, kind in enumerate(_KINDS)], -1)

    t_narrow = time.perf_counter()
    nar = _narrow(c, key)
    t_narrow = time.perf_counter() - t_narrow
    k0n, kendn = _kappa(nar["ev0"]), _kappa(nar["ev_end"])
    n_n = len(k0n)

    def cat(main, narrow):
        return np.concatenate([np.asarray(main).ravel(), np.asarray(narrow).ravel()])

    table = {
        "seed": cat(np.repeat(seed_idx, n_m), nar["seed"]),
        "width": cat(np.full(n_p * n_m, c.width), np.full(n_n, c.narrow_width)),
        "label_norm": cat(np.full(n_p * n_m, c.label_scale), np.full(n_n, c.narrow_label_scale)),
        "theta": cat(np.repeat(theta_p, n_m), np.full(n_n, c.narrow_theta)),
        "method": cat(np.tile(np.array(METHODS), n_p), np.full(n_n, "gd")),
        "eta_sum_loss": cat(eta, nar["eta"]),
        "beta": cat(beta, np.zeros(n_n)),
        "kappa0": cat(np.repeat(kappa0, n_m), k0n),
        "kappa_inf": cat(np.repeat(kappa_inf, n_m), np.full(n_n, np.nan)),
        "kappa_end": cat(kappa_end, kendn),
        "drift_flag": cat(drift > DRIFT_FLAG, kendn / k0n > DRIFT_FLAG),
        "rho": cat(rho, nar["rho"]),
        "rho_derived": cat(derived, 1 - 1 / k0n),
        "rho_exact": cat(exact, nar["exact"]),
        "fit_points": cat(n_pts, nar["n_pts"]),
        "final_ratio": cat(ratio[..., -1], nar["final_ratio"]),
    }

    verdicts, slopes = _verdicts(kappa0, rho, derived, exact, n_pts, drift, nar, c)
    figures = _figures(kappa0, rho, ratio, theta_p, c)
    meta = {"config": dataclasses.asdict(c), "seconds": time.perf_counter() - t0,
            "setup_seconds": t_setup, "train_seconds": t_train, "narrow_seconds": t_narrow,
            "device": jax.devices()[0].platform,
            "loss_convention": "paper: Phi = 1/2 sum (f-y)^2; villani L = Phi/n; lr = n*eta",
            "nag_iterate": "rates fitted on the look-ahead V_t (optax's iterate); same asymptotic "
                           "rate as W_t; H_end at W_T",
            "slopes": slopes}
    return Result(paper="004", table=table, figures=figures, verdicts=verdicts, meta=meta)


@jax.jit
def _slopes(kappa, one_minus_rho):
    """log(1 - rho) on log(kappa), one fit per method (rows), in one compiled call."""
    k = jnp.broadcast_to(kappa, one_minus_rho.shape)
    return villani.fit_slope(k, one_minus_rho, log=True, mask=one_minus_rho > 0)


def _verdicts(kappa0, rho, derived, exact, n_pts, drift, nar, c):
    vs: list[Verdict] = []
    fits = _slopes(jnp.asarray(kappa0), jnp.asarray((1 - rho[:, :4]).T))
    slopes: dict[str, Any] = {
        name: (float(fits.slope[j]), (float(fits.ci[j, 0]), float(fits.ci[j, 1])))
        for j, name in enumerate(METHODS[:4])}
    span = math.log10(kappa0.max() / kappa0.min())
    detail = (f"n=d={c.n}, m={c.width}, {c.seeds} seeds x thetas {c.thetas}; kappa0 from "
              f"{kappa0.min():.3g} to {kappa0.max():.3g} ({span:.2f} decades); 95% CI; "
              f"'≈' means within {SLOPE_TOL} of the prediction")
    for name, pred, tag in (("gd", -1.0, "GD rate 1 - Θ(1/κ)"), ("nag", -0.5, "NAG rate 1 - Θ(1/√κ)"),
                            ("heavy_ball", -0.5, "heavy-ball rate 1 - Θ(1/√κ)")):
        s, ci = slopes[name]
        vs.append(Verdict(
            claim=f"[paper] {tag}: slope of log(1-ρ) on log κ ≈ {pred}",
            measured=f"slope {s:.3f}, CI [{ci[0]:.3f}, {ci[1]:.3f}]",
            predicted=f"{pred}", holds=bool(abs(s - pred) <= SLOPE_TOL), detail=detail))
    # each rate within a factor of its derived value and of the exact linear-theory radius
    for j, name in enumerate(METHODS[:3]):
        q = (1 - rho[:, j]) / (1 - derived[:, j])
        e = (1 - rho[:, j]) / (1 - exact[:, j])
        ok = bool(np.all((q >= 1 / RATE_FACTOR) & (q <= RATE_FACTOR))
                  and np.all((e >= 1 / EXACT_FACTOR) & (e <= EXACT_FACTOR)))
        vs.append(Verdict(
            claim=f"[derived] {name}: measured rate matches the lazy-regime linear theory",
            measured=(f"(1-ρ)/(1-ρ_derived) in [{q.min():.3f}, {q.max():.3f}]; "
                      f"(1-ρ)/(1-ρ_exact) in [{e.min():.3f}, {e.max():.3f}]"),
            predicted=f"within ×{RATE_FACTOR} of the asymptotic formula and ×{EXACT_FACTOR} "
                      "of the exact spectral radius over all eigenvalues of H(0)",
            holds=ok, detail=f"fit points per run: {int(n_pts[:, j].min())}–{int(n_pts[:, j].max())}"))
    dmax = float(drift[:, :3].max())
    vs.append(Verdict(
        claim="[derived] lazy regime: H barely moves, so κ(H(0)) governs the rate",
        measured=f"max κ_end/κ0 = {dmax:.3f} over GD/NAG/HB runs",
        predicted=f"≤ {DRIFT_FLAG}", holds=bool(dmax <= DRIFT_FLAG),
        detail=f"labels normalised × {c.label_scale}; paired init, u(0) = 0"))
    # counter-example 1: fixed beta = 0.5 is not accelerated
    s, ci = slopes["nag_beta0.5"]
    vs.append(Verdict(
        claim="[derived] counter-example: NAG with fixed β = 0.5 (not scaled with κ) is accelerated "
              "(slope ≈ -1/2)",
        measured=f"slope {s:.3f}, CI [{ci[0]:.3f}, {ci[1]:.3f}]",
        predicted="GD-like slope ≈ -1 (β must grow with κ for acceleration)",
        holds=bool(abs(s + 0.5) <= SLOPE_TOL), detail=detail, expected=False))
    # counter-example 2: beta = 0.999 at eta = 1/lambda_max is no faster than GD
    q = (1 - rho[:, 4]) / (1 - rho[:, 0])
    vs.append(Verdict(
        claim="[derived] counter-example: NAG with β = 0.999 at η = 1/λmax is at least as fast as GD",
        measured=f"(1-ρ_β=0.999)/(1-ρ_GD) in [{q.min():.3f}, {q.max():.3f}]",
        predicted="NAG's slow mode has |z| = √(β(1 - 1/κ)) ≈ 1 - 1/(2κ): about half GD's 1 - ρ",
        holds=bool(np.all(q >= 1.0)), expected=False,
        detail="'at least as fast' means 1-ρ ≥ GD's on every problem"))
    # counter-example 3: a narrow net, large labels: H drifts and GD's rate detaches from kappa0
    # a problem where some sample activates no unit has a singular H(0) (kappa0 undefined):
    # those are left out and counted
    ok = np.isfinite(_kappa(nar["ev0"]))
    ev0, ev_end, rho_n = nar["ev0"][ok], nar["ev_end"][ok], nar["rho"][ok]
    if not ok.any():
        raise RuntimeError("paper 004: every narrow-net problem has a singular H(0); raise narrow_width")
    k0 = _kappa(ev0)
    q = (1 - rho_n) * k0  # 1 under the lazy theory (GD at eta = 1/lambda_max(H0))
    dr = _kappa(ev_end) / k0
    # GD's slow mode with H_end's lambda_min (where H_end is not singular)
    q_end = np.where(np.isfinite(dr), (1 - rho_n) * ev0[:, -1] / np.abs(ev_end[:, 0]), np.nan)
    inside = np.isfinite(q) & (q >= 1 / RATE_FACTOR) & (q <= RATE_FACTOR)
    vs.append(Verdict(
        claim=f"[derived] counter-example: on a narrow net (m={c.narrow_width}, "
              f"‖y‖={c.narrow_label_scale:g}) κ(H(0)) still sets GD's rate: (1-ρ)κ0 within ×2 "
              "of 1 on every problem",
        measured=(f"(1-ρ)κ0 in [{np.nanmin(q):.3g}, {np.nanmax(q):.3g}], outside ×{RATE_FACTOR} on "
                  f"{int((~inside).sum())}/{len(q)} runs; κ_end/κ0 in [{dr.min():.3g}, {dr.max():.3g}]"),
        predicted="H drifts (activation patterns move), so the rate detaches from κ0",
        holds=bool(inside.all()), expected=False,
        detail=(f"θ={c.narrow_theta}, {len(q)} seeds, GD at η=1/λmax(H(0)); with H_end's λmin instead, "
                f"(1-ρ)λmax(H0)/λmin(H_end) in [{np.nanmin(q_end):.3g}, {np.nanmax(q_end):.3g}]; "
                f"runs not reaching the fit window count as outside; {int((~ok).sum())} problem(s) "
                f"with singular H(0) left out")))
    return vs, slopes


def _figures(kappa0, rho, ratio, theta_p, c):
    fig = plots.rate_vs_parameter(
        kappa0, {name: 1 - rho[:, j] for j, name in enumerate(METHODS[:4])},
        reference={"−1": -1.0, "−1/2": -0.5}, xlabel="measured κ of H(0)",
        ylabel="1 − ρ (per-step rate)", title="paper 004: GD vs NAG vs heavy-ball")
    p = int(np.argmin(theta_p))  # the hardest problem of seed 0
    fig2 = plots.loss_curves(np.arange(ratio.shape[-1]),
                             {name: ratio[p, j] for j, name in enumerate(METHODS)},
                             ylabel="‖r_t‖ / ‖r_0‖", xlabel="step t",
                             title=f"θ = {theta_p[p]}, κ0 = {kappa0[p]:.3g} (shaded: fit window)")
    fig2.axes[0].axhspan(*c.window, color="0.9", zorder=0)
    return {"rate_vs_kappa": fig, "residuals": fig2}


PAPER = Paper(id="004", title="Nesterov's accelerated gradient on two-layer ReLU nets",
              arxiv="2107.01832", quick=QUICK, full=FULL, run=run)
