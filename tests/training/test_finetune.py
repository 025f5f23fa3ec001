"""Fine-tuning from an exported model: the network read back from ONNX computes what the file
computes; curator labels keep their split as more arrive; the promotion rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from astrid.detection.realbogus import RealBogusModel, shipped_model_path
from astrid.errors import ModelError

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")


def test_the_shipped_model_read_back_from_onnx_gives_its_logits_and_features() -> None:
    from astrid.training.finetune import network_from_onnx

    path = shipped_model_path()
    net = network_from_onnx(path)
    model = RealBogusModel.load(path, threads=1)
    rng = np.random.default_rng(0)
    cutouts = rng.normal(0, 1, (32, 4, 63, 63)).astype(np.float32)
    cutouts[:, 3] = (rng.random((32, 63, 63)) < 0.05).astype(np.float32)
    scalars = rng.normal(0, 1, (32, 9)).astype(np.float32)
    out = model.run(cutouts, scalars)
    with torch.no_grad():
        logits, features = net(torch.from_numpy(cutouts), torch.from_numpy(scalars))
    temperature = model.card["temperature"]
    np.testing.assert_allclose(logits.numpy() / temperature, out["logits"], atol=1e-4)
    np.testing.assert_allclose(features.numpy(), out["features"], atol=1e-4)


def test_frozen_batch_norm_keeps_its_statistics_in_training_mode() -> None:
    from astrid.training.finetune import freeze_batch_norm, network_from_onnx

    net = network_from_onnx(shipped_model_path())
    before = net.conv[0][1].running_mean.clone()
    net.train()
    freeze_batch_norm(net)
    net(torch.randn(8, 4, 63, 63) * 5 + 3, torch.zeros(8, 9))
    assert torch.equal(net.conv[0][1].running_mean, before)
    assert net.top.dropout.training, "dropout still trains"


def test_a_file_that_is_not_a_cnn_model_is_refused(tmp_path: Path) -> None:
    from astrid.training.finetune import network_from_onnx

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"junk\.onnx"):
        network_from_onnx(junk)


def _rows(ids: range) -> list[dict[str, float]]:
    return [
        {"id": i, "run_id": 1, "sign": 1, "scorr": 6.0, "snr": 6.0, "x": 1.0, "y": 2.0} for i in ids
    ]


def test_a_labelled_candidate_keeps_its_split_as_more_labels_arrive(tmp_path: Path) -> None:
    from astrid.training.finetune import labelled_set

    def build(n: int):
        label = np.arange(n) % 2
        triplets = np.random.default_rng(0).normal(0, 1, (n, 3, 63, 63))
        kind = np.where(label == 1, "real", "cosmic_ray")
        return labelled_set(_rows(range(n)), triplets, label, kind, directory=tmp_path)

    small, large = build(200), build(400)
    assert np.array_equal(large.split[:200], small.split)
    shares = {s: float(np.mean(large.split == s)) for s in ("train", "val", "test")}
    assert shares["test"] == pytest.approx(0.25, abs=0.06)
    assert shares["val"] == pytest.approx(0.15, abs=0.05)
    assert large.cutouts.shape == (400, 4, 63, 63) and large.cutouts.dtype == np.float16
    assert np.isnan(large.snr_true[large.label == 0]).all()
    assert small.digest != large.digest
    with pytest.raises(ModelError, match="lacks a class"):
        labelled_set(
            _rows(range(50)), np.zeros((50, 3, 63, 63)), np.ones(50, int),
            np.full(50, "real"), directory=tmp_path,
        )  # fmt: skip


def test_a_model_does_not_beat_itself(tmp_path: Path) -> None:
    from astrid.training.finetune import compare_models, labelled_set

    rng = np.random.default_rng(1)
    n = 120
    label = np.arange(n) % 2
    triplets = rng.normal(100, 5, (n, 3, 63, 63))
    triplets[:, 2] -= 100
    triplets[label == 1, 0, 29:34, 29:34] += 200
    triplets[label == 1, 2, 29:34, 29:34] += 200
    kind = np.where(label == 1, "real", "noise")
    data = labelled_set(_rows(range(n)), triplets, label, kind, directory=tmp_path)
    path = shipped_model_path()
    verdict = compare_models(path, path, data)
    assert verdict["base"] == verdict["new"] and verdict["better"] is False
    assert verdict["n"] == n and verdict["n_real"] == n // 2
