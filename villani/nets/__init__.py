r"""Networks as pure functions over parameter pytrees.

A network is anything with ``apply(params, x)`` and a params pytree (see
:mod:`villani.nets._base` for the protocol and :func:`as_network` for plain functions,
equinox and flax models). villani's own :func:`two_layer` and :func:`mlp` are frozen
dataclasses compared by value, so two ``two_layer(64)`` calls give equal, hashable
networks and a jitted function of an :class:`~villani.Objective` compiles once for both;
they expose their layers (:class:`FeedForward`), from which the closed-form diagnostics
take the forward and backward factors.

Keys: ``init(key, in_dim)`` takes the PRNG key first, as every villani sampler does.
"""

from ._activations import ACTIVATIONS as ACTIVATIONS
from ._activations import Activation as Activation
from ._activations import activation as activation
from ._base import Factors as Factors
from ._base import FeedForward as FeedForward
from ._base import Layers as Layers
from ._base import Network as Network
from ._initializers import Initializer as Initializer
from ._initializers import gaussian as gaussian
from ._initializers import he as he
from ._initializers import lecun as lecun
from ._initializers import ntk_symmetric as ntk_symmetric
from ._initializers import positive as positive
from .adapters import EquinoxNetwork as EquinoxNetwork
from .adapters import FlaxNetwork as FlaxNetwork
from .adapters import FunctionNetwork as FunctionNetwork
from .adapters import as_network as as_network
from .adapters import split as split
from .mlp import MLP as MLP
from .mlp import mlp as mlp
from .two_layer import TwoLayer as TwoLayer
from .two_layer import two_layer as two_layer

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "EquinoxNetwork",
    "Factors",
    "FeedForward",
    "FlaxNetwork",
    "FunctionNetwork",
    "Initializer",
    "Layers",
    "MLP",
    "Network",
    "TwoLayer",
    "activation",
    "as_network",
    "gaussian",
    "he",
    "lecun",
    "mlp",
    "ntk_symmetric",
    "positive",
    "split",
    "two_layer",
]
