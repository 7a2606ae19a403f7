"""The PostgreSQL store's tables, as versioned migrations (`annotator db init`).

Everything lives in the schema `annotator`, owned by the role that ran `db init` (the
lead). The design, and why, is in docs/store.md ("PostgreSQL"). In short:

- `events` is the truth: annotators may INSERT (their own rows only: row-level
  security) and SELECT, never UPDATE or DELETE.
- `states`, `labels` and `undo_marks` are derived from each event by a trigger
  (SECURITY DEFINER, owned by the lead) in the same transaction as the event;
  annotators may only SELECT them. A BEFORE trigger refuses an event that does not
  start from the stored state, and an undo or redo that does not restore what its
  target event held, so a stored state is always the end of a chain of events.
- While the project is blind (`settings.blind`), row-level security lets an
  annotator's connection see only their own events, states and labels; curators
  (`members.curator`) and the lead see everything.
"""

from __future__ import annotations

SCHEMA = "annotator"

MIGRATION_1 = """
CREATE TABLE annotator.settings (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE annotator.members (
    name text PRIMARY KEY,
    curator boolean NOT NULL DEFAULT false,
    added_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE annotator.documents (
    key integer PRIMARY KEY,
    id text NOT NULL UNIQUE,
    title text,
    meta jsonb NOT NULL,
    source text NOT NULL,
    sha text NOT NULL,
    n_units integer NOT NULL,
    has_title boolean NOT NULL,
    imported_at timestamptz NOT NULL
);
CREATE TABLE annotator.units (
    doc integer NOT NULL,
    idx integer NOT NULL,
    text text NOT NULL,
    sha text NOT NULL,
    PRIMARY KEY (doc, idx)
);
CREATE TABLE annotator.unit_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc integer NOT NULL,
    idx integer NOT NULL,
    sha text NOT NULL,
    text text NOT NULL,
    replaced_at timestamptz NOT NULL
);
CREATE INDEX unit_history_unit ON annotator.unit_history (doc, idx, sha);
CREATE TABLE annotator.sources (path text PRIMARY KEY, fingerprint text NOT NULL);
CREATE TABLE annotator.totals (name text PRIMARY KEY, value bigint NOT NULL);

CREATE TABLE annotator.events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- chosen by the client before its first attempt: a retried commit is applied once
    id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    annotator text NOT NULL DEFAULT current_user,
    ts timestamptz NOT NULL DEFAULT clock_timestamp(),
    doc_id text NOT NULL,
    unit integer NOT NULL,
    kind text NOT NULL,
    -- json, not jsonb: states come back with their keys in the order they were
    -- written, so an export is the same bytes on either store
    action json NOT NULL,
    before json,
    after json,
    seconds double precision NOT NULL DEFAULT 0
);
CREATE INDEX events_annotator ON annotator.events (annotator, seq);
-- Undo state of events, kept beside them (events are never updated):
-- 1 undone (redo-able), 2 undone and overtaken by a new action. No row: active.
CREATE TABLE annotator.undo_marks (
    seq bigint PRIMARY KEY,
    annotator text NOT NULL,
    undone smallint NOT NULL,
    undone_by bigint NOT NULL
);
CREATE INDEX undo_marks_annotator ON annotator.undo_marks (annotator, undone, undone_by);
CREATE TABLE annotator.states (
    annotator text NOT NULL,
    doc_id text NOT NULL,
    unit integer NOT NULL,
    doc_key integer NOT NULL,
    status text,
    -- schemaless: more kinds of state (decided lists, skipped ...) need no migration
    state json NOT NULL,
    unit_sha text NOT NULL,
    updated_at timestamptz NOT NULL,
    seconds double precision NOT NULL DEFAULT 0,
    n_spans integer NOT NULL DEFAULT 0,
    PRIMARY KEY (annotator, doc_id, unit)
);
CREATE INDEX states_done ON annotator.states (annotator, status, doc_key, unit);
CREATE INDEX states_order ON annotator.states (annotator, doc_key, unit);
CREATE TABLE annotator.label_codes (
    code integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer text NOT NULL,
    label text NOT NULL,
    UNIQUE (layer, label)
);
CREATE TABLE annotator.labels (
    annotator text NOT NULL,
    code integer NOT NULL,
    doc_key integer NOT NULL,
    unit integer NOT NULL,
    PRIMARY KEY (annotator, code, doc_key, unit)
);
CREATE INDEX labels_unit ON annotator.labels (annotator, doc_key, unit);
CREATE TABLE annotator.positions (
    annotator text PRIMARY KEY DEFAULT current_user,
    doc_id text NOT NULL,
    unit integer NOT NULL
);

-- The lead (the owner of these tables) or a curator sees everyone's rows; so does
-- everyone once the project is no longer blind.
CREATE FUNCTION annotator.sees_all() RETURNS boolean
LANGUAGE sql STABLE SET search_path = annotator, pg_catalog AS $$
    SELECT NOT coalesce((SELECT value = 'true'::jsonb FROM annotator.settings
                         WHERE key = 'blind'), true)
        OR EXISTS (SELECT 1 FROM annotator.members WHERE name = current_user AND curator)
        OR pg_has_role(current_user, (SELECT relowner FROM pg_class
                                      WHERE oid = 'annotator.events'::regclass), 'MEMBER')
$$;

-- Runs as the inserting role (not SECURITY DEFINER): it sees what that role may see.
CREATE FUNCTION annotator.event_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = annotator, pg_catalog AS $$
DECLARE
    cur json;
    t record;
    privileged boolean;
BEGIN
    IF EXISTS (SELECT 1 FROM annotator.events WHERE id = NEW.id) THEN
        RETURN NULL;  -- a retried commit of an event already stored: applied once
    END IF;
    privileged := pg_has_role(current_user, (SELECT relowner FROM pg_class
                                             WHERE oid = TG_RELID), 'MEMBER');
    IF NOT privileged THEN
        -- an annotator's clock and name are not theirs to choose
        NEW.ts := clock_timestamp();
        IF NEW.annotator IS DISTINCT FROM current_user THEN
            RAISE EXCEPTION 'role % may only write its own events', current_user
                USING ERRCODE = '42501';
        END IF;
    END IF;
    IF json_typeof(NEW.before) = 'null' THEN NEW.before := NULL; END IF;
    IF json_typeof(NEW.after) = 'null' THEN NEW.after := NULL; END IF;
    SELECT s.state INTO cur FROM annotator.states s
        WHERE s.annotator = NEW.annotator AND s.doc_id = NEW.doc_id AND s.unit = NEW.unit;
    IF NEW.before::jsonb IS DISTINCT FROM cur::jsonb THEN
        RAISE EXCEPTION 'this event does not start from the stored state of % unit % (another session of % wrote it)',
            NEW.doc_id, NEW.unit, NEW.annotator USING ERRCODE = 'AN001';
    END IF;
    IF NEW.kind = 'undo' THEN
        SELECT e.seq, e.doc_id, e.unit, e.before INTO t FROM annotator.events e
            WHERE e.annotator = NEW.annotator AND e.kind NOT IN ('undo', 'redo')
              AND NOT EXISTS (SELECT 1 FROM annotator.undo_marks m
                              WHERE m.seq = e.seq AND m.undone > 0)
            ORDER BY e.seq DESC LIMIT 1;
        IF t.seq IS NULL OR t.seq <> (NEW.action->>'event')::bigint
           OR t.doc_id <> NEW.doc_id OR t.unit <> NEW.unit
           OR NEW.after::jsonb IS DISTINCT FROM t.before::jsonb THEN
            RAISE EXCEPTION 'an undo must restore the state before the latest action'
                USING ERRCODE = 'AN002';
        END IF;
    ELSIF NEW.kind = 'redo' THEN
        SELECT e.seq, e.doc_id, e.unit, e.after INTO t FROM annotator.events e
            JOIN annotator.undo_marks m ON m.seq = e.seq
            WHERE m.annotator = NEW.annotator AND m.undone = 1
            ORDER BY m.undone_by DESC LIMIT 1;
        IF t.seq IS NULL OR t.seq <> (NEW.action->>'event')::bigint
           OR t.doc_id <> NEW.doc_id OR t.unit <> NEW.unit
           OR NEW.after::jsonb IS DISTINCT FROM t.after::jsonb THEN
            RAISE EXCEPTION 'a redo must restore the state after the action undone last'
                USING ERRCODE = 'AN002';
        END IF;
    ELSIF NEW.after IS NULL THEN
        RAISE EXCEPTION 'an action must leave a state' USING ERRCODE = 'AN002';
    ELSIF NOT EXISTS (SELECT 1 FROM annotator.units u JOIN annotator.documents d
                      ON u.doc = d.key WHERE d.id = NEW.doc_id AND u.idx = NEW.unit) THEN
        RAISE EXCEPTION 'no unit % in document %', NEW.unit, NEW.doc_id
            USING ERRCODE = 'AN003';
    END IF;
    RETURN NEW;
END $$;

-- Runs as the lead: the only writer of the derived tables.
CREATE FUNCTION annotator.event_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = annotator, pg_catalog AS $$
DECLARE
    dkey integer;
    usha text;
BEGIN
    SELECT d.key, u.sha INTO dkey, usha FROM annotator.documents d
        LEFT JOIN annotator.units u ON u.doc = d.key AND u.idx = NEW.unit
        WHERE d.id = NEW.doc_id;
    IF NEW.kind = 'undo' THEN
        INSERT INTO annotator.undo_marks VALUES
            ((NEW.action->>'event')::bigint, NEW.annotator, 1, NEW.seq)
            ON CONFLICT (seq) DO UPDATE SET undone = 1, undone_by = NEW.seq;
    ELSIF NEW.kind = 'redo' THEN
        DELETE FROM annotator.undo_marks WHERE seq = (NEW.action->>'event')::bigint;
    ELSE
        UPDATE annotator.undo_marks SET undone = 2
            WHERE annotator = NEW.annotator AND undone = 1;
    END IF;
    DELETE FROM annotator.labels
        WHERE annotator = NEW.annotator AND doc_key = coalesce(dkey, 0) AND unit = NEW.unit;
    IF NEW.after IS NULL THEN
        DELETE FROM annotator.states
            WHERE annotator = NEW.annotator AND doc_id = NEW.doc_id AND unit = NEW.unit;
        RETURN NULL;
    END IF;
    INSERT INTO annotator.states AS s (annotator, doc_id, unit, doc_key, status, state,
                                       unit_sha, updated_at, seconds, n_spans)
        VALUES (NEW.annotator, NEW.doc_id, NEW.unit, coalesce(dkey, 0), NEW.after->>'status',
                NEW.after, coalesce(usha, ''), NEW.ts, NEW.seconds,
                CASE WHEN json_typeof(NEW.after->'spans') = 'array'
                     THEN json_array_length(NEW.after->'spans') ELSE 0 END)
        ON CONFLICT (annotator, doc_id, unit) DO UPDATE SET
            status = excluded.status, state = excluded.state, unit_sha = excluded.unit_sha,
            updated_at = excluded.updated_at, seconds = s.seconds + excluded.seconds,
            n_spans = excluded.n_spans;
    INSERT INTO annotator.label_codes (layer, label)
        SELECT layer, label FROM annotator.state_labels(NEW.after::jsonb)
        ON CONFLICT DO NOTHING;
    INSERT INTO annotator.labels
        SELECT NEW.annotator, c.code, coalesce(dkey, 0), NEW.unit
        FROM annotator.state_labels(NEW.after::jsonb) l
        JOIN annotator.label_codes c ON c.layer = l.layer AND c.label = l.label
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- The paragraph labels of a state, one row each (a multi layer holds a list, a single
-- layer one id or null): the same rule as `store.sql.state_labels`.
CREATE FUNCTION annotator.state_labels(state jsonb) RETURNS TABLE (layer text, label text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT l.key, v.value FROM jsonb_each(coalesce(state->'labels', '{}'::jsonb)) l,
        LATERAL jsonb_array_elements_text(CASE jsonb_typeof(l.value)
            WHEN 'array' THEN l.value
            WHEN 'string' THEN CASE WHEN l.value = '""'::jsonb THEN '[]'::jsonb
                                    ELSE jsonb_build_array(l.value) END
            ELSE '[]'::jsonb END) v
$$;

CREATE TRIGGER events_check BEFORE INSERT ON annotator.events
    FOR EACH ROW EXECUTE FUNCTION annotator.event_check();
CREATE TRIGGER events_derive AFTER INSERT ON annotator.events
    FOR EACH ROW EXECUTE FUNCTION annotator.event_derive();
-- The audit trail: nobody rewrites it, not even by mistake from the lead's role.
CREATE FUNCTION annotator.events_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only' USING ERRCODE = '42501';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON annotator.events
    FOR EACH ROW EXECUTE FUNCTION annotator.events_immutable();

ALTER TABLE annotator.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE annotator.states ENABLE ROW LEVEL SECURITY;
ALTER TABLE annotator.labels ENABLE ROW LEVEL SECURITY;
ALTER TABLE annotator.undo_marks ENABLE ROW LEVEL SECURITY;
ALTER TABLE annotator.positions ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_events ON annotator.events FOR SELECT
    USING (annotator = current_user OR (SELECT annotator.sees_all()));
CREATE POLICY write_events ON annotator.events FOR INSERT
    WITH CHECK (annotator = current_user);
CREATE POLICY read_states ON annotator.states FOR SELECT
    USING (annotator = current_user OR (SELECT annotator.sees_all()));
CREATE POLICY read_labels ON annotator.labels FOR SELECT
    USING (annotator = current_user OR (SELECT annotator.sees_all()));
CREATE POLICY read_marks ON annotator.undo_marks FOR SELECT
    USING (annotator = current_user OR (SELECT annotator.sees_all()));
CREATE POLICY own_position ON annotator.positions FOR ALL
    USING (annotator = current_user) WITH CHECK (annotator = current_user);

REVOKE ALL ON ALL TABLES IN SCHEMA annotator FROM PUBLIC;
REVOKE ALL ON SCHEMA annotator FROM PUBLIC;
"""

