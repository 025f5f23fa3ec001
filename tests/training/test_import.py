"""`astrid.training` imports PyTorch only when a name that needs it is first used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import astrid.training


def test_importing_training_does_not_import_torch() -> None:
    code = (
        "import sys, astrid.training\n"
        "from astrid.training import TrainingSetConfig, build_training_set, roc_auc\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves() -> None:
    pytest.importorskip("torch")
    for name in astrid.training.__all__:
        assert getattr(astrid.training, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = astrid.training.nope
