"""Attacks on the PostgreSQL tables of version 4 (issue 14), with real roles on a real
server: each test asserts that the attack FAILS. The ones that succeed today are marked
xfail(strict=True) with the reason, so they turn red once the schema is fixed (then drop
the mark) and stay as regression guards after.

What version 4 changed, and so what is attacked here: the policy functions are PL/pgSQL
(plans kept per session), the state is checked and derived in the AFTER row trigger
(event_derive, FOR UPDATE on the stored state), the limits live in event_check, generic
plans are forced in both triggers."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import test_postgres as tp
from psycopg.types.json import Json

psycopg = pytest.importorskip("psycopg")

team = tp.team  # the fixture: lead, alice, bob, curator carol; blind
_raw = tp._raw
_as = tp._as

COLS = "annotator, doc_id, unit, kind, action, before, after"
INSERT = f"INSERT INTO annotator.events ({COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
DONE = {"status": "done", "labels": {}, "spans": [], "relations": [], "note": None,
        "flag": False}


def _j(v):
    return None if v is None else Json(v)


def _ins(conn, who, doc, unit, before, after, kind="set_note"):
    conn.execute(INSERT, (who, doc, unit, kind, Json({"type": kind}), _j(before), _j(after)))


def _consistent(team, who: str) -> None:
    """The derived tables are the end of the journal's chain: per unit, each event
    starts from the state the one before it left, the stored state is the last `after`,
    and the label rows are the labels of the stored state (checked as the lead, by the
    chain alone: raw events here carry actions the Python replay would not give)."""
    conn = team["lead"].conn
    breaks = conn.execute(
        "SELECT seq FROM (SELECT seq, before::jsonb AS b, lag(after::jsonb) OVER w AS prev, "
        "row_number() OVER w AS n FROM annotator.events WHERE annotator = %s "
        "WINDOW w AS (PARTITION BY doc_id, unit ORDER BY seq)) e "
        "WHERE b IS DISTINCT FROM (CASE WHEN n = 1 THEN NULL ELSE prev END)",
        (who,)).fetchall()
    assert breaks == []
    ends = conn.execute(
        "SELECT e.doc_id, e.unit FROM (SELECT DISTINCT ON (doc_id, unit) doc_id, unit, "
        "after::jsonb AS a FROM annotator.events WHERE annotator = %s "
        "ORDER BY doc_id, unit, seq DESC) e FULL JOIN (SELECT doc_id, unit, state::jsonb AS s "
        "FROM annotator.states WHERE annotator = %s) s USING (doc_id, unit) "
        "WHERE e.a IS DISTINCT FROM s.s", (who, who)).fetchall()
    assert ends == []
    bad_labels = conn.execute(
        "SELECT s.doc_key, s.unit FROM annotator.states s WHERE s.annotator = %s AND "
        "ARRAY(SELECT DISTINCT c.code FROM annotator.state_labels(s.state::jsonb) l JOIN "
        "annotator.label_codes c USING (layer, label) ORDER BY 1) IS DISTINCT FROM "
        "ARRAY(SELECT DISTINCT l.code FROM annotator.labels l WHERE l.annotator = s.annotator "
        "AND l.doc_key = s.doc_key AND l.unit = s.unit ORDER BY 1)", (who,)).fetchall()
    assert bad_labels == []
    assert conn.execute("SELECT count(*) FROM annotator.labels l WHERE l.annotator = %s AND "
                        "NOT EXISTS (SELECT 1 FROM annotator.states s WHERE s.annotator = "
                        "l.annotator AND s.doc_key = l.doc_key AND s.unit = l.unit)",
                        (who,)).fetchone()[0] == 0


def _count(conn, sql: str) -> int:
    return conn.execute(sql).fetchone()[0]


# -- cached plans and answers across the lead's changes, in one open session ----------
def test_generic_prepared_plans_follow_demotion_and_reblinding(team, pg_server, pg_url):
    """A member forces generic plans and PREPAREs the reads (and a gold INSERT) while
    allowed, runs them past the plan cache's threshold, then the lead demotes / blinds:
    the same prepared statements on the same connections see and write nothing more."""
    with _raw(pg_server, pg_url, "carol") as carol, _raw(pg_server, pg_url, "bob") as bob, \
            psycopg.connect(pg_url, autocommit=True) as lead:
        lead.execute("UPDATE annotator.settings SET value = 'false' WHERE key = 'blind'")
        for conn in (carol, bob):
            conn.execute("SET plan_cache_mode = force_generic_plan")
            conn.execute("PREPARE ev AS SELECT count(*) FROM annotator.events "
                         "WHERE annotator = 'alice'")
            conn.execute("PREPARE st AS SELECT count(*) FROM annotator.states "
                         "WHERE annotator <> current_user")
            conn.execute("PREPARE lb AS SELECT count(*) FROM annotator.labels "
                         "WHERE annotator = $1")
            conn.execute("PREPARE vn AS SELECT annotator.visible_names()")
            for _ in range(7):
                assert _count(conn, "EXECUTE ev") == 2
                assert _count(conn, "EXECUTE st") >= 2
                assert _count(conn, "EXECUTE lb('alice')") == 1
        carol.execute("PREPARE g(int) AS INSERT INTO annotator.events (annotator, doc_id, "
                      "unit, kind, action, before, after) SELECT 'gold', 'd1', $1, 'set_gold', "
                      "'{}', NULL, '{\"status\": \"done\"}' WHERE $1 > 0")
        for _ in range(7):
            carol.execute("EXECUTE g(-1)")  # plans the INSERT, stores nothing
        # the project blind again, carol demoted
        lead.execute("UPDATE annotator.settings SET value = 'true' WHERE key = 'blind'")
        lead.execute("UPDATE annotator.members SET curator = false WHERE name = 'carol'")
        for conn, me in ((carol, "carol"), (bob, "bob")):
            assert _count(conn, "EXECUTE ev") == 0
            assert _count(conn, "EXECUTE st") == 0
            assert _count(conn, "EXECUTE lb('alice')") == 0
            assert conn.execute("EXECUTE vn").fetchone()[0] == [me]
        carol.execute("DEALLOCATE g")
        carol.execute("PREPARE g AS INSERT INTO annotator.events (annotator, doc_id, unit, "
                      "kind, action, before, after) VALUES ('gold', 'd2', 1, 'set_gold', "
                      "'{}', NULL, '{\"status\": \"done\"}')")
        with pytest.raises(psycopg.Error, match="row-level security|own events"):
            carol.execute("EXECUTE g")
    assert team["lead"].journal("gold").state("d2", 1) is None


def test_server_side_prepared_statements_of_the_driver_follow_demotion(team, pg_server,
                                                                        pg_url):
    """The driver's own server-side prepared statements (prepare=True), as the client's
    repeated queries are: the answer follows the demotion at the next execution."""
    sql = "SELECT count(*) FROM annotator.events WHERE annotator = %s"
    with _raw(pg_server, pg_url, "carol") as carol, \
            psycopg.connect(pg_url, autocommit=True) as lead:
        for _ in range(8):
            assert carol.execute(sql, ("alice",), prepare=True).fetchone()[0] == 2
        lead.execute("UPDATE annotator.members SET curator = false WHERE name = 'carol'")
        assert carol.execute(sql, ("alice",), prepare=True).fetchone()[0] == 0


def test_a_curator_demoted_during_an_open_transaction_writes_no_gold(team, pg_server,
                                                                     pg_url):
    """A curator's REPEATABLE READ snapshot taken before the lead demotes them still sees
    them a curator: event_check locks their members row FOR SHARE, which fails once
    the row changed after the snapshot, so no gold is stored."""
    carol = psycopg.connect(_as(pg_server, pg_url, "carol"))
    try:
        carol.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        carol.execute("SELECT 1 FROM annotator.members").fetchall()  # the snapshot
        with psycopg.connect(pg_url, autocommit=True) as lead:
            lead.execute("UPDATE annotator.members SET curator = false WHERE name = 'carol'")
        try:
            _ins(carol, "gold", "d2", 1, None, {"status": "done"}, kind="set_gold")
            carol.commit()
        except psycopg.Error:
            carol.rollback()
    finally:
        carol.close()
    assert team["lead"].journal("gold").state("d2", 1) is None


# -- search_path and operators against the PL/pgSQL policy functions -----------------
def test_a_member_can_create_no_operator_anywhere_by_default(team, pg_server, pg_url):
    """On PostgreSQL 15 and later (and after `db init`) a member has no schema to create
    in, and operators are never looked up in pg_temp: nothing of theirs can stand in for
    pg_catalog's operators in the policy functions."""
    with _raw(pg_server, pg_url, "bob") as bob:
        for schema in ("public", "annotator"):
            assert not _count(bob, f"SELECT has_schema_privilege('{schema}', 'CREATE')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bob.execute(f"CREATE FUNCTION {schema}.t(a text, b name) RETURNS boolean "
                            "LANGUAGE sql AS 'SELECT true'")
        bob.execute("SET search_path = pg_temp, public, pg_catalog")
        assert bob.execute("SELECT annotator.visible_names()").fetchone()[0] == ["bob"]
        assert _count(bob, "SELECT count(*) FROM annotator.states WHERE annotator <> 'bob'") == 0


