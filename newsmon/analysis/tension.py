"""Geopolitical tension score (0-100) with the evidence that produced it.

Lexicon. ``newsmon/data/tension_lexicon.yml`` (hand-written, versioned) and
``newsmon/data/tension_cameo.yml`` (generated from the PETRARCH-2 CAMEO verb
dictionary by ``scripts/cameo_lexicon.py``: verbs and verb patterns of conflict
codes 10-20 and cooperation codes 03-08, weighted by the codes' Goldstein
values; every other bare verb of those codes is a weak cue in its inflected forms (not
the base form), in ``conflict_verb``, ``conflict_verb_generic`` and ``cooperation_verb``) group
phrases in CAMEO-grounded categories: positive weights escalate, negative
de-escalate. Text is tokenised and stemmed once; all phrases are
matched in one left-to-right pass over an index keyed by first stem (longest
match at a position wins; a phrase inside an earlier match counts only if it
weighs more; nothing inside a zero-weight non-event such as "shoot down a
proposal" counts).

Context, per evidence. A negation before a phrase ("denied plans to invade")
cancels it, unless it negates a restraint ("would not dare attack", "did not rule
out military action", "will not sit idly by"): that is a threat. So does a
stopping word just before it ("urged them to stop air strikes", "to avoid an
escalation"). Hedging ("could",
"fears of") counts 0.6, except in a sentence with a warning or threat verb (a
warning is conditional by nature); such a verb in a sentence that names weapons
or forces ("warns its missiles can reach") is itself a threat cue. A
de-escalation reported as failing or only demanded ("the truce collapsed",
"demands the withdrawal") counts as escalation. In a sentence with sports,
business, tech (and weather, health, culture) words and no military word, an
escalation phrase is read as a figure of speech ("battle for the pennant") and
counts 0.2; so does every one in an item with two such words and no military word.

Score. Each evidence counts ``effective = weight x position x repetition x
context``; position: the title 2.0, the lead sentence 1.5, sentence k
``1.5 / sqrt(1 + k)`` (paragraph nine counts about a third of the lead). A sentence
that names weapons or forces adds one ``military word`` evidence. A logistic model
(``TensionModel``, ``newsmon/data/tension_model.yml``, fitted on the development
part of the labelled corpus by ``scripts/train_tension.py``) sizes the evidence by
group: its category, whether it is the first counted phrase of its sentence (the
reported event, usually, where a later "war" is often the background of talks or
aid), and whether the item names anything military, else a country in an item
with no sports, business or tech word ("Israel strikes Iran": states act with
armies; not a demonym, nor a country in a match report, where it names a team),
else neither. An evidence's part of the
log-odds is ``coef[group] x effective / length``, where ``length``
(``length_factor``) is the text's length in position-weighted sentences relative
to a headline and two sentences, so a short item is not read as a weak long one.
The model's context part, a weight per word learned from the same data (not the
lexicon's event words, not stop words, not names), says whether the item reads as
everyday news (sports, business, tech...); when its words add up below 0, one
``context`` entry names them and takes points off. The wording part, a weight per
word of the headline and lead (``lead_text``) learned as conflict against everything
else (cooperation and everyday news), says how the reported event is worded where
the lexicon has no phrase for it ("overran two outposts", "handed over the bodies");
one ``wording`` entry names its words and adds points (conflict) or takes them off
(other news); its words' sum is clipped at +-2 before the model sizes it. Words the
lexicon counts alone as escalation ("invasion") never weigh towards other news. It
is fitted after the evidence groups, whose sizes it leaves as they are. With ``net``
the sum of the parts and
``p0``, ``p`` the model's probabilities without evidence and with it,

    score = 100 * (p - p0) / (1 - p0)      (0 without evidence, clipped at 0)

Every evidence carries ``points = score * part / net``: the points add up to the
score; de-escalation and everyday-news context take points off. Levels: low < 30
<= elevated < 60 <= high < 85 <= severe. A phrase inside quotation marks or after a
reporting verb is marked ``attributed``.

Development figures (out of fold on the dev part of the labelled corpus, 3,178
items, each writer's batch scored by a model fitted on the others; parts of it were
also read while writing the lexicon and context rules; the held-out figures are the
test part's, in docs/analysis.md): ROC AUC conflict vs cooperation 0.953 (sentence
0.936, headline 0.940, short 0.972, article 0.976); conflict headlines and short
items at or above 60: 0.682, articles 0.747; false alarms at or above 60 on everyday
news 0.004, on sports, business and tech 0 of 1,051.
Reproduce with ``.venv/bin/python scripts/train_tension.py``; speed with
``PYTHONPATH=. python bench/tension_speed.py``.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from newsmon.analysis.text import sentence_spans, shorten, snippet

TITLE_FACTOR = 2.0
LEAD_FACTOR = 1.5
POSITION_DECAY = 1.0
HEDGE_FACTOR = 0.6
REPEAT_DECAY = 0.5
FIGURATIVE_FACTOR = 0.2
FAILED_MIN = 5.0
THREAT_CUE_WEIGHT = 6.0
MILITARY_WORD = "military word"  # the phrase and category of a military-word cue
MILITARY_WORD_WEIGHT = 3.0
THREAT_CUE = "warning + weapons or forces"  # the phrase of a threat-verb cue in the evidence
LENGTH_REF = 4.0
LANGUAGE_SAMPLE = 3000  # characters the language check reads (the start of the text)
LENGTH_EXP = 1.0
SHORT_FLOOR = 0.6
LEVELS = ((85, "severe"), (60, "high"), (30, "elevated"), (0, "low"))

# A number with thousands separators ("25,000 troops") is one word.
_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+|"
                    r"[A-Za-z0-9\u00C0-\u024F]+(?:[-'’][A-Za-z0-9\u00C0-\u024F]+)*")
_NEGATORS = frozenset({"no", "not", "never", "deny", "denied", "denies", "without", "nor",
                       "dismiss", "dismissed", "dismisses", "ruled", "rule", "rules",
                       "isn't", "wasn't", "aren't", "weren't", "don't", "doesn't", "didn't",
                       "won't", "wouldn't", "nothing", "unlikely", "rejected", "false"})
_HEDGES = frozenset({"may", "might", "could", "possible", "possibly", "potential", "risk",
                     "fear", "fears", "feared", "alleged", "allegedly", "reportedly", "rumour",
                     "rumor", "if", "would", "probability", "likely", "speculation"})
_NEG_WINDOW = 5
_MAX_SPAN = 16  # no phrase spans more words (checked when the lexicon loads)
# Restraint words: negated, they make a threat ("would not dare attack", "will not
# hesitate to strike", "did not rule out military action").
_NEG_THREAT = frozenset({"dare", "dares", "hesitate", "hesitates", "tolerate", "tolerates",
                         "rule", "rules", "ruled", "exclude", "excludes", "excluded",
                         "idly", "shy", "back", "allow", "allows", "let", "sit", "stand"})
# Words that stop what follows: "urged them to stop air strikes", "to avoid an
# escalation" is no escalation (CAMEO 087: de-escalate). Not "end": "the end of the
# war" names the war (on the paragraph set, counting "end" lowered the AUC).
_STOPPERS = frozenset({"stop", "stops", "halt", "halts", "avoid",
                       "avoids", "avoiding", "prevent", "prevents", "preventing", "silence"})
# A de-escalation that failed (or was only demanded) is no de-escalation: "ceasefire
# talks stall", "the truce collapsed", "violations of the ceasefire", "demands the
# withdrawal of troops". Looked for up to six words either side, in the same sentence
# ("talks between Ethiopia and Tigray rebels collapse").
_FAILURES = frozenset({"stall", "stalled", "stalls", "stalling", "collapse", "collapsed",
                       "collapses", "collapsing", "fail", "failed", "fails", "failure",
                       "break", "breaking", "broke", "broken", "breaks", "breakdown",
                       "violate", "violated", "violates", "violating", "violation",
                       "violations", "breach", "breached", "breaches", "suspend",
                       "suspended", "suspends",
                       "abandon", "abandoned", "abandons", "scrap", "scrapped", "scraps",
                       "derail", "derailed", "derails", "falter", "faltered", "falters",
                       "shattered", "undermine", "undermined", "undermines",
                       # demanded of the other side, a withdrawal or a truce is a demand
                       # (CAMEO 10), no de-escalation
                       "demand", "demands", "demanded", "demanding"})
_FAIL_WINDOW = 6
_REPORTING = re.compile(r"\b(?:said|says|say|warned|warns|warn|told|tells|claimed|claims|"
                        r"according to|stated|added|insisted|threatened|vowed|accused)\b",
                        re.IGNORECASE)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A small, fast suffix stripper used identically on lexicon and text."""
    w = word.lower().replace("’", "'").replace("-", "")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 3:
        return w
    if (w.endswith("ies") and len(w) > 4) or (w.endswith("ied") and len(w) > 4):
        w = w[:-3] + "y"
    elif w.endswith("ing") and len(w) > 5:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) > 4:
        w = _undouble(w[:-2])
    elif w.endswith(("sses", "shes", "ches", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def _undouble(w: str) -> str:
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        return w[:-1]
    return w


# Stems of warning and threat verbs: in a sentence with a military word they are a
# threat themselves ("X warns its missiles can reach Y"), and they lift hedging
# ("warned it could strike") since a warning is conditional by nature.
_THREAT_VERBS = frozenset({"warn", "threaten", "vow", "caution", "ultimatum"})
# Military words (stems): weapons, forces, acts of war. A sentence with one is no
# sports/business/tech figure of speech. (Words as often figurative as not are not
# among them: "price war", "cyber attack", "rail strike", "task force", "bot
# invasion", "box-office bomb".)
_MILITARY = frozenset(stem(w) for w in """
missile missiles rocket rockets warhead warheads weapon weapons army armies troops
troop soldiers soldier military militia militias militants insurgents rebels
artillery shelling shells airstrike airstrikes bomber bombers drone drones warship
warships navy naval jets tanks infantry brigade battalion ceasefire truce airspace
gunmen gunfire armour armor armoured armored frigate frigates submarine submarines
destroyer destroyers warplane warplanes paratroopers marines commandos battalions
brigades munitions ammunition howitzer howitzers mortars grenade grenades ballistic
icbm hypersonic frontline trenches barracks garrison peacekeepers peacekeeping
jihadists jihadist insurgent insurgency guerrilla guerrillas paramilitary
paramilitaries mercenaries junta ceasefires airstrikes airbase gunship gunships
""".split())  # noqa: SIM905
# Sports, business and tech words (stems): a conflict word in a sentence with one
# of these and no military word is taken as a figure of speech ("battle for the
# pennant", "price war", "killer app"). Context, not a list of metaphors.
_DOMAIN = frozenset(stem(w) for w in """
team teams season league match game games coach coaches player players playoff playoffs
pennant championship tournament cup goal goals striker quarterback inning innings pitcher
fans stadium derby squad club clubs semifinal final finals showdown olympic olympics medal race
racing driver tennis golf football soccer basketball baseball cricket rugby hockey nba nfl
boxer boxing champion overtime bowlers batsmen pitch goalkeeper promotion relegation
price prices markets shares stock stocks investors earnings revenue profit profits
sales company companies firm firms brand brands retailer retailers supermarket ceo startup
merger takeover shareholders customers consumers quarter analysts ipo subscription bank
banks chairman boardroom imports exports textile airline airlines carmaker
subscribers app apps software smartphone smartphones iphone android chip chips chipmaker
users platform device devices browser gadget gaming console streaming box office hackers
ransomware bot bots
storm storms blizzard hail snow snowfall winter waves flood floods drought weather rain
heatwave wildfire volcano
cancer drug drugs flu virus vaccine patients disease
film films movie movies sequel album audiences museum historians diaries novel
wasps bees honeybees hornets insects species
jury judge trial cocaine fireworks robbery burglary theft
university universities teachers exam exams cheating
midfielder winger fixture fixtures kickoff halftime touchdown touchdowns homer wicket
wickets batting bowling rebounds assists dunk roster referee umpire podium lap laps
prix marathon cyclist cycling athletes athlete sprinter swimmer swimming
skier skiing trophy trophies scored scoring scorer unbeaten quarterfinal semifinals
dividend dividends bonds nasdaq dow ftse valuation valuations competitor competitors
acquisition acquisitions bidder bidders retailer pricing discount discounts hedge
startups unicorn chatbot chatbots ai algorithm algorithms outage outages malware
phishing botnet botnets ddos spam scam scams scammers router routers servers
password passwords laptop laptops tablet tablets wearable wearables headset
headsets gamers console consoles esports
rider riders peloton cyclists jockey jockeys racecourse horse horses
budget budgets spending taxes taxpayers potholes motorists council councils councillor
councillors councilors mayor mayors ballot voters polling pensions pensioners
union unions workers staff staffing wages pay payroll jobs job layoffs redundancies
nurses doctors hospital hospitals
hoax cannabis smuggling fraud
arctic tornado tornadoes hurricane hurricanes typhoon typhoons cyclone cyclones
earthquake earthquakes quake quakes tsunami landslide landslides mudslide avalanche
rainfall rains sandbags temperatures forecast forecasters
gallery galleries painting paintings exhibition concert concerts festival festivals
theatre theater actor actors actress singer singers celebrity celebrities critics
chef restaurant restaurants fashion
""".split())  # noqa: SIM905

_CUES = _DOMAIN | _MILITARY | _THREAT_VERBS

# Names spelled like a weapon or a force: the oil company Shell ("Shell profits
# soar"), the Jets and the Rockets (sports teams). Written with a capital in a
# sentence with a sports, business or tech word, or as "Shell's", such a word is a
# name: it matches no phrase and is no military word. Elsewhere it stays a weapon
# ("Shell kills two in Donetsk market", "Russian Forces Shell Kharkiv", "Gaza:
# Rockets hit Haifa").
_NAMES = frozenset({"Shell", "Jets", "Rockets"})
_NAME_INITIALS = frozenset(name[0] for name in _NAMES)

# "An army of coders", "armies of fans": an army word followed by "of" and people or
# things that are no force is a figure for a crowd. That army word is no military
# word, and a phrase that contains it names no event ("deploys army of AI coders").
# A number, an article or a proper name after "of" leaves it an army ("an army of
# 100,000 troops", "the army of the republic", "Army of Ukraine"); so do fighters.
_CROWD_NOUNS = frozenset(stem(w) for w in ("army", "armies"))
_FORCE_PEOPLE = frozenset(stem(w) for w in (
    "fighters", "men", "reservists", "conscripts", "recruits", "occupiers", "invaders",
    "defenders", "warriors", "occupation", "liberation"))


def _crowd_figures(words: list[str], stems: list[str]) -> set[int]:
    """Indices of army words used as a figure for a crowd (see ``_CROWD_NOUNS``)."""
    out: set[int] = set()
    for k, s in enumerate(stems):
        if s not in _CROWD_NOUNS or k + 2 >= len(words) or words[k + 1].lower() != "of":
            continue
        # what follows "of", up to three words: a plural noun after at most
        # acronyms and adjectives ("AI coders", "unpaid volunteers") is a crowd
        for w in words[k + 2:k + 5]:
            if not w.isalpha() or w.lower() in ("the", "a", "an") or w.istitle():
                break  # a number, an article, a name
            if w.isupper():
                continue  # an acronym
            if stem(w) in _MILITARY or stem(w) in _FORCE_PEOPLE:
                break
            if w.endswith("s"):
                out.add(k)
                break
    return out


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str
    category: str
    weight: float
    # Stems, "*" (a gap of zero or one word) or a frozenset of stems (a synonym set
    # named ``&name`` in the phrase: any member matches).
    pattern: tuple[str | frozenset[str], ...]
    # Only these exact (lower-cased) words match, not every form of their stems:
    # "talks" (negotiations) but not "talk", "talked", "talking".
    exact: tuple[str, ...] | None = None
    # the words the pattern needs (its plain stems), to skip hopeless candidates fast
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Lexicon:
    version: str
    categories: dict[str, str]
    index: dict[str, tuple[Phrase, ...]]
    # Fixed expressions in which a lexicon word is no event ("according to", "heart
    # attack"): lower-cased word sequences, indexed by their first word.
    not_phrases: dict[str, tuple[tuple[str, ...], ...]] = dataclass_field(default_factory=dict)
    # how evidence becomes a score; None: the bundled model (``bundled_model``)
    model: TensionModel | None = None

    @property
    def size(self) -> int:
        return len({p.text for group in self.index.values() for p in group if p.weight})


class LexiconError(ValueError):
    pass


MODEL = "data/tension_model.yml"
FIGURATIVE_GROUP = "figurative"
CONTEXT_GROUP = "context"  # the group, and category, of the everyday-news context entry
CONTEXT_PHRASE = "reads as everyday news"
CONTEXT_SHOWN = 5
CONTEXT_FLOOR = -4.0  # the context's log-odds saturate here (p of everyday news ~0.98)
ITEM_FIELD = "item"  # the field of the context and wording entries: the item's words
WORDING_GROUP = "wording"  # the group, and category, of the wording entry
WORDING_PHRASES = ("headline and lead read as conflict", "headline and lead read as other news")
WORDING_LIMIT = 2.0  # the sum of the wording's word weights saturates at +-2
WORDING_SHOWN = 5
WORDING_MIN = 0.1  # a smaller sum of the wording's word weights says nothing
LEAD_CHARS = 1_000  # the lead sentence the wording reads is cut here (a text without breaks)


@dataclass(frozen=True, slots=True)
class TensionModel:
    """A logistic model over the evidence, trained on the development part of the
    labelled corpus by ``scripts/train_tension.py`` and shipped as
    ``newsmon/data/tension_model.yml``.

    Every evidence falls in one group (``evidence_group``): its category, whether it
    is the first counted phrase of its sentence (the reported event, usually) or a
    later one (often background: "talks on the war in Gaza"), and whether the item
    names anything military, else a country (in an item with no sports, business or
    tech word), else neither. ``coef[group]`` (never negative: the lexicon gives the
    direction, the model the size) times the evidence's effective weight, divided by
    the text's length factor, is the evidence's part of the log-odds. A group the
    model has not seen (a category added by an override lexicon) counts ``default``.
    """

    coef: dict[str, float]
    intercept: float
    shift: float  # added to the intercept to place the alert threshold
    default: float
    version: str
    # the context model: a weight per word (``topic_words``) towards news of states
    # and armed actors at all (above 0) or everyday news (below)
    context_words: dict[str, float] = dataclass_field(default_factory=dict)
    # the wording model: a weight per word of the headline and lead (``lead_text``)
    # towards conflict (above 0) or other news, cooperation or everyday (below)
    wording_words: dict[str, float] = dataclass_field(default_factory=dict)

    def weight_of(self, group: str) -> float:
        return self.coef.get(group, self.default)

    def context(self, words: frozenset[str]) -> tuple[float, list[str]]:
        """What the words of an item say in the context model (the sum of their
        weights, its intercept left out: an item with no known word is no evidence
        either way), clipped to [CONTEXT_FLOOR, 0] (context only takes points off, and
        a long text's many words do not make it surer than that), and the words that
        pull it down most (at most CONTEXT_SHOWN)."""
        weights = [(self.context_words[w], w) for w in words if w in self.context_words]
        value = sum(v for v, _ in weights)
        if value >= 0:
            return 0.0, []
        shown = [w for v, w in sorted(weights)[:CONTEXT_SHOWN] if v < 0]
        return max(CONTEXT_FLOOR, value), shown

    def wording(self, words: frozenset[str]) -> tuple[float, list[str]]:
        """What the words of the headline and lead say in the wording model (the sum
        of their weights, clipped to [-WORDING_LIMIT, WORDING_LIMIT]; 0 below
        WORDING_MIN either way), and the words that pull that way most (at most
        WORDING_SHOWN)."""
        weights = [(self.wording_words[w], w) for w in words if w in self.wording_words]
        value = sum(v for v, _ in weights)
        if abs(value) < WORDING_MIN:
            return 0.0, []
        sign = 1.0 if value > 0 else -1.0
        shown = [w for v, w in sorted(weights, key=lambda vw: (-sign * vw[0], vw[1]))
                 [:WORDING_SHOWN] if sign * v > 0]
        return max(-WORDING_LIMIT, min(WORDING_LIMIT, value)), shown

    @property
    def base(self) -> float:
        """The log-odds of an item with no evidence, calibration included."""
        return self.intercept + self.shift


def parse_model(data: Any) -> TensionModel:
    """A ``TensionModel`` from its YAML mapping; ``LexiconError`` names what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("coef"), dict):
        raise LexiconError("tension model needs a 'coef' mapping")
    try:
        coef = {str(k): float(v) for k, v in data["coef"].items()}
        intercept = float(data["intercept"])
        shift = float(data.get("shift", 0.0))
        default = float(data.get("default", 0.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise LexiconError(f"tension model: bad number ({exc})") from None
    context_words = _word_weights(data, "context")
    wording_words = _word_weights(data, "wording")
    if wording_words and WORDING_GROUP not in coef:
        raise LexiconError(f"tension model: 'wording' words need coef.{WORDING_GROUP}")
    values = [*coef.values(), intercept, shift, default, *context_words.values(),
              *wording_words.values()]
    if not all(math.isfinite(v) for v in values) or min(*coef.values(), default) < 0:
        raise LexiconError("tension model: coefficients must be finite and not negative")
    return TensionModel(coef=coef, intercept=intercept, shift=shift, default=default,
                        version=str(data.get("version", "model")),
                        context_words=context_words, wording_words=wording_words)


def _word_weights(data: dict[str, Any], part: str) -> dict[str, float]:
    """The ``words`` mapping of a word model (``context``, ``wording``); {} if absent."""
    raw = data.get(part) or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("words", {}), dict):
        raise LexiconError(f"tension model: '{part}' needs a 'words' mapping")
    try:
        return {str(k): float(v) for k, v in (raw.get("words") or {}).items()}
    except (TypeError, ValueError) as exc:
        raise LexiconError(f"tension model: bad number in '{part}' ({exc})") from None


@lru_cache(maxsize=1)
def bundled_model() -> TensionModel:
    text = resources.files("newsmon").joinpath(MODEL).read_text("utf-8")
    return parse_model(yaml.safe_load(text))


GENERATED = "data/tension_cameo.yml"
NON_EVENT = "non_event"


def _bundled() -> dict[str, Any]:
    """The hand-written lexicon with the CAMEO-generated one merged in: generated
    phrases join the hand categories of the same name unless the hand lexicon has a
    phrase with the same words (hand entries win); generated non-events and synonym
    sets are added."""
    root = resources.files("newsmon")
    hand = yaml.safe_load(root.joinpath("data/tension_lexicon.yml").read_text("utf-8"))
    gen = yaml.safe_load(root.joinpath(GENERATED).read_text("utf-8"))
    cats = {k: dict(v) for k, v in hand["categories"].items()}
    own = {_key(p) for cat in cats.values() for p in cat.get("phrases", [])}
    own |= {_key(p) for p in hand.get("non_events") or []}
    for name, cat in (gen.get("categories") or {}).items():
        merged = cats.setdefault(name, {"phrases": []})
        merged["phrases"] = [*merged.get("phrases", []),
                             *(p for p in cat.get("phrases", []) if _key(p) not in own)]
    return {**hand, "categories": cats, "sets": {**(gen.get("sets") or {}),
                                                 **(hand.get("sets") or {})},
            "non_events": [*(hand.get("non_events") or []), *(gen.get("non_events") or [])]}


def _key(item: Any) -> tuple[str, ...]:
    text = item if isinstance(item, str) else item.get("p", "") if isinstance(item, dict) else ""
    return tuple(stem(w) for w in _words(str(text)))


def load_lexicon(data: dict[str, Any] | None = None,
                 override: Path | str | None = None) -> Lexicon:
    """Build the matcher index from the bundled lexicon (or from ``data``).

    The bundled lexicon is ``tension_lexicon.yml`` (hand-written) merged with
    ``tension_cameo.yml`` (generated from the CAMEO verb dictionary by
    ``scripts/cameo_lexicon.py``). ``override`` names a YAML file in the same
    format whose categories are merged over the bundled ones: a category's
    ``label``/``goldstein`` replace the bundled values, its phrases are added, and
    a phrase given with ``w: 0`` is removed. Its ``version`` (a string is fine) is
    appended to the bundled version in every score, so alerts say which lexicon
    made them. ``sets`` (name -> words) define the ``&name`` synonym sets phrases
    may use; ``non_events`` are phrases that weigh nothing and, matched, stop the
    shorter phrases inside them from counting ("kill himself", "shoot down a
    proposal").
    """
    if data is None:
        data = _bundled()
    if override is not None:
        data = _merge(data, Path(override))
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise LexiconError("lexicon needs a 'categories' mapping")
    raw_sets = data.get("sets") or {}
    if not isinstance(raw_sets, dict):
        raise LexiconError("'sets' must map names to word lists")
    sets = {str(k).lower(): frozenset(stem(str(w)) for w in v) for k, v in raw_sets.items()}
    index: dict[str, list[Phrase]] = {}
    labels: dict[str, str] = {}
    raw_non = data.get("non_events") or []
    if not isinstance(raw_non, list):
        raise LexiconError("'non_events' must be a list")
    groups = [*data["categories"].items(), (NON_EVENT, {"label": "no event", "phrases": [
        {"p": str(p), "w": 0} for p in raw_non]})]
    for name, cat in groups:
        if not isinstance(cat, dict) or not isinstance(cat.get("phrases"), list):
            raise LexiconError(f"category {name!r}: needs a 'phrases' list")
        labels[name] = str(cat.get("label", name))
        default = -float(cat.get("goldstein", 0))
        for item in cat["phrases"]:
            if isinstance(item, str):
                text, weight = item, default
            elif isinstance(item, dict) and isinstance(item.get("p"), str):
                text, weight = item["p"], float(item.get("w", default))
            else:
                raise LexiconError(f"category {name!r}: bad phrase entry {item!r}")
            pattern = tuple(_element(t, sets, name, text) for t in _words(text))
            if len(pattern) + pattern.count("*") > _MAX_SPAN:
                raise LexiconError(f"category {name!r}: phrase {text!r} is too long")
            if not pattern or pattern[0] == "*":
                raise LexiconError(f"category {name!r}: phrase {text!r} is empty or starts "
                                   "with *")
            exact = None
            if isinstance(item, dict) and item.get("exact"):
                if not all(isinstance(p, str) and p != "*" for p in pattern):
                    raise LexiconError(f"category {name!r}: exact phrase {text!r} has a *")
                exact = tuple(_lower(w) for w in _words(text))
            ph = Phrase(text, name, weight, pattern, exact,
                        frozenset(p for p in pattern[1:] if isinstance(p, str) and p != "*"))
            for first in ([pattern[0]] if isinstance(pattern[0], str) else sorted(pattern[0])):
                index.setdefault(first, []).append(ph)
    frozen = {k: tuple(v) for k, v in index.items()}
    blockers: dict[str, list[tuple[str, ...]]] = {}
    raw_not = data.get("not_phrases") or []
    if not isinstance(raw_not, list) or not all(isinstance(x, str) for x in raw_not):
        raise LexiconError("'not_phrases' must be a list of strings")
    for text in raw_not:
        words = tuple(_lower(w) for w in _words(text) if w != "*")
        if words:
            blockers.setdefault(words[0], []).append(words)
    return Lexicon(version=str(data.get("version", 0)), categories=labels, index=frozen,
                   not_phrases={k: tuple(v) for k, v in blockers.items()})


def _element(word: str, sets: dict[str, frozenset[str]], cat: str,
             text: str) -> str | frozenset[str]:
    if word == "*":
        return "*"
    if word.startswith("&"):
        members = sets.get(word[1:].lower())
        if not members:
            raise LexiconError(f"category {cat!r}: phrase {text!r}: unknown set {word!r}")
        return members
    return stem(word)


def _lower(word: str) -> str:
    return word.lower().replace("’", "'")


def _merge(base: dict[str, Any], path: Path) -> dict[str, Any]:
    try:
        extra = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"{path}: cannot load lexicon override: {exc}") from None
    if not isinstance(extra, dict) or not isinstance(extra.get("categories", {}), dict):
        raise LexiconError(f"{path}: expected a mapping with 'categories'")
    cats = {k: dict(v) for k, v in base["categories"].items()}
    for name, cat in (extra.get("categories") or {}).items():
        if not isinstance(cat, dict):
            raise LexiconError(f"{path}: category {name!r}: expected a mapping")
        merged = cats.setdefault(name, {"phrases": []})
        for key in ("label", "goldstein"):
            if key in cat:
                merged[key] = cat[key]
        phrases = list(merged.get("phrases", []))
        for item in cat.get("phrases", []):
            text = item if isinstance(item, str) else item.get("p") if isinstance(item, dict) \
                else None
            if not isinstance(text, str):
                raise LexiconError(f"{path}: category {name!r}: bad phrase entry {item!r}")
            phrases = [p for p in phrases if (p if isinstance(p, str) else p.get("p")) != text]
            if not (isinstance(item, dict) and float(item.get("w", 1)) == 0):
                phrases.append(item)
        merged["phrases"] = phrases
    extra_not = extra.get("not_phrases") or []
    if not isinstance(extra_not, list):
        raise LexiconError(f"{path}: 'not_phrases' must be a list")
    version = f"{base.get('version', 0)}+{extra.get('version', path.stem)}"
    return {"version": version, "categories": cats,
            "not_phrases": [*(base.get("not_phrases") or []), *extra_not],
            "sets": {**(base.get("sets") or {}), **(extra.get("sets") or {})},
            "non_events": [*(base.get("non_events") or []), *(extra.get("non_events") or [])]}


def _words(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r"\*|&\w+|" + _TOKEN.pattern, text)]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One matched phrase. ``weight`` is the lexicon weight; ``effective`` what it
    counted after position, repetition, hedging and context; ``points`` its share
    of the score (the points of an item's evidence add up to its score)."""

    phrase: str
    matched: str
    category: str
    weight: float
    field: str
    start: int
    end: int
    sentence: str
    negated: bool = False
    hedged: bool = False
    attributed: bool = False
    sentence_no: int = 0  # index of the sentence in its field
    threat: bool = False  # stated as a warning or threat: no hedge, no negation
    figurative: bool = False  # in a sports/business/tech sentence without military words
    failed: bool = False  # a de-escalation reported as failing: counts as escalation
    effective: float = 0.0
    points: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "phrase": self.phrase, "matched": self.matched, "category": self.category,
            "weight": round(self.weight, 3), "field": self.field, "start": self.start,
            "end": self.end, "sentence": self.sentence, "negated": self.negated,
            "hedged": self.hedged, "attributed": self.attributed,
            "sentence_no": self.sentence_no, "threat": self.threat,
            "figurative": self.figurative, "failed": self.failed,
            "effective": round(self.effective, 3), "points": round(self.points, 2),
        }


@dataclass(frozen=True, slots=True)
class TensionResult:
    score: int
    level: str
    escalation: float
    deescalation: float
    by_category: dict[str, float]
    evidence: tuple[Evidence, ...]
    lexicon_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "level": self.level,
            "escalation": round(self.escalation, 3),
            "deescalation": round(self.deescalation, 3),
            "by_category": {k: round(v, 3) for k, v in sorted(self.by_category.items())},
            "evidence": [e.to_dict() for e in self.evidence],
            "lexicon_version": self.lexicon_version,
        }


def level_for(score: int) -> str:
    for bound, name in LEVELS:
        if score >= bound:
            return name
    return "low"


def _match_at(stems: list[str], i: int, pattern: tuple[str | frozenset[str], ...]) -> int:
    """Return the end index (exclusive) if ``pattern`` matches at ``i``, else -1."""

    def rec(ti: int, pi: int) -> int:
        if pi == len(pattern):
            return ti
        p = pattern[pi]
        if p == "*":
            end = rec(ti, pi + 1)  # zero words
            if end < 0 and ti < len(stems):
                end = rec(ti + 1, pi + 1)  # one word
            return end
        if ti < len(stems) and (stems[ti] == p if isinstance(p, str) else stems[ti] in p):
            return rec(ti + 1, pi + 1)
        return -1

    return rec(i, 0)


def _blocked(lexicon: Lexicon, lowers: list[str]) -> bytearray | None:
    """1 for each token inside one of the lexicon's ``not_phrases`` (None: no such token)."""
    if not lexicon.not_phrases:
        return None
    out: bytearray | None = None
    for k, word in enumerate(lowers):
        for words in lexicon.not_phrases.get(word, ()):
            if tuple(lowers[k:k + len(words)]) == words:
                if out is None:
                    out = bytearray(len(lowers))
                out[k:k + len(words)] = b"\1" * len(words)
    return out


def find_phrases(lexicon: Lexicon, text: str, field: str) -> list[Evidence]:
    """All lexicon matches in ``text`` (longest first at each position), with their
    context flags, and the warning-about-weapons cues (see ``_THREAT_VERBS``)."""
    return _scan(lexicon, text, field)[0]


def _scan(lexicon: Lexicon, text: str, field: str) -> tuple[list[Evidence], int, int, int]:
    """``find_phrases`` plus the numbers of sports/business/tech and of military cue
    words in the text, and its number of sentences."""
    if not text or not text.strip():
        return [], 0, 0, 0
    toks = list(_TOKEN.finditer(text))
    n = len(toks)
    words = [t.group(0) for t in toks]
    lowers = [w.lower().replace("’", "'") for w in words]
    blocked = _blocked(lexicon, lowers)
    sents = sentence_spans(text) or [(0, len(text))]
    # sentence number of every token, and per sentence its cue words
    ends = [e for _, e in sents[:-1]]
    tok_sent = [bisect_right(ends, t.start()) for t in toks]
    stems = [stem(w) for w in words]
    domain = [0] * len(sents)
    military = [0] * len(sents)
    warn_at: dict[int, int] = {}
    first_military: dict[int, int] = {}  # sentence -> its first military word
    for k, s in enumerate(stems):
        if s in _DOMAIN or ("-" in words[k] and any(stem(part) in _DOMAIN
                                                     for part in lowers[k].split("-"))):
            domain[tok_sent[k]] += 1
    for k, w in enumerate(words):
        if w[0] not in _NAME_INITIALS:
            continue
        name = w[:-2] if w.endswith(("'s", "’s")) else w
        if name in _NAMES and (domain[tok_sent[k]] or name != w):
            stems[k] = f"#{name.lower()}"  # a name: matches nothing
    crowd = _crowd_figures(words, stems)
    for k, s in enumerate(stems):
        if s in _CUES and k not in crowd:
            if s in _MILITARY:
                military[tok_sent[k]] += 1
                first_military.setdefault(tok_sent[k], k)
            if s in _THREAT_VERBS:
                warn_at.setdefault(tok_sent[k], k)
    out: list[Evidence] = []
    cover_end, cover_w = 0, 0.0  # span and |weight| of the last counted match
    i = 0
    while i < n:
        cands = lexicon.index.get(stems[i])
        if not cands or (blocked and blocked[i]):
            i += 1
            continue
        best: tuple[int, int] = (-1, 0)
        phrase = cands[0]
        window = set(stems[i + 1:i + _MAX_SPAN])
        for cand in cands:
            if not cand.needs <= window:
                continue
            end = _match_at(stems, i, cand.pattern)
            if end <= i or (cand.exact is not None and tuple(lowers[i:end]) != cand.exact):
                continue
            rank = (end, -cand.pattern.count("*"))
            if rank > best:
                best, phrase = rank, cand
        end = best[0]
        if crowd and any(k in crowd for k in range(i, end)):
            i += 1  # "deploys an army of coders": no deployment
            continue
        # Inside an earlier match, a phrase counts only if it weighs more ("accused
        # of ethnic cleansing": the cleansing counts; "air strikes killed": the
        # killing is the strike's). Nothing inside a non-event counts.
        if end <= i or (i < cover_end and (cover_w == 0 or abs(phrase.weight) <= cover_w)):
            i += 1
            continue
        if end > cover_end:
            cover_end, cover_w = end, abs(phrase.weight)
        if phrase.weight == 0:
            cover_end, cover_w = max(cover_end, end), 0.0
            i += 1
            continue
        sno = tok_sent[i]
        s0, s1 = sents[sno]
        threat_ctx = sno in warn_at
        negated = hedged = threat = False
        negs: list[int] = []
        turns: list[int] = [i] if lowers[i] in _NEG_THREAT else []  # "not sit idly by"
        j = i - 1
        while j >= 0 and j >= i - _NEG_WINDOW and tok_sent[j] == sno:
            if lowers[j] in _NEGATORS:
                negs.append(j)
            if lowers[j] in _NEG_THREAT:
                turns.append(j)
            if lowers[j] in _HEDGES:
                hedged = True
            if lowers[j] in _STOPPERS and phrase.weight > 0 and j >= i - 3:
                negs.append(j)
            j -= 1
        if negs:
            # "would not dare attack", "did not rule out military action", "will not
            # hesitate to use force": a negated restraint is a threat
            if phrase.weight > 0 and any(t > min(negs) for t in turns):
                threat, hedged = True, False
            else:
                negated = True
        if threat_ctx and phrase.weight > 0:
            threat, hedged = True, False  # a warning is conditional by nature
        failed = False
        if phrase.weight < 0:
            lo = max(i - _FAIL_WINDOW, 0)
            near = range(lo, min(end + _FAIL_WINDOW, n))
            if any(lowers[k] in _FAILURES for k in near if not i <= k < end
                   and tok_sent[k] == sno):
                failed, negated = True, False
        start_c, end_c = toks[i].start(), toks[end - 1].end()
        before = text[s0:start_c]
        attributed = (before.count("“") > before.count("”") or before.count('"') % 2 == 1
                      or bool(_REPORTING.search(before)))
        out.append(Evidence(
            phrase=phrase.text, matched=text[start_c:end_c], category=phrase.category,
            weight=phrase.weight, field=field, start=start_c, end=end_c,
            sentence=snippet(text, (s0, s1), (start_c, end_c)), negated=negated, hedged=hedged,
            attributed=attributed, sentence_no=sno, threat=threat,
            figurative=phrase.weight > 0 and domain[sno] > 0 and not military[sno],
            failed=failed,
        ))
        i += 1
    # A warning or threat in a sentence that names weapons or force ("warns its
    # missiles can reach", "threatened military action") is a threat in itself.
    for sno, k in sorted(warn_at.items()):
        if not military[sno]:
            continue
        s0, s1 = sents[sno]
        noun = words[first_military[sno]]
        out.append(Evidence(
            phrase=f"{THREAT_CUE} ({noun.lower()})", matched=words[k], category="threats",
            weight=THREAT_CUE_WEIGHT, field=field, start=toks[k].start(), end=toks[k].end(),
            sentence=text[s0:s1].strip(), attributed=True, sentence_no=sno, threat=True))
    # A sentence that names weapons or forces is some evidence by itself ("tanks
    # moved closer to the border", "rockets landed inside the base"): its first such
    # word, in a group the model sizes.
    # Not in a sentence with a negated phrase ("no sign of a troop buildup").
    negated_in = {ev.sentence_no for ev in out if ev.negated}
    for sno in range(len(sents)):
        if not military[sno] or sno in negated_in:
            continue
        k = first_military[sno]
        s0, s1 = sents[sno]
        out.append(Evidence(
            phrase=MILITARY_WORD, matched=words[k], category="military_word",
            weight=MILITARY_WORD_WEIGHT, field=field, start=toks[k].start(), end=toks[k].end(),
            sentence=snippet(text, (s0, s1), (toks[k].start(), toks[k].end())),
            sentence_no=sno))
    return out, sum(domain), sum(military), len(sents)


def names_a_state(text: str) -> bool:
    """Whether ``text`` names a country ("Israel", "the U.S."; not a demonym such as
    "Norwegian"): the gazetteer of ``newsmon.analysis.entities``, imported here so
    that importing this module does not load it (``rules`` needs only ``LEVELS``)."""
    from newsmon.analysis.entities import country_name_pattern

    return country_name_pattern().search(text) is not None


# The lexicon is English. Function words of English, and of the other languages news
# feeds commonly carry (none that is also an English word: no "die", "do", "per"): a
# text with more of theirs is not English, and its "war" (German: was) is no evidence.
_ENGLISH_MARKERS = frozenset("the and of to is that with for this are was were have has "  # noqa: SIM905
                             "which from they their been would".split())
_OTHER_MARKERS = frozenset(  # German, Portuguese, Spanish, French, Italian
    "der und das ist nicht mit dem ein eine einer zu von für auf sich auch wird "  # noqa: SIM905
    "que não uma os para com em da dos das é são pelo pela "
    "el la los las y en por con es del una lo como más pero "
    "le les et des est une du dans pour qui pas sur au avec sont "
    "il che di della sono gli"
    .split())
_WORD = re.compile(r"[^\W\d_]+")


def is_english(text: str) -> bool:
    """False for a text clearly in another Latin-script language (more of the other
    languages' function words than of English's, and at least three); short or unclear
    texts count as English, and so do texts in other scripts (Cyrillic, CJK: the
    lexicon's tokens are Latin, so nothing in them matches anyway). Not a language
    detector: ``newsmon.evaluation`` picks its English texts by its own, stricter test."""
    words = _WORD.findall(text.lower())
    english = sum(1 for w in words if w in _ENGLISH_MARKERS)
    other = sum(1 for w in words if w in _OTHER_MARKERS)
    return not (other >= 3 and other > english)


def position_factor(field: str, sentence_no: int) -> float:
    """How much a phrase counts by where it stands: the headline most, then the lead,
    then less and less (paragraph nine counts about a third of the lead), so that a
    long article does not outscore a short item by length alone."""
    if field == "title":
        return TITLE_FACTOR
    return LEAD_FACTOR / math.sqrt(1.0 + sentence_no / POSITION_DECAY)


def score_tension(lexicon: Lexicon, fields: dict[str, str]) -> TensionResult:
    """Score the named text fields (e.g. title, summary, content). A text that is clearly
    not English (``is_english``) scores 0 with no evidence: the lexicon is English.

    Every evidence counts ``effective = weight * position * repetition * context``;
    the model turns each into a part of the log-odds (``coef[group] * effective /
    length``) and the score is ``100 * (p - p0) / (1 - p0)`` (module docstring).
    ``escalation`` and ``deescalation`` are the sums of the positive and negative
    parts; each evidence's ``points`` are its share of the score, and they add up
    to it.
    """
    return combine(lexicon, *collect(lexicon, fields))


def collect(lexicon: Lexicon, fields: dict[str, str]
            ) -> tuple[list[Evidence], int, int, bool, list[tuple[str, int]], frozenset[str],
                       str]:
    """The evidence of all fields, the item's sports/business/tech and military cue
    counts, whether it is news of states (it has evidence, names a country,
    ``names_a_state``, and no military, sports, business or tech word), (field, number
    of sentences) per field, the words the context model reads (``topic_words`` of every
    field) and the headline and lead the wording model reads (``lead_text``): what
    ``combine`` scores."""
    found: list[Evidence] = []
    domain = military = 0
    state = False
    sizes: list[tuple[str, int]] = []
    words: frozenset[str] = frozenset()
    lead = ""
    if is_english(" ".join(fields.values())[:LANGUAGE_SAMPLE]):
        for name, text in fields.items():
            ev, d, m, nsent = _scan(lexicon, text, name)
            found.extend(ev)
            domain += d
            military += m
            sizes.append((name, nsent))
        state = bool(found) and not military and not domain and any(
            names_a_state(text) for text in fields.values())
        words = topic_words(" ".join(fields.values()))
        lead = lead_text(fields).strip()
    return found, domain, military, state, sizes, words, lead


def lead_text(fields: dict[str, str]) -> str:
    """The headline and the lead: the ``title`` field and the first sentence of the
    first other field that has text. The wording model reads these: they state the
    event an item reports, where paragraph nine is often background."""
    title = fields.get("title", "")
    for name, text in fields.items():
        if name != "title" and text.strip():
            spans = sentence_spans(text[:LEAD_CHARS])
            start, end = spans[0] if spans else (0, LEAD_CHARS)
            return f"{title} {text[start:min(end, start + LEAD_CHARS)]}"
    return title


_TOPIC_WORD = re.compile(r"[a-z][a-z'-]{2,}")


def event_stems(lexicon: Lexicon) -> frozenset[str]:
    """The stems the lexicon reads as events or cues: every word of a weighted phrase,
    every member of a synonym set such a phrase uses, and the military and threat cue
    words. The context model (``TensionModel.context``) leaves these to the evidence
    and reads only the rest: what an item is about, not what happened."""
    out: set[str] = set(_MILITARY | _THREAT_VERBS)
    for group in lexicon.index.values():
        for ph in group:
            if not ph.weight:
                continue
            for el in ph.pattern:
                if isinstance(el, frozenset):
                    out |= el
                elif el != "*":
                    out.add(el)
    return frozenset(out)


WEAK_CATEGORIES = frozenset({"conflict_verb", "conflict_verb_generic", "cooperation_verb"})


def escalation_stems(lexicon: Lexicon) -> frozenset[str]:
    """The stems the lexicon counts alone as escalation: one-word phrases of positive
    weight outside the weak cue categories ("invasion", "shelling", "war"). The
    wording model (``scripts/train_tension.py``) gives these no negative weight: the
    lexicon sets their direction, and labelled everyday news that uses them
    figuratively ("pitch invasion") must not teach that they mean other news."""
    out: set[str] = set()
    for group in lexicon.index.values():
        for ph in group:
            if ph.weight > 0 and len(ph.pattern) == 1 and ph.category not in WEAK_CATEGORIES \
                    and isinstance(ph.pattern[0], str):
                out.add(ph.pattern[0])
    return frozenset(out)


def topic_words(text: str) -> frozenset[str]:
    """The distinct words the context model reads: lower-cased runs of three or more
    letters (apostrophes and hyphens inside)."""
    return frozenset(_TOPIC_WORD.findall(text.lower()))


def length_factor(mass: float) -> float:
    """How many short items' worth of text ``mass`` position-weighted sentences are: 1
    at a headline and two sentences (LENGTH_REF), growing linearly for longer texts
    and shrinking for shorter ones down to SHORT_FLOOR (a headline alone). Evidence
    counts divided by it: a long text holds more evidence at the same intensity, and
    a short item is not read as a weak long one."""
    return float(max(SHORT_FLOOR, mass / LENGTH_REF) ** LENGTH_EXP)


@dataclass(frozen=True, slots=True)
class _Prepared:
    effective: list[float]  # per evidence: weight x position x repetition x context
    figurative: list[bool]
    groups: list[str]  # per evidence: its model group ("" when it counts nothing)
    length: float  # length_factor of the text


def _prepare(found: list[Evidence], domain: int, military: int, state: bool,
             sizes: list[tuple[str, int]]) -> _Prepared:
    # the text's length in position-weighted sentences
    mass = sum(position_factor(name, k) for name, n in sizes for k in range(n))
    # An item about sports, business or tech that names nothing military reads its
    # "battle", "war" and "killer" figuratively, in every sentence.
    figurative_item = domain >= 2 and military == 0
    seen: dict[str, int] = {}
    effs: list[float] = []
    figs: list[bool] = []
    for ev in found:
        fig = ev.figurative or (figurative_item and ev.weight > 0)
        figs.append(fig)
        if ev.negated:
            effs.append(0.0)
            continue
        n = seen.get(ev.phrase, 0)
        seen[ev.phrase] = n + 1
        w = ev.weight
        if ev.failed:
            w = max(-w, FAILED_MIN)
        w *= (REPEAT_DECAY ** n) * position_factor(ev.field, ev.sentence_no)
        if ev.hedged:
            w *= HEDGE_FACTOR
        if w > 0 and fig:
            w *= FIGURATIVE_FACTOR
        effs.append(w)
    armed = "armed" if military else "state" if state else "unarmed"
    sentences: set[tuple[str, int]] = set()
    groups: list[str] = []
    for ev, w, fig in zip(found, effs, figs, strict=True):
        if not w:
            groups.append("")
            continue
        first = (ev.field, ev.sentence_no) not in sentences
        sentences.add((ev.field, ev.sentence_no))
        groups.append(evidence_group(ev.category, first=first, armed=armed,
                                     figurative=fig and w > 0))
    return _Prepared(effs, figs, groups, length_factor(mass))


def evidence_group(category: str, *, first: bool, armed: str, figurative: bool) -> str:
    """The model group of one evidence: ``figurative`` for an escalation read as a
    figure of speech, else ``category:first|later:armed|state|unarmed`` (``first``:
    the first counted phrase of its sentence; ``armed``: ``armed`` when the item names
    something military, else ``state`` when it names a country and no sports,
    business or tech word, else ``unarmed``)."""
    if figurative:
        return FIGURATIVE_GROUP
    return f"{category}:{'first' if first else 'later'}:{armed}"


def model_features(lexicon: Lexicon, fields: dict[str, str]) -> dict[str, float]:
    """The model's inputs for one item: per evidence group, the sum of effective
    weights divided by the text's length factor. ``scripts/train_tension.py`` fits
    the model on these; ``combine`` scores with the same numbers."""
    found, domain, military, state, sizes, _, _ = collect(lexicon, fields)
    prep = _prepare(found, domain, military, state, sizes)
    out: dict[str, float] = {}
    for g, w in zip(prep.groups, prep.effective, strict=True):
        if g:
            out[g] = out.get(g, 0.0) + w / prep.length
    return out


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def probability_score(base: float, net: float) -> int:
    """0-100 from the model's log-odds: ``base`` for an item with no evidence and
    ``base + net`` for this one. 0 at no evidence, 100 at certainty, monotonic in
    ``net``: ``100 * (p - p0) / (1 - p0)``, clipped at 0."""
    p0, p = _sigmoid(base), _sigmoid(base + net)
    return max(0, round(100 * (p - p0) / (1 - p0)))


def combine(lexicon: Lexicon, found: list[Evidence], domain: int, military: int,
            state: bool, sizes: list[tuple[str, int]], words: frozenset[str] = frozenset(),
            lead: str = "") -> TensionResult:
    """The score of collected evidence (see ``score_tension``): ``words`` are the
    item's topic words, ``lead`` its headline and lead (``lead_text``)."""
    prep = _prepare(found, domain, military, state, sizes)
    model = lexicon.model or bundled_model()
    parts = [model.weight_of(g) * w / prep.length if g else 0.0
             for g, w in zip(prep.groups, prep.effective, strict=True)]
    evidence_list = list(found)
    effective = list(prep.effective)
    figurative = list(prep.figurative)

    def add(phrase: str, category: str, value: float, part: float, sentence: str = "") -> None:
        evidence_list.append(Evidence(phrase=phrase, matched="", category=category,
                                      weight=round(value, 3), field=ITEM_FIELD, start=0, end=0,
                                      sentence=sentence))
        parts.append(part)
        effective.append(value)
        figurative.append(False)

    # how the headline and lead are worded, conflict or cooperation: one entry naming
    # the words that weigh most that way, for an item in which the lexicon found
    # something that counts (words alone, as in "denied plans to invade", are no event);
    # its sentence is the headline and lead it read
    wording, wshown = model.wording(topic_words(lead))
    if (wording > 0 and any(prep.groups)) or (wording < 0 and any(p > 0 for p in parts)):
        add(f"{WORDING_PHRASES[wording < 0]}: {', '.join(wshown)}", WORDING_GROUP, wording,
            model.weight_of(WORDING_GROUP) * wording, shorten(lead))
    # whether the item reads as everyday news: one entry that takes points off, naming
    # the words that weigh most towards that
    context, shown = model.context(words)
    if context < 0 and any(p > 0 for p in parts):
        add(f"{CONTEXT_PHRASE}: {', '.join(shown)}", CONTEXT_GROUP, context,
            model.weight_of(CONTEXT_GROUP) * context)
    net = sum(parts)
    score = probability_score(model.base, net) if net > 0 else 0
    esc = sum(p for p in parts if p > 0)
    deesc = -sum(p for p in parts if p < 0)
    evidence: list[Evidence] = []
    by_cat: dict[str, float] = {}
    for ev, w, part, fig in zip(evidence_list, effective, parts, figurative, strict=True):
        if part:
            by_cat[ev.category] = by_cat.get(ev.category, 0.0) + part
        evidence.append(replace(ev, effective=w, points=score * part / net if net > 0 else 0.0,
                                figurative=fig))
    return TensionResult(score=score, level=level_for(score), escalation=esc, deescalation=deesc,
                         by_category=by_cat, evidence=tuple(evidence),
                         lexicon_version=f"{lexicon.version}+{model.version}")
