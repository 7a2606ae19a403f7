from __future__ import annotations

import os
from pathlib import Path

import pytest
from pg_server import PgServer, start_server


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


# -- a real PostgreSQL server (tests/pg_server.py), one per test session ------------
_PG: dict[str, PgServer | None] = {}


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """A PostgreSQL server of our own (initdb in a temporary directory, as an
    unprivileged user), stopped at the end. Skipped only where no PostgreSQL binaries
    are installed (CI installs them)."""
    if "server" not in _PG:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            _PG["server"] = None
        else:
            _PG["server"] = start_server()
    server = _PG["server"]
    if server is None:
        pytest.skip("no PostgreSQL server binaries (initdb) or no psycopg on this machine: "
                    "install the Debian package postgresql and annotator[postgresql]")
    return server


def pytest_sessionfinish(session, exitstatus):
    server = _PG.pop("server", None)
    if server is not None:
        server.destroy()


_DB_COUNTER = [0]


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh database with the annotator tables (`db init` by the lead); the URL
    connects as the lead."""
    from annotator.store.postgres import init_database

    _DB_COUNTER[0] += 1
    name = pg_server.new_database(f"t{os.getpid()}_{_DB_COUNTER[0]}")
    url = pg_server.url(name, user="lead")
    init_database(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request, tmp_path: Path):
    """A function opening a store of each backend: `open(blind=True)`. On PostgreSQL
    it connects as the lead (who owns the corpus and may write any journal)."""
    from annotator.store import open_store

    if request.param == "sqlite":
        root = tmp_path / "backend" / ".annotator"

        def open_(blind: bool = True):
            return open_store("sqlite", root, blind=blind)
    else:
        url = request.getfixturevalue("pg_url")

        def open_(blind: bool = True):
            return open_store(url, tmp_path)
    open_.kind = request.param
    # For the real entry point in a subprocess: the same store, by $ANNOTATOR_STORE.
    open_.url = "sqlite" if request.param == "sqlite" else url
    mp = request.getfixturevalue("monkeypatch")
    mp.setenv("ANNOTATOR_STORE", open_.url)
    return open_
