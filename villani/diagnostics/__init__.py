"""Exact diagnostics: Laplacian, PL ratios, Villani conditions, NTK and Hessian spectra, rates."""

# --- laplacian.py, villani.py (lap) ---


# --- ntk.py, spectrum.py (ntk) ---
from .ntk import NTKSpectrum as NTKSpectrum
from .ntk import ntk as ntk
from .ntk import ntk_drift as ntk_drift
from .ntk import ntk_infinite as ntk_infinite
from .ntk import ntk_lambda0 as ntk_lambda0
from .ntk import ntk_spectrum as ntk_spectrum
from .spectrum import HessianSpectrum as HessianSpectrum
from .spectrum import SpectralDensity as SpectralDensity
from .spectrum import hessian_spectrum as hessian_spectrum
from .spectrum import spectral_density as spectral_density


# --- pl.py, rates.py (pl) ---
