"""A griffe extension for the docs site: villani's docstrings title their doctest section
``Example:`` (singular), which griffe's Google parser would render as prose (a ``>>>`` line's
output such as ``[(16, 4)]`` then reads as a Markdown link). Renaming it ``Examples:``
makes griffe render the section as a Python console block. Sphinx roles
(``:func:`x```, ``:class:`~villani.X```), which Markdown does not know, become code."""

from __future__ import annotations

import re

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.M)
_ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj):`~?([^`]+)`")


class ExampleSections(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            text = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _ROLE.sub(r"`\1`", text)
