r"""Figures for sweeps and reproductions: loss curves over seeds, rates against theory,
PL ratios along training, NTK drift against width.

Matplotlib is imported lazily (``import villani`` works without it; install the
``plot`` extra) and figures are drawn on the Agg canvas without pyplot, so nothing here
touches global state or needs a display. Every function returns a
:class:`matplotlib.figure.Figure`, saves it as PNG when given ``path``, and writes the
device in a small footnote when given ``device``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["loss_curves", "rate_vs_parameter", "pl_ratio_curve", "ntk_drift_vs_width",
           "fit_loglog", "save"]


def _figure(ax: Any = None, size: tuple[float, float] = (5.0, 3.6)):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _finish(fig, ax, *, title, device, path):
    if title:
        ax.set_title(title, fontsize=10)
    if device:
        fig.text(0.995, 0.005, f"device: {device}", ha="right", va="bottom", fontsize=6,
                 color="0.4")
    if path is not None:
        save(fig, path)
    return fig


def save(fig: Any, path: str | os.PathLike, *, dpi: int = 120) -> None:
    """Write ``fig`` as a PNG at ``path`` atomically (temp file, then ``os.replace``)."""
    from .experiments._store import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())


def _series(y: Any, x: Any, name: str, xname: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Normalise ``y`` (array or label -> array) and ``x`` into label -> (x, y)."""
    ys = dict(y) if isinstance(y, Mapping) else {"": y}
    out = {}
    for label, yy in ys.items():
        xx = x[label] if isinstance(x, Mapping) else x
        yy, xx = np.asarray(yy, dtype=float), np.asarray(xx, dtype=float)
        if xx.ndim != 1:
            raise ValueError(f"{xname}: expected a 1-D array, got shape {xx.shape}")
        if yy.shape[-1] != xx.shape[0]:
            raise ValueError(f"{name}{'[' + repr(label) + ']' if label else ''}: last axis has "
                             f"{yy.shape[-1]} entries but {xname} has {xx.shape[0]}")
        out[label] = (xx, yy)
    return out


def _median_band(ax, x, y, quantiles, label, color=None):
    y2 = y.reshape(-1, y.shape[-1])
    with np.errstate(all="ignore"):
        med = np.nanmedian(y2, axis=0)
        lo, hi = np.nanquantile(y2, quantiles, axis=0)
    (line,) = ax.plot(x, med, label=label or None, color=color, lw=1.5)
    if y2.shape[0] > 1:
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.25, lw=0)
    return line


def loss_curves(steps: Any, loss: Any, *, quantiles: Sequence[float] = (0.25, 0.75),
                ax: Any = None, title: str | None = None, ylabel: str = "loss",
                xlabel: str = "step", logy: bool = True, device: str | None = None,
                path: str | os.PathLike | None = None):
    r"""Loss against step: the median over seeds and the inter-quantile band, log y axis.

    Args:
        steps: ``(K,)`` record steps (or label -> ``(K,)``).
        loss: ``(S, K)`` losses of $S$ seeds (any leading shape is flattened into seeds),
            or a mapping label -> such arrays for several curves.
        quantiles: the band's lower and upper quantiles over seeds.
        ax: draw into this Axes instead of a new figure.
        title, ylabel, xlabel: labels. logy: log-scaled y axis.
        device: written as a footnote. path: save a PNG there.

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Example:
        >>> fig = loss_curves(table.axes_steps, {"lr=0.1": loss01, "lr=0.3": loss03})  # doctest: +SKIP
    """
    fig, ax = _figure(ax)
    for label, (x, y) in _series(loss, steps, "loss", "steps").items():
        _median_band(ax, x, y, quantiles, label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} (median, {quantiles[0]:g}–{quantiles[1]:g} quantiles)")
    if isinstance(loss, Mapping):
        ax.legend(fontsize=8)
    return _finish(fig, ax, title=title, device=device, path=path)


def fit_loglog(x: Any, y: Any) -> tuple[float, float]:
    r"""Least-squares line through $(\log x, \log y)$: returns (slope, intercept).

    Only points with $x, y > 0$ and finite count; at least two are needed.

    Example:
        >>> fit_loglog([1, 10, 100], [3.0, 0.3, 0.03])[0]
        -1.0
    """
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        raise ValueError(f"fit_loglog: need two positive points at distinct x, got {int(ok.sum())} usable")
    slope, intercept = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(np.round(slope, 12)), float(intercept)


