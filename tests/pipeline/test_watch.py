"""`astrid watch`: frames that arrive are processed once they settle, a half-written file is
left alone, a restart processes nothing twice, a remote (fsspec) folder hands its
files over by URL, and a folder that is not one is refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import fsspec
import pytest
from typer.testing import CliRunner

from astrid.catalog import connect
from astrid.cli import app
from astrid.errors import ConfigurationError
from astrid.pipeline.run_reports import FrameInput, RunReport
from astrid.pipeline.runner import Pipeline
from astrid.pipeline.watch import FolderWatcher, WatchConfig
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD

runner = CliRunner()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_pair(SMALL_FIELD, seed=3).write(tmp_path_factory.mktemp("watch"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_frame_is_processed_once_it_settles_and_never_twice(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    catalog = connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}")
    pipeline = Pipeline(
        catalog, ObjectStore(str(tmp_path / "store")), workers=1, publish_alerts=False
    )
    batches: list[list[FrameInput]] = []

    def run_batch(frames: list[FrameInput]) -> RunReport:
        batches.append(frames)
        return pipeline.run(pair["reference"], frames, tmp_path / "out")

    clock = Clock()
    config = WatchConfig(settle_s=5.0)
    watcher = FolderWatcher(str(inbox), run_batch, config=config,
                            clock=clock)  # fmt: skip
    data = pair["science"].read_bytes()
    arriving = inbox / "sci.fits"
    arriving.write_bytes(data[: len(data) // 2])  # still being copied
    (inbox / "notes.txt").write_text("not a frame")
    assert watcher.run_once() == []
    clock.now += 10
    arriving.write_bytes(data)  # the copy completes: its size changed, so it starts over
    assert watcher.run_once() == []
    clock.now += 2
    assert watcher.run_once() == []  # not settled for 5 s yet
    clock.now += 4
    (report,) = watcher.run_once()
    assert [f.status for f in report.frames] == ["done"] and batches == [[str(arriving)]]
    clock.now += 10
    assert watcher.run_once() == []  # taken already
    # a restart lists it again; its run key says it is done
    again = FolderWatcher(str(inbox), run_batch, config=config,
                          clock=clock)  # fmt: skip
    again.run_once()
    clock.now += 6
    (report,) = again.run_once()
    assert [f.status for f in report.frames] == ["skipped"]
    assert len(catalog.runs()) == 1
    catalog.close()


def test_a_remote_folder_hands_its_files_over_by_url(pair: dict[str, Path]) -> None:
    fs = fsspec.filesystem("memory")
    fs.mkdir("/inbox-test")
    fs.pipe("/inbox-test/sci.fits", pair["science"].read_bytes())
    got: list[list[FrameInput]] = []

    def run_batch(frames: list[FrameInput]) -> RunReport:
        got.append(frames)
        return RunReport(frames=[], candidates_csv=None)

    clock = Clock()
    watcher = FolderWatcher(
        "memory://inbox-test", run_batch, config=WatchConfig(settle_s=1.0), clock=clock
    )
    watcher.run_once()
    clock.now += 2
    watcher.run_once()
    (frames,) = got
    (url,) = frames
    assert str(url).startswith("memory://") and str(url).endswith("/inbox-test/sci.fits")
    with fsspec.open(str(url), "rb") as handle:  # a URL the pipeline reads (admit_frame)
        assert handle.read() == pair["science"].read_bytes()
    fs.rm("/inbox-test", recursive=True)


def test_watching_what_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a folder that can be watched"):
        FolderWatcher(str(tmp_path / "absent"), lambda f: RunReport([], None))


def test_the_watch_command_once_processes_the_folder_and_exits(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(pair["science"], inbox / "sci.fits")
    args = ["watch", str(inbox), "-r", str(pair["reference"]), "-o", str(tmp_path / "out"),
            "--data-dir", str(tmp_path / "data"), "--settle", "0.2", "--poll", "0.3",
            "--once"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 frame(s) handled" in result.output
    assert (tmp_path / "out" / "candidates.csv").is_file()
    bad = runner.invoke(app, ["watch", str(tmp_path / "nope"), "-r", str(pair["reference"]),
                              "--data-dir", str(tmp_path / "data")])  # fmt: skip
    assert bad.exit_code == 2 and "not a folder that can be watched" in bad.output
