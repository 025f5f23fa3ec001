"""Which archive a template is asked of, by AstrID's name for it.

- ``ps1``, ``decaps``: Pan-STARRS1 DR1 / DECaPS DR2 through CDS hips2fits, resampled onto
  the science frame's grid (`hips_templates`); any other name is taken as a HiPS ID;
- ``ps1-cutout``: PS1 stack pixels on their own grid from STScI's cutout service
  (`ps1_cutouts`);
- ``legacy-cutout``: Legacy Survey DR10 pixels (nanomaggies) on the cutout's own grid from
  the Legacy Survey viewer (`legacy_cutouts`);
- ``skymapper-cutout``: SkyMapper DR4 pixels (ADU of one exposure, with its approximate
  zero point) on the CCD's own grid from SkyMapper's SIAP (`skymapper_cutouts`).

`template_request_for` builds the request (an `ArchiveRequest`: what identifies the
answer, with a ``digest`` for caches) and `fetch_archive_template` makes it.
"""

from __future__ import annotations

from typing import Protocol

from astrid.archives.hips_templates import SURVEYS, TemplateRequest, fetch_template
from astrid.archives.hips_templates import TIMEOUT_S as HIPS_TIMEOUT_S
from astrid.archives.hips_templates import template_request as hips_request
from astrid.archives.legacy_cutouts import (
    LEGACY_CUTOUT,
    LegacyCutoutRequest,
    fetch_legacy_cutout,
    legacy_cutout_request,
)
from astrid.archives.ps1_cutouts import SURVEY as PS1_CUTOUT
from astrid.archives.ps1_cutouts import Ps1CutoutRequest, fetch_ps1_cutout, ps1_cutout_request
from astrid.archives.skymapper_cutouts import (
    SKYMAPPER_CUTOUT,
    SkyMapperCutoutRequest,
    fetch_skymapper_cutout,
    skymapper_cutout_request,
)
from astrid.errors import ConfigurationError
from astrid.observations.image import Image

__all__ = [
    "SURVEY_NAMES",
    "TIMEOUT_S",
    "ArchiveRequest",
    "fetch_archive_template",
    "template_request_for",
]

#: The archive surveys AstrID knows by name (any other name is a HiPS ID).
SURVEY_NAMES: tuple[str, ...] = (*SURVEYS, PS1_CUTOUT, LEGACY_CUTOUT, SKYMAPPER_CUTOUT)
#: Seconds an archive may take to answer.
TIMEOUT_S = HIPS_TIMEOUT_S


class ArchiveRequest(Protocol):
    """What every archive request tells its caller (and the catalog's cache)."""

    @property
    def survey(self) -> str: ...  # AstrID's name of the source ("ps1", "ps1-cutout", ...)

    @property
    def band(self) -> str | None: ...  # the survey's band (None for a bare HiPS ID)

    @property
    def label(self) -> str: ...  # the science frame

    @property
    def source(self) -> str: ...  # what is asked for, for messages

    @property
    def centre(self) -> tuple[float, float]: ...  # (ra, dec) degrees

    @property
    def shape(self) -> tuple[int, int]: ...  # (ny, nx) of the template

    @property
    def digest(self) -> str: ...  # SHA-256 of all that determines the answer


def template_request_for(
    science: Image,
    survey: str,
    *,
    band: str | None = None,
    hips: str | None = None,
    margin: int = 32,
) -> ArchiveRequest:
    """The request for ``science``'s template from ``survey`` (a name in `SURVEY_NAMES`,
    or a HiPS ID), or from the HiPS survey ``hips`` when given.

    Raises
    ------
    ConfigurationError
        The request cannot be made (no WCS, a band the survey lacks, a frame too wide).
    """
    if hips:
        return hips_request(science, hips=hips, margin=margin)
    if survey == PS1_CUTOUT:
        return ps1_cutout_request(science, band=band, margin=margin)
    if survey == LEGACY_CUTOUT:
        return legacy_cutout_request(science, band=band, margin=margin)
    if survey == SKYMAPPER_CUTOUT:
        return skymapper_cutout_request(science, band=band, margin=margin)
    if survey in SURVEYS:
        return hips_request(science, survey=survey, band=band, margin=margin)
    if "/" in survey:  # a HiPS ID (CDS/P/...)
        return hips_request(science, hips=survey, margin=margin)
    raise ConfigurationError(
        f"archive survey {survey!r}: expected one of {', '.join(SURVEY_NAMES)} or a HiPS ID",
        survey=survey,
    )


def fetch_archive_template(
    request: ArchiveRequest, *, timeout: float = TIMEOUT_S, server: str | None = None
) -> bytes:
    """The template for ``request`` as FITS bytes; ``server`` replaces the archive's
    endpoint (hips2fits's URL, the folder of PS1's ``ps1filenames.py``, the Legacy
    Survey viewer's, holding ``fits-cutout``, or SkyMapper's SIAP, holding ``query`` and
    ``get_image``).

    Raises
    ------
    OnlineServiceError
        The archive failed (the message names the survey, the frame and the problem).
    """
    if isinstance(request, Ps1CutoutRequest):
        return fetch_ps1_cutout(request, timeout=timeout, base_url=server)
    if isinstance(request, LegacyCutoutRequest):
        return fetch_legacy_cutout(request, timeout=timeout, base_url=server)
    if isinstance(request, SkyMapperCutoutRequest):
        return fetch_skymapper_cutout(request, timeout=timeout, base_url=server)
    if isinstance(request, TemplateRequest):
        return fetch_template(request, timeout=timeout, server=server)
    raise TypeError(f"not an archive request: {request!r}")
