"""Real/bogus model: train a tiny one on synthetic cutouts, export, load and score it."""

from pathlib import Path

import numpy as np
import pytest

from astrid.detection.features import SCALAR_FEATURES, normalise_cutouts
from astrid.detection.realbogus import RealBogusModel, shipped_model_path
from astrid.errors import ModelError

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("sklearn")


def _synthetic_set(n: int, seed: int, directory: Path):
    """Reals: a PSF-like blob at the centre of the difference; bogus: a sharp spike or a line."""
    from astrid.detection.training_set import TrainingSet

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
    from astrid.detection.features import scalar_features

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
    from astrid.detection.train import (
        TrainConfig,
        evaluate_split,
        export_onnx,
        model_card,
        predict,
        train_realbogus,
    )

    tmp = tmp_path_factory.mktemp("rb")
    data, raw, columns = _synthetic_set(900, 0, tmp)
    trained = train_realbogus(data, TrainConfig(epochs=3, batch_size=64, width=8, threads=1))
    test = data.subset(data.split == "test")
    metrics = {"test": evaluate_split(predict(trained.model, test), test, trained.calibration)}
    card = model_card(trained, metrics, version="test-1")
    path = export_onnx(trained, tmp / "rb.onnx", card)
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
    from astrid.detection.train import predict

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


def test_scoring_checks_the_inputs(exported):
    path, _, _, raw, columns, _ = exported
    model = RealBogusModel.load(path)
    with pytest.raises(ModelError, match=r"\(n, 3, 63, 63\)"):
        model.score(columns, raw[:, :, :31, :31])
    with pytest.raises(ModelError, match="triplets for"):
        model.score(columns, raw[:10])


def test_missing_corrupt_and_foreign_model_files(tmp_path, exported):
    import onnx
    from onnx import TensorProto, helper

    with pytest.raises(ModelError, match="not found"):
        RealBogusModel.load(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        RealBogusModel.load(junk)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(exported[0].read_bytes()[:5000])
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        RealBogusModel.load(truncated)

    def graph_file(name, channels, size, outputs=("logits", "features", "mahalanobis")):
        cut = helper.make_tensor_value_info(
            "cutouts", TensorProto.FLOAT, ["n", channels, size, size]
        )
        sca = helper.make_tensor_value_info(
            "scalars", TensorProto.FLOAT, ["n", len(SCALAR_FEATURES)]
        )
        outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
        nodes = [helper.make_node("Identity", ["scalars"], [o]) for o in outputs]
        proto = helper.make_model(helper.make_graph(nodes, "g", [cut, sca], outs))
        proto.opset_import[0].version = 17
        proto.ir_version = 8
        path = tmp_path / name
        onnx.save(proto, str(path))
        return path

    with pytest.raises(ModelError, match="no AstrID model card"):
        RealBogusModel.load(graph_file("nocard.onnx", 4, 63))
    with pytest.raises(ModelError, match="outputs"):
        RealBogusModel.load(graph_file("outputs.onnx", 4, 63, outputs=("prob",)))
    # A card copied onto a graph of the wrong input shape: refused at load.
    card = onnx.load(str(exported[0])).metadata_props
    for channels, size in ((3, 63), (4, 31)):
        path = graph_file(f"shape{channels}{size}.onnx", channels, size)
        proto = onnx.load(str(path))
        proto.metadata_props.extend(card)
        onnx.save(proto, str(path))
        with pytest.raises(ModelError, match="input 'cutouts' has shape"):
            RealBogusModel.load(path)


def test_the_shipped_model_loads():
    model = RealBogusModel.load(shipped_model_path())
    assert model.card["metrics"]["test"]["auc"] > 0.9
    assert model.card["data"]["digest"]


def test_the_vit_backbone_trains_exports_and_loads(tmp_path):
    from astrid.detection.train import (
        TrainConfig,
        export_onnx,
        model_card,
        predict,
        train_realbogus,
    )

    with pytest.raises(ModelError, match="backbone"):
        TrainConfig(backbone="resnet")
    data, _, _ = _synthetic_set(300, 1, tmp_path)
    config = TrainConfig(epochs=1, batch_size=32, epoch_size=256, threads=1, backbone="vit")
    trained = train_realbogus(data, config)
    card = model_card(trained, {}, version="vit-test")
    assert card["name"].endswith("-vit")
    path = export_onnx(trained, tmp_path / "vit.onnx", card)
    model = RealBogusModel.load(path)
    same = model.score_inputs(data.cutouts.astype(np.float32), data.scalars)
    np.testing.assert_allclose(same.rb, predict(trained.model, data)["rb"], atol=2e-5)
