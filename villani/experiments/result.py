"""What a paper reproduction returns: a tidy table, figures and verdicts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["Paper", "Result", "Verdict"]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One checked claim.

    Attributes:
        claim: what is claimed, in words (say "[paper]" or "[derived]" as PAPERS.md does).
        measured: what villani measured, with numbers and their uncertainty.
        predicted: what the theory predicts from the measured constants.
        holds: whether the measurement agrees with the prediction (computed from the
            measurement, never a constant).
        detail: settings, tolerances, caveats.
        expected: whether the claim *should* hold in this setting; False for a
            counter-example, whose verdict must come out ``holds=False``.
    """

    claim: str
    measured: str
    predicted: str
    holds: bool
    detail: str = ""
    expected: bool = True

    @property
    def as_expected(self) -> bool:
        """True when the verdict came out the way the theory says it should."""
        return bool(self.holds) == bool(self.expected)


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
