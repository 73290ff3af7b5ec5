"""The seed page through the offline analysis: the acceptance case of the tension work."""

from pathlib import Path

import pytest

from newsmon.analysis.pipeline import Analyzer
from newsmon.analysis.tension import LexiconError, load_lexicon, score_tension
from newsmon.records import RawArticle
from tests.helpers import seed_items
from tests.schemas import assert_valid


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def analyse(analyzer: Analyzer, title: str, summary: str = "", content: str = "") -> dict:
    return analyzer.enrich(RawArticle(id="x", title=title, summary=summary, content=content))


def test_seed_article(analyzer: Analyzer) -> None:
    main, teasers = seed_items()
    out = analyse(analyzer, main.title, main.summary, main.content)
    names = {e["canonical"]: e for e in out["entities"]}
    for person in ("Antony Blinken", "Sergei Lavrov", "Liz Truss", "Dmitri Peskov"):
        assert names[person]["type"] == "PERSON"
    for place, code in (("Russia", "RU"), ("Ukraine", "UA"), ("Crimea", "UA"),
                        ("Moscow", "RU"), ("Stockholm", "SE")):
        assert names[place]["type"] == "LOCATION" and names[place]["country"] == code, place
    assert names["OSCE"]["type"] == "ORG"
    assert names["Kremlin"]["type"] == "ORG"
    assert_valid("enriched-article", [out])
    tension = out["tension"]
    assert tension["score"] >= 60 and tension["level"] in ("high", "severe"), tension["score"]
    matched = {e["matched"].lower(): e for e in tension["evidence"]}
    for phrase in ("armed hostilities", "serious consequences", "build-up of russian troops"):
        assert phrase in matched
    assert matched["de-escalate"]["weight"] < 0
    assert tension["deescalation"] > 0
    assert matched["serious consequences"]["attributed"]
    # every entry shows the sentence its points come from (the wording entry: the lead)
    assert all(e["sentence"] for e in tension["evidence"]), tension["evidence"]

    iran = next(t for t in teasers if "Iran" in t.title)
    iran_score = analyse(analyzer, iran.title, iran.summary)["tension"]["score"]
    assert iran_score < 60 <= tension["score"]
    scores = [analyse(analyzer, t.title, t.summary)["tension"]["score"] for t in teasers]
    assert len(scores) == len(teasers) >= 9


def test_lexicon_override(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yml"
    extra.write_text("version: desk-3\ncategories:\n  threats:\n    phrases:\n"
                     "      - {p: serious consequences, w: 0}\n      - {p: saber rattling, w: 6}\n"
                     "  cyber:\n    label: cyber operations\n    goldstein: -6\n"
                     "    phrases: [ransomware attack]\n")
    lex = load_lexicon(override=extra)
    r = score_tension(lex, {"content": "Officials warned of serious consequences after saber "
                                       "rattling and a ransomware attack."})
    phrases = {e.phrase for e in r.evidence}
    assert {"saber rattling", "ransomware attack"} <= phrases
    assert "serious consequences" not in phrases
    assert lex.version.endswith("+desk-3")
    (tmp_path / "bad.yml").write_text("categories: [1]\n")
    with pytest.raises(LexiconError, match=r"bad\.yml"):
        load_lexicon(override=tmp_path / "bad.yml")


def test_a_demonym_is_no_place_but_the_record_keeps_its_country(analyzer: Analyzer) -> None:
    out = analyse(analyzer, "Iraqi officials said talks with Turkish envoys went well")
    kinds = {e["text"]: (e["type"], e["country"]) for e in out["entities"]}
    assert kinds["Iraqi"] == ("other", "IQ") and kinds["Turkish"] == ("other", "TR")
    assert not [e for e in out["entities"] if e["type"] == "LOCATION"]
    assert out["countries"] == ["IQ", "TR"]
    assert_valid("enriched-article", [out])
