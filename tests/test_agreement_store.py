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


def _random_project(project: Path, seed: int) -> SQLiteStore:
    rng = random.Random(seed)
    store = SQLiteStore(project / ".annotator")
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


def test_store_path_equals_export_path(project: Path):
    store = _random_project(project, 7)
    schema = load_schema(SCHEMA)
    fast = compute_report(ratings_from_store(store, schema), schema, bootstrap=50, seed=3)
    slow = compute_report(build_ratings(iter_records(store, schema), schema), schema,
                          bootstrap=50, seed=3)
    assert fast["units"] > 20
    assert fast["layers"]["quotes"]["f1_exact"] is not None
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)


def test_cli_agreement_store_and_export_agree(project: Path):
    _random_project(project, 11).close()
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
