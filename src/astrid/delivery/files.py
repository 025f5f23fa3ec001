"""Alerts written as files: a local directory or any fsspec URL.

Each alert becomes two files under the destination, named by its alert id:
``<alert_id>.avro`` (the packet, an Avro container with the schema embedded) and
``<alert_id>.astrid.json`` (AstrID's sidecar). Sending an alert again overwrites both, so a
retry is harmless. Local files are written atomically (a temporary file in the same
directory, then `os.replace`): a reader never sees half a packet. Other filesystems
(``memory://``, ``s3://``, ...) are written with fsspec's ``pipe_file``, as atomic as the
store makes a single put (object stores: yes).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from astrid.atomic_files import write_atomically
from astrid.delivery.outgoing import Outcome, OutgoingAlert
from astrid.errors import ConfigurationError

__all__ = ["AVRO_SUFFIX", "SIDECAR_SUFFIX", "FileDestination"]

log = logging.getLogger(__name__)

#: Suffix of the packet file.
AVRO_SUFFIX = ".avro"
#: Suffix of the sidecar file (as `astrid run` writes them beside the packets).
SIDECAR_SUFFIX = ".astrid.json"


class FileDestination:
    """Write each alert's packet and sidecar under a directory or fsspec URL.

    Parameters
    ----------
    url : str
        A directory path (created if missing) or an fsspec URL (``file://``, ``memory://``,
        ``s3://bucket/prefix``...). The protocol's filesystem package must be installed.

    Raises
    ------
    ConfigurationError
        When ``url`` is empty or its protocol is unknown to fsspec (``field="url"``).

    Examples
    --------
    >>> from astrid.delivery import FileDestination, OutgoingAlert
    >>> dest = FileDestination("memory://doc-alerts")
    >>> dest.send([OutgoingAlert(7, b"avro", b"{}")])
    [Outcome(alert_id=7, delivered=True, error=None, retry=True)]
    """

    def __init__(self, url: str) -> None:
        if not url or not url.strip():
            raise ConfigurationError("files destination: url is empty", field="url")
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as e:
            raise ConfigurationError(
                f"files destination: url {url!r} is not usable: {e}", field="url", url=url
            ) from e
        self.url = url
        self.name = f"files {url}"
        self._fs = fs
        self._root = root.rstrip("/") or root
        self._local = isinstance(fs, LocalFileSystem)

    def paths(self, alert_id: int) -> tuple[str, str]:
        """The packet and sidecar paths of one alert (in the filesystem's own terms)."""
        # int(): an id is a number, never a path fragment
        base = f"{self._root}/{int(alert_id)}"
        return base + AVRO_SUFFIX, base + SIDECAR_SUFFIX

    def _write(self, alert: OutgoingAlert) -> None:
        avro_path, sidecar_path = self.paths(alert.alert_id)
        if self._local:
            Path(self._root).mkdir(parents=True, exist_ok=True)
            # The packet first: a sidecar present means its packet is complete.
            write_atomically(Path(avro_path), alert.avro)
            write_atomically(Path(sidecar_path), alert.sidecar)
        else:
            self._fs.makedirs(self._root, exist_ok=True)
            self._fs.pipe_file(avro_path, alert.avro)
            self._fs.pipe_file(sidecar_path, alert.sidecar)

    def send(self, alerts: Sequence[OutgoingAlert]) -> list[Outcome]:
        """Write every alert; one `Outcome` per alert, in order, never raising.

        Parameters
        ----------
        alerts : sequence of OutgoingAlert
            The alerts to write.

        Returns
        -------
        list of Outcome
            Delivered, or not with the filesystem's error (``retry=True``: a full disk or
            an unreachable bucket may recover).
        """
        outcomes = []
        for alert in alerts:
            try:
                self._write(alert)
            # fsspec backends raise their own exception types (botocore, gcsfs...), not
            # only OSError; each becomes this alert's outcome instead of escaping.
            except Exception as e:
                log.warning("%s: alert %s not written: %s", self.name, alert.alert_id, e)
                error = f"{self.name}: {type(e).__name__}: {e}"
                outcomes.append(Outcome(alert.alert_id, delivered=False, error=error))
            else:
                outcomes.append(Outcome(alert.alert_id, delivered=True))
        return outcomes

    def __repr__(self) -> str:
        return f"FileDestination({self.url!r})"
