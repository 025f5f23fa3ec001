"""What a destination is, and how a stored subscription becomes one.

A subscription stores a destination as ``kind`` (one of `DESTINATION_KINDS`), ``target``
(where to), ``options`` (how) and a ``secret`` kept apart from the options:

- ``files``: target a directory or fsspec URL; no options; no secret.
- ``webhook``: target an http(s) URL; option ``timeout``; the secret signs the requests.
- ``email``: target comma-separated recipients; options ``host``, ``port`` (default 25, or
  587 with STARTTLS), ``sender``, ``starttls``, ``username``, ``timeout``,
  ``subject_prefix``; the secret is the SMTP password.
- ``kafka``: target the topic; options ``bootstrap_servers``, ``flush_timeout``, and any
  other key is a librdkafka setting (``security.protocol``, ``sasl.mechanism``...); the
  secret, if any, is ``sasl.password``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from astrid.delivery.email import EmailDigestDestination
from astrid.delivery.files import FileDestination
from astrid.delivery.kafka import KafkaDestination
from astrid.delivery.outgoing import Outcome, OutgoingAlert
from astrid.delivery.webhook import WebhookDestination
from astrid.errors import ConfigurationError

__all__ = ["DESTINATION_KINDS", "Destination", "destination_from_spec"]

#: The kinds of destination a subscription may name.
DESTINATION_KINDS = ("files", "webhook", "email", "kafka")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@runtime_checkable
class Destination(Protocol):
    """Somewhere alerts go: a name for messages and a `send` that never raises.

    ``send`` returns exactly one `Outcome` per alert, in order; a destination's failure
    (timeout, refused connection, error reply) is an outcome, not an exception.
    """

    name: str

    def send(self, alerts: Sequence[OutgoingAlert]) -> list[Outcome]:
        """Deliver ``alerts``; one outcome each, in order."""
        ...


def _unknown(kind: str, options: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse options a kind does not take (a typo would otherwise be silently ignored)."""
    extra = sorted(set(options) - allowed)
    if extra:
        raise ConfigurationError(
            f"{kind} destination: unknown options {extra}; "
            f"allowed options: {sorted(allowed) or 'none'}",
            field="options",
            options=extra,
        )


def _as_float(kind: str, options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise ConfigurationError(
            f"{kind} destination: option {key} must be a number, got {value!r}", field=key
        ) from e


def _as_int(kind: str, options: Mapping[str, Any], key: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        value = repr(value)  # refused below: True or 25.5 is not a port
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise ConfigurationError(
            f"{kind} destination: option {key} must be an integer, got {value!r}", field=key
        ) from e


def _as_bool(kind: str, options: Mapping[str, Any], key: str) -> bool:
    value = options.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(
        f"{kind} destination: option {key} must be true or false, got {value!r}", field=key
    )


def _required(kind: str, options: Mapping[str, Any], key: str) -> str:
    value = options.get(key)
    if value in (None, ""):
        raise ConfigurationError(f"{kind} destination: option {key} is missing", field=key)
    return str(value)


def _email(target: str, options: Mapping[str, Any], secret: str | None) -> Destination:
    allowed = {"host", "port", "sender", "starttls", "username", "timeout", "subject_prefix"}
    _unknown("email", options, allowed)
    starttls = _as_bool("email", options, "starttls")
    return EmailDigestDestination(
        _required("email", options, "host"),
        _as_int("email", options, "port", 587 if starttls else 25),
        _required("email", options, "sender"),
        [r.strip() for r in target.split(",") if r.strip()],
        username=options.get("username") or None,
        password=secret or None,
        starttls=starttls,
        timeout=_as_float("email", options, "timeout", 10.0),
        subject_prefix=str(options.get("subject_prefix", "[AstrID]")),
    )


def _kafka(target: str, options: Mapping[str, Any], secret: str | None) -> Destination:
    bootstrap = _required("kafka", options, "bootstrap_servers")
    config = {
        str(k): str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in options.items()
        if k not in ("bootstrap_servers", "flush_timeout")
    }
    if secret:
        config.setdefault("sasl.password", secret)
    return KafkaDestination(
        bootstrap,
        target,
        config=config,
        flush_timeout=_as_float("kafka", options, "flush_timeout", 10.0),
    )


def destination_from_spec(
    kind: str, target: str, options: Mapping[str, Any], secret: str | None
) -> Destination:
    """Build the destination a stored subscription describes.

    Parameters
    ----------
    kind : str
        One of `DESTINATION_KINDS`.
    target : str
        Where to: a directory or URL (files), a URL (webhook), comma-separated recipients
        (email), a topic (kafka).
    options : mapping
        The kind's settings (see the module docstring).
    secret : str or None
        The webhook signing secret, SMTP password or Kafka SASL password.

    Returns
    -------
    Destination
        A `FileDestination`, `WebhookDestination`, `EmailDigestDestination` or
        `KafkaDestination`.

    Raises
    ------
    ConfigurationError
        For an unknown kind (``field="kind"``), an unknown or invalid option, a webhook
        without a secret, or whatever the destination itself refuses.

    Examples
    --------
    >>> destination_from_spec("files", "memory://alerts", {}, None).name
    'files memory://alerts'
    """
    options = options or {}
    if kind == "files":
        _unknown("files", options, set())
        return FileDestination(target)
    if kind == "webhook":
        _unknown("webhook", options, {"timeout"})
        if not secret:
            raise ConfigurationError(
                f"webhook destination {target}: secret is missing; requests must be signed",
                field="secret",
            )
        timeout = _as_float("webhook", options, "timeout", 5.0)
        return WebhookDestination(target, secret, timeout=timeout)
    if kind == "email":
        return _email(target, options, secret)
    if kind == "kafka":
        return _kafka(target, options, secret)
    raise ConfigurationError(
        f"unknown destination kind {kind!r}; expected one of {', '.join(DESTINATION_KINDS)}",
        field="kind",
        kind=kind,
    )
