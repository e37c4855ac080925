"""Every paper has a notebook in notebooks/, and every notebook is executed.

Notebooks are jupytext percent-format scripts (``notebooks/paper_XXX.py``); each wraps its
logic in ``main(quick=True, plot=False, seed=0)`` (STYLE.md: diffrax's examples) and
returns the paper's Result. They run where their paper is tested: the ``result`` fixture
of tests/test_paper_XXX.py executes the notebook (tests/conftest.py), and that module's
tests assert that every verdict comes out as expected.
"""

from conftest import NOTEBOOKS

STEMS = sorted(p.stem for p in NOTEBOOKS.glob("*.py"))


def test_there_is_a_notebook_per_paper():
    from villani.experiments.papers import PAPERS

    assert STEMS == [f"paper_{k}" for k in sorted(PAPERS)]
    tested = sorted(p.stem.removeprefix("test_") for p in NOTEBOOKS.parent.glob("tests/test_paper_*.py"))
    assert tested == STEMS  # each notebook is executed by its paper's test module
