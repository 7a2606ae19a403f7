"""What every SQL store derives the same way, whatever the database: the paragraph
labels of a state (the agreement fast path's index), unit keys as numpy arrays, the
replay check of a journal (`annotator status --check`), and `SQLCorpusReads`, the
corpus and assignment reads both stores inherit (the SQL is the same but for the
table prefix, the placeholder and a few functions).

The journals' writes and per-label column reads stay in each store for now (they are
being changed in parallel) and are meant to move here too (docs/store.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from annotator.actions import apply_action
from annotator.store.base import DocInfo, Unit

if TYPE_CHECKING:
    import numpy as np


def state_labels(state: dict | None) -> Iterator[tuple[str, str]]:
    """(layer, label) of each paragraph label in a state: a multi layer holds a list,
    a single layer one id (or nothing)."""
    for layer, value in ((state or {}).get("labels") or {}).items():
        yield from ((layer, label) for label in
                    (value if isinstance(value, list) else [value] if value else []))


def int_array(csv: str | None) -> np.ndarray:
    """Comma-separated integers (an SQL string_agg / group_concat) as an int64 array:
    parsed in C, no Python object per number."""
    import numpy as np

    if not csv:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(csv, dtype=np.int64, sep=",")


def iso(ts: datetime | str) -> str:
    """A timestamp as the stores hand it over: UTC, ISO 8601, microseconds, Z."""
    if isinstance(ts, str):
        return ts
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _textless(state: dict | None) -> dict | None:
    if not state:
        return state
    return {**state, "spans": [{k: v for k, v in sp.items() if k != "text"}
                               for sp in state.get("spans", [])]}


def replay_problems(events: Iterable[tuple[int, str, int, str, dict, dict | None,
                                           dict | None]],
                    stored: dict[tuple[str, int], dict],
                    unit_text: Callable[[str, int], str | None]) -> list[str]:
    """Replay a journal's events (seq, doc_id, unit, kind, action, before, after) in
    order and compare with the stored states. Returns the problems found."""
    problems: list[str] = []
    replayed: dict[tuple[str, int], dict | None] = {}
    befores: dict[int, dict | None] = {}
    afters: dict[int, dict | None] = {}
    texts: dict[tuple[str, int], str | None] = {}
    for seq, doc_id, unit, kind, act, before, after in events:
        key = (doc_id, unit)
        current = replayed.get(key)
        if before != current:
            problems.append(f"event {seq}: its 'before' is not the state replayed so far")
        if kind in ("undo", "redo"):
            target = act.get("event") if isinstance(act, dict) else None
            if not isinstance(target, int) or target not in befores:
                problems.append(f"event {seq} ({kind}): names no earlier event of this "
                                "journal")
            expected = befores.get(target) if kind == "undo" else afters.get(target)
        else:
            if key not in texts:
                texts[key] = unit_text(doc_id, unit)
            if kind == "toggle_label" and not isinstance(
                    (after or {}).get("labels", {}).get(act.get("layer")), list):
                act = {**act, "single": True}  # replayed without the schema
            try:
                expected = apply_action(current, act, None, texts[key])
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"event {seq}: cannot be replayed ({exc})")
                expected = after
            if kind == "add_span" and _textless(expected) == _textless(after):
                expected = after  # span text from a paragraph since re-imported
        if expected != after:
            problems.append(f"event {seq} ({kind}): replaying it gives another state")
        befores[seq], afters[seq] = before, after
        replayed[key] = after
    for key in replayed.keys() | stored.keys():
        if replayed.get(key) != stored.get(key):
            problems.append(f"{key[0]} unit {key[1]}: the stored state differs from the "
                            "replayed events")
    return problems


def fresh_templates(actions: list[dict], schema: Any) -> list[tuple[dict, dict]]:
    """(action, the state it leaves on a unit without one) for `apply_fresh`: only
    span-less `set_gold` actions, whose result does not depend on the unit's text."""
    templates = []
    for action in actions:
        after = apply_action(None, action, schema, None)
        if action["type"] != "set_gold" or after.get("spans"):
            raise ValueError("apply_fresh takes span-less set_gold actions only")
        templates.append((action, after))
    return templates


