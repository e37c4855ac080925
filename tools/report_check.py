"""Build a small report and screenshot its index.html in headless Chromium (``make report-check``).

By default the report holds one toy paper registered here, built to exercise what the page
must show: $…$ maths in a claim summary and in verdicts, every outcome kind (holds,
fails, cannot fail here, no control, counter-example, descriptive), long floats, and a
wide three-panel figure. ``--paper 004`` reports a real paper's quick run instead (about
a minute). Prints the screenshot paths; look at them (the page should need no network:
Chromium runs with networking features off).

Needs Debian's chromium (``apt-get install -y chromium``); not part of ``make test``.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile


def _toy_paper():
    """A registered paper whose report exercises every kind of row and a wide figure."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from villani.experiments import Paper, Result, Rule, Verdict, papers

    def run(config, key):
        import jax

        u = np.asarray(jax.random.uniform(key, (config["n"],)))
        rule = Rule(lo=0.5, units="1/t", vacuous_ratio=10)
        refute = rule.control("λ below H (strong convexity lost)", 0.1234567891)
        verdicts = [
            rule.verdict(r"[derived] $E[\tilde L(\theta_t)]$ relaxes at rate $\ge \lambda - H$", 0.91,
                         err=0.04, measured="rate 0.9100000000000001 ± 0.04 (1,000 particles)",
                         control=refute, detail=r"fit over $t \in [0.5, 4]$; $s = 0.1$"),
            rule.verdict("[paper] the loss decays linearly", 0.3, measured="rate 0.3", control=refute),
            rule.verdict("[derived] a check whose control holds too", 0.9, measured="rate 0.9",
                         control=rule.control("a case that should violate it", 0.8)),
            rule.verdict("[derived] a claim without a control yet", 0.8, measured="rate 0.8"),
            Rule(hi=0.05).verdict("[derived] counter-example: λ = 0 converges", 3.2,
                                  measured="‖θ_T‖ grows: 3.2", expected=False),
            Verdict(r"$\|K_T - K_0\|_F / \|K_0\|_F$ at width 1024", "0.0123 (T=256: nan)", "—",
                    holds=True, role="descriptive"),
        ]
        fig = Figure(figsize=(12, 3.4), layout="constrained")
        FigureCanvasAgg(fig)
        t = np.arange(50)
        for i, ax in enumerate(fig.subplots(1, 3)):
            ax.semilogy(t, np.exp(-(i + 1) * 0.1 * t) * (1 + 0.1 * u[:50]), label="median")
            ax.set_xlabel("step $t$")
            ax.set_ylabel(r"$\tilde L(\theta_t) - \tilde L^*$")
            ax.set_title(rf"$\lambda = {i + 1}\lambda_c$", fontsize=10)
            ax.legend(loc="best")
        return Result("999", {"t": t, "u": u[:50]}, {"three panels": fig}, verdicts, {"n": config["n"]})

    run.__module__ = __name__
    paper = Paper("999", "A toy paper for the report check", "0000.00000", {"n": 100}, {"n": 1000}, run)
    papers.PAPERS["999"] = paper
    return "999"


# the claim paragraph the report shows for the toy paper (read from this module's docstring)
__doc__ += r"""

**Claim [paper].** For $f \ge 0$ let $\alpha(x_0, r) = \inf\{\|\nabla f(x)\|^2/f(x)\}$ over the
ball; if $4 f(x_0) < r^2\alpha(x_0, r)$, gradient flow converges at rate $e^{-\alpha t}$ and its
path is at most $2\sqrt{f(x_0)/\alpha}$ long, with $\tfrac{\sqrt s}{2}B_1B_x$ and $\mathbb E\|g\|^2$.
"""


def screenshot(index: pathlib.Path, png: pathlib.Path, width: int, height: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("report-check: chromium not found; apt-get update && apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--hide-scrollbars", f"--screenshot={png}",
               f"--window-size={width},{height}", index.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not png.exists():
        sys.exit(f"report-check: chromium failed ({proc.returncode}):\n{proc.stderr[-2000:]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="build/report-check", help="where the report and PNGs go")
    ap.add_argument("--paper", default=None, help="a registered paper id to run quick (default: a toy)")
    args = ap.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    from villani import report

    pid = args.paper or _toy_paper()
    out = pathlib.Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    directory, results = report.reproduce([pid], out=out, progress=False)
    index = directory / "index.html"
    page = index.read_text()
    problems = [w for w in ("http://", "https://", "<script") if w in page]
    if problems:
        sys.exit(f"report-check: {index} would need the network at view time: {problems}")
    shots = {"top": (1400, 1000), "full": (1400, 4200), "narrow": (900, 1600)}
    for name, (w, h) in shots.items():
        png = out / f"screenshot-{name}.png"
        screenshot(index, png, w, h)
        print(f"screenshot: {png} ({w}x{h})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
