"""Test-suite setup: makes the shared helpers in this folder (small_field.py) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
