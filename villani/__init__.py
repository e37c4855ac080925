"""villani: measure what convergence theorems for neural-network training rest on.

A network is anything with ``apply(params, x)`` and a params pytree (villani's own nets, a
plain function or ``(init, apply)`` pair, an equinox or flax model: see
:func:`villani.nets.as_network`); an :class:`Objective` is network + data + loss + L2
regulariser; dynamics, diagnostics and experiments are pure functions of these that work
under ``jit`` and ``vmap``.

Key convention: samplers take the PRNG key first, positionally (``net.init(key, d)``, the
data generators, ``step(key, state)`` of :func:`stepper`); every other public function
takes ``key=`` by keyword.
"""

import importlib.metadata

from . import data as data
from . import diagnostics as diagnostics
from . import dynamics as dynamics
from . import experiments as experiments
from . import losses as losses
from . import nets as nets
from . import optim as optim
from .data import Dataset as Dataset
from .diagnostics import GradientStats as GradientStats
from .diagnostics import HessianSpectrum as HessianSpectrum
from .diagnostics import InfiniteKernels as InfiniteKernels
from .diagnostics import LambdaMinBound as LambdaMinBound
from .diagnostics import NTKSpectrum as NTKSpectrum
from .diagnostics import SpectralDensity as SpectralDensity
from .diagnostics import TraceEstimate as TraceEstimate
from .diagnostics import VillaniCheck as VillaniCheck
from .diagnostics import certified_lambda_min as certified_lambda_min
from .diagnostics import check_villani as check_villani
from .diagnostics import fit_rate as fit_rate
from .diagnostics import fit_slope as fit_slope
from .diagnostics import gradient_stats as gradient_stats
from .diagnostics import hessian_diagonal as hessian_diagonal
from .diagnostics import hessian_spectrum as hessian_spectrum
from .diagnostics import laplacian as laplacian
from .diagnostics import local_pl_check as local_pl_check
from .diagnostics import mlp_kernels as mlp_kernels
from .diagnostics import ntk as ntk
from .diagnostics import ntk_drift as ntk_drift
from .diagnostics import ntk_infinite as ntk_infinite
from .diagnostics import ntk_lambda0 as ntk_lambda0
from .diagnostics import ntk_spectrum as ntk_spectrum
from .diagnostics import pl_ratio as pl_ratio
from .diagnostics import pl_ratio_along as pl_ratio_along
from .diagnostics import predicted_rate as predicted_rate
from .diagnostics import proxy_pl as proxy_pl
from .diagnostics import quadratic_rate as quadratic_rate
from .diagnostics import spectral_density as spectral_density
from .diagnostics import two_layer_kernels as two_layer_kernels
from .diagnostics import villani_radius as villani_radius
from .dynamics import GradientNoise as GradientNoise
from .dynamics import gradient_flow as gradient_flow
from .dynamics import gradient_noise as gradient_noise
from .dynamics import langevin as langevin
from .dynamics import per_sample_grads as per_sample_grads
from .dynamics import sgd_sde as sgd_sde
from .dynamics import stepper as stepper
from .dynamics import train as train
from .experiments import SweepTable as SweepTable
from .experiments.sweep import sweep as sweep
from .losses import Loss as Loss
from .losses import Objective as Objective
from .losses import strong_convexity_threshold as strong_convexity_threshold
from .losses import villani_threshold as villani_threshold
from .nets import Network as Network
from .trajectory import DivergenceError as DivergenceError
from .trajectory import Trajectory as Trajectory
from .trajectory import divergence_message as divergence_message

try:
    __version__ = importlib.metadata.version("villani")
except importlib.metadata.PackageNotFoundError:  # running from a source tree, not installed
    __version__ = "0.0.0+unknown"
