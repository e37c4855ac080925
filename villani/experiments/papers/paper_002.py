r"""Paper 002: proxy convexity and proxy PL inequalities (Frei & Gu, arXiv 2106.13792).

Claim [paper] (abstract, NeurIPS 2021): $f$ is $(g, h)$-proxy convex if
$\langle\nabla f(w), w - v\rangle \ge g(w) - h(v)$; with a proxy PL inequality (a lower bound
on $\|\nabla f\|$ by a function of the proxy $g$) gradient descent makes the *proxy* small,
which unifies analyses of single neurons and two-layer leaky-ReLU nets. The paper's exact
constants could not be read (PAPERS.md), so every bound checked here is villani's
derivation [derived], computed by ``villani.proxy_pl`` and the worked examples
``villani.diagnostics.single_neuron_proxy`` / ``two_layer_classifier_proxy``:

- along GD, $\frac1T\sum_{t<T} g(w_t) \le h(v) + \frac{\|w_0 - v\|^2}{2\eta T} +
  \frac{\eta}{2T}\sum_{t<T}\|\nabla f(w_t)\|^2$ (averaged bound), and with
  $\|\nabla f\| \ge \mu g^a$, $\min_{t<T} g(w_t) \le (\sqrt{2 f(w_0)/(\eta T)}/\mu)^{1/a}$;
- (E1) single leaky-ReLU neuron, slope $\gamma$, realisable labels $y = \sigma(v^*\cdot x)$,
  $F = \frac1n\sum\frac12(\sigma(w\cdot x_i) - y_i)^2$: $\langle\nabla F(w), w - v^*\rangle \ge
  2\gamma F(w)$, so $\|\nabla F\| \ge 2\gamma F/\|w - v^*\|$; $\|w_t - v^*\|$ does not grow
  along GD, so $\mu = 1/\|w_0 - v^*\|$, $a = 1$;
- (E2) two-layer leaky-ReLU classifier (slope $\gamma_l$), $a_j = \pm1/\sqrt m$ fixed, logistic
  loss, data with margin $\gamma_m$: $\|\nabla L(W)\|_F \ge \gamma_l\gamma_m G(W)$ with
  $G = \frac1n\sum_i -\ell'(y_if_i)$, and the 0-1 error is $\le 2G$.

Settings (villani's choice where PAPERS.md gives none): E1 inputs $x \sim N(0, I_d)$,
$v^*$ a random unit vector, $w_0 \sim N(0, I_d/d)$; E2 unit inputs with margin
(``villani.data.margin_separable``), $\gamma_l = 0.1$, $W_0 \sim N(0, 0.1^2/d)$.

Counter-example: ReLU ($\gamma = 0$) on inputs with a constant last coordinate, started at
$w_0 = -e_d$ so the unit is inactive on every sample: the gradient is exactly 0 while
$F > 0$, nothing moves; the same start with $\gamma = 0.1$ converges.

Every GD run is a :func:`villani.train` call (``optim.gd``) recording $w_t$ at every step;
the leaky slope is static in a villani net, so each $\gamma$ (and each width) is its own
compiled run, and the proxy checks (``villani.proxy_pl``) are one call vmapped over
$\gamma$. E1's villani net is one unit with fixed outer weight 1 (standard
parametrization), E2's has the paired fixed outer weights $\pm1$ under the NTK scale
$1/\sqrt m$, i.e. $a_j = \pm1/\sqrt m$; their losses are the helpers' $F$ and $L$.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

import villani
from villani import optim
from villani.data import Dataset, margin_separable
from villani.experiments.result import Paper, Result, Verdict
from villani.losses import Objective

__all__ = ["Config", "FULL", "PAPER", "QUICK", "run"]

FLOOR = 1e-20  # F/F(w0) below which single-neuron records are round-off (float64)
RTOL = 1e-10  # round-off slack for inequalities that hold with equality in exact arithmetic


@dataclasses.dataclass(frozen=True)
class Config:
    """Knobs of the paper-002 reproduction.

    Attributes:
        d1, n1, gammas, lr1, steps1: E1 (single neuron) dimension, samples, leaky slopes,
            GD step, steps.
        d2, n2, margin, widths, slope2, lr2, steps2, init2: E2 (two-layer classifier).
        counter_steps: steps of the counter-example (and its gamma = 0.1 twin).
    """

    d1: int = 20
    n1: int = 500
    gammas: tuple[float, ...] = (0.0, 0.05, 0.1, 0.5, 1.0)
    lr1: float = 0.1
    steps1: int = 500
    d2: int = 50
    n2: int = 200
    margin: float = 0.1
    widths: tuple[int, ...] = (10, 50)
    slope2: float = 0.1
    lr2: float = 0.5
    steps2: int = 300
    init2: float = 0.1
    counter_steps: int = 500


QUICK = Config()
FULL = Config(n1=2000, steps1=2000, n2=500, widths=(10, 100, 1000), steps2=2000, counter_steps=2000)


# one optimiser object per step size: train compiles once per (optimiser object, net, shapes)
_gd = functools.cache(optim.gd)


def _w(params):
    """The metric recorded along GD: the first-layer weights (module level: one compile)."""
    return params["w"]


def _gd_path(net, data, loss: str, w0, lr: float, steps: int):
    """GD iterates w_0..w_{T-1} by ``villani.train`` (proxy_pl needs consecutive records)."""
    obj = Objective(net, data, loss)
    traj = villani.train(obj, _gd(lr), {"w": w0}, steps, key=jax.random.key(0), metrics={"w": _w})
    traj.raise_if_diverged(lr=lr)
    return traj.metrics["w"][:-1]


def _neuron_path(x, v_star, w0, gamma: float, lr: float, steps: int):
    r"""GD on the single leaky-ReLU neuron, $F(w) = \frac1n\sum_i\frac12(\sigma(w\cdot x_i) - y_i)^2$.

    $y_i = \sigma(v^*\cdot x_i)$. As a villani net: one unit, standard parametrization,
    fixed outer weight 1, so its squared-loss :class:`~villani.Objective` is the helper's
    $F$ (``single_neuron_proxy``).
    The slope is static in the net, so each $\gamma$ is its own compiled run.
    """
    net = villani.nets.two_layer(1, villani.nets.activation("leaky_relu", slope=gamma),
                                 parametrization="standard", train_outer=False)
    data = Dataset(x, net.apply({"w": v_star[None]}, x))
    return _gd_path(net, data, "squared", w0[None], lr, steps)[:, 0]


@jax.jit
@functools.partial(jax.vmap, in_axes=(None, None, None, 0, 0, None))
def _neuron(x, v_star, w0, gamma, path, lr):
    ex = villani.diagnostics.single_neuron_proxy(x, v_star, gamma)
    mu = 1.0 / jnp.linalg.norm(w0 - v_star)
    res = villani.proxy_pl(ex.objective, path, ex.proxy, v=ex.v, h_v=ex.h_v, a=1.0, xi=0.0,
                           mu=mu, lr=lr, rtol=RTOL)
    dist = jnp.linalg.norm(path - v_star, axis=1)
    lower = jax.vmap(ex.grad_lower_bound)(path)
    return res, dist, lower


def _neurons(x, v_star, w0, gammas, lr, steps):
    """GD for every gamma (one train call each), then the proxy checks vmapped over gamma."""
    paths = jnp.stack([_neuron_path(x, v_star, w0, g, lr, steps) for g in gammas])
    return _neuron(x, v_star, w0, jnp.asarray(gammas, dtype=float), paths, lr)


@functools.partial(jax.jit, static_argnums=(4,))
def _classifier(x, y, outer, path, slope_margin, lr):
    slope, margin = slope_margin
    ex = villani.diagnostics.two_layer_classifier_proxy(x, y, outer, slope, margin)
    res = villani.proxy_pl(ex.objective, path, ex.proxy, a=1.0, xi=0.0, mu=ex.mu, lr=lr, rtol=RTOL)
    f = jax.vmap(lambda W: jnp.where(x @ W.T >= 0, x @ W.T, slope * (x @ W.T)) @ outer)(path)
    err01 = jnp.mean(y * f <= 0, axis=1)
    return res, err01


def run(config: Config = QUICK, key: jax.Array | None = None) -> Result:
    """Run the paper-002 reproduction (E1 single neuron, E2 two-layer classifier, counter-example).

    Args:
        config: a :class:`Config` (``QUICK`` or ``FULL``).
        key: PRNG key (default ``jax.random.key(0)``).

    Returns:
        A :class:`~villani.experiments.result.Result`; the table has one row per run
        (experiment, gamma or width).

    Example:
        >>> res = run(QUICK, jax.random.key(0))  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    key = jax.random.key(0) if key is None else key
    c = config
    k1, k2, k3 = jax.random.split(key, 3)

    # ---- E1: single neuron, vmapped over gamma
    kx, kv, kw = jax.random.split(k1, 3)
    x1 = jax.random.normal(kx, (c.n1, c.d1))
    v_star = jax.random.normal(kv, (c.d1,))
    v_star = v_star / jnp.linalg.norm(v_star)
    w0 = jax.random.normal(kw, (c.d1,)) / np.sqrt(c.d1)
    res1, dist, lower = _neurons(x1, v_star, w0, c.gammas, c.lr1, c.steps1)
    res1 = jax.tree_util.tree_map(np.asarray, res1)
    dist, lower = np.asarray(dist), np.asarray(lower)
    loss1 = res1.loss
    scale = np.maximum(np.abs(loss1[:, :1]), 1e-300)
    gap_min = np.min(res1.convexity_gap / scale, axis=1)  # relative to F(w0)
    dist_incr = np.max(np.diff(dist, axis=1) / dist[:, :1], axis=1)
    # above the round-off floor only: at F/F(w0) < 1e-20 (distance to v* ~ 1e-10 relative)
    # both sides of the inequality are round-off
    live = loss1 > FLOOR * scale
    pl_fail = np.any(live & (res1.grad_norm < lower * (1 - RTOL)), axis=1)
    expo = _exponents(loss1, res1.grad_norm)

    # ---- E2: two-layer leaky-ReLU classifier, one run per width
    ds = margin_separable(k2, c.n2, c.d2, c.margin)
    rows2 = []
    act2 = villani.nets.activation("leaky_relu", slope=c.slope2)
    for j, m in enumerate(c.widths):
        # NTK scale 1/sqrt(m) times the paired fixed outer weights +-1: a_j = +-1/sqrt(m)
        net2 = villani.nets.two_layer(m, act2, parametrization="ntk", train_outer=False)
        outer = net2.scale * net2.fixed_outer()
        w0m = c.init2 * jax.random.normal(jax.random.fold_in(k2, j), (m, c.d2)) / np.sqrt(c.d2)
        path = _gd_path(net2, ds, "logistic", w0m, c.lr2, c.steps2)
        res2, err01 = _classifier(ds.x, ds.y, outer, path, (c.slope2, c.margin), c.lr2)
        rows2.append((m, jax.tree_util.tree_map(np.asarray, res2), np.asarray(err01)))

    # ---- counter-example: every unit inactive on every sample
    counter = _counter(k3, c)

    table = _table(c, res1, gap_min, dist_incr, pl_fail, expo, rows2, counter)
    verdicts = _verdicts(c, res1, gap_min, dist_incr, pl_fail, expo, rows2, counter)
    figures = _figures(c, res1, rows2)
    meta = {"config": dataclasses.asdict(c), "seconds": time.perf_counter() - t0,
            "device": jax.devices()[0].platform}
    return Result(paper="002", table=table, figures=figures, verdicts=verdicts, meta=meta)