def test_an_operator_of_a_members_own_cannot_steer_the_policy_functions(team, pg_server,
                                                                         pg_url):
    """With CREATE on public (servers before 15), bob defines `=` and `||` there and puts
    public before pg_catalog: the policy functions set their own search_path, so they
    still answer as for bob (he reads and writes nothing of alice's or the gold's)."""
    gold = team["carol"].journal("gold")
    gold.apply("d2", 1, {"type": "mark_done"})
    gold.set_meta_value("merged", "stamp-of-carol")
    with psycopg.connect(pg_url, autocommit=True) as lead:
        # as PostgreSQL before 15 gives it (and pg_upgrade keeps it)
        lead.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    leaked, wrote = [], []
    with _raw(pg_server, pg_url, "bob") as bob:
        bob.execute("CREATE FUNCTION public.yes(a text, b name) RETURNS boolean "
                    "LANGUAGE sql IMMUTABLE AS 'SELECT true'")
        bob.execute("CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = name, "
                    "FUNCTION = public.yes)")
        bob.execute("CREATE FUNCTION public.no(a jsonb, b jsonb) RETURNS boolean "
                    "LANGUAGE sql IMMUTABLE AS 'SELECT false'")
        bob.execute("CREATE OPERATOR public.= (LEFTARG = jsonb, RIGHTARG = jsonb, "
                    "FUNCTION = public.no)")
        # and the list the visible branch builds, with everyone's names in it
        bob.execute("CREATE FUNCTION public.cat(a text[], b text[]) RETURNS text[] "
                    "LANGUAGE sql IMMUTABLE AS $$SELECT ARRAY['alice', 'bob', 'gold']$$")
        bob.execute("CREATE OPERATOR public.|| (LEFTARG = text[], RIGHTARG = text[], "
                    "FUNCTION = public.cat)")
        bob.execute("SET search_path = public, pg_catalog")
        leaked.append(_count(bob, "SELECT count(*) FROM annotator.events WHERE annotator "
                                  "= 'alice'"))
        leaked.append(_count(bob, "SELECT count(*) FROM annotator.states WHERE annotator "
                                  "= 'gold'"))
        leaked.append(_count(bob, "SELECT count(*) FROM annotator.events WHERE annotator "
                                  "= 'gold'"))
        for sql in ("UPDATE annotator.journal_meta SET value = 'x' WHERE annotator = 'gold'",
                    "INSERT INTO annotator.positions VALUES ('gold', 'd2', 1) "
                    "ON CONFLICT (annotator) DO UPDATE SET unit = 1",
                    "INSERT INTO annotator.journal_meta VALUES ('alice', 'k', 'v')"):
            try:
                wrote.append(bob.execute(sql).rowcount)
            except psycopg.Error:
                wrote.append(0)
        # event_check judges the writer with its own search_path: still refused
        with pytest.raises(psycopg.Error, match="own events"):
            _ins(bob, "alice", "d2", 1, None, DONE, kind="mark_done")
    assert (leaked, wrote, gold.meta_value("merged")) == ([0, 0, 0], [0, 0, 0], "stamp-of-carol")


