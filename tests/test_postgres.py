"""The PostgreSQL store against a real server (tests/pg_server.py): set-up, roles and
what the database itself refuses them, durability and faults.

Each annotator is a database role. The attacks below go straight at the database with
the annotator's own connection (psql would do the same), not through our client."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from util import run_cli

from annotator.corpus import Document
from annotator.errors import InputError, StoreError
from annotator.store.postgres import PostgresStore, add_annotator, init_database

psycopg = pytest.importorskip("psycopg")

DOCS = [Document("d1", "Title", ["He said no.", "Second one."]),
        Document("d2", None, ["Only body."])]
TOGGLE = {"type": "toggle_label", "layer": "devices", "label": "sovereignty"}


def _as(pg_server, url: str, user: str) -> str:
    """The same database, connected as another role."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    return pg_server.url(name, user=user)


@pytest.fixture
def team(pg_server, pg_url):
    """A project database: the lead imported the corpus; alice and bob annotate, carol
    is a curator; alice and bob each annotated d1 unit 1."""
    lead = PostgresStore(pg_url)
    lead.import_documents(DOCS)
    for name, curator in (("alice", False), ("bob", False), ("carol", True)):
        add_annotator(pg_url, name, curator=curator)
    stores = {"lead": lead}
    for name in ("alice", "bob", "carol"):
        stores[name] = PostgresStore(_as(pg_server, pg_url, name))
    stores["alice"].journal("alice").apply("d1", 1, TOGGLE)
    stores["alice"].journal("alice").apply("d1", 2, {"type": "mark_done"})
    stores["alice"].journal("alice").set_position("d1", 2)
    stores["bob"].journal("bob").apply("d1", 1, {"type": "mark_done"})
    yield stores
    for s in stores.values():
        s.close()


def _raw(pg_server, pg_url, user):
    return psycopg.connect(_as(pg_server, pg_url, user), autocommit=True)


# -- set-up ---------------------------------------------------------------------
def test_db_init_is_idempotent_and_versioned(pg_url):
    assert init_database(pg_url) == (4, 4)  # the fixture ran it once already
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM annotator.schema_migrations ORDER BY "
                            "version").fetchall() == [(1,), (2,), (3,), (4,)]
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = "
                             "'annotator' AND tablename = 'documents'").fetchone()[0]
    assert owner == "lead"  # the lead's role owns the corpus tables


def test_store_on_an_uninitialised_database_says_run_db_init(pg_server):
    name = pg_server.new_database("fresh_uninit")
    with pytest.raises(StoreError, match="db init"):
        PostgresStore(pg_server.url(name, user="lead"))


def test_cli_db_init_add_annotator_and_status(pg_server, project: Path):
    name = pg_server.new_database("cli_flow")
    url = pg_server.url(name, user="lead")
    r = run_cli("db", "init", "--store", url, cwd=project)
    assert r.returncode == 0 and "created the tables (version 4)" in r.stderr, r.stderr
    r = run_cli("db", "init", "--store", url, cwd=project)
    assert r.returncode == 0 and "up to date" in r.stderr, r.stderr
    r = run_cli("db", "add-annotator", "dora", "--store", url, cwd=project)
    assert r.returncode == 0 and "created role dora" in r.stderr, r.stderr
    (project / "a.txt").write_text("First paragraph.\n\nSecond paragraph.\n")
    r = run_cli("import", "a.txt", "--store", url, cwd=project)
    assert r.returncode == 0 and "1 new" in r.stderr, r.stderr
    dora = PostgresStore(pg_server.url(name, user="dora"))
    dora.journal("dora").apply("a", 1, {"type": "mark_done"})
    dora.close()
    r = run_cli("status", "--store", url, cwd=project)
    assert r.returncode == 0, r.stderr
    assert "dora" in r.stdout and "1 document(s), 2 unit(s)" in r.stdout
    # an annotator may not import: a clear refusal, nothing written
    (project / "b.txt").write_text("Another.\n")
    r = run_cli("import", "b.txt", "--store", pg_server.url(name, user="dora"), cwd=project)
    assert r.returncode == 1 and "only the project's lead may import" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_password_in_url_is_refused(project: Path):
    for url in ("postgresql://alice:s3cret@localhost/db",
                "postgresql:///db?host=/tmp&password=s3cret"):
        r = run_cli("status", "--store", url, cwd=project)
        assert r.returncode == 1, r.stderr
        assert "contains a password" in r.stderr and "~/.pgpass" in r.stderr
        assert "s3cret" not in r.stderr
    (project / "annotator.yaml").write_text("store: postgresql://a:pw@h/db\n")
    r = run_cli("status", cwd=project)
    assert r.returncode == 1 and "annotator.yaml:1:" in r.stderr, r.stderr


