"""Numerical tests run in float64 (STYLE.md: diffrax's conftest)."""

import zlib

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

# Named tolerances per dtype (neural-tangents style), used across the suite.
TOL = {np.float32: 5e-3, np.float64: 1e-10}


@pytest.fixture
def key(request):
    seed = zlib.crc32(request.node.nodeid.encode()) % (2**31)  # stable across runs
    print(f"key seed: {seed}")
    return jax.random.key(seed)
