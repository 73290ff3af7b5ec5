"""The tension model: its file, its score mapping and where it comes from."""

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from newsmon.analysis.evalcorpus import part_of
from newsmon.analysis.tension import (
    LEAD_CHARS,
    WORDING_MIN,
    LexiconError,
    bundled_model,
    escalation_stems,
    lead_text,
    load_lexicon,
    model_features,
    parse_model,
    probability_score,
    score_tension,
    stem,
    topic_words,
)
from tests.helpers import SHARED, require_shared

ROOT = Path(__file__).resolve().parents[2]


def test_stem_strips_a_final_e_of_every_length() -> None:
    # "voted" must meet the lexicon's "vote down", "fired" its "fire"
    assert stem("vote") == stem("voted") == stem("votes") == stem("voting")
    assert stem("fire") == stem("fired") == stem("firing")
    assert stem("invade") == stem("invaded")


def test_probability_score_is_zero_without_evidence_and_monotonic() -> None:
    base = bundled_model().base
    assert probability_score(base, 0.0) == 0
    scores = [probability_score(base, n / 4) for n in range(0, 60)]
    assert scores == sorted(scores)
    assert scores[-1] == 100
    assert probability_score(base, -3.0) == 0


def test_the_bundled_model_sizes_every_group_without_flipping_it() -> None:
    model = bundled_model()
    assert model.coef and all(v >= 0 for v in model.coef.values())
    assert math.isfinite(model.base)
    # every group the scorer can make from the bundled lexicon's categories is sized
    lex = load_lexicon()
    cats = {p.category for group in lex.index.values() for p in group if p.weight}
    for cat in cats:
        for first in ("first", "later"):
            for armed in ("armed", "state", "unarmed"):
                assert f"{cat}:{first}:{armed}" in model.coef
    assert "figurative" in model.coef and "context" in model.coef
    assert model.coef["wording"] > 0
    # the context model reads what an item is about, not the lexicon's event words
    assert model.context_words
    assert not set(model.context_words) & {"war", "attack", "troops", "killed", "talks"}
    # nor names: how often the labelled items pair a country with conflict is no rule
    assert not set(model.context_words) & {"russia", "ukraine", "iran", "gaza", "london"}


@pytest.mark.parametrize(("data", "message"), [
    ({}, "needs a 'coef' mapping"),
    ({"coef": {"a": 1.0}}, "bad number"),
    ({"coef": {"a": "x"}, "intercept": 0}, "bad number"),
    ({"coef": {"a": -0.5}, "intercept": 0}, "not negative"),
    ({"coef": {"a": float("nan")}, "intercept": 0}, "finite"),
    ({"coef": {"a": 1.0}, "intercept": float("inf")}, "finite"),
    ({"coef": {"a": 1.0}, "intercept": 0, "context": {"words": ["x"]}}, "'words' mapping"),
    ({"coef": {"a": 1.0}, "intercept": 0, "context": {"words": {"x": "y"}}}, "bad number"),
    ({"coef": {"a": 1.0}, "intercept": 0, "context": {"words": {"x": float("nan")}}},
     "finite"),
    ({"coef": {"a": 1.0}, "intercept": 0, "wording": {"words": ["x"]}}, "'words' mapping"),
    ({"coef": {"a": 1.0, "wording": 1.0}, "intercept": 0,
      "wording": {"words": {"x": float("inf")}}}, "finite"),
    ({"coef": {"a": 1.0}, "intercept": 0, "wording": {"words": {"x": 1.0}}},
     "need coef.wording"),
])
def test_a_bad_model_is_refused_with_its_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        parse_model(data)


def test_a_category_the_model_has_not_seen_counts_the_default(tmp_path: Path) -> None:
    extra = tmp_path / "desk.yml"
    extra.write_text("version: d1\ncategories:\n  cyber:\n    phrases:\n"
                     "      - {p: sleeper cell, w: 9}\n", "utf-8")
    lex = load_lexicon(override=extra)
    r = score_tension(lex, {"title": "Police find a sleeper cell in the capital"})
    ev = [e for e in r.evidence if e.category == "cyber"]
    assert ev and r.score > 0
    assert r.by_category["cyber"] > 0
    feats = model_features(lex, {"title": "Police find a sleeper cell in the capital"})
    assert any(k.startswith("cyber:first:") for k in feats), feats
    assert r.lexicon_version.endswith(f"+{bundled_model().version}")


def test_everyday_context_takes_points_off_and_is_shown() -> None:
    lex = load_lexicon()
    model = bundled_model()
    text = ("Sixers lay siege to the paint in win over Heat. Pascal Ndongo scored 38 points "
            "and Philadelphia outscored Miami in the second half of the season opener.")
    value, shown = model.context(topic_words(text))
    assert value < 0 and shown and all(model.context_words[w] < 0 for w in shown)
    r = score_tension(lex, {"title": "", "summary": text})
    assert r.score < 60
    assert [e.category for e in r.evidence if e.category == "context"] == ["context"]
    # an attack near a stadium still scores; its context entry takes points off, and the
    # points still add up to the score
    r = score_tension(lex, {"title": "", "summary": "Gunmen attacked fans outside the "
                            "stadium after the season opener, the club said."})
    ctx = [e for e in r.evidence if e.category == "context"]
    assert r.score > 0
    assert ctx and ctx[0].points < 0 and ctx[0].phrase.startswith("reads as everyday news")
    assert ctx[0].field == "item" and ctx[0].matched == "" and ctx[0].sentence == ""
    assert abs(sum(e.points for e in r.evidence) - r.score) < 0.01
    # without any known word the context says nothing either way
    assert model.context(frozenset({"zzzq", "qqxz"})) == (0.0, [])


