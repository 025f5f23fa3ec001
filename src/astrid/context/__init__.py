"""Context: what an object is near (pure science, no SQL).

Catalogue cross-match from offline files (and archive adapters when enabled), host galaxy
from the reference image by the directional light radius, and the context class rules.
"""

from astrid.context.catalogues import BUILTIN_CATALOGUES, Catalogue, CatalogueSpec
from astrid.context.crossmatch import Match, crossmatch
from astrid.context.install import InstallReport, add_catalogue, install_catalogues
from astrid.context.registry import load_catalogues, remove_catalogue

__all__: list[str] = [
    "BUILTIN_CATALOGUES",
    "Catalogue",
    "CatalogueSpec",
    "InstallReport",
    "Match",
    "add_catalogue",
    "crossmatch",
    "install_catalogues",
    "load_catalogues",
    "remove_catalogue",
]
