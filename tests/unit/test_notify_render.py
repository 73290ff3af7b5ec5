"""Every sink format escapes and truncates untrusted feed text."""

from __future__ import annotations

import json
import re

import pytest

from newsmon.notify import render
from newsmon.notify.config import SinkConfig
from newsmon.notify.sinks import build_email, sign, webhook_body
from tests.notify_support import HOSTILE_TITLE, hostile_alert, make_alert

SLACK_DANGER = re.compile(r"<!|<@|<http|<javascript")


def _slack_text(payload: dict) -> str:
    return payload["text"] + "\n" + "\n".join(b["text"]["text"] for b in payload["blocks"])


def test_clean_removes_controls_and_truncates() -> None:
    assert render.clean("a\r\nb\x00c\u202ed", 100) == "a b c d"
    out = render.clean("x" * 50, 10)
    assert len(out) == 10 and out.endswith(render.ELLIPSIS)


@pytest.mark.parametrize("url,ok", [
    ("https://news.example/a?b=1&c=2", True), ("http://x.example/", True),
    ("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False), ("data:text/html,x", False),
    ("/relative", False), ("ftp://x.example/", False), ("https://x.example/\r\nX: y", False),
    ("https://", False), (None, False)])
def test_safe_link_keeps_only_http_urls(url: str | None, ok: bool) -> None:
    assert (render.safe_link(url) is not None) == ok


def test_safe_link_encodes_characters_that_end_a_link() -> None:
    link = render.safe_link("https://x.example/a|b>c<d e\"f'g(h)")
    assert link is not None
    assert not set("|<> \"'()") & set(link)


def test_slack_hostile_title_cannot_mention_link_or_format() -> None:
    payload = render.slack([hostile_alert()], "r")
    text = _slack_text(payload)
    assert not SLACK_DANGER.search(text)
    assert "@here" not in text and "javascript:" not in text.replace("javascript\u200b:", "")
    assert "*bold*" not in text and "`code`" not in text
    assert "&lt;!channel&gt;" in text and "&lt;http" in text  # shown as text
    # the article link is dropped (javascript:), only the fixed-format lines remain
    assert "open the article" not in text
    title_line = text.splitlines()[0]
    assert len(title_line) < render.TITLE_MAX * 3  # escaped, but from a truncated title


def test_slack_link_only_in_fixed_form() -> None:
    text = _slack_text(render.slack([make_alert(1)], "r"))
    assert "<https://news.example/a/1|open the article>" in text


def test_teams_hostile_title_escaped() -> None:
    payload = render.teams([hostile_alert()], "r")
    card = payload["attachments"][0]["content"]
    texts = json.dumps(card["body"], ensure_ascii=False)
    assert "[click](" not in texts and "<at>" not in texts and "{{" not in texts
    assert "@here" not in texts
    assert "actions" not in card  # javascript: link dropped
    assert "actions" in render.teams([make_alert(1)], "r")["attachments"][0]["content"]
    assert len(card["body"][0]["text"]) < render.TITLE_MAX * 3


@pytest.mark.parametrize("raw,escaped", [
    ("U.S. troops - 3 killed, 40% up!", "U.S. troops - 3 killed, 40% up!"),
    ("- not a list", "\\- not a list"), ("12. not a list", "12\\. not a list"),
    ("**bold** _it_ `c`", "\\*\\*bold\\*\\* \\_it\\_ \\`c\\`"),
    ("[x](y)", "\\[x\\]\\(y\\)"), ("<at>Bob</at>", "\\<at\\>Bob\\</at\\>"),
])
def test_teams_escape_neutralises_markup_and_leaves_prose(raw: str, escaped: str) -> None:
    assert render.teams_escape(raw) == escaped


def test_email_hostile_title_escaped_in_html_and_one_line_subject() -> None:
    cfg = SinkConfig(name="m", type="email", sender="a@x.example", recipients=("b@x.example",))
    msg = build_email(cfg, [hostile_alert()], "r")
    assert "\n" not in str(msg["Subject"]) and len(str(msg["Subject"])) <= render.HEADER_MAX
    assert msg["X-Injected"] is None
    html_part = msg.get_body(("html",)).get_content()
    text_part = msg.get_body(("plain",)).get_content()
    assert "<script>" not in html_part and "<b>bold" not in html_part
    assert "&lt;script&gt;" in html_part
    assert "javascript:alert(document" not in html_part + text_part
    assert max(len(line) for line in text_part.splitlines()) <= render.TITLE_MAX + 40


def test_ntfy_headers_are_ascii_single_line() -> None:
    alert = hostile_alert()
    alert["title"] = "Ünïcode — title\r\nX-Injected: 1 " + HOSTILE_TITLE
    headers, body = render.ntfy([alert], "r")
    for name, value in headers.items():
        assert value.isascii() and "\r" not in value and "\n" not in value, name
        assert len(value) <= render.HEADER_MAX
    assert headers["Title"].startswith("[WARNING] high 72: Unicode title X-Injected")
    assert "Click" not in headers  # javascript: link dropped
    assert render.ntfy([make_alert(1, severity="critical")], "r")[0]["Priority"] == "5"
    assert render.ntfy([make_alert(1)], "r")[0]["Click"] == "https://news.example/a/1"
    assert len(body.decode()) < 3000


def test_evidence_and_entities_are_bounded() -> None:
    alert = make_alert(sentence="s" * 319)
    alert["evidence"] = alert["evidence"] * 30
    for i, e in enumerate(alert["evidence"]):
        alert["evidence"][i] = {**e, "sentence": f"{i} " + "s" * 300}
    alert["entities"] = [{**alert["entities"][0], "canonical": f"E{i}" + "n" * 100}
                         for i in range(40)]
    s = render.summarise(alert)
    assert len(s.evidence) == render.EVIDENCE_ITEMS
    assert all(len(e) <= render.EVIDENCE_MAX for e in s.evidence)
    assert len(s.entities) == render.ENTITY_ITEMS
    assert all(len(e) <= render.ENTITY_MAX for e in s.entities)


def test_digest_lists_alerts_and_counts_the_rest() -> None:
    alerts = [make_alert(i) for i in range(render.DIGEST_ITEMS + 5)]
    text = _slack_text(render.slack(alerts, "ops"))
    assert f"{len(alerts)} newsmon alerts (ops)" in text
    assert text.count("<https://news.example/a/") == render.DIGEST_ITEMS
    assert "and 5 more" in text
    _, body = render.ntfy(alerts, "ops")
    assert body.decode().count("\n") == render.DIGEST_ITEMS


def test_webhook_body_is_the_record_and_signature_verifies() -> None:
    import hashlib
    import hmac

    alert = hostile_alert()
    body = webhook_body([alert], "r")
    assert json.loads(body) == alert
    sig = sign("s3cret", "1700000000", body)
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sig == "sha256=" + expected
    assert sign("other", "1700000000", body) != sig
    digest = json.loads(webhook_body([alert, make_alert(2)], "r"))
    assert digest["digest"] is True and len(digest["alerts"]) == 2
