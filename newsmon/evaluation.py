"""``newsmon eval``: the quality and speed figures of the analysis, in one table.

Reads the reference data from a ``shared`` data folder (default
``../shared/data`` from the project root); nothing from it is copied into the
project. Sections:

* entities: document-level precision/recall/F1, strict and relaxed
  (:func:`prf`, :func:`prf_relaxed`), per part (dev for tuning, test held out)
  and data set (wikigold, PER/ORG/LOC; the written news items of
  ``newsmon.analysis.evalcorpus`` when it is installed), and articles/s on the
  article-extraction benchmark's full texts, for newsmon's extractor and for
  spaCy's small model as shipped on the full text (and, for speed only, its NER
  alone), timed in turn in one run;
* near-duplicates: copy recall (per overlap band and per transform) and
  false-duplicate rate (per group of distinct-story pairs, hard negatives
  included) on a syndication set built from the benchmark texts, for the
  dev and the test part (``newsmon.analysis.syndication``);
* tension: see ``newsmon.analysis.devset``: ROC AUC conflict vs cooperation,
  alert-threshold shares and false alarms on the labelled corpus (dev and test
  parts reported separately), and the older paragraph set's AUC.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TYPES = {"PER": "PERSON", "ORG": "ORG", "LOC": "LOCATION"}


@dataclass(frozen=True, slots=True)
class GoldDoc:
    text: str
    entities: frozenset[tuple[str, str]]  # (type, surface)


def _detok(tokens: Sequence[str]) -> tuple[str, list[int]]:
    """Join tokens into text, returning the start offset of each token."""
    out: list[str] = []
    starts: list[int] = []
    pos = 0
    for i, tok in enumerate(tokens):
        glue = i > 0 and not (tok in ",.;:!?)]}%'" or tok.startswith("'")
                              or (i > 0 and tokens[i - 1] in "([{$"))
        if glue:
            out.append(" ")
            pos += 1
        starts.append(pos)
        out.append(tok)
        pos += len(tok)
    return "".join(out), starts


def load_wikigold(path: Path) -> list[GoldDoc]:
    """CoNLL (IO tags, ``-DOCSTART-`` between documents) -> texts and gold entity sets."""
    docs: list[GoldDoc] = []
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if not tokens:
            return
        text, starts = _detok(tokens)
        ents: set[tuple[str, str]] = set()
        i = 0
        while i < len(tokens):
            tag = tags[i].split("-")[-1]
            if tag in _TYPES:
                j = i
                while j + 1 < len(tokens) and tags[j + 1].split("-")[-1] == tag:
                    j += 1
                ents.add((_TYPES[tag], text[starts[i]:starts[j] + len(tokens[j])]))
                i = j + 1
            else:
                i += 1
        docs.append(GoldDoc(text, frozenset(ents)))
        tokens.clear()
        tags.clear()

    for line in path.read_text("utf-8").splitlines():
        if line.startswith("-DOCSTART-"):
            flush()
            continue
        parts = line.split()
        if len(parts) >= 2:
            tokens.append(parts[0])
            tags.append(parts[-1])
    flush()
    return docs


def prf(pred: Sequence[set[tuple[str, str]]], gold: Sequence[frozenset[tuple[str, str]]]
        ) -> tuple[float, float, float]:
    """Strict document-level precision/recall/F1: a (type, surface) pair counts when the
    gold set of its document holds exactly that pair."""
    tp = sum(len(p & g) for p, g in zip(pred, gold, strict=True))
    npred = sum(len(p) for p in pred)
    ngold = sum(len(g) for g in gold)
    return _f1(tp, npred, tp, ngold)


def _f1(hit_pred: int, npred: int, hit_gold: int, ngold: int) -> tuple[float, float, float]:
    precision = hit_pred / npred if npred else 0.0
    recall = hit_gold / ngold if ngold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


_WORD = re.compile(r"\w+")


def _words(surface: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(surface.replace(".", "")))


def _contains(big: tuple[str, ...], small: tuple[str, ...]) -> bool:
    n = len(small)
    return n > 0 and any(big[i:i + n] == small for i in range(len(big) - n + 1))


def relaxed_match(a: str, b: str) -> bool:
    """Do two surfaces name the same thing, loosely: one's words (case-folded, punctuation
    ignored) are a contiguous run of the other's ("Blinken" / "Antony Blinken", "the
    Kremlin" / "Kremlin", "U.S." / "US")."""
    wa, wb = _words(a), _words(b)
    return _contains(wa, wb) if len(wa) >= len(wb) else _contains(wb, wa)


