"""Detection at run time: real/bogus scores, OOD scores, the U-Net map (onnxruntime, no PyTorch).

Inference only: the shipped models (``models/*.onnx``) and the inputs they were trained on.
Training them lives in `astrid.training`, which imports this package, never the reverse.
"""

from astrid.detection.features import (
    INPUT_CHANNELS,
    NORMALISATION_VERSION,
    SCALAR_FEATURES,
    normalise_cutouts,
    scalar_features,
)
from astrid.detection.onnx_file import METADATA_KEY, open_session, read_card
from astrid.detection.ood import COMPONENTS, OodCalibration, component_scores, ood_scores
from astrid.detection.realbogus import SCORE_COLUMNS, RealBogusModel, Scores, shipped_model_path
from astrid.detection.unet_detect import (
    UNET_CHANNELS,
    UNET_NORMALISATION_VERSION,
    UNetDetector,
    shipped_unet_path,
    unet_inputs,
    unet_peaks,
)

__all__ = [
    "COMPONENTS",
    "INPUT_CHANNELS",
    "METADATA_KEY",
    "NORMALISATION_VERSION",
    "SCALAR_FEATURES",
    "SCORE_COLUMNS",
    "UNET_CHANNELS",
    "UNET_NORMALISATION_VERSION",
    "OodCalibration",
    "RealBogusModel",
    "Scores",
    "UNetDetector",
    "component_scores",
    "normalise_cutouts",
    "ood_scores",
    "open_session",
    "read_card",
    "scalar_features",
    "shipped_model_path",
    "shipped_unet_path",
    "unet_inputs",
    "unet_peaks",
]
