r"""Paper 003 — last-iterate online SGD for two-layer nets in the NTK regime.

Dinghao Cao, Zheng-Chu Guo, Lei Shi, arXiv 2407.07670. Only the abstract and a secondary
summary could be read (PAPERS.md, 003).

**Claim [paper].** For a target of regularity $r$ (the target is $L_K^r h$ with
$h \in L^2_\rho$ and $L_K$ the NTK integral operator), the last SGD iterate of an
overparameterised two-layer net satisfies
$\mathbb E\|g_{\Theta_{T+1}} - g_\rho\|^2_\rho \le C\log(2/\delta)\,(T^{-2r/(2r+1)} + \varepsilon)$,
with a width only polynomial in $T$. The network, step-size schedule and width exponents
could not be read.

**villani's setting (villani's choice, the standard NTK-regime one).** Inputs
$x = (\cos\varphi, \sin\varphi)$ with $\varphi$ uniform. The network is
$g(x) = M^{-1/2}\sum_k a_k\sigma(w_k\cdot x)$ (``nets.two_layer(M, softplus(β=4))``, NTK
parametrisation, no bias). The init is symmetric (``nets.ntk_symmetric()``, so $g = 0$ at
the start). Training is online SGD, one fresh sample per step, on the squared loss
$\tfrac12(g - y)^2$. The step size is $\eta_t = \eta_1 t^{-\theta}$ with
$\eta_1 = 1/(2\kappa(1))$ and $\theta = 2r/(2r+1)$, the classical choice for online
kernel regression. The labels are $y = g_\rho(x) + \mathcal N(0, 0.25^2)$.

**The NTK on the circle.** At the init $w \sim \mathcal N(0, I_2)$ and
$a \sim \mathcal N(0, 1)$. With $u = x\cdot x'$,
$\kappa(u) = u\,\mathbb E[\sigma'(z)\sigma'(z')] + \mathbb E[\sigma(z)\sigma(z')]$ for
$(z, z')$ standard normal with correlation $u$. villani computes this by Gauss–Hermite
quadrature (80 × 80 nodes, Hermite-e) rather than in closed form. On the circle,
$K(x, x') = \kappa(\cos(\varphi - \varphi'))$ is diagonal in the Fourier basis
$e_0 = 1$, $\sqrt2\cos k\varphi$, $\sqrt2\sin k\varphi$, with eigenvalues
$\mu_k = \frac1{2\pi}\int\kappa(\cos u)\cos(ku)\,du$ taken from one FFT. For softplus,
$\sigma(z) - z/2$ is even, so $\mu_k = 0$ for odd $k \ge 3$.

**[derived] A teacher of regularity exactly r.** The teacher is
$g_\rho = \sum_{k\le256}\mu_k^r h_k\sqrt2\cos k\varphi$ ($e_0$ for $k = 0$) with
$h_k \propto (k+1)^{-0.55}$, normalised so that $\|g_\rho\|_\rho = 1$. Then $h \in L^2$
but no higher power of $L_K^{-1}$ applies to it.

**Kernel baseline.** Kernel SGD with the limiting NTK runs on the same stream. It runs in
the Fourier feature space of the kernel:
$\beta_j \leftarrow \beta_j - \eta_t(f(x_t) - y_t)\mu_j e_j(x_t)$. This is exact for the
kernel truncated at $k \le 256$, where $\mu_k$ is below $10^{-15}\mu_0$. The excess risk
is $\|\beta - \tau\|^2$ by Parseval. The network's excess risk is averaged over a uniform
grid of angles, which is exact for trigonometric polynomials of the grid's degree.

**Why not ``villani.train``.** ``train`` draws minibatches from a fixed data set, either
i.i.d. or by epoch-wise permutation. A permutation of a pre-drawn stream is still a valid
i.i.d. stream, but it does not run in stream order, and the kernel baseline must see the
same sequence. So the stream loop is a ``lax.scan`` here; a ``stream`` option in ``train``
would cover it.

**Counter-example.** tanh without bias makes every $g$ odd. On the even target
$\cos 2\varphi$ the excess risk then plateaus at the energy of the target's even part,
$0.5$. The slope is about 0, so the rate verdict comes out False.
"""

