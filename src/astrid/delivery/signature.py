"""The signature of AstrID's webhook requests, for senders and receivers.

``X-AstrID-Signature: sha256=<hex>`` is the HMAC-SHA256, keyed with the secret shared with
the receiver, of ``f"{timestamp}.".encode() + body``, where ``timestamp`` is the request's
``X-AstrID-Timestamp`` (unix seconds) and ``body`` its exact bytes: the scheme of Stripe's
and GitHub's webhooks. Signing the timestamp with the body lets a receiver refuse a
captured request replayed later (`verify_signature`'s ``tolerance_s``). Standard library
only, so a receiver needs nothing else of AstrID.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = [
    "WEBHOOK_ALERT_ID_HEADER",
    "WEBHOOK_SIGNATURE_HEADER",
    "WEBHOOK_TIMESTAMP_HEADER",
    "sign",
    "verify_signature",
]

WEBHOOK_ALERT_ID_HEADER = "X-AstrID-Alert-Id"
WEBHOOK_TIMESTAMP_HEADER = "X-AstrID-Timestamp"
WEBHOOK_SIGNATURE_HEADER = "X-AstrID-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-AstrID-Signature`` value of a request.

    Parameters
    ----------
    secret : str
        The secret shared with the receiver.
    timestamp : int
        The request's ``X-AstrID-Timestamp`` (unix seconds).
    body : bytes
        The exact request body.

    Returns
    -------
    str
        ``"sha256=" + hex(HMAC-SHA256(secret, f"{timestamp}.".encode() + body))``.

    Examples
    --------
    >>> sign("s3cret", 1700000000, b"{}")[:15]
    'sha256=97926816'
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    header_value: str | None,
    timestamp: int | str | None,
    body: bytes,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Whether a received request was signed with ``secret`` recently enough.

    Parameters
    ----------
    secret : str
        The shared secret.
    header_value : str or None
        The ``X-AstrID-Signature`` header; several comma-separated ``sha256=`` values are
        accepted (one per secret while a secret is being rotated).
    timestamp : int or str or None
        The ``X-AstrID-Timestamp`` header.
    body : bytes
        The raw request body, before any JSON parsing.
    tolerance_s : float
        Largest accepted difference between ``now`` and ``timestamp``, in seconds.
    now : float, optional
        The current unix time (default `time.time`).

    Returns
    -------
    bool
        True only when the timestamp is within tolerance and a signature matches (compared
        in constant time).

    Examples
    --------
    >>> signature = sign("s3cret", 1700000000, b"{}")
    >>> verify_signature("s3cret", signature, "1700000000", b"{}", now=1700000010)
    True
    >>> verify_signature("s3cret", signature, "1700000000", b"{}", now=1700001000)
    False
    """
    if not header_value or timestamp is None:
        return False
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    expected = sign(secret, ts, body)
    # compare_digest on every candidate, not an early `any`, keeps the time uniform.
    matches = [hmac.compare_digest(expected, v.strip()) for v in header_value.split(",")]
    return any(matches)
