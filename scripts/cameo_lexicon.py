"""Generate ``newsmon/data/tension_cameo.yml`` from the CAMEO ontology.

Reads the PETRARCH-2 CAMEO verb dictionary (verbs and verb patterns grouped
under CAMEO event codes) and the CAMEO code table with Goldstein values, both
from the shared data folder, and writes the generated part of the tension
lexicon: one entry per verb and per verb pattern whose code lies on the
conflict side (CAMEO roots 10-20) or the cooperation side (roots 03-08), with
its weight derived from the code's Goldstein value:

    weight = -goldstein(code) * factor

``factor`` is VERB_FACTOR for a bare verb ("shell", "mediate": a verb alone is
the weaker cue, many verbs have other senses; only verbs of de-escalation (root 08)
and of threats to violence (roots 13-20) count alone) and PATTERN_FACTOR for a verb
with its object ("launch * offensive", "deploy * &military"). Patterns coded
``[---]`` in the dictionary mark non-events ("killed in accident", "kill
himself") and become zero-weight entries: the matcher takes the longest match,
so they stop the bare verb from counting there. Synonym sets used by patterns
(``&military``, ``&weapon``, ...) are written as sets of words; a phrase names
them as ``&name`` and matches any member.

Verbs whose everyday sense is not an event of their code (``hit``, ``match``,
``fire``, ``target``...) are kept out of those categories as bare verbs
(GENERIC_VERBS) but still take part in patterns ("fire * &weapon").

Every other bare verb of a conflict or cooperation code (weaker codes, roots
without BARE_ROOTS, generic verbs) becomes a weak cue in its inflected forms only
("deported", "marched", "met", "pledges"), matched as written, in a category of its
own: ``conflict_verb``, ``conflict_verb_generic`` (generic conflict verbs, as often
sport as war) and ``cooperation_verb``. The tension model
(``scripts/train_tension.py``) sizes each of them apart from the specific
categories. Hand-written entries in
``tension_lexicon.yml`` take precedence over generated ones with the same
words (``newsmon.analysis.tension.load_lexicon``).

Run from the project root (rewrites the data file; deterministic):

    python scripts/cameo_lexicon.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "newsmon/data/tension_cameo.yml"

VERB_FACTOR = 0.45
PATTERN_FACTOR = 0.8
MIN_ABS_GOLDSTEIN = 2.0  # weaker codes (statements, appeals) carry no tension signal

# CAMEO root -> lexicon category (the hand lexicon's categories, so that rules that
# filter on categories see generated evidence under the same names).
CATEGORY = {
    "03": "talks", "04": "talks", "05": "agreement", "06": "agreement", "07": "aid",
    "08": "deescalation",
    "10": "accusation", "11": "accusation", "12": "accusation", "13": "threats",
    "14": "protest", "15": "military_posture", "16": "coercion", "17": "coercion",
    "18": "armed_conflict", "19": "armed_conflict", "20": "armed_conflict",
}

# Verbs kept out as bare verbs: their common sense in news is not the coded event.
GENERIC_VERBS = frozenset("""
hit match fire blow blast pound hammer kick pit target engage die drive rip whip
slap hurt abuse hang string stamp press pelt torch flatten crash fall cross enter
run take get make give put set place post base stage position pose situate station
format arrange back push pull draw move turn hold keep leave break cut close open
call ask say tell meet host visit offer promise pledge hope seek want plan prepare
consider discuss talk agree support help allow release yield submit abandon retreat
defend rescue intervene arm compromise loosen pardon unblock abstain absolve acquit
declassify legalise legalize inspect investigate probe demand insist allege curse
despair regret lament rebuff distrust dismay disapprove delay overrule disturb march
parade patrol betray blacklist disrupt spy undermine confine exclude impel impose
punish suppress extract nationalize steal fine prohibit sentence prosecute sue
deport confirm continue develop emerge end finish follow fly freeze fuel identify
ignore indicate instruct launch lead mark pass play pose reach receive return score
start stop strike beat battle fight combat conflict duel grapple quarrel square
clobber pummel assail altercate blitz bludgeon siege tackle challenge crush rout
sink storm raid sweep shoot shot cap conquer best ring rang rung tear tears tore
torn tearing reside inhabit circle spoil mar marred marring mars lash bust master
dominate overshadow tarnish ruin damage struggle surmount overcome overcame
overcomes overcoming thump smash shatter corrupt impair vitiate contaminate infest
cane bruise harm defeat overwhelm overtake overtaken overtaking overtook crack stone
ram rammed ramming rams dishonor dishonour repel repelled repelling repels bill tax
force block bar barred barring bars catch catches catching caught contain remove
clear enforce moderate reinforce pluck curb abort appropriate capture grab grabbed
grabbing grabs snatch restrict cage enclose disarray disorder revolutionise
revolutionize withhold withheld withholding withholds compel compelled compelling
compels constrain overturn levy levied levies levying shun shunned shunning shuns
fill free freed freeing frees enable empower permit permits permitted permitting
approve tease detach disconnect retire resign relax settle resolve bow legislate
satify verify verified verifies verifying undo undid undoing undone untie untied
unties untying tolerate obey waive clear recede bide abide countenance authorise
authorize annoy bother irk upset vex pester plague rag ragged ragging rags torment
arouse enkindle discomfit discomfits discomfitted discomfitting disconcert disquiet
agonise agonize badger garner rally rallied rallies rallying muster demonstrate risk
caution wrestle concede concession harry shell
""".split())  # noqa: SIM905

# Roots whose bare verbs are specific enough to count alone: de-escalation (08) and
# threats to mass violence (13-20). Verbs of statements, appeals, intent, meetings,
# cooperation and criticism (01-07, 10-12) are everyday words ("buy", "expect",
# "claim", "order"): they count only inside the dictionary's patterns.
BARE_ROOTS = frozenset({"08", "13", "14", "15", "16", "17", "18", "19", "20"})
MIN_ABS_GOLDSTEIN_BARE = 4.0
# Every other bare verb of a conflict or cooperation code is a weak cue, kept in a
# category of its own so the tension model can size it apart from the specific ones.
WEAK_CONFLICT = "conflict_verb"
WEAK_GENERIC_CONFLICT = "conflict_verb_generic"
WEAK_COOPERATION = "cooperation_verb"
_VOWELS = "aeiou"


def event_forms(forms: list[str]) -> list[str]:
    """The inflected forms of a dictionary verb, its particle kept: "MEET {MEETS MET
    MEETING}" -> meeting, meets, met; "DEPORT" -> deported, deporting, deports; "KICK_OUT"
    -> kicked out, ... Not the base form, which is most often a noun or an intent ("a
    deal", "plans to meet")."""
    base = words_of(forms[0])
    if not base or not all(_WORDISH.fullmatch(w.upper()) for w in base):
        return []
    head, rest = base[0], base[1:]
    listed = [words_of(f) for f in forms[1:]]
    given = [w[0] for w in listed if w]
    out = set(given)
    if not any(g.endswith("s") for g in given):
        out.add(_third(head))
    if not any(g.endswith("ed") or (not g.endswith("ing") and g != head) for g in given):
        out.add(_past(head))
    if not any(g.endswith("ing") for g in given):
        out.add(_ing(head))
    return sorted(" ".join([w, *rest]) for w in out if _WORDISH.fullmatch(w.upper()))


def _doubles(verb: str) -> bool:
    # "ban" -> "banned", "plan" -> "planned": one short syllable ending in a consonant
    return (len(verb) <= 4 and verb[-1] not in _VOWELS + "wxy" and verb[-2] in _VOWELS
            and verb[-3] not in _VOWELS)


def _past(verb: str) -> str:
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2] not in _VOWELS:
        return verb[:-1] + "ied"
    return verb + verb[-1] + "ed" if len(verb) > 2 and _doubles(verb) else verb + "ed"


