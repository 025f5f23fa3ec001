"""Tests of astrid.pipeline.config: the one mapping from settings to a run's science config."""

from __future__ import annotations

from pathlib import Path

import pytest

from astrid.config import Settings
from astrid.pipeline.config import PipelineConfig


def test_defaults_give_the_default_config(tmp_path: Path) -> None:
    config = PipelineConfig.from_settings(Settings(data_dir=tmp_path))
    assert config == PipelineConfig()
    assert config.digest() == PipelineConfig().digest()


def test_settings_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASTRID_DETECTOR", "unet")
    monkeypatch.setenv("ASTRID_THRESHOLD", "6.5")
    settings = Settings(data_dir=tmp_path)

    config = PipelineConfig.from_settings(settings)
    assert (config.subtract.detector, config.subtract.threshold) == ("unet", 6.5)
    assert config.digest() != PipelineConfig().digest()

    flags = PipelineConfig.from_settings(settings, threshold=4.0, detector="scorr")
    assert (flags.subtract.detector, flags.subtract.threshold) == ("scorr", 4.0)
    assert flags.prepare == config.prepare == PipelineConfig().prepare


def test_the_association_radius_is_carried_but_not_in_the_run_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PipelineConfig().association_radius_arcsec == 1.5
    monkeypatch.setenv("ASTRID_ASSOCIATION_RADIUS_ARCSEC", "2.5")
    config = PipelineConfig.from_settings(Settings(data_dir=tmp_path))
    assert config.association_radius_arcsec == 2.5
    # objects group stored candidates; a frame's products, and so its run key, are the same
    assert "association_radius_arcsec" not in config.as_dict()
    assert config.digest() == PipelineConfig().digest()
