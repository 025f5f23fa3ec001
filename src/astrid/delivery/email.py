"""Alerts sent as one plain-text e-mail digest per batch, through SMTP.

Each `EmailDigestDestination.send` sends a single message ("[AstrID] 3 new alerts") that
lists every alert of the batch: its id, object name, real/bogus score, magnitude and band,
position (degrees ICRS) and context class, from the alert's filter fields (``object_name``,
``rb``, ``mag``, ``band``, ``ra``, ``dec``, ``context_class``; a missing one shows as "—"),
and its summary when it has one. Nothing is attached: the packets stay with the other
destinations, and a digest stays small enough for any mailbox.

The message is accepted or refused as a whole, so the outcomes of a batch are all delivered
or all failed. A permanent SMTP reply (5xx: unknown recipient, refused sender, bad login)
gives ``retry=False``; a transient one (4xx), a timeout or a refused connection gives
``retry=True``.
"""

from __future__ import annotations

import logging
import math
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from astrid.delivery.outgoing import Outcome, OutgoingAlert
from astrid.errors import ConfigurationError

__all__ = ["MISSING", "EmailDigestDestination", "digest_text"]

log = logging.getLogger(__name__)

#: How a missing field is shown in a digest.
MISSING = "—"


def _number(fields: Mapping[str, Any], key: str, digits: int, sign: bool = False) -> str:
    """A field formatted with ``digits`` decimals, or `MISSING`."""
    value = fields.get(key)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING if value in (None, "") else str(value)
    if not math.isfinite(number):
        return MISSING
    return f"{number:+.{digits}f}" if sign else f"{number:.{digits}f}"


def _is_address(value: object) -> bool:
    """Whether ``value`` looks like one bare address (no spaces or line breaks: no header
    injection through a subscription's recipients)."""
    return (
        isinstance(value, str)
        and "@" in value
        and not any(c.isspace() or c in ",<>" for c in value)
    )


