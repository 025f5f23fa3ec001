"""Frames on disk for a stack: planes written whole or by rows read back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from astrid.difference.frame_spill import FrameSpill


def test_planes_round_trip_whole_and_by_rows(tmp_path: Path) -> None:
    spill = FrameSpill(tmp_path, (9, 5))
    data = np.arange(45, dtype=np.float32).reshape(9, 5)
    mask = data % 7 == 0
    spill.put(3, "data", data)
    spill.put(3, "mask", mask)
    assert np.array_equal(spill.rows(3, "data"), data)
    assert np.array_equal(spill.rows(3, "data", 2, 6), data[2:6])
    assert np.array_equal(spill.rows(3, "mask", 8, 9), mask[8:9])
    # a plane never written reads as zeros; rows written later land where they belong
    assert not spill.rows(3, "rejected").any()
    spill.put_rows(3, "rejected", 4, np.ones((2, 5), bool))
    rejected = spill.rows(3, "rejected")
    assert rejected[4:6].all() and rejected.sum() == 10
    assert np.array_equal(spill.unusable(3), mask | rejected)
    assert np.array_equal(spill.unusable(3, 4, 7), (mask | rejected)[4:7])


def test_a_plane_of_another_shape_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"plane 'data' of 0: \(4, 4\), not \(9, 5\)"):
        FrameSpill(tmp_path, (9, 5)).put(0, "data", np.zeros((4, 4)))
