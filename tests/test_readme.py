"""The README's "Your own model" examples (plain JAX, equinox, flax) run as written."""

import pathlib
import re

import jax.numpy as jnp
import numpy as np
import pytest

README = pathlib.Path(__file__).parent.parent / "README.md"


def _own_model_blocks():
    text = README.read_text()
    section = text.split("## Your own model", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.slow  # 40-50 s of compiles (every public function once); CI runs it (make test-slow)
def test_own_model_section_runs():
    pytest.importorskip("flax.linen")
    blocks = _own_model_blocks()
    assert len(blocks) == 4, "plain JAX, equinox, flax and stepper examples"
    ns: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), ns)  # noqa: S102 - the README's own code
    # what the examples computed is what they claim: finite, of the right shapes
    assert ns["K"].shape == (32, 32)
    assert np.isfinite(float(ns["lap"])) and np.isfinite(float(ns["mu"]))
    assert ns["traj"].loss.shape == (101,) and bool(jnp.all(ns["traj"].valid))
    assert int(ns["state"].t) == 1
    assert ns["flow"].loss.shape == (5,)
