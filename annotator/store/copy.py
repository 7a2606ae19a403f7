"""`annotator db copy`: move a project between the SQLite and the PostgreSQL store.

Everything a store holds is copied as it is: documents with their keys, units, texts
replaced by re-imports, source fingerprints, and per annotator every event (with its
time, undo state and undo targets), the derived states (with the time and paragraph
version they were made on: staleness survives the move) and the position. The target
must be empty; it is written in one transaction, so a failed copy leaves nothing.

On PostgreSQL the rows are loaded with COPY, the event triggers set aside for the
load (the source's chain is taken as it is: `annotator status --check` replays it),
so a 1,000,000-unit project moves in seconds rather than one trigger call per event.
From SQLite the journals are read while they are copied (nothing held in memory; the
server loads what is sent while the next rows are read), into tables emptied in the
same transaction (COPY FREEZE), and the rows go in the order of the keys built after
the load (those sorts then find their input sorted). docs/store.md has the why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from annotator.errors import StoreError
from annotator.store.sql import iso

Progress = Callable[[int, int | None], None]


@dataclass
class JournalRows:
    annotator: str
    # JSON as text throughout: parsing and writing back millions of states would cost
    # more than the copy itself.
    # (seq, ts, doc_id, unit, kind, action, before, after, seconds, undone, undone_by)
    events: list[tuple] = field(default_factory=list)
    # (doc_id, unit, doc_key, status, state, unit_sha, updated_at, seconds, n_spans)
    states: list[tuple] = field(default_factory=list)
    position: tuple[str, int] | None = None
    # (code, doc_key, unit): the label index, by code; (code, layer, label) its codes
    labels: list[tuple] = field(default_factory=list)
    codes: list[tuple] = field(default_factory=list)
    _seqs: dict[int, int] = field(default_factory=dict, repr=False)  # renumbered events

    @property
    def size(self) -> int:
        return len(self.events) + len(self.states)

    def label_pairs(self) -> set[tuple[str, str]]:
        return {(layer, label) for _, layer, label in self.codes}

    # -- into PostgreSQL's COPY (the interface `_SQLiteJournal` shares) -------------------
    def write_events(self, cp, offset: int) -> int:
        seqs = {e[0]: offset + i for i, e in enumerate(self.events, start=1)}
        for s, ts, d, u, k, a, b, af, sec, _, _ in self.events:
            cp.write_row((seqs[s], self.annotator, ts, d, u, k, _remap(k, a, seqs),
                          _null(b), _null(af), sec))
        self._seqs = seqs
        return len(self.events)

    def write_undo_marks(self, cp) -> None:
        seqs = self._seqs
        for s, *_, un, by in self.events:
            if un:
                cp.write_row((seqs[s], self.annotator, un, seqs.get(by, by or 0)))

    def write_states(self, cp) -> None:
        for row in self.states:
            cp.write_row((self.annotator, *row))

    def write_labels(self, cp, codes: dict[tuple[str, str], int]) -> None:
        prefix = f"{_copy_text(self.annotator)}\t"
        new = {code: codes[(layer, label)] for code, layer, label in self.codes}
        rows = sorted((new[c], k, u) for c, k, u in self.labels)
        for start in range(0, len(rows), 100000):
            cp.write("".join(f"{prefix}{c}\t{k}\t{u}\n" for c, k, u in rows[start:start + 100000]))


_STEPS = ("undo", "redo")  # events whose action names another event by its seq


class _SQLiteJournal:
    """A SQLite journal copied into PostgreSQL as it is read: rows go from the SQLite
    cursor to COPY, nothing is held in memory (JournalRows' interface)."""

    def __init__(self, journal) -> None:
        self.annotator = journal.annotator
        self.conn = journal.conn
        self.position = journal.position()
        # each its own subquery: SQLite then counts an index and looks up the ends
        n, lo, hi = self.conn.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT min(seq) FROM events), "
            "(SELECT max(seq) FROM events)").fetchone()
        (self.n_states,) = self.conn.execute("SELECT count(*) FROM units").fetchone()
        self.n_events, self._lo = n, lo or 1
        # seqs 1..n with no gap (a journal's events are never deleted): renumbered by
        # adding an offset; otherwise by rank
        self._dense = n == 0 or hi - lo + 1 == n
        self._offset = 0

    @property
    def size(self) -> int:
        return self.n_events + self.n_states

    def label_pairs(self) -> set[tuple[str, str]]:
        return set(self.conn.execute(
            "SELECT layer, label FROM label_codes c WHERE EXISTS "
            "(SELECT 1 FROM labels l WHERE l.code = c.code)").fetchall())

    def _renumber(self, seqs: set[int]) -> dict[int, int]:
        """The new seq of each of these events (those undo marks and steps name)."""
        if self._dense:
            return {s: self._offset + s - self._lo + 1 for s in seqs}
        return {s: self._offset + n for s, n in self.conn.execute(
            "SELECT seq, row_number() OVER (ORDER BY seq) FROM events") if s in seqs}

    def write_events(self, cp, offset: int) -> int:
        self._offset = offset
        targets = {json.loads(a).get("event") for (a,) in self.conn.execute(
            "SELECT action FROM events WHERE kind IN ('undo', 'redo')")}
        seqs = self._renumber({t for t in targets if isinstance(t, int)})
        seq = (f"seq + {offset - self._lo + 1}" if self._dense
               else f"row_number() OVER (ORDER BY seq) + {offset}")
        rows = self.conn.execute(
            f"SELECT {seq}, ?, ts, doc_id, unit, kind, action, nullif(before, 'null'), "
            "nullif(after, 'null'), seconds FROM events ORDER BY seq", (self.annotator,))
        write = cp.write_row
        for row in rows:
            if row[5] in _STEPS:
                row = (*row[:6], _remap(row[5], row[6], seqs), *row[7:])
            write(row)
        return self.n_events

    def write_undo_marks(self, cp) -> None:
        marks = self.conn.execute("SELECT seq, undone, undone_by FROM events "
                                  "WHERE undone != 0 ORDER BY seq").fetchall()
        seqs = self._renumber({s for s, _, _ in marks} | {b for _, _, b in marks if b})
        for s, un, by in marks:
            cp.write_row((seqs[s], self.annotator, un, seqs.get(by, by or 0)))

    def write_states(self, cp) -> None:
        # in the order of the states' key (annotator, doc_id, unit): SQLite's own
        write = cp.write_row
        for row in self.conn.execute(
                "SELECT ?, doc_id, unit, doc_key, status, state, unit_sha, updated_at, "
                "seconds, n_spans FROM units ORDER BY doc_id, unit", (self.annotator,)):
            write(row)

    def write_labels(self, cp, codes: dict[tuple[str, str], int]) -> None:
        """In the order of the label index's key (annotator, code, doc_key, unit), each
        code's rows made COPY text by SQLite (integers: nothing to escape)."""
        prefix = f"{_copy_text(self.annotator)}\t"
        mine = sorted((codes[(layer, label)], code) for code, layer, label in
                      self.conn.execute("SELECT code, layer, label FROM label_codes")
                      if (layer, label) in codes)
        for new, code in mine:
            (text,) = self.conn.execute(
                "SELECT group_concat(doc_key || char(9) || unit, ?) FROM "
                "(SELECT doc_key, unit FROM labels WHERE code = ? ORDER BY doc_key, unit)",
                (f"\n{prefix}{new}\t", code)).fetchone()
            if text:
                cp.write(f"{prefix}{new}\t{text}\n")


