"""Fit the tension model (``newsmon/data/tension_model.yml``) on the development part.

Reads only the ``dev`` part of the labelled corpus (``newsmon.analysis.evalcorpus``;
feed items are resolved when the shared data folder is given), never ``test``. Each
item becomes the model's inputs (``newsmon.analysis.tension.model_features``: per
evidence group, the length-normalised sum of effective lexicon weights) and the
label conflict (1) against cooperation and everyday news (0).

A context model comes first: an L2-regularised logistic regression over the
distinct words of an item (``topic_words``; not stop words, not names, not the
lexicon's event and cue words) that tells news of states and armed actors
(conflict or cooperation) from everyday news. The sum of its word weights,
clipped to [CONTEXT_FLOOR, 0], is one more input (``context``) of the tension model,
taken out of fold (each batch of the dev part, ``batch``, from a context model
fitted on the other batches) so the tension model does not learn from a context
model that has seen the same items or their writer.

A wording model comes last: the same kind of word model over the headline and lead
(``lead_text``; names and stop words left out, the lexicon's words kept) that tells
conflict from everything else (cooperation and everyday news). It reads how the
event is worded where the lexicon has no phrase for it ("repelled an incursion",
"handed over"), and which words of a lead belong to other news ("budget",
"earthquake", "win"); a word the lexicon counts alone as escalation never weighs
towards other news. The sum of its word weights, clipped to [-WORDING_LIMIT,
WORDING_LIMIT] and taken out of fold in the same way, is the input of a second
stage: with the evidence groups' coefficients held, one more coefficient (>= 0) and
an intercept correction are fitted, so the wording adds to the lexicon's evidence
without taking its place.

The tension model is an L2-regularised logistic regression whose coefficients are
bounded below by 0 (the lexicon gives each phrase its direction; the model only
sizes the groups), fitted with SciPy's L-BFGS-B. The intercept is then shifted
for the alert threshold on out-of-fold scores: each batch of the dev part (its
writer: the id prefix, ``wa``, ``wb``, ... and the real feed items) is scored by a
model fitted the same way on the other batches, since news the monitor meets comes
from writers it was not fitted on and random folds share each writer's style. The
shift is the largest at which sports, business and tech items, and everyday news as
a whole, reach the threshold no more often than TARGET_FALSE_ALARMS: as much
conflict news as that limit allows (the script warns when that is less than
TARGET_RECALL of the conflict headlines and short items). The out-of-fold figures printed are
development estimates, not held-out ones.

    .venv/bin/python scripts/train_tension.py [--data ../shared/data] [--check]

``--check`` fits again and compares with the shipped file instead of writing it
(exit 1 when they differ): the shipped model is what this script makes from dev.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import minimize
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsmon.analysis.evalcorpus import EvalItem, load_items  # noqa: E402
from newsmon.analysis.tension import (  # noqa: E402
    CONTEXT_FLOOR,
    CONTEXT_GROUP,
    FIGURATIVE_GROUP,
    WORDING_GROUP,
    WORDING_LIMIT,
    WORDING_MIN,
    escalation_stems,
    event_stems,
    lead_text,
    load_lexicon,
    model_features,
    probability_score,
    stem,
    topic_words,
)
from newsmon.evaluation import roc_auc  # noqa: E402

OUT = ROOT / "newsmon" / "data" / "tension_model.yml"
C = 0.1  # inverse L2 strength, as in scikit-learn's LogisticRegression
WORDS_C = 1.0  # the same for the context model (scikit-learn's default)
WORDS_MIN_ITEMS = 3  # a word the context model reads is in at least this many items
THRESHOLD = 60  # the default alert threshold
# The project's targets are at least half of the short conflict items at the
# threshold with at most 0.5 % false alarms on sports, business and tech; the shift
# keeps the false alarms under the target with a margin, for a writer the model was
# not fitted on, and gives the alerts as much of the conflict news as that allows.
TARGET_FALSE_ALARMS = 0.004  # out-of-fold share at >= THRESHOLD: sports/business/tech,
# and all everyday news
TARGET_RECALL = 0.62  # out-of-fold share of conflict headlines and short items: a
# shift that reaches less is reported as missing it
SHIFT_STEP = 0.05
SHIFT_RANGE = 3.0  # shifts tried: -3 to 3 log-odds
FIGURATIVE_TOPICS = ("sports", "business", "tech")
HEADER = """\
# GENERATED by scripts/train_tension.py -- do not edit; rebuild with
#     .venv/bin/python scripts/train_tension.py --data ../shared/data
#
# The tension model: a logistic regression over the evidence groups of
# newsmon.analysis.tension (category x first/later phrase of its sentence x item
# names something military, else a country with no sports/business/tech word, else
# neither; figurative escalations in one group), fitted on
# the dev part of the labelled corpus only. `coef` sizes each group (never
# negative: the lexicon weight gives the direction), `intercept` is the fitted
# log-odds of an item with no evidence and `shift` the calibration added to it for
# the alert threshold; `default` counts for a group not listed here. `context`
# is the context model (logistic regression over the distinct words of an item:
# news of states and armed actors against everyday news); the sum of its word
# weights, clipped to [-4, 0], times coef.context takes points off an item that
# reads as everyday news. `wording` is the wording model (the same over the
# headline and lead: conflict against everything else); the sum of its word weights,
# clipped to [-2, 2], times coef.wording adds points to an item worded as conflict
# and takes points off one worded as other news.
"""


def fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """L2 logistic regression with coefficients >= 0: ``C * sum(log loss) +
    0.5 * |w|^2`` (the intercept unpenalised), by L-BFGS-B."""
    d = X.shape[1]
    sign = 2.0 * y - 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        m = sign * (X @ w + b)
        value = C * float(np.logaddexp(0.0, -m).sum()) + 0.5 * float(w @ w)
        g = -C * sign * (1.0 / (1.0 + np.exp(m)))
        return value, np.concatenate([X.T @ g + w, [g.sum()]])

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, None)] * d + [(None, None)],
                   options={"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-12})
    return res.x[:d], float(res.x[d])


def fit_wording(X: np.ndarray, wording: np.ndarray, y: np.ndarray
                ) -> tuple[np.ndarray, float]:
    """The two stages: ``fit`` on the evidence groups and the context (``X``), then,
    with those coefficients held, the wording's coefficient (>= 0, L2 as in ``fit``)
    and a correction of the intercept. Returns the coefficients of X's columns and
    the wording's, and the intercept."""
    w, b = fit(X, y)
    offset = X @ w + b
    sign = 2.0 * y - 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        c, d = theta
        m = sign * (offset + c * wording + d)
        g = -C * sign * (1.0 / (1.0 + np.exp(m)))
        return (C * float(np.logaddexp(0.0, -m).sum()) + 0.5 * c * c,
                np.array([float(g @ wording) + c, float(g.sum())]))

    res = minimize(loss, np.zeros(2), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, None), (None, None)],
                   options={"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-12})
    return np.concatenate([w, [res.x[0]]]), b + float(res.x[1])


def dev_items(data: Path | None) -> list[EvalItem]:
    return load_items("dev", data)


def matrix(items: list[EvalItem]) -> tuple[list[str], np.ndarray]:
    lex = load_lexicon()
    feats = [model_features(lex, {"title": it.title, "summary": it.text}) for it in items]
    keys = sorted({k for f in feats for k in f})
    return keys, np.array([[f.get(k, 0.0) for k in keys] for f in feats])


_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n)\s*[\"'“‘(]*$")


