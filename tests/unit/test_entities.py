import pytest

from newsmon.analysis.entities import EntityExtractor, Mention, country_of, resolve
from tests.helpers import SEED_FILE, seed_items


def by_canonical(ents):
    return {e.canonical: e for e in ents}


def test_short_forms_resolve_to_full_names() -> None:
    ms = [Mention("Antony Blinken", "PERSON", 0), Mention("Mr Blinken", "PERSON", 50),
          Mention("Blinken’s", "PERSON", 90), Mention("Lavrov", "ORG", 120),
          Mention("Sergei Lavrov", "PERSON", 30), Mention("the Kremlin", "ORG", 10)]
    ents = by_canonical(resolve(ms))
    assert ents["Antony Blinken"].count == 3
    assert set(ents["Antony Blinken"].surface_forms) == {"Antony Blinken", "Blinken"}
    assert ents["Sergei Lavrov"].type == "PERSON" and ents["Sergei Lavrov"].count == 2
    assert ents["Kremlin"].type == "ORG"
    assert ents["Antony Blinken"].first_offset == 0


def test_demonyms_and_aliases_map_to_countries() -> None:
    ents = by_canonical(resolve([Mention("Russian", "NORP", 0), Mention("Russia", "GPE", 9),
                                 Mention("Britain", "GPE", 20), Mention("UK", "GPE", 30)]))
    assert ents["Russia"].country == "RU" and ents["Russia"].count == 2
    assert ents["United Kingdom"].country == "GB"
    assert country_of("Ukrainians") == ("UA", "Ukraine")
    assert country_of("Narnia") is None


def test_noise_dropped() -> None:
    assert resolve([Mention("2014", "DATE", 0), Mention("  ", "PERSON", 3),
                    Mention("123", "ORG", 5)]) == []


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor()


def test_seed_article_entities_with_the_real_model(extractor: EntityExtractor) -> None:
    assert SEED_FILE.exists()
    main, _ = seed_items()
    from newsmon.analysis.text import html_to_text

    ents = by_canonical(extractor.extract(main.title + "\n\n" + html_to_text(main.content)))
    for name in ("Antony Blinken", "Sergei Lavrov", "Liz Truss", "Dmitri Peskov"):
        assert ents[name].type == "PERSON", name
    assert ents["Russia"].type == "LOCATION" and ents["Russia"].country == "RU"
    assert ents["Ukraine"].country == "UA"
    assert ents["Kremlin"].type == "ORG"
    assert ents["Antony Blinken"].count >= 3