def test_connection_refused_at_start_up_is_a_clear_message(project: Path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://alice@127.0.0.1:{port}/db"
    r = run_cli("status", "--store", url, cwd=project)
    assert r.returncode == 1
    assert "cannot connect to the PostgreSQL server" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("annotate", "--store", url, cwd=project, timeout=60)
    assert r.returncode == 1 and "cannot connect" in r.stderr, r.stderr


def test_missing_driver_is_a_clear_message(project: Path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['psycopg'] = None\n"
            "from annotator.cli import main\n"
            "sys.exit(main(['status', '--store', 'postgresql:///x']))")
    r = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "annotator[postgresql]" in r.stderr, r.stderr


# -- what the database refuses an annotator ---------------------------------------------
def test_blind_bob_reads_none_of_alices_rows(team, pg_server, pg_url):
    with _raw(pg_server, pg_url, "bob") as conn:
        for table in ("events", "states", "labels", "undo_marks", "positions"):
            rows = conn.execute(f"SELECT DISTINCT annotator FROM annotator.{table}").fetchall()
            assert ("alice",) not in rows, table
        assert conn.execute("SELECT count(*) FROM annotator.events").fetchone()[0] == 1
        # the corpus is readable
        assert conn.execute("SELECT count(*) FROM annotator.units").fetchone()[0] == 4
    bob = team["bob"]
    journals, private, _ = bob.readable_journals()
    assert [j.annotator for j in journals] == ["bob"] and "alice" in private
    assert bob.journal("alice").state("d1", 1) is None
    with pytest.raises(StoreError, match="blind"):
        bob.reading_journals()


def test_bob_cannot_make_himself_see(team, pg_server, pg_url):
    with _raw(pg_server, pg_url, "bob") as conn:
        for attack in ("UPDATE annotator.settings SET value = 'false'",
                       "UPDATE annotator.members SET curator = true WHERE name = 'bob'",
                       "INSERT INTO annotator.members VALUES ('bob2', true)",
                       "SET ROLE alice", "SET ROLE lead",
                       "ALTER TABLE annotator.events DISABLE ROW LEVEL SECURITY",
                       "CREATE OR REPLACE FUNCTION annotator.sees_all() RETURNS boolean "
                       "LANGUAGE sql AS 'SELECT true'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attack)
        assert conn.execute("SELECT count(*) FROM annotator.states "
                            "WHERE annotator = 'alice'").fetchone()[0] == 0


def test_annotators_cannot_update_or_delete_events(team, pg_server, pg_url):
    with _raw(pg_server, pg_url, "alice") as conn:
        for attack in ("UPDATE annotator.events SET kind = 'x'",
                       "DELETE FROM annotator.events",
                       "TRUNCATE annotator.events",
                       "UPDATE annotator.states SET state = '{}'",
                       "DELETE FROM annotator.states",
                       "INSERT INTO annotator.labels VALUES ('alice', 1, 1, 1)",
                       "UPDATE annotator.units SET text = 'x'",
                       "INSERT INTO annotator.documents VALUES (9, 'x', NULL, '{}', '', '', "
                       "1, false, now())"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attack)
    # not even the lead's role rewrites the audit trail
    with psycopg.connect(pg_url, autocommit=True) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("DELETE FROM annotator.events")
    assert team["alice"].journal("alice").state("d1", 1)["labels"]["devices"] == ["sovereignty"]


def _event(conn, annotator: str, before, after, kind="mark_done", action=None):
    from psycopg.types.json import Json

    conn.execute(
        "INSERT INTO annotator.events (id, annotator, doc_id, unit, kind, action, before, "
        "after) VALUES (%s, %s, 'd1', 1, %s, %s, %s, %s)",
        (uuid.uuid4(), annotator, kind, Json(action or {"type": kind}),
         Json(before) if before is not None else None, Json(after)))


def test_no_forged_events_or_states(team, pg_server, pg_url):
    alice_state = team["lead"].journal("alice").state("d1", 1)
    with _raw(pg_server, pg_url, "bob") as conn:
        # an event in alice's name
        with pytest.raises(psycopg.Error, match="row-level security|own events"):
            _event(conn, "alice", alice_state, {"status": "done", "labels": {"x": ["y"]}})
        bob_state = {"status": "done", "labels": {}, "spans": [], "relations": [],
                     "note": None, "flag": False}
        # a state that does not follow from the stored one
        with pytest.raises(psycopg.Error, match="does not start from the stored state"):
            _event(conn, "bob", None, {"status": "done", "labels": {"devices": ["z"]}})
        # an "undo" that restores something else than what was before
        (seq,) = conn.execute("SELECT max(seq) FROM annotator.events").fetchone()
        with pytest.raises(psycopg.Error, match="undo must restore"):
            _event(conn, "bob", bob_state, {"status": "done", "labels": {"devices": ["z"]}},
                   kind="undo", action={"type": "undo", "event": seq})
        # an event with a chosen timestamp gets the server's clock
        _event(conn, "bob", bob_state, {**bob_state, "note": "n"}, kind="set_note",
               action={"type": "set_note", "note": "n"})
        conn.execute("SELECT 1")
    assert team["lead"].journal("alice").state("d1", 1) == alice_state
    assert team["lead"].journal("bob").state("d1", 1)["note"] == "n"
    assert team["lead"].journal("bob").verify() == []


def test_curator_and_lead_see_all(team):
    for who in ("carol", "lead"):
        s = team[who]
        journals, private, _ = s.readable_journals()
        assert {j.annotator for j in journals} >= {"alice", "bob"} and not private
        assert s.journal("alice").state("d1", 1)["labels"]["devices"] == ["sovereignty"]
    # a curator reads, but writes no one else's journal
    with pytest.raises(StoreError, match="another role"):
        team["carol"].journal("alice").apply("d1", 2, TOGGLE)


def test_blind_off_lets_everyone_read(team, pg_url):
    init_database(pg_url, blind=False)  # the lead, after `blind: false` in annotator.yaml
    bob = team["bob"]
    assert bob.journal("alice").state("d1", 1)["labels"]["devices"] == ["sovereignty"]
    assert {j.annotator for j in bob.reading_journals()} >= {"alice", "bob"}
    with pytest.raises(StoreError):
        bob.journal("alice").apply("d1", 2, TOGGLE)


def test_one_session_per_annotator(team, pg_server, pg_url):
    team["alice"].journal("alice").claim()
    other = PostgresStore(_as(pg_server, pg_url, "alice"))
    with pytest.raises(StoreError, match="already annotating"):
        other.journal("alice").claim()
    team["alice"].journal("alice").release()
    other.journal("alice").claim()
    other.close()


# -- durability and faults ------------------------------------------------------------
def test_retried_commit_is_applied_once(team):
    j = team["alice"].journal("alice")
    before = j.state("d2", 1)
    event_id = uuid.uuid4()
    after = {"status": "done", "labels": {}, "spans": [], "relations": [], "note": None,
             "flag": False}
    seq1 = j._insert(event_id, "d2", 1, "mark_done", {"type": "mark_done"}, before, after, 1.5)
    # the same commit again (its answer was lost with the connection): no second event
    seq2 = j._insert(event_id, "d2", 1, "mark_done", {"type": "mark_done"}, before, after, 1.5)
    assert seq1 == seq2
    assert sum(e["unit"] == 1 and e["doc_id"] == "d2" for e in j.events()) == 1
    assert j.info("d2", 1)["seconds"] == 1.5


def test_dropped_connection_reconnects_and_nothing_is_lost(team, pg_server, pg_url):
    j = team["alice"].journal("alice")
    j.claim()
    pid = team["alice"].conn.info.backend_pid
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    ch = j.apply("d2", 1, {"type": "set_note", "note": "after the drop"})
    assert ch.state["note"] == "after the drop"
    assert team["lead"].journal("alice").state("d2", 1)["note"] == "after the drop"
    assert team["alice"].conn.info.backend_pid != pid
    # the session lock came back with the new connection
    other = PostgresStore(pg_url.replace("user=lead", "user=alice"))
    with pytest.raises(StoreError, match="already annotating"):
        other.journal("alice").claim()
    other.close()


def test_statement_timeout_is_a_clear_not_saved(team, pg_server, pg_url):
    name = psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
    slow = PostgresStore(pg_server.url(name, user="alice", options="-c statement_timeout=300"))
    j = slow.journal("alice")
    locker = psycopg.connect(pg_url)
    try:
        locker.execute("LOCK TABLE annotator.states IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StoreError, match="did not answer in time.*NOT saved"):
            j.apply("d2", 1, {"type": "mark_done"})
    finally:
        locker.rollback()
        locker.close()
    assert j.state("d2", 1) is None  # nothing half-written
    j.apply("d2", 1, {"type": "mark_done"})
    assert j.state("d2", 1)["status"] == "done"
    slow.close()


def test_server_killed_mid_session_loses_nothing_shown(team, pg_server, pg_url):
    """Actions stored (apply returned: the screen showed them) survive a crash of the
    server; the action tried while it is down is reported NOT SAVED, and stored once
    the annotator retries after the restart."""
    j = team["alice"].journal("alice")
    j.claim()
    shown = []
    for i in range(20):
        j.apply("d2", 1, {"type": "set_note", "note": f"note {i}"})
        shown.append(f"note {i}")
    pg_server.kill()
    try:
        with pytest.raises(StoreError, match="NOT saved"):
            j.apply("d2", 1, {"type": "set_note", "note": "while down"})
    finally:
        pg_server.start()
    j.apply("d2", 1, {"type": "set_note", "note": "after restart"})
    lead = PostgresStore(pg_url)
    notes = [e["action"].get("note") for e in reversed(lead.journal("alice").events())
             if e["kind"] == "set_note"]
    assert notes == [*shown, "after restart"]
    assert lead.journal("alice").verify() == []
    lead.close()


def test_concurrent_annotators_lose_nothing(pg_server, pg_url):
    lead = PostgresStore(pg_url)
    lead.import_documents([Document(f"c{i}", None, [f"para {k}" for k in range(10)])
                           for i in range(5)])
    names = [f"ann{i}" for i in range(4)]
    for n in names:
        add_annotator(pg_url, n)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            s = PostgresStore(_as(pg_server, pg_url, name))
            j = s.journal(name)
            j.claim()
            for i in range(5):
                for k in range(1, 11):  # no title: units 1..10
                    j.apply(f"c{i}", k, {"type": "mark_done"})
            s.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [lead.journal(n).done_count() for n in names] == [50] * 4
    lead.close()


def test_export_as_a_curator_matches_the_lead(team, pg_server, pg_url, project: Path):
    outs = []
    for who in ("carol", "lead"):
        out = project / f"{who}.jsonl"
        r = run_cli("export", "--out", str(out), "--store", _as(pg_server, pg_url, who),
                    cwd=project)
        assert r.returncode == 0, r.stderr
        outs.append([json.loads(x) for x in out.read_text().splitlines()])
    assert outs[0] == outs[1] and {a["annotator"] for r in outs[0]
                                   for a in r["annotations"]} == {"alice", "bob"}
    r = run_cli("export", "--out", "-", "--store", _as(pg_server, pg_url, "bob"), cwd=project)
    assert r.returncode == 1 and "blind" in r.stderr, r.stderr


def test_password_from_pgpass_and_a_service_file(team, pg_server, pg_url, tmp_path: Path,
                                                 project: Path):
    """A role that must give a password: found in PGPASSFILE, the server named by a
    service file; never on the command line."""
    import os
    import stat

    pg_server.require_password("alice", "pa55-word")
    db = psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[study]\nhost=127.0.0.1\nport={pg_server.port}\ndbname={db}\n"
                        "user=alice\n")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:{db}:alice:pa55-word\n")
    os.chmod(pgpass, stat.S_IRUSR | stat.S_IWUSR)
    env = {**os.environ, "PGSERVICEFILE": str(services), "ANNOTATOR_STORE":
           "postgresql://?service=study"}
    import subprocess
    import sys

    def status(extra_env: dict) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "annotator", "status"], cwd=project,
                              env={**env, **extra_env}, capture_output=True, text=True,
                              timeout=60)

    r = status({"PGPASSFILE": str(pgpass)})
    assert r.returncode == 0, r.stderr
    assert "alice" in r.stdout and "private" in r.stdout  # blind: bob's journal is not hers
    r = status({"PGPASSFILE": str(tmp_path / "none")})
    assert r.returncode == 1 and "cannot connect" in r.stderr and "password" in r.stderr, \
        r.stderr
    assert "Traceback" not in r.stderr


