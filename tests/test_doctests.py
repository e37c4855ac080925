"""The docstrings' examples run as doctests, so an example that no longer works fails a test.

Each module's examples run with the module's namespace plus ``jax``, ``jnp``, ``np`` and
``villani`` (what the examples assume), in float64. Examples marked ``# doctest: +SKIP``
say why in their docstring (a run of minutes, or a name defined elsewhere). Modules whose
examples compile many jitted functions run in the slow suite (each takes tens of seconds on
two cores, mostly compilation); the rest run by default.
"""

import doctest
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import villani

CHEAP = ["villani.experiments.result", "villani.experiments._table", "villani.experiments.sweep",
         "villani.experiments._stats",
         "villani.losses", "villani.optim", "villani.plots", "villani.report",
         "villani.data", "villani.diagnostics.certified", "villani.diagnostics.pl",
         "villani.diagnostics.gradient_stats",
         "villani.diagnostics.rates"]
COSTLY = ["villani.diagnostics.laplacian", "villani.diagnostics.ntk", "villani.diagnostics.villani",
          "villani.diagnostics.spectrum", "villani.dynamics.discrete",
          # added when the nets package split and chatterjee/ntk_infinite landed (own-model
          # and kernels branches); run with make test-slow, not yet moved to CHEAP
          "villani.diagnostics.chatterjee", "villani.diagnostics.ntk_infinite",
          "villani.nets._activations", "villani.nets._base", "villani.nets._initializers",
          "villani.nets.adapters", "villani.nets.mlp", "villani.nets.two_layer"]

# docstring -> why it is not run (each a defect to fix in that docstring)
KNOWN: dict[str, str] = {}


def _run(name):
    mod = importlib.import_module(name)
    globs = {**vars(mod), "jax": jax, "jnp": jnp, "np": np, "villani": villani}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(mod, name, globs=globs)
             if t.examples and t.name not in KNOWN]
    failures = []
    for t in tests:
        out = []
        if runner.run(t, out=out.append).failed:
            failures.append("".join(out))
    assert not failures, "\n".join(failures)
    return sum(len(t.examples) for t in tests)


@pytest.mark.parametrize("name", CHEAP)
def test_docstring_examples(name):
    assert _run(name) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", COSTLY)
def test_docstring_examples_that_compile_a_lot(name):
    assert _run(name) > 0


def test_every_module_with_examples_is_listed():
    import pkgutil

    listed = set(CHEAP) | set(COSTLY)
    for m in pkgutil.walk_packages(villani.__path__, "villani."):
        if "papers.paper_" in m.name or m.name in listed:
            continue
        mod = importlib.import_module(m.name)
        found = [t for t in doctest.DocTestFinder(exclude_empty=True).find(mod, m.name)
                 if any("+SKIP" not in ex.source and not ex.options for ex in t.examples)]
        assert not found, f"{m.name} has docstring examples: add it to CHEAP or COSTLY"
