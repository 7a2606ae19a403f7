"""The agreement fast path from the store equals the report from an export of it."""

from __future__ import annotations

import json
import random
from pathlib import Path

from util import REPO, run_cli

from annotator.agreement import build_ratings, compute_report, ratings_from_store
from annotator.corpus import Document
from annotator.export import iter_records
from annotator.schema import load_schema
from annotator.store import SQLiteStore

SCHEMA = REPO / "schemas" / "framing-devices.yaml"


def _random_project(project: Path, seed: int, backend=None) -> SQLiteStore:
    rng = random.Random(seed)
    store = backend() if backend is not None and backend.kind != "sqlite" else SQLiteStore(
        project / ".annotator")
    docs = [Document(f"d{i}", f"T{i}", [f"p{j} " + "word " * rng.randint(3, 12)
                                        for j in range(rng.randint(1, 5))])
            for i in range(12)]
    store.import_documents(docs)
    schema = load_schema(SCHEMA)
    devices = [lab.id for lab in schema.layer("devices").labels]
    stances = [lab.id for lab in schema.layer("stance").labels]
    for name in ("alice", "bob", "carol"):
        j = store.journal(name, schema)
        for d in docs:
            for u, text in d.units():
                if rng.random() < 0.3:
                    continue
                j.apply(d.id, u, {"type": "mark_done"})
                for lab in rng.sample(devices, rng.randint(0, 2)):
                    j.apply(d.id, u, {"type": "toggle_label", "layer": "devices", "label": lab})
                if rng.random() < 0.7:
                    j.apply(d.id, u, {"type": "toggle_label", "layer": "stance",
                                      "label": rng.choice(stances)})
                if rng.random() < 0.4 and len(text) > 4:
                    s = rng.randrange(0, len(text) - 3)
                    e = rng.randrange(s + 1, len(text) + 1)
                    j.apply(d.id, u, {"type": "add_span", "layer": "quotes", "label": "quote",
                                      "start": s, "end": e})
                    j.apply(d.id, u, {"type": "add_span", "layer": "quotes",
                                      "label": "source", "start": 0, "end": 2})
                    j.apply(d.id, u, {"type": "add_relation", "label": "attributed_to",
                                      "from": "s1", "to": "s2"})
    return store


def test_store_path_equals_export_path(project: Path, store_backend):
    store = _random_project(project, 7, store_backend)
    schema = load_schema(SCHEMA)
    fast = compute_report(ratings_from_store(store, schema), schema, bootstrap=50, seed=3)
    slow = compute_report(build_ratings(iter_records(store, schema), schema), schema,
                          bootstrap=50, seed=3)
    assert fast["units"] > 20
    assert fast["layers"]["quotes"]["f1_exact"] is not None
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)


def test_cli_agreement_store_and_export_agree(project: Path, store_backend):
    _random_project(project, 11, store_backend).close()
    r1 = run_cli("agreement", "--json", "--seed", "5", "--bootstrap", "100", cwd=project)
    assert r1.returncode == 0, r1.stderr
    out = project / "x.jsonl"
    assert run_cli("export", "--out", str(out), cwd=project).returncode == 0
    r2 = run_cli("agreement", str(out), "--schema", str(SCHEMA), "--json", "--seed", "5",
                 "--bootstrap", "100", cwd=project)
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r1.stdout) == json.loads(r2.stdout)
    r3 = run_cli("agreement", cwd=project)
    assert r3.returncode == 0 and "stance" in r3.stdout


def _rebuilt_corpus(store: SQLiteStore, project: Path) -> SQLiteStore:
    """The corpus database made anew under the same journals: documents in the other
    order, the first one gone (its units' keys then negative)."""
    docs = [(d.id, d.title, [u.text for u in store.units(d.id)][1:])
            for d in store.iter_documents()]
    store.close()
    for f in (project / ".annotator").glob("corpus.db*"):
        f.unlink()
    rebuilt = SQLiteStore(project / ".annotator")
    rebuilt.import_documents(Document(i, t, p) for i, t, p in reversed(docs[1:]))
    return rebuilt


def test_rebuilt_corpus_rekeys_journals(project: Path):
    """Journals key units by the corpus's document keys: after the corpus database is
    rebuilt (documents in another order, one gone), the store path still pairs the
    right units and agrees with the export."""
    store = _random_project(project, 5)
    rebuilt = _rebuilt_corpus(store, project)
    schema = load_schema(SCHEMA)
    fast = compute_report(ratings_from_store(rebuilt, schema), schema, bootstrap=20, seed=1)
    slow = compute_report(build_ratings(iter_records(rebuilt, schema), schema), schema,
                          bootstrap=20, seed=1)
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)
    j = rebuilt.journal("alice")
    keys = dict(j.conn.execute("SELECT DISTINCT doc_id, doc_key FROM units"))
    assert keys["d1"] == rebuilt.document("d1").key
    assert keys["d0"] < 0  # its document is gone: kept, apart
    r = run_cli("status", cwd=project)
    assert "d0 unit" in r.stdout and "no longer in the corpus" in r.stdout


def test_both_unit_numberings_agree(project: Path, monkeypatch):
    """The store maps unit keys to units through a table indexed by the keys themselves
    (small key spaces) or by a dense numbering (documents of very unequal length): on a
    rebuilt corpus (a document gone, its units' keys negative) both give the export's
    report and skip table."""
    from annotator.agreement import from_store
    from annotator.agreement.skip import store_ratings_and_skips

    store = _random_project(project, 9)
    for name in ("alice", "bob"):
        j = store.journal(name)
        j.apply("d3", 1, {"type": "set_skipped", "skipped": True})
    rebuilt = _rebuilt_corpus(store, project)
    schema = load_schema(SCHEMA)
    slow = compute_report(build_ratings(iter_records(rebuilt, schema), schema), schema,
                          bootstrap=20, seed=1)
    real_init = from_store._Numbering.__init__
    results = {}
    for direct in (True, False):
        def init(self, store, base, _direct=direct):
            real_init(self, store, base)
            if not _direct:  # as for a key space far larger than the corpus
                self.direct = False
                self.size = int(self.offsets[-1])
        monkeypatch.setattr(from_store._Numbering, "__init__", init)
        ratings, skips = store_ratings_and_skips(rebuilt, schema)
        fast = compute_report(ratings, schema, bootstrap=20, seed=1)
        assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)
        results[direct] = skips
    assert results[True].annotators == results[False].annotators
    assert (results[True].decided == results[False].decided).all()
    assert (results[True].skipped == results[False].skipped).all()
    assert results[True].skipped.sum() == 2
