"""Parsed YAML kept by content hash, for files that passed validation.

`annotator annotate` reads the label schema and `annotator.yaml` at every start; with
this cache an unchanged file is read back as JSON: the YAML parser and jsonschema are
neither imported nor run, which is a tenth of the start-up time. Only data that
validated is stored, so a hit needs no checks; any change to the file's bytes is a miss.

A hit is trusted without checks, so the cache is each user's own
(`$XDG_CACHE_HOME/annotator/parse`, else `~/.cache/annotator/parse`), never shared in a
project: a directory or an entry that is not this user's (another owner, a symlink,
writable by others) is never read, so nobody can forge what someone else's settings
say (e.g. `blind: false`).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# What decides whether a file is valid and what it parses to: a change to any of these
# (a new check, a new config key) makes every entry a miss, so a file cached as valid
# by an earlier version is checked again by this one.
_RULES = [_HERE / n for n in ("schema.py", "yamlload.py", "project.py", "textclean.py",
                              "parse_cache.py")] + [
    _HERE.parent / "schemas" / "label-schema.schema.json"]
_salt: bytes | None = None


def _rules_salt() -> bytes:
    global _salt
    if _salt is None:
        h = hashlib.sha256()
        for path in _RULES:
            try:
                h.update(path.read_bytes())
            except OSError:
                h.update(path.name.encode())
        _salt = h.digest()
    return _salt


def user_cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.path.expanduser("~"), ".cache") if os.path.expanduser("~") != "~"
        else "")
    return Path(base) / "annotator" / "parse" if base else None


def user_parse_cache(kind: str) -> ParseCache | None:
    d = user_cache_dir()
    return ParseCache(d, kind) if d is not None else None


def _own_dir(path: Path, create: bool) -> bool:
    """Is `path` a directory of ours that nobody else can write? (Made if asked.)"""
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


class ParseCache:
    """`kind`: what the files are ("schema", "config"). The same bytes read as another
    kind are another entry: they would not have validated as this one. Entries are
    read only from a directory of this user's, and only if this user wrote them."""

    def __init__(self, directory: Path, kind: str = "schema"):
        self.directory = directory
        self.kind = kind.encode()

    def _path(self, raw: bytes) -> Path:
        key = hashlib.sha256(_rules_salt() + self.kind + b"\0" + raw).hexdigest()
        return self.directory / (key + ".json")

    def get(self, raw: bytes) -> Any | None:
        data = read_own(self.directory, self._path(raw))
        if data is None:
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError:
            return None

    def put(self, raw: bytes, data: Any) -> None:
        write_own(self.directory, self._path(raw),
                  json.dumps(data, ensure_ascii=False).encode("utf-8"))


def read_own(directory: Path, path: Path) -> bytes | None:
    """The bytes of `path` in `directory`, if both are this user's and nobody else can
    write them (no symlink followed, no FIFO waited on); else None."""
    if not _own_dir(directory, create=False):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()
                or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            return None  # not written by us: never trusted
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def write_own(directory: Path, path: Path, data: bytes) -> None:
    """Write `path` whole (readers never see half a file) in `directory`, made this
    user's own if missing; a cache that cannot be written only costs speed."""
    if not _own_dir(directory, create=True):
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
