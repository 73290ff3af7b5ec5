import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.analysis.tension import LexiconError, load_lexicon, score_tension, stem

LEX = load_lexicon()


def score(text: str, title: str = "") -> int:
    return score_tension(LEX, {"title": title, "content": text}).score


def test_stem_is_consistent_across_inflections() -> None:
    assert stem("massing") == stem("masses") == stem("massed") == stem("mass")
    assert stem("troops") == stem("troop")
    assert stem("threatened") == stem("threatens") == stem("threaten")
    assert stem("hostilities") == stem("hostility")
    assert stem("de-escalate") == stem("deescalate")


def test_phrases_with_gap_and_inflection() -> None:
    r = score_tension(LEX, {"content": "Moscow is massing troops after a build-up of Russian "
                                       "troops on the border."})
    phrases = {e.phrase for e in r.evidence}
    assert "mass troops" in phrases
    assert "buildup of * troops" in phrases
    ev = next(e for e in r.evidence if e.phrase == "buildup of * troops")
    assert ev.matched == "build-up of Russian troops"
    assert r.evidence[0].sentence.startswith("Moscow is massing")


def test_negation_and_hedging() -> None:
    neg = score_tension(LEX, {"content": "The ministry denied plans to invade the country."})
    assert neg.evidence and neg.evidence[0].negated and neg.score == 0
    assert score("There was no sign of a troop buildup.") == 0
    hedged = score("Officials fear troops could shell the city.")
    plain = score("Troops shelled the city.")
    assert 0 < hedged < plain


def test_deescalation_lowers_score() -> None:
    esc = score("Troops shelled the city and warned of serious consequences.")
    both = score("Troops shelled the city and warned of serious consequences. Both sides agreed "
                 "to a ceasefire and peace talks to de-escalate the crisis.")
    assert both < esc


def test_a_failed_deescalation_does_not_lower_the_score() -> None:
    esc = score("Airstrikes killed dozens in the city.")
    for failed in ("Airstrikes killed dozens in the city. Ceasefire talks stalled.",
                   "Airstrikes killed dozens in the city. The truce collapsed.",
                   "Airstrikes killed dozens in the city after violations of the ceasefire."):
        assert score(failed) >= esc, failed
    assert score("Airstrikes killed dozens in the city. Ceasefire talks resumed.") < esc
    # The failure must be near the phrase, in its own sentence.
    assert score("Airstrikes killed dozens in the city, which failed. A ceasefire was "
                 "agreed.") < score("Airstrikes killed dozens in the city, which failed.")


def test_neutral_text_scores_zero_and_title_counts_more() -> None:
    assert score("The company launched a new phone with a larger screen.") == 0
    assert score("", title="Navy holds drills near disputed island") > score(
        "Navy holds drills near disputed island")


def test_score_is_monotonic_in_escalation() -> None:
    one = score("Artillery fire hit the town.")
    two = score("Artillery fire hit the town. Air strikes followed and troops massed nearby.")
    assert 0 < one < two <= 100


def test_fixed_expressions_are_no_events() -> None:
    from newsmon.analysis.tension import find_phrases

    def phrases(text: str) -> list[str]:
        return [e.phrase for e in find_phrases(LEX, text, "content")]

    # the word alone still counts; inside the fixed expression it does not
    # "According" is no accord; the signed accord is (CAMEO 057, sign formal agreement)
    assert phrases("According to officials, the two sides signed an accord.") == [
        "sign * &treaty"]
    assert phrases("According to officials, an accord.") == ["accord"]
    assert "conflict" not in phrases("He resigned over conflicts of interest.")
    assert phrases("He fell ill with a heart attack a day after the attack.") == ["attack"]
    assert phrases("They talked about the peace talks.") == ["peace talks"]
    assert score("Blood pressure and peer pressure rose.") == 0


