"""Detection is inference only: importing it loads no PyTorch.

What it may import is checked with the other packages' arrows in tests/test_architecture.py.
"""

from __future__ import annotations

import subprocess
import sys


def test_importing_detection_does_not_import_torch() -> None:
    code = "import astrid.detection, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
