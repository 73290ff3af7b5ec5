"""Hostile input on the analysis side: every case here finishes within its budget and
keeps its output bounded (docs/security.md, "Analysis")."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import tracemalloc

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsmon.analysis.text import SNIPPET_CHARS, html_to_text, shorten, snippet
from newsmon.cli import MAX_LINE_BYTES, _read_jsonl
from newsmon.records import (
    MAX_DEAD_LETTER_ORIGINAL,
    MAX_ENTITIES,
    MAX_EVIDENCE,
    MAX_RECORD_BYTES,
    DeadLetter,
    RawArticle,
    RecordError,
    fit_enriched,
)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("markup", [
    "<a " * 20_000,        # unclosed tags
    "<!--" * 40_000,       # comment openers
    "<![CDATA[" * 40_000,
    "<a b='" * 20_000,     # unclosed attribute values
    "<div>" * 100_000,     # deep nesting
    "&lt;!--" * 100_000,   # escaped comment openers: plain text after decoding
], ids=["a", "comment", "cdata", "attr", "nested", "escaped"])
def test_html_to_text_is_linear_on_hostile_markup(markup: str) -> None:
    t0 = time.perf_counter()
    html_to_text(markup)
    assert time.perf_counter() - t0 < 2.0


def test_html_to_text_keeps_paragraphs_and_drops_scripts() -> None:
    text = html_to_text("<p>Tanks &amp; troops</p><script>alert(1)</script><p>moved <b>in</b></p>")
    assert text == "Tanks & troops\n\nmoved in"
    assert html_to_text("<!-- only a comment -->") == ""
    assert html_to_text("a < b & c") == "a < b & c"


def test_shorten_cuts_at_a_word_edge() -> None:
    assert shorten("short text") == "short text"
    long = "shelling " * 100
    out = shorten(long)
    assert len(out) <= SNIPPET_CHARS and out.endswith("shelling…")
    assert len(shorten("x" * 1000)) == SNIPPET_CHARS


def test_snippet_is_bounded_and_centred_on_the_match() -> None:
    text = ("word " * 5_000) + "troops massed " + ("word " * 5_000)
    m0 = text.index("troops")
    out = snippet(text, (0, len(text)), (m0, m0 + len("troops massed")))
    assert len(out) <= SNIPPET_CHARS
    assert "troops massed" in out
    assert out.startswith("…") and out.endswith("…")
    short = "Troops massed at the border."
    assert snippet(short, (0, len(short)), (0, 6)) == short


@pytest.mark.timeout(120)
def test_text_without_sentence_breaks_gives_a_bounded_record() -> None:
    """200,000 characters with no sentence break and a conflict phrase every few words:
    the record stays under MAX_RECORD_BYTES and analysis under a memory budget."""
    from newsmon.analysis.pipeline import Analyzer

    body = " ".join(["troops attacked the town and shelling killed civilians"] * 4_000)
    assert len(body) > 200_000
    analyzer = Analyzer()
    raw = RawArticle(id="x", title="Shelling", content=body)
    tracemalloc.start()
    try:
        record = analyzer.enrich(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = len(orjson.dumps(record))
    assert size <= MAX_RECORD_BYTES
    assert len(record["tension"]["evidence"]) <= MAX_EVIDENCE
    assert record["tension"]["evidence_total"] > MAX_EVIDENCE
    assert all(len(e["sentence"]) <= SNIPPET_CHARS for e in record["tension"]["evidence"])
    assert peak < 200 * 1024 * 1024


def test_fit_enriched_bounds_lists_and_keeps_the_strongest() -> None:
    evidence = [{"phrase": f"p{i}", "weight": float(i % 7), "negated": i % 3 == 0,
                 "sentence": "s" * 300} for i in range(1_000)]
    entities = [{"text": f"E{i}", "count": i, "surface_forms": [f"E{i}"] * 20}
                for i in range(5_000)]
    record = fit_enriched({"title": "t", "summary": "x" * 50_000, "entities": entities,
                           "tension": {"evidence": evidence}})
    assert len(orjson.dumps(record)) <= MAX_RECORD_BYTES
    assert record["entities_total"] == 5_000
    assert record["tension"]["evidence_total"] == 1_000
    assert len(record["entities"]) <= MAX_ENTITIES
    assert len(record["tension"]["evidence"]) <= MAX_EVIDENCE
    assert not any(e["negated"] for e in record["tension"]["evidence"])
    assert {e["text"] for e in record["entities"]} >= {"E4999"}


def test_fit_enriched_keeps_the_evidence_the_score_is_made_of() -> None:
    # a weak phrase carrying many points (the item's wording) outranks strong phrases
    # carrying few
    evidence = [{"phrase": f"p{i}", "weight": 5.0, "points": 0.5} for i in range(60)]
    evidence.append({"phrase": "wording", "weight": 0.8, "points": 9.0})
    record = fit_enriched({"title": "t", "tension": {"evidence": evidence}})
    kept = [e["phrase"] for e in record["tension"]["evidence"]]
    assert len(kept) == MAX_EVIDENCE and "wording" in kept


def test_fit_enriched_refuses_what_cannot_be_shortened() -> None:
    with pytest.raises(RecordError, match="exceeds"):
        fit_enriched({"url": "u" * (MAX_RECORD_BYTES + 1)})


def test_dead_letter_keeps_a_bounded_original() -> None:
    big = b"x" * (MAX_DEAD_LETTER_ORIGINAL * 2)
    rec = DeadLetter(stage="enrich", error="e", error_type="RecordError", original=big).to_dict()
    assert rec["original_truncated"] is True
    assert len(rec["original_b64"]) <= MAX_DEAD_LETTER_ORIGINAL * 4 // 3 + 4


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30))
def test_read_jsonl_gives_one_item_per_line(lines: list[bytes]) -> None:
    items = list(_read_jsonl(io.BytesIO(b"".join(line + b"\n" for line in lines))))
    assert len(items) == len(lines)


def test_read_jsonl_skips_an_overlong_line_and_goes_on() -> None:
    data = b"x" * (MAX_LINE_BYTES + 10) + b"\n" + b'{"title": "ok"}\n'
    items = list(_read_jsonl(io.BytesIO(data)))
    assert len(items) == 2
    assert isinstance(items[0], ValueError)
    assert items[1] == {"title": "ok"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["file", "stdin"])
def test_analyze_keeps_one_output_line_per_input_line(via: str, tmp_path: object) -> None:
    data = (b'{"title": "Troops mass at the border"}\n\n\xff\xfe bad bytes\n'
            b'   \nnot json\n{"title": "Talks resume"}\n')
    args = [sys.executable, "-m", "newsmon.cli", "analyze"]
    if via == "file":
        path = tmp_path / "in.jsonl"  # type: ignore[operator]
        path.write_bytes(data)
        proc = subprocess.run([*args, str(path)], capture_output=True, timeout=110)
    else:
        proc = subprocess.run(args, input=data, capture_output=True, timeout=110)
    out = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 6, proc.stderr.decode()
    assert [o.get("line") for o in out] == [None, 2, 3, 4, 5, None]
    assert out[0]["title"] == "Troops mass at the border"
    assert out[5]["title"] == "Talks resume"
    assert proc.returncode == 1
