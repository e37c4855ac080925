r"""What a paper reproduction returns: a tidy table, figures and verdicts.

A verdict is evidence only if it could have come out the other way. So a decisive verdict
(a *claim*) carries three things beside its outcome:

- a **rule** fixed before the measurement (:class:`Rule`: a bound, or an interval, from
  theory or a stated rule), applied to one measured number;
- its **margin**: the signed distance from the measurement to the rule's nearest bound, in
  the measurement's units, positive on the side where the claim holds, with its
  uncertainty;
- a **negative control** (:class:`Control`): the same rule, applied through the same code
  to the same measurement on a case built to violate the claim's condition. A claim whose
  control also holds is reported as ``"cannot fail here"``, never as ``"holds"``, and
  ``villani reproduce`` exits non-zero naming it.

Counter-examples (``expected=False``) are verdicts that must come out ``holds=False``;
they need no control (they are one). A claim that villani's measurement does not reproduce
is kept, failing, with ``role="not-reproduced"`` (and ``expected=False``): the report says
"not reproduced", and should it ever hold, "HOLDS NOW", so the finding is re-examined
rather than silently flipped (the way a strict expected-failure works). A *descriptive*
verdict (``role="descriptive"``) reports a measurement that decides nothing. A bound so loose
that it carries no
information is reported as ``"vacuous"``, never as ``"holds"`` (:attr:`Rule.vacuous_ratio`).

Example:
    >>> rule = Rule(lo=0.5, units="1/t")                 # claim: rate >= 0.5
    >>> ctrl = rule.control("λ below the threshold", value=0.1, measured="rate 0.1")
    >>> v = rule.verdict("[derived] E L relaxes at rate >= λ - H", value=0.9, err=0.05,
    ...                  measured="rate 0.90 ± 0.05", control=ctrl)
    >>> v.outcome, round(v.margin, 3), v.as_expected
    ('holds', 0.4, True)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

__all__ = ["Control", "Paper", "Result", "Rule", "Verdict"]

ROLES = ("claim", "counter-example", "descriptive", "not-reproduced")


def _finite_or_none(name: str, v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real number or None, got {type(v).__name__}") from None
    return f


@dataclasses.dataclass(frozen=True)
class Control:
    """A negative control: the claim's check run on a case built to violate its condition.

    Build it with :meth:`Rule.control`, so that the control goes through the same rule as
    the claim. A control *refutes* (comes out the other way) when ``holds`` is False.

    Attributes:
        case: what was changed to violate the claim's condition, in words.
        measured: what was measured on the control case.
        holds: the rule's outcome on the control case.
        margin: the control's signed margin under the same rule (negative when refuted).
    """

    case: str
    measured: str
    holds: bool
    margin: float | None = None

    @property
    def refutes(self) -> bool:
        """True when the control came out the other way (the check can fail)."""
        return not bool(self.holds)

    def describe(self) -> str:
        """One line for the report's control column."""
        head = "fails as it should" if self.refutes else "HOLDS TOO (check cannot fail here)"
        m = "" if self.margin is None else f", margin {_fmt(self.margin)}"
        return f"{head}: {self.case}; {self.measured}{m}"


def _fmt(x: float | None, err: float | None = None, units: str = "") -> str:
    """A number to 3 significant digits, with its uncertainty and units."""
    if x is None:
        return ""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        s = "+inf" if x > 0 else "-inf"
    else:
        s = f"{x:+.3g}"
    if err is not None and math.isfinite(err):
        s += f" ± {abs(err):.2g}"
    return f"{s} {units}".rstrip()


