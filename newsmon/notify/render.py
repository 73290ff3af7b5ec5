"""Messages built from alert records, one builder per sink format. Pure functions.

Everything taken from an alert that came from a feed (title, source, evidence
sentences, entity names, rule reasons, URL) is untrusted. Each builder
normalises it (control characters and line breaks become spaces), truncates
every field to the limits below, and escapes it for its format, so that a
hostile title can neither mention anyone (``<!channel>``, ``<@U123>``,
``@here``), nor add a link (``<http://x|y>``, ``[x](y)``), nor inject markup
or headers. A link is kept only when it is an absolute ``http``/``https`` URL.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

#: Limits, in characters, of each field in every rendered message (docs/notify.md).
TITLE_MAX = 200
SOURCE_MAX = 80
RULE_MAX = 64
EVIDENCE_ITEMS = 5
EVIDENCE_MAX = 280
ENTITY_ITEMS = 10
ENTITY_MAX = 60
URL_MAX = 2000
DIGEST_ITEMS = 20
DIGEST_TITLE_MAX = 120
HEADER_MAX = 250

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r"\s+")
ELLIPSIS = "…"
_ZW = "\u200b"  # a zero-width space: breaks chat markup tokens without changing the look
_WJ = "\u2060"  # a word joiner after "@": no mention can form


def clean(text: Any, limit: int) -> str:
    """One line of at most ``limit`` characters: control characters, bidi overrides and
    runs of white space become single spaces; longer text ends with an ellipsis."""
    s = _SPACES.sub(" ", _CONTROL.sub(" ", str(text or ""))).strip()
    if len(s) > limit:
        s = s[: max(0, limit - 1)].rstrip() + ELLIPSIS
    return s


def safe_link(url: Any) -> str | None:
    """``url`` if it is an absolute http(s) URL that fits, percent-encoded to ASCII with no
    spaces, quotes or angle brackets; otherwise None (``javascript:``, ``data:``, relative)."""
    if not isinstance(url, str) or len(url) > URL_MAX or _CONTROL.search(url):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    # Everything outside the URL grammar is encoded: no |, <, >, ", ', space, backslash or
    # parenthesis survives to end a link in Slack, Markdown, HTML or a header.
    return quote(url, safe="/:?#[]@!$&*+,;=%-._~")


@dataclass(frozen=True, slots=True)
class Summary:
    """The fields a message shows, cleaned and truncated but not yet escaped."""

    alert_id: str
    title: str
    rule: str
    severity: str
    level: str
    score: int
    kind: str
    source: str
    link: str | None
    evidence: tuple[str, ...]
    entities: tuple[str, ...]


def summarise(alert: Mapping[str, Any]) -> Summary:
    evidence: list[str] = []
    for e in alert.get("evidence") or ():
        sentence = clean(e.get("sentence") if isinstance(e, Mapping) else "", EVIDENCE_MAX)
        if sentence and sentence not in evidence:
            evidence.append(sentence)
        if len(evidence) == EVIDENCE_ITEMS:
            break
    entities: list[str] = []
    for e in alert.get("entities") or ():
        name = clean(e.get("canonical") or e.get("text") if isinstance(e, Mapping) else "",
                     ENTITY_MAX)
        if name and name not in entities:
            entities.append(name)
        if len(entities) == ENTITY_ITEMS:
            break
    score = alert.get("score")
    return Summary(
        alert_id=clean(alert.get("alert_id"), 64),
        title=clean(alert.get("title"), TITLE_MAX) or "(no title)",
        rule=clean(alert.get("rule"), RULE_MAX),
        severity=clean(alert.get("severity"), 16),
        level=clean(alert.get("level"), 16),
        score=score if isinstance(score, int) and not isinstance(score, bool) else 0,
        kind=clean(alert.get("kind"), 16),
        source=clean(alert.get("source"), SOURCE_MAX),
        link=safe_link(alert.get("url")),
        evidence=tuple(evidence),
        entities=tuple(entities),
    )


def headline(s: Summary) -> str:
    return f"[{s.severity.upper()}] {s.level} {s.score}: {s.title}"


def digest_heading(route: str, n: int) -> str:
    return f"{n} newsmon alerts ({clean(route, RULE_MAX)})"


# --- Slack (mrkdwn) ------------------------------------------------------------------

_SLACK_MARKUP = re.compile(r"([*_~`>|:])")


def slack_escape(text: str) -> str:
    """Slack mrkdwn: &, < and > as entities (no <!channel>, <@U..>, <url|label> can form),
    a zero-width space before formatting characters, a word joiner after '@'."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SLACK_MARKUP.sub(_ZW + r"\1", text)
    return text.replace("@", "@" + _WJ)


