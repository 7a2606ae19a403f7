"""A project: a directory with an optional `annotator.yaml`, its corpora, and the
embedded store under `.annotator/`."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import field, fields, replace
from pathlib import Path

from annotator.errors import InputError, Problem
from annotator.parse_cache import ParseCache, user_parse_cache
from annotator.records import record
from annotator.schema import LabelSchema, default_schema_path, load_schema
from annotator.store import files
from annotator.store.sqlite import SQLiteStore
from annotator.team.roles import Team, parse_team

CONFIG_NAME = "annotator.yaml"
CONFIG_KEYS = {"schema", "corpus", "exports", "blind", "store", "team", "titles", "keys"}


@record
class ProjectConfig:
    """The settings of `annotator.yaml`."""

    schema: str | None = None
    corpus: list[str] = field(default_factory=list)
    exports: str = "exports"
    # Each annotator's journal readable by them only (see README, "A team on one server").
    blind: bool = True
    store: str | None = None  # "sqlite" (default) or a postgresql:// URL
    # Roles (see README, "A team on one server"): None for a single-user project.
    team: Team | None = None
    # Titles as units: None = as the schema says (`titles:`, default true).
    titles: bool | None = None
    # A keymap: binding id -> keys (annotator/keys.py), over the user's own.
    keys: dict[str, list[str]] = field(default_factory=dict)


def validate_config_file(path: Path) -> list[Problem]:
    """Problems of an `annotator.yaml` (never raises for bad content), its keymap
    checked against its schema's hotkeys."""
    try:
        cfg = _read_config(path)
    except InputError as exc:
        return exc.problems
    if not cfg.keys:
        return []
    try:
        schema = load_schema(path.parent / cfg.schema if cfg.schema else default_schema_path())
    except InputError as exc:
        return exc.problems
    return keymap_file_problems(path, ("keys",), schema)


def keymap_file_problems(path: Path, at: tuple, schema: LabelSchema) -> list[Problem]:
    """A keymap's problems located in its file: `at` is where the mapping is in it
    (("keys",) in annotator.yaml, () in ~/.config/annotator/keys.yaml)."""
    from annotator import keys as keymap
    from annotator.yamlload import load_yaml_bytes

    doc = load_yaml_bytes(path.read_bytes(), str(path))
    data = doc.data
    for part in at:
        data = data.get(part) if isinstance(data, dict) else None
    parsed, bad = keymap.parse_keymap(data if data is not None else {})
    found = [*bad, *keymap.keymap_problems(parsed, schema)]
    return [doc.problem((*at, binding) if isinstance(binding, str) and binding in (
        data or {}) else at, message) for binding, message in found]


def _read_config(path: Path, cache: ParseCache | None = None,
                 raw: bytes | None = None) -> ProjectConfig:
    if raw is None:
        raw = files.read_checked(path)[0] if not path.is_symlink() else path.read_bytes()
    cached = cache.get(raw) if cache is not None else None
    known = {f.name for f in fields(ProjectConfig)}
    if cached is not None and set(cached) <= known:  # else: written by another version
        team = cached.pop("team", None)
        cfg = ProjectConfig(**cached)
        if team is not None:
            cfg.team = Team(team["lead"], team["annotators"], tuple(team["curators"]))
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
    if "titles" in data:
        if isinstance(data["titles"], bool):
            cfg.titles = data["titles"]
        else:
            problems.append(doc.problem(("titles",), "'titles' must be true or false"))
    if "keys" in data:
        from annotator.keys import parse_keymap

        parsed, bad = parse_keymap(data["keys"])
        cfg.keys = {k: list(v) for k, v in parsed.items()}
        problems.extend(doc.problem(("keys", b) if isinstance(b, str) else ("keys",), m)
                        for b, m in bad)
    if "team" in data:
        cfg.team, found = parse_team(data["team"], doc.problem)
        problems.extend(found)
    if cfg.schema and not (path.parent / cfg.schema).is_file():
        problems.append(doc.problem(("schema",), f"no such schema file: {cfg.schema}"))
    if problems:
        raise InputError(problems)
    if cache is not None:
        team = cfg.team and {"lead": cfg.team.lead, "annotators": cfg.team.annotators,
                             "curators": list(cfg.team.curators)}
        cache.put(raw, {"schema": cfg.schema, "corpus": cfg.corpus, "exports": cfg.exports,
                        "blind": cfg.blind, "store": cfg.store, "team": team,
                        "titles": cfg.titles, "keys": cfg.keys})
    return cfg


