"""Detection is inference only: no PyTorch at import, and no import of training or evaluation."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import astrid.detection

DETECTION = Path(astrid.detection.__file__).parent


def test_importing_detection_does_not_import_torch() -> None:
    code = "import astrid.detection, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_detection_imports_neither_training_nor_evaluation() -> None:
    imported: dict[str, set[str]] = {}
    for path in sorted(DETECTION.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names = imported.setdefault(path.name, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
    assert imported, f"{DETECTION}: no modules found"
    forbidden = ("astrid.training", "astrid.evaluation", "torch")
    wrong = {
        module: sorted(n for n in names if n.split(".")[0] == "torch" or n.startswith(forbidden))
        for module, names in imported.items()
    }
    assert not any(wrong.values()), wrong
