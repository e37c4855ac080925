"""Shared fixtures. Numerical tests run in float64 (x64 on for the whole session, as in
diffrax's test suite), with the named tolerances of :data:`TOL`."""

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
_PAPER_RESULTS = {}


@pytest.fixture(scope="module")
def result(request):
    """In tests/test_paper_XXX.py: paper XXX's quick run under ``jax.random.key(0)``.

    Runs the registered paper through :func:`villani.report.run_paper` in float64 (as
    ``villani reproduce`` does), once per test session. ``make test`` distributes by file
    (``--dist loadfile``): one worker, one quick run per paper. The notebooks are executed
    separately (tests/test_notebooks.py), at a cost that does not repeat these runs.
    """
    from villani.experiments import papers
    from villani.report import run_paper

    m = re.fullmatch(r"test_paper_(\d{3})", request.module.__name__.rpartition(".")[2])
    if m is None:
        raise LookupError(f"the result fixture is for tests/test_paper_XXX.py, not {request.module.__name__}")
    pid = m.group(1)
    if pid not in _PAPER_RESULTS:
        jax.config.update("jax_enable_x64", True)
        (paper,) = papers.get([pid])
        _PAPER_RESULTS[pid] = run_paper(paper, mode="quick", seed=0)
    res = _PAPER_RESULTS[pid]
    assert res.paper == pid
    return res
