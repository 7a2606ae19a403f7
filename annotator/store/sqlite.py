"""The embedded SQLite store under a project's `.annotator/`.

- `corpus.db`: documents and units, written by import only.
- `journals/<annotator>.db`: one per annotator (WAL). An append-only `events` table
  is the truth; `units` (the current state per unit) and `labels` (paragraph labels,
  one row each, for the agreement fast path) are derived from it in the same
  transaction. Annotators never block each other, and each journal is a file its
  annotator can own.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import json
import os
import re
import socket
import sqlite3
import stat
import struct
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from annotator.actions import apply_action, checked_state
from annotator.corpus import Document, unit_hash
from annotator.errors import InputError, StoreError
from annotator.jsoncodec import compact, loads
from annotator.schema import LabelSchema
from annotator.store import files
from annotator.store.base import GOLD, Change, DocInfo, ImportStats, Progress, Unit
from annotator.store.sql import JournalMeta, SQLCorpusReads, fresh_templates

CORPUS_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT,
    meta TEXT NOT NULL,
    source TEXT NOT NULL,
    sha TEXT NOT NULL,
    n_units INTEGER NOT NULL,
    has_title INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS units (
    doc INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    sha TEXT NOT NULL,
    PRIMARY KEY (doc, idx)
) WITHOUT ROWID;
-- Texts replaced by a re-import, so annotations made on them can still be shown.
CREATE TABLE IF NOT EXISTS unit_history (
    doc INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    sha TEXT NOT NULL,
    text TEXT NOT NULL,
    replaced_at TEXT NOT NULL
);
-- Totals kept at import, so opening a 1,000,000-unit store does not scan to count.
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
-- Who annotates which document (annotator/team/assign.py). Here, in the lead's file,
-- so that no annotator can change it; rows are only ever added.
CREATE TABLE IF NOT EXISTS assignments (
    doc_key INTEGER NOT NULL,
    annotator TEXT NOT NULL,
    calibration INTEGER NOT NULL DEFAULT 0,
    assigned_at TEXT NOT NULL,
    -- by annotator first: the screen asks for one annotator's documents
    PRIMARY KEY (annotator, doc_key)
) WITHOUT ROWID;
"""

JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    unit INTEGER NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL,
    seconds REAL NOT NULL DEFAULT 0,
    -- 0 active, 1 undone (redo-able), 2 undone and overtaken by a new action
    undone INTEGER NOT NULL DEFAULT 0,
    undone_by INTEGER
);
CREATE INDEX IF NOT EXISTS events_undo ON events (undone, seq);
CREATE TABLE IF NOT EXISTS units (
    doc_id TEXT NOT NULL,
    unit INTEGER NOT NULL,
    doc_key INTEGER NOT NULL,
    status TEXT,
    state TEXT NOT NULL,
    unit_sha TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    seconds REAL NOT NULL DEFAULT 0,
    n_spans INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (doc_id, unit)
) WITHOUT ROWID;
-- covering index: the agreement fast path reads done units, and finds those with
-- spans, without touching the states of the others
CREATE INDEX IF NOT EXISTS units_done ON units (status, n_spans, doc_key, unit);
-- Paragraph labels, one row each, by integer code: narrow rows keep the agreement
-- scan of millions of labels fast.
CREATE TABLE IF NOT EXISTS label_codes (
    code INTEGER PRIMARY KEY,
    layer TEXT NOT NULL,
    label TEXT NOT NULL,
    UNIQUE (layer, label)
);
CREATE TABLE IF NOT EXISTS labels (
    code INTEGER NOT NULL,
    doc_key INTEGER NOT NULL,
    unit INTEGER NOT NULL,
    PRIMARY KEY (code, doc_key, unit)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_unit ON labels (doc_key, unit);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Units whose state tracks which paragraph layers were decided (actions.py "decided"),
-- and those layers: a done unit listed here is rated only on its decided layers; one
-- not listed, on every layer (enter, or a journal from before layers were tracked).
CREATE TABLE IF NOT EXISTS partial_units (
    doc_key INTEGER NOT NULL,
    unit INTEGER NOT NULL,
    PRIMARY KEY (doc_key, unit)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decided_layers (
    layer TEXT NOT NULL,
    doc_key INTEGER NOT NULL,
    unit INTEGER NOT NULL,
    PRIMARY KEY (layer, doc_key, unit)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decided_unit ON decided_layers (doc_key, unit);
"""

if TYPE_CHECKING:
    import numpy as np

    from annotator.team.roles import Team

# \Z, not $: "$" also matches before a final newline, and "eve\n" is no file name
ANNOTATOR_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")

# Stored states and metadata, read through msgspec (annotator/jsoncodec.py): export and
# agreement decode one per unit.
_read_json = loads


def check_annotator_name(name: str) -> None:
    """Journal files are named after annotators: refuse a name that is no file name."""
    if not ANNOTATOR_NAME.match(name):
        raise InputError(f"invalid annotator name {name!r}: use letters, digits, '.', '_' "
                         "or '-' (at most 64 characters)")


def _int_array(csv: str | None) -> np.ndarray:
    import numpy as np  # here, not at start-up: only the agreement fast path needs it

    # np.fromstring parses a comma-separated string in C: ~10x faster than split().
    if not csv:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(csv, dtype=np.int64, sep=",")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


SQLITE_MAGIC = b"SQLite format 3\x00"
NOT_SAVED = "this action was NOT saved (every earlier one is)"


def check_database_file(path: Path) -> str | None:
    """What is wrong with the file's SQLite header, if anything: a cheap test at open
    that catches a file overwritten or cut short (SQLite itself may not notice a
    truncation until it reads a missing page)."""
    # The WAL's size first. A checkpoint in another process copies the WAL's pages into
    # the file in page order, page 1 (which holds the new size) before the pages that
    # extend the file: while one runs, the file is short of its header by at most what
    # the WAL holds. Once the WAL is gone, the file is whole.
    try:
        wal = os.lstat(f"{path}-wal").st_size
    except (FileNotFoundError, PermissionError):
        wal = 0
    try:
        # Non-blocking, no symlink: a FIFO planted at the name does not hang us.
        with files.open_checked(path, single_link=False) as fd:
            header = os.pread(fd, 100, 0)
            size = os.fstat(fd).st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None  # a new database
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return "not an SQLite database (overwritten or cut short)"
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return "its header is damaged"
    if size % page_size:
        return f"it is cut short ({size:,} bytes is not a whole number of {page_size}-byte pages)"
    change, pages, valid_for = struct.unpack(">I", header[24:28]), \
        struct.unpack(">I", header[28:32]), struct.unpack(">I", header[92:96])
    if change == valid_for and pages[0] * page_size > size + wal:
        return (f"it is cut short ({size:,} bytes; its header says "
                f"{pages[0] * page_size:,})")
    return None


def _damaged(path: Path, why: object) -> StoreError:
    return StoreError(
        f"this store file is damaged ({why}). It was left exactly as it is and no other "
        "file was touched; restore it from a backup, or move it aside to start afresh "
        "(`annotator status --check` tests every journal)", path)


@contextlib.contextmanager
def _store_errors(path: Path, lost: str = "") -> Iterator[None]:
    """SQLite errors in the block become a StoreError naming `path` (`_store_error`)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise _store_error(path, exc, lost) from None


def _guarded(method):
    """SQLite errors while reading become a StoreError naming the file (`self.path`).
    Written out, not `_store_errors`: every read passes here."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise _store_error(self.path, exc) from None
        return generator

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None
    return wrapper


# JSON without the spaces after separators: the bulk merge writes it a million times
COMPACT = {"ensure_ascii": False, "separators": (",", ":")}


def _take(it: Iterator, n: int) -> Iterator:
    """The next `n` items of `it` (fewer at its end)."""
    for _, item in zip(range(n), it, strict=False):
        yield item


# Rows a bulk write holds before it hands them to SQLite (in the same transaction): an
# import of 1,000,000 states in one transaction held every row, 2.6 GB at its peak.
FLUSH_ROWS = 20_000


def _connect(path: Path, readonly: bool = False, wal: bool = True) -> sqlite3.Connection:
    # Autocommit mode: every write below opens its own BEGIN IMMEDIATE ... COMMIT.
    # The path was checked (owner, type, no symlink) before: open it as it is named,
    # never resolved through a link.
    if readonly:
        # Another annotator's journal (or a corpus that is the lead's): read it, never
        # write it (not even a re-key). Read-only, SQLite creates no file beside it.
        conn = sqlite3.connect(f"{Path(os.path.abspath(path)).as_uri()}?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=False, timeout=60)
        conn.execute("PRAGMA busy_timeout=60000")
        return conn
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    # First: the pragmas below may wait for another process's lock (a long import).
    conn.execute("PRAGMA busy_timeout=60000")
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed action survives power loss, not only a killed process.
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _random_bits62() -> int:
    """62 bits from the OS's CSPRNG, as secrets.randbits(62) (which reads os.urandom
    too); without importing secrets (and hmac) at every start-up."""
    return int.from_bytes(os.urandom(8), "big") >> 2


def _create_tables(conn: sqlite3.Connection, script: str) -> None:
    """A database's tables and indexes (if not there yet) in one transaction: with
    synchronous=FULL each statement on its own was a commit and a disk flush, some
    thirty of them at a new project's first launch. Deferred: on a database that has
    them, nothing is written and no lock is taken."""
    try:
        conn.executescript(f"BEGIN;\n{script}\nCOMMIT;")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


class SQLiteStore(SQLCorpusReads):
    """Corpus plus journals under `root` (a project's `.annotator/` directory).

    Each annotator's journal is `journals/NAME/journal.db`, in a directory of its own
    that only its annotator can write: nobody else can create, replace, lock or plant
    side files (`-journal`, `-wal`, `-shm`) beside it, and a reader can leave none.

    `blind`: each journal is readable by its annotator (and the curators' group, in a
    team project) only; otherwise by the project's group too. `team`: the project's
    `team:` section (see `annotator.team`): then the lead owns `.annotator/` and
    `corpus.db` (checked before either is trusted), only the lead imports, and names
    are the team's. Without one, a shared project (its directory setgid or
    group-writable) keeps the older set-up: the store's directories and corpus are
    group-usable and `journals/` sticky."""

    _guard = staticmethod(_guarded)  # SQLCorpusReads' reads

    def __init__(self, root: Path, blind: bool = True, team: Team | None = None,
                 project_root: Path | None = None):
        self.root = Path(root)
        self.blind = blind
        self.team = team
        self._project_root = project_root
        self.me = os.geteuid()
        self.notices: list[str] = []  # entries of journals/ skipped, for status and export
        self._journals: dict[str, SQLiteJournal] = {}
        corpus = self.path = self.root / "corpus.db"
        if team is not None:
            self._open_team(Path(project_root or self.root.parent))
        else:
            self._open_single()
        problem = check_database_file(corpus)
        if problem:
            raise _damaged(corpus, problem)
        with _store_errors(corpus):
            self.conn = _connect(corpus, readonly=self.corpus_readonly,
                                 wal=team is None)
            if self.corpus_readonly:
                self.conn.execute("SELECT count(*) FROM documents").fetchone()
            else:
                if team is not None:
                    # Rollback mode: readers who may not write here need no -shm of theirs.
                    self.conn.execute("PRAGMA journal_mode=DELETE")
                # With its id, in the same transaction: this corpus database's
                # identity; journals key units by its document keys and re-key
                # themselves when they meet a different (e.g. rebuilt) one.
                _create_tables(self.conn, f"{CORPUS_SCHEMA}\nINSERT OR IGNORE INTO totals "
                               f"VALUES ('corpus_id', {_random_bits62()});")
        # SQLite's lower() folds ASCII only; search must find "Österreich" too.
        self.conn.create_function("fold", 1, str.casefold, deterministic=True)
        row = self.conn.execute("SELECT value FROM totals WHERE name = 'corpus_id'").fetchone()
        self.corpus_id = row[0] if row else 0

    def _open_single(self) -> None:
        fresh = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        parent = self.root.parent.stat()
        self.shared = bool(parent.st_mode & (stat.S_ISGID | stat.S_IWGRP))
        self.corpus_readonly = False
        self.lead = None
        journals = self.root / "journals"
        if not journals.exists():
            journals.mkdir()
            if self.shared:
                os.chmod(journals, 0o3770)  # setgid: the project's group; sticky
        if fresh and self.shared:
            os.chmod(self.root, 0o2770)
        if self.shared and not self.path.exists():
            # SQLite gives the -wal and -shm files the database's mode: every member
            # must be able to write the -shm to read the corpus.
            _create(self.path, 0o660)
        self.project_gid = parent.st_gid
        self.journals_gid = parent.st_gid

    def _open_team(self, project_root: Path) -> None:
        team = self.team
        assert team is not None
        self.shared = True
        lead = self.lead = team.lead_uid()
        if lead is None:
            raise InputError(f"team: lead {team.lead!r} is no login on this machine",
                             project_root / "annotator.yaml")
        self.is_lead = self.me == lead
        self.corpus_readonly = not self.is_lead
        self.project_gid = os.stat(project_root).st_gid
        if not self.root.exists():
            if not self.is_lead:
                raise InputError(f"no documents imported here yet: the lead ({team.lead}) "
                                 "runs `annotator team init` and `annotator import`",
                                 project_root)
            self.root.mkdir(mode=0o750)
        files.check_lead_owned(self.root, project_root, lead, kind="dir")
        journals = self.root / "journals"
        if not os.path.lexists(journals) and self.is_lead:
            journals.mkdir(mode=0o750)
            os.chmod(journals, 0o3730)  # members create their own directory, list nothing
        try:
            with files.open_checked(journals, owner=lead, kind="dir", flags=os.O_RDONLY
                                    if os.access(journals, os.R_OK) else os.O_PATH) as fd:
                st = os.fstat(fd)
        except FileNotFoundError:
            raise InputError(f"the lead ({team.lead}) has not set this project up: "
                             "`annotator team init --group GROUP`", journals) from None
        if files.writable_by_others(st) and not st.st_mode & stat.S_ISVTX:
            raise files.Unsafe("is writable by others but not sticky: anyone could move "
                               "journals aside; the lead runs `annotator team init`", journals)
        self.journals_gid = st.st_gid
        if self.path.exists() or not self.is_lead:
            if not self.path.exists():
                raise InputError(f"no documents imported here yet: the lead ({team.lead}) "
                                 "runs `annotator import`", self.path)
            files.check_lead_owned(self.path, project_root, lead)
            with files.open_checked(self.path, owner=lead):
                pass  # one link only: not a hard link to a file someone else can write
        else:
            files.create_exclusive(self.path, 0o640)

    def reopen(self) -> SQLiteStore:
        """The same store on connections of its own: for a reader in another thread
        (adjudicate reads the whole corpus's versions while the screen is in use)."""
        return SQLiteStore(self.root, blind=self.blind, team=self.team,
                           project_root=self._project_root)

    @contextlib.contextmanager
    def snapshot(self, journals: list[SQLiteJournal]) -> Iterator[None]:
        """Read the corpus and these journals as of one moment: annotators (and an
        import) may go on writing meanwhile (WAL readers are never blocked) without a
        reader seeing half of it."""
        conns = [(self.path, self.conn), *((j.path, j.conn) for j in journals)]
        started = []
        try:
            for path, conn in conns:
                with _store_errors(path):
                    conn.execute("BEGIN")
                    started.append(conn)
                    conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")  # the snapshot starts
            yield
        finally:
            for conn in started:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("COMMIT")

    # -- corpus -------------------------------------------------------------------
    def import_documents(self, docs: Iterable[Document], progress: Progress | None = None,
                         sources: dict[str, str] | None = None) -> ImportStats:
        """Import in one transaction: any error (e.g. a bad JSONL line) rolls back all."""
        if self.corpus_readonly:
            assert self.team is not None
            raise StoreError(f"only the lead ({self.team.lead}) imports in this team project "
                             "(corpus.db is theirs); ask them to run `annotator import`",
                             self.path)
        stats = ImportStats()
        changed_units: list[tuple[str, int]] = []
        conn = self.conn
        ts = now_iso()
        batch: list[tuple[int, int, str, str]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            next_key = (conn.execute("SELECT max(key) FROM documents").fetchone()[0] or 0) + 1
            empty = next_key == 1
            doc_rows: list[tuple] = []
            seen: dict[str, str] = {}  # id -> source, for ids given twice in one import
            for n, doc in enumerate(docs, start=1):
                if doc.id in seen:
                    raise InputError(f"document id {doc.id!r} is given twice: in {seen[doc.id]} "
                                     f"and in {doc.source}", doc.source)
                seen[doc.id] = doc.source
                units = doc.units()
                hashes = [unit_hash(t) for _, t in units]
                sha = doc.content_hash(hashes)
                row = None if empty else conn.execute(
                    "SELECT key, sha FROM documents WHERE id = ?", (doc.id,)).fetchone()
                meta = json.dumps(doc.meta, ensure_ascii=False)
                if row is None:
                    key = next_key
                    next_key += 1
                    doc_rows.append((key, doc.id, doc.title, meta, doc.source, sha, len(units),
                                     int(doc.title is not None), ts))
                    batch.extend((key, i, t, h) for (i, t), h in zip(units, hashes, strict=True))
                    stats.new += 1
                elif row[1] == sha:
                    stats.unchanged += 1
                    continue
                else:
                    key = row[0]
                    old = {i: (t, s) for i, t, s in conn.execute(
                        "SELECT idx, text, sha FROM units WHERE doc = ?", (key,))}
                    new = {i: t for i, t in units}
                    for i, (text, usha) in old.items():
                        if new.get(i) != text:
                            conn.execute("INSERT INTO unit_history VALUES (?,?,?,?,?)",
                                         (key, i, usha, text, ts))
                            changed_units.append((doc.id, i))
                    conn.execute("DELETE FROM units WHERE doc = ?", (key,))
                    conn.execute(
                        "UPDATE documents SET title=?, meta=?, source=?, sha=?, n_units=?, "
                        "has_title=?, imported_at=? WHERE key=?",
                        (doc.title, meta, doc.source, sha, len(units),
                         int(doc.title is not None), ts, key))
                    batch.extend((key, i, t, h) for (i, t), h in zip(units, hashes, strict=True))
                    stats.changed += 1
                stats.units += len(units)
                if len(batch) >= 20000:
                    self._flush(doc_rows, batch)
                if progress is not None and n % 500 == 0:
                    progress(n, None)
            self._flush(doc_rows, batch)
            conn.execute("INSERT OR REPLACE INTO totals SELECT 'units', coalesce(sum(n_units), 0) "
                         "FROM documents")
            for path, fp in (sources or {}).items():
                conn.execute("INSERT OR REPLACE INTO sources VALUES (?, ?)", (path, fp))
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _store_error(self.path, exc, "nothing was imported") from None
            raise
        if changed_units:
            stats.stale = self._annotated(changed_units)
        return stats

    def _flush(self, doc_rows: list[tuple], unit_rows: list[tuple]) -> None:
        self.conn.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)", doc_rows)
        self.conn.executemany("INSERT INTO units VALUES (?,?,?,?)", unit_rows)
        doc_rows.clear()
        unit_rows.clear()

    def _annotated(self, units: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
        out = []
        # A private or damaged journal is passed over: its annotations are kept all the same.
        for j in self.readable_journals()[0]:
            for doc_id, idx in units:
                if j.state(doc_id, idx) is not None:
                    out.append((doc_id, idx, j.annotator))
        return out

    @_guarded
    def unit_count(self) -> int:
        row = self.conn.execute("SELECT value FROM totals WHERE name = 'units'").fetchone()
        if row is not None:
            return row[0]
        return self.conn.execute("SELECT coalesce(sum(n_units), 0) FROM documents").fetchone()[0]

    @staticmethod
    def _doc(row: tuple) -> DocInfo:
        key, doc_id, title, meta, source, n_units, has_title = row
        return DocInfo(key, doc_id, title, _read_json(meta), n_units, bool(has_title), source)


    @_guarded
    def documents_with_prefix(self, prefix: str, limit: int = 20) -> list[DocInfo]:
        """Documents whose id starts with `prefix`, by id (at most `limit`): a range of
        the id index (SQLite compares text by code point, as this bound does)."""
        if not prefix:
            return []
        upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
        rows = self.conn.execute(
            f"SELECT {self._DOC_COLS} FROM documents WHERE id >= ? AND id < ? "
            "ORDER BY id LIMIT ?", (prefix, upper, limit)).fetchall()
        return [self._doc(row) for row in rows if row[1].startswith(prefix)]

    @_guarded
    def iter_documents(self, keys: tuple[int, int] | None = None) -> Iterator[DocInfo]:
        """Documents in import order; `keys`: only those whose key is in [first, last]
        (an export split over processes reads a range each)."""
        if keys is None:
            cur = self.conn.execute(f"SELECT {self._DOC_COLS} FROM documents ORDER BY key")
        else:
            cur = self.conn.execute(f"SELECT {self._DOC_COLS} FROM documents WHERE key "
                                    "BETWEEN ? AND ? ORDER BY key", keys)
        for row in cur:
            yield self._doc(row)

    @_guarded
    def snapshot_mark(self, journals: list[SQLiteJournal]) -> tuple:
        """What the corpus and these journals hold, in a few numbers: equal in two
        snapshots when nothing was written between them (every write adds an event or
        changes a document's import time or the unit history). Call inside
        `snapshot`."""
        conn = self.conn
        mark: list = [*conn.execute("SELECT count(*), max(imported_at), sum(n_units) "
                                    "FROM documents").fetchone(),
                      conn.execute("SELECT count(*) FROM unit_history").fetchone()[0]]
        for j in journals:
            mark += [j.annotator, *j.conn.execute(
                "SELECT max(seq), count(*), max(ts) FROM events").fetchone(),
                j.conn.execute("SELECT count(*) FROM units").fetchone()[0]]
        return tuple(mark)
    # -- assignments (annotator/team/assign.py) ------------------------------------
    def add_assignments(self, plan: Callable[[list[int], list[tuple[int, str, bool]]],
                                             list[tuple[int, str, bool]]]) -> int:
        """Add the rows `plan(document keys, existing rows)` returns, in one transaction
        that also holds the reads it planned from: nothing is half-written, and a
        concurrent run or import waits. Returns the number of rows added."""
        with _store_errors(self.path, "nothing was assigned"), self.conn as conn:
            # the connection as a context: COMMIT on success, ROLLBACK on any error
            conn.execute("BEGIN IMMEDIATE")
            keys = [k for (k,) in conn.execute("SELECT key FROM documents ORDER BY key")]
            existing = [(d, a, bool(c)) for d, a, c in conn.execute(
                "SELECT doc_key, annotator, calibration FROM assignments")]
            rows = plan(keys, existing)
            ts = now_iso()
            # plain INSERT: a row that exists already is a bug, never silently replaced.
            # In key order: appending to the B-tree is ~2x faster than scattered inserts.
            conn.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?)",
                             ((d, a, int(c), ts) for a, d, c in sorted(
                                 (a, d, c) for d, a, c in rows)))
        return len(rows)

    # -- journals -----------------------------------------------------------------
    def journal_dir(self, annotator: str) -> Path:
        return self.root / "journals" / annotator

    def annotators(self) -> list[str]:
        """Annotators with a journal (the gold journal is not an annotator's: see
        `has_journal`). In a team project: the team's names whose directory exists;
        nothing else in `journals/` counts (`team status` reports it). Otherwise what
        `journals/` holds; entries that are no journal are noted in `self.notices` and
        skipped."""
        journals = self.root / "journals"
        if self.team is not None:
            return [n for n in self.team.annotators
                    if n != GOLD and os.path.lexists(journals / n)]
        names: set[str] = set()
        try:
            entries = sorted(os.scandir(journals), key=lambda e: e.name)
        except FileNotFoundError:
            return []
        except PermissionError:
            return []
        self.notices = []
        for e in entries:
            name = e.name
            legacy = name.endswith(".db")
            if legacy:
                name = name[:-3]
            elif name.endswith((".lock", "-wal", "-shm", "-journal")) or name.startswith("."):
                continue
            shown = safe_name(e.name)
            if not ANNOTATOR_NAME.match(name):
                self.notices.append(f"{journals}/{shown}: not a valid annotator name; skipped")
                continue
            if e.is_symlink():
                self.notices.append(f"{journals}/{shown}: a symbolic link; skipped (never "
                                    "followed)")
                continue
            if legacy and not e.is_file(follow_symlinks=False):
                self.notices.append(f"{journals}/{shown}: not a regular file; skipped")
                continue
            if not legacy and not e.is_dir(follow_symlinks=False):
                continue
            names.add(name)
        names.discard(GOLD)
        return sorted(names)

    def has_journal(self, name: str) -> bool:
        """Whether a journal of this name exists (without creating it)."""
        check_annotator_name(name)
        journals = self.root / "journals"
        return name in self._journals or os.path.lexists(journals / name) or \
            os.path.lexists(journals / f"{name}.db")

    def journal(self, annotator: str, schema: LabelSchema | None = None) -> SQLiteJournal:
        """The annotator's journal: created if it is ours to write and new; another
        user's journal is opened read-only, after its owner and type are checked."""
        check_annotator_name(annotator)
        j = self._journals.get(annotator)
        if j is None:
            j = SQLiteJournal(self, annotator, schema)
            self._journals[annotator] = j
        elif schema is not None:
            j.schema = schema
        return j

    def readable_journals(self) -> tuple[list[SQLiteJournal], list[str],
                                         dict[str, StoreError | OSError]]:
        """Every annotator's journal this user may read, opened: (the journals, names of
        those kept private (blind annotation), {name: why it could not be opened} for
        those that could not (damaged, or not what a journal should be))."""
        out, private, failed = [], [], {}
        for name in self.annotators():
            try:
                out.append(self.journal(name))
            except Private:
                private.append(name)
            except (StoreError, OSError) as exc:
                failed[name] = exc
        return out, private, failed

    def reading_journals(self) -> list[SQLiteJournal]:
        """Every journal, for export and agreement: a damaged or private one is an error
        (a result silently missing an annotator would be wrong)."""
        journals, private, failed = self.readable_journals()
        if failed:
            raise next(iter(failed.values()))
        if private:
            raise StoreError(
                f"cannot read the journal(s) of {', '.join(private)}: annotation is blind, "
                "so each journal is readable by its annotator only. Set `blind: false` in "
                "annotator.yaml once the round is over; each annotator's next `annotator "
                "status` (or session) then shares their journal with the project's group",
                self.root / "journals")
        from annotator.team.roles import GOLD

        return [j for j in journals if j.annotator != GOLD]

    def close(self) -> None:
        for j in self._journals.values():
            j.close()
        self._journals.clear()
        self.conn.close()


class Private(StoreError):
    """A journal this user may not read (blind annotation): listed, not an error."""


def safe_name(name: str) -> str:
    from annotator.textclean import safe_inline

    return safe_inline(name)


class SQLiteJournal(JournalMeta):
    """One annotator's events and the state derived from them, in
    `journals/NAME/journal.db`: a directory its annotator made and alone can write."""

    def __init__(self, store: SQLiteStore, annotator: str, schema: LabelSchema | None):
        self.store = store
        self.annotator = annotator
        self.schema = schema
        self.dir = store.journal_dir(annotator)
        self.path = self.dir / "journal.db"
        self._lock_fd: int | None = None
        self._keys: dict[str, int] = {}
        self._codes: dict[tuple[str, str], int] = {}
        self.readonly = not self._ours()
        if self.readonly:
            self._check_theirs()
        else:
            self._make_ours()
        problem = check_database_file(self.path)
        if problem:
            raise _damaged(self.path, problem)
        with _store_errors(self.path):
            # WAL at once for a single user's own journal (nobody else reads it); on a
            # shared server only while a session runs (`claim`).
            self.conn = _connect(self.path, self.readonly, wal=not self.readonly and
                                 store.team is None and not store.shared)
        try:
            with _store_errors(self.path):
                if self.readonly:
                    self.conn.execute("SELECT count(*) FROM meta").fetchone()
                else:
                    _create_tables(self.conn, JOURNAL_SCHEMA)
                self._rekey_if_needed()
        except StoreError:
            self.conn.close()  # a journal that failed to open holds no connection
            raise

    # -- whose it is ------------------------------------------------------------------
    @property
    def _legacy(self) -> Path:
        return self.store.root / "journals" / f"{self.annotator}.db"

    def _ours(self) -> bool:
        """May this user write this journal? In a team project: the names mapped to
        their login (and the gold, for a curator). Otherwise: a journal they own or
        that does not exist yet."""
        team = self.store.team
        if team is not None:
            from annotator.team.roles import GOLD, current_login

            login = current_login()
            if self.annotator == GOLD:
                return team.is_curator(login)
            return self.annotator in team.names_of(login)
        for p in (self.dir, self._legacy):
            with contextlib.suppress(FileNotFoundError):
                return os.lstat(p).st_uid == self.store.me
        return True

    def _owners(self) -> set[int] | None:
        """The uids that may own this journal (None: any one, outside a team)."""
        team = self.store.team
        if team is None:
            return None
        from annotator.team.roles import GOLD

        logins = ([team.annotators[c] for c in team.curators] if self.annotator == GOLD
                  else [team.annotators.get(self.annotator, "")])
        return {u for u in map(team.uid, logins) if u is not None}

    def _check_theirs(self) -> None:
        """Another user's journal: read only after its directory and file are what
        they should be (owned by the mapped login, not a symlink, FIFO or hard link)."""
        if not os.path.lexists(self.dir) and self.store.team is None and os.path.lexists(
                self._legacy):
            self.path = self._legacy  # the older flat layout, someone else's: read it
            with files.open_checked(self.path):
                return
        owners = self._owners()
        try:
            st = os.lstat(self.dir)
        except PermissionError:
            raise Private("not readable", self.dir) from None
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise files.Unsafe(f"is {files.what_is(st)}, not a journal directory: skipped "
                               "(never followed)", self.dir)
        if owners is not None and st.st_uid not in owners:
            raise files.Unsafe(
                f"belongs to {files.login_of(st.st_uid)}, not to {self.annotator}'s login: "
                "refused, not read (someone made it first). The lead, who owns journals/, can "
                "move it aside (`mv`); `annotator team status` lists such problems", self.dir)
        from annotator.team.roles import GOLD

        if st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and self.annotator != GOLD):
            raise files.Unsafe("is writable by others: skipped (anyone could have put files "
                               "in it)", self.dir)
        try:
            with files.open_checked(self.path, owner=st.st_uid if owners is not None else
                                    None):
                pass
        except PermissionError:
            raise Private("not readable", self.path) from None
        except FileNotFoundError:
            raise StoreError("holds no journal.db (its annotator has not started?)",
                             self.dir) from None

    def _modes(self, dir_gid: int) -> tuple[int, int, int | None]:
        """(directory mode, file mode, wanted group) for our journal."""
        store = self.store
        from annotator.team.roles import GOLD

        if self.annotator == GOLD and store.team is not None:
            return 0o2770, 0o660, store.journals_gid
        if not store.blind:
            return 0o2750, 0o640, store.project_gid
        if store.team is not None and store.journals_gid != store.project_gid:
            return 0o2750, 0o640, store.journals_gid  # the curators' group reads
        return 0o2700, 0o600, None

    def _make_ours(self) -> None:
        me = self.store.me
        if not os.path.lexists(self.dir) and os.path.lexists(self._legacy):
            self._migrate()
        # mkdir under a zero umask: the directory gets its mode (and the parent's setgid
        # group) at birth; a chmod later by a non-member of that group would drop setgid.
        old = os.umask(0)
        try:
            os.mkdir(self.dir, 0o2750 if self.store.journals_gid != self.store.project_gid
                     or not self.store.blind else 0o2700)
        except FileExistsError:
            pass
        finally:
            os.umask(old)
        owners = self._owners()
        try:
            with files.open_checked(self.dir, kind="dir") as fd:
                st = os.fstat(fd)
                if st.st_uid != me and not (owners and st.st_uid in owners):
                    raise files.Unsafe(
                        f"was made by {files.login_of(st.st_uid)}, not by you: refused, "
                        f"{self.annotator}'s journal is not opened. The lead, who owns "
                        "journals/, can move it aside (`mv`) so that your next command "
                        "makes your own", self.dir)
                dmode, fmode, gid = self._modes(st.st_gid)
                if st.st_uid == me:
                    fmode = self._fix_dir(fd, st, dmode, fmode, gid)
                    gid = os.fstat(fd).st_gid  # the files take the directory's group
        except files.Unsafe:
            raise
        if st.st_uid == me:
            with contextlib.suppress(FileExistsError):
                files.create_exclusive(self.path, fmode)
            with files.open_checked(self.path, owner=me):
                pass  # one link only
            files.set_mode(self.path, fmode, owner=me, gid=gid)
            for suffix in ("-wal", "-shm"):  # left by an earlier session: the same mode
                side = self.path.with_name(self.path.name + suffix)
                with contextlib.suppress(FileNotFoundError):
                    files.set_mode(side, fmode, owner=me, gid=gid)
        else:  # the gold, made by another curator: theirs and the curators' group
            with files.open_checked(self.path, owner=st.st_uid):
                pass

    @staticmethod
    def _fix_dir(fd: int, st: os.stat_result, dmode: int, fmode: int,
                 gid: int | None) -> int:
        """Give our directory its mode and group; returns the file mode to use."""
        private = False
        if gid is not None and st.st_gid != gid:
            try:
                os.fchown(fd, -1, gid)
                st = os.fstat(fd)
            except PermissionError:
                private = True  # a group we are not in: keep it to ourselves
        in_group = st.st_gid in os.getgroups() or st.st_gid == os.getegid()
        if private or (not in_group and stat.S_IMODE(st.st_mode) != dmode):
            # a chmod by a non-member drops setgid: then side files would get our own
            # group with the database's mode. Owner-only is safe whatever the group.
            dmode, fmode = 0o700, 0o600
        if stat.S_IMODE(st.st_mode) != dmode:
            os.fchmod(fd, dmode)
        return fmode

    def _migrate(self) -> None:
        """The older flat layout (`journals/NAME.db`), ours: fold any WAL into it and
        move it into our own directory. A side file we did not make is refused: it
        could be a planted hot journal that SQLite would roll back into ours."""
        old = self._legacy
        with files.open_checked(old, owner=self.store.me):
            pass
        for suffix in ("-journal", "-wal", "-shm"):
            side = Path(f"{old}{suffix}")
            with contextlib.suppress(FileNotFoundError):
                if os.lstat(side).st_uid != self.store.me:
                    raise files.Unsafe(
                        f"was not made by you but sits beside your journal {old.name}: it is "
                        "not opened (SQLite would roll it back into your journal). Ask the "
                        "lead to remove it", side)
        with _store_errors(old):
            conn = sqlite3.connect(old, isolation_level=None)
            try:
                conn.execute("PRAGMA busy_timeout=60000")
                conn.execute("PRAGMA journal_mode=DELETE")
            finally:
                conn.close()
        os.mkdir(self.dir, 0o700)
        os.rename(old, self.path)
        lock = old.with_suffix(".lock")
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(lock).st_uid == self.store.me:
                os.unlink(lock)

    def _rekey_if_needed(self) -> None:
        """Units are stored with the corpus's integer document keys (for fast joins).
        If the corpus database was rebuilt, keys may differ: map them again by document
        id, once. Units of documents no longer in the corpus get a negative key of their
        own (kept, listed by `status`, left out of agreement like the export does)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'corpus_id'").fetchone()
        if row is not None and int(row[0]) == self.store.corpus_id:
            return
        if self.readonly:
            if row is None:
                return  # nothing stored yet
            raise StoreError(
                f"{self.annotator}'s journal was made against an earlier corpus database "
                f"and must be re-keyed by {self.annotator} (any `annotator` command they run "
                "does it) before others can read it", self.path)
        has_units = self.conn.execute("SELECT 1 FROM units LIMIT 1").fetchone() is not None
        if has_units:
            self._attach_corpus()  # before the transaction: ATTACH cannot happen inside
        with self._transaction(lost="") as conn:
            if has_units:
                conn.execute("CREATE TEMP TABLE remap (old INTEGER PRIMARY KEY, new INTEGER)")
                conn.execute("INSERT OR IGNORE INTO remap SELECT u.doc_key, "
                             "coalesce(d.key, -1 - u.doc_key) FROM units u "
                             "LEFT JOIN corpus.documents d ON d.id = u.doc_id")
                conn.execute("DELETE FROM remap WHERE old = new")  # most, usually
                # through negative keys: no transient clash with a key not yet moved
                for table in ("units", "labels", "partial_units", "decided_layers"):
                    conn.execute(f"UPDATE {table} SET doc_key = -1000000000 - doc_key "
                                 "WHERE doc_key IN (SELECT old FROM remap)")
                    conn.execute(f"UPDATE {table} SET doc_key = (SELECT new FROM remap "
                                 f"WHERE old = -1000000000 - {table}.doc_key) "
                                 "WHERE doc_key <= -1000000000")
                conn.execute("DROP TABLE remap")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('corpus_id', ?)",
                         (str(self.store.corpus_id),))

    # -- writing ------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self, lost: str = NOT_SAVED) -> Iterator[sqlite3.Connection]:
        """One write transaction: the event and the state derived from it commit together
        (synchronous=FULL: on disk when this block ends) or not at all."""
        if self.readonly:
            raise StoreError(f"{self.annotator}'s journal belongs to another user: it is only "
                             "read here", self.path)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            self._codes.clear()  # a label code inserted in the rolled-back transaction
            if isinstance(exc, sqlite3.Error):
                raise _store_error(self.path, exc, lost) from None
            raise

    def apply(self, doc_id: str, unit: int, action: dict, seconds: float = 0.0) -> Change:
        """Append the action as an event and update the derived state, in one
        transaction. Returns only after COMMIT (durable)."""
        u = self.store.unit(doc_id, unit)
        if u is None:
            raise InputError(f"no unit {unit} in document {doc_id!r}")
        with self._transaction() as conn:
            before = self._state_json(doc_id, unit)
            prior = json.loads(before) if before else None
            # a second parse is the copy the action changes (prior is compared below)
            after = apply_action(json.loads(before) if before else None, action,
                                 self.schema, u.text, owned=True)
            after_json = json.dumps(after, ensure_ascii=False)
            ts = now_iso()
            seq = self._append(doc_id, unit, action["type"], action, before, after, seconds,
                               ts=ts, after_json=after_json)
            conn.execute("UPDATE events SET undone = 2 WHERE undone = 1")  # redo is over
            if prior is None:
                self._write_state(doc_id, unit, after, u.sha, seconds, ts=ts,
                                  state_json=after_json)
            else:
                self._update_state(doc_id, unit, prior, after, after_json, u.sha, seconds, ts)
        return Change(doc_id, unit, after, seq)

    def _update_state(self, doc_id: str, unit: int, prior: dict, state: dict,
                      state_json: str, unit_sha: str, seconds: float, ts: str) -> None:
        """`_write_state` for a unit whose stored state is `prior` (read in this
        transaction, so the index tables hold exactly it): only the rows that change
        are written. A label toggle then writes its event, the unit's row and one
        label row, not the unit's whole index again: every statement that rewrites a
        row with the value it had still dirties its page, and each dirty page is
        written to the WAL and flushed at COMMIT."""
        conn = self.conn
        key = self._doc_key(doc_id)
        n_spans = len(state.get("spans", []))
        if (prior.get("status"), len(prior.get("spans", []))) == (state.get("status"), n_spans):
            # status and n_spans unchanged: the units_done index entry stays as it is
            conn.execute("UPDATE units SET state = ?, unit_sha = ?, updated_at = ?, "
                         "seconds = seconds + ? WHERE doc_id = ? AND unit = ?",
                         (state_json, unit_sha, ts, seconds, doc_id, unit))
        else:
            conn.execute("UPDATE units SET status = ?, state = ?, unit_sha = ?, "
                         "updated_at = ?, seconds = seconds + ?, n_spans = ? "
                         "WHERE doc_id = ? AND unit = ?",
                         (state.get("status"), state_json, unit_sha, ts, seconds,
                          n_spans, doc_id, unit))
        was, now = _label_pairs(prior), _label_pairs(state)
        if was != now:
            code = self._label_code
            gone = [(code(*pair), key, unit) for pair in was - now]
            if gone:
                conn.executemany("DELETE FROM labels WHERE code = ? AND doc_key = ? "
                                 "AND unit = ?", gone)
            new = [(code(*pair), key, unit) for pair in now - was]
            if new:
                conn.executemany("INSERT OR IGNORE INTO labels VALUES (?,?,?)", new)
        if ("decided" in prior, set(prior.get("decided", ()))) != (
                "decided" in state, set(state.get("decided", ()))):
            self._write_decided(key, unit, state)

    def apply_many(self, items: Iterable[tuple[str, int, dict]],
                   progress: Progress | None = None, chunk: int | None = 200_000,
                   skip_unchanged: bool = False, lost: str = NOT_SAVED) -> int:
        """`apply` for many actions (a bulk write such as the automatic merge into gold),
        `chunk` of them per transaction: one commit each would cost a disk flush per
        action. The same events and states as `apply` one by one; a failure rolls back
        the chunk it is in (the chunks before it stay). `chunk=None`: all in ONE
        transaction, stored or not at all (an import). `skip_unchanged`: an action that
        leaves the unit's state as it was stores no event. Returns how many were applied.

        Rows are written with executemany per chunk. An action object given for many
        units (the merge shares one per distinct decision) is encoded once, and so is
        the state it gives a unit that had none, when that does not depend on the
        unit's text (`set_gold`)."""
        n = 0
        it = iter(items)
        doc_units: tuple[str, dict[int, Unit]] | None = None
        doc_states: dict[int, str] = {}
        # id(action) -> (action, its JSON): the action is kept so its id stays its own
        encoded: dict[int, tuple[dict, str]] = {}
        fresh: dict[int, tuple[dict, str, list[tuple[str, str]]]] = {}
        events: list[tuple] = []
        units: list[tuple] = []
        labels: list[tuple] = []
        stale: list[tuple] = []
        partial: list[tuple] = []  # decided layers, as `_write_decided` keeps them
        decided: list[tuple] = []
        pending: set[tuple[str, int]] = set()

        def flush() -> None:
            self.conn.executemany("DELETE FROM labels WHERE doc_key = ? AND unit = ?", stale)
            self.conn.executemany("DELETE FROM partial_units WHERE doc_key = ? AND unit = ?",
                                  stale)
            self.conn.executemany("DELETE FROM decided_layers WHERE doc_key = ? AND unit = ?",
                                  stale)
            self.conn.executemany(
                "INSERT INTO events (ts, doc_id, unit, kind, action, before, after, "
                "seconds) VALUES (?,?,?,?,?,?,?,0)", events)
            self.conn.executemany(
                "INSERT INTO units (doc_id, unit, doc_key, status, state, unit_sha, "
                "updated_at, seconds, n_spans) VALUES (?,?,?,?,?,?,?,0,?) "
                "ON CONFLICT (doc_id, unit) DO UPDATE SET status=excluded.status, "
                "state=excluded.state, unit_sha=excluded.unit_sha, "
                "updated_at=excluded.updated_at, n_spans=excluded.n_spans", units)
            self.conn.executemany("INSERT OR IGNORE INTO labels VALUES (?,?,?)", labels)
            self.conn.executemany("INSERT INTO partial_units VALUES (?, ?)", partial)
            self.conn.executemany("INSERT OR IGNORE INTO decided_layers VALUES (?, ?, ?)",
                                  decided)
            for rows in (events, units, labels, stale, partial, decided):
                rows.clear()
            pending.clear()
            # what was encoded is written: an action met again is encoded again (its
            # id dies with it here, so no other action can take that id meanwhile)
            encoded.clear()
            fresh.clear()

        limit = chunk or float("inf")
        was_empty = self.conn.execute("SELECT 1 FROM units LIMIT 1").fetchone() is None
        written_docs: set[str] = set()
        while True:
            with self._transaction(lost) as conn:
                conn.execute("UPDATE events SET undone = 2 WHERE undone = 1")  # redo is over
                ts = now_iso()
                k = 0
                for doc_id, unit, action in it:
                    if doc_units is None or doc_units[0] != doc_id:
                        # one read per document, not per unit: its units and our states
                        # (none to read in a journal that was empty: the first merge)
                        doc_units = (doc_id, {u.index: u for u in self.store.units(doc_id)})
                        doc_states = {} if was_empty else dict(conn.execute(
                            "SELECT unit, state FROM units WHERE doc_id = ?", (doc_id,)))
                        if was_empty and doc_id in written_docs:
                            flush()  # a document met again: what we wrote is read back
                            doc_states = dict(conn.execute(
                                "SELECT unit, state FROM units WHERE doc_id = ?", (doc_id,)))
                        written_docs.add(doc_id)
                    u = doc_units[1].get(unit)
                    if u is None:
                        raise InputError(f"no unit {unit} in document {doc_id!r}")
                    if (doc_id, unit) in pending:
                        flush()  # the unit's labels are replaced once more: in order
                    pending.add((doc_id, unit))
                    before = doc_states.get(unit)
                    enc = encoded.get(id(action))
                    if enc is None:
                        enc = encoded[id(action)] = (action, compact(action))
                    got = fresh.get(id(action)) if before is None else None
                    if got is None:
                        after = apply_action(_read_json(before) if before else None, action,
                                             self.schema, u.text)
                        pairs = [(layer, label) for layer, value in after["labels"].items()
                                 for label in (value if isinstance(value, list)
                                               else [value] if value else [])]
                        got = (after, compact(after), pairs)
                        if before is None and action["type"] == "set_gold":
                            fresh[id(action)] = got
                    after, after_json, pairs = got
                    if skip_unchanged and before is not None and _read_json(before) == after:
                        pending.discard((doc_id, unit))
                        continue
                    doc_states[unit] = after_json
                    key = self._doc_key(doc_id)
                    if before is not None:
                        stale.append((key, unit))
                    events.append((ts, doc_id, unit, action["type"], enc[1], before,
                                   after_json))
                    units.append((doc_id, unit, key, after.get("status"), after_json, u.sha,
                                  ts, len(after.get("spans", []))))
                    labels.extend((self._label_code(la, lb), key, unit) for la, lb in pairs)
                    if "decided" in after:
                        partial.append((key, unit))
                        decided.extend((layer, key, unit) for layer in after["decided"])
                    k += 1
                    if k >= limit:
                        break
                    if len(events) >= FLUSH_ROWS:
                        flush()  # inside the transaction: memory stays flat
                flush()
            n += k
            if progress is not None:
                progress(n, None)
            if k < limit:
                return n

    def import_fresh(self, items: Iterable[tuple[str, int, str, str]],
                     progress: Progress | None = None, lost: str = NOT_SAVED) -> int | None:
        """`apply_many(..., chunk=None)` of the `import_state` actions of an import, for
        a journal with no events yet (a fresh import): the same events, states and
        derived rows (labels, decided layers), in ONE transaction, stored or not at
        all. `items`: (doc_id, unit, the state as `compact` JSON, source "file:line"),
        each unit at most once. Every state is checked as `apply_many` checks it, but
        there is no state before to read, and the state JSON is the event's `after`
        when the check leaves it as it was (the action's JSON is put together around
        it): one decode and no encode of a state, and one read of the corpus a
        document (its units' hashes). Returns the units stored, or None (nothing
        written) when the journal is not empty: the caller then goes through
        `apply_many`."""
        self._attach_corpus()  # before the transaction: ATTACH cannot happen inside
        cache = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        # A page cache of 64 MB while the transaction lasts (SQLite's default is 2 MB):
        # a million states' pages spilled to the WAL less often (100,000 articles:
        # 15.3 s of CPU and 21 s of wall for this write, against 16.5 s and 29 s)
        self.conn.execute("PRAGMA cache_size=-65536")
        try:
            return self._import_fresh(items, progress, lost)
        finally:
            self.conn.execute(f"PRAGMA cache_size={int(cache)}")

    def _import_fresh(self, items: Iterable[tuple[str, int, str, str]],
                      progress: Progress | None, lost: str) -> int | None:
        n = 0
        with self._transaction(lost) as conn:
            if conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None or \
                    conn.execute("SELECT 1 FROM units LIMIT 1").fetchone() is not None:
                return None
            ts = now_iso()
            events: list[tuple] = []
            units: list[tuple] = []
            labels: list[tuple] = []
            partial: list[tuple] = []
            decided: list[tuple] = []
            # the current document: (id, key, unit -> sha, unit -> text or None)
            doc: tuple[str, int, dict[int, str], dict[int, str] | None] | None = None
            kind = "import_state"

            def flush() -> None:
                conn.executemany("INSERT INTO events (ts, doc_id, unit, kind, action, "
                                 "before, after, seconds) VALUES (?,?,?,?,?,NULL,?,0)", events)
                conn.executemany("INSERT INTO units (doc_id, unit, doc_key, status, state, "
                                 "unit_sha, updated_at, seconds, n_spans) "
                                 "VALUES (?,?,?,?,?,?,?,0,?)", units)
                conn.executemany("INSERT OR IGNORE INTO labels VALUES (?,?,?)", labels)
                conn.executemany("INSERT INTO partial_units VALUES (?, ?)", partial)
                conn.executemany("INSERT OR IGNORE INTO decided_layers VALUES (?, ?, ?)",
                                 decided)
                for rows in (events, units, labels, partial, decided):
                    rows.clear()

            try:
                for doc_id, unit, state_json, source in items:
                    if doc is None or doc[0] != doc_id:
                        row = conn.execute("SELECT key FROM corpus.documents WHERE id = ?",
                                           (doc_id,)).fetchone()
                        key = row[0] if row else 0
                        doc = (doc_id, key, dict(conn.execute(
                            "SELECT idx, sha FROM corpus.units WHERE doc = ?", (key,))), None)
                    key, shas = doc[1], doc[2]
                    sha = shas.get(unit)
                    if sha is None:
                        raise InputError(f"no unit {unit} in document {doc_id!r}")
                    state = _read_json(state_json)
                    text = None
                    if isinstance(state, dict) and state.get("spans"):
                        # only spans are checked against the unit's text
                        if doc[3] is None:
                            doc = (doc_id, key, shas, dict(conn.execute(
                                "SELECT idx, text FROM corpus.units WHERE doc = ?", (key,))))
                        text = doc[3][unit]
                    # `apply_action` of an import_state on no state is this check alone
                    # (raising the same ActionError)
                    after = checked_state(state, self.schema, text)
                    # the check copies the state; unchanged (same keys, same order), its
                    # JSON is the one given
                    after_json = state_json if after == state and \
                        list(after) == list(state) else compact(after)
                    events.append((ts, doc_id, unit, kind, '{"type":"import_state","state":'
                                   + state_json + ',"source":' + compact(source) + "}",
                                   after_json))
                    units.append((doc_id, unit, key, after["status"], after_json, sha, ts,
                                  len(after["spans"])))
                    for layer, value in after["labels"].items():
                        for label in (value if isinstance(value, list)
                                      else [value] if value else []):
                            labels.append((self._label_code(layer, label), key, unit))
                    if "decided" in after:
                        partial.append((key, unit))
                        decided.extend((layer, key, unit) for layer in after["decided"])
                    n += 1
                    if len(events) >= FLUSH_ROWS:
                        flush()  # inside the transaction: memory stays flat
                        if progress is not None:
                            progress(n, None)
                flush()
            except sqlite3.IntegrityError:
                raise InputError("a unit is given twice in one import") from None
        if progress is not None:
            progress(n, None)
        return n

    def apply_fresh(self, doc_keys: Iterable[int], units: Iterable[int],
                    which: Iterable[int], actions: list[dict],
                    progress: Progress | None = None, chunk: int = 250_000,
                    lost: str = NOT_SAVED) -> tuple[int, list[tuple[int, int]]]:
        """`apply` of `actions[which[i]]` to unit (doc_keys[i], units[i]), for units this
        journal has no state of yet and actions whose result does not depend on the
        unit's text (`set_gold` without text-bound spans: the automatic merge). Each
        row is the same event, state and labels `apply` would write, but the distinct
        actions are few, so each one's action and state JSON is made once and the rows
        are written set-wise in SQL (INSERT ... SELECT from a temporary table), not one
        Python tuple per row and table. `chunk` rows per transaction, each whole: a
        killed run leaves whole chunks, and running it again (on the units still
        without a state) finishes the rest.

        Returns (rows applied, the (doc_key, unit) rows skipped because the unit already
        has a state here: the caller applies those one by one). Rows whose unit is not in
        the corpus are dropped, as a merge drops documents no longer imported."""
        templates = fresh_templates(actions, self.schema)
        self._attach_corpus()  # before any transaction: ATTACH cannot happen inside
        conn = self.conn
        conn.execute("DROP TABLE IF EXISTS temp.fresh_rows")
        conn.execute("DROP TABLE IF EXISTS temp.fresh_t")
        conn.execute("DROP TABLE IF EXISTS temp.fresh_l")
        conn.execute("CREATE TEMP TABLE fresh_rows (doc_key INTEGER, unit INTEGER, "
                     "t INTEGER, doc_id TEXT)")
        conn.execute("CREATE TEMP TABLE fresh_t (t INTEGER PRIMARY KEY, kind TEXT, "
                     "action TEXT, after TEXT, status TEXT, n_spans INTEGER)")
        conn.execute("CREATE TEMP TABLE fresh_l (t INTEGER, code INTEGER)")
        rows = zip(doc_keys, units, which, strict=True)
        n, skipped = 0, []
        try:
            while True:
                with self._transaction(lost) as conn:
                    if not n:  # the templates (and their label codes) in the first chunk
                        for t, (action, after) in enumerate(templates):
                            conn.execute("INSERT INTO fresh_t VALUES (?,?,?,?,?,?)", (
                                t, action["type"], json.dumps(action, **COMPACT),
                                json.dumps(after, **COMPACT), after.get("status"), 0))
                            conn.executemany("INSERT INTO fresh_l VALUES (?, ?)", [
                                (t, self._label_code(layer, label))
                                for layer, value in after["labels"].items()
                                for label in (value if isinstance(value, list)
                                              else [value] if value else [])])
                    conn.executemany("INSERT INTO fresh_rows (doc_key, unit, t) "
                                     "VALUES (?,?,?)", _take(rows, chunk))
                    k = conn.execute("SELECT count(*) FROM fresh_rows").fetchone()[0]
                    # the text id of each row's document; rows not in the corpus dropped
                    conn.execute("UPDATE fresh_rows SET doc_id = (SELECT id FROM "
                                 "corpus.documents WHERE key = fresh_rows.doc_key)")
                    conn.execute("DELETE FROM fresh_rows WHERE doc_id IS NULL OR NOT EXISTS "
                                 "(SELECT 1 FROM corpus.units c WHERE c.doc = "
                                 "fresh_rows.doc_key AND c.idx = fresh_rows.unit)")
                    had = conn.execute(
                        "SELECT doc_key, unit FROM fresh_rows r WHERE EXISTS (SELECT 1 "
                        "FROM main.units m WHERE m.doc_id = r.doc_id AND m.unit = r.unit)"
                    ).fetchall()
                    if had:
                        skipped += had
                        conn.execute("DELETE FROM fresh_rows WHERE EXISTS (SELECT 1 FROM "
                                     "main.units m WHERE m.doc_id = fresh_rows.doc_id AND "
                                     "m.unit = fresh_rows.unit)")
                    conn.execute("UPDATE events SET undone = 2 WHERE undone = 1")  # redo over
                    ts = now_iso()
                    conn.execute(
                        "INSERT INTO events (ts, doc_id, unit, kind, action, before, after, "
                        "seconds) SELECT ?, r.doc_id, r.unit, t.kind, t.action, NULL, t.after, "
                        "0 FROM fresh_rows r JOIN fresh_t t ON t.t = r.t ORDER BY r.rowid",
                        (ts,))
                    conn.execute(
                        "INSERT INTO units (doc_id, unit, doc_key, status, state, unit_sha, "
                        "updated_at, seconds, n_spans) SELECT r.doc_id, r.unit, r.doc_key, "
                        "t.status, t.after, c.sha, ?, 0, t.n_spans FROM fresh_rows r "
                        "JOIN fresh_t t ON t.t = r.t JOIN corpus.units c ON c.doc = r.doc_key "
                        "AND c.idx = r.unit", (ts,))
                    conn.execute("INSERT OR IGNORE INTO labels SELECT l.code, r.doc_key, "
                                 "r.unit FROM fresh_rows r JOIN fresh_l l ON l.t = r.t")
                    n += conn.execute("SELECT count(*) FROM fresh_rows").fetchone()[0]
                    conn.execute("DELETE FROM fresh_rows")
                if progress is not None:
                    progress(n, None)
                if k < chunk:
                    return n, skipped
        finally:
            for table in ("fresh_rows", "fresh_t", "fresh_l"):
                with contextlib.suppress(sqlite3.Error):
                    conn.execute(f"DROP TABLE IF EXISTS temp.{table}")

    def _append(self, doc_id, unit, kind, action, before, after, seconds,
                ts: str | None = None, after_json: str | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO events (ts, doc_id, unit, kind, action, before, after, seconds) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (ts or now_iso(), doc_id, unit, kind, json.dumps(action, ensure_ascii=False),
             before, after_json or json.dumps(after, ensure_ascii=False), seconds))
        return cur.lastrowid

    def _doc_key(self, doc_id: str) -> int:
        key = self._keys.get(doc_id)
        if key is None:
            info = self.store.document(doc_id)
            key = info.key if info else 0
            self._keys[doc_id] = key
        return key

    def _write_state(self, doc_id: str, unit: int, state: dict | None, unit_sha: str,
                     seconds: float, ts: str | None = None,
                     state_json: str | None = None) -> None:
        conn = self.conn
        key = self._doc_key(doc_id)
        conn.execute("DELETE FROM labels WHERE doc_key = ? AND unit = ?", (key, unit))
        if state is None:
            conn.execute("DELETE FROM units WHERE doc_id = ? AND unit = ?", (doc_id, unit))
            self._write_decided(key, unit, None)
            return
        conn.execute(
            "INSERT INTO units (doc_id, unit, doc_key, status, state, unit_sha, updated_at, "
            "seconds, n_spans) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (doc_id, unit) DO UPDATE "
            "SET status=excluded.status, state=excluded.state, unit_sha=excluded.unit_sha, "
            "updated_at=excluded.updated_at, seconds=units.seconds + excluded.seconds, "
            "n_spans=excluded.n_spans",
            (doc_id, unit, key, state.get("status"),
             state_json or json.dumps(state, ensure_ascii=False), unit_sha, ts or now_iso(),
             seconds, len(state.get("spans", []))))
        rows = []
        for layer, value in state.get("labels", {}).items():
            for label in (value if isinstance(value, list) else [value] if value else []):
                rows.append((self._label_code(layer, label), key, unit))
        if rows:
            conn.executemany("INSERT OR IGNORE INTO labels VALUES (?,?,?)", rows)
        self._write_decided(key, unit, state)

    def _write_decided(self, key: int, unit: int, state: dict | None) -> None:
        conn = self.conn
        conn.execute("DELETE FROM partial_units WHERE doc_key = ? AND unit = ?", (key, unit))
        conn.execute("DELETE FROM decided_layers WHERE doc_key = ? AND unit = ?", (key, unit))
        if state is not None and "decided" in state:
            conn.execute("INSERT INTO partial_units VALUES (?, ?)", (key, unit))
            conn.executemany("INSERT OR IGNORE INTO decided_layers VALUES (?, ?, ?)",
                             [(layer, key, unit) for layer in state["decided"]])

    def _label_code(self, layer: str, label: str) -> int:
        code = self._codes.get((layer, label))
        if code is None:
            row = self.conn.execute("SELECT code FROM label_codes WHERE layer = ? AND label = ?",
                                    (layer, label)).fetchone()
            code = row[0] if row else self.conn.execute(
                "INSERT INTO label_codes (layer, label) VALUES (?, ?)", (layer, label)).lastrowid
            self._codes[(layer, label)] = code
        return code

    def undo(self) -> Change | None:
        """Restore the `before` state of the latest active action."""
        return self._step(
            "undo", "SELECT seq, doc_id, unit, before FROM events WHERE undone = 0 "
            "AND kind NOT IN ('undo', 'redo') ORDER BY seq DESC LIMIT 1",
            "UPDATE events SET undone = 1, undone_by = :by WHERE seq = :seq")

    def redo(self) -> Change | None:
        """Restore the `after` state of the action undone last."""
        return self._step(
            "redo", "SELECT seq, doc_id, unit, after FROM events WHERE undone = 1 "
            "ORDER BY undone_by DESC LIMIT 1",
            "UPDATE events SET undone = 0, undone_by = NULL WHERE seq = :seq")

    def _step(self, kind: str, find: str, mark: str) -> Change | None:
        with self._transaction() as conn:
            row = conn.execute(find).fetchone()
            if row is None:
                return None
            target, doc_id, unit, state_json = row
            state = json.loads(state_json) if state_json else None
            u = self.store.unit(doc_id, unit)
            seq = self._append(doc_id, unit, kind, {"type": kind, "event": target},
                               self._state_json(doc_id, unit), state, 0.0)
            self._write_state(doc_id, unit, state, u.sha if u else "", 0.0)
            conn.execute(mark, {"by": seq, "seq": target})
        return Change(doc_id, unit, state or {}, seq)

    def set_position(self, doc_id: str, unit: int) -> None:
        with _store_errors(self.path, "where you are was not saved"):
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('position', ?)",
                              (json.dumps([doc_id, unit]),))

    # -- one session per annotator ----------------------------------------------------
    def claim(self) -> None:
        """Hold this journal for one annotation session. A second session of the same
        annotator is refused: two screens would undo each other's actions. The lock is
        the kernel's (flock), so a killed session never leaves it behind."""
        if self.readonly:
            raise StoreError(f"{self.annotator}'s journal belongs to another user: it is only "
                             "read here", self.path)
        # In our own directory: nobody else can create, hold or replace this file.
        lock = self.dir / "lock" if self.path.name == "journal.db" else \
            self.path.with_suffix(".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC, 0o660 if self.dir.name == "gold" else 0o600)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise files.Unsafe("is not a file: refused", lock)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"{self.annotator} is already annotating in this project ({holder}). "
                "Close that session first (q), or annotate as another name with --as; two "
                "sessions of one annotator would undo each other's actions", self.path) from None
        # WAL while the session runs: another user's reader never blocks our commits.
        try:
            with _store_errors(self.path, "the session was not started"):
                mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except StoreError:
            os.close(fd)
            raise
        if mode != "wal":
            os.close(fd)
            raise StoreError(f"could not switch the journal to WAL mode (it stayed {mode})",
                             self.path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since "
                      f"{now_iso()[:19]}Z\n".encode(), 0)
        self._lock_fd = fd

    def _session_elsewhere(self) -> bool:
        """Is a session of ours open in another process (its lock held)? Then its WAL
        stays: switching would only wait for it."""
        try:
            fd = os.open(self.dir / "lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None

    # -- reading ------------------------------------------------------------------
    def _state_json(self, doc_id: str, unit: int) -> str | None:
        row = self.conn.execute("SELECT state FROM units WHERE doc_id = ? AND unit = ?",
                                (doc_id, unit)).fetchone()
        return row[0] if row else None

    @_guarded
    def state(self, doc_id: str, unit: int) -> dict | None:
        s = self._state_json(doc_id, unit)
        return _read_json(s) if s else None

    @_guarded
    def states(self, doc_id: str) -> dict[int, dict]:
        return {u: _read_json(s) for u, s in self.conn.execute(
            "SELECT unit, state FROM units WHERE doc_id = ?", (doc_id,))}

    @_guarded
    def info(self, doc_id: str, unit: int) -> dict | None:
        row = self.conn.execute(
            "SELECT updated_at, seconds, unit_sha FROM units WHERE doc_id = ? AND unit = ?",
            (doc_id, unit)).fetchone()
        return {"updated_at": row[0], "seconds": row[1], "unit_sha": row[2]} if row else None

    @_guarded
    def iter_states(self) -> Iterator[tuple[str, int, dict, dict]]:
        """(doc_id, unit, state, info) in document order."""
        cur = self.conn.execute(
            "SELECT doc_id, unit, state, updated_at, seconds, unit_sha, doc_key FROM units "
            "ORDER BY doc_key, unit")
        for doc_id, unit, state, updated_at, seconds, sha, key in cur:
            yield doc_id, unit, _read_json(state), {
                "updated_at": updated_at, "seconds": seconds, "unit_sha": sha, "doc_key": key}

    @_guarded
    def done_states(self, doc_id: str, skipped: bool = False
                    ) -> Iterator[tuple[int, dict, dict]]:
        """(unit, state, info) of this document's units marked done (`skipped`: and
        those marked not content)."""
        statuses = "('done', 'skipped')" if skipped else "('done')"
        cur = self.conn.execute(
            "SELECT unit, state, updated_at, seconds, unit_sha FROM units "
            f"WHERE doc_id = ? AND status IN {statuses} ORDER BY unit", (doc_id,))
        for unit, state, updated_at, seconds, sha in cur:
            yield unit, _read_json(state), {"updated_at": updated_at, "seconds": seconds,
                                            "unit_sha": sha}

    @_guarded
    def done_rows(self, doc_id: str, skipped: bool = False
                  ) -> list[tuple[int, dict, str, float, str]]:
        """(unit, state, updated_at, seconds, unit_sha) of this document's units marked
        done (`skipped`: and not content), by unit: `done_states` as plain tuples, for
        the export's read of every unit."""
        statuses = "('done', 'skipped')" if skipped else "('done')"
        rows = self.conn.execute(
            "SELECT unit, state, updated_at, seconds, unit_sha FROM units "
            f"WHERE doc_id = ? AND status IN {statuses} ORDER BY unit", (doc_id,)).fetchall()
        return [(unit, _read_json(state), ts, seconds, sha)
                for unit, state, ts, seconds, sha in rows]

    @_guarded
    def agreement_columns(self, base: int) -> tuple[
            np.ndarray, dict[tuple[str, str], np.ndarray], list[tuple[int, dict]]]:
        """For the agreement fast path, without one Python object per unit:
        (unit keys marked done, {(layer, label): unit keys}, [(unit key, state)] of done
        units that have spans). A unit key is doc_key * base + unit
        (`SQLiteStore.key_base`)."""
        conn = self.conn
        (done,) = conn.execute(
            "SELECT group_concat(doc_key * ? + unit) FROM units WHERE status = 'done'",
            (base,)).fetchone()
        return (_int_array(done), *self._label_and_span_columns(base))

    def _label_and_span_columns(self, base: int) -> tuple[
            dict[tuple[str, str], np.ndarray], list[tuple[int, dict]]]:
        conn = self.conn
        names = {code: (layer, label) for code, layer, label in conn.execute(
            "SELECT code, layer, label FROM label_codes")}
        labels = {names[code]: _int_array(keys) for code, keys in conn.execute(
            "SELECT code, group_concat(doc_key * ? + unit) FROM labels GROUP BY code",
            (base,))}
        spans = [(key, _read_json(state)) for key, state in conn.execute(
            "SELECT doc_key * ? + unit, state FROM units WHERE status = 'done' "
            "AND n_spans > 0", (base,))]
        return labels, spans

    @_guarded
    def decided_columns(self, base: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(unit keys that track decided layers, {layer: unit keys that decided it}),
        keys as in `agreement_columns`. A journal from before layers were tracked
        (read-only here, so its tables were not added) has none."""
        conn = self.conn
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'partial_units'"
                        ).fetchone() is None:
            return _int_array(None), {}
        (partial,) = conn.execute(
            "SELECT group_concat(doc_key * ? + unit) FROM partial_units", (base,)).fetchone()
        layers = {layer: _int_array(keys) for layer, keys in conn.execute(
            "SELECT layer, group_concat(doc_key * ? + unit) FROM decided_layers "
            "GROUP BY layer", (base,))}
        return _int_array(partial), layers

    @_guarded
    def done_count(self, titles: bool = True) -> int:
        """Units decided: marked done, or not content (skipped), among the units the
        corpus still has (a re-import may have removed some); titles only if they are
        units (`titles`)."""
        self._attach_corpus()
        first = "(1 - d.has_title)" if titles else "1"
        return self.conn.execute(
            "SELECT count(*) FROM main.units m JOIN corpus.documents d ON d.key = m.doc_key "
            "WHERE m.status IN ('done', 'skipped') "
            f"AND m.unit >= {first} AND m.unit <= d.n_units - d.has_title").fetchone()[0]

    @_guarded
    def skip_columns(self, base: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit keys decided: done or skipped, unit keys skipped), for skip agreement;
        keys as in `agreement_columns`."""
        decided, skipped = self.conn.execute(
            "SELECT group_concat(doc_key * ? + unit), group_concat(CASE WHEN status = "
            "'skipped' THEN doc_key * ? + unit END) FROM units WHERE status IN "
            "('done', 'skipped')", (base, base)).fetchone()
        return _int_array(decided), _int_array(skipped)

    @_guarded
    def agreement_and_skip_columns(self, base: int) -> tuple[
            tuple[np.ndarray, dict[tuple[str, str], np.ndarray], list[tuple[int, dict]]],
            tuple[np.ndarray, np.ndarray],
            tuple[np.ndarray, dict[str, np.ndarray]]]:
        """(`agreement_columns`, `skip_columns`, `decided_columns`) in one call, so
        `annotator agreement` reads all three in its parallel pass over the journals
        (SQLite releases the GIL while it steps) instead of two more serial passes."""
        import numpy as np  # here, not at start-up: only the agreement fast path needs it

        # one scan of `units`: the done keys are the decided ones not skipped
        decided, skipped = self.skip_columns(base)
        done = np.setdiff1d(decided, skipped, assume_unique=True) if len(skipped) \
            else decided
        return ((done, *self._label_and_span_columns(base)), (decided, skipped),
                self.decided_columns(base))

    @_guarded
    def position(self) -> tuple[str, int] | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'position'").fetchone()
        if row is None:
            return None
        doc_id, unit = json.loads(row[0])
        return doc_id, unit

    @_guarded
    def meta_value(self, key: str) -> str | None:
        """A value kept beside the journal's events (not an annotation: the merge's
        stamp, the schema last seen)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta_value(self, key: str, value: str) -> None:
        with self._transaction("not recorded") as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @_guarded
    def last_seq(self) -> int | None:
        """The sequence number of this journal's latest event (None: no events)."""
        return self.conn.execute("SELECT max(seq) FROM events").fetchone()[0]

    @_guarded
    def first_not_done(self, assigned: bool = False, titles: bool = True
                       ) -> tuple[str, int] | None:
        """The first unit in corpus order this annotator has not decided (done or not
        content; with
        `assigned`: in the documents assigned to them; titles only if `titles`)."""
        self._attach_corpus()
        scope = ("AND u.doc IN (SELECT doc_key FROM corpus.assignments WHERE annotator = ?) "
                 if assigned else "")
        if not titles:
            scope += "AND u.idx > 0 "
        row = self.conn.execute(
            "SELECT d.id, u.idx FROM corpus.units u JOIN corpus.documents d ON u.doc = d.key "
            "WHERE NOT EXISTS (SELECT 1 FROM main.units m WHERE m.doc_key = u.doc "
            "AND m.unit = u.idx AND m.status IN ('done', 'skipped')) "
            f"{scope}ORDER BY u.doc, u.idx LIMIT 1",
            (self.annotator,) if assigned else ()).fetchone()
        return (row[0], row[1]) if row else None

    def _attach_corpus(self) -> None:
        """Make the corpus readable from this journal's connection as `corpus` (once)."""
        if not any(r[1] == "corpus" for r in self.conn.execute("PRAGMA database_list")):
            self.conn.execute("ATTACH DATABASE ? AS corpus",
                              (str(self.store.root / "corpus.db"),))

    @_guarded
    def events(self, limit: int | None = None) -> list[dict]:
        sql = ("SELECT seq, ts, doc_id, unit, kind, action, undone FROM events "
               "ORDER BY seq DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [{"seq": s, "ts": ts, "doc_id": d, "unit": u, "kind": k,
                 "action": json.loads(a), "undone": bool(un)}
                for s, ts, d, u, k, a, un in self.conn.execute(sql)]

    # -- checking -------------------------------------------------------------------
    def verify(self) -> list[str]:
        """Check the journal: SQLite's integrity check, then replay every event from
        the first and compare with the stored state (and the label index). Returns the
        problems found; empty when the journal is sound."""
        try:
            problems = [r[0] for r in self.conn.execute("PRAGMA integrity_check")
                        if r[0] != "ok"]
            if problems:
                return problems
            return self._replay_problems()
        except sqlite3.DatabaseError as exc:
            return [str(exc)]

    def _replay_problems(self) -> list[str]:
        problems: list[str] = []
        replayed: dict[tuple[str, int], dict | None] = {}
        befores: dict[int, str | None] = {}
        afters: dict[int, str] = {}
        texts: dict[tuple[str, int], str | None] = {}
        for seq, doc_id, unit, kind, action, before, after in self.conn.execute(
                "SELECT seq, doc_id, unit, kind, action, before, after FROM events "
                "ORDER BY seq"):
            key = (doc_id, unit)
            current = replayed.get(key)
            if _loads(before) != current:
                problems.append(f"event {seq}: its 'before' is not the state replayed so far")
            act = json.loads(action)
            if kind in ("undo", "redo"):
                target = act["event"]
                expected = _loads(befores.get(target) if kind == "undo" else afters.get(target))
            else:
                if key not in texts:
                    u = self.store.unit(doc_id, unit)
                    texts[key] = u.text if u else None
                if kind == "toggle_label" and not isinstance(
                        (_loads(after) or {}).get("labels", {}).get(act.get("layer")), list):
                    # A single-choice layer (its value is a label, not a list): replayed
                    # without the schema, the toggle must be told so.
                    act = {**act, "single": True}
                try:
                    # An imported state carries its spans' texts: replayed as stored,
                    # also when the paragraph was re-imported since.
                    expected = apply_action(current, act, None,
                                            None if kind == "import_state" else texts[key])
                except (ValueError, KeyError, TypeError) as exc:
                    problems.append(f"event {seq}: cannot be replayed ({exc})")
                    expected = _loads(after)
                if kind == "add_span" and _textless(expected) == _textless(_loads(after)):
                    expected = _loads(after)  # span text from a paragraph since re-imported
            if isinstance(expected, dict) and "decided" not in (_loads(after) or {}):
                expected.pop("decided", None)  # an event from before layers were tracked
            if expected != _loads(after):
                problems.append(f"event {seq} ({kind}): replaying it gives another state")
            befores[seq], afters[seq] = before, after
            replayed[key] = _loads(after)
        stored = {(d, u): _read_json(st) for d, u, st in self.conn.execute(
            "SELECT doc_id, unit, state FROM units")}
        for key in replayed.keys() | stored.keys():
            if replayed.get(key) != stored.get(key):
                problems.append(f"{key[0]} unit {key[1]}: the stored state differs from the "
                                "replayed events")
        index = {(lay, lab, k, u) for lay, lab, k, u in self.conn.execute(
            "SELECT c.layer, c.label, l.doc_key, l.unit FROM labels l "
            "JOIN label_codes c ON c.code = l.code")}
        keys = dict(self.conn.execute("SELECT doc_id, doc_key FROM units"))
        derived = set()
        for (doc_id, unit), state in stored.items():
            for layer, value in state.get("labels", {}).items():
                for label in (value if isinstance(value, list) else [value] if value else []):
                    derived.add((layer, label, keys[doc_id], unit))
        if index != derived:
            problems.append(f"the label index differs from the stored states "
                            f"({len(index ^ derived)} row(s))")
        return problems

    def close(self) -> None:
        if not self.readonly and (self._lock_fd is not None or (
                self.store.shared and not self._session_elsewhere())):
            # Leave the file in rollback-journal mode: a reader then needs no -wal/-shm,
            # and can create none (the directory is ours alone). If a reader holds the
            # file the switch waits up to 2 s, then WAL stays on: its -wal/-shm are ours
            # and readers use them read-only, so this locks nobody out; the next
            # session or command of ours switches again.
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA busy_timeout=2000")
                self.conn.execute("PRAGMA journal_mode=DELETE")
        self.release()
        self.conn.close()


def _label_pairs(state: dict) -> set[tuple[str, str]]:
    """(layer, label) of a state's paragraph labels: the rows it has in `labels`."""
    return {(layer, label) for layer, value in state.get("labels", {}).items()
            for label in (value if isinstance(value, list) else [value] if value else [])}


def _textless(state: dict | None) -> dict | None:
    """The state with its spans' quoted texts left out (they follow the paragraph)."""
    if not state:
        return state
    return {**state, "spans": [{k: v for k, v in sp.items() if k != "text"}
                               for sp in state.get("spans", [])]}


def _loads(text: str | None) -> dict | None:
    return json.loads(text) if text else None


def _create(path: Path, mode: int) -> None:
    """Create an empty file with exactly `mode` (umask aside), unless it exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        os.chmod(path, mode)


def _store_error(path: Path, exc: sqlite3.Error, lost: str = "") -> StoreError:
    """An SQLite error as a message for the user, naming the file. `lost`: what the
    failed write means for the user."""
    # By SQLite's primary result code: an extended one (SQLITE_READONLY_DBMOVED,
    # SQLITE_BUSY_SNAPSHOT, SQLITE_CORRUPT_INDEX ...) is its primary code plus flags.
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    lost = f": {lost}" if lost else ""
    if primary == sqlite3.SQLITE_FULL:
        return StoreError(f"the disk is full{lost}. Free some space, then try again", path)
    if primary == sqlite3.SQLITE_IOERR:
        return StoreError(f"writing to the disk failed ({text}: the disk may be full, a "
                          f"quota or file-size limit reached, or the disk failing){lost}. "
                          "Check the disk, then try again", path)
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return _damaged(path, text)
    if primary == sqlite3.SQLITE_READONLY:
        return StoreError(f"cannot write this file ({text}): check its owner and permissions",
                          path)
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(f"the store stayed busy for a minute ({text}): another process "
                          "holds it (a long import?); try again", path)
    return StoreError(f"the store failed: {text}", path)