def test_an_exact_phrase_matches_only_its_own_words() -> None:
    from newsmon.analysis.tension import find_phrases

    def phrases(text: str) -> list[str]:
        return [e.phrase for e in find_phrases(LEX, text, "content")]

    assert phrases("Talks went on in Geneva.") == ["talks"]
    assert phrases("We talk a lot; he talked; they were talking.") == []
    lex = load_lexicon({"categories": {"x": {"goldstein": 1, "phrases": [
        {"p": "talks", "exact": True}, "summit"]}}})
    assert [e.matched for e in find_phrases(lex, "talk, talks, summits", "c")] == [
        "talks", "summits"]
    with pytest.raises(LexiconError):
        load_lexicon({"categories": {"x": {"phrases": [{"p": "halt * talks", "exact": True}]}}})


def test_not_phrases_extend_by_override(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from newsmon.analysis.tension import find_phrases

    extra = tmp_path / "mine.yml"
    extra.write_text("version: mine\nnot_phrases: [war of words]\n")
    lex = load_lexicon(override=extra)
    assert [e.phrase for e in find_phrases(LEX, "A war of words.", "content")] == ["war"]
    assert find_phrases(lex, "A war of words.", "content") == []
    assert find_phrases(lex, "According to them.", "content") == []  # the bundled ones stay
    with pytest.raises(LexiconError):
        load_lexicon({"categories": {}, "not_phrases": [{"p": 1}]})


def test_text_in_another_language_is_not_scored() -> None:
    from newsmon.analysis.tension import is_english

    german = ("Der Vorschlag war nicht neu, und die Regierung hat ihn mit einer Mehrheit "
              "von zwei Stimmen angenommen; das Parlament war auf der Seite des Ministers.")
    assert not is_english(german)
    assert score(german) == 0  # "war" is German for "was"
    assert score("The war went on, and the army fought rebels for years.") > 0
    for text in ("Do or die: troops do not die in vain", "Army masses troops", ""):
        assert is_english(text)  # short or unclear: scored as English


def test_bad_lexicon_rejected() -> None:
    with pytest.raises(LexiconError):
        load_lexicon({"categories": {"x": {"phrases": [{"nope": 1}]}}})
    with pytest.raises(LexiconError):
        load_lexicon({"categories": {"x": {"phrases": ["* leading gap"]}}})


@given(st.text())
def test_scoring_never_raises_on_arbitrary_unicode(s: str) -> None:
    r = score_tension(LEX, {"title": s, "content": s})
    assert 0 <= r.score <= 100
    for e in r.evidence:
        assert s[e.start:e.end] == e.matched


def test_eval_section_reports_each_part_from_the_corpus_interface(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys
    import types

    from newsmon.analysis import devset
    from newsmon.analysis.evalcorpus import EvalItem

    def Item(*fields: str) -> EvalItem:
        return EvalItem(*fields, entities=(), source="written")

    corpus = {"dev": [
        Item("1", "conflict", "short", "fight", "Artillery shelling kills 12 in border town",
             "Troops exchanged fire overnight."),
        Item("2", "cooperation", "short", "agree", "Leaders sign peace agreement",
             "Talks ended with a deal."),
        Item("3", "neutral", "headline", "sports", "Yankees battle for the pennant", ""),
    ], "test": []}
    parts: list[str] = []

    def load_items(part: str, data: object = None) -> list[EvalItem]:
        parts.append(part)
        return corpus[part]

    fake = types.ModuleType("newsmon.analysis.evalcorpus")
    fake.load_items = load_items  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "newsmon.analysis.evalcorpus", fake)
    rows = {name: value for name, value, _ in devset.eval_corpus("dev", None)}
    assert rows["tension dev: ROC AUC conflict vs cooperation, all"].startswith("1.000")
    assert rows["tension dev: conflict items >= 60, headline and short"] == "1.000 (1/1)"
    assert rows["tension dev: false alarms, sports/business/tech"] == "0.000 (0/1)"
    assert rows["tension dev: conflict items >= 60, articles"] == "-"
    assert devset.eval_corpus("test", None)[0][1] == "-"
    assert parts == ["dev", "test"]


THRESHOLD = 60  # the default alert threshold


def test_warnings_are_threats_not_negations() -> None:
    assert score("", title="North Korea warns its missiles can reach the United States") >= 60
    r = score_tension(LEX, {"title": "", "content": "Pyongyang said Seoul would not dare attack."})
    attack = next(e for e in r.evidence if e.phrase == "attack")
    assert not attack.negated and attack.threat and not attack.hedged
    assert score("Officials said they would not attack.") == 0  # a plain negation still is one
    # a warning lifts hedging: the threat counts in full
    warned = score("The minister warned that troops could invade.")
    assert warned > score("Analysts said troops could invade.")


def test_plain_short_conflict_items_reach_the_threshold() -> None:
    for title, lead in (
        ("Explosions and gunfire rock the capital a day after the ceasefire collapsed", ""),
        ("Russia masses troops near Finnish border", ""),
        ("Peace talks collapse as both sides trade artillery fire",
         "Negotiators left Geneva on Friday."),
        ("Rebels shell government positions", "At least 12 soldiers were killed, the army said."),
    ):
        assert score(lead, title=title) >= THRESHOLD, title


def test_figurative_sports_business_tech_stay_below_the_threshold() -> None:
    for title, lead in (
        ("Red Sox and Yankees renew battle for the pennant", "The season goes down to the wire."),
        ("Supermarket price war deepens", "Retailers cut prices on 400 staples."),
        ("Senate committee shoots down a proposal to raise fees", ""),
        ("Is this the killer app for smart glasses?", ""),
        ("Title fight: the two clubs brace for final-day showdown", ""),
    ):
        assert score(lead, title=title) < THRESHOLD, title
    # the same verb with a military object is no figure of speech
    assert score("", title="Army shoots down drone over border") > score(
        "", title="Senate committee shoots down a proposal to raise fees")


def test_an_army_of_people_who_are_no_force_is_a_crowd() -> None:
    from newsmon.analysis.tension import find_phrases

    def matched(text: str) -> list[str]:
        return [e.matched.lower() for e in find_phrases(LEX, text, "title")]

    # a crowd: no military word, no deployment
    for text in ("Bank deploys army of AI coders to rewrite legacy systems",
                 "Retailer hires an army of unpaid interns for the Christmas rush",
                 "Armies of fans descend on Lisbon"):
        assert not {"army", "armies", "deploys army"} & set(matched(text)), text
        assert score("", title=text) < THRESHOLD, text
    # an army: a number, an article, a name or a force after "of"
    for text, word in (("Russia masses an army of 100,000 troops near Ukraine", "army"),
                       ("Army of Ukraine repels assault near Bakhmut", "army"),
                       ("The warlord raised an army of fighters in the north", "army"),
                       ("The army of the republic shelled the town", "army")):
        assert word in matched(text), text
    assert score("", title="Russia masses an army of 100,000 troops near Ukraine") >= THRESHOLD


def test_business_collocations_are_no_events() -> None:
    from newsmon.analysis.tension import find_phrases

    for text in ("Drugmaker rejects hostile bid", "Bidding war for property group heats up",
                 "Board fends off hostile takeover"):
        assert not {"hostile", "war", "bidding"} & {
            e.matched.lower() for e in find_phrases(LEX, text, "title")}, text
    assert "hostile" in {e.matched.lower()
                         for e in find_phrases(LEX, "Hostile forces shelled the town", "title")}
    # a war chest is a fund; a criminal cyber attack on a company is no act of war
    for text in ("Oil trader builds $5bn war chest for LNG deals",
                 "Cyber attack knocks brewer's ordering system offline"):
        assert not {"war", "attack"} & {
            w for e in find_phrases(LEX, text, "title") for w in e.matched.lower().split()}
    assert score("", title="Ransomware attack halts production at truck maker") == 0


def test_a_company_or_team_named_like_a_weapon_is_a_name() -> None:
    def words(text: str) -> set[str]:  # what the phrases and military words matched
        return {w for e in score_tension(LEX, {"title": text}).evidence
                for w in e.matched.split()}

    # in a sentence with a sports, business or tech word, or as "Shell's": a name
    assert score("", title="Shell profits soar as gas prices climb") == 0
    assert "Shell" not in words("Shell's trading arm lifts dividend")
    assert "Rockets" not in words("Rockets fire coach after losing season")
    assert score("The Jets beat the Patriots 24-17 in overtime on Sunday.") == 0
    # elsewhere, with a capital too, a weapon
    assert "Shell" in words("Shell kills two in Donetsk")
    assert "Shell" in words("Russian Forces Shell Kharkiv")
    assert "Rockets" in words("Gaza: Rockets hit Haifa")
    assert "Jets" in words("Israeli Jets Strike Beirut")
    assert score("", title="Russian troops shelled the city overnight") >= THRESHOLD


def test_an_item_naming_a_country_is_read_apart_from_one_naming_neither() -> None:
    from newsmon.analysis.tension import model_features

    def groups(title: str) -> set[str]:
        return {g.rsplit(":", 1)[-1] for g in model_features(LEX, {"title": title})}

    assert groups("Israel strikes Iran") == {"state"}
    assert groups("Russian troops invade Ukraine") == {"armed"}  # a military word first
    # a demonym is no state; nor is a country in news with sports, business or tech words
    assert groups("Norwegian teenager strikes back") == {"unarmed"}
    assert groups("France and Germany hold talks on a rail merger") == {"unarmed"}
    assert groups("France and Germany hold talks on troop deployments") == {"armed"}
    assert groups("France and Germany hold talks") == {"state"}
    # a country's name inside another place's or a person's name is no state
    assert groups("Gunman threatens shoppers at New Jersey mall") == {"unarmed"}
    assert groups("Jordan Henderson threatens to quit") == {"unarmed"}
    assert groups("They Threaten Us With Violence") == {"unarmed"}


def test_talks_that_collapse_are_no_deescalation() -> None:
    from newsmon.analysis.tension import find_phrases

    for title in ("Talks between Ethiopia and Tigray rebels collapse",
                  "Negotiations on a truce in Gaza break down"):
        found = [e for e in find_phrases(LEX, title, "title") if e.weight < 0]
        assert found and all(e.failed for e in found), title


def test_headline_and_lead_count_more_than_paragraph_nine() -> None:
    filler = " ".join(f"No further details were given on day {i}." for i in range(9))
    lead = score_tension(LEX, {"title": "", "content": "Artillery fire hit the town. " + filler})
    late = score_tension(LEX, {"title": "", "content": filler + " Artillery fire hit the town."})
    head = score_tension(LEX, {"title": "Artillery fire hit the town", "content": filler})
    assert head.score > lead.score > late.score > 0


def test_a_short_item_is_not_scored_as_a_weak_long_one() -> None:
    item = {"title": "Troops shell border villages", "content": "Two civilians were killed."}
    filler = " ".join(f"The council discussed item {i} of the budget." for i in range(30))
    longer = {"title": item["title"], "content": item["content"] + " " + filler}
    assert score_tension(LEX, item).score >= THRESHOLD
    assert score_tension(LEX, item).score > score_tension(LEX, longer).score


def test_every_point_is_traced_to_evidence() -> None:
    r = score_tension(LEX, {"title": "Rebels shell the city",
                            "content": "Artillery fire killed four people. Both sides later "
                                       "agreed to a prisoner exchange."})
    assert r.score > 0
    assert abs(sum(e.points for e in r.evidence) - r.score) < 0.01
    assert any(e.points < 0 for e in r.evidence)  # de-escalation takes points off
    for e in r.evidence:
        d = e.to_dict()
        assert {"phrase", "matched", "sentence", "points", "effective"} <= set(d)


def test_stopping_violence_is_no_escalation_and_not_sitting_idly_is_a_threat() -> None:
    assert score("Leaders urged the junta to stop air strikes.") < score(
        "The junta launched air strikes.")
    r = score_tension(LEX, {"content": 'The army said it would "not sit idly by".'})
    idle = next(e for e in r.evidence if e.phrase == "sit idly by")
    assert not idle.negated and idle.threat and r.score > 0