def prf_relaxed(pred: Sequence[set[tuple[str, str]]],
                gold: Sequence[frozenset[tuple[str, str]]]) -> tuple[float, float, float]:
    """Relaxed document-level precision/recall/F1: a predicted pair is right when its
    document's gold set has a pair of the same type whose surface contains it or is
    contained in it (:func:`relaxed_match`); recall counts the gold pairs that some
    predicted pair matches that way. Each side is counted on its own, so two predicted
    pieces of one gold name both count as right."""
    hit_pred = hit_gold = 0
    for p, g in zip(pred, gold, strict=True):
        hit_pred += sum(any(t == gt and relaxed_match(s, gs) for gt, gs in g) for t, s in p)
        hit_gold += sum(any(t == pt and relaxed_match(s, ps) for pt, ps in p) for t, s in g)
    return _f1(hit_pred, sum(len(p) for p in pred), hit_gold, sum(len(g) for g in gold))


def predicted_sets(finder: Any, texts: Sequence[str]) -> list[set[tuple[str, str]]]:
    """Document-level (type, surface) sets of newsmon's PERSON, ORG and LOCATION mentions."""
    from newsmon.analysis.entities import type_mentions

    out = []
    for mentions in finder.find(texts):
        out.append({(m.type, m.surface) for m in type_mentions(mentions)
                    if m.type in ("PERSON", "ORG", "LOCATION")})
    return out


_SPACY_TYPES = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "LOCATION", "LOC": "LOCATION"}


class SpacyBaseline:
    """spaCy's small English model as shipped (every component) on the full text; its
    PERSON, ORG, GPE and LOC spans as PERSON, ORG, LOCATION, with a leading "the" and a
    trailing possessive taken off as the gold data leaves them out."""

    def __init__(self) -> None:
        import spacy

        from newsmon.analysis.entities import MODEL_NAMES

        errors = []
        for name in MODEL_NAMES:
            try:
                self.nlp = spacy.load(name)
                return
            except OSError as exc:
                errors.append(f"{name}: {exc}")
        raise RuntimeError("no spaCy English model installed; tried " + "; ".join(errors))

    def find(self, texts: Sequence[str]) -> list[set[tuple[str, str]]]:
        from newsmon.analysis.entities import clean_surface

        out = []
        for doc in self.nlp.pipe(texts, batch_size=16):
            out.append({(_SPACY_TYPES[e.label_], s) for e in doc.ents
                        if e.label_ in _SPACY_TYPES and (s := clean_surface(e.text))})
        return out


def benchmark_texts(data: Path) -> list[str]:
    truth = json.loads((data / "pages/article-extraction-benchmark/ground-truth.json")
                       .read_text("utf-8"))
    return [v["articleBody"] for v in truth.values() if v.get("articleBody")]


def benchmark_articles(data: Path) -> dict[str, tuple[str, str]]:
    """The benchmark's texts by key, with their site: key -> (host, body)."""
    from urllib.parse import urlparse

    truth = json.loads((data / "pages/article-extraction-benchmark/ground-truth.json")
                       .read_text("utf-8"))
    return {k: (urlparse(v.get("url", "")).netloc, v["articleBody"])
            for k, v in truth.items() if v.get("articleBody")}


TEST_PERCENT = 35


