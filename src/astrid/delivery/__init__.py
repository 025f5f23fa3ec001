"""Delivery: alerts leave AstrID for the places subscribers named.

A destination takes `OutgoingAlert` values (a packet as Avro container bytes, the sidecar
as JSON, the filter fields, a summary) and answers one `Outcome` per alert, in order, never
raising for its own failures: delivered, or not with the reason and whether retrying can
help. The destinations:

- `FileDestination`: ``<alert_id>.avro`` and ``<alert_id>.astrid.json`` under a directory
  or fsspec URL, written atomically and idempotently.
- `WebhookDestination`: one signed JSON POST per alert (``X-AstrID-Signature``, HMAC-SHA256;
  receivers check it with `verify_signature`); a dead endpoint costs one timeout per batch.
- `EmailDigestDestination`: one plain-text digest e-mail per batch, through SMTP.
- `KafkaDestination`: one message per alert (the Avro container, schema embedded) to a
  topic; needs ``pip install 'astrid[kafka]'``.

`destination_from_spec` builds one from a stored subscription (kind, target, options,
secret). See docs/delivery.md.
"""

from astrid.delivery.destinations import DESTINATION_KINDS, Destination, destination_from_spec
from astrid.delivery.email import EmailDigestDestination, digest_text
from astrid.delivery.files import FileDestination
from astrid.delivery.kafka import KafkaDestination
from astrid.delivery.outgoing import Outcome, OutgoingAlert
from astrid.delivery.signature import (
    WEBHOOK_ALERT_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
    sign,
    verify_signature,
)
from astrid.delivery.webhook import WebhookDestination

__all__ = [
    "DESTINATION_KINDS",
    "WEBHOOK_ALERT_ID_HEADER",
    "WEBHOOK_SIGNATURE_HEADER",
    "WEBHOOK_TIMESTAMP_HEADER",
    "Destination",
    "EmailDigestDestination",
    "FileDestination",
    "KafkaDestination",
    "Outcome",
    "OutgoingAlert",
    "WebhookDestination",
    "destination_from_spec",
    "digest_text",
    "sign",
    "verify_signature",
]