@jax.jit
def _exponent_fits(loss, grad_norm):
    ok = (loss > 1e-25) & (grad_norm > 0)
    return villani.fit_slope(loss, grad_norm, log=True, mask=ok), ok.sum(axis=-1)


def _exponents(loss, grad_norm):
    """Slope of log ||grad F|| on log F per run, over records with F > 1e-25 (round-off floor)."""
    fit, count = _exponent_fits(jnp.asarray(loss), jnp.asarray(grad_norm))
    slope, ci = np.asarray(fit.slope), np.asarray(fit.ci)
    return [(float(s), (float(lo), float(hi))) if k >= 3 else (np.nan, (np.nan, np.nan))
            for s, (lo, hi), k in zip(slope, ci, np.asarray(count), strict=True)]


def _counter(key, c):
    """ReLU neuron started with every unit inactive (gradient exactly 0) and its gamma=0.1 twin."""
    kx, kv = jax.random.split(key)
    z = jax.random.normal(kx, (c.n1, c.d1 - 1))
    x = jnp.concatenate([z, jnp.ones((c.n1, 1))], axis=1)  # constant last coordinate
    v = jax.random.normal(kv, (c.d1 - 1,))
    v_star = jnp.concatenate([v / jnp.linalg.norm(v), jnp.array([0.5])])
    w0 = jnp.zeros(c.d1).at[-1].set(-1.0)  # w0 . x_i = -1 < 0 for every i
    res, _, _ = _neurons(x, v_star, w0, (0.0, 0.1), c.lr1, c.counter_steps)
    return jax.tree_util.tree_map(np.asarray, res)


