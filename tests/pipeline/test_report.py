"""Tests of the HTML run report on one small simulated run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from astropy.table import Table

from astrid.catalog import Catalog, connect
from astrid.config import Settings
from astrid.evaluation.scoring import match_to_truth
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.report import MAX_CUTOUT_ROWS, write_report
from astrid.pipeline.runner import FrameReport, Pipeline
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD

SMALL = SMALL_FIELD
IMG = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,[A-Za-z0-9+/=]+"')


@dataclass(frozen=True)
class Run:
    """A finished run with what the report needs."""

    catalog: Catalog
    store: ObjectStore
    frame: FrameReport
    truth: Table
    score: dict[str, Any]
    inputs: dict[str, Path]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("report")
    sim = simulate_pair(SMALL, seed=3)
    paths = sim.write(root / "inputs")
    catalog = connect(f"sqlite:///{root / 'astrid.sqlite'}")
    store = ObjectStore(str(root / "store"))
    report = Pipeline(catalog, store, workers=1).run(
        paths["reference"], [paths["science"]], root / "out"
    )
    (frame,) = report.frames
    assert frame.status == "done", frame.error
    assert report.candidates_csv is not None
    score = match_to_truth(sim.truth, Table.read(report.candidates_csv, format="ascii.csv"))
    yield Run(catalog=catalog, store=store, frame=frame, truth=sim.truth, score=score, inputs=paths)
    catalog.close()


def test_report_lists_candidates_with_cutouts(run: Run, tmp_path: Path) -> None:
    path = write_report(
        tmp_path / "nested" / "report.html",
        catalog=run.catalog,
        store=run.store,
        frames=[run.frame],
    )

    assert path == tmp_path / "nested" / "report.html"
    html = path.read_text()
    n = run.frame.n_candidates
    assert n >= 1
    assert f"<p>{n} candidates at |S_corr|" in html
    alts = IMG.findall(html)
    assert alts.count("S_corr map") == 1
    assert alts.count("cutout") == 3 * min(n, MAX_CUTOUT_ROWS)
    # One table row per candidate, the most significant first.
    scorr = [abs(float(s)) for s in re.findall(r"<td>[+−]</td><td>(-?[\d.]+)</td>", html)]
    assert len(scorr) == n
    assert scorr == sorted(scorr, reverse=True)
    assert "Completeness against the injected truth" not in html
    assert "completeness vs SNR" not in alts


def test_report_with_truth_has_completeness(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("astrid.pipeline.report.MAX_CUTOUT_ROWS", 2)  # rendering is slow
    html = write_report(
        tmp_path / "report.html",
        catalog=run.catalog,
        store=run.store,
        frames=[run.frame],
        score=run.score,
        truth=run.truth,
        title="a <small> run",
    ).read_text()

    assert "<title>a &lt;small&gt; run</title>" in html
    assert IMG.findall(html).count("cutout") == 3 * 2
    assert "Completeness against the injected truth" in html
    assert IMG.findall(html).count("completeness vs SNR") == 1
    assert run.score["completeness"]
    for row in run.score["completeness"]:
        assert (
            f"<tr><td>{row['snr']}</td><td>{row['n']}</td>"
            f"<td>{row['completeness']:.3f}</td><td>{row['optimum']:.3f}</td></tr>"
        ) in html
    assert f'<td class="l">n_bogus</td><td>{run.score["n_bogus"]}</td>' in html
    assert "Run statistics" in html
    assert f'<td class="l">scorr_std</td><td>{run.frame.stats["scorr_std"]:.4g}</td>' in html


def test_report_without_run_is_empty(run: Run, tmp_path: Path) -> None:
    html = write_report(
        tmp_path / "report.html", catalog=run.catalog, store=run.store, frames=[]
    ).read_text()

    assert "<p>0 candidates at |S_corr|" in html
    assert IMG.findall(html) == []
    assert "Run statistics" not in html


def test_report_has_a_frame_table_with_failures_and_says_what_it_leaves_out(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("astrid.pipeline.report.MAX_CUTOUT_ROWS", 1)
    long_name = "DEC-OBS18A-0034_c4d_180413_032345_ooi_g_v1.fits.fz"
    failed = FrameReport(
        path=f"/data/{long_name}", status="failed", failed_stage="read", error="not <FITS>"
    )
    duplicate = FrameReport(path="/data/copy.fits", status="duplicate", run_id=run.frame.run_id)
    frames = [run.frame, failed, duplicate]
    html = write_report(
        tmp_path / "report.html", catalog=run.catalog, store=run.store, frames=frames
    ).read_text()

    n = run.frame.n_candidates
    assert f"<p>{n} candidates at |S_corr| ≥ threshold in 3 frames." in html
    assert '<td class="l name">copy.fits</td><td>duplicate</td>' in html
    assert "<h2>copy.fits</h2>" not in html  # its run is science.fits's, shown once
    assert f'<td class="l name">{long_name}</td><td>failed</td>' in html
    assert '<td class="l">read: not &lt;FITS&gt;</td>' in html
    assert '<td class="l name">science.fits</td><td>done</td>' in html
    assert html.count("<h2>science.fits</h2>") == 1  # a section per frame with a run
    assert f"Cutouts are shown for the first 1 of {n} candidates only (at most" in html
    # The triplet of the first candidate sits in one cell, kept on one row.
    assert re.search(r'<td class="l cut">(<img alt="cutout" [^>]*>){3}</td>', html)
    assert ".cut { white-space: nowrap; }" in html


def test_report_caps_the_cutouts_of_the_whole_page(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second run of the same pair (another threshold, so another run key).
    config = PipelineConfig.from_settings(Settings(threshold=6.0))
    again = Pipeline(run.catalog, run.store, config, workers=1, score=False).run(
        run.inputs["reference"], [run.inputs["science"]], tmp_path / "again"
    )
    (second,) = again.frames
    assert second.status == "done" and second.run_id != run.frame.run_id
    monkeypatch.setattr("astrid.pipeline.report.MAX_REPORT_CUTOUT_ROWS", 2)
    html = write_report(
        tmp_path / "report.html", catalog=run.catalog, store=run.store, frames=[run.frame, second]
    ).read_text()

    assert IMG.findall(html).count("cutout") == 3 * 2
    n = run.frame.n_candidates
    assert f"Cutouts are shown for the first 2 of {n} candidates only (at most" in html
    assert "No cutouts are shown for this frame (at most 40 candidates per frame and 2 per" in html
