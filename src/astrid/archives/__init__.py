"""Templates from survey archives, for frames no local reference covers (issue 19).

`hips_templates` fetches a survey's image of a science frame's sky, on the frame's own
pixel grid plus a margin, from CDS's hips2fits service (through astroquery) for any HiPS
image survey: Pan-STARRS DR1 and DECaPS DR2 by name, any other by its HiPS ID.
"""

from astrid.archives.hips_templates import (
    SURVEYS,
    TemplateRequest,
    fetch_template,
    survey_band,
    template_request,
)

__all__ = ["SURVEYS", "TemplateRequest", "fetch_template", "survey_band", "template_request"]
