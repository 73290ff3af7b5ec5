"""Plain text from untrusted feed HTML, and sentence spans."""

from __future__ import annotations

import html
import re

from lxml import etree

_BLOCK_TAGS = frozenset({"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                         "blockquote", "section", "article", "tr", "table", "figure", "pre"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "svg", "head"})
_URL = re.compile(r"https?://\S+")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_NEWLINES = re.compile(r"\s*\n\s*(?:\n\s*)+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# libxml2's HTML parser (through lxml) reads hostile markup in linear time: 20,000
# unclosed "<a " or 40,000 "<!--" take a few milliseconds (tests/unit/test_hostile.py).
_PARSER = etree.HTMLParser(recover=True, no_network=True, remove_comments=True,
                           remove_pis=True, remove_blank_text=False, encoding="utf-8")
#: Markup longer than this is cut before parsing (characters); the text that analysis
#: reads is capped again afterwards (``newsmon.analysis.pipeline.MAX_TEXT_CHARS``).
MAX_MARKUP_CHARS = 1_000_000


def _walk_text(root: etree._Element) -> str:
    parts: list[str] = []
    skip = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _SKIP_TAGS:
                skip += 1
            elif tag in _BLOCK_TAGS:
                parts.append("\n\n")
            if not skip and el.text:
                parts.append(el.text)
        else:
            if tag in _SKIP_TAGS:
                skip = max(0, skip - 1)
            elif tag in _BLOCK_TAGS:
                parts.append("\n\n")
            if not skip and el.tail and el is not root:
                parts.append(el.tail)
    return "".join(parts)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, paragraphs separated by blank lines.

    Plain text passes through (entities decoded). Markup is parsed by libxml2, whose
    time is linear in the input; input past :data:`MAX_MARKUP_CHARS` is cut first.
    Never raises.
    """
    if not markup:
        return ""
    markup = _CONTROL.sub(" ", markup[:MAX_MARKUP_CHARS])
    if "<" not in markup:
        return normalize_text(html.unescape(markup))
    try:
        root = etree.fromstring(markup.encode("utf-8", "replace"), _PARSER)
    except (etree.LxmlError, ValueError):
        root = None
    if root is None:  # nothing but tags, comments or whitespace
        return ""
    return normalize_text(_walk_text(root))


def normalize_text(text: str) -> str:
    text = _CONTROL.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


_SENT_END = re.compile(r"(?<=[.!?…])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n+")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Gen|Col|Lt|Sgt|Capt|Rep|Sen|Gov|St|Jr|Sr|Inc|Ltd|"
                     r"Co|Corp|U\.S|U\.K|U\.N|E\.U|No|vs|etc|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|"
                     r"Sept|Oct|Nov|Dec|[A-Z])\.$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (a fast rule-based splitter)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.start() + len(m.group(1) or "")
        if "\n" not in m.group(0) and _ABBREV.search(text[max(start, end - 8):m.start()]):
            continue
        if text[start:end].strip():
            spans.append((start, end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


#: The longest evidence snippet (characters): a match's sentence when it is shorter, else
#: a window around the match. Keeps an evidence item's size independent of the text's.
SNIPPET_CHARS = 320


def shorten(text: str, width: int = SNIPPET_CHARS) -> str:
    """``text`` when it is at most ``width`` characters, else its first words up to
    that width, marked with "…" where text was left out."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width - 1)
    return text[:cut if cut > 0 else width - 1].rstrip() + "…"


def snippet(text: str, sentence: tuple[int, int], match: tuple[int, int],
            width: int = SNIPPET_CHARS) -> str:
    """The sentence ``text[sentence]`` around ``text[match]``, or, when the sentence is
    longer than ``width``, a window of at most ``width`` characters centred on the match,
    cut at word edges and marked with "…" where text was left out."""
    s0, s1 = sentence
    whole = text[s0:s1].strip()
    if len(whole) <= width:
        return whole
    m0, m1 = match
    room = max(0, width - (m1 - m0)) // 2
    a = max(s0, m0 - room)
    b = min(s1, m1 + room)
    if a > s0:  # start at the next word
        cut = text.find(" ", a, m0)
        a = cut + 1 if cut >= 0 else a
    if b < s1:  # end at the previous word
        cut = text.rfind(" ", m1, b)
        b = cut if cut >= 0 else b
    core = text[a:b].strip()[:width - 2]
    return ("…" if a > s0 else "") + core + ("…" if b < s1 else "")
