"""Training dynamics: discrete (GD, SGD, Nesterov, heavy ball) and continuous (gradient
flow, Langevin, the SGD SDE). All return a :class:`~villani.Trajectory`."""

from .continuous import gradient_flow as gradient_flow
from .continuous import langevin as langevin
from .continuous import sgd_sde as sgd_sde
from .discrete import GradientNoise as GradientNoise
from .discrete import gradient_noise as gradient_noise
from .discrete import per_sample_grads as per_sample_grads
from .discrete import train as train