def _text(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    return MISSING if value in (None, "") else str(value)


def digest_text(alerts: Sequence[OutgoingAlert]) -> str:
    """The plain-text body of the digest of ``alerts``.

    Examples
    --------
    >>> alert = OutgoingAlert(42, b"", b"{}", {"rb": 0.934, "mag": 18.2, "band": "r"})
    >>> print(digest_text([alert]))  # doctest: +NORMALIZE_WHITESPACE
    1 new alert from AstrID.
    <BLANKLINE>
    1. Alert 42
       Object:   —
       rb:       0.93    mag: 18.20 (r)
       RA, Dec:  —, — (deg, ICRS)
       Context:  —
    <BLANKLINE>
    Alert ids: 42
    """
    n = len(alerts)
    lines = [f"{n} new alert{'' if n == 1 else 's'} from AstrID.", ""]
    for i, alert in enumerate(alerts, start=1):
        f = alert.fields
        lines += [
            f"{i}. Alert {alert.alert_id}",
            f"   Object:   {_text(f, 'object_name')}",
            f"   rb:       {_number(f, 'rb', 2):<7} mag: {_number(f, 'mag', 2)} "
            f"({_text(f, 'band')})",
            f"   RA, Dec:  {_number(f, 'ra', 5)}, {_number(f, 'dec', 5, sign=True)} (deg, ICRS)",
            f"   Context:  {_text(f, 'context_class')}",
        ]
        if alert.summary:
            lines.append(f"   Summary:  {alert.summary}")
        lines.append("")
    lines.append("Alert ids: " + ", ".join(str(a.alert_id) for a in alerts))
    return "\n".join(lines)


class EmailDigestDestination:
    """Send each batch of alerts as one plain-text e-mail through an SMTP server.

    Parameters
    ----------
    host, port : str, int
        The SMTP server.
    sender : str
        The ``From`` address (and envelope sender).
    recipients : sequence of str
        The ``To`` addresses; at least one.
    username, password : str, optional
        SMTP login (both or neither); the password is never logged.
    starttls : bool
        Upgrade the connection with STARTTLS (certificate verified) before logging in.
    timeout : float
        Seconds allowed for connecting and for each SMTP exchange.
    subject_prefix : str
        Start of the subject, before "<n> new alerts".

    Raises
    ------
    ConfigurationError
        For an empty host, sender or recipient list, a port outside 1-65535, a username
        without a password (or the reverse), or a non-positive timeout; ``field`` names it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
        subject_prefix: str = "[AstrID]",
    ) -> None:
        def refuse(field: str, message: str) -> ConfigurationError:
            return ConfigurationError(f"email destination: {message}", field=field)

        if not host:
            raise refuse("host", "host is empty")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise refuse("port", f"port must be an integer in 1-65535, got {port!r}")
        if not _is_address(sender):
            raise refuse("sender", f"sender must be an e-mail address, got {sender!r}")
        if isinstance(recipients, str):
            raise refuse("recipients", "recipients must be a list of addresses, not a string")
        cleaned = [r.strip() for r in recipients if r and r.strip()]
        if not cleaned:
            raise refuse("recipients", "recipients is empty")
        if bad := [r for r in cleaned if not _is_address(r)]:
            raise refuse("recipients", f"recipients are not e-mail addresses: {bad}")
        if bool(username) != bool(password):
            missing = "password" if username else "username"
            raise refuse(missing, f"{missing} is missing: SMTP login needs both")
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise refuse("timeout", f"timeout must be a positive number, got {timeout!r}")
        if "\r" in subject_prefix or "\n" in subject_prefix:
            raise refuse("subject_prefix", "subject_prefix must be one line")
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = tuple(cleaned)
        self.username = username
        self._password = password
        self.starttls = starttls
        self.timeout = float(timeout)
        self.subject_prefix = subject_prefix
        self.name = f"email {','.join(self.recipients)} via {host}:{port}"

    def message(self, alerts: Sequence[OutgoingAlert]) -> EmailMessage:
        """The digest message of ``alerts``."""
        n = len(alerts)
        msg = EmailMessage()
        msg["Subject"] = f"{self.subject_prefix} {n} new alert{'' if n == 1 else 's'}".strip()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        msg["X-AstrID-Alert-Ids"] = ",".join(str(a.alert_id) for a in alerts)
        msg.set_content(digest_text(alerts))
        return msg

    def _deliver(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self._password:
                smtp.login(self.username, self._password)
            refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=self.recipients)
        if refused:
            # Some recipients took it: the digest is delivered, the others are logged.
            log.warning("%s: recipients refused the digest: %s", self.name, refused)

    def _failure(self, e: Exception) -> tuple[str, bool]:
        """The error text of an SMTP failure and whether retrying can help."""
        if isinstance(e, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in e.recipients.values()]
            detail = "; ".join(
                f"{rcpt}: {code} {reply.decode('utf-8', 'replace')}"
                for rcpt, (code, reply) in e.recipients.items()
            )
            return f"recipients refused: {detail}", not all(c >= 500 for c in codes)
        if isinstance(e, smtplib.SMTPResponseException):
            reply = e.smtp_error
            text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
            kind = type(e).__name__
            return f"{kind}: {e.smtp_code} {text}", not 500 <= e.smtp_code < 600
        if isinstance(e, smtplib.SMTPNotSupportedError):
            return f"{type(e).__name__}: {e}", False
        if isinstance(e, TimeoutError):
            return f"no answer within {self.timeout:g} s", True
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate refused: {e}", False
        return f"{type(e).__name__}: {e}", True

    def send(self, alerts: Sequence[OutgoingAlert]) -> list[Outcome]:
        """Send one digest of ``alerts``; one `Outcome` per alert, in order, never raising.

        Parameters
        ----------
        alerts : sequence of OutgoingAlert
            The alerts of the digest (none: nothing is sent).

        Returns
        -------
        list of Outcome
            All delivered, or all failed with the same error (``retry=False`` for a
            permanent 5xx reply).
        """
        if not alerts:
            return []
        try:
            self._deliver(self.message(alerts))
        except (smtplib.SMTPException, OSError) as e:
            text, retry = self._failure(e)
            error = f"{self.name}: {text}"
            log.warning("%s", error)
            return [Outcome(a.alert_id, delivered=False, error=error, retry=retry) for a in alerts]
        return [Outcome(a.alert_id, delivered=True) for a in alerts]

    def __repr__(self) -> str:
        return (
            f"EmailDigestDestination({self.host!r}, {self.port}, {self.sender!r}, "
            f"{list(self.recipients)!r}, starttls={self.starttls})"
        )