# -- the derived state against the events: other ways to insert ----------------------
def test_copy_into_events_is_checked_like_insert(team, pg_server, pg_url):
    """COPY fires the row and statement triggers too: a forged `before`, another's name,
    two events on one unit, an oversized part are refused whole."""
    state = team["lead"].journal("bob").state("d1", 1)
    note = {**state, "note": "n"}
    copy = f"COPY annotator.events ({COLS}) FROM STDIN"
    bad = [
        [("bob", "d1", 1, "set_note", "{}", '{"forged": 1}', '{"status": "done"}')],
        [("alice", "d1", 1, "set_note", "{}", None, '{"status": "done"}')],
        [("bob", "d1", 1, "set_note", "{}", json.dumps(state),
          json.dumps(note)),
         ("bob", "d1", 1, "set_note", "{}", json.dumps(note),
          '{"status": "done"}')],
        [("bob", "d2", 1, "set_note", '{"x": "' + "y" * 1100000 + '"}', None,
          '{"status": "done"}')],
        [("bob", "nope", 1, "set_note", "{}", None, '{"status": "done"}')],
    ]
    with _raw(pg_server, pg_url, "bob") as bob:
        for rows in bad:
            with pytest.raises(psycopg.Error), bob.cursor().copy(copy) as cp:
                for r in rows:
                    cp.write_row(r)
    assert team["lead"].journal("bob").state("d1", 1) == state
    assert team["lead"].journal("bob").state("d2", 1) is None
    assert team["lead"].journal("alice").verify() == []
    _consistent(team, "bob")