def _copy_text(value: str) -> str:
    """A value in COPY's text format."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _kind(store) -> str:
    return getattr(store, "kind", "sqlite")


# -- reading ---------------------------------------------------------------------------
def _corpus_rows(store) -> tuple[list[tuple], Iterator[tuple], list[tuple], list[tuple]]:
    """(documents, units (a stream), unit_history, sources) in neutral form."""
    conn = store.conn
    meta = "meta::text" if _kind(store) == "postgresql" else "meta"
    docs = [(k, i, t, m, src, sha, n, bool(h), iso(at)) for k, i, t, m, src, sha, n, h, at
            in conn.execute(f"SELECT key, id, title, {meta}, source, sha, n_units, has_title, "
                            "imported_at FROM documents ORDER BY key").fetchall()]
    if _kind(store) == "postgresql":  # streamed from the server, not all in memory
        units = conn.cursor(name="copy_units")
        units.itersize = 20000
        units.execute("SELECT doc, idx, text, sha FROM units ORDER BY doc, idx")
    else:
        units = conn.execute("SELECT doc, idx, text, sha FROM units ORDER BY doc, idx")
    order = "id" if _kind(store) == "postgresql" else "rowid"
    history = [(d, i, s, t, iso(at)) for d, i, s, t, at in conn.execute(
        f"SELECT doc, idx, sha, text, replaced_at FROM unit_history ORDER BY {order}"
    ).fetchall()]
    sources = [tuple(r) for r in conn.execute("SELECT path, fingerprint FROM sources")]
    return docs, units, history, sources


def _journal_rows(store, annotator: str) -> JournalRows:
    """A PostgreSQL journal's rows (a SQLite one is read as it is copied: _SQLiteJournal)."""
    rows = JournalRows(annotator)
    conn = store.conn
    ts = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    rows.events = conn.execute(
        f"SELECT e.seq, {ts.format('e.ts')}, e.doc_id, e.unit, e.kind, e.action::text, "
        "e.before::text, e.after::text, e.seconds, coalesce(m.undone, 0), m.undone_by "
        "FROM events e LEFT JOIN undo_marks m ON m.seq = e.seq WHERE e.annotator = %s "
        "ORDER BY e.seq", (annotator,)).fetchall()
    # states and labels in the order of the keys of the tables they go into
    rows.states = conn.execute(
        f"SELECT doc_id, unit, doc_key, status, state::text, unit_sha, "
        f"{ts.format('updated_at')}, seconds, n_spans FROM states WHERE annotator = %s "
        "ORDER BY doc_id COLLATE \"C\", unit", (annotator,)).fetchall()
    rows.labels = conn.execute(
        "SELECT code, doc_key, unit FROM labels WHERE annotator = %s "
        "ORDER BY code, doc_key, unit", (annotator,)).fetchall()
    rows.codes = conn.execute(
        "SELECT code, layer, label FROM label_codes c WHERE EXISTS (SELECT 1 FROM labels l "
        "WHERE l.annotator = %s AND l.code = c.code) ORDER BY code", (annotator,)).fetchall()
    rows.position = store.journal(annotator).position()
    return rows


