"""Parsed YAML kept by content hash, for files that passed validation.

`annotator annotate` reads the label schema and `annotator.yaml` at every start; with
this cache (under the project's `.annotator/cache/`) an unchanged file is read back as
JSON: the YAML parser and jsonschema are neither imported nor run, which is a tenth of
the start-up time. Only data that validated is stored, so a hit needs no checks; any
change to the file's bytes is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
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


class ParseCache:
    """`kind`: what the files are ("schema", "config"). The same bytes read as another
    kind are another entry: they would not have validated as this one."""

    def __init__(self, directory: Path, kind: str = "schema"):
        self.directory = directory
        self.kind = kind.encode()

    def _path(self, raw: bytes) -> Path:
        key = hashlib.sha256(_rules_salt() + self.kind + b"\0" + raw).hexdigest()
        return self.directory / (key + ".json")

    def get(self, raw: bytes) -> Any | None:
        try:
            return json.loads(self._path(raw).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, raw: bytes, data: Any) -> None:
        if not self.directory.parent.is_dir():
            return  # no store yet: nothing to cache into
        try:
            self.directory.mkdir(exist_ok=True)
            target = self._path(raw)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, target)  # readers never see half a file
        except OSError:
            pass  # a cache that cannot be written only costs speed
