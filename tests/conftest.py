"""Shared fixtures. Numerical tests run in float64 (x64 on for the whole session, as in
diffrax's test suite), with the named tolerances of :data:`TOL`."""

import os
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


# XLA's cheaper backend optimisation for the default run: its tests use tiny sizes, where compile
# time, not run time, is the cost (about 25 % less CPU measured on test_laplacian/test_own_model).
# Results agree to rounding, which every numerical test's tolerance allows. Not applied where the
# papers' quick runs are selected (make test-papers), whose run time matters and whose verdicts
# are documented under the default flags.
FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def pytest_configure(config):
    if "not paper" in (config.option.markexpr or "") and "XLA_FLAGS" not in os.environ:
        os.environ["XLA_FLAGS"] = FAST_COMPILE  # read when the backend starts, after this hook


def pytest_collection_modifyitems(config, items):
    """A test that uses a paper's quick run (the ``result`` fixture) is marked ``paper``:
    those runs take about 11 CPU-minutes together, so ``make test`` leaves them to
    ``make test-papers`` (both run by .ci/run)."""
    for item in items:
        if "result" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.paper)


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


def assert_claims_refutable(result, at_least: int, *, vacuous_decides_nothing: bool = False):
    """Every decisive claim of a paper's result is evidence: a finite margin on the holding
    side, and a control (the same rule on a case built to violate the claim's condition)
    that comes out the other way. Returns the decisive claims for paper-specific checks.

    With ``vacuous_decides_nothing`` a bound reported "vacuous" needs no control (it decides
    nothing) but still needs its finite margin.
    """
    claims = [v for v in result.verdicts if v.role == "claim"]
    for v in claims:
        assert v.margin is not None and np.isfinite(v.margin), (v.claim, v.margin)
    decisive = [v for v in claims if not (vacuous_decides_nothing and v.outcome == "vacuous")]
    assert len(decisive) >= at_least, [v.claim for v in decisive]
    for v in decisive:
        assert v.control is not None and v.control.refutes, (v.claim, v.control_text())
        assert v.margin >= 0, (v.claim, v.margin)
        assert v.control.margin is not None and v.control.margin < 0, (v.claim, v.control.margin)
    return decisive
