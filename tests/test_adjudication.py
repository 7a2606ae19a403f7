"""The gold journal and the merge: decisions, what they side with, undo/redo across
restarts, and the vectorised automatic merge against a per-unit brute force."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from util import REPO

from annotator.adjudication import GOLD, curator_name, may_curate, merged
from annotator.adjudication.auto import auto_merge, scan
from annotator.adjudication.merge import disagreements, layer_value
from annotator.adjudication.session import Session
from annotator.corpus import Document
from annotator.schema import load_schema
from annotator.store import SQLiteStore

SCHEMA = load_schema(REPO / "schemas" / "framing-devices.yaml")
DEVICES = [lab.id for lab in SCHEMA.layer("devices").labels]
STANCES = [lab.id for lab in SCHEMA.layer("stance").labels]
TEXT = "The minister said that sovereignty matters, and the envoy agreed."


def _store(root: Path, n_docs: int = 3, n_units: int = 4) -> SQLiteStore:
    s = SQLiteStore(root / ".annotator")
    s.import_documents([Document(f"d{i}", None, [f"{TEXT} {i}.{k}" for k in range(n_units)])
                        for i in range(n_docs)])
    return s


def _label(j, doc, unit, layer, label):
    j.apply(doc, unit, {"type": "toggle_label", "layer": layer, "label": label})


@pytest.fixture
def three(project: Path) -> SQLiteStore:
    s = _store(project)
    for name in ("alice", "bob", "carol"):
        j = s.journal(name, SCHEMA)
        _label(j, "d0", 1, "devices", "sovereignty")
        _label(j, "d0", 1, "stance", "positive")
    # d0/2: bob differs on stance
    for name, stance in (("alice", "negative"), ("bob", "neutral"), ("carol", "negative")):
        _label(s.journal(name, SCHEMA), "d0", 2, "stance", stance)
    return s


def test_gold_is_not_an_annotator(three: SQLiteStore):
    three.journal(GOLD, SCHEMA)
    assert three.has_journal(GOLD)
    assert three.annotators() == ["alice", "bob", "carol"]
    assert GOLD not in [j.annotator for j in three.reading_journals()]


def test_take_version_records_who_it_sided_with(three: SQLiteStore):
    ses = Session(three, SCHEMA, "cur")
    assert ses.disagreements("d0", 2) == ["stance"]
    assert ses.disagreements("d0", 1) == []
    ch = ses.take_version("d0", 2, "stance", "bob")
    gold = ses.gold_state("d0", 2)
    assert gold == ch.state
    assert gold["labels"]["stance"] == "neutral" and gold["status"] == "done"
    assert gold["decided_by"] == ["bob"] and gold["overrode"] is False
    assert gold["decided_by_layer"]["stance"] == ["bob"]
    assert gold["decided_by_layer"]["devices"] == ["alice", "bob", "carol"]
    assert gold["auto"] is None and gold["curator"] == "cur"
    # the event itself carries the decision (the audit trail)
    ev = ses.gold.events(1)[0]
    assert ev["kind"] == "take_version" and ev["action"]["from"] == "bob"
    assert ev["action"]["decided_by"] == ["bob"]
    # toggling a label no annotator chose overrides them all
    ses.apply("d0", 2, {"type": "toggle_label", "layer": "devices", "label": "solidarity"})
    gold = ses.gold_state("d0", 2)
    assert gold["decided_by"] == [] and gold["overrode"] is True
    assert gold["decided_by_layer"]["devices"] == []


def test_gold_undo_redo_survive_restart(three: SQLiteStore, project: Path):
    ses = Session(three, SCHEMA, "cur")
    ses.take_version("d0", 2, "stance", "alice")
    ses.take_version("d0", 2, "stance", "bob")
    three.close()
    s2 = SQLiteStore(project / ".annotator")
    ses2 = Session(s2, SCHEMA, "cur")
    assert ses2.gold_state("d0", 2)["labels"]["stance"] == "neutral"
    ses2.undo()
    assert ses2.gold_state("d0", 2)["labels"]["stance"] == "negative"
    assert ses2.gold_state("d0", 2)["decided_by"] == ["alice", "carol"]
    s2.close()
    s3 = SQLiteStore(project / ".annotator")
    ses3 = Session(s3, SCHEMA, "cur")
    ses3.redo()
    assert ses3.gold_state("d0", 2)["labels"]["stance"] == "neutral"
    assert [e["kind"] for e in ses3.gold.events()] == ["redo", "undo", "take_version",
                                                       "take_version"]
    assert ses3.gold.verify() == []  # the replayed events give the stored gold


def test_spans_taken_and_accepted(project: Path):
    s = _store(project, 1, 2)
    a, b = s.journal("alice", SCHEMA), s.journal("bob", SCHEMA)
    a.apply("d0", 1, {"type": "add_span", "layer": "quotes", "label": "quote", "start": 4,
                      "end": 12, "attributes": {"type": "direct"}})
    a.apply("d0", 1, {"type": "add_span", "layer": "quotes", "label": "source", "start": 0,
                      "end": 3})
    a.apply("d0", 1, {"type": "add_relation", "label": "attributed_to", "from": "s1",
                      "to": "s2"})
    b.apply("d0", 1, {"type": "add_span", "layer": "quotes", "label": "quote", "start": 4,
                      "end": 20})
    ses = Session(s, SCHEMA, "cur")
    assert ses.disagreements("d0", 1) == ["quotes"]
    ses.take_version("d0", 1, "quotes", "alice")
    gold = ses.gold_state("d0", 1)
    assert [(x["label"], x["start"], x["end"]) for x in gold["spans"]] == [
        ("quote", 4, 12), ("source", 0, 3)]
    assert gold["relations"] == [{"label": "attributed_to", "from": "s1", "to": "s2"}]
    assert gold["decided_by"] == ["alice"]
    ses.accept_span("d0", 1, "bob", "s1")
    gold = ses.gold_state("d0", 1)
    assert len(gold["spans"]) == 3 and gold["spans"][2]["text"] == TEXT[4:20]
    assert gold["overrode"] is True  # now equal to neither annotator's unit
    assert layer_value(gold, SCHEMA.layer("quotes")) != layer_value(
        ses.versions("d0", 1)["alice"], SCHEMA.layer("quotes"))


def test_skipped_or_unfinished_carries_no_labels(project: Path):
    s = _store(project, 1, 2)
    _label(s.journal("alice", SCHEMA), "d0", 1, "stance", "positive")
    j = s.journal("bob", SCHEMA)
    j.apply("d0", 1, {"type": "set_note", "note": "later"})  # seen, not done
    ses = Session(s, SCHEMA, "cur")
    assert list(ses.versions("d0", 1)) == ["alice"]


def test_curators_are_the_team_roles():
    from annotator.errors import InputError
    from annotator.team.roles import Team

    assert may_curate(None, "anyone")  # no team section: single-user
    assert curator_name(None, "me", None, "me") == "me"
    assert curator_name(None, "me", "chief", "me") == "chief"
    team = Team("lee", {"alice": "u_alice", "cur": "u_cur", "cur2": "u_both",
                        "cur3": "u_both", "lee": "lee"}, ("cur", "cur2", "cur3"))
    assert may_curate(team, "u_cur") and may_curate(team, "u_both")
    # a curator is a login, not a name: "cur" is no login; the lead is no curator
    assert not may_curate(team, "cur") and not may_curate(team, "u_alice")
    assert not may_curate(team, "lee")
    assert curator_name(team, "u_cur", None, "x") == "cur"
    assert curator_name(team, "u_both", "cur3", "x") == "cur3"
    for login, asked, needle in (("u_alice", None, "u_alice is not a curator"),
                                 ("lee", None, "lee is not a curator"),
                                 ("u_both", None, "choose one with --as"),
                                 ("u_cur", "cur2", "may not adjudicate as 'cur2'"),
                                 ("u_cur", "alice", "may not adjudicate as 'alice'")):
        with pytest.raises(InputError, match=needle):
            curator_name(team, login, asked, "x")


# ---------------------------------------------------------------- automatic merge


def _random_study(s, rng: random.Random, n_ann: int, n_docs: int = 12, n_units: int = 5):
    """A study of n_ann annotators in the (empty) store s: random labels, spans on some
    units, some units left out by some annotators."""
    s.import_documents([Document(f"d{i}", None, [f"{TEXT} {i}.{k}" for k in range(n_units)])
                        for i in range(n_docs)])
    names = [f"a{i}" for i in range(n_ann)]
    for d in range(n_docs):
        for u in range(1, n_units + 1):
            base_dev = rng.sample(DEVICES, rng.randint(0, 2))
            base_st = rng.choice([*STANCES, None])
            base_sp = rng.random() < 0.3
            for name in names:
                if rng.random() < 0.2:
                    continue  # this annotator did not do the unit
                j = s.journal(name, SCHEMA)
                dev = base_dev if rng.random() < 0.7 else rng.sample(DEVICES, 1)
                st = base_st if rng.random() < 0.7 else rng.choice(STANCES)
                for lab in dev:
                    _label(j, f"d{d}", u, "devices", lab)
                if st:
                    _label(j, f"d{d}", u, "stance", st)
                if base_sp and rng.random() < 0.8:
                    end = 10 if rng.random() < 0.8 else 11
                    j.apply(f"d{d}", u, {"type": "add_span", "layer": "quotes",
                                         "label": "quote", "start": 2, "end": end})
                j.apply(f"d{d}", u, {"type": "mark_done"})
    return s


def _brute(s: SQLiteStore, strategy: str) -> dict:
    """The merge unit by unit, from the journals' states (the per-unit definition)."""
    out = {}
    journals = s.reading_journals()
    for doc in s.iter_documents():
        for u in s.units(doc.id):
            versions = {j.annotator: st for j in journals
                        if (st := j.state(doc.id, u.index)) and st.get("status") == "done"}
            m = merged(versions, SCHEMA, strategy)
            if m is not None:
                out[(doc.id, u.index)] = (m[0], m[1])
    return out


