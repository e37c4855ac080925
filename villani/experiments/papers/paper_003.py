r"""Paper 003 — last-iterate online SGD for two-layer nets in the NTK regime.

Dinghao Cao, Zheng-Chu Guo, Lei Shi, arXiv 2407.07670 (abstract; a secondary summary of the
main theorem).

**Claim [paper].** For a target of regularity $r$ (the target is $L_K^r h$ with
$h \in L^2_\rho$ and $L_K$ the NTK integral operator), the last SGD iterate of an
overparameterised two-layer net satisfies
$\mathbb E\|g_{\Theta_{T+1}} - g_\rho\|^2_\rho \le C\log(2/\delta)\,(T^{-2r/(2r+1)} + \varepsilon)$,
with a width only polynomial in $T$. The network, step-size schedule and width exponents
could not be read.

**villani's setting (villani's choice, the standard NTK-regime one).** Inputs
$x = (\cos\varphi, \sin\varphi)$ with $\varphi$ uniform on a grid of $N = 4096$ angles
(the discrete uniform law has the same moments as the continuous one for every
trigonometric polynomial of degree $< N$, and it lets the labels and features be looked
up instead of recomputed at each step). The network is
$g(x) = M^{-1/2}\sum_k a_k\sigma(w_k\cdot x)$ (``nets.two_layer(M, softplus(β=4))``, NTK
parametrisation, no bias), with the paired init ``nets.ntk_symmetric()`` ($M/2$ units
drawn, duplicated with $a \to -a$, so $g = 0$ at the start). Training is online SGD, one
fresh sample per step, on $\tfrac12(g - y)^2$, with $\eta_t = \eta_1 t^{-\theta}$,
$\eta_1 = 1/(2\kappa(1))$, $\theta = 2r/(2r+1)$ (the classical schedule for online kernel
regression), and $y = g_\rho(x) + \mathcal N(0, 0.25^2)$.

**The NTK on the circle.** At the init $w \sim \mathcal N(0, I_2)$, $a \sim \mathcal N(0, 1)$;
with $u = x\cdot x'$,
$\kappa(u) = u\,\mathbb E[\sigma'(z)\sigma'(z')] + \mathbb E[\sigma(z)\sigma(z')]$ for
$(z, z')$ standard normal with correlation $u$ (Gauss–Hermite quadrature, 80 × 80 nodes).
$K(x, x') = \kappa(\cos(\varphi - \varphi'))$ is diagonal in the Fourier basis
$e_0 = 1$, $\sqrt2\cos k\varphi$, $\sqrt2\sin k\varphi$, with eigenvalues
$\mu_k = \frac1{2\pi}\int\kappa(\cos u)\cos(ku)\,du$ from one FFT. For softplus,
$\sigma(z) - z/2$ is even, so $\mu_k = 0$ for odd $k \ge 3$.

**[derived] A teacher of regularity exactly r:**
$g_\rho = \sum_{k\le256}\mu_k^r h_k\sqrt2\cos k\varphi$ ($e_0$ for $k = 0$),
$h_k \propto (k+1)^{-0.55}$, normalised to $\|g_\rho\|_\rho = 1$: $h \in L^2$ but no higher
power of $L_K^{-1}$ applies to it.

**Kernel baseline.** Kernel SGD with the limiting NTK on the same stream, in the kernel's
Fourier feature space, $\beta \leftarrow \beta - \eta_t(f(x_t) - y_t)\Lambda e(x_t)$ (exact
for the kernel truncated at $k \le 256$, where $\mu_k < 10^{-15}\mu_0$); its excess risk is
$\|\beta - \tau\|^2$ by Parseval. The network's is averaged over every 16th grid angle (quick).

**1. The rate, on the exact expected risk, over a window fixed in advance.** The
claim is about an expectation, and for kernel SGD with the limiting NTK on this law it
can be computed exactly, without Monte Carlo ([derived], :func:`kernel_sgd_expected_risk`):
with $D_t = \beta_t - \tau$ the expected squared error per frequency obeys
$n_k(t) = (1 - 2\eta_t\mu_k)n_k(t-1) + c_k\eta_t^2\mu_k^2(R(t-1) + \sigma^2)$,
$R = \sum_k n_k = \mathbb E\|\beta_t - \tau\|^2$, $c_0 = 1$, $c_{k\ge1} = 2$ (the fourth
moment of Fourier features on the uniform law leaves the diagonal of $\mathbb E DD^*$
closed). It costs $O(k_{\max})$ per step, so it runs to $T = 2^{22}$ in quick mode
($2^{26}$ full). Why a long window is needed: the bias decays like
$\sum_k \mu_k^{2r} h_k^2 e^{-2\mu_k S_T}$, $S_T = \sum_{s\le T}\eta_s \propto T^{1-\theta}$,
and the softplus spectrum falls steeply ($\mu_4/\mu_2 \approx 1/24$,
$\mu_6/\mu_4 \approx 1/7$), so the modes drop out one at a time: the risk is a staircase
whose local slope oscillates around its mean $-2r/(2r+1)$ (bias modes of the peak
$\mu\,e^{-2\mu S}$ have the envelope $1/S_T$) with a period of $\log_2(\mu_k/\mu_{k+2})/(1-\theta)$
octaves: 9.1 and 5.7 octaves at $\theta = 1/2$ (6.9 and 4.3 at $\theta = 1/3$). Measured
local slopes of the exact $r = 1/2$ curve swing between $-0.28$ and $-0.64$ from $T = 2^{13}$
to $2^{22}$; no window of three octaves measures an exponent.
*Rule, fixed before the measurement:* the slope of $\log R$ on $\log T$ (half-octave
checkpoints) over the **last ten octaves** (longer than the longest period) must be
$\le -2r/(2r+1) + 0.05$ (the bound allows faster decay); the claim is decided when the
windows ending at the last three octaves agree within 0.05 ("settled"), and otherwise
reported UNDECIDED. *Control:* the same computation for a rougher target, of regularity
$r/5$, with the claim's own step schedule: its slope, $\approx -2(r/5)(1-\theta)$, must
break the rule.

The Monte Carlo runs are measured beside it: the network and kernel SGD on the same
stream, recorded at half-octave checkpoints to $T = 2^{14}$ (quick), their slope over the
last three octaves with a percentile bootstrap CI over runs and their local slope per
octave, $\log_2 R(T)/R(T/2)$, in the table, next to the exact curve's slope over the same
window (reported, not decided: how closely the network follows kernel SGD is section 2's
verdict). Tests check the recursion against a brute-force second moment and against
Monte Carlo kernel SGD.

**2. Network vs kernel.** At every checkpoint $T \le 2^{12}$ (quick) and width $M$ the
typical gap $\big(\mathrm{mean}_j (R_{nn,j}/R_{k,j} - 1)^2\big)^{1/2}$ over runs $j$, each
with its own init and stream, kernel SGD on the same stream (paired); at each $T$ a power
law $c_T M^{-b_T}$ is fitted over the widths. In the lazy regime the network is kernel SGD
with its *empirical* NTK at init (measured: the two agree within 1 % at $M \ge 512$), which
differs from the limit by $O(M^{-1/2})$, with a sign that depends on the init draw: a
single draw's gap need not shrink monotonically with $M$, the typical one does, with
$b \approx 1/2$ expected. It grows with $T$: a mode decaying like $e^{-2\mu S_T}$ turns a
relative error $\delta$ in $\mu$ into $2\mu S_T\delta$ in its risk. The claim holds when
the bootstrap CI of $b$ (mean over $T$) has its lower end $\ge 0.25$. *Control:* the same
networks against kernel SGD with another kernel (softplus β = 1's NTK): the gap then tends
to a constant, $b \to 0$.

**3. Polynomial width.** $M^*(T)$ is where the fitted power law crosses 10 % (so
$M^* \propto (c_T/0.1)^{1/b_T}$ grows as the gap's prefactor grows with $T$);
$\log M^*$ is regressed on $\log T$, with a bootstrap CI. Reported, not decided: the
paper's exponent could not be read, so there is no rule to apply.

**4. [derived] NTK drift $\|K_T - K_0\|_F/\|K_0\|_F \propto M^{-1}$ for the paired init.**
A unit contributes $\frac1M[a^2\sigma'(w\cdot x)\sigma'(w\cdot x')\,x\cdot x' +
\sigma(w\cdot x)\sigma(w\cdot x')]$ to $K$; its SGD changes are
$\delta w \propto a\,\sigma'(w\cdot x)x/\sqrt M$ and $\delta a \propto \sigma(w\cdot x)/\sqrt M$,
so to first order its change in $K$ is odd in $a$: it cancels within a $\pm a$ pair
(and averages out for any law of $a$ symmetric about 0), leaving the second order,
$M\cdot\frac1M\cdot O(\frac1M)$. Rule: the exponent's CI upper end $\le -0.75$ (halfway to
$-1/2$). *Control:* the same units with every outer weight made positive, $|a|$ (same
$\mathbb E a^2$, so the same limiting NTK; the net is centred, $g - g_{\Theta_0}$, so it
starts at 0 too): the first-order changes then add up, $\propto M^{-1/2}$.

**The stream on villani's stepper.** The network's online SGD is
:func:`villani.stepper` with a ``stream`` (step $t$ draws its sample from
``fold_in(key, t)``) and ``optax.sgd`` with the schedule $\eta_t$, scanned in blocks; the
excess risk is read after each block from the objective on the evaluation grid. Not
:func:`villani.train`: its records add a full-batch gradient and divergence checks at every
step (1.6× the CPU time here), none needed. Kernel SGD has no network, so it stays its own
``lax.scan`` in feature space; it sees the same samples (``_grid_stream`` replays the
stream's draws). Both are vmapped over runs and targets.

**Counter-example.** tanh without bias makes every $g$ odd. On the even target
$\cos 2\varphi$ the excess risk plateaus at the energy of the target's even part, $0.5$;
the slope is about 0, so the rate rule comes out False.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import villani

from ... import nets, plots
from ...data import Dataset
from ...diagnostics import fit_slope, ntk_drift
from ...losses import Objective
from .._stats import bootstrap, resample_indices
from ..result import Paper, Result, Rule, Verdict

__all__ = ["FULL", "PAPER", "QUICK", "Config", "kappa", "kernel_sgd_expected_risk", "ntk_eigenvalues",
           "run"]

NOISE = 0.25
BETA = 4.0
K_MAX = 256
# rules fixed before the measurement
WINDOW_OCTAVES = 3  # the Monte Carlo rate is fitted over the last three octaves of T
EXACT_WINDOW = 10  # the exact expected risk's rate: the last ten octaves (> one staircase period)
SETTLE_POSITIONS = 3  # ... decided when the window slopes ending at the last three octaves agree
SLOPE_TOL = 0.05  # on the CI's upper end
CONTROL_DIVISOR = 5.0  # the rate control's target has regularity r / 5
DRIFT_HI = -0.75  # drift exponent's CI upper end (theory -1 paired, -1/2 first order)
GAP_EXP_LO = 0.25  # gap exponent b's CI lower end (theory 1/2)
GAP_TOL = 0.10  # "within 10 % of kernel SGD"


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes of the paper-003 reproduction.

    Attributes:
        rs: target regularities r (1.0, if present, is a saturation probe without verdict).
        decided_rs: the r whose rate is decided (a claim with its control, when its exact
            window slopes settle); the other r < 1 are reported, not decided (section 1).
        log2_t: (first, last) log2 of the rate checkpoints T of the Monte Carlo runs (the
            stream has 2**last steps).
        exact_log2_t: log2 of the last T of the exact expected risk (section 1).
        log2_width_t: log2 of the width sweep's last T (its checkpoints start at log2_t[0]).
        block: steps between evaluations (a power of two <= 2**log2_t[0]).
        width: width of the rate runs.
        widths: widths of the drift / network-vs-kernel sweep (at r = 0.5).
        stream_seeds, init_seeds: runs = stream_seeds * init_seeds, vmapped.
        grid: the angle grid of the data law.
        eval_every: the network's risk is averaged over every eval_every-th grid angle.
        ntk_points: angles of the empirical NTK Gram used for the drift.
        counter_width: width of the counter-example (tanh, even target).
        bootstrap: bootstrap resamples of the CIs.
    """

    rs: tuple[float, ...] = (0.25, 0.5)
    decided_rs: tuple[float, ...] = (0.25, 0.5)
    log2_t: tuple[int, int] = (8, 14)
    exact_log2_t: int = 22
    log2_width_t: int = 12
    block: int = 256
    width: int = 128
    widths: tuple[int, ...] = (64, 256, 1024, 4096)
    stream_seeds: int = 8
    init_seeds: int = 1
    grid: int = 4096
    eval_every: int = 16
    ntk_points: int = 48
    counter_width: int = 128
    bootstrap: int = 1000