class Project:
    def __init__(self, root: str | Path | None = None, store: str | None = None):
        try:
            self.root = Path(root or os.getcwd()).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a vanished cwd
            raise InputError(f"cannot resolve the project directory ({exc})",
                             str(root or ".")) from None
        if not self.root.is_dir():
            raise InputError("not a directory (--project takes the project directory)"
                             if self.root.exists() else "project directory does not exist",
                             self.root)
        self.warnings: list[str] = []
        cfg_path = self.root / CONFIG_NAME
        self.config = ProjectConfig()
        if os.path.lexists(cfg_path):
            raw, st = files.read_checked(cfg_path) if not cfg_path.is_symlink() else (
                None, None)
            self.config = _read_config(cfg_path, user_parse_cache("config"), raw)
            if self.config.team is not None:
                self._trust_settings(cfg_path, st)
        if self.config.team is None:
            mode = self.root.stat().st_mode
            if mode & (stat.S_IWGRP | stat.S_IWOTH):
                self.warnings.append(
                    f"{self.root} is writable by its group, but annotator.yaml has no team: "
                    "section: nothing here keeps members from reading or changing each "
                    "other's work. See README, \"A team on one server\" (`annotator team "
                    "init`)")
        self._store: SQLiteStore | None = None
        from annotator.store import store_url

        self.store_url = store_url(self.config.store, store)  # sqlite, or postgresql://

    @property
    def team(self) -> Team | None:
        return self.config.team

    def lead_uid(self) -> int | None:
        return self.team.lead_uid() if self.team else None

    def _trust_settings(self, cfg_path: Path, st: os.stat_result | None) -> None:
        """In a team project the settings decide who reads what: they must be the
        lead's, and nobody else's to change."""
        team = self.team
        assert team is not None
        lead = team.lead_uid()
        if lead is None:
            raise InputError(f"team: lead {team.lead!r} is no login on this machine", cfg_path)
        owner = self.root.stat().st_uid
        if owner != lead:
            raise InputError(f"team: lead is {team.lead}, but the project directory belongs "
                             f"to {files.login_of(owner)}: the lead must own it", cfg_path)
        if st is None:
            raise files.Unsafe("is a symbolic link: in a team project it must be the lead's "
                               "own file", cfg_path)
        files.check_lead_owned(cfg_path, self.root, lead)

    def check_corpus(self, paths: list[Path]) -> None:
        """In a team project, corpus files are imported only if they are the lead's and
        nobody else can change them (their text reaches every annotator's screen)."""
        if self.team is None:
            return
        from annotator.corpus import collect_files

        lead = self.lead_uid()
        for f, _root in collect_files(paths, []):
            files.check_lead_owned(f, self.root, lead)

    def is_lead(self) -> bool:
        return self.team is None or os.geteuid() == self.lead_uid()

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

            self._store = open_store(self.store_url, self.store_dir, blind=self.config.blind,
                                     team=self.team, project_root=self.root)
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
        if self.team is not None and not override:
            # the project's schema decides what everyone sees: the lead's alone
            files.check_lead_owned(path, self.root, self.lead_uid())
        schema = load_schema(path, self.parse_cache)
        if self.config.titles is not None and self.config.titles != schema.titles:
            schema = replace(schema, titles=self.config.titles)
        return schema

    def keymap(self, schema: LabelSchema) -> dict[str, tuple[str, ...]]:
        """The user's keymap (`~/.config/annotator/keys.yaml`, under $XDG_CONFIG_HOME
        if set; the mapping itself or under `keys:`) with the project's `keys:` over
        it, checked against the schema's hotkeys: InputError (file:line:col) for an
        unknown binding id or a key two bindings would share."""
        from annotator import keys as keymap

        base = os.environ.get("XDG_CONFIG_HOME")
        user = (Path(base) / "annotator" / "keys.yaml" if base
                else Path(keymap.USER_KEYMAP).expanduser())
        mine: dict[str, tuple[str, ...]] = {}
        user_doc, user_at = None, ()
        if user.is_file():
            from annotator.yamlload import load_yaml_bytes  # here: no YAML when no file

            user_doc = load_yaml_bytes(user.read_bytes(), str(user))
            data = user_doc.data
            if isinstance(data, dict) and "keys" in data:
                data, user_at = data["keys"], ("keys",)
            mine, bad = keymap.parse_keymap(data if data is not None else {})
            if bad:
                raise InputError([user_doc.problem(
                    (*user_at, b) if isinstance(b, str) else user_at, m) for b, m in bad])
        project_keys = {k: tuple(v) for k, v in self.config.keys.items()}
        out = {**mine, **project_keys}
        if not out:
            return out  # nothing remapped: nothing to check (and no work before paint)
        found = keymap.keymap_problems(out, schema)
        if not found:
            return out
        from annotator.yamlload import load_yaml_bytes

        cfg = self.root / CONFIG_NAME
        cfg_doc = load_yaml_bytes(cfg.read_bytes(), str(cfg)) if project_keys else None
        problems = []
        for binding, message in found:
            if cfg_doc is not None and binding in project_keys:
                problems.append(cfg_doc.problem(("keys", binding), message))
            elif user_doc is not None:
                problems.append(user_doc.problem((*user_at, binding), message))
            else:
                problems.append(Problem(str(cfg), 0, 0, message))
        raise InputError(problems)

    @property
    def parse_cache(self) -> ParseCache:
        """Label schemas that validated, by content (this user's own cache)."""
        return user_parse_cache("schema")

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
    import getpass  # here: a launch with --as never needs it

    try:
        name = getpass.getuser()
    except Exception:  # no login name (e.g. a container with an unknown uid)
        name = "annotator"
    # Journal files are named after annotators: "josé" or "ann@site.org" logins become
    # "jos_" / "ann_site.org" (pass --as to choose).
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip("._-")[:64]
    return name or "annotator"
