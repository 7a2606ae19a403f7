"""A project: a directory with an optional `annotator.yaml`, its corpora, and the
embedded store under `.annotator/`."""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from annotator.errors import InputError, Problem
from annotator.parse_cache import ParseCache
from annotator.schema import LabelSchema, default_schema_path, load_schema
from annotator.store.sqlite import SQLiteStore

CONFIG_NAME = "annotator.yaml"
CONFIG_KEYS = {"schema", "corpus", "exports", "blind", "store"}


@dataclass
class ProjectConfig:
    schema: str | None = None
    corpus: list[str] = field(default_factory=list)
    exports: str = "exports"
    # Each annotator's journal readable by them only (see README, "A team on one server").
    blind: bool = True
    store: str | None = None  # "sqlite" (default) or a postgresql:// URL


def validate_config_file(path: Path) -> list[Problem]:
    """Problems of an `annotator.yaml` (never raises for bad content)."""
    try:
        _read_config(path)
    except InputError as exc:
        return exc.problems
    return []


def _read_config(path: Path, cache: ParseCache | None = None) -> ProjectConfig:
    raw = path.read_bytes()
    cached = cache.get(raw) if cache is not None else None
    known = {f.name for f in fields(ProjectConfig)}
    if cached is not None and set(cached) <= known:  # else: written by another version
        cfg = ProjectConfig(**cached)
        if all((path.parent / c).exists() for c in cfg.corpus) and (
                not cfg.schema or (path.parent / cfg.schema).is_file()):
            return cfg  # else: check again below, to report where the file is wrong
    from annotator.yamlload import load_yaml_bytes

    doc = load_yaml_bytes(raw, str(path))
    data = doc.data
    if data is None:
        return ProjectConfig()
    if not isinstance(data, dict):
        raise InputError([doc.problem((), "expected a mapping with keys "
                                      + ", ".join(sorted(CONFIG_KEYS)))])
    problems = [doc.problem((k,), f"unknown key {k!r}; allowed: "
                            + ", ".join(sorted(CONFIG_KEYS))) for k in data if k not in CONFIG_KEYS]
    cfg = ProjectConfig()
    if "schema" in data:
        if isinstance(data["schema"], str) and data["schema"]:
            cfg.schema = data["schema"]
        else:
            problems.append(doc.problem(("schema",), "'schema' must be a path (a string)"))
    if "corpus" in data:
        corpus = data["corpus"]
        if isinstance(corpus, str):
            corpus = [corpus]
        if not isinstance(corpus, list) or not all(isinstance(c, str) for c in corpus):
            problems.append(doc.problem(("corpus",), "'corpus' must be a path or a list of paths"))
        else:
            cfg.corpus = corpus
            for i, c in enumerate(corpus):
                if not (path.parent / c).exists():
                    problems.append(doc.problem(("corpus", i) if isinstance(data["corpus"], list)
                                                else ("corpus",), f"no such file or directory: {c}"))
    if "exports" in data:
        if isinstance(data["exports"], str):
            cfg.exports = data["exports"]
        else:
            problems.append(doc.problem(("exports",), "'exports' must be a directory path"))
    if "blind" in data:
        if isinstance(data["blind"], bool):
            cfg.blind = data["blind"]
        else:
            problems.append(doc.problem(("blind",), "'blind' must be true or false"))
    if "store" in data:
        from annotator.store import store_url

        try:
            cfg.store = store_url(data["store"]) if isinstance(data["store"], str) else None
        except InputError as exc:
            problems.append(doc.problem(("store",), exc.problems[0].message))
        else:
            if cfg.store is None:
                problems.append(doc.problem(("store",), "'store' must be 'sqlite' or a "
                                            "postgresql:// URL"))
    if cfg.schema and not (path.parent / cfg.schema).is_file():
        problems.append(doc.problem(("schema",), f"no such schema file: {cfg.schema}"))
    if problems:
        raise InputError(problems)
    if cache is not None:
        cache.put(raw, {"schema": cfg.schema, "corpus": cfg.corpus, "exports": cfg.exports,
                        "blind": cfg.blind, "store": cfg.store})
    return cfg


class Project:
    def __init__(self, root: str | Path | None = None, store: str | None = None):
        self.root = Path(root or os.getcwd()).resolve()
        if not self.root.is_dir():
            raise InputError("not a directory (--project takes the project directory)"
                             if self.root.exists() else "project directory does not exist",
                             self.root)
        cfg_path = self.root / CONFIG_NAME
        self.config = (_read_config(cfg_path, ParseCache(self.store_dir / "cache", "config"))
                       if cfg_path.is_file() else ProjectConfig())
        self._store: SQLiteStore | None = None
        from annotator.store import store_url

        self.store_url = store_url(self.config.store, store)  # sqlite, or postgresql://

    @property
    def store_dir(self) -> Path:
        return self.root / ".annotator"

    def has_store(self) -> bool:
        if self.store_url != "sqlite":
            return True  # the database says, when opened
        return (self.store_dir / "corpus.db").exists()

    @property
    def store(self) -> SQLiteStore:
        if self._store is None:
            from annotator.store import open_store

            self._store = open_store(self.store_url, self.store_dir, blind=self.config.blind)
        return self._store

    def schema_path(self, override: str | Path | None = None) -> Path:
        if override:
            return Path(override)
        if self.config.schema:
            return self.root / self.config.schema
        local = self.root / "schemas" / "framing-devices.yaml"
        return local if local.is_file() else default_schema_path()

    def load_schema(self, override: str | Path | None = None) -> LabelSchema:
        """The label schema, validated (or read back from the parse cache: unchanged
        bytes that validated before)."""
        path = self.schema_path(override)
        if not path.is_file():
            raise InputError("no such schema file", path)
        return load_schema(path, self.parse_cache)

    @property
    def parse_cache(self) -> ParseCache:
        """Label schemas that validated, by content."""
        return ParseCache(self.store_dir / "cache", "schema")

    def corpus_paths(self) -> list[Path]:
        return [self.root / c for c in self.config.corpus]

    def exports_dir(self) -> Path:
        return self.root / self.config.exports

    def schema_search_dirs(self) -> list[Path]:
        from annotator.schema import schemas_dir

        dirs = [self.root / "schemas"]
        if self.config.schema:
            dirs.append((self.root / self.config.schema).parent)
        dirs.append(schemas_dir())
        return dirs

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def default_annotator() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # no login name (e.g. a container with an unknown uid)
        name = "annotator"
    # Journal files are named after annotators: "josé" or "ann@site.org" logins become
    # "jos_" / "ann_site.org" (pass --as to choose).
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip("._-")[:64]
    return name or "annotator"
