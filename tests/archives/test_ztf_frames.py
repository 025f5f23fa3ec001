"""ZTF science frames from IRSA by position and date (issue 19).

IRSA cannot be reached from here: a local HTTP server replays the documented IBE protocol
(https://irsa.ipac.caltech.edu/docs/program_interface/ztf_api.html, ztf_metadata.html): a
search at ``/ibe/search/ztf/products/sci`` answering CSV metadata (``ct=csv``; the
documented columns and a few others), and files at the path the metadata make. The frames
served are simulated.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from local_http import serving, stand_in_server
from typer.testing import CliRunner

from astrid.archives import download_frame, search_ztf_frames
from astrid.cli import app
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.fits_reader import read_image
from astrid.simulation import simulate_pair
from small_field import STATIC_FIELD

runner = CliRunner()

HEADER = "ra,dec,field,ccdid,qid,filtercode,filefracday,imgtypecode,obsjd,seeing,maglimit"
ROWS = [
    "150.1,2.2,600,7,3,zr,20200215312188,o,2458895.3121875,2.1,20.4",
    "150.1,2.2,600,7,3,zg,20200214203148,o,2458894.2031482,2.4,20.6",
]


class FakeIbe:
    def __init__(self, frame: bytes) -> None:
        self.mode = "ok"
        self.searches: list[dict[str, str]] = []
        self.downloads: list[str] = []
        self.frame = frame
        self.server = stand_in_server(self.answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ibe"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        if path.endswith("/search/ztf/products/sci"):
            self.searches.append(query)
            status, body = self.search()
            return status, "text/csv", body
        self.downloads.append(path)
        if self.mode == "html":
            return 200, "text/html", b"<html>"
        return 200, "application/fits", self.frame

    def search(self) -> tuple[int, bytes]:
        if self.mode == "error":
            return 500, b"Internal error"
        if self.mode == "columns":
            return 200, b"ra,dec,obsjd\n150.1,2.2,2458895.3\n"
        if self.mode == "empty":
            return 200, (HEADER + "\n").encode()
        return 200, ("\n".join([HEADER, *ROWS]) + "\n").encode()


@pytest.fixture()
def ibe() -> Iterator[FakeIbe]:
    buffer = BytesIO()
    simulate_pair(STATIC_FIELD, seed=2).science.to_hdu().writeto(buffer)
    fake = FakeIbe(buffer.getvalue())
    with serving(fake.server):
        yield fake


def test_a_search_asks_by_position_date_and_band_and_builds_the_documented_urls(
    ibe: FakeIbe,
) -> None:
    frames = search_ztf_frames(
        150.1, 2.2, start_mjd=58894.0, end_mjd=58896.0, band="r", base_url=ibe.url
    )
    (query,) = ibe.searches
    assert query["POS"] == "150.1000000,2.2000000" and query["ct"] == "csv"
    assert query["WHERE"] == "obsjd>=2458894.5 AND obsjd<=2458896.5 AND filtercode='zr'"
    # oldest first, each with the file the metadata name
    assert [f.filtercode for f in frames] == ["zg", "zr"]
    assert frames[1].url == (
        f"{ibe.url}/data/ztf/products/sci/2020/0215/312188/"
        "ztf_20200215312188_000600_zr_c07_o_q3_sciimg.fits"
    )
    assert frames[1].mjd == pytest.approx(58894.8121875)


def test_frames_are_downloaded_once_and_readable(ibe: FakeIbe, tmp_path: Path) -> None:
    (frame, _) = search_ztf_frames(150.1, 2.2, base_url=ibe.url)
    path = download_frame(frame, tmp_path)
    assert path.name == frame.filename and read_image(path).shape == (384, 384)
    assert download_frame(frame, tmp_path) == path
    assert len(ibe.downloads) == 1


def test_bad_answers_are_named_and_nothing_is_written(ibe: FakeIbe, tmp_path: Path) -> None:
    ibe.mode = "empty"
    assert search_ztf_frames(150.1, 2.2, base_url=ibe.url) == []
    ibe.mode = "error"
    with pytest.raises(OnlineServiceError, match=r"search at 150\.10000,2\.20000: HTTP 500"):
        search_ztf_frames(150.1, 2.2, base_url=ibe.url)
    ibe.mode = "columns"
    with pytest.raises(OnlineServiceError, match="no field, ccdid, qid, filtercode"):
        search_ztf_frames(150.1, 2.2, base_url=ibe.url)
    ibe.mode = "ok"
    (frame, _) = search_ztf_frames(150.1, 2.2, base_url=ibe.url)
    ibe.mode = "html"
    with pytest.raises(OnlineServiceError, match="not a FITS file"):
        download_frame(frame, tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigurationError, match="ZTF band 'y'"):
        search_ztf_frames(150.1, 2.2, band="y", base_url=ibe.url)
    with pytest.raises(ConfigurationError, match="before start"):
        search_ztf_frames(150.1, 2.2, start_mjd=2.0, end_mjd=1.0, base_url=ibe.url)
    ibe.server.shutdown()
    ibe.server.server_close()
    with pytest.raises(OnlineServiceError, match="ConnectError"):
        search_ztf_frames(150.1, 2.2, base_url=ibe.url, timeout=5)


def test_the_command_downloads_the_frames(ibe: FakeIbe, tmp_path: Path) -> None:
    args = ["references", "ztf-frames", "--ra", "150.1", "--dec", "2.2", "-o", str(tmp_path)]
    result = runner.invoke(app, [*args, "--server", ibe.url, "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "2 ZTF science frame(s)" in result.output
    assert [p.name for p in tmp_path.iterdir()] == [
        "ztf_20200214203148_000600_zg_c07_o_q3_sciimg.fits"
    ]
    ibe.mode = "error"
    result = runner.invoke(app, [*args, "--server", ibe.url])
    assert result.exit_code == 2 and "HTTP 500" in result.output
