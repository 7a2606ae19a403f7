from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory."""
    d = tmp_path / "proj"
    d.mkdir()
    return d
