"""What each online service's object type means for the context class: the one table.

Every online match gets one of the catalogue kinds (`astrid.context.catalogues.KINDS`), so
`classify` treats it as it treats an offline match:

- ``variable_star`` votes for rule 2. Besides variable-star types this includes plain
  catalogued *stars* (SIMBAD ``*``, NED ``*``, a Gaia source with a significant parallax or
  proper motion): a transient on a star is stellar variability or a flare, as Sherlock's
  "VS" class has it.
- ``agn`` votes for rule 3 (QSO, Seyfert, blazar, BL Lac, LINER, candidates included).
- ``galaxy`` is reported (hosts come from the reference image).
- ``transient`` (supernovae, novae, TDEs, GRBs; every TNS object unless its type says
  otherwise) and ``other`` (anything else: X-ray or radio sources, clusters, nebulae, a
  PS1 detection) are reported with the object and decide nothing.

SIMBAD types are the short codes of ``basic.otype`` (https://simbad.cds.unistra.fr/guide/
otypes.htx); a trailing ``?`` (candidate) is looked up without it. NED types are the
``pretype`` codes of ``NEDTAP.objdir``; a leading ``!`` (Galactic) is looked up without it.
TNS types are ``object_type.name`` of the TNS object API, looked up whole and then by their
first word (``"SN Ia-91T"`` → ``"SN"``).
"""

from __future__ import annotations

import math

from astrid.context.catalogues import Kind

__all__ = ["GAIA_STAR_SIGMA", "OBJECT_TYPES", "gaia_star_significance", "kind_of"]

_VARIABLE_SIMBAD = (
    "V*", "Ir*", "Or*", "Er*", "RC*", "Ro*", "a2*", "BY*", "RS*", "Pu*", "RR*", "Ce*", "cC*",
    "dS*", "RV*", "WV*", "bC*", "gD*", "SX*", "LP*", "Mi*", "EB*", "Al*", "bL*", "WU*", "El*",
    "CV*", "DN*", "NL*", "No*", "Fl*", "TT*", "Ae*", "XB*", "LXB", "HXB", "Sy*", "ZZ*", "BL*",
)  # fmt: skip
_STAR_SIMBAD = (
    "*", "**", "PM*", "HV*", "WD*", "HB*", "RG*", "AB*", "C*", "S*", "MS*", "BS*", "SB*",
    "Y*O", "Em*", "Be*", "BD*", "LM*", "WR*", "OH*", "pA*", "sg*", "s*r", "s*y", "s*b",
    "HS*", "RB*", "Y*", "PM", "HV",
)  # fmt: skip
_AGN_SIMBAD = ("AGN", "QSO", "Q", "Sy1", "Sy2", "SyG", "Bla", "Bz", "BLL", "BL", "LIN", "LeQ", "AG")
_GALAXY_SIMBAD = (
    "G", "GiG", "GiC", "GiP", "BiC", "IG", "PaG", "SBG", "bCG", "EmG", "H2G", "LSB", "rG", "LeG",
)  # fmt: skip
_TRANSIENT_SIMBAD = ("SN*", "SN", "GRB", "grb")

_STAR_NED = ("*", "**", "WD*", "Blue*", "Red*", "C*", "WR*", "exG*", "V*", "Flare*", "Psr")
_AGN_NED = ("QSO", "Q_Lens", "AGN")
_GALAXY_NED = ("G", "G_Lens", "PofG")
_TRANSIENT_NED = ("SN", "Nova")

_TNS: dict[str, Kind] = {
    "CV": "variable_star",
    "Varstar": "variable_star",
    "M dwarf": "variable_star",
    "AGN": "agn",
    "QSO": "agn",
    "Blazar": "agn",
    "Galaxy": "galaxy",
    "Std-spec": "other",
}

OBJECT_TYPES: dict[str, dict[str, Kind]] = {
    "simbad": {
        **dict.fromkeys(_VARIABLE_SIMBAD + _STAR_SIMBAD, "variable_star"),
        **dict.fromkeys(_AGN_SIMBAD, "agn"),
        **dict.fromkeys(_GALAXY_SIMBAD, "galaxy"),
        **dict.fromkeys(_TRANSIENT_SIMBAD, "transient"),
    },
    "ned": {
        **dict.fromkeys(_STAR_NED, "variable_star"),
        **dict.fromkeys(_AGN_NED, "agn"),
        **dict.fromkeys(_GALAXY_NED, "galaxy"),
        **dict.fromkeys(_TRANSIENT_NED, "transient"),
    },
    "tns": _TNS,
}
"""Service → object type → kind. A type not listed is ``other`` (SIMBAD, NED) or
``transient`` (TNS: everything it names is a reported transient)."""

_DEFAULT_KIND: dict[str, Kind] = {"simbad": "other", "ned": "other", "tns": "transient"}

GAIA_STAR_SIGMA = 5.0
"""A Gaia source whose parallax or total proper motion is this many sigma from zero is a
star (a galaxy or quasar has neither)."""


def kind_of(service: str, object_type: str) -> Kind:
    """The kind an object type of ``service`` (``simbad``, ``ned``, ``tns``) stands for.

    Parameters
    ----------
    service : str
        Service whose type vocabulary ``object_type`` is in.
    object_type : str
        The type as the service gives it (``"RR*"``, ``"QSO"``, ``"SN Ia"``).

    Returns
    -------
    str
        One of the catalogue kinds.

    Examples
    --------
    >>> kind_of("simbad", "RR*"), kind_of("simbad", "QSO?"), kind_of("ned", "!V*")
    ('variable_star', 'agn', 'variable_star')
    >>> kind_of("tns", "SN Ia"), kind_of("tns", "CV")
    ('transient', 'variable_star')
    """
    table = OBJECT_TYPES[service]
    text = object_type.strip()
    candidates = [text]
    if service == "simbad":
        candidates.append(text.rstrip("?"))
        candidates.append(text.rstrip("?") + "*")
    elif service == "ned":
        candidates.append(text.lstrip("!"))
    elif service == "tns" and text:
        candidates.append(text.replace("-", " ").split()[0])
    for candidate in candidates:
        if candidate in table:
            return table[candidate]
    return _DEFAULT_KIND[service]


def _ratio(value: object, error: object) -> float:
    """|value| / error, or 0 where either is missing or the error is not positive."""
    try:
        v, e = float(value), float(error)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    if not (math.isfinite(v) and math.isfinite(e)) or e <= 0:
        return 0.0
    return abs(v) / e


def gaia_star_significance(row: dict[str, object]) -> float:
    """How many sigma a Gaia DR3 row's parallax or total proper motion is from zero.

    Parameters
    ----------
    row : dict
        VizieR I/355/gaiadr3 columns ``Plx``, ``e_Plx``, ``pmRA``, ``e_pmRA``, ``pmDE``,
        ``e_pmDE`` (missing or masked values count as zero).

    Returns
    -------
    float
        The larger of the parallax and proper-motion signal-to-noise ratios.
    """
    plx = _ratio(row.get("Plx"), row.get("e_Plx"))
    pm = math.hypot(
        _ratio(row.get("pmRA"), row.get("e_pmRA")), _ratio(row.get("pmDE"), row.get("e_pmDE"))
    )
    return max(plx, pm)