def proper_nouns(texts: list[str]) -> frozenset[str]:
    """Words written with a capital inside a sentence at least half the times they
    occur there: names of places, people and organisations. The context model leaves
    them out: how often the labelled items pair a country with conflict says
    something about the items, not about news."""
    capital: dict[str, int] = {}
    seen: dict[str, int] = {}
    for text in texts:
        for m in _WORD.finditer(text):
            if _SENTENCE_START.search(text[max(0, m.start() - 4):m.start()]):
                continue
            w = m.group(0).lower()
            seen[w] = seen.get(w, 0) + 1
            if m.group(0)[0].isupper():
                capital[w] = capital.get(w, 0) + 1
    return frozenset(w for w, n in seen.items() if 2 * capital.get(w, 0) >= n)


def _vectorizer(skip: frozenset[str], names: frozenset[str]) -> CountVectorizer:
    def words(text: str) -> list[str]:
        return sorted(w for w in topic_words(text)
                      if w not in ENGLISH_STOP_WORDS and w not in names
                      and stem(w) not in skip)

    return CountVectorizer(analyzer=words, binary=True, min_df=WORDS_MIN_ITEMS)


def words_fit(texts: list[str], labels: np.ndarray, skip: frozenset[str]
              ) -> dict[str, float]:
    """A word model: L2 logistic regression over the distinct words of an item
    (``topic_words``, in at least WORDS_MIN_ITEMS items, not English stop words, not
    names (``proper_nouns``), not the stems in ``skip``); its weight per word (the
    intercept is left out: an item with no known word is no evidence either way)."""
    vec = _vectorizer(skip, proper_nouns(texts))
    m = LogisticRegression(C=WORDS_C, max_iter=5000).fit(vec.fit_transform(texts), labels)
    return {w: round(float(c), 4) for w, c in zip(vec.get_feature_names_out(), m.coef_[0],
                                                  strict=True) if round(float(c), 4)}


