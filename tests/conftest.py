from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _own_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The parse cache is per user (under $XDG_CACHE_HOME): the tests' own, not the
    home directory's."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory."""
    d = tmp_path / "proj"
    d.mkdir()
    return d


# Property tests draw the same examples on every CI run: a red CI is reproducible,
# never a new random draw. Locally they explore (HYPOTHESIS_PROFILE=dev is the default).
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev")
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE",
                                                                        "dev"))
