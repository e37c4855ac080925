"""Exact diagnostics: Laplacian, PL ratios, Villani conditions, NTK and Hessian spectra, rates."""

# --- laplacian.py, villani.py (lap) ---
from .laplacian import LAPLACIAN_METHODS as LAPLACIAN_METHODS
from .laplacian import REFERENCE_MAX_PARAMS as REFERENCE_MAX_PARAMS
from .laplacian import TraceEstimate as TraceEstimate
from .laplacian import hessian_diagonal as hessian_diagonal
from .laplacian import laplacian as laplacian
from .villani import VillaniCheck as VillaniCheck
from .villani import check_villani as check_villani
from .villani import villani_radius as villani_radius


# --- ntk.py, spectrum.py (ntk) ---


# --- pl.py, rates.py (pl) ---
