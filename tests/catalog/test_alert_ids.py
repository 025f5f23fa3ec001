"""Alert ids in the catalog: one per detection, kept across retried runs, sent once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError

from alert_catalog import done_run, finish, sent
from astrid.catalog import Catalog, connect, set_objects_stage
from astrid.catalog.alerts import (
    alerts_of_runs,
    alerts_to_send,
    create_alerts,
    detections_without_alert,
    mark_alert_failed,
    mark_alerts_sent,
)
from astrid.catalog.database import alembic_config
from astrid.catalog.models import Alert, utcnow


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    cat = connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}")
    yield cat
    cat.close()


def _ids(catalog: Catalog, run_id: int) -> list[int]:
    return [c["id"] for c in catalog.candidates(run_id=run_id)]


def test_only_runs_whose_objects_stage_is_done_have_detections_to_alert(
    catalog: Catalog,
) -> None:
    run_id = done_run(catalog, 1)
    assert detections_without_alert(catalog, [run_id]) == []  # objects stage pending
    set_objects_stage(catalog, run_id, "done")
    assert detections_without_alert(catalog, [run_id]) == _ids(catalog, run_id)


def test_one_alert_id_per_detection_however_often_asked(catalog: Catalog) -> None:
    run_id = done_run(catalog, 1)
    set_objects_stage(catalog, run_id, "done")
    ids = _ids(catalog, run_id)
    assert create_alerts(catalog, ids[:2]) == 2
    assert create_alerts(catalog, ids) == 1  # only the third is new
    assert create_alerts(catalog, ids) == 0
    alerts = alerts_of_runs(catalog, [run_id])
    assert [a.candidate_id for a in alerts] == ids
    assert [a.candidate_number for a in alerts] == [0, 1, 2]
    assert all(a.object_id is not None for a in alerts)
    assert detections_without_alert(catalog, [run_id]) == []
    # the unique constraint itself refuses a second alert for a detection
    with pytest.raises(IntegrityError), catalog.session() as session, session.begin():
        session.execute(
            insert(Alert).values(run_id=run_id, candidate_number=0, created_at=utcnow())
        )


def test_a_retried_run_keeps_its_alert_ids(catalog: Catalog) -> None:
    run_id = done_run(catalog, 1)
    set_objects_stage(catalog, run_id, "done")
    create_alerts(catalog, _ids(catalog, run_id))
    before = [a.id for a in alerts_of_runs(catalog, [run_id])]
    finish(catalog, run_id, 3)  # the run's candidates replaced: new rows, same numbers
    set_objects_stage(catalog, run_id, "done")
    assert detections_without_alert(catalog, [run_id]) == []
    assert create_alerts(catalog, _ids(catalog, run_id)) == 0
    assert [a.id for a in alerts_of_runs(catalog, [run_id])] == before


def test_sent_alerts_are_not_to_send(catalog: Catalog) -> None:
    run_id = done_run(catalog, 1)
    set_objects_stage(catalog, run_id, "done")
    create_alerts(catalog, _ids(catalog, run_id))
    alerts = alerts_to_send(catalog, [run_id])
    assert len(alerts) == 3 and all(a.sent_at is None for a in alerts)
    mark_alert_failed(catalog, alerts[2].id, error="no MJD")
    mark_alerts_sent(catalog, [sent(alerts[0].id), sent(alerts[1].id)], schema_version="11.1")
    left = alerts_to_send(catalog, [run_id])
    assert [a.id for a in left] == [alerts[2].id] and left[0].error == "no MJD"
    written = [a for a in alerts_of_runs(catalog, [run_id]) if a.sent_at is not None]
    assert {a.schema_version for a in written} == {"11.1"}
    assert {a.avro_key for a in written} == {f"sha256/{a.id}.avro" for a in written}
    first = {a.id: a.sent_at for a in written}
    again_marked = mark_alerts_sent(catalog, [sent(i) for i in first], schema_version="99.0")
    assert again_marked == []  # sent once: unchanged
    again = {a.id: (a.sent_at, a.schema_version) for a in alerts_of_runs(catalog, [run_id])}
    assert all(again[i] == (first[i], "11.1") for i in first)


@pytest.mark.sqlite
def test_migration_0008_down_and_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    catalog = connect(url)
    run_id = done_run(catalog, 1)
    set_objects_stage(catalog, run_id, "done")
    create_alerts(catalog, _ids(catalog, run_id))
    config = alembic_config(url)
    command.downgrade(config, "0007")
    assert "alerts" not in inspect(catalog.engine).get_table_names()
    with catalog.engine.connect() as conn:  # the rest is kept (read raw: the models are newer)
        assert conn.exec_driver_sql("SELECT count(*) FROM candidates").scalar() == 3
    command.upgrade(config, "head")
    tables = inspect(catalog.engine)
    assert "alerts" in tables.get_table_names()
    unique = {tuple(u["column_names"]) for u in tables.get_unique_constraints("alerts")}
    assert ("run_id", "candidate_number") in unique
    assert alerts_of_runs(catalog, [run_id]) == []
    assert create_alerts(catalog, _ids(catalog, run_id)) == 3
    catalog.close()
