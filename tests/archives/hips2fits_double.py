"""A local stand-in for CDS hips2fits, for the archive tests (the archives cannot be
reached from here).

It answers as the service documents (https://alasky.cds.unistra.fr/hips-image-services/
hips2fits): a FITS file on the WCS it is sent (``wcs``: the FITS header as JSON, with
``NAXIS1``/``NAXIS2``), a JSON ``{"title", "description"}`` with an HTTP error status for a
bad request. Its pixels are synthetic: a ramp with noise, or, when ``sky`` is set, that
image resampled onto the asked WCS (as hips2fits resamples a HiPS survey), NaN where it
does not reach.
"""

from __future__ import annotations

import json
from io import BytesIO

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from local_http import stand_in_server
from reproject import reproject_interp

from astrid.observations.image import Image

__all__ = ["FakeHips2fits"]


class FakeHips2fits:
    """A local stand-in for hips2fits; ``mode`` chooses the answer, ``requests`` records
    the query parameters it got."""

    def __init__(self) -> None:
        self.mode = "fits"
        self.sky: Image | None = None
        self.requests: list[dict[str, str]] = []
        self.server = stand_in_server(self.answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hips2fits"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        self.requests.append(query)
        if self.mode == "json-error":
            error = {"title": "Bad request", "description": "unknown HiPS 'CDS/P/X'"}
            return 400, "application/json", json.dumps(error).encode()
        if self.mode == "html":
            return 200, "text/html", b"<html><body>Service down for maintenance</body></html>"
        header = fits.Header(json.loads(query["wcs"]))
        shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
        if self.mode == "small":
            shape = (shape[0] // 2, shape[1])
        wcs = WCS(header)
        if self.sky is not None:
            sky = np.where(self.sky.mask, np.nan, self.sky.data)
            data = reproject_interp((sky, self.sky.wcs), wcs, shape, return_footprint=False)
            data = np.where(np.isfinite(data), data, np.nan).astype(">f4")
        else:  # a smooth ramp plus noise
            x = np.mgrid[: shape[0], : shape[1]][1]
            data = 100.0 + 0.01 * x + np.random.default_rng(0).normal(0, 5, shape)
            data = data.astype(">f4")
        if self.mode == "uncovered":
            data[:] = np.nan
        buffer = BytesIO()
        fits.PrimaryHDU(data, wcs.to_header()).writeto(buffer)
        return 200, "application/fits", buffer.getvalue()
