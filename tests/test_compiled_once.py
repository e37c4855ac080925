"""The diagnostics are compiled once per structure: a repeated call with new values of the
same shapes compiles nothing. (Run op by op, a scan or loop over a fresh closure is traced
and compiled again on every call: about a second each, at any size, in a notebook loop.)"""

import dataclasses

import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest

from villani import Objective, data, nets
from villani.diagnostics import (
    certified_lambda_min,
    check_villani,
    gradient_stats,
    hessian_spectrum,
    laplacian,
    local_pl_check,
    ntk_spectrum,
    spectral_density,
)

_COMPILES: list[str] = []
# listeners cannot be removed: one for the module, registered when it is imported
jax.monitoring.register_event_duration_secs_listener(
    lambda name, secs, **kw: _COMPILES.append(name) if "backend_compile" in name else None)


def _apply(p, x):
    return jnp.tanh(x @ p["w"]) @ p["a"]


def _params(i):
    kw, ka = jax.random.split(jax.random.key(i))
    return {"w": jax.random.normal(kw, (3, 8)), "a": jax.random.normal(ka, (8,))}


def _objective(i):
    ds = data.random_labels(jax.random.key(i), 12, 16)
    return Objective(nets.two_layer(8, "tanh", parametrization="standard"), ds, "logistic", l2=0.1)


_X = jax.random.normal(jax.random.key(1), (12, 3))
_NET = nets.as_network(_apply)

CASES = {
    "ntk_spectrum lanczos": lambda i: ntk_spectrum(_NET, _params(i), _X, method="lanczos",
                                                   num_iters=8),
    "ntk_spectrum certified": lambda i: ntk_spectrum(_NET, _params(i), _X, method="certified",
                                                     num_iters=8),
    "ntk_spectrum dense": lambda i: ntk_spectrum(_NET, _params(i), _X),
    "certified_lambda_min": lambda i: certified_lambda_min(jnp.eye(5) * (i + 1.0)),
    "check_villani": lambda i: check_villani(_objective(i), 0.04, radii=[2.0, 4.0, 8.0],
                                             key=jax.random.key(i)),
    "hessian_spectrum": lambda i: hessian_spectrum(_objective(i), _objective(i).net.init(
        jax.random.key(i), 16), key=jax.random.key(i), num_iters=6),
    "spectral_density": lambda i: spectral_density(_objective(i), _objective(i).net.init(
        jax.random.key(i), 16), key=jax.random.key(i), num_probes=2, num_iters=6),
    "laplacian": lambda i: laplacian(_objective(i), _objective(i).net.init(jax.random.key(i), 16)),
    "gradient_stats": lambda i: gradient_stats(_objective(i), _objective(i).net.init(
        jax.random.key(i), 16)),
    "local_pl_check": lambda i: local_pl_check(_objective(i), _objective(i).net.init(
        jax.random.key(i), 16), 1.0, key=jax.random.key(i), n_starts=2, steps=4),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_repeated_call_compiles_nothing(name):
    jax.block_until_ready(jax.tree_util.tree_leaves(CASES[name](0)))  # first call: compiles
    before = len(_COMPILES)
    jax.block_until_ready(jax.tree_util.tree_leaves(CASES[name](1)))  # new values, same shapes
    assert len(_COMPILES) == before, _COMPILES[before:]


def test_unhashable_network_is_keyed_by_identity():
    # a network that cannot be hashed (a callable object with array fields) is a static
    # argument by identity: two with different arrays never share a compiled program
    @dataclasses.dataclass
    class Net:
        scale: jax.Array

        def __call__(self, p, x):
            return self.scale * _apply(p, x)

    p = _params(0)
    lam = [ntk_spectrum(Net(jnp.asarray(s)), p, _X, method="lanczos", num_iters=12).lambda_max
           for s in (1.0, 2.0)]
    np.testing.assert_allclose(lam[1], 4.0 * lam[0], rtol=1e-10)


def test_certified_ntk_eager_reuses_the_kernel_buffer():
    # called eagerly, the certified path is handed K donated and gives it back: the program
    # aliases K to its output, so its footprint is K plus the factorisations' buffers, about
    # 3.3 K here (without the donation the returned K is a second copy: 4.3 K)
    import importlib

    mod = importlib.import_module("villani.diagnostics.ntk")
    n = 512
    k = jnp.eye(n, dtype=jnp.float64)
    mem = mod._certified.lower(k, jax.random.key(0), 1e-12, 8).compile().memory_analysis()
    one_k = n * n * 8
    total = (mem.argument_size_in_bytes + mem.temp_size_in_bytes + mem.output_size_in_bytes
             - mem.alias_size_in_bytes)
    assert mem.alias_size_in_bytes == one_k
    assert total <= 3.5 * one_k, total / one_k