def test_a_writable_cte_cannot_fork_a_journal(team, pg_server, pg_url):
    """Two INSERTs into events in one query (a data-modifying WITH): both start from
    the state stored before the query; the second must be refused, the query whole."""
    state = team["lead"].journal("bob").state("d1", 1)
    a, b = {**state, "note": "A"}, {**state, "note": "B"}
    with _raw(pg_server, pg_url, "bob") as bob, pytest.raises(psycopg.Error):
        bob.execute(
            f"WITH one AS (INSERT INTO annotator.events ({COLS}) VALUES ('bob', 'd1', 1, "
            "'set_note', '{}', %s, %s) RETURNING seq) "
            f"INSERT INTO annotator.events ({COLS}) SELECT 'bob', 'd1', 1, 'set_note', "
            "'{}', %s, %s FROM one", (Json(state), Json(a), Json(state), Json(b)))
    with _raw(pg_server, pg_url, "bob") as bob, \
            pytest.raises(psycopg.Error, match="at most one event per unit"):
        # chained (A then from A), in one query: the row trigger passes each in turn, the
        # statement trigger sees both (the transition table spans the query's INSERTs)
        bob.execute(
            f"WITH one AS (INSERT INTO annotator.events ({COLS}) VALUES ('bob', 'd1', 1, "
            "'set_note', '{}', %s, %s) RETURNING seq) "
            f"INSERT INTO annotator.events ({COLS}) SELECT 'bob', 'd1', 1, 'set_note', "
            "'{}', %s, %s FROM one", (Json(state), Json(a), Json(a), Json(b)))
    assert team["lead"].journal("bob").state("d1", 1) == state
    _consistent(team, "bob")


def test_a_multi_row_insert_with_one_bad_row_derives_nothing(team, pg_server, pg_url):
    """Rows on different units, the last one forged: the rows derived before it (the
    AFTER trigger works row by row) go with the statement."""
    with _raw(pg_server, pg_url, "bob") as bob, \
            pytest.raises(psycopg.Error, match="does not start from the stored state"):
        bob.execute(
            f"INSERT INTO annotator.events ({COLS}) VALUES "
            "('bob', 'd1', 0, 'mark_done', '{}', NULL, '{\"status\": \"done\"}'), "
            "('bob', 'd2', 1, 'mark_done', '{}', NULL, '{\"status\": \"done\", "
            "\"labels\": {\"devices\": [\"q\"]}}'), "
            "('bob', 'd1', 2, 'mark_done', '{}', '{\"forged\": 1}', '{\"status\": \"done\"}')")
    with psycopg.connect(pg_url, autocommit=True) as lead:
        assert _count(lead, "SELECT count(*) FROM annotator.states WHERE annotator = 'bob'") == 1
        assert _count(lead, "SELECT count(*) FROM annotator.labels WHERE annotator = 'bob'") == 0
    _consistent(team, "bob")


