"""The tension section of ``newsmon eval``.

Two corpora:

* the labelled evaluation corpus (``newsmon/data/eval/<part>/*.jsonl``, read by
  ``newsmon.analysis.evalcorpus.load_items``): for its ``dev`` and ``test`` parts
  separately, ROC AUC conflict vs cooperation (overall and per kind), the share of
  conflict items at or above the default alert threshold for short items
  (headline and short kinds) and for articles, and the false-alarm share (at or
  above the threshold) on neutral items, overall and on sports/business/tech;
* the older paragraph set (``newsmon/data/tension_devset.tsv``): rows reference
  real paragraphs in the shared data folder by page key and paragraph index; the
  text is read from there at run time, never copied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from newsmon.analysis.tension import load_lexicon, score_tension

LABELS = ("conflictual", "cooperative", "neutral")
THRESHOLD = 60  # the default alert threshold (newsmon.rules)
FIGURATIVE_TOPICS = frozenset({"sports", "business", "tech"})


@dataclass(frozen=True, slots=True)
class DevItem:
    key: str
    paragraph: int
    label: str
    text: str


def paragraphs(body: str) -> list[str]:
    """A page's paragraphs as the dev set counts them: lines longer than 120 characters."""
    return [p for p in body.split("\n") if len(p) > 120]


@cache
def _truth(path: Path) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(path.read_text("utf-8"))
    return data


def load_devset(data: Path) -> list[DevItem]:
    truth = _truth(data / "pages/article-extraction-benchmark/ground-truth.json")
    text = resources.files("newsmon").joinpath("data/tension_devset.tsv").read_text("utf-8")
    items = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        source, key, para, label = line.split("\t")
        if source != "page" or label not in LABELS:
            raise ValueError(f"tension_devset.tsv: bad row {line!r}")
        items.append(DevItem(key, int(para), label,
                             paragraphs(truth[key]["articleBody"])[int(para)]))
    return items


def eval_tension(data: Path) -> list[tuple[str, str, str]]:
    rows = []
    for part in ("dev", "test"):
        rows += eval_corpus(part, data)
    return rows + eval_paragraphs(data)


def eval_corpus(part: str, data: Path | None) -> list[tuple[str, str, str]]:
    """The figures of one part of the labelled corpus (see the module docstring)."""
    from newsmon.analysis.evalcorpus import load_items

    try:
        items = load_items(part, data)
    except FileNotFoundError:
        items = []
    if not items:
        return [(f"tension {part}: labelled corpus", "-", "no items")]
    lexicon = load_lexicon()
    scores = [score_tension(lexicon, {"title": it.title, "content": it.text}).score
              for it in items]
    pairs = list(zip(items, scores, strict=True))
    # the tension model was fitted on the dev part: its figures there are in-sample
    # (scripts/train_tension.py prints the out-of-fold ones)
    where = (f"{part} part of the labelled corpus"
             + (" (the model was fitted on it)" if part == "dev" else ""))
    out = []
    for name, kinds in (("all", None), ("sentence", {"sentence"}), ("headline", {"headline"}),
                        ("short", {"short"}), ("article", {"article"})):
        sel = [(it, s) for it, s in pairs if kinds is None or it.kind in kinds]
        out.append((f"tension {part}: ROC AUC conflict vs cooperation, {name}", _auc(sel),
                    where))
    conflict = [(it, s) for it, s in pairs if it.label == "conflict"]
    out.append((f"tension {part}: conflict items >= {THRESHOLD}, headline and short",
                _share([s for it, s in conflict if it.kind in ("headline", "short")]), where))
    out.append((f"tension {part}: conflict items >= {THRESHOLD}, articles",
                _share([s for it, s in conflict if it.kind == "article"]), where))
    neutral = [(it, s) for it, s in pairs if it.label == "neutral"]
    out.append((f"tension {part}: false alarms (neutral >= {THRESHOLD})",
                _share([s for _, s in neutral]), where))
    out.append((f"tension {part}: false alarms, sports/business/tech",
                _share([s for it, s in neutral if it.topic in FIGURATIVE_TOPICS]), where))
    return out


def _auc(pairs: Sequence[tuple[Any, int]]) -> str:
    from newsmon.evaluation import roc_auc

    cc = [(it, s) for it, s in pairs if it.label in ("conflict", "cooperation")]
    npos = sum(it.label == "conflict" for it, _ in cc)
    if not npos or npos == len(cc):
        return "-"
    auc = roc_auc([s for _, s in cc], [it.label == "conflict" for it, _ in cc])
    return f"{auc:.3f} ({npos} conflict / {len(cc) - npos} cooperation)"


def _share(scores: Sequence[int]) -> str:
    if not scores:
        return "-"
    hits = sum(s >= THRESHOLD for s in scores)
    return f"{hits / len(scores):.3f} ({hits}/{len(scores)})"


def eval_paragraphs(data: Path) -> list[tuple[str, str, str]]:
    from newsmon.evaluation import roc_auc

    items = load_devset(data)
    lexicon = load_lexicon()
    scores = [score_tension(lexicon, {"content": it.text}).score for it in items]
    auc = roc_auc(scores, [it.label == "conflictual" for it in items])
    means = []
    for label in LABELS:
        s = [sc for sc, it in zip(scores, items, strict=True) if it.label == label]
        means.append(f"{label} {sum(s) / len(s):.1f} (n={len(s)})" if s else f"{label} -")
    return [
        ("tension paragraphs: ROC AUC conflictual vs rest", f"{auc:.3f}",
         f"{len(items)} labelled real paragraphs (tension_devset.tsv)"),
        ("tension paragraphs: mean score per label", "; ".join(means), "same set"),
    ]