from __future__ import annotations

import dataclasses
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from ... import nets
from ..result import Paper, Result, Verdict

__all__ = ["FULL", "PAPER", "QUICK", "Config", "kappa", "ntk_eigenvalues", "run"]

NOISE = 0.25
BETA = 4.0
K_MAX = 256


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes of the paper-003 reproduction.

    Attributes:
        rs: target regularities r (the last one, 1.0, is the saturation probe).
        log2_t: (first, last) log2 of the checkpoints T (the stream length is 2**last).
        block: steps between evaluations (a power of two <= 2**first).
        width: width of the rate runs.
        widths: widths of the drift / NTK-approximation sweep (at r = 0.5).
        stream_seeds, init_seeds: runs = stream_seeds * init_seeds, vmapped.
        eval_points: uniform angles for the network's excess risk.
        ntk_points: angles of the empirical NTK Gram used for the drift.
        counter_width: width of the counter-example (tanh, even target).
        bootstrap: bootstrap resamples of the slope CI.
    """

    rs: tuple[float, ...] = (0.25, 0.5, 1.0)
    log2_t: tuple[int, int] = (8, 13)
    block: int = 256
    width: int = 256
    widths: tuple[int, ...] = (64, 256, 1024)
    stream_seeds: int = 3
    init_seeds: int = 2
    eval_points: int = 512
    ntk_points: int = 48
    counter_width: int = 256
    bootstrap: int = 1000


QUICK = Config()
FULL = Config(log2_t=(8, 17), width=4096, widths=(64, 256, 1024, 4096, 16384),
              stream_seeds=10, init_seeds=3, ntk_points=128, counter_width=1024)


# ----------------------------------------------------------------------------- the kernel


def kappa(activation, u, nodes: int = 80) -> np.ndarray:
    r"""The NTK dot-product kernel $\kappa(u)$ of the two-layer net at its Gaussian init.

    $\kappa(u) = u\,\mathbb E[\sigma'(z)\sigma'(z')] + \mathbb E[\sigma(z)\sigma(z')]$,
    $(z, z')$ standard normal with correlation $u$ (outer weights $a \sim \mathcal N(0,1)$,
    both layers trained), by tensor Gauss–Hermite quadrature.

    Args:
        activation: an :class:`~villani.nets.Activation` (or its name).
        u: array of cosines in $[-1, 1]$.
        nodes: quadrature nodes per dimension.

    Returns:
        ``kappa(u)``, same shape as ``u``, NumPy float64.

    Example:
        >>> float(kappa("tanh", np.array([0.0]))[0]) > 0
        True
    """
    act = nets.activation(activation)
    g, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2.0 * math.pi)
    u = np.asarray(u, dtype=np.float64)
    shape = u.shape
    uu = u.reshape(-1)[:, None, None]
    z1 = np.broadcast_to(g[:, None], (uu.shape[0], nodes, nodes))
    z2 = uu * g[:, None] + np.sqrt(np.clip(1.0 - uu**2, 0.0, None)) * g[None, :]
    ww = w[:, None] * w[None, :]
    s = lambda z: np.asarray(act(jnp.asarray(z)))  # noqa: E731
    d = lambda z: np.asarray(act.d1(jnp.asarray(z)))  # noqa: E731
    out = uu[:, 0, 0] * np.sum(ww * d(z1) * d(z2), axis=(1, 2)) + np.sum(
        ww * s(z1) * s(z2), axis=(1, 2))
    return out.reshape(shape)


def ntk_eigenvalues(activation, k_max: int = K_MAX, grid: int = 2048) -> np.ndarray:
    r"""$\mu_0, \dots, \mu_{k_{\max}}$: the NTK's eigenvalues on the circle (one FFT).

    $\mu_k = \frac1{2\pi}\int_0^{2\pi}\kappa(\cos u)\cos(ku)\,du$; values below
    $10^{-15}\mu_0$ (FFT rounding) are set to 0.

    Example:
        >>> mu = ntk_eigenvalues(nets.activation("softplus", beta=4.0), 8)
        >>> bool(mu[0] > mu[2] > mu[4] > 0)
        True
    """
    u = 2.0 * math.pi * np.arange(grid) / grid
    mu = np.real(np.fft.rfft(kappa(activation, np.cos(u)))) / grid
    mu = mu[: k_max + 1]
    return np.where(mu > 1e-15 * mu[0], mu, 0.0)


def _features(phi, k_max):
    """Orthonormal Fourier basis on the circle: (1, sqrt2 cos k phi, sqrt2 sin k phi)."""
    k = jnp.arange(1, k_max + 1)
    ang = phi[..., None] * k
    return jnp.concatenate([jnp.ones(phi.shape + (1,)), math.sqrt(2) * jnp.cos(ang),
                            math.sqrt(2) * jnp.sin(ang)], axis=-1)


def _teacher(mu, r):
    """Coefficients tau in the basis of _features: cos modes mu_k^r h_k, normalised."""
    k = np.arange(mu.size)
    c = mu**r * (k + 1.0) ** -0.55
    c = c / np.linalg.norm(c)
    return np.concatenate([c, np.zeros(mu.size - 1)])


# ----------------------------------------------------------------------------- the runs


def _stream(key, T):
    kp, kn = jax.random.split(key)
    return (2 * math.pi * jax.random.uniform(kp, (T,)), NOISE * jax.random.normal(kn, (T,)))


def _xy(phi):
    return jnp.stack([jnp.cos(phi), jnp.sin(phi)], axis=-1)


def _nn_run(net, params, phis, noise, tau, eta1, theta, block, k_max, eval_phi):
    """Online SGD of the net; excess risk on the eval grid after every block of steps."""
    feats_eval = _features(eval_phi, k_max)
    target_eval = feats_eval @ tau
    x_eval = _xy(eval_phi)
    T = phis.shape[0]

    def step(p, inp):
        t, phi, xi = inp
        x = _xy(phi)
        y = _features(phi, k_max) @ tau + xi
        g, grad = jax.value_and_grad(lambda q: net.apply(q, x))(p)
        lr = eta1 * t ** (-theta)
        return jax.tree.map(lambda a, b: a - lr * (g - y) * b, p, grad), None

    def blk(p, inp):
        p, _ = jax.lax.scan(step, p, inp)
        risk = jnp.mean((net.apply(p, x_eval) - target_eval) ** 2)
        return p, risk

    ts = jnp.arange(1, T + 1, dtype=phis.dtype)
    inp = tuple(a.reshape((T // block, block)) for a in (ts, phis, noise))
    p, risks = jax.lax.scan(blk, params, inp)
    return p, risks


def _kernel_run(mu, phis, noise, tau, eta1, theta, block, k_max):
    """Kernel SGD with the limiting NTK, in its Fourier feature space (exact, truncated)."""
    lam = jnp.concatenate([mu, mu[1:]])
    T = phis.shape[0]

    def step(beta, inp):
        t, phi, xi = inp
        e = _features(phi, k_max)
        y = e @ tau + xi
        lr = eta1 * t ** (-theta)
        return beta - lr * (e @ beta - y) * lam * e, None

    def blk(beta, inp):
        beta, _ = jax.lax.scan(step, beta, inp)
        return beta, jnp.sum((beta - tau) ** 2)

    ts = jnp.arange(1, T + 1, dtype=phis.dtype)
    inp = tuple(a.reshape((T // block, block)) for a in (ts, phis, noise))
    _, risks = jax.lax.scan(blk, jnp.zeros_like(tau), inp)
    return risks


def _ntk_gram(net, params, x):
    """Empirical NTK Gram J J^T on the inputs x, J the Jacobian of outputs in all params."""
    jac = jax.jacrev(lambda p: net.apply(p, x))(params)
    j = jnp.concatenate([a.reshape(x.shape[0], -1) for a in jax.tree.leaves(jac)], axis=1)
    return j @ j.T


def _slope(log_t, risks, reps, seed=0):
    """Slope of log(mean risk) vs log T, and a bootstrap CI over runs (rows of risks)."""
    risks = np.asarray(risks)
    def fit(r):
        return np.polyfit(log_t, np.log(r.mean(0)), 1)[0]
    s = fit(risks)
    rng = np.random.default_rng(seed)
    boots = [fit(risks[rng.integers(0, risks.shape[0], risks.shape[0])]) for _ in range(reps)]
    return float(s), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def run(config: Config, key: jax.Array) -> Result:
    """Run the paper-003 reproduction (assumes x64 is on, as ``villani reproduce`` sets).

    Args:
        config: a :class:`Config` (``QUICK`` or ``FULL``).
        key: PRNG key; the same key gives the same result.

    Returns:
        A :class:`~villani.experiments.result.Result`; the table has one row per
        (experiment, r, width, method, T).

    Example:
        >>> res = run(QUICK, jax.random.key(0))  # doctest: +SKIP
    """
    t_start = time.perf_counter()
    cfg = config
    t_lo, t_hi = cfg.log2_t
    T = 2**t_hi
    blocks_at = 2 ** np.arange(t_lo, t_hi + 1) // cfg.block - 1  # block index of each T
    log_t = np.log(2.0 ** np.arange(t_lo, t_hi + 1))
    k_stream, k_init, k_counter = jax.random.split(key, 3)
    stream_keys = jax.random.split(k_stream, cfg.stream_seeds)
    init_keys = jax.random.split(k_init, cfg.init_seeds)
    S, I = cfg.stream_seeds, cfg.init_seeds
    phis, noise = jax.vmap(lambda k: _stream(k, T))(stream_keys)  # (S, T)
    eval_phi = 2 * math.pi * jnp.arange(cfg.eval_points) / cfg.eval_points

    act = nets.activation("softplus", beta=BETA)
    mu = ntk_eigenvalues(act)
    k1 = float(kappa(act, np.array([1.0]))[0])
    eta1 = 1.0 / (2.0 * k1)

    rows = {k: [] for k in ("experiment", "activation", "r", "width", "method", "T",
                            "excess_risk", "risk_lo", "risk_hi", "drift")}

    def add(experiment, activation, r, width, method, risks, drift=math.nan):
        risks = np.asarray(risks)[:, blocks_at]  # (runs, checkpoints)
        for i, lt in enumerate(log_t):
            rows["experiment"].append(experiment)
            rows["activation"].append(activation)
            rows["r"].append(r)
            rows["width"].append(width)
            rows["method"].append(method)
            rows["T"].append(round(math.exp(lt)))
            rows["excess_risk"].append(float(risks[:, i].mean()))
            rows["risk_lo"].append(float(risks[:, i].min()))
            rows["risk_hi"].append(float(risks[:, i].max()))
            rows["drift"].append(drift)
        return risks

    def nn_batch(net, tau, theta):
        """All (stream, init) runs, vmapped; returns final params and (S*I, blocks) risks."""
        def one(sk, ik):
            p0 = net.init(init_keys[ik], 2)
            return _nn_run(net, p0, phis[sk], noise[sk], tau, eta1_, theta, cfg.block, K_MAX,
                           eval_phi)
        sk, ik = np.meshgrid(np.arange(S), np.arange(I), indexing="ij")
        return jax.jit(jax.vmap(one))(jnp.asarray(sk.ravel()), jnp.asarray(ik.ravel()))

    kern = jax.jit(jax.vmap(lambda ph, nz, tau, theta: _kernel_run(
        jnp.asarray(mu), ph, nz, tau, eta1, theta, cfg.block, K_MAX), (0, 0, None, None)))

    slopes = {}
    eta1_ = eta1
    x_ntk = _xy(2 * math.pi * jnp.arange(cfg.ntk_points) / cfg.ntk_points)
    drift_rows = {}
    for r in cfg.rs:
        tau = jnp.asarray(_teacher(mu, r))
        theta = 2 * r / (2 * r + 1)
        widths = sorted(set(cfg.widths) | {cfg.width}) if r == 0.5 else [cfg.width]
        for m in widths:
            net = nets.two_layer(m, act, init=nets.ntk_symmetric())
            p_end, risks = nn_batch(net, tau, theta)
            if r == 0.5:
                p0s = jax.vmap(lambda k, net=net: net.init(k, 2))(init_keys)
                k0 = jax.vmap(lambda p, net=net: _ntk_gram(net, p, x_ntk))(p0s)  # (I, n, n)
                kt = jax.vmap(lambda p, net=net: _ntk_gram(net, p, x_ntk))(p_end)
                k0 = jnp.repeat(k0[None], S, axis=0).reshape(kt.shape)
                drift = np.asarray(jnp.linalg.norm(kt - k0, axis=(1, 2))
                                   / jnp.linalg.norm(k0, axis=(1, 2)))
                drift_rows[m] = drift
            else:
                drift = np.full(S * I, np.nan)
            exp_name = "rate" if m == cfg.width else "width"
            rk = add(exp_name, "softplus", r, m, "nn", risks, float(np.mean(drift)))
            if m == cfg.width:
                slopes[("nn", r)] = _slope(log_t, rk, cfg.bootstrap)
            if r == 0.5:
                drift_rows.setdefault("risk", {})[m] = rk.mean(0)
        kr = kern(phis, noise, tau, theta)
        rk = add("rate", "softplus", r, 0, "kernel", kr)
        slopes[("kernel", r)] = _slope(log_t, rk, cfg.bootstrap)
        if r == 0.5:
            drift_rows["kernel_risk"] = rk.mean(0)

    # ---------------------------------------------------------------- counter-example
    tanh = nets.activation("tanh")
    eta1_ = 1.0 / (2.0 * float(kappa(tanh, np.array([1.0]))[0]))
    tau_c = np.zeros(2 * K_MAX + 1)
    tau_c[2] = 1.0 / math.sqrt(2.0)  # cos 2phi = (1/sqrt2) * sqrt2 cos 2phi, energy 0.5
    net_c = nets.two_layer(cfg.counter_width, tanh, init=nets.ntk_symmetric())
    _, risks_c = nn_batch(net_c, jnp.asarray(tau_c), 0.5)
    rk_c = add("counter", "tanh", math.nan, cfg.counter_width, "nn", risks_c)
    slopes["counter"] = _slope(log_t, rk_c, cfg.bootstrap)

    table = {k: np.asarray(v) for k, v in rows.items()}
    widths_sorted = sorted(drift_rows["risk"])
    drifts = np.array([np.mean(drift_rows[m]) for m in widths_sorted])
    drift_fit = _slope(np.log(widths_sorted), np.stack(
        [drift_rows[m] for m in widths_sorted], axis=1), cfg.bootstrap)
    # smallest width within 10 % of kernel SGD, per T
    kr_mean = drift_rows["kernel_risk"]
    within = np.stack([np.abs(drift_rows["risk"][m] - kr_mean) <= 0.1 * kr_mean
                       for m in widths_sorted])  # (W, checkpoints)
    min_width = np.array([widths_sorted[int(np.argmax(w))] if w.any() else np.nan
                          for w in within.T])
    verdicts = _verdicts(cfg, slopes, widths_sorted, drifts, drift_fit, min_width, log_t,
                         rk_c)
    figures = _figures(cfg, table, widths_sorted, drifts, drift_fit)
    meta = dict(config=dataclasses.asdict(cfg), seconds=time.perf_counter() - t_start,
                eta1=eta1, kappa1=k1, mu=mu[:17].tolist(), slopes={str(k): v for k, v in
                                                                   slopes.items()},
                drift_exponent=drift_fit, min_width_within_10pct=dict(
                    zip([round(math.exp(v)) for v in log_t], min_width.tolist())),
                kappa_method="Gauss-Hermite quadrature, 80x80 nodes",
                device=jax.devices()[0].platform)
    return Result(paper="003", table=table, figures=figures, verdicts=verdicts, meta=meta)


def _verdicts(cfg, slopes, widths, drifts, drift_fit, min_width, log_t, risks_c):
    out = []
    for r in [r for r in cfg.rs if r < 1.0]:
        pred = -2 * r / (2 * r + 1)
        s, lo, hi = slopes[("nn", r)]
        ks, klo, khi = slopes[("kernel", r)]
        out.append(Verdict(
            claim=f"[paper] last-iterate SGD excess risk ≲ T^(−2r/(2r+1)) for regularity r = {r:g}",
            measured=f"slope of log excess risk vs log T = {s:.3f} (95% bootstrap CI "
                     f"{lo:.3f}…{hi:.3f}); kernel SGD with the limiting NTK: {ks:.3f} "
                     f"({klo:.3f}…{khi:.3f})",
            predicted=f"slope ≤ {pred:.3f} (a bound: faster is consistent)",
            holds=bool(hi <= pred + 0.1),
            detail=f"width {cfg.width}, softplus β = {BETA:g}, η_t = η1 t^(−{2*r/(2*r+1):.3f}),"
                   f" T = 2^{cfg.log2_t[0]}…2^{cfg.log2_t[1]}, {cfg.stream_seeds}×"
                   f"{cfg.init_seeds} runs; tolerance +0.1 on the CI's upper end for the log "
                   "factor and the finite-T transient"))
    ds, dlo, dhi = drift_fit
    out.append(Verdict(
        claim="[derived] NTK drift ‖K_T − K_0‖_F/‖K_0‖_F shrinks at least like M^(−1/2)",
        measured=f"exponent {ds:.3f} (CI {dlo:.3f}…{dhi:.3f}); drift "
                 + ", ".join(f"M={m}: {d:.3g}" for m, d in zip(widths, drifts)),
        predicted="exponent ≤ −0.5 (CI upper end ≤ −0.35)",
        holds=bool(dhi <= -0.35),
        detail=f"r = 0.5, empirical NTK on {cfg.ntk_points} angles at T = 2^{cfg.log2_t[1]}; "
               "PAPERS.md expected about −1/2; with the antisymmetric (ntk_symmetric) init the "
               "first-order changes of paired units cancel in K, so ≈ −1 is plausible. "
               "Smallest width within 10% of kernel SGD by T: "
               + ", ".join(f"T={round(math.exp(t))}: {w:g}" for t, w in zip(log_t, min_width))))
    s, lo, hi = slopes["counter"]
    plateau = float(np.asarray(risks_c)[:, -1].mean())
    out.append(Verdict(
        claim="[paper] the rate T^(−2r/(2r+1)) (counter-example: tanh without bias, even "
              "target cos 2φ outside the odd RKHS)",
        measured=f"slope {s:.3f} (CI {lo:.3f}…{hi:.3f}); excess risk at T_max {plateau:.3f}",
        predicted="fails: every g is odd, so the risk plateaus at the even part's energy 0.5",
        holds=bool(hi <= -0.5 + 0.1),
        detail=f"width {cfg.counter_width}, θ = 0.5; the r = 0.5 threshold is used",
        expected=False))
    return out


def _figures(cfg, t, widths, drifts, drift_fit):
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figs = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in cfg.rs:
        for method, ls in (("nn", "-"), ("kernel", "--")):
            sel = (t["experiment"] == "rate") & (t["r"] == r) & (t["method"] == method)
            ax.loglog(t["T"][sel], t["excess_risk"][sel], ls, marker="o",
                      label=f"{method}, r = {r:g}")
    sel = t["experiment"] == "counter"
    ax.loglog(t["T"][sel], t["excess_risk"][sel], ":", marker="x", label="tanh, cos 2φ")
    ax.set(xlabel="T", ylabel="excess risk (mean over runs)",
           title="003: last-iterate online SGD")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["excess_risk"] = fig

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.loglog(widths, drifts, "o-", label=f"drift, exponent {drift_fit[0]:.2f}")
    ax.loglog(widths, drifts[0] * (np.asarray(widths) / widths[0]) ** -0.5, "k:",
              label="M^(−1/2)")
    ax.set(xlabel="width M", ylabel="‖K_T − K_0‖_F / ‖K_0‖_F", title="003: NTK drift")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["ntk_drift"] = fig
    return figs


PAPER = Paper(id="003", title="Last-iterate SGD for two-layer nets in the NTK regime",
              arxiv="2407.07670", quick=QUICK, full=FULL, run=run)