def test_a_state_cached_by_the_client_never_forks_the_chain(team, pg_server, pg_url):
    """The client remembers the state it stored last; when another connection wrote
    the unit meanwhile, the database refuses the event and the client reads again."""
    a1 = team["alice"].journal("alice")
    other = PostgresStore(_as(pg_server, pg_url, "alice"))
    a2 = other.journal("alice")
    a1.apply("d2", 1, {"type": "toggle_label", "layer": "devices", "label": "x"})
    a2.apply("d2", 1, {"type": "toggle_label", "layer": "devices", "label": "y"})
    ch = a1.apply("d2", 1, {"type": "toggle_label", "layer": "devices", "label": "z"})
    assert ch.state["labels"]["devices"] == ["x", "y", "z"]
    assert a2.state("d2", 1) == ch.state and a1.verify() == []
    other.close()


def test_an_after_its_action_does_not_give_is_found_by_the_check(team, pg_server, pg_url,
                                                                 project: Path):
    """What the database does not re-derive (apply_action itself): an event that
    starts from the stored state but claims another result. It stays in bob's own
    audit trail, and `annotator status --check` names it."""
    bob_state = team["bob"].journal("bob").state("d1", 1)
    with _raw(pg_server, pg_url, "bob") as conn:
        _event(conn, "bob", bob_state, {**bob_state, "labels": {"devices": ["forged"]}},
               kind="toggle_label", action={"type": "toggle_label", "layer": "devices",
                                            "label": "other"})
    problems = team["lead"].journal("bob").verify()
    assert any("replaying it gives another state" in p for p in problems), problems
    r = run_cli("status", "--check", "--store", pg_url, cwd=project)
    assert r.returncode == 1 and "bob" in r.stdout and "damaged" in r.stdout, r.stdout


# -- assignments (annotator assign) ------------------------------------------------
def test_assignments_on_postgresql(team, pg_server, pg_url):
    """The lead assigns; every member reads the matrix; the screen's scope and search
    follow it; no annotator can add, change or remove a row."""
    from annotator.team.assign import DocumentScope, assign_documents

    lead = team["lead"]
    plan = assign_documents(lead, ["alice", "bob"], per_document=1, seed=3)
    rows = lead.assignments()
    assert sorted(rows) == sorted(plan.rows) and len(rows) == 2  # 2 documents x K=1
    mine = {a: [d for d, n, _ in rows if n == a] for a in ("alice", "bob")}
    assert sorted(mine["alice"] + mine["bob"]) == [1, 2]  # balanced: one each
    bob = team["bob"]
    assert bob.assignments() == rows
    assert bob.assigned_documents("bob") == mine["bob"]
    scope = DocumentScope.for_annotator(bob, "bob")
    assert scope.restricted and scope.count == 1
    units = {1: 3, 2: 1}  # d1: title + 2 paragraphs; d2: 1 paragraph
    assert bob.assigned_unit_count("bob") == units[mine["bob"][0]]
    # search stays inside the annotator's documents
    other = lead.document_at(mine["alice"][0] - 1).id
    word = {"d1": "Second", "d2": "Only"}[other]
    assert bob.search(word, assigned_to="bob") is None
    assert bob.search(word) is not None
    # re-running assigns nothing new and moves nothing
    assert assign_documents(lead, ["alice", "bob"], per_document=1, seed=9).rows == []
    assert lead.assignments() == rows
    # an annotator's own connection is refused by the database, whatever they try
    with _raw(pg_server, pg_url, "bob") as conn:
        for attack in (f"INSERT INTO annotator.assignments (doc_key, annotator) "
                       f"VALUES ({mine['alice'][0]}, 'bob')",
                       "UPDATE annotator.assignments SET annotator = 'bob'",
                       "DELETE FROM annotator.assignments"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attack)
    with pytest.raises(StoreError, match="nothing was assigned"):
        assign_documents(bob, ["bob"], per_document=1)
    assert lead.assignments() == rows


def test_migration_2_grants_assignments_to_members_added_before(pg_server, monkeypatch):
    """A database made by version 1 of the tables: `db init` migrates it, members
    added before the migration can read the assignments (version 2), and a curator added
    before it writes the gold (version 3)."""
    from annotator.store import postgres

    name = pg_server.new_database("migrate_v1")
    url = pg_server.url(name, user="lead")
    latest, grants = postgres.MIGRATIONS, postgres.ANNOTATOR_GRANTS
    with monkeypatch.context() as v1:  # what version 1 of annotator did
        v1.setattr(postgres, "MIGRATIONS", latest[:1])
        v1.setattr(postgres, "ANNOTATOR_GRANTS", [
            g.replace(", annotator.assignments", "") for g in grants
            if "journal_meta" not in g])
        assert init_database(url) == (0, 1)
        add_annotator(url, "erin")
        add_annotator(url, "gina", curator=True)
    with pytest.raises(StoreError, match="version 1.*db init"):
        add_annotator(url, "fred")  # tables older than this annotator: migrate first
    with pytest.raises(StoreError, match="version 1; this annotator needs .*db init"):
        PostgresStore(url)  # nor is a store of that layout opened
    assert init_database(url) == (1, 4)
    lead = PostgresStore(url)
    lead.import_documents(DOCS)
    from annotator.team.assign import assign_documents

    assign_documents(lead, ["erin"], per_document=1)
    erin = PostgresStore(pg_server.url(name, user="erin"))
    gina = PostgresStore(pg_server.url(name, user="gina"))
    try:
        assert erin.assigned_documents("erin") == [1, 2]
        # version 3: a curator added before it writes the gold; an annotator does not
        gina.journal("gold").apply("d1", 1, {"type": "mark_done"})
        assert lead.journal("gold").state("d1", 1)["status"] == "done"
        with pytest.raises(StoreError, match="another role"):
            erin.journal("gold").apply("d1", 2, {"type": "mark_done"})
    finally:
        erin.close()
        gina.close()
        lead.close()


