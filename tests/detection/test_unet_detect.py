"""The U-Net detector at run time: inputs, peaks, model loading errors, tiled inference.

Needs only onnxruntime and the shipped model (`onnx_graphs` writes the foreign files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from astrid.detection.unet_detect import (
    UNET_CHANNELS,
    UNET_NORMALISATION_VERSION,
    UNetDetector,
    shipped_unet_path,
    unet_inputs,
    unet_peaks,
)
from astrid.errors import ModelError
from onnx_graphs import identity_model
from unet_maps import blobs, synthetic_maps


@pytest.fixture(scope="module")
def synthetic() -> dict[str, np.ndarray]:
    return synthetic_maps()


def test_inputs_scale_clip_and_zero_masked_and_nan_pixels(synthetic: dict) -> None:
    s, d, m = synthetic["score_corr"].copy(), synthetic["difference"].copy(), synthetic["mask"]
    s[50, 50] = 1e4
    d[40, 40] = np.nan
    x = unet_inputs(s, d, m)
    assert x.shape == (len(UNET_CHANNELS), 96, 96) and x.dtype == np.float32
    assert x[0, 50, 50] == pytest.approx(10.0)  # clipped at 50σ, in units of 5σ
    assert x[0, 20, 20] == pytest.approx(s[20, 20] / 5.0, rel=1e-6)
    # D is divided by its robust spread (3 here) before asinh.
    assert np.std(x[1][~m & (np.abs(s) < 3)]) == pytest.approx(0.85, abs=0.15)
    assert x[2, 40, 40] == 1.0 and x[0, 40, 40] == 0.0 and x[1, 40, 40] == 0.0
    assert np.all(x[:2][:, m] == 0.0) and np.all(x[2][m] == 1.0)
    assert x[2].sum() == m.sum() + 1
    with pytest.raises(ValueError, match="one 2-D shape"):
        unet_inputs(s, d[:-1], m)


def test_unet_peaks_finds_planted_blobs_above_threshold_outside_the_mask() -> None:
    shape = (80, 80)
    prob = blobs(shape, np.array([[20.0, 30.0], [60.0, 15.0]]), 0.9, sigma=1.2)
    prob += blobs(shape, np.array([[40.0, 60.0]]), 0.3, sigma=1.2)  # below threshold
    prob += blobs(shape, np.array([[65.0, 65.0]]), 0.95, sigma=1.2)  # masked
    mask = np.zeros(shape, bool)
    mask[60:70, 60:70] = True
    table = unet_peaks(prob, mask, 0.5)
    assert sorted(zip(table["x"].tolist(), table["y"].tolist(), strict=True)) == [
        (20, 30),
        (60, 15),
    ]
    np.testing.assert_allclose(table["prob"], [0.9, 0.9], rtol=1e-5)
    assert len(unet_peaks(prob, None, 0.5)) == 3
    assert len(unet_peaks(prob, mask, 0.2)) == 3


# -- loading ------------------------------------------------------------------------------


def test_missing_model_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        UNetDetector.load(tmp_path / "nope.onnx")


def test_a_file_that_is_not_onnx_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"SIMPLE  =                    T / not a network")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        UNetDetector.load(bad)


def _identity_model(path: Path, channels: int, card: dict | None, names=("maps", "prob")) -> Path:
    """A one-node ONNX graph ``prob = maps`` with `channels` input channels."""
    path.write_bytes(
        identity_model({names[0]: ["n", channels, "h", "w"]}, {names[1]: names[0]}, card)
    )
    return path


_CARD = {
    "kind": "unet",
    "inputs": {"normalisation_version": UNET_NORMALISATION_VERSION, "channels": UNET_CHANNELS},
    "downsample": 4,
    "receptive_radius": 0,
}


def test_wrong_input_channel_count_is_a_model_error(tmp_path: Path) -> None:
    path = _identity_model(tmp_path / "four.onnx", 4, _CARD)
    with pytest.raises(ModelError, match=r"expected \(n, 3, height, width\)") as info:
        UNetDetector.load(path)
    assert info.value.details["shape"][1] == 4


def test_wrong_input_name_missing_card_and_foreign_card_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is this a U-Net"):
        UNetDetector.load(_identity_model(tmp_path / "a.onnx", 3, _CARD, ("cutouts", "prob")))
    with pytest.raises(ModelError, match="no AstrID model card"):
        UNetDetector.load(_identity_model(tmp_path / "b.onnx", 3, None))
    with pytest.raises(ModelError, match="not a U-Net"):
        UNetDetector.load(_identity_model(tmp_path / "c.onnx", 3, {**_CARD, "kind": "realbogus"}))
    old = {**_CARD, "inputs": {"normalisation_version": 0, "channels": UNET_CHANNELS}}
    with pytest.raises(ModelError, match="expects inputs v0"):
        UNetDetector.load(_identity_model(tmp_path / "d.onnx", 3, old))
    # A well-formed file loads, and its identity "probability" is the mask-zeroed S_corr channel.
    det = UNetDetector.load(_identity_model(tmp_path / "ok.onnx", 3, _CARD))
    assert det.threshold == 0.5 and det.downsample == 4


def test_shipped_model_loads_with_its_card() -> None:
    if not shipped_unet_path().is_file():
        pytest.fail(f"{shipped_unet_path()}: the shipped U-Net is missing")
    det = UNetDetector.load()
    assert det.card["kind"] == "unet"
    assert det.card["data"]["training_set_digest"]
    assert 0.0 < det.threshold < 1.0
    assert shipped_unet_path().stat().st_size < 2_000_000


def test_tiled_inference_equals_untiled_and_needs_its_halo(synthetic: dict) -> None:
    det = UNetDetector.load(threads=1)
    # An odd-sized frame: padding to the downsampling must not shift anything.
    s, d, m = (synthetic[k][:90, :87] for k in ("score_corr", "difference", "mask"))
    whole = det.probability(s, d, m, tile=4096)
    tiled = det.probability(s, d, m, tile=32)
    assert whole.shape == (90, 87)
    np.testing.assert_allclose(tiled, whole, atol=2e-5)
    assert np.all(whole[m] == 0.0)
    no_halo = det.probability(s, d, m, tile=32, halo=0)
    assert np.max(np.abs(no_halo - whole)) > 1e-4  # the seams show without context