def _comparable(labels: dict, spans: list, relations: list) -> tuple:
    g = {"labels": labels, "spans": spans, "relations": relations}
    return tuple(layer_value(g, lay) for lay in SCHEMA.layers)


@pytest.mark.parametrize("strategy,n_ann,seed", [("unanimous", 2, 1), ("unanimous", 3, 2),
                                                 ("majority", 3, 3), ("majority", 4, 4),
                                                 ("majority", 5, 5)])
def test_auto_merge_matches_brute_force(store_backend, strategy: str, n_ann: int, seed: int):
    """On either store (on PostgreSQL the bulk write goes through the database's own
    triggers, which check and derive every event)."""
    s = _random_study(store_backend(), random.Random(seed), n_ann)
    expected = _brute(s, strategy)
    assert expected  # the random study has units to merge, and others
    result = auto_merge(s, SCHEMA, strategy, curator="cur")
    gold = s.journal(GOLD, SCHEMA)
    got = {(d, u): st for d, u, st, _ in gold.iter_states()}
    assert set(got) == set(expected) and result.merged == len(expected)
    for key, (part, holders) in expected.items():
        st = got[key]
        assert _comparable(st["labels"], st["spans"], st["relations"]) == _comparable(
            part["labels"], part["spans"], part["relations"]), key
        assert st["auto"] == strategy and st["status"] == "done" and not st["overrode"]
        assert st["decided_by_layer"] == holders, key
        assert st["decided_by"] == [n for n in sorted({x for v in holders.values() for x in v})
                                    if all(n in v for v in holders.values())]
    # disagreement counts: units with two or more versions the strategy left open
    sc = scan(s, SCHEMA)
    brute_dis = 0
    journals = s.reading_journals()
    for doc in s.iter_documents():
        for u in s.units(doc.id):
            versions = {j.annotator: st for j in journals
                        if (st := j.state(doc.id, u.index)) and st.get("status") == "done"}
            brute_dis += bool(disagreements(versions, SCHEMA))
    assert int(sc.disagree().sum()) == brute_dis
    # a second run changes nothing; a curator's change is never overwritten
    assert auto_merge(s, SCHEMA, strategy).merged == 0
    assert gold.verify() == []