# Who annotates which document (`annotator assign`): the lead's table, rows only ever
# added. Every member reads it (the screen offers an annotator their documents; status
# shows the matrix); nobody but the lead writes it. Members added before this version
# get their SELECT here, later ones from ANNOTATOR_GRANTS.
MIGRATION_2 = """
CREATE TABLE annotator.assignments (
    doc_key integer NOT NULL REFERENCES annotator.documents (key),
    annotator text NOT NULL,
    calibration boolean NOT NULL DEFAULT false,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (annotator, doc_key)
);
REVOKE ALL ON annotator.assignments FROM PUBLIC;
DO $$
DECLARE m record;
BEGIN
    FOR m IN SELECT name FROM annotator.members
             WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) LOOP
        EXECUTE format('GRANT SELECT ON annotator.assignments TO %I', m.name);
    END LOOP;
END $$;
"""

# The gold standard (`annotator adjudicate`) is the journal named `gold`, written by
# curators (`members.curator`): version 3 lets a curator's role insert events, and keep a
# position, under that name, and nobody else's (the INSERT policy; `event_check` lets the
# name `gold` through to it). It also adds `journal_meta`, what a journal keeps beside its
# events (as the SQLite journal's `meta` table).
MIGRATION_3 = """
-- The small functions the row policies call are plain SQL without a SET clause, so
-- the planner inlines them (a SET search_path makes every call a function call with a
-- settings switch: it cost a keypress on PostgreSQL about half a millisecond); instead
-- every table and type in them is schema-qualified (a session's temporary schema is
-- searched first for unqualified tables and types, never for functions or operators).
CREATE FUNCTION annotator.may_write_as(name text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT name = current_user
        OR (name = 'gold' AND EXISTS (SELECT 1 FROM annotator.members m
                                      WHERE m.name = current_user AND m.curator))
$$;
CREATE FUNCTION annotator.writable_names() RETURNS pg_catalog.text[]
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM annotator.members m
                             WHERE m.name = current_user AND m.curator)
                THEN ARRAY[current_user::pg_catalog.text, 'gold']
                ELSE ARRAY[current_user::pg_catalog.text] END
$$;

-- Whose rows a role reads, as a list: the row policies are `annotator = ANY (list)`, an
-- index condition. As `annotator = current_user OR sees_all()` they were a filter
-- applied after an index lookup, and EXPLAIN ANALYZE's "Rows Removed by Filter" told a
-- blind annotator whether another's row was there (a label on a unit, a unit done).
-- The names of everyone's journals come from a SECURITY DEFINER function (it reads past
-- the policies), which answers only a role that sees everything.
CREATE FUNCTION annotator.journal_names() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, annotator, pg_temp AS $$
    WITH RECURSIVE allowed AS (
        SELECT NOT coalesce((SELECT value = 'true'::jsonb FROM annotator.settings
                             WHERE key = 'blind'), true)
            OR EXISTS (SELECT 1 FROM annotator.members WHERE name = session_user AND curator)
            OR pg_has_role(session_user, (SELECT relowner FROM pg_catalog.pg_class
                                          WHERE oid = 'annotator.events'::regclass),
                           'MEMBER') AS ok),
    a(n) AS (SELECT min(annotator) FROM annotator.events WHERE (SELECT ok FROM allowed)
             UNION ALL
             SELECT (SELECT min(annotator) FROM annotator.events WHERE annotator > a.n)
             FROM a WHERE a.n IS NOT NULL)
    SELECT coalesce(array_agg(n), '{}') FROM a WHERE n IS NOT NULL
$$;
-- sees_all(), written out (inlined; see above).
CREATE FUNCTION annotator.visible_names() RETURNS pg_catalog.text[]
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT coalesce((SELECT s.value = 'true'::pg_catalog.jsonb
                                   FROM annotator.settings s WHERE s.key = 'blind'), true)
                  OR EXISTS (SELECT 1 FROM annotator.members m
                             WHERE m.name = current_user AND m.curator)
                  OR pg_catalog.pg_has_role(current_user, (
                         SELECT c.relowner FROM pg_catalog.pg_class c
                         WHERE c.oid = 'annotator.events'::pg_catalog.regclass), 'MEMBER')
                THEN annotator.journal_names() || ARRAY[current_user::pg_catalog.text, 'gold']
                ELSE ARRAY[current_user::pg_catalog.text] END
$$;
ALTER POLICY read_events ON annotator.events
    USING (annotator = ANY ((SELECT annotator.visible_names())::text[]));
ALTER POLICY read_states ON annotator.states
    USING (annotator = ANY ((SELECT annotator.visible_names())::text[]));
ALTER POLICY read_labels ON annotator.labels
    USING (annotator = ANY ((SELECT annotator.visible_names())::text[]));
ALTER POLICY read_marks ON annotator.undo_marks
    USING (annotator = ANY ((SELECT annotator.visible_names())::text[]));
-- What a journal keeps beside its events (the schema it was last opened with, the
-- automatic merge's stamp in the gold's): written under the same rule as its events,
-- read as its events are.
CREATE TABLE annotator.journal_meta (
    annotator text NOT NULL DEFAULT current_user,
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (annotator, key)
);
REVOKE ALL ON annotator.journal_meta FROM PUBLIC;
ALTER TABLE annotator.journal_meta ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_meta ON annotator.journal_meta FOR SELECT
    USING (annotator = ANY ((SELECT annotator.visible_names())::text[]));
CREATE POLICY add_meta ON annotator.journal_meta FOR INSERT
    WITH CHECK (annotator.may_write_as(annotator));
CREATE POLICY change_meta ON annotator.journal_meta FOR UPDATE
    USING (annotator = ANY ((SELECT annotator.writable_names())::text[]))
    WITH CHECK (annotator.may_write_as(annotator));
DO $$
DECLARE m record;
BEGIN
    FOR m IN SELECT name FROM annotator.members
             WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON annotator.journal_meta TO %I',
                       m.name);
    END LOOP;
END $$;
ALTER POLICY write_events ON annotator.events
    WITH CHECK (annotator.may_write_as(annotator));
ALTER POLICY own_position ON annotator.positions
    USING (annotator = ANY ((SELECT annotator.writable_names())::text[]))
    WITH CHECK (annotator.may_write_as(annotator));
-- Undo marks are keyed by journal, then event: with a key on `seq` alone, a lookup by
-- seq found another journal's mark and the row policy then removed it, which EXPLAIN
-- ANALYZE counted (a blind annotator learned which of others' events were undone).
ALTER TABLE annotator.undo_marks DROP CONSTRAINT undo_marks_pkey;
ALTER TABLE annotator.undo_marks ADD PRIMARY KEY (annotator, seq);

-- The states that track which layers a decision covered (the gold's, a curator's span
-- edits): few, so the agreement's read of them needs an index, not a parse of every
-- state (two seconds a journal at 1,000,000 units).
CREATE INDEX states_decided ON annotator.states (annotator, doc_key, unit)
    WHERE (state -> 'decided') IS NOT NULL;

-- The two event triggers, as of version 3: written out whole, though most of each is
-- version 1's text, because a migration is what its version installed (version 1 above
-- stays as it was; patching its text in place made this migration depend on it).
-- event_check runs as the lead (SECURITY DEFINER) and judges the connected login
-- (session_user): so it reads the stored state past the row policies, and locks it
-- (FOR UPDATE) until the event commits. Two sessions of one role writing the same unit
-- at once could both pass a check made without a lock from the same state (the second
-- would then overwrite the first, and the chain fork); now the second waits, reads the
-- state the first left, and is refused. An undo or redo must name the event it
-- reverses (a NULL there passed the check). The writer is checked before anything is
-- read: `gold` for curators only, as the INSERT policy (may_write_as) says.
CREATE OR REPLACE FUNCTION annotator.event_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, annotator, pg_temp AS $$
DECLARE
    cur json;
    t record;
    privileged boolean;
BEGIN
    IF EXISTS (SELECT 1 FROM annotator.events WHERE id = NEW.id) THEN
        RETURN NULL;  -- a retried commit of an event already stored: applied once
    END IF;
    privileged := pg_has_role(session_user, (SELECT relowner FROM pg_catalog.pg_class
                                             WHERE oid = TG_RELID), 'MEMBER');
    IF NOT privileged THEN
        -- an annotator's clock and name are not theirs to choose
        NEW.ts := clock_timestamp();
        -- before anything is read past the policies: the state compared below would
        -- otherwise tell a member about a journal they may not read
        IF NEW.annotator IS DISTINCT FROM session_user THEN
            IF NEW.annotator IS DISTINCT FROM 'gold' OR NOT EXISTS (
                    SELECT 1 FROM annotator.members m
                    WHERE m.name = session_user AND m.curator) THEN
                RAISE EXCEPTION 'role % may only write its own events', session_user
                    USING ERRCODE = '42501';
            END IF;
        END IF;
    END IF;
    IF json_typeof(NEW.before) = 'null' THEN NEW.before := NULL; END IF;
    IF json_typeof(NEW.after) = 'null' THEN NEW.after := NULL; END IF;
    SELECT s.state INTO cur FROM annotator.states s
        WHERE s.annotator = NEW.annotator AND s.doc_id = NEW.doc_id AND s.unit = NEW.unit
        FOR UPDATE;
    IF NEW.before::jsonb IS DISTINCT FROM cur::jsonb THEN
        RAISE EXCEPTION 'this event does not start from the stored state of % unit % (another session of % wrote it)',
            NEW.doc_id, NEW.unit, NEW.annotator USING ERRCODE = 'AN001';
    END IF;
    IF NEW.kind = 'undo' THEN
        SELECT e.seq, e.doc_id, e.unit, e.before INTO t FROM annotator.events e
            WHERE e.annotator = NEW.annotator AND e.kind NOT IN ('undo', 'redo')
              AND NOT EXISTS (SELECT 1 FROM annotator.undo_marks m
                              WHERE m.annotator = e.annotator AND m.seq = e.seq
                                AND m.undone > 0)
            ORDER BY e.seq DESC LIMIT 1;
        IF t.seq IS NULL OR t.seq IS DISTINCT FROM (NEW.action->>'event')::bigint
           OR t.doc_id <> NEW.doc_id OR t.unit <> NEW.unit
           OR NEW.after::jsonb IS DISTINCT FROM t.before::jsonb THEN
            RAISE EXCEPTION 'an undo must restore the state before the latest action'
                USING ERRCODE = 'AN002';
        END IF;
    ELSIF NEW.kind = 'redo' THEN
        SELECT e.seq, e.doc_id, e.unit, e.after INTO t FROM annotator.events e
            JOIN annotator.undo_marks m ON m.annotator = e.annotator AND m.seq = e.seq
            WHERE m.annotator = NEW.annotator AND m.undone = 1
            ORDER BY m.undone_by DESC LIMIT 1;
        IF t.seq IS NULL OR t.seq IS DISTINCT FROM (NEW.action->>'event')::bigint
           OR t.doc_id <> NEW.doc_id OR t.unit <> NEW.unit
           OR NEW.after::jsonb IS DISTINCT FROM t.after::jsonb THEN
            RAISE EXCEPTION 'a redo must restore the state after the action undone last'
                USING ERRCODE = 'AN002';
        END IF;
    ELSIF NEW.after IS NULL THEN
        RAISE EXCEPTION 'an action must leave a state' USING ERRCODE = 'AN002';
    ELSIF NOT EXISTS (SELECT 1 FROM annotator.units u JOIN annotator.documents d
                      ON u.doc = d.key WHERE d.id = NEW.doc_id AND u.idx = NEW.unit) THEN
        RAISE EXCEPTION 'no unit % in document %', NEW.unit, NEW.doc_id
            USING ERRCODE = 'AN003';
    END IF;
    RETURN NEW;
END $$;

-- event_derive: the state row, if there was one, is locked by event_check, so it is as
-- the event found it; a unit that had none when checked but got one meanwhile (another
-- session's first event on it) is refused. A label already coded takes no new code (an
-- INSERT ... ON CONFLICT DO NOTHING spends one from the sequence even when it conflicts).
CREATE OR REPLACE FUNCTION annotator.event_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, annotator, pg_temp AS $$
DECLARE
    dkey integer;
    usha text;
BEGIN
    SELECT d.key, u.sha INTO dkey, usha FROM annotator.documents d
        LEFT JOIN annotator.units u ON u.doc = d.key AND u.idx = NEW.unit
        WHERE d.id = NEW.doc_id;
    IF NEW.kind = 'undo' THEN
        INSERT INTO annotator.undo_marks VALUES
            ((NEW.action->>'event')::bigint, NEW.annotator, 1, NEW.seq)
            ON CONFLICT (annotator, seq) DO UPDATE SET undone = 1, undone_by = NEW.seq;
    ELSIF NEW.kind = 'redo' THEN
        DELETE FROM annotator.undo_marks
            WHERE annotator = NEW.annotator AND seq = (NEW.action->>'event')::bigint;
    ELSE
        UPDATE annotator.undo_marks SET undone = 2
            WHERE annotator = NEW.annotator AND undone = 1;
    END IF;
    DELETE FROM annotator.labels
        WHERE annotator = NEW.annotator AND doc_key = coalesce(dkey, 0) AND unit = NEW.unit;
    IF NEW.after IS NULL THEN
        DELETE FROM annotator.states
            WHERE annotator = NEW.annotator AND doc_id = NEW.doc_id AND unit = NEW.unit;
        RETURN NULL;
    END IF;
    INSERT INTO annotator.states AS s (annotator, doc_id, unit, doc_key, status, state,
                                       unit_sha, updated_at, seconds, n_spans)
        VALUES (NEW.annotator, NEW.doc_id, NEW.unit, coalesce(dkey, 0), NEW.after->>'status',
                NEW.after, coalesce(usha, ''), NEW.ts, NEW.seconds,
                CASE WHEN json_typeof(NEW.after->'spans') = 'array'
                     THEN json_array_length(NEW.after->'spans') ELSE 0 END)
        ON CONFLICT (annotator, doc_id, unit) DO UPDATE SET
            status = excluded.status, state = excluded.state, unit_sha = excluded.unit_sha,
            updated_at = excluded.updated_at, seconds = s.seconds + excluded.seconds,
            n_spans = excluded.n_spans
        WHERE NEW.before IS NOT NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this event does not start from the stored state of % unit % (another session of % wrote it)',
            NEW.doc_id, NEW.unit, NEW.annotator USING ERRCODE = 'AN001';
    END IF;
    INSERT INTO annotator.label_codes (layer, label)
        SELECT DISTINCT l.layer, l.label FROM annotator.state_labels(NEW.after::jsonb) l
        WHERE NOT EXISTS (SELECT 1 FROM annotator.label_codes c
                          WHERE c.layer = l.layer AND c.label = l.label)
        ON CONFLICT DO NOTHING;
    INSERT INTO annotator.labels
        SELECT NEW.annotator, c.code, coalesce(dkey, 0), NEW.unit
        FROM annotator.state_labels(NEW.after::jsonb) l
        JOIN annotator.label_codes c ON c.layer = l.layer AND c.label = l.label
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- Names in the functions resolve in pg_catalog first and in a session's own temporary
-- schema last: unlisted, pg_temp is searched FIRST for tables and types, so a member's
-- temporary `pg_class` table (read by sees_all) or `jsonb` domain (cast to in the
-- SECURITY DEFINER event_derive, its CHECK running as the lead) would stand in.
ALTER FUNCTION annotator.sees_all() SET search_path = pg_catalog, annotator, pg_temp;
ALTER FUNCTION annotator.state_labels(jsonb) SET search_path = pg_catalog, annotator, pg_temp;
ALTER FUNCTION annotator.events_immutable() SET search_path = pg_catalog, annotator, pg_temp;

-- Every event is checked against the stored state BEFORE it is inserted, and the state
-- follows from it only at the end of the statement: so one statement may hold at most
-- one event per unit of a journal, and an undo or redo only alone (else two events
-- could start from the same state, and the chain would fork).
CREATE FUNCTION annotator.events_one_per_unit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, annotator, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM fresh GROUP BY annotator, doc_id, unit HAVING count(*) > 1) THEN
        RAISE EXCEPTION 'one statement may insert at most one event per unit of a journal'
            USING ERRCODE = 'AN002';
    END IF;
    IF EXISTS (SELECT 1 FROM fresh WHERE kind IN ('undo', 'redo'))
       AND (SELECT count(*) FROM fresh) > 1 THEN
        RAISE EXCEPTION 'an undo or redo is inserted alone' USING ERRCODE = 'AN002';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER events_one_per_unit AFTER INSERT ON annotator.events
    REFERENCING NEW TABLE AS fresh
    FOR EACH STATEMENT EXECUTE FUNCTION annotator.events_one_per_unit();

-- Limits a member cannot lift: an event's parts at most 1 MB each, its seconds a
-- finite time under a day (NaN sorts above every number: `>= 0` alone lets it in).
CREATE FUNCTION annotator.event_limits() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, annotator, pg_temp AS $$
BEGIN
    IF octet_length(NEW.action::text) > 1048576
       OR octet_length(coalesce(NEW.before::text, '')) > 1048576
       OR octet_length(coalesce(NEW.after::text, '')) > 1048576
       OR octet_length(NEW.doc_id) > 1024 OR octet_length(NEW.kind) > 64 THEN
        RAISE EXCEPTION 'an event is at most 1 MB a part (document ids 1 KB)'
            USING ERRCODE = 'AN002';
    END IF;
    IF NEW.seconds IS NULL OR NEW.seconds = 'NaN'::float8 OR NEW.seconds < 0
       OR NEW.seconds > 86400 THEN
        RAISE EXCEPTION 'an event''s seconds are between 0 and 86400' USING ERRCODE = 'AN002';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_limits BEFORE INSERT ON annotator.events
    FOR EACH ROW EXECUTE FUNCTION annotator.event_limits();

-- An event's sequence number is the database's: members insert every column but `seq`
-- (OVERRIDING SYSTEM VALUE would let one place an event below the merge's stamp, or
-- take the numbers ahead and block everyone's inserts).
DO $$
DECLARE m record;
BEGIN
    FOR m IN SELECT name FROM annotator.members
             WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) LOOP
        EXECUTE format('REVOKE INSERT ON annotator.events FROM %I', m.name);
        EXECUTE format('GRANT INSERT (%s) ON annotator.events TO %I',
                       'id, annotator, ts, doc_id, unit, kind, action, before, after, seconds',
                       m.name);
    END LOOP;
END $$;
"""