def test_cli_assign_on_postgresql(pg_server, project: Path):
    name = pg_server.new_database("cli_assign")
    url = pg_server.url(name, user="lead")
    assert run_cli("db", "init", "--store", url, cwd=project).returncode == 0
    for n in ("a.txt", "b.txt", "c.txt"):
        (project / n).write_text(f"Title {n}\n\nBody of {n}.\n")
    assert run_cli("import", "a.txt", "b.txt", "c.txt", "--store", url,
                   cwd=project).returncode == 0
    r = run_cli("assign", "--per-document", "2", "--annotators", "x,y,z", "--seed", "1",
                "--show", "--store", url, cwd=project)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    store = PostgresStore(url)
    try:
        rows = store.assignments()
    finally:
        store.close()
    assert len(rows) == 6  # 3 documents x K=2
    loads = {a: sum(1 for _, n, _ in rows if n == a) for a in "xyz"}
    assert sorted(loads.values()) == [2, 2, 2]
    for a in "xyz":
        assert a in r.stdout  # the matrix
    # without --annotators: the annotators added to the database (not its curators),
    # and a name that is not one of them is refused
    for n, curator in (("ann1", False), ("ann2", False), ("cur1", True)):
        add_annotator(url, n, curator=curator)
    (project / "d.txt").write_text("Title d\n\nBody of d.\n")
    assert run_cli("import", "d.txt", "--store", url, cwd=project).returncode == 0
    r = run_cli("assign", "--per-document", "2", "--store", url, cwd=project)
    assert r.returncode == 0, r.stderr
    store = PostgresStore(url)
    try:
        new = [n for _, n, _ in store.assignments() if n not in "xyz"]
    finally:
        store.close()
    assert sorted(new) == ["ann1", "ann2"]
    r = run_cli("assign", "--per-document", "1", "--annotators", "ann1,nobody", "--store",
                url, cwd=project)
    assert r.returncode == 2 and "'nobody': the database" in r.stderr, r.stderr


def test_bulk_writes_are_all_or_nothing(team):
    """An import's actions go in one transaction: one bad action and nothing is
    stored; in chunks, the chunks before a failure stay."""
    alice = team["alice"].journal("alice")
    before = alice.states("d1")
    good = [("d2", 1, {"type": "mark_done"}), ("d1", 0, TOGGLE)]
    with pytest.raises(InputError, match="no unit 9"):
        alice.apply_many([*good, ("d1", 9, {"type": "mark_done"})], chunk=None)
    assert alice.states("d1") == before and alice.states("d2") == {}
    assert alice.apply_many(good, chunk=None) == 2
    assert alice.state("d2", 1)["status"] == "done"
    assert alice.state("d1", 0)["labels"]["devices"] == ["sovereignty"]
    # unchanged states store no event; the same unit twice builds on itself
    events = len(alice.events())
    assert alice.apply_many([("d2", 1, {"type": "mark_done"}), ("d1", 0, TOGGLE),
                             ("d1", 0, TOGGLE)], skip_unchanged=True) == 2
    assert len(alice.events()) == events + 2
    assert alice.state("d1", 0)["labels"]["devices"] == ["sovereignty"]
    assert alice.verify() == []
    # chunks of one: the first stays when the second fails
    with pytest.raises(InputError):
        alice.apply_many([("d2", 1, {"type": "set_note", "note": "kept"}),
                          ("nope", 1, {"type": "mark_done"})], chunk=1)
    assert alice.state("d2", 1)["note"] == "kept"


def test_titles_prefix_and_progress_on_the_corpus_as_it_is(team):
    """The same answers as the SQLite store: go-to by the start of an id, titles left
    out when a schema says `titles: false`, a removed unit not counted as done."""
    alice, lead = team["alice"], team["lead"]
    assert [d.id for d in alice.documents_with_prefix("d")] == ["d1", "d2"]
    assert [d.id for d in alice.documents_with_prefix("d1")] == ["d1"]
    assert alice.documents_with_prefix("") == []
    assert lead.title_count() == 1
    journal = alice.journal("alice")
    journal.apply("d1", 0, {"type": "mark_done"})  # the title
    assert journal.done_count() == 3 and journal.done_count(titles=False) == 2
    assert journal.first_not_done(titles=False) == ("d2", 1)
    lead.import_documents([Document("d1", "Title", ["He said no."])])  # unit 2 removed
    assert journal.done_count() == 2 and journal.done_count(titles=False) == 1


def test_a_curator_writes_the_gold_and_nobody_else_does(team, pg_server, pg_url):
    """The gold journal on PostgreSQL: carol (a curator) decides, takes a version and
    runs the automatic merge as her own role; bob (an annotator) can write no gold,
    neither through the client nor with raw SQL, and neither can alice's role write
    under carol's name."""
    from annotator.adjudication import GOLD
    from annotator.adjudication.auto import auto_merge
    from annotator.adjudication.session import Session
    from annotator.schema import default_schema_path, load_schema

    schema = load_schema(default_schema_path())
    team["bob"].journal("bob").apply("d1", 1, TOGGLE)  # now alice and bob agree on d1/1
    carol = team["carol"]
    r = auto_merge(carol, schema, "unanimous", curator="carol")
    assert r.merged == 1
    # nothing changed since: the next start reads nothing (the stamp, kept by the gold)
    assert auto_merge(carol, schema, "unanimous", curator="carol").skipped
    ses = Session(carol, schema, "carol")
    ses.take_version("d1", 2, "devices", "alice")
    gold = team["lead"].journal(GOLD)
    assert gold.state("d1", 1)["auto"] == "unanimous"
    assert gold.state("d1", 2)["decided_by"] == ["alice"]
    assert gold.verify() == []
    carol.journal(GOLD).set_position("d1", 2)
    assert carol.journal(GOLD).position() == ("d1", 2)
    # bob: not a curator
    with pytest.raises(StoreError, match="another role"):
        team["bob"].journal(GOLD).apply("d1", 2, TOGGLE)
    with _raw(pg_server, pg_url, "bob") as conn:
        with pytest.raises(psycopg.Error, match="row-level security|own events"):
            _event(conn, GOLD, None, {"status": "done", "labels": {}})
        with pytest.raises(psycopg.Error, match="row-level security"):
            conn.execute("INSERT INTO annotator.positions VALUES ('gold', 'd1', 1)")
        for who in ("gold", "alice"):  # nor what the gold or alice keep beside events
            with pytest.raises(psycopg.Error, match="row-level security"):
                conn.execute("INSERT INTO annotator.journal_meta VALUES (%s, 'k', 'v')",
                             (who,))
        assert conn.execute("SELECT count(*) FROM annotator.journal_meta WHERE annotator "
                            "<> 'bob'").fetchone()[0] == 0  # blind: not even read
        assert conn.execute("UPDATE annotator.journal_meta SET value = 'x' WHERE "
                            "annotator = 'gold'").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE OR REPLACE FUNCTION annotator.may_write_as(name text) "
                         "RETURNS boolean LANGUAGE sql AS 'SELECT true'")
    # a curator's role writes the gold, not another annotator's journal
    with _raw(pg_server, pg_url, "carol") as conn, \
            pytest.raises(psycopg.Error, match="row-level security|own events"):
        _event(conn, "alice", None, {"status": "done", "labels": {}})
    assert [e["kind"] for e in gold.events()] == ["take_version", "set_gold"]
    with pytest.raises(InputError, match="gold standard"):
        add_annotator(pg_url, GOLD)


