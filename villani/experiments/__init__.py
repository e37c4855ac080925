"""Experiments: sweeps over seeds, step sizes and widths, and the paper reproductions."""

from ._table import SweepTable as SweepTable
from .result import Control as Control
from .result import Paper as Paper
from .result import Result as Result
from .result import Rule as Rule
from .result import Verdict as Verdict
from .sweep import classify_axes as classify_axes

# ``villani.experiments.sweep`` stays the module; the function is ``villani.sweep``
# (or ``villani.experiments.sweep.sweep``), so the module is not shadowed. The paper
# registry, ``villani.experiments.papers``, is imported on demand (by ``villani reproduce``)
# so that ``import villani`` does not run the paper modules.
