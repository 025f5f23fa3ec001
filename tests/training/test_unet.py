"""U-Net training: a tiny network trained on synthetic maps exports and matches PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from astrid.cli import app
from astrid.detection.unet_detect import UNetDetector, unet_inputs
from unet_maps import synthetic_maps

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def synthetic() -> dict[str, np.ndarray]:
    return synthetic_maps()


def _write_field(path: Path, maps: dict[str, np.ndarray]) -> None:
    """A training-set field file holding only the U-Net maps and the truth."""
    np.savez(
        path,
        map_score_corr=maps["score_corr"].astype(np.float16),
        map_difference=maps["difference"].astype(np.float16),
        map_mask=maps["mask"],
        map_truth_xy=maps["xy"].astype(np.float32),
        map_truth_snr=maps["snr"].astype(np.float32),
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, synthetic: dict):
    """A width-4 U-Net trained for a few steps on the synthetic maps, exported to ONNX."""
    from astrid.training.unet import (
        UNetTrainConfig,
        export_unet,
        load_fields,
        train_unet,
        unet_card,
    )

    folder = tmp_path_factory.mktemp("unet")
    field = folder / "sim-train-000.npz"
    _write_field(field, synthetic)
    fields = load_fields([field], min_snr=4.0)
    assert fields[0].target.sum() == pytest.approx(8 * 13, abs=8)  # radius-2 disks
    config = UNetTrainConfig(width=4, crop=32, batch=4, steps=6, eval_every=3, val_crops=4)
    trained = train_unet(fields, fields, config)
    assert len(trained.history) == 2 and np.isfinite(trained.best_val_loss)
    card = unet_card(trained, "test", ["a"], ["b"])
    return export_unet(trained, folder / "tiny.onnx", card), trained.net


def test_exported_model_matches_torch(tiny, synthetic: dict) -> None:
    path, net = tiny
    det = UNetDetector.load(path, threads=1)
    assert det.card["recipe"]["width"] == 4 and det.card["data"]["training_set_digest"] == "test"
    assert det.downsample == 4 and det.receptive_radius >= 22
    x = unet_inputs(synthetic["score_corr"], synthetic["difference"], synthetic["mask"])
    prob = det.run(x)
    with torch.no_grad():
        expected = torch.sigmoid(net.eval()(torch.from_numpy(x[None])))[0, 0].numpy()
    assert prob.shape == (96, 96)
    np.testing.assert_allclose(prob, expected, atol=1e-5)
    # Dynamic height and width: another size runs through the same file.
    assert det.run(x[:, :64, :40]).shape == (64, 40)


def test_astrid_train_unet_trains_on_a_set_and_exports(tmp_path: Path, synthetic: dict) -> None:
    training_set = tmp_path / "set"
    (training_set / "fields").mkdir(parents=True)
    out = tmp_path / "unet.onnx"
    args = ["train-unet", "--set", str(training_set), "--out", str(out)]
    empty = CliRunner().invoke(app, args)
    assert empty.exit_code == 2 and "no train or no val fields" in empty.output
    for split in ("train", "val"):
        _write_field(training_set / "fields" / f"sim-{split}-000.npz", synthetic)
    args += ["--width", "4", "--crop", "32", "--batch", "4", "--steps", "6", "--eval-every", "3"]
    args += ["--val-crops", "4", "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    det = UNetDetector.load(out, threads=1)
    assert det.card["recipe"]["width"] == 4 and det.card["recipe"]["steps"] == 6
    assert det.card["recipe"]["pos_weight"] == 10.0  # an option left out keeps its default
    assert det.card["data"]["training_set_digest"] == "set"
    assert det.card["data"]["train_fields"] == ["sim-train-000"]