def word_sums(words: dict[str, float], texts: list[str]) -> np.ndarray:
    """Per item, the sum of the weights of its words (``TensionModel.context`` before
    clipping)."""
    return np.array([sum(words.get(w, 0.0) for w in topic_words(t)) for t in texts])


def context_fit(items: list[EvalItem], texts: list[str]) -> dict[str, float]:
    """The context model's weight per word: news of states and armed actors (conflict
    or cooperation) against everyday news, on every item, reading none of the
    lexicon's event and cue words (``event_stems``)."""
    geo = np.array([it.label != "neutral" for it in items], dtype=float)
    return words_fit(texts, geo, event_stems(load_lexicon()))


def context_column(words: dict[str, float], texts: list[str]) -> np.ndarray:
    """The model input the context model gives, clipped to [CONTEXT_FLOOR, 0]."""
    return np.clip(word_sums(words, texts), CONTEXT_FLOOR, 0.0)


def context_oof(items: list[EvalItem], texts: list[str], strata: list[str]) -> np.ndarray:
    """The context input of every item from a context model that did not see it."""
    out = np.zeros(len(texts))
    for tr, te in LeaveOneGroupOut().split(texts, strata, [batch(it) for it in items]):
        words = context_fit([items[i] for i in tr], [texts[i] for i in tr])
        out[te] = context_column(words, [texts[i] for i in te])
    return out


def wording_fit(items: list[EvalItem], leads: list[str]) -> dict[str, float]:
    """The wording model's weight per word: conflict against cooperation and everyday
    news, on the headline and lead of every item. A word the lexicon counts alone as
    escalation (``escalation_stems``) keeps only a positive weight: the labelled
    everyday news is rich in figurative "invasion" and "war" by design, and news in
    general is not."""
    words = words_fit(leads, np.array([it.label == "conflict" for it in items], dtype=float),
                      frozenset())
    escalation = escalation_stems(load_lexicon())
    return {w: c for w, c in words.items() if c > 0 or stem(w) not in escalation}


def wording_column(words: dict[str, float], leads: list[str]) -> np.ndarray:
    """The model input the wording model gives, clipped to +-WORDING_LIMIT and 0
    below WORDING_MIN (``out_of_fold`` and ``build`` zero it where the lexicon counted
    nothing, as the scorer does)."""
    sums = word_sums(words, leads)
    return np.where(np.abs(sums) < WORDING_MIN, 0.0,
                    np.clip(sums, -WORDING_LIMIT, WORDING_LIMIT))


def wording_oof(items: list[EvalItem], leads: list[str], strata: list[str]) -> np.ndarray:
    """The wording input of every item from a wording model that did not see it."""
    out = np.zeros(len(leads))
    for tr, te in LeaveOneGroupOut().split(leads, strata, [batch(it) for it in items]):
        words = wording_fit([items[i] for i in tr], [leads[i] for i in tr])
        out[te] = wording_column(words, [leads[i] for i in te])
    return out