# -- writing ---------------------------------------------------------------------------
def _check_empty(store) -> None:
    if store.document_count() or store.annotators() and any(
            store.journal(a).done_count() or store.journal(a).events(1)
            for a in store.annotators()):
        raise StoreError("the target store is not empty: `db copy` copies into an empty "
                         "store only (nothing was written)", store.path)


def _remap(kind: str, action: str, seqs: dict[int, int]) -> str:
    """An undo's or redo's action names its target by seq: renumbered with it."""
    if kind not in ("undo", "redo"):
        return action
    act = json.loads(action)
    if "event" in act:
        act["event"] = seqs.get(act["event"], act["event"])
    return json.dumps(act, ensure_ascii=False)


def _null(value: str | None) -> str | None:
    return None if value is None or value == "null" else value


# Loaded into empty tables, these are indexed once at the end rather than row by row.
_BULK_TABLES = ("units", "events", "undo_marks", "states", "labels")


def _drop_indexes(conn, tables: tuple[str, ...]) -> list[str]:
    """Drop the keys, unique constraints and indexes of `tables` (in this transaction)
    and return the statements that build them again, as the schema defines them."""
    names = [f"annotator.{t}" for t in tables]
    cons = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u')",
        (names,)).fetchall()
    owned = conn.execute(
        "SELECT conindid FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) "
        "AND contype IN ('p', 'u')", (names,)).fetchall()
    idx = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT (i.indexrelid = ANY(%s::oid[]))",
        (names, [o for (o,) in owned])).fetchall()
    for name, _ in idx:
        conn.execute(f"DROP INDEX {name}")
    for table, con, _ in cons:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{con}"')
    return ([f'ALTER TABLE {table} ADD CONSTRAINT "{con}" {d}' for table, con, d in cons]
            + [d for _, d in idx])