def slack(alerts: Sequence[Mapping[str, Any]], route: str) -> dict[str, Any]:
    """An incoming-webhook payload (``text`` plus Block Kit blocks); links only as
    ``<url|label>`` with a checked URL and a fixed label."""
    summaries = [summarise(a) for a in alerts]
    if len(summaries) == 1:
        s = summaries[0]
        lines = [f"*{slack_escape(headline(s))}*",
                 f"rule {slack_escape(s.rule)} · source {slack_escape(s.source or '-')}"]
        lines += [f"• {slack_escape(e)}" for e in s.evidence]
        if s.entities:
            lines.append("entities: " + ", ".join(slack_escape(e) for e in s.entities))
        if s.link:
            lines.append(f"<{s.link}|open the article>")
        text = slack_escape(headline(s))
    else:
        lines = [f"*{slack_escape(digest_heading(route, len(summaries)))}*"]
        lines += [_slack_digest_line(s) for s in summaries[:DIGEST_ITEMS]]
        if len(summaries) > DIGEST_ITEMS:
            lines.append(f"and {len(summaries) - DIGEST_ITEMS} more")
        text = slack_escape(digest_heading(route, len(summaries)))
    return {"text": text, "blocks": [{"type": "section",
                                      "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
            "unfurl_links": False, "unfurl_media": False}


def _slack_digest_line(s: Summary) -> str:
    line = f"• {slack_escape(s.level)} {s.score} {slack_escape(clean(s.title, DIGEST_TITLE_MAX))}"
    return line + (f" <{s.link}|link>" if s.link else "")


# --- Microsoft Teams (Adaptive Card markdown) ---------------------------------------

_TEAMS_MARKUP = re.compile(r"([\\`*_\[\]()<>~#])")
_TEAMS_LIST = re.compile(r"^(\s*)([-+]|\d+\.)")


def teams_escape(text: str) -> str:
    """Adaptive Card markdown (a CommonMark subset): the characters that make emphasis,
    code, links or mentions (``\\ ` * _ [ ] ( ) < > ~ #``) backslash-escaped, a list
    marker at the start escaped, a word joiner after '@', and a zero-width space inside
    '{{' (no template function). Other punctuation is left as typed."""
    text = _TEAMS_MARKUP.sub(r"\\\1", text)
    text = _TEAMS_LIST.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1],
                           text)
    return text.replace("@", "@" + _WJ).replace("{", "{" + _ZW)


def teams(alerts: Sequence[Mapping[str, Any]], route: str) -> dict[str, Any]:
    """A Teams incoming-webhook (Workflows) payload: one Adaptive Card."""
    summaries = [summarise(a) for a in alerts]
    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    if len(summaries) == 1:
        s = summaries[0]
        body.append({"type": "TextBlock", "text": teams_escape(headline(s)), "weight": "Bolder",
                     "wrap": True})
        body.append({"type": "FactSet", "facts": [
            {"title": "Rule", "value": teams_escape(s.rule)},
            {"title": "Level", "value": teams_escape(f"{s.level} ({s.score})")},
            {"title": "Source", "value": teams_escape(s.source or "-")},
            {"title": "Entities", "value": teams_escape(", ".join(s.entities) or "-")},
        ]})
        body += [{"type": "TextBlock", "text": teams_escape(e), "wrap": True}
                 for e in s.evidence]
        if s.link:
            actions.append({"type": "Action.OpenUrl", "title": "Open the article",
                            "url": s.link})
    else:
        body.append({"type": "TextBlock", "weight": "Bolder", "wrap": True,
                     "text": teams_escape(digest_heading(route, len(summaries)))})
        for s in summaries[:DIGEST_ITEMS]:
            body.append({"type": "TextBlock", "wrap": True, "text": teams_escape(
                f"{s.level} {s.score} {clean(s.title, DIGEST_TITLE_MAX)}")})
        if len(summaries) > DIGEST_ITEMS:
            body.append({"type": "TextBlock",
                         "text": f"and {len(summaries) - DIGEST_ITEMS} more"})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard", "version": "1.4", "body": body}
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}