def test_auto_merge_is_changeable_and_undoable(three: SQLiteStore):
    r = auto_merge(three, SCHEMA, "unanimous")
    assert r.merged == 1  # d0/1 only: d0/2 disagrees
    ses = Session(three, SCHEMA, "cur")
    assert ses.gold_state("d0", 1)["auto"] == "unanimous"
    ses.apply("d0", 1, {"type": "toggle_label", "layer": "stance", "label": "positive"})
    st = ses.gold_state("d0", 1)
    assert st["auto"] is None and st["labels"]["stance"] is None and st["overrode"]
    ses.undo()
    assert ses.gold_state("d0", 1)["auto"] == "unanimous"
    r = auto_merge(three, SCHEMA, "majority")
    assert r.merged == 1 and ses.gold_state("d0", 2)["labels"]["stance"] == "negative"
    assert ses.gold_state("d0", 2)["decided_by"] == ["alice", "carol"]


def test_apply_many_equals_apply_one_by_one(project: Path):
    s = _store(project, 2, 3)
    shared = {"type": "set_gold", "labels": {"stance": "positive", "devices": ["solidarity"]},
              "spans": [], "relations": [], "decided_by": ["x"]}
    items = [("d0", 1, shared), ("d0", 2, shared),
             ("d0", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"}),
             ("d1", 1, {"type": "add_span", "layer": "quotes", "label": "quote", "start": 0,
                        "end": 3}),
             ("d0", 2, shared), ("d1", 3, shared)]
    bulk, single = s.journal("bulk", SCHEMA), s.journal("single", SCHEMA)
    assert bulk.apply_many(items, chunk=4) == len(items)
    for doc, unit, action in items:
        single.apply(doc, unit, action)

    def view(j):
        return ([(d, u, st) for d, u, st, _ in j.iter_states()],
                [(e["kind"], e["doc_id"], e["unit"], e["action"]) for e in j.events()],
                sorted(j.conn.execute("SELECT c.layer, c.label, l.doc_key, l.unit FROM labels l"
                                      " JOIN label_codes c USING (code)").fetchall()))

    assert view(bulk) == view(single)
    assert bulk.verify() == []
    bulk.undo()
    assert bulk.state("d1", 3) is None


def test_status_counts_and_checks_the_gold(three: SQLiteStore):
    from annotator.status import format_status, project_status

    ses = Session(three, SCHEMA, "cur")
    ses.take_version("d0", 2, "stance", "bob")
    st = project_status(three, SCHEMA, check=True)
    assert st["gold"] == 1 and st["damaged"] == []
    assert "gold: 1 unit(s) adjudicated" in format_status(st)
    assert [a["annotator"] for a in st["annotators"]] == ["alice", "bob", "carol"]
    ses.gold.conn.execute("UPDATE units SET state = '{}'")  # the stored state tampered
    st = project_status(three, SCHEMA, check=True)
    assert [d["annotator"] for d in st["damaged"]] == ["gold"]


def test_apply_many_into_an_empty_journal_meeting_a_document_again(project: Path):
    s = _store(project, 2, 2)
    act = {"type": "toggle_label", "layer": "devices", "label": "solidarity"}
    items = [("d0", 1, act), ("d1", 1, act), ("d0", 1, act), ("d0", 2, act)]
    bulk, single = s.journal("bulk", SCHEMA), s.journal("single", SCHEMA)
    bulk.apply_many(items)
    for doc, unit, action in items:
        single.apply(doc, unit, action)
    assert [(d, u, st) for d, u, st, _ in bulk.iter_states()] == [
        (d, u, st) for d, u, st, _ in single.iter_states()]
    assert bulk.state("d0", 1)["labels"]["devices"] == []  # toggled twice
    assert bulk.verify() == []


def _view(j) -> tuple:
    """What a journal holds: states, events, the label index and the state rows."""
    if type(j).__name__ == "PostgresJournal":
        labels = ("SELECT c.layer, c.label, l.doc_key, l.unit FROM annotator.labels l JOIN "
                  "annotator.label_codes c USING (code) WHERE l.annotator = %s", (j.annotator,))
        rows = ("SELECT doc_id, unit, doc_key, status, unit_sha, n_spans FROM "
                "annotator.states WHERE annotator = %s", (j.annotator,))
    else:
        labels = ("SELECT c.layer, c.label, l.doc_key, l.unit FROM labels l JOIN label_codes"
                  " c USING (code)", ())
        rows = ("SELECT doc_id, unit, doc_key, status, unit_sha, n_spans FROM units", ())
    return ([(d, u, st) for d, u, st, _ in j.iter_states()],
            [(e["kind"], e["doc_id"], e["unit"], e["action"]) for e in j.events()],
            sorted(tuple(r) for r in j.conn.execute(*labels).fetchall()),
            sorted(tuple(r) for r in j.conn.execute(*rows).fetchall()))


def test_apply_fresh_equals_apply_one_by_one(store_backend):
    s = store_backend()
    s.import_documents([Document(f"d{i}", None, [f"{TEXT} {i}.{k}" for k in range(4)])
                        for i in range(3)])
    acts = [{"type": "set_gold", "labels": {"stance": "positive", "devices": ["solidarity"]},
             "spans": [], "relations": [], "decided_by": ["a", "b"], "auto": "unanimous"},
            {"type": "set_gold", "labels": {"stance": None, "devices": []}, "spans": [],
             "relations": [], "decided_by": ["a"], "auto": "majority", "curator": "cur"}]
    keys = {d.id: d.key for d in s.iter_documents()}
    rows = [("d0", 1, 0), ("d0", 3, 1), ("d1", 2, 0), ("d2", 4, 1), ("d2", 1, 0)]
    bulk, single = s.journal("bulk", SCHEMA), s.journal("single", SCHEMA)
    bulk.apply("d1", 2, {"type": "set_note", "note": "seen"})  # a state already: skipped
    single.apply("d1", 2, {"type": "set_note", "note": "seen"})
    seen: list[int] = []
    n, skipped = bulk.apply_fresh([keys[d] for d, _, _ in rows], [u for _, u, _ in rows],
                                  [t for *_, t in rows], acts, chunk=2,
                                  progress=lambda done, total: seen.append(done))
    assert n == 4 and skipped == [(keys["d1"], 2)] and seen == [2, 3, 4]
    for d, u, t in rows:
        if (d, u) != ("d1", 2):
            single.apply(d, u, acts[t])
    assert _view(bulk) == _view(single)  # the same events in the same order, states, index
    assert bulk.verify() == []
    # undo of an automatic decision: the unit has no gold again; redo brings it back
    last = bulk.events(1)[0]
    bulk.undo()
    assert bulk.state(last["doc_id"], last["unit"]) is None
    bulk.redo()
    assert bulk.state(last["doc_id"], last["unit"])["auto"] in ("unanimous", "majority")
    assert bulk.verify() == []
    # units not in the corpus are dropped, spans are refused
    assert bulk.apply_fresh([keys["d0"]], [99], [0], acts) == (0, [])
    with pytest.raises(ValueError):
        bulk.apply_fresh([keys["d0"]], [2], [0], [{**acts[0], "spans": [
            {"id": "s1", "layer": "quotes", "label": "quote", "start": 0, "end": 2}]}])


def test_a_killed_bulk_merge_leaves_whole_chunks_and_resumes(project: Path, monkeypatch):
    """A kill in the middle of the merge (here: an exception in the second chunk's
    transaction) leaves the first chunk whole and nothing of the second; running the
    merge again finishes the rest."""
    s = _store(project, 4, 5)
    for name in ("alice", "bob"):
        j = s.journal(name, SCHEMA)
        for d in range(4):
            for u in range(1, 6):
                _label(j, f"d{d}", u, "stance", "positive")
    from annotator.store import sqlite as sq

    real = sq._take
    calls = []

    def dying(it, n):
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt  # SIGINT's default: the process dies here
        return real(it, n)

    monkeypatch.setattr(sq, "_take", dying)
    gold = s.journal(GOLD, SCHEMA)
    orig = gold.apply_fresh
    monkeypatch.setattr(gold, "apply_fresh", lambda *a, **k: orig(*a, **{**k, "chunk": 8}))
    monkeypatch.setattr(s, "journal", lambda name, schema=None: gold)
    with pytest.raises(KeyboardInterrupt):
        auto_merge(s, SCHEMA, "unanimous", journals=[sq.SQLiteStore.journal(s, n, SCHEMA)
                                                     for n in ("alice", "bob")])
    assert gold.conn.execute("SELECT count(*) FROM units").fetchone()[0] == 8
    assert gold.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 8
    assert gold.verify() == []
    monkeypatch.setattr(sq, "_take", real)
    r = auto_merge(s, SCHEMA, "unanimous", journals=[sq.SQLiteStore.journal(s, n, SCHEMA)
                                                     for n in ("alice", "bob")])
    assert r.merged == 12 and gold.done_count() == 20 and gold.verify() == []


def test_auto_merge_skips_the_read_when_no_annotator_changed(three: SQLiteStore):
    r = auto_merge(three, SCHEMA, "unanimous")
    assert r.merged == 1 and not r.skipped
    ses = Session(three, SCHEMA, "cur")
    ses.undo()  # the curator undoes the automatic decision: it stays undone
    again = auto_merge(three, SCHEMA, "unanimous")
    assert again.skipped and again.scan is None and ses.gold_state("d0", 1) is None
    # another strategy, or an annotator's change: read and merged again
    assert not auto_merge(three, SCHEMA, "majority").skipped
    _label(three.journal("bob", SCHEMA), "d0", 3, "stance", "positive")
    r = auto_merge(three, SCHEMA, "unanimous")
    assert not r.skipped and r.merged == 0  # d0/1 and d0/2 have gold (majority) now


def test_open_session_is_the_commands_work(three: SQLiteStore, project: Path):
    """`annotator adjudicate` up to its screen is one core call: the merge on the first
    start, nothing read on the next, `--auto none` no merge, no journals an error."""
    from annotator.adjudication.session import open_session
    from annotator.errors import InputError

    seen: list[int] = []
    ses, merged, left = open_session(three, SCHEMA, "cur",
                                     progress=lambda n, total: seen.append(n))
    assert (merged, left) == (1, 1) and seen and ses.gold_state("d0", 1)["auto"]
    ses.gold.release()
    ses, merged, left = open_session(three, SCHEMA, "cur", auto="majority")
    assert (merged, left) == (1, 0)  # d0/2: two of three say negative
    ses.gold.release()
    assert open_session(three, SCHEMA, "cur", auto="majority")[1:] == (0, 0)
    empty = _store(project / "empty", 1, 1)
    with pytest.raises(InputError, match="nothing to adjudicate"):
        open_session(empty, SCHEMA, "cur")


def test_gold_decisions_change_the_state_read_for_them_only(three: SQLiteStore,
                                                             monkeypatch):
    """Session.apply changes the gold state it read in place (apply_action owned=True,
    no deepcopy): the cached annotator versions and a state returned before stay as
    they were, and the progress counts follow (they compare before with after)."""
    import copy

    ses = Session(three, SCHEMA, "cur")
    ses.progress()
    cached = ses.versions("d0", 2)
    snapshot = copy.deepcopy(cached)
    first = ses.take_version("d0", 2, "stance", "bob")
    shown = copy.deepcopy(first.state)

    def no_deepcopy(*args, **kw):
        raise AssertionError("a gold decision deep-copied its state")

    monkeypatch.setattr("annotator.actions.copy.deepcopy", no_deepcopy)
    ses.apply("d0", 2, {"type": "toggle_label", "layer": "devices", "label": "solidarity"})
    ses.take_version("d0", 2, "stance", "alice")
    assert ses.versions("d0", 2) is cached  # (one unit's versions are kept)
    ses.apply("d0", 1, {"type": "set_note", "note": "n"})  # a first decision: gold_start
    ses.accept_unit("d0", 1)
    ses.undo()
    monkeypatch.undo()
    assert first.state == shown  # the returned state is not the one changed next
    assert cached == snapshot
    gold = ses.gold_state("d0", 2)
    assert gold["labels"]["stance"] == "negative"
    assert gold["labels"]["devices"] == ["solidarity"]
    assert ses.progress() == Session(three, SCHEMA, "cur").progress()
