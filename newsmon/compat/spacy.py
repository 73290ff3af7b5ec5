"""Private internals of spacy that newsmon uses, and their start-up check.

* ``StringStore._map``: the string store's hash table (a preshed ``PreshMap``), whose
  ``capacity`` (cells) tells ``SpacyMentionFinder`` when words that came and went
  through its memory zones have grown the table enough to reload the model
  (``newsmon.analysis.entities``). spaCy exposes no public size of that table.
"""

from __future__ import annotations

import importlib
from typing import Any

from newsmon.compat import CompatError

_DIST = "spacy"


def _string_store_class() -> Any:
    return importlib.import_module("spacy.strings").StringStore


def string_table_capacity(nlp: Any) -> int:
    """Cells in the hash table of ``nlp``'s string store (``StringStore._map.capacity``)."""
    return int(nlp.vocab.strings._map.capacity)


def check() -> None:
    """Verify every private name this module relies on; raise CompatError if one is gone."""
    store_class = _string_store_class()
    if not hasattr(store_class, "_map"):
        raise CompatError(_DIST, "spacy.strings.StringStore has no private '_map' (its hash "
                                 "table), which newsmon reads to decide when to reload the "
                                 "model")
    table = getattr(store_class(), "_map", None)
    capacity = getattr(table, "capacity", None)
    if not isinstance(capacity, int) or capacity <= 0:
        raise CompatError(_DIST, f"spacy.strings.StringStore()._map has no positive integer "
                                 f"'capacity' (got {type(table).__name__} with "
                                 f"capacity={capacity!r})")