def test_a_savepoint_rolled_back_takes_its_derived_rows_with_it(team, pg_server, pg_url):
    """An event inside a savepoint that is rolled back: the state goes back too, so an
    event from the state before it is accepted, and one from the rolled-back state is
    refused. Also an error caught in a DO block (a subtransaction) keeps nothing."""
    state = team["lead"].journal("bob").state("d1", 1)
    a = {**state, "note": "A", "labels": {"devices": ["x"]}}
    b = {**state, "note": "B"}
    bob = psycopg.connect(_as(pg_server, pg_url, "bob"))
    try:
        bob.execute("SAVEPOINT s")
        _ins(bob, "bob", "d1", 1, state, a)
        assert bob.execute("SELECT state->>'note' FROM annotator.states WHERE doc_id = 'd1' "
                           "AND unit = 1").fetchone()[0] == "A"
        bob.execute("ROLLBACK TO SAVEPOINT s")
        with pytest.raises(psycopg.Error, match="does not start from the stored state"):
            _ins(bob, "bob", "d1", 1, a, b)
        bob.rollback()
        _ins(bob, "bob", "d1", 1, state, b)
        bob.commit()
        bob.execute(
            "DO $$ BEGIN INSERT INTO annotator.events (annotator, doc_id, unit, kind, "
            "action, before, after) VALUES ('bob', 'd2', 1, 'mark_done', '{}', NULL, "
            "'{\"status\": \"done\"}'); INSERT INTO annotator.events (annotator, doc_id, "
            "unit, kind, action, before, after) VALUES ('bob', 'd2', 1, 'mark_done', '{}', "
            "'{\"forged\": 1}', '{\"status\": \"done\"}'); EXCEPTION WHEN others THEN "
            "NULL; END $$")
        bob.commit()
    finally:
        bob.close()
    assert team["lead"].journal("bob").state("d1", 1) == b
    assert team["lead"].journal("bob").state("d2", 1) is None
    _consistent(team, "bob")


def test_on_conflict_do_update_and_trigger_bypasses_are_refused(team, pg_server, pg_url):
    """A member cannot turn the INSERT into an UPDATE of a stored event, switch the
    triggers off (session_replication_role, ALTER TABLE), call the trigger functions
    themselves, or write the derived tables."""
    with _raw(pg_server, pg_url, "bob") as bob:
        (eid,) = bob.execute("SELECT id FROM annotator.events WHERE annotator = 'bob'"
                             ).fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bob.execute(f"INSERT INTO annotator.events (id, {COLS}) VALUES (%s, 'bob', 'd1', "
                        "1, 'x', '{}', NULL, '{}') ON CONFLICT (id) DO UPDATE SET after = "
                        "excluded.after", (eid,))
        with pytest.raises(psycopg.Error):
            bob.execute("SET session_replication_role = replica")
        for sql in ("ALTER TABLE annotator.events DISABLE TRIGGER events_derive",
                    "SELECT annotator.event_derive()", "SELECT annotator.event_check()",
                    "DELETE FROM annotator.states", "INSERT INTO annotator.labels VALUES "
                    "('bob', 1, 1, 0)", "UPDATE annotator.undo_marks SET undone = 0",
                    "UPDATE annotator.members SET curator = true WHERE name = 'bob'"):
            with pytest.raises(psycopg.Error):
                bob.execute(sql)
    _consistent(team, "bob")


# -- two sessions racing --------------------------------------------------------------
def _race(pg_server, pg_url, first_sql, first_args, second_sql, second_args):
    """The first statement holds its transaction open; the second runs meanwhile, in
    autocommit; then the first commits. Returns the second's error (or None) and
    whether it was waiting."""
    one = psycopg.connect(_as(pg_server, pg_url, "bob"))
    two = psycopg.connect(_as(pg_server, pg_url, "bob"), autocommit=True)
    failed: list[BaseException] = []
    try:
        one.execute(first_sql, first_args)

        def second() -> None:
            try:
                two.execute(second_sql, second_args)
            except psycopg.Error as exc:
                failed.append(exc)

        t = threading.Thread(target=second)
        t.start()
        t.join(1.0)
        waited = t.is_alive()
        one.commit()
        t.join(10)
        assert not t.is_alive()
    finally:
        one.close()
        two.close()
    return (failed[0] if failed else None), waited


def test_two_sessions_racing_on_a_units_first_event(team, pg_server, pg_url):
    """Both of bob's sessions start d2 unit 1 from no state: the second waits for the
    first, then finds the state there and is refused."""
    args_a = ("bob", "d2", 1, "mark_done", Json({}), None, Json({**DONE, "note": "A"}))
    args_b = ("bob", "d2", 1, "mark_done", Json({}), None, Json({**DONE, "note": "B"}))
    err, waited = _race(pg_server, pg_url, INSERT, args_a, INSERT, args_b)
    assert waited and err is not None and "does not start from the stored state" in str(err)
    assert team["lead"].journal("bob").state("d2", 1)["note"] == "A"
    _consistent(team, "bob")


