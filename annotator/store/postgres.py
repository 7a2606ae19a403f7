"""The PostgreSQL store: the corpus and every annotator's journal in one database, for
teams on several machines. Same interface as the SQLite store (`store/base.py`).

Each annotator connects as their own database role; the database, not this client,
keeps them blind and their events append-only (see `pg_schema.py` and docs/store.md).
An action is one INSERT into `events` (autocommit, synchronous commit): the trigger
derives the state in the same transaction, and `apply` returns after COMMIT. Each
event carries an id chosen before the first attempt, so a commit retried after a
dropped connection is applied once.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from annotator.actions import apply_action
from annotator.corpus import Document, unit_hash
from annotator.errors import InputError, StoreError
from annotator.schema import LabelSchema
from annotator.store.base import GOLD, Change, DocInfo, ImportStats, Progress, Unit
from annotator.store.pg_schema import ANNOTATOR_GRANTS, MIGRATIONS
from annotator.store.sql import (
    JournalMeta,
    SQLCorpusReads,
    fresh_templates,
    int_bytes,
    iso,
    replay_problems,
)

if TYPE_CHECKING:
    import numpy as np

NOT_SAVED = "this action was NOT saved (every earlier one is)"
LOCK_TIMEOUT = "10s"  # see connect()
# Reconnecting after a dropped connection: waits between attempts (about 3 s in all),
# then the action is reported NOT SAVED; the next action tries again.
BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
PAGE = 5000
# A keypress's one statement, prepared once a connection and run through libpq itself:
# psycopg's cursor, adapters and non-blocking wait cost the client about 35 us of CPU
# an action on top of libpq's (issue 14).
_EVENT_INSERT = (b"annotator_event", b"INSERT INTO annotator.events (id, annotator, doc_id, "
                 b"unit, kind, action, before, after, seconds) VALUES "
                 b"($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq")
# The read before the first action on a unit (the client keeps what it stored since).
_CURRENT = (b"annotator_current", b"SELECT u.text, u.sha, (SELECT s.state FROM "
            b"annotator.states s WHERE s.annotator = $1 AND s.doc_id = $2 AND s.unit = $3) "
            b"FROM annotator.units u JOIN annotator.documents d ON u.doc = d.key "
            b"WHERE d.id = $2 AND u.idx = $3")


def _text_encoding(conn: Any) -> str:
    """The codec for text sent and read through libpq itself: the connection's, but
    UTF-8 for SQL_ASCII (reported as "ascii"), which stores bytes as given, as
    psycopg's own text adapters do."""
    encoding = conn.info.encoding
    return "utf-8" if encoding == "ascii" else encoding


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise StoreError("the PostgreSQL store needs the psycopg driver: "
                         "pip install 'annotator[postgresql]'") from None
    return psycopg


def is_postgres_url(value: str) -> bool:
    return value.startswith(("postgresql://", "postgres://"))


def conninfo(url: str) -> dict[str, str]:
    """The libpq parameters of a store URL. A password in it is refused: it would sit
    in annotator.yaml, the shell history or the process list."""
    psycopg = _psycopg()
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"not a valid PostgreSQL URL ({_first_line(exc)})") from None
    if params.get("password"):
        raise StoreError(
            "the store URL contains a password: never put one on the command line or in "
            "annotator.yaml. Keep it in ~/.pgpass (mode 0600), a file named by PGPASSFILE, "
            "or a service file (?service=NAME in the URL); see docs/store.md")
    return {k: str(v) for k, v in params.items()}


def display_url(url: str) -> str:
    """The URL as messages name it (no password can be in it: `conninfo` refuses)."""
    return url.split("?", 1)[0] if "?" in url else url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _error(exc: BaseException, where: str, lost: str = "") -> StoreError:
    """A database error as a message for the user."""
    psycopg = _psycopg()
    lost_part = f": {lost}" if lost else ""
    text = _first_line(exc)
    errors = psycopg.errors
    if isinstance(exc, errors.LockNotAvailable):
        return StoreError(f"another session holds a lock this needs, for more than "
                          f"{LOCK_TIMEOUT} ({text}){lost_part}. Try again; if it persists, "
                          "the lead finds the session in pg_stat_activity", where)
    if isinstance(exc, errors.QueryCanceled):
        return StoreError(f"the database did not answer in time ({text}){lost_part}. It may be "
                          "overloaded or a table locked; try again", where)
    if isinstance(exc, errors.InsufficientPrivilege):
        return StoreError(f"the database refused this ({text}){lost_part}. Your role may not do "
                          "it: the lead imports and runs `annotator db init`; annotators "
                          "write only their own events", where)
    if isinstance(exc, errors.UndefinedTable | errors.InvalidSchemaName):
        return StoreError("this database has no annotator tables yet: the lead runs "
                          "`annotator db init` (see docs/store.md)", where)
    if (getattr(exc, "sqlstate", None) or "").startswith("40"):
        # a serialization failure or deadlock (class 40; psycopg makes it an
        # OperationalError, but the connection is fine): what the event was checked
        # against changed meanwhile
        return StoreError(f"another session changed what this action depends on "
                          f"({text}){lost_part}. Try again", where)
    if isinstance(exc, errors.CheckViolation):
        return StoreError(f"the database refused this value, over its size limit "
                          f"({text}){lost_part}", where)
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(f"lost the connection to the PostgreSQL server ({text}){lost_part}. "
                          "Check that it is running and reachable; the next action "
                          "reconnects", where)
    if getattr(exc, "sqlstate", None) in ("AN001", "AN002", "AN003"):
        return StoreError(f"the database refused this event ({text}){lost_part}", where)
    return StoreError(f"the database failed: {text}{lost_part}", where)