def _third(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in _VOWELS:
        return verb[:-1] + "ies"
    return verb + "s"


def _ing(verb: str) -> str:
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + verb[-1] + "ing" if len(verb) > 2 and _doubles(verb) else verb + "ing"

# A pattern's object must name something: one made of these alone ("battle * with",
# "advance * into") says no more than its verb.
FUNCTION_WORDS = frozenset("""
a an the of in on at by for from to with into onto over under across against about
after before during near through toward towards up down out off back and or as is
are was were be been it its their his her them him they he she we us our this that
""".split())  # noqa: SIM905

_CODE = re.compile(r"\[([0-9:-]*)\]")
_WORDISH = re.compile(r"[A-Z0-9'-]+")


def goldstein_table(path: Path) -> dict[str, float]:
    with path.open(encoding="utf-8") as fh:
        return {row["code"]: float(row["goldstein"]) for row in csv.DictReader(fh)}


def parse_code(text: str) -> str | None:
    """The first code in ``[...]``; None for none; '' for the non-event mark ``---``."""
    m = _CODE.search(text)
    if not m:
        return None
    inner = m.group(1)
    if inner.startswith("-"):
        return ""
    for part in inner.split(":"):
        if part:
            return part
    return None


def words_of(token: str) -> list[str]:
    return [w.lower() for w in token.strip("_").split("_") if w]


def parse(path: Path) -> tuple[dict[str, list[str]], list[dict[str, object]]]:
    """Synonym sets and verb blocks (each: code, verbs [(forms, code)], patterns)."""
    lines = path.read_text("utf-8", errors="replace").splitlines()
    sets: dict[str, list[str]] = {}
    blocks: list[dict[str, object]] = []
    current_set: str | None = None
    block: dict[str, object] | None = None
    in_verbs = False
    for raw in lines:
        line = raw.split("#", 1)[0].rstrip()
        if raw.startswith("####### VERB PATTERNS"):
            in_verbs = True
            current_set = None
            continue
        if not line.strip():
            continue
        if not in_verbs:
            if line.startswith("&"):
                current_set = line[1:].strip()
                sets[current_set] = []
            elif line.startswith("+") and current_set is not None:
                member = words_of(line[1:].strip())
                if member:  # "cease_fire" -> ceasefire: the matcher drops hyphens
                    sets[current_set].append("".join(member))
            continue
        if line.startswith("---"):
            name = line.strip("- ").split("[")[0].strip()
            block = {"name": name, "code": parse_code(line), "verbs": [], "patterns": []}
            blocks.append(block)
            continue
        if block is None:
            continue
        if line.startswith("-"):
            code = parse_code(line)
            body = _CODE.split(line[1:])[0]
            origin = raw.split("#", 1)[1].split()[:1] if "#" in raw else []
            patterns: list[tuple[str, str | None, str | None]] = block["patterns"]  # type: ignore[assignment]
            patterns.append((body, code, origin[0] if origin else None))
            continue
        # a verb line: VERB {FORMS} [code]
        head = line.split("{")[0]
        code = parse_code(line) or block["code"]
        forms = [head.split("[")[0].strip().lstrip("+")]
        if "{" in line:
            forms += [f.lstrip("+") for f in line.split("{", 1)[1].split("}")[0].split()]
        forms = [f for f in forms if f]
        if forms:
            block["verbs"].append((forms, code))  # type: ignore[attr-defined]
    return sets, blocks


def pattern_phrases(body: str, verb: list[str], sets: dict[str, list[str]],
                    used_sets: set[str]) -> str | None:
    """A PETRARCH pattern ("- * (OF {REVENGE ATTACK})") as a lexicon phrase with the
    verb in place of ``*`` and gaps between parts; None if it cannot be expressed."""
    toks = body.replace("(", " ").replace(")", " ").replace("{", " ").replace("}", " ").split()
    toks = [t for t in toks if t not in ("$", "+", "^", "%")]
    if "*" not in toks:
        return None
    k = toks.index("*")
    pre, post = toks[:k], toks[k + 1:]
    if len(pre) > 2 or len(post) > 4 or (not pre and not post):
        return None
    out: list[str] = []

    def add(tok: str) -> bool:
        if tok.startswith("&"):
            name = tok[1:]
            if name not in sets or not sets[name]:
                return False
            used_sets.add(name)
            out.append("&" + name.lower())
            return True
        ws = words_of(tok)
        if not ws or not all(_WORDISH.fullmatch(w.upper()) for w in ws):
            return False
        out.extend(ws)
        return True

    for t in pre:
        if not add(t):
            return None
    if pre:
        out.append("*")
    out.extend(verb)
    if post:
        out.append("*")
    for t in post:
        if not add(t):
            return None
    return " ".join(out)


def generate(data: Path) -> str:
    lex = data / "lexicons"
    gold = goldstein_table(lex / "cameo-codes.csv")
    sets, blocks = parse(lex / "CAMEO.2.0.verbs.txt")
    entries: dict[str, dict[str, tuple[str, float, str]]] = defaultdict(dict)
    non_events: dict[str, str] = {}
    used_sets: set[str] = set()
    exact: set[tuple[str, str]] = set()  # (category, phrase) matched as written only

    def weight_of(code: str | None, factor: float) -> tuple[str, float] | None:
        if not code or code[:2] not in CATEGORY or code not in gold:
            return None
        g = gold[code]
        if abs(g) < MIN_ABS_GOLDSTEIN:
            return None
        return CATEGORY[code[:2]], round(-g * factor, 2)

    for block in blocks:
        verbs: list[tuple[list[str], str | None]] = block["verbs"]  # type: ignore[assignment]
        for forms, code in verbs:
            base = words_of(forms[0])
            cw = weight_of(code, VERB_FACTOR)
            if not base or cw is None:
                continue
            generic = len(base) == 1 and base[0] in GENERIC_VERBS
            if generic or not code or code[:2] not in BARE_ROOTS \
                    or abs(gold.get(code, 0.0)) < MIN_ABS_GOLDSTEIN_BARE:
                # A weak cue, in a category of its own that the tension model sizes,
                # and only in its inflected forms: the base form is as often a noun
                # ("force", "deal", "arm") or an intent. Generic conflict verbs
                # ("raided", "marched", "deported", but also "beat", "crushed") get
                # a category of their own: as often sport as war.
                if cw[1] > 0:
                    cat = WEAK_GENERIC_CONFLICT if generic else WEAK_CONFLICT
                else:
                    cat = WEAK_COOPERATION
                for phrase in event_forms(forms):
                    entries[cat].setdefault(phrase, (phrase, cw[1], str(code)))
                    exact.add((cat, phrase))
                continue
            for form in forms:
                phrase = " ".join(words_of(form))
                if phrase and _WORDISH.fullmatch(phrase.replace(" ", "").upper()):
                    entries[cw[0]].setdefault(phrase, (phrase, cw[1], str(code)))
        for body, code, origin in block["patterns"]:  # type: ignore[attr-defined]
            # the verb the pattern was found with (the dictionary's comment), else the
            # block's first verb
            verb_names = [origin] if origin else [verbs[0][0][0]] if verbs else []
            for name in verb_names:
                verb = words_of(name)
                if not verb:
                    continue
                phrase = pattern_phrases(body, verb, sets, used_sets)
                if phrase is None or phrase.startswith(("*", "&")):
                    continue
                if all(w in FUNCTION_WORDS or w == "*" for w in phrase.split()[len(verb):]) \
                        and phrase.split()[0] == verb[0]:
                    continue
                if code == "":
                    non_events.setdefault(phrase, "---")
                    continue
                cw = weight_of(code, PATTERN_FACTOR)
                if cw is not None:
                    entries[cw[0]].setdefault(phrase, (phrase, cw[1], str(code)))
    return render(entries, non_events, {k: sets[k] for k in sorted(used_sets)}, exact)


HEADER = """\
# GENERATED by scripts/cameo_lexicon.py -- do not edit; rebuild with
#     python scripts/cameo_lexicon.py --data ../shared/data
#
# The CAMEO-grounded part of the tension lexicon: verbs and verb patterns of
# the PETRARCH-2 CAMEO verb dictionary (CAMEO.2.0.verbs.txt, openeventdata/
# petrarch2, MIT licence, (c) 2015 Open Event Data Alliance) whose CAMEO code
# lies in roots 03-08 (cooperation) or 10-20 (conflict), weighted by the code's
# Goldstein value from the ICEWS CAMEO code table (andybega/icews, cameo-codes.csv,
# MIT licence): weight = -goldstein * {verb_factor} for a bare verb and
# -goldstein * {pattern_factor} for a verb with its object. `cameo` is the code.
# Bare verbs of weaker codes and generic verbs are weak cues in their inflected
# forms only (`exact: true`), in the categories conflict_verb,
# conflict_verb_generic and cooperation_verb, which the tension model sizes.
# Entries under `non_events` are the dictionary's patterns coded as no event;
# they weigh 0 and, being longer, stop the bare verb from matching there.
# `sets` are the dictionary's synonym sets used by the phrases (`&name`).
# Hand-written entries of tension_lexicon.yml take precedence over these.
"""


def render(entries: dict[str, dict[str, tuple[str, float, str]]], non_events: dict[str, str],
           sets: dict[str, list[str]], exact: set[tuple[str, str]]) -> str:
    out = [HEADER.format(verb_factor=VERB_FACTOR, pattern_factor=PATTERN_FACTOR)]
    out.append("sets:")
    for name, members in sets.items():
        uniq = sorted(dict.fromkeys(members))
        out.append(f"  {name.lower()}: [{', '.join(uniq)}]")
    out.append("categories:")
    for cat in sorted(entries):
        out.append(f"  {cat}:")
        out.append("    phrases:")
        for phrase, w, code in sorted(entries[cat].values()):
            flag = ", exact: true" if (cat, phrase) in exact else ""
            out.append(f"      - {{p: \"{phrase}\", w: {w}, cameo: \"{code}\"{flag}}}")
    out.append("non_events:")
    for phrase in sorted(non_events):
        out.append(f"  - \"{phrase}\"")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    text = generate(args.data)
    args.out.write_text(text, "utf-8")
    n = sum(1 for line in text.splitlines() if line.startswith("      - "))
    print(f"wrote {args.out} ({n} phrases)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