class JournalMeta:
    """What a journal keeps beside its events, on either store, built on the store's
    `meta_value` / `set_meta_value`: the schema it was last opened with
    (annotator/schema_drift.py)."""

    def meta_value(self, key: str) -> str | None:
        raise NotImplementedError

    def set_meta_value(self, key: str, value: str) -> None:
        raise NotImplementedError

    def schema_seen(self) -> dict | None:
        """{"id", "version", "sha256"} of the schema this annotator last opened the
        project with (None: never recorded)."""
        value = self.meta_value("schema")
        return json.loads(value) if value is not None else None

    def set_schema_seen(self, ref: dict) -> None:
        self.set_meta_value("schema", json.dumps(ref, sort_keys=True))


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def int_bytes(packed: bytes | None) -> np.ndarray:
    """Big-endian int64s packed end to end (PostgreSQL `string_agg(int8send(x), '')`)
    as an int64 array: no digits to format on the server nor to parse here."""
    import numpy as np

    if not packed:
        return np.zeros(0, dtype=np.int64)
    return np.frombuffer(packed, dtype=">i8").astype(np.int64)


class SQLCorpusReads:
    """The corpus and assignment reads that are the same SQL on every database, written
    once. A store sets `_TABLES` (the prefix its tables are named with), `_PARAM` (its
    driver's placeholder), `_CONTAINS` / `_needle` / `_MAX_KEY` (case-insensitive
    search), `_HISTORY_ORDER` (newest unit_history row), `_doc` (a documents row as a
    DocInfo) and `_guard` (its decorator that turns driver errors into StoreError);
    each method here is wrapped in that guard for the subclass.

    Queries are written with `{t}` before each table and `?` for each parameter."""

    _TABLES = ""
    _PARAM = "?"
    _CONTAINS = "instr(fold(u.text), ?) > 0"
    _MAX_KEY = 1 << 62
    _HISTORY_ORDER = "h.rowid"
    _DOC_COLS = "key, id, title, meta, source, n_units, has_title"
    _SHARED = ("key_base", "unit_lengths", "document_sizes", "source_fingerprint", "document_count",
               "document", "document_at", "unit", "units", "old_text", "search",
               "assignments", "assigned_documents", "title_count", "assigned_unit_count")
    conn: Any
    _sql_cache: dict[str, str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._sql_cache = {}
        for name in cls._SHARED:
            if name not in cls.__dict__:  # a store's own version wins
                setattr(cls, name, cls._guard(getattr(SQLCorpusReads, name)))

    @staticmethod
    def _guard(method: Callable) -> Callable:
        return method

    @staticmethod
    def _doc(row: tuple) -> DocInfo:
        raise NotImplementedError

    @classmethod
    def _q(cls, sql: str) -> str:
        out = cls._sql_cache.get(sql)
        if out is None:
            out = cls._sql_cache[sql] = sql.replace("{t}", cls._TABLES).replace(
                "?", cls._PARAM)
        return out

    def _one(self, sql: str, params: tuple = ()) -> tuple | None:
        return self.conn.execute(self._q(sql), params).fetchone()

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(self._q(sql), params).fetchall()

    @staticmethod
    def _needle(text: str) -> str:
        return text.casefold()  # SQLite's lower() folds ASCII only: `fold` is ours

    def key_base(self) -> int:
        """Unit keys for numpy-side joins are doc_key * key_base() + unit: small
        numbers, so the database formats and numpy parses fewer digits."""
        return (self._one("SELECT max(n_units) FROM {t}documents")[0] or 0) + 2

    @staticmethod
    def _csv(expr: str) -> str:
        """An aggregate of integers as one comma-separated string (parsed by
        `int_array`): one value over the wire instead of a row per number."""
        return f"group_concat({expr})"

    _BIG = ""  # the cast that makes doc * base 64-bit (SQLite integers already are)

    def unit_lengths(self, base: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit keys, text lengths in code points) of every unit, for span agreement."""
        keys, lengths = self._one(
            f"SELECT {self._csv(f'doc{self._BIG} * ? + idx')}, "
            f"{self._csv('length(text)')} FROM {{t}}units", (base,))
        return int_array(keys), int_array(lengths)

    def document_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """(document keys, unit counts) of every document."""
        keys, sizes = self._one(f"SELECT {self._csv('key')}, {self._csv('n_units')} "
                                "FROM {t}documents")
        return int_array(keys), int_array(sizes)

    def source_fingerprint(self, path: str) -> str | None:
        row = self._one("SELECT fingerprint FROM {t}sources WHERE path = ?", (path,))
        return row[0] if row else None

    def document_count(self) -> int:
        return self._one("SELECT count(*) FROM {t}documents")[0]

    def document(self, doc_id: str) -> DocInfo | None:
        row = self._one(f"SELECT {self._DOC_COLS} FROM {{t}}documents WHERE id = ?",
                        (doc_id,))
        return self._doc(row) if row else None

    def document_at(self, position: int) -> DocInfo | None:
        """The document at 0-based `position` in import order."""
        # Keys are dense (documents are never deleted), so position = key - 1.
        row = self._one(f"SELECT {self._DOC_COLS} FROM {{t}}documents WHERE key = ?",
                        (position + 1,))
        return self._doc(row) if row else None

    def unit(self, doc_id: str, index: int) -> Unit | None:
        row = self._one("SELECT u.text, u.sha FROM {t}units u JOIN {t}documents d "
                        "ON u.doc = d.key WHERE d.id = ? AND u.idx = ?", (doc_id, index))
        return Unit(doc_id, index, row[0], row[1]) if row else None

    def units(self, doc_id: str) -> list[Unit]:
        rows = self._all("SELECT u.idx, u.text, u.sha FROM {t}units u JOIN {t}documents d "
                         "ON u.doc = d.key WHERE d.id = ? ORDER BY u.idx", (doc_id,))
        return [Unit(doc_id, i, t, s) for i, t, s in rows]

    def old_text(self, doc_id: str, index: int, sha: str) -> str | None:
        """The text a unit had when it was annotated, if a re-import replaced it."""
        row = self._one("SELECT h.text FROM {t}unit_history h JOIN {t}documents d "
                        "ON h.doc = d.key WHERE d.id = ? AND h.idx = ? AND h.sha = ? "
                        f"ORDER BY {self._HISTORY_ORDER} DESC LIMIT 1", (doc_id, index, sha))
        return row[0] if row else None

    def search(self, text: str, after: tuple[int, int] | None = None,
               backwards: bool = False, assigned_to: str | None = None
               ) -> tuple[str, int] | None:
        """The next unit (by document key, unit) containing `text`, case-insensitive;
        wraps around. `after` is (document key, unit). `assigned_to`: only in the
        documents assigned to that annotator."""
        needle = self._needle(text)
        start = (0, -1) if not backwards else (self._MAX_KEY, 0)
        key, idx = after or start
        op, order = ("<", "DESC") if backwards else (">", "ASC")
        scope = ("AND u.doc IN (SELECT doc_key FROM {t}assignments WHERE annotator = ?) "
                 if assigned_to is not None else "")
        extra = (assigned_to,) if assigned_to is not None else ()
        sql = (f"SELECT d.id, u.idx FROM {{t}}units u JOIN {{t}}documents d "
               f"ON u.doc = d.key WHERE (u.doc, u.idx) {op} (?, ?) AND {self._CONTAINS} "
               f"{scope}ORDER BY u.doc {order}, u.idx {order} LIMIT 1")
        row = self._one(sql, (key, idx, needle, *extra))
        if row is None and after is not None:
            row = self._one(sql, (*start, needle, *extra))
        return (row[0], row[1]) if row else None

    # -- assignments (annotator/team/assign.py) ----------------------------------------
    def assignments(self) -> list[tuple[int, str, bool]]:
        """Every (document key, annotator, calibration) row, by document."""
        return [(d, a, bool(c)) for d, a, c in self._all(
            "SELECT doc_key, annotator, calibration FROM {t}assignments "
            "ORDER BY doc_key, annotator")]

    def assigned_documents(self, annotator: str) -> list[int] | None:
        """Keys of the documents assigned to `annotator`, in import order; None when the
        project has no assignments at all (then everyone may open every document)."""
        if self._one("SELECT 1 FROM {t}assignments LIMIT 1") is None:
            return None
        return [k for (k,) in self._all(
            "SELECT doc_key FROM {t}assignments WHERE annotator = ? ORDER BY doc_key",
            (annotator,))]

    def title_count(self, annotator: str | None = None) -> int:
        """Documents with a title (of those assigned to `annotator`): the units that
        are not counted when a schema or project says `titles: false`."""
        if annotator is None:
            return int(self._one("SELECT count(*) FROM {t}documents WHERE has_title")[0])
        return int(self._one(
            "SELECT count(*) FROM {t}assignments a JOIN {t}documents d "
            "ON d.key = a.doc_key WHERE a.annotator = ? AND d.has_title", (annotator,))[0])

    def assigned_unit_count(self, annotator: str) -> int:
        """Units (titles included) of the documents assigned to `annotator`."""
        return int(self._one(
            "SELECT coalesce(sum(d.n_units), 0) FROM {t}assignments a JOIN {t}documents d "
            "ON d.key = a.doc_key WHERE a.annotator = ?", (annotator,))[0])
