from __future__ import annotations

import pytest

from astrid.delivery import (
    DESTINATION_KINDS,
    Destination,
    EmailDigestDestination,
    FileDestination,
    KafkaDestination,
    WebhookDestination,
    destination_from_spec,
)
from astrid.errors import ConfigurationError


def test_every_kind_builds_a_destination(tmp_path):
    built = {
        "files": destination_from_spec("files", str(tmp_path), {}, None),
        "webhook": destination_from_spec("webhook", "https://h.org/x", {"timeout": "2"}, "s"),
        "email": destination_from_spec(
            "email",
            "a@x.org, b@x.org,",
            {"host": "smtp.x.org", "sender": "astrid@x.org", "starttls": "true", "username": "bot"},
            "pw",
        ),
        "kafka": destination_from_spec(
            "kafka", "alerts", {"bootstrap_servers": "127.0.0.1:9", "acks": "all"}, None
        ),
    }
    assert set(built) == set(DESTINATION_KINDS)
    assert isinstance(built["files"], FileDestination)
    webhook = built["webhook"]
    assert isinstance(webhook, WebhookDestination) and webhook.timeout == 2.0
    mail = built["email"]
    assert isinstance(mail, EmailDigestDestination)
    assert mail.recipients == ("a@x.org", "b@x.org")
    assert mail.port == 587 and mail.starttls and mail.username == "bot"
    assert isinstance(built["kafka"], KafkaDestination)
    for dest in built.values():
        assert isinstance(dest, Destination)
        assert dest.name


def test_email_port_and_plain_smtp():
    dest = destination_from_spec(
        "email", "a@x.org", {"host": "h", "sender": "s@x.org", "port": 2525}, None
    )
    assert isinstance(dest, EmailDigestDestination)
    assert dest.port == 2525 and not dest.starttls


@pytest.mark.parametrize(
    ("kind", "target", "options", "secret", "field"),
    [
        ("pigeon", "x", {}, None, "kind"),
        ("webhook", "https://h.org/x", {}, None, "secret"),
        ("webhook", "https://h.org/x", {"timeout": "soon"}, "s", "timeout"),
        ("webhook", "https://h.org/x", {"timout": 3}, "s", "options"),
        ("files", "/tmp/x", {"mode": "0600"}, None, "options"),
        ("email", "a@x.org", {"sender": "s@x.org"}, None, "host"),
        ("email", "a@x.org", {"host": "h", "sender": "s@x.org", "port": "x"}, None, "port"),
        ("email", "a@x.org", {"host": "h", "sender": "s@x.org", "port": True}, None, "port"),
        (
            "email",
            "a@x.org",
            {"host": "h", "sender": "s@x.org", "starttls": "maybe"},
            None,
            "starttls",
        ),
        ("email", " , ", {"host": "h", "sender": "s@x.org"}, None, "recipients"),
        ("email", "a@x.org", {"host": "h", "sender": "s@x.org", "username": "u"}, None, "password"),
        ("kafka", "alerts", {}, None, "bootstrap_servers"),
    ],
)
def test_configuration_errors_name_the_field(kind, target, options, secret, field):
    with pytest.raises(ConfigurationError, match=field) as info:
        destination_from_spec(kind, target, options, secret)
    assert info.value.field == field
