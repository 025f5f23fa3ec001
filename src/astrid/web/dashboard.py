"""What the dashboard shows: recent runs (with their files), candidates per night, score
histograms, throughput, model versions."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from astropy.time import Time
from markupsafe import Markup

from astrid.catalog import Catalog
from astrid.catalog.candidates import count_candidates
from astrid.catalog.model_registry import ModelRecord, list_models
from astrid.catalog.models import utcnow
from astrid.catalog.observations import observation_names
from astrid.catalog.query_params import CandidateFilters
from astrid.catalog.runs import RunRecord, runs
from astrid.catalog.statistics import candidates_per_observation, histogram
from astrid.web.charts import bar_chart

__all__ = ["Dashboard", "build_dashboard"]

_SCORE_EDGES = [i / 20 for i in range(21)]
_SCORR_EDGES = [0.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, 1e12]
_NIGHTS = 30
_THROUGHPUT_RUNS = 500


@dataclass(frozen=True)
class Throughput:
    """Processing speed over recent finished runs."""

    runs_last_24h: int
    frames_per_hour: float | None
    median_seconds_per_frame: float | None
    stage_seconds: dict[str, float]


@dataclass(frozen=True)
class Dashboard:
    """Everything on the dashboard."""

    recent_runs: list[RunRecord]
    file_names: dict[int, str]
    n_candidates: int
    n_unreviewed: int
    charts: dict[str, Markup]
    throughput: Throughput
    models: list[ModelRecord]


def _night(mjd: float) -> str:
    """The UTC date of an MJD, as the label of its night."""
    return str(Time(math.floor(mjd), format="mjd", scale="utc").to_value("iso", "date"))


def _throughput(runs: list[RunRecord]) -> Throughput:
    done = [r for r in runs if r.status == "done" and r.finished_at is not None]
    now = utcnow()
    recent = [r for r in done if r.finished_at and now - r.finished_at <= timedelta(hours=24)]
    seconds = sorted(sum(r.timings.values()) for r in done if r.timings)
    median = seconds[len(seconds) // 2] if seconds else None
    frames_per_hour = None
    if len(recent) >= 2:
        first = min(r.started_at for r in recent)
        last = max(r.finished_at for r in recent if r.finished_at)
        span = (last - first).total_seconds()
        frames_per_hour = len(recent) * 3600.0 / span if span > 0 else None
    stages: Counter[str] = Counter()
    for r in done:
        stages.update({k: float(v) for k, v in r.timings.items()})
    stage_means = {k: v / len(done) for k, v in stages.items()} if done else {}
    return Throughput(
        runs_last_24h=len(recent),
        frames_per_hour=frames_per_hour,
        median_seconds_per_frame=median,
        stage_seconds=stage_means,
    )


def build_dashboard(catalog: Catalog) -> Dashboard:
    """Read and summarise the catalog for the dashboard."""
    recent = runs(catalog, limit=_THROUGHPUT_RUNS)
    per_night: Counter[str] = Counter()
    for mjd, n in candidates_per_observation(catalog):
        if mjd is not None:
            per_night[_night(mjd)] += n
    nights = sorted(per_night)[-_NIGHTS:]
    charts = {
        "per_night": bar_chart(
            [per_night[n] for n in nights],
            [n[5:] for n in nights],
            title="Candidates per night",
            x_label="night (UTC date)",
        ),
        "scorr": bar_chart(
            histogram(catalog, column="abs_scorr", edges=_SCORR_EDGES),
            [f"{e:g}" for e in _SCORR_EDGES[:-2]] + ["100+"],
            title="|S_corr| of candidates",
            x_label="|S_corr| (bin start)",
            every=1,
        ),
        "rb": bar_chart(
            histogram(catalog, column="rb", edges=_SCORE_EDGES),
            [f"{e:.2f}" for e in _SCORE_EDGES[:-1]],
            title="real/bogus score (scored candidates)",
            x_label="rb (bin start)",
            every=4,
        ),
        "ood": bar_chart(
            histogram(catalog, column="ood", edges=_SCORE_EDGES),
            [f"{e:.2f}" for e in _SCORE_EDGES[:-1]],
            title="out-of-distribution score",
            x_label="ood (bin start)",
            every=4,
        ),
    }
    throughput = _throughput(recent)
    if throughput.stage_seconds:
        stage_names = list(throughput.stage_seconds)
        charts["stages"] = bar_chart(
            [throughput.stage_seconds[s] for s in stage_names],
            stage_names,
            title="mean seconds per stage",
            x_label="stage",
            y_label="seconds",
            every=1,
        )
    shown = recent[:10]
    ids = [r.science_id for r in shown] + [r.reference_id for r in shown if r.reference_id]
    return Dashboard(
        recent_runs=shown,
        file_names=observation_names(catalog, ids),
        n_candidates=count_candidates(catalog),
        n_unreviewed=count_candidates(catalog, filters=CandidateFilters(reviewed=False)),
        charts=charts,
        throughput=throughput,
        models=list_models(catalog, newest_first=True),
    )
