"""villani.report: verdict tables, report directories, failures surfaced, registry errors."""

import json

import jax
import numpy as np
import pytest

from villani import plots, report
from villani.experiments import Paper, Result, Rule, Verdict, papers


def fake_run(config, key):
    """A toy 'paper': the mean of uniforms is close to 1/2 (holds); a counter-example that
    claims it is close to 0 must fail. Verdicts come from the measurement."""
    u = np.asarray(jax.random.uniform(key, (config["n"],)))
    m, se = u.mean(), u.std() / np.sqrt(u.size)
    fig = plots.loss_curves(np.arange(4), np.outer(u[:8], [1, 0.5, 0.25, 0.125]), device="cpu")
    return Result(
        paper="fake",
        table={"i": np.arange(u.size), "u": u},
        figures={"curves | main": fig},
        verdicts=[
            # the rule |mean - 1/2| <= 4 se, and as control the same rule on u², whose mean is 1/3
            Rule(hi=4 * se).verdict(
                "[derived] mean of U(0,1) is 1/2", abs(m - 0.5), measured=f"{m:.4f} ± {se:.4f}",
                predicted="0.5", detail=f"n = {u.size}",
                control=Rule(hi=4 * se).control("u² instead of u (mean 1/3)",
                                                abs((u**2).mean() - 0.5))),
            Verdict("counter-example: mean is 0", f"{m:.4f}", "0", holds=abs(m) < 4 * se,
                    expected=False),
        ],
        meta={"n": config["n"]},
    )


FAKE = Paper(id="fake", title="A toy paper", arxiv="0000.00000", quick={"n": 200},
             full={"n": 2000}, run=fake_run)


def broken_run(config, key):
    raise RuntimeError("boom")


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setitem(papers.PAPERS, "fake", FAKE)
    monkeypatch.setitem(papers.PAPERS, "broken", Paper("broken", "Broken", "1", {}, {}, broken_run))
    return papers.PAPERS


def test_report_directory_contents(registry, tmp_path, capsys):
    directory, results = report.reproduce(["fake"], out=tmp_path, seed=3)
    out = capsys.readouterr().out
    assert [r.paper for r in results] == ["fake"]
    assert all(v.as_expected for v in results[0].verdicts)
    assert "| fake | [derived] mean of U(0,1) is 1/2 |" in out
    assert "2 of 2 verdicts as expected" in out
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["fake-curves_main.png", "fake-table.csv", "fake-table.npz", "index.html",
                     "index.md", "meta.json"]
    assert [p.name for p in tmp_path.iterdir()] == [directory.name]  # no partial directories
    md = (directory / "index.md").read_text()
    assert "![fake-curves_main.png](fake-curves_main.png)" in md
    assert "fake — A toy paper (arXiv:0000.00000)" in md
    assert "| fake | counter-example: mean is 0 |" in md and "fails, as a counter-example should" in md
    html = (directory / "index.html").read_text()
    assert "<img src='fake-curves_main.png'" in html and "A toy paper" in html
    u = np.asarray(jax.random.uniform(jax.random.key(3), (200,)))
    csv = np.loadtxt(directory / "fake-table.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(csv[:, 1], u)  # repr round-trips floats exactly
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["mode"] == "quick" and meta["seed"] == 3
    assert meta["environment"]["versions"]["jax"] == jax.__version__
    assert meta["environment"]["device_kind"] == jax.devices()[0].device_kind
    assert meta["papers"]["fake"]["n"] == 200 and meta["papers"]["fake"]["seconds"] >= 0


def test_full_mode_and_failures_become_verdicts(registry, tmp_path, capsys):
    _, results = report.reproduce(["broken", "fake"], mode="full", out=tmp_path)
    broken, fake = results
    assert fake.meta["n"] == 2000
    (v,) = broken.verdicts
    assert not v.as_expected and "RuntimeError: boom" in v.measured and "broken_run" in v.detail
    assert "2 of 3 verdicts as expected" in capsys.readouterr().out


def test_registry_errors(registry):
    with pytest.raises(ValueError, match=r"unknown paper id\(s\) '007'; known: .*broken, fake"):
        report.reproduce(["007"])
    with pytest.raises(ValueError, match="mode: expected 'quick' or 'full'"):
        report.run_paper(FAKE, mode="medium")
    with pytest.raises(ValueError, match="already registered"):
        papers.register(Paper("fake", "Another", "1", {}, {}, fake_run))
    with pytest.raises(TypeError, match="expected a villani.experiments.Paper"):
        papers.register({"id": "x"})
    assert [p.id for p in papers.get()] == sorted(registry)


def test_verdict_table_escapes_and_write_report_refuses_existing(tmp_path):
    r = Result("x", {}, {}, [Verdict("a | b", "1\n2", "3", holds=False)])
    table = report.verdict_table([r])
    assert table.splitlines()[2] == r"| x | a \| b | 1<br>2 | 3 | fails |  | none (claim without a control) |"
    (tmp_path / "r").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        report.write_report([r], tmp_path / "r")


def test_show_paper_prints_writes_figures_and_returns_the_result(registry, tmp_path, capsys):
    # what every notebook's main() calls; outside IPython the figures become PNGs
    result = report.show_paper("fake", quick=True, plot=True, seed=3, figures_dir=tmp_path)
    out = capsys.readouterr().out
    assert "| fake | [derived] mean of U(0,1) is 1/2 |" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-curves_main.png"]
    assert result.meta["mode"] == "quick" and result.meta["config"] == {"n": 200}
    again = report.show_paper("fake", quick=True, plot=False, seed=3, figures_dir=tmp_path / "no")
    np.testing.assert_array_equal(again.table["u"], result.table["u"])  # same seed, same run
    assert not (tmp_path / "no").exists()
    full = report.show_paper("fake", quick=False, plot=False)
    assert full.table["u"].size == 2000
    with pytest.raises(ValueError, match="unknown paper id.*nope"):
        report.show_paper("nope")
