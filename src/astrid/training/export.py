"""Write a trained torch module to one ONNX file with its model card (``train`` extra).

The card (JSON) lives in the file's metadata under `astrid.detection.onnx_file.METADATA_KEY`,
where the run-time loaders (`astrid.detection.onnx_file.read_card`) find it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from astrid.detection.onnx_file import METADATA_KEY

__all__ = ["OPSET", "export_onnx", "write_card"]

#: ONNX opset of every exported model.
OPSET = 17


def write_card(proto: Any, card: Mapping[str, Any]) -> None:
    """Set (replace) the ``astrid`` metadata entry of an ONNX `proto` to `card`."""
    kept = [p for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(card, allow_nan=False, default=float)
    proto.producer_name = "astrid"
    proto.doc_string = f"{card.get('name', 'model')} {card.get('version', '')}".strip()


def export_onnx(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    path: str | Path,
    card: Mapping[str, Any],
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
) -> Path:
    """Trace `module` (in eval mode) on `example`, write it with `card`, check the file.

    Parameters
    ----------
    module : torch.nn.Module
        What to export; the caller passes a copy it no longer trains.
    example : tuple of Tensor
        Example inputs, one per name in `input_names`.
    path : path
        The ONNX file to write (atomically: a temporary file, then the final one).
    card : mapping
        The model card, stored as JSON in the metadata.
    input_names, output_names, dynamic_axes
        As `torch.onnx.export` takes them.

    Returns
    -------
    Path
        The written file.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
        torch.onnx.export(
            module.eval(),
            example,
            str(tmp),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load(str(tmp))
    write_card(proto, card)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    tmp.unlink(missing_ok=True)
    return path
