"""A survey's band for a science frame's ``FILTER``, shared by the archive clients.

Frames name their band in many ways (``r``, ``r'``, ``rp``, ``SDSS r``, ``i_sdss``,
DECam's ``r DECam SDSS c0002 6415.0 1480.0``); each word of the ``FILTER`` is compared,
case-insensitively, with the survey's band names, except the bands a survey names as
``exact`` (SkyMapper's violet ``v``, which a Johnson ``V`` frame is not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from astrid.errors import ConfigurationError

__all__ = ["match_band"]


def match_band(
    survey: str, bands: Sequence[str], band: str | None, *, exact: Sequence[str] = ()
) -> str:
    """The one of ``bands`` (the survey's, as the survey spells them) that ``band`` names.

    Parameters
    ----------
    survey : str
        The survey's name, for messages.
    bands : sequence of str
        The survey's bands.
    band : str or None
        A frame's ``FILTER`` or a band given by hand.
    exact : sequence of str
        Those of ``bands`` matched only as spelled, case included.

    Raises
    ------
    ConfigurationError
        No band given, or one the survey does not have (the message lists the survey's).
    """
    if not band:
        raise ConfigurationError(
            f"{survey}: the frame has no FILTER; give the band ({', '.join(bands)})",
            survey=survey,
        )
    words = [w for w in re.split(r"[\s_\-.]+", band.replace("'", "")) if w]
    for word in words:
        letter = word[:-1] if word.lower().endswith("p") and len(word) == 2 else word
        for name in bands:
            if letter == name or (name not in exact and letter.lower() == name.lower()):
                return name
    spelled = f"; {', '.join(exact)} only as spelled" if exact else ""
    raise ConfigurationError(
        f"{survey}: band {band!r} is not one of the survey's ({', '.join(bands)}{spelled}); "
        "give it",
        survey=survey,
        band=band,
    )
