"""Open an ONNX model file with onnxruntime, turning every failure into a `ModelError`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from astrid.errors import ModelError

__all__ = ["METADATA_KEY", "open_session", "read_card"]

#: Key of the model card (JSON) in an ONNX file's metadata.
METADATA_KEY = "astrid"


def open_session(file: Path, *, threads: int = 0, what: str = "model") -> tuple[Any, str]:
    """An onnxruntime CPU session of `file` and the sha256 of its bytes.

    Raises
    ------
    ModelError
        If the file is missing, unreadable or not a usable ONNX model (naming it).
    """
    import onnxruntime as ort

    if not file.is_file():
        raise ModelError(f"{file}: {what} file not found", path=str(file))
    try:
        blob = file.read_bytes()
    except OSError as e:
        raise ModelError(f"{file}: cannot read {what} file: {e}", path=str(file)) from e
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own untyped errors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{file}: not a usable ONNX model ({first})", path=str(file)) from e
    return session, hashlib.sha256(blob).hexdigest()


def read_card(file: Path, session: Any) -> dict[str, Any]:
    """The AstrID model card stored in the file; `ModelError` if absent or not JSON."""
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise ModelError(f"{file}: no AstrID model card in the file", path=str(file))
    try:
        card = json.loads(meta[METADATA_KEY])
    except ValueError as e:
        raise ModelError(f"{file}: model card unreadable ({e})", path=str(file)) from e
    if not isinstance(card, dict):
        raise ModelError(f"{file}: model card is not a JSON object", path=str(file))
    return card
