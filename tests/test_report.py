"""villani.report: verdict tables, report directories, failures surfaced, registry errors."""

import json
import re

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
    # the terminal gets a one-screen summary, not the table: one line per paper, the path
    assert "| fake |" not in out
    assert max(len(line) for line in out.splitlines() if not line.startswith("report:")) <= 160
    assert re.search(r"^  fake +2/2 as expected +\d.* A toy paper$", out, re.M)
    assert "2 of 2 verdicts as expected" in out
    assert f"report: {directory.resolve() / 'index.html'}" in out
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["fake-curves_main.png", "fake-table.csv", "fake-table.npz", "index.html",
                     "index.md", "meta.json"]
    assert [p.name for p in tmp_path.iterdir()] == [directory.name]  # no partial directories
    md = (directory / "index.md").read_text()
    assert "![fake-curves_main.png](fake-curves_main.png)" in md
    assert "fake — A toy paper (arXiv:0000.00000)" in md
    assert "| fake | counter-example: mean is 0 |" in md and "fails, as a counter-example should" in md
    html = (directory / "index.html").read_text()
    # full-width figures that open at full size when clicked
    png = (directory / "fake-curves_main.png").read_bytes()
    width = int.from_bytes(png[16:20], "big")  # IHDR: a one-panel figure is not blown up past it
    assert 500 < width < 1000
    assert ("<a href='fake-curves_main.png' target='_blank' title='open at full size'>"
            f"<img src='fake-curves_main.png' alt='fake-curves_main.png' style='max-width:{width}px'>"
            ) in html and "A toy paper" in html
    assert "figure img{width:100%" in html and "max-width:520px" not in html
    assert "<tr class='ok'" in html and "<tr class='bad'" not in html
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


def test_display_numbers_are_rounded_but_tables_keep_every_digit():
    assert report._num("ran in 281.0821670810001 s, rate 0.123456789") == "ran in 281.1 s, rate 0.1235"
    kept = "jax 0.4.31, n = 1000, 1.25e-08, θ = 0.003"
    assert report._num(kept) == kept
    assert report._num("1.0000000001e-05") == "1e-05"
    assert [report._seconds(x) for x in (0.4219, 12.34, 281.082, None)] == [
        "0.42 s", "12.3 s", "281 s (4 min 41 s)", "? s"]


def test_html_renders_maths_offline_and_colours_rows(tmp_path):
    rule = Rule(lo=0.5, units="1/t")
    good = rule.verdict(r"[derived] rate $\ge \lambda - H$", 0.9, measured="0.9012345678901",
                        control=rule.control("λ < H", 0.1))
    bad = rule.verdict("[derived] a failing claim", 0.1, measured="0.1", control=rule.control("x", 0.0))
    weak = rule.verdict("[derived] no control yet", 0.9, measured="0.9")
    broken_tex = Verdict(r"odd TeX $\notacommand{x}$", "1", "1", holds=True, role="descriptive")
    d = report.write_report([Result("m", {}, {}, [good, bad, weak, broken_tex])], tmp_path / "r",
                            meta={"mode": "quick", "seed": 0})
    page = (d / "index.html").read_text()
    # maths became inline SVG images (no network at view time: no <script>, no http(s) links)
    assert page.count("<img class='math' src='data:image/svg+xml;base64,") == 1
    assert r"alt='\ge \lambda - H'" in page and "<script" not in page
    assert "http://" not in page and "https://" not in page
    assert r"<code class='tex'>\notacommand{x}</code>" in page  # unparseable: shown as source
    assert "0.9012" in page and "0.9012345678901" not in page
    classes = re.findall(r"<tr class='(\w+)' title='as expected: (\w+)'>", page)
    assert classes == [("ok", "yes"), ("bad", "NO"), ("warn", "yes"), ("info", "yes")]
    meta = json.loads((d / "meta.json").read_text())
    assert meta["verdicts"][0]["measured"] == "0.9012345678901"  # meta keeps every digit


def _staged_run(config, key):
    report.stage("part a: rays")
    report.stage("part b: seeds")
    return fake_run(config, key)


def test_reproduce_progress_bar_names_papers_and_stages(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(papers.PAPERS, "staged", Paper("staged", "Staged", "1", {"n": 50}, {}, _staged_run))
    report.stage("outside a reproduction: a no-op")
    report.reproduce(["staged"], out=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "reproduce" in err and "staged: part b: seeds" in err
    assert "2/2" in err  # the paper, then the report
    report.reproduce(["staged"], out=tmp_path, progress=False)
    assert capsys.readouterr().err == ""


def test_show_paper_in_jupyter_displays_an_html_table_and_png_figures(registry, monkeypatch):
    from IPython.display import HTML, Image

    shown = []
    monkeypatch.setattr(report, "_ipython_display", lambda: shown.append)
    report.show_paper("fake", quick=True, plot=True, seed=3)
    html, img = shown
    assert isinstance(html, HTML) and "<table class='verdicts'>" in html.data
    assert "2 of 2 verdicts as expected" in html.data
    assert isinstance(img, Image) and img.data[:8] == b"\x89PNG\r\n\x1a\n"
