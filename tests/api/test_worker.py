"""Tests of the service's job worker: it runs uploads with the configuration the CLI uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from astrid.cli import app
from astrid.errors import AstridError
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.runner import Pipeline
from service_env import build_env


def _worker_config(root: Path, **settings: Any) -> PipelineConfig:
    """The configuration the service's worker runs uploaded jobs with."""
    envs = build_env(root, seed_catalog=False, **settings)
    env = next(envs)
    try:
        return env.service.worker.config
    finally:
        envs.close()


def test_worker_honours_the_detector_and_threshold_settings(tmp_path: Path) -> None:
    config = _worker_config(tmp_path / "service", detector="unet", threshold=6.5)
    assert config.subtract.detector == "unet"
    assert config.subtract.threshold == 6.5


class _Stop(AstridError):
    """Raised instead of running the pipeline once its configuration is seen."""


def test_cli_and_worker_build_the_same_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASTRID_DETECTOR", "unet")
    monkeypatch.setenv("ASTRID_THRESHOLD", "6.5")
    monkeypatch.setenv("ASTRID_DATA_DIR", str(tmp_path / "data"))
    seen: list[PipelineConfig] = []

    def run(self: Pipeline, *args: Any, **kwargs: Any) -> None:
        seen.append(self.config)
        raise _Stop("stopped")

    monkeypatch.setattr(Pipeline, "run", run)
    for command in (["run", "--reference", "ref.fits", "sci.fits"], ["demo", "--size", "512"]):
        result = CliRunner().invoke(app, [*command, "--out", str(tmp_path / command[0])])
        assert result.exit_code == 2, result.output
    worker = _worker_config(tmp_path / "service")
    assert seen == [worker, worker]
    assert worker.subtract.detector == "unet"