def _write_postgres(dst, docs, units, history, sources, journals: list,
                    tick: Callable[[int], None]) -> None:
    conn = dst.conn
    with conn.transaction():
        cur = conn.cursor()

        rebuild = _drop_indexes(conn, _BULK_TABLES)
        # Emptied in this transaction (they were empty: checked above), so COPY may
        # write the rows frozen: no visibility check per row for the key builds below
        # nor for the first readers after, no later pass of VACUUM to freeze them.
        # (A REPEATABLE READ transaction begun before the copy's commit then sees the
        # rows; TRUNCATE's lock holds it until the commit.)
        if conn.execute("SELECT " + " OR ".join(
                f"EXISTS (SELECT 1 FROM {t})" for t in _BULK_TABLES)).fetchone()[0]:
            raise StoreError("the target store is not empty: `db copy` copies into an "
                             "empty store only (nothing was written)", dst.path)
        conn.execute(f"TRUNCATE {', '.join(_BULK_TABLES)}")
        # the keys are built once each at the end: give those sorts memory (this
        # transaction only)
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        with cur.copy("COPY documents (key, id, title, meta, source, sha, n_units, has_title, "
                      "imported_at) FROM STDIN") as cp:
            for row in docs:
                cp.write_row(row)
        tick(len(docs))
        with cur.copy("COPY units (doc, idx, text, sha) FROM STDIN (FREEZE)") as cp:
            write = cp.write_row
            for n, row in enumerate(units, start=1):
                write(row)
                if n % 50000 == 0:
                    tick(50000)
        with cur.copy("COPY unit_history (doc, idx, sha, text, replaced_at) FROM STDIN") as cp:
            for row in history:
                cp.write_row(row)
        with cur.copy("COPY sources (path, fingerprint) FROM STDIN") as cp:
            for row in sources:
                cp.write_row(row)
        conn.execute("INSERT INTO totals SELECT 'units', coalesce(sum(n_units), 0) FROM "
                     "documents ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        # The load takes the source's chain as it is (see the module's docstring).
        conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        pairs = sorted(set().union(*(jr.label_pairs() for jr in journals)))
        with cur.copy("COPY label_codes (layer, label) FROM STDIN") as cp:
            for pair in pairs:
                cp.write_row(pair)
        codes = {(layer, label): code for code, layer, label in conn.execute(
            "SELECT code, layer, label FROM label_codes")}
        # journals in the order the server sorts their names: each table's rows then
        # arrive in the order of its keys (annotator first)
        order = [n for (n,) in conn.execute("SELECT n FROM unnest(%s::text[]) n ORDER BY n",
                                            ([jr.annotator for jr in journals],))]
        journals = sorted(journals, key=lambda jr: order.index(jr.annotator))
        (offset,) = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
        for jr in journals:
            conn.execute("INSERT INTO members (name) VALUES (%s) ON CONFLICT DO NOTHING",
                         (jr.annotator,))
            with cur.copy("COPY events (seq, annotator, ts, doc_id, unit, kind, action, "
                          "before, after, seconds) FROM STDIN (FREEZE)") as cp:
                n_events = jr.write_events(cp, offset)
            with cur.copy("COPY undo_marks (seq, annotator, undone, undone_by) "
                          "FROM STDIN (FREEZE)") as cp:
                jr.write_undo_marks(cp)
            offset += n_events
            with cur.copy("COPY states (annotator, doc_id, unit, doc_key, status, state, "
                          "unit_sha, updated_at, seconds, n_spans) FROM STDIN (FREEZE)") as cp:
                jr.write_states(cp)
            with cur.copy("COPY labels (annotator, code, doc_key, unit) FROM STDIN (FREEZE)") as cp:
                jr.write_labels(cp, codes)
            if jr.position:
                conn.execute("INSERT INTO positions VALUES (%s, %s, %s)",
                             (jr.annotator, *jr.position))
            tick(jr.size)
        conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
        for statement in rebuild:  # the keys check the loaded rows as they are built
            conn.execute(statement)
        conn.execute("SELECT setval(pg_get_serial_sequence('annotator.events', 'seq'), "
                     "greatest(%s, 1))", (offset,))


def _write_sqlite(dst, docs, units, history, sources, journals: list[JournalRows],
                  tick: Callable[[int], None]) -> None:
    conn = dst.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
                         [(k, i, t, m, src, sha, n, int(h), at)
                          for k, i, t, m, src, sha, n, h, at in docs])
        tick(len(docs))
        batch = []
        for row in units:
            batch.append(tuple(row))
            if len(batch) >= 50000:
                conn.executemany("INSERT INTO units VALUES (?,?,?,?)", batch)
                tick(len(batch))
                batch.clear()
        conn.executemany("INSERT INTO units VALUES (?,?,?,?)", batch)
        conn.executemany("INSERT INTO unit_history VALUES (?,?,?,?,?)", history)
        conn.executemany("INSERT OR REPLACE INTO sources VALUES (?,?)", sources)
        conn.execute("INSERT OR REPLACE INTO totals SELECT 'units', coalesce(sum(n_units), 0) "
                     "FROM documents")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    for jr in journals:
        j = dst.journal(jr.annotator)
        seqs = {e[0]: i for i, e in enumerate(jr.events, start=1)}
        with j._transaction() as jc:
            # the indexes of the empty journal built once after the load, not row by row
            indexes = jc.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            ).fetchall()
            for name, _ in indexes:
                jc.execute(f'DROP INDEX "{name}"')
            jc.executemany(
                "INSERT INTO events (seq, ts, doc_id, unit, kind, action, before, after, "
                "seconds, undone, undone_by) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                ((seqs[s], ts, d, u, k, _remap(k, a, seqs), _null(b),
                  "null" if af is None else af, sec, un, seqs.get(by) if by else None)
                 for s, ts, d, u, k, a, b, af, sec, un, by in jr.events))
            jc.executemany(
                "INSERT INTO units (doc_id, unit, doc_key, status, state, unit_sha, "
                "updated_at, seconds, n_spans) VALUES (?,?,?,?,?,?,?,?,?)", jr.states)
            partial, decided = _decided(jr.states)
            jc.executemany("INSERT INTO partial_units VALUES (?,?)", partial)
            jc.executemany("INSERT OR IGNORE INTO decided_layers VALUES (?,?,?)", decided)
            # the server's codes kept: the labels go in as they come, in the key's order
            jc.executemany("INSERT INTO label_codes (code, layer, label) VALUES (?,?,?)",
                           jr.codes)
            jc.executemany("INSERT INTO labels VALUES (?,?,?)", jr.labels)
            if jr.position:
                jc.execute("INSERT OR REPLACE INTO meta VALUES ('position', ?)",
                           (json.dumps(list(jr.position)),))
            for _, sql in indexes:
                jc.execute(sql)
        tick(len(jr.events) + len(jr.states))