def test_two_sessions_racing_with_a_state_being_removed(team, pg_server, pg_url):
    """The first session's undo removes the unit's state (back to none); the second,
    from the state that was there, waits and is refused; the chain stays whole."""
    bob = team["bob"].journal("bob")
    bob.apply("d2", 1, {"type": "set_note", "note": "x"})
    with psycopg.connect(pg_url, autocommit=True) as lead:
        seq, after = lead.execute("SELECT seq, after FROM annotator.events WHERE annotator = "
                                  "'bob' ORDER BY seq DESC LIMIT 1").fetchone()
    undo = ("bob", "d2", 1, "undo", Json({"type": "undo", "event": seq}), Json(after), None)
    other = ("bob", "d2", 1, "set_note", Json({"type": "set_note"}), Json(after),
             Json({**after, "note": "y"}))
    err, waited = _race(pg_server, pg_url, INSERT, undo, INSERT, other)
    assert waited and err is not None and "does not start from the stored state" in str(err)
    assert team["lead"].journal("bob").state("d2", 1) is None
    _consistent(team, "bob")


def test_a_repeatable_read_session_cannot_write_from_a_stale_state(team, pg_server, pg_url):
    """bob's REPEATABLE READ transaction took its snapshot; another session of his then
    changed d1 unit 1. Inserting from the state of the snapshot must fail (the FOR UPDATE
    of the changed row is a serialization failure), not overwrite."""
    state = team["lead"].journal("bob").state("d1", 1)
    rr = psycopg.connect(_as(pg_server, pg_url, "bob"))
    try:
        rr.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rr.execute("SELECT count(*) FROM annotator.states").fetchone()
        with _raw(pg_server, pg_url, "bob") as other:
            _ins(other, "bob", "d1", 1, state, {**state, "note": "other"})
        with pytest.raises(psycopg.Error):
            _ins(rr, "bob", "d1", 1, state, {**state, "note": "stale"})
        rr.rollback()
    finally:
        rr.close()
    assert team["lead"].journal("bob").state("d1", 1)["note"] == "other"
    _consistent(team, "bob")


# -- limits and one statement -----------------------------------------------------------
def test_limits_hold_whatever_the_session_sets(team, pg_server, pg_url):
    """The member's own settings (plan_cache_mode, search_path, standard_conforming
    strings ...) change nothing of what event_check refuses; a kind or document id over
    its limit, an infinite time, a NULL time are refused."""
    with _raw(pg_server, pg_url, "bob") as bob:
        for setting in ("plan_cache_mode = force_custom_plan",
                        "plan_cache_mode = force_generic_plan", "search_path = pg_temp",
                        "jit = off"):
            bob.execute(f"SET {setting}")
            for col, val in (("kind", "k" * 65), ("doc_id", "d" * 1025),
                             ("seconds", float("inf")), ("seconds", None)):
                row = {"annotator": "bob", "doc_id": "d2", "unit": 1, "kind": "mark_done",
                       "action": "{}", "before": None, "after": '{"status": "done"}',
                       col: val}
                with pytest.raises(psycopg.Error):
                    bob.execute(f"INSERT INTO annotator.events ({', '.join(row)}) VALUES "
                                f"({', '.join(['%s'] * len(row))})", tuple(row.values()))
            bob.execute("RESET ALL")
    assert team["lead"].journal("bob").state("d2", 1) is None
    _consistent(team, "bob")


def test_a_retried_id_cannot_probe_or_replace_anothers_event(team, pg_server, pg_url):
    """event_check skips an id already stored before it judges the writer: inserting
    alice's event id in alice's name must store nothing and change nothing of hers, and
    bob's own new event with a fresh id in alice's name is still refused."""
    with psycopg.connect(pg_url, autocommit=True) as lead:
        (aid,) = lead.execute("SELECT id FROM annotator.events WHERE annotator = 'alice' "
                              "ORDER BY seq LIMIT 1").fetchone()
    alice_before = team["lead"].journal("alice").state("d1", 1)
    with _raw(pg_server, pg_url, "bob") as bob:
        cur = bob.execute(f"INSERT INTO annotator.events (id, {COLS}) VALUES (%s, 'alice', "
                          "'d1', 1, 'x', '{}', NULL, '{\"status\": \"evil\"}')", (aid,))
        assert cur.rowcount == 0
        with pytest.raises(psycopg.Error, match="row-level security|own events"):
            bob.execute(f"INSERT INTO annotator.events (id, {COLS}) VALUES (%s, 'alice', "
                        "'d1', 1, 'x', '{}', NULL, '{\"status\": \"evil\"}')", (uuid.uuid4(),))
    assert team["lead"].journal("alice").state("d1", 1) == alice_before
    _consistent(team, "alice")


