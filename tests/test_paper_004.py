"""Paper 004 (NAG vs GD vs heavy-ball on two-layer ReLU nets): the QUICK run's verdicts."""

import jax
import numpy as np
import pytest

from villani.experiments.papers import paper_004 as P


@pytest.fixture(scope="module")
def result():
    return P.run(P.QUICK, jax.random.key(0))


def test_verdicts_as_expected(result):
    bad = [v for v in result.verdicts if not v.as_expected]
    assert not bad, bad
    assert any(not v.expected for v in result.verdicts)  # the counter-examples are there


def test_table_is_tidy(result):
    cols = result.table
    n_rows = P.QUICK.seeds * len(P.QUICK.thetas) * len(P.METHODS)
    assert {"theta", "method", "kappa0", "kappa_inf", "kappa_end", "rho", "rho_exact"} <= set(cols)
    assert all(np.asarray(v).ndim == 1 and len(v) == n_rows for v in cols.values())
    assert result.paper == "004" and set(result.figures) == {"rate_vs_kappa", "residuals"}


def test_gd_rate_equals_linear_theory(result):
    # independent check: GD at eta = 1/lambda_max contracts the slowest mode by 1 - 1/kappa0;
    # in the lazy regime the fitted rate must sit between that and the exact spectral radius
    t = result.table
    gd = t["method"] == "gd"
    one_minus = 1 - t["rho"][gd]
    np.testing.assert_allclose(t["rho_exact"][gd], 1 - 1 / t["kappa0"][gd], rtol=1e-10)
    assert np.all(one_minus >= (1 / t["kappa0"][gd]) * (1 - 1e-3))


def test_kappa_grows_as_theta_shrinks(result):
    t = result.table
    gd = t["method"] == "gd"
    for s in np.unique(t["seed"]):
        rows = gd & (t["seed"] == s)
        order = np.argsort(-t["theta"][rows])
        assert np.all(np.diff(t["kappa0"][rows][order]) > 0)
        assert np.all(np.diff(t["kappa_inf"][rows][order]) > 0)