def batch(item: EvalItem) -> str:
    """The batch an item was written in (its writer): the id's prefix, ``wa`` in
    ``wa-00012``, ``feed`` for the real feed items."""
    return item.id.split("-")[0].split(":")[0]


def out_of_fold(X: np.ndarray, y: np.ndarray, strata: list[str], items: list[EvalItem],
                texts: list[str], leads: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the net log-odds and the intercept of the model fitted on the other
    batches (``batch``); the context and wording inputs of its training items come from word models
    that did not see them either."""
    net = np.zeros(len(y))
    base = np.zeros(len(y))
    counted = np.abs(X).sum(axis=1) > 0
    for tr, te in LeaveOneGroupOut().split(X, strata, [batch(it) for it in items]):
        sub = [items[i] for i in tr]
        subtexts = [texts[i] for i in tr]
        subleads = [leads[i] for i in tr]
        substrata = [strata[i] for i in tr]
        inner = context_oof(sub, subtexts, substrata)
        outer = context_column(context_fit(sub, subtexts), [texts[i] for i in te])
        winner = wording_oof(sub, subleads, substrata)
        wouter = wording_column(wording_fit(sub, subleads), [leads[i] for i in te])
        w, b = fit_wording(np.column_stack([X[tr], inner]), winner * counted[tr], y[tr])
        net[te] = np.column_stack([X[te], outer, wouter * counted[te]]) @ w
        base[te] = b
    return net, base


def share_at(scores: list[int], sel: list[bool]) -> tuple[float, int]:
    chosen = [s for s, keep in zip(scores, sel, strict=True) if keep]
    if not chosen:
        return 0.0, 0
    return sum(s >= THRESHOLD for s in chosen) / len(chosen), len(chosen)


def calibrate(items: list[EvalItem], net: np.ndarray, base: np.ndarray) -> float:
    """The shift (a multiple of SHIFT_STEP): the largest at which the out-of-fold
    false alarms at the threshold, on sports/business/tech items and on all everyday
    news, stay within TARGET_FALSE_ALARMS. A larger shift raises every score, so
    this is the most conflict news the alerts can carry within that limit; when it
    is less than TARGET_RECALL of the conflict headlines and short items, the
    targets cannot both be met and the script says so."""
    sbt = [it.label == "neutral" and it.topic in FIGURATIVE_TOPICS for it in items]
    everyday = [it.label == "neutral" for it in items]
    short = [it.label == "conflict" and it.kind in ("headline", "short") for it in items]
    within: float | None = None
    recall = 0.0
    for k in range(-round(SHIFT_RANGE / SHIFT_STEP), round(SHIFT_RANGE / SHIFT_STEP) + 1):
        shift = k * SHIFT_STEP
        scores = [probability_score(b + shift, n) if n > 0 else 0
                  for n, b in zip(net, base, strict=True)]
        if max(share_at(scores, sbt)[0], share_at(scores, everyday)[0]) > TARGET_FALSE_ALARMS:
            break
        within, recall = shift, share_at(scores, short)[0]
    if within is None:
        within = -SHIFT_RANGE
        print(f"warning: even at shift {within:.2f} more than {TARGET_FALSE_ALARMS:.1%} of "
              "the everyday news items reach the threshold", file=sys.stderr)
    elif recall < TARGET_RECALL:
        print(f"warning: at shift {within:.2f} only {recall:.3f} of the conflict headlines "
              f"and short items reach {THRESHOLD} (target {TARGET_RECALL})", file=sys.stderr)
    return within


def report(items: list[EvalItem], scores: list[int]) -> None:
    cc = [(it, s) for it, s in zip(items, scores, strict=True) if it.label != "neutral"]
    for kind in (None, "sentence", "headline", "short", "article"):
        sel = [(it, s) for it, s in cc if kind is None or it.kind == kind]
        auc = roc_auc([s for _, s in sel], [it.label == "conflict" for it, _ in sel])
        print(f"  ROC AUC {kind or 'all':9s} {auc:.3f} ({len(sel)} items)")
    rows = [
        ("conflict headline+short", lambda it: it.label == "conflict"
         and it.kind in ("headline", "short")),
        ("conflict sentence", lambda it: it.label == "conflict" and it.kind == "sentence"),
        ("conflict article", lambda it: it.label == "conflict" and it.kind == "article"),
        ("cooperation", lambda it: it.label == "cooperation"),
        ("neutral", lambda it: it.label == "neutral"),
        ("sports/business/tech", lambda it: it.label == "neutral"
         and it.topic in FIGURATIVE_TOPICS),
    ]
    for name, pick in rows:
        share, n = share_at(scores, [pick(it) for it in items])
        print(f"  >= {THRESHOLD} {name:24s} {share:.3f} (n={n})")


def build(data: Path | None) -> dict[str, Any]:
    items = dev_items(data)
    keys, X = matrix(items)
    y = np.array([it.label == "conflict" for it in items], dtype=float)
    texts = [f"{it.title} {it.text}" for it in items]
    leads = [lead_text({"title": it.title, "summary": it.text}) for it in items]
    strata = [f"{it.label}-{it.kind}" for it in items]
    net, base = out_of_fold(X, y, strata, items, texts, leads)
    shift = calibrate(items, net, base)
    print(f"dev part: {len(items)} items, {len(keys)} evidence groups; shift {shift:.2f}")
    print("out of fold (development estimate):")
    report(items, [probability_score(b + shift, n) if n > 0 else 0
                   for n, b in zip(net, base, strict=True)])
    words = context_fit(items, texts)
    wording = wording_fit(items, leads)
    w, b = fit_wording(np.column_stack([X, context_oof(items, texts, strata)]),
                       wording_oof(items, leads, strata) * (np.abs(X).sum(axis=1) > 0), y)
    coef = {k: round(float(v), 4)
            for k, v in zip([*keys, CONTEXT_GROUP, WORDING_GROUP], w, strict=True)}
    plain = sorted(v for k, v in coef.items()
                   if k not in (FIGURATIVE_GROUP, CONTEXT_GROUP, WORDING_GROUP))
    return {
        "version": "tm3-dev",
        "intercept": round(b, 4),
        "shift": round(shift, 4),
        "default": round(plain[len(plain) // 2], 4) if plain else 0.0,
        "coef": coef,
        "context": {"words": dict(sorted(words.items()))},
        "wording": {"words": dict(sorted(wording.items()))},
    }


def same(a: dict[str, Any], b: dict[str, Any], tol: float = 0.02) -> bool:
    """Whether two models agree within ``tol`` in every number (a context word missing
    from one counts 0 there)."""
    if set(a["coef"]) != set(b.get("coef", {})):
        return False
    pairs = [(a[k], b.get(k)) for k in ("intercept", "shift", "default")]
    pairs += [(v, b["coef"][k]) for k, v in a["coef"].items()]
    for part in ("context", "wording"):
        wa, wb = a[part]["words"], (b.get(part) or {}).get("words") or {}
        pairs += [(wa.get(k, 0.0), wb.get(k, 0.0)) for k in set(wa) | set(wb)]
    return all(isinstance(y, int | float) and math.isclose(x, y, abs_tol=tol) for x, y in pairs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                    help="the shared data folder (feed items of the dev part)")
    ap.add_argument("--check", action="store_true",
                    help="compare with the shipped model instead of writing it")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    data = args.data if args.data.is_dir() else None
    if data is None:
        print(f"note: {args.data} not found: training without the dev part's feed items",
              file=sys.stderr)
    model = build(data)
    if args.check:
        shipped = yaml.safe_load(args.out.read_text("utf-8"))
        if not same(model, shipped):
            print(f"{args.out} differs from what the dev part gives: rebuild it with "
                  "scripts/train_tension.py", file=sys.stderr)
            return 1
        print(f"{args.out} matches the dev part")
        return 0
    args.out.write_text(HEADER + yaml.safe_dump(model, sort_keys=False), "utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
