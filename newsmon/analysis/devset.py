"""The labelled tension development set (``newsmon/data/tension_devset.tsv``).

Rows reference real paragraphs in the shared data folder by page key and
paragraph index; the text is read from there at run time, never copied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from newsmon.analysis.tension import load_lexicon, score_tension

LABELS = ("conflictual", "cooperative", "neutral")


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
        ("tension: ROC AUC conflictual vs rest", f"{auc:.3f}",
         f"{len(items)} labelled real paragraphs"),
        ("tension: mean score per label", "; ".join(means), "same set"),
    ]