QUICK = Config()
FULL = Config(rs=(0.25, 0.5, 1.0), decided_rs=(0.25, 0.5), log2_t=(8, 18), exact_log2_t=26,
              log2_width_t=16, width=4096,
              widths=(64, 256, 1024, 4096, 16384), stream_seeds=10, init_seeds=3,
              grid=16384, eval_every=16, ntk_points=128, counter_width=1024)


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
    return _eigenvalues(nets.activation(activation), int(k_max), int(grid)).copy()


@functools.lru_cache(maxsize=8)
def _eigenvalues(act, k_max, grid):
    """:func:`ntk_eigenvalues`, computed once per (activation, k_max, grid): its quadrature
    costs about a second, and the reproduction and its tests ask for the same kernels."""
    u = 2.0 * math.pi * np.arange(grid) / grid
    mu = np.real(np.fft.rfft(kappa(act, np.cos(u)))) / grid
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



def _xy(phi):
    return jnp.stack([jnp.cos(phi), jnp.sin(phi)], axis=-1)


# ----------------------------------------------------------------------------- the runs


def _checkpoints(log2_lo, log2_hi, block):
    """Half-octave checkpoints 2^(j/2) rounded to whole blocks: (T values, block indices)."""
    t = np.unique(np.maximum(1, np.round(2.0 ** (np.arange(2 * log2_lo, 2 * log2_hi + 1) / 2)
                                         / block)).astype(int))
    return t * block, t - 1