def test_a_schema_changed_under_the_project_is_said_on_postgresql(team, pg_server, pg_url):
    """The schema a journal was last opened with is kept on PostgreSQL too (as on
    SQLite: tests/test_day_cli.py), each annotator's own."""
    from dataclasses import replace

    from annotator.schema import default_schema_path, load_schema
    from annotator.schema_drift import record_schema, schema_change

    schema = load_schema(default_schema_path())
    alice = team["alice"].journal("alice", schema)
    assert schema_change(alice, schema) is None
    record_schema(alice, schema)
    changed = replace(schema, sha256="0" * 64)
    again = PostgresStore(_as(pg_server, pg_url, "alice"))  # a later session of alice's
    said = schema_change(again.journal("alice"), changed)
    again.close()
    assert said is not None and "changed since alice" in said
    assert schema_change(team["bob"].journal("bob"), changed) is None  # bob: never opened
    with _raw(pg_server, pg_url, "bob") as conn:
        assert conn.execute("SELECT count(*) FROM annotator.journal_meta").fetchone()[0] == 0


def test_temporary_objects_cannot_stand_in_for_what_the_functions_use(team, pg_server,
                                                                      pg_url):
    """A member's own temporary objects shadow tables and types for any function whose
    search_path leaves pg_temp out (it is then searched first): a temporary `pg_class`
    made sees_all() true for bob, and a temporary `jsonb` domain ran his CHECK as the
    lead inside event_derive. `db init` takes TEMPORARY from PUBLIC; here it is given
    back (as PostgreSQL's default gives it), and the functions still do not fall for it."""
    with psycopg.connect(pg_url, autocommit=True) as lead:
        db = lead.execute("SELECT current_database()").fetchone()[0]
        lead.execute(f'GRANT TEMPORARY ON DATABASE "{db}" TO PUBLIC')
    init_database(pg_url)  # db init takes it back
    with _raw(pg_server, pg_url, "bob") as conn:
        assert not conn.execute("SELECT has_database_privilege(current_database(), "
                                "'TEMPORARY')").fetchone()[0]
    with psycopg.connect(pg_url, autocommit=True) as lead:
        lead.execute(f'GRANT TEMPORARY ON DATABASE "{db}" TO PUBLIC')
    with _raw(pg_server, pg_url, "bob") as conn:
        conn.execute(
            "CREATE FUNCTION pg_temp.evil(v pg_catalog.jsonb) RETURNS boolean LANGUAGE "
            "plpgsql AS $$ BEGIN IF current_user = 'lead' THEN UPDATE annotator.members SET "
            "curator = true WHERE name = 'bob'; UPDATE annotator.settings SET value = "
            "'false' WHERE key = 'blind'; END IF; RETURN true; END $$")
        conn.execute("CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb "
                     "CHECK (pg_temp.evil(VALUE))")
        _event(conn, "bob", team["lead"].journal("bob").state("d1", 1),
               {"status": "done", "labels": {}, "spans": [], "relations": [], "note": "x",
                "flag": False}, kind="set_note", action={"type": "set_note", "note": "x"})
        conn.execute("CREATE TEMP TABLE pg_class AS SELECT 'annotator.events'::regclass::oid "
                     "AS oid, (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                     "AS relowner")
        assert conn.execute("SELECT annotator.sees_all()").fetchone()[0] is False
        assert conn.execute("SELECT count(*) FROM annotator.events WHERE annotator = "
                            "'alice'").fetchone()[0] == 0
    with psycopg.connect(pg_url, autocommit=True) as lead:
        assert lead.execute("SELECT curator FROM annotator.members WHERE name = 'bob'"
                            ).fetchone()[0] is False
        assert lead.execute("SELECT value FROM annotator.settings WHERE key = 'blind'"
                            ).fetchone()[0] is True
    assert team["lead"].journal("bob").state("d1", 1)["note"] == "x"  # the event itself


def test_one_statement_cannot_fork_a_journal(team, pg_server, pg_url):
    """Each event is checked against the state stored before its statement: two events
    on one unit in one INSERT (or an undo beside another event) would both pass, and
    the chain would fork. The database refuses such a statement whole."""
    with _raw(pg_server, pg_url, "carol") as conn, \
            pytest.raises(psycopg.Error, match="at most one event per unit|does not start "
                                               "from the stored state"):
        conn.execute(
            "INSERT INTO annotator.events (annotator, doc_id, unit, kind, action, before, "
            "after) SELECT 'gold', 'd1', 1, 'set_gold', '{}', NULL, json_build_object("
            "'status', 'done', 'n', g) FROM generate_series(1, 2) g")
    with _raw(pg_server, pg_url, "bob") as conn:
        (seq,) = conn.execute("SELECT max(seq) FROM annotator.events").fetchone()
        before = conn.execute("SELECT state FROM annotator.states WHERE doc_id = 'd1' AND "
                              "unit = 1").fetchone()[0]
        with pytest.raises(psycopg.Error, match="undo or redo is inserted alone"):
            conn.execute(
                "INSERT INTO annotator.events (annotator, doc_id, unit, kind, action, before, "
                "after) VALUES ('bob', 'd1', 1, 'undo', %s, %s, NULL), ('bob', 'd2', 1, "
                "'mark_done', '{}', NULL, '{\"status\": \"done\"}')",
                (json.dumps({"type": "undo", "event": seq}), json.dumps(before)))
    assert team["lead"].journal("gold").state("d1", 1) is None
    assert team["lead"].journal("bob").verify() == []


def test_a_member_cannot_choose_an_events_sequence_number(team, pg_server, pg_url):
    """OVERRIDING SYSTEM VALUE would let bob place an event below the merge's stamp
    (hidden from it), or take the numbers ahead of everyone (blocking their inserts)."""
    with _raw(pg_server, pg_url, "bob") as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO annotator.events (seq, annotator, doc_id, unit, kind, action, "
            "before, after) OVERRIDING SYSTEM VALUE VALUES (-7, 'bob', 'd1', 2, 'mark_done', "
            "'{}', NULL, '{\"status\": \"done\"}')")
    team["alice"].journal("alice").apply("d2", 1, {"type": "mark_done"})  # still writes


def test_two_sessions_of_one_role_cannot_fork_a_journal(team, pg_server, pg_url):
    """event_check reads the stored state without a lock: two of bob's connections
    inserting on one unit at once both pass it from the same state. The second waits for
    the first to commit; the state then changes only from the state it started from
    (event_derive compares and sets), so the second is refused, not stored."""
    from psycopg.types.json import Json

    state = team["lead"].journal("bob").state("d1", 1)
    one, two = (psycopg.connect(_as(pg_server, pg_url, "bob")) for _ in range(2))
    sql = ("INSERT INTO annotator.events (annotator, doc_id, unit, kind, action, before, "
           "after) VALUES ('bob', 'd1', 1, 'set_note', %s, %s, %s)")
    try:
        one.execute(sql, (Json({"type": "set_note", "note": "A"}), Json(state),
                          Json({**state, "note": "A"})))
        failed: list[BaseException] = []

        def second() -> None:
            try:
                two.execute(sql, (Json({"type": "set_note", "note": "B"}), Json(state),
                                  Json({**state, "note": "B"})))
                two.commit()
            except psycopg.Error as exc:
                failed.append(exc)
                two.rollback()

        t = threading.Thread(target=second)
        t.start()
        t.join(1.0)
        assert t.is_alive()  # waiting for the first
        one.commit()
        t.join(10)
        assert failed and "does not start from the stored state" in str(failed[0])
    finally:
        one.close()
        two.close()
    assert team["lead"].journal("bob").state("d1", 1)["note"] == "A"
    assert team["lead"].journal("bob").verify() == []


def test_an_undo_or_redo_names_its_event_and_events_have_limits(team, pg_server, pg_url):
    from psycopg.types.json import Json

    bob = team["bob"].journal("bob")
    bob.apply("d2", 1, {"type": "set_note", "note": "x"})
    bob.undo()
    assert team["lead"].journal("bob").state("d2", 1) is None
    sql = ("INSERT INTO annotator.events (annotator, doc_id, unit, kind, action, before, "
           "after, seconds) VALUES ('bob', 'd2', 1, %s, %s, NULL, %s, %s)")
    with _raw(pg_server, pg_url, "bob") as conn:
        (after,) = conn.execute("SELECT after FROM annotator.events WHERE kind = 'set_note' "
                                "AND annotator = 'bob'").fetchone()
        with pytest.raises(psycopg.Error, match="redo must restore"):  # no "event" in it
            conn.execute(sql, ("redo", Json({"type": "redo"}), Json(after), 0))
        done = {"status": "done", "labels": {}, "spans": [], "relations": [], "note": None,
                "flag": False}
        with pytest.raises(psycopg.Error, match="at most 1 MB"):
            conn.execute(sql, ("mark_done", Json({"type": "mark_done", "x": "y" * 1100000}),
                               Json(done), 0))
        for bad in ("NaN", "-Infinity", "-1", "100000"):
            with pytest.raises(psycopg.Error, match="between 0 and 86400"):
                conn.execute(sql, ("mark_done", Json({"type": "mark_done"}), Json(done),
                                   float(bad)))
    assert team["lead"].journal("bob").verify() == []


def test_a_lock_held_by_another_member_fails_an_action_instead_of_hanging(
        team, pg_server, pg_url, monkeypatch):
    """Any member may lock a table they can write (positions) and sit on it: alice's
    client gives up after its lock_timeout with a clear message, nothing half-done,
    and works again once the lock is gone."""
    from annotator.store import postgres

    monkeypatch.setattr(postgres, "LOCK_TIMEOUT", "1s")
    alice = PostgresStore(_as(pg_server, pg_url, "alice"))
    squat = psycopg.connect(_as(pg_server, pg_url, "bob"))
    try:
        squat.execute("LOCK TABLE annotator.positions IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StoreError, match="another session holds a lock"):
            alice.journal("alice").set_position("d2", 1)
        squat.rollback()
        alice.journal("alice").set_position("d2", 1)
        assert alice.journal("alice").position() == ("d2", 1)
    finally:
        squat.close()
        alice.close()


def _removed_by_filter(plan: dict) -> int:
    """Rows a plan found and then dropped (by a filter, a recheck, or found by a bitmap
    index scan that the heap scan above it returned none of)."""
    n = plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0)
    if plan.get("Node Type") == "Bitmap Index Scan":
        n += plan.get("Actual Rows", 0)
    return n + sum(_removed_by_filter(p) for p in plan.get("Plans", []))


def test_the_planner_does_not_tell_a_blind_annotator_what_another_stored(team, pg_server,
                                                                         pg_url):
    """EXPLAIN ANALYZE counts the rows a filter removed: with a row policy applied as a
    filter after an index lookup, bob learned whether alice put a label on a unit or
    marked it done. The policies are index conditions now: nothing is removed to count."""
    with psycopg.connect(pg_url, autocommit=True) as lead:
        (code,) = lead.execute("SELECT code FROM annotator.label_codes WHERE label = "
                               "'sovereignty'").fetchone()
    probes = [
        f"SELECT * FROM annotator.labels WHERE annotator = 'alice' AND code = {code} "
        "AND doc_key = 1 AND unit = 1",
        "SELECT * FROM annotator.states WHERE annotator = 'alice' AND status = 'done'",
        "SELECT * FROM annotator.states WHERE annotator = 'alice' AND doc_id = 'd1' "
        "AND unit = 1",
        "SELECT * FROM annotator.events WHERE annotator = 'alice'",
        "SELECT * FROM annotator.undo_marks WHERE annotator = 'alice'",
        "SELECT * FROM annotator.positions WHERE annotator = 'alice'",
        "SELECT * FROM annotator.journal_meta WHERE annotator = 'alice'",
    ]
    alice = team["alice"].journal("alice")
    alice.set_meta_value("schema", "{}")
    alice.apply("d2", 1, {"type": "mark_done"})
    undone = alice.undo().seq  # an undo mark of alice's, found by its event's seq
    (seq,) = team["lead"].conn.execute("SELECT max(seq) FROM annotator.undo_marks "
                                       "WHERE annotator = 'alice'").fetchone()
    probes.append(f"SELECT * FROM annotator.undo_marks WHERE seq = {seq}")
    assert undone and seq
    with _raw(pg_server, pg_url, "bob") as conn:
        conn.execute("SET enable_seqscan = off")
        for bitmap in ("on", "off"):
            conn.execute(f"SET enable_bitmapscan = {bitmap}")
            for sql in probes:
                (plan,) = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").fetchone()[0]
                assert _removed_by_filter(plan["Plan"]) == 0, (sql, plan)
                assert conn.execute(sql).fetchall() == []
    # the curator still reads everyone's rows through the same policies
    with _raw(pg_server, pg_url, "carol") as conn:
        assert conn.execute(probes[0]).fetchall() and conn.execute(probes[3]).fetchall()


# -- version 4: the row triggers in fewer statements, the policy functions in PL/pgSQL ----
def _bob_units(lead_conn, doc_id: str, unit: int) -> tuple:
    state = lead_conn.execute(
        "SELECT state::text FROM annotator.states WHERE annotator = 'bob' AND doc_id = %s "
        "AND unit = %s", (doc_id, unit)).fetchone()
    events = lead_conn.execute(
        "SELECT count(*) FROM annotator.events WHERE annotator = 'bob' AND doc_id = %s AND "
        "unit = %s", (doc_id, unit)).fetchone()[0]
    return state, events


def test_an_event_skipped_at_its_id_leaves_nothing_derived(team, pg_server, pg_url):
    """INSERT ... ON CONFLICT DO NOTHING skips a row at the unique index AFTER its
    BEFORE trigger ran: with the id of an event another session of bob's is inserting
    (not yet committed, so the BEFORE trigger's check cannot see it). Anything derived in
    a BEFORE trigger would then stay with no event behind it (a state for d2: a version
    of this change that derived there, without a lock on the id, failed this test).
    The state is derived by the AFTER trigger, which fires only for rows stored."""
    from psycopg.types.json import Json

    state = team["lead"].journal("bob").state("d1", 1)
    done = {"status": "done", "labels": {"devices": ["sovereignty"]}, "spans": [],
            "relations": [], "note": None, "flag": False}
    event_id = uuid.uuid4()
    sql = ("INSERT INTO annotator.events (id, annotator, doc_id, unit, kind, action, before, "
           "after) VALUES (%s, 'bob', %s, 1, %s, %s, %s, %s)")
    one = psycopg.connect(_as(pg_server, pg_url, "bob"))
    two = psycopg.connect(_as(pg_server, pg_url, "bob"), autocommit=True)
    lead = psycopg.connect(pg_url, autocommit=True)
    try:
        one.execute(sql, (event_id, "d1", "set_note", Json({"type": "set_note", "note": "A"}),
                          Json(state), Json({**state, "note": "A"})))
        failed: list[BaseException] = []

        def second() -> None:
            try:
                two.execute(sql + " ON CONFLICT DO NOTHING",
                            (event_id, "d2", "mark_done", Json({"type": "mark_done"}), None,
                             Json(done)))
            except psycopg.Error as exc:
                failed.append(exc)

        t = threading.Thread(target=second)
        t.start()
        t.join(1.0)
        assert t.is_alive()  # holding for the first session's id
        one.commit()
        t.join(10)
        assert not t.is_alive() and not failed
        assert _bob_units(lead, "d2", 1) == (None, 0)  # no state without its event
        assert lead.execute("SELECT count(*) FROM annotator.labels WHERE annotator = 'bob' "
                            "AND doc_key = 2").fetchone()[0] == 0
        # the same once the id is committed, in one session
        two.execute(sql + " ON CONFLICT DO NOTHING",
                    (event_id, "d2", "mark_done", Json({"type": "mark_done"}), None,
                     Json(done)))
        assert _bob_units(lead, "d2", 1) == (None, 0)
    finally:
        one.close()
        two.close()
        lead.close()
    assert team["lead"].journal("bob").state("d1", 1)["note"] == "A"
    assert team["lead"].journal("bob").verify() == []


def test_rights_are_judged_at_each_statement_not_once_a_session(team, pg_server, pg_url):
    """The policy functions are PL/pgSQL now (their plans cached for the session): what
    they answer must still follow the lead's changes at once, on connections that
    stay open. A curator demoted reads and writes no more than an annotator; a project
    blinded again hides the others' rows from a connection that read them."""
    from psycopg.types.json import Json

    alice_rows = "SELECT count(*) FROM annotator.events WHERE annotator = 'alice'"
    gold = ("INSERT INTO annotator.events (annotator, doc_id, unit, kind, action, before, "
            "after) VALUES ('gold', 'd2', 1, 'set_gold', %s, NULL, %s)")
    with _raw(pg_server, pg_url, "carol") as carol, _raw(pg_server, pg_url, "bob") as bob, \
            psycopg.connect(pg_url, autocommit=True) as lead:
        assert carol.execute(alice_rows).fetchone()[0] == 2
        assert bob.execute(alice_rows).fetchone()[0] == 0
        lead.execute("UPDATE annotator.members SET curator = false WHERE name = 'carol'")
        assert carol.execute(alice_rows).fetchone()[0] == 0
        with pytest.raises(psycopg.Error, match="row-level security|own events"):
            carol.execute(gold, (Json({"type": "set_gold"}), Json({"status": "done"})))
        lead.execute("UPDATE annotator.members SET curator = true WHERE name = 'carol'")
        carol.execute(gold, (Json({"type": "set_gold"}), Json({"status": "done"})))
        assert carol.execute(alice_rows).fetchone()[0] == 2
        lead.execute("UPDATE annotator.settings SET value = 'false' WHERE key = 'blind'")
        assert bob.execute(alice_rows).fetchone()[0] == 2
        lead.execute("UPDATE annotator.settings SET value = 'true' WHERE key = 'blind'")
        assert bob.execute(alice_rows).fetchone()[0] == 0
        assert bob.execute("SELECT count(*) FROM annotator.states WHERE annotator <> 'bob'"
                           ).fetchone()[0] == 0


def test_label_rows_follow_every_state_a_member_writes(team, pg_server, pg_url):
    """Only the label rows that changed are written now (none when the labels did not):
    whatever shape of labels bob writes with raw SQL (lists with repeats, a single id,
    an empty id, null, numbers, a layer dropped), his label index is always exactly the
    labels of his stored state, by the rule of state_labels."""
    from psycopg.types.json import Json

    shapes = [{"devices": ["a", "b"]}, {"devices": ["b", "b", "c"]},
              {"devices": ["b", "b", "c"]}, {"devices": "c", "other": ["x"]},
              {"devices": ""}, {"devices": None, "other": ["x", 7]}, {"other": ["x", 7]},
              {}, {"devices": ["sovereignty"]}]
    sql = ("INSERT INTO annotator.events (annotator, doc_id, unit, kind, action, before, "
           "after) VALUES ('bob', 'd2', 1, 'set_note', %s, %s, %s)")
    before = None
    with _raw(pg_server, pg_url, "bob") as bob, \
            psycopg.connect(pg_url, autocommit=True) as lead:
        for i, labels in enumerate(shapes):
            after = {"status": None, "labels": labels, "spans": [], "relations": [],
                     "note": str(i), "flag": False}
            bob.execute(sql, (Json({"type": "set_note", "note": str(i)}),
                              Json(before) if before else None, Json(after)))
            before = after
            rows = set(lead.execute(
                "SELECT c.layer, c.label FROM annotator.labels l JOIN annotator.label_codes "
                "c ON c.code = l.code WHERE l.annotator = 'bob' AND l.doc_key = 2 AND "
                "l.unit = 1").fetchall())
            want = set(lead.execute("SELECT layer, label FROM annotator.state_labels(%s::jsonb)",
                                    (Json(after),)).fetchall())
            assert rows == want, (labels, rows, want)
    assert want == {("devices", "sovereignty")}


def test_tables_of_version_3_migrate_to_4_and_journals_go_on(pg_server, monkeypatch):
    """A database made by version 3: `db init` takes it to version 4 (the row triggers
    replaced), and a journal begun under version 3 goes on: actions, undo and redo
    check and derive as before, the limits still hold, and the journal verifies."""
    from annotator.store import postgres

    name = pg_server.new_database("migrate_v3")
    url = pg_server.url(name, user="lead")
    with monkeypatch.context() as v3:
        v3.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:3])
        assert init_database(url) == (0, 3)
        lead = PostgresStore(url)
        lead.import_documents(DOCS)
        add_annotator(url, "alice")
        alice = PostgresStore(pg_server.url(name, user="alice"))
        a = alice.journal("alice")
        a.apply("d1", 1, TOGGLE)
        a.apply("d1", 2, {"type": "mark_done"})
        a.undo()
        alice.close()
        lead.close()
    assert init_database(url) == (3, 4)
    assert init_database(url) == (4, 4)
    lead = PostgresStore(url)
    alice = PostgresStore(pg_server.url(name, user="alice"))
    try:
        triggers = {r[0] for r in lead.conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'annotator.events'::regclass "
            "AND NOT tgisinternal").fetchall()}
        assert triggers == {"events_check", "events_derive", "events_one_per_unit",
                            "events_append_only"}  # events_limits is in events_check
        a = alice.journal("alice")
        assert a.redo().unit == 2  # the undo made under version 3
        a.apply("d1", 1, TOGGLE)  # the label off again
        a.apply("d2", 1, TOGGLE)
        assert a.undo().unit == 1 and a.redo().unit == 1
        assert lead.journal("alice").state("d1", 1)["labels"] == {"devices": []}
        assert lead.journal("alice").state("d1", 2)["status"] == "done"
        assert lead.journal("alice").verify() == []
        with psycopg.connect(pg_server.url(name, user="alice"), autocommit=True) as conn, \
                pytest.raises(psycopg.Error, match="at most 1 MB"):
            conn.execute(
                "INSERT INTO annotator.events (annotator, doc_id, unit, kind, action, "
                "before, after) VALUES ('alice', 'd2', 1, 'x', %s, NULL, '{}')",
                (json.dumps({"x": "y" * 1100000}),))
    finally:
        alice.close()
        lead.close()


