r"""The report of ``villani reproduce``: run the registered papers, write a verdict table,
figures, tables and metadata under ``reports/<timestamp>/``.

Layout of a report directory::

    reports/20261123-114512/
      index.md, index.html   verdict table (paper, claim, measured, predicted, outcome,
                             margin, control), then one section per paper
      000-<figure>.png       each Result's figures
      000-table.csv/.npz     each Result's tidy table
      meta.json              mode, seed, device, versions, git revision, timings

The directory is built under a hidden temporary name and renamed into place when
complete, so a report directory is never half-written.

Reading ``index.html`` needs no network: figures are PNG files beside it (full width,
click to open one at full size) and the ``$…$`` maths of claims and paper summaries is
rendered when the report is written, by matplotlib's mathtext, into small inline SVG
images (no JavaScript, no web fonts, nothing to bundle). Long floats in the verdict text
are shown to 4 significant digits; ``meta.json`` and the tables keep every digit.
"""

from __future__ import annotations

import datetime
import functools
import html
import io
import json
import os
import pathlib
import re
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from .experiments import _store
from .experiments._progress import reproduce_bar
from .experiments._progress import stage as stage
from .experiments.result import Paper, Result, Verdict

__all__ = ["reproduce", "run_paper", "show_paper", "stage", "summary", "unexpected", "verdict_rows",
           "verdict_table", "write_report"]

COLUMNS = ("paper", "claim", "measured", "predicted", "outcome", "margin", "control")


def run_paper(paper: Paper, *, mode: str = "quick", seed: int = 0) -> Result:
    """Run one registered paper's ``quick`` or ``full`` configuration.

    A run that raises, or returns something other than a :class:`Result`, becomes a
    Result with one failed verdict ("the reproduction runs to completion") carrying the
    error, so one broken paper does not hide the others' verdicts.

    Args:
        paper: a :class:`~villani.experiments.Paper`.
        mode: ``"quick"`` or ``"full"``.
        seed: the PRNG seed; the paper gets ``jax.random.key(seed)``.

    Returns:
        The paper's Result, with ``meta["seconds"]`` (wall time) and ``meta["mode"]``.
    """
    import jax

    if mode not in ("quick", "full"):
        raise ValueError(f"mode: expected 'quick' or 'full', got {mode!r}")
    config = paper.quick if mode == "quick" else paper.full
    start = time.perf_counter()
    try:
        result = paper.run(config, jax.random.key(seed))
        if not isinstance(result, Result):
            raise TypeError(f"paper {paper.id}: run returned {type(result).__name__}, expected a Result")
    except Exception as e:  # noqa: BLE001 - reported as a failed verdict, never swallowed
        result = Result(paper=paper.id, table={}, figures={}, verdicts=[Verdict(
            claim="the reproduction runs to completion",
            measured=f"{type(e).__name__}: {e}", predicted="completes", holds=False,
            detail=traceback.format_exc(limit=6))])
    result.meta.setdefault("seconds", round(time.perf_counter() - start, 1))
    result.meta.setdefault("mode", mode)
    result.meta.setdefault("config", config)
    return result


