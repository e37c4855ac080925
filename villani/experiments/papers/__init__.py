"""The registry of paper reproductions read by ``villani reproduce``.

``PAPERS`` maps a paper id (``"000"`` ... ``"004"``) to its
:class:`~villani.experiments.result.Paper`. A paper module registers itself at import::

    # villani/experiments/papers/paper_000.py
    from ..result import Paper, Result, Verdict
    from . import register

    def run(config, key) -> Result: ...

    PAPER = register(Paper(id="000", title="...", arxiv="2309.09258",
                           quick={...}, full={...}, run=run))

and is imported in the block at the end of this file (one line per paper), so that
``import villani.experiments.papers`` fills the registry. Tests register fakes with
``monkeypatch.setitem(PAPERS, "fake", Paper(...))``.
"""

from __future__ import annotations

from ..result import Paper

__all__ = ["PAPERS", "get", "register"]

PAPERS: dict[str, Paper] = {}


def register(paper: Paper) -> Paper:
    """Add ``paper`` to :data:`PAPERS` under ``paper.id`` and return it.

    Raises:
        TypeError: ``paper`` is not a :class:`Paper`.
        ValueError: another paper is registered under the same id.

    Example:
        >>> PAPER = register(Paper("999", "A toy", "0000.00000", {}, {}, run))  # doctest: +SKIP
    """
    if not isinstance(paper, Paper):
        raise TypeError(f"paper: expected a villani.experiments.Paper, got {type(paper).__name__}")
    old = PAPERS.get(paper.id)
    if old is not None and old is not paper:
        raise ValueError(f"paper: id {paper.id!r} is already registered ({old.title!r})")
    PAPERS[paper.id] = paper
    return paper


def get(ids: list[str] | tuple[str, ...] | None = None) -> list[Paper]:
    """The registered papers with these ids (all, sorted by id, when ``ids`` is empty).

    Raises:
        ValueError: an unknown id; the message lists the known ones.
    """
    if not ids:
        return [PAPERS[k] for k in sorted(PAPERS)]
    unknown = [i for i in ids if i not in PAPERS]
    if unknown:
        known = ", ".join(sorted(PAPERS)) or "none registered yet"
        raise ValueError(f"unknown paper id(s) {', '.join(map(repr, unknown))}; known: {known}")
    return [PAPERS[i] for i in ids]


# --- paper modules (issue 6): one import per paper, e.g. `from . import paper_000 as paper_000` ---
from . import paper_001 as paper_001  # noqa: E402
from . import paper_002 as paper_002  # noqa: E402
from . import paper_003 as paper_003  # noqa: E402
from . import paper_004 as paper_004  # noqa: E402

for _module in (paper_001, paper_002, paper_003, paper_004):
    register(_module.PAPER)
