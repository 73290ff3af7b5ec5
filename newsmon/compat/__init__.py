"""Fences around other packages' private internals.

newsmon touches a few private attributes of faust-streaming, aiokafka, feedparser and
spaCy. Every such access lives in exactly one module here, one per library, and each
module has a ``check()`` that verifies, against the installed library, that every
private name it relies on still exists with the expected shape. ``check_all()`` runs at
the start of every long-running command: a missing internal stops the process with a
:class:`CompatError` naming the library and its installed version, never a silent
fallback. Each library the project patches is pinned in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
from importlib import metadata

#: The compatibility modules, one per library (module name under newsmon.compat, distribution).
LIBRARIES: tuple[tuple[str, str], ...] = (
    ("faust", "faust-streaming"),
    ("aiokafka", "aiokafka"),
    ("feedparser", "feedparser"),
    ("spacy", "spacy"),
)


class CompatError(RuntimeError):
    """An internal of another package that newsmon relies on is missing or changed."""

    def __init__(self, distribution: str, detail: str) -> None:
        try:
            version = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            version = "not installed"
        super().__init__(
            f"{distribution} {version}: {detail}; newsmon supports the version pinned in "
            f"pyproject.toml (reinstall with scripts/setup)")
        self.distribution = distribution
        self.version = version


def check_all() -> None:
    """Run every library's ``check()``; raise :class:`CompatError` on the first failure."""
    for module, _distribution in LIBRARIES:
        importlib.import_module(f"newsmon.compat.{module}").check()
