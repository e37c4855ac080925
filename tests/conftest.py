"""Numerical tests run in float64 (STYLE.md: diffrax's conftest)."""

import importlib.util
import pathlib
import re
import zlib

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

# Named tolerances per dtype (neural-tangents style), used across the suite.
TOL = {np.float32: 5e-3, np.float64: 1e-10}


@pytest.fixture
def key(request):
    seed = zlib.crc32(request.node.nodeid.encode()) % (2**31)  # stable across runs
    print(f"key seed: {seed}")
    return jax.random.key(seed)


NOTEBOOKS = pathlib.Path(__file__).parent.parent / "notebooks"
_NOTEBOOK_RESULTS = {}


@pytest.fixture(scope="session")
def notebook_result():
    """``notebook_result("paper_000")``: the paper's Result from executing its notebook.

    Runs ``notebooks/<stem>.py``'s ``main(quick=True, plot=False, seed=0)`` once per test
    session: that is the paper's quick configuration under ``jax.random.key(0)``, so the
    notebook test and the paper's own tests share one quick run instead of two.
    """

    def get(stem):
        if stem not in _NOTEBOOK_RESULTS:
            path = NOTEBOOKS / f"{stem}.py"
            spec = importlib.util.spec_from_file_location(f"notebook_{stem}", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)  # defining main() must be cheap
            _NOTEBOOK_RESULTS[stem] = mod.main(quick=True, plot=False, seed=0)
        return _NOTEBOOK_RESULTS[stem]

    return get



@pytest.fixture(scope="module")
def result(request, notebook_result):
    """In tests/test_paper_XXX.py: that paper's quick run under key(0), by executing its
    notebook (``notebook_result``), so the notebook is tested where its paper is. ``make
    test`` distributes by file (``--dist loadfile``): one worker, one quick run per paper."""
    m = re.fullmatch(r"test_(paper_\d{3})", request.module.__name__.rpartition(".")[2])
    if m is None:
        raise LookupError(f"the result fixture is for tests/test_paper_XXX.py, not {request.module.__name__}")
    res = notebook_result(m.group(1))
    assert res.paper == m.group(1).removeprefix("paper_")
    return res
