"""The speed benchmark still runs (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "speed.py"


@pytest.mark.slow
def test_speed_benchmark_quick_run_writes_its_result(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "speed_quick.json").read_text())
    assert {"zogy", "end_to_end", "throughput"} <= set(result)
    assert result["end_to_end"]["status"] == "done"
    kept = result["end_to_end"]["reference_kept"]  # the second run read the first's preparation
    assert kept["status"] == "done"
    assert kept["n_candidates"] == result["end_to_end"]["n_candidates"]
    assert result["throughput"]["done"] == 2
