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
"""

from __future__ import annotations

import datetime
import html
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
from .experiments.result import Paper, Result, Verdict

__all__ = ["reproduce", "run_paper", "show_paper", "unexpected", "verdict_rows", "verdict_table",
           "write_report"]

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
    result.meta.setdefault("seconds", round(time.perf_counter() - start, 3))
    result.meta.setdefault("mode", mode)
    result.meta.setdefault("config", config)
    return result


def show_paper(paper_id: str, *, quick: bool = True, plot: bool = True, seed: int = 0,
               figures_dir: str | os.PathLike = ".") -> Result:
    """Run one paper's reproduction and show it: what every notebook's ``main()`` does.

    Enables float64 (as ``villani reproduce`` does: the papers' floors and residual ratios
    assume it), runs the registered paper's quick or full configuration under
    ``jax.random.key(seed)`` with :func:`run_paper`, prints the verdict table and, when
    ``plot`` is true, shows the figures: displayed inline under IPython/Jupyter, otherwise
    written as PNGs ``<paper>-<figure>.png`` to ``figures_dir`` (as in a report, with the
    device named). Figures are then released
    from pyplot (they stay usable in ``result.figures``), so Jupyter does not draw them twice.

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
    """
    import jax

    from .experiments import papers

    jax.config.update("jax_enable_x64", True)
    (paper,) = papers.get([paper_id])
    result = run_paper(paper, mode="quick" if quick else "full", seed=seed)
    print(verdict_table([result]))
    if plot:
        display = _ipython_display()
        if display is not None:
            for fig in result.figures.values():
                display(fig)
        else:  # the report's own writer: same file names, device footnote
            device = _store.device_label(_store.environment())
            for fname in _write_figures(pathlib.Path(figures_dir), result.paper, result.figures, device):
                print(f"figure written to {pathlib.Path(figures_dir) / fname}")
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        for fig in result.figures.values():
            plt.close(fig)
    return result


def _ipython_display():
    """IPython's ``display`` inside a running IPython shell or kernel, else None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return display if get_ipython() is not None else None


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
    return str(s).replace("|", r"\|").replace("\n", "<br>")