def show_paper(paper_id: str, *, quick: bool = True, plot: bool = True, seed: int = 0,
               figures_dir: str | os.PathLike = ".") -> Result:
    """Run one paper's reproduction and show its verdicts and figures (what a notebook calls).

    Enables float64 (as ``villani reproduce`` does: the papers' floors and residual ratios
    assume it), runs the registered paper's quick or full configuration under
    ``jax.random.key(seed)`` with :func:`run_paper`, and shows the verdicts and, when
    ``plot`` is true, the figures. Under IPython/Jupyter the verdicts are an HTML table
    and the figures inline PNGs; elsewhere the verdict table is printed as Markdown and
    the figures are written as PNGs ``<paper>-<figure>.png`` to ``figures_dir`` (as in a
    report, with the device named). Figures are then released from pyplot (they stay
    usable in ``result.figures``), so Jupyter does not draw them twice.

    Args:
        paper_id: a registered id, e.g. ``"001"``.
        quick: the quick configuration (else the full one).
        plot: display (or write) the figures.
        seed: PRNG seed.
        figures_dir: where PNGs go outside IPython.

    Returns:
        The paper's :class:`~villani.experiments.Result`.

    Example:
        >>> result = show_paper("004", quick=True, plot=False)  # doctest: +SKIP

        (skipped: the quick run takes about a minute; ``tests/test_report.py`` runs it
        on a toy paper and the notebooks run it on the real ones.)
    """
    import jax

    from .experiments import papers

    jax.config.update("jax_enable_x64", True)
    (paper,) = papers.get([paper_id])
    result = run_paper(paper, mode="quick" if quick else "full", seed=seed)
    device = _store.device_label(_store.environment())
    display = _ipython_display()
    if display is not None:
        from IPython.display import HTML, Image

        rows = verdict_rows([result])
        ok = sum(r["as expected"] == "yes" for r in rows)
        display(HTML(f"<p><b>{ok} of {len(rows)} verdicts as expected</b> "
                     f"({html.escape(_seconds(result.meta.get('seconds')))})</p>"
                     + _verdict_table_html(rows) + f"<style>{_CSS_TABLE}</style>"))
        if plot:
            for name, fig in result.figures.items():
                _footnote(fig, device)
                display(Image(data=_png_bytes(fig), format="png"))
    else:
        print(verdict_table([result]))
        if plot:  # the report's own writer: same file names, device footnote
            for fname in _write_figures(pathlib.Path(figures_dir), result.paper, result.figures, device):
                print(f"figure written to {pathlib.Path(figures_dir) / fname}")
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        for fig in result.figures.values():
            plt.close(fig)
    return result


def _ipython_display():
    """IPython's ``display`` inside a running IPython shell or kernel, else None."""
    if "IPython" not in sys.modules:  # never started by this process: no shell to display in
        return None
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return display if get_ipython() is not None else None


# -- numbers and text ---------------------------------------------------------------------

_LONG_FLOAT = re.compile(r"(?<![\w.:])(\d+\.\d{6,})(e[-+]?\d+)?(?![\w.])")


def _num(text: Any) -> str:
    """``text`` with every float written with 6 or more decimals cut to 4 significant
    digits ("281.0821670810001" -> "281.1"); versions and ids are left alone."""
    return _LONG_FLOAT.sub(lambda m: f"{float(m.group(0)):.4g}", str(text))


def _seconds(x: Any) -> str:
    """A duration for people: "0.42 s", "12.3 s", "281 s (4 min 41 s)"."""
    try:
        s = float(x)
    except (TypeError, ValueError):
        return "? s"
    if s < 10:
        return f"{s:.2g} s"
    if s < 100:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    return f"{round(s)} s ({m} min {sec} s)" if m else f"{round(s)} s"


def verdict_rows(results: Sequence[Result]) -> list[dict[str, str]]:
    """One row of strings per verdict: the columns of :data:`COLUMNS`, plus ``"as expected"``
    ("yes"/"NO") and ``"role"`` for meta.json and the report's row colours."""
    rows = []
    for r in results:
        for v in r.verdicts:
            rows.append({
                "paper": str(r.paper), "claim": v.claim, "measured": v.measured,
                "predicted": v.predicted, "outcome": v.outcome, "margin": v.margin_text(),
                "control": v.control_text(), "role": v.role,
                "as expected": "yes" if v.as_expected else "NO",
            })
    return rows


def unexpected(results: Sequence[Result]) -> list[str]:
    """One line per verdict that did not come out as expected: paper, outcome and claim."""
    return [f"[{r.paper}] {v.outcome}: {v.claim}" for r in results for v in r.verdicts
            if not v.as_expected]


def _md_cell(s: str) -> str:
    return _num(s).replace("|", r"\|").replace("\n", "<br>")