def _table(c, res1, gap_min, dist_incr, pl_fail, expo, rows2, counter):
    names, gam, width, f0, fT, gmin, mono, plf, ex, err = ([] for _ in range(10))
    for i, g in enumerate(c.gammas):
        names.append("E1"), gam.append(g), width.append(1)
        f0.append(res1.loss[i, 0]), fT.append(res1.loss[i, -1]), gmin.append(gap_min[i])
        mono.append(dist_incr[i] <= RTOL), plf.append(pl_fail[i]), ex.append(expo[i][0])
        err.append(np.nan)
    for m, r, e01 in rows2:
        names.append("E2"), gam.append(c.slope2), width.append(m)
        f0.append(r.loss[0]), fT.append(r.loss[-1]), gmin.append(np.nan), mono.append(True)
        plf.append(bool(np.any(r.fails))), ex.append(np.nan), err.append(e01[-1])
    for i, g in enumerate((0.0, 0.1)):
        names.append("counter"), gam.append(g), width.append(1)
        f0.append(counter.loss[i, 0]), fT.append(counter.loss[i, -1]), gmin.append(np.nan)
        mono.append(True), plf.append(False), ex.append(np.nan), err.append(np.nan)
    return {"experiment": np.array(names), "gamma": np.array(gam, float), "width": np.array(width),
            "loss_start": np.array(f0, float), "loss_end": np.array(fT, float),
            "min_convexity_gap_rel": np.array(gmin, float), "dist_monotone": np.array(mono),
            "proxy_pl_fails": np.array(plf), "grad_loss_exponent": np.array(ex, float),
            "zero_one_error_end": np.array(err, float)}


