"""Near-duplicate signature time per 600-word article: this checkout's
``signature`` + ``band_keys``, and optionally another revision's, in one process.

    .venv/bin/python -m bench.neardup_speed [--data ../shared/data] [--before REV]

The articles are 200 consecutive 600-word windows of the article-extraction benchmark's
texts. ``--before REV`` loads ``newsmon/analysis/neardup.py`` as it is at git revision
``REV`` (``git show``) and times it on the same articles, alternating with this one, so a
busy machine slows both alike. Prints the median of 5 runs of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from newsmon.analysis import neardup

ROOT = Path(__file__).resolve().parents[1]


def articles(data: Path, n: int = 200, words: int = 600) -> list[str]:
    truth = json.loads((data / "pages/article-extraction-benchmark/ground-truth.json")
                       .read_text("utf-8"))
    stream = " ".join(v["articleBody"] for v in truth.values()).split()
    return [" ".join(stream[i:i + words]) for i in range(0, n * words, words)]


def load_revision(rev: str) -> ModuleType:
    source = subprocess.run(["git", "show", f"{rev}:newsmon/analysis/neardup.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"neardup_{rev}.py"
    path.write_text(source, "utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def per_article_ms(module: ModuleType, texts: list[str]) -> float:
    t0 = time.perf_counter()
    for text in texts:
        module.band_keys(module.signature(text))
    return (time.perf_counter() - t0) / len(texts) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--before", help="a git revision to time too")
    args = ap.parse_args()
    texts = articles(args.data)
    modules = {"this checkout": neardup}
    if args.before:
        modules = {f"at {args.before}": load_revision(args.before), **modules}
    runs: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(5):
        for name, module in modules.items():
            runs[name].append(per_article_ms(module, texts))
    for name, times in runs.items():
        print(f"{name}: signature + band keys {statistics.median(times):.2f} ms per "
              f"600-word article (median of 5 runs over {len(texts)} articles; "
              f"{len(modules[name].band_keys(modules[name].signature(texts[0])))} keys)")


if __name__ == "__main__":
    main()