def verdict_table(results: Sequence[Result]) -> str:
    """The verdict table as Markdown (``index.md``'s table; ``show_paper`` prints it).

    Example:
        >>> from villani.experiments import Result, Rule
        >>> rule = Rule(lo=0.5)
        >>> v = rule.verdict("rate >= 1/2", 0.75, measured="0.75", control=rule.control("x", 0.1))
        >>> print(verdict_table([Result("999", {}, {}, [v])]))
        | paper | claim | measured | predicted | outcome | margin | control |
        |---|---|---|---|---|---|---|
        | 999 | rate >= 1/2 | 0.75 | ≥ 0.5 | holds | +0.25 | fails as it should: x; 0.1, margin -0.4 |
    """
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in verdict_rows(results):
        lines.append("| " + " | ".join(_md_cell(row[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


def summary(results: Sequence[Result], directory: str | os.PathLike | None = None, *,
            width: int = 100) -> str:
    """The one-screen terminal summary ``villani reproduce`` ends with.

    One line per paper (verdicts as expected / total, run time, title), the total, one
    line per verdict not as expected (cut to ``width`` characters), and the report's path.

    Example:
        >>> from villani.experiments import Result, Rule
        >>> ok = Rule(lo=0.5).verdict("[derived] rate >= 1/2", 0.75, measured="0.75")
        >>> bad = Rule(lo=0.5).verdict("[derived] rate >= 1/2 again", 0.25, measured="0.25")
        >>> print(summary([Result("999", {}, {}, [ok, bad], meta={"seconds": 12.0})]))
          999     1/2 as expected   12.0 s
        1 of 2 verdicts as expected
        not as expected: [999] fails: [derived] rate >= 1/2 again
    """
    from .experiments import papers as registry

    lines = []
    for r in results:
        n, ok = len(r.verdicts), sum(v.as_expected for v in r.verdicts)
        p = registry.PAPERS.get(r.paper)
        title = f"  {p.title}" if p is not None else ""
        frac = f"{ok}/{n}"
        line = f"  {r.paper:<5}{frac:>6} as expected   {_seconds(r.meta.get('seconds')):<20}{title}"
        lines.append(_cut(line.rstrip(), width))
    rows = verdict_rows(results)
    ok = sum(row["as expected"] == "yes" for row in rows)
    lines.append(f"{ok} of {len(rows)} verdicts as expected")
    lines += [_cut(f"not as expected: {_num(u)}", width) for u in unexpected(results)]
    if directory is not None:
        d = pathlib.Path(directory)
        lines.append(f"report: {d / 'index.html'}  (Markdown: {d / 'index.md'})")
    return "\n".join(lines)


def _cut(s: str, width: int) -> str:
    s = " ".join(s.split("\n"))
    return s if len(s) <= width else s[:width - 1] + "…"


# -- files --------------------------------------------------------------------------------


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(s)).strip("_")[:80] or "x"


def _write_table(directory: pathlib.Path, stem: str, table: Any) -> list[str]:
    if hasattr(table, "columns") and not isinstance(table, dict):
        table = table.columns  # a SweepTable
    cols = {k: np.asarray(v) for k, v in dict(table).items()}
    if not cols:
        return []
    _store.save_npz(directory / f"{stem}.npz", cols)
    files = [f"{stem}.npz"]
    lengths = {v.shape[0] if v.ndim else 1 for v in cols.values()}
    flat = all(v.ndim == 1 for v in cols.values())
    if flat and len(lengths) == 1:
        n = lengths.pop()
        lines = [",".join(cols)]
        for i in range(n):
            lines.append(",".join(_csv(cols[k][i]) for k in cols))
        _store.atomic_write_text(directory / f"{stem}.csv", "\n".join(lines) + "\n")
        files.append(f"{stem}.csv")
    return files


def _csv(x: Any) -> str:
    s = repr(x.item()) if isinstance(x, np.generic) else repr(x)
    s = s.strip("'\"") if isinstance(x, (str, np.str_)) else s
    return f'"{s}"' if ("," in s or '"' in s) else s


def _footnote(fig: Any, device: str) -> None:
    if not any("device:" in t.get_text() for t in getattr(fig, "texts", [])):
        fig.text(0.995, 0.005, f"device: {device}", ha="right", va="bottom", fontsize=6, color="0.4")


def _png_bytes(fig: Any, dpi: int = 150) -> bytes:
    """The figure as PNG, cropped to its artists (no cut labels) with a small pad."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.08)
    return buf.getvalue()


def _write_figures(directory: pathlib.Path, paper: str, figures: dict, device: str) -> list[str]:
    files = []
    for name, fig in figures.items():
        _footnote(fig, device)
        fname = f"{_slug(paper)}-{_slug(name)}.png"
        _store.atomic_write_bytes(directory / fname, _png_bytes(fig))
        files.append(fname)
    return files


def write_report(results: Sequence[Result], directory: str | os.PathLike, *,
                 meta: dict[str, Any] | None = None, papers: dict[str, Paper] | None = None) -> pathlib.Path:
    """Write ``index.md``, ``index.html``, figures, tables and ``meta.json`` into a new
    ``directory`` (built under a temporary name, renamed into place when complete).

    Args:
        results: the papers' Results.
        directory: the report directory; must not exist yet.
        meta: run metadata (mode, seed, environment...) for ``meta.json`` and the header.
        papers: id -> Paper, for titles, arXiv ids and the claim summaries of the sections.

    Returns:
        The report directory.
    """
    directory = pathlib.Path(directory)
    if directory.exists():
        raise ValueError(f"directory: {str(directory)!r} already exists; a report is never overwritten")
    meta = dict(meta or {})
    env = meta.get("environment") or _store.environment()
    device = _store.device_label(env)
    tmp = directory.parent / f".{directory.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        sections, widths = [], {}
        for r in results:
            figs = _write_figures(tmp, r.paper, r.figures, device)
            widths.update({f: _png_width(tmp / f) for f in figs})
            tables = _write_table(tmp, f"{_slug(r.paper)}-table", r.table)
            sections.append((r, figs, tables))
        meta["papers"] = {r.paper: _store.jsonable(r.meta) for r in results}
        meta["verdicts"] = verdict_rows(results)
        _store.atomic_write_text(tmp / "meta.json", json.dumps(_store.jsonable(meta), indent=2))
        _store.atomic_write_text(tmp / "index.md", _markdown(sections, meta, env, device, papers or {}))
        _store.atomic_write_text(tmp / "index.html", _html(sections, meta, env, device, papers or {}, widths))
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _header(meta, env, device) -> list[str]:
    v = env.get("versions", {})
    return [f"mode: {meta.get('mode', '?')} · seed: {meta.get('seed', '?')} · device: {device} · "
            f"float64: {'on' if env.get('float64') else 'off'}",
            "versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val)
            + f" · git: {env.get('git') or 'n/a'}"]


def _title(r: Result, papers: dict[str, Paper]) -> str:
    p = papers.get(r.paper)
    return f"{r.paper} — {p.title} (arXiv:{p.arxiv})" if p else str(r.paper)


def _paper_summary(paper: Paper | None) -> str:
    """The claim paragraph of a paper module's docstring (``**Claim ...``), else ""."""
    if paper is None:
        return ""
    doc = getattr(sys.modules.get(getattr(paper.run, "__module__", "") or ""), "__doc__", None) or ""
    for para in re.split(r"\n\s*\n", doc):
        if re.match(r"\s*(\*\*)?(Claim|\[paper\])", para):
            text = " ".join(para.split())
            # a pointer to notes outside the package means nothing to a report's reader
            return re.sub(r"\s*\((?:see )?(?:PAPERS|DESIGN|STYLE)\.md[^)]*\)", "", text)
    return ""


def _markdown(sections, meta, env, device, papers) -> str:
    results = [s[0] for s in sections]
    rows = verdict_rows(results)
    ok = sum(row["as expected"] == "yes" for row in rows)
    out = [f"# villani reproduce — {meta.get('created', '')}", "",
           *[h + "  " for h in _header(meta, env, device)],
           "", f"**{ok} of {len(rows)} verdicts as expected.**", "",
           "## Verdicts", "", verdict_table(results), ""]
    for r, figs, tables in sections:
        out += [f"## {_title(r, papers)}", ""]
        claim = _paper_summary(papers.get(r.paper))
        if claim:
            out += [claim, ""]
        out += [f"ran in {_seconds(r.meta.get('seconds'))}", ""]
        for v in r.verdicts:
            if v.detail:
                out += [f"- **{_md_cell(v.claim)}** — {_md_cell(v.detail)}"]
        out += [""] + [f"![{f}]({f})" for f in figs] + [""]
        if tables:
            out += ["tables: " + ", ".join(f"[{t}]({t})" for t in tables), ""]
    return "\n".join(out)


# -- HTML -----------------------------------------------------------------------------------

_MATH = re.compile(r"(?<!\\)\$([^$\n]+?)(?<!\\)\$")


_TOKEN = r"\\[a-zA-Z]+|[A-Za-z0-9]|\{[^{}]*\}"
_TEX_ALIASES = (
    (r"\\ge(?![a-zA-Z])", r"\\geq"), (r"\\le(?![a-zA-Z])", r"\\leq"), (r"\\ne(?![a-zA-Z])", r"\\neq"),
    (r"\\[td]frac(?![a-zA-Z])", r"\\frac"),
    (r"\\(mathbb|mathcal|mathrm|mathbf)\s*([A-Za-z0-9])", r"\\\1{\2}"),
    # TeX's unbraced arguments (\frac12, \frac\lambda2, \sqrt\kappa): mathtext wants braces
    (rf"\\frac\s*({_TOKEN})\s*({_TOKEN})", r"\\frac{\1}{\2}"),
    (r"\\sqrt\s*(\\[a-zA-Z]+|[A-Za-z0-9])", r"\\sqrt{\1}"),
)


@functools.lru_cache(maxsize=512)
def _math_img(tex: str, size: float = 14.0) -> str:
    r"""``$tex$`` as an inline SVG image (a data URI: glyphs as paths, no fonts needed).

    mathtext reads a subset of TeX; a few common spellings it lacks are rewritten first
    (``\ge``, ``\mathbb E``, ``\tfrac``...). Falls back to the TeX source in ``<code>``
    when mathtext cannot parse it.
    """
    tex_in = tex
    for a, b in _TEX_ALIASES:
        tex = re.sub(a, b, tex)
    try:
        import base64

        from matplotlib import mathtext
        from matplotlib.font_manager import FontProperties

        prop = FontProperties(size=size)
        _, height, depth = mathtext.MathTextParser("path").parse(f"${tex}$", dpi=72, prop=prop)[:3]
        buf = io.BytesIO()
        mathtext.math_to_image(f"${tex}$", buf, prop=prop, dpi=72, format="svg")
    except Exception:  # noqa: BLE001 - mathtext covers a subset of TeX: show the source
        return f"<code class='tex'>{html.escape(tex_in)}</code>"
    svg = re.sub(rb"<metadata>.*?</metadata>", b"", buf.getvalue(), flags=re.S)
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    return (f"<img class='math' src='{uri}' alt='{html.escape(tex_in, quote=True)}' "
            f"style='height:{float(height):.0f}px;vertical-align:-{float(depth):.0f}px'>")


def _inline_html(text: Any) -> str:
    """Escape ``text`` for HTML, rendering ``$…$`` maths, ``**bold**``, ``*italic*``,
    ````code```` and Sphinx roles (``:func:`x```) on the way."""
    out = []
    s = _num(text)
    pos = 0
    for m in _MATH.finditer(s):
        out.append(_markup(s[pos:m.start()]))
        out.append(_math_img(m.group(1)))
        pos = m.end()
    out.append(_markup(s[pos:]))
    return "".join(out)


def _markup(s: str) -> str:
    s = html.escape(s.replace(r"\$", "$"))
    s = re.sub(r":\w+:`~?([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"``([^`]+)``", r"<code>\1</code>", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)
    s = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<i>\1</i>", s)
    return s.replace("\n", "<br>")


def _outcome_class(row: dict[str, str]) -> str:
    if row["as expected"] != "yes":
        return "bad"
    if row["role"] == "descriptive":
        return "info"
    if row["outcome"] in ("vacuous", "holds, no control"):
        return "warn"
    return "ok"


_CSS_TABLE = (
    "table.verdicts{border-collapse:collapse;width:100%;table-layout:fixed}"
    "table.verdicts td,table.verdicts th{border:1px solid #d0d0d0;padding:4px 6px;vertical-align:top;"
    "font-size:13px;overflow-wrap:anywhere;text-align:left}"
    "table.verdicts th{background:#f2f2f2}"
    "table.verdicts tr.ok td{background:#f3fbf3}table.verdicts tr.bad td{background:#fde2e2}"
    "table.verdicts tr.warn td{background:#fff8e1}table.verdicts tr.info td{background:#f6f6f6}"
    "table.verdicts td.outcome{font-weight:bold}"
    "tr.ok td.outcome{color:#1b6e20}tr.bad td.outcome{color:#b00020}tr.warn td.outcome{color:#8a5a00}"
    "tr.info td.outcome{color:#555}"
    "col.paper{width:3.5em}col.claim{width:24%}col.outcome{width:9em}col.margin{width:8em}"
)

_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1400px;margin:0 auto;"
    "padding:0 16px;line-height:1.45;color:#222}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:32px}"
    "p.meta{color:#555;font-size:13px;margin:2px 0}"
    "table.summary{border-collapse:collapse;margin:8px 0}"
    "table.summary td,table.summary th{padding:3px 10px;border-bottom:1px solid #eee;font-size:14px;"
    "text-align:left}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "span.ok{color:#1b6e20;font-weight:bold}span.bad{color:#b00020;font-weight:bold}"
    "img.math{display:inline-block}"
    "figure{margin:16px 0}figure img{width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:12px;color:#555}"
    "ul.details li{font-size:13px;margin:3px 0}"
    "div.claim{background:#f7f7fb;border-left:3px solid #99c;padding:6px 10px;font-size:14px}"
    + _CSS_TABLE
)


def _max_width(px: int | None) -> str:
    return f" style='max-width:{px}px'" if px else ""


def _verdict_table_html(rows: list[dict[str, str]]) -> str:
    cols = "".join(f"<col class='{c}'>" for c in COLUMNS)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for row in rows:
        cls = _outcome_class(row)
        cells = "".join(f"<td class='{c}'>{_inline_html(row[c])}</td>" for c in COLUMNS)
        body.append(f"<tr class='{cls}' title='as expected: {row['as expected']}'>{cells}</tr>")
    return f"<table class='verdicts'><colgroup>{cols}</colgroup><tr>{head}</tr>{''.join(body)}</table>"


def _png_width(path: pathlib.Path) -> int | None:
    """A PNG's width in pixels (from its IHDR chunk), None if it is not a PNG."""
    head = path.read_bytes()[:24]
    return int.from_bytes(head[16:20], "big") if head[:8] == b"\x89PNG\r\n\x1a\n" else None


def _html(sections, meta, env, device, papers, widths=None) -> str:
    e = html.escape
    results = [s[0] for s in sections]
    rows = verdict_rows(results)
    ok = sum(r["as expected"] == "yes" for r in rows)
    summary_rows = []
    for r in results:
        n, k = len(r.verdicts), sum(v.as_expected for v in r.verdicts)
        cls = "ok" if k == n else "bad"
        summary_rows.append(
            f"<tr><td><a href='#paper-{e(_slug(r.paper))}'>{e(r.paper)}</a></td>"
            f"<td>{_inline_html(papers[r.paper].title) if r.paper in papers else ''}</td>"
            f"<td class='num'><span class='{cls}'>{k} / {n}</span></td>"
            f"<td class='num'>{e(_seconds(r.meta.get('seconds')))}</td></tr>")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>villani reproduce</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>villani reproduce — {e(str(meta.get('created', '')))}</h1>",
        *[f"<p class='meta'>{e(h)}</p>" for h in _header(meta, env, device)],
        f"<p><b>{ok} of {len(rows)} verdicts as expected.</b> Row colours: green as expected, "
        "red not as expected, amber as expected but weak (no control, or a vacuous bound), grey "
        "descriptive. <i>margin</i>: signed distance from the measurement to the rule's bound "
        "(positive: the claim's side). <i>control</i>: the same rule on a case built to violate "
        "the claim; a claim reads “holds” only when its control fails.</p>",
        "<table class='summary'><tr><th>paper</th><th>title</th><th>as expected</th><th>ran in</th>"
        f"</tr>{''.join(summary_rows)}</table>",
        "<h2>Verdicts</h2>",
        _verdict_table_html(rows),
    ]
    for r, figs, tables in sections:
        parts.append(f"<h2 id='paper-{e(_slug(r.paper))}'>{_inline_html(_title(r, papers))}</h2>")
        claim = _paper_summary(papers.get(r.paper))
        if claim:
            parts.append(f"<div class='claim'>{_inline_html(claim)}</div>")
        parts.append(f"<p class='meta'>ran in {e(_seconds(r.meta.get('seconds')))}</p>")
        details = [f"<li><b>{_inline_html(v.claim)}</b> — {_inline_html(v.detail)}</li>"
                   for v in r.verdicts if v.detail]
        if details:
            parts.append("<ul class='details'>" + "".join(details) + "</ul>")
        # as wide as the page, but a one-panel figure is not blown up past its own pixels
        parts += [f"<figure><a href='{e(f)}' target='_blank' title='open at full size'>"
                  f"<img src='{e(f)}' alt='{e(f)}'{_max_width((widths or {}).get(f))}></a>"
                  f"<figcaption>{e(f)} (click to open at full size)</figcaption></figure>" for f in figs]
        if tables:
            parts.append("<p class='meta'>tables: "
                         + ", ".join(f"<a href='{e(t)}'>{e(t)}</a>" for t in tables) + "</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def reproduce(ids: Sequence[str] | None = None, *, mode: str = "quick",
              out: str | os.PathLike = "reports", seed: int = 0,
              stream: TextIO | None = None,
              progress: bool | None = None) -> tuple[pathlib.Path, list[Result]]:
    """Run the selected registered papers and write a report under ``out/<timestamp>/``.

    While it runs, a progress bar over the papers names the paper and its stage (see
    :func:`stage`; shown in a terminal or Jupyter, see ``progress``); each finished paper
    gets one line on ``stream``. It ends with the one-screen :func:`summary`: per paper
    the verdicts as expected out of the total, each verdict not as expected, and the
    report's path. The full table is in the report.

    Args:
        ids: paper ids (default: every registered paper, by id).
        mode: ``"quick"`` (minutes on a 2-core CPU) or ``"full"`` (for a GPU).
        out: parent directory of the report.
        seed: PRNG seed given to every paper.
        stream: where the progress lines and the summary go (default stdout).
        progress: the bar: ``None`` when stderr is a terminal or in Jupyter, ``True``
            always, ``False`` never.

    Returns:
        (report directory, Results). Whether everything came out as expected is
        ``all(v.as_expected for r in results for v in r.verdicts)``.

    Raises:
        ValueError: an unknown paper id (the message lists the known ones), or no papers
            registered.

    Example:
        >>> directory, results = reproduce(["000"], mode="quick")  # doctest: +SKIP

        (skipped: a real paper's quick run takes minutes; ``tests/test_report.py`` runs
        this on a toy paper.)
    """
    from .experiments import papers as registry

    stream = stream or sys.stdout
    selected = registry.get(list(ids) if ids else None)
    if not selected:
        raise ValueError("no paper reproductions are registered (villani.experiments.papers.PAPERS is empty)")
    if mode not in ("quick", "full"):
        raise ValueError(f"mode: expected 'quick' or 'full', got {mode!r}")
    now = datetime.datetime.now(datetime.timezone.utc)
    results = []
    with reproduce_bar(progress, len(selected) + 1) as bar:
        for paper in selected:
            if bar is not None:
                bar.start_paper(paper.id)
            r = run_paper(paper, mode=mode, seed=seed)
            bad = sum(not v.as_expected for v in r.verdicts)
            line = (f"[{paper.id}] {paper.title} ({mode}): {_seconds(r.meta['seconds'])}, "
                    f"{len(r.verdicts) - bad}/{len(r.verdicts)} verdicts as expected")
            _write_line(bar, line, stream)
            results.append(r)
            if bar is not None:
                bar.done_paper()
        if bar is not None:
            bar.start_paper("report")
            bar.stage("writing figures and tables")
        out = pathlib.Path(out)
        stamp = now.strftime("%Y%m%d-%H%M%S")
        directory, k = out / stamp, 1
        while directory.exists() or (out / f".{directory.name}.partial").exists():
            k += 1
            directory = out / f"{stamp}-{k}"
        meta = {"created": now.isoformat(timespec="seconds"), "mode": mode, "seed": seed,
                "papers_selected": [p.id for p in selected], "environment": _store.environment(),
                "argv": sys.argv}
        write_report(results, directory, meta=meta, papers={p.id: p for p in selected})
        if bar is not None:
            bar.done_paper()
    print("", file=stream)
    print(summary(results, directory.resolve(), width=_terminal_width(stream)), file=stream)
    return directory, results


def _write_line(bar, line: str, stream: TextIO) -> None:
    if bar is not None and hasattr(bar.bar, "write"):
        bar.bar.write(line, file=stream)  # tqdm: keeps the bar below the line
    else:
        print(line, file=stream, flush=True)


def _terminal_width(stream: TextIO) -> int:
    try:
        if stream.isatty():
            return max(shutil.get_terminal_size().columns, 60)
    except (AttributeError, ValueError):
        pass
    return 160
