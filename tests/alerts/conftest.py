"""The alert tests' field, made once per session."""

from __future__ import annotations

import pytest

from alert_field import Field, make_field


@pytest.fixture(scope="session")
def field(tmp_path_factory: pytest.TempPathFactory) -> Field:
    return make_field(tmp_path_factory.mktemp("alert-field"))
