"""Real/bogus inference: the shipped model loads and scores; bad files and inputs are refused.

Needs only onnxruntime and the shipped model file (tests that write ONNX graphs need onnx).
"""

from pathlib import Path

import numpy as np
import pytest

from astrid.detection.features import SCALAR_FEATURES
from astrid.detection.realbogus import RealBogusModel, shipped_model_path
from astrid.errors import ModelError


@pytest.fixture(scope="module")
def triplets() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Candidate columns and raw (science, reference, difference) cutouts of 20 noise peaks."""
    rng = np.random.default_rng(0)
    n = 20
    raw = rng.normal(0, 1, (n, 3, 63, 63)).astype(np.float32)
    raw[::7, :, :5, :] = np.nan  # masked edge: the input must stay finite
    scorr = rng.uniform(5, 15, n)
    columns = {"sign": np.ones(n), "scorr": scorr, "snr": scorr, "n_merged": np.ones(n)}
    return columns, raw


def test_the_shipped_model_loads():
    model = RealBogusModel.load(shipped_model_path())
    assert model.card["metrics"]["test"]["auc"] > 0.9
    assert model.card["data"]["digest"]
    assert "calibration" not in model.public_card


def test_the_shipped_model_scores_in_range(triplets):
    columns, raw = triplets
    model = RealBogusModel.load(shipped_model_path(), threads=1)
    scores = model.score(columns, raw)
    for name, values in scores.columns().items():
        assert values.shape == (len(raw),) and np.all((values >= 0) & (values <= 1)), name
    assert len(model.score({"sign": [], "scorr": []}, np.zeros((0, 3, 63, 63)))) == 0


def test_scoring_checks_the_inputs(triplets):
    columns, raw = triplets
    model = RealBogusModel.load(shipped_model_path())
    with pytest.raises(ModelError, match=r"\(n, 3, 63, 63\)"):
        model.score(columns, raw[:, :, :31, :31])
    with pytest.raises(ModelError, match="triplets for"):
        model.score(columns, raw[:10])


def test_missing_and_corrupt_model_files(tmp_path: Path):
    with pytest.raises(ModelError, match="not found"):
        RealBogusModel.load(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        RealBogusModel.load(junk)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(shipped_model_path().read_bytes()[:5000])
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        RealBogusModel.load(truncated)


def test_foreign_model_files(tmp_path: Path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

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
    card = onnx.load(str(shipped_model_path())).metadata_props
    for channels, size in ((3, 63), (4, 31)):
        path = graph_file(f"shape{channels}{size}.onnx", channels, size)
        proto = onnx.load(str(path))
        proto.metadata_props.extend(card)
        onnx.save(proto, str(path))
        with pytest.raises(ModelError, match="input 'cutouts' has shape"):
            RealBogusModel.load(path)