def rate_vs_parameter(x: Any, rate: Any, *, reference: Mapping[str, float] | None = None,
                      ax: Any = None, title: str | None = None, xlabel: str = r"$\kappa$",
                      ylabel: str = "rate", device: str | None = None,
                      path: str | os.PathLike | None = None):
    r"""A measured rate against a theory parameter on log–log axes, with fitted slopes.

    Each series is drawn as points (median over seeds with the inter-quartile range as
    error bars when ``rate`` has a seed axis) and the least-squares line
    $\log r = s \log x + c$ (:func:`fit_loglog`) whose slope $s$ is written in the legend.

    Args:
        x: ``(P,)`` parameter values (or label -> ``(P,)``).
        rate: ``(P,)`` or ``(S, P)`` rates, or label -> such arrays (e.g. ``{"GD": ...,
            "NAG": ...}``).
        reference: name -> slope of dotted reference lines through the first series'
            first point, e.g. ``{"theory −1/2": -0.5}``.
        device: footnote. path: save a PNG there.

    Returns:
        The Figure; ``fig.villani_slopes`` holds label -> fitted slope.

    Example:
        >>> fig = rate_vs_parameter(kappa, {"GD": r_gd, "NAG": r_nag},
        ...                         reference={"−1": -1.0, "−1/2": -0.5})  # doctest: +SKIP
    """
    fig, ax = _figure(ax)
    slopes = {}
    anchor = None
    for label, (xx, yy) in _series(rate, x, "rate", "x").items():
        y2 = yy.reshape(-1, yy.shape[-1])
        with np.errstate(all="ignore"):
            med = np.nanmedian(y2, axis=0)
            lo, hi = np.nanquantile(y2, [0.25, 0.75], axis=0)
        slope, icpt = fit_loglog(np.broadcast_to(xx, y2.shape), y2)
        slopes[label] = slope
        pts = ax.errorbar(xx, med, yerr=[med - lo, hi - med] if y2.shape[0] > 1 else None,
                          fmt="o", ms=4, capsize=2)
        grid = np.geomspace(xx[xx > 0].min(), xx.max(), 50)
        name = f"{label}: " if label else ""
        ax.plot(grid, np.exp(icpt) * grid**slope, "--", color=pts[0].get_color(),
                label=f"{name}fitted slope {slope:.3f}")
        if anchor is None:
            anchor = (grid, xx[0], med[0])
    for name, s in (reference or {}).items():
        grid, x0, y0 = anchor
        ax.plot(grid, y0 * (grid / x0) ** s, ":", color="0.3", label=f"reference slope {name}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    fig.villani_slopes = slopes
    return _finish(fig, ax, title=title, device=device, path=path)


def pl_ratio_curve(steps: Any, ratio: Any, *, bound: float | None = None,
                   quantiles: Sequence[float] = (0.25, 0.75), ax: Any = None,
                   title: str | None = None, device: str | None = None,
                   path: str | os.PathLike | None = None):
    r"""The PL ratio $\mu(\theta_t) = \|\nabla L\|^2 / (2(L - L^*))$ along training.

    Median over seeds with the inter-quantile band (log y); ``bound`` draws the
    theory's lower bound $\mu$ as a horizontal line (linear convergence at rate $2\mu$
    needs $\mu(\theta_t) \ge \mu$ all along the path).

    Args:
        steps: ``(K,)``. ratio: ``(S, K)`` or label -> ``(S, K)``. bound: optional $\mu$.
        device: footnote. path: save a PNG there.

    Returns:
        The Figure.

    Example:
        >>> fig = pl_ratio_curve(steps, mu_t, bound=lam_min / 2)  # doctest: +SKIP
    """
    fig, ax = _figure(ax)
    for label, (x, y) in _series(ratio, steps, "ratio", "steps").items():
        _median_band(ax, x, y, quantiles, label)
    if bound is not None:
        ax.axhline(bound, ls="--", color="0.3", label=f"bound μ = {bound:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(r"PL ratio $\|\nabla L\|^2 / 2(L-L^*)$")
    if bound is not None or isinstance(ratio, Mapping):
        ax.legend(fontsize=8)
    return _finish(fig, ax, title=title, device=device, path=path)


def ntk_drift_vs_width(widths: Any, drift: Any, *, reference: float | None = -0.5,
                       ax: Any = None, title: str | None = None, device: str | None = None,
                       path: str | os.PathLike | None = None):
    r"""NTK drift $\|K_t - K_0\| / \|K_0\|$ against width $m$ on log–log axes.

    Points are medians over seeds with inter-quartile error bars; the fitted exponent
    (:func:`fit_loglog`) is in the legend, next to a reference slope (default $-1/2$,
    the lazy-training prediction).

    Args:
        widths: ``(W,)``. drift: ``(W,)``, ``(S, W)``, or label -> such arrays.
        reference: slope of a dotted reference line, or None.
        device: footnote. path: save a PNG there.

    Returns:
        The Figure; ``fig.villani_slopes`` holds label -> fitted exponent.

    Example:
        >>> fig = ntk_drift_vs_width([64, 256, 1024], drift)  # doctest: +SKIP
    """
    ref = None if reference is None else {f"{reference:g}": reference}
    return rate_vs_parameter(widths, drift, reference=ref, ax=ax, title=title,
                             xlabel="width m", ylabel=r"NTK drift $\|K_t-K_0\|/\|K_0\|$",
                             device=device, path=path)
