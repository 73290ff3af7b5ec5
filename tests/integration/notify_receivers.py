"""Real receivers for the notify tests: an HTTP server that verifies webhook signatures
and misbehaves on request, and an aiosmtpd SMTP server with a login."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from newsmon.kafka_local import free_port


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Answers POSTs by path. ``script[path]`` lists what to do with the next requests:
    an int status, ``("status", code, headers, body)``, ``("sleep", s)`` (then 200) or
    ``"hold"`` (wait for ``release``, then 503); once the list is spent, 200 (``default``
    may say otherwise). Webhook paths in ``secrets`` must carry a valid signature (401)."""

    secrets: dict[str, str] = field(default_factory=dict)
    script: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    default: dict[str, Any] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_path(self, path: str, accepted: bool | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path
                    and (accepted is None or r.accepted == accepted)]

    def _verify(self, path: str, headers: dict[str, str], body: bytes) -> bool:
        secret = self.secrets.get(path)
        if secret is None:
            return True
        ts, sig = headers.get("x-newsmon-timestamp", ""), headers.get("x-newsmon-signature", "")
        want = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, sig) and abs(time.time() - int(ts or 0)) < 300

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        if not self._verify(req.path, req.headers, req.body):
            return 401, {}, b"bad signature"
        with self.lock:
            steps = self.script.get(req.path)
            step = steps.pop(0) if steps else self.default.get(req.path, 200)
        if step == "hold":
            self.holding.set()
            self.release.wait(60)
            return 503, {}, b"held"
        if isinstance(step, tuple) and step[0] == "sleep":
            time.sleep(step[1])
            return 200, {}, b"late"
        if isinstance(step, tuple):
            return step[1], step[2], step[3]
        return int(step), {}, b"ok"


@contextmanager
def http_receiver(receiver: HttpReceiver) -> Iterator[HttpReceiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            req = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            status, headers, out = receiver.answer(req)
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except OSError:
                status = 0  # the client is gone: not delivered
            req.status = status
            with receiver.lock:
                receiver.requests.append(req)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


class MailBox:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and self.users.get(auth_data.login.decode()) == auth_data.password.decode())
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server: SMTP, session: Session,
                          envelope: Envelope) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    def alert_ids(self) -> list[str]:
        with self.lock:
            return [i for m in self.messages for i in str(m["X-Newsmon-Alert-Ids"]).split(",")]


@contextmanager
def smtp_server(users: dict[str, str]) -> Iterator[tuple[MailBox, int]]:
    box = MailBox(users)
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=box,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()