def _verdicts(c, res1, gap_min, dist_incr, pl_fail, expo, rows2, counter):
    vs = []
    g_str = ", ".join(f"{g:g}" for g in c.gammas)
    e1 = f"E1: d={c.d1}, n={c.n1}, η={c.lr1}, T={c.steps1}, γ ∈ {{{g_str}}}"
    vs.append(Verdict(
        claim="[derived] single neuron is (2γF, 0)-proxy convex at v*: ⟨∇F, w − v*⟩ − 2γF ≥ 0 at every step",
        measured=f"min gap / F(w0) over all steps and γ = {gap_min.min():.3g}",
        predicted="≥ 0 (−1e-10 round-off slack)", holds=bool(gap_min.min() >= -RTOL), detail=e1))
    avg = bool(np.all(res1.avg_holds))
    vs.append(Verdict(
        claim="[derived] averaged bound (1/T)Σ g(w_t) ≤ ‖w0 − v*‖²/(2ηT) + (η/2T)Σ‖∇F‖² for every T",
        measured=f"holds for γ: {[g for g, h in zip(c.gammas, res1.avg_holds, strict=True) if h]}",
        predicted="every γ, every T", holds=avg, detail=e1))
    vs.append(Verdict(
        claim="[derived] ‖w_t − v*‖ is non-increasing along GD",
        measured=f"largest relative increase per step = {dist_incr.max():.3g}",
        predicted="≤ 0 (1e-10 slack)", holds=bool(dist_incr.max() <= RTOL), detail=e1))
    mins = np.asarray(res1.min_holds)
    vs.append(Verdict(
        claim="[derived] proxy PL ‖∇F‖ ≥ 2γF/‖w − v*‖ at every step, and min_t 2γF(w_t) ≤ "
              "‖w0 − v*‖·√(2F(w0)/(ηT))",
        measured=f"steps failing the PL bound: {int(pl_fail.sum())} runs; rate bound holds for "
                 f"{int(mins.sum())}/{len(mins)} γ",
        predicted="no failures", holds=bool(not pl_fail.any() and mins.all()), detail=e1))
    ex = [(g, e) for g, e in zip(c.gammas, expo, strict=True) if g > 0]
    ok = all(0.4 <= e[0] <= 1.05 for _, e in ex)
    vs.append(Verdict(
        claim="[derived] fitted exponent of ‖∇F‖ against F lies between 1/2 (PL near v*) and 1 "
              "(the proxy-PL bound), γ > 0",
        measured="; ".join(f"γ={g:g}: {e[0]:.3f} [{e[1][0]:.3f}, {e[1][1]:.3f}]" for g, e in ex),
        predicted="in [0.4, 1.05]", holds=ok, detail=e1 + "; log-log least squares over F > 1e-25"))
    # E2
    e2 = (f"E2: d={c.d2}, n={c.n2}, margin {c.margin}, γ_l={c.slope2}, widths {c.widths}, "
          f"η={c.lr2}, T={c.steps2}")
    fails = [int(np.sum(r.fails)) for _, r, _ in rows2]
    mub = [float(r.mu_best) for _, r, _ in rows2]
    vs.append(Verdict(
        claim="[derived] proxy PL ‖∇L‖_F ≥ γ_l γ_m G(W) at every step (two-layer leaky-ReLU, margin data)",
        measured=f"failing steps per width {fails}; best constant on the run {[f'{v:.3g}' for v in mub]}",
        predicted=f"no failures; constant ≥ γ_l γ_m = {c.slope2 * c.margin:g}",
        holds=bool(sum(fails) == 0), detail=e2))
    mu2 = c.slope2 * c.margin
    t_useful = 8 * float(rows2[0][1].loss[0]) / (c.lr2 * mu2**2)
    rate_ok, err_ok, msg = True, True, []
    for m, r, e01 in rows2:
        rate_ok &= bool(r.min_holds) and bool(r.proxy[-1] < r.proxy[0])
        err_ok &= bool(np.all(e01 <= 2 * r.proxy * (1 + RTOL)))
        msg.append(f"m={m}: G {r.proxy[0]:.3f}→{r.proxy[-1]:.3g} (bound {r.min_bound[-1]:.3g}), "
                   f"0-1 err {e01[0]:.3f}→{e01[-1]:.3f}")
    vs.append(Verdict(
        claim="[derived] G decreases at the derived rate min_t G ≤ √(2L(W0)/(ηT))/(γ_l γ_m), and the "
              "0-1 error ≤ 2G at every step",
        measured="; ".join(msg), predicted="both at every T", holds=rate_ok and err_ok,
        detail=f"{e2}; note: with γ_l γ_m = {mu2:g} the bound drops below G(W0) = 1/2 only after "
               f"T > 8 L(W0)/(η (γ_l γ_m)²) ≈ {t_useful:.3g} steps, so at this T it is a weak "
               "(vacuous) check; the measured decrease of G and of the 0-1 error is the informative part"))
    # counter-example
    g0 = counter.grad_norm[0]
    moved = counter.loss[0, -1] < counter.loss[0, 0] * (1 - 1e-12)
    vs.append(Verdict(
        claim="[derived] counter-example: GD on a ReLU neuron (γ = 0) decreases F from a start where "
              "the unit is inactive on every sample",
        measured=f"‖∇F(w0)‖ = {g0[0]:.3g}, F: {counter.loss[0, 0]:.4g} → {counter.loss[0, -1]:.4g}",
        predicted="∇F ≡ 0, F > 0: nothing moves (the proxy 2γF is 0, so no guarantee)",
        holds=bool(moved), expected=False, detail=f"T={c.counter_steps}, η={c.lr1}"))
    ratio = counter.loss[1, -1] / counter.loss[1, 0]
    vs.append(Verdict(
        claim="[derived] the same start with γ = 0.1 converges (F_T/F_0 < 1e-3)",
        measured=f"F_T/F_0 = {ratio:.3g}", predicted="< 1e-3", holds=bool(ratio < 1e-3),
        detail=f"T={c.counter_steps}, η={c.lr1}"))
    return vs


