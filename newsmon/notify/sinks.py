"""Sinks: send one rendered message, report the answer; :func:`deliver` retries.

No exception, log line or answer carries a secret: error texts are the exception's
type and message with every secret of the sink (signing key, token, webhook URL,
password) replaced by ``[redacted]``, and never include the request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from newsmon.notify import render
from newsmon.notify.config import SinkConfig
from newsmon.notify.policy import backoff, parse_retry_after, should_retry
from newsmon.records import dumps

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO, and a chat webhook's URL is its secret.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

EXCERPT_MAX = 200
#: The longest one delivery may take, retries and waits included (seconds): a retry whose
#: wait would end later is not made, and the last answer stands.
DELIVERY_BUDGET = 600.0
USER_AGENT = "newsmon-notify/1"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a sink said: an HTTP or SMTP status, a short body excerpt, or an error."""

    status: int | None = None
    body: str = ""
    error: str | None = None
    retry_after: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "error": self.error}


def redact(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "[redacted]")
    return text


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_body(alerts: Sequence[Mapping[str, Any]], route: str) -> bytes:
    """The alert record itself, or ``{"digest": true, "route", "alerts": [...]}``."""
    if len(alerts) == 1:
        return dumps(dict(alerts[0]))
    return dumps({"digest": True, "route": route, "alerts": [dict(a) for a in alerts]})


class Sink(Protocol):
    config: SinkConfig

    async def send(self, alerts: Sequence[Mapping[str, Any]], route: str) -> Answer: ...

    async def aclose(self) -> None: ...


class _HttpSink:
    def __init__(self, config: SinkConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(
            timeout=config.timeout_seconds, follow_redirects=False,
            verify=ssl.create_default_context(cafile=config.ca_file),
            headers={"User-Agent": USER_AGENT}, trust_env=False)

    @property
    def _secrets(self) -> list[str]:
        return [self.config.secret]

    def request(self, alerts: Sequence[Mapping[str, Any]], route: str
                ) -> tuple[str, dict[str, str], bytes]:
        raise NotImplementedError

    async def send(self, alerts: Sequence[Mapping[str, Any]], route: str) -> Answer:
        url, headers, body = self.request(alerts, route)
        try:
            resp = await self._client.post(url, headers=headers, content=body)
        except httpx.TimeoutException:
            return Answer(error=f"timeout after {self.config.timeout_seconds:g} s",
                          retryable=True)
        except httpx.HTTPError as exc:
            return Answer(error=redact(f"{type(exc).__name__}: {exc}", [*self._secrets, url]),
                          retryable=True)
        excerpt = render.clean(redact(resp.text[:EXCERPT_MAX * 2], [*self._secrets, url]),
                               EXCERPT_MAX)
        return Answer(status=resp.status_code, body=excerpt,
                      retry_after=resp.headers.get("Retry-After"),
                      retryable=should_retry(resp.status_code, None))

    async def aclose(self) -> None:
        await self._client.aclose()


class WebhookSink(_HttpSink):
    """The alert record as JSON, signed: ``X-Newsmon-Timestamp`` and
    ``X-Newsmon-Signature: sha256=<hex>`` (docs/notify.md)."""

    def request(self, alerts: Sequence[Mapping[str, Any]], route: str
                ) -> tuple[str, dict[str, str], bytes]:
        body = webhook_body(alerts, route)
        ts = str(int(time.time()))
        return self.config.url, {
            "Content-Type": "application/json",
            "X-Newsmon-Timestamp": ts,
            "X-Newsmon-Signature": sign(self.config.secret, ts, body),
            "X-Newsmon-Alert-Ids": ",".join(str(a.get("alert_id")) for a in alerts)[:2000],
        }, body


class SlackSink(_HttpSink):
    def request(self, alerts: Sequence[Mapping[str, Any]], route: str
                ) -> tuple[str, dict[str, str], bytes]:
        return self.config.secret, {"Content-Type": "application/json"}, dumps(
            render.slack(alerts, route))


class TeamsSink(_HttpSink):
    def request(self, alerts: Sequence[Mapping[str, Any]], route: str
                ) -> tuple[str, dict[str, str], bytes]:
        return self.config.secret, {"Content-Type": "application/json"}, dumps(
            render.teams(alerts, route))


class NtfySink(_HttpSink):
    def request(self, alerts: Sequence[Mapping[str, Any]], route: str
                ) -> tuple[str, dict[str, str], bytes]:
        headers, body = render.ntfy(alerts, route)
        headers["Content-Type"] = "text/plain; charset=utf-8"
        if self.config.secret:
            headers["Authorization"] = f"Bearer {self.config.secret}"
        return self.config.url, headers, body


def build_email(config: SinkConfig, alerts: Sequence[Mapping[str, Any]],
                route: str) -> EmailMessage:
    mail = render.email(alerts, route)
    msg = EmailMessage()
    msg["Subject"] = mail.subject
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.recipients)
    msg["X-Newsmon-Alert-Ids"] = ",".join(str(a.get("alert_id")) for a in alerts)[:900]
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg


