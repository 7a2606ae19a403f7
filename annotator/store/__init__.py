"""Storage of the corpus and of every annotator's journal."""

from __future__ import annotations

import os
from pathlib import Path

from annotator.errors import InputError
from annotator.store.base import Change, DocInfo, ImportStats, Journal, Store, Unit
from annotator.store.sqlite import SQLiteJournal, SQLiteStore

__all__ = ["Change", "DocInfo", "ImportStats", "Journal", "SQLiteJournal", "SQLiteStore",
           "Store", "Unit", "open_store", "store_url"]

ENV = "ANNOTATOR_STORE"


def store_url(configured: str | None = None, given: str | None = None) -> str:
    """Which store: `--store URL`, else $ANNOTATOR_STORE, else `store:` in
    annotator.yaml, else "sqlite". A PostgreSQL URL is checked here (no password)."""
    url = (given or os.environ.get(ENV) or configured or "sqlite").strip()
    if url == "sqlite":
        return url
    from annotator.store.postgres import conninfo, is_postgres_url

    if not is_postgres_url(url):
        raise InputError(f"unknown store {url!r}: use 'sqlite' or a postgresql:// URL "
                         f"(--store, {ENV} or store: in annotator.yaml)")
    conninfo(url)
    return url


def open_store(url: str, root: Path, blind: bool = True, team=None,
               project_root: Path | None = None):
    """The store `url` names (see `store_url`); `root` is the project's `.annotator/`
    directory, where the SQLite store lives (`team`: the project's roles, which decide
    whose journals it opens)."""
    if url == "sqlite":
        return SQLiteStore(root, blind=blind, team=team, project_root=project_root)
    from annotator.store.postgres import PostgresStore

    return PostgresStore(url)
