from __future__ import annotations

from pathlib import Path

import fastavro
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astrid.ingest import IngestProblem, SurveyAlert, alert_paths, read_alert_file
from astrid.ingest.ztf_layout import write_ztf_packets, ztf_packet, ztf_schema


@pytest.fixture
def five(tmp_path: Path) -> Path:
    # Noisy stamps, so packets are of realistic size and much larger than the file header.
    rng = np.random.default_rng(5)
    path = tmp_path / "five.avro"
    packets = [ztf_packet(100 + i, stamp=rng.normal(size=(63, 63))) for i in range(5)]
    write_ztf_packets(path, packets)
    return path


def test_all_records_of_a_container_come_in_order(five: Path) -> None:
    items = list(read_alert_file(five))
    assert all(isinstance(i, SurveyAlert) for i in items)
    assert [(i.index, i.packet_id) for i in items] == [(k, str(100 + k)) for k in range(5)]


@pytest.mark.parametrize("fraction", [0.5, 0.3, 0.9, 0.999])
def test_truncated_file_gives_the_records_before_then_a_problem(
    five: Path, tmp_path: Path, fraction: float
) -> None:
    data = five.read_bytes()
    cut = tmp_path / "cut.avro"
    cut.write_bytes(data[: int(len(data) * fraction)])
    items = list(read_alert_file(cut))
    *alerts, problem = items
    assert all(isinstance(a, SurveyAlert) for a in alerts)
    # Cut inside packet k: the k before it come whole. 0.999 cuts into the last one.
    assert len(alerts) == {0.3: 1, 0.5: 2, 0.9: 4, 0.999: 4}[fraction]
    assert isinstance(problem, IngestProblem)
    assert problem.index == len(alerts) and f"at record {len(alerts)}" in problem.message
    assert "truncated or corrupt" in problem.message


def test_corrupt_block_in_the_middle(five: Path, tmp_path: Path) -> None:
    data = bytearray(five.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    bad = tmp_path / "bad.avro"
    bad.write_bytes(bytes(data))
    items = list(read_alert_file(bad))  # must not raise
    problems = [i for i in items if isinstance(i, IngestProblem)]
    assert problems and all(p.index is not None for p in problems)
    assert [i.index for i in items] == sorted(i.index for i in items)  # type: ignore[type-var]
    assert sum(isinstance(i, SurveyAlert) for i in items) >= 2


@pytest.mark.parametrize("content", [b"", b"SIMPLE  =                    T", b"Obj\x01garbage"])
def test_non_avro_file_is_one_problem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "not.avro"
    path.write_bytes(content)
    (problem,) = read_alert_file(path)
    assert isinstance(problem, IngestProblem) and problem.index is None
    assert problem.path == str(path)


def test_unknown_schema_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "other.avro"
    schema = {"type": "record", "name": "thing", "namespace": "elsewhere",
              "fields": [{"name": "a", "type": "long"}]}  # fmt: skip
    with open(path, "wb") as out:
        fastavro.writer(out, schema, [{"a": 1}, {"a": 2}])
    (problem,) = read_alert_file(path)
    assert isinstance(problem, IngestProblem) and problem.index is None
    assert "elsewhere.thing" in problem.message


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    (problem,) = read_alert_file(tmp_path / "gone.avro")
    assert isinstance(problem, IngestProblem) and problem.index is None


def test_alert_paths_expands_folders_and_reports_missing(tmp_path: Path) -> None:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/2.avro", "a/deep/1.avro", "a/notes.txt", "b.data"):
        (tmp_path / name).write_bytes(b"")
    files, problems = alert_paths(
        [tmp_path / "a", tmp_path / "b.data", str(tmp_path / "missing"), tmp_path / "a/2.avro"]
    )
    assert files == [tmp_path / "a/2.avro", tmp_path / "a/deep/1.avro", tmp_path / "b.data"]
    assert [p.path for p in problems] == [str(tmp_path / "missing")]
    assert problems[0].index is None


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(3)
    write_ztf_packets(
        folder / "z.avro", [ztf_packet(i, stamp=rng.normal(size=(8, 8))) for i in range(3)]
    )
    return {"ztf": (folder / "z.avro").read_bytes()}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_damaged_bytes_never_raise(
    small_files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    original = small_files["ztf"]
    damaged = bytearray(original[: data.draw(st.integers(0, len(original)), label="cut")])
    for _ in range(data.draw(st.integers(0, 4), label="flips")):
        if damaged:
            at = data.draw(st.integers(0, len(damaged) - 1), label="at")
            damaged[at] = data.draw(st.integers(0, 255), label="byte")
    path = tmp_path_factory.getbasetemp() / "fuzzed.avro"
    path.write_bytes(bytes(damaged))
    items = list(read_alert_file(path))
    assert items, "at least one item, a problem if nothing else"
    indices = [i.index for i in items if i.index is not None]
    assert indices == sorted(indices) and len(items) <= 4
    assert all(isinstance(i, SurveyAlert | IngestProblem) for i in items)


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_truncated_single_block_keeps_the_whole_records(tmp_path: Path, codec: str) -> None:
    # Archives written in one block (fastavro's default for small packets): the records
    # before the cut are decoded one by one from the bytes there are.
    rng = np.random.default_rng(7)
    packets = [ztf_packet(300 + i, stamp=rng.normal(size=(63, 63))) for i in range(5)]
    whole = tmp_path / "block.avro"
    with open(whole, "wb") as out:
        fastavro.writer(
            out, fastavro.parse_schema(ztf_schema()), packets, codec=codec, sync_interval=1 << 30
        )
    with open(whole, "rb") as f:
        assert [b.num_records for b in fastavro.block_reader(f)] == [5]
    data = whole.read_bytes()
    cut = tmp_path / "cut.avro"
    cut.write_bytes(data[: len(data) // 2])
    *alerts, problem = read_alert_file(cut)
    assert [a.packet_id for a in alerts] == ["300", "301"]  # type: ignore[union-attr]
    assert isinstance(problem, IngestProblem) and problem.index == 2
    assert problem.extra["records_read"] == 2
