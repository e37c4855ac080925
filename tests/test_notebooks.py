"""Execute every notebook in notebooks/ at its quick size.

Notebooks are jupytext percent-format scripts (``notebooks/paper_XXX.py``); each wraps its
logic in ``main(quick=True, plot=False, seed=0)`` (STYLE.md: diffrax's examples) and
returns the paper's Result, whose verdicts must all come out as expected.
"""

import importlib.util
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_quick(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # defining main() must be cheap
    result = mod.main(quick=True, plot=False, seed=0)
    bad = [v for v in result.verdicts if not v.as_expected]
    assert not bad, bad
