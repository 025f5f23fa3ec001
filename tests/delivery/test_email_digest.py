"""The e-mail digest against a real SMTP server on localhost (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from astrid.delivery import EmailDigestDestination, digest_text
from astrid.errors import ConfigurationError

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


@dataclass
class Inbox:
    """Messages the test server accepted, and the reply it gives to DATA."""

    reply: str = "250 Message accepted"
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.reply.startswith("250"):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return self.reply


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"bot",
        b"right",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_with_login() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = aiosmtpd_controller.Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=_authenticator,
        auth_require_tls=False,  # a test server on localhost; TLS is not what is tested
    )
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def _destination(port: int, **kwargs: object) -> EmailDigestDestination:
    return EmailDigestDestination(
        "127.0.0.1",
        port,
        "astrid@example.org",
        ["a@example.org", "b@example.org"],
        timeout=5,
        **kwargs,
    )


def test_one_digest_per_batch(smtp, alerts):
    port, inbox = smtp
    batch = alerts(3)
    outcomes = _destination(port).send(batch)
    assert [(o.alert_id, o.delivered) for o in outcomes] == [(a.alert_id, True) for a in batch]
    assert len(inbox.messages) == 1
    mail_from, rcpt_tos, content = inbox.messages[0]
    assert mail_from == "astrid@example.org"
    assert rcpt_tos == ["a@example.org", "b@example.org"]
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg["Subject"] == "[AstrID] 3 new alerts"
    assert msg["To"] == "a@example.org, b@example.org"
    assert not msg.is_multipart()  # nothing attached
    text = msg.get_content()
    for a in batch:
        assert f"Alert {a.alert_id}" in text
        assert a.fields["object_name"] in text
        assert a.summary in text
    assert "0.91" in text and "18.46 (r)" in text
    assert "150.12346, -2.50000" in text and "SN" in text
    assert "Alert ids: 1001, 1002, 1003" in text


def test_missing_fields_show_as_a_dash(alerts):
    alert = alerts(1)[0]
    bare = type(alert)(alert.alert_id, alert.avro, alert.sidecar, {"band": "g"})
    text = digest_text([bare])
    assert "Object:   —" in text and "mag: — (g)" in text and "Context:  —" in text
    assert "Summary" not in text
    assert text.startswith("1 new alert from AstrID.")


def test_a_permanent_refusal_is_final(smtp, alerts):
    port, inbox = smtp
    inbox.reply = "550 5.7.1 Message rejected as spam"
    outcomes = _destination(port, subject_prefix="[test]").send(alerts(2))
    assert len(outcomes) == 2
    assert all(not o.delivered and not o.retry for o in outcomes)
    assert "550" in outcomes[0].error and "rejected as spam" in outcomes[0].error
    assert outcomes[0].error.startswith("email a@example.org,b@example.org via 127.0.0.1")


def test_a_transient_refusal_is_retryable(smtp, alerts):
    port, inbox = smtp
    inbox.reply = "451 4.3.0 Try again later"
    outcomes = _destination(port).send(alerts(2))
    assert all(not o.delivered and o.retry for o in outcomes)
    assert "451" in outcomes[1].error


def test_an_unreachable_server_is_retryable(closed_port, alerts):
    outcomes = _destination(closed_port).send(alerts(2))
    assert all(not o.delivered and o.retry for o in outcomes)
    assert f"127.0.0.1:{closed_port}" in outcomes[0].error


def test_starttls_unsupported_is_final(smtp, alerts):
    port, _ = smtp
    outcomes = _destination(port, starttls=True).send(alerts(1))
    assert not outcomes[0].delivered and not outcomes[0].retry
    assert "STARTTLS" in outcomes[0].error


def test_login(smtp_with_login, alerts):
    port, inbox = smtp_with_login
    outcomes = _destination(port, username="bot", password="right").send(alerts(2))
    assert all(o.delivered for o in outcomes)
    assert len(inbox.messages) == 1


def test_a_refused_login_is_final(smtp_with_login, alerts):
    port, inbox = smtp_with_login
    outcomes = _destination(port, username="bot", password="wrong").send(alerts(2))
    assert all(not o.delivered and not o.retry for o in outcomes)
    assert "535" in outcomes[0].error and "wrong" not in outcomes[0].error
    assert inbox.messages == []


def test_an_empty_batch_sends_nothing(smtp):
    port, inbox = smtp
    assert _destination(port).send([]) == []
    assert inbox.messages == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"host": ""}, "host"),
        ({"port": 0}, "port"),
        ({"port": "25"}, "port"),
        ({"sender": "nobody"}, "sender"),
        ({"recipients": []}, "recipients"),
        ({"recipients": ["", " "]}, "recipients"),
        ({"recipients": "a@example.org"}, "recipients"),
        ({"recipients": ["not-an-address"]}, "recipients"),
        ({"recipients": ["a@x.org\r\nBcc: b@x.org"]}, "recipients"),
        ({"recipients": ["a@x.org, b@x.org"]}, "recipients"),
        ({"sender": "s@x.org\nBcc: b@x.org"}, "sender"),
        ({"subject_prefix": "[x]\nBcc: b@x.org"}, "subject_prefix"),
        ({"username": "u"}, "password"),
        ({"password": "p"}, "username"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_configuration_errors(kwargs, field):
    args = {
        "host": "smtp.example.org",
        "port": 25,
        "sender": "a@example.org",
        "recipients": ["b@example.org"],
        **kwargs,
    }
    with pytest.raises(ConfigurationError, match=field) as info:
        EmailDigestDestination(**args)
    assert info.value.field == field
