"""Context: what an object is near (pure science, no SQL).

Catalogue cross-match from offline files (and the online services of `astrid.context.online`
when enabled), host galaxy
from the reference image by the directional light radius, and the context class rules.
"""

from astrid.context.catalogues import BUILTIN_CATALOGUES, Catalogue, CatalogueSpec
from astrid.context.classify import CONTEXT_CLASSES, ContextDecision, MatchLike, classify
from astrid.context.crossmatch import Match, crossmatch, sort_matches
from astrid.context.host import (
    ContextInputError,
    HostMatch,
    assign_hosts,
    directional_light_radius,
    on_bright_star,
)
from astrid.context.install import InstallReport, add_catalogue, install_catalogues
from astrid.context.reference_sources import find_reference_sources, sources_of_image
from astrid.context.registry import load_catalogues, remove_catalogue

__all__: list[str] = [
    "BUILTIN_CATALOGUES",
    "CONTEXT_CLASSES",
    "Catalogue",
    "CatalogueSpec",
    "ContextDecision",
    "ContextInputError",
    "HostMatch",
    "InstallReport",
    "Match",
    "MatchLike",
    "add_catalogue",
    "assign_hosts",
    "classify",
    "crossmatch",
    "directional_light_radius",
    "find_reference_sources",
    "install_catalogues",
    "load_catalogues",
    "on_bright_star",
    "remove_catalogue",
    "sort_matches",
    "sources_of_image",
]
