from __future__ import annotations

import os

import fsspec
import pytest

from astrid.delivery import FileDestination, Outcome
from astrid.errors import ConfigurationError


def test_writes_packet_and_sidecar_to_a_directory(tmp_path, alerts):
    batch = alerts(3)
    target = tmp_path / "out" / "alerts"
    outcomes = FileDestination(str(target)).send(batch)
    assert outcomes == [Outcome(a.alert_id, delivered=True) for a in batch]
    for a in batch:
        assert (target / f"{a.alert_id}.avro").read_bytes() == a.avro
        assert (target / f"{a.alert_id}.astrid.json").read_bytes() == a.sidecar
    # no temporary files left behind
    assert sorted(os.listdir(target)) == sorted(
        name for a in batch for name in (f"{a.alert_id}.avro", f"{a.alert_id}.astrid.json")
    )


def test_resending_overwrites(tmp_path, alerts):
    dest = FileDestination(f"file://{tmp_path}")
    first = alerts(1)[0]
    dest.send([first])
    changed = type(first)(first.alert_id, b"new packet", b'{"v": 2}')
    assert dest.send([changed])[0].delivered
    assert (tmp_path / f"{first.alert_id}.avro").read_bytes() == b"new packet"
    assert (tmp_path / f"{first.alert_id}.astrid.json").read_bytes() == b'{"v": 2}'
    assert len(os.listdir(tmp_path)) == 2


def test_memory_filesystem(alerts):
    batch = alerts(2)
    dest = FileDestination("memory://delivery-test/alerts")
    try:
        assert all(o.delivered for o in dest.send(batch))
        fs = fsspec.filesystem("memory")
        for a in batch:
            assert fs.cat_file(f"/delivery-test/alerts/{a.alert_id}.avro") == a.avro
            assert fs.cat_file(f"/delivery-test/alerts/{a.alert_id}.astrid.json") == a.sidecar
    finally:
        fsspec.filesystem("memory").rm("/delivery-test", recursive=True)


def test_a_write_failure_is_an_outcome(tmp_path, alerts):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    batch = alerts(2)
    outcomes = FileDestination(str(blocker)).send(batch)
    assert [o.alert_id for o in outcomes] == [a.alert_id for a in batch]
    assert not any(o.delivered for o in outcomes)
    assert all(o.retry and o.error and str(blocker) in o.error for o in outcomes)


def test_empty_batch(tmp_path):
    assert FileDestination(str(tmp_path)).send([]) == []


@pytest.mark.parametrize("url", ["", "   ", "nosuchprotocol://x/y"])
def test_bad_url_is_a_configuration_error(url):
    with pytest.raises(ConfigurationError, match="url") as info:
        FileDestination(url)
    assert info.value.field == "url"
