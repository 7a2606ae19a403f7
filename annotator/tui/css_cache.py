"""Textual's parsed CSS, kept between launches in this user's own cache.

Textual parses every stylesheet (`annotator.tcss`, and the DEFAULT_CSS of each widget
class it mounts) at every start: ~9 ms of CPU before the first frame of `annotate`,
about a quarter of all we add to a bare Textual app's start-up. Parsed rules depend
only on the CSS text, where it came from, its scope and priority, and the theme's
variables, so they are kept by exactly those (any change is a miss, parsed again),
in a file per Textual installation and Python version.

The file is a pickle, and loading a pickle can run code: it is read only as the parse
cache's entries are (`parse_cache.read_own`), from this user's own directory, written
by this user, writable by nobody else: the trust Python gives its own `__pycache__`.
A file that is missing, foreign, stale or unreadable costs only the parse.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from annotator.parse_cache import read_own, user_cache_dir, write_own

_MAX_ENTRIES = 256  # a file of ours holds ~15 (~35 KB); old ones go beyond this

_memo: dict[tuple, Any] | None = None
_original: Any = None  # Textual's own parser
_used: set[tuple] = set()
_dirty = False
_variables: dict[frozenset, frozenset] = {}


def _cache_file() -> Path | None:
    """One file per Textual installation (its CSS modules' sizes and times: an upgrade
    rewrites them) and Python version (pickled classes must be the ones loaded)."""
    base = user_cache_dir()
    if base is None:
        return None
    import textual.css

    h = hashlib.sha256(sys.version.encode())
    css_dir = Path(textual.css.__file__).parent
    try:
        with os.scandir(css_dir) as it:
            for entry in sorted(it, key=lambda e: e.name):
                if entry.name.endswith(".py"):
                    st = entry.stat()
                    h.update(f"{entry.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    except OSError:
        return None
    h.update(str(css_dir).encode())
    return base / f"textual-css-{h.hexdigest()[:32]}.pickle"


def install() -> None:
    """Read the kept rules (once per process) and make Textual's parser look there
    first. Does nothing if Textual's parser is not the one this was written for."""
    global _memo, _original
    if _memo is not None:
        return
    from textual.css.stylesheet import Stylesheet

    original = Stylesheet.__dict__.get("_parse_rules")
    if original is None or original is _parse_rules:
        return
    _original = original
    _memo = _load()
    Stylesheet._parse_rules = _parse_rules


def _parse_rules(self: Any, css: str, read_from: Any, is_default_rules: bool = False,
                 tie_breaker: int = 0, scope: str = "") -> Any:
    """Textual's `Stylesheet._parse_rules`, looking in the kept rules first."""
    global _dirty
    variables = frozenset(self._variables.items())
    # one object for equal variables, so the file holds them once, not per entry
    variables = _variables.setdefault(variables, variables)
    key = (css, read_from, is_default_rules, tie_breaker, scope, variables)
    rules = _memo.get(key)
    if rules is None:
        rules = _original(self, css, read_from, is_default_rules, tie_breaker, scope)
        if any(rule.errors for rule in rules):
            return rules  # Textual reports them; never kept
        _memo[key] = rules
        _dirty = True
    _used.add(key)
    return rules


def _load() -> dict[tuple, Any]:
    path = _cache_file()
    data = read_own(path.parent, path) if path is not None else None
    if data is None:
        return {}
    try:
        memo = pickle.loads(data)
    except Exception:  # written by an older Textual, or cut short: parse again
        return {}
    if not isinstance(memo, dict):
        return {}
    for key in memo:
        _variables.setdefault(key[-1], key[-1])
    return memo


def save() -> None:
    """Keep what was parsed since the last save (nothing to do on a launch that parsed
    nothing: the usual case)."""
    global _dirty
    if _memo is None or not _dirty:
        return
    _dirty = False
    keep = _memo
    if len(keep) > _MAX_ENTRIES:
        keep = {k: v for k, v in _memo.items() if k in _used}
    path = _cache_file()
    if path is None:
        return
    try:
        data = pickle.dumps(keep, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a rule Textual grew that pickle cannot hold: no cache
        return
    write_own(path.parent, path, data)
