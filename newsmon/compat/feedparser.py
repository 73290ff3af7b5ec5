"""Private internals of feedparser that newsmon uses, and their start-up check.

feedparser's public API is ``feedparser.parse``. :mod:`connectors.rss20` reads
plain RSS 2.0 itself and then runs each field through feedparser's own
functions, and :mod:`connectors.parse` uses its date parser for JSON Feed
dates; those functions live in feedparser's submodules and several are
underscore-private. They are imported here and nowhere else, so a feedparser
release that moves or renames one fails :func:`check` (run at start-up by
:func:`newsmon.compat.check_all`) with the installed version in the message,
instead of an ImportError deep inside a connector or, worse, a silent change
of results. feedparser is pinned to 6.0.x in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
from typing import Any

from newsmon.compat import CompatError

DISTRIBUTION = "feedparser"

#: (module, attribute) for every feedparser internal newsmon touches.
NAMES: tuple[tuple[str, str], ...] = (
    ("feedparser.api", "StrictFeedParser"),
    ("feedparser.datetimes", "_parse_date"),
    ("feedparser.encodings", "convert_to_utf8"),
    ("feedparser.html", "_cp1252"),
    ("feedparser.sanitizer", "_sanitize_html"),
    ("feedparser.urls", "_urljoin"),
    ("feedparser.urls", "make_safe_absolute_uri"),
    ("feedparser.urls", "resolve_relative_uris"),
)
#: Attributes of ``StrictFeedParser`` that :mod:`connectors.rss20` reads.
PARSER_ATTRIBUTES: tuple[str, ...] = ("namespaces", "html_types", "looks_like_html",
                                      "map_content_type", "_start_item", "_end_title")


def _get(module: str, name: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise CompatError(DISTRIBUTION, f"module {module} is missing ({exc})") from None
    try:
        return getattr(mod, name)
    except AttributeError:
        raise CompatError(DISTRIBUTION, f"{module}.{name} is missing") from None


def check() -> None:
    """Verify every private name this module relies on; raise CompatError if one is gone."""
    for module, name in NAMES:
        value = _get(module, name)
        if name != "_cp1252" and not callable(value):
            raise CompatError(DISTRIBUTION, f"{module}.{name} is no longer callable")
    cp1252 = _get("feedparser.html", "_cp1252")
    if not isinstance(cp1252, dict):
        raise CompatError(DISTRIBUTION, "feedparser.html._cp1252 is no longer a translation "
                                        "table (dict)")
    parser = _get("feedparser.api", "StrictFeedParser")
    for attr in PARSER_ATTRIBUTES:
        if not hasattr(parser, attr):
            raise CompatError(DISTRIBUTION, f"feedparser.api.StrictFeedParser.{attr} is missing")
    if not isinstance(parser.namespaces, dict) or not isinstance(parser.html_types, list | tuple
                                                                  | set | frozenset):
        raise CompatError(DISTRIBUTION, "feedparser.api.StrictFeedParser.namespaces/html_types "
                                        "changed type")


StrictFeedParser: Any = _get("feedparser.api", "StrictFeedParser")
parse_date: Any = _get("feedparser.datetimes", "_parse_date")
convert_to_utf8: Any = _get("feedparser.encodings", "convert_to_utf8")
cp1252: dict[int, str] = _get("feedparser.html", "_cp1252")
sanitize_html: Any = _get("feedparser.sanitizer", "_sanitize_html")
urljoin: Any = _get("feedparser.urls", "_urljoin")
make_safe_absolute_uri: Any = _get("feedparser.urls", "make_safe_absolute_uri")
resolve_relative_uris: Any = _get("feedparser.urls", "resolve_relative_uris")