def verdict_table(results: Sequence[Result]) -> str:
    """The verdict table as Markdown (also what ``villani reproduce`` prints).

    Example:
        >>> print(verdict_table([result]))  # doctest: +SKIP
        | paper | claim | measured | predicted | outcome | margin | control |
        ...
    """
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in verdict_rows(results):
        lines.append("| " + " | ".join(_md_cell(row[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


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


def _write_figures(directory: pathlib.Path, paper: str, figures: dict, device: str) -> list[str]:
    from . import plots

    files = []
    for name, fig in figures.items():
        if not any("device:" in t.get_text() for t in getattr(fig, "texts", [])):
            fig.text(0.995, 0.005, f"device: {device}", ha="right", va="bottom", fontsize=6,
                     color="0.4")
        fname = f"{_slug(paper)}-{_slug(name)}.png"
        plots.save(fig, directory / fname)
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
        papers: id -> Paper, for titles and arXiv ids in the section headings.

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
        sections = []
        for r in results:
            figs = _write_figures(tmp, r.paper, r.figures, device)
            tables = _write_table(tmp, f"{_slug(r.paper)}-table", r.table)
            sections.append((r, figs, tables))
        meta["papers"] = {r.paper: _store.jsonable(r.meta) for r in results}
        meta["verdicts"] = verdict_rows(results)
        _store.atomic_write_text(tmp / "meta.json", json.dumps(_store.jsonable(meta), indent=2))
        _store.atomic_write_text(tmp / "index.md", _markdown(sections, meta, env, device, papers or {}))
        _store.atomic_write_text(tmp / "index.html", _html(sections, meta, env, device, papers or {}))
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


def _markdown(sections, meta, env, device, papers) -> str:
    results = [s[0] for s in sections]
    ok = sum(row["as expected"] == "yes" for row in verdict_rows(results))
    out = [f"# villani reproduce — {meta.get('created', '')}", "",
           *[h + "  " for h in _header(meta, env, device)],
           "", f"**{ok} of {len(verdict_rows(results))} verdicts as expected.**", "",
           "## Verdicts", "", verdict_table(results), ""]
    for r, figs, tables in sections:
        out += [f"## {_title(r, papers)}", "", f"ran in {r.meta.get('seconds', '?')} s", ""]
        for v in r.verdicts:
            if v.detail:
                out += [f"- **{_md_cell(v.claim)}** — {_md_cell(v.detail)}"]
        out += [""] + [f"![{f}]({f})" for f in figs] + [""]
        if tables:
            out += ["tables: " + ", ".join(f"[{t}]({t})" for t in tables), ""]
    return "\n".join(out)


def _html(sections, meta, env, device, papers) -> str:
    e = html.escape
    results = [s[0] for s in sections]
    rows = verdict_rows(results)
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr class='{}'>".format("ok" if row["as expected"] == "yes" else "bad")
        + "".join(f"<td>{e(row[c])}</td>" for c in COLUMNS) + "</tr>" for row in rows)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>villani reproduce</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}"
        "tr.bad{background:#fdd}img{max-width:520px}</style></head><body>",
        f"<h1>villani reproduce — {e(str(meta.get('created', '')))}</h1>",
        *[f"<p>{e(h)}</p>" for h in _header(meta, env, device)],
        f"<p><b>{sum(r['as expected'] == 'yes' for r in rows)} of {len(rows)} verdicts as expected.</b></p>",
        f"<table><tr>{head}</tr>{body}</table>",
    ]
    for r, figs, tables in sections:
        parts.append(f"<h2>{e(_title(r, papers))}</h2><p>ran in {e(str(r.meta.get('seconds', '?')))} s</p>")
        details = [f"<li><b>{e(v.claim)}</b> — {e(v.detail)}</li>" for v in r.verdicts if v.detail]
        if details:
            parts.append("<ul>" + "".join(details) + "</ul>")
        parts += [f"<img src='{e(f)}' alt='{e(f)}'>" for f in figs]
        if tables:
            parts.append("<p>tables: " + ", ".join(f"<a href='{e(t)}'>{e(t)}</a>" for t in tables) + "</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def reproduce(ids: Sequence[str] | None = None, *, mode: str = "quick",
              out: str | os.PathLike = "reports", seed: int = 0,
              stream: TextIO | None = None) -> tuple[pathlib.Path, list[Result]]:
    """Run the selected registered papers and write a report under ``out/<timestamp>/``.

    Args:
        ids: paper ids (default: every registered paper, by id).
        mode: ``"quick"`` (minutes on a 2-core CPU) or ``"full"`` (for a GPU).
        out: parent directory of the report.
        seed: PRNG seed given to every paper.
        stream: where progress lines and the verdict table go (default stdout).

    Returns:
        (report directory, Results). Whether everything came out as expected is
        ``all(v.as_expected for r in results for v in r.verdicts)``.

    Raises:
        ValueError: an unknown paper id (the message lists the known ones), or no papers
            registered.

    Example:
        >>> directory, results = reproduce(["000"], mode="quick")  # doctest: +SKIP
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
    for paper in selected:
        print(f"[{paper.id}] {paper.title} ({mode}) ...", file=stream, flush=True)
        r = run_paper(paper, mode=mode, seed=seed)
        bad = sum(not v.as_expected for v in r.verdicts)
        print(f"[{paper.id}] done in {r.meta['seconds']} s, {len(r.verdicts)} verdicts, "
              f"{bad} not as expected", file=stream, flush=True)
        results.append(r)
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
    print("", file=stream)
    print(verdict_table(results), file=stream)
    rows = verdict_rows(results)
    ok = sum(r["as expected"] == "yes" for r in rows)
    print(f"\n{ok} of {len(rows)} verdicts as expected; report: {directory / 'index.md'}", file=stream)
    for line in unexpected(results):
        print(f"not as expected: {line}", file=stream)
    return directory, results
