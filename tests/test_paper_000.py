"""Paper 000's quick reproduction: every verdict as expected, and independent sanity checks."""

import numpy as np

from villani import villani_threshold
from villani.experiments.papers import paper_000


def test_every_verdict_as_expected(result):
    bad = [(v.claim, v.measured) for v in result.verdicts if not v.as_expected]
    assert not bad, bad
    # each part contributes verdicts, including counter-examples that must fail
    assert sum(not v.expected for v in result.verdicts) >= 3
    assert all(not v.holds for v in result.verdicts if not v.expected)


def test_table_is_tidy(result):
    lengths = {len(v) for v in result.table.values()}
    assert len(lengths) == 1
    assert set(np.unique(result.table["part"])) == {"a", "b", "c", "d"}


def test_rays_table_matches_threshold(result):
    t = result.table
    a = t["part"] == "a"
    for act in paper_000.QUICK.activations:
        rows = a & (t["activation"] == act)
        lam_c = villani_threshold(act, scale=paper_000.QUICK.scale)
        np.testing.assert_allclose(t["lam_c"][rows], lam_c)
        # holds at 2 lambda_c (sufficient condition), fails at lambda = 0
        assert t["holds"][rows & (t["l2"] > 1.5 * lam_c)].all()
        assert not t["holds"][rows & (t["l2"] == 0)].any()


def test_sde_rates_exceed_the_strong_convexity_gap(result):
    t = result.table
    c = t["part"] == "c"
    assert (t["ci_lo"][c] >= t["gap_bound"][c]).all()
    assert (t["ci_lo"][c] <= t["rate"][c]).all() and (t["rate"][c] <= t["ci_hi"][c]).all()