# --- e-mail ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Email:
    subject: str
    text: str
    html: str


def email(alerts: Sequence[Mapping[str, Any]], route: str) -> Email:
    """Subject (one line), a plain-text part and an HTML part with every field escaped."""
    summaries = [summarise(a) for a in alerts]
    if len(summaries) == 1:
        s = summaries[0]
        subject = clean(f"newsmon: {headline(s)}", HEADER_MAX)
        text = [headline(s), f"rule: {s.rule}", f"source: {s.source or '-'}"]
        text += [f"- {e}" for e in s.evidence]
        if s.entities:
            text.append("entities: " + ", ".join(s.entities))
        if s.link:
            text.append(f"link: {s.link}")
        esc = html.escape
        parts = [f"<h2>{esc(headline(s))}</h2>",
                 f"<p>rule: {esc(s.rule)}<br>source: {esc(s.source or '-')}</p>"]
        if s.evidence:
            parts.append("<ul>" + "".join(f"<li>{esc(e)}</li>" for e in s.evidence) + "</ul>")
        if s.entities:
            parts.append(f"<p>entities: {esc(', '.join(s.entities))}</p>")
        if s.link:
            parts.append(f'<p><a href="{esc(s.link, quote=True)}">open the article</a></p>')
    else:
        subject = clean(f"newsmon: {digest_heading(route, len(summaries))}", HEADER_MAX)
        text = [digest_heading(route, len(summaries))]
        parts = [f"<h2>{html.escape(digest_heading(route, len(summaries)))}</h2>", "<ul>"]
        for s in summaries[:DIGEST_ITEMS]:
            line = f"{s.level} {s.score} {clean(s.title, DIGEST_TITLE_MAX)}"
            text.append(f"- {line}" + (f" {s.link}" if s.link else ""))
            item = html.escape(line)
            if s.link:
                item = f'<a href="{html.escape(s.link, quote=True)}">{item}</a>'
            parts.append(f"<li>{item}</li>")
        parts.append("</ul>")
        if len(summaries) > DIGEST_ITEMS:
            text.append(f"and {len(summaries) - DIGEST_ITEMS} more")
            parts.append(f"<p>and {len(summaries) - DIGEST_ITEMS} more</p>")
    return Email(subject=subject, text="\n".join(text) + "\n",
                 html="<html><body>" + "".join(parts) + "</body></html>")


# --- ntfy -----------------------------------------------------------------------------

PRIORITY = {"info": "3", "warning": "4", "critical": "5"}


def header_value(text: Any, limit: int = HEADER_MAX) -> str:
    """An HTTP header value: printable ASCII only (accents folded, the rest dropped), no
    CR or LF, at most ``limit`` characters."""
    folded = unicodedata.normalize("NFKD", clean(text, limit * 2))
    ascii_only = "".join(ch for ch in folded if " " <= ch <= "~")
    return clean(ascii_only, limit)


def ntfy(alerts: Sequence[Mapping[str, Any]], route: str) -> tuple[dict[str, str], bytes]:
    """Headers (Title, Priority, Tags, Click) and a plain-text body; ntfy's Markdown is
    not enabled, so the body is shown as typed."""
    summaries = [summarise(a) for a in alerts]
    severity = max((s.severity for s in summaries), key=lambda v: PRIORITY.get(v, "3"))
    headers = {"Priority": PRIORITY.get(severity, "3"), "Tags": "newsmon"}
    if len(summaries) == 1:
        s = summaries[0]
        headers["Title"] = header_value(headline(s))
        lines = [f"rule {s.rule}, source {s.source or '-'}", *(f"- {e}" for e in s.evidence)]
        if s.entities:
            lines.append("entities: " + ", ".join(s.entities))
        if s.link:
            headers["Click"] = s.link
    else:
        headers["Title"] = header_value(digest_heading(route, len(summaries)))
        lines = [f"- {s.level} {s.score} {clean(s.title, DIGEST_TITLE_MAX)}"
                 for s in summaries[:DIGEST_ITEMS]]
        if len(summaries) > DIGEST_ITEMS:
            lines.append(f"and {len(summaries) - DIGEST_ITEMS} more")
    return headers, "\n".join(lines).encode("utf-8")
