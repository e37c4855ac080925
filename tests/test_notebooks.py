"""Execute every notebook in notebooks/ at its quick size.

Notebooks are jupytext percent-format scripts (``notebooks/paper_XXX.py``); each wraps its
logic in ``main(quick=True, plot=False, seed=0)`` (STYLE.md: diffrax's examples) and
returns the paper's Result, whose verdicts must all come out as expected. The run is the
``notebook_result`` fixture (tests/conftest.py), which the paper tests share.
"""

import pathlib

import pytest

NOTEBOOKS = pathlib.Path(__file__).parent.parent / "notebooks"
STEMS = sorted(p.stem for p in NOTEBOOKS.glob("*.py"))


def test_there_is_a_notebook_per_paper():
    from villani.experiments.papers import PAPERS

    assert STEMS == [f"paper_{k}" for k in sorted(PAPERS)]


@pytest.mark.parametrize(
    "stem", [pytest.param(s, marks=pytest.mark.xdist_group(s)) for s in STEMS])
def test_notebook_runs_quick(notebook_result, stem):
    result = notebook_result(stem)
    assert result.paper == stem.removeprefix("paper_")
    bad = [v for v in result.verdicts if not v.as_expected]
    assert not bad, bad