def test_a_deeply_nested_state_is_refused_not_a_crash(team, pg_server, pg_url):
    """200,000 nested arrays (400 KB, under the limit): the JSON parsers' stack check
    refuses it; the server and the journal go on."""
    deep = "[" * 200000 + "]" * 200000
    with _raw(pg_server, pg_url, "bob") as bob:
        with pytest.raises(psycopg.Error, match="stack depth"):
            bob.execute(INSERT, ("bob", "d2", 1, "x", Json({}), None, deep))
        _ins(bob, "bob", "d2", 1, None, DONE, kind="mark_done")
    _consistent(team, "bob")


def test_a_refused_statement_does_not_write_all_its_rows_first(team, pg_server, pg_url):
    """One INSERT ... SELECT of 20,000 rows for a unit that does not exist is refused by
    event_check at its first row, before the rest are written (the AFTER trigger alone
    ran once all were stored)."""
    size = "SELECT pg_relation_size('annotator.events')"
    with psycopg.connect(pg_url, autocommit=True) as lead:
        (before,) = lead.execute(size).fetchone()
        with _raw(pg_server, pg_url, "bob") as bob, pytest.raises(psycopg.Error):
            bob.execute(f"INSERT INTO annotator.events ({COLS}) SELECT 'bob', 'nope', g, "
                        "'mark_done', '{}', NULL, '{\"status\": \"done\"}' "
                        "FROM generate_series(1, 20000) g")
        (after,) = lead.execute(size).fetchone()
    assert (after - before) // 8192 < 20  # measured: about 300 pages written


def test_label_rows_follow_labels_jsonb_calls_equal(team, pg_server, pg_url):
    """Labels [7] then [7.0] are equal jsonb values but different labels to state_labels:
    event_derive compares them as text, so the label index follows the state."""
    before = None
    with _raw(pg_server, pg_url, "bob") as bob:
        for i, labels in enumerate(({"other": [7]}, {"other": [7.0]})):
            after = {**DONE, "labels": labels, "note": str(i)}
            bob.execute(INSERT, ("bob", "d2", 1, "set_note", Json({}), _j(before),
                                 json.dumps(after)))
            before = after
    _consistent(team, "bob")


def test_errors_and_explain_of_a_blind_members_queries_tell_nothing(team, pg_server, pg_url):
    """A cast that fails on alice's note would tell bob it is there (and what it is not)
    if it ran on her rows before the row policy: it must not, with the member's generic
    plans and prepared statements either; and EXPLAIN ANALYZE of them removes no row of
    hers (what the planner filters is what a blind member could count; a whole-table
    scan counts the table, which docs/store.md says is not hidden)."""
    team["alice"].journal("alice").apply("d2", 1, {"type": "set_note", "note": "secret"})
    probes = [
        "SELECT count(*) FROM annotator.states WHERE (state->>'note')::int = 1",
        "SELECT count(*) FROM annotator.states WHERE annotator = $1 "
        "AND (state->>'note')::int = 1",
        "SELECT count(*) FROM annotator.events WHERE annotator = $1 "
        "AND (after->>'note')::int = 1",
        "SELECT count(*) FROM annotator.states WHERE annotator = $1 "
        "AND (state -> 'decided') IS NOT NULL",
    ]
    with _raw(pg_server, pg_url, "bob") as bob:
        for mode in ("force_generic_plan", "force_custom_plan"):
            bob.execute(f"SET plan_cache_mode = {mode}")
            for i, sql in enumerate(probes):
                name = f"p{i}_{mode[6]}"
                bob.execute(f"PREPARE {name}(text) AS {sql.replace('$1', '$1::text')}"
                            if "$1" in sql else f"PREPARE {name}(text) AS {sql}")
                for _ in range(6):
                    assert _count(bob, f"EXECUTE {name}('alice')") == 0
                if "$1" not in sql:
                    continue  # a whole-table scan counts the table (docs/store.md)
                bob.execute("SET enable_seqscan = off")
                (plan,) = bob.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {name}"
                                      "('alice')").fetchone()[0]
                bob.execute("RESET enable_seqscan")
                assert tp._removed_by_filter(plan["Plan"]) == 0, (sql, plan)


