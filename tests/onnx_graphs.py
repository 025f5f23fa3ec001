"""Tiny ONNX files for the model-loading tests, written without the ``onnx`` package.

An ONNX file is one protobuf ``ModelProto``. The few fields these tests need are encoded
here by hand (field numbers from ``onnx/onnx.proto``), so the tests of the run-time
loaders need only onnxruntime. A protobuf parser keeps the last value of a field given
twice and appends repeated ones, so `with_card` and `with_doc_string` edit an existing
file's bytes by appending to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

_FLOAT = 1  # TensorProto.FLOAT


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | 0x80 if n else low)
        if not n:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _value_info(name: str, dims: Sequence[int | str]) -> bytes:
    """ValueInfoProto of a float tensor of shape `dims`."""
    shape = b"".join(
        _bytes_field(1, _int_field(1, d) if isinstance(d, int) else _bytes_field(2, d.encode()))
        for d in dims
    )
    tensor = _int_field(1, _FLOAT) + _bytes_field(2, shape)
    return _bytes_field(1, name.encode()) + _bytes_field(2, _bytes_field(1, tensor))


def identity_model(
    inputs: Mapping[str, Sequence[int | str]],
    outputs: Mapping[str, str],
    card: Mapping[str, Any] | None = None,
) -> bytes:
    """A model whose every output is the ``Identity`` of an input (opset 17, IR 8).

    Parameters
    ----------
    inputs : mapping
        Input name → shape (ints, or names of dynamic axes).
    outputs : mapping
        Output name → the input it copies (and whose shape it has).
    card : mapping, optional
        The AstrID model card, stored as JSON under the ``astrid`` metadata key.
    """
    nodes = b"".join(
        _bytes_field(
            1,
            _bytes_field(1, src.encode())
            + _bytes_field(2, out.encode())
            + _bytes_field(4, b"Identity"),
        )
        for out, src in outputs.items()
    )
    graph = nodes + _bytes_field(2, b"g")
    graph += b"".join(_bytes_field(11, _value_info(n, d)) for n, d in inputs.items())
    graph += b"".join(_bytes_field(12, _value_info(n, inputs[s])) for n, s in outputs.items())
    model = _int_field(1, 8) + _bytes_field(7, graph) + _bytes_field(8, _int_field(2, 17))
    return model if card is None else with_card(model, card)


def with_card(model: bytes, card: Mapping[str, Any] | str) -> bytes:
    """`model` with an ``astrid`` metadata entry holding `card` (JSON) appended."""
    text = card if isinstance(card, str) else json.dumps(card)
    entry = _bytes_field(1, b"astrid") + _bytes_field(2, text.encode())
    return model + _bytes_field(14, entry)


def with_doc_string(model: bytes, text: str) -> bytes:
    """`model` with its doc string replaced: same graph and card, different bytes."""
    return model + _bytes_field(6, text.encode())
