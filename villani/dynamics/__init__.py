"""Training dynamics: discrete (GD, SGD, Nesterov, heavy ball) and continuous (gradient
flow, Langevin, the SGD SDE). All return a :class:`~villani.Trajectory`; the discrete step
is also public as a blackjax-style ``(init, step)`` pair (:func:`stepper`).

Keys: ``step(key, state)`` takes the key first (it is a sampler); ``train``, ``langevin`` and
``sgd_sde`` take ``key=`` by keyword."""

from .continuous import gradient_flow as gradient_flow
from .continuous import langevin as langevin
from .continuous import sgd_sde as sgd_sde
from .discrete import GradientNoise as GradientNoise
from .discrete import StepInfo as StepInfo
from .discrete import Stepper as Stepper
from .discrete import TrainState as TrainState
from .discrete import gradient_noise as gradient_noise
from .discrete import per_sample_grads as per_sample_grads
from .discrete import stepper as stepper
from .discrete import train as train
