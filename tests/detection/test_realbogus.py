"""Real/bogus inference: the shipped model loads and scores; bad files and inputs are refused.

Needs only onnxruntime and the shipped model file (`onnx_graphs` writes the foreign files).
"""

import functools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astrid.detection.features import SCALAR_FEATURES
from astrid.detection.onnx_file import METADATA_KEY, open_session
from astrid.detection.realbogus import RealBogusModel, shipped_model_path
from astrid.errors import ConfigurationError, ModelError
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


# Values a loader lets through: blanks (ZTF's ±3.4e38), infinities, NaN, huge and tiny.
_SPECIAL = st.sampled_from(
    [3.4e38, -3.4e38, np.inf, -np.inf, np.nan, 1e29, -1e29, 1e-38, 0.0, 65504.0]
)


@settings(max_examples=25, deadline=None)
@given(
    cells=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 62), st.integers(0, 62), _SPECIAL),
        max_size=40,
    ),
    fill=st.one_of(st.none(), _SPECIAL),
    plane=st.integers(0, 2),
    sign=st.sampled_from([-1.0, 1.0]),
    scorr=st.floats(allow_nan=True, allow_infinity=True),
    fwhm=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none()),
)
def test_no_input_gives_a_nan_score(
    cells: list[tuple[int, int, int, float]],
    fill: float | None,
    plane: int,
    sign: float,
    scorr: float,
    fwhm: float | None,
) -> None:
    """Whatever the stamps and measurements hold, rb and ood are numbers in [0, 1], or the
    candidate is refused with the field named (a non-finite S_corr); never NaN."""
    rng = np.random.default_rng(len(cells))
    raw = rng.normal(0, 1, (1, 3, 63, 63)).astype(np.float32)
    if fill is not None:  # a whole plane blank, missing or saturated
        raw[0, plane] = np.float32(fill)
    for p, y, x, value in cells:
        raw[0, p, y, x] = np.float32(value)
    columns = {"sign": [sign], "scorr": [scorr], "snr": [scorr], "fwhm": [fwhm]}
    if not np.isfinite(scorr):
        with pytest.raises(ConfigurationError, match="finite 'scorr'"):
            _model().score(columns, raw)
        return
    scores = _model().score(columns, raw)
    for name, values in scores.columns().items():
        assert np.all(np.isfinite(values) & (values >= 0) & (values <= 1)), (name, values)


@functools.cache
def _model() -> RealBogusModel:
    return RealBogusModel.load(shipped_model_path(), threads=1)


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
