"""AstrID: find what changed in the sky.

Conventions used across the package: pixel coordinates are 0-based, arrays are indexed
``[y, x]`` while tables and positions are ``(x, y)``; sky positions are degrees ICRS or
`~astropy.coordinates.SkyCoord`; fluxes are in the science image's units.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("astrid")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