# Version 4: the same rules as version 3, at under a third of the server's time per
# event (bench/RESULTS.md, "a keypress on PostgreSQL", 2026-12-03). Measured per INSERT
# with track_functions: the policy functions written in SQL were planned anew at every
# call (an EXISTS in the body keeps the planner from inlining them): visible_names
# 110 us (the SELECT policy checks the RETURNING row), may_write_as 67 us; state_labels,
# called twice by event_derive, 66 us a call; three row triggers and a statement
# trigger, 632 us in all. Now the policy functions are PL/pgSQL (plans cached for the
# session, answers never), and two row triggers (the limits in event_check) do the
# rest in fewer statements each, with generic plans (181 us in all, fsync off).
MIGRATION_4 = """
-- The functions it changes are written out whole, as version 3 did and for its reason:
-- a migration is what its version installed, so none shares text with an earlier one
-- (event_check repeats version 3's event_limits, which it replaces).
-- SET search_path here too: operators (`=`, `||`) resolve in the caller's search_path
-- otherwise, and a member who may CREATE in some schema (public before 15) puts theirs
-- first (tests/test_postgres_attack_v4.py).
CREATE OR REPLACE FUNCTION annotator.may_write_as(name text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, annotator, pg_temp AS $$
BEGIN
    IF name = current_user THEN
        RETURN true;
    END IF;
    RETURN name = 'gold' AND EXISTS (SELECT 1 FROM annotator.members m
                                     WHERE m.name = current_user AND m.curator);
END $$;
CREATE OR REPLACE FUNCTION annotator.writable_names() RETURNS pg_catalog.text[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, annotator, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM annotator.members m WHERE m.name = current_user AND m.curator)
    THEN
        RETURN ARRAY[current_user::pg_catalog.text, 'gold'];
    END IF;
    RETURN ARRAY[current_user::pg_catalog.text];
END $$;
CREATE OR REPLACE FUNCTION annotator.visible_names() RETURNS pg_catalog.text[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, annotator, pg_temp AS $$
BEGIN
    IF NOT coalesce((SELECT s.value = 'true'::pg_catalog.jsonb
                     FROM annotator.settings s WHERE s.key = 'blind'), true)
       OR EXISTS (SELECT 1 FROM annotator.members m
                  WHERE m.name = current_user AND m.curator)
       OR pg_catalog.pg_has_role(current_user, (
              SELECT c.relowner FROM pg_catalog.pg_class c
              WHERE c.oid = 'annotator.events'::pg_catalog.regclass), 'MEMBER') THEN
        RETURN annotator.journal_names() || ARRAY[current_user::pg_catalog.text, 'gold'];
    END IF;
    RETURN ARRAY[current_user::pg_catalog.text];
END $$;

-- Version 4 splits the work of the three row triggers of version 3 in two, in fewer
-- statements each (one query for the id, the writer's rights and name; one for the
-- locked state and the unit; one for the label rows), with generic plans (the plan
-- cache otherwise planned them again at every call, unseen by auto_explain).
-- event_check (BEFORE INSERT): a retried event id is skipped; the writer is checked
-- before anything is read past the policies; the limits (event_limits before); the
-- event's time. Nothing is derived here: a row can still be skipped after its BEFORE
-- trigger (INSERT ... ON CONFLICT DO NOTHING, at the unique index on the id), and only
-- an AFTER trigger fires for the rows actually stored.
CREATE OR REPLACE FUNCTION annotator.event_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, annotator, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    stored boolean;
    privileged boolean;
    own boolean;
    unit_ok boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM annotator.events WHERE id = NEW.id),
           pg_has_role(session_user, (SELECT relowner FROM pg_catalog.pg_class
                                      WHERE oid = TG_RELID), 'MEMBER'),
           NEW.annotator IS NOT DISTINCT FROM session_user
           OR (NEW.annotator IS NOT DISTINCT FROM 'gold' AND EXISTS (
               SELECT 1 FROM annotator.members m WHERE m.name = session_user AND m.curator
               FOR SHARE)),
           EXISTS (SELECT 1 FROM annotator.units u JOIN annotator.documents d ON u.doc = d.key
                   WHERE d.id = NEW.doc_id AND u.idx = NEW.unit)
        INTO stored, privileged, own, unit_ok;
    IF stored THEN
        RETURN NULL;  -- a retried commit of an event already stored: applied once
    END IF;
    IF NOT privileged THEN
        -- an annotator's clock and name are not theirs to choose
        NEW.ts := clock_timestamp();
        IF NOT own THEN
            RAISE EXCEPTION 'role % may only write its own events', session_user
                USING ERRCODE = '42501';
        END IF;
    END IF;
    -- refused at its row, before the statement writes the rest (event_derive checks
    -- it again, authoritatively)
    IF NOT unit_ok AND NEW.kind NOT IN ('undo', 'redo') THEN
        RAISE EXCEPTION 'no unit % in document %', NEW.unit, NEW.doc_id
            USING ERRCODE = 'AN003';
    END IF;
    -- limits a member cannot lift: an event's parts at most 1 MB each, its seconds a
    -- finite time under a day (NaN sorts above every number: `>= 0` alone lets it in)
    IF octet_length(NEW.action::text) > 1048576
       OR octet_length(coalesce(NEW.before::text, '')) > 1048576
       OR octet_length(coalesce(NEW.after::text, '')) > 1048576
       OR octet_length(NEW.doc_id) > 1024 OR octet_length(NEW.kind) > 64 THEN
        RAISE EXCEPTION 'an event is at most 1 MB a part (document ids 1 KB)'
            USING ERRCODE = 'AN002';
    END IF;
    IF NEW.seconds IS NULL OR NEW.seconds = 'NaN'::float8 OR NEW.seconds < 0
       OR NEW.seconds > 86400 THEN
        RAISE EXCEPTION 'an event''s seconds are between 0 and 86400' USING ERRCODE = 'AN002';
    END IF;
    IF json_typeof(NEW.before) = 'null' THEN NEW.before := NULL; END IF;
    IF json_typeof(NEW.after) = 'null' THEN NEW.after := NULL; END IF;
    RETURN NEW;
END $$;
DROP TRIGGER events_limits ON annotator.events;
DROP FUNCTION annotator.event_limits();

-- event_derive (AFTER INSERT, for each stored row, in order): checks and derives each
-- event in turn, so each event of a statement is checked against the state the one
-- before it left (the statement trigger below stays as a second line). The stored
-- state is read and locked (FOR UPDATE: a second session of the role waits, then finds
-- the state changed and is refused); the undo or redo, or that the unit exists, is
-- checked; then the derived rows. The state's label rows are worked out once (the rule
-- of state_labels, written out: a call was planned anew each time), and only label rows
-- that changed are written (none when the labels did not).
CREATE OR REPLACE FUNCTION annotator.event_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, annotator, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    cur json;
    cur_j jsonb;
    cur_key integer;
    t record;
    dkey integer;
    usha text;
    a jsonb;
    codes integer[];
    missing boolean;
BEGIN
    -- the stored state (locked) and the unit, in one statement
    SELECT s.state, s.doc_key, d.key, u.sha INTO cur, cur_key, dkey, usha
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (SELECT s.state, s.doc_key FROM annotator.states s
                           WHERE s.annotator = NEW.annotator AND s.doc_id = NEW.doc_id
                             AND s.unit = NEW.unit FOR UPDATE) s ON true
        LEFT JOIN annotator.documents d ON d.id = NEW.doc_id
        LEFT JOIN annotator.units u ON u.doc = d.key AND u.idx = NEW.unit;
    cur_j := cur::jsonb;
    IF NEW.before::jsonb IS DISTINCT FROM cur_j THEN
        RAISE EXCEPTION 'this event does not start from the stored state of % unit % (another session of % wrote it)',
            NEW.doc_id, NEW.unit, NEW.annotator USING ERRCODE = 'AN001';
    END IF;
    IF NEW.kind = 'undo' THEN
        SELECT e.seq, e.doc_id, e.unit, e.before INTO t FROM annotator.events e
            WHERE e.annotator = NEW.annotator AND e.seq < NEW.seq  -- (rows after it are stored too)
              AND e.kind NOT IN ('undo', 'redo')
              AND NOT EXISTS (SELECT 1 FROM annotator.undo_marks m
                              WHERE m.annotator = e.annotator AND m.seq = e.seq
                                AND m.undone > 0)
            ORDER BY e.seq DESC LIMIT 1;
        IF t.seq IS NULL OR t.seq IS DISTINCT FROM (NEW.action->>'event')::bigint
           OR t.doc_id <> NEW.doc_id OR t.unit <> NEW.unit
           OR NEW.after::jsonb IS DISTINCT FROM t.before::jsonb THEN
            RAISE EXCEPTION 'an undo must restore the state before the latest action'
                USING ERRCODE = 'AN002';
        END IF;
        INSERT INTO annotator.undo_marks VALUES
            ((NEW.action->>'event')::bigint, NEW.annotator, 1, NEW.seq)
            ON CONFLICT (annotator, seq) DO UPDATE SET undone = 1, undone_by = NEW.seq;
    ELSIF NEW.kind = 'redo' THEN
        SELECT e.seq, e.doc_id, e.unit, e.after INTO t FROM annotator.events e
            JOIN annotator.undo_marks m ON m.annotator = e.annotator AND m.seq = e.seq
            WHERE m.annotator = NEW.annotator AND m.undone = 1
            ORDER BY m.undone_by DESC LIMIT 1;
        IF t.seq IS NULL OR t.seq IS DISTINCT FROM (NEW.action->>'event')::bigint
           OR t.doc_id <> NEW.doc_id OR t.unit <> NEW.unit
           OR NEW.after::jsonb IS DISTINCT FROM t.after::jsonb THEN
            RAISE EXCEPTION 'a redo must restore the state after the action undone last'
                USING ERRCODE = 'AN002';
        END IF;
        DELETE FROM annotator.undo_marks
            WHERE annotator = NEW.annotator AND seq = (NEW.action->>'event')::bigint;
    ELSIF NEW.after IS NULL THEN
        RAISE EXCEPTION 'an action must leave a state' USING ERRCODE = 'AN002';
    ELSIF usha IS NULL THEN
        RAISE EXCEPTION 'no unit % in document %', NEW.unit, NEW.doc_id
            USING ERRCODE = 'AN003';
    ELSE
        UPDATE annotator.undo_marks SET undone = 2
            WHERE annotator = NEW.annotator AND undone = 1;
    END IF;
    dkey := coalesce(dkey, 0);
    IF NEW.after IS NULL THEN
        DELETE FROM annotator.labels
            WHERE annotator = NEW.annotator AND doc_key = dkey AND unit = NEW.unit;
        DELETE FROM annotator.states
            WHERE annotator = NEW.annotator AND doc_id = NEW.doc_id AND unit = NEW.unit;
        RETURN NULL;
    END IF;
    a := NEW.after::jsonb;
    IF cur IS NULL THEN
        -- another session's first event on the unit, since the read: refused
        INSERT INTO annotator.states (annotator, doc_id, unit, doc_key, status, state,
                                      unit_sha, updated_at, seconds, n_spans)
            VALUES (NEW.annotator, NEW.doc_id, NEW.unit, dkey, a->>'status', NEW.after,
                    coalesce(usha, ''), NEW.ts, NEW.seconds,
                    CASE WHEN jsonb_typeof(a->'spans') = 'array'
                         THEN jsonb_array_length(a->'spans') ELSE 0 END)
            ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'this event does not start from the stored state of % unit % (another session of % wrote it)',
                NEW.doc_id, NEW.unit, NEW.annotator USING ERRCODE = 'AN001';
        END IF;
    ELSE
        -- the row read above, locked since (its doc_key stays, as in version 3)
        UPDATE annotator.states SET status = a->>'status', state = NEW.after,
               unit_sha = coalesce(usha, ''), updated_at = NEW.ts,
               seconds = seconds + NEW.seconds,
               n_spans = CASE WHEN jsonb_typeof(a->'spans') = 'array'
                              THEN jsonb_array_length(a->'spans') ELSE 0 END
            WHERE annotator = NEW.annotator AND doc_id = NEW.doc_id AND unit = NEW.unit;
        IF cur_key = dkey AND (cur_j -> 'labels') IS NOT DISTINCT FROM (a -> 'labels')
           AND (cur_j -> 'labels')::text IS NOT DISTINCT FROM (a -> 'labels')::text THEN
            RETURN NULL;  -- the unit's label rows are those of the state before: unchanged
        END IF;
    END IF;
    -- the paragraph labels of the state (a multi layer holds a list, a single layer one
    -- id or null) as codes, each looked up by its key (a set-wise plan, generic, sized
    -- its hash tables for thousands of rows: 110 us); `missing` when one has none yet
    SELECT coalesce(array_agg(c.code) FILTER (WHERE c.code IS NOT NULL), '{}'),
           coalesce(bool_or(c.code IS NULL), false)
        INTO codes, missing
        FROM jsonb_each(coalesce(a->'labels', '{}'::jsonb)) l
        CROSS JOIN LATERAL jsonb_array_elements_text(CASE jsonb_typeof(l.value)
            WHEN 'array' THEN l.value
            WHEN 'string' THEN CASE WHEN l.value = '""'::jsonb THEN '[]'::jsonb
                                    ELSE jsonb_build_array(l.value) END
            ELSE '[]'::jsonb END) v
        LEFT JOIN LATERAL (SELECT lc.code FROM annotator.label_codes lc
                           WHERE lc.layer = l.key AND lc.label = v.value) c ON true;
    -- the unit's rows of other labels deleted, the missing ones added, in one statement
    WITH gone AS (
        DELETE FROM annotator.labels l
        WHERE l.annotator = NEW.annotator AND l.doc_key = dkey AND l.unit = NEW.unit
          AND l.code <> ALL (codes))
    INSERT INTO annotator.labels
        SELECT NEW.annotator, x, dkey, NEW.unit FROM unnest(codes) x
        ON CONFLICT DO NOTHING;
    IF missing THEN
        -- a label already coded takes no new code (ON CONFLICT DO NOTHING alone spends
        -- one from the sequence even when it conflicts)
        INSERT INTO annotator.label_codes (layer, label)
            SELECT DISTINCT l.layer, l.label FROM annotator.state_labels(a) l
            WHERE NOT EXISTS (SELECT 1 FROM annotator.label_codes c
                              WHERE c.layer = l.layer AND c.label = l.label)
            ON CONFLICT DO NOTHING;
        INSERT INTO annotator.labels
            SELECT NEW.annotator, c.code, dkey, NEW.unit
            FROM annotator.state_labels(a) l
            JOIN annotator.label_codes c ON c.layer = l.layer AND c.label = l.label
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

-- One query for the usual statement of one row; the groups only when there are more.
-- Keypresses update `states` as HOT updates (the new row version on the same page, no
-- index entry written: 2.0 kB of WAL an action was 4 index entries of `states`): no
-- index may name a column a keypress changes. The partial index on decided states
-- named `state` itself; it now names `decided`, which changes only when a state starts
-- or stops tracking decided layers. The room on each page is for those new versions.
ALTER TABLE annotator.states SET (fillfactor = 80);
DROP INDEX annotator.states_decided;
ALTER TABLE annotator.states
    ADD COLUMN decided boolean GENERATED ALWAYS AS ((state -> 'decided') IS NOT NULL) STORED;
CREATE INDEX states_decided ON annotator.states (annotator, doc_key, unit) WHERE decided;

CREATE OR REPLACE FUNCTION annotator.events_one_per_unit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, annotator, pg_temp AS $$
BEGIN
    IF (SELECT count(*) FROM fresh) > 1 THEN
        IF EXISTS (SELECT 1 FROM fresh GROUP BY annotator, doc_id, unit
                   HAVING count(*) > 1) THEN
            RAISE EXCEPTION 'one statement may insert at most one event per unit of a journal'
                USING ERRCODE = 'AN002';
        END IF;
        IF EXISTS (SELECT 1 FROM fresh WHERE kind IN ('undo', 'redo')) THEN
            RAISE EXCEPTION 'an undo or redo is inserted alone' USING ERRCODE = 'AN002';
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- The other tables a member writes take no more than the events do (a value of up to
-- 1 GB each otherwise: one INSERT ... SELECT of them fills the server's disk).
ALTER TABLE annotator.journal_meta ADD CONSTRAINT journal_meta_limits
    CHECK (octet_length(value) <= 1048576 AND octet_length(key) <= 1024);
ALTER TABLE annotator.positions ADD CONSTRAINT positions_limits
    CHECK (octet_length(doc_id) <= 1024);
"""

MIGRATIONS: list[tuple[int, str]] = [(1, MIGRATION_1), (2, MIGRATION_2), (3, MIGRATION_3),
                                     (4, MIGRATION_4)]

# What `db add-annotator` grants (on top of CONNECT and USAGE on the schema).
ANNOTATOR_GRANTS = [
    "GRANT SELECT ON annotator.documents, annotator.units, annotator.unit_history, "
    "annotator.sources, annotator.totals, annotator.settings, annotator.members, "
    "annotator.label_codes, annotator.schema_migrations, annotator.assignments TO {role}",
    "GRANT SELECT ON annotator.events TO {role}",
    "GRANT INSERT (id, annotator, ts, doc_id, unit, kind, action, before, after, seconds) "
    "ON annotator.events TO {role}",
    "GRANT SELECT ON annotator.states, annotator.labels, annotator.undo_marks TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON annotator.positions TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON annotator.journal_meta TO {role}",
]