def _draw(key, n_grid):
    """One sample of the stream: an angle index uniform on the n_grid-point grid, and the
    label noise."""
    ki, kn = jax.random.split(key)
    return jax.random.randint(ki, (), 0, n_grid), NOISE * jax.random.normal(kn, ())


def _grid_stream(key, T, n_grid):
    """The samples the network's stream sees at steps 0..T-1 (``villani.stepper`` draws step
    t's batch from ``fold_in(key, t)``): angle indices and label noise, for kernel SGD to
    run on the same sequence."""
    return jax.vmap(lambda t: _draw(jax.random.fold_in(key, t), n_grid))(
        jnp.arange(T, dtype=jnp.int32))


def _nn_run(net, params, g0_grid, key, y_grid, eta1, theta, block, n_blocks, n_grid, eval_every):
    r"""Online SGD of the centred net $g_\Theta - g_{\Theta_0}$ on :func:`villani.stepper`
    with a stream (one fresh sample per step, drawn from ``fold_in(key, t)`` by
    :func:`_draw`); returns the final params and the excess risk on the eval grid (every
    ``eval_every``-th grid angle) after every block.

    Centring by the labels: the stream's label is $g_\rho(x) + \xi + g_{\Theta_0}(x)$, so
    $\tfrac12(g_\Theta - y)^2 = \tfrac12(g_\Theta - g_{\Theta_0} - g_\rho - \xi)^2$ (for the
    paired init $g_{\Theta_0} = 0$ and this changes nothing). Step size
    $\eta_t = \eta_1 t^{-\theta}$, $t = 1, 2, \dots$ (optax's schedule count starts at 0)."""
    x_grid = _xy(2 * math.pi * jnp.arange(n_grid) / n_grid)
    target = y_grid + g0_grid

    def stream(k):
        i, xi = _draw(k, n_grid)
        return x_grid[i][None], (target[i] + xi)[None]

    # the evaluation set: L = mean (g - g0 - g_rho)^2 / 2 over the eval grid
    obj = Objective(net, Dataset(x_grid[::eval_every], target[::eval_every]), "squared")
    opt = optax.sgd(lambda count: eta1 * (count + 1.0) ** (-theta))
    init, step = villani.stepper(obj, opt, stream=stream)

    def blk(state, _):
        state = jax.lax.scan(lambda s, _: (step(key, s)[0], None), state, length=block)[0]
        return state, 2.0 * obj.value(state.params)

    state, risks = jax.lax.scan(blk, init(params), length=n_blocks)
    return state.params, risks


