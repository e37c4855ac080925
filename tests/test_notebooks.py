"""Every paper has a Jupyter notebook in notebooks/, and every notebook runs in a kernel.

Each notebook walks through its paper's core experiment with the public API at tiny sizes,
then calls ``villani.report.show_paper`` for the registered reproduction. The default run
executes each notebook in a fresh Jupyter kernel (nbclient) with ``SHOW_PAPER = False``
injected after its parameters cell: the registered quick runs are already executed, and
their verdicts asserted, by tests/test_paper_XXX.py (through ``run_paper``, as
``show_paper`` does), and repeating them here would double the suite's longest part.
``show_paper``'s own display path (HTML verdicts, inline PNG figures) is tested on a toy
paper in tests/test_report.py; the slow test below executes one notebook in full. One
notebook runs in the default run, the others with the slow tests (CI runs both).
"""

import base64
import json
import os

import pytest
from conftest import NOTEBOOKS

STEMS = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
REPO = NOTEBOOKS.parent


def test_there_is_a_notebook_per_paper():
    from villani.experiments.papers import PAPERS

    assert STEMS == [f"paper_{k}" for k in sorted(PAPERS)]
    for stem in STEMS:
        nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        # a parameters cell first, a step-by-step part through the public API, then the paper
        assert "parameters" in nb["cells"][1]["metadata"].get("tags", []), stem
        assert sum("villani." in c for c in code) >= 2, stem
        assert f'show_paper("{stem[-3:]}", quick=QUICK)' in code[-1], stem
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), \
            f"{stem}: commit notebooks without outputs"


def _execute(stem: str, inject: str | None, timeout: int = 600):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    if inject is not None:
        i = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(i + 1, nbformat.v4.new_code_cell(inject))
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env_path) if p)
    try:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    return nb


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _check_figures_are_png(nb, at_least: int):
    outs = _outputs(nb)
    assert not [o for o in outs if o.output_type == "error"]
    pngs = [o["data"]["image/png"] for o in outs if "image/png" in o.get("data", {})]
    assert len(pngs) >= at_least
    for png in pngs:
        assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    texts = [o["data"].get("text/plain", "") for o in outs if "data" in o and "image/png" not in o["data"]]
    assert not [t for t in texts if "<Figure size" in t]  # a figure shown as text, not drawn


# One notebook in the default run (the kernel, the injection, inline PNG figures: what every
# notebook relies on); each of the others costs 15-30 s of kernel start and compiles, so they
# run under -m slow (make test-slow, which CI runs).
DEFAULT_STEM = "paper_002"


@pytest.mark.parametrize("stem", [s if s == DEFAULT_STEM else pytest.param(s, marks=pytest.mark.slow)
                                  for s in STEMS])
def test_notebook_runs_in_a_kernel_with_inline_png_figures(stem):
    nb = _execute(stem, "SHOW_PAPER = False  # injected by tests/test_notebooks.py")
    _check_figures_are_png(nb, at_least=1)


@pytest.mark.slow
def test_a_notebook_in_full_shows_the_papers_verdicts_and_figures():
    nb = _execute("paper_004", None, timeout=1800)
    _check_figures_are_png(nb, at_least=2)
    html = [o["data"]["text/html"] for o in _outputs(nb) if "text/html" in o.get("data", {})]
    assert any("verdicts as expected" in h and "<table class='verdicts'>" in h for h in html)

