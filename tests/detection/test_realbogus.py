"""Real/bogus inference: the shipped model loads and scores; bad files and inputs are refused.

Needs only onnxruntime and the shipped model file (`onnx_graphs` writes the foreign files).
"""

from pathlib import Path

import numpy as np
import pytest

from astrid.detection.features import SCALAR_FEATURES
from astrid.detection.onnx_file import METADATA_KEY, open_session
from astrid.detection.realbogus import RealBogusModel, shipped_model_path
from astrid.errors import ModelError
from onnx_graphs import identity_model, with_card


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


def _graph_file(
    path: Path,
    channels: int,
    size: int,
    outputs: tuple[str, ...] = ("logits", "features", "mahalanobis"),
    card: str | None = None,
) -> Path:
    """An identity graph with real/bogus input names, of the given cutout shape."""
    inputs = {"cutouts": ["n", channels, size, size], "scalars": ["n", len(SCALAR_FEATURES)]}
    blob = identity_model(inputs, dict.fromkeys(outputs, "scalars"))
    path.write_bytes(blob if card is None else with_card(blob, card))
    return path


def test_foreign_model_files(tmp_path: Path):
    with pytest.raises(ModelError, match="no AstrID model card"):
        RealBogusModel.load(_graph_file(tmp_path / "nocard.onnx", 4, 63))
    with pytest.raises(ModelError, match="outputs"):
        RealBogusModel.load(_graph_file(tmp_path / "outputs.onnx", 4, 63, outputs=("prob",)))
    # The shipped card copied onto a graph of the wrong input shape: refused at load.
    session, _ = open_session(shipped_model_path())
    card = session.get_modelmeta().custom_metadata_map[METADATA_KEY]
    for channels, size in ((3, 63), (4, 31)):
        path = _graph_file(tmp_path / f"shape{channels}{size}.onnx", channels, size, card=card)
        with pytest.raises(ModelError, match="input 'cutouts' has shape"):
            RealBogusModel.load(path)
