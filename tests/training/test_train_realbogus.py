"""Real/bogus training: train a tiny model on synthetic cutouts, export, load and score it."""

from pathlib import Path

import numpy as np
import pytest

from astrid.detection.features import normalise_cutouts, scalar_features
from astrid.detection.realbogus import RealBogusModel
from astrid.errors import ModelError
from astrid.training.training_set import TrainingSet

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("sklearn")


def _synthetic_set(n: int, seed: int, directory: Path):
    """Reals: a PSF-like blob at the centre of the difference; bogus: a sharp spike or a line."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:63, :63] - 31.0
    blob = np.exp(-(xx**2 + yy**2) / (2 * 2.0**2))
    raw = rng.normal(0, 1, (n, 3, 63, 63)).astype(np.float32)
    label = rng.integers(0, 2, n)
    kinds = np.where(label == 1, "transient", "").astype("<U24")
    for i in np.flatnonzero(label == 0):
        kinds[i] = "hot_pixel" if i % 2 else "satellite_trail"
    amp = rng.uniform(4, 15, n)
    for i in range(n):
        if label[i]:
            raw[i, 0] += amp[i] * blob
            raw[i, 2] += amp[i] * blob
        elif kinds[i] == "hot_pixel":
            raw[i, 2, 31, 31] += 4 * amp[i]
        else:
            raw[i, 2, :, 29:34] += amp[i] * 0.6
    raw[::7, :, :5, :] = np.nan  # masked edge: the input must stay finite
    split = np.array(["train", "val", "test"])[np.arange(n) % 3]
    scorr = np.maximum(amp, 5.0)
    columns = {"sign": np.ones(n), "scorr": scorr, "snr": amp, "n_merged": np.ones(n)}

    return (
        TrainingSet(
            cutouts=normalise_cutouts(raw).astype(np.float16),
            scalars=scalar_features(columns),
            label=label.astype(np.int64),
            kind=kinds.astype("<U24"),
            variant=np.full(n, "plain"),
            split=split,
            source=np.full(n, "synthetic"),
            snr_true=np.where(label == 1, amp, np.nan).astype(np.float32),
            scorr=scorr.astype(np.float32),
            x=np.zeros(n, np.float32),
            y=np.zeros(n, np.float32),
            digest="0" * 64,
            directory=directory,
        ),
        raw,
        columns,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from astrid.training.train_realbogus import (
        RealBogusTrainConfig,
        evaluate_split,
        export_realbogus,
        predict,
        realbogus_card,
        train_realbogus,
    )

    tmp = tmp_path_factory.mktemp("rb")
    data, raw, columns = _synthetic_set(900, 0, tmp)
    trained = train_realbogus(
        data, RealBogusTrainConfig(epochs=3, batch_size=64, width=8, threads=1)
    )
    test = data.subset(data.split == "test")
    metrics = {"test": evaluate_split(predict(trained.model, test), test, trained.calibration)}
    card = realbogus_card(trained, metrics, version="test-1")
    path = export_realbogus(trained, tmp / "rb.onnx", card)
    return path, trained, data, raw, columns, metrics


def test_training_learns_and_reports(exported):
    _, trained, _, _, _, metrics = exported
    assert len(trained.history) >= 1
    assert trained.temperature > 0
    m = metrics["test"]
    assert m["auc"] > 0.95
    assert set(m["per_kind"]) == {"transient", "hot_pixel", "satellite_trail"}
    assert 0 <= m["fnr_at_fpr_1pct"] <= 1 and 0 <= m["fpr_at_fnr_1pct"] <= 1


def test_onnx_scores_equal_pytorch_scores(exported):
    from astrid.training.train_realbogus import predict

    path, trained, data, raw, columns, _ = exported
    model = RealBogusModel.load(path, threads=1)
    assert model.version == "test-1"
    assert "calibration" not in model.public_card
    reference = predict(trained.model, data)
    same_inputs = model.score_inputs(data.cutouts.astype(np.float32), data.scalars)
    np.testing.assert_allclose(same_inputs.rb, reference["rb"], atol=2e-5)
    scores = model.score(columns, raw)  # float32 inputs (the set stores float16)
    np.testing.assert_allclose(scores.rb, reference["rb"], atol=3e-3)
    for name, values in scores.columns().items():
        assert values.shape == (len(raw),) and np.all((values >= 0) & (values <= 1)), name
    assert len(model.score({"sign": [], "scorr": []}, np.zeros((0, 3, 63, 63)))) == 0


def test_the_vit_backbone_trains_exports_and_loads(tmp_path):
    from astrid.training.train_realbogus import (
        RealBogusTrainConfig,
        export_realbogus,
        predict,
        realbogus_card,
        train_realbogus,
    )

    with pytest.raises(ModelError, match="backbone"):
        RealBogusTrainConfig(backbone="resnet")
    data, _, _ = _synthetic_set(300, 1, tmp_path)
    config = RealBogusTrainConfig(
        epochs=1, batch_size=32, epoch_size=256, threads=1, backbone="vit"
    )
    trained = train_realbogus(data, config)
    card = realbogus_card(trained, {}, version="vit-test")
    assert card["name"].endswith("-vit")
    path = export_realbogus(trained, tmp_path / "vit.onnx", card)
    model = RealBogusModel.load(path)
    same = model.score_inputs(data.cutouts.astype(np.float32), data.scalars)
    np.testing.assert_allclose(same.rb, predict(trained.model, data)["rb"], atol=2e-5)


def test_partial_stamps_mask_a_border_or_keep_a_centred_square():
    from astrid.training.cnn import partial_stamps

    batch = torch.randn(64, 4, 63, 63)
    batch[:, 3] = 0.0
    assert partial_stamps(batch, np.random.default_rng(0), 0.0) is batch
    out = partial_stamps(batch, np.random.default_rng(0), 1.0)
    missing = out[:, 3] == 1.0
    assert bool(missing.flatten(1).any(dim=1).all())  # every stamp lost pixels
    assert not bool(missing[:, 31, 31].any())  # never the candidate at the centre
    # Missing pixels are what normalise_cutouts makes of NaN: 0 in the data channels.
    assert float(out[:, :3][missing.unsqueeze(1).expand(-1, 3, -1, -1)].abs().max()) == 0.0
    kept = ~missing.unsqueeze(1).expand(-1, 3, -1, -1)
    assert torch.equal(out[:, :3][kept], batch[:, :3][kept])
    assert not bool((batch[:, 3] == 1.0).any())  # the input batch is not modified
    # Both shapes occur: a centred square (all four borders gone) and one side cut.
    borders = torch.stack(
        [missing[:, 0, 31], missing[:, 62, 31], missing[:, 31, 0], missing[:, 31, 62]], dim=1
    ).sum(dim=1)
    assert set(borders.tolist()) == {1, 4}


def test_left_out_sources_and_kinds_are_dropped_by_name_or_prefix(tmp_path):
    from astrid.training.train_realbogus import RealBogusTrainConfig, _kept

    data, _, _ = _synthetic_set(12, 1, tmp_path)
    data.source[:] = ["sim-train-000"] * 4 + ["real-00"] * 4 + ["real-01-r2"] * 4
    assert _kept(data, RealBogusTrainConfig()).all()
    only_sim = _kept(data, RealBogusTrainConfig(exclude_sources=("real-*",)))
    assert only_sim.tolist() == [True] * 4 + [False] * 8
    exact = _kept(data, RealBogusTrainConfig(exclude_sources=("real-00",)))
    assert exact.tolist() == [True] * 4 + [False] * 4 + [True] * 4
    no_trails = _kept(data, RealBogusTrainConfig(exclude_kinds=("satellite_trail",)))
    assert not (no_trails & (data.kind == "satellite_trail")).any()
    assert no_trails[data.kind == "transient"].all()


def test_a_set_without_a_test_split_trains_and_exports_checked_on_val(tmp_path):
    # Curator labels mixed with a replay (astrid train --with-labels, the active-learning
    # benchmark) are judged elsewhere: no test split, and no NaN metric in the card.
    from astrid.training.train_realbogus import RealBogusTrainConfig, train_and_export

    data, _, _ = _synthetic_set(240, 2, tmp_path)
    data = data.subset(data.split != "test")
    config = RealBogusTrainConfig(epochs=1, batch_size=32, epoch_size=256, threads=1)
    path, card = train_and_export(data, tmp_path / "no-test.onnx", config)
    assert "test" not in card["metrics"] and card["metrics"]["val"]["auc"] > 0.5
    assert card["metrics"]["onnx_max_abs_rb_difference"] < 1e-3
    assert RealBogusModel.load(path).card["metrics"]["val"]["n"] == int(np.sum(data.split == "val"))