def test_a_keypress_rewrites_no_index_of_states(team, pg_url):
    """A keypress changes a state's json, not its keys: the update is HOT (the new row
    version on the same page, no index entries written), as long as no index of
    `states` names a column the keypress changes. The partial index on decided states
    named `state` and made every update write all four indexes."""
    def counts(conn) -> tuple[int, int]:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                            "WHERE schemaname = 'annotator' AND relname = 'states'"
                            ).fetchone()

    alice = team["alice"].journal("alice")
    with psycopg.connect(pg_url, autocommit=True) as lead:
        upd0, hot0 = counts(lead)
        for i in range(30):
            alice.apply("d1", 1 + i % 2, TOGGLE)
        # a backend reports its counts when idle, up to 10 s later: now, at its next
        # transaction's end
        team["alice"].conn.execute("SELECT pg_stat_force_next_flush()")
        team["alice"].conn.execute("SELECT 1")
        deadline = time.monotonic() + 15
        while True:
            upd, hot = counts(lead)
            if upd - upd0 >= 30 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert upd - upd0 == 30  # both states were stored by the fixture
        assert hot - hot0 >= 28, (upd - upd0, hot - hot0)
        # the decided states' index follows the state's json still
        assert lead.execute("SELECT count(*) FROM annotator.states WHERE decided "
                            "<> ((state -> 'decided') IS NOT NULL)").fetchone() == (0,)