def _kernel_run(mu, feats, idx, noise, tau, eta1, theta, block):
    r"""Kernel SGD with the limiting NTK in its Fourier feature space (exact, truncated):
    $\beta \leftarrow \beta - \eta_t(\langle\beta, e(x_t)\rangle - y_t)\,\Lambda e(x_t)$ with
    ``feats`` the features on the angle grid; excess risk $\|\beta-\tau\|^2$ after every block."""
    lam = jnp.concatenate([mu, mu[1:]])
    T = idx.shape[0]

    def step(beta, inp):
        t, i, xi = inp
        e = feats[i]
        lr = eta1 * t ** (-theta)
        return beta - lr * (e @ beta - e @ tau - xi) * lam * e, None

    def blk(beta, inp):
        beta, _ = jax.lax.scan(step, beta, inp)
        return beta, jnp.sum((beta - tau) ** 2)

    ts = jnp.arange(1, T + 1, dtype=noise.dtype)
    inp = tuple(a.reshape((T // block, block)) for a in (ts, idx, noise))
    return jax.lax.scan(blk, jnp.zeros_like(tau), inp)[1]


@functools.partial(jax.jit, static_argnames=("log2_t", "block"))
def kernel_sgd_expected_risk(mu, taus, thetas, eta1, noise, *, log2_t: int, block: int):
    r"""Exact expected excess risk $\mathbb E\|\beta_T - \tau\|^2$ of kernel SGD on the circle.

    No Monte Carlo: for kernel SGD in the kernel's Fourier feature space (:func:`_kernel_run`),
    $D_t = \beta_t - \tau$, with one fresh angle per step from the uniform law and label noise
    of variance $\sigma^2$, the expected squared error per frequency $n_k(t)$ (cos and sin
    modes of frequency $k$ together) obeys a closed recursion:

    $$n_k(t) = (1 - 2\eta_t\mu_k)\,n_k(t-1) + c_k\,\eta_t^2\mu_k^2\,\big(R(t-1) + \sigma^2\big),
    \qquad R = \sum_k n_k,\quad c_0 = 1,\ c_{k \ge 1} = 2,$$

    with $\eta_t = \eta_1 t^{-\theta}$ and $n_k(0) = \tau_{\cos k}^2 + \tau_{\sin k}^2$.

    [derived] In the complex basis $u_a = e^{ia\varphi}$, $|a| \le k_{\max}$, the update is
    $D' = D - \eta\,(u^*D - \xi)\,\Lambda u$; with $M = \mathbb E DD^*$,
    $\mathbb E uu^* = I$ and the fourth moment
    $\mathbb E[uu^*Muu^*]_{ab} = \sum_{c - d = a - b} M_{cd}$ (as
    $\mathbb E e^{i(a - c + d - b)\varphi} = \delta_{a - c + d - b, 0}$), the diagonal of $M$
    evolves on its own, its $(a, a)$ entry through $\operatorname{tr} M = R$; frequencies
    $\pm k$ add up to $n_k$. The law may be the continuous uniform one or uniform on $N$
    equispaced angles with $N > 4k_{\max}$ (no aliasing in the fourth moment): the
    reproduction's grid.

    Args:
        mu: ``(k_max + 1,)`` the kernel's eigenvalues $\mu_0 \dots \mu_{k_{\max}}$.
        taus: ``(C, 2 k_max + 1)`` targets in the basis of ``_features``.
        thetas: ``(C,)`` step-size exponents.
        eta1: first step size.
        noise: label-noise standard deviation $\sigma$.
        log2_t: the recursion runs ``2**log2_t`` steps.
        block: risks are recorded after every ``block`` steps (a power of two).

    Returns:
        ``(C, 2**log2_t // block)``: $R$ after steps ``block, 2 block, ...``.

    Example:
        >>> mu = ntk_eigenvalues(nets.activation("softplus", beta=4.0))
        >>> tau = _teacher(mu, 0.5)[None]
        >>> r = kernel_sgd_expected_risk(jnp.asarray(mu), jnp.asarray(tau), jnp.asarray([0.5]),
        ...                              0.3, 0.25, log2_t=10, block=256)
        >>> r.shape, bool(r[0, -1] < r[0, 0] < 1.0)
        ((1, 4), True)
    """
    mu = jnp.asarray(mu)
    k = mu.shape[0]
    w = jnp.where(jnp.arange(k) == 0, 1.0, 2.0) * mu**2
    taus = jnp.asarray(taus)
    n0 = taus[:, :k] ** 2 + jnp.concatenate([jnp.zeros((taus.shape[0], 1)), taus[:, k:] ** 2], 1)

    def one(n, theta):
        def step(n, t):
            eta = eta1 * t ** (-theta)
            return (1.0 - 2.0 * eta * mu) * n + eta**2 * w * (n.sum() + noise**2), None

        def blk(n, t0):
            n = jax.lax.scan(step, n, t0 + jnp.arange(1, block + 1, dtype=mu.dtype))[0]
            return n, n.sum()

        return jax.lax.scan(blk, n, block * jnp.arange(2**log2_t // block, dtype=mu.dtype))[1]

    return jax.vmap(one)(n0, jnp.asarray(thetas))


def _slope(x, values, reps, seed=0):
    """Slope of log(mean over runs) vs log x (:func:`villani.fit_slope`), and a percentile
    bootstrap CI over runs (the rows of ``values``): every resample is one row of one
    batched ``fit_slope`` call."""
    def slopes(r):  # r: (1 + reps, n, k) resamples of the runs
        means = r.mean(1)
        return np.asarray(fit_slope(np.broadcast_to(np.asarray(x, np.float64), means.shape), means,
                                    log=True).slope)

    b = bootstrap(slopes, np.asarray(values), key=jax.random.key(seed), reps=reps)
    return float(b.estimate), float(b.lo), float(b.hi)


def _exact_windows(t, risk):
    """Slopes of log R on log T of the exact expected risk over the last ``EXACT_WINDOW``
    octaves, for the windows ending at the last ``SETTLE_POSITIONS`` octaves (oldest first)."""
    t_end = np.log2(t[-1])
    out = []
    for j in range(SETTLE_POSITIONS - 1, -1, -1):
        w = (np.log2(t) >= t_end - j - EXACT_WINDOW - 1e-9) & (np.log2(t) <= t_end - j + 1e-9)
        out.append(float(fit_slope(t[w].astype(np.float64), risk[w], log=True).slope))
    return np.asarray(out)


def _local_slopes(t, risk):
    """Local slope per octave, log2(R(2T)/R(T)), at the octave checkpoints of ``t``."""
    oct_ = np.isclose(np.log2(t), np.round(np.log2(t)))
    to, ro = t[oct_], np.asarray(risk)[..., oct_]
    return to[1:], np.log2(ro[..., 1:] / ro[..., :-1])


def _gap_fits(widths, nn, kr, reps, seed=0):
    r"""Typical network-vs-kernel gap $(\mathrm{mean}_j (R_{nn,j}/R_{k,j} - 1)^2)^{1/2}$ over
    runs $j$ per (width, T), and per T the power law gap $\approx c_T M^{-b_T}$
    (:func:`villani.fit_slope`) with the width $M^*(T)$ where it crosses 10 %; bootstrap
    over runs (resample 0 = the data).

    Args:
        widths: ``(W,)``. nn: ``(W, R, C)`` network risks. kr: ``(R, C)`` kernel risks
            on each run's stream.

    Returns:
        gap ``(1 + reps, W, C)``, exponent b ``(1 + reps, C)``, M* ``(1 + reps, C)``.
    """
    R = kr.shape[0]
    idx = resample_indices(jax.random.key(seed), R, reps)  # row 0: the data
    ratio = nn[:, idx] / kr[idx][None]  # (W, B, R, C): run j's network against its stream's kernel
    gap = np.sqrt(np.mean((ratio - 1) ** 2, axis=2)).transpose(1, 0, 2)  # (B, W, C)
    g = np.moveaxis(gap, 1, -1)  # (B, C, W)
    x = np.broadcast_to(np.asarray(widths, float), g.shape)
    fit = fit_slope(x, np.maximum(g, 1e-12), log=True)
    s, i0 = np.asarray(fit.slope), np.asarray(fit.intercept)
    with np.errstate(all="ignore"):
        m_star = np.where(s < 0, np.exp((math.log(GAP_TOL) - i0) / s), np.nan)
    return gap, -s, m_star


@functools.partial(jax.jit, static_argnames=("net", "steps", "block", "grid", "eval_every"))
def _nn_batch(net, p0s, keys, y_grids, theta, eta, *, steps, block, grid, eval_every):
    """``_nn_run`` vmapped over runs (leading axis of ``p0s`` and the stream ``keys``) and
    targets (``y_grids``, ``theta``)."""
    phi_grid = 2 * math.pi * jnp.arange(grid) / grid
    g0 = jax.vmap(lambda p: net.apply(p, _xy(phi_grid)))(p0s)  # (runs, grid)

    def one(p0, g0r, k, yg, th):
        return _nn_run(net, p0, g0r, k, yg, eta, th, block, steps // block, grid, eval_every)
    per_run = jax.vmap(one, (0, 0, 0, None, None))
    return jax.vmap(per_run, (None, None, None, 0, 0))(p0s, g0, keys, y_grids, theta)


@functools.partial(jax.jit, static_argnames=("block",))
def _kern(mu, feats, idx, noise, taus, theta, eta1, *, block):
    """``_kernel_run`` vmapped over runs and targets: risks (targets, runs, blocks)."""
    f = jax.vmap(lambda i, nz, tau, th: _kernel_run(mu, feats, i, nz, tau, eta1, th, block),
                 (0, 0, None, None))
    return jax.vmap(f, (None, None, 0, 0))(idx, noise, taus, theta)


def run(config: Config, key: jax.Array) -> Result:
    """Run the paper-003 reproduction (assumes x64 is on, as ``villani reproduce`` sets).

    Args:
        config: a :class:`Config` (``QUICK`` or ``FULL``).
        key: PRNG key; the same key gives the same result.

    Returns:
        A :class:`~villani.experiments.result.Result`; the table has one row per
        (experiment, target, width, init, method, T).

    Example:
        >>> res = run(QUICK, jax.random.key(0))  # doctest: +SKIP
    """
    t_start = time.perf_counter()
    cfg = config
    if cfg.log2_t[1] - cfg.log2_t[0] < WINDOW_OCTAVES + 1:
        raise ValueError(f"config.log2_t: need at least {WINDOW_OCTAVES + 1} octaves, got {cfg.log2_t}")
    T, T_w = 2 ** cfg.log2_t[1], 2 ** cfg.log2_width_t
    t_ck, b_ck = _checkpoints(*cfg.log2_t, cfg.block)
    tw_ck, bw_ck = _checkpoints(cfg.log2_t[0], cfg.log2_width_t, cfg.block)
    S, I = cfg.stream_seeds, cfg.init_seeds
    R = S * I
    run_stream, run_init = np.repeat(np.arange(S), I), np.tile(np.arange(I), S)
    k_stream, k_init = jax.random.split(key)
    stream_keys = jax.random.split(k_stream, S)[run_stream]  # run j sees stream j // I
    idx, noise = jax.vmap(lambda k: _grid_stream(k, T, cfg.grid))(stream_keys)  # (R, T)
    init_keys = jax.random.split(k_init, I)[run_init]
    # the width sweep draws its own init for every run: its gap is a typical one over inits
    init_keys_w = jax.random.split(jax.random.fold_in(k_init, 1), R)
    phi_grid = 2 * math.pi * jnp.arange(cfg.grid) / cfg.grid
    feats = _features(phi_grid, K_MAX)  # (grid, 2 K_MAX + 1)

    act = nets.activation("softplus", beta=BETA)
    mu = ntk_eigenvalues(act)
    k1 = float(kappa(act, np.array([1.0]))[0])
    eta1 = 1.0 / (2.0 * k1)

    rows = {k: [] for k in ("experiment", "case", "r", "width", "init", "method", "T",
                            "excess_risk", "risk_lo", "risk_hi", "local_slope", "drift",
                            "gap")}

    def add(experiment, case, r, width, init, method, t, risks, local=None, drift=math.nan,
            gap=None):
        risks = np.asarray(risks)
        t_loc = {} if local is None else dict(zip(local[0].tolist(), local[1].tolist()))
        for i, tt in enumerate(t):
            for k, v in (("experiment", experiment), ("case", case), ("r", r), ("width", width),
                         ("init", init), ("method", method), ("T", int(tt)),
                         ("excess_risk", float(risks[:, i].mean())),
                         ("risk_lo", float(risks[:, i].min())), ("risk_hi", float(risks[:, i].max())),
                         ("local_slope", t_loc.get(int(tt), math.nan)), ("drift", drift),
                         ("gap", math.nan if gap is None else float(gap[i]))):
                rows[k].append(v)

    def nn_batch(net, p0s, y_grids, theta, eta, steps, runs=None):
        """Every (target, run) of one net in one compiled call: final params and risks
        (targets, runs, blocks). ``p0s`` has leaves (len(runs), ...); run k uses stream
        ``run_stream[runs[k]]``."""
        runs = np.arange(R) if runs is None else np.asarray(runs)
        return _nn_batch(net, p0s, stream_keys[runs], y_grids, theta, eta, steps=steps,
                         block=cfg.block, grid=cfg.grid, eval_every=cfg.eval_every)

    def kern(mu_, taus, theta, steps=T):
        """Kernel SGD of every (target, run) for ``steps`` steps: risks (targets, runs, blocks)."""
        return np.asarray(_kern(jnp.asarray(mu_), feats, idx[:, :steps], noise[:, :steps], taus, theta,
                                eta1, block=cfg.block))

    # ------------------------------------------------------------------ rates (and controls)
    # the claims at r, and their controls: a target of regularity r / CONTROL_DIVISOR run
    # with the claim's own step schedule (theta = 2r/(2r+1)); the Monte Carlo runs (network
    # and kernel SGD on the stream) are of the claims, the exact expectation of every case
    claims = [(r, r, "claim") for r in cfg.rs]
    cases = claims + [(r, r / CONTROL_DIVISOR, "control") for r in cfg.rs if r in cfg.decided_rs]
    taus_all = jnp.asarray(np.stack([_teacher(mu, rt) for _, rt, _ in cases]))
    thetas_all = jnp.asarray([2 * r / (2 * r + 1) for r, _, _ in cases])
    taus, thetas = taus_all[:len(claims)], thetas_all[:len(claims)]
    y_grids = taus @ feats.T  # (claims, grid)
    net = nets.two_layer(cfg.width, act, init=nets.ntk_symmetric())
    p0 = jax.vmap(lambda k: net.init(k, 2))(init_keys)
    _, risks = nn_batch(net, p0, y_grids, thetas, eta1, T)
    risks = np.asarray(risks)[..., b_ck]  # (cases, R, C)
    kr_full = kern(mu, taus, thetas)  # (cases, R, blocks)
    kr_all = kr_full[..., b_ck]
    # the exact expected risk of kernel SGD (no Monte Carlo), every case, to 2^exact_log2_t
    te_ck, be_ck = _checkpoints(cfg.log2_t[0], cfg.exact_log2_t, cfg.block)
    assert np.array_equal(te_ck[:t_ck.size], t_ck)
    ex_all = np.asarray(kernel_sgd_expected_risk(jnp.asarray(mu), taus_all, thetas_all, eta1, NOISE,
                                                 log2_t=cfg.exact_log2_t, block=cfg.block))[:, be_ck]
    win = t_ck >= 2 ** (cfg.log2_t[1] - WINDOW_OCTAVES)
    slopes, local, curves, exact = {}, {}, {}, {}
    for c, (r, rt, kind) in enumerate(cases):
        ls = _local_slopes(te_ck, ex_all[c])
        add("rate", kind, rt, 0, "paired", "kernel (exact expectation)", te_ck, ex_all[c][None], ls)
        exact[(kind, r)] = dict(risk=ex_all[c], local=ls, windows=_exact_windows(te_ck, ex_all[c]),
                                mc_window=float(fit_slope(t_ck[win].astype(np.float64),
                                                         ex_all[c][:t_ck.size][win], log=True).slope))
        if kind == "claim":
            for method, rk in (("nn", risks[c]), ("kernel", kr_all[c])):
                ls = _local_slopes(t_ck, rk.mean(0))
                add("rate", kind, rt, cfg.width if method == "nn" else 0, "paired", method, t_ck,
                    rk, ls)
                slopes[(method, kind, r)] = _slope(t_ck[win], rk[:, win], cfg.bootstrap)
                local[(method, kind, r)] = ls
                curves[f"{method}, r = {r:g}"] = rk
    t_rate = time.perf_counter() - t_start

    # ------------------------------------------------------------------ width sweep (r = 0.5)
    c05 = [c for c, (r, _, kind) in enumerate(cases) if r == 0.5 and kind == "claim"][0]
    kr_w = kr_full[c05][:, bw_ck]  # the same stream's kernel run, at the sweep's checkpoints
    # the gap's control: kernel SGD with a kernel that is not this net's NTK (softplus β = 1)
    mu_wrong = ntk_eigenvalues(nets.activation("softplus", beta=1.0))
    kr_wrong = kern(mu_wrong, taus[c05:c05 + 1], thetas[c05:c05 + 1], T_w)[0][:, bw_ck]
    x_ntk = _xy(2 * math.pi * jnp.arange(cfg.ntk_points) / cfg.ntk_points)
    widths = sorted(cfg.widths)
    nn_w = {"paired": [], "positive": []}
    drift = {"paired": [], "positive": []}
    for m in widths:
        net_m = nets.two_layer(m, act, init=nets.ntk_symmetric())
        pp = jax.vmap(lambda k, net_m=net_m: net_m.init(k, 2))(init_keys_w)
        # the drift control: the same units with every outer weight made positive, |a|
        # (same limiting NTK, since E a^2 is unchanged; centred, so g = 0 at the start too)
        pa = {**pp, "a": jnp.abs(pp["a"])}
        both = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), pp, pa)
        p_end, rk = nn_batch(net_m, both, y_grids[c05:c05 + 1], thetas[c05:c05 + 1], eta1, T_w,
                             runs=np.tile(np.arange(R), 2))
        p_end = jax.tree.map(lambda a: a[0], p_end)
        d = np.asarray(_drift(net_m, p_end, both, x_ntk))
        rk = np.asarray(rk)[0][:, bw_ck]
        for j, name in enumerate(("paired", "positive")):
            nn_w[name].append(rk[j * R:(j + 1) * R])
            drift[name].append(d[j * R:(j + 1) * R])
    nn_w = {k: np.stack(v) for k, v in nn_w.items()}  # (W, R, Cw)
    drift = {k: np.stack(v, axis=1) for k, v in drift.items()}  # (R, W)
    gap, b_exp, m_star = _gap_fits(widths, nn_w["paired"], kr_w, cfg.bootstrap)
    gap_wrong, b_wrong, _ = _gap_fits(widths, nn_w["paired"], kr_wrong, cfg.bootstrap)
    for k, m in enumerate(widths):
        for name in ("paired", "positive"):
            add("width", "claim" if name == "paired" else "control", 0.5, m, name, "nn", tw_ck,
                nn_w[name][k], drift=float(drift[name][:, k].mean()),
                gap=gap[0, k] if name == "paired" else None)
    add("width", "claim", 0.5, 0, "paired", "kernel", tw_ck, kr_w)
    add("width", "control", 0.5, 0, "paired", "kernel (softplus β = 1 NTK)", tw_ck, kr_wrong)
    t_width = time.perf_counter() - t_start - t_rate

    # ---------------------------------------------------------------- counter-example
    tanh = nets.activation("tanh")
    eta1_c = 1.0 / (2.0 * float(kappa(tanh, np.array([1.0]))[0]))
    tau_c = np.zeros(2 * K_MAX + 1)
    tau_c[2] = 1.0 / math.sqrt(2.0)  # cos 2phi = (1/sqrt2) * sqrt2 cos 2phi, energy 0.5
    net_c = nets.two_layer(cfg.counter_width, tanh, init=nets.ntk_symmetric())
    pc = jax.vmap(lambda k: net_c.init(k, 2))(init_keys)
    _, risks_c = nn_batch(net_c, pc, (jnp.asarray(tau_c) @ feats.T)[None], jnp.asarray([0.5]),
                          eta1_c, T_w)
    rk_c = np.asarray(risks_c)[0][:, bw_ck]
    add("counter", "counter-example", math.nan, cfg.counter_width, "paired", "nn", tw_ck, rk_c)
    slopes["counter"] = _slope(tw_ck, rk_c, cfg.bootstrap)
    curves["tanh, cos 2φ (counter-example)"] = rk_c

    table = {k: np.asarray(v) for k, v in rows.items()}
    drift_fit = {k: _slope(widths, v, cfg.bootstrap) for k, v in drift.items()}
    verdicts = _verdicts(cfg, slopes, local, exact, widths, drift, drift_fit, tw_ck, gap, b_exp, m_star,
                         gap_wrong, b_wrong, rk_c)
    device = jax.devices()[0].platform
    figures = _figures(cfg, t_ck, te_ck, curves, local, exact, widths, drift, tw_ck, gap, m_star, device)
    meta = dict(config=dataclasses.asdict(cfg), seconds=time.perf_counter() - t_start,
                seconds_rate=t_rate, seconds_width=t_width, eta1=eta1, kappa1=k1,
                mu=mu[:17].tolist(), slopes={str(k): v for k, v in slopes.items()},
                exact_window_slopes={str(k): v["windows"].tolist() for k, v in exact.items()},
                drift_exponent=drift_fit, width_exponent_b=b_exp[0].tolist(),
                m_star=dict(zip(tw_ck.tolist(), m_star[0].tolist())),
                kappa_method="Gauss-Hermite quadrature, 80x80 nodes", device=device)
    return Result(paper="003", table=table, figures=figures, verdicts=verdicts, meta=meta)


@functools.partial(jax.jit, static_argnums=0)
def _drift(net, p_end, p0, x):
    return jax.vmap(lambda a, b: ntk_drift(net, a, b, x))(p_end, p0)


def _ci_text(s):
    return f"{s[0]:.3f} (95% bootstrap CI {s[1]:.3f}…{s[2]:.3f})"


def _verdicts(cfg, slopes, local, exact, widths, drift, drift_fit, tw, gap, b_exp, m_star,
              gap_wrong, b_wrong, risks_c):
    out = []
    lo_oct = cfg.log2_t[1] - WINDOW_OCTAVES
    hi_ex = cfg.exact_log2_t
    fmt_local = lambda ls: ", ".join(f"T={t}: {v:.2f}" for t, v in zip(*ls))  # noqa: E731
    for r in [r for r in cfg.rs if r < 1.0]:
        theta = 2 * r / (2 * r + 1)  # the step exponent, and minus the predicted slope
        pred = -theta
        rule = Rule(hi=pred + SLOPE_TOL, units="slope")
        ex = exact[("claim", r)]
        wins = ex["windows"]
        settled = bool(wins.max() - wins.min() <= SLOPE_TOL)
        decided = r in cfg.decided_rs
        ctrl = None
        if decided:
            cw = exact[("control", r)]["windows"]
            ctrl = rule.control(f"a rougher target, regularity r/{CONTROL_DIVISOR:g} = "
                                f"{r / CONTROL_DIVISOR:g}, same step schedule", float(cw[-1]),
                                measured="window slopes " + ", ".join(f"{v:.3f}" for v in cw))
        prefix = ("" if (settled and decided) else
                  "UNDECIDED (window slopes not settled): " if decided else "UNDECIDED (not decided "
                  "in this config): ")
        # a window slope that moves with the window's position is no measurement of the
        # asymptotic exponent: it is reported, undecided (rule fixed with the window)
        out.append(rule.verdict(
            prefix + f"[paper] last-iterate SGD excess risk ≲ T^(−2r/(2r+1)) for regularity "
                     f"r = {r:g} (kernel SGD with the limiting NTK, exact expectation)",
            float(wins[-1]), role=None if (settled and decided) else "descriptive",
            predicted=f"slope ≤ {pred:.3f} + {SLOPE_TOL} (a bound)",
            measured=f"slope over T = 2^{hi_ex - EXACT_WINDOW}…2^{hi_ex}: {wins[-1]:.3f}; the "
                     f"{EXACT_WINDOW}-octave window ending {SETTLE_POSITIONS - 1} and 1 octaves "
                     "earlier: " + ", ".join(f"{v:.3f}" for v in wins[:-1])
                     + f" ({'settled' if settled else 'NOT settled'} within {SLOPE_TOL}); local "
                     "slope per octave " + fmt_local(ex["local"]),
            control=ctrl,
            detail=f"rule fixed in advance: slope of log E‖β_T − τ‖² on log T (half-octave "
                   f"checkpoints) over the last {EXACT_WINDOW} octaves, longer than the bias "
                   f"staircase's period (section 1); ≤ −2r/(2r+1) + {SLOPE_TOL}; decided when the "
                   f"windows ending at the last {SETTLE_POSITIONS} octaves agree within "
                   f"{SLOPE_TOL}. E‖β_T − τ‖² from the exact second-moment recursion "
                   f"(kernel_sgd_expected_risk), no Monte Carlo; softplus β = {BETA:g}, "
                   f"η_t = η1 t^(−{theta:.3f}), noise σ = {NOISE}"))
        s_nn, s_k = slopes[("nn", "claim", r)], slopes[("kernel", "claim", r)]
        out.append(Verdict(
            claim=f"[derived] the measured excess risk follows kernel SGD's exact expected curve "
                  f"over T = 2^{lo_oct}…2^{cfg.log2_t[1]} (r = {r:g})",
            measured=f"window slope: network {_ci_text(s_nn)}, kernel SGD on the stream "
                     f"{_ci_text(s_k)}; local slope per octave, network "
                     + fmt_local(local[("nn", "claim", r)]),
            predicted=f"the exact expectation's slope over the same window, {ex['mc_window']:.3f}",
            holds=True, role="descriptive",
            detail=f"width {cfg.width}, {cfg.stream_seeds}×{cfg.init_seeds} runs, percentile "
                   "bootstrap over runs; reported beside the claim: how closely the network "
                   "follows kernel SGD is decided in section 2 (the gap's width exponent)"))
    # drift exponent: -1 for the paired init (first-order changes cancel), -1/2 otherwise
    rule = Rule(hi=DRIFT_HI, units="exponent")
    dp, dc = drift_fit["paired"], drift_fit["positive"]
    out.append(rule.verdict(
        "[derived] NTK drift ‖K_T − K_0‖_F/‖K_0‖_F ∝ M^(−1) for the paired ±a init (the "
        "first-order changes of each pair cancel in K)",
        dp[2], err=(dp[2] - dp[1]) / 2,
        measured=f"exponent {_ci_text(dp)}; drift " + ", ".join(
            f"M={m}: {d:.3g}" for m, d in zip(widths, drift["paired"].mean(0))),
        predicted=f"exponent −1; rule: CI upper end ≤ {DRIFT_HI} (halfway to the −1/2 of a "
                  "first-order drift)",
        control=rule.control("outer weights |a| (all positive: first-order changes add up; same "
                             "limiting NTK, centred start)", dc[2],
                             measured=f"exponent {_ci_text(dc)}"),
        detail=f"r = 0.5, empirical NTK on {cfg.ntk_points} angles at T = 2^{cfg.log2_width_t}; "
               "to first order a unit's change in K is odd in its outer weight a, so it cancels "
               "within a ±a pair and the second order, O(1/M), remains"))
    # network vs kernel: the gap shrinks with width
    rule = Rule(lo=GAP_EXP_LO, units="exponent")
    b = np.nanmean(b_exp, axis=1)
    bw = np.nanmean(b_wrong, axis=1)
    b_ci = (float(np.quantile(b[1:], 0.025)), float(np.quantile(b[1:], 0.975)))
    bw_ci = (float(np.quantile(bw[1:], 0.025)), float(np.quantile(bw[1:], 0.975)))
    out.append(rule.verdict(
        "[paper] the network tracks kernel SGD with the limiting NTK: the typical gap rms_j(R_nn/R_k − 1) "
        "shrinks like M^(−b), b > 0",
        b_ci[0], err=(b_ci[1] - b_ci[0]) / 2,
        measured=f"b (mean over T) {b[0]:.3f} (CI {b_ci[0]:.3f}…{b_ci[1]:.3f}); gap at "
                 f"T = {tw[-1]}: " + ", ".join(f"M={m}: {g:.3f}" for m, g in zip(widths, gap[0, :, -1])),
        predicted=f"b ≈ 1/2 (the empirical NTK's fluctuation at init); rule: CI lower end ≥ {GAP_EXP_LO}",
        control=rule.control("the same networks against kernel SGD with another kernel (softplus "
                             "β = 1's NTK)", bw_ci[0],
                             measured=f"b {bw[0]:.3f} (CI {bw_ci[0]:.3f}…{bw_ci[1]:.3f})"),
        detail=f"r = 0.5, widths {widths}, T = 2^{cfg.log2_t[0]}…2^{cfg.log2_width_t}; paired "
               "streams, every run its own init; gap per (M, T) in the table (column gap)"))
    ms = m_star[0]
    ok = np.isfinite(m_star).all(axis=0) & (m_star > 0).all(axis=0)
    if ok.sum() >= 3:
        a = _slope(tw[ok], m_star[0, ok][None].repeat(2, 0), 2)[0]
        sb = np.asarray(fit_slope(np.broadcast_to(tw[ok].astype(float), m_star[1:, ok].shape),
                                  m_star[1:, ok], log=True).slope)
        a_txt = f"{a:.3f} (CI {np.quantile(sb, 0.025):.3f}…{np.quantile(sb, 0.975):.3f})"
    else:
        a_txt = "not measurable (M* undefined at too many T)"
    out.append(Verdict(
        claim="[paper] the width needed is polynomial in T: M*(T), the width whose excess risk is "
              f"within {GAP_TOL:.0%} of kernel SGD's, ∝ T^a",
        measured=f"exponent a = {a_txt}; M*(T): " + ", ".join(
            f"T={t}: {m:.3g}" for t, m in zip(tw, ms)),
        predicted="a bounded exponent (the paper's width exponent could not be read)",
        holds=True, role="descriptive",
        detail="M*(T) from the power law gap ≈ c_T M^(−b_T) fitted over the widths at each T; "
               "reported, not decided: without the paper's exponent there is no rule to apply"))
    s, lo, hi = slopes["counter"]
    plateau = float(np.asarray(risks_c)[:, -1].mean())
    rule = Rule(hi=-0.5 + SLOPE_TOL, units="slope")
    out.append(rule.verdict(
        "[paper] the rate T^(−2r/(2r+1)) (counter-example: tanh without bias, even target "
        "cos 2φ outside the odd RKHS)",
        hi, measured=f"slope {s:.3f} (CI {lo:.3f}…{hi:.3f}); excess risk at T_max {plateau:.3f}",
        predicted="fails: every g is odd, so the risk plateaus at the even part's energy 0.5",
        detail=f"width {cfg.counter_width}, θ = 0.5; the r = 0.5 rule", expected=False))
    return out


def _legend_out(fig, ax):
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def _figures(cfg, t_ck, te_ck, curves, local, exact, widths, drift, tw, gap, m_star, device):
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(15, 4.5), gridspec_kw={"width_ratios": [1.3, 1]})
    r0 = cfg.rs[0]
    xs = {k: (tw if "counter" in k else t_ck) for k in curves}
    plots.rate_vs_parameter(xs, curves, reference={f"−2r/(2r+1), r = {r0:g}": -2 * r0 / (2 * r0 + 1)},
                            xlabel="$T$", ylabel=r"excess risk $\|g_T - g_\rho\|^2_\rho$", ax=ax)
    # one colour per series in both panels: rate_vs_parameter takes C0, C1, ... in the order of
    # ``curves`` (network and kernel SGD per r, then the counter-example); the exact ones follow
    n_r = len(cfg.rs)
    color = {**{(m, r): f"C{2 * i + j}" for i, r in enumerate(cfg.rs)
                for j, m in enumerate(("nn", "kernel"))},
             **{("exact", r): f"C{(2 * n_r + 1 + i) % 10}" for i, r in enumerate(cfg.rs)}}
    for (kind, r), ex in exact.items():
        if kind == "claim":
            ax.plot(te_ck, ex["risk"], "-", lw=1.2, color=color[("exact", r)],
                    label=f"exact expectation, r = {r:g}")
    ax.axvspan(2 ** (cfg.log2_t[1] - WINDOW_OCTAVES), t_ck[-1], color="0.92", zorder=0)
    ax.axvspan(2 ** (cfg.exact_log2_t - EXACT_WINDOW), te_ck[-1], color="0.85", alpha=0.4, zorder=0)
    _legend_out(fig, ax)
    for (kind, r), ex in exact.items():
        if kind == "claim" and r < 1.0:
            ax2.plot(*ex["local"], "-", lw=1.2, color=color[("exact", r)],
                     label=f"exact expectation, r = {r:g} (theory {-2 * r / (2 * r + 1):.3f})")
    for (method, kind, r), (t, l) in local.items():
        if kind == "claim" and r < 1.0:
            ax2.plot(t, l, "o" if method == "nn" else "s", ms=3, color=color[(method, r)],
                     label=f"{method}, r = {r:g}")
    ax2.set_xscale("log")
    ax2.set_xlabel("$T$ (end of the octave)")
    ax2.set_ylabel(r"local slope $\log_2 R(T)/R(T/2)$ (dotted: $-2r/(2r+1)$)")
    for r in cfg.rs:
        if r < 1.0:
            ax2.axhline(-2 * r / (2 * r + 1), ls=":", lw=0.8, color="0.4")
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.suptitle("003: last-iterate online SGD (shaded: the Monte Carlo and the exact fit windows)",
                 fontsize=10)
    fig.text(0.995, 0.005, f"device: {device}", ha="right", va="bottom", fontsize=6, color="0.4")
    fig.tight_layout()
    figs = {"excess_risk": fig}

    fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
    plots.ntk_drift_vs_width(np.asarray(widths), {f"{k} init": v for k, v in drift.items()},
                             reference=-1.0, ax=ax)
    ax.set_ylabel(r"NTK drift $\|K_T-K_0\|_F/\|K_0\|_F$")
    ax.set_xlabel("width $M$")
    ax.legend(fontsize=7, loc="lower left")
    for j in range(0, len(tw), 2):
        ax2.plot(widths, np.maximum(gap[0, :, j], 1e-4), "o-", ms=3, label=f"T = {tw[j]}")
    ax2.axhline(GAP_TOL, ls=":", color="0.3")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("width $M$")
    ax2.set_ylabel(r"typical gap $\mathrm{rms}_j(R_{nn,j}/R_{k,j} - 1)$")
    ax2.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ms = m_star[0]
    ok = np.isfinite(ms)
    lo, hi = np.nanquantile(m_star[1:], [0.025, 0.975], axis=0)
    err = np.maximum(0.0, np.nan_to_num([ms[ok] - lo[ok], hi[ok] - ms[ok]]))
    ax3.errorbar(tw[ok], ms[ok], yerr=err, fmt="o-", ms=3)
    ax3.set_xscale("log")
    ax3.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    ax3.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short log ranges
    ax3.set_xlabel("$T$")
    ax3.set_ylabel(f"$M^*(T)$: gap = {GAP_TOL:.0%}")
    fig.suptitle("003: NTK drift, network-vs-kernel gap, and the width needed", fontsize=10)
    fig.text(0.995, 0.005, f"device: {device}", ha="right", va="bottom", fontsize=6, color="0.4")
    fig.tight_layout()
    figs["width"] = fig
    return figs


PAPER = Paper(id="003", title="Last-iterate SGD for two-layer nets in the NTK regime",
              arxiv="2407.07670", quick=QUICK, full=FULL, run=run)
