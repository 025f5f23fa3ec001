"""Templates from survey archives, for frames no local reference covers (issue 19).

`hips_templates` fetches a survey's image of a science frame's sky, on the frame's own
pixel grid plus a margin, from CDS's hips2fits service (through astroquery) for any HiPS
image survey: Pan-STARRS DR1 and DECaPS DR2 by name, any other by its HiPS ID.
`ztf_frames` finds and downloads ZTF science frames from IRSA by position and date.
"""

from astrid.archives.hips_templates import (
    SURVEYS,
    TemplateRequest,
    fetch_template,
    survey_band,
    template_request,
)
from astrid.archives.ztf_frames import ZtfFrame, download_frame, search_ztf_frames

__all__ = [
    "SURVEYS",
    "TemplateRequest",
    "ZtfFrame",
    "download_frame",
    "fetch_template",
    "search_ztf_frames",
    "survey_band",
    "template_request",
]