def _figures(c, res1, rows2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, g in enumerate(c.gammas):
        axes[0].semilogy(res1.loss[i], label=f"γ={g:g}")
        ok = res1.loss[i] > 1e-25
        axes[1].loglog(res1.loss[i][ok], res1.grad_norm[i][ok], label=f"γ={g:g}")
    axes[0].set_xlabel("step t")
    axes[0].set_ylabel("F(w_t)")
    axes[0].set_title("E1: single leaky-ReLU neuron")
    axes[1].set_xlabel("F")
    axes[1].set_ylabel("‖∇F‖")
    axes[1].legend(fontsize=8)
    fig.tight_layout()

    fig2, ax = plt.subplots(figsize=(5.5, 4))
    for m, r, e01 in rows2:
        (ln,) = ax.loglog(np.arange(1, len(r.proxy) + 1), r.proxy, label=f"G, m={m}")
        ax.loglog(np.arange(1, len(r.proxy) + 1), r.min_bound, "--", color=ln.get_color(), lw=1)
        ax.loglog(np.arange(1, len(e01) + 1), np.maximum(e01, 1e-4), ":", color=ln.get_color())
    ax.set_xlabel("step t")
    ax.set_title("E2: G (solid), derived bound (dashed), 0-1 error (dotted)")
    ax.legend(fontsize=8)
    fig2.tight_layout()
    return {"single_neuron": fig, "two_layer": fig2}


PAPER = Paper(id="002", title="Proxy convexity and proxy PL inequalities", arxiv="2106.13792",
              quick=QUICK, full=FULL, run=run)
