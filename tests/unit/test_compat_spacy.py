"""The fence around spaCy's private internals: its check passes on the installed library
and fails loudly, naming the library version, when an internal is gone."""

from importlib import metadata

import pytest
import spacy.strings

from newsmon.compat import CompatError, check_all
from newsmon.compat import spacy as spacy_compat


def test_check_passes_on_the_installed_spacy() -> None:
    spacy_compat.check()
    check_all()


class _StoreWithoutMap:
    """A string store as a spaCy that dropped the private hash table would have it."""


class _Table:
    capacity = None


class _StoreWithOddMap:
    _map = _Table()


@pytest.mark.parametrize("store, missing", [(_StoreWithoutMap, "'_map'"),
                                            (_StoreWithOddMap, "'capacity'")])
def test_check_fails_loudly_when_an_internal_is_missing(
        monkeypatch: pytest.MonkeyPatch, store: type, missing: str) -> None:
    monkeypatch.setattr(spacy.strings, "StringStore", store)
    with pytest.raises(CompatError) as caught:
        spacy_compat.check()
    message = str(caught.value)
    assert missing in message
    assert f"spacy {metadata.version('spacy')}" in message
    assert caught.value.distribution == "spacy"


def test_the_extractor_reads_the_string_table_through_the_fence(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from newsmon.analysis import entities

    read: list[object] = []

    def spy(nlp: object) -> int:
        read.append(nlp)
        return 123

    monkeypatch.setattr(spacy_compat, "string_table_capacity", spy)
    nlp = spacy.blank("en")
    assert entities.string_table_capacity(nlp) == 123 and read == [nlp]
    monkeypatch.undo()
    assert entities.string_table_capacity(nlp) == nlp.vocab.strings._map.capacity > 0