def test_a_member_cannot_store_unlimited_rows_beside_the_events(team, pg_server, pg_url):
    """journal_meta's value (1 MB) and key (1 KB) and positions' doc_id (1 KB) have
    CHECK limits, as the events do: 2.2 MB of each is refused."""
    big = "".join(uuid.uuid4().hex for _ in range(70000))  # 2.2 MB, hardly compressible
    stored = []
    with _raw(pg_server, pg_url, "bob") as bob:
        for sql in ("INSERT INTO annotator.journal_meta VALUES ('bob', 'k', %s)",
                    "INSERT INTO annotator.journal_meta VALUES ('bob', %s, 'v')",
                    "INSERT INTO annotator.positions VALUES ('bob', %s, 1)"):
            try:
                stored.append(bob.execute(sql, (big,)).rowcount)
            except psycopg.Error:
                stored.append(0)
    assert stored == [0, 0, 0]


def test_copy_out_of_the_tables_shows_a_blind_member_only_their_rows(team, pg_server,
                                                                     pg_url):
    with _raw(pg_server, pg_url, "bob") as bob:
        for table in ("events", "states", "labels", "undo_marks", "journal_meta"):
            with bob.cursor().copy(f"COPY annotator.{table} (annotator) TO STDOUT") as cp:
                names = {row[0] for row in cp.rows()}
            assert names <= {"bob"}, (table, names)
    with _raw(pg_server, pg_url, "carol") as carol, \
            carol.cursor().copy("COPY annotator.events (annotator) TO STDOUT") as cp:
        assert {row[0] for row in cp.rows()} >= {"alice", "bob"}  # the probe can see


# -- the fixes' own guards --------------------------------------------------------------
def test_every_function_of_the_schema_sets_its_search_path(team, pg_url):
    """docs/store.md: every function of the schema resolves names in pg_catalog first and
    in pg_temp last, whatever the caller's search_path (read from pg_proc)."""
    with psycopg.connect(pg_url, autocommit=True) as lead:
        rows = lead.execute("SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n "
                            "ON n.oid = p.pronamespace WHERE n.nspname = 'annotator'"
                            ).fetchall()
    assert len(rows) >= 10
    wrong = [name for name, config in rows
             if "search_path=pg_catalog, annotator, pg_temp" not in (config or [])]
    assert wrong == []


def test_db_init_takes_create_on_public_from_everyone(team, pg_server, pg_url):
    """A server upgraded from before 15 lets everyone create in public: `db init` takes it
    back, so bob has no schema to put an operator in."""
    with psycopg.connect(pg_url, autocommit=True) as lead:
        lead.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    tp.init_database(pg_url)
    with _raw(pg_server, pg_url, "bob") as bob:
        assert not _count(bob, "SELECT has_schema_privilege('public', 'CREATE')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bob.execute("CREATE FUNCTION public.t() RETURNS int LANGUAGE sql AS 'SELECT 1'")


def test_a_demoted_curators_open_snapshot_fails_as_not_saved(team, pg_server, pg_url):
    """The members row locked FOR SHARE by event_check: changed after the snapshot, it is
    a serialization failure, which the client reports as an action NOT saved (not as a
    lost connection)."""
    from annotator.store.postgres import NOT_SAVED, _error

    carol = psycopg.connect(_as(pg_server, pg_url, "carol"))
    try:
        carol.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        carol.execute("SELECT 1 FROM annotator.members").fetchall()
        with psycopg.connect(pg_url, autocommit=True) as lead:
            lead.execute("UPDATE annotator.members SET curator = false WHERE name = 'carol'")
        with pytest.raises(psycopg.errors.SerializationFailure) as caught:
            _ins(carol, "gold", "d2", 1, None, {"status": "done"}, kind="set_gold")
        carol.rollback()
    finally:
        carol.close()
    message = _error(caught.value, "db", NOT_SAVED).problems[0].message
    assert "another session changed" in message and NOT_SAVED in message
    assert "lost the connection" not in message


def test_a_curator_still_writes_the_gold_and_a_meta_over_its_limit_is_refused(team):
    """The lock and the limits refuse only what they should: a curator's gold event and a
    meta value of 1 MB are stored; one byte more is refused with the limit named."""
    gold = team["carol"].journal("gold")
    gold.apply("d2", 1, {"type": "mark_done"})
    assert team["lead"].journal("gold").state("d2", 1)["status"] == "done"
    gold.set_meta_value("k", "v" * 1048576)
    with pytest.raises(tp.StoreError, match="size limit"):
        gold.set_meta_value("k", "v" * 1048577)
    assert gold.meta_value("k") == "v" * 1048576