def wikigold_part(doc_index: int) -> str:
    """``"test"`` for about 35 % of wikigold's documents (by a hash of their index in the
    file), else ``"dev"``: tune on dev, report test."""
    bucket = int(hashlib.sha256(str(doc_index).encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket < TEST_PERCENT else "dev"


def gold_sets(data: Path, part: str) -> list[tuple[str, list[GoldDoc]]]:
    """The labelled documents of one part, per data set: wikigold, and the written news
    items (kinds "short" and "article", title and text joined as the pipeline joins
    them; ``newsmon.analysis.evalcorpus``)."""
    from newsmon.analysis.evalcorpus import load_items

    wiki = load_wikigold(data / "ner/wikigold/wikigold.conll.txt")
    out = [("wikigold", [d for i, d in enumerate(wiki) if wikigold_part(i) == part])]
    news = [GoldDoc("\n\n".join(x for x in (it.title, it.text) if x),
                    frozenset((t, s) for t, s in it.entities if t in _TYPES.values()))
            for it in load_items(part, data) if it.kind in ("short", "article")]
    if news:
        out.append(("written news", news))
    return out


def rates(runs: Sequence[Callable[[Sequence[str]], object]], texts: Sequence[str],
          rounds: int = 3) -> tuple[list[float], list[float]]:
    """Articles/s of each run over ``texts`` (median of ``rounds``), and of each its
    speed relative to the last one (median of the per-round ratios). The runs take turns
    within each round, so load from other processes hits them alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for k, run in enumerate(runs):
            t0 = time.perf_counter()
            run(texts)
            times[k].append(time.perf_counter() - t0)
    base = times[-1]
    return ([len(texts) / statistics.median(t) for t in times],
            [statistics.median(b / x for b, x in zip(base, t, strict=True)) for t in times])


def eval_entities(data: Path, parts: Sequence[str] = ("dev", "test")
                  ) -> list[tuple[str, str, str]]:
    """Entity quality per part and data set (strict and relaxed P/R/F1) and speed, for
    newsmon's extractor and for spaCy's small model as shipped run on the full text."""
    from newsmon.analysis.entities import SpacyMentionFinder

    runs: tuple[tuple[str, Callable[[Sequence[str]], list[set[tuple[str, str]]]]], ...] = (
        ("newsmon", functools.partial(predicted_sets, SpacyMentionFinder())),
        ("spaCy small, full text", SpacyBaseline().find))
    rows = []
    for part in parts:
        for corpus, gold in gold_sets(data, part):
            truth = [d.entities for d in gold]
            for name, run in runs:
                pred = run([d.text for d in gold])
                s, r = prf(pred, truth), prf_relaxed(pred, truth)
                rows.append((f"entities {part}, {corpus}: {name}",
                             f"strict P {s[0]:.3f} R {s[1]:.3f} F1 {s[2]:.3f}; "
                             f"relaxed P {r[0]:.3f} R {r[1]:.3f} F1 {r[2]:.3f}",
                             f"{len(gold)} docs, {sum(len(t) for t in truth)} gold entities"))
    texts = benchmark_texts(data)
    # Speed also for the model's NER alone on the full text (tagger, parser and the
    # unheard tok2vec removed, as newsmon loads it): same spans as shipped, so no
    # quality rows of its own.
    timed = (runs[0], ("spaCy small NER alone, full text", functools.partial(
        predicted_sets, SpacyMentionFinder(lead_chars=None, reload_growth=0))), runs[1])
    for _, run in timed:
        run(texts[:5])  # warm up
    per_s, ratio = rates([run for _, run in timed], texts)
    for (name, _), a, x in zip(timed, per_s, ratio, strict=True):
        rows.append((f"entities speed: {name}",
                     f"{a:.1f} articles/s (median of 3); {x:.2f}x spaCy small as shipped",
                     f"{len(texts)} full-text benchmark articles, 1 process, interleaved"))
    return rows


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    if not pos or not neg:
        return float("nan")
    wins = 0.0
    for a in pos:
        for b in neg:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (len(pos) * len(neg))


def iter_rows(data: Path, sections: Sequence[str]) -> Iterator[tuple[str, str, str]]:
    if "entities" in sections:
        yield from eval_entities(data)
    if "neardup" in sections:
        from newsmon.analysis.neardup import eval_syndication

        yield from eval_syndication(benchmark_articles(data))
    if "tension" in sections:
        from newsmon.analysis.devset import eval_tension

        yield from eval_tension(data)


def render(rows: Sequence[tuple[str, str, str]]) -> str:
    lines = ["| measure | result | corpus |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


