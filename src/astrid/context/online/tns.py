"""Cone searches of the Transient Name Server through its bot API (JSON over HTTP).

The TNS API (https://www.wis-tns.org/content/tns-getting-started) takes form posts with
``api_key`` and a JSON ``data`` field, from a registered bot that names itself in the
User-Agent: ``tns_marker{"tns_id": <bot id>, "type": "bot", "name": "<bot name>"}``.
``/search`` with ``ra``, ``dec``, ``radius`` and ``units`` lists the objects in a cone
(``objname``, ``prefix``, ``objid``); ``/object`` with ``objname`` gives each one's
position (``radeg``, ``decdeg``), ``name_prefix``, ``object_type.name``, ``redshift`` and
``discoverydate``. Answers are ``{"id_code": 200, "id_message": "OK", "data": {"reply":
...}}``. The API rate-limits bots; at most `MAX_OBJECTS` objects are looked up per cone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from astrid.context.online.object_types import kind_of
from astrid.errors import ConfigurationError, OnlineServiceError

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_TNS_URL", "MAX_OBJECTS", "TnsService"]

DEFAULT_TNS_URL = "https://www.wis-tns.org/api/get"
"""Base of the TNS bot API (``/search`` and ``/object`` below it)."""

#: Objects of one cone looked up with ``/object`` (nearest first as TNS lists them).
MAX_OBJECTS = 5

CITATION = "Transient Name Server (TNS), IAU, https://www.wis-tns.org"


@dataclass(frozen=True)
class TnsService:
    """The TNS bot API for cone searches.

    Parameters
    ----------
    api_key : str
        The bot's API key (never logged or cached).
    bot_id : int
        The bot's TNS id.
    bot_name : str
        The bot's name.

    Raises
    ------
    ConfigurationError
        When the key, id or name is missing (None or empty).
    url : str
        Base URL of the API.
    timeout_s : float
        Seconds allowed for each request.
    """

    api_key: str | None = field(repr=False)
    bot_id: int | None
    bot_name: str | None
    url: str = DEFAULT_TNS_URL
    timeout_s: float = 10.0
    service: str = "tns"
    catalogue: str = "tns"
    citation: str = CITATION

    def __post_init__(self) -> None:
        missing = [
            name
            for name, value in (
                ("tns_api_key", self.api_key),
                ("tns_bot_id", self.bot_id),
                ("tns_bot_name", self.bot_name),
            )
            if value in (None, "")
        ]
        if missing:
            raise ConfigurationError(
                f"context_online includes 'tns' but {', '.join(missing)} "
                f"(ASTRID_{missing[0].upper()}) is not set: TNS answers registered bots only "
                "(https://www.wis-tns.org/bots)"
            )

    @property
    def key(self) -> str:
        """The cache key: service and endpoint (not the API key)."""
        return f"tns@{self.url}"

    @property
    def user_agent(self) -> str:
        """The User-Agent TNS requires of a bot."""
        marker = json.dumps({"tns_id": self.bot_id, "type": "bot", "name": self.bot_name})
        return f"tns_marker{marker}"

    def _post(self, client: httpx.Client, endpoint: str, data: dict[str, str]) -> Any:
        """One API call: the ``reply`` of its answer, or OnlineServiceError naming TNS."""
        import httpx

        url = f"{self.url.rstrip('/')}/{endpoint}"
        try:
            form = {"api_key": str(self.api_key), "data": json.dumps(data)}
            response = client.post(url, data=form)
        except httpx.TimeoutException as e:
            raise OnlineServiceError(
                f"tns: no answer from {url} within {self.timeout_s:g} s",
                service="tns",
                timeout_s=self.timeout_s,
            ) from e
        except httpx.HTTPError as e:
            raise OnlineServiceError(f"tns: {url}: {type(e).__name__}: {e}", service="tns") from e
        if response.status_code != 200:
            raise OnlineServiceError(
                f"tns: {url} answered HTTP {response.status_code}: {response.text[:200]!r}",
                service="tns",
                status=response.status_code,
            )
        try:
            body = response.json()
            if body.get("id_code") != 200:
                raise ValueError(f"id_code {body.get('id_code')!r}: {body.get('id_message')!r}")
            answer = body["data"]
            return answer["reply"] if isinstance(answer, dict) else answer
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise OnlineServiceError(
                f"tns: malformed answer from {url}: {type(e).__name__}: {e}", service="tns"
            ) from e

    def cone(self, ra: float, dec: float, radius_arcsec: float) -> list[dict[str, Any]]:
        """TNS objects within ``radius_arcsec`` of a position, as rows (see `TapTable.rows`).

        Raises
        ------
        OnlineServiceError
            On a timeout, an HTTP error, an API error code or a malformed answer.
        """
        import httpx  # here, not at import: the pipeline's workers import this module

        headers = {"User-Agent": self.user_agent}
        with httpx.Client(timeout=self.timeout_s, headers=headers) as client:
            found = self._post(
                client,
                "search",
                {
                    "ra": f"{ra:.7f}",
                    "dec": f"{dec:.7f}",
                    "radius": f"{radius_arcsec:g}",
                    "units": "arcsec",
                },
            )
            if not isinstance(found, list):
                raise OnlineServiceError(
                    f"tns: malformed search answer: expected a list, got {type(found).__name__}",
                    service="tns",
                )
            rows = []
            for entry in found[:MAX_OBJECTS]:
                name = entry.get("objname") if isinstance(entry, dict) else None
                if not name:
                    raise OnlineServiceError(
                        f"tns: malformed search answer: entry without objname: {entry!r}",
                        service="tns",
                    )
                obj = self._post(
                    client, "object", {"objname": str(name), "photometry": "0", "spectra": "0"}
                )
                rows.append(_object_row(obj))
        return rows


def _object_row(obj: Any) -> dict[str, Any]:
    """A TNS ``/object`` reply as a row; OnlineServiceError when it lacks the position."""
    try:
        ra, dec = float(obj["radeg"]), float(obj["decdeg"])
        name = f"{obj.get('name_prefix') or ''} {obj['objname']}".strip()
        object_type = obj.get("object_type") or {}
        type_name = str(object_type.get("name") or obj.get("name_prefix") or "AT")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise OnlineServiceError(
            f"tns: malformed object answer: {type(e).__name__}: {e}", service="tns"
        ) from e
    return {
        "name": name,
        "type": type_name,
        "kind": kind_of("tns", type_name),
        "ra": ra,
        "dec": dec,
        "columns": {
            "redshift": obj.get("redshift"),
            "discoverydate": obj.get("discoverydate"),
            "internal_names": obj.get("internal_names"),
        },
    }
