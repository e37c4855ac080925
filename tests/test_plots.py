"""villani.plots: the drawn data equal NumPy's statistics; slopes equal a closed form."""

import os
import subprocess
import sys

import numpy as np
import pytest

from villani import plots

PNG = b"\x89PNG\r\n\x1a\n"


def _texts(fig):
    return [t.get_text() for t in fig.texts]


def test_loss_curves_median_band_and_png(tmp_path):
    rng = np.random.default_rng(0)
    steps = np.arange(0, 50, 5)
    loss = np.exp(-0.1 * steps)[None] * rng.uniform(0.5, 2.0, (9, 1))
    fig = plots.loss_curves(steps, loss, device="cpu", path=tmp_path / "loss.png", title="t")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.median(loss, axis=0), rtol=1e-12)
    assert ax.get_yscale() == "log"
    band = ax.collections[0].get_paths()[0].vertices[:, 1]  # fill_between polygon
    q25, q75 = np.quantile(loss, [0.25, 0.75], axis=0)
    assert np.allclose(band.min(), q25.min()) and np.allclose(band.max(), q75.max())
    assert "device: cpu" in _texts(fig)
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]

    fig = plots.loss_curves(steps, {"a": loss, "b": 2 * loss})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b"]
    assert _texts(fig) == []
    with pytest.raises(ValueError, match=r"loss\['b'\]: last axis has 3 entries but steps has 10"):
        plots.loss_curves(steps, {"a": loss, "b": loss[:, :3]})


def test_rate_vs_parameter_fitted_slope():
    kappa = np.geomspace(1, 100, 6)
    rng = np.random.default_rng(1)
    noise = rng.uniform(0.9, 1.1, (7, 6))
    gd, nag = 2.0 / kappa * noise, 3.0 / np.sqrt(kappa) * noise
    fig = plots.rate_vs_parameter(kappa, {"GD": gd, "NAG": nag},
                                  reference={"−1": -1.0}, device="NVIDIA H100")
    ref_gd = np.polyfit(np.log(np.tile(kappa, 7)), np.log(gd.ravel()), 1)[0]
    assert fig.villani_slopes["GD"] == pytest.approx(ref_gd, abs=1e-12)
    assert fig.villani_slopes["NAG"] == pytest.approx(-0.5, abs=0.05)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"GD: fitted slope {ref_gd:.3f}" in labels and "reference slope −1" in labels
    assert fig.axes[0].get_xscale() == fig.axes[0].get_yscale() == "log"
    assert "device: NVIDIA H100" in _texts(fig)
    assert plots.fit_loglog([1, 10, 100], [3.0, 0.3, 0.03])[0] == pytest.approx(-1.0, abs=1e-12)
    with pytest.raises(ValueError, match="need two positive points"):
        plots.fit_loglog([1, 2], [0.0, -1.0])


def test_pl_ratio_and_ntk_drift(tmp_path):
    steps = np.arange(20)
    mu = 0.5 + np.abs(np.random.default_rng(2).normal(size=(5, 20)))
    fig = plots.pl_ratio_curve(steps, mu, bound=0.5, path=tmp_path / "pl.png")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.median(mu, axis=0), rtol=1e-12)
    assert ax.lines[1].get_ydata()[0] == 0.5  # the bound
    widths = np.array([64, 256, 1024, 4096])
    drift = 0.8 * widths[None] ** -0.5 * np.ones((3, 1))
    fig = plots.ntk_drift_vs_width(widths, drift, path=tmp_path / "ntk.png", device="cpu")
    assert fig.villani_slopes[""] == pytest.approx(-0.5, abs=1e-10)
    for name in ("pl.png", "ntk.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_villani_imports_without_matplotlib():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import villani, villani.plots, villani.report\n"
            "print('IMPORT-OK')")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "IMPORT-OK" in proc.stdout
