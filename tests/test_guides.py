"""The documentation guide "Your own model" runs as written: its code blocks, in order, in
one namespace. Its own assertions compare each closed form with the generic reference
(float64 here, as in every numerical test)."""

import pathlib
import re

import numpy as np
import pytest

GUIDE = pathlib.Path(__file__).parent.parent / "docs" / "guides" / "own-model.md"


def test_own_model_guide_runs():
    pytest.importorskip("flax.linen")
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) == 6, "four ways in, FeedForward, the reference checks, the rays"
    ns: dict = {}
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), ns)  # noqa: S102 - the guide's own code
    # what the page says it computed
    assert ns["K"].shape == (32, 32) and np.isfinite(float(ns["mu"]))
    assert bool(ns["spec"].lambda_max > 0)
    # "the two paths then agree to about 1e-13 relative" in float64
    k_ref = np.asarray(ns["K_ref"])
    assert np.max(np.abs(np.asarray(ns["K_fast"]) - k_ref)) <= 1e-13 * np.max(np.abs(k_ref))
    assert abs(float(ns["lap_fast"]) - float(ns["lap_ref"])) <= 1e-12 * abs(float(ns["lap_ref"]))
