"""Fixtures of the ingest tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from rubin_samples import sample_packet, write_packets


@pytest.fixture
def write_rubin(tmp_path: Path) -> Callable[..., Path]:
    def write(version: str, packets: Sequence[dict[str, Any]], name: str = "rubin.avro") -> Path:
        _, schema = sample_packet(version)
        return write_packets(tmp_path / name, schema, packets)

    return write