def test_lead_text_is_the_headline_and_first_sentence() -> None:
    fields = {"title": "Talks collapse", "content": "Envoys left Doha on Monday. The war "
              "goes on.", "summary": "ignored"}
    assert lead_text(fields) == "Talks collapse Envoys left Doha on Monday."
    assert lead_text({"title": "Only a headline", "summary": "  "}) == "Only a headline"
    assert lead_text({"summary": "One sentence here. Another."}) == " One sentence here."
    # a text with no sentence break: the lead is cut, not the whole text
    assert len(lead_text({"title": "T", "content": "word " * 50_000})) <= LEAD_CHARS + 2


def test_wording_reads_the_headline_and_lead_and_is_shown() -> None:
    lex = load_lexicon()
    model = bundled_model()
    assert model.wording_words
    # the lexicon's words are the wording model's too; names are not
    assert not set(model.wording_words) & {"russia", "ukraine", "iran", "gaza", "london"}
    conflict = ("Militiamen overran two army outposts and torched a market town near the "
                "border overnight, residents said.")
    value, shown = model.wording(topic_words(conflict))
    assert value > 0 and shown and all(model.wording_words[w] > 0 for w in shown)
    r = score_tension(lex, {"title": "", "summary": conflict})
    entry = [e for e in r.evidence if e.category == "wording"]
    assert len(entry) == 1 and entry[0].points > 0 and entry[0].field == "item"
    assert entry[0].phrase.startswith("headline and lead read as conflict: ")
    # its sentence is what it read: the headline and lead, cut to a snippet's length
    assert entry[0].sentence == conflict
    assert abs(sum(e.points for e in r.evidence) - r.score) < 0.01
    # wording of other news takes points off an item with conflict words in it, and
    # lowers its score
    deal = {"title": "", "content": "Rebels shelled the city a day after the government "
                                    "unveiled a budget to boost investment and exports."}
    r = score_tension(lex, deal)
    entry = [e for e in r.evidence if e.category == "wording"]
    assert entry and entry[0].weight < 0 and entry[0].points < 0, r
    assert entry[0].phrase.startswith("headline and lead read as other news: ")
    plain = replace(lex, model=replace(model, wording_words={}))
    assert score_tension(plain, deal).score > r.score > 0
    # the wording reads only the lead: a later paragraph's words do not change it
    lead = {"title": "Rebels shell the airport", "content": "Rebels shelled the airport."}
    longer = {**lead, "content": lead["content"] + " Talks signed agreed aid joint."}
    a = [e.weight for e in score_tension(lex, lead).evidence if e.category == "wording"]
    b = [e.weight for e in score_tension(lex, longer).evidence if e.category == "wording"]
    assert a == b != []
    # at most WORDING_LIMIT either way, and nothing without a known word or below
    # WORDING_MIN
    assert abs(model.wording(frozenset(model.wording_words))[0]) <= 2.0
    assert model.wording(frozenset({"zzzq", "qqxz"})) == (0.0, [])
    small = min(model.wording_words, key=lambda w: abs(model.wording_words[w]))
    assert abs(model.wording_words[small]) < WORDING_MIN
    assert model.wording(frozenset({small})) == (0.0, [])


def test_words_the_lexicon_counts_as_escalation_never_read_as_other_news() -> None:
    # figurative "pitch invasion" in labelled everyday news must not teach the wording
    # model that "invasion" means other news
    lex = load_lexicon()
    escalation = escalation_stems(lex)
    assert {stem("invasion"), stem("war"), stem("shelling")} <= escalation
    model = bundled_model()
    assert all(v > 0 for w, v in model.wording_words.items() if stem(w) in escalation)
    for title in ("Russia launches full-scale invasion of Ukraine", "Pitch invasion mars derby",
                  "War of words over the budget", "Shelling heard near the airport"):
        for e in score_tension(lex, {"title": title}).evidence:
            if e.category == "wording" and e.points < 0:
                shown = e.phrase.split(": ", 1)[1].split(", ")
                assert not {stem(w) for w in shown} & escalation, (title, shown)


def test_the_model_turns_cooperation_first_items_down() -> None:
    # the reported event comes first; a war named after it is background
    lex = load_lexicon()
    talks = score_tension(lex, {"title": "", "summary": "The two foreign ministers held "
                                "talks in Riyadh on regional security and the war in Gaza."})
    war = score_tension(lex, {"title": "", "summary": "The war in Gaza spread to the north "
                              "as air strikes and shelling killed dozens."})
    assert talks.score < 60 <= war.score


def test_training_reads_only_the_dev_part() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import train_tension
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    items = train_tension.dev_items(SHARED / "data" if SHARED.is_dir() else None)
    assert len(items) > 1000
    assert {part_of(it.id) for it in items} == {"dev"}


@pytest.mark.timeout(2700)  # training takes about 11 minutes on two cores
def test_the_shipped_model_is_what_training_on_the_dev_part_gives() -> None:
    require_shared()  # the dev part's feed items are read from ../shared
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_tension.py"), "--check",
                          "--data", str(SHARED / "data")],
                         capture_output=True, text=True, timeout=2400, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "matches the dev part" in out.stdout
    shipped = yaml.safe_load((ROOT / "newsmon/data/tension_model.yml").read_text("utf-8"))
    assert shipped["coef"] == bundled_model().coef
