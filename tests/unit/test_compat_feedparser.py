"""The fence around feedparser's internals: check() on the real library and on a broken one."""

from __future__ import annotations

import ast
from importlib import metadata
from pathlib import Path

import feedparser.html
import feedparser.sanitizer
import pytest

from newsmon.compat import CompatError, check_all
from newsmon.compat import feedparser as compat

ROOT = Path(__file__).resolve().parents[2]


def test_check_passes_on_the_installed_feedparser() -> None:
    compat.check()


def test_check_all_includes_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(feedparser.sanitizer, "_sanitize_html")
    with pytest.raises(CompatError, match="_sanitize_html"):
        check_all()


@pytest.mark.parametrize(("module", "name"), compat.NAMES)
def test_check_fails_loudly_with_the_version_when_a_name_is_gone(
        monkeypatch: pytest.MonkeyPatch, module: str, name: str) -> None:
    import importlib

    monkeypatch.delattr(importlib.import_module(module), name)
    with pytest.raises(CompatError) as info:
        compat.check()
    message = str(info.value)
    assert f"{module}.{name} is missing" in message
    assert f"feedparser {metadata.version('feedparser')}" in message
    assert info.value.distribution == "feedparser"


def test_check_fails_when_a_parser_attribute_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    owner = next(c for c in feedparser.api.StrictFeedParser.__mro__
                 if "looks_like_html" in vars(c))
    monkeypatch.delattr(owner, "looks_like_html")
    with pytest.raises(CompatError, match=r"StrictFeedParser\.looks_like_html is missing"):
        compat.check()


def test_check_fails_when_a_table_changes_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feedparser.html, "_cp1252", "not a table")
    with pytest.raises(CompatError, match="_cp1252"):
        compat.check()


def test_no_feedparser_internals_outside_the_fence() -> None:
    """Only newsmon/compat/feedparser.py imports feedparser submodules or private names."""
    offenders = []
    for folder in ("connectors", "newsmon", "streams"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "newsmon" / "compat" / "feedparser.py":
                continue
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                        "feedparser"):
                    offenders.append(f"{path.relative_to(ROOT)}: from {node.module}")
                elif isinstance(node, ast.Import) and any(
                        a.name.startswith("feedparser.") for a in node.names):
                    offenders.append(f"{path.relative_to(ROOT)}: import")
    assert offenders == []