def _guarded(method):
    """Database errors while reading become a StoreError; a dropped connection is
    reconnected once (reads are safe to repeat), outside a snapshot."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            psycopg = _psycopg()
            try:
                yield from method(self, *args, **kwargs)
            except psycopg.Error as exc:
                raise _error(exc, self.path) from None
        return generator

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        psycopg = _psycopg()
        store = self if isinstance(self, PostgresStore) else self.store
        try:
            return method(self, *args, **kwargs)
        except psycopg.OperationalError as exc:
            if store._in_snapshot or not store.conn.closed and not store.conn.broken:
                raise _error(exc, self.path) from None
            store.reconnect()
            try:
                return method(self, *args, **kwargs)
            except psycopg.Error as exc2:
                raise _error(exc2, self.path) from None
        except psycopg.Error as exc:
            raise _error(exc, self.path) from None
    return wrapper


def connect(url: str, autocommit: bool = True):
    """A connection to the store's database, with a clear message when it cannot be
    had (server down, wrong host, no such role or database, no password found)."""
    psycopg = _psycopg()
    params = conninfo(url)
    params.setdefault("connect_timeout", "10")
    params.setdefault("application_name", "annotator")
    try:
        conn = psycopg.connect(**params, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise StoreError(
            f"cannot connect to the PostgreSQL server ({_first_line(exc)}). Check that it is "
            "running and that the URL (store: in annotator.yaml, --store or "
            "ANNOTATOR_STORE) names the right host, port, database and role; a password "
            "comes from ~/.pgpass, PGPASSFILE or a service file", display_url(url)) from None
    # Durable before the screen shows it, whatever the server's default.
    conn.execute("SET synchronous_commit = on")
    # Unqualified names mean the store's tables (as the SQLite store's do).
    conn.execute("SET search_path TO annotator, public")
    # A lock held by another session (any member may lock a table they can write, or
    # hold a transaction open) fails an action after a while instead of hanging the
    # screen; a lock_timeout given in the URL's options stands.
    conn.execute("SELECT set_config('lock_timeout', %s, false) "
                 "WHERE current_setting('lock_timeout') = '0'", (LOCK_TIMEOUT,))
    return conn


def _schema_version(conn) -> int | None:
    row = conn.execute("SELECT to_regclass('annotator.schema_migrations')").fetchone()
    if row[0] is None:
        return None
    return conn.execute("SELECT coalesce(max(version), 0) FROM annotator.schema_migrations"
                        ).fetchone()[0]


def init_database(url: str, blind: bool = True) -> tuple[int, int]:
    """Create or migrate the tables, in one transaction (`annotator db init`): run by
    the lead, whose role then owns them. Idempotent. Returns (version before, after).
    Also records the project's `blind` setting."""
    psycopg = _psycopg()
    conn = connect(url)
    try:
        with conn.transaction():
            # Two `db init` at once: the second waits, then finds nothing to do.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('annotator db init'))")
            conn.execute("CREATE SCHEMA IF NOT EXISTS annotator")
            conn.execute("CREATE TABLE IF NOT EXISTS annotator.schema_migrations ("
                         "version integer PRIMARY KEY, "
                         "applied_at timestamptz NOT NULL DEFAULT now())")
            before = _schema_version(conn) or 0
            latest = MIGRATIONS[-1][0]
            if before > latest:
                raise StoreError(f"this database's tables are version {before}, newer than "
                                 f"this annotator knows ({latest}): upgrade annotator",
                                 display_url(url))
            for version, sql in MIGRATIONS:
                if version > before:
                    conn.execute(sql)
                    conn.execute("INSERT INTO annotator.schema_migrations (version) "
                                 "VALUES (%s)", (version,))
            # No member keeps objects of their own in this database: a temporary table
            # or type is what a name in the functions could otherwise resolve to.
            conn.execute("DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I "
                         "FROM PUBLIC', current_database()); END $$")
            # Nor in public (servers before 15 let everyone create there, and an upgrade
            # keeps it): an operator of a member's there could stand in for pg_catalog's
            # wherever a session puts public first.
            conn.execute("DO $$ BEGIN IF to_regnamespace('public') IS NOT NULL THEN "
                         "REVOKE CREATE ON SCHEMA public FROM PUBLIC; END IF; END $$")
            conn.execute("INSERT INTO annotator.settings VALUES ('blind', %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (json.dumps(bool(blind)),))
            conn.execute("INSERT INTO annotator.totals VALUES ('corpus_id', "
                         "(random() * 4e18)::bigint) ON CONFLICT DO NOTHING")
        return before, latest
    except psycopg.Error as exc:
        raise _error(exc, display_url(url), "nothing was changed") from None
    finally:
        conn.close()


def add_annotator(url: str, name: str, curator: bool = False) -> bool:
    """Create the annotator's role (if new) and grant it what an annotator may do
    (`annotator db add-annotator`, run by the lead or a database admin). Returns
    whether the role was created. The role gets no password here: the admin sets one
    (or uses certificates); the annotator keeps theirs in ~/.pgpass."""
    from annotator.store.sqlite import check_annotator_name

    check_annotator_name(name)
    if name == GOLD:
        raise InputError(f"{GOLD!r} is the gold standard's journal, written by curators: "
                         "choose another name for the role")
    psycopg = _psycopg()
    from psycopg import sql

    conn = connect(url)
    role = sql.Identifier(name)
    try:
        with conn.transaction():
            version = _schema_version(conn)
            if version is None:
                raise StoreError("this database has no annotator tables yet: run "
                                 "`annotator db init` first", display_url(url))
            if version < MIGRATIONS[-1][0]:
                raise StoreError(f"this database's tables are version {version}; this "
                                 f"annotator needs {MIGRATIONS[-1][0]}: run `annotator db "
                                 "init` to migrate them first", display_url(url))
            created = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                   (name,)).fetchone() is None
            if created:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
            db = conn.execute("SELECT current_database()").fetchone()[0]
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(db), role))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA annotator TO {}").format(role))
            for grant in ANNOTATOR_GRANTS:
                conn.execute(sql.SQL(grant).format(role=role))
            conn.execute("INSERT INTO annotator.members (name, curator) VALUES (%s, %s) "
                         "ON CONFLICT (name) DO UPDATE SET curator = excluded.curator",
                         (name, curator))
        return created
    except psycopg.Error as exc:
        raise _error(exc, display_url(url), "nothing was changed") from None
    finally:
        conn.close()


