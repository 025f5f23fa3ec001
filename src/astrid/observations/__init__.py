"""Observations: read a FITS image robustly, describe it, and check a pair can be compared.

`read_image` turns a FITS file (or stream) into an `Image` (float32 data, bad-pixel mask,
WCS, `ImageMeta` from the header) or raises `astrid.errors.InvalidImageError` naming the
file, HDU and problem; `check_usable` and `check_compatible` say whether an image, and a
science/reference pair, can go through the pipeline; `file_sha256` is the content hash that
keys everything stored.

Examples
--------
>>> from astrid.observations import read_image, check_compatible
>>> science = read_image("science.fits")  # doctest: +SKIP
>>> check_compatible(science, read_image("reference.fits"))  # doctest: +SKIP
"""

from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
from astrid.observations.header_meta import read_meta
from astrid.observations.image import Image, ImageMeta
from astrid.observations.validate import check_compatible, check_usable, overlap_fraction

__all__ = [
    "Image",
    "ImageMeta",
    "check_compatible",
    "check_usable",
    "file_sha256",
    "overlap_fraction",
    "read_image",
    "read_meta",
]
