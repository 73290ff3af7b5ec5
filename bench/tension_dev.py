"""Tension score on the development part of the labelled corpus, read in place.

Reads the development part of the labelled corpus (``newsmon/data/eval/dev``, through
``newsmon.analysis.evalcorpus``), never the test part, scores every item and prints
ROC AUC conflict vs cooperation (overall and per kind), the share of conflict items at or above the
alert threshold for short items (headline, short) and articles, and false
alarms (>= threshold) on neutral items. ``--show`` lists the misses.

    .venv/bin/python -m bench.tension_dev [--show]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from newsmon.analysis.tension import load_lexicon, score_tension
from newsmon.evaluation import roc_auc

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
THRESHOLD = 60
FIGURATIVE_TOPICS = ("sports", "business", "tech")


def load() -> list[dict[str, Any]]:
    """The dev part of the labelled corpus (feed references resolved when the shared
    data folder is there); never the test part."""
    from newsmon.analysis.evalcorpus import load_items

    return [asdict(it) for it in load_items("dev", DATA if DATA.is_dir() else None)]


def figures(rows: list[dict[str, Any]], scores: list[int]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pairs = list(zip(rows, scores, strict=True))

    def auc(sel: list[tuple[dict[str, Any], int]]) -> str:
        cc = [(r, s) for r, s in sel if r["label"] in ("conflict", "cooperation")]
        n1 = sum(r["label"] == "conflict" for r, _ in cc)
        if not n1 or n1 == len(cc):
            return "-"
        return (f"{roc_auc([s for _, s in cc], [r['label'] == 'conflict' for r, _ in cc]):.3f}"
                f" ({n1}/{len(cc) - n1})")

    out.append(("AUC conflict vs cooperation, all", auc(pairs)))
    for kind in ("sentence", "headline", "short", "article"):
        out.append((f"AUC {kind}", auc([p for p in pairs if p[0]["kind"] == kind])))

    def share(sel: list[int]) -> str:
        if not sel:
            return "-"
        return f"{sum(s >= THRESHOLD for s in sel) / len(sel):.3f} (n={len(sel)})"

    conf = [(r, s) for r, s in pairs if r["label"] == "conflict"]
    out.append(("conflict >= 60, headline+short",
                share([s for r, s in conf if r["kind"] in ("headline", "short")])))
    out.append(("conflict >= 60, sentence", share([s for r, s in conf if r["kind"] == "sentence"])))
    out.append(("conflict >= 60, article", share([s for r, s in conf if r["kind"] == "article"])))
    out.append(("conflict >= 60, feed", share([s for r, s in conf if r.get("source") == "feed"])))
    neu = [(r, s) for r, s in pairs if r["label"] == "neutral"]
    out.append(("neutral >= 60 (false alarms)", share([s for _, s in neu])))
    out.append(("sports/business/tech >= 60",
                share([s for r, s in neu if r.get("topic") in FIGURATIVE_TOPICS])))
    coop = [s for r, s in pairs if r["label"] == "cooperation"]
    out.append(("cooperation >= 60", share(coop)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args(argv)
    rows = load()
    if not rows:
        print("no dev items found", file=sys.stderr)
        return 1
    lex = load_lexicon()
    t0 = time.perf_counter()
    results = [score_tension(lex, {"title": r.get("title", ""), "content": r.get("text", "")})
               for r in rows]
    dt = time.perf_counter() - t0
    scores = [r.score for r in results]
    for name, value in figures(rows, scores):
        print(f"{name:40s} {value}")
    print(f"{len(rows)} dev items scored in {dt:.2f} s")
    if args.show:
        for r, res in zip(rows, results, strict=True):
            bad = ((r["label"] == "conflict" and res.score < THRESHOLD)
                   or (r["label"] != "conflict" and res.score >= THRESHOLD))
            if bad:
                ev = ", ".join(f"{e.matched}:{e.weight:g}{'N' if e.negated else ''}"
                               for e in res.evidence[:8])
                print(f"{res.score:3d} {r['label'][:4]} {r['kind'][:4]} {r.get('topic', '')[:8]:8s}"
                      f" {(r.get('title') or r.get('text', ''))[:90]!r} [{ev}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
