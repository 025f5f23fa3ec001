"""Templates from survey archives, for frames no local reference covers (issue 19).

`hips_templates` fetches a survey's image of a science frame's sky, on the frame's own
pixel grid plus a margin, from CDS's hips2fits service (through astroquery) for any HiPS
image survey: Pan-STARRS DR1 and DECaPS DR2 by name, any other by its HiPS ID.
`ps1_cutouts` fetches Pan-STARRS1 stack pixels on their own grid from STScI's cutout
service, `legacy_cutouts` Legacy Survey DR10 pixels from the Legacy Survey viewer's
``fits-cutout``, `skymapper_cutouts` SkyMapper DR4 pixels from SkyMapper's SIAP (all built
with `survey_cutouts`). `template_sources` picks the archive by
AstrID's name for it.
`ztf_frames` finds and downloads ZTF science frames from IRSA by position and date,
`ps1_frames` Pan-STARRS1 single-epoch warps from MAST (STScI's PS1 image services).
"""

from astrid.archives.hips_templates import (
    SURVEYS,
    TemplateRequest,
    fetch_template,
    survey_band,
    template_request,
)
from astrid.archives.legacy_cutouts import (
    LegacyCutoutRequest,
    fetch_legacy_cutout,
    legacy_cutout_request,
)
from astrid.archives.ps1_cutouts import Ps1CutoutRequest, fetch_ps1_cutout, ps1_cutout_request
from astrid.archives.ps1_frames import Ps1Frame, download_ps1_frame, search_ps1_frames
from astrid.archives.skymapper_cutouts import (
    SkyMapperCutoutRequest,
    fetch_skymapper_cutout,
    skymapper_cutout_request,
)
from astrid.archives.template_sources import (
    SURVEY_NAMES,
    ArchiveRequest,
    fetch_archive_template,
    template_request_for,
)
from astrid.archives.ztf_frames import ZtfFrame, download_frame, search_ztf_frames

__all__ = [
    "SURVEYS",
    "SURVEY_NAMES",
    "ArchiveRequest",
    "LegacyCutoutRequest",
    "Ps1CutoutRequest",
    "Ps1Frame",
    "SkyMapperCutoutRequest",
    "TemplateRequest",
    "ZtfFrame",
    "download_frame",
    "download_ps1_frame",
    "fetch_archive_template",
    "fetch_legacy_cutout",
    "fetch_ps1_cutout",
    "fetch_skymapper_cutout",
    "fetch_template",
    "legacy_cutout_request",
    "ps1_cutout_request",
    "search_ps1_frames",
    "search_ztf_frames",
    "skymapper_cutout_request",
    "survey_band",
    "template_request",
    "template_request_for",
]