@dataclasses.dataclass(frozen=True)
class Rule:
    r"""A pass/fail rule fixed before the measurement: ``lo <= value <= hi``.

    One-sided rules leave the other end open (``Rule(lo=b)``: value ≥ b; ``Rule(hi=b)``:
    value ≤ b). The margin is the signed distance to the nearest bound,

    .. math:: m(v) = \min(v - \mathrm{lo},\ \mathrm{hi} - v),

    positive when the rule holds, in the value's units.

    Attributes:
        lo: lower bound (``None``: none).
        hi: upper bound (``None``: none).
        units: the value's units, for the report ("1/t", "decades", "× bound", ...).
        vacuous_ratio: for a one-sided bound on a positive quantity: the rule is *vacuous*
            when the bound is this many times looser than the measurement (``v/lo`` or
            ``hi/v`` above it), or when a lower bound is ≤ 0. ``None``: never vacuous.
    """

    lo: float | None = None
    hi: float | None = None
    units: str = ""
    vacuous_ratio: float | None = None

    def __post_init__(self):
        lo, hi = _finite_or_none("lo", self.lo), _finite_or_none("hi", self.hi)
        if lo is None and hi is None:
            raise ValueError("Rule: give lo, hi or both (a rule with no bound decides nothing)")
        if lo is not None and hi is not None and not lo <= hi:
            raise ValueError(f"Rule: expected lo <= hi, got lo={lo}, hi={hi}")
        if self.vacuous_ratio is not None and not float(self.vacuous_ratio) > 1:
            raise ValueError(f"vacuous_ratio: expected a number > 1 or None, got {self.vacuous_ratio!r}")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    def margin(self, value: float) -> float:
        """Signed distance from ``value`` to the nearest bound; ≥ 0 iff the rule holds (NaN: NaN)."""
        v = float(value)
        ms = []
        if self.lo is not None:
            ms.append(v - self.lo)
        if self.hi is not None:
            ms.append(self.hi - v)
        return min(ms) if not math.isnan(v) else math.nan

    def holds(self, value: float) -> bool:
        """Whether ``value`` satisfies the rule (a NaN measurement never does)."""
        m = self.margin(value)
        return bool(m >= 0) if not math.isnan(m) else False

    def vacuous(self, value: float) -> bool:
        """Whether the (one-sided) bound is too loose to carry information at ``value``."""
        if self.vacuous_ratio is None or (self.lo is not None and self.hi is not None):
            return False
        v = float(value)
        if not math.isfinite(v) or v <= 0:
            return False
        if self.lo is not None:
            return self.lo <= 0 or v / self.lo > self.vacuous_ratio
        return self.hi / v > self.vacuous_ratio

    def describe(self) -> str:
        """The rule in words, e.g. ``"≥ 0.5 1/t"`` or ``"in [0.9, 1.1]"``."""
        u = f" {self.units}" if self.units else ""
        if self.lo is not None and self.hi is not None:
            return f"in [{self.lo:.4g}, {self.hi:.4g}]{u}"
        return (f"≥ {self.lo:.4g}" if self.lo is not None else f"≤ {self.hi:.4g}") + u

    def control(self, case: str, value: float, *, measured: str = "") -> Control:
        """Apply this rule to a control case's measurement: the same check, the same code."""
        return Control(case=case, measured=measured or f"{float(value):.4g} {self.units}".rstrip(),
                       holds=self.holds(value), margin=self.margin(value))

    def verdict(self, claim: str, value: float, *, measured: str, err: float | None = None,
                predicted: str | None = None, control: Control | None = None, detail: str = "",
                expected: bool = True, role: str | None = None) -> Verdict:
        """The :class:`Verdict` of this rule applied to ``value`` (with its uncertainty ``err``).

        Args:
            claim: the claim in words ("[paper]" or "[derived]" first).
            value: the measured number the rule decides on (e.g. a CI's conservative end).
            measured: what was measured, with numbers and uncertainty, for the report.
            err: the value's uncertainty (standard error or CI half-width), reported with
                the margin.
            predicted: what the theory predicts (default: the rule in words).
            control: the negative control, from :meth:`control`.
            detail: settings, tolerances, caveats.
            expected: False for a counter-example.
            role: see :class:`Verdict` (default: "claim", or "counter-example" when
                ``expected`` is False).
        """
        return Verdict(claim=claim, measured=measured, predicted=predicted or self.describe(),
                       holds=self.holds(value), detail=detail, expected=expected,
                       margin=self.margin(value), margin_err=_finite_or_none("err", err),
                       units=self.units, control=control, vacuous=self.vacuous(value),
                       role=role or ("claim" if expected else "counter-example"))


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One checked claim.

    Attributes:
        claim: what is claimed, in words ("[paper]" when the paper states it, "[derived]"
            when villani derived the constant or the form).
        measured: what villani measured, with numbers and their uncertainty.
        predicted: what the theory predicts from the measured constants.
        holds: whether the measurement satisfies the claim's rule (computed from the
            measurement, never a constant).
        detail: settings, tolerances, caveats.
        expected: whether the claim *should* hold in this setting; False for a
            counter-example, whose verdict must come out ``holds=False``.
        margin: signed distance from the measurement to the rule's threshold, in
            ``units``, positive on the holding side (see :class:`Rule`).
        margin_err: the margin's uncertainty (that of the measured value).
        units: the margin's units.
        control: the negative control (a decisive claim needs one to read "holds").
        vacuous: the rule is too loose to carry information (reported as "vacuous").
        role: "claim" (decisive: needs a margin and a control), "counter-example" (must
            fail), "descriptive" (a measurement reported beside the claims, deciding
            nothing), or "not-reproduced" (a claim of the paper that the measurement does not
            support, kept and reported as such; must fail).
    """

    claim: str
    measured: str
    predicted: str
    holds: bool
    detail: str = ""
    expected: bool = True
    margin: float | None = None
    margin_err: float | None = None
    units: str = ""
    control: Control | None = None
    vacuous: bool = False
    role: str = ""

    def __post_init__(self):
        role = self.role or ("claim" if self.expected else "counter-example")
        if role not in ROLES:
            raise ValueError(f"role: expected one of {ROLES}, got {self.role!r}")
        if role in ("counter-example", "not-reproduced") and self.expected:
            raise ValueError(f"role: a {role} verdict has expected=False")
        if role not in ("counter-example", "not-reproduced") and not self.expected:
            raise ValueError("role: expected=False makes a counter-example or a not-reproduced "
                             f"claim, got role={role!r}")
        if self.control is not None and not isinstance(self.control, Control):
            raise TypeError("control: expected a villani.experiments.Control, "
                            f"got {type(self.control).__name__}")
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "holds", bool(self.holds))
        object.__setattr__(self, "margin", _finite_or_none("margin", self.margin))
        object.__setattr__(self, "margin_err", _finite_or_none("margin_err", self.margin_err))

    @property
    def outcome(self) -> str:
        """The verdict in one phrase, the report's outcome column.

        ``"holds"`` (a claim whose control fails), ``"fails"``, ``"cannot fail here"``
        (the control holds too), ``"holds, no control"`` (a claim without a control yet),
        ``"vacuous"``, ``"fails, as a counter-example should"``, ``"COUNTER-EXAMPLE HOLDS"``,
        ``"reported"`` (descriptive), ``"not reproduced"``.
        """
        if self.role == "counter-example":
            return "COUNTER-EXAMPLE HOLDS" if self.holds else "fails, as a counter-example should"
        if self.role == "not-reproduced":
            return "HOLDS NOW (listed as not reproduced)" if self.holds else "not reproduced"
        if self.role == "descriptive":
            return "reported"
        if not self.holds:
            return "fails"
        if self.vacuous:
            return "vacuous"
        if self.control is None:
            return "holds, no control"
        return "holds" if self.control.refutes else "cannot fail here"

    @property
    def as_expected(self) -> bool:
        """True when the verdict came out the way the theory says it should.

        A counter-example must fail; a claim must hold, and its control (if any) must come
        out the other way; a vacuous bound is reported, not counted against the paper.
        """
        if self.role in ("counter-example", "not-reproduced"):
            return not self.holds
        if self.role == "descriptive":
            return True
        return self.outcome in ("holds", "holds, no control", "vacuous")

    def margin_text(self) -> str:
        """The margin with its uncertainty and units, for the report."""
        return _fmt(self.margin, self.margin_err, self.units)

    def control_text(self) -> str:
        """The control's outcome in words, for the report ("" when there is none)."""
        if self.control is not None:
            return self.control.describe()
        return "none (claim without a control)" if self.role == "claim" else ""


@dataclasses.dataclass
class Result:
    """A paper reproduction's output.

    Attributes:
        paper: the paper id ("000" ... "004").
        table: tidy columns, name -> 1-D array (all the same length).
        figures: name -> matplotlib Figure.
        verdicts: the checked claims.
        meta: config, timings, device and anything else worth recording.
    """

    paper: str
    table: dict[str, Any]
    figures: dict[str, Any]
    verdicts: list[Verdict]
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Paper:
    """A registered reproduction: ``run(config, key) -> Result`` with two configs."""

    id: str
    title: str
    arxiv: str
    quick: Any
    full: Any
    run: Callable[[Any, Any], Result]
