"""Exact diagnostics: Laplacian, PL ratios, Villani conditions, NTK and Hessian spectra, rates."""

# --- laplacian.py, villani.py (lap) ---


# --- ntk.py, spectrum.py (ntk) ---
from .ntk import NTKSpectrum as NTKSpectrum
from .ntk import ntk as ntk
from .ntk import ntk_drift as ntk_drift
from .ntk import ntk_infinite as ntk_infinite
from .ntk import ntk_lambda0 as ntk_lambda0
from .ntk import ntk_spectrum as ntk_spectrum

# --- pl.py, rates.py (pl) ---
from .pl import LocalPLCheck as LocalPLCheck
from .pl import PLRatio as PLRatio
from .pl import ProxyExample as ProxyExample
from .pl import ProxyPL as ProxyPL
from .pl import local_pl_check as local_pl_check
from .pl import pl_ratio as pl_ratio
from .pl import pl_ratio_along as pl_ratio_along
from .pl import proxy_pl as proxy_pl
from .pl import single_neuron_proxy as single_neuron_proxy
from .pl import two_layer_classifier_proxy as two_layer_classifier_proxy
from .rates import PredictedRate as PredictedRate
from .rates import RateFit as RateFit
from .rates import SlopeFit as SlopeFit
from .rates import fit_rate as fit_rate
from .rates import fit_slope as fit_slope
from .rates import predicted_rate as predicted_rate
from .rates import quadratic_rate as quadratic_rate
from .rates import t_quantile as t_quantile
from .spectrum import HessianSpectrum as HessianSpectrum
from .spectrum import SpectralDensity as SpectralDensity
from .spectrum import hessian_spectrum as hessian_spectrum
from .spectrum import spectral_density as spectral_density