def test_a_keypress_is_one_prepared_statement_through_libpq(team, monkeypatch):
    """A keypress on a unit the client knows is one statement, run through libpq's
    own call (psycopg's cursor cost the client about 35 us of CPU an action); what it
    stores is what psycopg's adapters stored: the same json text, NULLs, numbers."""
    store = team["alice"]
    j = store.journal("alice")
    j.apply("d1", 2, {"type": "set_note", "note": "warm"})  # the unit is known now

    def no_cursor(*args, **kwargs):
        raise AssertionError("a keypress went through psycopg's cursor")

    monkeypatch.setattr(store.conn, "cursor", no_cursor)
    note = "é ü \u2603 \"quoted\" \\ back\nline"
    ch = j.apply("d1", 2, {"type": "set_note", "note": note}, seconds=2.25)
    # the read before the first action on a unit goes the same way: a unit with no
    # state, and one whose state the client forgot (read back, the same json)
    j.apply("d2", 1, {"type": "mark_done"})
    j._known.clear()
    flagged = j.apply("d1", 2, {"type": "set_flag", "flag": True}).state
    assert flagged == {**ch.state, "flag": True}
    assert j.apply("d1", 2, {"type": "set_flag", "flag": False}).state == ch.state
    monkeypatch.undo()
    row = team["lead"].conn.execute(
        "SELECT seq, action::text, after::text, seconds FROM annotator.events "
        "WHERE annotator = 'alice' AND kind = 'set_note' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert row[0] == ch.seq
    assert row[1] == json.dumps({"type": "set_note", "note": note})
    assert row[2] == json.dumps(ch.state)
    assert row[3] == 2.25
    assert j.state("d1", 2)["note"] == note


def test_a_nul_in_a_keypress_is_refused_not_cut_short(team):
    """libpq passes text parameters as C strings: a NUL would end a document id
    early, on another document's unit. It is refused, NOT saved, as psycopg refused it."""
    j = team["alice"].journal("alice")
    before = j.state("d1", 1)
    with pytest.raises(StoreError, match="NOT saved"):
        j._insert(uuid.uuid4(), "d1\0x", 1, "mark_done", {"type": "mark_done"}, before,
                  {**before, "status": "done"}, 0.0)
    assert j.state("d1", 1) == before
    # numbers go as Python writes them ('nan', 'inf'): still refused by the limits
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(StoreError, match="seconds"):
            j.apply("d1", 1, {"type": "mark_done"}, seconds=bad)
    assert j.state("d1", 1) == before
    # the connection is fine: the next keypress is stored
    assert j.apply("d1", 1, {"type": "mark_done"}).state["status"] == "done"


def test_a_keypress_after_the_server_restarts_prepares_its_statement_again(
        team, pg_server):
    """The statement is prepared once a connection: a new one (after a restart) has
    none, and the keypress prepares it there instead of failing."""
    j = team["alice"].journal("alice")
    j.apply("d2", 1, {"type": "set_note", "note": "one"})
    pg_server.stop()
    pg_server.start()
    ch = j.apply("d2", 1, {"type": "set_note", "note": "two"})
    assert ch.state["note"] == "two"
    ch = j.apply("d2", 1, {"type": "set_note", "note": "three"})
    assert team["lead"].journal("alice").state("d2", 1)["note"] == "three"


def test_a_keypress_prepares_its_statement_again_when_the_session_lost_it(team):
    """DEALLOCATE or DISCARD ALL (a pooler resets server connections so) drops the
    statement on the same connection: the keypress prepares it again, once."""
    store = team["alice"]
    j = store.journal("alice")
    j.apply("d2", 1, {"type": "set_note", "note": "one"})
    store.conn.execute("DEALLOCATE annotator_event")
    assert j.apply("d2", 1, {"type": "set_note", "note": "two"}).state["note"] == "two"
    store.conn.execute("DISCARD ALL")
    store.conn.execute("SET search_path TO annotator, public")
    j._known.clear()
    assert j.apply("d2", 1, {"type": "set_note", "note": "three"}).state["note"] == "three"
    assert team["lead"].journal("alice").state("d2", 1)["note"] == "three"


def test_a_keypress_on_an_sql_ascii_connection_writes_and_reads_utf8(team):
    """A connection whose client encoding is SQL_ASCII (psycopg reports "ascii") takes
    text as bytes: the keypress's own libpq path sends and reads UTF-8 there, as
    psycopg's adapters do, instead of failing to encode a non-ASCII id or text."""
    team["lead"].import_documents([*DOCS, Document("dé", None, ["Café \u2603 «non»."])])
    store = team["alice"]
    store.conn.execute("SET client_encoding TO 'SQL_ASCII'")
    assert store.conn.info.encoding == "ascii"
    j = store.journal("alice")
    ch = j.apply("dé", 1, TOGGLE)  # the read before the first action, then the insert
    assert ch.state["labels"]["devices"] == ["sovereignty"]
    unit, state = j._current("dé", 1)
    assert unit.text == "Café \u2603 «non»." and state == ch.state
    store.conn.execute("SET client_encoding TO 'UTF8'")
    assert team["lead"].journal("alice").state("dé", 1) == ch.state
