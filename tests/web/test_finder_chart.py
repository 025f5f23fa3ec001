"""The object page's finder chart: the reference image around the object, north and east
from its WCS, a scale bar in arcseconds, a marker on the object; the reference cutout when
there is no larger field."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from astropy.wcs import WCS
from fastapi.testclient import TestClient
from PIL import Image

from astrid.catalog import candidates_of_object, list_objects
from astrid.catalog.object_records import ObjectRecord
from astrid.difference.cutouts import CUTOUT_SIZE
from astrid.service.finder_chart import FINDER_SIZE, finder_chart
from service_catalog import REFERENCE_SCALE_ARCSEC, REFERENCE_STAR, store_reference_image
from service_env import Env, login

HTML = {"Accept": "text/html"}


def _store_reference(env: Env, obj: ObjectRecord, rotation_deg: float) -> WCS:
    return store_reference_image(
        env.service.catalog,
        env.service.store,
        env.seeded.reference_id,
        ra=obj.ra,
        dec=obj.dec,
        rotation_deg=rotation_deg,
    )


def _expected(wcs: WCS) -> tuple[np.ndarray, np.ndarray]:
    """North and east as display unit vectors (u right, v down) from the inverse CD."""
    inverse = np.linalg.inv(wcs.wcs.cd)
    out = []
    for sky in ((0.0, 1.0), (1.0, 0.0)):
        px = inverse @ np.array(sky)
        px /= np.hypot(*px)
        out.append(np.array([px[0], -px[1]]))
    return out[0], out[1]


@pytest.mark.parametrize("rotation_deg", [0.0, 35.0, 90.0])
def test_finder_chart_from_the_reference_image(fresh: Env, rotation_deg: float) -> None:
    obj = list_objects(fresh.service.catalog, limit=1)[0]
    wcs = _store_reference(fresh, obj, rotation_deg)
    detections = candidates_of_object(fresh.service.catalog, obj.id)
    chart = finder_chart(fresh.service, obj, detections)
    assert chart is not None and chart.source == "reference image"
    assert (chart.x, chart.y) == pytest.approx(REFERENCE_STAR, abs=1e-6)
    assert chart.overlay.size == FINDER_SIZE
    compass = chart.overlay.compass
    assert compass is not None, "arrows from the WCS"
    north, east = _expected(wcs)
    assert compass.north == pytest.approx(tuple(north), abs=1e-4)
    assert compass.east == pytest.approx(tuple(east), abs=1e-4)
    assert compass.arcsec_per_pixel == pytest.approx(REFERENCE_SCALE_ARCSEC, rel=1e-4)
    assert chart.overlay.scale_bar_arcsec == 30.0  # the longest of the choices in 35 % of 127″
    assert chart.overlay.scale_bar_pixels == pytest.approx(30.0, rel=1e-4)
    assert chart.overlay.centre == (63.5, 63.5), "the marker on the object"

    client = TestClient(fresh.client.app)
    login(client, fresh.keys["viewer"])
    page = client.get(f"/objects/{obj.name}").text
    finder = re.search(r'data-testid="finder">(.*?)</figure>', page, re.S)
    assert finder is not None
    text = finder.group(1)
    assert f'src="/objects/{obj.id}/finder.png?v={chart.version}"' in text
    assert 'data-testid="finder-marks"' in text and 'class="ring"' in text
    assert 'class="arrow-N"' in text and 'class="arrow-E"' in text
    assert 'data-arcsec="30.0"' in text and ">30″</text>" in text
    assert "reference image · ref_r" in text and "127″ across" in text

    png = client.get(f"/objects/{obj.id}/finder.png?v={chart.version}")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(png.content)))
    assert pixels.shape == (FINDER_SIZE * chart.scale,) * 2
    centre = pixels.shape[0] // 2
    assert pixels[centre, centre] > 200, "the star on the object is at the centre"
    assert pixels[5, 5] < 150, "sky away from it"


def test_finder_chart_falls_back_to_the_reference_cutout(fresh: Env) -> None:
    """The seeded reference has no WCS: the newest detection's cutout, marker only."""
    obj = list_objects(fresh.service.catalog, limit=1)[0]
    detections = candidates_of_object(fresh.service.catalog, obj.id)
    chart = finder_chart(fresh.service, obj, detections)
    assert chart is not None and chart.source == "reference cutout"
    assert chart.key == detections[0].cutout_reference_key
    assert chart.overlay.size == CUTOUT_SIZE and chart.overlay.compass is None
    assert finder_chart(fresh.service, obj, []) is None

    client = TestClient(fresh.client.app)
    login(client, fresh.keys["viewer"])
    page = client.get(f"/objects/{obj.id}").text
    assert "no WCS: no arrows or scale" in page and 'class="arrow-N"' not in page
    png = client.get(f"/objects/{obj.id}/finder.png")
    assert png.status_code == 200
    assert Image.open(io.BytesIO(png.content)).size == (CUTOUT_SIZE * chart.scale,) * 2


def test_finder_chart_off_the_reference_uses_the_cutout(fresh: Env) -> None:
    obj = list_objects(fresh.service.catalog, limit=2)[1]
    other = list_objects(fresh.service.catalog, limit=1)[0]
    # the WCS puts `other` on the image; `obj`, 0.05° away at most, may or may not be on it
    _store_reference(fresh, other, 0.0)
    shifted = ObjectRecord(**{**obj.__dict__, "dec": other.dec + 1.0})
    chart = finder_chart(
        fresh.service, shifted, candidates_of_object(fresh.service.catalog, obj.id)
    )
    assert chart is not None and chart.source == "reference cutout"


def test_finder_image_of_an_unknown_object_is_404(env: Env) -> None:
    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    assert client.get("/objects/ASTRID1999zz/finder.png", headers=HTML).status_code == 404
    assert client.get("/objects/0/finder.png", headers=HTML).status_code == 422
    assert client.get("/objects/99999999999999999999/finder.png").status_code == 422
