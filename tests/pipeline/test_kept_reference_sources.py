"""A reference's sources (hosts, bright stars) are found once and kept for later runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from astrid.catalog import connect
from astrid.pipeline import object_context
from astrid.pipeline.inputs import admit_frame
from astrid.pipeline.object_context import ContextSources
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD


def test_a_later_run_reads_the_kept_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    paths = simulate_pair(SMALL_FIELD, seed=5).write(tmp_path / "pair")
    found: list[int] = []
    real = object_context.sources_of_image

    def counting(image, **kwargs):  # type: ignore[no-untyped-def]
        found.append(1)
        return real(image, **kwargs)

    monkeypatch.setattr(object_context, "sources_of_image", counting)
    kept = tmp_path / "kept"
    kept.mkdir(mode=0o700)
    tables = []
    with connect(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        store = ObjectStore(str(tmp_path / "store"))
        reference = admit_frame(catalog, store, paths["reference"], "reference").observation_id
        for _ in range(2):  # a new run: a new ContextSources, nothing in memory
            tables.append(
                ContextSources([], [], kept=kept).reference_sources(catalog, store, reference)
            )
        (only,) = kept.glob("sources-*.fits")
        only.write_bytes(b"SIMPLE  = not a table")  # damaged: found again, with a warning
        tables.append(
            ContextSources([], [], kept=kept).reference_sources(catalog, store, reference)
        )
    assert found == [1, 1]
    assert "cannot read the kept reference sources" in caplog.text
    first = tables[0]
    assert first is not None and len(first) > 0
    for table in tables[1:]:
        assert table is not None and table.colnames == first.colnames
        for name in first.colnames:
            np.testing.assert_array_equal(np.asarray(table[name]), np.asarray(first[name]))
