"""Counts over the catalog for the dashboard: candidates per observation, score histograms."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import and_, case, func, select, true

from astrid.catalog.models import Candidate, Observation
from astrid.catalog.query_params import InvalidQueryError
from astrid.catalog.repository import Catalog, catalog_errors

__all__ = ["HistogramColumn", "candidates_per_observation", "histogram"]


def candidates_per_observation(catalog: Catalog) -> list[tuple[float | None, int]]:
    """``(mjd, number of candidates)`` per science observation with candidates."""
    query = (
        select(Observation.mjd, func.count(Candidate.id))
        .join(Candidate, Candidate.observation_id == Observation.id)
        .group_by(Observation.id, Observation.mjd)
    )
    with catalog_errors("count candidates per observation"), catalog.session() as session:
        return [(mjd, int(n)) for mjd, n in session.execute(query)]


HistogramColumn = Literal["rb", "ood", "abs_scorr"]


def histogram(catalog: Catalog, *, column: HistogramColumn, edges: Sequence[float]) -> list[int]:
    """Counts of candidates per bin ``[edges[i], edges[i+1])`` (last bin closed), one scan.

    NULL values (unscored candidates) are not counted.
    """
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise InvalidQueryError("histogram edges must increase", field="edges")
    expr: Any = {
        "rb": Candidate.rb,
        "ood": Candidate.ood,
        "abs_scorr": func.abs(Candidate.scorr),
    }[column]
    sums = []
    last = len(edges) - 2
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        upper = expr <= high if i == last else expr < high
        sums.append(func.coalesce(func.sum(case((and_(expr >= low, upper), 1), else_=0)), 0))
    with catalog_errors(f"histogram {column}"), catalog.session() as session:
        row = session.execute(select(*sums).where(true())).one()
    return [int(n) for n in row]
