"""pyproject.toml tells the truth: the Python it requires, and the packages villani imports."""

import ast
import importlib.metadata as md
import pathlib
import re
import sys
import tomllib
import warnings

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(reqs):
    return {re.sub(r"[-_.]+", "-", Requirement(r).name).lower() for r in reqs}


def _imports():
    """Top-level distributions villani imports: (at module level, anywhere)."""
    dists = md.packages_distributions()
    module_level, anywhere = set(), set()
    for path in (ROOT / "villani").rglob("*.py"):
        with warnings.catch_warnings():  # a docstring's escape sequence is not our concern here
            warnings.simplefilter("ignore")
            tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module]
            else:
                continue
            for m in mods:
                root = m.split(".")[0]
                if root in sys.stdlib_module_names or root == "villani":
                    continue
                for d in dists.get(root, [root]):
                    d = re.sub(r"[-_.]+", "-", d).lower()
                    anywhere.add(d)
                    if id(node) in top:
                        module_level.add(d)
    return module_level, anywhere


def test_every_module_level_import_is_a_declared_dependency_and_no_dependency_is_unused():
    deps = _names(PROJECT["dependencies"])
    module_level, anywhere = _imports()
    assert "lineax" in module_level  # villani.dynamics.continuous
    assert module_level <= deps, f"imported but not declared: {sorted(module_level - deps)}"
    unused = deps - anywhere - {"jaxlib"}  # jaxlib is jax's backend, imported through jax
    assert not unused, f"declared runtime dependencies villani never imports: {sorted(unused)}"
    extras = set().union(*(_names(v) for v in PROJECT["optional-dependencies"].values()))
    assert "chex" in extras  # the tests use it


def test_requires_python_is_what_the_dependencies_need():
    ours = SpecifierSet(PROJECT["requires-python"])
    lowest = min(Version(f"3.{m}") for m in range(8, 20) if Version(f"3.{m}") in ours)
    for name in sorted(_names(PROJECT["dependencies"])):
        need = md.metadata(name).get("Requires-Python")
        if need:  # the installed version's own requirement must hold on our lowest Python
            assert lowest in SpecifierSet(need), f"{name} needs Python {need}; pyproject allows {ours}"
    assert sys.version_info >= (lowest.major, lowest.minor)
