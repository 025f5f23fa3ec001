"""`run_demo`: the demo flow from Python (simulate, run, score, report)."""

from __future__ import annotations

import json
from pathlib import Path

from astrid.catalog import connect
from astrid.pipeline.demo import demo_sky, run_demo
from astrid.pipeline.runner import Pipeline
from astrid.store import ObjectStore


def test_demo_sky_scales_the_source_counts_with_the_area() -> None:
    full, quarter = demo_sky(1024), demo_sky(512)
    assert (full.shape, full.n_stars, full.n_transients) == ((1024, 1024), 375, 100)
    assert quarter.shape == (512, 512)
    assert (quarter.n_stars, quarter.n_transients) == (93, 25)
    assert demo_sky(128).n_stars == 60  # floors keep tiny fields usable


def test_run_demo_writes_inputs_report_and_score(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(tmp_path / "store")), workers=1)
        result = run_demo(pipeline, out, size=384, seed=1)
        (run,) = catalog.runs()

    (frame,) = result.run.frames
    assert frame.status == "done" and run.status == "done"
    assert result.inputs["truth"] == out / "inputs" / "truth.csv"
    assert result.inputs["science"].is_file() and result.inputs["reference"].is_file()
    assert result.report == out / "report.html"
    assert "Completeness against the injected truth" in result.report.read_text()
    score = json.loads((out / "score.json").read_text())
    assert score["n_candidates"] == result.score["n_candidates"] == frame.n_candidates >= 1
    assert "found" not in score  # per-truth arrays stay out of the JSON