class EmailSink:
    """SMTP (stdlib smtplib in a thread): plain, STARTTLS or implicit TLS; optional login."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config

    def _send(self, msg: EmailMessage) -> None:
        c = self.config
        ctx = ssl.create_default_context(cafile=c.ca_file)
        smtp: smtplib.SMTP
        if c.tls == "tls":
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_seconds, context=ctx)
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_seconds)
        with smtp:
            if c.tls == "starttls":
                smtp.starttls(context=ctx)
            if c.username:
                smtp.ehlo_or_helo_if_needed()
                if "plain" in smtp.esmtp_features.get("auth", "").lower().split():
                    # One mechanism: smtplib.login would try the next one after a refusal.
                    smtp.user, smtp.password = c.username, c.password
                    smtp.auth("PLAIN", smtp.auth_plain)
                else:
                    smtp.login(c.username, c.password)
            smtp.send_message(msg)

    async def send(self, alerts: Sequence[Mapping[str, Any]], route: str) -> Answer:
        msg = build_email(self.config, alerts, route)
        secrets = [self.config.password]
        try:
            await asyncio.to_thread(self._send, msg)
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            # 4xx: try again later; 5xx: refused for good.
            return Answer(status=exc.smtp_code,
                          body=render.clean(redact(text, secrets), EXCERPT_MAX),
                          retryable=400 <= exc.smtp_code < 500)
        except smtplib.SMTPRecipientsRefused as exc:
            return Answer(error=render.clean(f"recipients refused: {exc.recipients}",
                                             EXCERPT_MAX))
        except ssl.SSLCertVerificationError as exc:  # a setup problem: retrying cannot help
            return Answer(error=render.clean(f"{type(exc).__name__}: {exc}", EXCERPT_MAX))
        except (OSError, smtplib.SMTPException) as exc:
            return Answer(error=render.clean(redact(f"{type(exc).__name__}: {exc}", secrets),
                                             EXCERPT_MAX), retryable=True)
        return Answer(status=250)

    async def aclose(self) -> None:
        return None


def make_sink(config: SinkConfig) -> Sink:
    kinds: dict[str, Callable[[SinkConfig], Sink]] = {
        "webhook": WebhookSink, "slack": SlackSink, "teams": TeamsSink, "ntfy": NtfySink,
        "email": EmailSink}
    return kinds[config.type](config)


async def deliver(sink: Sink, alerts: Sequence[Mapping[str, Any]], route: str, *,
                  sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                  rand: Callable[[], float] = random.random,
                  on_retry: Callable[[Answer], None] | None = None,
                  budget: float = DELIVERY_BUDGET) -> tuple[Answer, int]:
    """Send with retries (the sink's ``retries``, backoff with jitter, ``Retry-After``
    honoured, all within ``budget`` seconds); return the last answer and the number of
    attempts."""
    c = sink.config
    attempt = 0
    spent = 0.0
    while True:
        attempt += 1
        started = time.monotonic()
        try:
            answer = await sink.send(alerts, route)
        except Exception as exc:  # noqa: BLE001 - one sink's fault must not stop the others
            # Only the type: the message of an unexpected error may carry a URL or secret.
            log.error("sink %s: unexpected %s while sending", c.name, type(exc).__name__)
            answer = Answer(error=f"unexpected {type(exc).__name__} in the sink")
        spent += time.monotonic() - started
        if answer.ok or not answer.retryable or attempt > c.retries:
            return answer, attempt
        wait = backoff(attempt, c.backoff_seconds, c.backoff_max_seconds, rand(),
                       parse_retry_after(answer.retry_after, time.time()))
        if spent + wait + c.timeout_seconds > budget:
            return answer, attempt
        spent += wait
        if on_retry is not None:
            on_retry(answer)
        log.info("sink %s: %s; retry %d of %d in %.1f s", c.name,
                 answer.error or f"HTTP {answer.status}", attempt, c.retries, wait)
        await sleep(wait)
