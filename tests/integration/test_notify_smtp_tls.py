"""The e-mail sink over STARTTLS and implicit TLS, against aiosmtpd with a throwaway CA;
a certificate the sink cannot verify is an error, not a delivery."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller

from newsmon.kafka_local import free_port
from newsmon.notify.config import SinkConfig
from newsmon.notify.sinks import EmailSink
from tests.integration.notify_receivers import MailBox
from tests.notify_support import make_alert

pytestmark = pytest.mark.integration
PASSWORD = "tls-pass-61b0"


@contextmanager
def tls_smtp(ca: trustme.CA, implicit: bool) -> Iterator[tuple[MailBox, int]]:
    box = MailBox({"newsmon": PASSWORD})
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    port = free_port()
    kw = ({"ssl_context": ctx} if implicit
          else {"tls_context": ctx, "require_starttls": True})
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=box,
                            auth_required=True, auth_require_tls=not implicit, **kw)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.mark.parametrize("mode", ["starttls", "tls"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_over_tls_with_a_private_ca(tmp_path: Path, mode: str) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with tls_smtp(ca, implicit=mode == "tls") as (box, port):
        config = SinkConfig(name="mail", type="email", host="127.0.0.1", port=port, tls=mode,
                            username="newsmon", password=PASSWORD, ca_file=str(ca_file),
                            sender="newsmon@example.org", recipients=("desk@example.org",),
                            timeout_seconds=5)
        alert = make_alert(1)
        answer = asyncio.run(EmailSink(config).send([alert], "r"))
        assert answer.ok, answer
        assert [str(m["X-Newsmon-Alert-Ids"]) for m in box.messages] == [alert["alert_id"]]

        untrusted = SinkConfig(**{**{f: getattr(config, f) for f in config.__slots__},
                                  "ca_file": None})
        answer = asyncio.run(EmailSink(untrusted).send([alert], "r"))
        assert not answer.ok and not answer.retryable and "CERTIFICATE_VERIFY_FAILED" in (
            answer.error or "")
        assert PASSWORD not in repr(answer) and len(box.messages) == 1