def _decided(states: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """The SQLite journal's record of which layers each unit decided (`partial_units`,
    `decided_layers`; PostgreSQL reads them from the states): the rule of
    `SQLiteJournal._write_decided`."""
    partial, decided = [], []
    for _, unit, key, _, state, *_ in states:
        if '"decided"' in state:
            layers = json.loads(state).get("decided")
            if layers is not None:
                partial.append((key, unit))
                decided.extend((layer, key, unit) for layer in layers)
    return partial, decided


def copy_store(src, dst, progress: Progress | None = None) -> dict[str, int]:
    """Copy everything from `src` to the empty `dst` (either backend). Returns counts."""
    _check_empty(dst)
    journals_src = src.reading_journals()  # blind and unreadable journals: an error
    total = src.unit_count() + src.document_count()
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], None)

    writer = _write_postgres if _kind(dst) == "postgresql" else _write_sqlite
    try:
        # One snapshot of the source: annotators may go on working meanwhile.
        with src.snapshot(journals_src):
            if _kind(src) == "sqlite" and _kind(dst) == "postgresql":
                journals: list = [_SQLiteJournal(j) for j in journals_src]
            else:
                journals = [_journal_rows(src, j.annotator) for j in journals_src]
            total += sum(jr.size for jr in journals)
            if progress:
                progress(0, total)
            docs, units, history, sources = _corpus_rows(src)
            writer(dst, docs, units, history, sources, journals, tick)
    except Exception as exc:
        if isinstance(exc, StoreError):
            raise
        import sqlite3

        try:
            import psycopg
            db_errors: tuple = (sqlite3.Error, psycopg.Error)
        except ImportError:
            db_errors = (sqlite3.Error,)
        if isinstance(exc, db_errors):
            raise StoreError(f"the copy failed ({str(exc).splitlines()[0]}): nothing was "
                             "written to the target", dst.path) from None
        raise
    return {"documents": len(docs), "units": src.unit_count(),
            "events": sum(jr.n_events if isinstance(jr, _SQLiteJournal) else len(jr.events)
                          for jr in journals), "annotators": len(journals)}