class PostgresStore(SQLCorpusReads):
    """Corpus and journals in one PostgreSQL database (schema `annotator`)."""

    kind = "postgresql"
    # SQLCorpusReads' dialect: lower() folds Unicode here; document keys are int4
    _TABLES, _PARAM, _BIG, _HISTORY_ORDER = "annotator.", "%s", "::bigint", "h.id"
    _CONTAINS, _MAX_KEY = "strpos(lower(u.text), lower(?)) > 0", 1 << 30
    _guard = staticmethod(_guarded)

    @staticmethod
    def _needle(text: str) -> str:
        return text

    @staticmethod
    def _csv(expr: str) -> str:
        return f"string_agg(({expr})::text, ',')"

    def __init__(self, url: str):
        self.url = url
        self.path = display_url(url)
        self._in_snapshot = False
        self._snapshot_id: str | None = None
        self.conn = connect(url)
        psycopg = _psycopg()
        try:
            version = _schema_version(self.conn)
            if version is None:
                raise StoreError("this database has no annotator tables yet: the lead runs "
                                 "`annotator db init` (see docs/store.md)", self.path)
            if version > MIGRATIONS[-1][0]:
                raise StoreError(f"this database's tables are version {version}, newer than "
                                 "this annotator knows: upgrade annotator", self.path)
            if version < MIGRATIONS[-1][0]:
                # an older layout lacks what this client reads and writes (and what the
                # database enforces): a clear word, not a failure halfway through
                raise StoreError(f"this database's tables are version {version}; this "
                                 f"annotator needs {MIGRATIONS[-1][0]}: the lead runs "
                                 "`annotator db init` to migrate them", self.path)
            self.role = self.conn.execute("SELECT current_user").fetchone()[0]
            row = self.conn.execute(
                "SELECT value FROM annotator.totals WHERE name = 'corpus_id'").fetchone()
            self.corpus_id = row[0] if row else 0
            self.is_owner = self._owner()
            # a curator's role writes the gold journal (schema version 3)
            self.is_curator = version >= 3 and bool(self.conn.execute(
                "SELECT coalesce((SELECT curator FROM annotator.members WHERE name = "
                "current_user), false)").fetchone()[0])
        except psycopg.Error as exc:
            self.conn.close()
            raise _error(exc, self.path) from None
        except StoreError:
            self.conn.close()
            raise
        self._journals: dict[str, PostgresJournal] = {}
        # statement name -> the libpq connection it is prepared on
        self._prepared: dict[bytes, Any] = {}

    # -- connection -----------------------------------------------------------------
    def reconnect(self) -> None:
        """A new connection after a dropped one, with back-off; StoreError if none."""
        last: StoreError | None = None
        with contextlib.suppress(Exception):
            self.conn.close()
        for wait in BACKOFF:
            time.sleep(wait)
            try:
                self.conn = connect(self.url)
            except StoreError as exc:
                last = exc
                continue
            for j in self._journals.values():
                j._reclaim()
            return
        raise last or StoreError("cannot reconnect", self.path)

    @contextlib.contextmanager
    def snapshot(self, journals: list[PostgresJournal]) -> Iterator[None]:
        """Read the corpus and these journals as of one moment (one REPEATABLE READ,
        READ ONLY transaction: they all share this store's connection)."""
        psycopg = _psycopg()
        try:
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except psycopg.Error as exc:
            raise _error(exc, self.path) from None
        self._in_snapshot = True
        try:
            # Other connections may join this snapshot (agreement reads the journals
            # in parallel, one connection each, as the SQLite store does with threads).
            self._snapshot_id = self.conn.execute("SELECT pg_export_snapshot()"
                                                  ).fetchone()[0]
            yield
        finally:
            self._in_snapshot = False
            self._snapshot_id = None
            with contextlib.suppress(psycopg.Error):
                self.conn.execute("COMMIT")

    # -- corpus -----------------------------------------------------------------------
    def import_documents(self, docs: Iterable[Document], progress: Progress | None = None,
                         sources: dict[str, str] | None = None) -> ImportStats:
        """Import in one transaction: any error rolls back all. Only the lead's role may
        write the corpus: an annotator's import that would change nothing succeeds."""
        psycopg = _psycopg()
        stats = ImportStats()
        changed_units: list[tuple[str, int]] = []
        conn = self.conn
        try:
            with conn.transaction():
                known = {i: (k, s) for i, k, s in conn.execute(
                    "SELECT id, key, sha FROM annotator.documents")}
                next_key = max((k for k, _ in known.values()), default=0) + 1
                new_docs: list[tuple] = []
                new_units: list[tuple] = []
                seen: dict[str, str] = {}
                for n, doc in enumerate(docs, start=1):
                    if doc.id in seen:
                        raise InputError(f"document id {doc.id!r} is given twice: in "
                                         f"{seen[doc.id]} and in {doc.source}", doc.source)
                    seen[doc.id] = doc.source
                    units = doc.units()
                    hashes = [unit_hash(t) for _, t in units]
                    sha = doc.content_hash(hashes)
                    row = known.get(doc.id)
                    if row is not None and row[1] == sha:
                        stats.unchanged += 1
                        continue
                    now = datetime.now(UTC)
                    if row is None:
                        key = next_key
                        next_key += 1
                        new_docs.append((key, doc.id, doc.title, json.dumps(doc.meta),
                                         doc.source, sha, len(units), doc.title is not None,
                                         now))
                        stats.new += 1
                    else:
                        key = row[0]
                        old = {i: (t, s) for i, t, s in conn.execute(
                            "SELECT idx, text, sha FROM annotator.units WHERE doc = %s",
                            (key,))}
                        new = dict(units)
                        for i, (text, usha) in old.items():
                            if new.get(i) != text:
                                conn.execute("INSERT INTO annotator.unit_history (doc, idx, "
                                             "sha, text, replaced_at) VALUES (%s,%s,%s,%s,%s)",
                                             (key, i, usha, text, now))
                                changed_units.append((doc.id, i))
                        conn.execute("DELETE FROM annotator.units WHERE doc = %s", (key,))
                        conn.execute(
                            "UPDATE annotator.documents SET title=%s, meta=%s, source=%s, "
                            "sha=%s, n_units=%s, has_title=%s, imported_at=%s WHERE key=%s",
                            (doc.title, json.dumps(doc.meta), doc.source, sha, len(units),
                             doc.title is not None, now, key))
                        stats.changed += 1
                    new_units.extend((key, i, t, h)
                                     for (i, t), h in zip(units, hashes, strict=True))
                    stats.units += len(units)
                    if len(new_units) >= 20000:
                        self._copy_rows(new_docs, new_units)
                    if progress is not None and n % 500 == 0:
                        progress(n, None)
                self._copy_rows(new_docs, new_units)
                if stats.new or stats.changed:
                    conn.execute("INSERT INTO annotator.totals SELECT 'units', "
                                 "coalesce(sum(n_units), 0) FROM annotator.documents "
                                 "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
                if sources and self._owner():  # an annotator's paths are their own
                    conn.execute("CREATE TEMP TABLE IF NOT EXISTS new_sources "
                                 "(path text, fingerprint text) ON COMMIT DROP")
                    with conn.cursor().copy("COPY new_sources FROM STDIN") as cp:
                        for item in sources.items():
                            cp.write_row(item)
                    conn.execute("INSERT INTO annotator.sources SELECT * FROM new_sources "
                                 "ON CONFLICT (path) DO UPDATE SET "
                                 "fingerprint = excluded.fingerprint")
        except psycopg.errors.InsufficientPrivilege:
            raise StoreError(
                f"only the project's lead may import into this database (you are role "
                f"{self.role!r}): nothing was imported. The corpus here has "
                f"{self.document_count():,} document(s)", self.path) from None
        except psycopg.Error as exc:
            raise _error(exc, self.path, "nothing was imported") from None
        if changed_units:
            stats.stale = self._annotated(changed_units)
        return stats

    def _owner(self) -> bool:
        return self.conn.execute(
            "SELECT pg_has_role(current_user, relowner, 'MEMBER') FROM pg_class "
            "WHERE oid = 'annotator.documents'::regclass").fetchone()[0]

    def _copy_rows(self, doc_rows: list[tuple], unit_rows: list[tuple]) -> None:
        cur = self.conn.cursor()
        if doc_rows:
            with cur.copy("COPY annotator.documents (key, id, title, meta, source, sha, "
                          "n_units, has_title, imported_at) FROM STDIN") as cp:
                for row in doc_rows:
                    cp.write_row(row)
        if unit_rows:
            with cur.copy("COPY annotator.units (doc, idx, text, sha) FROM STDIN") as cp:
                for row in unit_rows:
                    cp.write_row(row)
        doc_rows.clear()
        unit_rows.clear()

    def _annotated(self, units: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
        rows = self.conn.execute(
            "SELECT s.doc_id, s.unit, s.annotator FROM annotator.states s "
            "JOIN unnest(%s::text[], %s::int[]) AS c(doc_id, unit) "
            "ON s.doc_id = c.doc_id AND s.unit = c.unit ORDER BY 3, 1, 2",
            ([d for d, _ in units], [u for _, u in units])).fetchall()
        return [(d, u, a) for d, u, a in rows]

    @_guarded
    def unit_count(self) -> int:
        row = self.conn.execute("SELECT value FROM annotator.totals WHERE name = 'units'"
                                ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _doc(row: tuple) -> DocInfo:
        key, doc_id, title, meta, source, n_units, has_title = row
        return DocInfo(key, doc_id, title, meta, n_units, bool(has_title), source)

    @_guarded
    def documents_with_prefix(self, prefix: str, limit: int = 20) -> list[DocInfo]:
        """Documents whose id starts with `prefix`, by id (at most `limit`)."""
        if not prefix:
            return []
        rows = self.conn.execute(
            f"SELECT {self._DOC_COLS} FROM annotator.documents WHERE starts_with(id, %s) "
            "ORDER BY id LIMIT %s", (prefix, limit)).fetchall()
        return [self._doc(row) for row in rows]

    @_guarded
    def iter_documents(self) -> Iterator[DocInfo]:
        last = 0
        while True:  # by pages: flat memory, and no cursor held outside a transaction
            rows = self.conn.execute(f"SELECT {self._DOC_COLS} FROM annotator.documents "
                                     "WHERE key > %s ORDER BY key LIMIT %s",
                                     (last, PAGE)).fetchall()
            yield from (self._doc(r) for r in rows)
            if len(rows) < PAGE:
                return
            last = rows[-1][0]
    # -- assignments (annotator/team/assign.py) ----------------------------------------
    def add_assignments(self, plan) -> int:
        """Add the rows `plan(document keys, existing rows)` returns, in one transaction
        that holds the table locked from its reads to its writes: a concurrent `assign`
        waits, nothing is half-written. Only the lead's role may (annotators have
        SELECT only: the database refuses them)."""
        psycopg = _psycopg()
        conn = self.conn
        try:
            with conn.transaction():
                # EXCLUSIVE: readers go on, a second writer waits for this plan's commit
                conn.execute("LOCK TABLE annotator.assignments IN EXCLUSIVE MODE")
                keys = [k for (k,) in conn.execute(
                    "SELECT key FROM annotator.documents ORDER BY key")]
                existing = [(d, a, bool(c)) for d, a, c in conn.execute(
                    "SELECT doc_key, annotator, calibration FROM annotator.assignments")]
                rows = plan(keys, existing)
                with conn.cursor().copy("COPY annotator.assignments (doc_key, annotator, "
                                        "calibration) FROM STDIN") as cp:
                    for d, a, c in sorted(rows, key=lambda r: (r[1], r[0])):
                        cp.write_row((d, a, bool(c)))
        except psycopg.Error as exc:
            raise _error(exc, self.path, "nothing was assigned") from None
        return len(rows)

    # -- journals ---------------------------------------------------------------------
    def has_journal(self, name: str) -> bool:
        """Whether a journal of this name has any state (without creating it)."""
        return name in self._journals or name in self._names()

    def annotators(self) -> list[str]:
        """Annotators added as members, and everyone whose states this role may see;
        not the gold (a journal, not an annotator: as on SQLite), nor a curator who
        annotated nothing."""
        return [n for n in self._names() if n != GOLD]

    @_guarded
    def _names(self) -> list[str]:
        # the distinct annotators by skipping along the index, not scanning every state
        rows = self.conn.execute(
            "WITH RECURSIVE a(n) AS (SELECT min(annotator) FROM annotator.states "
            "UNION ALL SELECT (SELECT min(annotator) FROM annotator.states "
            "WHERE annotator > a.n) FROM a WHERE a.n IS NOT NULL) "
            "SELECT n FROM a WHERE n IS NOT NULL UNION "
            "SELECT name FROM annotator.members WHERE NOT curator ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    @_guarded
    def member_annotators(self) -> list[str]:
        """The annotators added with `db add-annotator` (not curators): on PostgreSQL
        the team is the database's roles, so `assign` takes them by default."""
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM annotator.members WHERE NOT curator ORDER BY name").fetchall()]

    @_guarded
    def sees_all(self) -> bool:
        return self.conn.execute("SELECT annotator.sees_all()").fetchone()[0]

    def journal(self, annotator: str, schema: LabelSchema | None = None) -> PostgresJournal:
        from annotator.store.sqlite import check_annotator_name

        check_annotator_name(annotator)
        j = self._journals.get(annotator)
        if j is None:
            j = PostgresJournal(self, annotator, schema)
            self._journals[annotator] = j
        elif schema is not None:
            j.schema = schema
        return j

    def readable_journals(self) -> tuple[list[PostgresJournal], list[str],
                                         dict[str, StoreError | OSError]]:
        """(journals this role may read, names kept private by blind annotation, {})."""
        names = self.annotators()
        if self.sees_all():
            return [self.journal(n) for n in names], [], {}
        return ([self.journal(n) for n in names if n == self.role],
                [n for n in names if n != self.role], {})

    def reading_journals(self) -> list[PostgresJournal]:
        journals, private, _ = self.readable_journals()
        if private:
            raise StoreError(
                f"cannot read the journal(s) of {', '.join(private)}: annotation is blind, "
                "and the database lets each annotator's role read only their own. A curator "
                "or the lead can; or the lead sets `blind: false` in annotator.yaml and runs "
                "`annotator db init` once the round is over", self.path)
        return journals

    def _exec_prepared(self, statement: tuple[bytes, bytes], texts: tuple[str | None, ...]):
        """Run a prepared statement (preparing it on a new connection) with text
        parameters; its result (tuples), or the psycopg error psycopg would raise: an
        OperationalError when the connection is lost."""
        psycopg = _psycopg()
        conn = self.conn
        pq = psycopg.pq
        encoding = _text_encoding(conn)
        params = []
        for t in texts:
            if t is not None and "\0" in t:  # libpq's parameters are C strings
                raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) "
                                        "bytes")
            params.append(None if t is None else t.encode(encoding))
        with conn.lock:
            pgconn = conn.pgconn
            for attempt in range(2):
                if self._prepared.get(statement[0]) is not pgconn:
                    self._check_result(pgconn, pgconn.prepare(statement[0], statement[1]),
                                       pq.ExecStatus.COMMAND_OK)
                    self._prepared[statement[0]] = pgconn
                res = pgconn.exec_prepared(statement[0], params)
                # gone from the session (DEALLOCATE, DISCARD ALL, a pooler handing over
                # another server connection): prepared again, once
                if attempt or res.status == pq.ExecStatus.TUPLES_OK or res.error_field(
                        pq.DiagnosticField.SQLSTATE) != b"26000":
                    break
                self._prepared.pop(statement[0], None)
        return self._check_result(pgconn, res, pq.ExecStatus.TUPLES_OK)

    @staticmethod
    def _check_result(pgconn, res, ok):
        psycopg = _psycopg()
        if res.status == ok:
            return res
        if pgconn.status == psycopg.pq.ConnStatus.BAD:
            exc = psycopg.errors.error_from_result(res)
            if isinstance(exc, psycopg.OperationalError):
                raise exc
            raise psycopg.OperationalError(_first_line(exc) or "the connection was lost")
        if res.status == psycopg.pq.ExecStatus.FATAL_ERROR:
            raise psycopg.errors.error_from_result(res)
        raise psycopg.InterfaceError(f"unexpected result: {res.status!r}")

    def close(self) -> None:
        for j in self._journals.values():
            j.release()
        self._journals.clear()
        with contextlib.suppress(Exception):
            self.conn.close()


class _Stale(Exception):
    """The database refused an event: it does not start from the stored state."""


class PostgresJournal(JournalMeta):
    """One annotator's events and derived state, in the shared tables."""

    def __init__(self, store: PostgresStore, annotator: str, schema: LabelSchema | None):
        self.store = store
        self.annotator = annotator
        self.schema = schema
        self.path = f"{store.path} (journal of {annotator})"
        # Only the annotator's own role writes their events (the database enforces it);
        # the lead's role, which owns the tables, may write any (`db copy`).
        self.readonly = not (annotator == store.role or store.is_owner
                             or (annotator == GOLD and store.is_curator))
        self._claimed = False
        # (doc_id, unit) -> (the unit, its state) as this client last stored it: the
        # next action on the unit needs no read first. A stale entry (another session
        # wrote the unit) costs nothing but a retry: the database refuses an event that
        # does not start from the stored state.
        self._known: dict[tuple[str, int], tuple[Unit | None, dict | None]] = {}

    @property
    def conn(self):
        return self.store.conn

    # -- one session per annotator ------------------------------------------------------
    def _lock_key(self) -> str:
        return f"annotator session {self.annotator}"

    def claim(self) -> None:
        """Hold this journal for one session: a session-level advisory lock, which the
        server drops when the connection ends (a killed session leaves none behind)."""
        if self.readonly:
            raise StoreError(
                f"you are connected as role {self.store.role!r}: you may annotate only as "
                f"{self.store.role!r} here (drop --as, or connect as {self.annotator!r})",
                self.path)
        got = self.conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                (self._lock_key(),)).fetchone()[0]
        if not got:
            raise StoreError(
                f"{self.annotator} is already annotating in this project (another session "
                "holds it). Close that session first (q); two sessions of one annotator "
                "would undo each other's actions", self.path)
        self._claimed = True

    def _reclaim(self) -> None:
        if self._claimed:
            self._claimed = False
            self.claim()

    def release(self) -> None:
        if self._claimed:
            with contextlib.suppress(Exception):
                self.conn.execute("SELECT pg_advisory_unlock(hashtext(%s))",
                                  (self._lock_key(),))
            self._claimed = False

    # -- writing ----------------------------------------------------------------------
    def _insert(self, event_id: uuid.UUID, doc_id: str, unit: int, kind: str, action: dict,
                before: dict | None, after: dict | None, seconds: float) -> int:
        """INSERT the event (autocommit: the trigger's derived rows commit with it);
        retried on a dropped connection with the same id. Returns its seq."""
        texts = (str(event_id), self.annotator, doc_id, str(int(unit)), kind,
                 json.dumps(action), None if before is None else json.dumps(before),
                 None if after is None else json.dumps(after), repr(float(seconds)))

        def insert() -> int:
            res = self.store._exec_prepared(_EVENT_INSERT, texts)
            row = (int(res.get_value(0, 0)),) if res.ntuples else None
            if row is None:  # stored by an earlier attempt whose answer was lost
                row = self.conn.execute("SELECT seq FROM annotator.events WHERE id = %s",
                                        (event_id,)).fetchone()
            return row[0]

        return self._retrying(insert)

    def _retrying(self, step):
        """Run `step`; after a dropped connection, reconnect (with back-off) and run it
        once more. Errors become a StoreError saying the action was NOT saved."""
        psycopg = _psycopg()
        for attempt in range(2):
            try:
                return step()
            except psycopg.OperationalError as exc:
                if attempt or not (self.conn.broken or self.conn.closed):
                    raise _error(exc, self.path, NOT_SAVED) from None
                try:
                    self.store.reconnect()
                except StoreError as lost:
                    raise StoreError(f"{lost.problems[0].message}; {NOT_SAVED}",
                                     self.path) from None
            except psycopg.Error as exc:
                if getattr(exc, "sqlstate", None) == "AN001":
                    raise _Stale from None
                raise _error(exc, self.path, NOT_SAVED) from None
        raise AssertionError("unreachable")

    def _current(self, doc_id: str, unit: int) -> tuple[Unit | None, dict | None]:
        """The unit and its stored state: the read before the first action on a unit."""
        res = self.store._exec_prepared(_CURRENT, (self.annotator, doc_id, str(int(unit))))
        if not res.ntuples:
            return None, self.state(doc_id, unit)
        encoding = _text_encoding(self.conn)
        text, sha, state = (res.get_value(0, k) for k in range(3))
        return (Unit(doc_id, unit, text.decode(encoding), sha.decode(encoding)),
                None if state is None else json.loads(state.decode(encoding)))

    def _writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.annotator}'s journal belongs to another role: it is only "
                             "read here", self.path)

    def apply(self, doc_id: str, unit: int, action: dict, seconds: float = 0.0) -> Change:
        """Store the action as an event; the database derives the state in the same
        transaction. Returns only after COMMIT."""
        self._writable()
        for fresh in (False, True):
            u, before = self._read_for_write(doc_id, unit, fresh)
            if u is None:
                raise InputError(f"no unit {unit} in document {doc_id!r}")
            after = apply_action(before, action, self.schema, u.text)
            try:
                seq = self._insert(uuid.uuid4(), doc_id, unit, action["type"], action,
                                   before, after, seconds)
            except _Stale:
                if fresh:
                    raise self._stale_error() from None
                continue
            self._known[(doc_id, unit)] = (u, after)
            return Change(doc_id, unit, after, seq)
        raise AssertionError("unreachable")

    def _stale_error(self) -> StoreError:
        return StoreError(f"another session of {self.annotator} is writing this journal: "
                          f"{NOT_SAVED}", self.path)

    def _read_for_write(self, doc_id: str, unit: int, fresh: bool = False
                        ) -> tuple[Unit | None, dict | None]:
        known = None if fresh else self._known.get((doc_id, unit))
        if known is not None:
            return known
        self._known.pop((doc_id, unit), None)
        return self._retrying(lambda: self._current(doc_id, unit))

    def undo(self) -> Change | None:
        """Restore the `before` state of the latest active action."""
        return self._step("undo", self._guard_read(
            "SELECT e.seq, e.doc_id, e.unit, e.before FROM annotator.events e "
            "WHERE e.annotator = %s AND e.kind NOT IN ('undo', 'redo') AND NOT EXISTS "
            "(SELECT 1 FROM annotator.undo_marks m WHERE m.annotator = e.annotator AND m.seq = e.seq AND m.undone > 0) "
            "ORDER BY e.seq DESC LIMIT 1"))

    def redo(self) -> Change | None:
        """Restore the `after` state of the action undone last."""
        return self._step("redo", self._guard_read(
            "SELECT e.seq, e.doc_id, e.unit, e.after FROM annotator.events e "
            "JOIN annotator.undo_marks m ON m.annotator = e.annotator AND m.seq = e.seq "
            "WHERE m.annotator = %s "
            "AND m.undone = 1 ORDER BY m.undone_by DESC LIMIT 1"))

    def _guard_read(self, sql: str) -> tuple | None:
        self._writable()
        return self._retrying(lambda: self.conn.execute(sql, (self.annotator,)).fetchone())

    def _step(self, kind: str, row: tuple | None) -> Change | None:
        if row is None:
            return None
        target, doc_id, unit, state = row
        event_id = uuid.uuid4()
        u, before = self._read_for_write(doc_id, unit, fresh=True)
        try:
            seq = self._insert(event_id, doc_id, unit, kind, {"type": kind, "event": target},
                               before, state, 0.0)
        except _Stale:
            raise self._stale_error() from None
        self._known[(doc_id, unit)] = (u, state)
        return Change(doc_id, unit, state or {}, seq)

    def set_position(self, doc_id: str, unit: int) -> None:
        psycopg = _psycopg()
        try:
            self.conn.execute(
                "INSERT INTO annotator.positions (annotator, doc_id, unit) VALUES "
                "(%s, %s, %s) ON CONFLICT (annotator) DO UPDATE SET doc_id = excluded.doc_id, "
                "unit = excluded.unit", (self.annotator, doc_id, unit))
        except psycopg.Error as exc:
            raise _error(exc, self.path, "where you are was not saved") from None

    # -- reading ----------------------------------------------------------------------
    @staticmethod
    def _info(updated_at: Any, seconds: float, sha: str) -> dict:
        return {"updated_at": iso(updated_at), "seconds": seconds, "unit_sha": sha}

    @_guarded
    def state(self, doc_id: str, unit: int) -> dict | None:
        row = self.conn.execute(
            "SELECT state FROM annotator.states WHERE annotator = %s AND doc_id = %s "
            "AND unit = %s", (self.annotator, doc_id, unit)).fetchone()
        return row[0] if row else None

    @_guarded
    def states(self, doc_id: str) -> dict[int, dict]:
        return dict(self.conn.execute(
            "SELECT unit, state FROM annotator.states WHERE annotator = %s AND doc_id = %s",
            (self.annotator, doc_id)).fetchall())

    @_guarded
    def info(self, doc_id: str, unit: int) -> dict | None:
        row = self.conn.execute(
            "SELECT updated_at, seconds, unit_sha FROM annotator.states WHERE annotator = %s "
            "AND doc_id = %s AND unit = %s", (self.annotator, doc_id, unit)).fetchone()
        return self._info(*row) if row else None

    @_guarded
    def iter_states(self) -> Iterator[tuple[str, int, dict, dict]]:
        """(doc_id, unit, state, info) in document order, by pages."""
        last = (-(1 << 31), -1)
        while True:
            rows = self.conn.execute(
                "SELECT doc_id, unit, state, updated_at, seconds, unit_sha, doc_key "
                "FROM annotator.states WHERE annotator = %s AND (doc_key, unit) > (%s, %s) "
                "ORDER BY doc_key, unit LIMIT %s", (self.annotator, *last, PAGE)).fetchall()
            for doc_id, unit, state, updated_at, seconds, sha, key in rows:
                info = self._info(updated_at, seconds, sha)
                info["doc_key"] = key
                yield doc_id, unit, state, info
            if len(rows) < PAGE:
                return
            last = (rows[-1][6], rows[-1][1])

    @_guarded
    def done_states(self, doc_id: str, skipped: bool = False
                    ) -> Iterator[tuple[int, dict, dict]]:
        statuses = ["done", "skipped"] if skipped else ["done"]
        rows = self.conn.execute(
            "SELECT unit, state, updated_at, seconds, unit_sha FROM annotator.states "
            "WHERE annotator = %s AND doc_id = %s AND status = ANY(%s) ORDER BY unit",
            (self.annotator, doc_id, statuses)).fetchall()
        for unit, state, updated_at, seconds, sha in rows:
            yield unit, state, self._info(updated_at, seconds, sha)

    @_guarded
    def agreement_columns(self, base: int) -> tuple[
            np.ndarray, dict[tuple[str, str], np.ndarray], list[tuple[int, dict]]]:
        """The agreement fast path, aggregated on the server: one string of unit keys
        per label, not one row per unit (see SQLiteJournal.agreement_columns). Inside a
        snapshot, on a connection of its own that joins it: journals read in parallel."""
        with self._reader() as conn:
            return self._columns(conn, base)

    def agreement_and_skip_columns(self, base: int) -> tuple[tuple, tuple, tuple]:
        """As SQLiteJournal.agreement_and_skip_columns: the three reads on this
        journal's own connection (in a snapshot), so journals are read in parallel."""
        with self._reader() as conn:
            return (self._columns(conn, base), self._skips(conn, base),
                    self._decided(conn, base))

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Any]:
        """A connection joining the store's snapshot (one per journal: they run at
        once), or the store's own outside a snapshot."""
        snapshot = self.store._snapshot_id
        if snapshot is None:
            yield self.conn
            return
        conn = connect(self.store.url)
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # an id we were given
            yield conn
        finally:
            conn.close()

    def _columns(self, conn, base: int) -> tuple[
            np.ndarray, dict[tuple[str, str], np.ndarray], list[tuple[int, dict]]]:
        a = self.annotator
        # Each column packed on the server as big-endian int64s end to end (int8send),
        # fetched in binary: no digits formatted there nor parsed here, one value a label.
        cur = conn.cursor(binary=True)
        (done,) = cur.execute(
            "SELECT string_agg(int8send(doc_key::bigint * %s + unit), ''::bytea) "
            "FROM annotator.states WHERE annotator = %s AND status = 'done'",
            (base, a)).fetchone()
        labels = {(layer, label): int_bytes(keys) for layer, label, keys in cur.execute(
            "SELECT c.layer, c.label, l.keys FROM (SELECT code, "
            "string_agg(int8send(doc_key::bigint * %s + unit), ''::bytea) AS keys "
            "FROM annotator.labels WHERE annotator = %s GROUP BY code) l "
            "JOIN annotator.label_codes c ON c.code = l.code", (base, a)).fetchall()}
        spans = [(key, state) for key, state in conn.execute(
            "SELECT doc_key::bigint * %s + unit, state FROM annotator.states "
            "WHERE annotator = %s AND status = 'done' AND n_spans > 0", (base, a))]
        return int_bytes(done), labels, spans

    @_guarded
    def done_count(self, titles: bool = True) -> int:
        """Units decided: marked done, or not content (skipped), among the units the
        corpus still has; titles only if they are units (`titles`)."""
        first = "(1 - d.has_title::int)" if titles else "1"
        return self.conn.execute(
            "SELECT count(*) FROM annotator.states s JOIN annotator.documents d "
            "ON d.key = s.doc_key WHERE s.annotator = %s AND s.status IN "
            f"('done', 'skipped') AND s.unit >= {first} "
            "AND s.unit <= d.n_units - d.has_title::int", (self.annotator,)).fetchone()[0]

    @_guarded
    def decided_columns(self, base: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(unit keys that track decided layers, {layer: unit keys that decided it});
        see SQLiteJournal.decided_columns. Read from the states themselves (the few
        that track it, by a partial index)."""
        return self._decided(self.conn, base)

    def _decided(self, conn, base: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        a = self.annotator
        cur = conn.cursor(binary=True)
        (partial,) = cur.execute(
            "SELECT string_agg(int8send(doc_key::bigint * %s + unit), ''::bytea) FROM "
            "annotator.states WHERE annotator = %s AND decided",
            (base, a)).fetchone()
        layers = {layer: int_bytes(keys) for layer, keys in cur.execute(
            "SELECT d.layer, string_agg(int8send(s.doc_key::bigint * %s + s.unit), "
            "''::bytea) FROM annotator.states s, json_array_elements_text("
            "s.state->'decided') AS d(layer) WHERE s.annotator = %s AND s.decided "
            "GROUP BY d.layer", (base, a)).fetchall()}
        return int_bytes(partial), layers

    @_guarded
    def skip_columns(self, base: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit keys decided: done or skipped, unit keys skipped); see SQLiteJournal."""
        return self._skips(self.conn, base)

    def _skips(self, conn, base: int) -> tuple[np.ndarray, np.ndarray]:
        decided, skipped = conn.cursor(binary=True).execute(
            "SELECT string_agg(int8send(doc_key::bigint * %s + unit), ''::bytea), "
            "string_agg(CASE WHEN status = 'skipped' THEN int8send(doc_key::bigint * %s "
            "+ unit) END, ''::bytea) FROM annotator.states WHERE annotator = %s AND "
            "status IN ('done', 'skipped')", (base, base, self.annotator)).fetchone()
        return int_bytes(decided), int_bytes(skipped)

    def apply_many(self, items, progress=None, chunk=None, skip_unchanged: bool = False,
                   lost: str = NOT_SAVED) -> int:
        """`apply` for many actions, `chunk` of them per transaction (`chunk=None`: all
        in ONE transaction, stored or not at all: an import), as on SQLite. Each event's
        state is derived by the database's trigger in the same transaction.
        `skip_unchanged`: an action that leaves the unit's state as it was stores no
        event. Returns how many were applied."""
        from psycopg.types.json import Json

        self._writable()
        psycopg = _psycopg()
        it = iter(items)
        limit = chunk or float("inf")
        n = 0
        while True:
            k = 0
            done: dict[tuple[str, int], tuple[Unit, dict]] = {}
            try:
                with self.conn.transaction():
                    for doc_id, unit, action in it:
                        if (doc_id, unit) in done:
                            u, before = done[(doc_id, unit)]
                        else:
                            u, before = self._current(doc_id, unit)
                        if u is None:
                            raise InputError(f"no unit {unit} in document {doc_id!r}")
                        after = apply_action(before, action, self.schema, u.text)
                        if skip_unchanged and before is not None and after == before:
                            continue
                        self.conn.execute(
                            "INSERT INTO annotator.events (annotator, doc_id, unit, kind, "
                            "action, before, after) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                            (self.annotator, doc_id, unit, action["type"], Json(action),
                             Json(before) if before is not None else None, Json(after)))
                        done[(doc_id, unit)] = (u, after)
                        k += 1
                        if k >= limit:
                            break
            except psycopg.Error as exc:
                if getattr(exc, "sqlstate", None) == "AN001":
                    raise self._stale_error() from None
                raise _error(exc, self.path, lost) from None
            self._known.update(done)  # committed: the client's cache follows
            n += k
            if progress is not None:
                progress(n, None)
            if k < limit:
                return n

    def apply_fresh(self, doc_keys: Iterable[int], units: Iterable[int],
                    which: Iterable[int], actions: list[dict],
                    progress: Progress | None = None, chunk: int = 250_000,
                    lost: str = NOT_SAVED) -> tuple[int, list[tuple[int, int]]]:
        """The automatic merge's bulk write, as `SQLiteJournal.apply_fresh`: the action
        `actions[which[i]]` on unit (doc_keys[i], units[i]), for units without a state
        in this journal. The rows go to the server by COPY and in as one INSERT ...
        SELECT per `chunk` (each chunk one transaction, whole or not at all), so the
        database's triggers still check and derive every event (its writer, that it
        starts from no state, the unit exists), but no event costs a round trip. The
        rows travel as arrays (`unnest`), not through a temporary table: a curator's
        role may not create one.
        Returns (rows applied, the (doc_key, unit) rows skipped because the unit has a
        state already). Rows whose unit is not in the corpus are dropped."""
        templates = fresh_templates(actions, self.schema)
        self._writable()
        psycopg = _psycopg()
        # the same text psycopg's Json adapter sends for `apply`: the states read back
        # byte for byte alike whichever path wrote them
        kinds = [action["type"] for action, _ in templates]
        acts = [json.dumps(action) for action, _ in templates]
        afters = [json.dumps(after) for _, after in templates]
        rows = zip(doc_keys, units, which, strict=True)
        with_rows = (
            "WITH r AS (SELECT * FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::int[]) "
            "AS r(ord, doc_key, unit, t)), f AS (SELECT r.*, d.id AS doc_id, EXISTS (SELECT "
            "1 FROM annotator.states s WHERE s.annotator = %s AND s.doc_id = d.id AND "
            "s.unit = r.unit) AS had FROM r JOIN annotator.documents d ON d.key = r.doc_key "
            "WHERE EXISTS (SELECT 1 FROM annotator.units u WHERE u.doc = r.doc_key AND "
            "u.idx = r.unit)) ")
        n, skipped, start = 0, [], 0
        conn = self.conn
        try:
            while True:
                part = list(itertools.islice(rows, chunk))
                cols = [list(range(start, start + len(part))),
                        *([list(c) for c in zip(*part, strict=True)] or [[], [], []])]
                start += len(part)
                with conn.transaction():
                    skipped += [(d, u) for d, u in conn.execute(
                        with_rows + "SELECT doc_key, unit FROM f WHERE had ORDER BY ord",
                        (*cols, self.annotator)).fetchall()]
                    cur = conn.execute(
                        with_rows + ", t AS (SELECT * FROM unnest(%s::text[], %s::text[], "
                        "%s::text[]) WITH ORDINALITY AS t(kind, action, after, n)) "
                        "INSERT INTO annotator.events (annotator, doc_id, unit, kind, action, "
                        "before, after) SELECT %s, f.doc_id, f.unit, t.kind, t.action::json, "
                        "NULL, t.after::json FROM f JOIN t ON t.n = f.t + 1 WHERE NOT f.had "
                        "ORDER BY f.ord",
                        (*cols, self.annotator, kinds, acts, afters, self.annotator))
                    n += cur.rowcount
                self._known.clear()  # units that had no state have one now
                if progress is not None:
                    progress(n, None)
                if len(part) < chunk:
                    return n, skipped
        except psycopg.Error as exc:
            raise _error(exc, self.path, lost) from None

    @_guarded
    def meta_value(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM annotator.journal_meta WHERE annotator = "
                                "%s AND key = %s", (self.annotator, key)).fetchone()
        return row[0] if row else None

    def set_meta_value(self, key: str, value: str) -> None:
        self._writable()
        psycopg = _psycopg()
        try:
            self.conn.execute(
                "INSERT INTO annotator.journal_meta (annotator, key, value) VALUES (%s, %s, "
                "%s) ON CONFLICT (annotator, key) DO UPDATE SET value = excluded.value",
                (self.annotator, key, value))
        except psycopg.Error as exc:
            raise _error(exc, self.path, "not recorded") from None

    @_guarded
    def last_seq(self) -> int | None:
        """The sequence number of this journal's latest event (None: no events)."""
        return self.conn.execute("SELECT max(seq) FROM annotator.events WHERE annotator = %s",
                                 (self.annotator,)).fetchone()[0]

    @_guarded
    def position(self) -> tuple[str, int] | None:
        row = self.conn.execute("SELECT doc_id, unit FROM annotator.positions "
                                "WHERE annotator = %s", (self.annotator,)).fetchone()
        return (row[0], row[1]) if row else None

    @_guarded
    def first_not_done(self, assigned: bool = False, titles: bool = True
                       ) -> tuple[str, int] | None:
        row = self.conn.execute(
            "SELECT d.id, u.idx FROM annotator.units u JOIN annotator.documents d "
            "ON u.doc = d.key WHERE NOT EXISTS (SELECT 1 FROM annotator.states s WHERE "
            "s.annotator = %s AND s.status IN ('done', 'skipped') AND s.doc_key = u.doc "
            "AND s.unit = u.idx) " + ("" if titles else "AND u.idx > 0 ") +
            "ORDER BY u.doc, u.idx LIMIT 1", (self.annotator,)).fetchone()
        return (row[0], row[1]) if row else None

    @_guarded
    def events(self, limit: int | None = None) -> list[dict]:
        sql = ("SELECT e.seq, e.ts, e.doc_id, e.unit, e.kind, e.action, "
               "coalesce(m.undone, 0) FROM annotator.events e LEFT JOIN annotator.undo_marks m "
               "ON m.annotator = e.annotator AND m.seq = e.seq WHERE e.annotator = %s "
               "ORDER BY e.seq DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [{"seq": s, "ts": iso(ts), "doc_id": d, "unit": u, "kind": k, "action": a,
                 "undone": bool(un)}
                for s, ts, d, u, k, a, un in self.conn.execute(sql, (self.annotator,))]

    # -- checking -----------------------------------------------------------------------
    def verify(self) -> list[str]:
        """Replay every event from the first and compare with the stored states and the
        label index (the database already refused any event whose `before` was not the
        stored state; this also checks each action's result)."""
        psycopg = _psycopg()
        try:
            events = ((s, d, u, k, a, b, af) for s, d, u, k, a, b, af in self.conn.execute(
                "SELECT seq, doc_id, unit, kind, action, before, after FROM annotator.events "
                "WHERE annotator = %s ORDER BY seq", (self.annotator,)).fetchall())
            stored = {(d, u): st for d, u, st in self.conn.execute(
                "SELECT doc_id, unit, state FROM annotator.states WHERE annotator = %s",
                (self.annotator,))}

            def text(doc_id: str, unit: int) -> str | None:
                u = self.store.unit(doc_id, unit)
                return u.text if u else None

            problems = replay_problems(events, stored, text)
            (bad,) = self.conn.execute(
                "SELECT count(*) FROM ((SELECT c.layer, c.label, s.doc_key, s.unit "
                "FROM annotator.states s, annotator.state_labels(s.state::jsonb) l "
                "JOIN annotator.label_codes c ON c.layer = l.layer AND c.label = l.label "
                "WHERE s.annotator = %s) EXCEPT (SELECT c.layer, c.label, l.doc_key, l.unit "
                "FROM annotator.labels l JOIN annotator.label_codes c ON c.code = l.code "
                "WHERE l.annotator = %s)) x", (self.annotator, self.annotator)).fetchone()
            if bad:
                problems.append(f"the label index differs from the stored states ({bad} row(s))")
            return problems
        except psycopg.Error as exc:
            return [_first_line(exc)]

    def close(self) -> None:
        self.release()
