"""The verdict mechanism: rules fixed in advance, signed margins, negative controls.

A claim reads "holds" only when its control, run through the same rule, comes out the
other way; otherwise "cannot fail here", which ``villani reproduce`` names and exits 1 on.
"""

import math

import numpy as np
import pytest

from villani import cli, report
from villani.experiments import Control, Paper, Result, Rule, Verdict, papers


def test_rule_margin_is_signed_distance_to_nearest_bound():
    assert Rule(lo=0.5).margin(0.9) == pytest.approx(0.4)
    assert Rule(lo=0.5).margin(0.2) == pytest.approx(-0.3)
    assert Rule(hi=1.0).margin(0.25) == pytest.approx(0.75)
    r = Rule(lo=-1.05, hi=-0.95)
    assert r.margin(-1.0) == pytest.approx(0.05) and r.holds(-1.0)
    assert r.margin(-0.9) == pytest.approx(-0.05) and not r.holds(-0.9)
    assert math.isnan(r.margin(float("nan"))) and not r.holds(float("nan"))
    # holds iff margin >= 0, on a grid of values
    for v in np.linspace(-2, 0, 41):
        assert r.holds(v) == (r.margin(v) >= 0)


def test_rule_rejects_bad_input():
    with pytest.raises(ValueError, match="give lo, hi or both"):
        Rule()
    with pytest.raises(ValueError, match="lo <= hi"):
        Rule(lo=2, hi=1)
    with pytest.raises(TypeError, match="lo: expected a real number"):
        Rule(lo="a")
    with pytest.raises(ValueError, match="vacuous_ratio"):
        Rule(lo=1, vacuous_ratio=0.5)


def test_outcomes():
    rule = Rule(lo=0.5, units="1/t")
    refuting = rule.control("λ < H", 0.1)
    assert refuting.refutes and refuting.margin == pytest.approx(-0.4)
    v = rule.verdict("c", 0.9, measured="0.9", err=0.05, control=refuting)
    assert (v.outcome, v.as_expected) == ("holds", True)
    assert v.margin_text() == "+0.4 ± 0.05 1/t"
    # the same rule also holds on the control: the check cannot fail here
    weak = rule.verdict("c", 0.9, measured="0.9", control=rule.control("λ < H", 0.7))
    assert (weak.outcome, weak.as_expected) == ("cannot fail here", False)
    assert "HOLDS TOO" in weak.control_text()
    # a lower bound 4x below the measurement with vacuous_ratio 3: vacuous, never "holds"
    vac = Rule(lo=0.5, vacuous_ratio=3).verdict("c", 2.0, measured="2", control=refuting)
    assert vac.vacuous and vac.outcome == "vacuous"
    assert Rule(lo=0.0, vacuous_ratio=3).vacuous(1.0)  # a non-positive lower bound on a rate
    assert not Rule(lo=0.5, vacuous_ratio=3).vacuous(1.0)
    assert Rule(hi=10, vacuous_ratio=3).vacuous(1.0) and not Rule(hi=2, vacuous_ratio=3).vacuous(1.0)
    fails = rule.verdict("c", 0.2, measured="0.2", control=refuting)
    assert (fails.outcome, fails.as_expected) == ("fails", False)
    nocontrol = rule.verdict("c", 0.9, measured="0.9")
    assert nocontrol.outcome == "holds, no control" and "without a control" in nocontrol.control_text()
    ce = rule.verdict("c", 0.2, measured="0.2", expected=False)
    assert ce.role == "counter-example" and ce.as_expected and "counter-example" in ce.outcome
    ce_bad = rule.verdict("c", 0.9, measured="0.9", expected=False)
    assert not ce_bad.as_expected and ce_bad.outcome == "COUNTER-EXAMPLE HOLDS"
    nr = rule.verdict("c", 0.2, measured="0.2", expected=False, role="not-reproduced")
    assert (nr.outcome, nr.as_expected) == ("not reproduced", True)
    nr_now = rule.verdict("c", 0.9, measured="0.9", expected=False, role="not-reproduced")
    assert not nr_now.as_expected and nr_now.outcome.startswith("HOLDS NOW")
    with pytest.raises(ValueError, match="not-reproduced verdict has expected=False"):
        Verdict("c", "m", "p", False, role="not-reproduced")
    d = Verdict("d", "x", "y", holds=False, role="descriptive")
    assert d.as_expected and d.outcome == "reported"


def test_verdict_validation():
    with pytest.raises(ValueError, match="role: expected one of"):
        Verdict("c", "m", "p", True, role="maybe")
    with pytest.raises(ValueError, match="counter-example verdict has expected=False"):
        Verdict("c", "m", "p", True, role="counter-example")
    with pytest.raises(TypeError, match="control: expected a villani.experiments.Control"):
        Verdict("c", "m", "p", True, control="no")
    assert isinstance(Rule(lo=0).control("x", 1.0), Control)


def _cannot_fail(config, key):
    rule = Rule(lo=0.0)
    return Result("weak", {}, {}, [
        rule.verdict("[derived] a rate is non-negative", 0.3, measured="0.3",
                     control=rule.control("a case that should violate it", 0.1)),
    ])


def test_reproduce_names_a_check_that_cannot_fail_and_exits_1(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(papers.PAPERS, "weak", Paper("weak", "Weak", "1", {}, {}, _cannot_fail))
    directory, results = report.reproduce(["weak"], out=tmp_path)
    out = capsys.readouterr().out
    assert "0 of 1 verdicts as expected" in out
    assert "not as expected: [weak] cannot fail here: [derived] a rate is non-negative" in out
    md = (directory / "index.md").read_text()
    assert "| outcome | margin | control |" in md and "cannot fail here" in md
    code = cli.main(["reproduce", "weak", "--out", str(tmp_path / "cli")])
    assert code == 1
